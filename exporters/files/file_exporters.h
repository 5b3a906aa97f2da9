// SPDX-License-Identifier: Apache-2.0
// The file sinks: one JSON document per line, in Falco's alert shape
// (type jsonl) or as OCSF 1.8.0 (type ocsf, see ocsf.h), with size-based
// rotation. Keys, besides the common ones (factory.h):
//
//   path: /var/log/bulkhead/alerts.jsonl   # required
//   max_bytes: 100MiB                      # rotate when the next line would pass it
//   keep: 5                                # rotated files kept (FILE.1 .. FILE.5)
//   alerts_as: finding                     # ocsf only: finding (Detection Finding 2004)
//                                          # or activity (the event's own class)
#pragma once

#include "factory.h"

namespace bulkhead::exporters {

Result<std::unique_ptr<Exporter>> make_jsonl_exporter(const SinkConfig& config, SinkReader& reader,
                                                      const Options& options);
Result<std::unique_ptr<Exporter>> make_ocsf_exporter(const SinkConfig& config, SinkReader& reader,
                                                     const Options& options);

}  // namespace bulkhead::exporters
