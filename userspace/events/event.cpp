// SPDX-License-Identifier: Apache-2.0
#include "events/event.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <cerrno>
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

// A record must hold the whole struct its kind announces (or the part of
// it that kind sends, `need` bytes).
template <typename T>
bool whole(size_t size, const char* what, std::string* why, size_t need = sizeof(T)) {
    if (size >= need)
        return true;
    *why = std::string(what) + " event of " + std::to_string(size) + " bytes is truncated";
    return false;
}

// Bytes from the kernel as text: escaped like paths, NULs (argv separators)
// as spaces, trailing separators dropped.
std::string argv_text(const char* buf, size_t len) {
    std::string raw(buf, len);
    for (auto& c : raw)
        if (c == '\0')
            c = ' ';
    while (!raw.empty() && raw.back() == ' ')
        raw.pop_back();
    return escape_path(raw);
}

std::string ip_text(int family, const uint8_t* addr) {
    char buf[INET6_ADDRSTRLEN] = {};
    inet_ntop(family, addr, buf, sizeof(buf));
    return buf;
}

bool is_v4_mapped(const uint8_t* a) {
    static const uint8_t prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    return std::memcmp(a, prefix, sizeof(prefix)) == 0;
}

bool is_zero(const uint8_t* a, size_t n) {
    for (size_t i = 0; i < n; ++i)
        if (a[i])
            return false;
    return true;
}

// fd.l4proto as Falco derives it from the socket's type and protocol.
std::string l4proto_name(uint16_t type, uint16_t protocol) {
    if (protocol == IPPROTO_ICMP || protocol == IPPROTO_ICMPV6)
        return "icmp";
    switch (type) {
    case SOCK_STREAM: return "tcp";
    case SOCK_DGRAM: return "udp";
    case SOCK_RAW: return "raw";
    }
    return "";
}

void decode_net(Event& e, const bh_net_event& n) {
    e.kind = "net";
    e.evt_type = "connect";
    e.op = "connect";
    e.verdict = "allow";
    e.err = n.ret < 0 ? static_cast<int>(-n.ret) : 0;
    e.fd = n.fd;
    e.evt_args.push_back({"fd", std::to_string(n.fd)});
    if (n.family == AF_UNIX) {
        e.fd_type = "unix";
        std::string_view p(n.unix_path, std::min<size_t>(n.unix_len, sizeof(n.unix_path)));
        // An abstract name starts with NUL and has a length, not a
        // terminator; ss and Falco show it with '@'. A path ends at NUL.
        if (!p.empty() && p[0] == '\0')
            e.path = "@" + escape_path(p.substr(1));
        else
            e.path = escape_path(p.substr(0, p.find('\0')));
        e.evt_args.push_back({"addr", e.path});
        return;
    }
    e.l4proto = l4proto_name(n.sock_type, n.protocol);
    const uint8_t* l = n.laddr;
    const uint8_t* r = n.raddr;
    int family = n.family == AF_INET6 ? AF_INET6 : AF_INET;
    // Falco shows IPv4 reached through an IPv6 socket as IPv4.
    if (family == AF_INET6 && is_v4_mapped(r) && (is_v4_mapped(l) || is_zero(l, 16))) {
        family = AF_INET;
        r += 12;
        l = is_zero(l, 16) ? l : l + 12;
    }
    e.fd_type = family == AF_INET6 ? "ipv6" : "ipv4";
    e.rip = ip_text(family, r);
    e.lip = ip_text(family, l);
    e.rport = n.rport;
    e.lport = n.lport;
    e.path = socket_tuple(e);
    e.evt_args.push_back({"addr", e.rip + ":" + std::to_string(e.rport)});
}

// A connect or send the net guard judged. Shaped like an observer connect
// so the same fields (fd.sip, fd.sport, ...) and rules apply.
void decode_egress(Event& e, const bh_egress_event& g) {
    e.kind = "net";
    e.evt_type = g.op == BH_NET_OP_SEND ? "sendto" : "connect";
    e.op = e.evt_type;
    e.verdict = g.verdict == BH_VERDICT_DENY ? "deny" : "audit";
    e.err = g.verdict == BH_VERDICT_DENY ? EPERM : 0;
    e.rule_id = g.rule_id;
    e.l4proto = l4proto_name(g.sock_type, static_cast<uint16_t>(g.protocol));
    int family = g.family == AF_INET6 ? AF_INET6 : AF_INET;
    e.fd_type = family == AF_INET6 ? "ipv6" : "ipv4";
    e.rip = ip_text(family, g.raddr);
    e.lip = family == AF_INET6 ? "::" : "0.0.0.0";  // refused before a local address was bound
    e.rport = g.rport;
    e.path = socket_tuple(e);
    e.evt_args.push_back({"addr", e.rip + ":" + std::to_string(e.rport)});
    e.taint_rule_id = g.taint_rule;
    e.taint_dev = g.taint_dev;
    e.taint_ino = g.taint_ino;
}

std::string memfd_flags(uint64_t flags) {
    static const std::pair<uint64_t, const char*> names[] = {
        {0x1, "MFD_CLOEXEC"}, {0x2, "MFD_ALLOW_SEALING"}, {0x4, "MFD_HUGETLB"},
        {0x8, "MFD_NOEXEC_SEAL"}, {0x10, "MFD_EXEC"},
    };
    std::string out;
    for (auto [bit, name] : names) {
        if (flags & bit) {
            out += out.empty() ? "" : "|";
            out += name;
            flags &= ~bit;
        }
    }
    if (flags)
        out += (out.empty() ? "" : "|") + std::to_string(flags);
    return out.empty() ? "0" : out;
}

bool decode_syscall(Event& e, const bh_syscall_event& s, std::string* why) {
    e.kind = "syscall";
    e.verdict = "allow";
    e.err = s.ret < 0 ? static_cast<int>(-s.ret) : 0;
    std::string str = escape_path(
        std::string_view(s.str, strnlen(s.str, std::min<size_t>(s.str_len, sizeof(s.str)))));
    switch (s.nr) {
    case BH_SYS_PTRACE:
        e.evt_type = "ptrace";
        e.evt_args = {{"request", ptrace_request_name(s.args[0])},
                      {"pid", std::to_string(static_cast<int64_t>(s.args[1]))}};
        break;
    case BH_SYS_INIT_MODULE:
        e.evt_type = "init_module";
        e.evt_args = {{"length", std::to_string(s.args[1])}, {"uargs", str}};
        break;
    case BH_SYS_FINIT_MODULE:
        e.evt_type = "finit_module";
        e.evt_args = {{"fd", std::to_string(static_cast<int64_t>(s.args[0]))},
                      {"uargs", str},
                      {"flags", std::to_string(s.args[2])}};
        break;
    case BH_SYS_MEMFD_CREATE:
        e.evt_type = "memfd_create";
        e.evt_args = {{"name", str}, {"flags", memfd_flags(s.args[1])}};
        if (s.ret >= 0)
            e.evt_args.push_back({"fd", std::to_string(s.ret)});
        break;
    default:
        *why = "syscall event for unknown syscall " + std::to_string(s.nr);
        return false;
    }
    e.op = e.evt_type;
    e.dev = s.dev;
    e.ino = s.ino;
    if (s.path_off != BH_NO_PATH) {
        if (!take_path(e, s.path, s.path_off, why))
            return false;
        e.evt_args.push_back({"path", e.path});
    }
    return true;
}

}  // namespace

std::string op_name(uint32_t ops) {
    static const std::pair<uint32_t, const char*> names[] = {
        {BH_OP_READ, "read"},     {BH_OP_WRITE, "write"},   {BH_OP_CREATE, "create"},
        {BH_OP_LINK, "link"},     {BH_OP_RENAME, "rename"}, {BH_OP_UNLINK, "unlink"},
        {BH_OP_SETATTR, "setattr"}, {BH_OP_MMAP, "mmap"},     {BH_OP_CONNECT, "connect"},
        {BH_OP_EXEC, "exec"},
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
    if (op & BH_OP_EXEC)  // an exec opens its program for reading too
        return "execve";
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
    if (op & BH_OP_CONNECT)
        return "connect";
    return "unknown";
}

const std::set<std::string>& produced_evt_types() {
    // Keep in step with decode() (evt_type_for, the observer's and the self
    // guard's records), the ask broker's and the hooks' events.
    static const std::set<std::string> types = {
        "open",   "openat",  "rename",      "link",         "creat",     "unlink", "chmod",  "mmap",
        "execve", "connect", "sendto",      "ptrace",       "init_module", "finit_module",
        "memfd_create", "tool_call", "bpf", "signal", "cgroup-write", "bpffs"};
    return types;
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
    if (err == 0)
        return "OK";
    if (const char* name = strerrorname_np(err))
        return name;
    return "E" + std::to_string(err);
}

const std::string* Event::evt_arg(std::string_view name) const {
    for (const auto& [k, v] : evt_args)
        if (k == name)
            return &v;
    return nullptr;
}

std::string socket_tuple(const Event& e) {
    return e.lip + ":" + std::to_string(e.lport) + "->" + e.rip + ":" + std::to_string(e.rport);
}

std::string ptrace_request_name(uint64_t request) {
    static const std::pair<uint64_t, const char*> names[] = {
        {0, "PTRACE_TRACEME"},     {1, "PTRACE_PEEKTEXT"},     {2, "PTRACE_PEEKDATA"},
        {3, "PTRACE_PEEKUSR"},     {4, "PTRACE_POKETEXT"},     {5, "PTRACE_POKEDATA"},
        {6, "PTRACE_POKEUSR"},     {7, "PTRACE_CONT"},         {8, "PTRACE_KILL"},
        {9, "PTRACE_SINGLESTEP"},  {12, "PTRACE_GETREGS"},     {13, "PTRACE_SETREGS"},
        {14, "PTRACE_GETFPREGS"},  {15, "PTRACE_SETFPREGS"},   {16, "PTRACE_ATTACH"},
        {17, "PTRACE_DETACH"},     {18, "PTRACE_GETFPXREGS"},  {19, "PTRACE_SETFPXREGS"},
        {24, "PTRACE_SYSCALL"},    {0x4200, "PTRACE_SETOPTIONS"}, {0x4201, "PTRACE_GETEVENTMSG"},
        {0x4202, "PTRACE_GETSIGINFO"}, {0x4203, "PTRACE_SETSIGINFO"}, {0x4204, "PTRACE_GETREGSET"},
        {0x4205, "PTRACE_SETREGSET"}, {0x4206, "PTRACE_SEIZE"},  {0x4207, "PTRACE_INTERRUPT"},
        {0x4208, "PTRACE_LISTEN"},    {0x4209, "PTRACE_PEEKSIGINFO"},
    };
    for (auto [n, name] : names)
        if (n == request)
            return name;
    return std::to_string(request);
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
        if (f->op & BH_OP_CONNECT)
            e.fd_type = "unix";  // the object is a socket bound at a path
        e.verdict = f->verdict == BH_VERDICT_DENY ? "deny" : "audit";
        e.err = -f->err;
        e.dev = f->dev;
        e.ino = f->ino;
        e.rule_id = f->rule_id;
        e.exe_dev = f->exe_dev;
        e.exe_ino = f->exe_ino;
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
        e.exe_dev = s->exe_dev;
        e.exe_ino = s->exe_ino;
        if (!take_path(e, s->path, s->path_off, why))
            return std::nullopt;
        e.exe = e.path;
        return e;
    }
    case BH_EVT_EXEC: {
        if (!whole<bh_exec_event>(size, "exec", why))
            return std::nullopt;
        auto* x = static_cast<const bh_exec_event*>(data);
        if (x->args_len > BH_ARGS_MAX) {
            *why = "exec event argv length " + std::to_string(x->args_len) + " out of range";
            return std::nullopt;
        }
        e.kind = "exec";
        e.evt_type = "execve";
        e.op = "exec";
        e.verdict = "allow";
        e.exe_dev = e.dev = x->exe_dev;
        e.exe_ino = e.ino = x->exe_ino;
        e.exe_from_memfd = x->exe_flags & BH_EXE_F_MEMFD;
        e.args_truncated = h.flags & BH_EVT_F_ARGS_TRUNCATED;
        if (!take_path(e, x->path, x->path_off, why))
            return std::nullopt;
        e.exe = e.path;
        // Falco's proc.args is argv[1..]; proc.cmdline is proc.name and them.
        std::string_view argv(x->args, x->args_len);
        size_t first = argv.find('\0');
        e.args = first == std::string_view::npos ? "" : argv_text(argv.data() + first + 1,
                                                                  argv.size() - first - 1);
        e.cmdline = e.args->empty() ? e.comm : e.comm + " " + *e.args;
        e.evt_args = {{"exe", e.exe}, {"args", *e.args}};
        return e;
    }
    case BH_EVT_NET: {
        if (!whole<bh_net_event>(size, "net", why))
            return std::nullopt;
        auto* n = static_cast<const bh_net_event*>(data);
        if (n->family != AF_INET && n->family != AF_INET6 && n->family != AF_UNIX) {
            *why = "net event of address family " + std::to_string(n->family);
            return std::nullopt;
        }
        decode_net(e, *n);
        return e;
    }
    case BH_EVT_EGRESS: {
        if (!whole<bh_egress_event>(size, "egress", why))
            return std::nullopt;
        auto* g = static_cast<const bh_egress_event*>(data);
        if ((g->family != AF_INET && g->family != AF_INET6) ||
            (g->verdict != BH_VERDICT_DENY && g->verdict != BH_VERDICT_AUDIT)) {
            *why = "egress event with family " + std::to_string(g->family) + " and verdict " +
                   std::to_string(g->verdict);
            return std::nullopt;
        }
        decode_egress(e, *g);
        return e;
    }
    case BH_EVT_TAINT: {
        if (!whole<bh_taint_event>(size, "taint", why))
            return std::nullopt;
        auto* t = static_cast<const bh_taint_event*>(data);
        e.kind = "taint";
        e.op = "taint";
        e.evt_type = "open";
        e.verdict = "audit";
        e.rule_id = t->rule_id;
        e.dev = t->dev;
        e.ino = t->ino;
        return e;
    }
    case BH_EVT_SYSCALL: {
        constexpr size_t head = offsetof(bh_syscall_event, path);
        if (!whole<bh_syscall_event>(size, "syscall", why, head))
            return std::nullopt;
        // Only the head is guaranteed; the path follows when path_off says so.
        bh_syscall_event s{};
        std::memcpy(&s, data, std::min(size, sizeof(s)));
        if (s.path_off != BH_NO_PATH && !whole<bh_syscall_event>(size, "syscall", why))
            return std::nullopt;
        if (!decode_syscall(e, s, why))
            return std::nullopt;
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
    std::string by = " by " + e.comm + " (pid=" + std::to_string(e.tgid) + " exe=" + e.exe +
                     " session=" + std::to_string(e.session) + " agent=" + e.agent + ")";
    if (e.kind == "tool")
        return "Tool call " + e.tool_name + " (" + e.tool_use_id + "): " + e.detail + by;
    if (e.kind == "risk" || e.kind == "action")
        return e.detail + by;
    if (e.kind == "exec")
        return "Session ran " + e.exe + (e.exe_from_memfd ? " (memfd)" : "") + ": " + e.cmdline +
               (e.args_truncated ? "..." : "") + by;
    if (e.kind == "net" && e.verdict != "allow")
        return std::string(e.verdict == "deny" ? "Denied " : "Audited ") + e.evt_type + " to " + e.rip + ":" +
               std::to_string(e.rport) + (e.l4proto.empty() ? "" : " (" + e.l4proto + ")") +
               (e.sip_name.empty() ? "" : " [" + e.sip_name + "]") +
               (e.taint.empty() ? "" : "; the session is tainted: " + e.taint) + by;
    if (e.kind == "net")
        return "Session connect " + e.path + (e.l4proto.empty() ? "" : " (" + e.l4proto + ")") + by;
    if (e.kind == "ask" && e.verdict == "ask")
        return "Holding " + e.op + " of " + e.path + " for a human: `bulkhead approve " + e.ask_id +
               "` or `bulkhead deny " + e.ask_id + "`" + (e.detail.empty() ? "" : " (" + e.detail + ")") + by;
    if (e.kind == "ask")
        return std::string(e.verdict == "allow" ? "Approved " : "Denied ") + e.op + " of " + e.path + " (" +
               e.ask_id + ": " + e.detail + ")" + by;
    if (e.kind == "taint")
        return "Session tainted: " + e.taint + "; its egress is now limited to loopback and the taint allow list" +
               by;
    if (e.kind == "syscall") {
        out = "Session " + e.evt_type;
        for (const auto& [k, v] : e.evt_args)
            out += " " + k + "=" + v;
        return out + by;
    }
    out = e.verdict == "deny" ? "Denied " : "Audited ";
    out += e.op;
    if (e.kind == "file")
        out += " of " + e.path;
    if (!e.detail.empty())
        out += " (" + e.detail + ")";
    return out + by;
}

nlohmann::json to_json(const Event& e, const std::string& hostname) {
    nlohmann::json f;
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
    if (!e.k8s_pod_name.empty()) {
        f["k8s.pod.name"] = e.k8s_pod_name;
        f["k8s.ns.name"] = e.k8s_ns_name;
    }
    f["cgroup.id"] = e.cgroup_id;
    if (e.kind == "file") {
        f["fd.name"] = e.path;
        f["fd.ino"] = e.ino;
        f["fd.dev"] = e.dev;
        if (e.fd_type == "unix") {
            f["fd.type"] = "unix";
            f["fd.typechar"] = "u";
        }
        f["agent.path_truncated"] = e.path_truncated;
        f["agent.path_fs_relative"] = e.path_fs_relative;
        f["agent.depth_exceeded"] = e.depth_exceeded;
        if (is_file_exec(e))
            f["proc.exepath"] = e.path;
    }
    if (e.exe_ino)
        f["proc.exe_ino"] = e.exe_ino;
    if (e.kind == "exec") {
        f["proc.exepath"] = e.exe;
        f["proc.cmdline"] = e.cmdline;
        f["proc.args"] = e.args.value_or("");
        f["proc.is_exe_from_memfd"] = e.exe_from_memfd;
        f["agent.args_truncated"] = e.args_truncated;
    }
    if (e.kind == "net") {
        f["fd.name"] = e.path;
        f["fd.num"] = e.fd;
        f["fd.type"] = e.fd_type;
        f["fd.typechar"] = e.fd_type == "ipv4" ? "4" : e.fd_type == "ipv6" ? "6" : "u";
        if (e.fd_type != "unix") {
            f["fd.l4proto"] = e.l4proto;
            f["fd.lip"] = e.lip;
            f["fd.lport"] = e.lport;
            f["fd.rip"] = e.rip;
            f["fd.rport"] = e.rport;
            // A connect's peer is the server.
            f["fd.sip"] = e.rip;
            f["fd.sport"] = e.rport;
        }
    }
    if (!e.sip_name.empty())
        f["fd.sip.name"] = e.sip_name;
    if (!e.taint.empty())
        f["agent.taint"] = e.taint;
    if (e.kind == "taint" || e.kind == "ask") {  // about one file, named when known
        f["fd.ino"] = e.ino;
        f["fd.dev"] = e.dev;
        if (!e.path.empty())
            f["fd.name"] = e.path;
    }
    if (e.kind == "ask") {
        f["agent.ask_id"] = e.ask_id;
        if (!e.decided_by.empty())
            f["agent.decided_by"] = e.decided_by;
    }
    if (e.kind == "syscall" && !e.path.empty())
        f["fd.name"] = e.path;
    for (const auto& [k, v] : e.evt_args)
        f["evt.arg." + k] = v;
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
    if (e.session)
        f["agent.session_risk"] = e.session_risk;
    if (e.session && e.agent_pid)
        f["agent.pid"] = e.agent_pid;
    if (e.kind == "tool" && !e.tool_input.is_null())
        f["agent.tool_input"] = e.tool_input;
    // A rule's own output fields win over the defaults above.
    for (auto it = e.output_fields.begin(); it != e.output_fields.end(); ++it)
        f[it.key()] = it.value();
    // Except the session id: a string in every event (64-bit ids lose
    // precision as JSON numbers in many SIEMs), whatever a rule's output named.
    f["agent.session"] = std::to_string(e.session);
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
    std::string verdict = e.verdict == "deny"    ? "DENY "
                          : e.verdict == "audit" ? "AUDIT"
                          : e.verdict == "ask"   ? "ASK  "
                                                 : "INFO ";
    std::string out = t + " " + verdict + " " + (e.rule.empty() ? e.kind : e.rule) + ": " +
                      output_line(e);
    if (e.err)
        out += " -> " + errno_name(e.err);
    return out;
}

}  // namespace bulkhead::events
