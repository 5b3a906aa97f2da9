// SPDX-License-Identifier: Apache-2.0
// Tells the service manager what the daemon is doing, in sd_notify(3)'s
// protocol (one datagram of "KEY=VALUE" lines to the socket named by
// $NOTIFY_SOCKET), so the unit can be Type=notify without linking libsystemd:
// systemd then starts units ordered after bulkhead only once enforcement is
// attached, and shows STATUS= in `systemctl status`.
#pragma once

#include <string>

namespace bulkhead::daemon {

// Sends `state` ("READY=1\nSTATUS=..."). Without $NOTIFY_SOCKET it does
// nothing and returns true; a socket that cannot be reached is false with
// *error naming it (the daemon logs it and keeps running: enforcement does
// not depend on the service manager).
bool notify_service_manager(const std::string& state, std::string* error);

}  // namespace bulkhead::daemon
