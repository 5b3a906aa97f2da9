// SPDX-License-Identifier: Apache-2.0
// Metrics the daemon pushes and the metrics server renders (Prometheus text
// exposition format 0.0.4). The daemon owns the numbers: it adds to counters
// as events pass and sets gauges when it polls (kernel drop counters,
// sessions, sinks' stats); rendering only reads. Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "events/event.h"
#include "exporter.h"

namespace bulkhead::exporters {

class MetricsRegistry {
public:
    using Labels = std::vector<std::pair<std::string, std::string>>;

    // Series per family are capped (a family keyed by rule name grows with
    // the rule set, not with events); past the cap the labels collapse into
    // one series whose label values are "other".
    static constexpr size_t kMaxSeriesPerFamily = 5000;

    // A registry with bulkhead's families declared (see metrics.cpp).
    MetricsRegistry();

    void describe(const std::string& name, const std::string& type, const std::string& help);
    void add(const std::string& name, const Labels& labels, double value = 1);
    void set(const std::string& name, const Labels& labels, double value);
    // Removes every series of a family (before setting a fresh label set).
    void clear(const std::string& name);
    double value(const std::string& name, const Labels& labels) const;  // 0 when absent
    std::string render() const;

private:
    struct Family {
        std::string type = "untyped";
        std::string help;
        std::map<Labels, double> series;
    };
    double& slot(const std::string& name, const Labels& labels);

    mutable std::mutex mu_;
    std::map<std::string, Family> families_;
};

// What the daemon calls. Metric names:
//   bulkhead_events_total{verdict,rule}            counter
//   bulkhead_kernel_drops_total                    counter (the kernel's total)
//   bulkhead_exporter_published_total{sink}        counter
//   bulkhead_exporter_delivered_total{sink}        counter
//   bulkhead_exporter_dropped_total{sink}          counter
//   bulkhead_exporter_send_errors_total{sink}      counter
//   bulkhead_exporter_queue_depth{sink}            gauge
//   bulkhead_exporter_spool_bytes{sink}            gauge
//   bulkhead_enforcement_level{level}              gauge, 1 for the level in force
//   bulkhead_sessions{state}                       gauge
//   bulkhead_ready                                 gauge, 1 once guards and sockets are up
//   bulkhead_loop_heartbeat_timestamp_seconds      gauge, the event loop's last tick
//   bulkhead_loop_interval_seconds                 gauge, the tick's period
void record_event(MetricsRegistry& m, const events::Event& e);
void record_kernel_drops(MetricsRegistry& m, uint64_t total);
void record_sink_stats(MetricsRegistry& m, const std::string& sink, const ExporterStats& s);
void record_enforcement_level(MetricsRegistry& m, const std::string& level);
void record_sessions(MetricsRegistry& m, const std::map<std::string, uint64_t>& by_state);
void record_ready(MetricsRegistry& m, bool ready);
void record_heartbeat(MetricsRegistry& m, double unix_seconds, int interval_seconds);

// Label value escaping of the text format: '\', '"' and newline.
std::string escape_label_value(const std::string& v);

}  // namespace bulkhead::exporters
