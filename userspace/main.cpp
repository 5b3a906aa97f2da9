// SPDX-License-Identifier: Apache-2.0
// bulkhead: kernel-level containment for AI coding agents. This file only
// parses the command line and calls the libraries the tests also link.
#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <charconv>
#include <iostream>

#include "commands.h"
#include "config/config.h"
#include "daemon/daemon.h"
#include "doctor/doctor.h"
#include "error.h"
#include "guards/loader.h"
#include "rules_tool.h"
#include "session/run.h"
#include "vmguard/vm.h"

using namespace bulkhead;

int main(int argc, char** argv) {
    CLI::App app{"bulkhead: stops AI coding agents in the kernel before they touch your secrets.\n"
                 "Start with `bulkhead doctor` to see what this host can enforce."};
    app.require_subcommand(1);
    std::string socket = "/run/bulkhead/control.sock";
    app.add_option("--socket", socket, "Control socket of the daemon")->capture_default_str();

    auto* version = app.add_subcommand("version", "Print the version and the BPF ABI version");

    auto* doctor = app.add_subcommand(
        "doctor",
        "Report the enforcement level this host supports and why.\n"
        "  Example: bulkhead doctor");

    std::string config_path;
    std::vector<std::string> rules;
    bool with_default_rules = false, replace = false, quiet = false;
    std::string events_log;
    auto* daemon = app.add_subcommand(
        "daemon",
        "Load the BPF guards and the rules, track sessions, publish events.\n"
        "  Enforcement outlives the daemon: programs stay pinned under /sys/fs/bpf/bulkhead,\n"
        "  and a restarted daemon adopts them. SIGHUP reloads the rules (all or nothing).\n"
        "  Example: bulkhead daemon --events-log /var/log/bulkhead/events.jsonl");
    daemon->add_option("--config", config_path, "Daemon configuration (YAML)");
    daemon->add_option("--rules", rules, "Rule file (repeatable); replaces the shipped agents.yaml");
    daemon->add_flag("--with-default-rules", with_default_rules,
                     "Load the shipped agents.yaml before the --rules files");
    daemon->add_option("--events-log", events_log, "Append events as Falco-style JSON lines");
    std::string daemon_hook_socket;
    daemon->add_option("--hook-socket", daemon_hook_socket,
                       "Socket the agents' hooks report tool calls on (default /run/bulkhead/hook.sock)");
    daemon->add_flag("--replace", replace, "Load fresh programs even if pinned ones exist");
    daemon->add_flag("--quiet", quiet, "Do not print events on standard output");

    std::string agent = "generic", workspace, run_level = "auto", run_config;
    std::vector<std::string> command;
    auto* run = app.add_subcommand(
        "run",
        "Run a command as a new agent session. Every process it starts, even after setsid\n"
        "  or a double fork, stays in the session. At bpf-lsm the daemon's guards enforce (a\n"
        "  cgroup v2 leaf per session); at landlock+seccomp `run` sandboxes the session itself\n"
        "  (no root, no daemon needed) and prints what the level does not enforce.\n"
        "  Example: bulkhead run --agent claude -- claude -p 'fix the tests'");
    run->add_option("--agent", agent, "Agent kind, used by agent-scoped rules")->capture_default_str();
    run->add_option("--workspace", workspace, "Working directory (default: the current one)");
    run->add_option("--level", run_level,
                    "auto (the strongest this host has), bpf-lsm, landlock or observe (nothing\n"
                    "  enforced); a level that is asked for and missing is an error")
        ->check(CLI::IsMember({"auto", "bpf-lsm", "landlock", "observe"}))
        ->capture_default_str();
    run->add_option("--config", run_config,
                    "Configuration whose rules landlock+seccomp applies (default: the shipped rules)");
    std::string isolate;
    run->add_option("--isolate", isolate,
                    "vm: run the command in a microVM from the start (needs the daemon): the workspace is\n"
                    "  read-only to it, no host secrets, no network; review with `bulkhead vm diff ID`")
        ->check(CLI::IsMember({"vm"}));
    run->add_option("command", command, "The command and its arguments, after --")->required();

    bool follow = false, as_json = false;
    std::optional<std::string> session_filter;
    auto* events = app.add_subcommand(
        "events",
        "Print recent events from the daemon; -f keeps following.\n"
        "  Example: bulkhead events -f --json | jq .rule");
    events->add_flag("-f,--follow", follow, "Keep printing new events");
    events->add_flag("--json", as_json, "Falco-style JSON lines instead of text");
    events->add_option("--session", session_filter, "Only this session's events");
    commands::GrpcEventsOptions grpc;
    events->add_option("--grpc", grpc.address,
                       "Follow the daemon's gRPC sink instead of its control socket\n"
                       "  (unix:/run/bulkhead/grpc.sock or HOST:PORT; TLS with --ca, mTLS with --cert/--key)");
    events->add_option("--ca", grpc.ca, "CA of the gRPC server's certificate (TLS)");
    events->add_option("--cert", grpc.cert, "Client certificate (mTLS)");
    events->add_option("--key", grpc.key, "Client key (mTLS)");
    events->add_option("--server-name", grpc.server_name, "TLS name to verify instead of HOST");
    events->add_option("--min-priority", grpc.min_priority, "gRPC: only this priority and above (Warning, ...)");
    events->add_option("--rule", grpc.rules, "gRPC: only these rules (repeatable)");
    events->add_option("--verdict", grpc.verdicts, "gRPC: only these verdicts: deny, audit, allow, ask");
    events->add_flag("--alerts-only", grpc.alerts_only, "gRPC: only events a rule fired on");

    std::string audit_log, audit_key, audit_checkpoint;
    bool audit_json = false;
    auto* audit = app.add_subcommand("audit", "The tamper-evident audit log");
    auto* verify = audit->add_subcommand(
        "verify",
        "Check the audit log's hash chain and Ed25519 signatures. Reports the first broken,\n"
        "  missing or reordered record by line and sequence number. A cut tail shows only against\n"
        "  a checkpoint your SIEM received (rule 'bulkhead audit checkpoint', detail SEQ:HASH).\n"
        "  Example: bulkhead audit verify /var/lib/bulkhead/audit/audit.jsonl --checkpoint 1200:9f2c...");
    verify->add_option("file", audit_log, "The audit log")->required();
    verify->add_option("--key", audit_key, "Public key (default: audit.pub beside the log)");
    verify->add_option("--checkpoint", audit_checkpoint, "SEQ:HASH the log must still contain");
    verify->add_flag("--json", audit_json, "Machine-readable report");
    audit->require_subcommand(1);

    auto* status = app.add_subcommand("status", "Is the daemon running, at which level, adopted or fresh");
    status->add_flag("--json", as_json, "Machine-readable output");

    auto* sessions = app.add_subcommand(
        "sessions", "List agent sessions: agent, user, start, level, state, risk, denied/audited counts");
    sessions->add_flag("--json", as_json, "Machine-readable output");
    std::string session_id;
    auto* sessions_show = sessions->add_subcommand(
        "show",
        "Tell a session's story: each tool call the agent's hooks reported, what the kernel did under it,\n"
        "  and how the risk moved. Example: bulkhead sessions show 1790000000000001");
    sessions_show->add_option("id", session_id, "The session's id (from `bulkhead sessions`)")->required();
    sessions_show->add_flag("--json", as_json, "Machine-readable output");
    auto* sessions_thaw = sessions->add_subcommand(
        "thaw", "Resume a session a risk threshold froze (root or the session's owner)");
    sessions_thaw->add_option("id", session_id, "The session's id")->required();
    auto* sessions_promote = sessions->add_subcommand(
        "promote",
        "Move a session into a microVM now: it is frozen, its workspace is shared read-only with a VM,\n"
        "  and (with bulkhead's hooks) its shell commands run there. Example: bulkhead sessions promote 17900...");
    sessions_promote->add_option("id", session_id, "The session's id")->required();

    auto* vm = app.add_subcommand(
        "vm",
        "microVMs of promoted sessions: QEMU microvm, no host secrets, no network, changes held for review");
    vm->require_subcommand(1);
    std::string vm_assets = "/var/lib/bulkhead/vm", kernel_tree;
    auto* vm_prepare = vm->add_subcommand(
        "prepare",
        "Unpack Debian's kernel package (apt-get download, never installed) and build the guest image.\n"
        "  Run once before the daemon promotes sessions. Example: bulkhead vm prepare");
    vm_prepare->add_option("--assets", vm_assets, "Where the kernel and image go (config vm.assets)")
        ->capture_default_str();
    vm_prepare->add_option("--kernel-tree", kernel_tree, "Use this unpacked linux-image package instead of fetching one");
    std::vector<std::string> vm_command;
    auto* vm_exec = vm->add_subcommand(
        "exec",
        "Run a command in a promoted session's VM, in the same directory; exits with its status\n"
        "  (124: wall time ran out). The agent's hooks route shell tool calls through this.\n"
        "  Example: bulkhead vm exec --session 17900... -- make test");
    vm_exec->add_option("--session", session_id, "The session's id")->required();
    vm_exec->add_option("command", vm_command, "The command (after --)")->required();
    auto* vm_diff = vm->add_subcommand("diff", "What the session changed in its VM's copy of the workspace");
    vm_diff->add_option("id", session_id, "The session's id")->required();
    vm_diff->add_flag("--json", as_json, "Machine-readable output");
    std::vector<std::string> apply_paths;
    bool allow_protected = false;
    auto* vm_apply = vm->add_subcommand(
        "apply",
        "Bring reviewed changes back to the host workspace. Git hooks, agent and MCP configs, CI\n"
        "  workflows and agent instruction files are refused unless named with --allow-protected.\n"
        "  Example: bulkhead vm apply 17900... --paths src/ README.md");
    vm_apply->add_option("id", session_id, "The session's id")->required();
    vm_apply->add_option("--paths", apply_paths, "Only these paths (and what lies below them)");
    vm_apply->add_flag("--allow-protected", allow_protected, "Apply protected paths too (after review)");
    auto* vm_discard = vm->add_subcommand("discard", "Stop the session's VM and drop its changes");
    vm_discard->add_option("id", session_id, "The session's id")->required();
    auto* vm_supervise = app.add_subcommand("vm-supervise", "Internal: owns one QEMU process (see vmguard/vm.h)");
    vm_supervise->group("");
    vm_supervise->prefix_command();

    std::string hook_agent, hook_socket = "/run/bulkhead/hook.sock", unreachable = "deny-writes";
    auto* hook = app.add_subcommand(
        "hook",
        "The hook handler an agent runs around each tool call (stdin: the agent's JSON; stdout: its answer).\n"
        "  Denies calls that block rules forbid, with the rule, so the model can act on it; tags the\n"
        "  kernel events the call causes with its tool_use_id; afterwards feeds back what the kernel denied.\n"
        "  Installed by `bulkhead install-hooks`; you do not run it by hand.");
    hook->add_option("agent", hook_agent, "claude-code, codex or gemini")->required();
    hook->add_option("--hook-socket", hook_socket, "The daemon's hook socket")->capture_default_str();
    hook->add_option("--unreachable", unreachable,
                     "No daemon: deny-writes (deny shell, write and MCP tools), deny (every tool) or allow")
        ->capture_default_str();

    commands::InstallHooksOptions install{"", "user", "", "/run/bulkhead/hook.sock", "deny-writes", false};
    auto* install_hooks = app.add_subcommand(
        "install-hooks",
        "Add bulkhead's hook to an agent's settings (keeps every other hook, backs the file up first,\n"
        "  idempotent). Example: bulkhead install-hooks --agent claude-code\n"
        "  Undo: bulkhead install-hooks --agent claude-code --uninstall");
    install_hooks->add_option("--agent", install.agent, "claude-code, codex or gemini")->required();
    install_hooks->add_option("--scope", install.scope,
                              "user (~/.claude/settings.json ...), project (.claude/settings.json in --project)\n"
                              "or managed (/etc/claude-code/managed-settings.json, org policy)")
        ->capture_default_str();
    install_hooks->add_option("--project", install.project_dir, "The project for --scope project (default: .)");
    install_hooks->add_option("--hook-socket", install.hook_socket, "The hook socket the handler will use")
        ->capture_default_str();
    install_hooks->add_option("--unreachable", install.unreachable, "The handler's policy when no daemon answers")
        ->capture_default_str();
    install_hooks->add_flag("--uninstall", install.uninstall, "Remove bulkhead's hook instead");

    std::string ask_id;
    bool for_session = false;
    auto* approve = app.add_subcommand(
        "approve",
        "Let a held operation of a rule with `action: ask` proceed. IDs are in `bulkhead sessions`\n"
        "  and in the events. Root or the session's owner may answer, never a process inside a session.\n"
        "  Example: bulkhead approve a3 --session");
    auto* deny = app.add_subcommand("deny",
                                    "Refuse a held `ask` operation: it fails with EPERM. Example: bulkhead deny a3");
    for (auto* cmd : {approve, deny}) {
        cmd->add_option("id", ask_id, "The request's id (a1, a2, ...)")->required();
        cmd->add_flag("--session", for_session,
                      "Answer the same for this rule and file for the rest of the session");
    }

    std::string pin_root = guards::kDefaultPinRoot;
    auto* unload = app.add_subcommand(
        "unload",
        "Remove bulkhead's pinned programs and maps: enforcement stops.\n"
        "  Example: systemctl stop bulkhead && bulkhead unload");
    unload->add_option("--pin-root", pin_root, "Where the objects are pinned")->capture_default_str();

    auto* rules_cmd = app.add_subcommand("rules", "Work with rule files (no daemon or root needed)");
    auto* reload = rules_cmd->add_subcommand("reload", "Ask the daemon to reload its rules");
    std::vector<std::string> rule_files, case_files;
    bool rules_json = false, coverage = false;
    std::string rule_name;
    auto* validate = rules_cmd->add_subcommand(
        "validate",
        "Load rule files (in order, as the daemon would) and report each rule's placement:\n"
        "  kernel (enforced by the BPF guards), userspace (evaluated on events), unsupported\n"
        "  (with the field that stops it) or disabled. Exit 1 on the first error, with file:line:column.\n"
        "  Example: bulkhead rules validate /usr/share/bulkhead/rules/agents.yaml my-rules.yaml");
    validate->add_option("files", rule_files, "Rule files")->required();
    validate->add_flag("--json", rules_json, "Machine-readable report");
    auto* rules_test = rules_cmd->add_subcommand(
        "test",
        "Run the rules on recorded or hand-written events and check which rules fire.\n"
        "  Cases: a YAML list of {name, event: {field: value}, expect: [rules], misses: [rules]};\n"
        "  `recorded:` takes a line of `bulkhead events --json` instead of `event:`.\n"
        "  Example: bulkhead rules test agents.yaml --cases agents.cases.yaml --coverage");
    rules_test->add_option("files", rule_files, "Rule files")->required();
    rules_test->add_option("--cases", case_files, "Case files (repeatable)")->required();
    rules_test->add_flag("--coverage", coverage,
                         "Fail unless every evaluated rule has a triggering and a near-miss case");
    auto* explain = rules_cmd->add_subcommand(
        "explain",
        "Show a rule after list and macro expansion, the event types it runs on, and what\n"
        "  the kernel enforces for it. Example: bulkhead rules explain 'Read SSH private key'");
    explain->add_option("rule", rule_name, "Rule name")->required();
    explain->add_option("--rules", rule_files, "Rule files (default: the shipped agents.yaml)");
    rules_cmd->require_subcommand(1);

    CLI11_PARSE(app, argc, argv);
    spdlog::set_pattern("%^%l%$ %v");
    try {
        if (*version) {
            std::cout << "bulkhead " << BULKHEAD_VERSION << " (BPF ABI " << BULKHEAD_BPF_ABI << ")\n";
            return 0;
        }
        if (*doctor) {
            auto r = doctor::examine();
            std::cout << doctor::to_text(r);
            return r.build_level == "none" ? 1 : 0;
        }
        if (*daemon) {
            daemon::Options o;
            std::string err;
            if (!config_path.empty()) {
                auto c = config::load(config_path, &err);
                if (!c)
                    throw FatalError(err, 2);
                o.config = *c;
            } else {
                o.config = config::defaults();
            }
            if (!rules.empty()) {
                if (!with_default_rules)
                    o.config.rules.clear();
                o.config.rules.insert(o.config.rules.end(), rules.begin(), rules.end());
            }
            if (!events_log.empty())
                o.config.events_log = events_log;
            if (app.get_option("--socket")->count())
                o.config.socket = socket;
            if (!daemon_hook_socket.empty())
                o.config.hook_socket = daemon_hook_socket;
            o.replace = replace;
            o.quiet = quiet;
            return daemon::run(o);
        }
        if (*run)
        {
            if (isolate == "vm")
                return commands::run_in_vm(socket, agent, workspace, command);
            return session::run_in_session({socket, agent, workspace, run_level, run_config, command});
        }
        if (*events && !grpc.address.empty()) {
            if (session_filter) {
                uint64_t id = 0;
                auto [end, ec] = std::from_chars(session_filter->data(),
                                                 session_filter->data() + session_filter->size(), id);
                if (ec != std::errc() || end != session_filter->data() + session_filter->size())
                    throw FatalError("events: --session takes a session id, not '" + *session_filter + "'", 2);
                grpc.sessions.push_back(id);
            }
            return commands::events_grpc(grpc, as_json);
        }
        if (*events)
            return commands::events(socket, follow, as_json, session_filter);
        if (*status)
            return commands::status(socket, as_json);
        if (*sessions_show)
            return commands::session_show(socket, session_id, as_json);
        if (*sessions_thaw)
            return commands::session_thaw(socket, session_id);
        if (*sessions_promote)
            return commands::session_promote(socket, session_id);
        if (*vm_supervise)
            return vmguard::supervise(vm_supervise->remaining());
        if (*vm_prepare)
            return commands::vm_prepare(vm_assets, kernel_tree);
        if (*vm_exec)
            return commands::vm_exec(socket, session_id, vm_command);
        if (*vm_diff)
            return commands::vm_diff(socket, session_id, as_json);
        if (*vm_apply)
            return commands::vm_apply(socket, session_id, apply_paths, allow_protected);
        if (*vm_discard)
            return commands::vm_discard(socket, session_id);
        if (*sessions)
            return commands::sessions(socket, as_json);
        if (*hook)
            return commands::hook(hook_agent, hook_socket, unreachable);
        if (*install_hooks)
            return commands::install_hooks(install);
        if (*unload)
            return commands::unload(pin_root);
        if (*approve || *deny)
            return commands::decide(socket, ask_id, /* allow = */ approve->parsed(), for_session);
        if (*reload)
            return commands::reload(socket);
        if (*verify)
            return commands::audit_verify(audit_log, audit_key, audit_checkpoint, audit_json);
        if (*validate)
            return rules_tool::validate(rule_files, rules_json);
        if (*rules_test)
            return rules_tool::test(rule_files, case_files, coverage);
        if (*explain) {
            if (rule_files.empty())
                rule_files.push_back(config::default_rules_file());
            return rules_tool::explain(rule_files, rule_name);
        }
    } catch (const FatalError& e) {
        std::cerr << "bulkhead: " << e.what() << "\n";
        return e.exit_code();
    }
    return 0;
}
