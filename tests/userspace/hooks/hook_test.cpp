// SPDX-License-Identifier: Apache-2.0
// The hook protocols, driven by the JSON the agents send (fixtures/, shaped
// by each agent's documented schema: ../shared/ecosystem.md section 5).
#include "hooks/hook.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "hooks/tools.h"
#include "session/tool_calls.h"

namespace bulkhead::hooks {
namespace {

using nlohmann::json;

json fixture(const std::string& name) {
    std::ifstream in(std::string(BULKHEAD_HOOK_FIXTURES) + "/" + name);
    EXPECT_TRUE(in) << name;
    return json::parse(in);
}

TEST(HookInput, ParsesEachAgentsToolEvents) {
    struct Case {
        Agent agent;
        const char* file;
        bool pre;
        const char* tool;
        const char* id;  // "" = derived
        const char* cwd;
    } cases[] = {
        {Agent::kClaudeCode, "claude-pre-bash.json", true, "Bash", "toolu_01ABCDEF23456789", "/work/app"},
        {Agent::kClaudeCode, "claude-pre-read.json", true, "Read", "toolu_01READ0000000001", "/work/app"},
        {Agent::kClaudeCode, "claude-post-bash.json", false, "Bash", "toolu_01BUILD000000002", "/work/app"},
        {Agent::kCodex, "codex-pre-shell.json", true, "Bash", "call_9Jc2kQ0b7XyT", "/work/app"},
        {Agent::kGemini, "gemini-before-write.json", true, "write_file", "", "/work/app"},
        {Agent::kGemini, "gemini-after-write.json", false, "write_file", "", "/work/app"},
    };
    for (const auto& c : cases) {
        std::string error;
        auto ev = parse_hook_input(c.agent, fixture(c.file), &error);
        ASSERT_TRUE(ev) << c.file << ": " << error;
        EXPECT_EQ(ev->pre, c.pre) << c.file;
        EXPECT_EQ(ev->tool_name, c.tool) << c.file;
        EXPECT_EQ(ev->cwd, c.cwd) << c.file;
        if (*c.id) {
            EXPECT_EQ(ev->tool_use_id, c.id) << c.file;
        } else {
            EXPECT_EQ(ev->tool_use_id.rfind("gemini-", 0), 0u) << c.file;
        }
    }
}

TEST(HookInput, GeminiBeforeAndAfterOfOneCallShareAnId) {
    std::string error;
    auto before = parse_hook_input(Agent::kGemini, fixture("gemini-before-write.json"), &error);
    auto after = parse_hook_input(Agent::kGemini, fixture("gemini-after-write.json"), &error);
    ASSERT_TRUE(before && after);
    EXPECT_EQ(before->tool_use_id, after->tool_use_id);
    json other = fixture("gemini-before-write.json");
    other["tool_input"]["file_path"] = "/work/app/README.md";
    auto third = parse_hook_input(Agent::kGemini, other, &error);
    ASSERT_TRUE(third);
    EXPECT_NE(third->tool_use_id, before->tool_use_id);
}

TEST(HookInput, RefusesWhatIsNotAToolEventOfThatAgent) {
    struct Case {
        Agent agent;
        json in;
        const char* error;
    } cases[] = {
        {Agent::kClaudeCode, fixture("claude-session-start.json"), "hook_event_name 'SessionStart' is not a tool event"},
        {Agent::kClaudeCode, fixture("gemini-before-write.json"), "hook_event_name 'BeforeTool' is not a tool event"},
        {Agent::kGemini, fixture("claude-pre-bash.json"), "want BeforeTool or AfterTool"},
        {Agent::kClaudeCode, json::array(), "stdin must be a JSON object"},
        {Agent::kClaudeCode, json{{"hook_event_name", "PreToolUse"}, {"tool_use_id", "x"}}, "no tool_name"},
        {Agent::kCodex, json{{"hook_event_name", "PreToolUse"}, {"tool_name", "Bash"}}, "no tool_use_id"},
    };
    for (const auto& c : cases) {
        std::string error;
        EXPECT_FALSE(parse_hook_input(c.agent, c.in, &error)) << c.in.dump();
        EXPECT_NE(error.find(c.error), std::string::npos) << error;
    }
}

TEST(HookOutput, PreToolUseAnswersInEachProtocol) {
    auto claude = render_pre(Agent::kClaudeCode, "deny", "bulkhead blocked Read by rule 'R'");
    EXPECT_EQ(json::parse(claude.out),
              json::parse(R"({"hookSpecificOutput":{"hookEventName":"PreToolUse","permissionDecision":"deny",
                              "permissionDecisionReason":"bulkhead blocked Read by rule 'R'"}})"));
    EXPECT_EQ(claude.exit_code, 0);
    auto ask = render_pre(Agent::kCodex, "ask", "why");
    EXPECT_EQ(json::parse(ask.out)["hookSpecificOutput"]["permissionDecision"], "ask");
    auto gemini = render_pre(Agent::kGemini, "deny", "because");
    EXPECT_EQ(json::parse(gemini.out), json::parse(R"({"decision":"deny","reason":"because"})"));
    // Gemini's hooks cannot ask: the call is denied and the reason says so.
    auto gemini_ask = render_pre(Agent::kGemini, "ask", "because");
    EXPECT_EQ(json::parse(gemini_ask.out)["decision"], "deny");
    EXPECT_NE(gemini_ask.out.find("cannot ask"), std::string::npos);
    // Allow prints nothing, so the agent's own permission prompts still apply.
    for (Agent a : {Agent::kClaudeCode, Agent::kCodex, Agent::kGemini}) {
        auto allow = render_pre(a, "allow", "");
        EXPECT_EQ(allow.out, "");
        EXPECT_EQ(allow.exit_code, 0);
    }
}

TEST(HookOutput, ReasonsAreCutBelowTheAgentsLimit) {
    auto r = render_pre(Agent::kClaudeCode, "deny", std::string(20000, 'x'));
    auto reason = json::parse(r.out)["hookSpecificOutput"]["permissionDecisionReason"].get<std::string>();
    EXPECT_LT(reason.size(), 10000u);
}

TEST(HookOutput, PostToolUseFeedsBackWhatTheKernelDenied) {
    json denied = {"read of /home/ann/.ssh/id_ed25519 (EPERM) by rule 'Read SSH private key'"};
    auto claude = render_post(Agent::kClaudeCode, denied);
    auto j = json::parse(claude.out);
    EXPECT_EQ(j["decision"], "block");
    EXPECT_EQ(j["reason"],
              "bulkhead blocked read of /home/ann/.ssh/id_ed25519 (EPERM) by rule 'Read SSH private key'. The kernel "
              "denies this whatever path or tool is used; do not retry it another way.");
    EXPECT_EQ(j["hookSpecificOutput"]["additionalContext"], j["reason"]);
    auto gemini = json::parse(render_post(Agent::kGemini, denied).out);
    EXPECT_FALSE(gemini.contains("decision"));  // a deny would hide the tool's output
    EXPECT_EQ(gemini["hookSpecificOutput"]["additionalContext"], j["reason"]);
    EXPECT_EQ(render_post(Agent::kClaudeCode, json::array()).out, "");
}

TEST(HookUnreachable, DeniesWriteLikeToolsByDefaultAndSaysSo) {
    std::string error;
    auto bash = *parse_hook_input(Agent::kClaudeCode, fixture("claude-pre-bash.json"), &error);
    auto read = *parse_hook_input(Agent::kClaudeCode, fixture("claude-pre-read.json"), &error);
    auto post = *parse_hook_input(Agent::kClaudeCode, fixture("claude-post-bash.json"), &error);
    struct Case {
        const ToolEvent& ev;
        Unreachable policy;
        bool denied;
    } cases[] = {
        {bash, Unreachable::kDenyWrites, true},  {read, Unreachable::kDenyWrites, false},
        {read, Unreachable::kDeny, true},        {bash, Unreachable::kAllow, false},
        {post, Unreachable::kDeny, false},  // after the fact there is nothing to deny
    };
    for (const auto& c : cases) {
        auto r = render_unreachable(Agent::kClaudeCode, c.ev, c.policy, "no socket");
        EXPECT_EQ(!r.out.empty(), c.denied) << c.ev.tool_name;
        EXPECT_NE(r.err.find("the daemon is unreachable (no socket)"), std::string::npos) << r.err;
        if (c.denied) {
            EXPECT_EQ(json::parse(r.out)["hookSpecificOutput"]["permissionDecision"], "deny");
        }
    }
}

TEST(HookRun, NoDaemonAppliesThePolicyAndBadStdinIsANonBlockingError) {
    std::istringstream bash(fixture("claude-pre-bash.json").dump());
    auto r = run_hook({Agent::kClaudeCode, "/nonexistent/hook.sock", Unreachable::kDenyWrites}, bash);
    EXPECT_EQ(r.exit_code, 0);
    EXPECT_EQ(json::parse(r.out)["hookSpecificOutput"]["permissionDecision"], "deny");
    EXPECT_NE(r.err.find("/nonexistent/hook.sock"), std::string::npos) << r.err;
    std::istringstream garbage("{not json\xff");
    auto bad = run_hook({Agent::kClaudeCode, "/nonexistent/hook.sock", Unreachable::kDenyWrites}, garbage);
    EXPECT_EQ(bad.exit_code, 1);
    EXPECT_EQ(bad.out, "");
    EXPECT_NE(bad.err.find("stdin is not JSON"), std::string::npos);
}

TEST(Tools, ClassifiesTheAgentsTools) {
    struct Case {
        const char* name;
        ToolKind kind;
    } cases[] = {
        {"Bash", ToolKind::kShell},          {"run_shell_command", ToolKind::kShell}, {"exec_command", ToolKind::kShell},
        {"Write", ToolKind::kWrite},         {"Edit", ToolKind::kWrite},             {"apply_patch", ToolKind::kWrite},
        {"replace", ToolKind::kWrite},       {"Read", ToolKind::kRead},              {"read_file", ToolKind::kRead},
        {"mcp__github__create_issue", ToolKind::kMcp}, {"mcp_fs_write", ToolKind::kMcp},
        {"WebSearch", ToolKind::kOther},     {"Task", ToolKind::kOther},
    };
    for (const auto& c : cases)
        EXPECT_EQ(classify_tool(c.name), c.kind) << c.name;
}

TEST(Tools, FindsThePathsACallNames) {
    EXPECT_EQ(tool_paths(json{{"file_path", "/a"}, {"content", "x"}}), std::vector<std::string>{"/a"});
    EXPECT_EQ(tool_paths(json{{"notebook_path", "n.ipynb"}}), std::vector<std::string>{"n.ipynb"});
    json patch = {{"input", "*** Begin Patch\n*** Add File: .git/hooks/pre-commit\n+x\n*** Update File: src/a.c\n*** End Patch\n"}};
    EXPECT_EQ(tool_paths(patch), (std::vector<std::string>{".git/hooks/pre-commit", "src/a.c"}));
    EXPECT_TRUE(tool_paths(json::array()).empty());
    EXPECT_EQ(tool_summary(json{{"command", "make"}}), "make");
    EXPECT_EQ(tool_summary(json{{"command", {"bash", "-lc", "ls"}}}), "bash -lc ls");
    EXPECT_EQ(tool_summary(json{{"command", std::string(300, 'a')}}).size(), 203u);
}

TEST(ToolCalls, AttributesEventsToTheCallRunningAtTheTime) {
    session::ToolCalls calls;
    calls.begin(7, {"t1", "Bash", "make", 100, 0, "allow", "", 0, 0, {}});
    EXPECT_EQ(calls.active_at(7, 99), nullptr);   // before the call
    EXPECT_EQ(calls.active_at(8, 150), nullptr);  // another session
    ASSERT_NE(calls.active_at(7, 150), nullptr);
    EXPECT_EQ(calls.active_at(7, 150)->id, "t1");
    calls.begin(7, {"t2", "Read", "/x", 200, 0, "allow", "", 0, 0, {}});
    EXPECT_EQ(calls.active_at(7, 250)->id, "t2");  // the latest running call
    auto ended = calls.end(7, "t2", 300);
    ASSERT_TRUE(ended);
    EXPECT_EQ(ended->end_ns, 300);
    EXPECT_EQ(calls.active_at(7, 350)->id, "t1");  // t1 is still running
    EXPECT_EQ(calls.active_at(7, 250)->id, "t2");  // late events of t2 still find it
    EXPECT_FALSE(calls.end(7, "nope", 400));
    // A retried hook does not open a second call.
    calls.begin(7, {"t1", "Bash", "make", 500, 0, "allow", "", 0, 0, {}});
    EXPECT_EQ(calls.of(7)->size(), 2u);
}

TEST(ToolCalls, HistoryIsBounded) {
    session::ToolCalls calls;
    for (size_t i = 0; i < session::ToolCalls::kPerSession + 10; ++i)
        calls.begin(1, {"t" + std::to_string(i), "Bash", "", static_cast<int64_t>(i), 1, "allow", "", 0, 0, {}});
    EXPECT_EQ(calls.of(1)->size(), session::ToolCalls::kPerSession);
    EXPECT_EQ(calls.of(1)->front().id, "t10");
}

}  // namespace
}  // namespace bulkhead::hooks
