// SPDX-License-Identifier: Apache-2.0
#include "daemon/service_notify.h"

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "error.h"

namespace bulkhead::daemon {

bool notify_service_manager(const std::string& state, std::string* error) {
    const char* env = std::getenv("NOTIFY_SOCKET");
    if (!env || !*env)
        return true;
    std::string path = env;
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    // '@' names an abstract socket; systemd uses a path, containers may not.
    if ((path[0] != '/' && path[0] != '@') || path.size() >= sizeof addr.sun_path) {
        *error = "service manager: NOTIFY_SOCKET '" + path + "' is not an absolute path or @abstract name";
        return false;
    }
    std::memcpy(addr.sun_path, path.data(), path.size());
    if (path[0] == '@')
        addr.sun_path[0] = '\0';
    socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size());
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        *error = errno_message("service manager: socket", errno);
        return false;
    }
    ssize_t n = sendto(fd, state.data(), state.size(), MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&addr), len);
    int err = errno;
    close(fd);
    if (n != static_cast<ssize_t>(state.size())) {
        *error = errno_message("service manager: cannot notify " + path, n < 0 ? err : EMSGSIZE);
        return false;
    }
    return true;
}

}  // namespace bulkhead::daemon
