// SPDX-License-Identifier: Apache-2.0
// The evaluator: every operator, modifier and transformer on a table of
// (condition, event, expected) rows, Falco's missing-field rule, bulkhead's
// `~/` paths, the evt.type index and output rendering.
#include <gtest/gtest.h>

#include "rules/parser.h"
#include "rules/rules.h"

namespace bulkhead::rules {
namespace {

const nlohmann::json kEvent = {
    {"evt.type", "openat"},
    {"evt.res", "EPERM"},
    {"evt.rawres", -1},
    {"evt.is_open_read", true},
    {"evt.arg.flags", "O_RDONLY|O_CLOEXEC"},
    {"proc.name", "cat"},
    {"proc.pname", "bash"},
    {"proc.aname[2]", "claude"},
    {"proc.aname[3]", "systemd"},
    {"proc.cmdline", "cat /home/ann/.ssh/id_ed25519"},
    {"proc.pid", 4242},
    {"proc.exepath", "/usr/bin/cat"},
    {"fd.name", "/home/ann/.ssh/id_ed25519"},
    {"fd.rip", "169.254.169.254"},
    {"fd.num", 3},
    {"user.uid", 1000},
    {"agent.session", 7},
    {"agent.name", "claude-code"},
    {"proc.args", "aGVsbG8="},
};

struct Row {
    const char* condition;
    bool expected;
};

class EvaluatorTable : public testing::TestWithParam<Row> {};

TEST_P(EvaluatorTable, Evaluates) {
    auto event = FieldMap::from_json(kEvent);
    ASSERT_TRUE(event.ok()) << event.error().to_string();
    auto expr = parse_condition(GetParam().condition);
    ASSERT_TRUE(expr.ok()) << expr.error().to_string();
    auto result = evaluate_condition(**expr, *event);
    ASSERT_TRUE(result.ok()) << result.error().to_string();
    EXPECT_EQ(*result, GetParam().expected) << GetParam().condition;
}

INSTANTIATE_TEST_SUITE_P(
    Operators, EvaluatorTable,
    testing::Values(
        Row{"proc.name = cat", true}, Row{"proc.name == cat", true}, Row{"proc.name = dog", false},
        Row{"proc.name != dog", true}, Row{"proc.name != cat", false},
        Row{"proc.cmdline contains ssh", true}, Row{"proc.cmdline contains SSH", false},
        Row{"proc.cmdline icontains SSH", true}, Row{"proc.cmdline bcontains 737368", true},
        Row{"proc.cmdline bcontains 787878", false},
        Row{"fd.name startswith /home/", true}, Row{"fd.name bstartswith 2f686f6d65", true},
        Row{"fd.name endswith _ed25519", true}, Row{"fd.name endswith .pub", false},
        Row{"fd.name glob '/home/*/.ssh/id_*'", true}, Row{"fd.name glob '/home/*'", false},
        Row{"fd.name glob '**/.ssh/*'", true}, Row{"fd.name iglob '/HOME/*/.SSH/ID_*'", true},
        Row{"fd.name regex '/home/[a-z]+/\\.ssh/id_.*'", true}, Row{"fd.name regex 'ssh'", false},
        Row{"proc.name in (sh, cat, ls)", true}, Row{"proc.name in (sh, ls)", false},
        Row{"proc.name intersects (cat)", true},
        Row{"fd.name pmatch (/home/ann/.ssh, /etc)", true}, Row{"fd.name pmatch (/home/ann/.ss)", false},
        Row{"fd.name pmatch (/home/*/.ssh)", true},
        Row{"proc.pid = 4242", true}, Row{"proc.pid > 4000", true}, Row{"proc.pid < 4000", false},
        Row{"proc.pid >= 4242", true}, Row{"proc.pid <= 4241", false}, Row{"proc.pid in (1, 4242)", true},
        Row{"proc.pid = 0x1092", true}, Row{"evt.rawres < 0", true}, Row{"fd.num >= 0", true},
        Row{"evt.is_open_read = true", true}, Row{"evt.is_open_read = false", false},
        Row{"evt.is_open_write = true", false},  // absent: false
        Row{"not evt.is_open_write = true", true},
        Row{"fd.rip = 169.254.169.254", true}, Row{"fd.rip = 169.254.0.0/16", true},
        Row{"fd.rip in (10.0.0.0/8, 192.168.0.0/16)", false}, Row{"fd.rip != 10.0.0.0/8", true},
        Row{"evt.arg.flags contains O_RDONLY", true}, Row{"evt.arg[flags] contains O_CLOEXEC", true},
        Row{"evt.arg.mode exists", false},
        Row{"agent.session exists", true}, Row{"k8s.pod.name exists", false},
        Row{"agent.name = claude-code and agent.session = 7", true},
        Row{"proc.aname[2] = claude", true}, Row{"proc.aname[1] = bash", true}, Row{"proc.aname[0] = cat", true},
        Row{"proc.aname = claude", true}, Row{"proc.aname = systemd", true}, Row{"proc.aname = init", false},
        Row{"proc.name startswith anyof (ca, do)", true}, Row{"proc.name startswith oneof (c, ca)", false},
        Row{"proc.name startswith oneof (c, do)", true}, Row{"proc.name startswith allof (c, ca)", true},
        Row{"proc.name endswith allof (t, at, dog)", false},
        Row{"toupper(proc.name) = CAT", true}, Row{"tolower(toupper(proc.name)) = cat", true},
        Row{"len(proc.name) = 3", true}, Row{"len(proc.name) > 3", false},
        Row{"basename(fd.name) = id_ed25519", true}, Row{"b64(proc.args) = hello", true},
        Row{"proc.name = val(proc.pname)", false}, Row{"proc.pname = val(proc.aname[1])", true},
        Row{"fd.name = ~/.ssh/id_ed25519", true}, Row{"fd.name glob ~/.ssh/id_*", true},
        Row{"fd.name in (~/.aws/credentials, ~/.ssh/id_ed25519)", true},
        Row{"fd.name pmatch (~/.ssh)", true}, Row{"fd.name pmatch (~/.aws)", false},
        Row{"evt.dir = '<'", true}, Row{"evt.dir = '>'", false},
        Row{"proc.name = cat and (fd.name startswith /etc or user.uid = 1000)", true},
        Row{"not (proc.name = cat or proc.name = ls)", false}));

TEST(EvaluatorTest, HomePathsNeedAHome) {
    auto event = FieldMap::from_json({{"fd.name", "/opt/ann/.ssh/id_ed25519"}});
    ASSERT_TRUE(event.ok());
    auto expr = parse_condition("fd.name glob ~/.ssh/id_*");
    ASSERT_TRUE(expr.ok());
    EXPECT_FALSE(*evaluate_condition(**expr, *event));
    auto root = FieldMap::from_json({{"fd.name", "/root/.ssh/id_rsa"}});
    EXPECT_TRUE(*evaluate_condition(**expr, *root));
}

std::shared_ptr<const RuleSet> load(const std::string& yaml) {
    auto loaded = load_rule_sources({{"t.yaml", yaml}});
    if (!loaded) ADD_FAILURE() << loaded.error().to_string();
    return loaded ? std::make_shared<const RuleSet>(std::move(*loaded)) : nullptr;
}

const char* const kTwoRules = R"(
- rule: Shell in session
  desc: d
  condition: evt.type in (execve, execveat) and proc.name in (sh, bash) and agent.session exists
  output: shell %proc.name in session %agent.session (parent %proc.pname, tty %proc.tty, pod %k8s.pod.name, image %container.image.repository)
  priority: WARNING
- rule: Any event by curl
  desc: d
  condition: proc.name = curl
  output: curl did %evt.type
  priority: NOTICE
)";

TEST(EvaluatorTest, IndexesByEventTypeAndKeepsRuleOrder) {
    auto rules = load(kTwoRules);
    ASSERT_TRUE(rules);
    auto engine = Evaluator::build(rules);
    ASSERT_TRUE(engine.ok()) << engine.error().to_string();
    EXPECT_EQ(engine->compiled_rules(), 2u);

    std::vector<size_t> fired;
    auto exec = FieldMap::from_json({{"evt.type", "execve"}, {"proc.name", "bash"}, {"agent.session", 3}});
    engine->evaluate(*exec, &fired);
    EXPECT_EQ(fired, std::vector<size_t>{0});

    fired.clear();
    auto curl = FieldMap::from_json({{"evt.type", "connect"}, {"proc.name", "curl"}});
    engine->evaluate(*curl, &fired);
    EXPECT_EQ(fired, std::vector<size_t>{1});

    fired.clear();
    auto curl_exec = FieldMap::from_json({{"evt.type", "execve"}, {"proc.name", "curl"}, {"agent.session", 3}});
    engine->evaluate(*curl_exec, &fired);
    EXPECT_EQ(fired, std::vector<size_t>{1});
}

TEST(EvaluatorTest, RendersOutputWithTypedFields) {
    auto rules = load(kTwoRules);
    ASSERT_TRUE(rules);
    auto engine = Evaluator::build(rules);
    ASSERT_TRUE(engine.ok());
    auto exec = FieldMap::from_json(
        {{"evt.type", "execve"}, {"proc.name", "bash"}, {"proc.pname", "node"}, {"agent.session", 3}, {"proc.tty", 0}});
    RenderedOutput out = engine->render(0, *exec);
    EXPECT_EQ(out.text, "shell bash in session 3 (parent node, tty 0, pod <NA>, image <NA>)");
    EXPECT_EQ(out.fields["proc.name"], "bash");
    EXPECT_EQ(out.fields["agent.session"], 3);
    EXPECT_TRUE(out.fields["k8s.pod.name"].is_null());
    EXPECT_TRUE(out.fields["container.image.repository"].is_null());
}

TEST(EvaluatorTest, RejectsUnknownOutputField) {
    auto rules = load(R"(
- rule: Bad output
  desc: d
  condition: proc.name = x
  output: "%proc.nmae did it"
  priority: INFO
)");
    ASSERT_TRUE(rules);
    auto engine = Evaluator::build(rules);
    ASSERT_FALSE(engine.ok());
    EXPECT_EQ(engine.error().to_string(), "t.yaml:2:3: rule 'Bad output': output: %proc.nmae: unknown field 'proc.nmae'");
}

TEST(EvaluatorTest, UserspaceRulesLeaveKernelRulesToTheKernel) {
    auto rules = load(R"(
- macro: open_read
  condition: (evt.type in (open,openat,openat2) and evt.is_open_read=true and fd.typechar='f' and fd.num>=0)
- rule: Kernel
  desc: d
  condition: open_read and fd.name = /etc/shadow
  output: o
  priority: INFO
  action: block
- rule: Userspace
  desc: d
  condition: open_read and proc.name = cat
  output: o
  priority: INFO
- rule: Unsupported
  desc: d
  condition: open_read and thread.cap_effective contains SYS_ADMIN
  output: o
  priority: INFO
)");
    ASSERT_TRUE(rules);
    EXPECT_EQ(rules->rules[2].unsupported,
              "field 'thread.cap_effective' is a Falco field bulkhead's events do not carry");
    EXPECT_EQ(Evaluator::userspace_rules(*rules), (std::vector<bool>{false, true, false}));
}

}  // namespace
}  // namespace bulkhead::rules
