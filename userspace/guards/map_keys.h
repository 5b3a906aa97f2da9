// SPDX-License-Identifier: Apache-2.0
// Every key of a BPF hash map, read before the caller changes the map (so
// deleting while iterating cannot skip entries).
#pragma once

#include <bpf/bpf.h>

#include <vector>

namespace bulkhead::guards {

template <typename Key>
std::vector<Key> map_keys(int fd) {
    std::vector<Key> keys;
    Key cur{}, next{};
    const void* prev = nullptr;
    while (bpf_map_get_next_key(fd, prev, &next) == 0) {
        keys.push_back(next);
        cur = next;
        prev = &cur;
    }
    return keys;
}

}  // namespace bulkhead::guards
