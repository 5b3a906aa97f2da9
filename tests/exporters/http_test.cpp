// SPDX-License-Identifier: Apache-2.0
// The HTTP sink against a receiver that enforces falcosidekick's input
// contract (sidekick_receiver.py): the payloads it accepts, the ones it
// refuses, and an outage under a steady event rate.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "factory.h"
#include "test_support.h"

namespace bulkhead::exporters {
namespace {

using test::TempDir;
using json = nlohmann::json;
using namespace std::chrono_literals;

class HttpTest : public ::testing::Test {
protected:
    void SetUp() override {
        if (!test::executable("/usr/bin/python3"))
            GTEST_SKIP() << "python3 missing: the falcosidekick-contract receiver is a python script";
        port_ = test::start_receiver(&receiver_, accepted_, dir_.path());
        ASSERT_GT(port_, 0) << "the receiver did not start";
    }
    std::unique_ptr<Exporter> sink(const std::string& extra = "") {
        auto made = make_exporters(
            YAML::Load("[{name: sidekick, type: http, url: 'http://127.0.0.1:" + std::to_string(port_) +
                       "/', retry: {min_ms: 20, max_ms: 200}, spool: {dir: " + dir_ / "spool" + "}" + extra + "}]"),
            Options{"node-1", "", "9.9.9"});
        EXPECT_TRUE(made) << made.error();
        return made ? std::move(made.value()[0]) : nullptr;
    }
    std::vector<json> accepted() {
        std::vector<json> out;
        for (const auto& line : test::read_lines(accepted_))
            out.push_back(json::parse(line));
        return out;
    }
    // A raw POST, for checking that the receiver really enforces the contract.
    int post(const std::string& body) {
        int fd = test::connect_loopback(port_);
        if (fd < 0)
            return -1;
        std::string req = "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
                          std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
        (void)!write(fd, req.data(), req.size());
        char buf[512] = {};
        ssize_t n = read(fd, buf, sizeof buf - 1);
        close(fd);
        return n > 12 ? std::atoi(buf + 9) : -1;
    }

    TempDir dir_;
    std::string accepted_ = dir_ / "accepted.jsonl";
    test::Child receiver_;
    int port_ = 0;
};

TEST_F(HttpTest, ReceiverEnforcesTheSidekickContract) {
    json good = json::parse(R"({"time":"2026-01-02T03:04:05.123456789Z","rule":"r","priority":"Critical",
        "output":"o","output_fields":{"proc.name":"cat"},"source":"bulkhead","tags":["a"],"hostname":"h"})");
    EXPECT_EQ(post(good.dump()), 200);
    const std::pair<const char*, json> broken[] = {
        {"/rule", nullptr}, {"/rule", ""}, {"/time", nullptr}, {"/time", "yesterday"},
        {"/priority", "Loud"}, {"/priority", nullptr}, {"/output_fields", json::object()},
        {"/output_fields", nullptr}, {"/output", ""}, {"/tags", "not-a-list"},
    };
    for (const auto& [pointer, value] : broken) {
        json bad = good;
        if (value.is_null())
            bad.erase(std::string(pointer).substr(1));
        else
            bad[json::json_pointer(pointer)] = value;
        EXPECT_EQ(post(bad.dump()), 400) << bad.dump();
    }
    EXPECT_EQ(post("not json"), 400);
    json info = good;
    info["priority"] = "info";  // sidekick's alias
    EXPECT_EQ(post(info.dump()), 200);
}

TEST_F(HttpTest, PostsFalcoJsonThatSidekickAccepts) {
    auto s = sink();
    ASSERT_TRUE(s);
    auto e0 = test::sample_event(0, "Critical");
    auto e1 = test::sample_event(1, "Informational");
    e1.tool_use_id = "toolu_01";
    e1.tool_name = "Bash";
    e1.output_fields = {{"k8s.ns.name", "dev"}, {"k8s.pod.name", "agent-0"}};
    s->publish(e0);
    s->publish(e1);
    ASSERT_TRUE(test::wait_until([&] { return s->stats().delivered == 2; }, 10s));
    s->close();
    auto got = accepted();
    ASSERT_EQ(got.size(), 2u);
    EXPECT_NE(access((accepted_ + ".rejected").c_str(), F_OK), 0) << test::read_file(accepted_ + ".rejected");
    const json& a = got[0];
    EXPECT_EQ(a["time"], "2026-01-02T03:04:05.123456789Z");
    EXPECT_EQ(a["rule"], "Read SSH private key");
    EXPECT_EQ(a["priority"], "Critical");
    EXPECT_EQ(a["source"], "bulkhead");
    EXPECT_EQ(a["hostname"], "node-1");
    EXPECT_EQ(a["tags"], json({"agent", "credentials", "T1552"}));
    EXPECT_EQ(a["output"], "2026-01-02T03:04:05.123456789Z: Critical " + e0.output);
    const json& f = a["output_fields"];
    EXPECT_EQ(f["agent.session"], "42");
    EXPECT_EQ(f["agent.name"], "claude-code");
    EXPECT_EQ(f["agent.verdict"], "deny");
    EXPECT_EQ(f["agent.action"], "block");
    EXPECT_EQ(f["agent.level"], "bpf-lsm");
    EXPECT_EQ(f["agent.risk"], 30);
    EXPECT_EQ(f["agent.workspace"], "/home/dev/project");
    EXPECT_EQ(f["agent.rule_id"], 7);
    EXPECT_EQ(f["fd.name"], "/home/dev/.ssh/id_rsa-0");
    EXPECT_EQ(f["proc.pid"], 1000);
    EXPECT_EQ(f["proc.exe"], "/usr/bin/cat");
    EXPECT_EQ(f["evt.type"], "open");
    EXPECT_EQ(f["evt.res"], "EPERM");
    const json& b = got[1];
    EXPECT_EQ(b["priority"], "Informational");
    EXPECT_EQ(b["output_fields"]["agent.tool_use_id"], "toolu_01");
    EXPECT_EQ(b["output_fields"]["agent.tool_name"], "Bash");
    EXPECT_EQ(b["output_fields"]["k8s.ns.name"], "dev");
    EXPECT_EQ(b["output_fields"]["k8s.pod.name"], "agent-0");
}

TEST_F(HttpTest, AnEventWithoutARuleIsNotPostedAndTheAlertAfterItIs) {
    auto s = sink();
    ASSERT_TRUE(s);
    auto plain = test::sample_event(0);
    plain.rule.clear();  // an observed exec no rule fired on: not an alert
    s->publish(plain);
    s->publish(test::sample_event(1));
    ASSERT_TRUE(test::wait_until([&] { return s->stats().delivered >= 1; }, 10s));
    s->close();
    auto got = accepted();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0]["output_fields"]["proc.pid"], 1001);
    EXPECT_EQ(s->stats().filtered, 1u);
    EXPECT_EQ(s->stats().send_errors, 0u);
}

TEST_F(HttpTest, APayloadTheReceiverRefusesIsDroppedAndCountedNotRetriedForever) {
    auto s = sink();
    ASSERT_TRUE(s);
    auto bad = test::sample_event(0);
    bad.priority = "Loud";  // sidekick answers 400: it would answer 400 every time
    s->publish(bad);
    s->publish(test::sample_event(1));
    ASSERT_TRUE(test::wait_until([&] { return s->stats().delivered >= 1; }, 10s))
        << "the event after a refused one never arrived";
    s->close();
    auto st = s->stats();
    EXPECT_EQ(st.dropped, 1u);
    EXPECT_EQ(st.send_errors, 1u);
    EXPECT_EQ(st.spooled, 0u);
    auto got = accepted();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0]["output_fields"]["proc.pid"], 1001);
}

// A receiver killed between taking a POST and answering it has the event
// although the sink never heard so: that one request goes again, so the
// event in flight at the cut may arrive twice (HTTP has no other way to
// know). Every other event arrives exactly once, all in order.
TEST_F(HttpTest, OutageUnderSteadyRateDeliversEveryEventOnceInOrder) {
    auto s = sink();
    ASSERT_TRUE(s);
    const int n = 600;
    std::thread publisher([&] {
        for (int i = 0; i < n; ++i) {
            s->publish(test::sample_event(i));
            std::this_thread::sleep_for(2ms);
        }
    });
    ASSERT_TRUE(test::wait_until([&] { return s->stats().delivered >= 100; }, 20s));
    receiver_.stop();  // the receiver goes away for a while
    std::this_thread::sleep_for(500ms);
    EXPECT_GT(s->stats().spooled, 0u) << "events went to the spool while it was down";
    ASSERT_EQ(test::start_receiver(&receiver_, accepted_, dir_.path(), port_), port_);
    publisher.join();
    ASSERT_TRUE(test::wait_until([&] { return s->stats().delivered == n; }, 30s))
        << "delivered " << s->stats().delivered;
    s->close();
    auto got = accepted();
    ASSERT_GE(got.size(), static_cast<size_t>(n));
    ASSERT_LE(got.size(), static_cast<size_t>(n) + 1) << "only the request in flight at the cut may repeat";
    int next = 0;
    for (size_t i = 0; i < got.size(); ++i) {
        int pid = got[i]["output_fields"]["proc.pid"].get<int>() - 1000;
        if (pid == next - 1)
            continue;  // the repeat of the one before, sent again after the outage
        ASSERT_EQ(pid, next) << "event " << i;
        ++next;
    }
    EXPECT_EQ(next, n);
    EXPECT_EQ(s->stats().dropped, 0u);
    EXPECT_GT(s->stats().send_errors, 0u);
}

}  // namespace
}  // namespace bulkhead::exporters
