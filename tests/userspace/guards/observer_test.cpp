// SPDX-License-Identifier: Apache-2.0
// Kernel tests of bpf/observer.bpf.c: load it, put a forked child in a
// session cgroup, make the child do the real thing, and check every field of
// the decoded event. Needs root, bpffs, tracefs and cgroup v2; skips with the
// reason otherwise. Tracepoints only, so this runs on hosts without BPF LSM.
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <vector>

#include "bpf_abi.h"
#include "error.h"
#include "events/event.h"
#include "guards/loader.h"
#include "observer.skel.h"
#include "session/sessions.h"

namespace bulkhead::guards {
namespace {

namespace fs = std::filesystem;
using events::Event;

constexpr uint64_t kSession = 777;

class ObserverKernelTest : public ::testing::Test {
protected:
    void SetUp() override {
        if (geteuid() != 0)
            GTEST_SKIP() << "needs root";
        try {
            ensure_bpffs();
            tracefs_ = ensure_tracefs();
        } catch (const FatalError& e) {
            GTEST_SKIP() << e.what();
        }
        std::string cg_root = session::cgroup2_root();
        if (cg_root.empty())
            GTEST_SKIP() << "no cgroup v2 mount";
        tag_ = "bulkhead-observer-test-" + std::to_string(getpid());
        pin_root_ = "/sys/fs/bpf/" + tag_;
        fs::create_directories(pin_root_);
        cgroup_ = cg_root + "/" + tag_;
        ASSERT_EQ(::mkdir(cgroup_.c_str(), 0755), 0) << cgroup_ << ": " << strerror(errno);
        struct stat st{};
        ASSERT_EQ(::stat(cgroup_.c_str(), &st), 0);

        LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = pin_root_.c_str());
        skel_ = observer_bpf__open_opts(&opts);
        ASSERT_TRUE(skel_) << "open: " << strerror(errno);
        int err = observer_bpf__load(skel_);
        ASSERT_EQ(err, 0) << "observer failed to load: " << strerror(-err);
        bpf_program* p;
        bpf_object__for_each_program(p, skel_->obj) {
            std::string sec = bpf_program__section_name(p);
            if (sec.rfind("tracepoint/", 0) == 0 &&
                !fs::exists(tracefs_ + "/events/" + sec.substr(11)))
                continue;  // e.g. init_module without CONFIG_MODULES
            bpf_link* link = bpf_program__attach(p);
            ASSERT_TRUE(link) << sec << ": " << strerror(errno);
            links_.push_back(link);
        }
        bh_session s{kSession, 1, 0, st.st_ino};
        __u64 cg = st.st_ino;  // a cgroup v2 id is its directory's inode
        ASSERT_EQ(bpf_map_update_elem(bpf_map__fd(skel_->maps.session_by_cg), &cg, &s, BPF_ANY), 0);
        ring_ = ring_buffer__new(bpf_map__fd(skel_->maps.events), &ObserverKernelTest::on_record,
                                 this, nullptr);
        ASSERT_TRUE(ring_);
    }

    void TearDown() override {
        if (ring_)
            ring_buffer__free(ring_);
        for (auto* l : links_)
            bpf_link__destroy(l);
        if (skel_)
            observer_bpf__destroy(skel_);
        std::error_code ec;
        if (!pin_root_.empty())
            fs::remove_all(pin_root_, ec);
        if (!cgroup_.empty())
            ::rmdir(cgroup_.c_str());
    }

    static int on_record(void* ctx, void* data, size_t size) {
        auto* self = static_cast<ObserverKernelTest*>(ctx);
        std::string why;
        auto e = events::decode(data, size, &why);
        EXPECT_TRUE(e) << why;
        if (e)
            self->events_.push_back(*e);
        return 0;
    }

    // Runs fn in a child: in the session cgroup when in_session. Returns the
    // child's pid after it exited, with its events collected.
    pid_t run(const std::function<int()>& fn, bool in_session = true) {
        pid_t pid = fork();
        if (pid == 0) {
            if (in_session) {
                std::ofstream(cgroup_ + "/cgroup.procs") << getpid() << std::flush;
            }
            _exit(fn());
        }
        int status = 0;
        waitpid(pid, &status, 0);
        EXPECT_TRUE(WIFEXITED(status)) << status;
        drain();
        return pid;
    }

    void drain() {
        auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(300);
        while (std::chrono::steady_clock::now() < until)
            ring_buffer__poll(ring_, 50);
    }

    std::vector<Event> of(pid_t pid, const std::string& evt_type) const {
        std::vector<Event> out;
        for (const auto& e : events_)
            if (e.tgid == static_cast<uint32_t>(pid) && e.evt_type == evt_type)
                out.push_back(e);
        return out;
    }

    std::string tag_, pin_root_, cgroup_, tracefs_;
    observer_bpf* skel_ = nullptr;
    std::vector<bpf_link*> links_;
    ring_buffer* ring_ = nullptr;
    std::vector<Event> events_;
};

int listener(uint16_t* port) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(s, reinterpret_cast<sockaddr*>(&a), sizeof(a));
    listen(s, 4);
    socklen_t len = sizeof(a);
    getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
    *port = ntohs(a.sin_port);
    return s;
}

int connect_to(int family, int type, uint16_t port) {
    int s = socket(family, type, 0);
    if (family == AF_INET) {
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(port);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        return connect(s, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0 ? 0 : errno;
    }
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    a.sin6_port = htons(port);
    a.sin6_addr = in6addr_loopback;
    return connect(s, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0 ? 0 : errno;
}

TEST_F(ObserverKernelTest, ConnectReportsTheSocketsTupleAndResult) {
    uint16_t port = 0;
    int l = listener(&port);
    pid_t pid = run([&] { return connect_to(AF_INET, SOCK_STREAM, port); });
    close(l);
    auto got = of(pid, "connect");
    ASSERT_EQ(got.size(), 1u);
    const Event& e = got[0];
    EXPECT_EQ(e.kind, "net");
    EXPECT_EQ(e.session, kSession);
    EXPECT_EQ(e.tgid, static_cast<uint32_t>(pid));
    EXPECT_EQ(e.err, 0);
    EXPECT_EQ(e.fd_type, "ipv4");
    EXPECT_EQ(e.l4proto, "tcp");
    EXPECT_EQ(e.rip, "127.0.0.1");
    EXPECT_EQ(e.rport, port);
    EXPECT_EQ(e.lip, "127.0.0.1");
    EXPECT_NE(e.lport, 0);  // bound by the connect
    EXPECT_EQ(e.path, "127.0.0.1:" + std::to_string(e.lport) + "->127.0.0.1:" + std::to_string(port));
    EXPECT_GE(e.fd, 3);
}

TEST_F(ObserverKernelTest, RefusedConnectFallsBackToTheCallersAddress) {
    uint16_t port = 0;
    close(listener(&port));  // nothing listens there any more
    pid_t pid = run([&] { return connect_to(AF_INET6, SOCK_STREAM, port); });
    auto got = of(pid, "connect");
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].err, ECONNREFUSED);
    EXPECT_EQ(got[0].fd_type, "ipv6");
    EXPECT_EQ(got[0].rip, "::1");
    EXPECT_EQ(got[0].rport, port);
}

TEST_F(ObserverKernelTest, UdpAndUnixConnects) {
    std::string path = "/tmp/" + tag_ + ".sock";
    int srv = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un ua{};
    ua.sun_family = AF_UNIX;
    strncpy(ua.sun_path, path.c_str(), sizeof(ua.sun_path) - 1);
    ASSERT_EQ(bind(srv, reinterpret_cast<sockaddr*>(&ua), sizeof(ua)), 0);
    listen(srv, 4);
    pid_t pid = run([&] {
        int u = connect_to(AF_INET, SOCK_DGRAM, 53);
        int s = socket(AF_UNIX, SOCK_STREAM, 0);
        return u | (connect(s, reinterpret_cast<const sockaddr*>(&ua), sizeof(ua)) ? errno : 0);
    });
    close(srv);
    unlink(path.c_str());
    auto got = of(pid, "connect");
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[0].l4proto, "udp");
    EXPECT_EQ(got[0].rport, 53);
    EXPECT_EQ(got[1].fd_type, "unix");
    EXPECT_EQ(got[1].path, path);
    EXPECT_EQ(got[1].err, 0);
}

TEST_F(ObserverKernelTest, MemfdExecIsFlaggedWithItsArgv) {
    pid_t pid = run([] {
        int fd = memfd_create("payload", 0);
        std::ifstream in("/bin/true", std::ios::binary);
        std::string bin((std::istreambuf_iterator<char>(in)), {});
        if (write(fd, bin.data(), bin.size()) != static_cast<ssize_t>(bin.size()))
            return 2;
        std::string self = "/proc/self/fd/" + std::to_string(fd);
        char* argv[] = {const_cast<char*>("payload"), const_cast<char*>("--run"),
                        const_cast<char*>("x y"), nullptr};
        execve(self.c_str(), argv, environ);
        return 3;
    });
    auto memfd = of(pid, "memfd_create");
    ASSERT_EQ(memfd.size(), 1u);
    EXPECT_EQ(memfd[0].kind, "syscall");
    EXPECT_EQ(*memfd[0].evt_arg("name"), "payload");
    EXPECT_GE(std::stoi(*memfd[0].evt_arg("fd")), 3);
    EXPECT_NE(memfd[0].ino, 0u);

    auto exec = of(pid, "execve");
    ASSERT_EQ(exec.size(), 1u);
    const Event& e = exec[0];
    EXPECT_EQ(e.kind, "exec");
    EXPECT_EQ(e.session, kSession);
    EXPECT_TRUE(e.exe_from_memfd);
    EXPECT_EQ(e.exe_ino, memfd[0].ino);
    EXPECT_EQ(e.exe, "/memfd:payload");
    ASSERT_TRUE(e.args);
    EXPECT_EQ(*e.args, "--run x y");
    EXPECT_EQ(e.cmdline, e.comm + " --run x y");
}

TEST_F(ObserverKernelTest, OrdinaryExecIsNotMemfd) {
    pid_t pid = run([] {
        execl("/bin/true", "true", "arg1", nullptr);
        return 3;
    });
    auto exec = of(pid, "execve");
    ASSERT_EQ(exec.size(), 1u);
    EXPECT_FALSE(exec[0].exe_from_memfd);
    EXPECT_EQ(exec[0].comm, "true");
    EXPECT_EQ(exec[0].args, "arg1");
    struct stat st{};
    ASSERT_EQ(stat(exec[0].exe.c_str(), &st), 0) << exec[0].exe;
    EXPECT_EQ(exec[0].exe_ino, st.st_ino);
}

TEST_F(ObserverKernelTest, PtraceAttachIsReportedAndReadsAreNot) {
    pid_t pid = run([] {
        ptrace(PTRACE_ATTACH, 0x3ffffff0, nullptr, nullptr);  // no such pid: ESRCH
        ptrace(PTRACE_PEEKDATA, 0x3ffffff0, nullptr, nullptr);  // a read: not reported
        return 0;
    });
    auto got = of(pid, "ptrace");
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(*got[0].evt_arg("request"), "PTRACE_ATTACH");
    EXPECT_EQ(*got[0].evt_arg("pid"), std::to_string(0x3ffffff0));
    EXPECT_EQ(got[0].err, ESRCH);
}

TEST_F(ObserverKernelTest, NothingOutsideASession) {
    uint16_t port = 0;
    int l = listener(&port);
    pid_t pid = run(
        [&] {
            connect_to(AF_INET, SOCK_STREAM, port);
            memfd_create("outside", 0);
            ptrace(PTRACE_ATTACH, 0x3ffffff0, nullptr, nullptr);
            execl("/bin/true", "true", nullptr);
            return 3;
        },
        /* in_session = */ false);
    close(l);
    for (const auto& e : events_)
        EXPECT_NE(e.tgid, static_cast<uint32_t>(pid)) << e.evt_type;
}

}  // namespace
}  // namespace bulkhead::guards
