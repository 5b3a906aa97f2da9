// SPDX-License-Identifier: Apache-2.0
#include "test_support.h"

#include <arpa/inet.h>
#include <csignal>
#include <cstdlib>
#include <fcntl.h>
#include <fstream>
#include <netinet/in.h>
#include <sstream>
#include <sys/socket.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace bulkhead::exporters::test {

TempDir::TempDir() {
    char tmpl[] = "/tmp/bulkhead-exporters-XXXXXX";
    path_ = mkdtemp(tmpl);
}

TempDir::~TempDir() {
    run("rm -rf '" + path_ + "'");
}

events::Event sample_event(int seq, const std::string& priority) {
    events::Event e;
    e.kind = "file";
    e.time_unix_ns = 1767323045123456789LL + seq;
    e.session = 42;
    e.agent = "claude-code";
    e.pid = e.tgid = 1000 + static_cast<uint32_t>(seq);
    e.ppid = 999;
    e.uid = 1000;
    e.gid = 1000;
    e.comm = "cat";
    e.exe = "/usr/bin/cat";
    e.rule = "Read SSH private key";
    e.rule_id = 7;
    e.priority = priority;
    e.tags = {"agent", "credentials", "T1552"};
    e.verdict = "deny";
    e.action = "block";
    e.op = "read";
    e.evt_type = "open";
    e.err = 1;  // EPERM
    e.path = "/home/dev/.ssh/id_rsa-" + std::to_string(seq);
    e.dev = 2049;
    e.ino = 1234;
    e.level = "bpf-lsm";
    e.risk = 30;
    e.workspace = "/home/dev/project";
    e.output = "Denied read of " + e.path + " by cat (session=42 agent=claude-code)";
    return e;
}

bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
    auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
        if (done())
            return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return done();
}

std::vector<std::string> read_lines(const std::string& path) {
    std::ifstream in(path);
    std::vector<std::string> out;
    std::string line;
    while (std::getline(in, line))
        out.push_back(line);
    return out;
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

void write_file(const std::string& path, const std::string& content) {
    std::ofstream(path, std::ios::binary) << content;
}

int free_port(int socktype) {
    int fd = socket(AF_INET, socktype, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    close(fd);
    return ntohs(a.sin_port);
}

int connect_loopback(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

bool tcp_listening(int port) {
    int fd = connect_loopback(port);
    if (fd >= 0)
        close(fd);
    return fd >= 0;
}

Child::Child(const std::vector<std::string>& argv, const std::string& stdout_path) {
    pid_ = fork();
    if (pid_ == 0) {
        int out = open(stdout_path.empty() ? "/dev/null" : stdout_path.c_str(),
                       O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(out, 1);
        dup2(out, 2);
        std::vector<char*> args;
        for (const auto& a : argv)
            args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        execv(args[0], args.data());
        _exit(127);
    }
}

Child& Child::operator=(Child&& o) noexcept {
    stop();
    pid_ = o.pid_;
    o.pid_ = -1;
    return *this;
}

void Child::stop() {
    if (pid_ <= 0)
        return;
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
}

int run(const std::string& command) {
    int rc = std::system(command.c_str());
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

bool executable(const std::string& path) {
    return access(path.c_str(), X_OK) == 0;
}

int start_receiver(Child* child, const std::string& accepted, const std::string& dir, int port) {
    std::string port_file = dir + "/receiver.port";
    unlink(port_file.c_str());
    *child = Child({"/usr/bin/python3", BULKHEAD_EXPORTERS_TEST_DIR "/sidekick_receiver.py", accepted,
                    std::to_string(port)},
                   port_file);
    int got = 0;
    wait_until([&] {
        std::string s = read_file(port_file);
        got = s.empty() || s.back() != '\n' ? 0 : std::atoi(s.c_str());
        return got > 0 && tcp_listening(got);
    }, std::chrono::seconds(10));
    return got;
}

}  // namespace bulkhead::exporters::test
