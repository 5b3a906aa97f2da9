// SPDX-License-Identifier: Apache-2.0
// Host names of an egress allow list → the addresses the kernel allows, kept
// fresh by their DNS TTLs (issue 4).
//
// The kernel matches addresses in an LPM map; this class owns the name →
// address side. The caller hands it the names, calls refresh_due() when
// next_due() says so, and applies the returned union diff to the map:
// Refresh::added first, then Refresh::removed (the new answer is allowed
// before the old one goes). Keep resolved entries apart from the
// policy's own CIDRs (another map, or a flag in the value), so removing a
// resolved /32 never deletes a CIDR the policy lists.
//
// Lookups use glibc's stub resolver (res_nquery, A and AAAA, exact names:
// no search list) against /etc/resolv.conf's servers or the ones given.
// Only address records reached from the queried name through the CNAME
// chain in the answer count; anything else a server adds is ignored. The
// TTL of a name is the smallest along the chain over both answers, clamped
// to [min_ttl, max_ttl].
//
// Synchronous on purpose: the daemon calls it from a timer, the lists are
// short, and every query is bounded (see ResolverOptions). Not thread-safe:
// one thread owns a Resolver.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "rules/result.h"
#include "rules/values.h"

namespace bulkhead::net {

using Clock = std::chrono::steady_clock;
using rules::IpNetwork;  // /32 or /128 here

struct ResolverOptions {
    // "192.0.2.1", "192.0.2.1:5353", "2001:db8::1", "[2001:db8::1]:5353";
    // at most 3 (glibc's MAXNS). Empty: /etc/resolv.conf, re-read before
    // each refresh so a changed resolver configuration is picked up.
    std::vector<std::string> nameservers;
    std::chrono::seconds min_ttl{30};    // floor: a TTL of 0 must not mean a query per tick
    std::chrono::seconds max_ttl{3600};  // ceiling: a day-long TTL must not pin an address
    // After a failed or negative lookup, when to ask again.
    std::chrono::seconds retry_interval{30};
    // How long past its TTL a name's last good addresses survive failed
    // refreshes before they are dropped.
    std::chrono::seconds stale_grace{3600};
    // glibc's per-server wait (whole seconds, at least 1) and tries per
    // server. One lookup (A then AAAA) waits at most about
    // 2 × attempts × servers × query_timeout; TCP fallback is off, so no
    // read can hang (see resolver.cpp).
    std::chrono::seconds query_timeout{2};
    int attempts = 2;
};

// One lookup of one name, TTL not clamped.
struct Lookup {
    std::vector<IpNetwork> addresses;  // sorted, unique
    std::chrono::seconds ttl{0};       // smallest along the CNAME chains
    bool truncated = false;            // TC set: only the records that fit (no TCP retry)
    std::string error;                 // empty on success
};

// A name's current state.
struct Resolved {
    std::string name;                  // normalised
    std::vector<IpNetwork> addresses;  // what the kernel allows now, sorted
    Clock::time_point expires;         // next refresh due
    std::string error;                 // the last refresh's failure; empty when it succeeded
};

// What one name's refresh did.
struct NameChange {
    std::string name;
    std::vector<IpNetwork> added;
    std::vector<IpNetwork> removed;
    std::string error;       // empty when the lookup succeeded
    bool truncated = false;  // succeeded on a truncated answer: maybe fewer addresses than the name has
};

// The result of refresh_due() or set_names().
struct Refresh {
    std::vector<NameChange> names;  // every name looked up (or dropped), in name order
    // Changes to the union of all names' addresses: apply these to the
    // kernel map. An address two names share leaves only when both drop it.
    std::vector<IpNetwork> added;
    std::vector<IpNetwork> removed;
};

class Resolver {
public:
    // Fails on a bad nameserver or option, or when res_ninit fails.
    static rules::Result<std::unique_ptr<Resolver>> create(ResolverOptions options);
    ~Resolver();
    Resolver(const Resolver&) = delete;
    Resolver& operator=(const Resolver&) = delete;

    // Replaces the name set, all or nothing: any invalid name (see
    // host_name.h) is an error and changes nothing. New names are due at
    // once; dropped names' addresses come back in Refresh::removed now.
    rules::Result<Refresh> set_names(const std::vector<std::string>& names);

    // Looks up every name whose `expires` is at or before `now`, and
    // returns what changed. A failure keeps the name's last good addresses
    // until stale_grace past their TTL, then drops them; either way the
    // error is reported in the NameChange and in Resolved::error.
    Refresh refresh_due(Clock::time_point now);

    // When the earliest name is due; nullopt without names.
    std::optional<Clock::time_point> next_due() const;

    std::vector<Resolved> resolved() const;

    // One lookup, outside the schedule (doctor, tests); an invalid name is
    // an error without a query.
    Lookup lookup(std::string_view name);

private:
    struct Impl;
    explicit Resolver(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

// "192.0.2.1/32", "2001:db8::1/128".
std::string format_network(const IpNetwork& net);

// Orders by family, address, prefix: the order of every list above.
bool network_less(const IpNetwork& a, const IpNetwork& b);

}  // namespace bulkhead::net
