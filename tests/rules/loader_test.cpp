// SPDX-License-Identifier: Apache-2.0
#include "rules/loader.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "rules/rules.h"

namespace bulkhead::rules {
namespace {

Result<RuleSet> load(const std::string& yaml) { return load_rule_sources({{"test.yaml", yaml}}); }

RuleSet load_ok(const std::vector<RuleSource>& sources) {
    auto loaded = load_rule_sources(sources);
    EXPECT_TRUE(loaded.ok()) << (loaded.ok() ? "" : loaded.error().to_string());
    return loaded.ok() ? std::move(*loaded) : RuleSet{};
}

RuleSet load_ok(const std::string& yaml) { return load_ok({{"test.yaml", yaml}}); }

const char* const kBase = R"(
- list: shells
  items: [bash, sh]
- macro: shell_procs
  condition: proc.name in (shells)
- rule: Shell
  desc: a shell ran
  condition: evt.type = execve and shell_procs
  output: shell %proc.name
  priority: warning
  tags: [process, T1059]
)";

TEST(LoaderTest, LoadsRuleFieldsAndDefaults) {
    RuleSet rules = load_ok(kBase);
    ASSERT_EQ(rules.rules.size(), 1u);
    const Rule& r = rules.rules[0];
    EXPECT_EQ(r.name, "Shell");
    EXPECT_EQ(r.desc, "a shell ran");
    EXPECT_EQ(r.output, "shell %proc.name");
    EXPECT_EQ(r.priority, Priority::kWarning);
    EXPECT_EQ(r.action, Action::kAudit);
    EXPECT_EQ(r.risk, 0);
    EXPECT_TRUE(r.enabled);
    EXPECT_EQ(r.source, "syscall");
    EXPECT_EQ(r.tags, (std::vector<std::string>{"process", "T1059"}));
    EXPECT_EQ(r.condition, "evt.type = execve and shell_procs");
    EXPECT_EQ(to_sexpr(*r.expr), R"((and (= evt.type "execve") (in proc.name ("bash" "sh"))))");
    EXPECT_EQ(r.location.to_string(), "test.yaml:6:3");
    EXPECT_TRUE(rules.warnings.empty());
}

TEST(LoaderTest, Priorities) {
    const std::pair<const char*, Priority> cases[] = {
        {"EMERGENCY", Priority::kEmergency}, {"alert", Priority::kAlert},
        {"Critical", Priority::kCritical},   {"ERROR", Priority::kError},
        {"warning", Priority::kWarning},     {"NOTICE", Priority::kNotice},
        {"INFORMATIONAL", Priority::kInformational}, {"info", Priority::kInformational},
        {"Debug", Priority::kDebug},
    };
    for (const auto& [text, priority] : cases) {
        RuleSet rules = load_ok(std::string("- rule: r\n  desc: d\n  condition: evt.num = 1\n  output: o\n  priority: ") + text);
        ASSERT_EQ(rules.rules.size(), 1u) << text;
        EXPECT_EQ(rules.rules[0].priority, priority) << text;
    }
}

TEST(LoaderTest, ActionAndRisk) {
    RuleSet rules = load_ok(R"(
- rule: r
  desc: d
  condition: proc.name = x
  output: o
  priority: notice
  action: kill
  risk: 42
  source: syscall
  enabled: false
)");
    ASSERT_EQ(rules.rules.size(), 1u);
    EXPECT_EQ(rules.rules[0].action, Action::kKill);
    EXPECT_EQ(rules.rules[0].risk, 42);
    EXPECT_FALSE(rules.rules[0].enabled);
}

TEST(LoaderTest, OverrideAppendAndReplace) {
    RuleSet rules = load_ok({{"base.yaml", kBase}, {"local.yaml", R"(
- list: shells
  items: [zsh]
  override:
    items: append
- macro: shell_procs
  condition: or proc.name = fish
  override:
    condition: append
- rule: Shell
  condition: and proc.tty != 0
  output: (tty %proc.tty)
  tags: [T1059, shell]
  priority: ERROR
  enabled: false
  action: ask
  override:
    condition: append
    output: append
    tags: append
    priority: replace
    enabled: replace
    action: replace
)"}});
    ASSERT_EQ(rules.rules.size(), 1u);
    const Rule& r = rules.rules[0];
    EXPECT_EQ(rules.lists[0].items, (std::vector<std::string>{"bash", "sh", "zsh"}));
    EXPECT_EQ(rules.macros[0].condition, "proc.name in (shells) or proc.name = fish");
    EXPECT_EQ(r.condition, "evt.type = execve and shell_procs and proc.tty != 0");
    EXPECT_EQ(r.output, "shell %proc.name (tty %proc.tty)");
    EXPECT_EQ(r.tags, (std::vector<std::string>{"process", "T1059", "shell"}));
    EXPECT_EQ(r.priority, Priority::kError);
    EXPECT_FALSE(r.enabled);
    EXPECT_EQ(r.action, Action::kAsk);
    EXPECT_EQ(r.location.to_string(), "base.yaml:6:3");  // where it was first defined
    EXPECT_EQ(to_sexpr(*r.expr),
              R"((and (= evt.type "execve") (or (in proc.name ("bash" "sh" "zsh")) (= proc.name "fish")) (!= proc.tty "0")))");
}

TEST(LoaderTest, OverrideReplaceCondition) {
    RuleSet rules = load_ok({{"base.yaml", kBase}, {"local.yaml", R"(
- list: shells
  items: [ksh]
  override: {items: replace}
- rule: Shell
  condition: shell_procs
  override: {condition: replace}
)"}});
    EXPECT_EQ(to_sexpr(*rules.rules[0].expr), R"((in proc.name ("ksh")))");
}

TEST(LoaderTest, LegacyAppendWarns) {
    RuleSet rules = load_ok({{"base.yaml", kBase}, {"local.yaml", R"(
- list: shells
  items: [zsh]
  append: true
- rule: Shell
  condition: and proc.tty != 0
  append: true
)"}});
    EXPECT_EQ(rules.lists[0].items, (std::vector<std::string>{"bash", "sh", "zsh"}));
    EXPECT_EQ(rules.rules[0].condition, "evt.type = execve and shell_procs and proc.tty != 0");
    ASSERT_EQ(rules.warnings.size(), 2u);
    EXPECT_EQ(rules.warnings[0].to_string(),
              "local.yaml:4:11: warning: list 'shells': 'append: true' is deprecated; use 'override: {<key>: append}'");
    EXPECT_EQ(rules.warnings[1].to_string(),
              "local.yaml:7:11: warning: rule 'Shell': 'append: true' is deprecated; use 'override: {<key>: append}'");
}

TEST(LoaderTest, LegacyEnableOnlyItem) {
    RuleSet rules = load_ok({{"base.yaml", kBase}, {"local.yaml", "- rule: Shell\n  enabled: false\n"}});
    EXPECT_FALSE(rules.rules[0].enabled);
    ASSERT_EQ(rules.warnings.size(), 1u);
    EXPECT_EQ(rules.warnings[0].to_string(),
              "local.yaml:1:3: warning: rule 'Shell': an item with only 'rule' and 'enabled' is deprecated; use "
              "'override: {enabled: replace}'");
}

TEST(LoaderTest, RedefinitionReplacesInPlace) {
    RuleSet rules = load_ok({{"base.yaml", kBase}, {"local.yaml", R"(
- rule: Shell
  desc: new
  condition: proc.name = x
  output: o
  priority: debug
)"}});
    ASSERT_EQ(rules.rules.size(), 1u);
    EXPECT_EQ(rules.rules[0].desc, "new");
    EXPECT_EQ(rules.rules[0].location.to_string(), "local.yaml:2:3");
}

TEST(LoaderTest, UnknownKeysWarn) {
    RuleSet rules = load_ok(R"(
- rule: r
  desc: d
  condition: proc.name = x
  output: o
  priority: info
  colour: blue
- frobnicate: 1
)");
    ASSERT_EQ(rules.warnings.size(), 2u);
    EXPECT_EQ(rules.warnings[0].to_string(), "test.yaml:7:3: warning: rule 'r': unknown key 'colour' ignored");
    EXPECT_EQ(rules.warnings[1].to_string(), "test.yaml:8:3: warning: unknown top-level item 'frobnicate' ignored");
}

TEST(LoaderTest, EngineAndPluginVersions) {
    RuleSet rules = load_ok(R"(
- required_engine_version: 0.57.0
- required_plugin_versions:
    - name: container
      version: 0.4.0
      alternatives:
        - name: docker
          version: 1.0.0
)");
    EXPECT_EQ(rules.required_engine_version, "0.57.0");
    ASSERT_EQ(rules.required_plugins.size(), 1u);
    EXPECT_EQ(rules.required_plugins[0].name, "container");
    ASSERT_EQ(rules.required_plugins[0].alternatives.size(), 1u);
    EXPECT_EQ(rules.required_plugins[0].alternatives[0].name, "docker");
}

TEST(LoaderTest, MultipleDocuments) {
    RuleSet rules = load_ok("- list: a\n  items: [x]\n---\n- list: b\n  items: [a, y]\n");
    ASSERT_EQ(rules.lists.size(), 2u);
    EXPECT_EQ(rules.lists[1].items, (std::vector<std::string>{"x", "y"}));
}

struct ExceptionCase {
    const char* exceptions;
    const char* condition;
};

TEST(LoaderTest, ExceptionsFoldIntoCondition) {
    const ExceptionCase cases[] = {
        // Tuple form, comps default to '='.
        {R"(
    - name: known
      fields: [proc.name, fd.name]
      values:
        - [bash, /etc/x]
        - [sh, "/a b"])",
         R"((open_read) and not ((proc.name = bash and fd.name = /etc/x) or (proc.name = sh and fd.name = "/a b")))"},
        // Tuple form with comps and a list value.
        {R"(
    - name: known
      fields: [proc.name, fd.name]
      comps: [in, startswith]
      values:
        - [[bash, sh], /etc/])",
         R"((open_read) and not ((proc.name in (bash, sh) and fd.name startswith /etc/)))"},
        // Single-field form, comps default to 'in'.
        {R"(
    - name: procs
      fields: proc.name
      values: [cat, less])",
         R"((open_read) and not ((proc.name in (cat, less))))"},
        // Two exceptions, one without values (ignored).
        {R"(
    - name: empty
      fields: [proc.name]
    - name: dirs
      fields: fd.name
      comps: pmatch
      values: [/tmp])",
         R"((open_read) and not ((fd.name pmatch (/tmp))))"},
        // No values at all: the condition is unchanged.
        {R"(
    - name: empty
      fields: [proc.name])",
         "open_read"},
    };
    for (const auto& c : cases) {
        std::string yaml = std::string(R"(
- macro: open_read
  condition: evt.is_open_read = true
- rule: r
  desc: d
  condition: open_read
  output: o
  priority: info
  exceptions:)") + c.exceptions + "\n";
        RuleSet rules = load_ok(yaml);
        ASSERT_EQ(rules.rules.size(), 1u) << c.exceptions;
        EXPECT_EQ(rules.rules[0].condition, c.condition);
    }
}

TEST(LoaderTest, ExceptionValuesAppend) {
    RuleSet rules = load_ok({{"base.yaml", R"(
- rule: r
  desc: d
  condition: proc.name = x
  output: o
  priority: info
  exceptions:
    - name: known
      fields: [proc.pname]
      values: [[a]]
)"}, {"local.yaml", R"(
- rule: r
  exceptions:
    - name: known
      values: [[b]]
    - name: more
      fields: proc.cwd
      values: [/tmp]
  override:
    exceptions: append
)"}});
    EXPECT_EQ(rules.rules[0].condition,
              "(proc.name = x) and not ((proc.pname = a) or (proc.pname = b) or (proc.cwd in (/tmp)))");
}

struct ErrorCase {
    std::string yaml;
    const char* error;  // Error::to_string(), exact
};

TEST(LoaderTest, Errors) {
    const ErrorCase cases[] = {
        {"- rule: r\n  desc: d\n  condition: proc.name = x\n  priority: info\n",
         "test.yaml:1:3: rules: rule 'r': missing required key 'output'"},
        {"- rule: r\n  desc: d\n  condition: proc.name = x\n  output: o\n  priority: loud\n",
         "test.yaml:5:13: rules: rule 'r': invalid priority 'loud' (expected emergency, alert, critical, error, "
         "warning, notice, informational or debug)"},
        {"- rule: r\n  desc: d\n  condition: proc.name = x\n  output: o\n  priority: info\n  action: deny\n",
         "test.yaml:6:11: rules: rule 'r': invalid action 'deny' (expected audit, block, ask, kill or promote)"},
        {"- rule: r\n  desc: d\n  condition: proc.name = x\n  output: o\n  priority: info\n  risk: 101\n",
         "test.yaml:6:9: rules: rule 'r': 'risk' must be an integer from 0 to 100"},
        {"- rule: r\n  desc: d\n  condition: proc.name = x\n  output: o\n  priority: info\n  enabled: maybe\n",
         "test.yaml:6:12: rules: rule 'r': 'enabled' must be true or false"},
        {"- rule: r\n  condition: and x\n  override:\n    condition: append\n",
         "test.yaml:1:3: rules: rule 'r': 'override' given but no rule by that name was defined earlier"},
        {"- list: l\n  items: [a]\n- list: l\n  items: [b]\n  append: true\n  override:\n    items: append\n",
         "test.yaml:5:11: rules: list 'l': 'append' and 'override' cannot be combined"},
        {"- macro: m\n  condition: evt.num = 1\n- macro: m\n  condition: or evt.num = 2\n  override:\n    condition: prepend\n",
         "test.yaml:6:16: rules: macro 'm': override of 'condition' must be 'append' or 'replace', not 'prepend'"},
        {"- list: l\n  items: [a]\n- list: l\n  items: [b]\n  junk: 1\n  override:\n    items: append\n",
         "test.yaml:5:3: rules: list 'l': unexpected key 'junk': no corresponding entry under 'override'"},
        {"- macro: m\n  condition: evt.num = 1\n- macro: m\n  override:\n    condition: append\n",
         "test.yaml:5:5: rules: macro 'm': override of 'condition' but the item has no 'condition'"},
        {"- macro: m\n  condition: evt.num = 1\n- macro: m\n  condition: x\n  override:\n    priority: append\n",
         "test.yaml:6:15: rules: macro 'm': key 'priority' cannot be appended"},
        {"- macro: m-1\n  condition: evt.num = 1\n",
         "test.yaml:1:10: rules: macro 'm-1': name must match [a-zA-Z][a-zA-Z0-9_]* to be referenced"},
        {"- rule: r\n  desc: d\n  condition: proc.name = x and (a or\n  output: o\n  priority: info\n",
         "test.yaml:3:14: rules: rule 'r': condition: expected a field, a macro name or '(', found end of "
         "condition (line 1, column 24 of the condition)"},
        {"- rule: r\n  desc: d\n  condition: >\n    proc.name = x and\n    proc.name in y\n  output: o\n  priority: info\n",
         "test.yaml:3:14: rules: rule 'r': undefined list 'y' in 'proc.name in y'"},
        {"- rule: r\n  desc: d\n  condition: nope and proc.name = x\n  output: o\n  priority: info\n",
         "test.yaml:3:14: rules: rule 'r': undefined macro 'nope'"},
        {"- macro: a\n  condition: b\n- macro: b\n  condition: not a\n- rule: r\n  desc: d\n  condition: a\n  output: o\n  priority: info\n",
         "test.yaml:7:14: rules: rule 'r': macro cycle: a -> b -> a"},
        {"- macro: a\n  condition: proc.name = (x\n",
         "test.yaml:2:14: rules: macro 'a': condition: expected a value after '=', found '(' (line 1, column 13 of the condition)"},
        {"- rule: r\n  desc: d\n  condition: proc.name regex 'a(b'\n  output: o\n  priority: info\n",
         "test.yaml:3:14: rules: rule 'r': invalid regex in 'proc.name regex \"a(b\"': missing ): a(b"},
        {"- rule: r\n  desc: d\n  condition: proc.name = x\n  output: o\n  priority: info\n  exceptions:\n"
         "    - name: e\n      fields: [a.b, c.d]\n      comps: [=]\n",
         "test.yaml:9:14: rules: rule 'r': exception 'e': 'comps' has 1 entries but 'fields' has 2"},
        {"- rule: r\n  desc: d\n  condition: proc.name = x\n  output: o\n  priority: info\n  exceptions:\n"
         "    - name: e\n      fields: [a.b, c.d]\n      values: [[x]]\n",
         "test.yaml:9:16: rules: rule 'r': exception 'e': each value must be a list of 2 entries, one per field"},
        {"- rule: r\n  desc: d\n  condition: proc.name = x\n  output: o\n  priority: info\n  exceptions:\n"
         "    - name: e\n      fields: a.b\n      comps: near\n      values: [x]\n",
         "test.yaml:9:14: rules: rule 'r': exception 'e': unknown comparison 'near'"},
        {"- rule: r\n  desc: d\n  condition: proc.name = x\n  output: o\n  priority: info\n  action: block\n",
         "test.yaml:1:3: rules: rule 'r' (action block) cannot be enforced in the kernel: 'proc.name = x' is not a "
         "kernel check (the kernel checks only evt.type, evt.is_open_read, evt.is_open_write, fd.name, "
         "fd.directory, fd.filename, fd.in_other_workspace, fd.ino with fd.dev, fd.typechar (f, u), proc.exepath (of an exec), agent.session and agent.name)"},
        {"- rule: [r\n", "test.yaml:2:1: rules: invalid YAML: while parsing a flow sequence: did not find expected ',' or ']'"},
        // Found by the fuzzer: yaml-cpp 0.7 allocates without end on this.
        {"'a',\n    'b',\n", "test.yaml:1:4: rules: invalid YAML: did not find expected <document start>"},
        {std::string("- rule: a\0b\n", 12), "test.yaml:1:10: rules: invalid YAML: control characters are not allowed"},
        {"- rule: \xff\n", "test.yaml:1:9: rules: invalid YAML: invalid leading UTF-8 octet"},
        {"rule: r\n", "test.yaml:1:1: rules: a rules file must be a sequence of items (- rule:, - macro:, - list:)"},
        {"- just a string\n", "test.yaml:1:3: rules: an item must be a map with a 'rule', 'macro' or 'list' key"},
    };
    for (const auto& c : cases) {
        auto loaded = load(c.yaml);
        ASSERT_FALSE(loaded.ok()) << c.yaml;
        EXPECT_EQ(loaded.error().to_string(), c.error) << c.yaml;
    }
}

// A bad later file fails the whole load (nothing of the good one comes
// back), and an error in an appended condition points at the append.
TEST(LoaderTest, AllOrNothing) {
    auto loaded = load_rule_sources({{"good.yaml", kBase}, {"bad.yaml", "- rule: Shell\n  condition: and (\n  override: {condition: append}\n"}});
    ASSERT_FALSE(loaded.ok());
    EXPECT_EQ(loaded.error().to_string(),
              "bad.yaml:2:14: rules: rule 'Shell': condition: expected a field, a macro name or '(', found end of "
              "condition (line 1, column 6 of the condition)");
}

// A later file that overrides a rule to `block` owns the kernel error: it
// names the override's line, and where the rule was defined.
TEST(LoaderTest, AnOverrideToBlockThatTheKernelCannotCheckPointsAtTheOverride) {
    const char* base =
        "- rule: Pid five\n"
        "  desc: d\n"
        "  condition: evt.type = openat and proc.pid = 5\n"
        "  output: o\n"
        "  priority: WARNING\n";
    const char* local =
        "- rule: Pid five\n"
        "  action: block\n"
        "  override: {action: replace}\n";
    auto loaded = load_rule_sources({{"base.yaml", base}, {"local.yaml", local}});
    ASSERT_FALSE(loaded.ok());
    EXPECT_EQ(loaded.error().to_string(),
              "local.yaml:2:11: rules: rule 'Pid five' (action block, defined at base.yaml:1:3) cannot be enforced "
              "in the kernel: 'proc.pid = 5' is not a kernel check (the kernel checks only evt.type, "
              "evt.is_open_read, evt.is_open_write, fd.name, fd.directory, fd.filename, fd.in_other_workspace, fd.ino with fd.dev, fd.typechar (f, u), proc.exepath (of an exec), agent.session and agent.name)");
    // Set in the rule's own file, the error stays at the rule.
    auto same = load_rule_sources({{"base.yaml", std::string(base) + "  action: block\n"}});
    ASSERT_FALSE(same.ok());
    EXPECT_EQ(same.error().location.to_string(), "base.yaml:1:3");
}

TEST(LoaderTest, MissingFileNamesThePath) {
    auto loaded = load_rule_files({"/nonexistent/rules.yaml"});
    ASSERT_FALSE(loaded.ok());
    EXPECT_EQ(loaded.error().to_string(), "/nonexistent/rules.yaml: rules: cannot read rules file: No such file or directory");
}

}  // namespace
}  // namespace bulkhead::rules
