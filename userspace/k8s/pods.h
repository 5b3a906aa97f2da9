// SPDX-License-Identifier: Apache-2.0
// Pod names and namespaces for containers, from the node's CRI runtime
// (containerd, CRI-O): kubelet labels each container it creates with its
// pod's name and namespace, and ContainerStatus returns the labels.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace bulkhead::k8s {

struct Pod {
    std::string name;
    std::string ns;
};

// The sockets tried when the configuration names none, in order.
const std::vector<std::string>& default_cri_sockets();

// One CRI runtime at a Unix socket. Calls block for at most `deadline`.
class CriClient {
public:
    explicit CriClient(const std::string& socket, std::chrono::milliseconds deadline);
    ~CriClient();
    CriClient(const CriClient&) = delete;
    CriClient& operator=(const CriClient&) = delete;

    // The container's pod; a Pod with empty fields when kubelet did not make
    // the container (no pod labels); nullopt with *error on a failed call,
    // and *not_found when the runtime answered that it has no such container.
    std::optional<Pod> pod_of(const std::string& container_id, std::string* error, bool* not_found = nullptr);
    const std::string& socket() const { return socket_; }

private:
    struct Stub;
    std::string socket_;
    std::chrono::milliseconds deadline_;
    std::unique_ptr<Stub> stub_;
};

// Caches answers per container id, and after a failed call leaves the
// runtime alone for `retry` so a dead socket never slows every event. The
// daemon calls it from its event loop.
class PodDirectory {
public:
    using Clock = std::chrono::steady_clock;
    PodDirectory(const std::string& socket, std::chrono::milliseconds deadline = std::chrono::milliseconds(250),
                 std::chrono::seconds retry = std::chrono::seconds(30));

    // The pod of a container, when the runtime knows one.
    std::optional<Pod> lookup(const std::string& container_id, Clock::time_point now = Clock::now());
    // Why the last call failed ("" while the runtime answers).
    const std::string& last_error() const { return last_error_; }
    const std::string& socket() const { return client_.socket(); }

private:
    static constexpr size_t kMaxCached = 4096;
    CriClient client_;
    std::chrono::seconds retry_;
    std::map<std::string, Pod> cache_;  // a Pod with an empty name: known not to be a pod's
    Clock::time_point quiet_until_{};
    std::string last_error_;
};

}  // namespace bulkhead::k8s
