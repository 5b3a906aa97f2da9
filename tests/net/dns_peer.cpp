// SPDX-License-Identifier: Apache-2.0
#include "dns_peer.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <cstring>
#include <set>
#include <stdexcept>

namespace bulkhead::net::test {

namespace {

constexpr uint16_t kTypeA = 1;
constexpr uint16_t kTypeCname = 5;
constexpr uint16_t kTypeAaaa = 28;

void put16(std::string& out, uint16_t v) {
    out += static_cast<char>(v >> 8);
    out += static_cast<char>(v & 0xff);
}

void put32(std::string& out, uint32_t v) {
    put16(out, static_cast<uint16_t>(v >> 16));
    put16(out, static_cast<uint16_t>(v & 0xffff));
}

// "a.example" -> "\1a\7example\0", no compression.
std::string encode_name(const std::string& name) {
    std::string out;
    size_t start = 0;
    while (start < name.size()) {
        size_t dot = name.find('.', start);
        if (dot == std::string::npos) dot = name.size();
        out += static_cast<char>(dot - start);
        out += name.substr(start, dot - start);
        start = dot + 1;
    }
    out += '\0';
    return out;
}

uint16_t type_code(const std::string& type) {
    if (type == "A") return kTypeA;
    if (type == "AAAA") return kTypeAaaa;
    if (type == "CNAME") return kTypeCname;
    throw std::invalid_argument("dns peer: unknown record type " + type);
}

std::string rdata(const DnsRecord& r) {
    if (r.type == "CNAME") return encode_name(r.data);
    unsigned char buf[16];
    int family = r.type == "A" ? AF_INET : AF_INET6;
    if (inet_pton(family, r.data.c_str(), buf) != 1) throw std::invalid_argument("dns peer: bad address " + r.data);
    return std::string(reinterpret_cast<char*>(buf), family == AF_INET ? 4 : 16);
}

std::string encode_rr(const DnsRecord& r, const std::string& data) {
    std::string out = encode_name(r.name);
    put16(out, type_code(r.type));
    put16(out, 1);  // IN
    put32(out, r.ttl);
    put16(out, static_cast<uint16_t>(data.size()));
    return out + data;
}

}  // namespace

DnsPeer::DnsPeer(int family) : family_(family) {
    static_assert(AF_INET == 2, "dns_peer.h spells AF_INET as 2");
    fd_ = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    stop_fd_ = eventfd(0, EFD_CLOEXEC);
    sockaddr_storage addr{};
    socklen_t len;
    if (family == AF_INET) {
        auto* v4 = reinterpret_cast<sockaddr_in*>(&addr);
        v4->sin_family = AF_INET;
        v4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        len = sizeof *v4;
    } else {
        auto* v6 = reinterpret_cast<sockaddr_in6*>(&addr);
        v6->sin6_family = AF_INET6;
        v6->sin6_addr = in6addr_loopback;
        len = sizeof *v6;
    }
    if (fd_ < 0 || stop_fd_ < 0 || bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
        getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
        std::string err = std::string("dns peer: cannot bind the loopback address: ") + std::strerror(errno);
        if (fd_ >= 0) close(fd_);
        if (stop_fd_ >= 0) close(stop_fd_);
        throw std::runtime_error(err);
    }
    port_ = ntohs(family == AF_INET ? reinterpret_cast<sockaddr_in*>(&addr)->sin_port
                                    : reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port);
    thread_ = std::thread([this] { serve(); });
}

DnsPeer::~DnsPeer() {
    uint64_t one = 1;
    if (write(stop_fd_, &one, sizeof one) != sizeof one) std::abort();
    thread_.join();
    close(fd_);
    close(stop_fd_);
}

void DnsPeer::set_records(std::vector<DnsRecord> records) {
    std::lock_guard lock(mu_);
    records_ = std::move(records);
}

void DnsPeer::set_mode(Mode mode) {
    std::lock_guard lock(mu_);
    mode_ = mode;
}

int DnsPeer::queries(const std::string& name) const {
    std::lock_guard lock(mu_);
    auto it = queries_.find(name);
    return it == queries_.end() ? 0 : it->second;
}

void DnsPeer::serve() {
    pollfd fds[2] = {{fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
    while (true) {
        if (poll(fds, 2, -1) < 0) continue;
        if (fds[1].revents) return;
        char buf[4096];
        sockaddr_storage from;
        socklen_t from_len = sizeof from;
        ssize_t n = recvfrom(fd_, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &from_len);
        if (n <= 0) continue;
        std::string reply = respond(std::string(buf, static_cast<size_t>(n)));
        if (!reply.empty()) sendto(fd_, reply.data(), reply.size(), 0, reinterpret_cast<sockaddr*>(&from), from_len);
    }
}

std::string DnsPeer::respond(const std::string& q) {
    // Header, then exactly one question with uncompressed labels.
    if (q.size() < 12 || q[4] != 0 || q[5] != 1) return {};
    size_t pos = 12;
    std::string qname;
    while (pos < q.size() && q[pos] != 0) {
        size_t len = static_cast<unsigned char>(q[pos]);
        if (len > 63 || pos + 1 + len > q.size()) return {};
        if (!qname.empty()) qname += '.';
        qname += q.substr(pos + 1, len);
        pos += 1 + len;
    }
    if (pos + 5 > q.size()) return {};
    pos += 1;
    auto byte = [&](size_t i) { return static_cast<unsigned char>(q[i]); };
    uint16_t qtype = static_cast<uint16_t>(byte(pos) << 8 | byte(pos + 1));
    pos += 4;
    for (char& c : qname) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));

    std::lock_guard lock(mu_);
    ++queries_[qname];
    if (mode_ == Mode::silent) return {};
    if (mode_ == Mode::garbage) {
        // Not a DNS message at all: glibc must ignore it and time out.
        return std::string("\xde\xad\xbe\xef\x00\x01\x02 not dns", 15);
    }

    std::string answers;
    uint16_t ancount = 0;
    uint8_t rcode = 0;
    bool known = false;
    for (const DnsRecord& r : records_) known |= r.name == qname;
    if (mode_ == Mode::servfail) {
        rcode = 2;
    } else if (!known) {
        rcode = 3;  // NXDOMAIN
    } else if (mode_ == Mode::bad_rdata) {
        answers = encode_rr(DnsRecord{qname, "A", 60, ""}, std::string("\x0a\x00\x00", 3));
        ancount = 1;
    } else {
        // The CNAME chain first (each link once), then the records of the
        // asked type at its end.
        std::string current = qname;
        std::set<std::string> seen;
        while (seen.insert(current).second) {
            bool moved = false;
            for (const DnsRecord& r : records_) {
                if (r.name == current && r.type == "CNAME") {
                    answers += encode_rr(r, rdata(r));
                    ++ancount;
                    current = r.data;
                    moved = true;
                    break;
                }
            }
            if (!moved) break;
        }
        for (const DnsRecord& r : records_) {
            if (r.name == current && r.type != "CNAME" && type_code(r.type) == qtype) {
                answers += encode_rr(r, rdata(r));
                ++ancount;
            }
        }
    }

    if (mode_ == Mode::tc && ancount > 1) {
        // Keep the first record (the tests use one owner's A records, all
        // the same size).
        std::string first = answers.substr(0, answers.size() / ancount);
        answers = first;
        ancount = 1;
    }
    std::string reply = q.substr(0, 2);  // id
    reply += static_cast<char>(0x84 | (q[2] & 0x01) | (mode_ == Mode::tc ? 0x02 : 0));  // QR, AA, TC, RD copied
    reply += static_cast<char>(0x80 | rcode);          // RA
    put16(reply, 1);
    put16(reply, ancount);
    put16(reply, 0);
    put16(reply, 0);
    reply += q.substr(12, pos - 12);  // the question
    reply += answers;
    if (mode_ == Mode::smuggle && ancount > 0) {
        // An owner off the CNAME chain: the resolver must not allow it.
        reply[7] = static_cast<char>(ancount + 1);
        reply += encode_rr(DnsRecord{"evil.test", "A", 60, ""}, std::string("\xcb\x00\x71\x42", 4));
    }
    if (mode_ == Mode::truncated && ancount > 0) {
        // Cut inside the first record: the counts promise more than is there.
        reply.resize(12 + (pos - 12) + 7);
    }
    return reply;
}

}  // namespace bulkhead::net::test
