// SPDX-License-Identifier: Apache-2.0
// The syslog sink against a real rsyslogd (Debian's), started by each test
// on loopback with its own config and work directory: UDP (imudp), TCP with
// octet counting (imtcp), TLS with mutual authentication (imtcp + the ossl
// stream driver, certificates made with the openssl CLI) and a unix datagram
// socket (imuxsock). rsyslog writes each message's parsed RFC 5424 fields as
// JSON and its raw bytes; the tests check every field.
#include <gtest/gtest.h>

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
        std::string inputs =
            "global(DefaultNetstreamDriver=\"ossl\" DefaultNetstreamDriverCAFile=\"" + certs_ / "ca.pem" +
            "\" DefaultNetstreamDriverCertFile=\"" + certs_ / "server.pem" +
            "\" DefaultNetstreamDriverKeyFile=\"" + certs_ / "server.key" + "\")\n"
            "module(load=\"imtcp\" StreamDriver.Name=\"ossl\" StreamDriver.Mode=\"1\" "
            "StreamDriver.AuthMode=\"x509/certvalid\")\n"
            "input(type=\"imtcp\" address=\"127.0.0.1\" port=\"" + std::to_string(port_) + "\")";
        ASSERT_TRUE(rsyslog_.start(dir_, inputs, &why)) << why;
        ASSERT_TRUE(test::wait_until([&] { return test::tcp_listening(port_); }, 10s));
    }
    std::string sink_yaml(const std::string& tls_extra) {
        return "[{name: s, type: syslog, transport: tls, host: 127.0.0.1, port: " + std::to_string(port_) +
               ", facility: local0, retry: {min_ms: 50, max_ms: 100}, spool: {dir: " + dir_ / "spool" +
               "}, tls: {ca: " + certs_ / "ca.pem" + tls_extra + "}}]";
    }
    TempDir certs_;
    int port_ = 0;
};

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
    EXPECT_EQ(sink.stats().spooled, 1u) << "kept for when the configuration is fixed";
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
                   ", facility: daemon, spool: {max_bytes: 0}}]", events(), 3);
}

}  // namespace
}  // namespace bulkhead::exporters
