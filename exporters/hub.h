// SPDX-License-Identifier: Apache-2.0
// All configured sinks behind one call: the daemon publishes each event once
// here, polls for drop reports, and pushes the sinks' stats into metrics.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "exporter.h"

namespace bulkhead::exporters {

class Hub {
public:
    explicit Hub(std::vector<std::unique_ptr<Exporter>> sinks) : sinks_(std::move(sinks)) {}
    ~Hub() { close(); }

    // To every sink; never blocks (each sink queues, spools or counts a drop).
    void publish(const events::Event& e);
    // Closes every sink (each delivers for at most its close_timeout_ms).
    void close();

    std::vector<std::pair<std::string, ExporterStats>> stats() const;

    // When some sink dropped events since the last call: a synthetic event
    // (kind "exporter-drops", priority Error, count = new drops, output naming
    // each sink and its count) for the daemon to log and publish. Call it
    // periodically (every few seconds); nullopt when nothing was dropped.
    std::optional<events::Event> take_drop_report(int64_t now_unix_ns);

    const std::vector<std::unique_ptr<Exporter>>& sinks() const { return sinks_; }

private:
    std::vector<std::unique_ptr<Exporter>> sinks_;
    std::map<std::string, uint64_t> reported_drops_;
    bool closed_ = false;
};

}  // namespace bulkhead::exporters
