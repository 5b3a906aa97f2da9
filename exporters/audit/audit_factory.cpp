// SPDX-License-Identifier: Apache-2.0
#include "exporters/audit/audit_factory.h"

#include "exporters/audit/audit_log.h"

namespace bulkhead::exporters::audit {

Result<std::unique_ptr<Exporter>> make_audit_exporter(const SinkConfig& config, SinkReader& r,
                                                      const Options& options) {
    AuditConfig c;
    c.name = config.name;
    c.filter = config.filter;
    c.queue_size = config.queue_max_events;
    c.hostname = options.hostname;
    c.path = r.str("path", c.path);
    c.secret_key = r.str("secret_key", c.secret_key);
    c.public_key = r.str("public_key", "");
    c.fsync = *parse_fsync_policy(r.choice("fsync", {"batch", "always", "never"}, "batch"));
    c.on_bad_tail = r.choice("on_bad_tail", {"fail", "rotate"}, "fail") == "rotate"
                        ? BadTailPolicy::rotate
                        : BadTailPolicy::fail;
    c.checkpoint_interval = std::chrono::seconds(r.integer("checkpoint_interval_s", 1, 86400, 60));
    if (c.path.empty())
        r.fail("path", "the audit log needs a path");
    if (auto e = r.finish(); !e)
        return Error{e.error()};
    auto log = AuditLog::open(std::move(c));
    if (!log)
        return Error{"sink '" + config.name + "': " + log.error()};
    return std::unique_ptr<Exporter>(std::move(log.value()));
}

}  // namespace bulkhead::exporters::audit
