// SPDX-License-Identifier: Apache-2.0
// The audit log against its promises: every kind of tampering is named at
// the first bad record, restarts continue the chain, torn tails are
// acknowledged, keys are private.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "exporters/audit/audit_factory.h"
#include "exporters/audit/audit_log.h"
#include "exporters/audit/verify.h"

namespace bulkhead::exporters::audit {
namespace {

namespace fs = std::filesystem;

bool wait_until(const std::function<bool()>& cond) {
    for (int i = 0; i < 1000 && !cond(); i++)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    return cond();
}

class AuditTest : public ::testing::Test {
protected:
    void SetUp() override {
        char tmpl[] = "/tmp/bulkhead-audit-XXXXXX";
        ASSERT_NE(mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
        config_.path = dir_ + "/log/audit.jsonl";
        config_.secret_key = dir_ + "/keys/audit.key";
        config_.hostname = "test-host";
        config_.fsync = FsyncPolicy::never;  // tmpfs; the policy has its own test
    }
    void TearDown() override { fs::remove_all(dir_); }

    static events::Event event(int i) {
        events::Event e;
        e.kind = "file";
        e.time_unix_ns = 1767323045123456789 + i;
        e.session = 7;
        e.agent = "claude";
        e.rule = "Read SSH key";
        e.priority = "Critical";
        e.verdict = "deny";
        e.op = "read";
        e.evt_type = "open";
        e.err = 1;
        e.path = "/home/dev/.ssh/id_ed25519." + std::to_string(i);
        e.comm = "cat";
        e.exe = "/usr/bin/cat";
        e.tgid = e.pid = 1000 + i;
        return e;
    }

    // Writes `n` events in one run of the writer: start + n + stop records.
    void write_log(int n, int first = 0) {
        auto log = AuditLog::open(config_);
        ASSERT_TRUE(log) << log.error();
        for (int i = 0; i < n; i++)
            (*log)->publish(event(first + i));
        (*log)->close();
    }

    std::vector<std::string> lines() const {
        std::ifstream in(config_.path, std::ios::binary);
        std::vector<std::string> out;
        std::string l;
        while (std::getline(in, l))
            out.push_back(l);
        return out;
    }
    void rewrite(const std::vector<std::string>& ls) const {
        std::ofstream out(config_.path, std::ios::binary | std::ios::trunc);
        for (const auto& l : ls)
            out << l << '\n';
    }
    std::string contents() const {
        std::ifstream in(config_.path, std::ios::binary);
        std::ostringstream s;
        s << in.rdbuf();
        return s.str();
    }
    VerifyReport check(VerifyOptions options = {}) const {
        auto r = verify(config_.path, pub_path(), options);
        EXPECT_TRUE(r) << r.error();
        return r ? *r : VerifyReport{};
    }
    std::string pub_path() const { return dir_ + "/log/audit.pub"; }

    std::string dir_;
    AuditConfig config_;
};

TEST_F(AuditTest, AppendThenVerifyOk) {
    write_log(50);
    auto ls = lines();
    ASSERT_EQ(ls.size(), 52u);  // start, 50 events, stop
    auto r = check();
    EXPECT_TRUE(r.ok) << r.to_text();
    EXPECT_EQ(r.records, 52u);
    EXPECT_EQ(r.head_seq, 52u);
    EXPECT_EQ(r.head_hash, to_hex(sha256(ls.back())));
    EXPECT_EQ(r.problem, Problem::none);

    // Records carry the Falco-shaped event, the chain fields and the key.
    auto rec = nlohmann::json::parse(ls[1]);
    EXPECT_EQ(rec["seq"], 2);
    EXPECT_EQ(rec["type"], "event");
    EXPECT_EQ(rec["prev"], to_hex(sha256(ls[0])));
    EXPECT_EQ(rec["event"]["rule"], "Read SSH key");
    EXPECT_EQ(rec["event"]["hostname"], "test-host");
    EXPECT_EQ(rec["event"]["output_fields"]["fd.name"], "/home/dev/.ssh/id_ed25519.0");
    EXPECT_EQ(rec["sig"].get<std::string>().size(), 128u);
    EXPECT_EQ(nlohmann::json::parse(ls[0])["prev"], std::string(64, '0'));
}

// One mutation of a 20-event log (lines 1..22: start, events, stop) and
// what verify must say about it.
struct Tamper {
    const char* name;
    std::function<void(std::vector<std::string>&)> mutate;
    Problem problem;
    uint64_t line;
    uint64_t seq;
    const char* why_has;
};

TEST_F(AuditTest, TamperingIsNamedAtTheFirstBadRecord) {
    write_log(20);
    const auto original = lines();
    ASSERT_EQ(original.size(), 22u);

    // A second log under the same key: its records are authentic but not
    // part of this chain.
    AuditConfig other = config_;
    other.path = dir_ + "/other/audit.jsonl";
    {
        auto log = AuditLog::open(other);
        ASSERT_TRUE(log) << log.error();
        for (int i = 0; i < 20; i++)
            (*log)->publish(event(100 + i));
        (*log)->close();
    }
    std::vector<std::string> foreign;
    {
        std::ifstream in(other.path);
        for (std::string l; std::getline(in, l);)
            foreign.push_back(l);
    }

    const std::vector<Tamper> cases = {
        {"flip a byte in the event", [](auto& ls) { ls[9][ls[9].find("id_ed25519") + 2] ^= 1; },
         Problem::bad_signature, 10, 10, "altered"},
        {"flip a byte in the signature", [](auto& ls) { char& c = ls[9][ls[9].size() - 5]; c = c == '0' ? '1' : '0'; },
         Problem::bad_signature, 10, 10, "altered"},
        {"change the sequence number",
         [](auto& ls) { ls[9].replace(ls[9].find("\"seq\":10"), 8, "\"seq\":11"); },
         Problem::bad_signature, 10, 11, "altered"},
        {"delete a middle line", [](auto& ls) { ls.erase(ls.begin() + 9); },
         Problem::missing, 10, 11, "seq 10 is missing"},
        {"delete three middle lines", [](auto& ls) { ls.erase(ls.begin() + 9, ls.begin() + 12); },
         Problem::missing, 10, 13, "seqs 10..12 are missing"},
        {"delete the first line", [](auto& ls) { ls.erase(ls.begin()); },
         Problem::missing, 1, 2, "seq 1 is missing"},
        {"swap two lines", [](auto& ls) { std::swap(ls[9], ls[10]); },
         Problem::reordered, 10, 11, "appears later at line 11"},
        {"move a line back", [](auto& ls) { auto l = ls[4]; ls.erase(ls.begin() + 4); ls.insert(ls.begin() + 15, l); },
         Problem::reordered, 5, 6, "appears later at line 16"},
        {"duplicate a line", [](auto& ls) { ls.insert(ls.begin() + 10, ls[9]); },
         Problem::reordered, 11, 10, "comes after seq 10"},
        {"splice an authentic record from another log",
         [&](auto& ls) { ls[9] = foreign[9]; },
         Problem::broken_chain, 10, 10, "not the hash of the previous record"},
        {"insert an empty line", [](auto& ls) { ls.insert(ls.begin() + 3, ""); },
         Problem::malformed, 4, 4, "empty line"},
        {"insert garbage", [](auto& ls) { ls.insert(ls.begin() + 3, "{\"hello\":1}"); },
         Problem::malformed, 4, 4, "not a signed record"},
        {"strip the signature", [](auto& ls) { ls[5] = ls[5].substr(0, ls[5].find(",\"sig\"")) + "}"; },
         Problem::malformed, 6, 6, "not a signed record"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.name);
        auto ls = original;
        c.mutate(ls);
        rewrite(ls);
        auto r = check();
        EXPECT_FALSE(r.ok);
        EXPECT_EQ(r.problem, c.problem) << r.to_text();
        EXPECT_EQ(r.line, c.line) << r.to_text();
        ASSERT_TRUE(r.seq.has_value()) << r.to_text();
        EXPECT_EQ(*r.seq, c.seq) << r.to_text();
        EXPECT_NE(r.why.find(c.why_has), std::string::npos) << r.to_text();
        EXPECT_EQ(r.head_seq, c.line - 1) << "the records before the bad one are good: " << r.to_text();
    }
}

TEST_F(AuditTest, TruncatedTailIsTornOrCaughtByTheCheckpoint) {
    write_log(10);
    auto full = check();
    ASSERT_TRUE(full.ok);
    Checkpoint cp{full.head_seq, full.head_hash};

    // Cut mid-record: the last line has no '\n'.
    std::string data = contents();
    {
        std::ofstream out(config_.path, std::ios::binary | std::ios::trunc);
        out << data.substr(0, data.size() - 40);
    }
    auto torn = check();
    EXPECT_FALSE(torn.ok);
    EXPECT_EQ(torn.problem, Problem::torn) << torn.to_text();
    EXPECT_EQ(torn.line, 12u);
    EXPECT_EQ(torn.head_seq, 11u);

    // Cut whole records: the chain is intact, only the checkpoint knows.
    auto ls = lines();
    ls.resize(9);
    rewrite(ls);
    EXPECT_TRUE(check().ok);
    auto cut = check({.expect = cp});
    EXPECT_FALSE(cut.ok);
    EXPECT_EQ(cut.problem, Problem::checkpoint) << cut.to_text();
    EXPECT_EQ(cut.line, 10u);
    EXPECT_NE(cut.why.find("seqs 10..12 were cut from the tail"), std::string::npos) << cut.to_text();

    // A checkpoint whose hash differs: the log was rewritten after it.
    auto other = check({.expect = Checkpoint{5, std::string(64, 'a')}});
    EXPECT_EQ(other.problem, Problem::checkpoint);
    EXPECT_EQ(other.line, 5u);
    EXPECT_TRUE(check({.expect = Checkpoint{5, to_hex(sha256(ls[4]))}}).ok);
}

TEST_F(AuditTest, WrongKeyIsNamed) {
    write_log(3);
    AuditConfig other = config_;
    other.path = dir_ + "/other/audit.jsonl";
    other.secret_key = dir_ + "/otherkeys/audit.key";
    {
        auto log = AuditLog::open(other);
        ASSERT_TRUE(log) << log.error();
    }
    auto r = verify(config_.path, dir_ + "/other/audit.pub");
    ASSERT_TRUE(r) << r.error();
    EXPECT_FALSE(r->ok);
    EXPECT_EQ(r->problem, Problem::wrong_key) << r->to_text();
    EXPECT_EQ(r->line, 1u);
    EXPECT_NE(r->why.find("not by the given public key"), std::string::npos);
}

TEST_F(AuditTest, RestartContinuesTheChain) {
    write_log(5);
    write_log(5, 5);
    write_log(2, 10);
    auto r = check();
    EXPECT_TRUE(r.ok) << r.to_text();
    EXPECT_EQ(r.records, 7u + 7u + 4u);
    int restarts = 0;
    for (const auto& n : r.notes)
        restarts += n.find("restarted") != std::string::npos;
    EXPECT_EQ(restarts, 2) << r.to_text();
    auto ls = lines();
    EXPECT_EQ(nlohmann::json::parse(ls[7])["type"], "start");
    EXPECT_EQ(nlohmann::json::parse(ls[7])["seq"], 8);
}

TEST_F(AuditTest, TornTailIsReportedAndKeptOnRestart) {
    write_log(3);
    const std::string torn = "{\"event\":{\"rule\":\"half";
    {
        std::ofstream out(config_.path, std::ios::binary | std::ios::app);
        out << torn;
    }
    size_t torn_offset = contents().size() - torn.size();
    write_log(2, 3);

    std::string data = contents();
    EXPECT_NE(data.find(torn + "\n"), std::string::npos) << "torn bytes are kept, not overwritten";
    auto ls = lines();
    auto recover = nlohmann::json::parse(ls[6]);
    EXPECT_EQ(recover["type"], "recover");
    EXPECT_EQ(recover["seq"], 6);
    EXPECT_EQ(recover["torn"]["offset"], torn_offset);
    EXPECT_EQ(recover["torn"]["bytes"], torn.size());
    EXPECT_EQ(recover["prev"], to_hex(sha256(ls[4])));

    auto r = check();
    EXPECT_TRUE(r.ok) << r.to_text();
    EXPECT_EQ(r.records, 5u + 4u);
    ASSERT_FALSE(r.notes.empty());
    EXPECT_NE(r.notes[0].find("line 6: torn record"), std::string::npos) << r.to_text();

    // The same garbage in the middle without a recovery record is not excused.
    ls.erase(ls.begin() + 6);
    rewrite(ls);
    auto bad = check();
    EXPECT_FALSE(bad.ok);
    EXPECT_EQ(bad.line, 6u);
    EXPECT_EQ(bad.problem, Problem::malformed) << bad.to_text();
}

TEST_F(AuditTest, AlteredTailRefusesToContinueOrRotates) {
    write_log(3);
    auto ls = lines();
    ls.back()[ls.back().find("\"stop\"") + 2] ^= 1;
    rewrite(ls);

    auto refused = AuditLog::open(config_);
    ASSERT_FALSE(refused);
    EXPECT_NE(refused.error().find("bulkhead audit verify"), std::string::npos) << refused.error();
    EXPECT_NE(refused.error().find("signature does not verify"), std::string::npos) << refused.error();

    config_.on_bad_tail = BadTailPolicy::rotate;
    write_log(1);
    auto r = check();
    EXPECT_TRUE(r.ok) << r.to_text();
    EXPECT_EQ(r.records, 3u);
    auto start = nlohmann::json::parse(lines()[0]);
    EXPECT_EQ(start["seq"], 1);
    std::string aside = start["previous"]["file"];
    ASSERT_TRUE(fs::exists(aside)) << aside;
    EXPECT_GT(fs::file_size(aside), 0u);
}

TEST_F(AuditTest, KeysArePrivateAndThePublicKeyIsExported) {
    write_log(1);
    struct stat st {};
    ASSERT_EQ(stat(config_.secret_key.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0600u);
    ASSERT_EQ(stat((dir_ + "/keys").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0700u);
    ASSERT_EQ(stat(pub_path().c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0644u);

    auto kp = load_or_create_key(config_.secret_key);
    ASSERT_TRUE(kp) << kp.error();
    auto pub = read_public_key(pub_path());
    ASSERT_TRUE(pub) << pub.error();
    EXPECT_EQ(*pub, kp->pub);

    // The same key on the next start, and a key others can read is refused.
    auto again = AuditLog::open(config_);
    ASSERT_TRUE(again) << again.error();
    EXPECT_EQ((*again)->key_id(), key_id(kp->pub));
    (*again)->close();
    ASSERT_EQ(chmod(config_.secret_key.c_str(), 0644), 0);
    auto refused = AuditLog::open(config_);
    ASSERT_FALSE(refused);
    EXPECT_NE(refused.error().find("has mode 0644"), std::string::npos) << refused.error();
}

TEST_F(AuditTest, OneWriterPerLog) {
    auto first = AuditLog::open(config_);
    ASSERT_TRUE(first) << first.error();
    auto second = AuditLog::open(config_);
    ASSERT_FALSE(second);
    EXPECT_NE(second.error().find("locked by another writer"), std::string::npos) << second.error();
}

TEST_F(AuditTest, CheckpointNamesTheSyncedHead) {
    config_.checkpoint_interval = std::chrono::hours(1);
    auto log = AuditLog::open(config_);
    ASSERT_TRUE(log) << log.error();
    for (int i = 0; i < 4; i++)
        (*log)->publish(event(i));
    (*log)->flush();
    auto cp = (*log)->checkpoint_due();
    ASSERT_TRUE(cp);
    EXPECT_EQ(cp->kind, "audit-checkpoint");
    EXPECT_EQ(cp->rule, "bulkhead audit checkpoint");
    EXPECT_EQ(cp->output_fields["audit.seq"], 5);
    EXPECT_FALSE((*log)->checkpoint_due()) << "not again within the interval";

    // The log ignores its own checkpoint when the daemon forwards it.
    (*log)->publish(*cp);
    (*log)->flush();
    EXPECT_EQ((*log)->stats().filtered, 1u);
    (*log)->close();

    auto parsed = parse_checkpoint(cp->detail);
    ASSERT_TRUE(parsed) << parsed.error();
    auto r = check({.expect = *parsed});
    EXPECT_TRUE(r.ok) << r.to_text();
    EXPECT_EQ(cp->output_fields["audit.head"], to_hex(sha256(lines()[4])));
}

TEST_F(AuditTest, FullQueueIsCountedAndRecorded) {
    config_.queue_size = 2;
    config_.fsync = FsyncPolicy::always;
    auto log = AuditLog::open(config_);
    ASSERT_TRUE(log) << log.error();
    for (int i = 0; i < 3000; i++)
        (*log)->publish(event(i));
    (*log)->close();
    auto st = (*log)->stats();
    EXPECT_EQ(st.published, 3000u);
    EXPECT_EQ(st.delivered + st.dropped, 3000u);
    ASSERT_GT(st.dropped, 0u) << "the burst should overflow a 2-event queue";
    uint64_t recorded = 0;
    for (const auto& l : lines()) {
        auto j = nlohmann::json::parse(l);
        if (j["type"] == "lost")
            recorded += j["count"].get<uint64_t>();
    }
    EXPECT_EQ(recorded, st.dropped);
    EXPECT_TRUE(check().ok);
}

// A full disk: the writer retries, resyncs from the file (acknowledging a
// torn line), and writes every event exactly once when space returns.
TEST_F(AuditTest, FullDiskIsRetriedWithoutLossOrDuplicates) {
    std::string mnt = dir_ + "/small";
    fs::create_directories(mnt);
    if (std::system(("mount -t tmpfs -o size=256k tmpfs " + mnt + " 2>/dev/null").c_str()) != 0)
        GTEST_SKIP() << "cannot mount a small tmpfs (needs root and CAP_SYS_ADMIN)";
    struct Unmount {
        std::string at;
        ~Unmount() { (void)!std::system(("umount " + at).c_str()); }
    } unmount{mnt};
    {
        // Leaves about 24 KiB for the log.
        std::ofstream filler(mnt + "/filler", std::ios::binary);
        filler << std::string(232 * 1024, 'f');
    }
    config_.path = mnt + "/audit.jsonl";
    config_.public_key = dir_ + "/audit.pub";
    config_.fsync = FsyncPolicy::batch;
    auto log = AuditLog::open(config_);
    ASSERT_TRUE(log) << log.error();
    const int n = 120;  // about 1 KiB each: far more than fits
    for (int i = 0; i < n; i++) {
        (*log)->publish(event(i));
        if (i % 10 == 9)
            std::this_thread::sleep_for(std::chrono::milliseconds(2));  // several batches
    }
    ASSERT_TRUE(wait_until([&] { return (*log)->stats().send_errors > 0; }))
        << "the disk never filled up";
    fs::remove(mnt + "/filler");
    (*log)->close();
    auto st = (*log)->stats();
    EXPECT_EQ(st.delivered, static_cast<uint64_t>(n));
    EXPECT_EQ(st.dropped, 0u);

    auto r = verify(config_.path, config_.public_key);
    ASSERT_TRUE(r) << r.error();
    EXPECT_TRUE(r->ok) << r->to_text();
    // Every event once, in order.
    std::vector<std::string> paths;
    std::ifstream in(config_.path);
    for (std::string l; std::getline(in, l);) {
        auto j = nlohmann::json::parse(l, nullptr, false);
        if (!j.is_discarded() && j.value("type", "") == "event")
            paths.push_back(j["event"]["output_fields"]["fd.name"]);
    }
    ASSERT_EQ(paths.size(), static_cast<size_t>(n));
    for (int i = 0; i < n; i++)
        EXPECT_EQ(paths[i], "/home/dev/.ssh/id_ed25519." + std::to_string(i));
}

TEST_F(AuditTest, OversizedEventIsSummarised) {
    auto log = AuditLog::open(config_);
    ASSERT_TRUE(log) << log.error();
    auto e = event(0);
    e.output = std::string(kMaxRecordBytes + 10, 'x');
    (*log)->publish(e);
    (*log)->close();
    auto ls = lines();
    ASSERT_EQ(ls.size(), 3u);
    EXPECT_LT(ls[1].size(), 4096u);
    EXPECT_EQ(nlohmann::json::parse(ls[1])["event"]["truncated"], true);
    EXPECT_TRUE(check().ok);
}

TEST_F(AuditTest, FsyncPolicies) {
    for (auto p : {FsyncPolicy::batch, FsyncPolicy::always, FsyncPolicy::never}) {
        fs::remove(config_.path);
        config_.fsync = p;
        write_log(10);
        auto r = check();
        EXPECT_TRUE(r.ok) << r.to_text();
        EXPECT_EQ(r.records, 12u);
    }
    EXPECT_EQ(parse_fsync_policy("batch"), FsyncPolicy::batch);
    EXPECT_EQ(parse_fsync_policy("always"), FsyncPolicy::always);
    EXPECT_EQ(parse_fsync_policy("never"), FsyncPolicy::never);
    EXPECT_FALSE(parse_fsync_policy("sometimes"));
}

TEST_F(AuditTest, FromTheDaemonsYaml) {
    FactoryRegistry registry = builtin_factories();
    registry.add("audit", make_audit_exporter);
    auto yaml = YAML::Load("- name: audit\n  type: audit\n  path: " + config_.path +
                           "\n  secret_key: " + config_.secret_key +
                           "\n  fsync: always\n  min_priority: Warning\n  checkpoint_interval_s: 5\n");
    auto sinks = make_exporters(yaml, {.hostname = "yaml-host"}, registry);
    ASSERT_TRUE(sinks) << sinks.error();
    ASSERT_EQ(sinks->size(), 1u);
    auto* log = dynamic_cast<AuditLog*>((*sinks)[0].get());
    ASSERT_NE(log, nullptr) << "the daemon finds the audit log to poll checkpoints";
    auto low = event(0);
    low.priority = "Notice";
    log->publish(low);
    log->publish(event(1));
    log->close();
    EXPECT_EQ(log->stats().filtered, 1u);
    auto ls = lines();
    ASSERT_EQ(ls.size(), 3u);
    EXPECT_EQ(nlohmann::json::parse(ls[1])["event"]["hostname"], "yaml-host");

    for (auto [bad, key] : {std::pair{"fsync: sometimes", "fsync"},
                            std::pair{"on_bad_tail: ignore", "on_bad_tail"},
                            std::pair{"checkpoint_interval_s: 0", "checkpoint_interval_s"},
                            std::pair{"colour: red", "colour"}}) {
        auto y = YAML::Load(std::string("- name: a\n  type: audit\n  path: ") + config_.path + "\n  " + bad + "\n");
        auto r = make_exporters(y, {}, registry);
        ASSERT_FALSE(r) << bad;
        EXPECT_NE(r.error().find(key), std::string::npos) << r.error();
    }
}

TEST(AuditCheckpoint, Parse) {
    std::string h(64, 'a');
    auto ok = parse_checkpoint("12:" + h);
    ASSERT_TRUE(ok) << ok.error();
    EXPECT_EQ(ok->seq, 12u);
    EXPECT_EQ(ok->hash, h);
    auto upper = parse_checkpoint("12:" + std::string(64, 'A'));
    ASSERT_TRUE(upper);
    EXPECT_EQ(upper->hash, h);
    for (const std::string& bad : std::vector<std::string>{"", ":", "12", "12:", "x:" + h, "0:" + h, "12:" + h + "0",
                            "12:" + std::string(64, 'g'), "99999999999999999999:" + h})
        EXPECT_FALSE(parse_checkpoint(bad)) << bad;
}

TEST(AuditVerify, MissingFilesAreErrorsNotReports) {
    auto r = verify("/nonexistent/audit.jsonl", "/nonexistent/audit.pub");
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().find("/nonexistent/audit.pub"), std::string::npos) << r.error();
}

TEST(AuditVerify, EmptyLogIsOk) {
    PublicKey pk{};
    auto r = verify_buffer("", pk);
    EXPECT_TRUE(r.ok);
    EXPECT_EQ(r.records, 0u);
    EXPECT_EQ(r.head_hash, std::string(64, '0'));
}

// Random damage never crashes the reader and is never reported as OK
// (a smoke run of what the fuzz target does for longer).
TEST_F(AuditTest, RandomDamageIsNeverOk) {
    write_log(8);
    const std::string data = contents();
    auto pk = read_public_key(pub_path());
    ASSERT_TRUE(pk);
    std::mt19937 rng(42);
    for (int i = 0; i < 2000; i++) {
        std::string d = data;
        int edits = 1 + static_cast<int>(rng() % 4);
        for (int k = 0; k < edits; k++) {
            size_t at = rng() % d.size();
            switch (rng() % 3) {
            case 0: d[at] = static_cast<char>(d[at] ^ (1 + rng() % 255)); break;
            case 1: d.erase(at, 1 + rng() % 64); break;
            case 2: d.insert(at, 1, static_cast<char>(rng())); break;
            }
            if (d.empty())
                d = "x";
        }
        auto r = verify_buffer(d, *pk);
        if (r.ok) {
            // Only a cut at a line boundary can verify: a shorter valid log.
            EXPECT_EQ(data.compare(0, d.size(), d), 0) << "damaged log verified OK";
        } else {
            EXPECT_GE(r.line, 1u);
            EXPECT_FALSE(r.why.empty());
        }
    }
}

}  // namespace
}  // namespace bulkhead::exporters::audit
