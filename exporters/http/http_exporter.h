// SPDX-License-Identifier: Apache-2.0
// The HTTP sink: POSTs each event as one Falco JSON alert (falco_json.h),
// the input falcosidekick takes on `POST /` (ecosystem.md §2.3), so its
// outputs work unchanged. Anything but a 2xx answer is a failed send: the
// payload is spooled and retried in order after a backoff. Keys, besides the
// common ones (factory.h):
//
//   url: https://sidekick.example:2801/     # required; http or https
//   ca: /etc/bulkhead/ca.pem                # CA bundle for https; default: the system's
//   ca_path: ""                             # a hashed CA directory
//   client_cert: ""                         # mutual TLS
//   client_key: ""
//   insecure: false                         # skip certificate checks (lab only)
//   timeout_ms: 5000                        # the whole request
//   user_agent: bulkhead/<version>
#pragma once

#include "factory.h"

namespace bulkhead::exporters {

Result<std::unique_ptr<Exporter>> make_http_exporter(const SinkConfig& config, SinkReader& reader,
                                                     const Options& options);

}  // namespace bulkhead::exporters
