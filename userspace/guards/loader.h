// SPDX-License-Identifier: Apache-2.0
// Loads bulkhead's BPF objects with a fixed lifecycle (open → configure →
// load → attach → pin) and adopts what an earlier daemon pinned, so a
// restart neither duplicates programs nor leaves a gap in enforcement.
#pragma once

#include <memory>
#include <string>
#include <vector>

namespace bulkhead::guards {

inline constexpr const char* kDefaultPinRoot = "/sys/fs/bpf/bulkhead";

enum class LoadState { kFresh, kAdopted };

struct MapFds {
    int guard_config = -1;
    int stats = -1;
    int events = -1;
    int session_by_cg = -1;
    int agent_exes = -1;
    int inode_policy = -1;
    int dir_patterns = -1;
    int dir_names = -1;
    int name_patterns = -1;
    int ancestor_devs = -1;
    int protected_tgids = -1;
    int session_by_tgid = -1;
    int session_state = -1;
    int net_policy = -1;
    int net_addrs = -1;
    int net_ports = -1;
};

struct LoadOptions {
    std::string pin_root = kDefaultPinRoot;
    // Attach freshly loaded programs even when pinned links exist, then
    // replace the pins (new programs run before the old ones detach).
    bool replace = false;
    // Load the BPF LSM programs (file guard, self guard, task_alloc). Off on
    // hosts without `bpf` in the active LSM list: the tracepoint observer,
    // session tracking and the net guard still load.
    bool lsm = true;
    // The cgroup v2 root the net guard attaches to ("" = no net guard).
    std::string cgroup_root;
};

class Loader {
public:
    // Throws FatalError naming the object, the program and the cause.
    static std::unique_ptr<Loader> load(const LoadOptions& opts);
    ~Loader();

    LoadState state() const { return state_; }
    const MapFds& maps() const { return maps_; }
    // "object/program" for every program enforcing now.
    const std::vector<std::string>& programs() const { return programs_; }

    struct Object;

private:
    Loader() = default;
    static std::unique_ptr<Loader> load_impl(const LoadOptions& opts);

    LoadState state_ = LoadState::kFresh;
    MapFds maps_;
    std::vector<std::string> programs_;
    std::vector<std::unique_ptr<Object>> objects_;
};

// Removes every pin under pin_root (links, then maps): enforcement stops.
// Returns the number of pins removed; throws FatalError on failure.
int unload(const std::string& pin_root);

// True when pin_root holds bulkhead's pinned links.
bool is_loaded(const std::string& pin_root);

// Mounts bpffs at /sys/fs/bpf when it is not mounted yet.
void ensure_bpffs();

// Where tracepoints are listed (debugfs's tracing/ when mounted, else
// tracefs, mounted at /sys/kernel/tracing when it is not yet).
std::string ensure_tracefs();

}  // namespace bulkhead::guards
