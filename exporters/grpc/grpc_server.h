// SPDX-License-Identifier: Apache-2.0
// The gRPC sink: serves bulkhead.v1.Bulkhead (bulkhead.proto) over a Unix
// socket and over TCP with TLS or mTLS. Subscribe streams what the daemon
// publishes, filtered per subscriber; ListSessions and GetSession ask the
// daemon's session table through SessionSource.
//
// publish() never blocks: each subscriber has a bounded queue; an event
// that does not fit is dropped for that subscriber and counted (the client
// is told in a Lost message), and a subscriber that stays full for
// slow_timeout is disconnected.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "events/event.h"
#include "exporters/exporter.h"
#include "exporters/result.h"
#include "exporters/sink_config.h"

namespace bulkhead::exporters::rpc {

// A session as the API shows it; the daemon fills it from its table.
struct SessionInfo {
    uint64_t id = 0;
    std::string agent;
    uint32_t uid = 0;
    std::string workspace;
    int64_t start_unix_ns = 0;
    std::string state = "active";  // active, asking, frozen, promoting, promoted, killed, ended
    uint32_t leader_pid = 0;
    uint64_t cgroup_id = 0;
    std::string cgroup;
    std::string container_id;
    std::string pod;
    int risk = 0;
    std::string origin;            // run, discovered, hook
    uint64_t denied = 0;
    uint64_t audited = 0;
    std::string level;
    std::string taint;
    std::string vm;
    uint32_t pending_asks = 0;
};

// The daemon's session table as the server reads it. Called from gRPC
// threads, concurrently with the daemon's loop: implementations lock.
class SessionSource {
public:
    virtual ~SessionSource() = default;
    virtual std::vector<SessionInfo> list() = 0;
    virtual std::optional<SessionInfo> get(uint64_t id) = 0;
};

struct TlsFiles {
    std::string cert;       // server certificate chain (PEM)
    std::string key;        // its private key (PEM)
    std::string client_ca;  // set: mTLS, clients must present a cert it signed
};

struct ServerConfig {
    std::string name = "grpc";
    // "unix:/run/bulkhead/grpc.sock", "127.0.0.1:50051", "[::]:50051".
    // Port 0 picks a free port (see GrpcServer::bound()).
    std::vector<std::string> listen = {"unix:/run/bulkhead/grpc.sock"};
    TlsFiles tls;                           // required for TCP addresses...
    bool allow_plaintext_tcp = false;       // ...unless this is set
    uint32_t unix_mode = 0660;              // access to the Unix socket
    SinkFilter filter;                      // applies before subscribers' filters
    size_t subscriber_queue = 4096;         // events per subscriber
    size_t max_subscribers = 32;
    std::chrono::milliseconds slow_timeout{10000};
    std::string hostname;                   // "": gethostname()
};

class GrpcServer final : public Exporter {
public:
    // Binds every address and starts serving. `sessions` may be null
    // (session calls then answer UNAVAILABLE).
    static Result<std::unique_ptr<GrpcServer>> start(ServerConfig config,
                                                     std::shared_ptr<SessionSource> sessions);
    ~GrpcServer() override;

    const std::string& name() const override;
    void publish(const events::Event& event) override;
    // Ends every stream (clients see the stream end) and stops serving.
    void close() override;
    ExporterStats stats() const override;

    // The addresses as bound, with real ports for ":0".
    std::vector<std::string> bound() const;
    size_t subscribers() const;

private:
    class Impl;
    explicit GrpcServer(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace bulkhead::exporters::rpc
