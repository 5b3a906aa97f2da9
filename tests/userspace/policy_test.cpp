// SPDX-License-Identifier: Apache-2.0
// userspace/policy.cpp: the built-in protection of bulkhead's own state,
// wherever the configuration puts it, and that it joins the compiled policy
// whatever the rule files say.
#include <gtest/gtest.h>

#include <yaml-cpp/yaml.h>

#include <cstdio>
#include <filesystem>

#include "config/config.h"
#include "policy.h"

namespace bulkhead {
namespace {

using rules::TargetKind;

std::vector<std::pair<TargetKind, std::string>> targets(const rules::FileProtection& p) {
    std::vector<std::pair<TargetKind, std::string>> out;
    for (const auto& t : p.targets)
        out.emplace_back(t.kind, t.target);
    return out;
}

TEST(StateProtection, CoversWhatTheConfigurationNames) {
    config::Config cfg = config::defaults();
    cfg.path = "/opt/agents/bulkhead.yaml";
    cfg.spool_root = "/srv/spool/";
    cfg.exporters = YAML::Load(R"([
        {name: a, type: audit, path: /srv/audit/log.jsonl, secret_key: /srv/keys/audit.key},
        {name: b, type: audit},
        {name: s, type: syslog, transport: tls, tls: {ca: /srv/tls/ca.pem, key: /srv/tls/client.key},
         spool: {dir: /data/spool-s}},
        {name: j, type: jsonl, path: /var/log/bulkhead.jsonl},
        not-a-map])");
    auto p = state_protection(cfg);
    std::vector<std::pair<TargetKind, std::string>> want = {
        {TargetKind::kPath, "/opt/agents/bulkhead.yaml"},
        {TargetKind::kSubtree, "/srv/spool/"},
        {TargetKind::kPath, "/srv/audit/log.jsonl"},
        {TargetKind::kPath, "/srv/keys/audit.key"},
        {TargetKind::kPath, "/var/lib/bulkhead/audit/audit.jsonl"},
        {TargetKind::kPath, "/var/lib/bulkhead/audit/audit.key"},
        {TargetKind::kSubtree, "/data/spool-s"},
        {TargetKind::kPath, "/srv/tls/client.key"},
    };
    EXPECT_EQ(targets(p), want);
    EXPECT_EQ(p.verdict, rules::KernelVerdict::kDeny);
    EXPECT_EQ(p.scope, rules::KernelScope::kSessions) << "the daemon itself writes there";
    EXPECT_TRUE(p.ops & rules::kOpRead) << "a session that reads the key can forge the trail";
    for (auto op : {rules::kOpWrite, rules::kOpCreate, rules::kOpRename, rules::kOpUnlink, rules::kOpLink})
        EXPECT_TRUE(p.ops & op) << op;
    EXPECT_EQ(p.rule, "Self guard: bulkhead's state");
}

TEST(StateProtection, RelativePathsAreMadeAbsoluteAndDuplicatesDropped) {
    config::Config cfg = config::defaults();
    cfg.path = "";
    cfg.exporters = YAML::Load("[{name: a, type: audit, path: audit.jsonl, secret_key: ./keys/../audit.key},"
                               " {name: b, type: audit, path: audit.jsonl, secret_key: audit.key}]");
    auto p = state_protection(cfg);
    std::string cwd = std::filesystem::current_path().string();
    std::vector<std::pair<TargetKind, std::string>> want = {
        {TargetKind::kSubtree, "/var/lib/bulkhead/spool"},
        {TargetKind::kPath, cwd + "/audit.jsonl"},
        {TargetKind::kPath, cwd + "/audit.key"},
    };
    EXPECT_EQ(targets(p), want);
}

TEST(StateProtection, JoinsThePolicyWhateverTheRuleFilesSay) {
    // A rule file with no rule about bulkhead's state at all.
    std::string dir = ::testing::TempDir();
    std::string rules = dir + "/only-ssh.yaml";
    FILE* f = std::fopen(rules.c_str(), "w");
    ASSERT_TRUE(f);
    std::fputs("- rule: Read SSH key\n  desc: d\n  output: o\n  priority: WARNING\n"
               "  condition: evt.type = openat and evt.is_open_read = true and fd.name = /root/.ssh/id_rsa\n"
               "  action: block\n", f);
    std::fclose(f);
    config::Config cfg = config::defaults();
    cfg.exporters = YAML::Load("[{name: a, type: audit, path: /srv/a.jsonl, secret_key: /srv/a.key}]");
    auto loaded = load_policy({rules}, guards::PlanInputs{}, {state_protection(cfg)});
    ASSERT_TRUE(loaded) << loaded.error().to_string();
    const auto& files = loaded->compiled.policy.files;
    ASSERT_EQ(files.size(), 2u);
    EXPECT_EQ(files[0].rule, "Read SSH key");
    EXPECT_EQ(files[1].rule, "Self guard: bulkhead's state");
    bool planned = false;
    for (const auto& r : loaded->plan.rules)
        planned |= r.name == "Self guard: bulkhead's state" && r.priority == "Critical" && r.verdict == "deny";
    EXPECT_TRUE(planned) << "the file guard's rule table names it, for events";
}

}  // namespace
}  // namespace bulkhead
