// SPDX-License-Identifier: Apache-2.0
// The syslog sink: RFC 5424 messages (syslog_format.h) over a transport
// (transport.h). Keys, besides the common ones (factory.h):
//
//   transport: udp            # udp | tcp | tls | relp | unix
//   host: 127.0.0.1           # udp, tcp, tls, relp
//   port: 514                 # default 514 (udp, tcp), 6514 (tls), 2514 (relp)
//   socket: /dev/log          # unix
//   facility: user            # kern..local7, or 0..23
//   app_name: bulkhead
//   sd_id: bulkhead@32473     # the structured-data element's id
//   bom: true                 # BOM before MSG (RFC 5424 §6.4)
//   format: rfc5424           # rfc5424 | local (syslog(3)'s form; the default
//                             # for unix, which journald and rsyslog parse)
//   max_message_size: 2048    # octets; default 2048 for udp, 8192 otherwise
//   timeout_ms: 5000          # connect, handshake, write
//   replay_ms: 2000           # tcp, tls: after a reconnect, repeat what was
//                             # written this long before the old connection
//                             # died (its receiver may not have read it); 0 = off
//   tls: { ca: ca.pem, ca_path: "", cert: client.pem, key: client.key,
//          server_name: siem.example.com, verify: true }
#pragma once

#include <memory>

#include "factory.h"
#include "queued_exporter.h"
#include "syslog/syslog_format.h"
#include "syslog/transport.h"

namespace bulkhead::exporters {

class SyslogDelivery : public Delivery {
public:
    SyslogDelivery(SyslogFormat format, std::unique_ptr<Transport> transport)
        : format_(std::move(format)), transport_(std::move(transport)) {}
    std::string format(const events::Event& e) override {
        return format_.local ? format_local(e, format_) : format_rfc5424(e, format_);
    }
    Result<void> send(const std::string& payload) override { return transport_->send(payload); }
    void reset() override { transport_->close(); }
    void shutdown() override { transport_->close(); }

private:
    SyslogFormat format_;
    std::unique_ptr<Transport> transport_;
};

Result<std::unique_ptr<Exporter>> make_syslog_exporter(const SinkConfig& config, SinkReader& reader,
                                                       const Options& options);

}  // namespace bulkhead::exporters
