// SPDX-License-Identifier: Apache-2.0
#include "hooks/hook.h"

#include <cstdio>
#include <istream>
#include <iterator>

#include "control/protocol.h"

namespace bulkhead::hooks {

namespace {

using nlohmann::json;

// Agents cap hook output strings at 10,000 characters.
constexpr size_t kMaxReason = 9000;
// stdin beyond this is not a hook event (a Write's content included).
constexpr size_t kMaxInput = 16u << 20;
// The control protocol's line limit, with room for the envelope.
constexpr size_t kMaxRequestInput = control::kMaxRequestBytes - 4096;

// FNV-1a: Gemini sends no tool_use_id; its BeforeTool and AfterTool carry
// the same session, tool and input, so they hash to the same id.
std::string derived_id(const std::string& session, const std::string& tool, const json& input) {
    uint64_t h = 1469598103934665603ull;
    for (const std::string& part : {session, tool, input.dump(-1, ' ', false, json::error_handler_t::replace)})
        for (unsigned char ch : part + '\0') {
            h ^= ch;
            h *= 1099511628211ull;
        }
    char buf[32];
    std::snprintf(buf, sizeof buf, "gemini-%016llx", static_cast<unsigned long long>(h));
    return buf;
}

// Long strings (a Write's whole content) are cut so the request fits the
// control protocol's line; the rules see the first 4 KiB of each.
json fit(const json& input) {
    if (input.dump(-1, ' ', false, json::error_handler_t::replace).size() <= kMaxRequestInput)
        return input;
    json out = input;
    if (out.is_object())
        for (auto& [k, v] : out.items())
            if (v.is_string() && v.get_ref<const std::string&>().size() > 4096)
                v = shortened(v.get<std::string>(), 4096);
    if (out.dump(-1, ' ', false, json::error_handler_t::replace).size() > kMaxRequestInput)
        return json{{"bulkhead_note", "tool input too large to judge"}};
    return out;
}

}  // namespace

std::optional<Unreachable> unreachable_from_name(std::string_view name) {
    if (name == "deny-writes")
        return Unreachable::kDenyWrites;
    if (name == "deny")
        return Unreachable::kDeny;
    if (name == "allow")
        return Unreachable::kAllow;
    return std::nullopt;
}

std::optional<ToolEvent> parse_hook_input(Agent agent, const json& in, std::string* error) {
    if (!in.is_object()) {
        *error = "hook: stdin must be a JSON object";
        return std::nullopt;
    }
    std::string event = in.value("hook_event_name", "");
    ToolEvent ev;
    const bool gemini = agent == Agent::kGemini;
    if (event == (gemini ? "BeforeTool" : "PreToolUse")) {
        ev.pre = true;
    } else if (event == (gemini ? "AfterTool" : "PostToolUse")) {
        ev.pre = false;
    } else {
        *error = "hook: hook_event_name '" + event + "' is not a tool event of " + std::string(agent_name(agent)) +
                 " (want " + (gemini ? "BeforeTool or AfterTool" : "PreToolUse or PostToolUse") + ")";
        return std::nullopt;
    }
    auto str = [&](const char* key) {
        auto it = in.find(key);
        return it != in.end() && it->is_string() ? it->get<std::string>() : std::string();
    };
    ev.tool_name = str("tool_name");
    if (ev.tool_name.empty()) {
        *error = "hook: the event has no tool_name";
        return std::nullopt;
    }
    if (auto it = in.find("tool_input"); it != in.end() && !it->is_null())
        ev.tool_input = *it;
    ev.cwd = str("cwd");
    ev.agent_session = str("session_id");
    ev.tool_use_id = str("tool_use_id");
    if (ev.tool_use_id.empty()) {
        if (!gemini) {
            *error = "hook: the event has no tool_use_id";
            return std::nullopt;
        }
        ev.tool_use_id = derived_id(ev.agent_session, ev.tool_name, ev.tool_input);
    }
    return ev;
}

HookReply render_pre(Agent agent, const std::string& decision, const std::string& reason, const json& updated_input) {
    HookReply r;
    if (decision == "allow" && updated_input.is_object()) {
        // A promoted session: the call goes on, rewritten to run in its microVM.
        if (agent == Agent::kGemini)
            r.out = json{{"decision", "allow"}, {"reason", shortened(reason, kMaxReason)},
                         {"hookSpecificOutput", {{"hookEventName", "BeforeTool"}, {"tool_input", updated_input}}}}
                        .dump() + "\n";
        else
            r.out = json{{"hookSpecificOutput",
                          {{"hookEventName", "PreToolUse"},
                           {"permissionDecision", "allow"},
                           {"permissionDecisionReason", shortened(reason, kMaxReason)},
                           {"updatedInput", updated_input}}}}
                        .dump() + "\n";
        r.err = reason + "\n";
        return r;
    }
    if (decision != "deny" && decision != "ask")
        return r;  // nothing: the agent's own permission flow goes on
    if (agent == Agent::kGemini) {
        // Gemini's hooks cannot ask a human; a rule that wants one denies.
        std::string why = decision == "ask" ? reason + " (this needs a human's approval, which Gemini CLI hooks cannot ask for)"
                                            : reason;
        r.out = json{{"decision", "deny"}, {"reason", shortened(why, kMaxReason)}}.dump() + "\n";
    } else {
        r.out = json{{"hookSpecificOutput",
                      {{"hookEventName", "PreToolUse"},
                       {"permissionDecision", decision},
                       {"permissionDecisionReason", shortened(reason, kMaxReason)}}}}
                    .dump() +
                "\n";
    }
    r.err = reason + "\n";
    return r;
}

HookReply render_post(Agent agent, const json& denied) {
    HookReply r;
    if (!denied.is_array() || denied.empty())
        return r;
    std::string text = "bulkhead blocked ";
    for (size_t i = 0; i < denied.size(); ++i)
        text += (i ? "; " : "") + denied[i].get<std::string>();
    text += ". The kernel denies this whatever path or tool is used; do not retry it another way.";
    text = shortened(text, kMaxReason);
    if (agent == Agent::kGemini)
        r.out = json{{"hookSpecificOutput", {{"hookEventName", "AfterTool"}, {"additionalContext", text}}}}.dump() + "\n";
    else  // PostToolUse: a "block" decision's reason goes to the model
        r.out = json{{"decision", "block"},
                     {"reason", text},
                     {"hookSpecificOutput", {{"hookEventName", "PostToolUse"}, {"additionalContext", text}}}}
                    .dump() +
                "\n";
    r.err = text + "\n";
    return r;
}

HookReply render_unreachable(Agent agent, const ToolEvent& ev, Unreachable policy, const std::string& why) {
    const bool deny = ev.pre && (policy == Unreachable::kDeny ||
                                 (policy == Unreachable::kDenyWrites && write_like(classify_tool(ev.tool_name))));
    std::string text = "bulkhead hook: the daemon is unreachable (" + why + "); ";
    if (!deny) {
        HookReply r;
        r.err = text + "the kernel still enforces; this " + ev.tool_name + " call is not judged\n";
        return r;
    }
    text += ev.tool_name + " changes the machine, so the hook denies it until the daemon is back (policy " +
            std::string(policy == Unreachable::kDeny ? "deny" : "deny-writes") + ")";
    return render_pre(agent, "deny", text);
}

HookReply run_hook(const HookOptions& o, std::istream& in) {
    std::string text;
    text.reserve(4096);
    char buf[65536];
    while (in.read(buf, sizeof buf) || in.gcount() > 0) {
        text.append(buf, static_cast<size_t>(in.gcount()));
        if (text.size() > kMaxInput)
            return {"", "bulkhead hook: stdin is larger than 16 MiB; not a hook event\n", 1};
    }
    json j = json::parse(text, nullptr, /* allow_exceptions = */ false);
    if (j.is_discarded())
        return {"", "bulkhead hook: stdin is not JSON\n", 1};
    std::string error;
    auto ev = parse_hook_input(o.agent, j, &error);
    if (!ev)
        return {"", "bulkhead " + error + "\n", 1};
    json req = {{"op", "tool_call"},
                {"phase", ev->pre ? "pre" : "post"},
                {"agent", std::string(agent_name(o.agent))},
                {"tool_name", ev->tool_name},
                {"tool_use_id", ev->tool_use_id},
                {"tool_input", fit(ev->tool_input)},
                {"cwd", ev->cwd},
                {"agent_session", ev->agent_session}};
    json reply;
    try {
        auto client = control::Client::connect(o.socket);
        reply = client.request(req);
    } catch (const std::exception& e) {
        return render_unreachable(o.agent, *ev, o.unreachable, e.what());
    }
    if (!reply.value("ok", false))
        return render_unreachable(o.agent, *ev, o.unreachable, "the daemon refused: " + reply.value("error", "?"));
    if (ev->pre)
        return render_pre(o.agent, reply.value("decision", "allow"), reply.value("reason", ""),
                          reply.contains("updated_input") ? reply["updated_input"] : json());
    return render_post(o.agent, reply.value("denied", json::array()));
}

}  // namespace bulkhead::hooks
