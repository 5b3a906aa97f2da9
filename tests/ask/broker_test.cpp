// SPDX-License-Identifier: Apache-2.0
// ask/broker against real fanotify permission events: forked children are
// the "session" processes; the test thread runs the broker's loop.
#include "ask/broker.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace bulkhead::ask {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr char kSecret[] = "top secret\n";
constexpr char kRule[] = "ask before reading the secret";
const DecidedBy kTester{0, 4242, "tester"};

// What a child reports through its pipe: the errno of each open (0 when it
// succeeded) and what the first one read.
struct ChildReport {
    int open_errno[2] = {-1, -1};
    ssize_t read_bytes = -1;
    char data[64] = {};
};

struct Child {
    pid_t pid = -1;
    int report_fd = -1;
    int status = -1;  // waitpid() status once reaped
};

class AskBrokerTest : public ::testing::Test {
protected:
    void SetUp() override {
        // A broken broker fails the test instead of hanging it.
        alarm(90);
        auto probe = AskBroker::probe();
        if (!probe) {
            GTEST_SKIP() << "fanotify permission events unavailable: " << probe.error().message;
        }
        char tmpl[] = "/tmp/bulkhead-ask-XXXXXX";
        ASSERT_NE(mkdtemp(tmpl), nullptr);
        dir_ = fs::canonical(tmpl).string();
        secret_ = dir_ + "/secret.txt";
        std::ofstream(secret_) << kSecret;
        exe_ = fs::read_symlink("/proc/self/exe").string();
    }

    void TearDown() override {
        broker_.reset();
        for (auto& child : children_) {
            if (child.pid > 0 && child.status == -1) {
                kill(child.pid, SIGKILL);
                waitpid(child.pid, nullptr, 0);
            }
            if (child.report_fd >= 0) close(child.report_fd);
        }
        if (!dir_.empty()) fs::remove_all(dir_);
        alarm(0);
    }

    void make_broker(Options options = {}) {
        Callbacks cb;
        cb.session_of = [this](pid_t pid) -> std::optional<SessionInfo> {
            auto it = sessions_.find(pid);
            if (it == sessions_.end()) return std::nullopt;
            return SessionInfo{it->second};
        };
        cb.on_pending = [this](const PendingAsk& ask) { asked_.push_back(ask); };
        cb.on_decided = [this](const PendingAsk& ask, const Outcome& outcome) {
            decided_.push_back({ask, outcome});
        };
        broker_ = std::make_unique<AskBroker>(options, std::move(cb));
        auto watched = broker_->watch(secret_, kRule, "secret");
        ASSERT_TRUE(watched.ok()) << watched.error().message;
    }

    // Forks a process of session `session` (0: no session) that runs `body`
    // and reports through a pipe.
    Child& spawn(uint64_t session, std::function<ChildReport()> body) {
        int pipefd[2];
        EXPECT_EQ(pipe2(pipefd, O_CLOEXEC), 0);
        pid_t pid = fork();
        if (pid == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            // The child must not keep the group alive: released groups allow.
            if (broker_) close(broker_->fd());
            close(pipefd[0]);
            ChildReport report = body();
            (void)!write(pipefd[1], &report, sizeof(report));
            _exit(0);
        }
        close(pipefd[1]);
        if (session != 0) sessions_[pid] = session;
        children_.push_back(Child{pid, pipefd[0], -1});
        return children_.back();
    }

    Child& spawn_reader(uint64_t session, int opens = 1, std::string path = "") {
        if (path.empty()) path = secret_;
        return spawn(session, [path, opens] {
            ChildReport r;
            for (int i = 0; i < opens; ++i) {
                int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
                r.open_errno[i] = fd < 0 ? errno : 0;
                if (fd >= 0 && i == 0) r.read_bytes = read(fd, r.data, sizeof(r.data) - 1);
                if (fd >= 0) close(fd);
            }
            return r;
        });
    }

    // Runs the broker's loop (poll, on_readable, expire) until `done` or a
    // generous bound.
    bool pump_until(const std::function<bool()>& done, std::chrono::seconds bound = 20s) {
        auto give_up = std::chrono::steady_clock::now() + bound;
        while (!done()) {
            if (std::chrono::steady_clock::now() > give_up) return false;
            struct pollfd p{broker_->fd(), POLLIN, 0};
            if (poll(&p, 1, 20) > 0) broker_->on_readable();
            broker_->expire();
        }
        return true;
    }

    bool reaped(Child& child) {
        if (child.status != -1) return true;
        int status = 0;
        if (waitpid(child.pid, &status, WNOHANG) != child.pid) return false;
        child.status = status;
        return true;
    }

    // Pumps until the child exits; returns its report.
    ChildReport finish(Child& child) {
        bool exited = pump_until([&] { return reaped(child); });
        EXPECT_TRUE(exited) << "child " << child.pid << " still held";
        ChildReport r;
        if (exited) {
            EXPECT_EQ(read(child.report_fd, &r, sizeof(r)), (ssize_t)sizeof(r));
        }
        return r;
    }

    bool wait_asks(size_t n) {
        return pump_until([&] { return asked_.size() >= n; });
    }

    std::string dir_, secret_, exe_;
    std::unique_ptr<AskBroker> broker_;
    std::map<pid_t, uint64_t> sessions_;
    std::deque<Child> children_;  // spawn() hands out references
    std::vector<PendingAsk> asked_;
    std::vector<std::pair<PendingAsk, Outcome>> decided_;
};

TEST_F(AskBrokerTest, ApprovedOpenGetsAValidFdAndTheContent) {
    make_broker();
    Child& child = spawn_reader(/* session = */ 1);
    ASSERT_TRUE(wait_asks(1));

    const PendingAsk& ask = asked_[0];
    EXPECT_EQ(ask.id, "a1");
    EXPECT_EQ(ask.session_id, 1u);
    EXPECT_EQ(ask.pid, child.pid);
    EXPECT_EQ(ask.exe, exe_);
    EXPECT_EQ(ask.comm, fs::path(exe_).filename().string().substr(0, 15));
    EXPECT_EQ(ask.path, secret_);
    EXPECT_EQ(ask.rule, kRule);
    EXPECT_EQ(ask.label, "secret");
    EXPECT_EQ(ask.op, Op::kOpen);
    EXPECT_EQ(ask.deadline - ask.created, std::chrono::seconds(60));
    EXPECT_GT(ask.created_unix_ns, 0);
    ASSERT_EQ(broker_->pending().size(), 1u);
    EXPECT_EQ(broker_->pending()[0].id, ask.id);
    EXPECT_EQ(broker_->next_deadline(), ask.deadline);

    auto r = broker_->decide(ask.id, Decision::kAllow, Scope::kOnce, kTester);
    ASSERT_TRUE(r.ok()) << r.error().message;
    ChildReport report = finish(child);
    EXPECT_EQ(report.open_errno[0], 0);
    EXPECT_EQ(report.read_bytes, (ssize_t)strlen(kSecret));
    EXPECT_STREQ(report.data, kSecret);

    ASSERT_EQ(decided_.size(), 1u);
    EXPECT_EQ(decided_[0].first.id, ask.id);
    EXPECT_EQ(decided_[0].second.decision, Decision::kAllow);
    EXPECT_EQ(decided_[0].second.scope, Scope::kOnce);
    EXPECT_EQ(decided_[0].second.via, Via::kHuman);
    EXPECT_EQ(decided_[0].second.reason, "allowed once by tester (uid 0, pid 4242)");
    ASSERT_TRUE(decided_[0].second.decided_by.has_value());
    EXPECT_EQ(decided_[0].second.decided_by->name, "tester");
    EXPECT_TRUE(broker_->pending().empty());
    EXPECT_FALSE(broker_->next_deadline().has_value());
    EXPECT_EQ(broker_->stats().asked, 1u);
    EXPECT_EQ(broker_->stats().allowed, 1u);
    EXPECT_EQ(broker_->stats().denied, 0u);
}

TEST_F(AskBrokerTest, DeniedOpenFailsWithEpermAndReadsNothing) {
    make_broker();
    Child& child = spawn_reader(/* session = */ 1);
    ASSERT_TRUE(wait_asks(1));
    ASSERT_TRUE(broker_->decide(asked_[0].id, Decision::kDeny, Scope::kOnce, kTester).ok());
    ChildReport report = finish(child);
    EXPECT_EQ(report.open_errno[0], EPERM);
    EXPECT_EQ(report.read_bytes, -1);
    EXPECT_STREQ(report.data, "");
    ASSERT_EQ(decided_.size(), 1u);
    EXPECT_EQ(decided_[0].second.decision, Decision::kDeny);
    EXPECT_EQ(decided_[0].second.reason, "denied once by tester (uid 0, pid 4242)");
    EXPECT_EQ(broker_->stats().denied, 1u);
}

TEST_F(AskBrokerTest, NobodyAnsweringDeniesAtTheDeadline) {
    Options options;
    options.timeout = 1s;
    make_broker(options);
    Child& child = spawn_reader(/* session = */ 1);
    ASSERT_TRUE(wait_asks(1));
    EXPECT_EQ(asked_[0].deadline - asked_[0].created, std::chrono::seconds(1));
    ChildReport report = finish(child);
    EXPECT_EQ(report.open_errno[0], EPERM);
    EXPECT_EQ(report.read_bytes, -1);
    ASSERT_EQ(decided_.size(), 1u);
    EXPECT_EQ(decided_[0].second.decision, Decision::kDeny);
    EXPECT_EQ(decided_[0].second.via, Via::kTimeout);
    EXPECT_EQ(decided_[0].second.reason, "timeout after 1 s");
    EXPECT_FALSE(decided_[0].second.decided_by.has_value());
    EXPECT_EQ(broker_->stats().timed_out, 1u);

    auto late = broker_->decide(asked_[0].id, Decision::kAllow, Scope::kOnce, kTester);
    ASSERT_FALSE(late.ok());
    EXPECT_EQ(late.error().message,
              "ask: no pending request 'a1' (it may have been decided or timed out)");
}

// A copy of a binary, or a script, in the temp dir, watched by the broker.
std::string install_program(const std::string& dir, const std::string& name,
                            const std::string& script) {
    std::string path = dir + "/" + name;
    if (script.empty()) {
        fs::copy_file("/bin/true", path);
    } else {
        std::ofstream(path) << script;
    }
    fs::permissions(path, fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec);
    return path;
}

ChildReport run_program(const std::string& path) {
    char* argv[] = {const_cast<char*>(path.c_str()), nullptr};
    char* envp[] = {nullptr};
    execve(path.c_str(), argv, envp);
    ChildReport r;
    r.open_errno[0] = errno;
    return r;
}

TEST_F(AskBrokerTest, DeniedExecFailsWithEperm) {
    make_broker();
    std::string tool = install_program(dir_, "tool", "");
    ASSERT_TRUE(broker_->watch(tool, "ask before running tools", "tool").ok());
    Child& child = spawn(/* session = */ 1, [tool] { return run_program(tool); });
    ASSERT_TRUE(wait_asks(1));
    EXPECT_EQ(asked_[0].op, Op::kExec);
    EXPECT_EQ(asked_[0].path, tool);
    EXPECT_EQ(asked_[0].rule, "ask before running tools");
    EXPECT_EQ(asked_[0].exe, exe_);  // the exec has not happened yet
    ASSERT_TRUE(broker_->decide(asked_[0].id, Decision::kDeny, Scope::kOnce, kTester).ok());
    ChildReport report = finish(child);
    EXPECT_EQ(report.open_errno[0], EPERM);
    EXPECT_EQ(asked_.size(), 1u);
}

// An exec raises FAN_OPEN_EXEC_PERM, then FAN_OPEN_PERM for the same file,
// and the interpreter of a script opens it once more: one ask covers all.
TEST_F(AskBrokerTest, ApprovedExecOfAScriptRunsWithOneAsk) {
    if (access("/bin/sh", X_OK) != 0) GTEST_SKIP() << "no /bin/sh";
    make_broker();
    std::string script = install_program(dir_, "hook.sh", "#!/bin/sh\nexit 7\n");
    ASSERT_TRUE(broker_->watch(script, "ask before running hooks", "hook").ok());
    Child& child = spawn(/* session = */ 1, [script] { return run_program(script); });
    ASSERT_TRUE(wait_asks(1));
    EXPECT_EQ(asked_[0].op, Op::kExec);
    ASSERT_TRUE(broker_->decide(asked_[0].id, Decision::kAllow, Scope::kOnce, kTester).ok());
    ASSERT_TRUE(pump_until([&] { return reaped(child); }));
    ASSERT_TRUE(WIFEXITED(child.status));
    EXPECT_EQ(WEXITSTATUS(child.status), 7);
    EXPECT_EQ(asked_.size(), 1u);
    EXPECT_EQ(broker_->stats().exec_follow, 2u);

    // The grant belongs to that process: another one is asked again.
    Child& other = spawn_reader(/* session = */ 1, /* opens = */ 1, script);
    ASSERT_TRUE(wait_asks(2));
    EXPECT_EQ(asked_[1].op, Op::kOpen);
    EXPECT_EQ(asked_[1].path, script);
    ASSERT_TRUE(broker_->decide(asked_[1].id, Decision::kDeny, Scope::kOnce, kTester).ok());
    EXPECT_EQ(finish(other).open_errno[0], EPERM);
}

TEST_F(AskBrokerTest, ProcessesOutsideSessionsAreNeverHeld) {
    make_broker();
    // The test process itself, from another thread (the loop thread must
    // never open a watched object: it would wait for itself).
    std::atomic<bool> done{false};
    std::string data;
    int open_errno = -1;
    std::thread opener([&] {
        std::ifstream in(secret_);
        open_errno = in ? 0 : errno;
        std::getline(in, data);
        done = true;
    });
    bool finished = pump_until([&] { return done.load(); });
    if (!finished) broker_.reset();  // denies, so the thread can be joined
    opener.join();
    ASSERT_TRUE(finished);
    EXPECT_EQ(open_errno, 0);
    EXPECT_EQ(data + "\n", kSecret);

    // And a forked process in no session.
    Child& child = spawn_reader(/* session = */ 0);
    ChildReport report = finish(child);
    EXPECT_EQ(report.open_errno[0], 0);
    EXPECT_STREQ(report.data, kSecret);

    EXPECT_TRUE(asked_.empty());
    EXPECT_TRUE(decided_.empty());
    EXPECT_EQ(broker_->stats().not_session, 2u);
}

TEST_F(AskBrokerTest, SessionScopeAnswersTheRestOfThatSessionOnly) {
    make_broker();
    // Two opens in a row: the second is answered by the standing decision.
    Child& first = spawn_reader(/* session = */ 1, /* opens = */ 2);
    ASSERT_TRUE(wait_asks(1));
    ASSERT_TRUE(broker_->decide(asked_[0].id, Decision::kAllow, Scope::kSession, kTester).ok());
    ChildReport report = finish(first);
    EXPECT_EQ(report.open_errno[0], 0);
    EXPECT_EQ(report.open_errno[1], 0);
    EXPECT_EQ(asked_.size(), 1u);
    ASSERT_EQ(decided_.size(), 2u);
    EXPECT_EQ(decided_[0].second.reason, "allowed for this session by tester (uid 0, pid 4242)");
    EXPECT_EQ(decided_[1].second.via, Via::kStanding);
    EXPECT_EQ(decided_[1].second.decision, Decision::kAllow);
    EXPECT_EQ(decided_[1].second.scope, Scope::kSession);
    EXPECT_EQ(decided_[1].second.reason, "allowed for this session by tester (uid 0, pid 4242)");
    EXPECT_EQ(broker_->stats().standing, 1u);

    // Another process of the same session: not asked.
    Child& sibling = spawn_reader(/* session = */ 1);
    EXPECT_EQ(finish(sibling).open_errno[0], 0);
    EXPECT_EQ(asked_.size(), 1u);

    // Another session: asked.
    Child& stranger = spawn_reader(/* session = */ 2);
    ASSERT_TRUE(wait_asks(2));
    EXPECT_EQ(asked_[1].session_id, 2u);
    ASSERT_TRUE(broker_->decide(asked_[1].id, Decision::kDeny, Scope::kOnce, kTester).ok());
    EXPECT_EQ(finish(stranger).open_errno[0], EPERM);

    // Once the session ends, its standing decision is gone.
    broker_->forget_session(1);
    Child& again = spawn_reader(/* session = */ 1);
    ASSERT_TRUE(wait_asks(3));
    EXPECT_EQ(asked_[2].session_id, 1u);
    ASSERT_TRUE(broker_->decide(asked_[2].id, Decision::kDeny, Scope::kOnce, kTester).ok());
    EXPECT_EQ(finish(again).open_errno[0], EPERM);
}

TEST_F(AskBrokerTest, SessionScopeAlsoAnswersWhatThatSessionHasHeld) {
    make_broker();
    Child& a = spawn_reader(/* session = */ 1);
    ASSERT_TRUE(wait_asks(1));
    Child& b = spawn_reader(/* session = */ 1);
    ASSERT_TRUE(wait_asks(2));
    ASSERT_TRUE(broker_->decide(asked_[0].id, Decision::kDeny, Scope::kSession, kTester).ok());
    EXPECT_TRUE(broker_->pending().empty());
    EXPECT_EQ(finish(a).open_errno[0], EPERM);
    EXPECT_EQ(finish(b).open_errno[0], EPERM);
    ASSERT_EQ(decided_.size(), 2u);
    EXPECT_EQ(decided_[1].first.id, asked_[1].id);
    EXPECT_EQ(decided_[1].second.via, Via::kStanding);
}

TEST_F(AskBrokerTest, UnknownIdIsAnErrorNamingIt) {
    make_broker();
    for (const char* id : {"a999", "", "a", "b1", "a1x"}) {
        auto r = broker_->decide(id, Decision::kAllow, Scope::kOnce, kTester);
        ASSERT_FALSE(r.ok()) << id;
        EXPECT_EQ(r.error().message, std::string("ask: no pending request '") + id +
                                         "' (it may have been decided or timed out)");
    }
    Child& child = spawn_reader(/* session = */ 1);
    ASSERT_TRUE(wait_asks(1));
    ASSERT_TRUE(broker_->decide("a1", Decision::kDeny, Scope::kOnce, kTester).ok());
    EXPECT_FALSE(broker_->decide("a1", Decision::kAllow, Scope::kOnce, kTester).ok());
    EXPECT_EQ(finish(child).open_errno[0], EPERM);
}

TEST_F(AskBrokerTest, DestructorDeniesWhatIsHeld) {
    make_broker();
    Child& child = spawn_reader(/* session = */ 1);
    ASSERT_TRUE(wait_asks(1));
    broker_.reset();
    // No broker left to pump: just wait (alarm() bounds a hang).
    int status = 0;
    ASSERT_EQ(waitpid(child.pid, &status, 0), child.pid);
    child.status = status;
    ChildReport report;
    ASSERT_EQ(read(child.report_fd, &report, sizeof(report)), (ssize_t)sizeof(report));
    EXPECT_EQ(report.open_errno[0], EPERM);
    EXPECT_EQ(report.read_bytes, -1);
}

// Queued in the kernel but never read: the group's release would allow it.
TEST_F(AskBrokerTest, DestructorDeniesWhatIsQueuedButUnread) {
    make_broker();
    Child& child = spawn_reader(/* session = */ 1);
    struct pollfd p{broker_->fd(), POLLIN, 0};
    ASSERT_EQ(poll(&p, 1, 20000), 1);
    broker_.reset();
    int status = 0;
    ASSERT_EQ(waitpid(child.pid, &status, 0), child.pid);
    child.status = status;
    ChildReport report;
    ASSERT_EQ(read(child.report_fd, &report, sizeof(report)), (ssize_t)sizeof(report));
    EXPECT_EQ(report.open_errno[0], EPERM);
    EXPECT_TRUE(asked_.empty());
}

TEST_F(AskBrokerTest, PastTheBoundRequestsAreDeniedAtOnceAndCounted) {
    Options options;
    options.max_pending = 1;
    make_broker(options);
    Child& held = spawn_reader(/* session = */ 1);
    ASSERT_TRUE(wait_asks(1));
    Child& extra = spawn_reader(/* session = */ 2);
    EXPECT_EQ(finish(extra).open_errno[0], EPERM);
    EXPECT_EQ(asked_.size(), 1u);
    EXPECT_EQ(broker_->stats().overflow, 1u);
    ASSERT_EQ(decided_.size(), 1u);
    EXPECT_EQ(decided_[0].first.pid, extra.pid);
    EXPECT_EQ(decided_[0].second.via, Via::kOverflow);
    EXPECT_EQ(decided_[0].second.reason, "too many requests held (1); denied at once");
    ASSERT_EQ(broker_->pending().size(), 1u);

    ASSERT_TRUE(broker_->decide(asked_[0].id, Decision::kAllow, Scope::kOnce, kTester).ok());
    ChildReport report = finish(held);
    EXPECT_EQ(report.open_errno[0], 0);
    EXPECT_STREQ(report.data, kSecret);
}

TEST_F(AskBrokerTest, DenyAllAndForgetSessionDenyWhatIsHeld) {
    make_broker();
    Child& a = spawn_reader(/* session = */ 1);
    ASSERT_TRUE(wait_asks(1));
    Child& b = spawn_reader(/* session = */ 2);
    ASSERT_TRUE(wait_asks(2));
    broker_->forget_session(1);
    EXPECT_EQ(finish(a).open_errno[0], EPERM);
    ASSERT_EQ(broker_->pending().size(), 1u);
    broker_->deny_all("daemon stopping");
    EXPECT_EQ(finish(b).open_errno[0], EPERM);
    ASSERT_EQ(decided_.size(), 2u);
    EXPECT_EQ(decided_[0].second.reason, "session ended");
    EXPECT_EQ(decided_[1].second.reason, "daemon stopping");
    EXPECT_EQ(decided_[1].second.via, Via::kEnded);
}

TEST_F(AskBrokerTest, WatchRejectsWhatItCannotHold) {
    make_broker();
    struct Case {
        std::string path;
        std::string rule;
        std::string error;
    };
    std::vector<Case> cases = {
        {dir_ + "/missing", kRule,
         "ask: cannot watch '" + dir_ + "/missing': No such file or directory"},
        {dir_, kRule,
         "ask: cannot watch '" + dir_ +
             "': not a regular file (ask holds opens and execs of files)"},
        {secret_, "another rule",
         "ask: '" + secret_ + "' is already asked for by rule '" + std::string(kRule) +
             "'; rule 'another rule' cannot ask for it too"},
    };
    for (const auto& c : cases) {
        auto r = broker_->watch(c.path, c.rule, "x");
        ASSERT_FALSE(r.ok()) << c.path;
        EXPECT_EQ(r.error().message, c.error);
    }
    EXPECT_TRUE(broker_->watch(secret_, kRule, "relabelled").ok());
    EXPECT_EQ(broker_->watched_count(), 1u);

    // A hard link is the same object: held under the watched object's rule.
    std::string alias = dir_ + "/alias";
    ASSERT_EQ(link(secret_.c_str(), alias.c_str()), 0);
    Child& child = spawn(/* session = */ 1, [alias] {
        ChildReport r;
        int fd = open(alias.c_str(), O_RDONLY);
        r.open_errno[0] = fd < 0 ? errno : 0;
        return r;
    });
    ASSERT_TRUE(wait_asks(1));
    EXPECT_EQ(asked_[0].path, alias);
    EXPECT_EQ(asked_[0].label, "relabelled");
    ASSERT_TRUE(broker_->decide(asked_[0].id, Decision::kDeny, Scope::kOnce, kTester).ok());
    EXPECT_EQ(finish(child).open_errno[0], EPERM);

    // Unwatched, the object is no longer held.
    ASSERT_TRUE(broker_->unwatch(secret_).ok());
    EXPECT_EQ(broker_->watched_count(), 0u);
    Child& free_child = spawn_reader(/* session = */ 1);
    EXPECT_EQ(finish(free_child).open_errno[0], 0);
    EXPECT_EQ(asked_.size(), 1u);
}

}  // namespace
}  // namespace bulkhead::ask
