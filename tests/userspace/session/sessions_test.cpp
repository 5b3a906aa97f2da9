// SPDX-License-Identifier: Apache-2.0
#include "session/sessions.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

namespace bulkhead::session {
namespace {

Session at(uint64_t id, const std::string& workspace, std::string state = "active") {
    Session s;
    s.id = id;
    s.workspace = workspace;
    s.state = std::move(state);
    s.leader_pid = static_cast<uint32_t>(getpid());
    return s;
}

// Which workspaces claim anything: project directories of live sessions.
TEST(WorkspacesTest, OnlyLiveProjectDirectoriesClaim) {
    pid_t exited = fork();
    if (exited == 0)
        _exit(0);
    ASSERT_GT(exited, 0);
    ASSERT_EQ(waitpid(exited, nullptr, 0), exited);

    Table t;
    t.add(at(1, "/src/a"));
    t.add(at(2, "/src/a/"));  // the same, written with a slash
    t.add(at(3, "/src/b", "ended"));
    t.add(at(4, "/src/c", "killed"));
    t.add(at(5, "/"));
    t.add(at(6, "/home/ann"));
    t.add(at(7, "/tmp"));
    t.add(at(8, "relative/dir"));
    Session gone = at(9, "/src/d");
    gone.leader_pid = static_cast<uint32_t>(exited);  // its leader exited
    t.add(gone);
    t.add(at(10, "/src/a/nested"));

    Workspaces w = t.workspaces({"/root", "/home/ann"});
    ASSERT_EQ(w.size(), 2u);
    EXPECT_EQ(w.at("/src/a"), (std::vector<uint64_t>{1, 2}));
    EXPECT_EQ(w.at("/src/a/nested"), (std::vector<uint64_t>{10}));
}

struct OtherCase {
    const char* path;
    uint64_t session;
    bool other;
};

TEST(WorkspacesTest, NearestWorkspaceDecides) {
    Workspaces w = {{"/src/a", {1, 2}}, {"/src/a/nested", {3}}, {"/src/b", {4}}};
    const OtherCase cases[] = {
        {"/src/a/main.c", 1, false},         // its own
        {"/src/a/main.c", 2, false},         // shared with session 1
        {"/src/a/main.c", 4, true},          // session 4 works in /src/b
        {"/src/a", 4, true},                 // the workspace directory itself
        {"/src/a/nested/x", 3, false},       // nested: session 3's own
        {"/src/a/nested/x", 1, true},        // ...and not session 1's
        {"/src/a/other/x", 3, true},         // the enclosing one is session 1's
        {"/src/ab/x", 4, false},             // a name prefix is not a directory
        {"/etc/passwd", 4, false},           // nobody's workspace
        {"/src/b/x", 99, true},              // a session without a workspace
        {"relative", 1, false},
        {"", 1, false},
    };
    for (const auto& c : cases)
        EXPECT_EQ(in_other_workspace(w, c.path, c.session), c.other) << c.path << " by " << c.session;
}

}  // namespace
}  // namespace bulkhead::session
