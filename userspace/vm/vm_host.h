// SPDX-License-Identifier: Apache-2.0
// The daemon's microVMs (vmguard/): one per promoted session, and a warm pool
// of booted, paused VMs so that a promotion does not wait for a boot.
//
// Everything that can take seconds (probing KVM, booting, diff, apply) runs
// on two threads of this class, never on the daemon's loop: the pool thread
// keeps the pool full, the worker runs promotions and review jobs in order.
// Results come back as Completions; fd() turns readable when some wait.
// With vm.egress, each session's VM gets an egress proxy (its own thread)
// from its promotion; each connection it judges is a Completion too.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/config.h"
#include "fd.h"
#include "vmguard/egress.h"
#include "vmguard/vm.h"

namespace bulkhead::vm {

struct Completion {
    std::string kind;  // "promote", "job", "discard", or "egress" (a VM's connection attempt)
    uint64_t session = 0;
    int client_fd = -1;          // a job's client, to answer
    uint64_t client_serial = 0;  // ...if it is still the same connection
    nlohmann::json result;       // {"ok": bool, ...}
};

struct PromoteRequest {
    uint64_t session = 0;
    std::string workspace;
    std::vector<std::string> hide;  // secrets below the workspace the guest sees empty
    uid_t uid = 0;
    gid_t gid = 0;
};

// Secrets that may lie inside a workspace (when it is a home directory):
// the guest sees them empty.
std::vector<std::string> secrets_below(const std::string& workspace);

class VmHost {
public:
    // Builds (or reuses) the guest image from config.vm.assets and starts the
    // threads. Fails, naming what is missing, when there is no kernel or QEMU.
    static std::unique_ptr<VmHost> start(const config::VmConfig& cfg, const std::string& supervisor_exe,
                                         std::string* error);
    ~VmHost();  // stops every VM
    VmHost(const VmHost&) = delete;
    VmHost& operator=(const VmHost&) = delete;

    int fd() const { return event_.get(); }
    std::vector<Completion> take();

    void promote(PromoteRequest req);
    // Runs fn with the session's VM on the worker; its json is the reply.
    void job(uint64_t session, int client_fd, uint64_t serial, std::function<nlohmann::json(vmguard::Vm&)> fn);
    // Stops the session's VM (its changes are gone).
    void discard(uint64_t session, int client_fd, uint64_t serial);

    // accel, why, pool size and VMs ready: for status and doctor.
    nlohmann::json status();

private:
    VmHost(const config::VmConfig& cfg, vmguard::VmSpec base, Fd event);
    void pool_loop();
    void worker_loop();
    void wait_probe();
    void complete(Completion c);
    vmguard::VmSpec spec_named(const std::string& name);

    config::VmConfig cfg_;
    vmguard::VmSpec base_;
    Fd event_;
    std::mutex mu_;
    std::condition_variable wake_pool_, wake_worker_, probed_, pool_filled_;
    bool stop_ = false;
    bool probe_done_ = false;
    std::string accel_why_;
    std::string pool_error_;  // the last failed boot of the pool
    std::deque<std::unique_ptr<vmguard::Vm>> ready_;
    std::deque<std::function<void()>> jobs_;
    std::vector<Completion> done_;
    std::map<uint64_t, std::unique_ptr<vmguard::Vm>> vms_;  // the worker's only
    std::vector<vmguard::EgressRule> egress_;               // vm.egress, parsed
    std::map<uint64_t, std::unique_ptr<vmguard::EgressProxy>> proxies_;  // the worker's only
    int pool_serial_ = 0;
    bool pool_booting_ = false;
    std::thread pool_thread_, worker_thread_;
};

}  // namespace bulkhead::vm
