// SPDX-License-Identifier: Apache-2.0
#include "files/file_exporters.h"

#include <functional>

#include "falco_json.h"
#include "files/ocsf.h"
#include "files/rotating_file.h"
#include "queued_exporter.h"

namespace bulkhead::exporters {

namespace {

using Formatter = std::function<std::string(const events::Event&)>;

class FileDelivery : public Delivery {
public:
    FileDelivery(Formatter format, std::string path, uint64_t max_bytes, int keep)
        : format_(std::move(format)), file_(std::move(path), max_bytes, keep) {}
    std::string format(const events::Event& e) override { return format_(e); }
    Result<void> send(const std::string& payload) override { return file_.write_line(payload); }
    void reset() override { file_.close(); }
    void shutdown() override { file_.close(); }

private:
    Formatter format_;
    RotatingFile file_;
};

Result<std::unique_ptr<Exporter>> make_file_exporter(const SinkConfig& config, SinkReader& r,
                                                     Formatter format) {
    std::string path = r.required_str("path");
    uint64_t max_bytes = r.bytes("max_bytes", 100ull << 20);
    if (max_bytes == 0)
        r.fail("max_bytes", "must be more than 0");
    int keep = static_cast<int>(r.integer("keep", 0, 1000, 5));
    if (auto e = r.finish(); !e)
        return Error{e.error()};
    auto made = QueuedExporter::create(
        config, std::make_unique<FileDelivery>(std::move(format), path, max_bytes, keep));
    if (!made)
        return Error{made.error()};
    return std::unique_ptr<Exporter>(std::move(made.value()));
}

}  // namespace

Result<std::unique_ptr<Exporter>> make_jsonl_exporter(const SinkConfig& config, SinkReader& r,
                                                      const Options& options) {
    std::string hostname = options.hostname;
    return make_file_exporter(config, r, [hostname](const events::Event& e) {
        return dump_json(falco_json(e, hostname));
    });
}

Result<std::unique_ptr<Exporter>> make_ocsf_exporter(const SinkConfig& config, SinkReader& r,
                                                     const Options& options) {
    OcsfOptions o;
    o.hostname = options.hostname;
    o.product_version = options.version;
    o.alerts_as_findings = r.choice("alerts_as", {"finding", "activity"}, "finding") == "finding";
    return make_file_exporter(config, r, [o](const events::Event& e) { return dump_json(to_ocsf(e, o)); });
}

}  // namespace bulkhead::exporters
