// SPDX-License-Identifier: Apache-2.0
// The Resolver on a thread of its own, so a slow or dead DNS server never
// stalls the daemon's event loop (ring buffer, ask answers, control socket).
//
// The loop hands it the names the egress rules need (set_names); the thread
// looks them up when due and, whenever the addresses change, publishes a
// snapshot and writes to an eventfd the loop polls. The loop then takes the
// snapshot and re-plans the net guard's address sets.
#pragma once

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "fd.h"
#include "net/resolver.h"

namespace bulkhead::net {

// name → its addresses as CIDR text ("192.0.2.1/32"), and the names whose
// last lookup failed, with why.
struct Snapshot {
    std::map<std::string, std::vector<std::string>> addresses;
    std::map<std::string, std::string> errors;
};

class BackgroundResolver {
public:
    // Fails like Resolver::create, or when the eventfd or thread cannot start.
    static rules::Result<std::unique_ptr<BackgroundResolver>> start(ResolverOptions options);
    ~BackgroundResolver();  // stops and joins the thread
    BackgroundResolver(const BackgroundResolver&) = delete;
    BackgroundResolver& operator=(const BackgroundResolver&) = delete;

    // Readable (EPOLLIN) when a new snapshot is waiting.
    int fd() const { return event_.get(); }
    // Replaces the name set (all or nothing: an invalid name is an error and
    // changes nothing); new names are looked up at once.
    rules::Result<void> set_names(const std::vector<std::string>& names);
    // Clears the eventfd and returns the latest snapshot.
    Snapshot take();

private:
    BackgroundResolver(std::unique_ptr<Resolver> resolver, Fd event);
    void run();
    void publish();  // with mu_ held

    std::unique_ptr<Resolver> resolver_;  // owned by the thread once it runs
    Fd event_;
    std::mutex mu_;
    std::condition_variable wake_;
    std::vector<std::string> names_;
    bool names_changed_ = false;
    bool stop_ = false;
    Snapshot snapshot_;
    std::thread thread_;
};

}  // namespace bulkhead::net
