// SPDX-License-Identifier: Apache-2.0
#include "control/protocol.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "error.h"

namespace bulkhead::control {

namespace {

sockaddr_un make_addr(const std::string& path) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.size() >= sizeof(addr.sun_path))
        throw FatalError("control: socket path '" + path + "' is longer than " +
                         std::to_string(sizeof(addr.sun_path) - 1) + " bytes");
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    return addr;
}

}  // namespace

Client Client::connect(const std::string& socket_path) {
    sockaddr_un addr = make_addr(socket_path);
    Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd.valid())
        throw FatalError(errno_message("control: socket", errno));
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
        int err = errno;
        throw FatalError(errno_message("control: cannot reach the daemon at " + socket_path, err) +
                         " (is `bulkhead daemon` running?)");
    }
    return Client(std::move(fd));
}

void Client::send(const nlohmann::json& msg) {
    std::string line = msg.dump() + "\n";
    size_t off = 0;
    while (off < line.size()) {
        ssize_t n = ::write(fd_.get(), line.data() + off, line.size() - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            throw FatalError(errno_message("control: write to daemon", errno));
        off += static_cast<size_t>(n);
    }
}

std::optional<nlohmann::json> Client::next() {
    for (;;) {
        auto nl = buf_.find('\n');
        if (nl != std::string::npos) {
            std::string line = buf_.substr(0, nl);
            buf_.erase(0, nl + 1);
            auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
            if (j.is_discarded())
                throw FatalError("control: the daemon sent a malformed line");
            return j;
        }
        char chunk[65536];
        ssize_t n = ::read(fd_.get(), chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            throw FatalError(errno_message("control: read from daemon", errno));
        if (n == 0)
            return std::nullopt;
        buf_.append(chunk, static_cast<size_t>(n));
    }
}

nlohmann::json Client::request(const nlohmann::json& req) {
    send(req);
    auto reply = next();
    if (!reply)
        throw FatalError("control: the daemon closed the connection without a reply");
    return *reply;
}

std::optional<Peer> peer_of(int fd) {
    ucred cred{};
    socklen_t len = sizeof(cred);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0)
        return std::nullopt;
    return Peer{cred.pid, cred.uid, cred.gid};
}

Fd listen_unix(const std::string& path, unsigned mode) {
    std::error_code ec;
    std::filesystem::path dir = std::filesystem::path(path).parent_path();
    std::filesystem::create_directories(dir, ec);
    ::chmod(dir.c_str(), 0755);
    sockaddr_un addr = make_addr(path);
    Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd.valid())
        throw FatalError(errno_message("control: socket", errno));
    ::unlink(path.c_str());
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0)
        throw FatalError(errno_message("control: cannot bind " + path, errno));
    ::chmod(path.c_str(), mode);
    if (::listen(fd.get(), 64) != 0)
        throw FatalError(errno_message("control: cannot listen on " + path, errno));
    return fd;
}

}  // namespace bulkhead::control
