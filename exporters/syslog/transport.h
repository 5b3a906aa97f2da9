// SPDX-License-Identifier: Apache-2.0
// How syslog messages leave the host: UDP (RFC 5426, one message per
// datagram), TCP with octet-counting framing (RFC 6587 §3.4.1), TLS (RFC
// 5425: octet counting inside TLS, PKIX validation of the server's name,
// optional client certificate), RELP (rsyslog's acknowledged protocol:
// each message is answered, so nothing is lost or repeated by an outage)
// and the local /dev/log datagram socket.
// Connection-based transports connect lazily and reconnect on the next send
// after an error; the sink's worker does the backoff. TCP and TLS have no
// acknowledgement, so a new connection first repeats what the last one
// carried in its final `replay` window (a dead receiver's unread buffer).
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "result.h"

namespace bulkhead::exporters {

struct TlsOptions {
    std::string ca_file;        // PEM bundle; "" = the system's default CA paths
    std::string ca_path;        // a hashed CA directory
    std::string cert_file;      // client certificate chain (mutual TLS)
    std::string key_file;
    std::string server_name;    // checked against the certificate; "" = the host
    bool verify = true;         // false only for lab setups; logged by the caller
};

struct TransportOptions {
    std::string kind;           // udp | tcp | tls | relp | unix
    std::string host;
    int port = 0;
    std::string socket_path;    // unix
    TlsOptions tls;
    std::chrono::milliseconds timeout{5000};  // connect, handshake and each write
    // tcp, tls: frames written in this window before a connection died are
    // written again on the next one (duplicates, not loss); 0 = off.
    std::chrono::milliseconds replay{2000};
};

class Transport {
public:
    virtual ~Transport() = default;
    virtual Result<void> send(const std::string& message) = 0;
    virtual void close() = 0;
    // For TLS: a configuration problem (unreadable key) found before the
    // first connection, so the daemon refuses the config at startup.
    virtual Result<void> check() { return {}; }
};

std::unique_ptr<Transport> make_transport(const TransportOptions& options);

// "LEN SP MSG": the octet-counting frame of RFC 6587 and RFC 5425.
std::string octet_frame(const std::string& message);

}  // namespace bulkhead::exporters
