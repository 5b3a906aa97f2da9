// SPDX-License-Identifier: Apache-2.0
#include "hub.h"

namespace bulkhead::exporters {

void Hub::publish(const events::Event& e) {
    for (auto& s : sinks_)
        s->publish(e);
}

void Hub::close() {
    if (closed_)
        return;
    closed_ = true;
    for (auto& s : sinks_)
        s->close();
}

std::vector<std::pair<std::string, ExporterStats>> Hub::stats() const {
    std::vector<std::pair<std::string, ExporterStats>> out;
    for (const auto& s : sinks_)
        out.emplace_back(s->name(), s->stats());
    return out;
}

std::optional<events::Event> Hub::take_drop_report(int64_t now_unix_ns) {
    uint64_t total = 0;
    std::string detail;
    nlohmann::json fields = nlohmann::json::object();
    for (const auto& s : sinks_) {
        uint64_t dropped = s->stats().dropped;
        uint64_t& seen = reported_drops_[s->name()];
        if (dropped <= seen)
            continue;
        uint64_t fresh = dropped - seen;
        seen = dropped;
        total += fresh;
        detail += (detail.empty() ? "" : ", ") + s->name() + "=" + std::to_string(fresh);
        fields["agent.exporter." + s->name() + ".dropped"] = fresh;
    }
    if (!total)
        return std::nullopt;
    events::Event e;
    e.kind = "exporter-drops";
    e.time_unix_ns = now_unix_ns;
    e.rule = "Exporter dropped events";
    e.priority = "Error";
    e.verdict = "allow";
    e.count = total;
    e.detail = detail;
    fields["agent.dropped"] = total;
    e.output_fields = fields;
    e.output = "bulkhead exporters dropped " + std::to_string(total) +
               " events (spool or queue full): " + detail;
    return e;
}

}  // namespace bulkhead::exporters
