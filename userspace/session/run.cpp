// SPDX-License-Identifier: Apache-2.0
#include "session/run.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <memory>

#include "commands.h"
#include "control/protocol.h"
#include "error.h"
#include "sandbox/sandbox.h"

namespace bulkhead::session {

namespace {

pid_t g_child = -1;

void forward_signal(int sig) {
    if (g_child > 0)
        kill(g_child, sig);
}

// What the session's first process sets up before it execs the command.
struct ChildSetup {
    std::string cgroup;   // "" = no daemon session
    std::string session;
    std::string level;
    const sandbox::Sandbox* sandbox = nullptr;
};

[[noreturn]] void child_fail(int err_fd, const std::string& msg) {
    (void)!::write(err_fd, msg.data(), msg.size());
    _exit(127);
}

// Runs in the forked child: join the session cgroup, enter the sandbox,
// then exec. Reports failure through the pipe so the parent can say what
// went wrong.
[[noreturn]] void child_main(const ChildSetup& s, const RunOptions& opts, int err_fd) {
    auto fail = [&](const std::string& msg) { child_fail(err_fd, msg); };
    if (!s.cgroup.empty()) {
        std::string procs = s.cgroup + "/cgroup.procs";
        int fd = ::open(procs.c_str(), O_WRONLY | O_CLOEXEC);
        if (fd < 0)
            fail(errno_message("run: cannot open " + procs, errno));
        std::string pid = std::to_string(getpid());
        if (::write(fd, pid.data(), pid.size()) < 0)
            fail(errno_message("run: cannot join session cgroup " + s.cgroup, errno));
        ::close(fd);
        setenv("BULKHEAD_SESSION", s.session.c_str(), 1);
    }
    setenv("BULKHEAD_LEVEL", s.level.c_str(), 1);
    if (!opts.workspace.empty() && ::chdir(opts.workspace.c_str()) != 0)
        fail(errno_message("run: cannot enter workspace " + opts.workspace, errno));
    if (s.sandbox)
        if (std::string e = s.sandbox->enter(); !e.empty())
            fail("run: " + e);
    std::vector<char*> argv;
    for (const auto& a : opts.command)
        argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execvp(argv[0], argv.data());
    child_fail(err_fd, errno_message("run: cannot execute '" + opts.command[0] + "'", errno));
}

// Forks the session's first process and waits for it.
int launch(const ChildSetup& s, const RunOptions& opts) {
    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) != 0)
        throw FatalError(errno_message("run: pipe", errno));
    pid_t child = fork();
    if (child < 0)
        throw FatalError(errno_message("run: fork", errno));
    if (child == 0) {
        ::close(pipefd[0]);
        child_main(s, opts, pipefd[1]);
    }
    ::close(pipefd[1]);
    g_child = child;
    struct sigaction sa{};
    sa.sa_handler = forward_signal;
    for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT})
        sigaction(sig, &sa, nullptr);

    std::string child_error;
    char buf[512];
    ssize_t n;
    while ((n = ::read(pipefd[0], buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR))
        if (n > 0)
            child_error.append(buf, static_cast<size_t>(n));
    ::close(pipefd[0]);

    int status = 0;
    while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
    g_child = -1;  // reaped: its pid may be reused, signals go nowhere now
    if (!child_error.empty())
        throw FatalError(child_error, 127);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

void end_session(const RunOptions& opts, const std::string& session, int code) {
    try {
        auto end = control::Client::connect(opts.socket);
        (void)end.request({{"op", "end_session"}, {"session", session}, {"exit_code", code}});
    } catch (const FatalError&) {
        // The daemon went away; the kernel keeps the session's rules anyway.
    }
}

// vm.without_hooks: relaunch. When the daemon moved the session into a
// microVM it killed the session's host processes; the command starts again
// in the VM, from the workspace's copy there. nullopt: it was not that.
std::optional<int> relaunch_in_vm(const RunOptions& opts, const std::string& session, int code) {
    if (session.empty() || code != 128 + SIGKILL)
        return std::nullopt;
    nlohmann::json s;
    try {
        s = control::Client::connect(opts.socket).request({{"op", "session"}, {"session", session}})["session"];
    } catch (const FatalError&) {
        return std::nullopt;  // no daemon to ask: the kill was someone else's
    }
    if (!s.is_object() || !s.value("relaunch", false) || s.value("vm", "").empty())
        return std::nullopt;
    std::cerr << "bulkhead: session " << session << " was moved into microVM " << s.value("vm", "")
              << "; its command starts again there (the workspace is read-only to it)\n";
    if (::chdir(opts.workspace.c_str()) != 0)
        throw FatalError(errno_message("run: cannot enter workspace " + opts.workspace, errno));
    int vm_code = commands::vm_exec(opts.socket, session, opts.command);
    std::cerr << "bulkhead: the session's changes stay in its VM: bulkhead vm diff " << session
              << ", then vm apply or vm discard\n";
    return vm_code;
}

// bpf-lsm: the daemon registers the session; its BPF guards enforce.
int run_with_daemon(const RunOptions& opts) {
    auto client = control::Client::connect(opts.socket);
    auto reply = client.request(
        {{"op", "start_session"}, {"agent", opts.agent}, {"workspace", opts.workspace}, {"level", "bpf-lsm"}});
    if (!reply.value("ok", false))
        throw FatalError(reply.value("error", "run: the daemon refused the session"));
    ChildSetup s{reply.value("cgroup", ""), reply.value("session", ""), "bpf-lsm", nullptr};
    int code;
    try {
        code = launch(s, opts);
        code = relaunch_in_vm(opts, s.session, code).value_or(code);
    } catch (const FatalError&) {
        end_session(opts, s.session, 127);
        throw;
    }
    end_session(opts, s.session, code);
    return code;
}

// landlock+seccomp: `run` sandboxes the session itself. A daemon, when one
// answers, adds the session's cgroup and events; enforcement needs none.
int run_sandboxed(const RunOptions& opts, const LevelChoice& lv) {
    std::string err;
    auto homes = sandbox::session_homes(&err);
    if (!homes)
        throw FatalError("run: " + err, 2);
    auto policy = sandbox::load_session_policy(opts.config, opts.agent, *homes, &err);
    if (!policy)
        throw FatalError("run: " + err, 2);

    // The daemon first: whether it holds `ask` files decides the Landlock plan.
    ChildSetup s{"", "", lv.level, nullptr};
    std::string daemon_note;
    bool daemon_asks = false;
    std::vector<std::string> other_workspaces;
    if (::access(opts.socket.c_str(), F_OK) != 0) {
        daemon_note = "no daemon at " + opts.socket;
    } else {
        try {
            auto client = control::Client::connect(opts.socket);
            auto reply =
                client.request({{"op", "start_session"},
                                {"agent", opts.agent},
                                {"workspace", opts.workspace},
                                {"level", lv.level}});
            if (reply.value("ok", false)) {
                s.cgroup = reply.value("cgroup", "");
                s.session = reply.value("session", "");
                daemon_asks = reply.value("ask", false);
                for (const auto& ws : reply.value("other_workspaces", nlohmann::json::array()))
                    if (ws.is_string())
                        other_workspaces.push_back(ws.get<std::string>());
            } else {
                daemon_note = "the daemon gave no session (" + reply.value("error", std::string("refused")) + ")";
            }
        } catch (const FatalError& e) {
            daemon_note = std::string("the daemon did not answer (") + e.what() + ")";
        }
    }

    sandbox::Options so;
    so.agent = opts.agent;
    so.homes = *homes;
    so.ask_broker = daemon_asks;
    so.other_workspaces = other_workspaces;
    auto sb = sandbox::Sandbox::prepare(*policy, so, &err);
    if (!sb) {
        if (!s.session.empty())
            end_session(opts, s.session, 127);
        throw FatalError("run: the session cannot be sandboxed, so it does not start:\n" + err, 2);
    }
    s.sandbox = sb.get();

    std::cerr << "bulkhead: level " << lv.level << ": " << lv.why << "\n"
              << "bulkhead: enforced by " << sb->summary() << "\n";
    if (s.session.empty())
        std::cerr << "bulkhead: " << daemon_note
                  << ": no events are recorded and egress rules are not enforced for this session "
                     "(file and syscall enforcement is in the kernel and needs no daemon)\n";
    else
        std::cerr << "bulkhead: session " << s.session
                  << " (the daemon records its events and its net guard enforces egress)\n";
    const auto& plan = sb->landlock();
    if (!plan.frozen.empty())
        std::cerr << "bulkhead: nothing new can be created directly in: " << sandbox::frozen_text(plan.frozen)
                  << "\n";
    std::error_code ec;
    std::string ws = std::filesystem::canonical(opts.workspace, ec).string();
    if (std::find(plan.frozen.begin(), plan.frozen.end(), ws) != plan.frozen.end())
        std::cerr << "bulkhead: warning: the workspace " << sandbox::frozen_text({ws})
                  << " holds protected objects, so the session cannot create files directly in it; "
                     "start the agent in a project directory\n";
    if (!plan.gaps.empty())
        std::cerr << "bulkhead: not enforced at this level (" << plan.gaps.size() << "):\n"
                  << sandbox::gaps_text(plan.gaps);

    int code;
    try {
        code = launch(s, opts);
        code = relaunch_in_vm(opts, s.session, code).value_or(code);
    } catch (const FatalError&) {
        if (!s.session.empty())
            end_session(opts, s.session, 127);
        throw;
    }
    if (!s.session.empty())
        end_session(opts, s.session, code);
    return code;
}

}  // namespace

LevelChoice choose_level(const std::string& requested, const doctor::Report& host) {
    bool level2 = host.landlock_abi > 0 && host.seccomp;
    std::string level2_missing = host.landlock_abi == 0
        ? "Landlock is not available (add landlock to the lsm= kernel parameter)"
        : "seccomp filters are not available";
    if (requested == "bpf-lsm") {
        if (!host.bpf_lsm)
            throw FatalError("run: --level bpf-lsm: BPF LSM is not active on this host: " + host.bpf_lsm_why +
                                 (level2 ? "; --level landlock contains the session with Landlock ABI " +
                                               std::to_string(host.landlock_abi) + " and seccomp instead"
                                         : "") + " (see `bulkhead doctor`)",
                             2);
        return {"bpf-lsm", "requested with --level bpf-lsm"};
    }
    if (requested == "landlock") {
        if (!level2)
            throw FatalError("run: --level landlock: " + level2_missing + " (see `bulkhead doctor`)", 2);
        return {"landlock+seccomp", "requested with --level landlock"};
    }
    if (requested == "observe")
        return {"observe", "requested with --level observe: nothing is enforced for this session"};
    if (requested != "auto")
        throw FatalError("run: --level must be auto, bpf-lsm, landlock or observe (not '" + requested + "')", 2);
    if (host.bpf_lsm)
        return {"bpf-lsm", "BPF LSM is active on this host"};
    if (level2)
        return {"landlock+seccomp", "BPF LSM is not active on this host (" + host.bpf_lsm_why + ")"};
    throw FatalError("run: nothing can enforce on this host: BPF LSM is not active (" + host.bpf_lsm_why + ") and " +
                         level2_missing + "; pass --level observe to run the command unenforced",
                     2);
}

int run_in_session(const RunOptions& in) {
    RunOptions opts = in;
    if (opts.command.empty())
        throw FatalError("run: no command given (usage: bulkhead run -- CMD [ARGS...])", 2);
    if (opts.workspace.empty())
        opts.workspace = std::filesystem::current_path().string();
    LevelChoice lv = choose_level(opts.level, doctor::probe());
    if (lv.level == "bpf-lsm")
        return run_with_daemon(opts);
    if (lv.level == "landlock+seccomp")
        return run_sandboxed(opts, lv);
    std::cerr << "bulkhead: level observe: " << lv.why << "\n";
    return launch({"", "", lv.level, nullptr}, opts);
}

}  // namespace bulkhead::session
