// SPDX-License-Identifier: Apache-2.0
#include "exporters/grpc/grpc_factory.h"

#include <cstdlib>

namespace bulkhead::exporters::rpc {

Factory grpc_factory(std::shared_ptr<SessionSource> sessions) {
    return [sessions](const SinkConfig& config, SinkReader& r,
                      const Options& options) -> Result<std::unique_ptr<Exporter>> {
        ServerConfig c;
        c.name = config.name;
        c.filter = config.filter;
        c.subscriber_queue = config.queue_max_events;
        c.hostname = options.hostname;
        if (r.has("listen"))
            c.listen = r.strings("listen");
        if (c.listen.empty())
            r.fail("listen", "at least one address (unix:/path or host:port)");
        SinkReader& tls = r.child("tls");
        c.tls.cert = tls.str("cert");
        c.tls.key = tls.str("key");
        c.tls.client_ca = tls.str("client_ca");
        if (c.tls.cert.empty() != c.tls.key.empty())
            tls.fail(c.tls.cert.empty() ? "cert" : "key", "tls.cert and tls.key go together");
        if (!c.tls.client_ca.empty() && c.tls.cert.empty())
            tls.fail("client_ca", "mTLS needs tls.cert and tls.key too");
        c.allow_plaintext_tcp = r.boolean("allow_plaintext_tcp", false);
        std::string mode = r.str("unix_mode", "0660");
        char* end = nullptr;
        unsigned long m = std::strtoul(mode.c_str(), &end, 8);
        if (mode.empty() || *end || m > 0777)
            r.fail("unix_mode", "expected an octal mode such as \"0660\", got '" + mode + "'");
        c.unix_mode = static_cast<uint32_t>(m);
        c.max_subscribers = static_cast<size_t>(r.integer("max_subscribers", 1, 1024, 32));
        c.slow_timeout = std::chrono::milliseconds(r.integer("slow_timeout_ms", 100, 3'600'000, 10000));
        if (auto e = r.finish(); !e)
            return Error{e.error()};
        auto server = GrpcServer::start(std::move(c), sessions);
        if (!server)
            return Error{"sink '" + config.name + "': " + server.error()};
        return std::unique_ptr<Exporter>(std::move(server.value()));
    };
}

}  // namespace bulkhead::exporters::rpc
