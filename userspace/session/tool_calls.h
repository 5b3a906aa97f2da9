// SPDX-License-Identifier: Apache-2.0
// The tool calls agents' hooks report, per session: which call was running
// when a kernel event happened (so the event carries agent.tool_use_id),
// what the kernel denied during each call (the PostToolUse feedback), and a
// bounded history for `bulkhead sessions show`.
//
// Attribution is by time: an agent waits for its PreToolUse hook before the
// tool runs, so an event belongs to the latest call that began before it and
// had not ended. Parallel tool calls of one session are attributed to the
// latest of them; the README says so.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace bulkhead::session {

struct ToolCall {
    std::string id;          // the agent's tool_use_id
    std::string name;        // Bash, Read, Write, run_shell_command, ...
    std::string summary;     // the command or the file, for humans
    int64_t start_ns = 0;
    int64_t end_ns = 0;      // 0: still running
    std::string decision;    // the hook's answer: allow, deny, ask
    std::string rule;        // the rule behind a deny or ask
    uint64_t denied = 0;     // kernel denials while the call ran
    uint64_t audited = 0;
    std::vector<std::string> denials;  // the first kMaxDenials, as feedback text
};

class ToolCalls {
public:
    static constexpr size_t kPerSession = 512;
    static constexpr size_t kSessions = 1024;
    static constexpr size_t kMaxDenials = 8;

    // Records a call; the same id again (a retried hook) returns the first.
    ToolCall& begin(uint64_t session, ToolCall call);
    // The call running at t_ns, or nullptr.
    ToolCall* active_at(uint64_t session, int64_t t_ns);
    // Ends a call; nullopt when the session never reported it.
    std::optional<ToolCall> end(uint64_t session, const std::string& id, int64_t t_ns);
    // Every call of a session, oldest first (nullptr: none).
    const std::deque<ToolCall>* of(uint64_t session) const;

private:
    std::map<uint64_t, std::deque<ToolCall>> calls_;
};

}  // namespace bulkhead::session
