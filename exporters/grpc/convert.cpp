// SPDX-License-Identifier: Apache-2.0
#include "exporters/grpc/convert.h"

#include "exporters/falco_json.h"
#include "exporters/sink_config.h"

namespace bulkhead::exporters::rpc {

namespace {

void set_time(google::protobuf::Timestamp* t, int64_t unix_ns) {
    t->set_seconds(unix_ns / 1000000000);
    t->set_nanos(static_cast<int32_t>(unix_ns % 1000000000));
}

int64_t get_time(const google::protobuf::Timestamp& t) {
    return t.seconds() * 1000000000 + t.nanos();
}

v1::FieldValue field_value(const nlohmann::json& v) {
    v1::FieldValue out;
    if (v.is_string())
        out.set_string_value(v.get<std::string>());
    else if (v.is_number_unsigned())
        out.set_uint_value(v.get<uint64_t>());
    else if (v.is_number_integer())
        out.set_int_value(v.get<int64_t>());
    else if (v.is_number_float())
        out.set_double_value(v.get<double>());
    else if (v.is_boolean())
        out.set_bool_value(v.get<bool>());
    else if (!v.is_null())
        out.set_json_value(dump_json(v));
    return out;
}

nlohmann::json json_value(const v1::FieldValue& v) {
    switch (v.kind_case()) {
    case v1::FieldValue::kStringValue: return v.string_value();
    case v1::FieldValue::kIntValue: return v.int_value();
    case v1::FieldValue::kUintValue: return v.uint_value();
    case v1::FieldValue::kDoubleValue: return v.double_value();
    case v1::FieldValue::kBoolValue: return v.bool_value();
    case v1::FieldValue::kJsonValue: {
        auto j = nlohmann::json::parse(v.json_value(), nullptr, /* allow_exceptions = */ false);
        return j.is_discarded() ? nlohmann::json(v.json_value()) : j;
    }
    default: return nullptr;
    }
}

// protobuf strings must be UTF-8; paths and outputs are escaped already,
// but rule output fields may carry anything.
std::string utf8(const std::string& s) { return sanitize_utf8(s); }

}  // namespace

v1::Priority priority_to_proto(const std::string& falco_name) {
    auto p = parse_priority(falco_name);
    return p ? static_cast<v1::Priority>(*p + 1) : v1::PRIORITY_UNSPECIFIED;
}

std::string priority_from_proto(v1::Priority p) {
    if (p == v1::PRIORITY_UNSPECIFIED || !v1::Priority_IsValid(p))
        return "Notice";  // the Event default
    return priority_name(static_cast<int>(p) - 1);
}

v1::Verdict verdict_to_proto(const std::string& verdict) {
    if (verdict == "deny") return v1::VERDICT_DENY;
    if (verdict == "audit") return v1::VERDICT_AUDIT;
    if (verdict == "allow") return v1::VERDICT_ALLOW;
    if (verdict == "ask") return v1::VERDICT_ASK;
    return v1::VERDICT_UNSPECIFIED;
}

std::string verdict_name(int verdict) {
    switch (verdict) {
    case v1::VERDICT_DENY: return "deny";
    case v1::VERDICT_AUDIT: return "audit";
    case v1::VERDICT_ALLOW: return "allow";
    case v1::VERDICT_ASK: return "ask";
    default: return "";
    }
}

v1::SessionState state_to_proto(const std::string& state) {
    if (state == "active") return v1::SESSION_STATE_ACTIVE;
    if (state == "asking") return v1::SESSION_STATE_ASKING;
    if (state == "promoted") return v1::SESSION_STATE_PROMOTED;
    if (state == "killed") return v1::SESSION_STATE_KILLED;
    if (state == "ended") return v1::SESSION_STATE_ENDED;
    if (state == "frozen") return v1::SESSION_STATE_FROZEN;
    if (state == "promoting") return v1::SESSION_STATE_PROMOTING;
    return v1::SESSION_STATE_UNSPECIFIED;
}

std::string state_name(v1::SessionState s) {
    switch (s) {
    case v1::SESSION_STATE_ACTIVE: return "active";
    case v1::SESSION_STATE_ASKING: return "asking";
    case v1::SESSION_STATE_PROMOTED: return "promoted";
    case v1::SESSION_STATE_KILLED: return "killed";
    case v1::SESSION_STATE_ENDED: return "ended";
    case v1::SESSION_STATE_FROZEN: return "frozen";
    case v1::SESSION_STATE_PROMOTING: return "promoting";
    default: return "unknown";
    }
}

v1::Event to_proto(const events::Event& e, const std::string& hostname) {
    v1::Event pe;
    set_time(pe.mutable_time(), e.time_unix_ns);
    pe.set_hostname(utf8(hostname));
    pe.set_kind(utf8(e.kind));
    pe.set_priority(priority_to_proto(e.priority));
    pe.set_verdict(verdict_to_proto(e.verdict));
    pe.set_op(utf8(e.op));
    pe.set_evt_type(utf8(e.evt_type));
    pe.set_error_number(e.err);
    pe.set_session_id(e.session);
    pe.set_agent(utf8(e.agent));
    pe.set_agent_kind(e.agent_kind);
    auto* p = pe.mutable_process();
    p->set_pid(e.tgid);
    p->set_tid(e.pid);
    p->set_ppid(e.ppid);
    p->set_uid(e.uid);
    p->set_gid(e.gid);
    p->set_name(utf8(e.comm));
    p->set_exe(utf8(e.exe));
    p->set_container_id(utf8(e.container_id));
    p->set_cgroup_id(e.cgroup_id);
    if (!e.path.empty() || e.ino) {
        auto* f = pe.mutable_file();
        f->set_path(utf8(e.path));
        f->set_path_truncated(e.path_truncated);
        f->set_path_fs_relative(e.path_fs_relative);
        f->set_depth_exceeded(e.depth_exceeded);
        f->set_dev(e.dev);
        f->set_ino(e.ino);
    }
    if (!e.rule.empty()) {
        auto* a = pe.mutable_alert();
        a->set_rule(utf8(e.rule));
        a->set_rule_id(e.rule_id);
        a->set_output(utf8(e.output));
        if (e.output_fields.is_object())
            for (auto it = e.output_fields.begin(); it != e.output_fields.end(); ++it)
                (*a->mutable_output_fields())[utf8(it.key())] = field_value(it.value());
        for (const auto& t : e.tags)
            a->add_tags(utf8(t));
        a->set_risk(e.risk);
        a->set_action(utf8(e.action));
    }
    pe.set_level(utf8(e.level));
    pe.set_detail(utf8(e.detail));
    pe.set_count(e.count);
    pe.set_workspace(utf8(e.workspace));
    pe.set_tool_use_id(utf8(e.tool_use_id));
    pe.set_tool_name(utf8(e.tool_name));
    pe.set_boot_time_ns(e.ts_boot_ns);
    return pe;
}

events::Event from_proto(const v1::Event& pe, std::string* hostname) {
    events::Event e;
    e.time_unix_ns = get_time(pe.time());
    *hostname = pe.hostname();
    e.kind = pe.kind();
    e.priority = priority_from_proto(pe.priority());
    e.verdict = verdict_name(pe.verdict());
    e.op = pe.op();
    e.evt_type = pe.evt_type();
    e.err = pe.error_number();
    e.session = pe.session_id();
    e.agent = pe.agent();
    e.agent_kind = pe.agent_kind();
    const auto& p = pe.process();
    e.tgid = p.pid();
    e.pid = p.tid();
    e.ppid = p.ppid();
    e.uid = p.uid();
    e.gid = p.gid();
    e.comm = p.name();
    e.exe = p.exe();
    e.container_id = p.container_id();
    e.cgroup_id = p.cgroup_id();
    const auto& f = pe.file();
    e.path = f.path();
    e.path_truncated = f.path_truncated();
    e.path_fs_relative = f.path_fs_relative();
    e.depth_exceeded = f.depth_exceeded();
    e.dev = f.dev();
    e.ino = f.ino();
    if (pe.has_alert()) {
        const auto& a = pe.alert();
        e.rule = a.rule();
        e.rule_id = a.rule_id();
        e.output = a.output();
        for (const auto& [k, v] : a.output_fields())
            e.output_fields[k] = json_value(v);
        e.tags.assign(a.tags().begin(), a.tags().end());
        e.risk = a.risk();
        e.action = a.action();
    }
    e.level = pe.level();
    e.detail = pe.detail();
    e.count = pe.count();
    e.workspace = pe.workspace();
    e.tool_use_id = pe.tool_use_id();
    e.tool_name = pe.tool_name();
    e.ts_boot_ns = pe.boot_time_ns();
    return e;
}

v1::Session to_proto(const SessionInfo& s) {
    v1::Session ps;
    ps.set_id(s.id);
    ps.set_agent(utf8(s.agent));
    ps.set_uid(s.uid);
    ps.set_workspace(utf8(s.workspace));
    set_time(ps.mutable_start_time(), s.start_unix_ns);
    ps.set_state(state_to_proto(s.state));
    ps.set_leader_pid(s.leader_pid);
    ps.set_cgroup_id(s.cgroup_id);
    ps.set_cgroup(utf8(s.cgroup));
    ps.set_container_id(utf8(s.container_id));
    ps.set_pod(utf8(s.pod));
    ps.set_risk(s.risk);
    ps.set_origin(utf8(s.origin));
    ps.set_denied(s.denied);
    ps.set_audited(s.audited);
    ps.set_level(utf8(s.level));
    ps.set_taint(utf8(s.taint));
    ps.set_vm(utf8(s.vm));
    ps.set_pending_asks(s.pending_asks);
    return ps;
}

nlohmann::json to_json(const v1::Session& s) {
    return {{"id", s.id()},
            {"agent", s.agent()},
            {"uid", s.uid()},
            {"workspace", s.workspace()},
            {"start_time", events::rfc3339_ns(get_time(s.start_time()))},
            {"state", state_name(s.state())},
            {"leader_pid", s.leader_pid()},
            {"cgroup_id", s.cgroup_id()},
            {"cgroup", s.cgroup()},
            {"container_id", s.container_id()},
            {"pod", s.pod()},
            {"risk", s.risk()},
            {"origin", s.origin()},
            {"denied", s.denied()},
            {"audited", s.audited()},
            {"level", s.level()},
            {"taint", s.taint()},
            {"vm", s.vm()},
            {"pending_asks", s.pending_asks()}};
}

Result<SubscriberFilter> parse_request(const v1::SubscribeRequest& req) {
    SubscriberFilter f;
    int p = req.min_priority();
    if (!v1::Priority_IsValid(p))
        return Error{"grpc: min_priority " + std::to_string(p) + " is not a bulkhead.v1.Priority"};
    f.filter.min_priority = p == v1::PRIORITY_UNSPECIFIED ? 7 : p - 1;
    if (req.rules_size() > kMaxFilterRules)
        return Error{"grpc: rules has " + std::to_string(req.rules_size()) + " entries; at most " +
                     std::to_string(kMaxFilterRules)};
    for (const auto& r : req.rules()) {
        if (r.size() > kMaxRuleName)
            return Error{"grpc: a rule name in rules is " + std::to_string(r.size()) +
                         " bytes long; at most " + std::to_string(kMaxRuleName)};
        f.filter.rules.insert(r);
    }
    if (req.session_ids_size() > kMaxFilterSessions)
        return Error{"grpc: session_ids has " + std::to_string(req.session_ids_size()) +
                     " entries; at most " + std::to_string(kMaxFilterSessions)};
    f.filter.sessions.insert(req.session_ids().begin(), req.session_ids().end());
    for (int v : req.verdicts()) {
        std::string name = verdict_name(v);
        if (name.empty())
            return Error{"grpc: verdicts has " + std::to_string(v) +
                         ", not a bulkhead.v1.Verdict (DENY, AUDIT, ALLOW, ASK)"};
        f.filter.verdicts.insert(name);
    }
    f.alerts_only = req.alerts_only();
    return f;
}

}  // namespace bulkhead::exporters::rpc
