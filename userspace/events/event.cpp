// SPDX-License-Identifier: Apache-2.0
#include "events/event.h"

#include <ctime>
#include <cstring>

#include "bpf_abi.h"

namespace bulkhead::events {

namespace {

void fill_header(Event& e, const bh_event_header& h) {
    e.ts_boot_ns = h.ts_ns;
    e.time_unix_ns = boot_to_unix_ns(h.ts_ns);
    e.session = h.session_id;
    e.agent_kind = h.agent_kind;
    e.cgroup_id = h.cgroup_id;
    e.pid = h.pid;
    e.tgid = h.tgid;
    e.ppid = h.ppid;
    e.uid = h.uid;
    e.gid = h.gid;
    e.comm = escape_path(std::string_view(h.comm, strnlen(h.comm, sizeof(h.comm))));
    e.path_truncated = h.flags & BH_EVT_F_PATH_TRUNCATED;
    e.path_fs_relative = h.flags & BH_EVT_F_FS_RELATIVE;
    e.depth_exceeded = h.flags & BH_EVT_F_DEPTH_EXCEEDED;
}

bool take_path(Event& e, const char* buf, uint16_t off, std::string* why) {
    if (off > BH_PATH_MAX) {
        *why = "path offset " + std::to_string(off) + " out of range";
        return false;
    }
    std::string_view raw(buf + off, BH_PATH_MAX - off);
    e.path = raw.empty() ? "/" : escape_path(raw);
    if (e.path_truncated)
        e.path = "..." + e.path;
    return true;
}

const char* self_op_name(uint32_t op) {
    switch (op) {
    case BH_SELF_BPF: return "bpf";
    case BH_SELF_PTRACE: return "ptrace";
    case BH_SELF_SIGNAL: return "signal";
    case BH_SELF_CGROUP: return "cgroup-write";
    case BH_SELF_BPFFS: return "bpffs";
    }
    return "unknown";
}

// A record must hold the whole struct its kind announces.
template <typename T>
bool whole(size_t size, const char* what, std::string* why) {
    if (size >= sizeof(T))
        return true;
    *why = std::string(what) + " event of " + std::to_string(size) + " bytes is truncated";
    return false;
}

}  // namespace

std::string op_name(uint32_t ops) {
    static const std::pair<uint32_t, const char*> names[] = {
        {BH_OP_READ, "read"},     {BH_OP_WRITE, "write"},   {BH_OP_CREATE, "create"},
        {BH_OP_LINK, "link"},     {BH_OP_RENAME, "rename"}, {BH_OP_UNLINK, "unlink"},
        {BH_OP_SETATTR, "setattr"}, {BH_OP_MMAP, "mmap"},
    };
    std::string out;
    for (auto [bit, name] : names) {
        if (ops & bit) {
            if (!out.empty())
                out += '|';
            out += name;
        }
    }
    return out.empty() ? "none" : out;
}

std::string evt_type_for(uint32_t op) {
    if (op & (BH_OP_READ | BH_OP_WRITE))
        return "open";
    if (op & BH_OP_RENAME)
        return "rename";
    if (op & BH_OP_LINK)
        return "link";
    if (op & BH_OP_CREATE)
        return "creat";
    if (op & BH_OP_UNLINK)
        return "unlink";
    if (op & BH_OP_SETATTR)
        return "chmod";
    if (op & BH_OP_MMAP)
        return "mmap";
    return "unknown";
}

std::string escape_path(std::string_view raw) {
    static const char hex[] = "0123456789abcdef";
    std::string out;
    out.reserve(raw.size());
    auto esc = [&](unsigned char c) {
        out += "\\x";
        out += hex[c >> 4];
        out += hex[c & 15];
    };
    for (size_t i = 0; i < raw.size();) {
        unsigned char c = raw[i];
        if (c == '\\' || c < 0x20 || c == 0x7f) {
            esc(c);
            ++i;
            continue;
        }
        if (c < 0x80) {
            out += static_cast<char>(c);
            ++i;
            continue;
        }
        // Validate one UTF-8 sequence; anything invalid is escaped byte-wise.
        size_t len = (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
        bool ok = len && i + len <= raw.size();
        for (size_t k = 1; ok && k < len; ++k)
            ok = (static_cast<unsigned char>(raw[i + k]) >> 6) == 0x2;
        if (ok && len == 2 && c < 0xc2)
            ok = false;  // overlong
        if (ok) {
            out.append(raw.substr(i, len));
            i += len;
        } else {
            esc(c);
            ++i;
        }
    }
    return out;
}

std::string errno_name(int err) {
    switch (err) {
    case 0: return "OK";
    case EPERM: return "EPERM";
    case EACCES: return "EACCES";
    case ENOENT: return "ENOENT";
    }
    return "E" + std::to_string(err);
}

int64_t boot_to_unix_ns(uint64_t boot_ns) {
    timespec rt{}, bt{};
    clock_gettime(CLOCK_REALTIME, &rt);
    clock_gettime(CLOCK_BOOTTIME, &bt);
    int64_t offset = (rt.tv_sec - bt.tv_sec) * 1000000000LL + (rt.tv_nsec - bt.tv_nsec);
    return static_cast<int64_t>(boot_ns) + offset;
}

std::string rfc3339_ns(int64_t unix_ns) {
    time_t secs = unix_ns / 1000000000LL;
    long ns = unix_ns % 1000000000LL;
    tm t{};
    gmtime_r(&secs, &t);
    char buf[64];
    size_t n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &t);
    snprintf(buf + n, sizeof(buf) - n, ".%09ldZ", ns);
    return buf;
}

std::optional<Event> decode(const void* data, size_t size, std::string* why) {
    if (size < sizeof(bh_event_header)) {
        *why = "record of " + std::to_string(size) + " bytes is shorter than an event header";
        return std::nullopt;
    }
    bh_event_header h;
    std::memcpy(&h, data, sizeof(h));
    Event e;
    fill_header(e, h);
    switch (h.kind) {
    case BH_EVT_FILE: {
        if (!whole<bh_file_event>(size, "file", why))
            return std::nullopt;
        auto* f = static_cast<const bh_file_event*>(data);
        e.kind = "file";
        e.op = op_name(f->op);
        e.evt_type = evt_type_for(f->op);
        e.verdict = f->verdict == BH_VERDICT_DENY ? "deny" : "audit";
        e.err = -f->err;
        e.dev = f->dev;
        e.ino = f->ino;
        e.rule_id = f->rule_id;
        if (!take_path(e, f->path, f->path_off, why))
            return std::nullopt;
        return e;
    }
    case BH_EVT_SESSION_START: {
        if (!whole<bh_session_event>(size, "session", why))
            return std::nullopt;
        auto* s = static_cast<const bh_session_event*>(data);
        e.kind = "session";
        e.rule = "Session started";
        e.verdict = "allow";
        e.op = "exec";
        e.evt_type = "execve";
        e.dev = s->exe_dev;
        e.ino = s->exe_ino;
        if (!take_path(e, s->path, s->path_off, why))
            return std::nullopt;
        e.exe = e.path;
        return e;
    }
    case BH_EVT_SELF_GUARD: {
        if (!whole<bh_self_event>(size, "self-guard", why))
            return std::nullopt;
        auto* s = static_cast<const bh_self_event*>(data);
        e.kind = "self-guard";
        e.op = self_op_name(s->op);
        e.rule = std::string("Self guard: ") + e.op;
        e.priority = "Critical";
        e.verdict = "deny";
        e.err = -s->err;
        e.evt_type = e.op;
        e.detail = s->target_pid ? "target pid " + std::to_string(s->target_pid) : "";
        e.count = s->arg;
        return e;
    }
    }
    *why = "unknown event kind " + std::to_string(h.kind);
    return std::nullopt;
}

std::string output_line(const Event& e) {
    std::string out;
    if (e.kind == "drops")
        return "bulkhead lost " + std::to_string(e.count) + " kernel events (ring buffer full)";
    if (e.kind == "session")
        return "Agent session started (session=" + std::to_string(e.session) + " agent=" + e.agent +
               " exe=" + e.exe + " pid=" + std::to_string(e.tgid) + ")";
    out = e.verdict == "deny" ? "Denied " : "Audited ";
    out += e.op;
    if (e.kind == "file")
        out += " of " + e.path;
    if (!e.detail.empty())
        out += " (" + e.detail + ")";
    out += " by " + e.comm + " (pid=" + std::to_string(e.tgid) + " exe=" + e.exe +
           " session=" + std::to_string(e.session) + " agent=" + e.agent + ")";
    return out;
}

nlohmann::json to_json(const Event& e, const std::string& hostname) {
    nlohmann::json f;
    f["agent.session"] = std::to_string(e.session);
    f["agent.name"] = e.agent;
    f["agent.verdict"] = e.verdict;
    f["agent.level"] = e.level;
    f["agent.op"] = e.op;
    f["evt.type"] = e.evt_type;
    f["evt.res"] = e.err ? errno_name(e.err) : "SUCCESS";
    f["proc.pid"] = e.tgid;
    f["proc.tid"] = e.pid;
    f["proc.ppid"] = e.ppid;
    f["proc.name"] = e.comm;
    f["proc.exe"] = e.exe;
    f["user.uid"] = e.uid;
    f["group.gid"] = e.gid;
    f["container.id"] = e.container_id;
    f["cgroup.id"] = e.cgroup_id;
    if (e.kind == "file") {
        f["fd.name"] = e.path;
        f["fd.ino"] = e.ino;
        f["fd.dev"] = e.dev;
        f["agent.path_truncated"] = e.path_truncated;
        f["agent.path_fs_relative"] = e.path_fs_relative;
        f["agent.depth_exceeded"] = e.depth_exceeded;
    }
    if (e.kind == "drops")
        f["agent.dropped"] = e.count;
    if (!e.detail.empty())
        f["agent.detail"] = e.detail;
    if (!e.workspace.empty())
        f["agent.workspace"] = e.workspace;
    if (!e.tool_use_id.empty()) {
        f["agent.tool_use_id"] = e.tool_use_id;
        f["agent.tool_name"] = e.tool_name;
    }
    if (e.risk)
        f["agent.risk"] = e.risk;
    // A rule's own output fields win over the defaults above.
    for (auto it = e.output_fields.begin(); it != e.output_fields.end(); ++it)
        f[it.key()] = it.value();
    std::string line = e.output.empty() ? output_line(e) : e.output;
    return nlohmann::json{
        {"time", rfc3339_ns(e.time_unix_ns)},
        {"rule", e.rule},
        {"priority", e.priority},
        {"source", "bulkhead"},
        {"tags", e.tags},
        {"hostname", hostname},
        {"output", rfc3339_ns(e.time_unix_ns) + ": " + e.priority + " " + line},
        {"output_fields", f},
    };
}

std::string to_text(const Event& e) {
    std::string t = rfc3339_ns(e.time_unix_ns).substr(11, 12);
    std::string verdict = e.verdict == "deny" ? "DENY " : e.verdict == "audit" ? "AUDIT" : "INFO ";
    std::string out = t + " " + verdict + " " + (e.rule.empty() ? e.kind : e.rule) + ": " +
                      output_line(e);
    if (e.err)
        out += " -> " + errno_name(e.err);
    return out;
}

}  // namespace bulkhead::events
