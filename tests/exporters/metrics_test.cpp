// SPDX-License-Identifier: Apache-2.0
// The metrics registry's text exposition and the HTTP server, including
// garbage, oversized and never-finished requests.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "metrics/registry.h"
#include "metrics/server.h"
#include "test_support.h"

namespace bulkhead::exporters {
namespace {

using test::TempDir;
using namespace std::chrono_literals;

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

TEST(MetricsRegistry, RendersWhatTheDaemonPushes) {
    MetricsRegistry m;
    auto deny = test::sample_event(0);
    record_event(m, deny);
    record_event(m, deny);
    auto odd = deny;
    odd.verdict = "audit";
    odd.rule = "Rule \"with\" a \\ and\na newline";
    record_event(m, odd);
    record_kernel_drops(m, 17);
    ExporterStats st;
    st.published = 10;
    st.delivered = 7;
    st.dropped = 1;
    st.send_errors = 4;
    st.queue_depth = 2;
    st.spool_bytes = 4096;
    record_sink_stats(m, "siem", st);
    record_enforcement_level(m, "bpf-lsm");
    record_sessions(m, {{"active", 3}, {"promoted", 1}});
    std::string text = m.render();
    const char* want[] = {
        "# TYPE bulkhead_events_total counter\n",
        "bulkhead_events_total{verdict=\"deny\",rule=\"Read SSH private key\"} 2\n",
        "bulkhead_events_total{verdict=\"audit\",rule=\"Rule \\\"with\\\" a \\\\ and\\na newline\"} 1\n",
        "bulkhead_kernel_drops_total 17\n",
        "bulkhead_exporter_published_total{sink=\"siem\"} 10\n",
        "bulkhead_exporter_delivered_total{sink=\"siem\"} 7\n",
        "bulkhead_exporter_dropped_total{sink=\"siem\"} 1\n",
        "bulkhead_exporter_send_errors_total{sink=\"siem\"} 4\n",
        "# TYPE bulkhead_exporter_queue_depth gauge\n",
        "bulkhead_exporter_queue_depth{sink=\"siem\"} 2\n",
        "bulkhead_exporter_spool_bytes{sink=\"siem\"} 4096\n",
        "bulkhead_enforcement_level{level=\"bpf-lsm\"} 1\n",
        "bulkhead_enforcement_level{level=\"observe\"} 0\n",
        "bulkhead_sessions{state=\"active\"} 3\n",
        "bulkhead_sessions{state=\"asking\"} 0\n",
        "bulkhead_sessions{state=\"promoted\"} 1\n",
        "# HELP bulkhead_sessions Agent sessions by state.\n",
    };
    for (const char* w : want)
        EXPECT_TRUE(contains(text, w)) << "missing: " << w << "\n" << text;
    record_enforcement_level(m, "observe");
    record_sessions(m, {});
    text = m.render();
    EXPECT_TRUE(contains(text, "bulkhead_enforcement_level{level=\"bpf-lsm\"} 0\n"));
    EXPECT_TRUE(contains(text, "bulkhead_enforcement_level{level=\"observe\"} 1\n"));
    EXPECT_TRUE(contains(text, "bulkhead_sessions{state=\"active\"} 0\n"));
}

TEST(MetricsRegistry, SeriesPerFamilyAreCapped) {
    MetricsRegistry m;
    for (size_t i = 0; i < MetricsRegistry::kMaxSeriesPerFamily + 100; ++i)
        m.add("bulkhead_events_total", {{"verdict", "deny"}, {"rule", "r" + std::to_string(i)}});
    EXPECT_EQ(m.value("bulkhead_events_total", {{"verdict", "other"}, {"rule", "other"}}), 100);
}

TEST(MetricsServer, AnswersByRequest) {
    MetricsRegistry m;
    record_kernel_drops(m, 5);
    const std::pair<std::string, std::string> cases[] = {
        {"GET /metrics HTTP/1.1\r\nHost: x\r\n", "HTTP/1.1 200 OK"},
        {"GET /metrics?x=1 HTTP/1.0\r\n", "HTTP/1.1 200 OK"},
        {"GET / HTTP/1.1\r\n", "HTTP/1.1 200 OK"},
        {"HEAD /metrics HTTP/1.1\r\n", "HTTP/1.1 200 OK"},
        {"POST /metrics HTTP/1.1\r\n", "HTTP/1.1 405"},
        {"GET /secret HTTP/1.1\r\n", "HTTP/1.1 404"},
        {"GET /metrics\r\n", "HTTP/1.1 400"},
        {"garbage\r\n", "HTTP/1.1 400"},
        {"\r\n", "HTTP/1.1 400"},
        {std::string("\0\0\0 \xFF\xFE HTTP/1.1\r\n", 18), "HTTP/1.1 404"},
    };
    for (const auto& [req, want] : cases) {
        std::string got = answer_request(req, m, 0);
        EXPECT_EQ(got.substr(0, want.size()), want) << req;
    }
    EXPECT_TRUE(contains(answer_request("GET /metrics HTTP/1.1\r\n", m, 0), "bulkhead_kernel_drops_total 5\n"));
    std::string head = answer_request("HEAD /metrics HTTP/1.1\r\n", m, 0);
    EXPECT_EQ(head.substr(head.size() - 4), "\r\n\r\n") << "HEAD has no body";
}

// Kubelet's and systemd-free probes: ready once the daemon says so; healthy
// while the event loop ticks, with the stall named when it does not.
TEST(MetricsServer, ReadyzAndHealthzFollowTheDaemon) {
    MetricsRegistry m;
    auto get = [&](const std::string& target, double now) {
        return answer_request("GET " + target + " HTTP/1.1\r\n", m, now);
    };
    auto status = [](const std::string& r) { return r.substr(0, r.find("\r\n")); };
    EXPECT_EQ(status(get("/readyz", 1000)), "HTTP/1.1 503 Service Unavailable");
    EXPECT_EQ(status(get("/healthz", 1000)), "HTTP/1.1 503 Service Unavailable");
    EXPECT_TRUE(contains(get("/healthz", 1000), "has not ticked yet"));
    record_ready(m, true);
    record_heartbeat(m, 1000, 2);
    EXPECT_EQ(status(get("/readyz", 1000)), "HTTP/1.1 200 OK");
    EXPECT_EQ(status(get("/healthz", 1001)), "HTTP/1.1 200 OK");
    // 3 intervals of 2 s plus 5 s of grace: 11 s.
    EXPECT_EQ(status(get("/healthz", 1011)), "HTTP/1.1 200 OK");
    std::string stalled = get("/healthz", 1012);
    EXPECT_EQ(status(stalled), "HTTP/1.1 503 Service Unavailable");
    EXPECT_TRUE(contains(stalled, "last tick 12 s ago")) << stalled;
    record_heartbeat(m, 1010, 2);
    EXPECT_EQ(status(get("/healthz", 1012)), "HTTP/1.1 200 OK") << "a new tick heals it";
    record_ready(m, false);
    EXPECT_EQ(status(get("/readyz", 1012)), "HTTP/1.1 503 Service Unavailable");
    EXPECT_TRUE(contains(m.render(), "bulkhead_loop_interval_seconds 2\n"));
    EXPECT_EQ(status(answer_request("POST /readyz HTTP/1.1\r\n", m, 0)), "HTTP/1.1 405 Method Not Allowed");
}

// Sends `request` and reads the answer until the server closes.
std::string talk(int fd, const std::string& request) {
    (void)!send(fd, request.data(), request.size(), MSG_NOSIGNAL);
    std::string out;
    char buf[4096];
    for (;;) {
        pollfd p{fd, POLLIN, 0};
        if (poll(&p, 1, 10000) != 1)
            break;
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n <= 0)
            break;
        out.append(buf, static_cast<size_t>(n));
    }
    close(fd);
    return out;
}

std::string scrape(int port) {
    int fd = test::connect_loopback(port);
    return fd < 0 ? "" : talk(fd, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
}

TEST(MetricsServer, ServesScrapesAndSurvivesBadClients) {
    MetricsRegistry m;
    record_kernel_drops(m, 9);
    auto server = MetricsServer::start("127.0.0.1:0", m);
    ASSERT_TRUE(server) << server.error();
    int port = (*server)->port();
    ASSERT_GT(port, 0);
    EXPECT_TRUE(contains(scrape(port), "bulkhead_kernel_drops_total 9\n"));

    // Garbage: answered 400 and closed.
    int fd = test::connect_loopback(port);
    EXPECT_TRUE(contains(talk(fd, std::string("\x16\x03\x01\x02\x00\x01\r\n\r\n", 10)), "400 Bad Request"));
    // Oversized: a request head that never ends.
    fd = test::connect_loopback(port);
    std::string big = "GET /metrics HTTP/1.1\r\nX: " + std::string(100000, 'a');
    std::string answer = talk(fd, big);
    EXPECT_TRUE(answer.empty() || contains(answer, "431")) << answer.substr(0, 100);
    // Clients that connect and never send, more than the server's slots:
    // a scrape still gets through.
    std::vector<int> idle;
    for (int i = 0; i < MetricsServer::kMaxClients + 20; ++i)
        idle.push_back(test::connect_loopback(port));
    int half = test::connect_loopback(port);
    (void)!send(half, "GET /met", 8, 0);
    EXPECT_TRUE(contains(scrape(port), "bulkhead_kernel_drops_total 9\n"));
    for (int i : idle)
        close(i);
    close(half);
    // A client that hangs up mid-request changes nothing.
    fd = test::connect_loopback(port);
    (void)!send(fd, "GET /metrics HTTP/1.1\r\n", 23, 0);
    close(fd);
    record_kernel_drops(m, 10);
    EXPECT_TRUE(contains(scrape(port), "bulkhead_kernel_drops_total 10\n"));
    (*server)->stop();
    EXPECT_EQ(test::connect_loopback(port), -1) << "stopped means closed";
}

TEST(MetricsServer, UnixSocket) {
    TempDir dir;
    MetricsRegistry m;
    record_sessions(m, {{"active", 2}});
    std::string path = dir / "metrics.sock";
    auto server = MetricsServer::start("unix:" + path, m);
    ASSERT_TRUE(server) << server.error();
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::snprintf(a.sun_path, sizeof a.sun_path, "%s", path.c_str());
    ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    EXPECT_TRUE(contains(talk(fd, "GET /metrics HTTP/1.0\r\n\r\n"), "bulkhead_sessions{state=\"active\"} 2\n"));
    (*server)->stop();
    EXPECT_NE(access(path.c_str(), F_OK), 0) << "the socket file is removed on stop";
}

TEST(MetricsServer, BadListenAddressesAreErrors) {
    MetricsRegistry m;
    for (const char* bad : {"nonsense", "127.0.0.1:notaport", "unix:", "256.1.1.1:80"}) {
        auto s = MetricsServer::start(bad, m);
        ASSERT_FALSE(s) << bad;
        EXPECT_TRUE(contains(s.error(), "metrics:")) << s.error();
    }
}

}  // namespace
}  // namespace bulkhead::exporters
