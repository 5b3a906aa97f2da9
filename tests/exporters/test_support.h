// SPDX-License-Identifier: Apache-2.0
// Shared by the exporter tests: temporary directories, sample events, child
// processes (rsyslogd, the HTTP receiver) and waiting for them.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <sys/types.h>
#include <vector>

#include "events/event.h"

namespace bulkhead::exporters::test {

class TempDir {
public:
    TempDir();
    ~TempDir();
    const std::string& path() const { return path_; }
    std::string operator/(const std::string& name) const { return path_ + "/" + name; }

private:
    std::string path_;
};

// A denied read of ~/.ssh/id_rsa by `cat` in session 42 (claude-code);
// `seq` goes into the pid and the path so that order can be checked.
events::Event sample_event(int seq = 0, const std::string& priority = "Critical");

bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds timeout);
std::vector<std::string> read_lines(const std::string& path);
std::string read_file(const std::string& path);
void write_file(const std::string& path, const std::string& content);

// A port nobody listens on right now (bound, read, closed).
int free_port(int socktype);
bool tcp_listening(int port);
// A TCP connection to 127.0.0.1:port, or -1.
int connect_loopback(int port);

class Child {
public:
    Child() = default;
    // Starts argv[0] with stdout and stderr to `stdout_path` ("" = /dev/null).
    Child(const std::vector<std::string>& argv, const std::string& stdout_path);
    Child(Child&& o) noexcept : pid_(o.pid_) { o.pid_ = -1; }
    Child& operator=(Child&& o) noexcept;
    ~Child() { stop(); }
    void stop();  // SIGTERM, then wait
    bool running() const { return pid_ > 0; }

private:
    pid_t pid_ = -1;
};

// Runs a shell command; its exit status.
int run(const std::string& command);
bool executable(const std::string& path);

// The HTTP receiver (sidekick_receiver.py) on `port` (0 = any); accepted
// payloads go to `accepted`, one per line. Returns its port, 0 on failure.
int start_receiver(Child* child, const std::string& accepted, const std::string& dir, int port = 0);

}  // namespace bulkhead::exporters::test
