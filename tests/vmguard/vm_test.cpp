// SPDX-License-Identifier: Apache-2.0
// vmguard against real QEMU: one microVM for the suite (a boot costs seconds
// under software emulation), a second one that the panic test kills.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "vmguard/apply.h"
#include "vmguard/vm.h"

namespace bulkhead::vmguard {
namespace {

namespace fs = std::filesystem;

struct Output {
    std::string out, err;
    ExecResult res;
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
                 "for addr in ((\"1.1.1.1\", 443), (\"169.254.169.254\", 80)):\n"
                 "    s = socket.socket(); s.settimeout(3)\n"
                 "    try: s.connect(addr); print(\"connected\")\n"
                 "    except OSError as e: print(errno.errorcode[e.errno])\n'");
    EXPECT_EQ(o.out, "lo\nENETUNREACH\nENETUNREACH\n") << o.err;
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

TEST_F(VmTest, KvmProbeAnswersWithAReason) {
    auto p = probe_kvm(spec_, std::chrono::seconds(20));
    EXPECT_NE(p.why, "");
    if (!p.usable) {
        EXPECT_NE(p.why.find("/dev/kvm"), std::string::npos) << p.why;
    }
    std::cout << "kvm probe: " << (p.usable ? "usable" : "not usable") << ": " << p.why << "\n";
}

}  // namespace
}  // namespace bulkhead::vmguard
