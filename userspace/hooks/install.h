// SPDX-License-Identifier: Apache-2.0
// `bulkhead install-hooks`: adds bulkhead's hook handler to an agent's
// settings file, or removes it (../shared/ecosystem.md sections 5.1-5.3).
//
// A security product editing someone's settings must not lose anything:
// every other key and hook stays as it was and in order; a file it does not
// understand is refused and left untouched; an existing file is backed up
// first and replaced atomically with its mode and owner. Nothing throws.
//
// Which handler is bulkhead's ("ours"): a handler object whose `command` is
// exactly InstallOptions::command, or whose command's first word has the
// basename `bulkhead` and whose second word is `hook` (so a handler
// installed from another path or for another agent is still recognised).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace bulkhead::hooks {

enum class Agent { kClaudeCode, kCodex, kGemini };
std::optional<Agent> agent_from_name(std::string_view name);  // "claude-code", "codex", "gemini"
std::string_view agent_name(Agent agent);

enum class Scope { kUser, kProject, kManaged };
std::optional<Scope> scope_from_name(std::string_view name);  // "user", "project", "managed"
std::string_view scope_name(Scope scope);

struct InstallOptions {
    Agent agent = Agent::kClaudeCode;
    Scope scope = Scope::kUser;
    std::string command;      // the handler, e.g. "/usr/sbin/bulkhead hook claude-code"
    std::string project_dir;  // kProject: the project's root (the caller passes cwd)
    std::string home;         // kUser: $HOME of the user whose settings these are
    // CLAUDE_CONFIG_DIR and CODEX_HOME as the target user would see them;
    // empty or absent means unset.
    std::map<std::string, std::string> env;
    std::string root;         // prefix of the managed paths ("" in production)
    int timeout_seconds = 30;  // Gemini gets it in milliseconds
};

struct InstallResult {
    std::string file;     // the file examined or edited (symlinks resolved)
    bool changed = false;
    std::string backup;   // copy of the previous contents; "" when none was made
    std::string message;  // one line for humans
};

// An InstallResult, or an error: "install-hooks: FILE: cause".
struct InstallOutcome {
    std::optional<InstallResult> result;
    std::string error;

    bool ok() const { return result.has_value(); }
};

// Adds one matcher group with our handler to each tool event
// (PreToolUse/PostToolUse; Gemini BeforeTool/AfterTool), unless one of ours
// is there already: then only its type, command and timeout (and Gemini's
// name) are brought up to date, and extra copies of ours are removed.
// Creates the file and its directories when missing.
InstallOutcome install_hooks(const InstallOptions& options);

// Removes our handlers from those events, then matcher groups, event arrays
// and a `hooks` object that this left empty. A missing file is no error.
InstallOutcome uninstall_hooks(const InstallOptions& options);

// The settings file the agent and scope mean, absolute, symlinks not
// resolved; "" when there is none (Codex has no managed hooks file) or an
// input it needs is empty. install_hooks() reports why.
std::string settings_path(const InstallOptions& options);

}  // namespace bulkhead::hooks
