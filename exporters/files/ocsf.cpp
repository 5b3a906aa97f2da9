// SPDX-License-Identifier: Apache-2.0
#include "files/ocsf.h"

#include <cstdlib>
#include <map>

#include "sink_config.h"

namespace bulkhead::exporters {

namespace {

using json = nlohmann::json;

struct Activity {
    int id;
    const char* name;
};

const char* severity_name(int id) {
    switch (id) {
    case 1: return "Informational";
    case 2: return "Low";
    case 3: return "Medium";
    case 4: return "High";
    case 5: return "Critical";
    case 6: return "Fatal";
    }
    return "Unknown";
}

bool has(const std::string& op, const char* word) {
    return op.find(word) != std::string::npos;
}

Activity file_activity(const std::string& op) {
    if (has(op, "create") || has(op, "mkdir") || has(op, "link"))
        return {1, "Create"};
    if (has(op, "unlink") || has(op, "delete") || has(op, "rmdir"))
        return {4, "Delete"};
    if (has(op, "rename"))
        return {5, "Rename"};
    if (has(op, "write") || has(op, "truncate"))
        return {3, "Update"};
    if (has(op, "read"))
        return {2, "Read"};
    if (has(op, "chmod") || has(op, "chown") || has(op, "setattr"))
        return {6, "Set Attributes"};
    if (has(op, "open"))
        return {14, "Open"};
    return {99, "Other"};
}

Activity process_activity(const events::Event& e) {
    if (e.kind == "session" || e.kind == "exec" || e.op == "exec")
        return {1, "Launch"};
    if (e.op == "ptrace")
        return {3, "Open"};  // obtaining a handle on another process
    if (e.op == "signal" || e.op == "kill")
        return {2, "Terminate"};
    return {99, "Other"};
}

Activity network_activity(const std::string& op) {
    if (op == "listen")
        return {7, "Listen"};
    if (op == "connect" || op == "accept")
        return {1, "Open"};
    if (op == "send" || op == "recv")
        return {6, "Traffic"};
    return {99, "Other"};
}

std::string basename_of(const std::string& path) {
    auto slash = path.rfind('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

// A Falco field as events::to_json renders it (so the socket fields the
// daemon fills are found whatever their source), first of `keys` present.
json field(const json& fields, std::initializer_list<const char*> keys) {
    for (const char* key : keys)
        if (auto it = fields.find(key); it != fields.end() && !it->is_null())
            return *it;
    return json();
}

json process_of(const events::Event& e) {
    json p = {{"pid", e.tgid}, {"name", e.comm}, {"user", {{"uid", std::to_string(e.uid)}}}};
    if (!e.exe.empty())
        p["file"] = {{"name", basename_of(e.exe)}, {"path", e.exe}, {"type_id", 1}, {"type", "Regular File"}};
    if (e.ppid)
        p["parent_process"] = {{"pid", e.ppid}};
    if (!e.container_id.empty())
        p["container"] = {{"uid", e.container_id}};
    return p;
}

json actor_of(const events::Event& e) {
    json a = {{"process", process_of(e)}, {"user", {{"uid", std::to_string(e.uid)}}}};
    if (e.session)
        a["session"] = {{"uid", std::to_string(e.session)}};
    if (!e.agent.empty())
        a["app_name"] = e.agent;
    return a;
}

json file_of(const events::Event& e) {
    // The kernel matched an inode; the path is for humans (ARCHITECTURE.md),
    // and the object is named by (dev, ino) in uid.
    json f = {{"name", basename_of(e.path)}, {"path", e.path}, {"type_id", 0}, {"type", "Unknown"}};
    if (e.ino)
        f["uid"] = std::to_string(e.dev) + ":" + std::to_string(e.ino);
    return f;
}

json endpoint(const json& fields, std::initializer_list<const char*> ip, std::initializer_list<const char*> port,
              std::initializer_list<const char*> name) {
    json ep = json::object();
    if (auto v = field(fields, ip); !v.is_null())
        ep["ip"] = v;
    if (auto v = field(fields, port); !v.is_null())
        ep["port"] = v;
    if (auto v = field(fields, name); !v.is_null())
        ep["hostname"] = v;
    return ep;
}

// The class-specific objects of an activity event, also used as a
// finding's evidence.
void add_activity_objects(json& j, const events::Event& e, int class_uid) {
    j["actor"] = actor_of(e);
    if (class_uid == 1001) {
        j["file"] = file_of(e);
    } else if (class_uid == 1007) {
        j["process"] = process_of(e);
        json parent = {{"pid", e.ppid}};
        j["actor"]["process"] = e.kind == "self-guard" ? process_of(e) : parent;
        if (e.kind == "self-guard") {
            // The target is the daemon itself; its pid, when the kernel gave it.
            j["process"] = {{"name", "bulkhead"}};
            if (e.detail.rfind("target pid ", 0) == 0)
                j["process"]["pid"] = std::strtoll(e.detail.c_str() + 11, nullptr, 10);
        }
    } else if (class_uid == 4001) {
        json fields = events::to_json(e, "")["output_fields"];
        // Local end as the source, remote end as the destination.
        j["src_endpoint"] = endpoint(fields, {"fd.lip", "fd.cip"}, {"fd.lport", "fd.cport"}, {"fd.cip.name"});
        j["dst_endpoint"] = endpoint(fields, {"fd.rip", "fd.sip"}, {"fd.rport", "fd.sport"}, {"fd.sip.name"});
        bool inbound = e.op == "accept" || e.op == "listen";
        json conn = {{"direction_id", inbound ? 1 : 2}, {"direction", inbound ? "Inbound" : "Outbound"}};
        if (auto proto = field(fields, {"fd.l4proto"}); proto.is_string()) {
            conn["protocol_name"] = proto;
            conn["protocol_num"] = proto == "tcp" ? 6 : proto == "udp" ? 17 : 0;
        }
        j["connection_info"] = conn;
    }
}

}  // namespace

int ocsf_severity_id(int priority) {
    static const int map[] = {6, 5, 5, 4, 3, 2, 1, 1};
    return priority >= 0 && priority <= 7 ? map[priority] : 0;
}

OcsfOutcome ocsf_outcome(const events::Event& e) {
    bool asked = e.action == "ask";
    if (e.verdict == "deny" || e.verdict == "rejected")
        return asked || e.verdict == "rejected" ? OcsfOutcome{2, "Denied", 25, "Rejected"}
                                                : OcsfOutcome{2, "Denied", 2, "Blocked"};
    if (e.verdict == "allow" || e.verdict == "approved")
        return asked || e.verdict == "approved" ? OcsfOutcome{1, "Allowed", 8, "Approved"}
                                                : OcsfOutcome{1, "Allowed", 1, "Allowed"};
    if (e.verdict == "audit")
        return {3, "Observed", 15, "Detected"};
    if (e.verdict == "ask")
        return {99, "Asked", 14, "Delayed"};
    return {0, "Unknown", 0, "Unknown"};
}

json to_ocsf(const events::Event& e, const OcsfOptions& o) {
    int priority = event_priority(e);
    bool alert = !e.rule.empty() &&
                 (e.verdict == "deny" || e.verdict == "audit" || e.verdict == "ask" ||
                  e.verdict == "approved" || e.verdict == "rejected" || e.action == "ask");
    int activity_class = e.kind == "file" || e.kind == "ask"                ? 1001
                         : e.kind == "session" || e.kind == "exec" ||
                                   e.kind == "self-guard"                   ? 1007
                         : e.kind == "net" || e.kind == "network"           ? 4001
                                                                            : 2004;
    int class_uid = alert && o.alerts_as_findings ? 2004 : activity_class;
    Activity act = class_uid == 1001   ? file_activity(e.op)
                   : class_uid == 1007 ? process_activity(e)
                   : class_uid == 4001 ? network_activity(e.op)
                                       : Activity{1, "Create"};
    static const std::map<int, std::pair<const char*, std::pair<int, const char*>>> classes = {
        {1001, {"File System Activity", {1, "System Activity"}}},
        {1007, {"Process Activity", {1, "System Activity"}}},
        {4001, {"Network Activity", {4, "Network Activity"}}},
        {2004, {"Detection Finding", {2, "Findings"}}},
    };
    const auto& [class_name, category] = classes.at(class_uid);
    int severity = ocsf_severity_id(priority);
    OcsfOutcome out = ocsf_outcome(e);
    int64_t time_ms = e.time_unix_ns / 1'000'000;
    std::string message = e.output.empty() ? events::output_line(e) : e.output;

    json j = {
        {"class_uid", class_uid},
        {"class_name", class_name},
        {"category_uid", category.first},
        {"category_name", category.second},
        {"activity_id", act.id},
        {"activity_name", act.name},
        {"type_uid", class_uid * 100 + act.id},
        {"type_name", std::string(class_name) + ": " + act.name},
        {"severity_id", severity},
        {"severity", severity_name(severity)},
        {"time", time_ms},
        {"message", message},
        {"status_id", e.err ? 2 : 1},
        {"status", e.err ? "Failure" : "Success"},
        {"action_id", out.action_id},
        {"action", out.action},
        {"disposition_id", out.disposition_id},
        {"disposition", out.disposition},
        {"metadata",
         {{"version", kOcsfVersion},
          {"product", {{"name", "bulkhead"}, {"vendor_name", "bulkhead"}, {"version", o.product_version}}},
          {"profiles", json::array({"host", "security_control"})}}},
        {"device", {{"type_id", 0}, {"type", "Unknown"}, {"hostname", o.hostname}}},
    };
    if (e.err)
        j["status_code"] = events::errno_name(e.err);
    if (alert)
        j["is_alert"] = true;
    if (e.risk)
        j["risk_score"] = e.risk;
    if (e.count)
        j["count"] = e.count;

    if (class_uid == 2004) {
        std::string title = e.rule.empty() ? message : e.rule;
        json info = {
            {"uid", o.hostname + "-" + std::to_string(e.time_unix_ns) + "-" + std::to_string(e.tgid) +
                        "-" + std::to_string(e.rule_id)},
            {"title", title},
            {"desc", message},
            {"created_time", time_ms},
            {"types", e.tags},
            {"analytic", {{"name", title}, {"type_id", 1}, {"type", "Rule"}}},
        };
        if (e.rule_id)
            info["analytic"]["uid"] = std::to_string(e.rule_id);
        j["finding_info"] = info;
        json evidence = json::object();
        add_activity_objects(evidence, e, activity_class);
        j["evidences"] = json::array({evidence});
        j["actor"] = evidence["actor"];
    } else {
        add_activity_objects(j, e, class_uid);
    }
    // bulkhead's own fields, which OCSF has no attribute for.
    json unmapped = {{"agent.kind", e.kind}, {"agent.session", std::to_string(e.session)}};
    if (!e.rule.empty())
        unmapped["agent.rule"] = e.rule;
    if (!e.level.empty())
        unmapped["agent.level"] = e.level;
    if (!e.action.empty())
        unmapped["agent.action"] = e.action;
    if (!e.workspace.empty())
        unmapped["agent.workspace"] = e.workspace;
    if (!e.tool_use_id.empty()) {
        unmapped["agent.tool_use_id"] = e.tool_use_id;
        unmapped["agent.tool_name"] = e.tool_name;
    }
    j["unmapped"] = unmapped;
    return j;
}

}  // namespace bulkhead::exporters
