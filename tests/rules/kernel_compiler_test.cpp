// SPDX-License-Identifier: Apache-2.0
// Kernel compiler (rules/kernel_compiler.cpp) and the kernel compilability
// pass it runs (rules/kernel_compilability.cpp).
#include "rules/kernel_compiler.h"

#include <gtest/gtest.h>

#include <string>

#include "rules/kernel_compilability.h"
#include "rules/rules.h"

namespace bulkhead::rules {
namespace {

// Falco's definitions, as in falco_rules.yaml, plus two of bulkhead's.
const char* const kPrelude = R"(
- macro: open_write
  condition: (evt.type in (open,openat,openat2) and evt.is_open_write=true and fd.typechar='f' and fd.num>=0)
- macro: open_read
  condition: (evt.type in (open,openat,openat2) and evt.is_open_read=true and fd.typechar='f' and fd.num>=0)
- macro: agent_session
  condition: agent.session exists
- list: secrets
  items: [/etc/shadow, "~/.netrc"]
)";

std::string rule_yaml(const std::string& condition, const std::string& action) {
    return std::string(kPrelude) + "- rule: R\n  desc: d\n  output: o\n  priority: critical\n  action: " + action +
           "\n  risk: 7\n  condition: '" + condition + "'\n";
}

std::string ops_text(uint32_t ops) {
    static const std::pair<uint32_t, const char*> kNames[] = {
        {kOpRead, "read"},     {kOpWrite, "write"},   {kOpCreate, "create"}, {kOpLink, "link"},
        {kOpRename, "rename"}, {kOpUnlink, "unlink"}, {kOpSetattr, "setattr"}, {kOpMmap, "mmap"},
        {kOpConnect, "connect"}, {kOpExec, "exec"},
    };
    std::string out;
    for (const auto& [bit, name] : kNames) {
        if (ops & bit) out += (out.empty() ? "" : "|") + std::string(name);
    }
    return out;
}

// "deny read sessions [path:/a subtree:/b]; ..." for the whole policy.
std::string policy_text(const KernelPolicy& policy) {
    std::string out;
    for (const auto& p : policy.files) {
        if (!out.empty()) out += "; ";
        out += p.verdict == KernelVerdict::kDeny ? "deny" : p.verdict == KernelVerdict::kAsk ? "ask" : "audit";
        out += " " + ops_text(p.ops) + " ";
        out += p.scope == KernelScope::kHost ? "host" : p.scope == KernelScope::kSessions ? "sessions" : "agent=" + p.agent;
        out += " [";
        for (size_t i = 0; i < p.targets.size(); ++i) {
            const auto& t = p.targets[i];
            out += (i ? " " : "") + std::string(t.kind == TargetKind::kPath      ? "path:"
                                                : t.kind == TargetKind::kSubtree ? "subtree:"
                                                : t.kind == TargetKind::kPattern ? "pattern:"
                                                : t.kind == TargetKind::kInode   ? "inode:"
                                                                                 : "other-workspaces") +
                   t.target;
        }
        out += "]";
    }
    return out;
}

struct AcceptCase {
    const char* condition;
    const char* action;
    const char* policy;
};

TEST(KernelCompilerTest, Accepts) {
    const AcceptCase cases[] = {
        {"open_read and fd.name = /etc/shadow", "block", "deny read host [path:/etc/shadow]"},
        {"open_write and agent_session and fd.name = /etc/shadow", "block", "deny write sessions [path:/etc/shadow]"},
        {"open_read and agent.name = claude and fd.name = /x", "ask", "ask read agent=claude [path:/x]"},
        {"open_read and agent_session and agent.name = codex and fd.name = /x", "block",
         "deny read agent=codex [path:/x]"},
        {"evt.type in (open, openat, openat2) and fd.name = /x", "block", "deny read|write host [path:/x]"},
        {"evt.type = openat and evt.is_open_read=true and fd.name = /x", "block", "deny read host [path:/x]"},
        {"evt.type in (rename, renameat, renameat2) and fd.name = /x", "block", "deny rename host [path:/x]"},
        {"evt.type in (link, linkat) and fd.name = /x", "block", "deny link host [path:/x]"},
        {"evt.type in (unlink, unlinkat, rmdir) and fd.name = /x", "block", "deny unlink host [path:/x]"},
        {"evt.type in (creat, mkdir, mknod, symlink) and fd.name = /x", "block", "deny create host [path:/x]"},
        {"evt.type in (chmod, fchmod, fchmodat, chown, fchown, fchownat, lchown) and fd.name = /x", "block",
         "deny setattr host [path:/x]"},
        {"evt.type in (truncate, ftruncate) and fd.name = /x", "block", "deny write host [path:/x]"},
        {"evt.type = mmap and fd.name = /x", "block", "deny mmap host [path:/x]"},
        // An exec's object is its program, by proc.exepath (Falco's) or fd.name.
        {"evt.type in (execve, execveat) and agent_session and proc.exepath = /usr/bin/su", "block",
         "deny exec sessions [path:/usr/bin/su]"},
        {"evt.type = execve and proc.exepath in (/usr/bin/sudo, /bin/su)", "block",
         "deny exec host [path:/usr/bin/sudo path:/bin/su]"},
        {"evt.type = execve and proc.exepath startswith /tmp/", "block", "deny exec host [subtree:/tmp]"},
        {"evt.type = execve and proc.exepath glob ~/bin/*", "ask", "ask exec host [pattern:~/bin/*]"},
        {"evt.type = execve and fd.name = /usr/bin/nc", "block", "deny exec host [path:/usr/bin/nc]"},
        // fd.dev with fd.ino: one object by number, as events report them.
        {"open_read and fd.ino = 1234 and fd.dev = 2049", "block", "deny read host [inode:2049:1234]"},
        {"evt.type = unlink and fd.dev = 0 and fd.ino in (5, 006)", "block", "deny unlink host [inode:0:5 inode:0:6]"},
        {"(evt.type = execve and proc.exepath = /a) or (open_read and fd.name = /a)", "block",
         "deny read|exec host [path:/a]"},
        {"open_read and fd.name in (secrets)", "block", "deny read host [path:/etc/shadow path:~/.netrc]"},
        {"open_read and fd.name in (/a, /b)", "block", "deny read host [path:/a path:/b]"},
        {"open_read and fd.name startswith /etc/ssh/", "block", "deny read host [subtree:/etc/ssh]"},
        {"open_read and fd.directory = /etc/sudoers.d", "block", "deny read host [subtree:/etc/sudoers.d]"},
        {"open_read and fd.directory in (/etc/pam.d, /etc/sudoers.d/)", "block",
         "deny read host [subtree:/etc/pam.d subtree:/etc/sudoers.d]"},
        {"open_read and fd.name pmatch (~/.aws, /srv/keys/)", "block", "deny read host [subtree:~/.aws subtree:/srv/keys]"},
        {"open_read and fd.filename = .env", "block", "deny read host [pattern:**/.env]"},
        {"open_read and fd.name glob /etc/shadow", "block", "deny read host [path:/etc/shadow]"},
        {"open_read and fd.name glob ~/.aws/**", "block", "deny read host [subtree:~/.aws]"},
        {"open_read and fd.name glob ~/.ssh/id_*", "block", "deny read host [pattern:~/.ssh/id_*]"},
        {"open_read and fd.name glob **/.env", "block", "deny read host [pattern:**/.env]"},
        // Only sessions have a workspace to tell apart from the others'.
        {"open_read and fd.in_other_workspace = true", "block", "deny read sessions [other-workspaces]"},
        {"open_read and agent.name = codex and fd.in_other_workspace = true", "block",
         "deny read agent=codex [other-workspaces]"},
        {"open_read and fd.name glob **/.git/hooks/*", "block", "deny read host [pattern:**/.git/hooks/*]"},
        // Several alternatives: same ops merge their targets...
        {"open_read and (fd.name = /a or fd.name glob /b/*)", "block", "deny read host [path:/a pattern:/b/*]"},
        // ...and one target under several operations gets their union.
        {"(open_read or evt.type in (rename, unlink)) and fd.name = /a", "block",
         "deny read|rename|unlink host [path:/a]"},
        // Different operations on different targets stay apart.
        {"(open_read and fd.name = /a) or (open_write and fd.name = /b)", "block",
         "deny read host [path:/a]; deny write host [path:/b]"},
        {"(open_read and fd.name = /a) or (agent_session and open_read and fd.name = /a)", "block",
         "deny read host [path:/a]; deny read sessions [path:/a]"},
        {"evt.dir = < and open_read and fd.name = /a", "block", "deny read host [path:/a]"},
        // A Unix socket bound at a path is a file object: its connects are
        // the file guard's, by the socket's inode, not the net guard's.
        {"evt.type = connect and fd.typechar = u and agent_session and fd.name = /run/docker.sock", "block",
         "deny connect sessions [path:/run/docker.sock]"},
        {"evt.type in (connect, sendto, sendmsg) and fd.typechar in (u) and fd.name in (/run/a.sock, /run/b.sock)",
         "block", "deny connect host [path:/run/a.sock path:/run/b.sock]"},
        // Audit rules that compile are emitted with the audit verdict; so are
        // kill and promote (the kernel event feeds the userspace action).
        {"open_read and fd.name = /a", "audit", "audit read host [path:/a]"},
        {"open_read and fd.name = /a", "kill", "audit read host [path:/a]"},
        {"open_read and fd.name = /a", "promote", "audit read host [path:/a]"},
        // Audit rules that do not compile are userspace rules: nothing emitted.
        {"open_read and proc.name = cat", "audit", ""},
        {"open_read and not fd.name = /a", "promote", ""},
    };
    for (const auto& c : cases) {
        auto loaded = load_rule_sources({{"k.yaml", rule_yaml(c.condition, c.action)}});
        ASSERT_TRUE(loaded.ok()) << c.condition << ": " << loaded.error().to_string();
        auto compiled = compile_kernel_policy(*loaded);
        ASSERT_TRUE(compiled.ok()) << c.condition << ": " << compiled.error().to_string();
        EXPECT_EQ(policy_text(compiled->policy), c.policy) << c.condition;
        for (const auto& p : compiled->policy.files) {
            EXPECT_EQ(p.rule, "R");
            EXPECT_EQ(p.file, "k.yaml");
            EXPECT_EQ(p.line, 10);
            EXPECT_EQ(p.priority, "Critical");
            EXPECT_EQ(p.risk, 7);
        }
    }
}

struct RejectCase {
    const char* condition;
    const char* reason;  // the message after "cannot be enforced in the kernel: "
};

TEST(KernelCompilerTest, RejectsWhatTheKernelCannotCheck) {
    const RejectCase cases[] = {
        {"open_read and fd.name = /a and proc.cmdline contains x",
         "'proc.cmdline contains x' is not a kernel check (the kernel checks only evt.type, evt.is_open_read, "
         "evt.is_open_write, fd.name, fd.directory, fd.filename, fd.in_other_workspace, fd.ino with fd.dev, fd.typechar (f, u), proc.exepath (of an exec), agent.session and agent.name)"},
        {"open_read and fd.name = /a and not proc.name = ssh",
         "'not proc.name = ssh' is a negation; the kernel cannot check 'not'"},
        {"open_read and fd.ino = 1234",
         "'fd.ino = 1234' names an inode on any device; pair it with fd.dev = N (the device number as bulkhead's "
         "events report it)"},
        {"open_read and fd.dev = 2049", "'fd.dev = 2049' names a whole device; the kernel protects objects (add fd.ino)"},
        {"open_read and fd.ino = 0 and fd.dev = 1", "'fd.ino = 0' names '0', which is not an inode number"},
        {"open_read and fd.ino = 5 and fd.dev in (1, 2)",
         "'fd.dev in (1, 2)' names several devices; the kernel pairs one device with the inodes"},
        {"open_read and fd.name = /a and fd.ino = 5 and fd.dev = 1",
         "'fd.name = /a' and 'fd.ino = 5' both constrain the file; the kernel matches one object per alternative"},
        {"open_read and fd.ino = 5 and fd.dev = 1 and fd.ino = 6",
         "'fd.ino = 5' and 'fd.ino = 6' both constrain the file; the kernel matches one object per alternative"},
        {"evt.type = clone and fd.name = /a",
         "'evt.type = clone' names evt.type 'clone', which is not a file operation the kernel guards"},
        // proc.exepath is the program only for an exec; elsewhere it is the
        // process that acts. proc.name is a name the process chose.
        {"open_read and proc.exepath = /usr/bin/cat",
         "'proc.exepath = /usr/bin/cat' names the program of an exec; with other operations it is the process "
         "doing them, which the kernel does not match (use evt.type in (execve, execveat) alone, or fd.name for "
         "the file)"},
        {"evt.type in (execve, openat) and proc.exepath = /usr/bin/su",
         "'proc.exepath = /usr/bin/su' names the program of an exec; with other operations it is the process "
         "doing them, which the kernel does not match (use evt.type in (execve, execveat) alone, or fd.name for "
         "the file)"},
        {"evt.type = execve and proc.name = sudo",
         "'proc.name = sudo' is not a kernel check (the kernel checks only evt.type, evt.is_open_read, "
         "evt.is_open_write, fd.name, fd.directory, fd.filename, fd.in_other_workspace, fd.ino with fd.dev, "
         "fd.typechar (f, u), proc.exepath (of an exec), agent.session and agent.name)"},
        {"evt.type = execve and proc.exepath startswith /tmp",
         "'proc.exepath startswith /tmp' is a string prefix, not a directory; the kernel matches whole directories "
         "(end the prefix with '/')"},
        {"evt.type = execve and proc.exepath = bin/su",
         "'proc.exepath = bin/su' names 'bin/su', which is neither absolute nor under '~/'"},
        {"open_read and fd.name contains .ssh",
         "'fd.name contains .ssh' is not a kernel check (the kernel checks only evt.type, evt.is_open_read, "
         "evt.is_open_write, fd.name, fd.directory, fd.filename, fd.in_other_workspace, fd.ino with fd.dev, fd.typechar (f, u), proc.exepath (of an exec), agent.session and agent.name)"},
        {"open_read and fd.name startswith /etc/pass",
         "'fd.name startswith /etc/pass' is a string prefix, not a directory; the kernel matches whole directories "
         "(end the prefix with '/')"},
        {"open_read and fd.name = relative/path",
         "'fd.name = relative/path' names 'relative/path', which is neither absolute nor under '~/'"},
        {"open_read and fd.name = /a/../etc/shadow",
         "'fd.name = /a/../etc/shadow' names '/a/../etc/shadow', which has a '..' component (write the path the "
         "resolver should protect)"},
        {"open_read and fd.name glob ~/.ssh/*id*",
         "'fd.name glob ~/.ssh/*id*' has the component '*id*' with two '*'; the kernel allows one per component"},
        {"open_read and fd.name glob ~/**/.env",
         "'fd.name glob ~/**/.env' has '**' in the middle; the kernel matches '**' only at the start ('**/name') "
         "or as the whole last component ('/dir/**')"},
        {"open_read and fd.name glob /a/**/b/**",
         "'fd.name glob /a/**/b/**' has '**' in the middle; the kernel matches '**' only at the start ('**/name') "
         "or as the whole last component ('/dir/**')"},
        {"open_read and fd.name glob /etc/shado?",
         "'fd.name glob /etc/shado?' uses '?', '[...]', '{...}' or '\\'; the kernel matches only '*' and a leading '**/'"},
        {"open_read and fd.name glob *.pem", "'fd.name glob *.pem' is a relative pattern; start it with '/', '~/' or '**/'"},
        {"open_read and fd.name glob /a/x**",
         "'fd.name glob /a/x**' has the component 'x**'; '**' must be a whole component"},
        {"open_read and fd.in_other_workspace = false",
         "'fd.in_other_workspace = false' is a negation; the kernel protects the other sessions' workspaces, not the "
         "rest of the host"},
        {"open_read and fd.name glob **/*/.ssh/id_rsa",
         "'fd.name glob **/*/.ssh/id_rsa' has '*' in the directory component '*' after '**/'; there a directory name "
         "must be literal"},
        {"open_read and fd.name glob /run/user/*/**/x",
         "'fd.name glob /run/user/*/**/x' has '**' in the middle; the kernel matches '**' only at the start ('**/name') "
         "or as the whole last component ('/dir/**')"},
        {"open_read and fd.name iglob /a", "'fd.name iglob /a' is not a kernel check (the kernel checks only evt.type, "
                                           "evt.is_open_read, evt.is_open_write, fd.name, fd.directory, fd.filename, "
                                           "fd.in_other_workspace, fd.ino with fd.dev, fd.typechar (f, u), proc.exepath (of an exec), agent.session and agent.name)"},
        {"open_read and fd.name pmatch (/a/*)",
         "'fd.name pmatch (/a/*)' has the wildcard item '/a/*'; the kernel matches pmatch prefixes only without "
         "wildcards (use glob)"},
        {"open_read and tolower(fd.name) = /a",
         "'tolower(fd.name) = /a' is not a kernel check (transformers and field arguments are userspace only)"},
        {"open_read and fd.name = val(fd.directory)",
         "'fd.name = val(fd.directory)' is not a kernel check (comparing two fields is userspace only)"},
        {"fd.name = /a", "'fd.name = /a' names no operation (add evt.type in (...), open_read or open_write)"},
        {"open_read and agent_session",
         "'evt.type in (open, openat, openat2) and evt.is_open_read = true and fd.typechar = f and fd.num >= 0 and "
         "agent.session exists' names no file (add fd.name, fd.directory or fd.filename)"},
        {"open_read and fd.name = /a and fd.name = /b",
         "'fd.name = /a' and 'fd.name = /b' both constrain the file; the kernel matches one object per alternative"},
        {"open_read and open_write and fd.name = /a",
         "'evt.type in (open, openat, openat2) and evt.is_open_read = true and fd.typechar = f and fd.num >= 0 and "
         "evt.type in (open, openat, openat2) and evt.is_open_write = true and fd.typechar = f and fd.num >= 0 and "
         "fd.name = /a' asks for operations that have nothing in common"},
        {"open_read and agent.name = a and agent.name = b and fd.name = /x",
         "'agent.name = a' and 'agent.name = b' name two agents; no session can match both"},
        {"open_read and evt.is_open_read = false and fd.name = /x",
         "'evt.is_open_read = false' is not a kernel check (the kernel checks only evt.type, evt.is_open_read, "
         "evt.is_open_write, fd.name, fd.directory, fd.filename, fd.in_other_workspace, fd.ino with fd.dev, fd.typechar (f, u), proc.exepath (of an exec), agent.session and agent.name)"},
    };
    for (const auto& c : cases) {
        for (const char* action : {"block", "ask"}) {
            auto loaded = load_rule_sources({{"k.yaml", rule_yaml(c.condition, action)}});
            ASSERT_FALSE(loaded.ok()) << c.condition;
            EXPECT_EQ(loaded.error().to_string(), std::string("k.yaml:10:3: rules: rule 'R' (action ") + action +
                                                      ") cannot be enforced in the kernel: " + c.reason)
                << c.condition;
        }
    }
}

// The same rules as audit load fine and are reported as userspace rules.
TEST(KernelCompilerTest, ReportsPlacement) {
    auto loaded = load_rule_sources({{"k.yaml", std::string(kPrelude) + R"(
- rule: Kernel
  desc: d
  output: o
  priority: info
  action: block
  condition: open_read and fd.name = /a
- rule: Userspace
  desc: d
  output: o
  priority: info
  condition: open_read and proc.name = cat
- rule: Off
  desc: d
  output: o
  priority: info
  action: block
  enabled: false
  condition: proc.name = cat
- rule: Cloud
  desc: d
  output: o
  priority: info
  source: aws_cloudtrail
  condition: ct.name = x
)"}});
    ASSERT_TRUE(loaded.ok()) << loaded.error().to_string();
    KernelCompilation out = analyze_kernel_policy(*loaded);
    ASSERT_EQ(out.report.size(), 4u);
    EXPECT_EQ(out.report[0].placement, Placement::kKernel);
    EXPECT_EQ(out.report[1].placement, Placement::kUserspace);
    EXPECT_EQ(out.report[1].reason,
              "'proc.name = cat' is not a kernel check (the kernel checks only evt.type, evt.is_open_read, "
              "evt.is_open_write, fd.name, fd.directory, fd.filename, fd.in_other_workspace, fd.ino with fd.dev, fd.typechar (f, u), proc.exepath (of an exec), agent.session and agent.name)");
    EXPECT_EQ(out.report[2].placement, Placement::kDisabled);
    EXPECT_EQ(out.report[3].placement, Placement::kUserspace);
    EXPECT_EQ(out.report[3].reason, "source 'aws_cloudtrail' is not seen by the kernel file guard");
    EXPECT_EQ(out.report[1].location.to_string(), "k.yaml:17:3");
}

// Alternatives grow multiplicatively; the pass stops at a bound.
TEST(KernelCompilerTest, BoundsAlternatives) {
    std::string condition = "open_read";
    for (int i = 0; i < 13; ++i) condition += " and (fd.name = /a" + std::to_string(i) + " or fd.name = /b)";
    auto loaded = load_rule_sources({{"k.yaml", rule_yaml(condition, "audit")}});
    ASSERT_TRUE(loaded.ok());
    auto alternatives = kernel_alternatives(*loaded->rules[0].expr);
    ASSERT_FALSE(alternatives.ok());
    EXPECT_EQ(alternatives.error().message,
              "the condition has more than 4096 alternatives once in disjunctive normal form");
}

struct GlobCase {
    const char* glob;
    TargetKind kind;
    const char* target;
};

TEST(KernelCompilerTest, ClassifiesGlobs) {
    const GlobCase cases[] = {
        {"/etc/shadow", TargetKind::kPath, "/etc/shadow"},
        {"~/.aws/**", TargetKind::kSubtree, "~/.aws"},
        {"~/.ssh/id_*", TargetKind::kPattern, "~/.ssh/id_*"},
        {"**/.mcp.json", TargetKind::kPattern, "**/.mcp.json"},
        {"**/*.pem", TargetKind::kPattern, "**/*.pem"},
        {"/home/dev/.ssh/*", TargetKind::kPattern, "/home/dev/.ssh/*"},
        // '*' in directories: the planner expands them over what exists.
        {"/run/user/*/systemd/private", TargetKind::kPattern, "/run/user/*/systemd/private"},
        {"/home/*/.ssh/*_key", TargetKind::kPattern, "/home/*/.ssh/*_key"},
        {"/run/user/*/systemd/**", TargetKind::kSubtree, "/run/user/*/systemd"},
        {"/srv/*/**", TargetKind::kSubtree, "/srv/*"},
    };
    for (const auto& c : cases) {
        auto target = classify_glob(c.glob);
        ASSERT_TRUE(target.ok()) << c.glob << ": " << target.error().message;
        EXPECT_EQ(target->kind, c.kind) << c.glob;
        EXPECT_EQ(target->target, c.target) << c.glob;
    }
    // A subtree's root is checked like any other glob.
    auto bad_root = classify_glob("/run/user/*x*/**");
    ASSERT_FALSE(bad_root.ok());
    EXPECT_EQ(bad_root.error().message, "has the component '*x*' with two '*'; the kernel allows one per component");
    // Everything on the host is not a protection, it is an outage.
    auto everything = classify_glob("/**");
    ASSERT_FALSE(everything.ok());
    EXPECT_EQ(everything.error().message, "is '**' alone, which matches every file");
}

}  // namespace
}  // namespace bulkhead::rules

namespace bulkhead::rules {
namespace {

NetProtection egress(const std::string& condition, const std::string& action = "block") {
    auto loaded = load_rule_sources({{"k.yaml", rule_yaml(condition, action)}});
    EXPECT_TRUE(loaded.ok()) << condition << ": " << loaded.error().to_string();
    auto compiled = compile_kernel_policy(*loaded);
    EXPECT_TRUE(compiled.ok()) << condition << ": " << compiled.error().to_string();
    EXPECT_EQ(compiled->policy.net.size(), 1u) << condition;
    EXPECT_TRUE(compiled->policy.files.empty()) << condition;
    return compiled->policy.net.empty() ? NetProtection{} : compiled->policy.net[0];
}

TEST(KernelCompilerTest, CompilesEgressRules) {
    auto deny = egress("evt.type in (connect, sendto) and agent_session and fd.sip in (169.254.169.254, \"fd00::/8\")");
    EXPECT_EQ(deny.ops, kNetConnect | kNetSend);
    EXPECT_EQ(deny.addr_term, NetTerm::kIn);
    EXPECT_EQ(deny.cidrs, (std::vector<std::string>{"169.254.169.254", "fd00::/8"}));
    EXPECT_EQ(deny.port_term, NetTerm::kAny);
    EXPECT_EQ(deny.verdict, KernelVerdict::kDeny);
    EXPECT_EQ(deny.risk, 7);

    // An allow list: everything but these addresses, names and ports.
    auto allow = egress("evt.type = connect and agent.name = claude and not (fd.snet in (\"10.0.0.0/8\") or "
                        "fd.sip.name in (github.com)) and not fd.sport in (443, 22) and fd.l4proto = tcp");
    EXPECT_EQ(allow.scope, KernelScope::kAgent);
    EXPECT_EQ(allow.agent, "claude");
    EXPECT_EQ(allow.addr_term, NetTerm::kNotIn);
    EXPECT_EQ(allow.cidrs, (std::vector<std::string>{"10.0.0.0/8"}));
    EXPECT_EQ(allow.hosts, (std::vector<std::string>{"github.com"}));
    EXPECT_EQ(allow.port_term, NetTerm::kNotIn);
    EXPECT_EQ(allow.ports, (std::vector<uint16_t>{443, 22}));
    EXPECT_EQ(allow.protos, kProtoTcp);

    auto tainted = egress("evt.type = connect and agent_session and agent.tainted = true and fd.rport != 53", "audit");
    EXPECT_TRUE(tainted.tainted_only);
    EXPECT_EQ(tainted.port_term, NetTerm::kNotIn);
    EXPECT_EQ(tainted.ports, (std::vector<uint16_t>{53}));
    EXPECT_EQ(tainted.verdict, KernelVerdict::kAudit);
}

TEST(KernelCompilerTest, RejectsEgressTheNetGuardCannotCheck) {
    const RejectCase cases[] = {
        {"evt.type = connect and agent_session and proc.name = curl",
         "'proc.name = curl' is not a kernel check (the net guard checks only evt.type, fd.sip, fd.rip, fd.ip, "
         "fd.net, fd.snet, fd.sip.name, fd.sport, fd.rport, fd.l4proto, fd.typechar, agent.session, agent.name "
         "and agent.tainted)"},
        {"evt.type = connect and fd.sip = 10.0.0.1",
         "'evt.type = connect and fd.sip = 10.0.0.1' is not scoped to agent sessions; the net guard judges "
         "session traffic only (add 'agent.session exists' or 'agent.name = X')"},
        {"evt.type in (connect, openat) and agent_session", "'evt.type in (connect, openat)' names evt.type 'openat', "
                                                             "which the net guard does not see"},
        {"evt.type = connect and agent_session and fd.sip = 10.0.0.1 and fd.rip = 10.0.0.2",
         "'fd.sip = 10.0.0.1' and 'fd.rip = 10.0.0.2' both constrain the address; the net guard holds one set of "
         "each per rule"},
        {"evt.type = connect and agent_session and fd.sport = 70000",
         "'fd.sport = 70000' names the port '70000', which is not a number from 0 to 65535"},
    };
    for (const auto& c : cases) {
        // Loading runs the kernel compiler: a block rule it cannot enforce
        // fails the load.
        auto loaded = load_rule_sources({{"k.yaml", rule_yaml(c.condition, "block")}});
        ASSERT_FALSE(loaded.ok()) << c.condition;
        EXPECT_EQ(loaded.error().message,
                  std::string("rules: rule 'R' (action block) cannot be enforced in the kernel: ") + c.reason)
            << c.condition;
    }
    // A host name where an address belongs fails type checking first.
    auto host = load_rule_sources({{"k.yaml", rule_yaml("evt.type = connect and agent_session and fd.sip = example.com",
                                                        "block")}});
    ASSERT_FALSE(host.ok());
    EXPECT_EQ(host.error().message, "rules: rule 'R': 'fd.sip = example.com': 'example.com' is not an IP address or "
                                    "CIDR network");
    // Audit rules the net guard cannot check stay userspace rules.
    auto loaded = load_rule_sources({{"k.yaml", rule_yaml("evt.type = connect and agent_session and proc.name = curl",
                                                          "audit")}});
    ASSERT_TRUE(loaded.ok());
    auto compiled = compile_kernel_policy(*loaded);
    ASSERT_TRUE(compiled.ok());
    EXPECT_TRUE(compiled->policy.net.empty());
    EXPECT_EQ(compiled->report[0].placement, Placement::kUserspace);
}

}  // namespace
}  // namespace bulkhead::rules
