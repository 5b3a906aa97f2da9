// SPDX-License-Identifier: Apache-2.0
// `bulkhead hook AGENT`: one agent's hook protocol on stdin and stdout
// (Claude Code and Codex PreToolUse/PostToolUse, Gemini CLI
// BeforeTool/AfterTool; ../shared/ecosystem.md section 5).
//
// Before a tool runs, the daemon judges the call against the rules and
// starts tagging the session's kernel events with it; the hook answers
// deny (with the rule, so the model can act on it), ask, or nothing (the
// agent's own permission flow goes on). After the tool ran, the hook feeds
// back what the kernel denied during the call, so the agent stops retrying
// through other paths. Hooks fail open in the agents; the kernel does not.
#pragma once

#include <iosfwd>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "hooks/install.h"
#include "hooks/tools.h"

namespace bulkhead::hooks {

// What a hook does when the daemon cannot be reached.
enum class Unreachable { kDenyWrites, kDeny, kAllow };
std::optional<Unreachable> unreachable_from_name(std::string_view name);  // deny-writes, deny, allow

// A tool call as any of the agents reports it.
struct ToolEvent {
    bool pre = true;           // PreToolUse/BeforeTool; false: PostToolUse/AfterTool
    std::string tool_name;
    std::string tool_use_id;   // Gemini sends none: derived from the call
    nlohmann::json tool_input = nlohmann::json::object();
    std::string cwd;
    std::string agent_session;  // the agent's own session_id
};

// Reads an agent's stdin JSON; nullopt (and *error) when it is not a tool
// event this agent sends.
std::optional<ToolEvent> parse_hook_input(Agent agent, const nlohmann::json& in, std::string* error);

// What the hook prints and returns.
struct HookReply {
    std::string out;  // stdout: JSON or nothing
    std::string err;  // stderr: for humans and logs
    int exit_code = 0;
};

// The daemon's answer to a tool call, in the agent's protocol. An allow with
// updated_input rewrites the call (a promoted session's shell command).
HookReply render_pre(Agent agent, const std::string& decision, const std::string& reason,
                     const nlohmann::json& updated_input = nullptr);
HookReply render_post(Agent agent, const nlohmann::json& denied);
// No daemon: the configured policy, said out loud.
HookReply render_unreachable(Agent agent, const ToolEvent& ev, Unreachable policy, const std::string& why);

struct HookOptions {
    Agent agent = Agent::kClaudeCode;
    std::string socket;
    Unreachable unreachable = Unreachable::kDenyWrites;
};

// The whole hook: stdin in, the reply out. Never throws.
HookReply run_hook(const HookOptions& o, std::istream& in);

}  // namespace bulkhead::hooks
