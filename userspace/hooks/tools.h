// SPDX-License-Identifier: Apache-2.0
// What an agent's tool does, from its name, for the three hook protocols
// (Claude Code, Codex, Gemini CLI; ../shared/ecosystem.md section 5).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace bulkhead::hooks {

enum class ToolKind {
    kShell,  // runs a command: Bash, run_shell_command, exec_command, ...
    kRead,   // reads files: Read, Grep, read_file, ...
    kWrite,  // writes files: Write, Edit, apply_patch, write_file, ...
    kMcp,    // an MCP server's tool: it can do anything its server can
    kOther,  // web search, subagents, questions to the user, ...
};

ToolKind classify_tool(std::string_view name);

// Write-like tools change the machine: a hook that cannot reach the daemon
// denies them by default.
inline bool write_like(ToolKind k) { return k == ToolKind::kShell || k == ToolKind::kWrite || k == ToolKind::kMcp; }

// The files a tool call names, as the agent gave them (file_path,
// notebook_path, absolute_path, path; Codex apply_patch's "*** Add File:"
// headers).
std::vector<std::string> tool_paths(const nlohmann::json& input);

// s cut to max bytes, with "..." when something was cut.
std::string shortened(std::string s, size_t max);

// One line for humans: the command, the file, or the input cut to 200 bytes.
std::string tool_summary(const nlohmann::json& input);

}  // namespace bulkhead::hooks
