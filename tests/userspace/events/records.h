// SPDX-License-Identifier: Apache-2.0
// Kernel records built by hand for decode tests: zeroed, with a header that
// names a session and a process, and paths placed as path__build does.
#pragma once

#include <cstring>
#include <memory>
#include <string_view>

#include "bpf_abi.h"

namespace bulkhead::events::testing {

template <typename T>
std::unique_ptr<T> zeroed(uint32_t kind) {
    auto ev = std::make_unique<T>();
    std::memset(ev.get(), 0, sizeof(*ev));
    ev->hdr.kind = kind;
    ev->hdr.session_id = 42;
    ev->hdr.tgid = 1234;
    return ev;
}

// The path ends at BH_PATH_MAX and starts at path_off.
template <typename T>
void put_path(T& ev, std::string_view path) {
    ev.path_off = static_cast<__u16>(BH_PATH_MAX - path.size());
    std::memcpy(ev.path + ev.path_off, path.data(), path.size());
}

}  // namespace bulkhead::events::testing
