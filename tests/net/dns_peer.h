// SPDX-License-Identifier: Apache-2.0
// A tiny authoritative DNS server on 127.0.0.1 (UDP, random port) for the
// resolver tests: a real peer on the wire, answering from a table the test
// controls. It parses the question, answers A, AAAA and CNAME records (the
// CNAME chain first, as a recursive server would), NXDOMAIN for names it
// does not know and NODATA for known names without the asked type. Modes
// make it misbehave: stay silent, send garbage, truncate, SERVFAIL,
// add records for names nobody asked about.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace bulkhead::net::test {

struct DnsRecord {
    std::string name;  // lower case, no trailing dot
    std::string type;  // "A", "AAAA" or "CNAME"
    uint32_t ttl = 0;
    std::string data;  // the address, or the CNAME target
};

class DnsPeer {
public:
    enum class Mode {
        answer,      // from the table
        silent,      // read the query, send nothing
        garbage,     // random bytes, not even a header
        truncated,   // a real answer cut in the middle of its first record
        tc,          // TC set, only the first record kept (a clean UDP truncation)
        bad_rdata,   // an A record carrying 3 bytes
        servfail,    // rcode 2
        smuggle,     // a good answer plus an A record for an unrelated name
    };

    // AF_INET binds 127.0.0.1, AF_INET6 binds ::1; throws when it cannot.
    explicit DnsPeer(int family = 2 /* AF_INET */);
    ~DnsPeer();
    DnsPeer(const DnsPeer&) = delete;
    DnsPeer& operator=(const DnsPeer&) = delete;

    uint16_t port() const { return port_; }
    // For ResolverOptions::nameservers.
    std::string address() const {
        return (family_ == 2 ? "127.0.0.1:" : "[::1]:") + std::to_string(port_);
    }

    void set_records(std::vector<DnsRecord> records);
    void set_mode(Mode mode);
    // Queries received for `name` (any type), since the start.
    int queries(const std::string& name) const;

private:
    void serve();
    std::string respond(const std::string& query);

    int family_;
    int fd_ = -1;
    int stop_fd_ = -1;  // eventfd
    uint16_t port_ = 0;
    mutable std::mutex mu_;
    std::vector<DnsRecord> records_;
    Mode mode_ = Mode::answer;
    std::map<std::string, int> queries_;
    std::thread thread_;
};

}  // namespace bulkhead::net::test
