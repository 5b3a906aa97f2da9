// SPDX-License-Identifier: Apache-2.0
// The tamper-evident audit log: an append-only JSON-lines file in which each
// record names its sequence number and the hash of the previous record and
// is signed with Ed25519 (format: record.h). An agent that rewrites, deletes
// or reorders records is caught by `verify` (verify.h); one that cuts the
// tail is caught by the checkpoints the daemon sends to the other sinks.
//
// Durability: each batch of records goes out in one write() on an O_APPEND
// descriptor, so a crash can only tear the last line. With fsync "batch"
// (the default) the writer fdatasyncs once per batch (group commit: what
// arrived during one fsync goes in the next); "always" syncs every record;
// "never" leaves it to the kernel. Checkpoints only name synced records.
// On restart the writer validates the tail, reports a torn last line in a
// signed "recover" record (the torn bytes stay in the file), and continues
// the chain.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "events/event.h"
#include "exporters/audit/record.h"
#include "exporters/audit/verify.h"
#include "exporters/exporter.h"
#include "exporters/result.h"
#include "exporters/sink_config.h"

namespace bulkhead::exporters::audit {

enum class FsyncPolicy { batch, always, never };
// "batch", "always", "never"; nullopt otherwise.
std::optional<FsyncPolicy> parse_fsync_policy(std::string_view text);

// What to do when the existing log's last record is not ours (altered, or
// signed by another key): refuse to start, or move the log aside to
// "<path>.broken-<unix time>" and begin a new chain that names it.
enum class BadTailPolicy { fail, rotate };

struct AuditConfig {
    std::string name = "audit";
    std::string path = "/var/lib/bulkhead/audit/audit.jsonl";
    std::string secret_key = "/var/lib/bulkhead/audit/audit.key";  // 0600, file-guarded
    std::string public_key;  // "": audit.pub beside the log
    FsyncPolicy fsync = FsyncPolicy::batch;
    BadTailPolicy on_bad_tail = BadTailPolicy::fail;
    size_t queue_size = 65536;            // events waiting for the writer
    std::chrono::seconds checkpoint_interval{60};
    std::string hostname;                 // "": gethostname()
    SinkFilter filter;                    // default: every event
};

class AuditLog final : public Exporter {
public:
    // Loads or creates the key, exports the public key, opens the log, takes
    // an exclusive lock on it, validates its tail and starts the writer.
    static Result<std::unique_ptr<AuditLog>> open(AuditConfig config);
    ~AuditLog() override;

    const std::string& name() const override { return config_.name; }
    // Queues a copy; when the queue is full the event is counted as dropped
    // and a signed "lost" record with the count goes in the log.
    void publish(const events::Event& event) override;
    // Writes and syncs what is queued, appends a "stop" record, stops.
    void close() override;
    ExporterStats stats() const override;

    // An "audit-checkpoint" event naming the synced head, when the head has
    // moved since the last one and checkpoint_interval has passed; the
    // daemon calls this from its timer and publishes the event to the other
    // sinks (this log ignores its own checkpoints).
    std::optional<events::Event> checkpoint_due();
    // The same event now, whether or not the head moved.
    events::Event checkpoint_now();

    // Blocks until everything published so far is written (and synced per
    // policy). For tests, benchmarks and shutdown.
    void flush();

    const std::string& path() const { return config_.path; }
    const std::string& public_key_path() const { return config_.public_key; }
    std::string key_id() const { return key_id_; }
    // Seq and hash of the last synced record.
    Checkpoint head() const;

private:
    struct Item {
        events::Event event;
    };
    struct Tail;

    explicit AuditLog(AuditConfig config);
    Result<void> start();
    Result<Tail> read_tail();
    Result<void> append_start_record(const Tail& tail, nlohmann::json fields);
    bool recover_after_error(const std::string& cause);
    std::string make_line(const std::string& type, nlohmann::json fields);
    bool write_all(const std::string& data);
    void run();
    void write_batch(std::deque<Item>& batch, uint64_t lost);

    AuditConfig config_;
    KeyPair keys_;
    std::string key_id_;
    int fd_ = -1;

    // Chain state: touched by start() and then only by the writer thread.
    uint64_t seq_ = 0;
    Hash head_{};

    mutable std::mutex mu_;
    std::condition_variable wake_;     // writer: work or stop
    std::condition_variable written_;  // flush(): batch done
    std::deque<Item> queue_;
    uint64_t lost_ = 0;                // dropped since the last "lost" record
    uint64_t enqueued_ = 0, done_ = 0; // for flush()
    std::atomic<bool> stopping_{false};
    bool closed_ = false;
    ExporterStats stats_;
    Checkpoint synced_;                // head after the last sync
    uint64_t last_checkpoint_seq_ = 0;
    std::chrono::steady_clock::time_point last_checkpoint_time_{};
    std::thread writer_;
};

}  // namespace bulkhead::exporters::audit
