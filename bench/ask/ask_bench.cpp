// SPDX-License-Identifier: Apache-2.0
// bulkhead-ask-bench: what an `ask` adds to an open(2) when the answer comes
// at once, against the same open in the same run:
//   bare      the file carries no fanotify mark
//   passthru  marked, the opener is outside every session (let through)
//   answered  marked, the opener is a session process: held, and answered
//             ALLOW from the on_pending callback (the whole kernel → broker
//             → kernel round trip, without a human's think time)
// A child process opens; the parent runs the broker's loop. Needs root.
//
//   bulkhead-ask-bench [OPENS_PER_BATCH] [BATCHES]
#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <spdlog/spdlog.h>

#include "ask/broker.h"

namespace {

using bulkhead::ask::AskBroker;
namespace ask = bulkhead::ask;

// In the child: BATCHES batches of N opens; writes each batch's ns/open.
[[noreturn]] void opener(const std::string& path, int n, int batches, int out) {
    for (int b = -1; b < batches; ++b) {  // batch -1 warms the caches
        auto start = std::chrono::steady_clock::now();
        for (int i = 0; i < n; ++i) {
            int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
            if (fd < 0)
                _exit(3);
            ::close(fd);
        }
        double ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count() / n;
        if (b >= 0 && ::write(out, &ns, sizeof(ns)) != sizeof(ns))
            _exit(4);
    }
    _exit(0);
}

// Runs the opener in a child, serving `broker` (if any) until it exits.
// Returns the median ns per open.
double measure(AskBroker* broker, pid_t* child_pid, const std::string& path, int n, int batches) {
    int pipefd[2];
    if (::pipe2(pipefd, O_CLOEXEC) != 0)
        std::exit(2);
    pid_t pid = ::fork();
    if (pid == 0) {
        ::close(pipefd[0]);
        opener(path, n, batches, pipefd[1]);
    }
    *child_pid = pid;
    ::close(pipefd[1]);
    std::vector<double> per;
    for (;;) {
        pollfd fds[2] = {{pipefd[0], POLLIN, 0}, {broker ? broker->fd() : -1, POLLIN, 0}};
        if (::poll(fds, 2, -1) < 0)
            continue;
        if (fds[1].revents & POLLIN)
            broker->on_readable();
        if (fds[0].revents & (POLLIN | POLLHUP)) {
            double ns;
            ssize_t r = ::read(pipefd[0], &ns, sizeof(ns));
            if (r <= 0)
                break;
            per.push_back(ns);
        }
    }
    ::close(pipefd[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || per.empty()) {
        std::fprintf(stderr, "ask-bench: the opener failed (status %d)\n", status);
        std::exit(1);
    }
    std::sort(per.begin(), per.end());
    return per[per.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
    int n = argc > 1 ? std::atoi(argv[1]) : 2000;
    int batches = argc > 2 ? std::atoi(argv[2]) : 9;
    if (n < 1 || batches < 1) {
        std::fprintf(stderr, "usage: bulkhead-ask-bench [OPENS_PER_BATCH] [BATCHES]\n");
        return 2;
    }
    spdlog::set_level(spdlog::level::warn);  // one info line per request would be the measurement
    if (auto ok = AskBroker::probe(); !ok) {
        std::fprintf(stderr, "ask-bench: %s\n", ok.error().message.c_str());
        return 77;
    }
    auto dir = std::filesystem::temp_directory_path() / ("bulkhead-ask-bench-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    std::string path = (dir / "held").string();
    std::ofstream(path) << "x";

    pid_t child = 0;
    bool child_in_session = false;
    ask::Callbacks cb;
    cb.session_of = [&](pid_t pid) -> std::optional<ask::SessionInfo> {
        if (child_in_session && pid == child)
            return ask::SessionInfo{1};
        return std::nullopt;
    };
    AskBroker* self = nullptr;
    cb.on_pending = [&](const ask::PendingAsk& a) {
        (void)self->decide(a.id, ask::Decision::kAllow, ask::Scope::kOnce, {0, ::getpid(), "bench"});
    };
    AskBroker broker(ask::Options{}, cb);
    self = &broker;

    double bare = measure(nullptr, &child, path, n, batches);
    if (auto ok = broker.watch(path, "bench", path); !ok) {
        std::fprintf(stderr, "ask-bench: %s\n", ok.error().message.c_str());
        return 1;
    }
    double passthru = measure(&broker, &child, path, n, batches);
    child_in_session = true;
    double answered = measure(&broker, &child, path, n / 4 > 0 ? n / 4 : 1, batches);
    std::filesystem::remove_all(dir);

    std::printf("op=open-bare median_ns=%.0f\n", bare);
    std::printf("op=open-marked-outside-session median_ns=%.0f ratio=%.2f\n", passthru, passthru / bare);
    std::printf("op=open-asked-answered-at-once median_ns=%.0f ratio=%.2f added_us=%.1f\n", answered,
                answered / bare, (answered - bare) / 1000.0);
    std::printf("asked=%llu allowed=%llu\n", static_cast<unsigned long long>(broker.stats().asked),
                static_cast<unsigned long long>(broker.stats().allowed));
    return 0;
}
