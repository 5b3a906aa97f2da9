// SPDX-License-Identifier: Apache-2.0
#include "metrics/registry.h"

#include <cmath>
#include <cstdio>

namespace bulkhead::exporters {

MetricsRegistry::MetricsRegistry() {
    describe("bulkhead_events_total", "counter", "Events seen by the daemon, by verdict and rule.");
    describe("bulkhead_kernel_drops_total", "counter",
             "Events the kernel could not hand to the daemon (ring buffer full).");
    describe("bulkhead_exporter_published_total", "counter", "Events handed to a sink.");
    describe("bulkhead_exporter_delivered_total", "counter", "Events a sink's peer accepted.");
    describe("bulkhead_exporter_dropped_total", "counter",
             "Events a sink lost for good (queue or spool full).");
    describe("bulkhead_exporter_send_errors_total", "counter", "Failed delivery attempts.");
    describe("bulkhead_exporter_queue_depth", "gauge", "Events waiting in a sink's memory queue.");
    describe("bulkhead_exporter_spool_bytes", "gauge", "Bytes waiting in a sink's disk spool.");
    describe("bulkhead_enforcement_level", "gauge", "1 for the enforcement level in force.");
    describe("bulkhead_sessions", "gauge", "Agent sessions by state.");
    describe("bulkhead_ready", "gauge", "1 once the guards are attached and the daemon serves its sockets.");
    describe("bulkhead_loop_heartbeat_timestamp_seconds", "gauge",
             "Unix time of the daemon event loop's last tick (/healthz fails when it is stale).");
    describe("bulkhead_loop_interval_seconds", "gauge", "How often the event loop ticks.");
}

void MetricsRegistry::describe(const std::string& name, const std::string& type,
                               const std::string& help) {
    std::lock_guard lock(mu_);
    auto& f = families_[name];
    f.type = type;
    f.help = help;
}

double& MetricsRegistry::slot(const std::string& name, const Labels& labels) {
    auto& f = families_[name];
    auto it = f.series.find(labels);
    if (it != f.series.end())
        return it->second;
    if (f.series.size() >= kMaxSeriesPerFamily) {
        Labels other = labels;
        for (auto& kv : other)
            kv.second = "other";
        return f.series[other];
    }
    return f.series[labels];
}

void MetricsRegistry::add(const std::string& name, const Labels& labels, double value) {
    std::lock_guard lock(mu_);
    slot(name, labels) += value;
}

void MetricsRegistry::set(const std::string& name, const Labels& labels, double value) {
    std::lock_guard lock(mu_);
    slot(name, labels) = value;
}

void MetricsRegistry::clear(const std::string& name) {
    std::lock_guard lock(mu_);
    families_[name].series.clear();
}

double MetricsRegistry::value(const std::string& name, const Labels& labels) const {
    std::lock_guard lock(mu_);
    auto f = families_.find(name);
    if (f == families_.end())
        return 0;
    auto s = f->second.series.find(labels);
    return s == f->second.series.end() ? 0 : s->second;
}

std::string escape_label_value(const std::string& v) {
    std::string out;
    for (char c : v) {
        if (c == '\\' || c == '"')
            out += '\\';
        if (c == '\n') {
            out += "\\n";
            continue;
        }
        out += c;
    }
    return out;
}

namespace {
std::string number(double v) {
    if (std::isnan(v))
        return "NaN";
    if (std::isinf(v))
        return v > 0 ? "+Inf" : "-Inf";
    char buf[64];
    if (v == std::floor(v) && std::fabs(v) < 1e15)
        std::snprintf(buf, sizeof buf, "%.0f", v);
    else
        std::snprintf(buf, sizeof buf, "%.17g", v);
    return buf;
}
}  // namespace

std::string MetricsRegistry::render() const {
    std::lock_guard lock(mu_);
    std::string out;
    for (const auto& [name, f] : families_) {
        if (!f.help.empty())
            out += "# HELP " + name + " " + f.help + "\n";
        out += "# TYPE " + name + " " + f.type + "\n";
        for (const auto& [labels, v] : f.series) {
            out += name;
            if (!labels.empty()) {
                out += "{";
                for (size_t i = 0; i < labels.size(); ++i)
                    out += (i ? "," : "") + labels[i].first + "=\"" +
                           escape_label_value(labels[i].second) + "\"";
                out += "}";
            }
            out += " " + number(v) + "\n";
        }
    }
    return out;
}

void record_event(MetricsRegistry& m, const events::Event& e) {
    m.add("bulkhead_events_total", {{"verdict", e.verdict}, {"rule", e.rule}});
}

void record_kernel_drops(MetricsRegistry& m, uint64_t total) {
    m.set("bulkhead_kernel_drops_total", {}, static_cast<double>(total));
}

void record_sink_stats(MetricsRegistry& m, const std::string& sink, const ExporterStats& s) {
    MetricsRegistry::Labels l = {{"sink", sink}};
    m.set("bulkhead_exporter_published_total", l, static_cast<double>(s.published));
    m.set("bulkhead_exporter_delivered_total", l, static_cast<double>(s.delivered));
    m.set("bulkhead_exporter_dropped_total", l, static_cast<double>(s.dropped));
    m.set("bulkhead_exporter_send_errors_total", l, static_cast<double>(s.send_errors));
    m.set("bulkhead_exporter_queue_depth", l, static_cast<double>(s.queue_depth));
    m.set("bulkhead_exporter_spool_bytes", l, static_cast<double>(s.spool_bytes));
}

void record_enforcement_level(MetricsRegistry& m, const std::string& level) {
    m.clear("bulkhead_enforcement_level");
    for (const char* l : {"bpf-lsm", "landlock+seccomp", "observe"})
        m.set("bulkhead_enforcement_level", {{"level", l}}, level == l ? 1 : 0);
    if (level != "bpf-lsm" && level != "landlock+seccomp" && level != "observe")
        m.set("bulkhead_enforcement_level", {{"level", level}}, 1);
}

void record_sessions(MetricsRegistry& m, const std::map<std::string, uint64_t>& by_state) {
    m.clear("bulkhead_sessions");
    for (const char* s : {"active", "asking", "promoted", "killed"})
        m.set("bulkhead_sessions", {{"state", s}}, 0);
    for (const auto& [state, n] : by_state)
        m.set("bulkhead_sessions", {{"state", state}}, static_cast<double>(n));
}

void record_ready(MetricsRegistry& m, bool ready) {
    m.set("bulkhead_ready", {}, ready ? 1 : 0);
}

void record_heartbeat(MetricsRegistry& m, double unix_seconds, int interval_seconds) {
    m.set("bulkhead_loop_heartbeat_timestamp_seconds", {}, unix_seconds);
    m.set("bulkhead_loop_interval_seconds", {}, interval_seconds);
}

}  // namespace bulkhead::exporters
