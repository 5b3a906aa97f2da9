// SPDX-License-Identifier: Apache-2.0
#include "exporters/grpc/grpc_server.h"

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include <grpcpp/grpcpp.h>
#include <grpcpp/resource_quota.h>
#include <grpcpp/security/server_credentials.h>

#include "bulkhead.grpc.pb.h"
#include "exporters/factory.h"
#include "exporters/grpc/convert.h"
#include "exporters/grpc/tls_files.h"

namespace bulkhead::exporters::rpc {

namespace {

using Clock = std::chrono::steady_clock;
using Message = std::shared_ptr<const v1::SubscribeResponse>;

// Requests are small; a bigger one is an attack or a bug.
constexpr int kMaxRequestBytes = 64 * 1024;

struct Subscriber {
    SubscriberFilter filter;
    std::mutex mu;
    std::condition_variable cv;
    grpc::ServerContext* ctx = nullptr;  // null once the handler returned
    std::deque<Message> queue;
    uint64_t lost_pending = 0;           // dropped since the last Lost message
    uint64_t lost_total = 0;
    std::optional<Clock::time_point> full_since;
    bool kicked = false;                 // disconnected for being slow
    bool done = false;                   // the server is closing
};

// "unix:/run/x.sock", "unix:///run/x.sock" -> "/run/x.sock"; "" for TCP.
std::string unix_path(const std::string& address) {
    if (address.rfind("unix:", 0) != 0)
        return "";
    std::string p = address.substr(5);
    if (p.rfind("//", 0) == 0)
        p = p.substr(2);
    return p;
}

}  // namespace

class GrpcServer::Impl final : public v1::Bulkhead::Service {
public:
    ServerConfig config;
    std::shared_ptr<SessionSource> sessions;
    std::unique_ptr<grpc::Server> server;
    std::vector<std::string> bound;
    std::vector<std::string> unix_paths;

    mutable std::mutex subs_mu;
    std::vector<std::shared_ptr<Subscriber>> subs;
    bool stopping = false;

    std::atomic<uint64_t> published{0}, filtered{0}, delivered{0}, dropped{0}, errors{0};

    grpc::Status Subscribe(grpc::ServerContext* ctx, const v1::SubscribeRequest* req,
                           grpc::ServerWriter<v1::SubscribeResponse>* writer) override {
        auto filter = parse_request(*req);
        if (!filter)
            return {grpc::StatusCode::INVALID_ARGUMENT, filter.error()};
        auto sub = std::make_shared<Subscriber>();
        sub->filter = std::move(*filter);
        sub->ctx = ctx;
        {
            std::lock_guard lock(subs_mu);
            if (stopping)
                return {grpc::StatusCode::UNAVAILABLE, "grpc: the server is shutting down"};
            if (subs.size() >= config.max_subscribers)
                return {grpc::StatusCode::RESOURCE_EXHAUSTED,
                        "grpc: too many subscribers (max " + std::to_string(config.max_subscribers) + ")"};
            subs.push_back(sub);
        }
        // Tells the client the subscription is live before any event.
        writer->SendInitialMetadata();

        bool write_failed = false;
        while (!write_failed) {
            std::deque<Message> batch;
            bool done;
            {
                std::unique_lock lock(sub->mu);
                sub->cv.wait_for(lock, std::chrono::milliseconds(200),
                                 [&] { return !sub->queue.empty() || sub->done || sub->kicked; });
                batch.swap(sub->queue);
                done = sub->done || sub->kicked;
                if (done && sub->lost_pending) {
                    auto lost = std::make_shared<v1::SubscribeResponse>();
                    lost->mutable_lost()->set_count(sub->lost_pending);
                    sub->lost_pending = 0;
                    batch.push_back(std::move(lost));
                }
            }
            for (const auto& m : batch) {
                if (!writer->Write(*m)) {
                    write_failed = true;
                    break;
                }
                if (m->has_event())
                    delivered++;
            }
            if (done || ctx->IsCancelled())
                break;
        }

        bool kicked;
        uint64_t lost_total;
        {
            std::lock_guard lock(subs_mu);
            std::erase(subs, sub);
        }
        {
            std::lock_guard lock(sub->mu);
            sub->ctx = nullptr;
            kicked = sub->kicked;
            lost_total = sub->lost_total;
        }
        if (kicked)
            return {grpc::StatusCode::RESOURCE_EXHAUSTED,
                    "grpc: subscriber too slow: " + std::to_string(lost_total) + " events dropped"};
        if (write_failed) {
            errors++;
            return {grpc::StatusCode::CANCELLED, "grpc: the client went away"};
        }
        return grpc::Status::OK;
    }

    grpc::Status ListSessions(grpc::ServerContext*, const v1::ListSessionsRequest* req,
                              v1::ListSessionsResponse* resp) override {
        if (!sessions)
            return {grpc::StatusCode::UNAVAILABLE, "grpc: this server has no session table"};
        try {
            for (const auto& s : sessions->list())
                if (req->include_ended() || s.state != "ended")
                    *resp->add_sessions() = to_proto(s);
        } catch (const std::exception& ex) {
            return {grpc::StatusCode::INTERNAL, std::string("grpc: listing sessions failed: ") + ex.what()};
        }
        return grpc::Status::OK;
    }

    grpc::Status GetSession(grpc::ServerContext*, const v1::GetSessionRequest* req,
                            v1::Session* resp) override {
        if (!sessions)
            return {grpc::StatusCode::UNAVAILABLE, "grpc: this server has no session table"};
        if (req->id() == 0)
            return {grpc::StatusCode::INVALID_ARGUMENT, "grpc: GetSession needs a session id"};
        try {
            auto s = sessions->get(req->id());
            if (!s)
                return {grpc::StatusCode::NOT_FOUND,
                        "grpc: session " + std::to_string(req->id()) + " not found"};
            *resp = to_proto(*s);
        } catch (const std::exception& ex) {
            return {grpc::StatusCode::INTERNAL, std::string("grpc: reading session failed: ") + ex.what()};
        }
        return grpc::Status::OK;
    }

    void publish(const events::Event& e) {
        published++;
        if (!config.filter.accepts(e)) {
            filtered++;
            return;
        }
        std::vector<std::shared_ptr<Subscriber>> targets;
        {
            std::lock_guard lock(subs_mu);
            for (const auto& s : subs)
                if (s->filter.accepts(e))
                    targets.push_back(s);
        }
        if (targets.empty()) {
            filtered++;  // nobody asked for it
            return;
        }
        auto msg = std::make_shared<v1::SubscribeResponse>();
        *msg->mutable_event() = to_proto(e, config.hostname);
        Message shared = std::move(msg);
        auto now = Clock::now();
        for (const auto& s : targets) {
            std::lock_guard lock(s->mu);
            if (s->queue.size() >= config.subscriber_queue) {
                dropped++;
                s->lost_pending++;
                s->lost_total++;
                if (!s->full_since) {
                    s->full_since = now;
                } else if (!s->kicked && now - *s->full_since >= config.slow_timeout) {
                    // Stuck in a Write the client never reads: cancel it.
                    s->kicked = true;
                    if (s->ctx)
                        s->ctx->TryCancel();
                    s->cv.notify_one();
                }
                continue;
            }
            s->full_since.reset();
            if (s->lost_pending) {
                // In stream order: the gap comes before this event.
                auto lost = std::make_shared<v1::SubscribeResponse>();
                lost->mutable_lost()->set_count(s->lost_pending);
                s->lost_pending = 0;
                s->queue.push_back(std::move(lost));
            }
            s->queue.push_back(shared);
            // The handler swaps out the whole queue: it sleeps only on empty.
            if (s->queue.size() <= 2)
                s->cv.notify_one();
        }
    }

    void close() {
        {
            std::lock_guard lock(subs_mu);
            if (stopping)
                return;
            stopping = true;
            for (const auto& s : subs) {
                std::lock_guard l(s->mu);
                s->done = true;
                s->cv.notify_one();
            }
        }
        if (server) {
            // Streams end on their own (trailers OK) once their queue is
            // written; give reading clients a moment to take the trailers
            // before connections close. A client that never reads is
            // cancelled at the deadline.
            auto until = std::chrono::steady_clock::now() + std::chrono::seconds(1);
            while (std::chrono::steady_clock::now() < until) {
                {
                    std::lock_guard lock(subs_mu);
                    if (subs.empty())
                        break;
                }
                std::this_thread::sleep_for(std::chrono::milliseconds(5));
            }
            server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
            server->Wait();
        }
        for (const auto& p : unix_paths)
            ::unlink(p.c_str());
    }

    size_t queued() const {
        std::lock_guard lock(subs_mu);
        size_t n = 0;
        for (const auto& s : subs) {
            std::lock_guard l(s->mu);
            n += s->queue.size();
        }
        return n;
    }
};

GrpcServer::GrpcServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
GrpcServer::~GrpcServer() { close(); }

Result<std::unique_ptr<GrpcServer>> GrpcServer::start(ServerConfig config,
                                                      std::shared_ptr<SessionSource> sessions) {
    auto impl = std::make_unique<Impl>();
    if (config.hostname.empty())
        config.hostname = default_hostname();
    if (config.subscriber_queue == 0)
        config.subscriber_queue = 1;
    if (config.listen.empty())
        return Error{"grpc: sink '" + config.name + "': no listen address"};
    impl->config = std::move(config);
    impl->sessions = std::move(sessions);
    const ServerConfig& cfg = impl->config;

    grpc::ServerBuilder builder;
    std::vector<int> ports(cfg.listen.size(), 0);
    for (size_t i = 0; i < cfg.listen.size(); i++) {
        const std::string& addr = cfg.listen[i];
        std::shared_ptr<grpc::ServerCredentials> creds;
        if (std::string path = unix_path(addr); !path.empty()) {
            std::error_code ec;
            auto dir = std::filesystem::path(path).parent_path();
            if (!dir.empty())
                std::filesystem::create_directories(dir, ec);
            impl->unix_paths.push_back(path);
            creds = grpc::InsecureServerCredentials();  // the socket's file mode decides who connects
        } else if (!cfg.tls.cert.empty() || !cfg.tls.key.empty()) {
            auto c = server_tls_credentials(cfg.tls.cert, cfg.tls.key, cfg.tls.client_ca);
            if (!c)
                return Error{c.error()};
            creds = *c;
        } else if (cfg.allow_plaintext_tcp) {
            creds = grpc::InsecureServerCredentials();
        } else {
            return Error{"grpc: listen address " + addr +
                         " is TCP but tls.cert and tls.key are not set (plaintext TCP is refused)"};
        }
        builder.AddListeningPort(addr, creds, &ports[i]);
    }
    builder.RegisterService(impl.get());
    builder.SetMaxReceiveMessageSize(kMaxRequestBytes);
    // Our port is ours: another process must not bind it beside us.
    builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
    // Every stream holds a thread of the sync server: bound them.
    grpc::ResourceQuota quota("bulkhead-grpc");
    quota.SetMaxThreads(static_cast<int>(cfg.max_subscribers) + 8);
    builder.SetResourceQuota(quota);
    builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::NUM_CQS, 1);
    builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MAX_POLLERS, 2);

    impl->server = builder.BuildAndStart();
    if (!impl->server)
        return Error{"grpc: cannot serve on " + [&] {
            std::string all;
            for (const auto& a : cfg.listen)
                all += (all.empty() ? "" : ", ") + a;
            return all;
        }() + " (address in use, no permission, or unreadable TLS files)"};
    for (size_t i = 0; i < cfg.listen.size(); i++) {
        const std::string& addr = cfg.listen[i];
        if (std::string path = unix_path(addr); !path.empty()) {
            if (::chmod(path.c_str(), cfg.unix_mode) != 0) {
                int err = errno;
                impl->close();
                return Error{"grpc: cannot chmod " + path + ": " + std::strerror(err)};
            }
            impl->bound.push_back(addr);
            continue;
        }
        if (ports[i] == 0) {
            impl->close();
            return Error{"grpc: cannot listen on " + addr};
        }
        impl->bound.push_back(addr.substr(0, addr.rfind(':') + 1) + std::to_string(ports[i]));
    }
    return std::unique_ptr<GrpcServer>(new GrpcServer(std::move(impl)));
}

const std::string& GrpcServer::name() const { return impl_->config.name; }
void GrpcServer::publish(const events::Event& event) { impl_->publish(event); }
void GrpcServer::close() { impl_->close(); }
std::vector<std::string> GrpcServer::bound() const { return impl_->bound; }

size_t GrpcServer::subscribers() const {
    std::lock_guard lock(impl_->subs_mu);
    return impl_->subs.size();
}

ExporterStats GrpcServer::stats() const {
    ExporterStats s;
    s.published = impl_->published;
    s.filtered = impl_->filtered;
    s.delivered = impl_->delivered;
    s.dropped = impl_->dropped;
    s.send_errors = impl_->errors;
    s.queue_depth = impl_->queued();
    return s;
}

}  // namespace bulkhead::exporters::rpc
