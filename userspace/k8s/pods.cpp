// SPDX-License-Identifier: Apache-2.0
#include "k8s/pods.h"

#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include "cri.grpc.pb.h"

namespace bulkhead::k8s {

namespace {

// The labels kubelet sets on every container it creates.
constexpr const char* kPodNameLabel = "io.kubernetes.pod.name";
constexpr const char* kPodNamespaceLabel = "io.kubernetes.pod.namespace";

}  // namespace

const std::vector<std::string>& default_cri_sockets() {
    static const std::vector<std::string> sockets = {
        "/run/containerd/containerd.sock",
        "/run/crio/crio.sock",
        "/run/k3s/containerd/containerd.sock",
    };
    return sockets;
}

struct CriClient::Stub {
    std::unique_ptr<runtime::v1::RuntimeService::Stub> rpc;
};

CriClient::CriClient(const std::string& socket, std::chrono::milliseconds deadline)
    : socket_(socket), deadline_(deadline), stub_(std::make_unique<Stub>()) {
    grpc::ChannelArguments args;
    // A local runtime: fail fast instead of waiting out reconnect backoff.
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
    auto channel = grpc::CreateCustomChannel("unix:" + socket, grpc::InsecureChannelCredentials(), args);
    stub_->rpc = runtime::v1::RuntimeService::NewStub(channel);
}

CriClient::~CriClient() = default;

std::optional<Pod> CriClient::pod_of(const std::string& container_id, std::string* error, bool* not_found) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + deadline_);
    // Connect within the deadline rather than fail at once while the
    // channel backs off from an earlier failure (a restarted runtime).
    ctx.set_wait_for_ready(true);
    runtime::v1::ContainerStatusRequest req;
    req.set_container_id(container_id);
    runtime::v1::ContainerStatusResponse resp;
    grpc::Status st = stub_->rpc->ContainerStatus(&ctx, req, &resp);
    if (!st.ok()) {
        if (not_found)
            *not_found = st.error_code() == grpc::StatusCode::NOT_FOUND;
        *error = "cri: ContainerStatus(" + container_id + ") at " + socket_ + " failed: " +
                 (st.error_message().empty() ? "status " + std::to_string(st.error_code()) : st.error_message());
        return std::nullopt;
    }
    const auto& labels = resp.status().labels();
    Pod pod;
    if (auto it = labels.find(kPodNameLabel); it != labels.end())
        pod.name = it->second;
    if (auto it = labels.find(kPodNamespaceLabel); it != labels.end())
        pod.ns = it->second;
    return pod;
}

PodDirectory::PodDirectory(const std::string& socket, std::chrono::milliseconds deadline, std::chrono::seconds retry)
    : client_(socket, deadline), retry_(retry) {}

std::optional<Pod> PodDirectory::lookup(const std::string& container_id, Clock::time_point now) {
    if (container_id.empty())
        return std::nullopt;
    if (auto it = cache_.find(container_id); it != cache_.end())
        return it->second.name.empty() ? std::nullopt : std::optional<Pod>(it->second);
    if (now < quiet_until_)
        return std::nullopt;
    std::string error;
    bool not_found = false;
    auto pod = client_.pod_of(container_id, &error, &not_found);
    if (!pod) {
        // NOT_FOUND is an answer (not a pod's container, or gone): cache it;
        // anything else is the runtime's trouble: wait before asking again.
        if (not_found) {
            pod = Pod{};
        } else {
            if (last_error_ != error)
                spdlog::warn("{}; pod names are left out for {}s", error, retry_.count());
            last_error_ = error;
            quiet_until_ = now + retry_;
            return std::nullopt;
        }
    } else if (!last_error_.empty()) {
        spdlog::info("cri: {} answers again", client_.socket());
        last_error_.clear();
    }
    if (cache_.size() >= kMaxCached)
        cache_.clear();  // bounded; refilled as events come
    cache_.emplace(container_id, *pod);
    return pod->name.empty() ? std::nullopt : pod;
}

}  // namespace bulkhead::k8s
