// SPDX-License-Identifier: Apache-2.0
// A small HTTP/1.x server for Prometheus scrapes and health probes:
// `GET /metrics` answers the registry's text, `/readyz` and `/healthz` answer
// 200 or 503 from the registry's readiness and loop heartbeat (kubelet and
// load balancers probe them); everything else gets 400/404/405/431. One thread, poll(),
// non-blocking sockets; each connection is bounded in bytes (8 KiB of
// request) and time (5 s), and in number (64 at once; a new connection
// evicts the oldest), so clients that never read or never finish their
// request cannot lock a scraper out.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "metrics/registry.h"
#include "result.h"

namespace bulkhead::exporters {

class MetricsServer {
public:
    static constexpr size_t kMaxRequestBytes = 8192;
    static constexpr int kMaxClients = 64;
    static constexpr int kClientTimeoutMs = 5000;

    // listen: "127.0.0.1:9376", "[::1]:9376", ":9376" (all addresses) or
    // "unix:/run/bulkhead/metrics.sock" (replaced if it exists, mode 0660).
    // Port 0 takes a free port (see port()).
    static Result<std::unique_ptr<MetricsServer>> start(const std::string& listen,
                                                        const MetricsRegistry& registry);
    ~MetricsServer();
    void stop();
    int port() const { return port_; }  // the TCP port bound, 0 for a unix socket

private:
    MetricsServer(int fd, int wake_fd, int port, std::string unix_path, const MetricsRegistry& r);
    void run();

    int fd_;
    int wake_fd_;  // an eventfd: stop() wakes poll()
    int port_;
    std::string unix_path_;
    const MetricsRegistry& registry_;
    std::atomic<bool> stopping_{false};
    std::thread thread_;
};

// The event loop counts as stalled when its last tick is older than this
// many intervals (plus a grace for a slow rescan).
constexpr double kStaleIntervals = 3;
constexpr double kStaleGraceSeconds = 5;

// The HTTP answer to one request head (request line and headers, ending
// with CRLF) at unix time `now`; separate so tests can table it.
std::string answer_request(const std::string& head, const MetricsRegistry& registry, double now);

}  // namespace bulkhead::exporters
