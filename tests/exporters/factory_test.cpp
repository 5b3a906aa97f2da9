// SPDX-License-Identifier: Apache-2.0
// Sink configuration: every bad config is an error that names the sink and
// the key; good configs build every sink type; the registry takes new types.
#include <gtest/gtest.h>

#include "factory.h"
#include "queued_exporter.h"
#include "test_support.h"

namespace bulkhead::exporters {
namespace {

using test::TempDir;

struct BadCase {
    const char* yaml;
    const char* error;  // a substring of the message
};

TEST(Factory, BadConfigsNameTheSinkAndTheKey) {
    const BadCase cases[] = {
        {"{}", "exporters: expected a list of sinks"},
        {"[42]", "sink #1: expected a map"},
        {"[{type: jsonl, path: /tmp/x}]", "sink '#1': key 'name': is required"},
        {"[{name: 'a b', type: jsonl, path: /tmp/x}]", "sink 'a b': key 'name': use 1 to 64"},
        {"[{name: a, type: jsonl, path: /tmp/x}, {name: a, type: jsonl, path: /tmp/y}]",
         "sink 'a': key 'name': used by two sinks"},
        {"[{name: a}]", "sink 'a': key 'type': is required"},
        {"[{name: a, type: kafka}]", "sink 'a': key 'type': unknown sink type 'kafka' (this build has "
                                     "http, jsonl, ocsf, syslog)"},
        {"[{name: a, type: grpc}]", "unknown sink type 'grpc'"},
        {"[{name: a, type: jsonl, path: /tmp/x, min_priority: Loud}]",
         "sink 'a': key 'min_priority': unknown priority 'Loud'"},
        {"[{name: a, type: jsonl, path: /tmp/x, verdicts: [deny, maybe]}]",
         "sink 'a': key 'verdicts': expected deny, audit, allow or ask, got 'maybe'"},
        {"[{name: a, type: jsonl, path: /tmp/x, sessions: [abc]}]", "key 'sessions': expected session ids"},
        {"[{name: a, type: jsonl, path: /tmp/x, rules: Read}]", "key 'rules': expected a list"},
        {"[{name: a, type: jsonl, path: /tmp/x, queue: {max_events: 0}}]",
         "sink 'a': key 'queue.max_events': expected an integer in 1..10000000, got '0'"},
        {"[{name: a, type: jsonl, path: /tmp/x, spool: {max_bytes: 12XB}}]",
         "key 'spool.max_bytes': expected a size"},
        {"[{name: a, type: jsonl, path: /tmp/x, spool: 5}]", "key 'spool': expected a map"},
        {"[{name: a, type: jsonl, path: /tmp/x, spool: {max_bytez: 1}}]", "key 'spool.max_bytez': unknown key"},
        {"[{name: a, type: jsonl, path: /tmp/x, retry: {min_ms: 500, max_ms: 100}}]",
         "key 'retry.max_ms': must not be smaller"},
        {"[{name: a, type: jsonl, path: /tmp/x, min_priorty: Error}]", "sink 'a': key 'min_priorty': unknown key"},
        {"[{name: a, type: jsonl}]", "sink 'a': key 'path': is required"},
        {"[{name: a, type: jsonl, path: /tmp/x, max_bytes: 0}]", "key 'max_bytes': must be more than 0"},
        {"[{name: a, type: ocsf, path: /tmp/x, alerts_as: both}]",
         "key 'alerts_as': expected one of activity|finding, got 'both'"},
        {"[{name: a, type: syslog, transport: smoke}]",
         "key 'transport': expected one of relp|tcp|tls|udp|unix, got 'smoke'"},
        {"[{name: a, type: syslog, port: 70000}]", "sink 'a': key 'port': expected an integer in 1..65535"},
        {"[{name: a, type: syslog, facility: kitchen}]", "key 'facility': unknown facility 'kitchen'"},
        {"[{name: a, type: syslog, sd_id: 'has space'}]", "key 'sd_id'"},
        {"[{name: a, type: syslog, tls: {cert: /c.pem}}]", "key 'tls.key': tls.cert and tls.key go together"},
        {"[{name: a, type: syslog, transport: tls, tls: {ca: /nonexistent/ca.pem}}]",
         "sink 'a': syslog: TLS: cannot load CA /nonexistent/ca.pem"},
        {"[{name: a, type: syslog, tls: {verify: maybe}}]", "key 'tls.verify': expected true or false"},
        {"[{name: a, type: http}]", "sink 'a': key 'url': is required"},
        {"[{name: a, type: http, url: 'ftp://x'}]", "key 'url': expected an http:// or https:// URL"},
        {"[{name: a, type: http, url: 'http://x', client_key: k.pem}]", "key 'client_cert': client_cert and"},
        {"[{name: a, type: http, url: 'http://x', timeout_ms: -1}]", "key 'timeout_ms': expected an integer"},
    };
    TempDir dir;
    Options o{"h", dir.path(), "test"};
    for (const auto& c : cases) {
        auto r = make_exporters(YAML::Load(c.yaml), o);
        ASSERT_FALSE(r) << c.yaml;
        EXPECT_NE(r.error().find(c.error), std::string::npos)
            << c.yaml << "\n  got:  " << r.error() << "\n  want: " << c.error;
    }
}

TEST(Factory, BuildsEveryBuiltinTypeWithItsOwnSpool) {
    TempDir dir;
    std::string yaml = R"(
- {name: siem-syslog, type: syslog, transport: udp, host: 127.0.0.1, port: 5514, min_priority: Warning}
- {name: sidekick, type: http, url: "http://127.0.0.1:2801/", verdicts: [deny]}
- {name: jsonl, type: jsonl, path: )" + dir.path() + R"(/a.jsonl}
- {name: ocsf, type: ocsf, path: )" + dir.path() + R"(/a.ocsf.jsonl, alerts_as: activity, spool: {max_bytes: 0}}
)";
    auto r = make_exporters(YAML::Load(yaml), Options{"h", dir / "spool", "test"});
    ASSERT_TRUE(r) << r.error();
    ASSERT_EQ(r->size(), 4u);
    EXPECT_EQ((*r)[0]->name(), "siem-syslog");
    EXPECT_EQ((*r)[3]->name(), "ocsf");
    for (const char* name : {"siem-syslog", "sidekick", "jsonl"})
        EXPECT_EQ(access((dir / "spool/" + name).c_str(), F_OK), 0) << name;
    EXPECT_NE(access((dir / "spool/ocsf").c_str(), F_OK), 0) << "max_bytes 0 means no spool";
    for (auto& e : *r)
        e->close();
}

TEST(Factory, NullOrEmptyMeansNoSinks) {
    for (const char* yaml : {"~", "[]"}) {
        auto r = make_exporters(YAML::Load(yaml), Options{});
        ASSERT_TRUE(r) << yaml;
        EXPECT_TRUE(r->empty());
    }
}

// A test double for a type registered from outside (as audit and grpc are).
class CountingDelivery : public Delivery {
public:
    explicit CountingDelivery(std::vector<std::string>* sent) : sent_(sent) {}
    std::string format(const events::Event& e) override { return e.rule; }
    Result<void> send(const std::string& p) override {
        sent_->push_back(p);
        return {};
    }

private:
    std::vector<std::string>* sent_;
};

TEST(Factory, RegistryTakesNewTypesWithTheCommonKeys) {
    std::vector<std::string> sent;
    auto registry = builtin_factories();
    registry.add("grpc", [&](const SinkConfig& config, SinkReader& r, const Options&)
                     -> Result<std::unique_ptr<Exporter>> {
        std::string listen = r.required_str("listen");
        if (auto e = r.finish(); !e)
            return Error{e.error()};
        auto made = QueuedExporter::create(config, std::make_unique<CountingDelivery>(&sent));
        if (!made)
            return Error{made.error()};
        return std::unique_ptr<Exporter>(std::move(made.value()));
    });
    auto bad = make_exporters(YAML::Load("[{name: g, type: grpc, listen: x, colour: red}]"), Options{"h", ""},
                              registry);
    ASSERT_FALSE(bad);
    EXPECT_NE(bad.error().find("sink 'g': key 'colour': unknown key"), std::string::npos) << bad.error();
    auto r = make_exporters(YAML::Load("[{name: g, type: grpc, listen: x, min_priority: Error}]"),
                            Options{"h", ""}, registry);
    ASSERT_TRUE(r) << r.error();
    (*r)[0]->publish(test::sample_event(0, "Critical"));
    (*r)[0]->publish(test::sample_event(1, "Notice"));
    (*r)[0]->close();
    EXPECT_EQ(sent, std::vector<std::string>{"Read SSH private key"});
    EXPECT_EQ((*r)[0]->stats().filtered, 1u);
}

TEST(Factory, ExampleFileIsValid) {
    YAML::Node root = YAML::LoadFile(BULKHEAD_EXPORTERS_SOURCE_DIR "/example.yaml");
    ASSERT_TRUE(root["exporters"]);
    // Build with a spool root in a temp dir; TLS paths in the example do not
    // exist here, so check the schema only up to the transport.
    TempDir dir;
    YAML::Node sinks = root["exporters"];
    YAML::Node checkable;
    for (auto s : sinks)
        if (!s["tls"] && !s["ca"] && s["type"].as<std::string>() != "audit" &&
            s["type"].as<std::string>() != "grpc") {
            YAML::Node copy = YAML::Clone(s);
            if (copy["path"])
                copy["path"] = dir / copy["name"].as<std::string>();
            checkable.push_back(copy);
        }
    ASSERT_GE(checkable.size(), 3u);
    auto r = make_exporters(checkable, Options{"h", dir / "spool", "test"});
    ASSERT_TRUE(r) << r.error();
    for (auto& e : *r)
        e->close();
}

}  // namespace
}  // namespace bulkhead::exporters
