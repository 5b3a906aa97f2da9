// SPDX-License-Identifier: Apache-2.0
#include "metrics/server.h"

#include <arpa/inet.h>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <vector>

namespace bulkhead::exporters {

namespace {

using Clock = std::chrono::steady_clock;

double unix_now() {
    return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string errno_text(const std::string& what, int err) {
    return "metrics: " + what + ": " + std::strerror(err);
}

Result<int> listen_unix(const std::string& path) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.empty() || path.size() >= sizeof addr.sun_path)
        return Error{"metrics: bad unix socket path '" + path + "'"};
    std::memcpy(addr.sun_path, path.c_str(), path.size());
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return Error{errno_text("socket", errno)};
    unlink(path.c_str());
    if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(fd, 64) != 0) {
        int err = errno;
        close(fd);
        return Error{errno_text("cannot listen on " + path, err)};
    }
    chmod(path.c_str(), 0660);
    return fd;
}

Result<int> listen_tcp(const std::string& spec, int* port) {
    auto colon = spec.rfind(':');
    if (colon == std::string::npos)
        return Error{"metrics: listen address '" + spec + "' has no port (host:port or unix:PATH)"};
    std::string host = spec.substr(0, colon);
    std::string port_s = spec.substr(colon + 1);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
        host = host.substr(1, host.size() - 2);
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    addrinfo* res = nullptr;
    if (int rc = getaddrinfo(host.empty() ? nullptr : host.c_str(), port_s.c_str(), &hints, &res); rc)
        return Error{"metrics: bad listen address '" + spec + "': " + gai_strerror(rc)};
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    int one = 1;
    if (fd >= 0)
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (fd < 0 || bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, 64) != 0) {
        int err = errno;
        if (fd >= 0)
            close(fd);
        freeaddrinfo(res);
        return Error{errno_text("cannot listen on " + spec, err)};
    }
    freeaddrinfo(res);
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
    *port = ntohs(ss.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port
                                           : reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
    return fd;
}

std::string response(int status, const char* reason, const std::string& body,
                     const char* type = "text/plain; charset=utf-8") {
    return "HTTP/1.1 " + std::to_string(status) + " " + reason + "\r\nContent-Type: " + type +
           "\r\nContent-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
}

struct Client {
    int fd = -1;
    Clock::time_point deadline;
    std::string in;
    std::string out;
    size_t sent = 0;
    bool answered = false;
};

}  // namespace

// The answer to one request head; `head` ends at the blank line.
std::string answer_request(const std::string& head, const MetricsRegistry& registry, double now) {
    auto eol = head.find("\r\n");
    std::string line = head.substr(0, eol);
    auto sp1 = line.find(' ');
    auto sp2 = sp1 == std::string::npos ? sp1 : line.find(' ', sp1 + 1);
    if (sp2 == std::string::npos || line.compare(sp2 + 1, 5, "HTTP/") != 0)
        return response(400, "Bad Request", "bad request line\n");
    std::string method = line.substr(0, sp1);
    std::string target = line.substr(sp1 + 1, sp2 - sp1 - 1);
    if (auto q = target.find('?'); q != std::string::npos)
        target.resize(q);
    if (target != "/metrics" && target != "/" && target != "/readyz" && target != "/healthz")
        return response(404, "Not Found", "try /metrics, /readyz or /healthz\n");
    if (method != "GET" && method != "HEAD")
        return response(405, "Method Not Allowed", "GET only\n");
    std::string r;
    if (target == "/readyz") {
        r = registry.value("bulkhead_ready", {}) == 1 ? response(200, "OK", "ready\n")
                                                      : response(503, "Service Unavailable", "starting\n");
    } else if (target == "/healthz") {
        double beat = registry.value("bulkhead_loop_heartbeat_timestamp_seconds", {});
        double limit = kStaleIntervals * registry.value("bulkhead_loop_interval_seconds", {}) + kStaleGraceSeconds;
        if (beat == 0)
            r = response(503, "Service Unavailable", "starting: the event loop has not ticked yet\n");
        else if (now - beat > limit)
            r = response(503, "Service Unavailable",
                         "event loop stalled: last tick " + std::to_string(static_cast<int64_t>(now - beat)) +
                             " s ago\n");
        else
            r = response(200, "OK", "ok\n");
    } else {
        r = response(200, "OK", registry.render(), "text/plain; version=0.0.4; charset=utf-8");
    }
    if (method == "HEAD")
        r.resize(r.find("\r\n\r\n") + 4);
    return r;
}

Result<std::unique_ptr<MetricsServer>> MetricsServer::start(const std::string& listen,
                                                            const MetricsRegistry& registry) {
    int port = 0;
    std::string unix_path;
    Result<int> fd = Error{""};
    if (listen.rfind("unix:", 0) == 0) {
        unix_path = listen.substr(5);
        fd = listen_unix(unix_path);
    } else {
        fd = listen_tcp(listen, &port);
    }
    if (!fd)
        return Error{fd.error()};
    int wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (wake < 0) {
        close(*fd);
        return Error{errno_text("eventfd", errno)};
    }
    return std::unique_ptr<MetricsServer>(new MetricsServer(*fd, wake, port, unix_path, registry));
}

MetricsServer::MetricsServer(int fd, int wake_fd, int port, std::string unix_path,
                             const MetricsRegistry& r)
    : fd_(fd), wake_fd_(wake_fd), port_(port), unix_path_(std::move(unix_path)), registry_(r) {
    thread_ = std::thread([this] { run(); });
}

MetricsServer::~MetricsServer() {
    stop();
}

void MetricsServer::stop() {
    if (stopping_.exchange(true))
        return;
    uint64_t one = 1;
    (void)!write(wake_fd_, &one, sizeof one);
    if (thread_.joinable())
        thread_.join();
    close(fd_);
    close(wake_fd_);
    if (!unix_path_.empty())
        unlink(unix_path_.c_str());
}

void MetricsServer::run() {
    std::vector<Client> clients;
    while (!stopping_) {
        std::vector<pollfd> fds = {{fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
        auto now = Clock::now();
        int timeout = kClientTimeoutMs;
        for (auto& c : clients) {
            fds.push_back({c.fd, static_cast<short>(c.answered ? POLLOUT : POLLIN), 0});
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(c.deadline - now).count();
            timeout = std::min<int>(timeout, std::max<int>(0, static_cast<int>(left)));
        }
        if (poll(fds.data(), fds.size(), timeout) < 0 && errno != EINTR)
            break;
        now = Clock::now();
        std::vector<bool> done(clients.size(), false);
        for (size_t i = 0; i < clients.size(); ++i) {
            Client& c = clients[i];
            short rev = fds[i + 2].revents;
            if (now >= c.deadline || (rev & (POLLERR | POLLNVAL))) {
                done[i] = true;
                continue;
            }
            if (!c.answered && (rev & (POLLIN | POLLHUP))) {
                char buf[4096];
                ssize_t n = recv(c.fd, buf, sizeof buf, 0);
                if (n <= 0) {
                    done[i] = n == 0 || (errno != EAGAIN && errno != EINTR);
                    continue;
                }
                c.in.append(buf, static_cast<size_t>(n));
                auto end = c.in.find("\r\n\r\n");
                if (end != std::string::npos) {
                    c.out = answer_request(c.in.substr(0, end + 2), registry_, unix_now());
                    c.answered = true;
                } else if (c.in.size() > kMaxRequestBytes) {
                    c.out = response(431, "Request Header Fields Too Large", "request too large\n");
                    c.answered = true;
                }
                if (c.answered)
                    c.in.clear();
            } else if (c.answered && (rev & (POLLOUT | POLLHUP))) {
                ssize_t n = send(c.fd, c.out.data() + c.sent, c.out.size() - c.sent, MSG_NOSIGNAL);
                if (n > 0)
                    c.sent += static_cast<size_t>(n);
                else if (n < 0 && errno != EAGAIN && errno != EINTR)
                    done[i] = true;
                if (c.sent == c.out.size())
                    done[i] = true;
            }
        }
        std::vector<Client> kept;
        for (size_t i = 0; i < clients.size(); ++i) {
            if (done[i]) {
                shutdown(clients[i].fd, SHUT_RDWR);
                close(clients[i].fd);
            } else {
                kept.push_back(std::move(clients[i]));
            }
        }
        clients.swap(kept);
        if (fds[0].revents & POLLIN) {
            for (;;) {
                int cfd = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
                if (cfd < 0)
                    break;
                if (static_cast<int>(clients.size()) >= kMaxClients) {
                    // Full: the oldest connection goes, so clients that
                    // connect and stall cannot lock a scraper out.
                    close(clients.front().fd);
                    clients.erase(clients.begin());
                }
                Client c;
                c.fd = cfd;
                c.deadline = Clock::now() + std::chrono::milliseconds(kClientTimeoutMs);
                clients.push_back(std::move(c));
            }
        }
    }
    for (auto& c : clients)
        close(c.fd);
}

}  // namespace bulkhead::exporters
