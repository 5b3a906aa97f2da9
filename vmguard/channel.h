// SPDX-License-Identifier: Apache-2.0
// The host end of the exec channel (protocol.h): frames over a Unix socket
// that QEMU bridges to a virtio-serial port. The guest is untrusted: every
// frame is bounded and checked before anything reads it.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "vmguard/protocol.h"

namespace bulkhead::vmguard {

// Key/value payloads: NUL-terminated strings, alternating key and value.
class KvList {
public:
    KvList& add(const std::string& key, const std::string& value);
    const std::string& bytes() const { return bytes_; }
    // The first value of key, or nullopt.
    std::optional<std::string> get(const std::string& key) const;
    std::vector<std::string> all(const std::string& key) const;
    // nullopt when malformed (unterminated, odd count, too many items).
    static std::optional<KvList> parse(const std::string& payload);
    const std::vector<std::pair<std::string, std::string>>& items() const { return items_; }

private:
    std::string bytes_;
    std::vector<std::pair<std::string, std::string>> items_;
};

struct Frame {
    uint16_t type = 0;
    uint32_t id = 0;
    std::string payload;
};

// One connected channel. Not thread-safe; one user at a time.
class Channel {
public:
    explicit Channel(int fd) : fd_(fd) {}
    ~Channel();
    Channel(Channel&& o) noexcept : fd_(std::exchange(o.fd_, -1)), buf_(std::move(o.buf_)) {}
    Channel& operator=(Channel&& o) noexcept {
        if (this != &o) {
            std::swap(fd_, o.fd_);
            std::swap(buf_, o.buf_);
        }
        return *this;
    }
    Channel(const Channel&) = delete;
    Channel& operator=(const Channel&) = delete;

    // Connects to a channel socket, retrying for up to `wait` while QEMU
    // has not created it yet. The error names the socket and the cause.
    static std::optional<Channel> connect(const std::string& path, std::chrono::milliseconds wait, std::string* error);

    int fd() const { return fd_; }
    // Empty on success, else why the frame could not be sent.
    std::string send(uint16_t type, uint32_t id, const std::string& payload = {});
    // The next frame, or nullopt with *error set (timeout, closed, malformed).
    std::optional<Frame> receive(std::chrono::milliseconds timeout, std::string* error);

private:
    int fd_ = -1;
    std::string buf_;
};

// What a command's run ended with.
struct ExecResult {
    int code = -1;     // exit status, or -1 when killed by a signal
    int signal = 0;
    bool timed_out = false;
    std::string error;  // non-empty: the command never ran or the channel failed
};

struct ExecRequest {
    std::vector<std::string> argv;
    std::vector<std::string> env;  // KEY=VALUE; the guest's defaults when empty
    std::string cwd;
    uint32_t uid = 0, gid = 0;
    std::chrono::milliseconds timeout{0};  // 0: none
};

// Runs one command over a connected channel as request `id` (unique among
// the channel's requests), copying stdin_fd (or nothing when -1) to it and
// its output to the two callbacks.
ExecResult exec(Channel& ch, uint32_t id, const ExecRequest& req, int stdin_fd,
                const std::function<void(const std::string&)>& on_stdout,
                const std::function<void(const std::string&)>& on_stderr);

// The guest's environment for a command when the request names none.
std::vector<std::string> default_env(const std::string& home);

}  // namespace bulkhead::vmguard
