// SPDX-License-Identifier: Apache-2.0
// Egress for a microVM that has no network device: the guest agent listens
// on 127.0.0.1:VG_NET_PORT and carries each connection over the net port
// (protocol.h) to this HTTP proxy on the host, which connects only where the
// VM's allow list says.
//
// Requests: `CONNECT host:port HTTP/1.x` (answered 200, then a tunnel) or an
// absolute-form `METHOD http://host[:port]/path HTTP/1.x`, forwarded as it
// came (servers must accept absolute-form, RFC 9112 3.2.2). The connection
// stays with that first request's server: requests for other hosts on it go
// there too (still an allowed server). IPv6 literals in brackets.
//
// Decisions, in order:
//   1. Cloud metadata and link-local addresses (169.254.0.0/16, fe80::/10,
//      fd00:ec2::254) and unspecified ones (0.0.0.0/8, ::) are denied,
//      whatever the list says. IPv4-mapped IPv6 addresses count as IPv4.
//   2. A name is resolved, and EVERY address it has must pass: a host rule
//      allows its name's addresses, a CIDR rule the addresses inside it.
//      Only names a rule could allow are resolved (a host rule naming it, or
//      any CIDR rule for the port): resolving the others would let the guest
//      signal out through the host's DNS queries.
//   3. The host's own loopback (127.0.0.0/8, ::1) passes only a CIDR rule
//      inside it ("127.0.0.1/32:8080"): the proxy runs in the host's network
//      namespace, and neither a broad CIDR nor a name that resolves there
//      should open the host's local services to the VM.
//   4. The proxy connects to the first address that answers, in order.
// Denials answer 403 with one line saying why, malformed requests 400 (431
// for a header over 8 KiB), names that do not resolve and servers that do
// not answer 502 (504 after 10 s), and close the stream.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace bulkhead::vmguard {

// Exactly one of host and cidr is set.
struct EgressRule {
    std::string host;  // a lower-case DNS name, matched exactly (case-insensitively) against the request's
    std::string cidr;  // an IPv4 or IPv6 network: "10.0.0.0/8", "2001:db8::/32", "127.0.0.1/32"
    uint16_t port_lo = 1, port_hi = 65535;
};

// Parses "HOST", "HOST:PORT", "HOST:LO-HI", "CIDR", "CIDR:PORT",
// "[V6CIDR]:PORT" ("[2001:db8::/32]:443"), a bare V6CIDR (any port); an
// address without a prefix length is a /32 or /128. nullopt on success, else
// what is wrong, e.g. "egress rule '10.0.0.0/33': bad prefix length '33'
// (0-32 for IPv4)". Host names are lower-cased.
std::optional<std::string> parse_egress_rule(const std::string& text, EgressRule* out);

// The rule in the form parse_egress_rule reads: "10.0.0.0/8:80-90".
std::string egress_rule_text(const EgressRule& rule);

// One connection attempt of the guest.
struct EgressDecision {
    uint32_t stream = 0;  // the guest's stream id
    std::string method;   // "CONNECT", "GET"...; empty when the request was malformed
    std::string host;     // as the request named it (an IPv6 literal without brackets)
    uint16_t port = 0;
    std::string address;  // the address connected to, or the one that was denied
    bool allowed = false;  // the policy let it through
    std::string reason;    // the rule that allowed it, or why not
    std::string error;     // allowed, but no address answered (the guest got 502 or 504)
};

class EgressProxy {
public:
    // Serves the guest behind socket_path (the VM's net.sock, which QEMU
    // creates: connecting is retried for up to a minute) on a thread of its
    // own, one poll loop, until destroyed. on_decision is called on that
    // thread for every request; on_error (optional) for a rule that cannot
    // match (it is left out), and when the guest breaks the protocol (it is
    // dropped, not served again) or the socket cannot be reached. Neither
    // may destroy the proxy.
    EgressProxy(std::string socket_path, std::vector<EgressRule> allow,
                std::function<void(const EgressDecision&)> on_decision,
                std::function<void(const std::string&)> on_error = {});
    ~EgressProxy();
    EgressProxy(const EgressProxy&) = delete;
    EgressProxy& operator=(const EgressProxy&) = delete;

    bool connected() const { return connected_; }  // to the guest's port
    // Why the proxy stopped serving the guest (the VM stopped, it broke the
    // protocol, the socket was not there); empty while it serves.
    std::string error() const;

private:
    void run();
    // The guest is not served any more; report: tell on_error too.
    void gone(const std::string& why, bool report);

    std::string path_;
    std::vector<EgressRule> allow_;
    std::function<void(const EgressDecision&)> on_decision_;
    std::function<void(const std::string&)> on_error_;
    int wake_[2] = {-1, -1};  // a pipe: the destructor writes to stop the thread
    std::atomic<bool> connected_{false};
    mutable std::mutex mu_;
    std::string error_;  // under mu_
    std::thread thread_;
};

}  // namespace bulkhead::vmguard
