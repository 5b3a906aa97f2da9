// SPDX-License-Identifier: Apache-2.0
// The shipped rule set rules/sets/agents.yaml: loads, every rule is a
// session-scoped kernel rule, and a few rules emit exactly these protections.
#include <gtest/gtest.h>

#include <regex>
#include <string>
#include <vector>

#include "rules/rules.h"

namespace bulkhead::rules {
namespace {

const char* const kAgentsRules = BULKHEAD_AGENTS_RULES;

constexpr uint32_t kModify = kOpWrite | kOpCreate | kOpLink | kOpRename | kOpSetattr;

class AgentsRulesetTest : public ::testing::Test {
protected:
    void SetUp() override {
        auto loaded = load_rule_files({kAgentsRules});
        ASSERT_TRUE(loaded.ok()) << loaded.error().to_string();
        rules_ = std::move(*loaded);
        auto compiled = compile_kernel_policy(rules_);
        ASSERT_TRUE(compiled.ok()) << compiled.error().to_string();
        compiled_ = std::move(*compiled);
    }

    std::vector<const FileProtection*> protections(const std::string& rule) const {
        std::vector<const FileProtection*> out;
        for (const auto& p : compiled_.policy.files) {
            if (p.rule == rule) out.push_back(&p);
        }
        return out;
    }

    RuleSet rules_;
    KernelCompilation compiled_;
};

std::string targets(const FileProtection& p) {
    std::string out;
    for (const auto& t : p.targets) {
        if (!out.empty()) out += " ";
        out += (t.kind == TargetKind::kPath      ? "path:"
                : t.kind == TargetKind::kSubtree ? "subtree:"
                : t.kind == TargetKind::kPattern ? "pattern:"
                                                 : "other-workspaces") +
               t.target;
    }
    return out;
}

TEST_F(AgentsRulesetTest, ShipsTheseRules) {
    std::vector<std::string> names;
    for (const auto& rule : rules_.rules) names.push_back(rule.name);
    const std::vector<std::string> want = {
        "Read SSH private key",       "Read cloud credentials",         "Read cluster or registry credentials",
        "Read git credentials",       "Read package registry token",    "Read agent credentials",
        "Read environment secrets file", "Read shell history",          "Read another session's workspace",
        "Write git hook",
        "Modify shell startup file",  "Modify MCP server config",       "Modify agent settings or hooks",
        "Install systemd unit",       "Modify crontab",                 "Modify SSH authorized keys",
        "Access bulkhead state",      "Connect to a container runtime or systemd socket",
        "Connect to the user's session bus", "Run a privilege escalation program",
        "Exfiltration tool reached the network", "Connect to cloud metadata service", "SSH back into this host",
        "Fileless execution in agent session", "Ptrace by agent session", "Kernel module load from agent session",
        "Shell command hands work outside the session", "Shell command names a secret file",
        "Tool call reaches the cloud metadata service",
    };
    EXPECT_EQ(names, want);
    EXPECT_TRUE(rules_.warnings.empty());
}

// File and program rules block in the kernel; the rules on what sessions do (exec,
// connect, ptrace, modules) run in userspace on the observer's events; the
// tool_call rules block in the agents' hooks.
TEST_F(AgentsRulesetTest, EveryRuleIsCompleteAndPlaced) {
    const std::regex mitre("T[0-9]{4}(\\.[0-9]{3})?");
    ASSERT_EQ(compiled_.report.size(), rules_.rules.size());
    for (size_t i = 0; i < rules_.rules.size(); ++i) {
        const Rule& rule = rules_.rules[i];
        const bool file_rule = i < 20;  // the first 20 rules guard files and programs
        const bool tool_rule = rule.source == kToolCallSource;
        EXPECT_FALSE(rule.desc.empty()) << rule.name;
        EXPECT_NE(rule.output.find("%agent.session"), std::string::npos) << rule.name;
        EXPECT_NE(rule.output.find(file_rule ? "%fd.name" : tool_rule ? "%agent.tool_name" : "%proc.name"),
                  std::string::npos)
            << rule.name;
        EXPECT_GT(rule.risk, 0) << rule.name;
        EXPECT_TRUE(rule.unsupported.empty()) << rule.name << ": " << rule.unsupported;
        bool has_mitre = false;
        for (const auto& tag : rule.tags) has_mitre |= std::regex_match(tag, mitre);
        EXPECT_TRUE(has_mitre) << rule.name << " has no MITRE technique tag";
        if (file_rule) {
            // A tainting rule lets the read through and narrows egress instead.
            EXPECT_EQ(rule.action, rule.taint.empty() ? Action::kBlock : Action::kAudit) << rule.name;
            EXPECT_EQ(compiled_.report[i].placement, Placement::kKernel) << rule.name << ": " << compiled_.report[i].reason;
        } else if (tool_rule) {
            EXPECT_EQ(rule.action, Action::kBlock) << rule.name;
            EXPECT_EQ(compiled_.report[i].placement, Placement::kHook) << rule.name;
        } else if (rule.name == "Connect to cloud metadata service" || rule.name == "SSH back into this host") {
            EXPECT_EQ(rule.action, Action::kBlock);
            EXPECT_EQ(compiled_.report[i].placement, Placement::kKernel) << compiled_.report[i].reason;
        } else {
            EXPECT_NE(rule.action, Action::kBlock) << rule.name;
            EXPECT_EQ(compiled_.report[i].placement, Placement::kUserspace) << rule.name;
        }
    }
    for (const auto& p : compiled_.policy.files) {
        EXPECT_EQ(p.scope, KernelScope::kSessions) << p.rule;
        EXPECT_EQ(p.verdict, p.taint.empty() ? KernelVerdict::kDeny : KernelVerdict::kAudit) << p.rule;
    }
}

TEST_F(AgentsRulesetTest, EnvFilesTaintInsteadOfBlocking) {
    auto found = protections("Read environment secrets file");
    ASSERT_FALSE(found.empty());
    for (const auto* p : found) {
        EXPECT_EQ(p->taint, "secrets");
        EXPECT_EQ(p->verdict, KernelVerdict::kAudit);
        EXPECT_TRUE(p->ops & kOpRead);
    }
}

TEST_F(AgentsRulesetTest, MetadataServiceIsAnEgressBlock) {
    ASSERT_EQ(compiled_.policy.net.size(), 2u);
    const NetProtection& n = compiled_.policy.net[0];
    EXPECT_EQ(n.rule, "Connect to cloud metadata service");
    EXPECT_EQ(n.verdict, KernelVerdict::kDeny);
    EXPECT_EQ(n.ops, kNetConnect | kNetSend);
    EXPECT_EQ(n.addr_term, NetTerm::kIn);
    EXPECT_EQ(n.cidrs, (std::vector<std::string>{"169.254.169.254", "169.254.170.2", "fd00:ec2::254"}));
    EXPECT_EQ(n.port_term, NetTerm::kAny);
    EXPECT_FALSE(n.tainted_only);
}

// A lineage escape: a login through this host's own sshd would start
// outside the session, so the connect is refused in the kernel.
TEST_F(AgentsRulesetTest, SshBackIntoThisHostIsAnEgressBlock) {
    ASSERT_EQ(compiled_.policy.net.size(), 2u);
    const NetProtection& n = compiled_.policy.net[1];
    EXPECT_EQ(n.rule, "SSH back into this host");
    EXPECT_EQ(n.verdict, KernelVerdict::kDeny);
    EXPECT_EQ(n.ops, kNetConnect);
    EXPECT_EQ(n.addr_term, NetTerm::kIn);
    EXPECT_EQ(n.cidrs, (std::vector<std::string>{"127.0.0.0/8", "::1"}));
    EXPECT_EQ(n.port_term, NetTerm::kIn);
    EXPECT_EQ(n.ports, (std::vector<uint16_t>{22}));
    EXPECT_EQ(n.scope, KernelScope::kSessions);
}

TEST_F(AgentsRulesetTest, ReadSshPrivateKey) {
    auto found = protections("Read SSH private key");
    ASSERT_EQ(found.size(), 1u);
    const FileProtection& p = *found[0];
    EXPECT_EQ(p.ops, kOpRead);
    EXPECT_EQ(p.verdict, KernelVerdict::kDeny);
    EXPECT_EQ(p.scope, KernelScope::kSessions);
    EXPECT_EQ(p.agent, "");
    EXPECT_EQ(p.priority, "Critical");
    EXPECT_EQ(p.risk, 90);
    EXPECT_EQ(p.file, kAgentsRules);
    EXPECT_GT(p.line, 0);
    EXPECT_EQ(targets(p), "pattern:~/.ssh/id_* path:~/.ssh/config");
}

// Set-user-ID programs, by inode at exec: a copy would lose the bit.
TEST_F(AgentsRulesetTest, RunAPrivilegeEscalationProgram) {
    auto found = protections("Run a privilege escalation program");
    ASSERT_EQ(found.size(), 1u);
    const FileProtection& p = *found[0];
    EXPECT_EQ(p.ops, kOpExec);
    EXPECT_EQ(p.verdict, KernelVerdict::kDeny);
    EXPECT_EQ(p.scope, KernelScope::kSessions);
    EXPECT_EQ(p.risk, 70);
    EXPECT_EQ(targets(p), "path:/usr/bin/sudo path:/usr/bin/su path:/usr/bin/pkexec path:/usr/bin/doas "
                          "path:/usr/bin/run0 path:/bin/su path:/bin/sudo");
}

// The daemon fills in the workspaces; the kernel tells a session's own apart.
TEST_F(AgentsRulesetTest, ReadAnotherSessionsWorkspace) {
    auto found = protections("Read another session's workspace");
    ASSERT_EQ(found.size(), 1u);
    EXPECT_EQ(found[0]->ops, kOpRead);
    EXPECT_EQ(found[0]->verdict, KernelVerdict::kDeny);
    EXPECT_EQ(found[0]->scope, KernelScope::kSessions);
    EXPECT_EQ(found[0]->risk, 40);
    EXPECT_EQ(targets(*found[0]), "other-workspaces");
}

TEST_F(AgentsRulesetTest, ReadCloudCredentials) {
    auto found = protections("Read cloud credentials");
    ASSERT_EQ(found.size(), 1u);
    EXPECT_EQ(found[0]->ops, kOpRead);
    EXPECT_EQ(targets(*found[0]),
              "subtree:~/.aws subtree:~/.config/gcloud subtree:~/.azure subtree:~/.snowflake "
              "path:~/.oci/config path:~/.config/doctl/config.yaml path:~/.terraform.d/credentials.tfrc.json "
              "path:~/.vault-token path:~/.databrickscfg path:~/.cache/huggingface/token");
}

TEST_F(AgentsRulesetTest, ReadEnvironmentSecretsFile) {
    auto found = protections("Read environment secrets file");
    ASSERT_EQ(found.size(), 1u);
    EXPECT_EQ(found[0]->ops, kOpRead);
    EXPECT_EQ(targets(*found[0]), "pattern:**/.env pattern:**/.env.local pattern:**/.env.production");
}

TEST_F(AgentsRulesetTest, WriteGitHook) {
    auto found = protections("Write git hook");
    ASSERT_EQ(found.size(), 1u);
    EXPECT_EQ(found[0]->ops, kModify);
    EXPECT_EQ(found[0]->priority, "Critical");
    EXPECT_EQ(targets(*found[0]), "pattern:**/.git/hooks/*");
}

TEST_F(AgentsRulesetTest, ModifyMcpServerConfig) {
    auto found = protections("Modify MCP server config");
    ASSERT_EQ(found.size(), 1u);
    EXPECT_EQ(found[0]->ops, kModify);
    EXPECT_EQ(targets(*found[0]),
              "path:~/.claude.json path:/etc/claude-code/managed-mcp.json path:~/.codex/config.toml "
              "path:~/.gemini/settings.json path:/etc/gemini-cli/settings.json path:~/.cursor/mcp.json "
              "path:~/.codeium/windsurf/mcp_config.json pattern:**/.mcp.json pattern:**/.cursor/mcp.json "
              "pattern:**/.vscode/mcp.json");
}

// Lineage escapes by socket: the runtimes', the system manager's, and every
// user's own manager and session bus (a '*' the planner expands).
TEST_F(AgentsRulesetTest, LineageEscapeSockets) {
    auto runtimes = protections("Connect to a container runtime or systemd socket");
    ASSERT_EQ(runtimes.size(), 1u);
    EXPECT_EQ(runtimes[0]->ops, kOpConnect);
    EXPECT_EQ(targets(*runtimes[0]),
              "path:/run/docker.sock path:/run/containerd/containerd.sock path:/run/podman/podman.sock "
              "path:/run/crio/crio.sock path:/run/systemd/private pattern:/run/user/*/systemd/private");
    auto bus = protections("Connect to the user's session bus");
    ASSERT_EQ(bus.size(), 1u);
    EXPECT_EQ(bus[0]->ops, kOpConnect);
    EXPECT_EQ(targets(*bus[0]), "pattern:/run/user/*/bus");
}

TEST_F(AgentsRulesetTest, ModifyCrontab) {
    auto found = protections("Modify crontab");
    ASSERT_EQ(found.size(), 1u);
    EXPECT_EQ(found[0]->ops, kModify);
    EXPECT_EQ(targets(*found[0]),
              "path:/etc/crontab subtree:/etc/cron.d subtree:/etc/cron.hourly subtree:/etc/cron.daily "
              "subtree:/etc/cron.weekly subtree:/etc/cron.monthly subtree:/var/spool/cron");
}

// Every path the brief and ecosystem.md 5.6 require is protected by some rule.
TEST_F(AgentsRulesetTest, CoversRequiredPaths) {
    const char* required[] = {
        "~/.ssh/id_*", "~/.ssh/config", "~/.aws", "~/.config/gcloud", "~/.azure", "~/.kube/config",
        "~/.docker/config.json", "~/.git-credentials", "~/.config/gh/hosts.yml", "~/.npmrc", "~/.pypirc",
        "~/.claude/.credentials.json", "~/.codex/auth.json", "~/.gemini/oauth_creds.json", "**/.env",
        "~/.bash_history", "**/.git/hooks/*", "~/.bashrc", "~/.profile", "~/.zshrc", "**/.mcp.json",
        "~/.claude.json", "~/.codex/config.toml", "~/.gemini/settings.json", "~/.cursor/mcp.json",
        "**/.cursor/mcp.json", "~/.claude/settings.json", "**/.claude/settings.json", "~/.codex/hooks.json",
        "~/.config/systemd/user", "/etc/crontab", "/etc/cron.d", "/var/spool/cron",
    };
    for (const char* path : required) {
        bool found = false;
        for (const auto& p : compiled_.policy.files) {
            for (const auto& t : p.targets) found |= t.target == path;
        }
        EXPECT_TRUE(found) << path << " is not protected";
    }
}

}  // namespace
}  // namespace bulkhead::rules
