// SPDX-License-Identifier: Apache-2.0
#include "sandbox/sandbox.h"

#include <pwd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdlib>

#include "config/config.h"
#include "error.h"
#include "events/event.h"
#include "guards/file_guard.h"
#include "policy.h"

namespace bulkhead::sandbox {

std::unique_ptr<Sandbox> Sandbox::prepare(const rules::KernelPolicy& policy, const Options& o,
                                          std::string* error) {
    std::unique_ptr<Sandbox> sb(new Sandbox());
    LandlockInputs in{o.abi < 0 ? landlock_abi() : o.abi, o.homes, o.agent, o.ask_broker, o.other_workspaces};
    sb->plan_ = plan_landlock(policy, in, /* create_ruleset = */ true);
    std::string all;
    for (const auto& e : sb->plan_.errors)
        all += (all.empty() ? "" : "\n") + e;
    std::string seccomp_error;
    sb->filter_ = SeccompFilter::build(o.deny_errno, &seccomp_error);
    if (!sb->filter_)
        all += (all.empty() ? "" : "\n") + seccomp_error;
    if (!all.empty()) {
        *error = all;
        return nullptr;
    }
    return sb;
}

std::string Sandbox::enter() const {
    // Landlock and unprivileged seccomp both need it; it also makes setuid
    // binaries and file capabilities grant nothing inside the session.
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return errno_message("sandbox: cannot set no_new_privs", errno);
    if (int e = landlock_restrict(plan_); e != 0)
        return errno_message("landlock: cannot enforce the ruleset", e);
    if (int e = filter_->load(); e != 0)
        return errno_message("seccomp: cannot load the filter", e);
    return "";
}

std::string Sandbox::summary() const {
    std::string s = "Landlock ABI " + std::to_string(plan_.abi) + " (" + std::to_string(plan_.grants.size()) +
                    " rules" + (plan_.scoped ? ", signals and abstract sockets scoped to the session" : "") +
                    "), seccomp (" + std::to_string(denied_syscalls().size()) + " denials";
    s += seccomp_arch_native() == SCMP_ARCH_X86_64 ? "; x86_64 and 32-bit x86, x32 killed)" : ")";
    return s + ", no_new_privs";
}

std::optional<std::vector<std::string>> session_homes(std::string* error) {
    std::vector<std::string> homes = guards::host_homes();
    auto add = [&](const std::string& h) {
        if (std::find(homes.begin(), homes.end(), h) == homes.end())
            homes.push_back(h);
    };
    const char* env = std::getenv("HOME");
    if (env && *env) {
        std::string h = env;
        struct stat st{};
        if (h[0] != '/' || h.size() >= PATH_MAX) {
            *error = "sandbox: HOME='" + events::escape_path(h.substr(0, 128)) + (h.size() > 128 ? "..." : "") +
                     "' is not an absolute path under PATH_MAX: set HOME to your home directory";
            return std::nullopt;
        }
        if (::stat(h.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
            *error = "sandbox: HOME='" + events::escape_path(h) +
                     "' is not an existing directory: set HOME to your home directory, or create it";
            return std::nullopt;
        }
        while (h.size() > 1 && h.back() == '/')
            h.pop_back();
        add(h);
    }
    // The passwd entry's home counts even when HOME points elsewhere; a
    // missing one (nobody's /nonexistent) has nothing to protect.
    if (const passwd* pw = getpwuid(getuid()); pw && pw->pw_dir && pw->pw_dir[0] == '/') {
        struct stat st{};
        if (::stat(pw->pw_dir, &st) == 0 && S_ISDIR(st.st_mode))
            add(pw->pw_dir);
    }
    return homes;
}

std::optional<rules::KernelPolicy> load_session_policy(const std::string& config_path, const std::string& agent,
                                                       const std::vector<std::string>& homes,
                                                       std::string* error) {
    config::Config cfg;
    if (config_path.empty()) {
        cfg = config::defaults();
    } else {
        auto c = config::load(config_path, error);
        if (!c)
            return std::nullopt;
        cfg = *c;
    }
    guards::PlanInputs in;
    in.homes = homes;
    for (const auto& a : cfg.agents)
        in.agent_kinds.emplace(a.name, static_cast<uint32_t>(in.agent_kinds.size() + 1));
    in.agent_kinds.emplace(agent, static_cast<uint32_t>(in.agent_kinds.size() + 1));
    auto loaded = load_policy(cfg.rules, in, {state_protection(cfg)});
    if (!loaded) {
        *error = loaded.error().to_string();
        return std::nullopt;
    }
    rules::KernelPolicy policy = std::move(loaded->compiled.policy);
    // The daemon's pinned programs and maps: at bpf-lsm its self guard keeps
    // sessions out of bpffs; here Landlock must, or a session could unpin
    // them (`bulkhead unload`) and leave the next daemon nothing to adopt.
    rules::FileProtection pins;
    pins.rule = "Self guard: bulkhead's pinned objects";
    pins.file = "(built in)";
    pins.verdict = rules::KernelVerdict::kDeny;
    pins.ops = rules::kOpWrite | rules::kOpCreate | rules::kOpRename | rules::kOpUnlink | rules::kOpLink;
    pins.targets = {{rules::TargetKind::kSubtree, cfg.pin_root}};
    policy.files.push_back(std::move(pins));
    return policy;
}

std::string gaps_text(const std::vector<Gap>& gaps) {
    std::string out;
    for (const auto& g : gaps)
        out += "  rule '" + g.rule + "': " + g.what + ": " + g.why + "\n";
    return out;
}

std::string frozen_text(const std::vector<std::string>& dirs) {
    std::string out;
    for (const auto& d : dirs)
        out += (out.empty() ? "" : ", ") + events::escape_path(d);
    return out;
}

}  // namespace bulkhead::sandbox
