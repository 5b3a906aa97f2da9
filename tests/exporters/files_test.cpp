// SPDX-License-Identifier: Apache-2.0
// File sinks: JSON lines with size-based rotation, and OCSF 1.8.0 checked
// against each class's required attributes and the type_uid arithmetic.
#include <gtest/gtest.h>

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "factory.h"
#include "files/ocsf.h"
#include "files/rotating_file.h"
#include "test_support.h"

namespace bulkhead::exporters {
namespace {

using test::TempDir;
using json = nlohmann::json;

bool exists(const std::string& p) {
    return access(p.c_str(), F_OK) == 0;
}

TEST(RotatingFile, RotatesBySizeAndKeepsN) {
    TempDir dir;
    std::string path = dir / "a.log";
    RotatingFile f(path, 100, 2);
    for (int i = 0; i < 20; ++i)
        ASSERT_TRUE(f.write_line("line " + std::to_string(i) + std::string(20, '.')));
    f.close();
    // 28-byte lines, 3 per 100-byte file: 20 lines = 7 files, 3 kept.
    EXPECT_TRUE(exists(path));
    EXPECT_TRUE(exists(path + ".1"));
    EXPECT_TRUE(exists(path + ".2"));
    EXPECT_FALSE(exists(path + ".3"));
    std::vector<std::string> all;
    for (const auto& p : {path + ".2", path + ".1", path}) {
        EXPECT_LE(test::read_file(p).size(), 100u) << p;
        for (auto& l : test::read_lines(p))
            all.push_back(l.substr(0, l.find('.')));
    }
    EXPECT_EQ(all, (std::vector<std::string>{"line 12", "line 13", "line 14", "line 15", "line 16", "line 17",
                                             "line 18", "line 19"}));
}

TEST(RotatingFile, KeepZeroTruncates) {
    TempDir dir;
    RotatingFile f(dir / "a.log", 10, 0);
    ASSERT_TRUE(f.write_line("12345678"));
    ASSERT_TRUE(f.write_line("abcdefgh"));
    f.close();
    EXPECT_EQ(test::read_file(dir / "a.log"), "abcdefgh\n");
    EXPECT_FALSE(exists(dir / "a.log.1"));
}

TEST(RotatingFile, UnwritablePathIsAnError) {
    TempDir dir;
    RotatingFile f(dir / "missing/a.log", 10, 1);
    auto r = f.write_line("x");
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().find(dir / "missing/a.log"), std::string::npos) << r.error();
}

TEST(JsonlSink, WritesFalcoLinesAndRotates) {
    TempDir dir;
    auto made = make_exporters(YAML::Load("[{name: j, type: jsonl, path: " + dir / "alerts.jsonl" +
                                          ", max_bytes: 4KiB, keep: 3}]"),
                               Options{"node-1", dir / "spool", "t"});
    ASSERT_TRUE(made) << made.error();
    auto& s = *made.value()[0];
    for (int i = 0; i < 40; ++i)
        s.publish(test::sample_event(i));
    s.close();
    EXPECT_EQ(s.stats().delivered, 40u);
    ASSERT_TRUE(exists(dir / "alerts.jsonl.3"));
    EXPECT_FALSE(exists(dir / "alerts.jsonl.4"));
    std::vector<int> pids;
    for (const auto& p : {dir / "alerts.jsonl.3", dir / "alerts.jsonl.2", dir / "alerts.jsonl.1", dir / "alerts.jsonl"}) {
        EXPECT_LE(test::read_file(p).size(), 4096u);
        for (const auto& line : test::read_lines(p)) {
            json j = json::parse(line);
            for (const char* key : {"time", "rule", "priority", "source", "hostname", "output", "output_fields", "tags"})
                EXPECT_TRUE(j.contains(key)) << key;
            pids.push_back(j["output_fields"]["proc.pid"].get<int>() - 1000);
        }
    }
    ASSERT_FALSE(pids.empty());
    for (size_t i = 0; i < pids.size(); ++i)
        EXPECT_EQ(pids[i], 40 - static_cast<int>(pids.size()) + static_cast<int>(i)) << "the newest, in order";
}

// ---- OCSF ----

events::Event with(events::Event e, const std::function<void(events::Event&)>& change) {
    change(e);
    return e;
}

struct OcsfCase {
    const char* name;
    events::Event event;
    bool findings;
    int class_uid, category_uid, activity_id, action_id, disposition_id;
};

void expect_required(const json& j, int class_uid) {
    for (const char* key : {"activity_id", "category_uid", "class_uid", "type_uid", "severity_id", "time", "metadata"})
        EXPECT_TRUE(j.contains(key)) << key;
    EXPECT_EQ(j["metadata"]["version"], "1.8.0");
    EXPECT_EQ(j["metadata"]["product"]["name"], "bulkhead");
    EXPECT_EQ(j["metadata"]["product"]["version"], "1.2.3");
    EXPECT_TRUE(j["device"]["type_id"].is_number());
    EXPECT_EQ(j["device"]["hostname"], "node-1");
    auto actor_ok = [](const json& actor) {
        return actor.contains("process") || actor.contains("user") || actor.contains("session") ||
               actor.contains("app_name");
    };
    switch (class_uid) {
    case 1001:
        ASSERT_TRUE(j.contains("actor") && actor_ok(j["actor"]));
        EXPECT_TRUE(j["file"]["name"].is_string());
        EXPECT_TRUE(j["file"]["type_id"].is_number());
        break;
    case 1007:
        ASSERT_TRUE(j.contains("actor") && actor_ok(j["actor"]));
        ASSERT_TRUE(j.contains("process"));
        EXPECT_TRUE(j["process"].contains("pid") || j["process"].contains("uid") || j["process"].contains("name"));
        break;
    case 4001:
        EXPECT_TRUE(j["connection_info"]["direction_id"].is_number());
        EXPECT_TRUE(j.contains("src_endpoint"));
        EXPECT_TRUE(j.contains("dst_endpoint"));
        break;
    case 2004:
        EXPECT_TRUE(j["finding_info"]["uid"].is_string());
        EXPECT_TRUE(j["finding_info"]["title"].is_string());
        EXPECT_FALSE(j["finding_info"]["title"].get<std::string>().empty());
        break;
    }
}

TEST(Ocsf, ClassesActivitiesAndOutcomes) {
    auto deny = test::sample_event(0, "Critical");
    auto audit_write = with(deny, [](auto& e) { e.verdict = "audit"; e.action = "audit"; e.op = "write"; e.err = 0; });
    auto session = with(deny, [](auto& e) {
        e.kind = "session"; e.rule = ""; e.verdict = "allow"; e.action = ""; e.op = "exec"; e.err = 0;
        e.priority = "Informational"; e.exe = "/usr/bin/claude"; e.comm = "claude";
    });
    auto self = with(deny, [](auto& e) { e.kind = "self-guard"; e.op = "ptrace"; e.rule = "Self guard: ptrace"; e.detail = "target pid 77"; });
    auto net = with(deny, [](auto& e) {
        e.kind = "net"; e.op = "connect"; e.rule = ""; e.verdict = "allow"; e.err = 0;
        e.output_fields = {{"fd.sip", "203.0.113.9"}, {"fd.sport", 443}, {"fd.cip", "10.0.0.2"},
                           {"fd.cport", 51000}, {"fd.l4proto", "tcp"}};
    });
    auto asked = with(deny, [](auto& e) { e.verdict = "ask"; e.action = "ask"; e.err = 0; });
    auto approved = with(deny, [](auto& e) { e.verdict = "allow"; e.action = "ask"; e.err = 0; });
    auto rejected = with(deny, [](auto& e) { e.verdict = "deny"; e.action = "ask"; });
    auto drops = with(deny, [](auto& e) { e.kind = "drops"; e.rule = ""; e.verdict = ""; e.count = 12; });
    const OcsfCase cases[] = {
        {"file deny as activity", deny, false, 1001, 1, 2, 2, 2},
        {"file deny as finding", deny, true, 2004, 2, 1, 2, 2},
        {"file audit write", audit_write, false, 1001, 1, 3, 3, 15},
        {"agent exec", session, true, 1007, 1, 1, 1, 1},
        {"self guard ptrace", self, false, 1007, 1, 3, 2, 2},
        {"network connect", net, true, 4001, 4, 1, 1, 1},
        {"exec seen by the observer", with(session, [](auto& e) { e.kind = "exec"; }), false, 1007, 1, 1, 1, 1},
        {"asked", asked, false, 1001, 1, 2, 99, 14},
        {"approved", approved, false, 1001, 1, 2, 1, 8},
        {"rejected", rejected, false, 1001, 1, 2, 2, 25},
        {"rejected as finding", rejected, true, 2004, 2, 1, 2, 25},
        {"kernel drops", drops, true, 2004, 2, 1, 0, 0},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.name);
        json j = to_ocsf(c.event, OcsfOptions{"node-1", "1.2.3", c.findings});
        EXPECT_EQ(j["class_uid"], c.class_uid);
        EXPECT_EQ(j["category_uid"], c.category_uid);
        EXPECT_EQ(j["activity_id"], c.activity_id);
        EXPECT_EQ(j["type_uid"], c.class_uid * 100 + c.activity_id);
        EXPECT_EQ(j["action_id"], c.action_id);
        EXPECT_EQ(j["disposition_id"], c.disposition_id);
        EXPECT_EQ(j["time"], c.event.time_unix_ns / 1'000'000);
        EXPECT_EQ(j["severity_id"], ocsf_severity_id(*parse_priority(c.event.priority)));
        expect_required(j, c.class_uid);
    }
}

TEST(Ocsf, FieldsCarryTheEvent) {
    auto e = test::sample_event(5, "Critical");
    json j = to_ocsf(e, OcsfOptions{"node-1", "1.2.3", false});
    EXPECT_EQ(j["time"], 1767323045123LL);
    EXPECT_EQ(j["severity_id"], 5);
    EXPECT_EQ(j["file"]["path"], "/home/dev/.ssh/id_rsa-5");
    EXPECT_EQ(j["file"]["name"], "id_rsa-5");
    EXPECT_EQ(j["file"]["uid"], "2049:1234");
    EXPECT_EQ(j["actor"]["process"]["pid"], 1005);
    EXPECT_EQ(j["actor"]["process"]["file"]["path"], "/usr/bin/cat");
    EXPECT_EQ(j["actor"]["session"]["uid"], "42");
    EXPECT_EQ(j["actor"]["app_name"], "claude-code");
    EXPECT_EQ(j["status_id"], 2);
    EXPECT_EQ(j["status_code"], "EPERM");
    EXPECT_EQ(j["is_alert"], true);
    EXPECT_EQ(j["unmapped"]["agent.rule"], "Read SSH private key");
    json f = to_ocsf(e, OcsfOptions{"node-1", "1.2.3", true});
    EXPECT_EQ(f["finding_info"]["title"], "Read SSH private key");
    EXPECT_EQ(f["finding_info"]["analytic"]["uid"], "7");
    EXPECT_EQ(f["finding_info"]["types"], json({"agent", "credentials", "T1552"}));
    EXPECT_EQ(f["evidences"][0]["file"]["path"], "/home/dev/.ssh/id_rsa-5");
    EXPECT_EQ(f["risk_score"], 30);
}

TEST(Ocsf, NetworkEndpoints) {
    auto e = test::sample_event(0);
    e.kind = "net";
    e.op = "connect";
    e.rule.clear();
    e.verdict = "allow";
    e.output_fields = {{"fd.lip", "10.0.0.2"}, {"fd.lport", 51000}, {"fd.rip", "203.0.113.9"},
                       {"fd.rport", 443}, {"fd.l4proto", "tcp"}};
    json j = to_ocsf(e, OcsfOptions{"node-1", "1.2.3", true});
    EXPECT_EQ(j["src_endpoint"], json({{"ip", "10.0.0.2"}, {"port", 51000}}));
    EXPECT_EQ(j["dst_endpoint"], json({{"ip", "203.0.113.9"}, {"port", 443}}));
    EXPECT_EQ(j["connection_info"]["direction_id"], 2);
    EXPECT_EQ(j["connection_info"]["protocol_num"], 6);
}

TEST(Ocsf, SeverityMapping) {
    const int want[] = {6, 5, 5, 4, 3, 2, 1, 1};
    for (int p = 0; p < 8; ++p)
        EXPECT_EQ(ocsf_severity_id(p), want[p]) << priority_name(p);
}

TEST(OcsfSink, WritesOneOcsfEventPerLine) {
    TempDir dir;
    auto made = make_exporters(YAML::Load("[{name: o, type: ocsf, path: " + dir / "ocsf.jsonl" + "}]"),
                               Options{"node-1", dir / "spool", "1.2.3"});
    ASSERT_TRUE(made) << made.error();
    auto& s = *made.value()[0];
    s.publish(test::sample_event(0));
    s.close();
    auto lines = test::read_lines(dir / "ocsf.jsonl");
    ASSERT_EQ(lines.size(), 1u);
    json j = json::parse(lines[0]);
    EXPECT_EQ(j["class_uid"], 2004);
    expect_required(j, 2004);
}

}  // namespace
}  // namespace bulkhead::exporters
