// SPDX-License-Identifier: Apache-2.0
// bulkhead-exporter-bench: events per second through the JSONL, OCSF,
// syslog (UDP, TCP, TLS, the local Unix socket) and HTTP sinks, each to a
// receiver in this process that only reads, as ratios against a baseline
// measured in the same run
// (formatting an event with events::to_json alone), plus the daemon-side
// cost of publish(), the CPU the process spends per 10,000 events (daemon
// thread and sink workers together), the latency from publish() to the
// syslog receiver (p50, p99) at a steady rate, and the peak RSS. Never a
// unit test.
//
// usage: bulkhead-exporter-bench [EVENTS]   (default 200000)
#include <arpa/inet.h>
#include <atomic>
#include <vector>
#include <cstring>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <netinet/in.h>
#include <string>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <thread>
#include <unistd.h>

#include <openssl/ssl.h>
#include <yaml-cpp/yaml.h>

#include "bench_event.h"
#include "factory.h"
#include "falco_json.h"

using namespace bulkhead;
using Clock = std::chrono::steady_clock;

namespace {

using bench::sample_event;

double seconds_since(Clock::time_point t) {
    return std::chrono::duration<double>(Clock::now() - t).count();
}

struct PathResult {
    double total_s;    // publish to last delivery
    double publish_s;  // time spent inside publish() (the daemon's thread)
    double cpu_s;      // user + system CPU of the whole process meanwhile
    uint64_t delivered, dropped;
};

double cpu_seconds() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

// Publishes n events in batches, never letting the queue fill (so nothing
// is dropped and the number is the sink's throughput), then closes.
PathResult run_path(exporters::Exporter& sink, int n) {
    PathResult r{};
    double cpu_start = cpu_seconds();
    auto start = Clock::now();
    const int batch = 5000;
    for (int i = 0; i < n; i += batch) {
        auto p = Clock::now();
        for (int k = i; k < std::min(n, i + batch); ++k)
            sink.publish(sample_event(k));
        r.publish_s += seconds_since(p);
        while (sink.stats().queue_depth > batch)
            std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    sink.close();
    r.total_s = seconds_since(start);
    r.cpu_s = cpu_seconds() - cpu_start;
    r.delivered = sink.stats().delivered;
    r.dropped = sink.stats().dropped;
    return r;
}

// A loopback TCP listener and a thread that accepts and serves each
// connection with `serve(fd)` until stopped.
struct TcpReceiver {
    int listener = -1;
    uint16_t port = 0;
    std::atomic<bool> stop{false};
    std::thread acceptor;
    std::vector<std::thread> served;  // the acceptor's, until it is joined
    explicit TcpReceiver(void (*serve)(int fd, std::atomic<bool>& stop)) {
        listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        bind(listener, reinterpret_cast<sockaddr*>(&a), sizeof a);
        listen(listener, 16);
        socklen_t len = sizeof a;
        getsockname(listener, reinterpret_cast<sockaddr*>(&a), &len);
        port = ntohs(a.sin_port);
        timeval tv{0, 200000};
        setsockopt(listener, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        acceptor = std::thread([this, serve] {
            while (!stop) {
                int fd = accept(listener, nullptr, nullptr);
                if (fd < 0)
                    continue;
                timeval tv{0, 200000};
                setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
                served.emplace_back([this, fd, serve] { serve(fd, stop); close(fd); });
            }
        });
    }
    ~TcpReceiver() {
        stop = true;
        acceptor.join();
        for (auto& t : served)
            t.join();
        close(listener);
    }
};

// Syslog over TCP: read and forget.
void discard(int fd, std::atomic<bool>& stop) {
    char buf[65536];
    while (!stop) {
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n == 0)
            return;
    }
}

// Syslog over TLS: handshake with the bench's own certificate, read and
// forget.
SSL_CTX* g_tls_server = nullptr;

void tls_discard(int fd, std::atomic<bool>& stop) {
    SSL* ssl = SSL_new(g_tls_server);
    SSL_set_fd(ssl, fd);
    int rc;
    while ((rc = SSL_accept(ssl)) != 1 && !stop && SSL_get_error(ssl, rc) == SSL_ERROR_WANT_READ) {
    }
    char buf[65536];
    while (rc == 1 && !stop) {
        int n = SSL_read(ssl, buf, sizeof buf);
        if (n <= 0 && SSL_get_error(ssl, n) != SSL_ERROR_WANT_READ)
            break;
    }
    SSL_free(ssl);
}

// A CA-less self-signed server certificate for 127.0.0.1 in dir, loaded
// into g_tls_server; exits when openssl is missing.
void make_tls_server(const std::string& dir) {
    std::string cmd = "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 "
                      "-subj /CN=bench -addext subjectAltName=IP:127.0.0.1 -keyout " + dir + "/tls.key -out " +
                      dir + "/tls.pem >/dev/null 2>&1";
    g_tls_server = SSL_CTX_new(TLS_server_method());
    if (std::system(cmd.c_str()) != 0 ||
        SSL_CTX_use_certificate_file(g_tls_server, (dir + "/tls.pem").c_str(), SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_use_PrivateKey_file(g_tls_server, (dir + "/tls.key").c_str(), SSL_FILETYPE_PEM) != 1) {
        std::fprintf(stderr, "bench: cannot make the TLS receiver's certificate (is openssl installed?)\n");
        std::exit(1);
    }
}

// HTTP/1.1 with keep-alive: each request (head and Content-Length body)
// answered 200 with an empty body.
void http_ok(int fd, std::atomic<bool>& stop) {
    std::string in;
    char buf[65536];
    while (!stop) {
        size_t head = in.find("\r\n\r\n");
        if (head != std::string::npos) {
            size_t cl = in.find("Content-Length: ");
            size_t body = cl == std::string::npos || cl > head ? 0 : std::strtoul(in.c_str() + cl + 16, nullptr, 10);
            if (in.size() >= head + 4 + body) {
                in.erase(0, head + 4 + body);
                static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
                if (send(fd, ok, sizeof ok - 1, MSG_NOSIGNAL) < 0)
                    return;
                continue;
            }
        }
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n == 0)
            return;
        if (n > 0)
            in.append(buf, static_cast<size_t>(n));
    }
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
        bytes += exporters::dump_json(events::to_json(sample_event(i), "bench-host")).size();
    double base_s = seconds_since(t);

    auto jsonl = make("[{name: bench-jsonl, type: jsonl, path: " + dir + "/bench.jsonl, max_bytes: 1GiB, "
                      "queue: {max_events: 20000}}]", dir + "/spool");
    PathResult j = run_path(*jsonl, n);
    auto ocsf = make("[{name: bench-ocsf, type: ocsf, path: " + dir + "/bench.ocsf.jsonl, max_bytes: 1GiB, "
                     "queue: {max_events: 20000}}]", dir + "/spool");
    PathResult o = run_path(*ocsf, n);
    PathResult tcp{}, tls{}, http{}, unix_dgram{};
    {
        TcpReceiver rx(discard);
        auto sink = make("[{name: bench-tcp, type: syslog, transport: tcp, port: " + std::to_string(rx.port) +
                         ", queue: {max_events: 20000}}]", dir + "/spool");
        tcp = run_path(*sink, n);
    }
    {
        make_tls_server(dir);
        TcpReceiver rx(tls_discard);
        auto sink = make("[{name: bench-tls, type: syslog, transport: tls, host: 127.0.0.1, port: " +
                         std::to_string(rx.port) + ", tls: {ca: " + dir + "/tls.pem}, queue: {max_events: 20000}}]",
                         dir + "/spool");
        tls = run_path(*sink, n);
    }
    {
        TcpReceiver rx(http_ok);
        auto sink = make("[{name: bench-http, type: http, url: 'http://127.0.0.1:" + std::to_string(rx.port) +
                         "/', queue: {max_events: 20000}}]", dir + "/spool");
        http = run_path(*sink, n);
    }
    {
        // The local syslog socket (/dev/log's kind): a datagram receiver in dir.
        std::string path = dir + "/log.sock";
        int rx = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        sockaddr_un un{};
        un.sun_family = AF_UNIX;
        std::snprintf(un.sun_path, sizeof un.sun_path, "%s", path.c_str());
        bind(rx, reinterpret_cast<sockaddr*>(&un), sizeof un);
        int big = 8 << 20;
        setsockopt(rx, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
        timeval tv{0, 200000};
        setsockopt(rx, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        std::atomic<bool> done{false};
        std::thread reader([&] {
            char buf[9000];
            while (!done)
                (void)recv(rx, buf, sizeof buf, 0);
        });
        auto sink = make("[{name: bench-unix, type: syslog, transport: unix, socket: " + path +
                         ", queue: {max_events: 20000}}]", dir + "/spool");
        unix_dgram = run_path(*sink, n);
        done = true;
        reader.join();
        close(rx);
    }

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
    // Latency probes carry "/latency/<i>" in their path; the receiver notes
    // when each arrives.
    const int probes = 2000;
    std::vector<Clock::time_point> sent_at(probes), got_at(probes);
    std::vector<std::atomic<bool>> got(probes);
    std::thread counter([&] {
        char buf[9000];
        while (!stop) {
            ssize_t n = recv(rx, buf, sizeof buf - 1, 0);
            if (n <= 0)
                continue;
            ++received;
            buf[n] = 0;
            if (const char* p = std::strstr(buf, "/latency/")) {
                int i = std::atoi(p + 9);
                if (i >= 0 && i < probes && !got[i]) {
                    got_at[i] = Clock::now();
                    got[i] = true;
                }
            }
        }
    });
    auto udp = make("[{name: bench-udp, type: syslog, transport: udp, port: " + std::to_string(ntohs(a.sin_port)) +
                    ", spool: {max_bytes: 0}, queue: {max_events: 20000}}]", "");
    PathResult u = run_path(*udp, n);

    // Latency at a steady 2,000 events/s, one probe every 500 µs.
    auto probe_sink = make("[{name: bench-udp-latency, type: syslog, transport: udp, port: " +
                           std::to_string(ntohs(a.sin_port)) + ", spool: {max_bytes: 0}}]", "");
    for (int i = 0; i < probes; ++i) {
        events::Event e = sample_event(i);
        e.path = "/latency/" + std::to_string(i);
        sent_at[i] = Clock::now();
        probe_sink->publish(e);
        std::this_thread::sleep_until(sent_at[i] + std::chrono::microseconds(500));
    }
    probe_sink->close();
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
    std::printf("  syslog udp end to end:  %10.0f events/s  (%.2fx)  sent %llu received %llu (with the latency probes) dropped %llu\n",
                rate(u.total_s), u.total_s / base_s, (unsigned long long)u.delivered,
                (unsigned long long)received.load(), (unsigned long long)u.dropped);
    for (const auto& [name, r] : {std::pair{"ocsf file", &o}, std::pair{"syslog tcp", &tcp},
                                  std::pair{"syslog tls", &tls},
                                  std::pair{"syslog unix", &unix_dgram}, std::pair{"http (sidekick)", &http}})
        std::printf("  %-16s end to end: %10.0f events/s  (%.2fx)  delivered %llu dropped %llu\n", name,
                    rate(r->total_s), r->total_s / base_s, (unsigned long long)r->delivered,
                    (unsigned long long)r->dropped);
    std::printf("  publish() on the daemon's thread: jsonl %.2fx, udp %.2fx the baseline's time per event\n",
                j.publish_s / base_s, u.publish_s / base_s);
    std::printf("  CPU per 10,000 events (process, all threads): jsonl %.1f ms, ocsf %.1f ms, udp %.1f ms, "
                "tcp %.1f ms, tls %.1f ms, unix %.1f ms, http %.1f ms; baseline %.1f ms\n",
                j.cpu_s / n * 1e7, o.cpu_s / n * 1e7, u.cpu_s / n * 1e7, tcp.cpu_s / n * 1e7,
                tls.cpu_s / n * 1e7, unix_dgram.cpu_s / n * 1e7, http.cpu_s / n * 1e7, base_s / n * 1e7);
    std::vector<double> lat_us;
    for (int i = 0; i < probes; ++i)
        if (got[i])
            lat_us.push_back(std::chrono::duration<double, std::micro>(got_at[i] - sent_at[i]).count());
    std::sort(lat_us.begin(), lat_us.end());
    if (!lat_us.empty())
        std::printf("  publish() to syslog receiver at 2,000 events/s: p50 %.0f us, p99 %.0f us (%zu of %d probes arrived)\n",
                    lat_us[lat_us.size() / 2], lat_us[lat_us.size() * 99 / 100], lat_us.size(), probes);
    std::printf("  peak RSS: %ld KiB\n", ru.ru_maxrss);
    std::system(("rm -rf '" + dir + "'").c_str());
    return 0;
}
