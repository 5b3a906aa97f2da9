// SPDX-License-Identifier: Apache-2.0
#include "net/resolver.h"

// clang-format off: <resolv.h> needs these first.
#include <netinet/in.h>
#include <arpa/nameser.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <resolv.h>
// clang-format on

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <limits>
#include <map>

#include "net/host_name.h"

namespace bulkhead::net {

namespace {

constexpr int kMaxCnameHops = 16;
constexpr size_t kAnswerBufferSize = 65536;  // the largest DNS message
constexpr uint32_t kNoTtl = std::numeric_limits<uint32_t>::max();

rules::Error dns_error(std::string message) { return rules::Error{{}, "dns: " + std::move(message)}; }

struct NetworkLess {
    bool operator()(const IpNetwork& a, const IpNetwork& b) const { return network_less(a, b); }
};

bool network_equal(const IpNetwork& a, const IpNetwork& b) { return !network_less(a, b) && !network_less(b, a); }

void sort_unique(std::vector<IpNetwork>& v) {
    std::sort(v.begin(), v.end(), network_less);
    v.erase(std::unique(v.begin(), v.end(), network_equal), v.end());
}

// a - b, both sorted.
std::vector<IpNetwork> difference(const std::vector<IpNetwork>& a, const std::vector<IpNetwork>& b) {
    std::vector<IpNetwork> out;
    std::set_difference(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out), network_less);
    return out;
}

std::string lower(std::string s) {
    for (char& c : s)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return s;
}

std::string seconds_text(std::chrono::seconds s) { return std::to_string(s.count()) + "s"; }

// "192.0.2.1", "192.0.2.1:53", "2001:db8::1", "[2001:db8::1]:53".
bool parse_nameserver(std::string_view text, sockaddr_storage* out) {
    std::string host(text);
    int port = NS_DEFAULTPORT;
    auto parse_port = [&](std::string_view digits) {
        auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
        return !digits.empty() && ec == std::errc() && end == digits.data() + digits.size() && port > 0 &&
               port <= 65535;
    };
    if (!host.empty() && host.front() == '[') {
        size_t close = host.find(']');
        if (close == std::string::npos) return false;
        std::string_view rest = std::string_view(host).substr(close + 1);
        if (!rest.empty() && (rest.front() != ':' || !parse_port(rest.substr(1)))) return false;
        host = host.substr(1, close - 1);
    } else if (size_t colon = host.find(':');
               colon != std::string::npos && host.find(':', colon + 1) == std::string::npos) {
        if (!parse_port(std::string_view(host).substr(colon + 1))) return false;
        host.resize(colon);
    }
    std::memset(out, 0, sizeof *out);
    auto* v4 = reinterpret_cast<sockaddr_in*>(out);
    auto* v6 = reinterpret_cast<sockaddr_in6*>(out);
    if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(static_cast<uint16_t>(port));
        return true;
    }
    if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(static_cast<uint16_t>(port));
        return true;
    }
    return false;
}

// One query's outcome for one record type.
struct Answer {
    std::vector<IpNetwork> addresses;
    uint32_t ttl = kNoTtl;
    bool truncated = false;
    std::string error;
};

struct Record {
    std::string owner;  // lower case, no trailing dot
    int type = 0;
    uint32_t ttl = 0;
    IpNetwork address;  // A, AAAA
    std::string target; // CNAME, lower case
};

struct Entry {
    std::vector<IpNetwork> addresses;
    Clock::time_point expires{};     // the epoch: due at once
    Clock::time_point good_until{};  // last good answer's expiry + stale_grace
    std::string error;
};

}  // namespace

bool network_less(const IpNetwork& a, const IpNetwork& b) {
    if (a.family != b.family) return a.family < b.family;
    if (a.addr != b.addr) return a.addr < b.addr;
    return a.prefix < b.prefix;
}

std::string format_network(const IpNetwork& net) {
    char buf[INET6_ADDRSTRLEN] = "?";
    inet_ntop(net.family, net.addr.data(), buf, sizeof buf);
    return std::string(buf) + "/" + std::to_string(net.prefix);
}

struct Resolver::Impl {
    ResolverOptions options;
    std::vector<sockaddr_storage> servers;
    // glibc's state. Its address must not change (dnsrch points into
    // defdname), which is one reason for the Impl indirection.
    struct __res_state state {};
    bool state_open = false;
    std::map<std::string, Entry> entries;

    ~Impl() { close_state(); }

    void close_state() {
        if (state_open) res_nclose(&state);  // also frees _u._ext.nsaddrs
        state_open = false;
    }

    // Empty on success.
    std::string open_state() {
        close_state();
        std::memset(&state, 0, sizeof state);
        if (res_ninit(&state) != 0) return "res_ninit failed: cannot read the resolver configuration";
        state_open = true;
        if (!servers.empty()) {
            // glibc 2.36 compares these with the configuration res_ninit
            // loaded; once they differ, res_send uses them as they are:
            // IPv4 servers in nsaddr_list, IPv6 ones through _u._ext.nsaddrs
            // (malloc'd; res_nclose frees them) with sin_family 0 in the
            // nsaddr_list slot.
            for (int i = 0; i < MAXNS; ++i) {
                std::free(state._u._ext.nsaddrs[i]);
                state._u._ext.nsaddrs[i] = nullptr;
                std::memset(&state.nsaddr_list[i], 0, sizeof state.nsaddr_list[i]);
            }
            for (size_t i = 0; i < servers.size(); ++i) {
                if (servers[i].ss_family == AF_INET) {
                    std::memcpy(&state.nsaddr_list[i], &servers[i], sizeof(sockaddr_in));
                } else {
                    auto* v6 = static_cast<sockaddr_in6*>(std::malloc(sizeof(sockaddr_in6)));
                    if (!v6) return "out of memory";
                    std::memcpy(v6, &servers[i], sizeof *v6);
                    state._u._ext.nsaddrs[i] = v6;
                }
            }
            state.nscount = static_cast<int>(servers.size());
        }
        state.retrans = static_cast<int>(options.query_timeout.count());
        state.retry = options.attempts;
        // No TCP fallback on a truncated answer: glibc 2.36's TCP path has
        // no timeout (a server that sets TC, then accepts the connection and
        // stays silent, holds res_nquery indefinitely; tried), which would
        // stall the daemon's timer. A truncated answer gives the complete
        // records it holds: fewer addresses, never more, and reported
        // through Lookup::truncated and NameChange::truncated.
        state.options |= RES_IGNTC;
        return {};
    }

    Answer query(const std::string& name, int type) {
        Answer out;
        std::vector<unsigned char> buf(kAnswerBufferSize);
        errno = 0;
        int n = res_nquery(&state, name.c_str(), ns_c_in, type, buf.data(), static_cast<int>(buf.size()));
        int err = errno;
        if (n < 0) {
            switch (state.res_h_errno) {
            case NO_DATA:
                return out;  // the name exists without records of this type
            case HOST_NOT_FOUND:
                out.error = "the name does not exist (NXDOMAIN)";
                break;
            case TRY_AGAIN:
                // glibc reports SERVFAIL from every server as ETIMEDOUT too.
                if (err == ECONNREFUSED)
                    out.error = "no name server reachable: " + std::string(std::strerror(err));
                else
                    out.error = "no usable answer from the name servers (timed out, or SERVFAIL)";
                break;
            case NO_RECOVERY:
                out.error = "the name server refused the query or answered with an error (FORMERR, REFUSED or NOTIMP)";
                break;
            default:
                out.error = std::string("resolver error: ") + std::strerror(err ? err : EIO);
            }
            return out;
        }
        return parse(name, type, buf.data(), n);
    }

    // Reads the answer section and follows the CNAME chain from `name`.
    static Answer parse(const std::string& name, int type, const unsigned char* data, int size) {
        Answer out;
        ns_msg msg;
        if (ns_initparse(data, size, &msg) < 0) {
            out.error = "malformed answer (" + std::to_string(size) + " bytes): cut short or corrupt";
            return out;
        }
        out.truncated = ns_msg_getflag(msg, ns_f_tc) != 0;
        std::vector<Record> records;
        for (int i = 0; i < ns_msg_count(msg, ns_s_an); ++i) {
            ns_rr rr;
            if (ns_parserr(&msg, ns_s_an, i, &rr) < 0) {
                if (out.truncated) break;  // keep the records that fit
                out.error = "malformed answer record " + std::to_string(i) + ": cut short or corrupt";
                return out;
            }
            if (ns_rr_class(rr) != ns_c_in) continue;
            Record rec;
            rec.owner = lower(ns_rr_name(rr));
            rec.type = ns_rr_type(rr);
            // RFC 2181 section 8: a TTL with the top bit set means zero.
            rec.ttl = ns_rr_ttl(rr) > 0x7fffffffu ? 0 : ns_rr_ttl(rr);
            if (rec.type == ns_t_a || rec.type == ns_t_aaaa) {
                size_t want = rec.type == ns_t_a ? 4 : 16;
                if (ns_rr_rdlen(rr) != want) {
                    out.error = "malformed " + std::string(rec.type == ns_t_a ? "A" : "AAAA") + " record for " +
                                quote_host_name(rec.owner) + ": " + std::to_string(ns_rr_rdlen(rr)) +
                                " bytes of data, not " + std::to_string(want);
                    return out;
                }
                rec.address.family = rec.type == ns_t_a ? AF_INET : AF_INET6;
                rec.address.prefix = rec.type == ns_t_a ? 32 : 128;
                std::memcpy(rec.address.addr.data(), ns_rr_rdata(rr), want);
            } else if (rec.type == ns_t_cname) {
                char target[NS_MAXDNAME];
                if (ns_name_uncompress(ns_msg_base(msg), ns_msg_end(msg), ns_rr_rdata(rr), target, sizeof target) < 0) {
                    out.error = "malformed CNAME record for " + quote_host_name(rec.owner);
                    return out;
                }
                rec.target = lower(target);
            } else {
                continue;
            }
            records.push_back(std::move(rec));
        }

        // Only records on the chain from the queried name count: a server
        // cannot widen the allow list with unrelated owners.
        std::string current = name;
        uint32_t chain_ttl = kNoTtl;
        for (int hop = 0;; ++hop) {
            for (const Record& r : records) {
                if (r.type != type || r.owner != current) continue;
                out.addresses.push_back(r.address);
                out.ttl = std::min({out.ttl, chain_ttl, r.ttl});
            }
            if (!out.addresses.empty()) break;
            auto cname = std::find_if(records.begin(), records.end(),
                                      [&](const Record& r) { return r.type == ns_t_cname && r.owner == current; });
            if (cname == records.end()) break;  // the chain ends without records of this type
            if (hop == kMaxCnameHops) {
                out.error = "CNAME chain longer than " + std::to_string(kMaxCnameHops) + " links (a loop?)";
                return out;
            }
            chain_ttl = std::min(chain_ttl, cname->ttl);
            current = cname->target;
        }
        sort_unique(out.addresses);
        return out;
    }

    Lookup lookup(const std::string& name) {
        Lookup out;
        uint32_t ttl = kNoTtl;
        for (int type : {ns_t_a, ns_t_aaaa}) {
            Answer a = query(name, type);
            if (!a.error.empty()) {
                out.addresses.clear();
                out.error = "failed to resolve " + name + " (" + (type == ns_t_a ? "A" : "AAAA") + "): " + a.error;
                return out;
            }
            out.addresses.insert(out.addresses.end(), a.addresses.begin(), a.addresses.end());
            out.truncated |= a.truncated;
            ttl = std::min(ttl, a.ttl);
        }
        if (out.addresses.empty()) {
            out.error = "failed to resolve " + name + ": it has no A or AAAA records";
            return out;
        }
        sort_unique(out.addresses);
        out.ttl = std::chrono::seconds(ttl);
        return out;
    }

    std::vector<IpNetwork> all_addresses() const {
        std::vector<IpNetwork> out;
        for (const auto& [name, e] : entries) out.insert(out.end(), e.addresses.begin(), e.addresses.end());
        sort_unique(out);
        return out;
    }

    // Refreshes one due name. A failure keeps the last good addresses for
    // a bounded time rather than dropping them at once: a transient DNS
    // outage must not break every build that talks to the registry. It
    // never widens anything (no new addresses come from a failure), the
    // error is reported on every failed refresh, and after stale_grace
    // past the last good TTL the addresses go.
    NameChange refresh(const std::string& name, Entry& e, Clock::time_point now, const std::string& init_error) {
        NameChange change{name, {}, {}, {}, false};
        Lookup l;
        if (init_error.empty()) l = lookup(name);
        else l.error = "failed to resolve " + name + ": " + init_error;

        if (l.error.empty()) {
            change.added = difference(l.addresses, e.addresses);
            change.removed = difference(e.addresses, l.addresses);
            change.truncated = l.truncated;
            e.addresses = std::move(l.addresses);
            auto ttl = std::clamp(l.ttl, options.min_ttl, options.max_ttl);
            e.expires = now + ttl;
            e.good_until = e.expires + options.stale_grace;
            e.error.clear();
            return change;
        }

        std::string error = "dns: " + l.error;
        if (e.addresses.empty()) {
            error += "; no addresses allowed for it";
        } else if (now >= e.good_until) {
            change.removed = std::move(e.addresses);
            e.addresses.clear();
            error += "; dropped its " + std::to_string(change.removed.size()) + " stale address(es): stale grace of " +
                     seconds_text(options.stale_grace) + " past the last TTL is over";
        } else {
            auto left = std::chrono::duration_cast<std::chrono::seconds>(e.good_until - now);
            error += "; keeping its " + std::to_string(e.addresses.size()) + " last good address(es) for at most " +
                     seconds_text(left) + " more";
        }
        e.expires = now + options.retry_interval;
        if (!e.addresses.empty()) e.expires = std::min(e.expires, e.good_until);
        e.error = error;
        change.error = std::move(error);
        return change;
    }
};

Resolver::Resolver(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Resolver::~Resolver() = default;

rules::Result<std::unique_ptr<Resolver>> Resolver::create(ResolverOptions options) {
    auto impl = std::make_unique<Impl>();
    if (options.nameservers.size() > MAXNS)
        return dns_error("at most " + std::to_string(MAXNS) + " name servers, not " +
                         std::to_string(options.nameservers.size()));
    for (const std::string& ns : options.nameservers) {
        sockaddr_storage addr;
        if (!parse_nameserver(ns, &addr))
            return dns_error("bad name server " + quote_host_name(ns) +
                             ": want an IP address, optionally with a port (192.0.2.1:53, [2001:db8::1]:53)");
        impl->servers.push_back(addr);
    }
    if (options.min_ttl.count() < 0 || options.min_ttl > options.max_ttl)
        return dns_error("min_ttl (" + seconds_text(options.min_ttl) + ") must be between 0 and max_ttl (" +
                         seconds_text(options.max_ttl) + ")");
    if (options.retry_interval.count() < 1) return dns_error("retry_interval must be at least 1s");
    if (options.stale_grace.count() < 0) return dns_error("stale_grace must not be negative");
    if (options.query_timeout.count() < 1 || options.query_timeout.count() > 30)
        return dns_error("query_timeout must be between 1s and 30s, not " + seconds_text(options.query_timeout));
    if (options.attempts < 1 || options.attempts > 5)
        return dns_error("attempts must be between 1 and 5, not " + std::to_string(options.attempts));
    impl->options = std::move(options);
    if (std::string err = impl->open_state(); !err.empty()) return dns_error(err);
    return std::unique_ptr<Resolver>(new Resolver(std::move(impl)));
}

rules::Result<Refresh> Resolver::set_names(const std::vector<std::string>& names) {
    std::map<std::string, Entry> next;
    for (const std::string& name : names) {
        if (auto err = validate_host_name(name)) return dns_error(*err);
        std::string key = normalize_host_name(name);
        auto old = impl_->entries.find(key);
        next.emplace(key, old != impl_->entries.end() ? old->second : Entry{});
    }
    Refresh out;
    std::vector<IpNetwork> before = impl_->all_addresses();
    for (auto& [name, e] : impl_->entries)
        if (!next.count(name) && !e.addresses.empty())
            out.names.push_back(NameChange{name, {}, e.addresses, {}, false});
    impl_->entries = std::move(next);
    out.removed = difference(before, impl_->all_addresses());
    return out;
}

Refresh Resolver::refresh_due(Clock::time_point now) {
    Refresh out;
    bool any_due = std::any_of(impl_->entries.begin(), impl_->entries.end(),
                               [&](const auto& kv) { return kv.second.expires <= now; });
    if (!any_due) return out;
    std::string init_error;
    if (impl_->options.nameservers.empty() || !impl_->state_open) init_error = impl_->open_state();
    std::vector<IpNetwork> before = impl_->all_addresses();
    for (auto& [name, e] : impl_->entries)
        if (e.expires <= now) out.names.push_back(impl_->refresh(name, e, now, init_error));
    std::vector<IpNetwork> after = impl_->all_addresses();
    out.added = difference(after, before);
    out.removed = difference(before, after);
    return out;
}

std::optional<Clock::time_point> Resolver::next_due() const {
    std::optional<Clock::time_point> out;
    for (const auto& [name, e] : impl_->entries)
        if (!out || e.expires < *out) out = e.expires;
    return out;
}

std::vector<Resolved> Resolver::resolved() const {
    std::vector<Resolved> out;
    for (const auto& [name, e] : impl_->entries) out.push_back(Resolved{name, e.addresses, e.expires, e.error});
    return out;
}

Lookup Resolver::lookup(std::string_view name) {
    if (auto err = validate_host_name(name)) return Lookup{{}, {}, false, "dns: " + *err};
    if (!impl_->state_open) {
        if (std::string err = impl_->open_state(); !err.empty()) return Lookup{{}, {}, false, "dns: " + err};
    }
    Lookup l = impl_->lookup(normalize_host_name(name));
    if (!l.error.empty()) l.error = "dns: " + l.error;
    return l;
}

}  // namespace bulkhead::net
