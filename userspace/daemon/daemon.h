// SPDX-License-Identifier: Apache-2.0
// `bulkhead daemon`: loads or adopts the guards, turns rules into kernel
// policy, tracks sessions, and consumes, enriches and publishes events.
//
// One thread, one epoll loop: the ring buffer, the control socket and its
// clients, signals (SIGHUP reloads) and a rescan timer. The daemon is never
// on the blocking path: the kernel decides alone, so a slow or dead daemon
// loses events (counted), never a verdict.
#pragma once

#include <string>
#include <vector>

#include "config/config.h"

namespace bulkhead::daemon {

struct Options {
    config::Config config;
    bool replace = false;  // reattach programs even when pinned ones exist
    bool quiet = false;    // do not print events on stdout
};

int run(const Options& opts);

}  // namespace bulkhead::daemon
