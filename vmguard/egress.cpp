// SPDX-License-Identifier: Apache-2.0
#include "vmguard/egress.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>

#include "vmguard/channel.h"
#include "vmguard/errno_text.h"
#include "vmguard/protocol.h"

namespace bulkhead::vmguard {

namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kWindow = VG_NET_WINDOW;
constexpr size_t kMaxHead = 8192;        // the request line and headers, "\r\n\r\n" included
constexpr size_t kChunk = 32 * 1024;     // DATA payload read from a server at once
constexpr size_t kMaxOut = 1024 * 1024;  // frames queued for the guest before servers are read no more
// ...and before the guest is read no more: answers to its own frames (403s,
// ACKs) are not left to pile up behind a guest that does not read them.
constexpr size_t kMaxOutHard = 4 * kMaxOut;
constexpr size_t kMaxLabel = 63, kMaxName = 253;
constexpr auto kConnectTimeout = std::chrono::seconds(10);  // per address
constexpr auto kLinger = std::chrono::seconds(30);  // for a server to take what the guest sent before its CLOSE
constexpr auto kSocketWait = std::chrono::seconds(60);

// ---- addresses and networks ----

struct Addr {
    int family = 0;  // AF_INET: b[0..3]; AF_INET6: b[0..15]
    unsigned char b[16] = {};
};

struct Net {
    Addr base;
    int prefix = 0;
};

// ::ffff:a.b.c.d reaches a.b.c.d: it is judged as the IPv4 address.
Addr unmapped(Addr a) {
    static const unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (a.family != AF_INET6 || std::memcmp(a.b, kMapped, 12) != 0)
        return a;
    Addr v4;
    v4.family = AF_INET;
    std::memcpy(v4.b, a.b + 12, 4);
    return v4;
}

std::optional<Addr> parse_addr(const std::string& s) {
    Addr a;
    if (::inet_pton(AF_INET, s.c_str(), a.b) == 1) {
        a.family = AF_INET;
        return a;
    }
    if (::inet_pton(AF_INET6, s.c_str(), a.b) == 1) {
        a.family = AF_INET6;
        return a;
    }
    return std::nullopt;
}

std::string addr_text(const Addr& a) {
    char buf[INET6_ADDRSTRLEN] = "";
    ::inet_ntop(a.family, a.b, buf, sizeof(buf));
    return buf;
}

bool contains(const Net& n, const Addr& a) {
    if (n.base.family != a.family)
        return false;
    for (int i = 0, bits = n.prefix; bits > 0; i++, bits -= 8) {
        unsigned mask = bits >= 8 ? 0xffu : (0xffu << (8 - bits)) & 0xffu;
        if ((a.b[i] & mask) != (n.base.b[i] & mask))
            return false;
    }
    return true;
}

bool within(const Net& inner, const Net& outer) { return inner.prefix >= outer.prefix && contains(outer, inner.base); }

std::string net_text(const Net& n) { return addr_text(n.base) + "/" + std::to_string(n.prefix); }

// "ADDR" or "ADDR/LEN"; nullopt on success, else why not.
std::optional<std::string> parse_net(const std::string& text, Net* out) {
    auto slash = text.find('/');
    std::string addr = text.substr(0, slash);
    auto a = parse_addr(addr);
    if (!a)
        return "'" + addr + "' is not an IPv4 or IPv6 address";
    const int max = a->family == AF_INET ? 32 : 128;
    int prefix = max;
    if (slash != std::string::npos) {
        std::string len = text.substr(slash + 1);
        if (len.empty() || len.size() > 3 || len.find_first_not_of("0123456789") != std::string::npos ||
            std::stoi(len) > max)
            return "bad prefix length '" + len + "' (0-" + std::to_string(max) + " for " +
                   (max == 32 ? "IPv4" : "IPv6") + ")";
        prefix = std::stoi(len);
    }
    Net n{*a, prefix};
    if (a->family == AF_INET6 && prefix >= 96 && unmapped(*a).family == AF_INET)
        n = Net{unmapped(*a), prefix - 96};
    Net masked = n;
    for (int i = 0; i < 16; i++) {
        int bits = std::clamp(n.prefix - i * 8, 0, 8);
        masked.base.b[i] &= static_cast<unsigned char>((0xff00u >> bits) & 0xffu);
    }
    if (std::memcmp(masked.base.b, n.base.b, 16) != 0)
        return net_text(n) + " has host bits set; the network is " + net_text(masked);
    *out = n;
    return std::nullopt;
}

struct SpecialNets {
    std::vector<Net> metadata, unspecified;
    Net lo4, lo6;
};

const SpecialNets& special() {
    static const SpecialNets nets = [] {
        auto net = [](const char* text) {
            Net n;
            parse_net(text, &n);
            return n;
        };
        // The cloud metadata services listen on link-local addresses
        // (169.254.169.254 on most clouds, fd00:ec2::254 on AWS).
        return SpecialNets{{net("169.254.0.0/16"), net("fe80::/10"), net("fd00:ec2::254/128")},
                           {net("0.0.0.0/8"), net("::/128")},
                           net("127.0.0.0/8"),
                           net("::1/128")};
    }();
    return nets;
}

// Denied whatever the allow list says; connecting to an unspecified
// address reaches this host.
std::optional<std::string> always_denied(const Addr& a) {
    for (const auto& n : special().metadata)
        if (contains(n, a))
            return std::string("a cloud metadata address");
    for (const auto& n : special().unspecified)
        if (contains(n, a))
            return std::string("an unspecified address");
    return std::nullopt;
}

const Net* loopback_of(const Addr& a) {
    const Net& n = a.family == AF_INET ? special().lo4 : special().lo6;
    return contains(n, a) ? &n : nullptr;
}

// ---- names ----

// For messages: printable ASCII as is, other bytes as \xNN, at most 80 bytes.
std::string quote(const std::string& s) {
    std::string out = "'";
    for (size_t i = 0; i < s.size() && i < 80; i++) {
        auto c = static_cast<unsigned char>(s[i]);
        if (c >= 0x20 && c < 0x7f && c != '\\' && c != '\'') {
            out += static_cast<char>(c);
        } else {
            char hex[8];
            std::snprintf(hex, sizeof(hex), "\\x%02x", c);
            out += hex;
        }
    }
    return out + (s.size() > 80 ? "...'" : "'");
}

std::string lower(std::string s) {
    for (char& c : s)
        if (c >= 'A' && c <= 'Z')
            c = static_cast<char>(c - 'A' + 'a');
    return s;
}

// RFC 1123 names, as userspace/net/host_name.cpp accepts them (vmguard
// knows no rules, so it keeps its own copy): nullopt when fine.
std::optional<std::string> check_host_name(const std::string& name) {
    if (name.find('*') != std::string::npos)
        return std::string("wildcards are not supported; list each host name");
    std::string body = name;
    if (!body.empty() && body.back() == '.')
        body.pop_back();
    for (size_t i = 0; i < body.size(); i++) {
        auto c = static_cast<unsigned char>(body[i]);
        bool ldh = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
        if (!ldh && c != '.')
            return "host name contains byte " + quote(std::string(1, static_cast<char>(c))) + " at offset " +
                   std::to_string(i) + "; only letters, digits, '-' and '.' are allowed";
    }
    if (body.size() > kMaxName)
        return "host name is " + std::to_string(body.size()) + " bytes long; the limit is " + std::to_string(kMaxName);
    for (size_t start = 0;;) {
        size_t end = std::min(body.find('.', start), body.size());
        std::string label = body.substr(start, end - start);
        if (label.empty())
            return "host name has an empty label at offset " + std::to_string(start);
        if (label.size() > kMaxLabel)
            return "host name has a label of " + std::to_string(label.size()) + " bytes at offset " +
                   std::to_string(start) + "; the limit is " + std::to_string(kMaxLabel);
        if (label.front() == '-' || label.back() == '-')
            return "host name has a label starting or ending with '-' at offset " + std::to_string(start);
        if (end == body.size()) {
            // libc reads "10.1" or "127.1" as IPv4 addresses: no ambiguity.
            if (label.find_first_not_of("0123456789") == std::string::npos)
                return std::string("host name ends in an all-digit label, so it reads as an IP address; "
                                   "write addresses as networks (10.0.0.1/32)");
            return std::nullopt;
        }
        start = end + 1;
    }
}

std::string normalized_name(const std::string& name) {
    std::string n = lower(name);
    if (!n.empty() && n.back() == '.')
        n.pop_back();
    return n;
}

std::optional<uint16_t> port_number(const std::string& s) {
    if (s.empty() || s.size() > 5 || s.find_first_not_of("0123456789") != std::string::npos)
        return std::nullopt;
    int v = std::stoi(s);
    if (v < 1 || v > 65535)
        return std::nullopt;
    return static_cast<uint16_t>(v);
}

std::string host_port(const std::string& host, uint16_t port) {
    return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

// ---- requests ----

struct Request {
    std::string method;
    std::string host;  // as asked; an IPv6 literal without brackets
    uint16_t port = 0;
    bool tunnel = false;  // CONNECT
};

// "host:port" or "[v6]:port"; the port is optional when dflt is non-zero.
std::optional<std::string> parse_authority(const std::string& a, uint16_t dflt, Request* r) {
    std::string port;
    bool has_port = false;
    if (!a.empty() && a[0] == '[') {
        auto close = a.find(']');
        if (close == std::string::npos)
            return std::string("'[' without ']' in the host");
        r->host = a.substr(1, close - 1);
        if (close + 1 < a.size()) {
            if (a[close + 1] != ':')
                return std::string("bytes after ']' in the host");
            port = a.substr(close + 2);
            has_port = true;
        }
        auto addr = parse_addr(r->host);
        if (!addr || addr->family != AF_INET6)
            return std::string("not an IPv6 address in brackets");
    } else {
        auto colon = a.find(':');
        r->host = a.substr(0, colon);
        if (colon != std::string::npos) {
            port = a.substr(colon + 1);
            has_port = true;
        }
        if (r->host.empty())
            return std::string("no host");
        if (!parse_addr(r->host))
            if (auto e = check_host_name(r->host))
                return *e;
        if (parse_addr(r->host) && parse_addr(r->host)->family == AF_INET6)
            return std::string("an IPv6 address needs brackets");
    }
    if (!has_port && !dflt)
        return std::string("no port");
    auto p = has_port ? port_number(port) : std::optional<uint16_t>(dflt);
    if (!p)
        return std::string("bad port");
    r->port = *p;
    return std::nullopt;
}

// The request line of a proxy request; nullopt when fine.
std::optional<std::string> parse_request(const std::string& head, Request* r) {
    std::string line = head.substr(0, head.find("\r\n"));
    for (unsigned char c : line)
        if (c < 0x21 && c != ' ')
            return std::string("control bytes in the request line");
    auto sp1 = line.find(' '), sp2 = line.rfind(' ');
    if (sp1 == std::string::npos || sp1 == sp2 || line.find(' ', sp1 + 1) != sp2)
        return std::string("the request line is not METHOD TARGET VERSION");
    r->method = line.substr(0, sp1);
    std::string target = line.substr(sp1 + 1, sp2 - sp1 - 1), version = line.substr(sp2 + 1);
    if (r->method.empty() || r->method.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ-_") != std::string::npos)
        return std::string("bad method");
    if (version != "HTTP/1.1" && version != "HTTP/1.0")
        return std::string("not HTTP/1.0 or HTTP/1.1");
    if (r->method == "CONNECT") {
        r->tunnel = true;
        return parse_authority(target, 0, r);
    }
    if (lower(target.substr(0, 8)) == "https://")
        return std::string("https:// URLs go through CONNECT");
    if (lower(target.substr(0, 7)) != "http://")
        return std::string("not a proxy request (CONNECT or an absolute http:// URL)");
    std::string rest = target.substr(7);
    std::string authority = rest.substr(0, rest.find_first_of("/?#"));
    if (authority.find('@') != std::string::npos)
        return std::string("user information in the URL");
    return parse_authority(authority, 80, r);
}

std::string http_reply(int code, const char* status, const std::string& line) {
    std::string body = line + "\n";
    return "HTTP/1.1 " + std::to_string(code) + " " + status +
           "\r\nContent-Type: text/plain\r\nContent-Length: " + std::to_string(body.size()) +
           "\r\nConnection: close\r\n\r\n" + body;
}

// ---- the proxy's loop ----

struct CompiledRule {
    EgressRule rule;
    std::optional<Net> net;  // for a CIDR rule
    std::string text;
};

struct Stream {
    enum class Phase { kHead, kConnecting, kRelay } phase = Phase::kHead;
    std::string from_guest;  // not yet written to the server; the request head while kHead
    size_t consumed = 0;     // of the guest's bytes: written out, not yet acknowledged
    size_t unacked = 0;      // DATA sent to the guest, not yet acknowledged
    int fd = -1;             // the server
    std::vector<Addr> addrs;
    size_t next = 0;         // the address being tried
    std::string last_error;
    Clock::time_point deadline{};  // connecting: of this address; guest_closed: of the linger
    bool tunnel = false;
    bool guest_closed = false;  // the guest ended it: write out from_guest, then close
    EgressDecision d;
};

class Loop {
public:
    // gone(why, violation): the guest's side closed, or broke the protocol.
    Loop(const std::vector<CompiledRule>& rules, const std::function<void(const EgressDecision&)>& on_decision,
         std::function<void(const std::string&, bool)> gone)
        : rules_(rules), on_decision_(on_decision), gone_(std::move(gone)) {}
    ~Loop() { drop_all(); }

    // Until wake is readable, or poll fails (the error).
    std::string serve(int net, int wake);

private:
    void drop_all();
    void closed(const std::string& why);
    void drop(const std::string& why);
    void queue(uint16_t type, uint32_t id, const std::string& payload = {});
    void flush_out();
    void read_net();
    void handle(uint16_t type, uint32_t id, const std::string& payload);
    void try_head(uint32_t id, Stream& s);
    void decide(uint32_t id, Stream& s, const Request& r);
    void start_connect(uint32_t id, Stream& s);
    void connected(uint32_t id, Stream& s);
    void refuse(uint32_t id, int code, const char* status, const std::string& line);
    void end(uint32_t id, bool tell_guest);
    void write_server(uint32_t id, Stream& s);
    void read_server(uint32_t id, Stream& s);
    void report(const EgressDecision& d) {
        if (on_decision_)
            on_decision_(d);
    }

    const std::vector<CompiledRule>& rules_;
    const std::function<void(const EgressDecision&)>& on_decision_;
    std::function<void(const std::string&, bool)> gone_;
    int net_ = -1;
    std::string in_, out_;
    size_t out_off_ = 0;
    std::map<uint32_t, Stream> streams_;
};

void Loop::drop_all() {
    for (auto& [id, s] : streams_)
        if (s.fd >= 0)
            ::close(s.fd);
    streams_.clear();
    if (net_ >= 0)
        ::close(net_);
    net_ = -1;
    in_.clear();
    out_.clear();
    out_off_ = 0;
}

// Reported before the socket closes: whoever sees it closed sees why.
void Loop::closed(const std::string& why) {
    gone_(why, /* violation = */ false);
    drop_all();
}

// The guest broke the protocol: it is not served any more (QEMU's chardev
// takes one connection, and the guest that broke it is not to be trusted).
void Loop::drop(const std::string& why) {
    gone_("egress: dropped the guest's net port: " + why, /* violation = */ true);
    drop_all();
}

void Loop::queue(uint16_t type, uint32_t id, const std::string& payload) {
    vg_header h{static_cast<uint32_t>(payload.size()), type, 0, id};
    out_.append(reinterpret_cast<const char*>(&h), sizeof(h));
    out_ += payload;
}

void Loop::flush_out() {
    while (net_ >= 0 && out_off_ < out_.size()) {
        ssize_t n = ::send(net_, out_.data() + out_off_, out_.size() - out_off_, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            break;
        if (n <= 0)
            return closed(errno_text("egress: write to the guest's net port"));
        out_off_ += static_cast<size_t>(n);
    }
    if (out_off_ == out_.size() || out_off_ > out_.size() / 2) {
        out_.erase(0, out_off_);
        out_off_ = 0;
    }
}

void Loop::read_net() {
    char buf[64 * 1024];
    ssize_t n = ::read(net_, buf, sizeof(buf));
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0)
        return closed(n == 0 ? "egress: the guest's net port closed (the VM stopped)"
                             : errno_text("egress: read from the guest's net port"));
    in_.append(buf, static_cast<size_t>(n));
    size_t off = 0;
    while (net_ >= 0 && in_.size() - off >= sizeof(vg_header)) {
        vg_header h;
        std::memcpy(&h, in_.data() + off, sizeof(h));
        bool known = h.type == VG_NET_OPEN || h.type == VG_NET_DATA || h.type == VG_NET_ACK ||
                     h.type == VG_NET_CLOSE || h.type == VG_ERROR;
        if (h.len > VG_MAX_PAYLOAD || h.flags || !known)
            return drop("malformed frame (type " + std::to_string(h.type) + ", " + std::to_string(h.len) +
                        " bytes, flags " + std::to_string(h.flags) + ")");
        if (in_.size() - off < sizeof(h) + h.len)
            break;
        std::string payload = in_.substr(off + sizeof(h), h.len);
        off += sizeof(h) + h.len;
        handle(h.type, h.id, payload);
    }
    if (net_ >= 0)
        in_.erase(0, off);
}

void Loop::handle(uint16_t type, uint32_t id, const std::string& payload) {
    const std::string sid = "stream " + std::to_string(id);
    auto it = streams_.find(id);
    switch (type) {
    case VG_NET_OPEN:
        if (!payload.empty())
            return drop("OPEN of " + sid + " with a payload");
        if (it != streams_.end())
            return drop(sid + " opened twice");
        if (streams_.size() >= VG_NET_MAX_STREAMS)
            return drop("more than " + std::to_string(VG_NET_MAX_STREAMS) + " streams at once");
        streams_[id].d.stream = id;
        return;
    case VG_NET_DATA: {
        if (it == streams_.end())
            return;  // we ended it; the guest had not seen that yet
        Stream& s = it->second;
        if (s.guest_closed)
            return drop("DATA on " + sid + " after its CLOSE");
        if (s.from_guest.size() + s.consumed + payload.size() > kWindow)
            return drop(sid + " overran its window of " + std::to_string(VG_NET_WINDOW) + " bytes");
        s.from_guest += payload;
        if (s.phase == Stream::Phase::kHead)
            return try_head(id, s);
        if (s.phase == Stream::Phase::kRelay)
            write_server(id, s);
        return;
    }
    case VG_NET_ACK: {
        auto kv = KvList::parse(payload);
        auto bytes = kv ? kv->get("bytes") : std::nullopt;
        if (!bytes || bytes->empty() || bytes->size() > 7 ||
            bytes->find_first_not_of("0123456789") != std::string::npos)
            return drop("malformed ACK on " + sid);
        if (it == streams_.end())
            return;
        size_t n = std::stoul(*bytes);
        if (n > it->second.unacked)
            return drop(sid + " acknowledged " + std::to_string(n) + " bytes; " + std::to_string(it->second.unacked) +
                        " were outstanding");
        it->second.unacked -= n;
        return;
    }
    case VG_NET_CLOSE:
        if (!payload.empty())
            return drop("CLOSE of " + sid + " with a payload");
        if (it == streams_.end())
            return;
        if (it->second.phase == Stream::Phase::kRelay && !it->second.from_guest.empty()) {
            it->second.guest_closed = true;
            it->second.deadline = Clock::now() + kLinger;
            return;
        }
        return end(id, /* tell_guest = */ false);
    default:  // VG_ERROR: the guest refused a frame of ours; the two sides disagree
        return drop("the guest refused a frame: " + quote(payload));
    }
}

void Loop::try_head(uint32_t id, Stream& s) {
    auto end_of_head = s.from_guest.find("\r\n\r\n");
    if (end_of_head == std::string::npos && s.from_guest.size() < kMaxHead)
        return;
    if (end_of_head == std::string::npos || end_of_head + 4 > kMaxHead) {
        s.d.reason = "malformed request: the header is larger than " + std::to_string(kMaxHead) + " bytes";
        report(s.d);
        return refuse(id, 431, "Request Header Fields Too Large",
                      "bulkhead: the request's header is larger than " + std::to_string(kMaxHead) + " bytes");
    }
    Request r;
    if (auto e = parse_request(s.from_guest.substr(0, end_of_head + 2), &r)) {
        s.d.reason = "malformed request: " + *e;
        report(s.d);
        return refuse(id, 400, "Bad Request", "bulkhead: malformed proxy request: " + *e);
    }
    if (r.tunnel) {
        // The tunnel's bytes start after the head; the head is ours.
        s.from_guest.erase(0, end_of_head + 4);
        s.consumed += end_of_head + 4;
    }
    decide(id, s, r);
}

// The policy (egress.h). getaddrinfo blocks this thread, and with it every
// stream of the VM (and the proxy's destructor), while a name resolves: one
// VM's streams only, and only for names the allow list could allow.
void Loop::decide(uint32_t id, Stream& s, const Request& r) {
    s.d.method = r.method;
    s.d.host = r.host;
    s.d.port = r.port;
    s.tunnel = r.tunnel;
    const std::string target = host_port(r.host, r.port);
    const std::string name = parse_addr(r.host) ? "" : normalized_name(r.host);
    auto port_ok = [&](const CompiledRule& c) { return r.port >= c.rule.port_lo && r.port <= c.rule.port_hi; };
    auto deny = [&](const std::string& address, const std::string& reason, const std::string& what) {
        s.d.address = address;
        s.d.reason = reason;
        report(s.d);
        refuse(id, 403, "Forbidden", "bulkhead: egress to " + target + " " + what);
    };
    const std::string not_listed = "is not in this microVM's allow list";

    std::vector<Addr> addrs;
    if (name.empty()) {
        addrs.push_back(unmapped(*parse_addr(r.host)));
    } else {
        bool could = std::any_of(rules_.begin(), rules_.end(), [&](const CompiledRule& c) {
            return port_ok(c) && (c.net || c.rule.host == name);
        });
        if (!could)
            return deny("", "no rule allows " + host_port(name, r.port) + " (not resolved)", not_listed);
        addrinfo hints{};
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = SOCK_STREAM;
        addrinfo* res = nullptr;
        if (int rc = ::getaddrinfo(name.c_str(), nullptr, &hints, &res); rc != 0) {
            s.d.reason = "cannot resolve " + name + ": " + ::gai_strerror(rc);
            report(s.d);
            return refuse(id, 502, "Bad Gateway", "bulkhead: cannot resolve " + name + ": " + ::gai_strerror(rc));
        }
        for (auto* ai = res; ai; ai = ai->ai_next) {
            Addr a;
            a.family = ai->ai_family;
            if (ai->ai_family == AF_INET)
                std::memcpy(a.b, &reinterpret_cast<sockaddr_in*>(ai->ai_addr)->sin_addr, 4);
            else if (ai->ai_family == AF_INET6)
                std::memcpy(a.b, &reinterpret_cast<sockaddr_in6*>(ai->ai_addr)->sin6_addr, 16);
            else
                continue;
            a = unmapped(a);
            if (std::none_of(addrs.begin(), addrs.end(),
                             [&](const Addr& b) { return b.family == a.family && !std::memcmp(a.b, b.b, 16); }))
                addrs.push_back(a);
        }
        ::freeaddrinfo(res);
        if (addrs.empty()) {
            s.d.reason = "cannot resolve " + name + ": no IPv4 or IPv6 address";
            report(s.d);
            return refuse(id, 502, "Bad Gateway", "bulkhead: cannot resolve " + name);
        }
    }
    for (const auto& a : addrs)
        if (auto why = always_denied(a))
            return deny(addr_text(a), addr_text(a) + " is " + *why + " (always denied)", "is " + *why);
    std::string allowed_by;
    for (const auto& a : addrs) {
        const Net* lo = loopback_of(a);
        const CompiledRule* match = nullptr;
        for (const auto& c : rules_) {
            if (!port_ok(c))
                continue;
            bool ok = c.net ? contains(*c.net, a) && (!lo || within(*c.net, *lo)) : !lo && c.rule.host == name;
            if (ok) {
                match = &c;
                break;
            }
        }
        if (!match) {
            // Say so when only the loopback restriction stood in the way.
            bool but_loopback = lo && std::any_of(rules_.begin(), rules_.end(), [&](const CompiledRule& c) {
                                    return port_ok(c) && (c.net ? contains(*c.net, a) : c.rule.host == name);
                                });
            std::string hint =
                but_loopback ? " (the host's loopback needs a CIDR rule inside " + net_text(*lo) + ")" : "";
            return deny(addr_text(a), "no rule allows " + host_port(addr_text(a), r.port) + hint, not_listed);
        }
        if (allowed_by.empty())
            allowed_by = "allowed by " + match->text;
    }
    s.d.allowed = true;
    s.d.reason = allowed_by;
    s.addrs = std::move(addrs);
    start_connect(id, s);
}

// Tries the addresses in order until one connects.
void Loop::start_connect(uint32_t id, Stream& s) {
    for (; s.next < s.addrs.size(); s.next++) {
        const Addr& a = s.addrs[s.next];
        sockaddr_storage ss{};
        socklen_t len;
        if (a.family == AF_INET) {
            auto* sin = reinterpret_cast<sockaddr_in*>(&ss);
            sin->sin_family = AF_INET;
            sin->sin_port = htons(s.d.port);
            std::memcpy(&sin->sin_addr, a.b, 4);
            len = sizeof(sockaddr_in);
        } else {
            auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);
            sin6->sin6_family = AF_INET6;
            sin6->sin6_port = htons(s.d.port);
            std::memcpy(&sin6->sin6_addr, a.b, 16);
            len = sizeof(sockaddr_in6);
        }
        s.fd = ::socket(a.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (s.fd < 0) {
            s.last_error = std::strerror(errno);
            continue;
        }
        if (::connect(s.fd, reinterpret_cast<sockaddr*>(&ss), len) == 0)
            return connected(id, s);
        if (errno == EINPROGRESS) {
            s.phase = Stream::Phase::kConnecting;
            s.deadline = Clock::now() + kConnectTimeout;
            return;
        }
        s.last_error = std::strerror(errno);
        ::close(s.fd);
        s.fd = -1;
    }
    const std::string target = host_port(s.d.host, s.d.port);
    const bool timed_out = s.last_error == "timed out";
    s.d.address = s.addrs.empty() ? "" : addr_text(s.addrs.back());
    s.d.error = "cannot connect to " + target + ": " + s.last_error;
    report(s.d);
    if (timed_out)
        return refuse(id, 504, "Gateway Timeout",
                      "bulkhead: " + target + " did not answer within " +
                          std::to_string(std::chrono::seconds(kConnectTimeout).count()) + " s");
    refuse(id, 502, "Bad Gateway", "bulkhead: " + s.d.error);
}

void Loop::connected(uint32_t id, Stream& s) {
    s.phase = Stream::Phase::kRelay;
    s.d.address = addr_text(s.addrs[s.next]);
    report(s.d);
    if (s.tunnel) {
        const std::string ok = "HTTP/1.1 200 Connection established\r\n\r\n";
        queue(VG_NET_DATA, id, ok);
        s.unacked += ok.size();
    }
    write_server(id, s);
}

// Answers the request itself and ends the stream.
void Loop::refuse(uint32_t id, int code, const char* status, const std::string& line) {
    queue(VG_NET_DATA, id, http_reply(code, status, line));
    end(id, /* tell_guest = */ true);
}

void Loop::end(uint32_t id, bool tell_guest) {
    auto it = streams_.find(id);
    if (it == streams_.end())
        return;
    if (it->second.fd >= 0)
        ::close(it->second.fd);
    streams_.erase(it);
    if (tell_guest)
        queue(VG_NET_CLOSE, id);
}

void Loop::write_server(uint32_t id, Stream& s) {
    size_t off = 0;
    while (off < s.from_guest.size()) {
        ssize_t n = ::send(s.fd, s.from_guest.data() + off, s.from_guest.size() - off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            break;
        if (n <= 0)
            return end(id, /* tell_guest = */ !s.guest_closed);
        off += static_cast<size_t>(n);
    }
    s.from_guest.erase(0, off);
    s.consumed += off;
    if (s.guest_closed) {
        if (s.from_guest.empty())
            end(id, /* tell_guest = */ false);
        return;
    }
    // Batched, so a trickle of small writes does not cost a frame each.
    if (s.consumed && (s.consumed >= kWindow / 4 || s.from_guest.empty())) {
        queue(VG_NET_ACK, id, KvList().add("bytes", std::to_string(s.consumed)).bytes());
        s.consumed = 0;
    }
}

void Loop::read_server(uint32_t id, Stream& s) {
    char buf[kChunk];
    ssize_t n = ::read(s.fd, buf, std::min(sizeof(buf), kWindow - s.unacked));
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0)
        return end(id, /* tell_guest = */ true);  // EOF or reset: the stream is over
    queue(VG_NET_DATA, id, std::string(buf, static_cast<size_t>(n)));
    s.unacked += static_cast<size_t>(n);
}

std::string Loop::serve(int net, int wake) {
    net_ = net;
    std::vector<pollfd> p;
    std::vector<uint32_t> ids;
    for (;;) {
        const size_t backlog = out_.size() - out_off_;
        p.assign({{wake, POLLIN, 0},
                  {net_, static_cast<short>((backlog < kMaxOutHard ? POLLIN : 0) | (backlog ? POLLOUT : 0)), 0}});
        ids.clear();
        const auto now = Clock::now();
        int timeout = -1;
        for (auto& [id, s] : streams_) {
            short ev = 0;
            if (s.phase == Stream::Phase::kConnecting)
                ev = POLLOUT;
            if (s.phase == Stream::Phase::kRelay) {
                // A full window, or a guest that reads its port slowly, stops the reading.
                if (!s.guest_closed && s.unacked < kWindow && backlog < kMaxOut)
                    ev |= POLLIN;
                if (!s.from_guest.empty())
                    ev |= POLLOUT;
            }
            if (s.phase == Stream::Phase::kConnecting || s.guest_closed) {
                auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(s.deadline - now).count() + 1;
                timeout = static_cast<int>(std::clamp<long long>(ms, 0, timeout < 0 ? 60'000 : timeout));
            }
            if (ev) {
                p.push_back({s.fd, ev, 0});
                ids.push_back(id);
            }
        }
        if (::poll(p.data(), p.size(), timeout) < 0 && errno != EINTR)
            return errno_text("egress: poll");
        if (p[0].revents)
            return {};
        if (net_ >= 0 && (p[1].revents & POLLOUT))
            flush_out();
        if (net_ >= 0 && (p[1].revents & (POLLIN | POLLHUP | POLLERR)))
            read_net();
        for (size_t k = 0; k < ids.size(); k++) {
            auto it = streams_.find(ids[k]);
            const pollfd& q = p[k + 2];
            if (!q.revents || it == streams_.end() || it->second.fd != q.fd)
                continue;  // ended, or another address is being tried
            Stream& s = it->second;
            if (s.phase == Stream::Phase::kConnecting) {
                int err = 0;
                socklen_t len = sizeof(err);
                ::getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &err, &len);
                if (err == 0)
                    connected(ids[k], s);
                else {
                    s.last_error = std::strerror(err);
                    ::close(s.fd);
                    s.fd = -1;
                    s.next++;
                    start_connect(ids[k], s);
                }
                continue;
            }
            if ((q.events & POLLOUT) && (q.revents & (POLLOUT | POLLHUP | POLLERR)))
                write_server(ids[k], s);
            it = streams_.find(ids[k]);
            if (it != streams_.end() && (q.events & POLLIN) && (q.revents & (POLLIN | POLLHUP | POLLERR)))
                read_server(ids[k], it->second);
        }
        // After the events: a socket opened here must not take an old event.
        std::vector<uint32_t> expired;
        for (const auto& [id, s] : streams_)
            if ((s.guest_closed || s.phase == Stream::Phase::kConnecting) && Clock::now() >= s.deadline)
                expired.push_back(id);
        for (uint32_t id : expired) {
            Stream& s = streams_[id];
            if (s.guest_closed)
                end(id, /* tell_guest = */ false);
            else {
                ::close(s.fd);
                s.fd = -1;
                s.last_error = "timed out";
                s.next++;
                start_connect(id, s);
            }
        }
        if (net_ >= 0 && out_off_ < out_.size())
            flush_out();
    }
}

}  // namespace

std::optional<std::string> parse_egress_rule(const std::string& text, EgressRule* out) {
    if (text.empty())
        return std::string("egress rule is empty");
    const std::string q = "egress rule " + quote(text);
    if (auto nul = text.find('\0'); nul != std::string::npos)
        return q + " contains a NUL byte at offset " + std::to_string(nul);
    std::string left = text, ports;
    bool has_port = false;
    if (text[0] == '[') {
        auto close = text.find(']');
        if (close == std::string::npos)
            return q + ": '[' without ']'";
        left = text.substr(1, close - 1);
        if (close + 1 < text.size()) {
            if (text[close + 1] != ':')
                return q + ": expected ':PORT' after ']'";
            ports = text.substr(close + 2);
            has_port = true;
        }
        if (left.find(':') == std::string::npos)
            return q + ": brackets are for IPv6 networks only";
    } else if (std::count(text.begin(), text.end(), ':') >= 2) {
        // An IPv6 network; without brackets it has no port.
        Net n;
        auto colon = text.rfind(':');
        if (parse_net(text, &n) && !parse_net(text.substr(0, colon), &n))
            return q + ": an IPv6 network with a port needs brackets: '[" + text.substr(0, colon) + "]" +
                   text.substr(colon) + "'";
    } else if (auto colon = text.rfind(':'); colon != std::string::npos) {
        left = text.substr(0, colon);
        ports = text.substr(colon + 1);
        has_port = true;
    }
    if (left.empty())
        return q + ": no host name or network before the port";
    EgressRule r;
    if (has_port) {
        auto dash = ports.find('-');
        if (ports.empty())
            return q + ": no port after ':'";
        auto lo = port_number(ports.substr(0, dash));
        auto hi = dash == std::string::npos ? lo : port_number(ports.substr(dash + 1));
        if (!lo || !hi)
            return q + ": bad port '" + ports + "' (1-65535, or LO-HI)";
        if (*lo > *hi)
            return q + ": port range " + ports + " is reversed";
        r.port_lo = *lo;
        r.port_hi = *hi;
    }
    if (left.find('/') != std::string::npos || left.find(':') != std::string::npos || parse_addr(left)) {
        Net n;
        if (auto e = parse_net(left, &n))
            return q + ": " + *e;
        r.cidr = net_text(n);
    } else {
        if (auto e = check_host_name(left))
            return q + ": " + *e;
        r.host = normalized_name(left);
    }
    *out = r;
    return std::nullopt;
}

std::string egress_rule_text(const EgressRule& r) {
    std::string where = r.cidr.empty() ? r.host : r.cidr;
    if (r.port_lo == 1 && r.port_hi == 65535)
        return where;
    if (where.find(':') != std::string::npos)
        where = "[" + where + "]";
    return where + ":" + std::to_string(r.port_lo) + (r.port_lo == r.port_hi ? "" : "-" + std::to_string(r.port_hi));
}

EgressProxy::EgressProxy(std::string socket_path, std::vector<EgressRule> allow,
                         std::function<void(const EgressDecision&)> on_decision,
                         std::function<void(const std::string&)> on_error)
    : path_(std::move(socket_path)),
      allow_(std::move(allow)),
      on_decision_(std::move(on_decision)),
      on_error_(std::move(on_error)) {
    if (::pipe2(wake_, O_CLOEXEC) != 0) {
        gone(errno_text("egress: pipe"), /* report = */ true);
        return;
    }
    thread_ = std::thread([this] { run(); });
}

EgressProxy::~EgressProxy() {
    if (thread_.joinable()) {
        char c = 1;
        (void)!::write(wake_[1], &c, 1);
        thread_.join();
    }
    for (int fd : wake_)
        if (fd >= 0)
            ::close(fd);
}

std::string EgressProxy::error() const {
    std::lock_guard<std::mutex> lock(mu_);
    return error_;
}

void EgressProxy::gone(const std::string& why, bool report) {
    {
        std::lock_guard<std::mutex> lock(mu_);
        if (error_.empty())
            error_ = why;
    }
    connected_ = false;
    if (report && on_error_)
        on_error_(why);
}

void EgressProxy::run() {
    std::vector<CompiledRule> rules;
    for (size_t i = 0; i < allow_.size(); i++) {
        const EgressRule& r = allow_[i];
        CompiledRule c{r, std::nullopt, egress_rule_text(r)};
        std::optional<std::string> bad;
        Net n;
        if (r.host.empty() == r.cidr.empty())
            bad = "it needs exactly one of a host and a network";
        else if (r.port_lo == 0 || r.port_lo > r.port_hi)
            bad = "bad port range";
        else if (!r.cidr.empty())
            bad = parse_net(r.cidr, &n);
        else if (!(bad = check_host_name(r.host)) && r.host != normalized_name(r.host))
            bad = "the host name is not in lower case";
        if (bad) {
            // A rule that cannot match: the others still hold.
            if (on_error_)
                on_error_("egress: rule #" + std::to_string(i + 1) + " " + quote(c.text) + " ignored: " + *bad);
            continue;
        }
        if (!r.cidr.empty())
            c.net = n;
        rules.push_back(std::move(c));
    }

    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path_.size() >= sizeof(addr.sun_path))
        return gone("egress: socket path is too long for a Unix socket: " + path_, /* report = */ true);
    std::memcpy(addr.sun_path, path_.c_str(), path_.size() + 1);
    // QEMU creates the socket when it starts: the VM may still be starting.
    const auto give_up = Clock::now() + kSocketWait;
    int net = -1;
    for (;;) {
        net = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (net < 0)
            return gone(errno_text("egress: socket"), /* report = */ true);
        if (::connect(net, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0)
            break;
        int err = errno;
        ::close(net);
        if ((err != ENOENT && err != ECONNREFUSED) || Clock::now() >= give_up) {
            errno = err;
            return gone(errno_text("egress: connect " + path_), /* report = */ true);
        }
        pollfd p{wake_[0], POLLIN, 0};
        if (::poll(&p, 1, 50) > 0)
            return;
    }
    ::fcntl(net, F_SETFL, ::fcntl(net, F_GETFL) | O_NONBLOCK);
    connected_ = true;
    Loop loop(rules, on_decision_, [this](const std::string& why, bool violation) { gone(why, violation); });
    if (auto e = loop.serve(net, wake_[0]); !e.empty())
        gone(e, /* report = */ true);
}

}  // namespace bulkhead::vmguard
