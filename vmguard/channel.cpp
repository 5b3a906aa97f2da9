// SPDX-License-Identifier: Apache-2.0
#include "vmguard/channel.h"

#include "vmguard/errno_text.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

namespace bulkhead::vmguard {

namespace {

constexpr size_t kMaxKvItems = 512;  // must equal MAX_KV in guest/agent.c

bool known_type(uint16_t t) {
    return (t >= VG_HELLO && t <= VG_POWEROFF) || (t >= VG_READY && t <= VG_END);
}

}  // namespace

KvList& KvList::add(const std::string& key, const std::string& value) {
    bytes_ += key;
    bytes_ += '\0';
    bytes_ += value;
    bytes_ += '\0';
    items_.emplace_back(key, value);
    return *this;
}

std::optional<std::string> KvList::get(const std::string& key) const {
    for (const auto& [k, v] : items_)
        if (k == key)
            return v;
    return std::nullopt;
}

std::vector<std::string> KvList::all(const std::string& key) const {
    std::vector<std::string> out;
    for (const auto& [k, v] : items_)
        if (k == key)
            out.push_back(v);
    return out;
}

std::optional<KvList> KvList::parse(const std::string& payload) {
    KvList kv;
    if (payload.empty())
        return kv;
    if (payload.back() != '\0')
        return std::nullopt;
    std::vector<std::string> parts;
    for (size_t i = 0; i < payload.size();) {
        size_t end = payload.find('\0', i);
        parts.push_back(payload.substr(i, end - i));
        i = end + 1;
        if (parts.size() > kMaxKvItems)
            return std::nullopt;
    }
    if (parts.size() % 2)
        return std::nullopt;
    for (size_t i = 0; i < parts.size(); i += 2)
        kv.add(parts[i], parts[i + 1]);
    return kv;
}

Channel::~Channel() {
    if (fd_ >= 0)
        ::close(fd_);
}

std::optional<Channel> Channel::connect(const std::string& path, std::chrono::milliseconds wait, std::string* error) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.size() >= sizeof(addr.sun_path)) {
        *error = "channel socket path is too long for a Unix socket: " + path;
        return std::nullopt;
    }
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    auto deadline = std::chrono::steady_clock::now() + wait;
    for (;;) {
        int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            *error = errno_text("socket");
            return std::nullopt;
        }
        if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0)
            return Channel(fd);
        int err = errno;
        ::close(fd);
        if ((err != ENOENT && err != ECONNREFUSED) || std::chrono::steady_clock::now() >= deadline) {
            errno = err;
            *error = errno_text("connect " + path);
            return std::nullopt;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

std::string Channel::send(uint16_t type, uint32_t id, const std::string& payload) {
    if (payload.size() > VG_MAX_PAYLOAD)
        return "frame payload of " + std::to_string(payload.size()) + " bytes exceeds the limit of " +
               std::to_string(VG_MAX_PAYLOAD);
    vg_header h{static_cast<uint32_t>(payload.size()), type, 0, id};
    std::string out(reinterpret_cast<const char*>(&h), sizeof(h));
    out += payload;
    size_t off = 0;
    while (off < out.size()) {
        ssize_t n = ::send(fd_, out.data() + off, out.size() - off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return errno_text("channel write");
        off += static_cast<size_t>(n);
    }
    return {};
}

std::optional<Frame> Channel::receive(std::chrono::milliseconds timeout, std::string* error) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        if (buf_.size() >= sizeof(vg_header)) {
            vg_header h;
            std::memcpy(&h, buf_.data(), sizeof(h));
            if (h.len > VG_MAX_PAYLOAD || h.flags || !known_type(h.type)) {
                *error = "malformed frame from the guest (type " + std::to_string(h.type) + ", " +
                         std::to_string(h.len) + " bytes)";
                return std::nullopt;
            }
            if (buf_.size() >= sizeof(h) + h.len) {
                Frame f{h.type, h.id, buf_.substr(sizeof(h), h.len)};
                buf_.erase(0, sizeof(h) + h.len);
                return f;
            }
        }
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
            *error = "timed out after " + std::to_string(timeout.count()) + " ms waiting for the guest";
            return std::nullopt;
        }
        pollfd p{fd_, POLLIN, 0};
        int r = ::poll(&p, 1, static_cast<int>(left.count()));
        if (r < 0 && errno != EINTR) {
            *error = errno_text("channel poll");
            return std::nullopt;
        }
        if (r <= 0)
            continue;
        char tmp[64 * 1024];
        ssize_t n = ::read(fd_, tmp, sizeof(tmp));
        if (n == 0) {
            *error = "the guest closed the channel";
            return std::nullopt;
        }
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            *error = errno_text("channel read");
            return std::nullopt;
        }
        buf_.append(tmp, static_cast<size_t>(n));
    }
}

std::vector<std::string> default_env(const std::string& home) {
    return {"PATH=/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin", "HOME=" + home, "LANG=C.UTF-8",
            "TERM=dumb", "BULKHEAD_VM=1"};
}

ExecResult exec(Channel& ch, uint32_t id, const ExecRequest& req, int stdin_fd,
                const std::function<void(const std::string&)>& on_stdout,
                const std::function<void(const std::string&)>& on_stderr) {
    ExecResult res;
    KvList kv;
    for (const auto& a : req.argv)
        kv.add("arg", a);
    for (const auto& e : req.env.empty() ? default_env(req.uid ? "/home/user" : "/root") : req.env)
        kv.add("env", e);
    if (!req.cwd.empty())
        kv.add("cwd", req.cwd);
    kv.add("uid", std::to_string(req.uid)).add("gid", std::to_string(req.gid));
    kv.add("timeout_ms", std::to_string(req.timeout.count()));
    if (req.argv.empty()) {
        res.error = "exec: no command";
        return res;
    }
    if (auto err = ch.send(VG_EXEC, id, kv.bytes()); !err.empty()) {
        res.error = err;
        return res;
    }
    bool stdin_open = stdin_fd >= 0;
    if (!stdin_open)
        ch.send(VG_STDIN_EOF, id);
    for (;;) {
        pollfd p[2] = {{ch.fd(), POLLIN, 0}, {stdin_open ? stdin_fd : -1, POLLIN, 0}};
        if (::poll(p, 2, -1) < 0 && errno != EINTR) {
            res.error = errno_text("exec: poll");
            return res;
        }
        if (stdin_open && (p[1].revents & (POLLIN | POLLHUP))) {
            char buf[32 * 1024];
            ssize_t n = ::read(stdin_fd, buf, sizeof(buf));
            if (n > 0) {
                ch.send(VG_STDIN, id, std::string(buf, static_cast<size_t>(n)));
            } else if (n == 0 || errno != EINTR) {
                stdin_open = false;
                ch.send(VG_STDIN_EOF, id);
            }
        }
        if (!(p[0].revents & (POLLIN | POLLHUP | POLLERR)))
            continue;
        // Drain every frame already buffered or readable now.
        for (bool first = true;; first = false) {
            std::string err;
            auto f = ch.receive(std::chrono::milliseconds(first ? 60'000 : 0), &err);
            if (!f) {
                if (!first && err.starts_with("timed out"))
                    break;
                res.error = "exec: " + err;
                return res;
            }
            if (f->id != id)
                continue;
            switch (f->type) {
            case VG_STARTED:
                break;
            case VG_STDOUT:
                on_stdout(f->payload);
                break;
            case VG_STDERR:
                on_stderr(f->payload);
                break;
            case VG_ERROR:
                res.error = f->payload;
                return res;
            case VG_EXIT: {
                auto kv_exit = KvList::parse(f->payload);
                if (!kv_exit) {
                    res.error = "exec: malformed exit frame from the guest";
                    return res;
                }
                if (auto s = kv_exit->get("signal"))
                    res.signal = std::atoi(s->c_str());
                else
                    res.code = std::atoi(kv_exit->get("code").value_or("-1").c_str());
                res.timed_out = kv_exit->get("timeout").has_value();
                return res;
            }
            default:
                res.error = "exec: unexpected frame type " + std::to_string(f->type) + " from the guest";
                return res;
            }
        }
    }
}

}  // namespace bulkhead::vmguard
