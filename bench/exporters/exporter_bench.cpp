// SPDX-License-Identifier: Apache-2.0
// bulkhead-exporter-bench: events per second through the JSONL and the
// syslog-UDP sinks, as ratios against a baseline measured in the same run
// (formatting an event with events::to_json alone), plus the daemon-side
// cost of publish() and the process's peak RSS. Never a unit test.
//
// usage: bulkhead-exporter-bench [EVENTS]   (default 200000)
#include <arpa/inet.h>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <netinet/in.h>
#include <string>
#include <sys/resource.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

#include <yaml-cpp/yaml.h>

#include "factory.h"
#include "falco_json.h"

using namespace bulkhead;
using Clock = std::chrono::steady_clock;

namespace {

events::Event sample(int i) {
    events::Event e;
    e.kind = "file";
    e.time_unix_ns = 1767323045123456789LL + i;
    e.session = 42;
    e.agent = "claude-code";
    e.pid = e.tgid = 1000 + i;
    e.uid = 1000;
    e.comm = "cat";
    e.exe = "/usr/bin/cat";
    e.rule = "Read SSH private key";
    e.priority = "Critical";
    e.tags = {"agent", "credentials"};
    e.verdict = "deny";
    e.action = "block";
    e.op = "read";
    e.evt_type = "open";
    e.err = 1;
    e.path = "/home/dev/.ssh/id_rsa";
    e.level = "bpf-lsm";
    return e;
}

double seconds_since(Clock::time_point t) {
    return std::chrono::duration<double>(Clock::now() - t).count();
}

struct PathResult {
    double total_s;    // publish to last delivery
    double publish_s;  // time spent inside publish() (the daemon's thread)
    uint64_t delivered, dropped;
};

// Publishes n events in batches, never letting the queue fill (so nothing
// is dropped and the number is the sink's throughput), then closes.
PathResult run_path(exporters::Exporter& sink, int n) {
    PathResult r{};
    auto start = Clock::now();
    const int batch = 5000;
    for (int i = 0; i < n; i += batch) {
        auto p = Clock::now();
        for (int k = i; k < std::min(n, i + batch); ++k)
            sink.publish(sample(k));
        r.publish_s += seconds_since(p);
        while (sink.stats().queue_depth > batch)
            std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    sink.close();
    r.total_s = seconds_since(start);
    r.delivered = sink.stats().delivered;
    r.dropped = sink.stats().dropped;
    return r;
}

std::unique_ptr<exporters::Exporter> make(const std::string& yaml, const std::string& spool) {
    auto made = exporters::make_exporters(YAML::Load(yaml), exporters::Options{"bench-host", spool, "bench"});
    if (!made) {
        std::fprintf(stderr, "bench: %s\n", made.error().c_str());
        std::exit(1);
    }
    return std::move(made.value()[0]);
}

}  // namespace

int main(int argc, char** argv) {
    int n = argc > 1 ? std::atoi(argv[1]) : 200000;
    char tmpl[] = "/tmp/bulkhead-exporter-bench-XXXXXX";
    std::string dir = mkdtemp(tmpl);

    // Baseline: Falco JSON of each event, nothing else.
    auto t = Clock::now();
    size_t bytes = 0;
    for (int i = 0; i < n; ++i)
        bytes += exporters::dump_json(events::to_json(sample(i), "bench-host")).size();
    double base_s = seconds_since(t);

    auto jsonl = make("[{name: bench-jsonl, type: jsonl, path: " + dir + "/bench.jsonl, max_bytes: 1GiB, "
                      "queue: {max_events: 20000}}]", dir + "/spool");
    PathResult j = run_path(*jsonl, n);

    // A UDP receiver that only counts datagrams.
    int rx = socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int big = 8 << 20;
    setsockopt(rx, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    bind(rx, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    getsockname(rx, reinterpret_cast<sockaddr*>(&a), &len);
    timeval tv{0, 200000};
    setsockopt(rx, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    std::atomic<uint64_t> received{0};
    std::atomic<bool> stop{false};
    std::thread counter([&] {
        char buf[9000];
        while (!stop)
            if (recv(rx, buf, sizeof buf, 0) > 0)
                ++received;
    });
    auto udp = make("[{name: bench-udp, type: syslog, transport: udp, port: " + std::to_string(ntohs(a.sin_port)) +
                    ", spool: {max_bytes: 0}, queue: {max_events: 20000}}]", "");
    PathResult u = run_path(*udp, n);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    stop = true;
    counter.join();
    close(rx);

    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    auto rate = [&](double s) { return n / s; };
    std::printf("exporter bench: %d events (Falco JSON ~%zu bytes each)\n", n, bytes / n);
    std::printf("  baseline to_json+dump:  %10.0f events/s  (1.00x)\n", rate(base_s));
    std::printf("  jsonl sink end to end:  %10.0f events/s  (%.2fx the baseline's time per event)"
                "  delivered %llu dropped %llu\n",
                rate(j.total_s), j.total_s / base_s, (unsigned long long)j.delivered, (unsigned long long)j.dropped);
    std::printf("  syslog udp end to end:  %10.0f events/s  (%.2fx)  sent %llu received %llu dropped %llu\n",
                rate(u.total_s), u.total_s / base_s, (unsigned long long)u.delivered,
                (unsigned long long)received.load(), (unsigned long long)u.dropped);
    std::printf("  publish() on the daemon's thread: jsonl %.2fx, udp %.2fx the baseline's time per event\n",
                j.publish_s / base_s, u.publish_s / base_s);
    std::printf("  peak RSS: %ld KiB\n", ru.ru_maxrss);
    std::system(("rm -rf '" + dir + "'").c_str());
    return 0;
}
