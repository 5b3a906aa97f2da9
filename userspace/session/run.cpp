// SPDX-License-Identifier: Apache-2.0
#include "session/run.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "control/protocol.h"
#include "error.h"

namespace bulkhead::session {

namespace {

pid_t g_child = -1;

void forward_signal(int sig) {
    if (g_child > 0)
        kill(g_child, sig);
}

// Runs in the forked child: join the session cgroup, then exec. Reports
// failure through the pipe so the parent can say what went wrong.
[[noreturn]] void child_main(const std::string& cgroup, const std::string& session,
                             const RunOptions& opts, int err_fd) {
    auto fail = [&](const std::string& msg) {
        (void)!::write(err_fd, msg.data(), msg.size());
        _exit(127);
    };
    std::string procs = cgroup + "/cgroup.procs";
    int fd = ::open(procs.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        fail(errno_message("run: cannot open " + procs, errno));
    std::string pid = std::to_string(getpid());
    if (::write(fd, pid.data(), pid.size()) < 0)
        fail(errno_message("run: cannot join session cgroup " + cgroup, errno));
    ::close(fd);
    setenv("BULKHEAD_SESSION", session.c_str(), 1);
    if (!opts.workspace.empty() && ::chdir(opts.workspace.c_str()) != 0)
        fail(errno_message("run: cannot enter workspace " + opts.workspace, errno));
    std::vector<char*> argv;
    for (const auto& a : opts.command)
        argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execvp(argv[0], argv.data());
    fail(errno_message("run: cannot execute '" + opts.command[0] + "'", errno));
}

}  // namespace

int run_in_session(const RunOptions& in) {
    RunOptions opts = in;
    if (opts.command.empty())
        throw FatalError("run: no command given (usage: bulkhead run -- CMD [ARGS...])", 2);
    if (opts.workspace.empty())
        opts.workspace = std::filesystem::current_path().string();

    auto client = control::Client::connect(opts.socket);
    auto reply = client.request({{"op", "start_session"},
                                 {"agent", opts.agent},
                                 {"workspace", opts.workspace}});
    if (!reply.value("ok", false))
        throw FatalError(reply.value("error", "run: the daemon refused the session"));
    std::string session = reply.value("session", "");
    std::string cgroup = reply.value("cgroup", "");

    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) != 0)
        throw FatalError(errno_message("run: pipe", errno));
    pid_t child = fork();
    if (child < 0)
        throw FatalError(errno_message("run: fork", errno));
    if (child == 0) {
        ::close(pipefd[0]);
        child_main(cgroup, session, opts, pipefd[1]);
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
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    try {
        auto end = control::Client::connect(opts.socket);
        (void)end.request({{"op", "end_session"}, {"session", session}, {"exit_code", code}});
    } catch (const FatalError&) {
        // The daemon went away; the kernel keeps the session's rules anyway.
    }
    if (!child_error.empty())
        throw FatalError(child_error, 127);
    return code;
}

}  // namespace bulkhead::session
