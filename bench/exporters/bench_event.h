// SPDX-License-Identifier: Apache-2.0
// The event the exporter benchmarks send: a denied SSH key read with the
// fields a real alert carries.
#pragma once

#include "events/event.h"

namespace bulkhead::bench {

inline events::Event sample_event(int i) {
    events::Event e;
    e.kind = "file";
    e.time_unix_ns = 1767323045123456789LL + i;
    e.session = 42;
    e.agent = "claude-code";
    e.pid = e.tgid = 1000 + i;
    e.uid = 1000;
    e.comm = "cat";
    e.exe = "/usr/bin/cat";
    e.rule = "Read SSH private key";
    e.priority = "Critical";
    e.tags = {"agent", "credentials"};
    e.verdict = "deny";
    e.action = "block";
    e.op = "read";
    e.evt_type = "open";
    e.err = 1;
    e.path = "/home/dev/.ssh/id_rsa";
    e.level = "bpf-lsm";
    return e;
}

}  // namespace bulkhead::bench
