// SPDX-License-Identifier: Apache-2.0
// The one interface every sink implements (syslog, HTTP, files, gRPC, audit
// log, ...). The daemon publishes each event once to every configured
// exporter; exporters format and deliver, they never evaluate rules.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "events/event.h"

namespace bulkhead::exporters {

// Counters every exporter keeps; the metrics endpoint and `bulkhead status`
// show them. "Nothing lost" means published == delivered + dropped + in queue
// or spool, and every drop is counted here.
struct ExporterStats {
    uint64_t published = 0;    // events handed to publish()
    uint64_t delivered = 0;    // acknowledged by the peer / written
    uint64_t filtered = 0;     // below min priority or outside the sink's filters
    uint64_t spooled = 0;      // written to the disk spool while the peer was down
    uint64_t dropped = 0;      // lost for good (spool full), always reported
    uint64_t send_errors = 0;  // failed delivery attempts
    size_t queue_depth = 0;    // events waiting in memory
    size_t spool_bytes = 0;    // bytes waiting on disk
};

class Exporter {
public:
    virtual ~Exporter() = default;
    // The sink's configured name, for logs and metrics ("siem-syslog").
    virtual const std::string& name() const = 0;
    // Called on the daemon's event loop for every event: never blocks on a
    // peer (queue, spool or drop-with-count instead).
    virtual void publish(const events::Event& event) = 0;
    // Delivers what is queued (bounded wait) and stops; called once.
    virtual void close() {}
    virtual ExporterStats stats() const = 0;
};

}  // namespace bulkhead::exporters
