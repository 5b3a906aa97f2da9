// SPDX-License-Identifier: Apache-2.0
// The resolver against a real DNS server on the loopback (dns_peer.h): what
// goes over the wire is what glibc sends and parses. Time for TTLs is the
// `now` the test passes; only timeouts take wall-clock time.
#include "net/resolver.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "dns_peer.h"

namespace bulkhead::net {
namespace {

using namespace std::chrono_literals;
using test::DnsPeer;
using test::DnsRecord;

std::vector<std::string> text(const std::vector<IpNetwork>& nets) {
    std::vector<std::string> out;
    for (const IpNetwork& n : nets) out.push_back(format_network(n));
    return out;
}

using Strings = std::vector<std::string>;

// What glibc lets us say about a timeout, or SERVFAIL from every server.
const std::string kNoAnswer = "no usable answer from the name servers (timed out, or SERVFAIL)";

bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

class ResolverTest : public ::testing::Test {
protected:
    // One try of one second: a silent server costs a second per query.
    ResolverOptions options() {
        ResolverOptions o;
        o.nameservers = {peer_.address()};
        o.query_timeout = 1s;
        o.attempts = 1;
        return o;
    }

    std::unique_ptr<Resolver> make(ResolverOptions o) {
        auto r = Resolver::create(std::move(o));
        EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
        return r.ok() ? std::move(*r) : nullptr;
    }

    Resolved state(const Resolver& r, const std::string& name) {
        for (const Resolved& s : r.resolved())
            if (s.name == name) return s;
        ADD_FAILURE() << "no state for " << name;
        return {};
    }

    DnsPeer peer_;
    const Clock::time_point t0_ = Clock::now();
};

TEST_F(ResolverTest, AAndAaaaWithTheirTtls) {
    peer_.set_records({
        {"www.test", "A", 300, "192.0.2.1"},
        {"www.test", "A", 200, "192.0.2.2"},
        {"www.test", "AAAA", 400, "2001:db8::1"},
    });
    auto r = make(options());
    Lookup l = r->lookup("WWW.test.");
    EXPECT_EQ(l.error, "");
    EXPECT_EQ(text(l.addresses), (Strings{"192.0.2.1/32", "192.0.2.2/32", "2001:db8::1/128"}));
    EXPECT_EQ(l.ttl, 200s);
    EXPECT_FALSE(l.truncated);
    EXPECT_EQ(peer_.queries("www.test"), 2);  // one A, one AAAA
}

TEST_F(ResolverTest, ANameWithoutAaaaIsFine) {
    peer_.set_records({{"v4only.test", "A", 120, "192.0.2.9"}});
    auto r = make(options());
    Lookup l = r->lookup("v4only.test");
    EXPECT_EQ(l.error, "");
    EXPECT_EQ(text(l.addresses), (Strings{"192.0.2.9/32"}));
    EXPECT_EQ(l.ttl, 120s);
}

TEST_F(ResolverTest, CnameChainTakesTheSmallestTtl) {
    peer_.set_records({
        {"cdn.test", "CNAME", 50, "edge.cdn.net"},
        {"edge.cdn.net", "CNAME", 500, "pop1.cdn.net"},
        {"pop1.cdn.net", "A", 120, "198.51.100.7"},
        {"pop1.cdn.net", "AAAA", 90, "2001:db8::7"},
    });
    auto r = make(options());
    Lookup l = r->lookup("cdn.test");
    EXPECT_EQ(l.error, "");
    EXPECT_EQ(text(l.addresses), (Strings{"198.51.100.7/32", "2001:db8::7/128"}));
    EXPECT_EQ(l.ttl, 50s);

    // The link is not always the smallest: here the address record is.
    peer_.set_records({
        {"cdn.test", "CNAME", 500, "pop1.cdn.net"},
        {"pop1.cdn.net", "A", 70, "198.51.100.7"},
    });
    l = r->lookup("cdn.test");
    EXPECT_EQ(l.error, "");
    EXPECT_EQ(l.ttl, 70s);
}

TEST_F(ResolverTest, RecordsOffTheChainAreIgnored) {
    peer_.set_records({{"pkg.test", "A", 60, "192.0.2.10"}});
    peer_.set_mode(DnsPeer::Mode::smuggle);
    auto r = make(options());
    Lookup l = r->lookup("pkg.test");
    EXPECT_EQ(l.error, "");
    EXPECT_EQ(text(l.addresses), (Strings{"192.0.2.10/32"}));  // no 203.0.113.66 (evil.test)
}

TEST_F(ResolverTest, CnameLoopIsAnError) {
    peer_.set_records({
        {"a.loop", "CNAME", 60, "b.loop"},
        {"b.loop", "CNAME", 60, "a.loop"},
    });
    auto r = make(options());
    Lookup l = r->lookup("a.loop");
    EXPECT_EQ(l.error, "dns: failed to resolve a.loop (A): CNAME chain longer than 16 links (a loop?)");
    EXPECT_TRUE(l.addresses.empty());
}

TEST_F(ResolverTest, NxdomainNamesTheName) {
    peer_.set_records({{"www.test", "A", 60, "192.0.2.1"}});
    auto r = make(options());
    Lookup l = r->lookup("nope.test");
    EXPECT_EQ(l.error, "dns: failed to resolve nope.test (A): the name does not exist (NXDOMAIN)");
    EXPECT_TRUE(l.addresses.empty());

    // Through the schedule: no addresses, retried after retry_interval.
    ASSERT_TRUE(r->set_names({"nope.test"}).ok());
    Refresh f = r->refresh_due(t0_);
    ASSERT_EQ(f.names.size(), 1u);
    EXPECT_EQ(f.names[0].error,
              "dns: failed to resolve nope.test (A): the name does not exist (NXDOMAIN); no addresses allowed for it");
    EXPECT_TRUE(f.added.empty());
    Resolved s = state(*r, "nope.test");
    EXPECT_EQ(s.error, f.names[0].error);
    EXPECT_EQ(s.expires, t0_ + 30s);
    EXPECT_EQ(r->next_due(), t0_ + 30s);
}

TEST_F(ResolverTest, NameWithoutAddressesIsAnError) {
    peer_.set_records({{"alias.test", "CNAME", 60, "nowhere.test"}});
    auto r = make(options());
    EXPECT_EQ(r->lookup("alias.test").error, "dns: failed to resolve alias.test: it has no A or AAAA records");
}

TEST_F(ResolverTest, TtlsAreClamped) {
    peer_.set_records({
        {"short.test", "A", 5, "192.0.2.1"},
        {"long.test", "A", 86400, "192.0.2.2"},
        {"zero.test", "A", 0, "192.0.2.3"},
        {"mid.test", "A", 45, "192.0.2.4"},
    });
    auto r = make(options());
    ASSERT_TRUE(r->set_names({"short.test", "long.test", "zero.test", "mid.test"}).ok());
    Refresh f = r->refresh_due(t0_);
    EXPECT_EQ(f.names.size(), 4u);
    EXPECT_EQ(state(*r, "short.test").expires, t0_ + 30s);  // min_ttl
    EXPECT_EQ(state(*r, "zero.test").expires, t0_ + 30s);
    EXPECT_EQ(state(*r, "mid.test").expires, t0_ + 45s);
    EXPECT_EQ(state(*r, "long.test").expires, t0_ + 3600s);  // max_ttl
    EXPECT_EQ(r->next_due(), t0_ + 30s);

    ResolverOptions o = options();
    o.min_ttl = 10s;
    o.max_ttl = 40s;
    auto r2 = make(o);
    ASSERT_TRUE(r2->set_names({"short.test", "long.test"}).ok());
    (void)r2->refresh_due(t0_);
    EXPECT_EQ(state(*r2, "short.test").expires, t0_ + 10s);
    EXPECT_EQ(state(*r2, "long.test").expires, t0_ + 40s);
}

TEST_F(ResolverTest, RefreshReturnsDiffsAndOnlyAsksForExpiredNames) {
    peer_.set_records({
        {"a.test", "A", 60, "192.0.2.1"},
        {"a.test", "A", 60, "192.0.2.2"},
        {"b.test", "A", 600, "192.0.2.2"},  // shared with a.test
    });
    auto r = make(options());
    auto set = r->set_names({"b.test", "A.test"});
    ASSERT_TRUE(set.ok());
    EXPECT_TRUE(set->names.empty());
    EXPECT_EQ(r->next_due(), Clock::time_point{});  // new names are due at once

    Refresh f = r->refresh_due(t0_);
    ASSERT_EQ(f.names.size(), 2u);
    EXPECT_EQ(f.names[0].name, "a.test");
    EXPECT_EQ(text(f.names[0].added), (Strings{"192.0.2.1/32", "192.0.2.2/32"}));
    EXPECT_EQ(f.names[1].name, "b.test");
    EXPECT_EQ(text(f.names[1].added), (Strings{"192.0.2.2/32"}));
    EXPECT_EQ(text(f.added), (Strings{"192.0.2.1/32", "192.0.2.2/32"}));
    EXPECT_TRUE(f.removed.empty());
    EXPECT_EQ(r->next_due(), t0_ + 60s);

    // The table changes; nothing is due yet, so nothing is asked.
    peer_.set_records({
        {"a.test", "A", 60, "192.0.2.1"},
        {"a.test", "A", 60, "192.0.2.3"},
        {"b.test", "A", 600, "192.0.2.2"},
    });
    int a_queries = peer_.queries("a.test"), b_queries = peer_.queries("b.test");
    f = r->refresh_due(t0_ + 59s);
    EXPECT_TRUE(f.names.empty());
    EXPECT_EQ(peer_.queries("a.test"), a_queries);

    // a.test expires; b.test is not asked again.
    f = r->refresh_due(t0_ + 60s);
    ASSERT_EQ(f.names.size(), 1u);
    EXPECT_EQ(f.names[0].name, "a.test");
    EXPECT_EQ(f.names[0].error, "");
    EXPECT_EQ(text(f.names[0].added), (Strings{"192.0.2.3/32"}));
    EXPECT_EQ(text(f.names[0].removed), (Strings{"192.0.2.2/32"}));
    EXPECT_EQ(text(f.added), (Strings{"192.0.2.3/32"}));
    EXPECT_TRUE(f.removed.empty()) << "192.0.2.2 is still b.test's";
    EXPECT_EQ(peer_.queries("a.test"), a_queries + 2);
    EXPECT_EQ(peer_.queries("b.test"), b_queries);

    // An unchanged answer is reported with empty diffs.
    f = r->refresh_due(t0_ + 120s);
    ASSERT_EQ(f.names.size(), 1u);
    EXPECT_TRUE(f.names[0].added.empty() && f.names[0].removed.empty());
    EXPECT_TRUE(f.added.empty() && f.removed.empty());

    // Dropping a name returns its addresses at once, minus shared ones.
    set = r->set_names({"b.test"});
    ASSERT_TRUE(set.ok());
    ASSERT_EQ(set->names.size(), 1u);
    EXPECT_EQ(set->names[0].name, "a.test");
    EXPECT_EQ(text(set->names[0].removed), (Strings{"192.0.2.1/32", "192.0.2.3/32"}));
    EXPECT_EQ(text(set->removed), (Strings{"192.0.2.1/32", "192.0.2.3/32"}));
    EXPECT_EQ(r->next_due(), t0_ + 600s);
    EXPECT_EQ(text(state(*r, "b.test").addresses), (Strings{"192.0.2.2/32"}));
}

TEST_F(ResolverTest, FailureKeepsStaleAddressesForABoundedTimeAndSaysSo) {
    peer_.set_records({{"reg.test", "A", 60, "192.0.2.5"}});
    ResolverOptions o = options();
    o.stale_grace = 100s;
    auto r = make(o);
    ASSERT_TRUE(r->set_names({"reg.test"}).ok());
    Refresh f = r->refresh_due(t0_);
    EXPECT_EQ(text(f.added), (Strings{"192.0.2.5/32"}));

    // The server stops answering: addresses kept, error reported, and the
    // query gives up within its budget.
    peer_.set_mode(DnsPeer::Mode::silent);
    auto started = Clock::now();
    f = r->refresh_due(t0_ + 60s);
    EXPECT_LT(Clock::now() - started, 3s);
    ASSERT_EQ(f.names.size(), 1u);
    EXPECT_TRUE(contains(f.names[0].error, "dns: failed to resolve reg.test (A): " + kNoAnswer))
        << f.names[0].error;
    EXPECT_TRUE(contains(f.names[0].error, "; keeping its 1 last good address(es) for at most 100s more"))
        << f.names[0].error;
    EXPECT_TRUE(f.names[0].removed.empty());
    EXPECT_TRUE(f.removed.empty());
    Resolved s = state(*r, "reg.test");
    EXPECT_EQ(text(s.addresses), (Strings{"192.0.2.5/32"}));
    EXPECT_EQ(s.error, f.names[0].error);
    EXPECT_EQ(s.expires, t0_ + 90s);  // retry_interval

    // SERVFAIL is a failure too; the retry lands on the end of the grace.
    peer_.set_mode(DnsPeer::Mode::servfail);
    f = r->refresh_due(t0_ + 150s);
    ASSERT_EQ(f.names.size(), 1u);
    EXPECT_TRUE(contains(f.names[0].error, "keeping its 1 last good address(es) for at most 10s more"))
        << f.names[0].error;
    EXPECT_EQ(r->next_due(), t0_ + 160s);  // 60s TTL + 100s grace

    // Past the grace: dropped, and said so.
    f = r->refresh_due(t0_ + 160s);
    ASSERT_EQ(f.names.size(), 1u);
    EXPECT_TRUE(contains(f.names[0].error,
                         "; dropped its 1 stale address(es): stale grace of 100s past the last TTL is over"))
        << f.names[0].error;
    EXPECT_EQ(text(f.names[0].removed), (Strings{"192.0.2.5/32"}));
    EXPECT_EQ(text(f.removed), (Strings{"192.0.2.5/32"}));
    EXPECT_TRUE(state(*r, "reg.test").addresses.empty());
    EXPECT_EQ(r->next_due(), t0_ + 190s);

    // The server recovers: back, and the error is cleared.
    peer_.set_mode(DnsPeer::Mode::answer);
    f = r->refresh_due(t0_ + 190s);
    ASSERT_EQ(f.names.size(), 1u);
    EXPECT_EQ(f.names[0].error, "");
    EXPECT_EQ(text(f.added), (Strings{"192.0.2.5/32"}));
    EXPECT_EQ(state(*r, "reg.test").error, "");
}

TEST_F(ResolverTest, ServfailIsReported) {
    peer_.set_records({{"www.test", "A", 60, "192.0.2.1"}});
    peer_.set_mode(DnsPeer::Mode::servfail);
    auto r = make(options());
    Lookup l = r->lookup("www.test");
    EXPECT_EQ(l.error, "dns: failed to resolve www.test (A): " + kNoAnswer);
}

TEST_F(ResolverTest, GarbageFromTheServerIsAnErrorNotACrash) {
    peer_.set_records({{"www.test", "A", 60, "192.0.2.1"}});
    peer_.set_mode(DnsPeer::Mode::garbage);
    auto r = make(options());
    auto started = Clock::now();
    Lookup l = r->lookup("www.test");
    EXPECT_LT(Clock::now() - started, 3s);
    EXPECT_EQ(l.error, "dns: failed to resolve www.test (A): " + kNoAnswer);
    EXPECT_TRUE(l.addresses.empty());
    EXPECT_GE(peer_.queries("www.test"), 1);
}

TEST_F(ResolverTest, TruncatedAnswerIsAnError) {
    peer_.set_records({{"www.test", "A", 60, "192.0.2.1"}});
    peer_.set_mode(DnsPeer::Mode::truncated);
    auto r = make(options());
    Lookup l = r->lookup("www.test");
    EXPECT_EQ(l.error, "dns: failed to resolve www.test (A): malformed answer (33 bytes): cut short or corrupt");
    EXPECT_TRUE(l.addresses.empty());
}

// Without TCP fallback (it could hang), a cleanly truncated answer gives the
// records that fit, and says so.
TEST_F(ResolverTest, TruncatedUdpAnswerGivesWhatFitsAndSaysSo) {
    peer_.set_records({
        {"many.test", "A", 60, "192.0.2.1"},
        {"many.test", "A", 60, "192.0.2.2"},
        {"many.test", "A", 60, "192.0.2.3"},
    });
    peer_.set_mode(DnsPeer::Mode::tc);
    auto r = make(options());
    Lookup l = r->lookup("many.test");
    EXPECT_EQ(l.error, "");
    EXPECT_TRUE(l.truncated);
    EXPECT_EQ(text(l.addresses), (Strings{"192.0.2.1/32"}));

    ASSERT_TRUE(r->set_names({"many.test"}).ok());
    Refresh f = r->refresh_due(t0_);
    ASSERT_EQ(f.names.size(), 1u);
    EXPECT_TRUE(f.names[0].truncated);
    EXPECT_EQ(text(f.added), (Strings{"192.0.2.1/32"}));
}

TEST_F(ResolverTest, ARecordOfTheWrongSizeIsAnError) {
    peer_.set_records({{"www.test", "A", 60, "192.0.2.1"}});
    peer_.set_mode(DnsPeer::Mode::bad_rdata);
    auto r = make(options());
    Lookup l = r->lookup("www.test");
    EXPECT_EQ(l.error,
              "dns: failed to resolve www.test (A): malformed A record for 'www.test': 3 bytes of data, not 4");
}

TEST_F(ResolverTest, NobodyListeningIsAnErrorAtOnce) {
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), len), 0);
    ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
    close(fd);  // the port is free and closed now
    ResolverOptions o = options();
    o.nameservers = {"127.0.0.1:" + std::to_string(ntohs(addr.sin_port))};
    auto r = make(o);
    auto started = Clock::now();
    Lookup l = r->lookup("www.test");
    EXPECT_LT(Clock::now() - started, 1s) << "ICMP port unreachable ends the wait";
    EXPECT_EQ(l.error, "dns: failed to resolve www.test (A): no name server reachable: Connection refused");
}

TEST_F(ResolverTest, Ipv6NameServer) {
    std::unique_ptr<DnsPeer> peer6;
    try {
        peer6 = std::make_unique<DnsPeer>(AF_INET6);
    } catch (const std::exception& e) {
        GTEST_SKIP() << "no IPv6 loopback: " << e.what();
    }
    peer6->set_records({{"six.test", "AAAA", 80, "2001:db8::6"}});
    ResolverOptions o = options();
    o.nameservers = {peer6->address()};
    auto r = make(o);
    Lookup l = r->lookup("six.test");
    EXPECT_EQ(l.error, "");
    EXPECT_EQ(text(l.addresses), (Strings{"2001:db8::6/128"}));
    EXPECT_EQ(peer6->queries("six.test"), 2);
}

TEST_F(ResolverTest, SecondServerAnswersWhenTheFirstIsSilent) {
    DnsPeer second;
    second.set_records({{"www.test", "A", 60, "192.0.2.1"}});
    peer_.set_mode(DnsPeer::Mode::silent);
    ResolverOptions o = options();
    o.nameservers = {peer_.address(), second.address()};
    auto r = make(o);
    Lookup l = r->lookup("www.test");
    EXPECT_EQ(l.error, "");
    EXPECT_EQ(text(l.addresses), (Strings{"192.0.2.1/32"}));
}

TEST_F(ResolverTest, BadNamesChangeNothing) {
    peer_.set_records({{"www.test", "A", 60, "192.0.2.1"}});
    auto r = make(options());
    ASSERT_TRUE(r->set_names({"www.test"}).ok());
    (void)r->refresh_due(t0_);
    auto set = r->set_names({"ok.test", "*.x.com"});
    ASSERT_FALSE(set.ok());
    EXPECT_TRUE(contains(set.error().message, "dns: host name '*.x.com': wildcards are not supported"))
        << set.error().message;
    ASSERT_EQ(r->resolved().size(), 1u);
    EXPECT_EQ(r->lookup("10.0.0.1").error,
              "dns: host name '10.0.0.1' is an IP address, not a host name; put it in the CIDR allow list");
    EXPECT_EQ(text(state(*r, "www.test").addresses), (Strings{"192.0.2.1/32"}));
}

TEST_F(ResolverTest, BadOptionsAreErrors) {
    struct Case {
        ResolverOptions options;
        std::string error;
    };
    auto with = [](auto change) {
        ResolverOptions o;
        change(o);
        return o;
    };
    const std::vector<Case> cases = {
        {with([](auto& o) { o.nameservers = {"dns.google"}; }),
         "dns: bad name server 'dns.google': want an IP address"},
        {with([](auto& o) { o.nameservers = {"127.0.0.1:0"}; }), "bad name server '127.0.0.1:0'"},
        {with([](auto& o) { o.nameservers = {"127.0.0.1:70000"}; }), "bad name server '127.0.0.1:70000'"},
        {with([](auto& o) { o.nameservers = {"[::1"}; }), "bad name server '[::1'"},
        {with([](auto& o) { o.nameservers = {"1.1.1.1", "8.8.8.8", "9.9.9.9", "1.0.0.1"}; }),
         "dns: at most 3 name servers, not 4"},
        {with([](auto& o) { o.min_ttl = 100s, o.max_ttl = 10s; }),
         "min_ttl (100s) must be between 0 and max_ttl (10s)"},
        {with([](auto& o) { o.query_timeout = 0s; }), "query_timeout must be between 1s and 30s, not 0s"},
        {with([](auto& o) { o.attempts = 0; }), "attempts must be between 1 and 5, not 0"},
        {with([](auto& o) { o.retry_interval = 0s; }), "retry_interval must be at least 1s"},
    };
    for (const Case& c : cases) {
        auto r = Resolver::create(c.options);
        ASSERT_FALSE(r.ok()) << c.error;
        EXPECT_TRUE(contains(r.error().message, c.error)) << r.error().message;
    }
    // Good spellings, and the system's configuration.
    for (std::string ns : {"192.0.2.1", "192.0.2.1:5353", "2001:db8::1", "[2001:db8::1]:5353", "[::1]"}) {
        auto r = Resolver::create(with([&](auto& o) { o.nameservers = {ns}; }));
        EXPECT_TRUE(r.ok()) << ns << ": " << (r.ok() ? "" : r.error().message);
    }
    EXPECT_TRUE(Resolver::create(ResolverOptions{}).ok());
}

}  // namespace
}  // namespace bulkhead::net
