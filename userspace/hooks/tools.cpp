// SPDX-License-Identifier: Apache-2.0
#include "hooks/tools.h"

namespace bulkhead::hooks {

namespace {

bool one_of(std::string_view name, std::initializer_list<std::string_view> names) {
    for (auto n : names)
        if (n == name)
            return true;
    return false;
}

}  // namespace

std::string shortened(std::string s, size_t max) {
    if (s.size() > max) {
        s.resize(max);
        s += "...";
    }
    return s;
}

ToolKind classify_tool(std::string_view name) {
    // Claude Code and Codex name MCP tools mcp__server__tool; Gemini mcp_server_tool.
    if (name.substr(0, 4) == "mcp_")
        return ToolKind::kMcp;
    if (one_of(name, {"Bash", "PowerShell", "BashOutput", "KillShell", "run_shell_command", "shell",
                      "exec_command", "local_shell", "container.exec", "unified_exec"}))
        return ToolKind::kShell;
    if (one_of(name, {"Write", "Edit", "MultiEdit", "NotebookEdit", "apply_patch", "write_file", "replace",
                      "edit", "write_todos_file"}))
        return ToolKind::kWrite;
    if (one_of(name, {"Read", "Glob", "Grep", "LS", "NotebookRead", "read_file", "read_many_files", "glob",
                      "search_file_content", "list_directory", "view_image"}))
        return ToolKind::kRead;
    return ToolKind::kOther;
}

std::vector<std::string> tool_paths(const nlohmann::json& input) {
    std::vector<std::string> out;
    if (!input.is_object())
        return out;
    for (const char* key : {"file_path", "notebook_path", "absolute_path", "path"}) {
        auto it = input.find(key);
        if (it != input.end() && it->is_string() && !it->get_ref<const std::string&>().empty())
            out.push_back(*it);
    }
    // Codex's apply_patch carries the files in the patch text.
    auto patch = input.find("input");
    if (patch == input.end())
        patch = input.find("patch");
    if (patch != input.end() && patch->is_string()) {
        const std::string& text = patch->get_ref<const std::string&>();
        size_t pos = 0;
        while (pos < text.size() && out.size() < 64) {
            size_t nl = text.find('\n', pos);
            std::string_view line(text.data() + pos, (nl == std::string::npos ? text.size() : nl) - pos);
            for (std::string_view head : {"*** Add File: ", "*** Update File: ", "*** Delete File: ", "*** Move to: "})
                if (line.substr(0, head.size()) == head)
                    out.emplace_back(line.substr(head.size()));
            if (nl == std::string::npos)
                break;
            pos = nl + 1;
        }
    }
    return out;
}

std::string tool_summary(const nlohmann::json& input) {
    if (input.is_object()) {
        for (const char* key : {"command", "cmd"}) {
            auto it = input.find(key);
            if (it != input.end() && it->is_string())
                return shortened(*it, 200);
            if (it != input.end() && it->is_array()) {  // Codex: ["bash", "-lc", "..."]
                std::string joined;
                for (const auto& part : *it)
                    if (part.is_string())
                        joined += (joined.empty() ? "" : " ") + part.get<std::string>();
                return shortened(joined, 200);
            }
        }
        auto paths = tool_paths(input);
        if (!paths.empty())
            return shortened(paths.front(), 200);
        for (const char* key : {"url", "query", "pattern"}) {
            auto it = input.find(key);
            if (it != input.end() && it->is_string())
                return shortened(*it, 200);
        }
    }
    return shortened(input.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), 200);
}

}  // namespace bulkhead::hooks
