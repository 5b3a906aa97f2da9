// SPDX-License-Identifier: Apache-2.0
// The disk spool alone, then the queue + spool + worker through a real sink
// (JSONL into a directory that disappears and comes back: the "peer"), then
// two sinks behind a Hub, one of them stuck.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include <nlohmann/json.hpp>

#include "factory.h"
#include "hub.h"
#include "spool.h"
#include "test_support.h"

namespace bulkhead::exporters {
namespace {

using test::TempDir;
using namespace std::chrono_literals;

std::vector<std::string> drain(Spool& s) {
    std::vector<std::string> out;
    uint64_t lost = 0;
    while (auto r = s.front(&lost)) {
        out.push_back(r->payload);
        s.pop(r->seq);
    }
    EXPECT_EQ(lost, 0u);
    return out;
}

size_t files_in(const std::string& dir, const std::string& suffix) {
    size_t n = 0;
    if (DIR* d = opendir(dir.c_str())) {
        while (dirent* de = readdir(d)) {
            std::string name = de->d_name;
            n += name.size() > suffix.size() &&
                 name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
        }
        closedir(d);
    }
    return n;
}

TEST(Spool, DeliversInOrderAcrossReopen) {
    TempDir dir;
    {
        auto s = Spool::open(dir / "spool", 1 << 20);
        ASSERT_TRUE(s) << s.error();
        for (int i = 0; i < 20; ++i)
            ASSERT_TRUE((*s)->push(i % 8, "record " + std::to_string(i)).stored);
        EXPECT_EQ((*s)->count(), 20u);
    }
    test::write_file(dir / "spool/00000000000000000099-3.rec.tmp", "half a record");
    test::write_file(dir / "spool/unrelated.txt", "not ours");
    auto s = Spool::open(dir / "spool", 1 << 20);
    ASSERT_TRUE(s) << s.error();
    EXPECT_EQ(files_in(dir / "spool", ".tmp"), 0u) << "a crash's half-written record is removed";
    ASSERT_EQ((*s)->count(), 20u);
    auto got = drain(**s);
    for (int i = 0; i < 20; ++i)
        EXPECT_EQ(got[i], "record " + std::to_string(i));
    EXPECT_EQ((*s)->bytes(), 0u);
    EXPECT_EQ(files_in(dir / "spool", ".rec"), 0u);
    // New records continue the sequence after a reopen.
    ASSERT_TRUE((*s)->push(1, "after").stored);
    EXPECT_EQ(drain(**s), std::vector<std::string>{"after"});
}

TEST(Spool, DropsOldestLowestPriorityFirst) {
    struct Step {
        int priority;
        const char* payload;  // 4 bytes each; the spool holds 5
        bool stored;
        uint64_t dropped;
    };
    const Step steps[] = {
        {2, "crit", true, 0}, {7, "dbg1", true, 0}, {5, "note", true, 0},
        {7, "dbg2", true, 0}, {4, "warn", true, 0},
        {3, "err1", true, 1},  // full: dbg1 (oldest Debug) goes
        {7, "dbg3", true, 1},  // dbg2 goes (oldest of the same lowest priority)
        {6, "info", true, 1},  // dbg3 goes (Debug is still the lowest)
        {7, "dbg4", false, 1}, // less important than everything stored: itself
        {0, "emer", true, 1},  // info goes
    };
    TempDir dir;
    auto s = Spool::open(dir / "s", 20);
    ASSERT_TRUE(s) << s.error();
    for (const auto& st : steps) {
        auto r = (*s)->push(st.priority, st.payload);
        EXPECT_EQ(r.stored, st.stored) << st.payload;
        EXPECT_EQ(r.dropped, st.dropped) << st.payload;
        EXPECT_LE((*s)->bytes(), 20u);
    }
    EXPECT_EQ(drain(**s), (std::vector<std::string>{"crit", "note", "warn", "err1", "emer"}));
}

TEST(Spool, RecordLargerThanTheSpoolIsDropped) {
    TempDir dir;
    auto s = Spool::open(dir / "s", 8);
    ASSERT_TRUE(s);
    auto r = (*s)->push(0, "much too large");
    EXPECT_FALSE(r.stored);
    EXPECT_EQ(r.dropped, 1u);
    EXPECT_TRUE((*s)->empty());
}

TEST(Spool, UncreatableDirectoryIsAnError) {
    TempDir dir;
    test::write_file(dir / "file", "x");
    auto s = Spool::open(dir / "file/spool", 100);
    ASSERT_FALSE(s);
    EXPECT_NE(s.error().find(dir / "file/spool"), std::string::npos) << s.error();
}

// A JSONL sink whose directory is missing is a peer that is down.
struct FileSink {
    TempDir dir;
    std::string out_dir = dir / "out";
    std::string out = out_dir + "/alerts.jsonl";
    std::string spool = dir / "spool";

    // `spool_extra` goes into the spool map ("max_bytes: 0"), `extra` into the sink's.
    std::unique_ptr<Exporter> make(const std::string& extra = "", const std::string& spool_extra = "") {
        YAML::Node cfg = YAML::Load("- {name: file, type: jsonl, path: " + out + ", spool: {dir: " +
                                    spool + spool_extra + "}, retry: {min_ms: 20, max_ms: 50}" + extra + "}");
        auto made = make_exporters(cfg, Options{"host-1", "", "test"});
        EXPECT_TRUE(made) << made.error();
        return made ? std::move(made.value()[0]) : nullptr;
    }
    std::vector<int> delivered_pids() {
        std::vector<int> pids;
        for (const auto& line : test::read_lines(out))
            pids.push_back(nlohmann::json::parse(line)["output_fields"]["proc.pid"].get<int>() - 1000);
        return pids;
    }
};

std::vector<int> iota(int n) {
    std::vector<int> v(n);
    for (int i = 0; i < n; ++i)
        v[i] = i;
    return v;
}

TEST(QueuedExporter, PeerDownSpoolsThenDeliversEverythingInOrder) {
    FileSink f;
    auto sink = f.make();
    ASSERT_TRUE(sink);
    for (int i = 0; i < 300; ++i)
        sink->publish(test::sample_event(i));
    ASSERT_TRUE(test::wait_until([&] { return sink->stats().spooled == 300; }, 10s))
        << "spooled " << sink->stats().spooled;
    auto s = sink->stats();
    EXPECT_GT(s.send_errors, 0u);
    EXPECT_EQ(s.delivered, 0u);
    EXPECT_GT(s.spool_bytes, 0u);
    EXPECT_EQ(s.queue_depth, 0u) << "while the peer is down the queue moves to disk";
    mkdir(f.out_dir.c_str(), 0700);  // the peer is back
    for (int i = 300; i < 400; ++i)
        sink->publish(test::sample_event(i));
    ASSERT_TRUE(test::wait_until([&] { return sink->stats().delivered == 400; }, 20s))
        << "delivered " << sink->stats().delivered;
    sink->close();
    s = sink->stats();
    EXPECT_EQ(s.published, 400u);
    EXPECT_EQ(s.dropped, 0u);
    EXPECT_EQ(s.spool_bytes, 0u);
    EXPECT_EQ(f.delivered_pids(), iota(400));
    EXPECT_EQ(files_in(f.spool, ".rec"), 0u);
}

TEST(QueuedExporter, SpoolFullDropsLowestPriorityFirstAndCountsIt) {
    FileSink f;
    // ~1 KiB per JSON line: the spool holds about 20 of them.
    auto sink = f.make("", ", max_bytes: 20KiB");
    ASSERT_TRUE(sink);
    std::vector<std::unique_ptr<Exporter>> sinks;
    sinks.push_back(std::move(sink));
    Hub h(std::move(sinks));
    Exporter& s = *h.sinks()[0];
    const int n = 60;
    for (int i = 0; i < n; ++i)
        h.publish(test::sample_event(i, i % 3 == 0 ? "Critical" : "Debug"));
    // Done when every event is on disk or counted as dropped; spooled+dropped
    // is not that, as a record that evicts an older one counts in both.
    // Dropped is read first: the spool counts a drop after its file changes.
    auto accounted = [&] {
        uint64_t dropped = s.stats().dropped;
        return dropped + files_in(f.spool, ".rec");
    };
    ASSERT_TRUE(test::wait_until([&] { return accounted() == n; }, 10s)) << accounted() << " of " << n;
    auto report = h.take_drop_report(123);
    ASSERT_TRUE(report);
    EXPECT_EQ(report->kind, "exporter-drops");
    EXPECT_EQ(report->priority, "Error");
    EXPECT_EQ(report->count, s.stats().dropped);
    EXPECT_NE(report->output.find("file=" + std::to_string(s.stats().dropped)), std::string::npos)
        << report->output;
    EXPECT_FALSE(h.take_drop_report(124)) << "a drop is reported once";
    mkdir(f.out_dir.c_str(), 0700);
    ASSERT_TRUE(test::wait_until([&] { return s.stats().spool_bytes == 0; }, 20s));
    h.close();
    auto st = s.stats();
    auto pids = f.delivered_pids();
    EXPECT_GT(st.dropped, 0u);
    EXPECT_EQ(st.delivered + st.dropped, static_cast<uint64_t>(n)) << "every event delivered or counted";
    EXPECT_EQ(pids.size(), st.delivered);
    EXPECT_TRUE(std::is_sorted(pids.begin(), pids.end())) << "still in order";
    // Every Critical event survived: only Debug ones were dropped.
    for (int i = 0; i < n; i += 3)
        EXPECT_NE(std::find(pids.begin(), pids.end(), i), pids.end()) << "Critical event " << i;
}

TEST(QueuedExporter, SpoolSurvivesARestartOfTheDaemon) {
    FileSink f;
    {
        auto sink = f.make();
        for (int i = 0; i < 50; ++i)
            sink->publish(test::sample_event(i));
        ASSERT_TRUE(test::wait_until([&] { return sink->stats().spooled == 50; }, 10s));
        sink->close();  // the daemon stops while the peer is down
        EXPECT_EQ(sink->stats().dropped, 0u);
    }
    EXPECT_EQ(files_in(f.spool, ".rec"), 50u);
    mkdir(f.out_dir.c_str(), 0700);
    auto sink = f.make();  // the daemon starts again
    sink->publish(test::sample_event(50));
    ASSERT_TRUE(test::wait_until([&] { return sink->stats().delivered == 51; }, 10s));
    sink->close();
    EXPECT_EQ(f.delivered_pids(), iota(51));
}

TEST(QueuedExporter, WithoutSpoolAFullQueueDropsAndCountsButNeverBlocks) {
    FileSink f;
    auto sink = f.make(", queue: {max_events: 10}, close_timeout_ms: 100", ", max_bytes: 0");
    ASSERT_TRUE(sink);
    auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < 1000; ++i)
        sink->publish(test::sample_event(i, i == 999 ? "Emergency" : "Debug"));
    EXPECT_LT(std::chrono::steady_clock::now() - start, 2s) << "publish() must not wait for the peer";
    auto s = sink->stats();
    EXPECT_LE(s.queue_depth, 10u);
    EXPECT_GE(s.dropped, 989u);
    mkdir(f.out_dir.c_str(), 0700);
    // An empty queue is not enough: the sender may hold the last event in a
    // retry after the failed attempt, which close()'s 100 ms would cut short.
    ASSERT_TRUE(test::wait_until([&] {
        auto st = sink->stats();
        return st.queue_depth == 0 && st.delivered + st.dropped == 1000;
    }, 10s));
    sink->close();
    s = sink->stats();
    EXPECT_EQ(s.delivered + s.dropped, 1000u);
    auto pids = f.delivered_pids();
    EXPECT_NE(std::find(pids.begin(), pids.end(), 999), pids.end()) << "the Emergency event was kept";
}

TEST(QueuedExporter, FiltersCountButDoNotDeliver) {
    FileSink f;
    mkdir(f.out_dir.c_str(), 0700);
    auto sink = f.make(", min_priority: Warning, sessions: [42], verdicts: [deny], rules: [Read SSH private key]");
    auto pass = test::sample_event(0, "Error");
    auto low = test::sample_event(1, "Notice");
    auto other_session = test::sample_event(2);
    other_session.session = 7;
    auto audit = test::sample_event(3);
    audit.verdict = "audit";
    auto other_rule = test::sample_event(4);
    other_rule.rule = "Write git hook";
    for (const auto& e : {pass, low, other_session, audit, other_rule})
        sink->publish(e);
    sink->close();
    auto s = sink->stats();
    EXPECT_EQ(s.published, 5u);
    EXPECT_EQ(s.filtered, 4u);
    EXPECT_EQ(s.delivered, 1u);
    EXPECT_EQ(f.delivered_pids(), std::vector<int>{0});
}


// A TCP syslog peer that accepts and never reads: its socket buffers fill and
// its sender blocks in write(). The other sink behind the same Hub, and the
// daemon's publish(), must not notice.
TEST(Hub, APeerThatNeverReadsStallsNeitherPublishNorTheOtherSinks) {
    TempDir dir;
    int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(listener, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    ASSERT_EQ(::listen(listener, 4), 0);  // the kernel completes the handshake; nobody reads
    ASSERT_EQ(::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len), 0);
    const std::string out = dir / "alerts.jsonl";
    auto made = make_exporters(
        YAML::Load("[{name: stuck, type: syslog, transport: tcp, host: 127.0.0.1, port: " +
                   std::to_string(ntohs(addr.sin_port)) + ", spool: {dir: " + dir / "spool-stuck" +
                   ", max_bytes: 4MiB}, close_timeout_ms: 100},"
                   " {name: file, type: jsonl, path: " + out + ", spool: {dir: " + dir / "spool-file" + "}}]"),
        Options{"host-1", "", "test"});
    ASSERT_TRUE(made) << made.error();
    Hub hub(std::move(made.value()));
    const int n = 20'000;  // ~10 MB of syslog: far more than loopback's socket buffers
    std::atomic<bool> published{false};
    std::thread publisher([&] {
        for (int i = 0; i < n; ++i) {
            hub.publish(test::sample_event(i));
            if (i % 100 == 99)  // a steady 10,000 events/s, which the file sink keeps up with
                std::this_thread::sleep_for(10ms);
        }
        published = true;
    });
    bool in_time = test::wait_until([&] { return published.load(); }, 20s);
    publisher.join();
    ASSERT_TRUE(in_time) << "publish() waited for the peer that never reads";
    ASSERT_TRUE(test::wait_until([&] { return hub.stats()[1].second.delivered == n; }, 30s))
        << "the file sink delivered " << hub.stats()[1].second.delivered << " of " << n;
    EXPECT_EQ(test::read_lines(out).size(), static_cast<size_t>(n));
    auto stats = hub.stats();
    ASSERT_EQ(stats.size(), 2u);
    EXPECT_EQ(stats[0].first, "stuck");
    EXPECT_LT(stats[0].second.delivered, static_cast<uint64_t>(n)) << "the peer never read, yet took everything";
    EXPECT_EQ(stats[1].second.delivered, static_cast<uint64_t>(n));
    EXPECT_EQ(stats[1].second.dropped, 0u);
    hub.close();
    ::close(listener);
}

}  // namespace
}  // namespace bulkhead::exporters
