// SPDX-License-Identifier: Apache-2.0
// vmguard against real QEMU: one microVM for the suite (a boot costs seconds
// under software emulation), a second one that the panic test kills, a third
// with egress. The egress proxy's rules and its side of the net port are
// tested without a VM too, against a peer that speaks the guest's frames.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "vmguard/apply.h"
#include "vmguard/egress.h"
#include "vmguard/vm.h"

namespace bulkhead::vmguard {
namespace {

namespace fs = std::filesystem;

struct Output {
    std::string out, err;
    ExecResult res;
};

// ---- egress helpers ----

std::string pattern(size_t n) {
    std::string out(n, '\0');
    for (size_t i = 0; i < n; i++)
        out[i] = static_cast<char>(i % 251);
    return out;
}

// A TCP server on 127.0.0.1 that greets each connection with a line, then
// reads a request head and records it. "BIG N" makes it read N bytes of
// pattern(), answer "got N ok", and send N bytes of pattern() back.
class TestServer {
public:
    static constexpr const char* kGreeting = "bulkhead-egress-test\n";
    TestServer() {
        fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof(a);
        if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), len) != 0 || ::listen(fd_, 16) != 0 ||
            ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0)
            throw std::runtime_error("test server: " + std::string(std::strerror(errno)));
        port_ = ntohs(a.sin_port);
        if (::pipe2(stop_, O_CLOEXEC) != 0)
            throw std::runtime_error("test server: pipe: " + std::string(std::strerror(errno)));
        accepter_ = std::thread([this] { accept_loop(); });
    }
    ~TestServer() {
        char c = 1;
        (void)!::write(stop_[1], &c, 1);
        accepter_.join();
        for (auto& t : conns_)
            t.join();
        ::close(fd_);
        ::close(stop_[0]);
        ::close(stop_[1]);
    }
    uint16_t port() const { return port_; }
    std::vector<std::string> heads() {
        std::lock_guard<std::mutex> lock(mu_);
        return heads_;
    }

private:
    void accept_loop() {
        for (;;) {
            pollfd p[2] = {{fd_, POLLIN, 0}, {stop_[0], POLLIN, 0}};
            ::poll(p, 2, -1);
            if (p[1].revents)
                return;
            int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
            if (c >= 0)
                conns_.emplace_back([this, c] { serve(c); });
        }
    }
    void serve(int c) {
        timeval tv{60, 0};
        ::setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        ::setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        send_all(c, kGreeting);
        std::string head;
        char buf[65536];
        while (head.find("\r\n\r\n") == std::string::npos) {
            ssize_t n = ::read(c, buf, sizeof(buf));
            if (n <= 0)
                break;
            head.append(buf, static_cast<size_t>(n));
        }
        auto end = head.find("\r\n\r\n");
        std::string rest = end == std::string::npos ? "" : head.substr(end + 4);
        head = head.substr(0, end == std::string::npos ? head.size() : end + 4);
        {
            std::lock_guard<std::mutex> lock(mu_);
            heads_.push_back(head);
        }
        if (head.starts_with("BIG ")) {
            size_t n = std::stoul(head.substr(4));
            while (rest.size() < n) {
                ssize_t r = ::read(c, buf, sizeof(buf));
                if (r <= 0)
                    break;
                rest.append(buf, static_cast<size_t>(r));
            }
            send_all(c, "got " + std::to_string(rest.size()) + (rest == pattern(n) ? " ok\n" : " bad\n"));
            send_all(c, pattern(n));
        }
        ::close(c);
    }
    static void send_all(int c, const std::string& s) {
        for (size_t off = 0; off < s.size();) {
            ssize_t n = ::send(c, s.data() + off, s.size() - off, MSG_NOSIGNAL);
            if (n <= 0)
                return;
            off += static_cast<size_t>(n);
        }
    }

    int fd_ = -1, stop_[2] = {-1, -1};
    uint16_t port_ = 0;
    std::thread accepter_;
    std::vector<std::thread> conns_;  // joined at the end: each ends within its timeouts
    std::mutex mu_;
    std::vector<std::string> heads_;
};

// What the proxy decided, as its callbacks saw it.
struct Decisions {
    std::mutex mu;
    std::vector<EgressDecision> list;
    std::vector<std::string> errors;
    std::function<void(const EgressDecision&)> on_decision() {
        return [this](const EgressDecision& d) {
            std::lock_guard<std::mutex> lock(mu);
            list.push_back(d);
        };
    }
    std::function<void(const std::string&)> on_error() {
        return [this](const std::string& e) {
            std::lock_guard<std::mutex> lock(mu);
            errors.push_back(e);
        };
    }
    std::vector<EgressDecision> get() {
        std::lock_guard<std::mutex> lock(mu);
        return list;
    }
    std::vector<std::string> get_errors() {
        std::lock_guard<std::mutex> lock(mu);
        return errors;
    }
};

std::vector<EgressRule> rules(const std::vector<std::string>& texts) {
    std::vector<EgressRule> out;
    for (const auto& t : texts) {
        EgressRule r;
        auto e = parse_egress_rule(t, &r);
        EXPECT_FALSE(e.has_value()) << *e;
        out.push_back(r);
    }
    return out;
}

std::string http_reply(const std::string& status, const std::string& line) {
    return "HTTP/1.1 " + status + "\r\nContent-Type: text/plain\r\nContent-Length: " +
           std::to_string(line.size() + 1) + "\r\nConnection: close\r\n\r\n" + line + "\n";
}

// "stream 3 CONNECT 127.0.0.1:80 -> 127.0.0.1 allowed (allowed by ...)"
std::string describe(const EgressDecision& d) {
    return "stream " + std::to_string(d.stream) + " " + d.method + " " + d.host + ":" + std::to_string(d.port) +
           " -> " + d.address + (d.allowed ? " allowed" : " denied") + " (" + d.reason + ")" +
           (d.error.empty() ? "" : " error: " + d.error);
}

// The guest's side of the net port, speaking protocol.h's NET_* frames.
class NetPeer {
public:
    explicit NetPeer(int fd) : fd_(fd) {}
    ~NetPeer() { ::close(fd_); }
    NetPeer(const NetPeer&) = delete;
    NetPeer& operator=(const NetPeer&) = delete;

    void send(uint16_t type, uint32_t id, const std::string& payload = {}) {
        vg_header h{static_cast<uint32_t>(payload.size()), type, 0, id};
        std::string out(reinterpret_cast<const char*>(&h), sizeof(h));
        out += payload;
        for (size_t off = 0; off < out.size();) {
            ssize_t n = ::send(fd_, out.data() + off, out.size() - off, MSG_NOSIGNAL);
            if (n <= 0) {
                ADD_FAILURE() << "net peer: send: " << std::strerror(errno);
                return;
            }
            off += static_cast<size_t>(n);
        }
        if (type == VG_NET_DATA)
            sent_[id] += payload.size();
    }
    // The next frame; nullopt on EOF (*eof set) or when none comes in time.
    std::optional<Frame> next(std::chrono::milliseconds timeout, bool* eof = nullptr) {
        auto deadline = std::chrono::steady_clock::now() + timeout;
        for (;;) {
            if (buf_.size() >= sizeof(vg_header)) {
                vg_header h;
                std::memcpy(&h, buf_.data(), sizeof(h));
                if (buf_.size() >= sizeof(h) + h.len) {
                    Frame f{h.type, h.id, buf_.substr(sizeof(h), h.len)};
                    buf_.erase(0, sizeof(h) + h.len);
                    return f;
                }
            }
            auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
            pollfd p{fd_, POLLIN, 0};
            if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0)
                return std::nullopt;
            char tmp[65536];
            ssize_t n = ::read(fd_, tmp, sizeof(tmp));
            if (n <= 0) {
                if (eof)
                    *eof = true;
                return std::nullopt;
            }
            buf_.append(tmp, static_cast<size_t>(n));
        }
    }
    // One frame: DATA kept by stream (and acknowledged unless ack is false),
    // ACKs counted against what was sent, CLOSE noted.
    bool take(std::chrono::milliseconds timeout, bool ack = true) {
        auto f = next(timeout);
        if (!f)
            return false;
        if (f->type == VG_NET_DATA) {
            data_[f->id] += f->payload;
            received_[f->id] += f->payload.size();
            if (ack)
                this->ack(f->id);
        } else if (f->type == VG_NET_ACK) {
            auto kv = KvList::parse(f->payload);
            size_t n = std::stoul(kv ? kv->get("bytes").value_or("0") : "0");
            EXPECT_LE(n, sent_[f->id]) << "stream " << f->id;
            sent_[f->id] -= std::min(n, sent_[f->id]);
        } else if (f->type == VG_NET_CLOSE) {
            closed_.insert(f->id);
        } else {
            ADD_FAILURE() << "frame type " << f->type << " from the proxy: " << f->payload;
        }
        return true;
    }
    void ack(uint32_t id) {
        if (received_[id])
            send(VG_NET_ACK, id, KvList().add("bytes", std::to_string(std::exchange(received_[id], 0))).bytes());
    }
    // Sends bytes on stream id as a guest does: within the window that the
    // proxy's ACKs open.
    void upload(uint32_t id, const std::string& data) {
        for (size_t off = 0; off < data.size();) {
            while (sent_[id] + 32768 > VG_NET_WINDOW)
                if (!take(std::chrono::seconds(10))) {
                    ADD_FAILURE() << "no ACK from the proxy on stream " << id;
                    return;
                }
            size_t n = std::min<size_t>(32768, data.size() - off);
            send(VG_NET_DATA, id, data.substr(off, n));
            off += n;
        }
    }
    // The stream's bytes so far, once `until` is among them or the proxy
    // closed the stream (or 20 s passed); they are taken.
    std::string collect(uint32_t id, const std::string& until = {}) {
        while (!closed_.count(id) && (until.empty() || data_[id].find(until) == std::string::npos))
            if (!take(std::chrono::seconds(20)))
                break;
        return std::exchange(data_[id], {});
    }
    bool closed(uint32_t id) const { return closed_.count(id) > 0; }
    size_t received(uint32_t id) { return received_[id]; }
    size_t buffered(uint32_t id) { return data_[id].size(); }

private:
    int fd_;
    std::string buf_;
    std::map<uint32_t, std::string> data_;
    std::map<uint32_t, size_t> sent_, received_;  // not yet acknowledged
    std::set<uint32_t> closed_;
};

class VmTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        if (::geteuid() != 0) {
            skip_ = "needs root (the supervisor bind-mounts the workspace in a mount namespace)";
            return;
        }
        ImageInputs in;
        in.kernel_tree = std::string(BULKHEAD_VM_ASSETS) + "/kernel";
        in.guest_agent = BULKHEAD_GUEST_AGENT_BUILD;
        if (!fs::exists(in.kernel_tree + "/boot")) {
            skip_ = "no guest kernel in " + in.kernel_tree + " (bulkhead vm prepare --assets " BULKHEAD_VM_ASSETS ")";
            return;
        }
        auto err = build_image(in, BULKHEAD_VM_ASSETS, &spec_.image);
        ASSERT_EQ(err, "");
        run_dir_ = fs::temp_directory_path() / ("vm_test." + std::to_string(::getpid()));
        spec_.run_dir = run_dir_;
        spec_.name = "suite";
        spec_.supervisor = {BULKHEAD_BINARY, "vm-supervise"};
        spec_.limits = {1, 384, 64, 64};
        vm_ = Vm::boot(spec_, &err).release();
        ASSERT_NE(vm_, nullptr) << err;
        ws_ = fs::path("/var/tmp") / ("vm_test-ws." + std::to_string(::getpid()));
        fs::create_directories(ws_ + "/src");
        fs::create_directories(ws_ + "/.git/hooks");
        fs::create_directories(ws_ + "/.ssh");
        std::ofstream(ws_ + "/src/a.c") << "int a;\n";
        std::ofstream(ws_ + "/gone.txt") << "bye\n";
        std::ofstream(ws_ + "/.ssh/id_ed25519") << "PRIVATE-KEY-MATERIAL\n";
        ASSERT_EQ(vm_->attach(ws_, {ws_ + "/.ssh"}, 0, 0), "");
    }
    static void TearDownTestSuite() {
        delete vm_;
        vm_ = nullptr;
        std::error_code ec;
        fs::remove_all(ws_, ec);
        fs::remove(run_dir_, ec);
    }
    void SetUp() override {
        if (!skip_.empty())
            GTEST_SKIP() << skip_;
    }

    static Output run(const std::string& script, std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
        Output o;
        ExecRequest req;
        req.argv = {"/bin/sh", "-c", script};
        req.cwd = ws_;
        req.timeout = timeout;
        o.res = vm_->exec(req, [&](const std::string& s) { o.out += s; }, [&](const std::string& s) { o.err += s; });
        return o;
    }

    static inline std::string skip_;
    static inline VmSpec spec_;
    static inline Vm* vm_ = nullptr;
    static inline std::string ws_, run_dir_;
};

TEST_F(VmTest, OutputAndExitStatusRoundTrip) {
    auto o = run("echo out; echo err >&2; exit 3");
    EXPECT_EQ(o.res.error, "");
    EXPECT_EQ(o.out, "out\n");
    EXPECT_EQ(o.err, "err\n");
    EXPECT_EQ(o.res.code, 3);
    o = run("kill -KILL $$");
    EXPECT_EQ(o.res.signal, 9);
    o = run("sleep 30", std::chrono::seconds(1));
    EXPECT_TRUE(o.res.timed_out);
    EXPECT_EQ(o.res.signal, 9);
    // 200 KiB of output arrives whole, in order.
    o = run("seq 1 40000");
    EXPECT_EQ(o.out.size(), 228894u);
    EXPECT_EQ(o.out.substr(o.out.size() - 6), "40000\n");
}

TEST_F(VmTest, HostSecretsAreNotThere) {
    // Host homes, keys and credentials: absent. The workspace's own .ssh: empty.
    auto o = run("ls -A /root /home; ls /root/.ssh/id_* /home/*/.ssh/id_* /root/.aws/credentials; "
                 "cat /etc/shadow; cat .ssh/id_ed25519; ls -A .ssh | wc -l");
    EXPECT_EQ(o.out, "/home:\n\n/root:\n0\n") << o.err;
    EXPECT_NE(o.err.find("/etc/shadow: No such file"), std::string::npos) << o.err;
    EXPECT_EQ((o.out + o.err).find("PRIVATE-KEY"), std::string::npos);
    std::error_code ec;
    for (const auto& e : fs::directory_iterator("/root/.ssh", ec)) {
        std::ifstream f(e.path());
        std::string head(32, '\0');
        f.read(head.data(), 32);
        head.resize(static_cast<size_t>(f.gcount()));
        if (head.size() >= 16) {
            EXPECT_EQ((o.out + o.err).find(head), std::string::npos) << e.path();
        }
    }
    // Only /usr of the host comes in, read-only.
    o = run("touch /usr/bulkhead-probe");
    EXPECT_NE(o.err.find("Read-only file system"), std::string::npos) << o.err;
}

TEST_F(VmTest, NoNetwork) {
    auto o = run("ls /sys/class/net; /usr/bin/python3 -c '\n"
                 "import errno, socket\n"
                 "for addr in ((\"1.1.1.1\", 443), (\"169.254.169.254\", 80), (\"127.0.0.1\", 3128)):\n"
                 "    s = socket.socket(); s.settimeout(3)\n"
                 "    try: s.connect(addr); print(\"connected\")\n"
                 "    except OSError as e: print(errno.errorcode[e.errno])\n'");
    // Without egress no proxy listens on lo.
    EXPECT_EQ(o.out, "lo\nENETUNREACH\nENETUNREACH\nECONNREFUSED\n") << o.err;
}

TEST_F(VmTest, ForkBombAndMemoryHogHitTheLimits) {
    auto o = run("bomb() { bomb | bomb & }; bomb; sleep 5; echo survived", std::chrono::seconds(20));
    EXPECT_NE(o.err.find("fork"), std::string::npos) << "no fork failure: " << o.err.substr(0, 300);
    o = run("/usr/bin/python3 -c 'b = []\nwhile True: b.append(bytearray(16 << 20))'", std::chrono::seconds(60));
    // Killed by the OOM killer (the shell reports 128+9) or refused memory.
    EXPECT_TRUE(o.res.signal == 9 || o.res.code == 137 || o.err.find("MemoryError") != std::string::npos)
        << "code " << o.res.code << " " << o.err.substr(0, 300);
    // The agent and the VM are still there.
    o = run("echo alive");
    EXPECT_EQ(o.out, "alive\n");
    EXPECT_TRUE(vm_->alive());
}

TEST_F(VmTest, DiffListsExactlyTheChangesAndApplyRefusesAGitHook) {
    auto o = run("echo 'int b;' > src/b.c; echo 'int a2;' >> src/a.c; rm gone.txt; mkdir -p out/x; "
                 "echo z > out/x/z; printf '#!/bin/sh\\ncurl evil\\n' > .git/hooks/pre-commit; "
                 "chmod +x .git/hooks/pre-commit; echo '{}' > .mcp.json");
    ASSERT_EQ(o.res.code, 0) << o.err;
    std::vector<Change> changes;
    ASSERT_EQ(vm_->diff(&changes), "");
    std::set<std::string> got;
    for (const auto& c : changes)
        got.insert(std::string(1, c.op) + c.type + " " + c.path);
    std::set<std::string> want = {"Mf src/a.c", "Af src/b.c",    "Df gone.txt",           "Ad out",
                                  "Af out/x/z", "Af .mcp.json", "Af .git/hooks/pre-commit"};
    // out/x is inside the new directory out: listed too.
    want.insert("Ad out/x");
    EXPECT_EQ(got, want);
    // The host still has the old state.
    EXPECT_TRUE(fs::exists(ws_ + "/gone.txt"));
    // A link planted on the host where the VM made a directory must not
    // carry the write outside the workspace.
    auto outside = ws_ + ".outside";
    fs::create_directories(outside);
    fs::create_directory_symlink(outside, ws_ + "/out");
    auto r = apply(*vm_, changes, ws_, {});
    std::set<std::string> refused;
    for (const auto& [p, why] : r.refused)
        refused.insert(p);
    EXPECT_EQ(refused, (std::set<std::string>{".git/hooks/pre-commit", ".mcp.json"}));
    EXPECT_TRUE(r.failed.empty()) << r.failed[0].first << ": " << r.failed[0].second;
    EXPECT_FALSE(fs::exists(ws_ + "/.git/hooks/pre-commit"));
    EXPECT_FALSE(fs::exists(ws_ + "/.mcp.json"));
    EXPECT_FALSE(fs::exists(ws_ + "/gone.txt"));
    std::ifstream b(ws_ + "/src/b.c");
    std::string line;
    std::getline(b, line);
    EXPECT_EQ(line, "int b;");
    EXPECT_TRUE(fs::is_directory(fs::symlink_status(ws_ + "/out")));
    EXPECT_TRUE(fs::exists(ws_ + "/out/x/z"));
    EXPECT_TRUE(fs::is_empty(outside));
    fs::remove_all(outside);
}

TEST_F(VmTest, MalformedFramesAreRefusedAndTheAgentGoesOn) {
    std::string err;
    {
        auto ch = Channel::connect(vm_->exec_socket(), std::chrono::seconds(5), &err);
        ASSERT_TRUE(ch) << err;
        // A daemon-only request on the session's port.
        ASSERT_EQ(ch->send(VG_DIFF, 7), "");
        auto f = ch->receive(std::chrono::seconds(60), &err);
        ASSERT_TRUE(f) << err;
        EXPECT_EQ(f->type, VG_ERROR);
        EXPECT_NE(f->payload.find("not allowed on the exec port"), std::string::npos) << f->payload;
        // A key/value list that is cut off.
        ASSERT_EQ(ch->send(VG_EXEC, 8, std::string("arg\0ls", 6)), "");
        f = ch->receive(std::chrono::seconds(60), &err);
        ASSERT_TRUE(f) << err;
        EXPECT_NE(f->payload.find("malformed"), std::string::npos) << f->payload;
        // A header announcing more than the limit: the stream is dropped.
        vg_header h{VG_MAX_PAYLOAD + 1, VG_EXEC, 0, 9};
        ASSERT_EQ(::send(ch->fd(), &h, sizeof(h), 0), static_cast<ssize_t>(sizeof(h)));
        f = ch->receive(std::chrono::seconds(60), &err);
        ASSERT_TRUE(f) << err;
        EXPECT_NE(f->payload.find("stream dropped"), std::string::npos) << f->payload;
    }
    // The guest side as untrusted: a malformed list is refused here too.
    EXPECT_FALSE(KvList::parse(std::string("odd\0", 4)).has_value());
    EXPECT_FALSE(KvList::parse(std::string("key\0value", 9)).has_value());
    auto o = run("echo still-here");
    EXPECT_EQ(o.out, "still-here\n");
}

TEST_F(VmTest, AGuestPanicLeavesNothingBehind) {
    VmSpec s = spec_;
    s.name = "panic";
    std::string err;
    auto vm = Vm::boot(s, &err);
    ASSERT_NE(vm, nullptr) << err;
    auto dir = vm->dir();
    pid_t qemu = vm->qemu_pid();
    ExecRequest req;
    req.argv = {"/bin/sh", "-c", "echo c > /proc/sysrq-trigger"};
    auto res = vm->exec(req, [](const std::string&) {}, [](const std::string&) {});
    EXPECT_NE(res.error, "");  // the channel dies with the guest
    for (int i = 0; i < 100 && vm->alive(); i++)
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    EXPECT_FALSE(vm->alive());
    for (int i = 0; i < 50 && fs::exists(dir); i++)
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    EXPECT_FALSE(fs::exists(dir)) << "the supervisor left " << dir;
    EXPECT_NE(::kill(qemu, 0), 0);
    vm.reset();
}

TEST_F(VmTest, EgressGoesOnlyThroughTheHostProxyAndItsAllowList) {
    TestServer srv;
    const uint16_t port = srv.port(), other = port == 65535 ? port - 1 : port + 1;
    const std::string p = std::to_string(port), q = std::to_string(other);
    VmSpec s = spec_;
    s.name = "egress";
    s.egress = true;
    std::string err;
    auto vm = Vm::boot(s, &err);
    ASSERT_NE(vm, nullptr) << err;
    {
        // The net port carries NET_* frames only.
        auto ch = Channel::connect(vm->net_socket(), std::chrono::seconds(5), &err);
        ASSERT_TRUE(ch) << err;
        ASSERT_EQ(ch->send(VG_EXEC, 5, KvList().add("arg", "/bin/true").bytes()), "");
        auto f = ch->receive(std::chrono::seconds(60), &err);
        ASSERT_TRUE(f) << err;
        EXPECT_EQ(f->type, VG_ERROR);
        EXPECT_EQ(f->payload, "frame type 2 is not allowed on the net port");
    }
    // The agent takes a hang-up for one after a second (agent.c, main).
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    Decisions d;
    auto proxy = std::make_unique<EgressProxy>(vm->net_socket(), rules({"127.0.0.1/32:" + p, "169.254.0.0/16:80"}),
                                               d.on_decision(), d.on_error());
    for (int i = 0; i < 200 && !proxy->connected(); i++)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    ASSERT_TRUE(proxy->connected()) << proxy->error();

    // Each case prints "NAME HEX-OF-WHAT-IT-GOT".
    const std::string script = R"(
import binascii, errno, os, socket, time
P, Q = )" + p + ", " + q + R"(
GREETING = b"bulkhead-egress-test\n"
def out(name, data):
    print(name, binascii.hexlify(data if isinstance(data, bytes) else data.encode()).decode(), flush=True)
def proxy(rcvbuf=0):
    s = socket.socket()
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(60)
    s.connect(("127.0.0.1", 3128))
    return s
def read_until(s, marker, data=b""):
    while marker not in data:
        c = s.recv(65536)
        if not c:
            break
        data += c
    return data
def read_all(s, data=b""):
    while True:
        c = s.recv(65536)
        if not c:
            s.close()
            return data
        data += c
def ask(request):
    s = proxy()
    s.sendall(request.encode())
    return read_all(s)
for k in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "no_proxy"):
    out("env-" + k, os.environ.get(k, "unset"))
# x: 1 MiB up, then 1 MiB down to a client that does not read yet, so that
# its stream's window fills while the other cases run.
N = 1 << 20
pat = (bytes(range(251)) * (N // 251 + 1))[:N]
x = proxy(rcvbuf=4096)
x.sendall(b"CONNECT 127.0.0.1:%d HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n" % (P, P))
out("x-head", read_until(x, GREETING))
x.sendall(b"BIG %d\r\n\r\n" % N + pat)
time.sleep(2)
a = proxy()
a.sendall(b"CONNECT 127.0.0.1:%d HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n" % (P, P))
got = read_until(a, GREETING)
a.sendall(b"PING\r\n\r\n")
out("a", read_all(a, got))
out("b", ask("CONNECT 127.0.0.1:%d HTTP/1.1\r\n\r\n" % Q))
out("c", ask("CONNECT 169.254.169.254:80 HTTP/1.1\r\n\r\n"))
for host, port in (("10.0.2.2", 80), ("1.1.1.1", 443), ("169.254.169.254", 80)):
    s = socket.socket()
    s.settimeout(5)
    try:
        s.connect((host, port))
        out("d-" + host, "connected")
    except OSError as e:
        out("d-" + host, errno.errorcode.get(e.errno, str(e)))
out("e", ask("GET http://127.0.0.1:%d/probe HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n" % (P, P)))
out("f", ask("BREW /pot HTCPCP/1.0\r\n\r\n"))
data = read_all(x)
out("x", b"ok" if data == b"got %d ok\n" % N + pat else b"%d bytes: %r" % (len(data), data[:60]))
)";
    ExecRequest req;
    req.argv = {"/usr/bin/python3", "-c", script};
    req.cwd = "/";
    req.timeout = std::chrono::seconds(240);
    Output o;
    o.res = vm->exec(req, [&](const std::string& s) { o.out += s; }, [&](const std::string& s) { o.err += s; });
    ASSERT_EQ(o.res.error, "");
    EXPECT_EQ(o.res.code, 0) << o.err;
    std::map<std::string, std::string> got;
    std::istringstream lines(o.out);
    for (std::string line; std::getline(lines, line);) {
        auto sp = line.find(' ');
        std::string hex = line.substr(sp + 1), raw;
        for (size_t i = 0; i + 1 < hex.size(); i += 2)
            raw += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
        got[line.substr(0, sp)] = raw;
    }
    const std::string established = "HTTP/1.1 200 Connection established\r\n\r\n";
    const std::string greeting = TestServer::kGreeting;
    for (const char* k : {"http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"})
        EXPECT_EQ(got[std::string("env-") + k], "http://127.0.0.1:3128") << k;
    EXPECT_EQ(got["env-no_proxy"], "localhost,127.0.0.1");
    // (a) through the proxy to the allowed server, both ways, while x waits.
    EXPECT_EQ(got["x-head"], established + greeting);
    EXPECT_EQ(got["a"], established + greeting);
    // (b) another port, (c) metadata though 169.254.0.0/16:80 is listed.
    EXPECT_EQ(got["b"], http_reply("403 Forbidden",
                                   "bulkhead: egress to 127.0.0.1:" + q + " is not in this microVM's allow list"));
    EXPECT_EQ(got["c"],
              http_reply("403 Forbidden", "bulkhead: egress to 169.254.169.254:80 is a cloud metadata address"));
    // (d) no route but the proxy.
    for (const char* h : {"10.0.2.2", "1.1.1.1", "169.254.169.254"})
        EXPECT_EQ(got[std::string("d-") + h], "ENETUNREACH") << h;
    // (e) absolute-form reaches the server unchanged.
    EXPECT_EQ(got["e"], greeting);
    EXPECT_EQ(got["f"], http_reply("400 Bad Request", "bulkhead: malformed proxy request: not HTTP/1.0 or HTTP/1.1"));
    EXPECT_EQ(got["x"], "ok");
    const std::string get = "GET http://127.0.0.1:" + p + "/probe HTTP/1.1\r\nHost: 127.0.0.1:" + p + "\r\n\r\n";
    EXPECT_EQ(srv.heads(), (std::vector<std::string>{"BIG 1048576\r\n\r\n", "PING\r\n\r\n", get}));

    struct Want {
        std::string method, host;
        uint16_t port;
        std::string address;
        bool allowed;
        std::string reason;
    };
    const std::vector<Want> want = {
        {"CONNECT", "127.0.0.1", port, "127.0.0.1", true, "allowed by 127.0.0.1/32:" + p},
        {"CONNECT", "127.0.0.1", port, "127.0.0.1", true, "allowed by 127.0.0.1/32:" + p},
        {"CONNECT", "127.0.0.1", other, "127.0.0.1", false, "no rule allows 127.0.0.1:" + q},
        {"CONNECT", "169.254.169.254", 80, "169.254.169.254", false,
         "169.254.169.254 is a cloud metadata address (always denied)"},
        {"GET", "127.0.0.1", port, "127.0.0.1", true, "allowed by 127.0.0.1/32:" + p},
        {"", "", 0, "", false, "malformed request: not HTTP/1.0 or HTTP/1.1"},
    };
    auto decisions = d.get();
    ASSERT_EQ(decisions.size(), want.size());
    std::set<uint32_t> ids;
    for (size_t i = 0; i < want.size(); i++) {
        const auto& w = want[i];
        const auto& g = decisions[i];
        SCOPED_TRACE(describe(g));
        EXPECT_EQ(g.method, w.method);
        EXPECT_EQ(g.host, w.host);
        EXPECT_EQ(g.port, w.port);
        EXPECT_EQ(g.address, w.address);
        EXPECT_EQ(g.allowed, w.allowed);
        EXPECT_EQ(g.reason, w.reason);
        EXPECT_EQ(g.error, "");
        ids.insert(g.stream);
    }
    EXPECT_EQ(ids.size(), want.size()) << "stream ids are never reused";
    EXPECT_TRUE(d.get_errors().empty()) << d.get_errors()[0];

    // A request's own proxy settings win.
    ExecRequest own;
    own.argv = {"/bin/sh", "-c", "echo $http_proxy $HTTPS_PROXY"};
    own.env = {"PATH=/usr/bin:/bin", "http_proxy=http://custom:1"};
    o = {};
    o.res = vm->exec(own, [&](const std::string& s) { o.out += s; }, [&](const std::string& s) { o.err += s; });
    EXPECT_EQ(o.out, "http://custom:1 http://127.0.0.1:3128\n") << o.err;

    // The proxy sees the VM go.
    vm.reset();
    for (int i = 0; i < 100 && proxy->connected(); i++)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    EXPECT_FALSE(proxy->connected());
    EXPECT_EQ(proxy->error(), "egress: the guest's net port closed (the VM stopped)");
    EXPECT_TRUE(d.get_errors().empty());
}

TEST_F(VmTest, KvmProbeAnswersWithAReason) {
    auto p = probe_kvm(spec_, std::chrono::seconds(20));
    EXPECT_NE(p.why, "");
    if (!p.usable) {
        EXPECT_NE(p.why.find("/dev/kvm"), std::string::npos) << p.why;
    }
    std::cout << "kvm probe: " << (p.usable ? "usable" : "not usable") << ": " << p.why << "\n";
}

// ---- egress: the allow list's forms ----

TEST(EgressRule, ParsesTheAcceptedForms) {
    struct Case {
        std::string text, host, cidr;
        uint16_t lo, hi;
        std::string round_trip;  // egress_rule_text
    };
    const std::vector<Case> cases = {
        {"pypi.org", "pypi.org", "", 1, 65535, "pypi.org"},
        {"PyPI.org:443", "pypi.org", "", 443, 443, "pypi.org:443"},
        {"example.com.:8000-8080", "example.com", "", 8000, 8080, "example.com:8000-8080"},
        {"10.0.0.0/8", "", "10.0.0.0/8", 1, 65535, "10.0.0.0/8"},
        {"10.0.0.0/8:80", "", "10.0.0.0/8", 80, 80, "10.0.0.0/8:80"},
        {"127.0.0.1:5000", "", "127.0.0.1/32", 5000, 5000, "127.0.0.1/32:5000"},
        {"0.0.0.0/0:443-444", "", "0.0.0.0/0", 443, 444, "0.0.0.0/0:443-444"},
        {"169.254.0.0/16:80", "", "169.254.0.0/16", 80, 80, "169.254.0.0/16:80"},
        {"2001:db8::/32", "", "2001:db8::/32", 1, 65535, "2001:db8::/32"},
        {"[2001:db8::/32]:443", "", "2001:db8::/32", 443, 443, "[2001:db8::/32]:443"},
        {"[::1]:8080", "", "::1/128", 8080, 8080, "[::1/128]:8080"},
        {"::1", "", "::1/128", 1, 65535, "::1/128"},
        // IPv4-mapped networks are the IPv4 networks they map.
        {"[::ffff:10.0.0.0/104]:80", "", "10.0.0.0/8", 80, 80, "10.0.0.0/8:80"},
    };
    for (const auto& c : cases) {
        EgressRule r;
        auto e = parse_egress_rule(c.text, &r);
        ASSERT_FALSE(e.has_value()) << c.text << ": " << *e;
        EXPECT_EQ(r.host, c.host) << c.text;
        EXPECT_EQ(r.cidr, c.cidr) << c.text;
        EXPECT_EQ(r.port_lo, c.lo) << c.text;
        EXPECT_EQ(r.port_hi, c.hi) << c.text;
        EXPECT_EQ(egress_rule_text(r), c.round_trip) << c.text;
        EgressRule again;
        EXPECT_FALSE(parse_egress_rule(egress_rule_text(r), &again).has_value()) << c.text;
    }
}

TEST(EgressRule, RejectsWithAMessageNamingTheProblem) {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"", "egress rule is empty"},
        {std::string("a\0b", 3), "egress rule 'a\\x00b' contains a NUL byte at offset 1"},
        {"*.example.com", "egress rule '*.example.com': wildcards are not supported; list each host name"},
        {"example.com:0", "egress rule 'example.com:0': bad port '0' (1-65535, or LO-HI)"},
        {"example.com:65536", "egress rule 'example.com:65536': bad port '65536' (1-65535, or LO-HI)"},
        {"example.com:http", "egress rule 'example.com:http': bad port 'http' (1-65535, or LO-HI)"},
        {"example.com:80-", "egress rule 'example.com:80-': bad port '80-' (1-65535, or LO-HI)"},
        {"example.com:", "egress rule 'example.com:': no port after ':'"},
        {"example.com:90-80", "egress rule 'example.com:90-80': port range 90-80 is reversed"},
        {":443", "egress rule ':443': no host name or network before the port"},
        {"exa_mple.com", "egress rule 'exa_mple.com': host name contains byte '_' at offset 3; only letters, "
                         "digits, '-' and '.' are allowed"},
        {"a..b", "egress rule 'a..b': host name has an empty label at offset 2"},
        {"-a.com:80", "egress rule '-a.com:80': host name has a label starting or ending with '-' at offset 0"},
        {"10.1", "egress rule '10.1': host name ends in an all-digit label, so it reads as an IP address; write "
                 "addresses as networks (10.0.0.1/32)"},
        {"10.0.0.0/33", "egress rule '10.0.0.0/33': bad prefix length '33' (0-32 for IPv4)"},
        {"10.0.0.0/x:80", "egress rule '10.0.0.0/x:80': bad prefix length 'x' (0-32 for IPv4)"},
        {"2001:db8::/129", "egress rule '2001:db8::/129': bad prefix length '129' (0-128 for IPv6)"},
        {"10.0.0.1/8", "egress rule '10.0.0.1/8': 10.0.0.1/8 has host bits set; the network is 10.0.0.0/8"},
        {"999.1.1.1/8", "egress rule '999.1.1.1/8': '999.1.1.1' is not an IPv4 or IPv6 address"},
        {"2001:db8::/32:443", "egress rule '2001:db8::/32:443': an IPv6 network with a port needs brackets: "
                              "'[2001:db8::/32]:443'"},
        {"[::1:443", "egress rule '[::1:443': '[' without ']'"},
        {"[::1]443", "egress rule '[::1]443': expected ':PORT' after ']'"},
        {"[example.com]:443", "egress rule '[example.com]:443': brackets are for IPv6 networks only"},
    };
    for (const auto& [text, want] : cases) {
        EgressRule r;
        auto e = parse_egress_rule(text, &r);
        ASSERT_TRUE(e.has_value()) << text << " was accepted";
        EXPECT_EQ(*e, want);
    }
}

// ---- egress: the proxy's side of the net port, without a VM ----

class EgressProxyTest : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() / ("egress_test." + std::to_string(::getpid()));
        fs::create_directories(dir_);
        path_ = dir_ + "/net.sock";
        listen_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_un a{};
        a.sun_family = AF_UNIX;
        std::strcpy(a.sun_path, path_.c_str());
        ASSERT_EQ(::bind(listen_, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0) << std::strerror(errno);
        ASSERT_EQ(::listen(listen_, 4), 0);
    }
    void TearDown() override {
        ::close(listen_);
        std::error_code ec;
        fs::remove_all(dir_, ec);
    }
    // The proxy's connection, as QEMU would take it.
    std::unique_ptr<NetPeer> accept_proxy() {
        pollfd p{listen_, POLLIN, 0};
        if (::poll(&p, 1, 10'000) != 1)
            return nullptr;
        return std::make_unique<NetPeer>(::accept4(listen_, nullptr, nullptr, SOCK_CLOEXEC));
    }
    static uint16_t free_port() {
        int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof(a);
        ::bind(fd, reinterpret_cast<sockaddr*>(&a), len);
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
        ::close(fd);
        return ntohs(a.sin_port);
    }

    std::string dir_, path_;
    int listen_ = -1;
};

TEST_F(EgressProxyTest, ServesStreamsByTheAllowListAndDropsAGuestThatBreaksTheProtocol) {
    TestServer srv;
    const std::string p = std::to_string(srv.port());
    const uint16_t closed_port = free_port();
    const std::string c = std::to_string(closed_port);
    Decisions d;
    EgressProxy proxy(path_, rules({"127.0.0.1/32:" + p, "169.254.0.0/16:80", "127.0.0.1:" + c, "localhost:7"}),
                      d.on_decision(), d.on_error());
    auto peer = accept_proxy();
    ASSERT_TRUE(peer);
    const std::string established = "HTTP/1.1 200 Connection established\r\n\r\n";
    const std::string greeting = TestServer::kGreeting;
    auto ask = [&](uint32_t id, const std::string& request) {
        peer->send(VG_NET_OPEN, id);
        peer->send(VG_NET_DATA, id, request);
        auto got = peer->collect(id);
        EXPECT_TRUE(peer->closed(id)) << "stream " << id;
        return got;
    };
    auto forbidden = [](const std::string& target, const std::string& why) {
        return http_reply("403 Forbidden", "bulkhead: egress to " + target + " " + why);
    };
    const std::string not_listed = "is not in this microVM's allow list";

    // A tunnel: 200, then both directions.
    peer->send(VG_NET_OPEN, 1);
    peer->send(VG_NET_DATA, 1, "CONNECT 127.0.0.1:" + p + " HTTP/1.1\r\nHost: 127.0.0.1:" + p + "\r\n\r\n");
    EXPECT_EQ(peer->collect(1, greeting), established + greeting);
    peer->send(VG_NET_DATA, 1, "PING\r\n\r\n");
    EXPECT_EQ(peer->collect(1), "");
    EXPECT_TRUE(peer->closed(1));

    EXPECT_EQ(ask(2, "CONNECT 127.0.0.1:1 HTTP/1.1\r\n\r\n"), forbidden("127.0.0.1:1", not_listed));
    // Metadata, though 169.254.0.0/16:80 is listed; an IPv4-mapped form too.
    EXPECT_EQ(ask(3, "CONNECT 169.254.169.254:80 HTTP/1.1\r\n\r\n"),
              forbidden("169.254.169.254:80", "is a cloud metadata address"));
    EXPECT_EQ(ask(4, "CONNECT [::ffff:169.254.169.254]:80 HTTP/1.0\r\n\r\n"),
              forbidden("[::ffff:169.254.169.254]:80", "is a cloud metadata address"));
    EXPECT_EQ(ask(5, "CONNECT [::1]:" + p + " HTTP/1.1\r\n\r\n"), forbidden("[::1]:" + p, not_listed));
    // Absolute-form: forwarded as it came.
    const std::string get = "GET http://127.0.0.1:" + p + "/probe?x=1 HTTP/1.1\r\nHost: 127.0.0.1:" + p +
                            "\r\nX-Test: 1\r\n\r\n";
    EXPECT_EQ(ask(6, get), greeting);
    EXPECT_EQ(ask(7, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
              http_reply("400 Bad Request", "bulkhead: malformed proxy request: not a proxy request (CONNECT or an "
                                            "absolute http:// URL)"));
    EXPECT_EQ(ask(8, "GET http://user@127.0.0.1:" + p + "/ HTTP/1.1\r\n\r\n"),
              http_reply("400 Bad Request", "bulkhead: malformed proxy request: user information in the URL"));
    EXPECT_EQ(ask(9, "GET http://127.0.0.1:" + p + "/ HTTP/1.1\r\nX: " + std::string(9000, 'a')),
              http_reply("431 Request Header Fields Too Large",
                         "bulkhead: the request's header is larger than 8192 bytes"));
    EXPECT_EQ(ask(10, "CONNECT 127.0.0.1:" + c + " HTTP/1.1\r\n\r\n"),
              http_reply("502 Bad Gateway", "bulkhead: cannot connect to 127.0.0.1:" + c + ": Connection refused"));
    // A name rule never opens the host's loopback.
    EXPECT_EQ(ask(11, "CONNECT localhost:7 HTTP/1.1\r\n\r\n"), forbidden("localhost:7", not_listed));

    // 1 MiB up and down within the window: the proxy sends no more than
    // VG_NET_WINDOW bytes that the guest has not acknowledged.
    const size_t n = 1 << 20;
    peer->send(VG_NET_OPEN, 12);
    peer->send(VG_NET_DATA, 12, "CONNECT 127.0.0.1:" + p + " HTTP/1.1\r\n\r\n");
    EXPECT_EQ(peer->collect(12, greeting), established + greeting);
    peer->upload(12, "BIG " + std::to_string(n) + "\r\n\r\n");
    peer->upload(12, pattern(n));
    while (peer->take(std::chrono::milliseconds(1000), /* ack = */ false)) {
    }
    EXPECT_EQ(peer->received(12), static_cast<size_t>(VG_NET_WINDOW));
    peer->ack(12);
    auto big = peer->collect(12);
    EXPECT_TRUE(peer->closed(12));
    EXPECT_EQ(big.size(), std::string("got 1048576 ok\n").size() + n);
    EXPECT_TRUE(big == "got 1048576 ok\n" + pattern(n)) << big.substr(0, 40);

    auto heads = srv.heads();
    EXPECT_EQ(heads, (std::vector<std::string>{"PING\r\n\r\n", get, "BIG 1048576\r\n\r\n"}));

    struct Want {
        uint32_t stream;
        std::string method, host;
        uint16_t port;
        std::string address;
        bool allowed;
        std::string reason, error;
    };
    const uint16_t sp = srv.port();
    const std::vector<Want> want = {
        {1, "CONNECT", "127.0.0.1", sp, "127.0.0.1", true, "allowed by 127.0.0.1/32:" + p, ""},
        {2, "CONNECT", "127.0.0.1", 1, "127.0.0.1", false, "no rule allows 127.0.0.1:1", ""},
        {3, "CONNECT", "169.254.169.254", 80, "169.254.169.254", false,
         "169.254.169.254 is a cloud metadata address (always denied)", ""},
        {4, "CONNECT", "::ffff:169.254.169.254", 80, "169.254.169.254", false,
         "169.254.169.254 is a cloud metadata address (always denied)", ""},
        {5, "CONNECT", "::1", sp, "::1", false, "no rule allows [::1]:" + p, ""},
        {6, "GET", "127.0.0.1", sp, "127.0.0.1", true, "allowed by 127.0.0.1/32:" + p, ""},
        {7, "", "", 0, "", false, "malformed request: not a proxy request (CONNECT or an absolute http:// URL)", ""},
        {8, "", "", 0, "", false, "malformed request: user information in the URL", ""},
        {9, "", "", 0, "", false, "malformed request: the header is larger than 8192 bytes", ""},
        {10, "CONNECT", "127.0.0.1", closed_port, "127.0.0.1", true, "allowed by 127.0.0.1/32:" + c,
         "cannot connect to 127.0.0.1:" + c + ": Connection refused"},
        {11, "CONNECT", "localhost", 7, "", false, "", ""},
        {12, "CONNECT", "127.0.0.1", sp, "127.0.0.1", true, "allowed by 127.0.0.1/32:" + p, ""},
    };
    auto got = d.get();
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < want.size(); i++) {
        const auto& w = want[i];
        const auto& g = got[i];
        SCOPED_TRACE(describe(g));
        EXPECT_EQ(g.stream, w.stream);
        EXPECT_EQ(g.method, w.method);
        EXPECT_EQ(g.host, w.host);
        EXPECT_EQ(g.port, w.port);
        EXPECT_EQ(g.allowed, w.allowed);
        EXPECT_EQ(g.error, w.error);
        if (w.stream == 11) {
            // localhost is 127.0.0.1, ::1 or both, in the order of /etc/hosts.
            EXPECT_TRUE(g.address == "127.0.0.1" || g.address == "::1");
            EXPECT_NE(g.reason.find("(the host's loopback needs a CIDR rule inside "), std::string::npos);
        } else {
            EXPECT_EQ(g.address, w.address);
            EXPECT_EQ(g.reason, w.reason);
        }
    }
    EXPECT_TRUE(d.get_errors().empty());
    EXPECT_TRUE(proxy.connected());

    // A guest that acknowledges bytes it never got is dropped.
    peer->send(VG_NET_OPEN, 13);
    peer->send(VG_NET_DATA, 13, "CONNECT 127.0.0.1:" + p + " HTTP/1.1\r\n\r\n");
    EXPECT_EQ(peer->collect(13, greeting), established + greeting);
    peer->send(VG_NET_ACK, 13, KvList().add("bytes", "100000").bytes());
    bool eof = false;
    while (peer->next(std::chrono::seconds(10), &eof)) {
    }
    EXPECT_TRUE(eof);
    const std::string dropped =
        "egress: dropped the guest's net port: stream 13 acknowledged 100000 bytes; 0 were outstanding";
    EXPECT_EQ(proxy.error(), dropped);
    EXPECT_EQ(d.get_errors(), std::vector<std::string>{dropped});
    EXPECT_FALSE(proxy.connected());

    // So is one that sends a frame of a type the net port does not carry.
    Decisions d2;
    EgressProxy proxy2(path_, {}, d2.on_decision(), d2.on_error());
    auto peer2 = accept_proxy();
    ASSERT_TRUE(peer2);
    peer2->send(VG_EXEC, 1, KvList().add("arg", "sh").bytes());
    eof = false;
    while (peer2->next(std::chrono::seconds(10), &eof)) {
    }
    EXPECT_TRUE(eof);
    EXPECT_EQ(proxy2.error(), "egress: dropped the guest's net port: malformed frame (type 2, 7 bytes, flags 0)");
}

}  // namespace
}  // namespace bulkhead::vmguard
