// SPDX-License-Identifier: Apache-2.0
// The syslog sink against a real rsyslogd (Debian's), started by each test
// on loopback with its own config and work directory: UDP (imudp), TCP with
// octet counting (imtcp), TLS with mutual authentication (imtcp + the ossl
// stream driver, certificates made with the openssl CLI) and a unix datagram
// socket (imuxsock). rsyslog writes each message's parsed RFC 5424 fields as
// JSON and its raw bytes; the tests check every field.
#include <gtest/gtest.h>

#include <map>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <cstring>
#include <sys/socket.h>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "factory.h"
#include "queued_exporter.h"
#include "syslog/syslog_format.h"
#include "test_support.h"

namespace bulkhead::exporters {
namespace {

using test::TempDir;
using namespace std::chrono_literals;
using json = nlohmann::json;

constexpr const char* kRsyslogd = "/usr/sbin/rsyslogd";

class Rsyslog {
public:
    // `inputs`: the module/input lines for the transport under test.
    bool start(const TempDir& dir, const std::string& inputs, std::string* why) {
        out_ = dir / "fields.json";
        std::string conf = dir / "rsyslog.conf";
        test::write_file(conf, "global(workDirectory=\"" + dir.path() +
                                   "\" maxMessageSize=\"64k\" net.enableDNS=\"off\")\n" + inputs + R"(
template(name="fields" type="list" option.jsonf="on") {
  property(outname="pri" name="pri" format="jsonf")
  property(outname="version" name="protocol-version" format="jsonf")
  property(outname="timestamp" name="timereported" dateFormat="rfc3339" format="jsonf")
  property(outname="hostname" name="hostname" format="jsonf")
  property(outname="app_name" name="app-name" format="jsonf")
  property(outname="procid" name="procid" format="jsonf")
  property(outname="msgid" name="msgid" format="jsonf")
  property(outname="sd" name="structured-data" format="jsonf")
  property(outname="msg" name="msg" format="jsonf")
  property(outname="raw" name="rawmsg" format="jsonf")
}
action(type="omfile" file=")" + out_ + R"(" template="fields")
)");
        std::string check = std::string(kRsyslogd) + " -N1 -f " + conf + " > " + dir / "check.log" + " 2>&1";
        if (test::run(check) != 0) {
            *why = "rsyslogd rejected the test config: " + test::read_file(dir / "check.log");
            return false;
        }
        child_ = test::Child({kRsyslogd, "-n", "-f", conf, "-i", dir / "rsyslogd.pid"}, dir / "rsyslogd.out");
        return true;
    }
    std::vector<json> wait_messages(size_t n) {
        std::vector<json> got;
        test::wait_until([&] {
            got.clear();
            for (const auto& line : test::read_lines(out_))
                got.push_back(json::parse(line));
            return got.size() >= n;
        }, 15s);
        return got;
    }
    void stop() { child_.stop(); }

private:
    std::string out_;
    test::Child child_;
};

bool udp_listening(int port) {
    char hex[16];
    std::snprintf(hex, sizeof hex, ":%04X ", port);
    return test::read_file("/proc/net/udp").find(hex) != std::string::npos;
}

class RsyslogTest : public ::testing::Test {
protected:
    void SetUp() override {
        if (!test::executable(kRsyslogd))
            GTEST_SKIP() << kRsyslogd << " missing (apt-get install rsyslog rsyslog-openssl)";
    }

    // Sends `events` through a sink configured by `yaml` and checks every
    // field rsyslog parsed against the event, and the raw message against
    // the formatter's output.
    void send_and_check(const std::string& yaml, const std::vector<events::Event>& events, int facility) {
        auto made = make_exporters(YAML::Load(yaml), Options{"node-1.example", "", "test"});
        ASSERT_TRUE(made) << made.error();
        auto& sink = *made.value()[0];
        for (const auto& e : events)
            sink.publish(e);
        auto got = rsyslog_.wait_messages(events.size());
        sink.close();
        ASSERT_EQ(got.size(), events.size()) << "send errors: " << sink.stats().send_errors << " "
                                             << static_cast<QueuedExporter&>(sink).last_error();
        EXPECT_EQ(sink.stats().delivered, events.size());
        SyslogFormat f;
        f.facility = facility;
        f.hostname = "node-1.example";
        f.procid = std::to_string(getpid());
        for (size_t i = 0; i < events.size(); ++i) {
            const auto& e = events[i];
            const json& m = got[i];
            SCOPED_TRACE("message " + std::to_string(i) + ": " + m.dump());
            int severity = *parse_priority(e.priority);
            EXPECT_EQ(m["pri"], std::to_string(facility * 8 + severity));
            EXPECT_EQ(m["version"], "1");
            std::string ts = m["timestamp"];
            EXPECT_EQ(ts.substr(0, 26), syslog_timestamp(e.time_unix_ns).substr(0, 26));
            EXPECT_TRUE(ts.substr(26) == "Z" || ts.substr(26) == "+00:00") << ts;
            EXPECT_EQ(m["hostname"], "node-1.example");
            EXPECT_EQ(m["app_name"], "bulkhead");
            EXPECT_EQ(m["procid"], std::to_string(getpid()));
            EXPECT_EQ(m["msgid"], e.kind);
            std::string want_sd = "[bulkhead@32473 rule=\"" + sd_escape(e.rule) + "\" priority=\"" + e.priority +
                                  "\" session=\"" + std::to_string(e.session) + "\" agent=\"" + e.agent +
                                  "\" verdict=\"" + e.verdict + "\"";
            std::string sd = m["sd"];
            EXPECT_EQ(sd.substr(0, want_sd.size()), want_sd);
            for (const std::string& param : std::vector<std::string>{"action=\"" + e.action + "\"", "path=\"" + e.path + "\"",
                                             "pid=\"" + std::to_string(e.tgid) + "\"", "uid=\"1000\"",
                                             "exe=\"/usr/bin/cat\"", "err=\"EPERM\"", "risk=\"30\"",
                                             "level=\"bpf-lsm\"", "workspace=\"/home/dev/project\""})
                EXPECT_NE(sd.find(param), std::string::npos) << param;
            EXPECT_EQ(sd.back(), ']');
            EXPECT_EQ(m["msg"], "\xEF\xBB\xBF" + e.output);
            EXPECT_EQ(m["raw"], format_rfc5424(e, f));
        }
    }

    // The receiver goes away mid-stream under a steady event rate and comes
    // back. TCP and TLS syslog have no acknowledgement, so the sink repeats
    // its last frames on the new connection (replay_ms): every event arrives,
    // the first arrivals are in order, and a repeat is byte-identical to its
    // original. RELP is acknowledged (`exactly_once`): no repeats either.
    // `inputs` restarts rsyslog.
    void outage_under_steady_rate(const std::string& yaml, const std::string& inputs, bool exactly_once = false) {
        auto made = make_exporters(YAML::Load(yaml), Options{"node-1.example", "", "test"});
        ASSERT_TRUE(made) << made.error();
        auto& sink = static_cast<QueuedExporter&>(*made.value()[0]);
        const int n = 400;
        std::thread publisher([&] {
            for (int i = 0; i < n; ++i) {
                sink.publish(test::sample_event(i));
                std::this_thread::sleep_for(3ms);
            }
        });
        ASSERT_TRUE(test::wait_until([&] { return sink.stats().delivered >= 80; }, 20s));
        rsyslog_.stop();
        std::this_thread::sleep_for(400ms);
        EXPECT_GT(sink.stats().spooled, 0u) << "events went to the spool while rsyslog was down";
        std::string why;
        ASSERT_TRUE(rsyslog_.start(dir_, inputs, &why)) << why;
        publisher.join();
        ASSERT_TRUE(test::wait_until([&] { return sink.stats().delivered == n; }, 20s))
            << "delivered " << sink.stats().delivered << ", last error: " << sink.last_error();
        auto seq_of = [](const json& m) {
            std::string sd = m["sd"];
            size_t at = sd.find(" pid=\"");
            return at == std::string::npos ? -1 : std::stoi(sd.substr(at + 6)) - 1000;
        };
        std::vector<json> got;
        std::map<int, std::string> first;  // seq -> raw message
        std::vector<int> order;
        test::wait_until([&] {
            got = rsyslog_.wait_messages(0);
            first.clear();
            order.clear();
            for (const auto& m : got)
                if (first.emplace(seq_of(m), m["raw"]).second)
                    order.push_back(seq_of(m));
            return first.size() >= static_cast<size_t>(n);
        }, 20s);
        sink.close();
        ASSERT_EQ(first.size(), static_cast<size_t>(n)) << "events were lost";
        for (int i = 0; i < n; ++i)
            ASSERT_EQ(order[i], i) << "first arrivals out of order at " << i;
        size_t repeats = got.size() - n;
        for (const auto& m : got)
            EXPECT_EQ(m["raw"], first[seq_of(m)]) << "a repeat is the same frame";
        if (exactly_once) {
            EXPECT_EQ(repeats, 0u) << "every message was acknowledged once";
        }
        EXPECT_LE(repeats, 700u / 3) << "only the replay window (2 s at one event per 3 ms) repeats";
        std::printf("outage: %zu events repeated after the reconnect, none lost\n", repeats);
        EXPECT_EQ(sink.stats().dropped, 0u);
        EXPECT_GT(sink.stats().send_errors, 0u);
    }

    std::vector<events::Event> events() {
        auto a = test::sample_event(0, "Critical");
        auto b = test::sample_event(1, "Warning");
        b.rule = "Rule with \"quotes\", a \\ and ] and caf\xC3\xA9";
        b.verdict = "audit";
        auto c = test::sample_event(2, "Debug");
        c.output = "unicode output: \xE2\x9C\x93 done";
        return {a, b, c};
    }

    TempDir dir_;
    Rsyslog rsyslog_;
};

TEST_F(RsyslogTest, Udp) {
    int port = test::free_port(SOCK_DGRAM);
    std::string why;
    ASSERT_TRUE(rsyslog_.start(dir_, "module(load=\"imudp\")\ninput(type=\"imudp\" address=\"127.0.0.1\" port=\"" +
                                         std::to_string(port) + "\")", &why)) << why;
    ASSERT_TRUE(test::wait_until([&] { return udp_listening(port); }, 10s)) << "rsyslogd did not bind udp " << port;
    send_and_check("[{name: s, type: syslog, transport: udp, port: " + std::to_string(port) +
                   ", facility: local3, spool: {max_bytes: 0}}]", events(), 19);
}

TEST_F(RsyslogTest, TcpOctetCounting) {
    int port = test::free_port(SOCK_STREAM);
    std::string why;
    ASSERT_TRUE(rsyslog_.start(dir_, "module(load=\"imtcp\")\ninput(type=\"imtcp\" address=\"127.0.0.1\" port=\"" +
                                         std::to_string(port) + "\")", &why)) << why;
    ASSERT_TRUE(test::wait_until([&] { return test::tcp_listening(port); }, 10s));
    send_and_check("[{name: s, type: syslog, transport: tcp, port: " + std::to_string(port) +
                   ", facility: authpriv, spool: {dir: " + dir_ / "spool" + "}}]", events(), 10);
}

TEST_F(RsyslogTest, TcpReceiverDownThenBackDeliversSpoolInOrder) {
    int port = test::free_port(SOCK_STREAM);
    auto made = make_exporters(YAML::Load("[{name: s, type: syslog, transport: tcp, port: " + std::to_string(port) +
                                          ", retry: {min_ms: 20, max_ms: 100}, spool: {dir: " + dir_ / "spool" + "}}]"),
                               Options{"node-1.example", "", "test"});
    ASSERT_TRUE(made) << made.error();
    auto& sink = *made.value()[0];
    for (int i = 0; i < 30; ++i)
        sink.publish(test::sample_event(i));
    ASSERT_TRUE(test::wait_until([&] { return sink.stats().spooled == 30; }, 10s));
    std::string why;
    ASSERT_TRUE(rsyslog_.start(dir_, "module(load=\"imtcp\")\ninput(type=\"imtcp\" address=\"127.0.0.1\" port=\"" +
                                         std::to_string(port) + "\")", &why)) << why;
    auto got = rsyslog_.wait_messages(30);
    sink.close();
    ASSERT_EQ(got.size(), 30u);
    for (int i = 0; i < 30; ++i)
        EXPECT_NE(got[i]["sd"].get<std::string>().find("pid=\"" + std::to_string(1000 + i) + "\""), std::string::npos)
            << i;
    EXPECT_EQ(sink.stats().dropped, 0u);
}

TEST_F(RsyslogTest, TcpOutageUnderSteadyRateLosesNothingAndKeepsOrder) {
    int port = test::free_port(SOCK_STREAM);
    std::string inputs = "module(load=\"imtcp\")\ninput(type=\"imtcp\" address=\"127.0.0.1\" port=\"" +
                         std::to_string(port) + "\")";
    std::string why;
    ASSERT_TRUE(rsyslog_.start(dir_, inputs, &why)) << why;
    ASSERT_TRUE(test::wait_until([&] { return test::tcp_listening(port); }, 10s));
    outage_under_steady_rate("[{name: s, type: syslog, transport: tcp, port: " + std::to_string(port) +
                                 ", retry: {min_ms: 20, max_ms: 100}, spool: {dir: " + dir_ / "spool" + "}}]",
                             inputs);
}

std::string relp_inputs(int port) {
    return "module(load=\"imrelp\")\ninput(type=\"imrelp\" address=\"127.0.0.1\" port=\"" +
           std::to_string(port) + "\")";
}

class RsyslogRelpTest : public RsyslogTest {
protected:
    void SetUp() override {
        RsyslogTest::SetUp();
        if (IsSkipped())
            return;
        if (access("/usr/lib/x86_64-linux-gnu/rsyslog/imrelp.so", R_OK) != 0)
            GTEST_SKIP() << "rsyslog's RELP input missing (apt-get install rsyslog-relp)";
        port_ = test::free_port(SOCK_STREAM);
        std::string why;
        ASSERT_TRUE(rsyslog_.start(dir_, relp_inputs(port_), &why)) << why;
        ASSERT_TRUE(test::wait_until([&] { return test::tcp_listening(port_); }, 10s));
    }
    std::string sink_yaml() {
        return "[{name: s, type: syslog, transport: relp, port: " + std::to_string(port_) +
               ", facility: local3, retry: {min_ms: 20, max_ms: 100}, spool: {dir: " + dir_ / "spool" + "}}]";
    }
    int port_ = 0;
};

TEST_F(RsyslogRelpTest, DeliversEveryField) {
    send_and_check(sink_yaml(), events(), 19);
}

TEST_F(RsyslogRelpTest, OutageUnderSteadyRateDeliversEveryEventOnceInOrder) {
    outage_under_steady_rate(sink_yaml(), relp_inputs(port_), /* exactly_once = */ true);
}

// A peer that answers RELP with garbage, or not at all: a clear error that
// names the problem, the message kept in the spool, no crash.
TEST(SyslogRelp, MalformedAnswersAreErrorsAndNothingIsLost) {
    struct Case {
        const char* answer;
        const char* error;
    };
    const std::vector<Case> cases = {
        {"1 rsp 6 200 OK\n2 rsp 12 500 overload\n", "refused syslog: 500 overload"},
        {"1 rsp 6 200 OK\n7 rsp 6 200 OK\n", "answered 'rsp' for transaction 7, expected 'rsp' for 2"},
        {"1 rsp 6 200 OK\n2 rsp 999999 200 OK", "answer longer than 64 KiB"},
        {"1 rsp 6 200 OK\n2 rsp 6 200 OKX", "no separator or trailer"},
        {"1 rsp 6 200 OK\nx rsp 6 200 OK\n", "bad transaction number or length"},
        {"1 rsp 6 200 OK\n0 serverclose 0\n", "closed the session"},
        {"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n", "malformed answer"},
        {"1 rsp 6 200 OK\n", "no answer from"},  // then silence: the read times out
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.answer);
        int listener = socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
        socklen_t len = sizeof a;
        getsockname(listener, reinterpret_cast<sockaddr*>(&a), &len);
        listen(listener, 1);
        std::thread peer([&] {
            int fd = accept(listener, nullptr, nullptr);
            char buf[4096];
            (void)recv(fd, buf, sizeof buf, 0);  // open
            (void)send(fd, c.answer, std::strlen(c.answer), MSG_NOSIGNAL);
            std::this_thread::sleep_for(800ms);  // longer than the sink's 500 ms timeout
            close(fd);
        });
        TempDir dir;
        auto made = make_exporters(YAML::Load("[{name: s, type: syslog, transport: relp, port: " +
                                              std::to_string(ntohs(a.sin_port)) + ", timeout_ms: 500, "
                                              "retry: {min_ms: 5000, max_ms: 5000}, spool: {dir: " + dir / "spool" + "}}]"),
                                   Options{"node-1.example", "", "test"});
        ASSERT_TRUE(made) << made.error();
        auto& sink = static_cast<QueuedExporter&>(*made.value()[0]);
        sink.publish(test::sample_event(0));
        EXPECT_TRUE(test::wait_until([&] { return sink.stats().send_errors >= 1; }, 5s));
        EXPECT_NE(sink.last_error().find(c.error), std::string::npos) << sink.last_error();
        EXPECT_EQ(sink.stats().delivered, 0u);
        EXPECT_TRUE(test::wait_until([&] { return sink.stats().spooled == 1; }, 5s)) << "kept for the next attempt";
        peer.join();
        sink.close();
        close(listener);
    }
}

// A CA, a server certificate for localhost/127.0.0.1 and a client certificate.
bool make_certs(const TempDir& d, std::string* why) {
    test::write_file(d / "server.ext", "subjectAltName=DNS:localhost,IP:127.0.0.1\n");
    std::string key = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
    std::string cmd = "cd " + d.path() + " && " +
        "openssl req -x509 " + key + " -keyout ca.key -out ca.pem -days 2 -subj /CN=bulkhead-test-ca && " +
        "openssl req " + key + " -keyout server.key -out server.csr -subj /CN=localhost && " +
        "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 "
        "-extfile server.ext && " +
        "openssl req " + key + " -keyout client.key -out client.csr -subj /CN=bulkhead-client && " +
        "openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out client.pem -days 2";
    if (test::run("(" + cmd + ") > " + d / "openssl.log" + " 2>&1") != 0) {
        *why = "openssl: " + test::read_file(d / "openssl.log");
        return false;
    }
    return true;
}

class RsyslogTlsTest : public RsyslogTest {
protected:
    void SetUp() override {
        RsyslogTest::SetUp();
        if (IsSkipped())
            return;
        if (!test::executable("/usr/bin/openssl"))
            GTEST_SKIP() << "/usr/bin/openssl missing (apt-get install openssl)";
        if (!test::executable("/usr/lib/x86_64-linux-gnu/rsyslog/lmnsd_ossl.so") &&
            access("/usr/lib/x86_64-linux-gnu/rsyslog/lmnsd_ossl.so", R_OK) != 0)
            GTEST_SKIP() << "rsyslog's ossl stream driver missing (apt-get install rsyslog-openssl)";
        std::string why;
        ASSERT_TRUE(make_certs(certs_, &why)) << why;
        port_ = test::free_port(SOCK_STREAM);
        // Mutual TLS: the server asks for a client certificate from our CA.
        inputs_ =
            "global(DefaultNetstreamDriver=\"ossl\" DefaultNetstreamDriverCAFile=\"" + certs_ / "ca.pem" +
            "\" DefaultNetstreamDriverCertFile=\"" + certs_ / "server.pem" +
            "\" DefaultNetstreamDriverKeyFile=\"" + certs_ / "server.key" + "\")\n"
            "module(load=\"imtcp\" StreamDriver.Name=\"ossl\" StreamDriver.Mode=\"1\" "
            "StreamDriver.AuthMode=\"x509/certvalid\")\n"
            "input(type=\"imtcp\" address=\"127.0.0.1\" port=\"" + std::to_string(port_) + "\")";
        ASSERT_TRUE(rsyslog_.start(dir_, inputs_, &why)) << why;
        ASSERT_TRUE(test::wait_until([&] { return test::tcp_listening(port_); }, 10s));
    }
    std::string sink_yaml(const std::string& tls_extra) {
        return "[{name: s, type: syslog, transport: tls, host: 127.0.0.1, port: " + std::to_string(port_) +
               ", facility: local0, retry: {min_ms: 50, max_ms: 100}, spool: {dir: " + dir_ / "spool" +
               "}, tls: {ca: " + certs_ / "ca.pem" + tls_extra + "}}]";
    }
    TempDir certs_;
    std::string inputs_;
    int port_ = 0;
};

TEST_F(RsyslogTlsTest, OutageUnderSteadyRateLosesNothingAndKeepsOrder) {
    outage_under_steady_rate(sink_yaml(", cert: " + certs_ / "client.pem" + ", key: " + certs_ / "client.key" +
                                       ", server_name: localhost"),
                             inputs_);
}

TEST_F(RsyslogTlsTest, MutualTlsDeliversEveryField) {
    send_and_check(sink_yaml(", cert: " + certs_ / "client.pem" + ", key: " + certs_ / "client.key" +
                             ", server_name: localhost"),
                   events(), 16);
}

TEST_F(RsyslogTlsTest, WrongServerNameIsRefusedAndNothingIsSent) {
    auto made = make_exporters(YAML::Load(sink_yaml(", cert: " + certs_ / "client.pem" + ", key: " +
                                                    certs_ / "client.key" + ", server_name: siem.example.com")),
                               Options{"node-1.example", "", "test"});
    ASSERT_TRUE(made) << made.error();
    auto& sink = static_cast<QueuedExporter&>(*made.value()[0]);
    sink.publish(test::sample_event(0));
    ASSERT_TRUE(test::wait_until([&] { return sink.stats().send_errors >= 1; }, 10s));
    EXPECT_NE(sink.last_error().find("certificate verification failed"), std::string::npos) << sink.last_error();
    EXPECT_EQ(sink.stats().delivered, 0u);
    // (the worker counts the spooled event just after the error)
    EXPECT_TRUE(test::wait_until([&] { return sink.stats().spooled == 1; }, 5s))
        << "kept for when the configuration is fixed";
    sink.close();
    std::this_thread::sleep_for(500ms);  // what rsyslog received, it has written by now
    EXPECT_TRUE(rsyslog_.wait_messages(0).empty());
}

TEST_F(RsyslogTlsTest, ServerRejectsAClientWithoutCertificate) {
    auto made = make_exporters(YAML::Load(sink_yaml(", server_name: localhost")),
                               Options{"node-1.example", "", "test"});
    ASSERT_TRUE(made) << made.error();
    auto& sink = *made.value()[0];
    sink.publish(test::sample_event(0));
    ASSERT_TRUE(test::wait_until([&] { return sink.stats().send_errors >= 1; }, 10s));
    EXPECT_EQ(sink.stats().delivered, 0u);
    sink.close();
    std::this_thread::sleep_for(500ms);  // what rsyslog received, it has written by now
    EXPECT_TRUE(rsyslog_.wait_messages(0).empty());
}

TEST_F(RsyslogTest, UnixDatagramSocket) {
    std::string socket = dir_ / "log";
    std::string why;
    ASSERT_TRUE(rsyslog_.start(dir_, "module(load=\"imuxsock\" SysSock.Use=\"off\")\n"
                                     "input(type=\"imuxsock\" Socket=\"" + socket + "\" UseSpecialParser=\"off\" "
                                     "UseSysTimeStamp=\"off\" IgnoreTimestamp=\"off\" ParseHostname=\"on\")", &why))
        << why;
    ASSERT_TRUE(test::wait_until([&] { return access(socket.c_str(), F_OK) == 0; }, 10s));
    send_and_check("[{name: s, type: syslog, transport: unix, socket: " + socket +
                   ", format: rfc5424, facility: daemon, spool: {max_bytes: 0}}]", events(), 3);
}

// Debian's stock rsyslog.conf reads the local socket with imuxsock's
// defaults (the special parser for what syslog(3) writes); the sink's
// default for transport unix is that form, so a stock receiver gets the
// right priority, tag and pid, and the fields in MSG.
TEST_F(RsyslogTest, UnixSocketDefaultFormatParsesWithStockImuxsock) {
    std::string socket = dir_ / "log";
    std::string why;
    ASSERT_TRUE(rsyslog_.start(dir_, "module(load=\"imuxsock\" SysSock.Use=\"off\")\n"
                                     "input(type=\"imuxsock\" Socket=\"" + socket + "\")", &why)) << why;
    ASSERT_TRUE(test::wait_until([&] { return access(socket.c_str(), F_OK) == 0; }, 10s));
    auto made = make_exporters(YAML::Load("[{name: s, type: syslog, transport: unix, socket: " + socket +
                                          ", facility: auth, spool: {max_bytes: 0}}]"),
                               Options{"node-1.example", "", "test"});
    ASSERT_TRUE(made) << made.error();
    auto& sink = *made.value()[0];
    auto evs = events();
    for (const auto& e : evs)
        sink.publish(e);
    auto got = rsyslog_.wait_messages(evs.size());
    sink.close();
    ASSERT_EQ(got.size(), evs.size());
    for (size_t i = 0; i < evs.size(); ++i) {
        SCOPED_TRACE(got[i].dump());
        EXPECT_EQ(got[i]["pri"], std::to_string(4 * 8 + *parse_priority(evs[i].priority)));
        EXPECT_EQ(got[i]["app_name"], "bulkhead");
        EXPECT_EQ(got[i]["procid"], std::to_string(getpid()));
        std::string msg = got[i]["msg"];
        msg.erase(0, msg.find_first_not_of(' '));  // rsyslog keeps the space after the tag
        std::string sd = "[bulkhead@32473 rule=\"" + sd_escape(evs[i].rule) + "\"";
        EXPECT_EQ(msg.find(sd), 0u) << "the structured data opens MSG";
        EXPECT_NE(msg.find(" session=\"42\""), std::string::npos);
        EXPECT_EQ(msg.substr(msg.size() - evs[i].output.size()), evs[i].output);
    }
}

TEST(SyslogConfig, LocalFormatIsRefusedForANetworkTransport) {
    auto made = make_exporters(YAML::Load("[{name: s, type: syslog, transport: tcp, format: local}]"),
                               Options{"node-1.example", "", "test"});
    ASSERT_FALSE(made);
    EXPECT_NE(made.error().find("format 'local' is syslog(3)'s form for the local socket"), std::string::npos)
        << made.error();
}

}  // namespace
}  // namespace bulkhead::exporters
