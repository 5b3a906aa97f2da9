// SPDX-License-Identifier: Apache-2.0
// The delivery machinery every sink shares: a filter, a bounded in-memory
// queue, a worker thread, a disk spool and retries with backoff. A sink
// supplies only a Delivery (how to format an event and send one payload).
//
// Order and loss: the worker sends the spool's records first, oldest first,
// then the queue; while the peer is down it moves the queue to the spool, so
// events reach the peer in the order they were published. Every event that
// is lost for good (queue or spool full, disk error, closed sink) is
// counted in ExporterStats::dropped, and so is a payload the peer refuses
// for good (a permanent error).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "exporter.h"
#include "result.h"
#include "sink_config.h"
#include "spool.h"

namespace bulkhead::exporters {

// How one sink turns an event into bytes and hands them to its peer. Called
// from the sink's worker thread only.
class Delivery {
public:
    virtual ~Delivery() = default;
    // The payload the sink sends (and spools): one syslog message, one JSON
    // document, one line.
    virtual std::string format(const events::Event& e) = 0;
    // Whether this kind of sink carries the event at all (an HTTP sink for
    // falcosidekick takes alerts only); the others count as filtered.
    virtual bool carries(const events::Event&) const { return true; }
    // Sends one payload; an error when the peer did not take it (it will be
    // retried from the spool after a backoff, unless the error is permanent:
    // then it is dropped and counted).
    virtual Result<void> send(const std::string& payload) = 0;
    // Forget the connection after a failed send; the next send reconnects.
    virtual void reset() {}
    // The sink is closing: flush and close cleanly (TLS close_notify).
    virtual void shutdown() {}
};

class QueuedExporter final : public Exporter {
public:
    // Opens the spool (when config.spool_dir is set) and starts the worker.
    static Result<std::unique_ptr<QueuedExporter>> create(SinkConfig config,
                                                          std::unique_ptr<Delivery> delivery);
    ~QueuedExporter() override;

    const std::string& name() const override { return config_.name; }
    void publish(const events::Event& event) override;
    void close() override;
    ExporterStats stats() const override;
    // The last delivery or spool error ("" if none), for logs and status.
    std::string last_error() const;

private:
    struct Item {
        int priority;
        events::Event event;
    };
    QueuedExporter(SinkConfig config, std::unique_ptr<Delivery> delivery,
                   std::unique_ptr<Spool> spool);
    void run();
    void spool_queue(std::unique_lock<std::mutex>& lock);
    void spool_payload(int priority, const std::string& payload);
    bool deliver(const std::string& payload);
    void set_error(const std::string& error);

    const SinkConfig config_;
    std::unique_ptr<Delivery> delivery_;
    std::unique_ptr<Spool> spool_;  // worker thread only

    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::deque<Item> queue_;
    bool stopping_ = false;
    bool closed_ = false;
    std::chrono::steady_clock::time_point close_deadline_;
    std::string last_error_;

    std::atomic<uint64_t> published_{0}, delivered_{0}, filtered_{0}, spooled_{0}, dropped_{0},
        send_errors_{0}, spool_bytes_{0};
    std::thread worker_;
};

}  // namespace bulkhead::exporters
