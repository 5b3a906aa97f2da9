// SPDX-License-Identifier: Apache-2.0
#include "syslog/syslog_exporter.h"

#include <unistd.h>

namespace bulkhead::exporters {

Result<std::unique_ptr<Exporter>> make_syslog_exporter(const SinkConfig& config, SinkReader& r,
                                                       const Options& options) {
    TransportOptions t;
    t.kind = r.choice("transport", {"udp", "tcp", "tls", "relp", "unix"}, "udp");
    t.host = r.str("host", "127.0.0.1");
    t.port = static_cast<int>(r.integer("port", 1, 65535, t.kind == "tls" ? 6514 : t.kind == "relp" ? 2514 : 514));
    t.socket_path = r.str("socket", "/dev/log");
    t.timeout = std::chrono::milliseconds(r.integer("timeout_ms", 1, 600'000, 5000));
    t.replay = std::chrono::milliseconds(r.integer("replay_ms", 0, 600'000, 2000));
    SinkReader& tls = r.child("tls");
    t.tls.ca_file = tls.str("ca");
    t.tls.ca_path = tls.str("ca_path");
    t.tls.cert_file = tls.str("cert");
    t.tls.key_file = tls.str("key");
    t.tls.server_name = tls.str("server_name");
    t.tls.verify = tls.boolean("verify", true);
    if (t.tls.cert_file.empty() != t.tls.key_file.empty())
        tls.fail(t.tls.cert_file.empty() ? "cert" : "key", "tls.cert and tls.key go together");

    SyslogFormat f;
    std::string facility = r.str("facility", "user");
    if (auto fac = parse_facility(facility))
        f.facility = *fac;
    else
        r.fail("facility", "unknown facility '" + facility + "' (kern, user, daemon, auth, authpriv, "
                           "local0..local7, or 0..23)");
    f.hostname = options.hostname;
    f.app_name = r.str("app_name", "bulkhead");
    f.procid = std::to_string(getpid());
    f.sd_id = r.str("sd_id", f.sd_id);
    if (f.sd_id.empty() || f.sd_id.size() > 32 ||
        f.sd_id.find_first_of(" =]\"") != std::string::npos)
        r.fail("sd_id", "an SD-ID is 1 to 32 printable characters without space, '=', ']' or '\"'");
    f.bom = r.boolean("bom", true);
    f.local = r.choice("format", {"rfc5424", "local"}, t.kind == "unix" ? "local" : "rfc5424") == "local";
    if (f.local && t.kind != "unix")
        r.fail("format", "format 'local' is syslog(3)'s form for the local socket (transport: unix); "
                         "a network receiver expects rfc5424");
    f.max_size = static_cast<size_t>(
        r.integer("max_message_size", 480, 1 << 20, t.kind == "udp" ? 2048 : 8192));
    if (auto e = r.finish(); !e)
        return Error{e.error()};

    auto transport = make_transport(t);
    if (auto c = transport->check(); !c)
        return Error{"sink '" + config.name + "': " + c.error()};
    auto made = QueuedExporter::create(
        config, std::make_unique<SyslogDelivery>(std::move(f), std::move(transport)));
    if (!made)
        return Error{made.error()};
    return std::unique_ptr<Exporter>(std::move(made.value()));
}

}  // namespace bulkhead::exporters
