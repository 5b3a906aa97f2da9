// SPDX-License-Identifier: Apache-2.0
#include "guards/file_guard.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

namespace bulkhead::guards {
namespace {

namespace fs = std::filesystem;
using rules::FileProtection;
using rules::KernelPolicy;
using rules::KernelScope;
using rules::KernelVerdict;
using rules::TargetKind;

class FilePlanTest : public ::testing::Test {
protected:
    void SetUp() override {
        root_ = fs::temp_directory_path() / ("bulkhead-plan-" + std::to_string(getpid()));
        fs::create_directories(root_ / "home/alice/.ssh");
        fs::create_directories(root_ / "home/alice/.aws");
        std::ofstream(root_ / "home/alice/.ssh/id_ed25519") << "secret";
        inputs_.homes = {(root_ / "home/alice").string()};
        inputs_.agent_kinds = {{"claude", 1}};
    }
    void TearDown() override { fs::remove_all(root_); }

    static bh_inode_key key_of(const fs::path& p) {
        struct stat st{};
        EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
        return {kernel_dev(st.st_dev), st.st_ino};
    }

    FileProtection rule(std::vector<rules::FileTarget> targets, uint32_t ops = rules::kOpRead) {
        FileProtection p;
        p.rule = "R";
        p.file = "t.yaml";
        p.line = 7;
        p.ops = ops;
        p.targets = std::move(targets);
        return p;
    }

    fs::path root_;
    PlanInputs inputs_;
};

TEST_F(FilePlanTest, ExistingPathIsProtectedByInodeAndByName) {
    KernelPolicy pol{{rule({{TargetKind::kPath, "~/.ssh/id_ed25519"}})}};
    FilePlan plan = plan_file_policy(pol, inputs_);
    ASSERT_TRUE(plan.errors.empty()) << plan.errors[0];

    auto file = plan.inodes.find(key_of(root_ / "home/alice/.ssh/id_ed25519"));
    ASSERT_NE(file, plan.inodes.end());
    EXPECT_EQ(file->second.rules[0].rule_id, 1u);
    EXPECT_EQ(file->second.rules[0].match, BH_MATCH_EXACT);
    EXPECT_EQ(file->second.rules[0].verdict, BH_VERDICT_DENY);
    EXPECT_EQ(file->second.rules[0].scope, BH_SCOPE_SESSIONS);
    EXPECT_EQ(file->second.rules[0].ops, close_ops(BH_OP_READ));

    // The parent anchors the name, so a replacement file is covered too.
    auto dir = plan.inodes.find(key_of(root_ / "home/alice/.ssh"));
    ASSERT_NE(dir, plan.inodes.end());
    EXPECT_TRUE(dir->second.dir_flags & BH_DIR_NAMES);
    EXPECT_EQ(dir->second.rules[0].match, BH_MATCH_ANCESTOR);
    EXPECT_EQ(dir->second.rules[0].ops, BH_OP_RENAME);
    ASSERT_EQ(plan.dir_names.size(), 1u);
    EXPECT_STREQ(plan.dir_names.begin()->first.name, "id_ed25519");
    EXPECT_EQ(plan.rules.at(0).name, "R");
}

// fd.dev and fd.ino name the object itself: one exact entry, no name to
// anchor, nothing pending; a malformed target is an error.
TEST_F(FilePlanTest, InodeTargetIsOneExactEntry) {
    auto key = key_of(root_ / "home/alice/.ssh/id_ed25519");
    std::string target = std::to_string(key.dev) + ":" + std::to_string(key.ino);
    FilePlan plan = plan_file_policy(KernelPolicy{{rule({{TargetKind::kInode, target}})}}, inputs_);
    ASSERT_TRUE(plan.errors.empty()) << plan.errors[0];
    ASSERT_EQ(plan.inodes.size(), 1u);
    const auto& slot = plan.inodes.at(key);
    EXPECT_EQ(slot.rules[0].match, BH_MATCH_EXACT);
    EXPECT_EQ(slot.rules[0].ops, close_ops(BH_OP_READ));
    EXPECT_TRUE(plan.dir_names.empty());
    EXPECT_TRUE(plan.pending.empty());

    for (const char* bad : {"2049", "x:1", "2049:0"}) {
        FilePlan p = plan_file_policy(KernelPolicy{{rule({{TargetKind::kInode, bad}})}}, inputs_);
        ASSERT_EQ(p.errors.size(), 1u) << bad;
        EXPECT_NE(p.errors[0].find("is not DEV:INO"), std::string::npos) << p.errors[0];
    }
}

TEST_F(FilePlanTest, MissingPathIsPendingAndStillNamed) {
    KernelPolicy pol{{rule({{TargetKind::kPath, "~/.aws/credentials"}})}};
    FilePlan plan = plan_file_policy(pol, inputs_);
    ASSERT_TRUE(plan.errors.empty());
    ASSERT_EQ(plan.dir_names.size(), 1u);
    EXPECT_STREQ(plan.dir_names.begin()->first.name, "credentials");

    std::ofstream(root_ / "home/alice/.aws/credentials") << "x";
    FilePlan again = plan_file_policy(pol, inputs_);
    EXPECT_NE(again.fingerprint, plan.fingerprint) << "a created target must change the plan";
    EXPECT_TRUE(again.inodes.count(key_of(root_ / "home/alice/.aws/credentials")));
}

TEST_F(FilePlanTest, SubtreeAndPatterns) {
    KernelPolicy pol{{rule({{TargetKind::kSubtree, "~/.aws"},
                            {TargetKind::kPattern, "~/.ssh/id_*"},
                            {TargetKind::kPattern, "**/.git/hooks/*"},
                            {TargetKind::kPattern, "**/.mcp.json"}},
                           rules::kOpWrite)}};
    FilePlan plan = plan_file_policy(pol, inputs_);
    ASSERT_TRUE(plan.errors.empty()) << plan.errors[0];
    auto aws = plan.inodes.at(key_of(root_ / "home/alice/.aws"));
    EXPECT_EQ(aws.rules[0].match, BH_MATCH_SUBTREE);

    auto ssh = plan.dirs.at(key_of(root_ / "home/alice/.ssh"));
    EXPECT_STREQ(ssh.leaf[0].prefix, "id_");
    EXPECT_EQ(ssh.leaf[0].star, 1);
    EXPECT_EQ(plan.name_pattern_count, 2u);

    bh_name_key hooks{};
    hooks.kind = BH_NAME_PARENT;
    std::strcpy(hooks.name, "hooks");
    ASSERT_TRUE(plan.names.count(hooks));
    EXPECT_STREQ(plan.names.at(hooks).grandparent[0], ".git");
    bh_name_key mcp{};
    mcp.kind = BH_NAME_LEAF;
    std::strcpy(mcp.name, ".mcp.json");
    EXPECT_TRUE(plan.names.count(mcp));
}

// Each live workspace by inode, for sessions working elsewhere; a workspace
// that is gone claims nothing, and a new set of workspaces is a new plan.
TEST_F(FilePlanTest, OtherWorkspacesAreSubtreesForSessionsWorkingElsewhere) {
    fs::create_directories(root_ / "work/a");
    fs::create_directories(root_ / "work/b");
    KernelPolicy pol{{rule({{TargetKind::kOtherWorkspaces, ""}})}};
    inputs_.workspaces = {(root_ / "work/a").string(), (root_ / "work/gone").string()};
    FilePlan plan = plan_file_policy(pol, inputs_);
    ASSERT_TRUE(plan.errors.empty()) << plan.errors[0];
    ASSERT_EQ(plan.inodes.size(), 1u);
    const auto& a = plan.inodes.at(key_of(root_ / "work/a"));
    EXPECT_EQ(a.rules[0].scope, BH_SCOPE_OTHER_WORKSPACE);
    EXPECT_EQ(a.rules[0].match, BH_MATCH_SUBTREE);
    EXPECT_EQ(a.rules[0].verdict, BH_VERDICT_DENY);
    EXPECT_EQ(a.rules[0].ops, close_ops(BH_OP_READ));
    EXPECT_EQ(a.rules[0].rule_id, 1u);
    EXPECT_TRUE(plan.ancestor_devs.count(key_of(root_ / "work/a").dev));

    inputs_.workspaces.push_back((root_ / "work/b").string());
    FilePlan more = plan_file_policy(pol, inputs_);
    EXPECT_NE(more.fingerprint, plan.fingerprint) << "a new workspace must change the plan";
    EXPECT_TRUE(more.inodes.count(key_of(root_ / "work/b")));
}

// A '*' in a directory component matches the directories there now: each
// match is protected as if it had been written out, nothing else is, and a
// directory that appears later changes the fingerprint (the next rescan
// protects it).
TEST_F(FilePlanTest, StarInADirectoryExpandsOverWhatExists) {
    fs::create_directories(root_ / "run/user/1000/systemd");
    fs::create_directories(root_ / "run/user/0/systemd");
    fs::create_directories(root_ / "run/other/systemd");
    std::ofstream(root_ / "run/user/1000/systemd/private") << "";
    std::ofstream(root_ / "run/user/stray") << "";  // a file, not a directory: no match
    std::string glob = (root_ / "run/user/*/systemd/private").string();
    KernelPolicy pol{{rule({{TargetKind::kPattern, glob}}, rules::kOpConnect)}};
    FilePlan plan = plan_file_policy(pol, inputs_);
    ASSERT_TRUE(plan.errors.empty()) << plan.errors[0];

    auto sock = plan.inodes.find(key_of(root_ / "run/user/1000/systemd/private"));
    ASSERT_NE(sock, plan.inodes.end());
    EXPECT_EQ(sock->second.rules[0].match, BH_MATCH_EXACT);
    EXPECT_EQ(sock->second.rules[0].ops & BH_OP_CONNECT, BH_OP_CONNECT);
    // Both users' directories anchor the name, for a socket made later.
    EXPECT_TRUE(plan.inodes.at(key_of(root_ / "run/user/1000/systemd")).dir_flags & BH_DIR_GLOBS);
    EXPECT_TRUE(plan.inodes.at(key_of(root_ / "run/user/0/systemd")).dir_flags & BH_DIR_GLOBS);
    EXPECT_FALSE(plan.inodes.count(key_of(root_ / "run/other/systemd")));

    fs::create_directories(root_ / "run/user/1001/systemd");
    FilePlan later = plan_file_policy(pol, inputs_);
    EXPECT_NE(later.fingerprint, plan.fingerprint) << "a new user's directory must change the plan";
    EXPECT_TRUE(later.inodes.at(key_of(root_ / "run/user/1001/systemd")).dir_flags & BH_DIR_GLOBS);

    // A subtree root with a '*', and a glob that matches nothing yet.
    std::string tree = (root_ / "run/user/*/systemd").string();
    std::string none = (root_ / "nowhere/*/x").string();
    FilePlan sub = plan_file_policy(
        KernelPolicy{{rule({{TargetKind::kSubtree, tree}, {TargetKind::kPattern, none}})}}, inputs_);
    ASSERT_TRUE(sub.errors.empty()) << sub.errors[0];
    EXPECT_EQ(sub.inodes.at(key_of(root_ / "run/user/0/systemd")).rules[0].match, BH_MATCH_SUBTREE);
    EXPECT_EQ(sub.inodes.at(key_of(root_ / "run/user/1001/systemd")).rules[0].match, BH_MATCH_SUBTREE);
    EXPECT_NE(std::find(sub.pending.begin(), sub.pending.end(), none), sub.pending.end());
}

TEST(PathComponents, DotsResolveLexically) {
    using V = std::vector<std::string>;
    EXPECT_EQ(path_components("/a/./b/../c"), (V{"a", "c"}));
    EXPECT_EQ(path_components("//run///user/*/bus/"), (V{"run", "user", "*", "bus"}));
    EXPECT_EQ(path_components("/../etc"), (V{"etc"})) << "'..' above the root stays at the root";
    EXPECT_EQ(path_components("/"), V{});
}

TEST(ExpandDirGlobs, BoundsAndPlainPaths) {
    std::vector<std::string> out;
    std::string error;
    ASSERT_TRUE(expand_dir_globs("/etc/passwd", false, &out, &error));
    EXPECT_EQ(out, std::vector<std::string>{"/etc/passwd"});
    ASSERT_TRUE(expand_dir_globs("/etc/*.conf", false, &out, &error));  // the leaf is the kernel's
    EXPECT_EQ(out, std::vector<std::string>{"/etc/*.conf"});
    fs::path many = fs::temp_directory_path() / ("bulkhead-globs-" + std::to_string(getpid()));
    for (size_t i = 0; i <= kMaxGlobDirs; ++i)
        fs::create_directories(many / std::to_string(i));
    EXPECT_FALSE(expand_dir_globs((many / "*/x").string(), false, &out, &error));
    EXPECT_EQ(error, "'" + (many / "*/x").string() + "' matches more than 4096 directories");
    fs::remove_all(many);
}

struct RejectCase {
    rules::FileTarget target;
    KernelVerdict verdict;
    std::string message;
};

TEST_F(FilePlanTest, RejectsWhatTheKernelCannotHold) {
    const RejectCase cases[] = {
        {{TargetKind::kPattern, "~/.ssh/id_*_*"}, KernelVerdict::kDeny, "more than one '*'"},
        {{TargetKind::kPattern, "**/*.pem"}, KernelVerdict::kDeny, "must be literal"},
        {{TargetKind::kPattern, "**/a/b/c/d"}, KernelVerdict::kDeny, "at most two directory names"},
        {{TargetKind::kPath, "relative/path"}, KernelVerdict::kDeny, "not an absolute path"},
        {{TargetKind::kPath, "/" + std::string(5000, 'a')}, KernelVerdict::kDeny, "longer than PATH_MAX"},
        {{TargetKind::kPath, "/" + std::string(5000, 'a')}, KernelVerdict::kAsk, "longer than PATH_MAX"},
        {{TargetKind::kPath, "relative/path"}, KernelVerdict::kAsk, "not an absolute path"},
    };
    for (const auto& c : cases) {
        auto r = rule({c.target});
        r.verdict = c.verdict;
        FilePlan plan = plan_file_policy(KernelPolicy{{r}}, inputs_);
        ASSERT_EQ(plan.errors.size(), 1u) << c.target.target;
        EXPECT_NE(plan.errors[0].find("t.yaml:7: rule 'R'"), std::string::npos) << plan.errors[0];
        EXPECT_NE(plan.errors[0].find(c.message), std::string::npos) << plan.errors[0];
    }
}

TEST_F(FilePlanTest, ScopesAndUnknownAgent) {
    auto host = rule({{TargetKind::kPath, "~/.ssh/id_ed25519"}});
    host.scope = KernelScope::kHost;
    auto agent = rule({{TargetKind::kPath, "~/.ssh/id_ed25519"}});
    agent.scope = KernelScope::kAgent;
    agent.agent = "claude";
    FilePlan plan = plan_file_policy(KernelPolicy{{host, agent}}, inputs_);
    ASSERT_TRUE(plan.errors.empty());
    EXPECT_EQ(plan.host_rules, 1u);
    auto e = plan.inodes.at(key_of(root_ / "home/alice/.ssh/id_ed25519"));
    EXPECT_EQ(e.rules[0].scope, BH_SCOPE_HOST);
    EXPECT_EQ(e.rules[1].scope, BH_SCOPE_AGENT);
    EXPECT_EQ(e.rules[1].agent_kind, 1u);

    agent.agent = "nobody";
    plan = plan_file_policy(KernelPolicy{{agent}}, inputs_);
    ASSERT_EQ(plan.errors.size(), 1u);
    EXPECT_NE(plan.errors[0].find("agent 'nobody' is not a known agent kind"), std::string::npos);
}

TEST(CloseOps, ReadAndWriteCannotBeSidestepped) {
    EXPECT_EQ(close_ops(BH_OP_READ), BH_OP_READ | BH_OP_MMAP | BH_OP_LINK | BH_OP_RENAME);
    uint32_t w = close_ops(BH_OP_WRITE);
    for (uint32_t op : {BH_OP_CREATE, BH_OP_LINK, BH_OP_RENAME, BH_OP_UNLINK, BH_OP_SETATTR})
        EXPECT_TRUE(w & op) << op;
    EXPECT_FALSE(w & BH_OP_READ);
    // A program denied exec cannot be moved out from under its protection,
    // and stays readable.
    EXPECT_EQ(close_ops(BH_OP_EXEC), BH_OP_EXEC | BH_OP_LINK | BH_OP_RENAME);
}

TEST(KernelDev, ConvertsGlibcEncoding) {
    EXPECT_EQ(kernel_dev(makedev(8, 1)), (8ull << 20) | 1);
    EXPECT_EQ(kernel_dev(makedev(259, 70000)), (259ull << 20) | 70000);
}

// `ask` rules become fanotify targets (existing regular files), never BPF
// map entries; what fanotify cannot hold is an error naming the rule.
TEST_F(FilePlanTest, AskRulesBecomeFilesForTheBroker) {
    std::ofstream(root_ / "home/alice/.ssh/id_rsa") << "secret";
    fs::create_directories(root_ / "home/alice/.ssh/id_dir");  // a directory: not held
    auto ask = rule({{TargetKind::kPath, "~/.aws/credentials"}, {TargetKind::kPattern, "~/.ssh/id_*"}});
    ask.verdict = KernelVerdict::kAsk;
    FilePlan plan = plan_file_policy(KernelPolicy{{ask}}, inputs_);
    ASSERT_TRUE(plan.errors.empty()) << plan.errors[0];
    EXPECT_TRUE(plan.inodes.empty() && plan.dir_names.empty() && plan.rules.empty());
    std::vector<std::string> held;
    for (const auto& a : plan.asks) {
        EXPECT_EQ(a.rule, "R");
        held.push_back(fs::path(a.path).filename().string() + " " + a.label);
    }
    std::sort(held.begin(), held.end());
    EXPECT_EQ(held, (std::vector<std::string>{"id_ed25519 ~/.ssh/id_*", "id_rsa ~/.ssh/id_*"}));
    ASSERT_EQ(plan.pending.size(), 1u);  // credentials does not exist yet
    EXPECT_EQ(plan.pending[0], (root_ / "home/alice/.aws/credentials").string());

    // The file appearing changes the fingerprint, so the rescan marks it.
    std::string before = plan.fingerprint;
    std::ofstream(root_ / "home/alice/.aws/credentials") << "k";
    EXPECT_NE(plan_file_policy(KernelPolicy{{ask}}, inputs_).fingerprint, before);
}

TEST_F(FilePlanTest, AskRulesFanotifyCannotHoldAreErrors) {
    struct Case {
        rules::FileTarget target;
        KernelScope scope;
        const char* error;
    } cases[] = {
        {{TargetKind::kSubtree, "~/.ssh"}, KernelScope::kSessions, "names a directory tree or names anywhere"},
        {{TargetKind::kPattern, "**/.mcp.json"}, KernelScope::kSessions, "names a directory tree or names anywhere"},
        {{TargetKind::kPath, "~/.ssh/id_ed25519"}, KernelScope::kAgent, "applies to every agent session"},
        {{TargetKind::kInode, "2049:77"}, KernelScope::kSessions, "inode 2049:77 (fd.ino, fd.dev) has none it could mark"},
    };
    for (const auto& c : cases) {
        auto ask = rule({c.target});
        ask.verdict = KernelVerdict::kAsk;
        ask.scope = c.scope;
        ask.agent = "claude";
        FilePlan plan = plan_file_policy(KernelPolicy{{ask}}, inputs_);
        ASSERT_EQ(plan.errors.size(), 1u) << c.target.target;
        EXPECT_NE(plan.errors[0].find("t.yaml:7: rule 'R': "), std::string::npos) << plan.errors[0];
        EXPECT_NE(plan.errors[0].find(c.error), std::string::npos) << plan.errors[0];
    }
    // One file, two ask rules: which one would the human be answering?
    auto a = rule({{TargetKind::kPath, "~/.ssh/id_ed25519"}});
    a.verdict = KernelVerdict::kAsk;
    auto b = a;
    b.rule = "Other";
    FilePlan plan = plan_file_policy(KernelPolicy{{a, b}}, inputs_);
    ASSERT_EQ(plan.errors.size(), 1u);
    EXPECT_NE(plan.errors[0].find("already asked for by rule 'R'"), std::string::npos) << plan.errors[0];
}

}  // namespace
}  // namespace bulkhead::guards
