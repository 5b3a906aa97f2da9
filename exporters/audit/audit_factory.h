// SPDX-License-Identifier: Apache-2.0
// `type: audit` in the daemon's exporters list. Keys (besides the common
// ones in factory.h; queue.max_events bounds the writer's queue, spool and
// retry do not apply to a local file):
//
//   - name: audit
//     type: audit
//     path: /var/lib/bulkhead/audit/audit.jsonl
//     secret_key: /var/lib/bulkhead/audit/audit.key   # 0600; protect the directory with the file guard
//     public_key: /var/lib/bulkhead/audit/audit.pub   # default: audit.pub beside the log
//     fsync: batch                 # batch | always | never (audit_log.h)
//     on_bad_tail: fail            # fail | rotate
//     checkpoint_interval_s: 60    # how often checkpoint_due() may return an event
//
// The daemon registers it with registry.add("audit", make_audit_exporter)
// and finds the AuditLog among the sinks (dynamic_cast) to poll checkpoints.
#pragma once

#include <memory>

#include "exporters/exporter.h"
#include "exporters/factory.h"
#include "exporters/result.h"

namespace bulkhead::exporters::audit {

Result<std::unique_ptr<Exporter>> make_audit_exporter(const SinkConfig& config, SinkReader& reader,
                                                      const Options& options);

}  // namespace bulkhead::exporters::audit
