// SPDX-License-Identifier: Apache-2.0
// `type: grpc` in the daemon's exporters list. Keys (besides the common ones
// in factory.h; queue.max_events is each subscriber's queue, spool and retry
// do not apply: a subscriber sees events from when it subscribed):
//
//   - name: grpc
//     type: grpc
//     listen: [ "unix:/run/bulkhead/grpc.sock", "0.0.0.0:50051" ]
//     tls: { cert: /etc/bulkhead/tls/server.crt, key: /etc/bulkhead/tls/server.key,
//            client_ca: /etc/bulkhead/tls/clients-ca.crt }   # client_ca: mTLS
//     allow_plaintext_tcp: false   # TCP without tls is refused unless set
//     unix_mode: "0660"            # octal, access to the Unix socket
//     max_subscribers: 32
//     slow_timeout_ms: 10000       # a subscriber whose queue stays full this long is cut off
//
// The daemon registers it with registry.add("grpc", grpc_factory(sessions)).
#pragma once

#include <memory>

#include "exporters/factory.h"
#include "exporters/grpc/grpc_server.h"

namespace bulkhead::exporters::rpc {

// `sessions` answers ListSessions/GetSession; may be null.
Factory grpc_factory(std::shared_ptr<SessionSource> sessions);

}  // namespace bulkhead::exporters::rpc
