// SPDX-License-Identifier: Apache-2.0
// The control socket: one JSON object per line, each way. Requests carry
// "op"; replies carry "ok" and, on failure, "error". Streams (events -f)
// are further lines on the same connection.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "fd.h"

namespace bulkhead::control {

// Longest request line the daemon accepts; longer input is an error, not
// a buffer that grows without bound.
inline constexpr size_t kMaxRequestBytes = 64 * 1024;

// Client side: a blocking connection to the daemon.
class Client {
public:
    // Throws FatalError naming the socket and how to start the daemon.
    static Client connect(const std::string& socket_path);

    nlohmann::json request(const nlohmann::json& req);
    // Next line of a stream; nullopt at end of stream.
    std::optional<nlohmann::json> next();
    void send(const nlohmann::json& msg);

private:
    explicit Client(Fd fd) : fd_(std::move(fd)) {}
    Fd fd_;
    std::string buf_;
};

// Peer of an accepted connection, from SO_PEERCRED.
struct Peer {
    int pid = 0;
    unsigned uid = 0;
    unsigned gid = 0;
};
std::optional<Peer> peer_of(int fd);

// A listening socket at path (parent created 0755, socket `mode`).
Fd listen_unix(const std::string& path, unsigned mode = 0600);

}  // namespace bulkhead::control
