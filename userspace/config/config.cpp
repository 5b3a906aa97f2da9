// SPDX-License-Identifier: Apache-2.0
#include "config/config.h"

#include "rules/values.h"
#include "vmguard/egress.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <set>

namespace bulkhead::config {

namespace fs = std::filesystem;

std::vector<AgentKind> default_agents() {
    // Executables as their installers place them; `bulkhead run --agent`
    // covers anything else. Matched by inode at exec, never by name.
    return {
        {"claude", {"/usr/local/bin/claude", "/usr/bin/claude", "~/.local/bin/claude",
                    "~/.claude/local/claude", "/usr/lib/node_modules/@anthropic-ai/claude-code/cli.js",
                    "/usr/local/lib/node_modules/@anthropic-ai/claude-code/cli.js"}},
        {"codex", {"/usr/local/bin/codex", "/usr/bin/codex", "~/.local/bin/codex"}},
        {"gemini", {"/usr/local/bin/gemini", "/usr/bin/gemini", "~/.local/bin/gemini"}},
        {"aider", {"/usr/local/bin/aider", "/usr/bin/aider", "~/.local/bin/aider"}},
        {"cursor-agent", {"/usr/local/bin/cursor-agent", "~/.local/bin/cursor-agent"}},
        {"opencode", {"/usr/local/bin/opencode", "~/.local/bin/opencode", "~/.opencode/bin/opencode"}},
        {"goose", {"/usr/local/bin/goose", "~/.local/bin/goose"}},
    };
}

std::string default_rules_file() {
    if (const char* dir = std::getenv("BULKHEAD_RULES_DIR"))
        return std::string(dir) + "/agents.yaml";
    std::error_code ec;
    if (fs::exists(BULKHEAD_INSTALLED_RULES_DIR "/agents.yaml", ec))
        return BULKHEAD_INSTALLED_RULES_DIR "/agents.yaml";
    return BULKHEAD_SOURCE_RULES_DIR "/agents.yaml";
}

Config defaults() {
    Config c;
    c.rules = {default_rules_file()};
    c.agents = default_agents();
    return c;
}

namespace {

std::string where(const std::string& path, const YAML::Node& n) {
    return path + ":" + std::to_string(n.Mark().line + 1) + ": ";
}

std::string load_vm(const YAML::Node& v, const std::string& path, VmConfig* vm) {
    if (!v.IsMap())
        return "config: " + where(path, v) + "vm must be a map (see the README, \"microVMs\")";
    auto number = [&](const YAML::Node& n, const std::string& key, int lo, int hi, int* out) -> std::string {
        *out = n.as<int>();
        if (*out < lo || *out > hi)
            return "config: " + where(path, n) + "vm." + key + " must be " + std::to_string(lo) + ".." +
                   std::to_string(hi);
        return {};
    };
    for (const auto& kv : v) {
        std::string key = kv.first.as<std::string>();
        const YAML::Node& n = kv.second;
        std::string err;
        if (key == "enabled")
            vm->enabled = n.as<bool>();
        else if (key == "assets")
            vm->assets = n.as<std::string>();
        else if (key == "run_dir")
            vm->run_dir = n.as<std::string>();
        else if (key == "accel") {
            vm->accel = n.as<std::string>();
            if (vm->accel != "auto" && vm->accel != "kvm" && vm->accel != "tcg")
                err = "config: " + where(path, n) + "vm.accel must be auto, kvm or tcg";
        } else if (key == "without_hooks") {
            vm->without_hooks = n.as<std::string>();
            if (vm->without_hooks != "freeze" && vm->without_hooks != "kill" && vm->without_hooks != "relaunch")
                err = "config: " + where(path, n) + "vm.without_hooks must be freeze, kill or relaunch";
        } else if (key == "vcpus")
            err = number(n, key, 1, 64, &vm->vcpus);
        else if (key == "memory_mb")
            err = number(n, key, 128, 1 << 20, &vm->memory_mb);
        else if (key == "disk_mb")
            err = number(n, key, 16, 1 << 20, &vm->disk_mb);
        else if (key == "pids")
            err = number(n, key, 16, 1 << 22, &vm->pids);
        else if (key == "pool")
            err = number(n, key, 0, 64, &vm->pool);
        else if (key == "exec_timeout_seconds")
            err = number(n, key, 1, 86400, &vm->exec_timeout_seconds);
        else if (key == "wall_time_seconds")
            err = number(n, key, 0, 30 * 86400, &vm->wall_time_seconds);
        else if (key == "egress") {
            if (!n.IsSequence())
                err = "config: " + where(path, n) + "vm.egress must be a list of \"HOST:PORT\" or \"CIDR:PORT\" rules";
            for (size_t i = 0; err.empty() && n.IsSequence() && i < n.size(); i++) {
                vmguard::EgressRule rule;
                auto text = n[i].as<std::string>();
                if (auto bad = vmguard::parse_egress_rule(text, &rule))
                    err = "config: " + where(path, n[i]) + "vm.egress: " + *bad;
                else
                    vm->egress.push_back(text);
            }
        }
        else
            err = "config: " + where(path, kv.first) + "unknown key 'vm." + key + "'";
        if (!err.empty())
            return err;
    }
    return {};
}

}  // namespace

std::optional<Config> load(const std::string& path, std::string* error) {
    Config c = defaults();
    c.path = path;
    YAML::Node root;
    try {
        root = YAML::LoadFile(path);
    } catch (const YAML::Exception& e) {
        *error = "config: " + path + ": " + e.what();
        return std::nullopt;
    }
    if (!root.IsMap()) {
        *error = "config: " + path + ": the top level must be a mapping";
        return std::nullopt;
    }
    static const std::set<std::string> known{"rules", "socket", "events_log", "pin_root", "rescan_seconds",
                                             "agents", "exporters", "spool_root", "metrics", "taint_allow",
                                             "ask_timeout_seconds", "nameservers", "hook_socket",
                                             "risk_thresholds", "vm", "cri_socket"};
    try {
        for (const auto& kv : root) {
            std::string key = kv.first.as<std::string>();
            const YAML::Node& v = kv.second;
            if (!known.count(key)) {
                *error = "config: " + where(path, kv.first) + "unknown key '" + key + "'";
                return std::nullopt;
            }
            if (key == "rules") {
                c.rules = v.as<std::vector<std::string>>();
            } else if (key == "socket") {
                c.socket = v.as<std::string>();
            } else if (key == "hook_socket") {
                c.hook_socket = v.as<std::string>();
            } else if (key == "risk_thresholds") {
                if (!v.IsSequence()) {
                    *error = "config: " + where(path, v) + "risk_thresholds must be a list of {at, action}";
                    return std::nullopt;
                }
                for (const auto& t : v) {
                    if (!t.IsMap() || !t["at"] || !t["action"] || t.size() != 2) {
                        *error = "config: " + where(path, t) + "a risk threshold is {at: N, action: notify|freeze|kill|promote}";
                        return std::nullopt;
                    }
                    RiskThreshold r{t["at"].as<int64_t>(), t["action"].as<std::string>()};
                    static const std::set<std::string> actions{"notify", "freeze", "kill", "promote"};
                    if (!actions.count(r.action)) {
                        *error = "config: " + where(path, t["action"]) + "unknown risk action '" + r.action +
                                 "' (notify, freeze, kill or promote)";
                        return std::nullopt;
                    }
                    if (r.at < 1 || r.at > 1000000) {
                        *error = "config: " + where(path, t["at"]) + "a risk threshold must be 1..1000000";
                        return std::nullopt;
                    }
                    c.risk_thresholds.push_back(r);
                }
                std::stable_sort(c.risk_thresholds.begin(), c.risk_thresholds.end(),
                                 [](const RiskThreshold& a, const RiskThreshold& b) { return a.at < b.at; });
            } else if (key == "vm") {
                if (auto e = load_vm(v, path, &c.vm); !e.empty()) {
                    *error = e;
                    return std::nullopt;
                }
            } else if (key == "events_log") {
                c.events_log = v.as<std::string>();
            } else if (key == "pin_root") {
                c.pin_root = v.as<std::string>();
            } else if (key == "rescan_seconds") {
                c.rescan_seconds = v.as<int>();
                if (c.rescan_seconds < 1 || c.rescan_seconds > 3600) {
                    *error = "config: " + where(path, v) + "rescan_seconds must be 1..3600";
                    return std::nullopt;
                }
            } else if (key == "nameservers") {
                c.nameservers = v.as<std::vector<std::string>>();
                if (c.nameservers.size() > 3) {
                    *error = "config: " + where(path, v) + "nameservers: at most 3 (glibc's limit)";
                    return std::nullopt;
                }
            } else if (key == "ask_timeout_seconds") {
                c.ask_timeout_seconds = v.as<int>();
                if (c.ask_timeout_seconds < 1 || c.ask_timeout_seconds > 3600) {
                    *error = "config: " + where(path, v) + "ask_timeout_seconds must be 1..3600";
                    return std::nullopt;
                }
            } else if (key == "exporters") {
                if (!v.IsSequence()) {
                    *error = "config: " + where(path, v) + "exporters must be a list of sinks";
                    return std::nullopt;
                }
                c.exporters = YAML::Clone(v);
            } else if (key == "cri_socket") {
                c.cri_socket = v.as<std::string>();
                if (c.cri_socket != "none" && (c.cri_socket.empty() || c.cri_socket[0] != '/')) {
                    *error = "config: " + where(path, v) + "cri_socket must be an absolute path or 'none'";
                    return std::nullopt;
                }
            } else if (key == "spool_root") {
                c.spool_root = v.as<std::string>();
            } else if (key == "metrics") {
                c.metrics = v.as<std::string>();
            } else if (key == "taint_allow") {
                c.taint_allow = v.as<std::vector<std::string>>();
                for (const auto& cidr : c.taint_allow) {
                    rules::IpNetwork net;
                    if (!rules::parse_ip_network(cidr, &net)) {
                        *error = "config: " + where(path, v) + "taint_allow: '" + cidr +
                                 "' is not an IP address or network";
                        return std::nullopt;
                    }
                }
            } else if (key == "agents") {
                c.agents.clear();
                for (const auto& a : v) {
                    AgentKind k;
                    k.name = a["name"].as<std::string>();
                    if (a["executables"])
                        k.executables = a["executables"].as<std::vector<std::string>>();
                    c.agents.push_back(std::move(k));
                }
            }
        }
    } catch (const YAML::Exception& e) {
        *error = "config: " + path + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg;
        return std::nullopt;
    }
    return c;
}

}  // namespace bulkhead::config
