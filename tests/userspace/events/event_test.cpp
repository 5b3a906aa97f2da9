// SPDX-License-Identifier: Apache-2.0
#include "events/event.h"

#include <gtest/gtest.h>

#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "bpf_abi.h"
#include "records.h"

namespace bulkhead::events {
namespace {

struct EscapeCase {
    std::string raw;
    std::string want;
};

TEST(EscapePath, KeepsUtf8AndEscapesEverythingElse) {
    const EscapeCase cases[] = {
        {"/root/.ssh/id_ed25519", "/root/.ssh/id_ed25519"},
        {"/tmp/caf\xc3\xa9", "/tmp/caf\xc3\xa9"},            // valid UTF-8 stays
        {"/tmp/\xff\xfe", "/tmp/\\xff\\xfe"},                 // invalid bytes escaped
        {"/tmp/a\nb", "/tmp/a\\x0ab"},                        // newline cannot forge a line
        {"/tmp/back\\slash", "/tmp/back\\x5cslash"},          // escapes stay unambiguous
        {"/tmp/\xc0\xaf", "/tmp/\\xc0\\xaf"},                 // overlong encoding of '/'
        {"/tmp/\xe2\x80\xae", "/tmp/\xe2\x80\xae"},           // RTL override is valid UTF-8
        {std::string("/tmp/nul\0x", 10), "/tmp/nul\\x00x"},
    };
    for (const auto& c : cases)
        EXPECT_EQ(escape_path(c.raw), c.want) << c.raw;
}

TEST(OpName, JoinsBits) {
    EXPECT_EQ(op_name(BH_OP_READ), "read");
    EXPECT_EQ(op_name(BH_OP_READ | BH_OP_WRITE), "read|write");
    EXPECT_EQ(op_name(BH_OP_RENAME | BH_OP_CREATE), "create|rename");
    EXPECT_EQ(op_name(0), "none");
    EXPECT_EQ(evt_type_for(BH_OP_READ), "open");
    EXPECT_EQ(evt_type_for(BH_OP_LINK | BH_OP_CREATE), "link");
    EXPECT_EQ(op_name(BH_OP_EXEC), "exec");
    EXPECT_EQ(evt_type_for(BH_OP_READ | BH_OP_EXEC), "execve");  // an exec opens its program for reading too
}

TEST(Decode, RejectsShortAndUnknownRecords) {
    std::string why;
    char small[8] = {};
    EXPECT_FALSE(decode(small, sizeof(small), &why));
    EXPECT_NE(why.find("shorter than an event header"), std::string::npos);

    bh_event_header h{};
    h.kind = 99;
    EXPECT_FALSE(decode(&h, sizeof(h), &why));
    EXPECT_EQ(why, "unknown event kind 99");

    h.kind = BH_EVT_FILE;  // a header alone is not a whole file event
    EXPECT_FALSE(decode(&h, sizeof(h), &why));
    EXPECT_NE(why.find("truncated"), std::string::npos);
}

TEST(Decode, FileEventFields) {
    auto ev = std::make_unique<bh_file_event>();
    std::memset(ev.get(), 0, sizeof(*ev));
    ev->hdr.kind = BH_EVT_FILE;
    ev->hdr.session_id = 42;
    ev->hdr.tgid = 1234;
    std::memcpy(ev->hdr.comm, "cat", 3);
    ev->op = BH_OP_READ;
    ev->rule_id = 3;
    ev->verdict = BH_VERDICT_DENY;
    ev->err = -EPERM;
    ev->ino = 77;
    const char path[] = "/root/.ssh/id_ed25519";
    ev->path_off = static_cast<__u16>(BH_PATH_MAX - (sizeof(path) - 1));
    std::memcpy(ev->path + ev->path_off, path, sizeof(path) - 1);

    std::string why;
    auto e = decode(ev.get(), sizeof(*ev), &why);
    ASSERT_TRUE(e) << why;
    EXPECT_EQ(e->kind, "file");
    EXPECT_EQ(e->session, 42u);
    EXPECT_EQ(e->tgid, 1234u);
    EXPECT_EQ(e->comm, "cat");
    EXPECT_EQ(e->op, "read");
    EXPECT_EQ(e->rule_id, 3u);
    EXPECT_EQ(e->verdict, "deny");
    EXPECT_EQ(e->err, EPERM);
    EXPECT_EQ(e->ino, 77u);
    EXPECT_EQ(e->path, "/root/.ssh/id_ed25519");

    ev->path_off = BH_PATH_MAX + 1;  // a corrupt offset is refused, not read past
    EXPECT_FALSE(decode(ev.get(), sizeof(*ev), &why));
    EXPECT_NE(why.find("out of range"), std::string::npos);
}

TEST(ToJson, HasFalcoShapeAndSession) {
    Event e;
    e.kind = "file";
    e.rule = "Read SSH private key";
    e.priority = "Critical";
    e.session = 9;
    e.agent = "claude";
    e.verdict = "deny";
    e.op = "read";
    e.evt_type = "open";
    e.err = EPERM;
    e.path = "/root/.ssh/id_rsa";
    e.level = "bpf-lsm";
    auto j = to_json(e, "host1");
    for (const char* key : {"time", "rule", "priority", "source", "tags", "hostname", "output",
                            "output_fields"})
        EXPECT_TRUE(j.contains(key)) << key;
    EXPECT_EQ(j["rule"], "Read SSH private key");
    EXPECT_EQ(j["output_fields"]["agent.session"], "9");
    EXPECT_EQ(j["output_fields"]["evt.res"], "EPERM");
    EXPECT_EQ(j["output_fields"]["fd.name"], "/root/.ssh/id_rsa");
    EXPECT_EQ(j["output_fields"]["agent.level"], "bpf-lsm");
}

// ---- observer records ---------------------------------------------------------

using testing::put_path;
using testing::zeroed;

TEST(DecodeExec, ArgvExecutableAndMemfd) {
    auto ev = zeroed<bh_exec_event>(BH_EVT_EXEC);
    std::memcpy(ev->hdr.comm, "python3", 7);
    const char argv[] = "python3\0-c\0print(1)\0";  // as in /proc/PID/cmdline
    std::memcpy(ev->args, argv, sizeof(argv) - 1);
    ev->args_len = sizeof(argv) - 1;
    ev->exe_dev = 5;
    ev->exe_ino = 99;
    ev->exe_flags = BH_EXE_F_MEMFD;
    put_path(*ev, "/memfd:payload");

    std::string why;
    auto e = decode(ev.get(), sizeof(*ev), &why);
    ASSERT_TRUE(e) << why;
    EXPECT_EQ(e->kind, "exec");
    EXPECT_EQ(e->evt_type, "execve");
    EXPECT_EQ(e->session, 42u);
    EXPECT_EQ(e->exe, "/memfd:payload");
    EXPECT_EQ(e->exe_ino, 99u);
    EXPECT_EQ(e->exe_dev, 5u);
    EXPECT_TRUE(e->exe_from_memfd);
    ASSERT_TRUE(e->args);
    EXPECT_EQ(*e->args, "-c print(1)");
    EXPECT_EQ(e->cmdline, "python3 -c print(1)");
    EXPECT_FALSE(e->args_truncated);

    // No arguments at all: proc.args is known and empty.
    ev->args_len = 8;  // "python3\0"
    ev->exe_flags = 0;
    ev->hdr.flags = BH_EVT_F_ARGS_TRUNCATED;
    e = decode(ev.get(), sizeof(*ev), &why);
    ASSERT_TRUE(e) << why;
    EXPECT_EQ(e->args, "");
    EXPECT_EQ(e->cmdline, "python3");
    EXPECT_FALSE(e->exe_from_memfd);
    EXPECT_TRUE(e->args_truncated);

    // Control bytes in argv cannot forge a log line.
    const char evil[] = "sh\0a\nb\0";
    std::memcpy(ev->args, evil, sizeof(evil) - 1);
    ev->args_len = sizeof(evil) - 1;
    e = decode(ev.get(), sizeof(*ev), &why);
    ASSERT_TRUE(e) << why;
    EXPECT_EQ(e->args, "a\\x0ab");
}

TEST(DecodeExec, RejectsMalformed) {
    auto ev = zeroed<bh_exec_event>(BH_EVT_EXEC);
    put_path(*ev, "/bin/true");
    std::string why;
    EXPECT_FALSE(decode(ev.get(), sizeof(*ev) - 1, &why));
    EXPECT_NE(why.find("exec event of"), std::string::npos) << why;

    ev->args_len = BH_ARGS_MAX + 1;
    EXPECT_FALSE(decode(ev.get(), sizeof(*ev), &why));
    EXPECT_NE(why.find("argv length"), std::string::npos) << why;

    ev->args_len = 0;
    ev->path_off = BH_PATH_MAX + 1;
    EXPECT_FALSE(decode(ev.get(), sizeof(*ev), &why));
    EXPECT_NE(why.find("out of range"), std::string::npos) << why;
}

struct NetCase {
    const char* name;
    uint16_t family;
    std::vector<uint8_t> laddr, raddr;
    uint16_t type, protocol;
    std::string want_name, want_type, want_l4, want_rip;
};

TEST(DecodeNet, TuplesAsFalcoWritesThem) {
    const std::vector<uint8_t> lo4 = {127, 0, 0, 1};
    const std::vector<uint8_t> lo6 = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    const std::vector<uint8_t> mapped = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 7};
    const NetCase cases[] = {
        {"tcp4", AF_INET, lo4, lo4, SOCK_STREAM, IPPROTO_TCP,
         "127.0.0.1:40000->127.0.0.1:8080", "ipv4", "tcp", "127.0.0.1"},
        {"udp6", AF_INET6, lo6, lo6, SOCK_DGRAM, IPPROTO_UDP,
         "::1:40000->::1:8080", "ipv6", "udp", "::1"},
        {"mapped", AF_INET6, {}, mapped, SOCK_STREAM, 0,
         "0.0.0.0:40000->10.0.0.7:8080", "ipv4", "tcp", "10.0.0.7"},
        {"icmp", AF_INET, lo4, lo4, SOCK_DGRAM, IPPROTO_ICMP,
         "127.0.0.1:40000->127.0.0.1:8080", "ipv4", "icmp", "127.0.0.1"},
    };
    for (const auto& c : cases) {
        auto ev = zeroed<bh_net_event>(BH_EVT_NET);
        ev->family = c.family;
        std::copy(c.laddr.begin(), c.laddr.end(), ev->laddr);
        std::copy(c.raddr.begin(), c.raddr.end(), ev->raddr);
        ev->lport = 40000;
        ev->rport = 8080;
        ev->sock_type = c.type;
        ev->protocol = c.protocol;
        ev->fd = 3;
        ev->ret = -ECONNREFUSED;
        std::string why;
        auto e = decode(ev.get(), sizeof(*ev), &why);
        ASSERT_TRUE(e) << c.name << ": " << why;
        EXPECT_EQ(e->kind, "net") << c.name;
        EXPECT_EQ(e->evt_type, "connect") << c.name;
        EXPECT_EQ(e->path, c.want_name) << c.name;
        EXPECT_EQ(e->fd_type, c.want_type) << c.name;
        EXPECT_EQ(e->l4proto, c.want_l4) << c.name;
        EXPECT_EQ(e->rip, c.want_rip) << c.name;
        EXPECT_EQ(e->rport, 8080) << c.name;
        EXPECT_EQ(e->lport, 40000) << c.name;
        EXPECT_EQ(e->fd, 3) << c.name;
        EXPECT_EQ(e->err, ECONNREFUSED) << c.name;
    }
}

TEST(DecodeNet, UnixPathsAndAbstractNames) {
    auto ev = zeroed<bh_net_event>(BH_EVT_NET);
    ev->family = AF_UNIX;
    const char path[] = "/run/docker.sock";
    std::memcpy(ev->unix_path, path, sizeof(path));  // with its NUL, as the kernel stores it
    ev->unix_len = sizeof(path);
    std::string why;
    auto e = decode(ev.get(), sizeof(*ev), &why);
    ASSERT_TRUE(e) << why;
    EXPECT_EQ(e->fd_type, "unix");
    EXPECT_EQ(e->path, "/run/docker.sock");
    EXPECT_TRUE(e->rip.empty());

    const char abstract[] = "\0bus\0x";  // length-delimited, NULs inside are name bytes
    std::memset(ev->unix_path, 0, sizeof(ev->unix_path));
    std::memcpy(ev->unix_path, abstract, sizeof(abstract) - 1);
    ev->unix_len = sizeof(abstract) - 1;
    e = decode(ev.get(), sizeof(*ev), &why);
    ASSERT_TRUE(e) << why;
    EXPECT_EQ(e->path, "@bus\\x00x");

    ev->unix_len = 255;  // longer than sun_path: clamped, not read past
    e = decode(ev.get(), sizeof(*ev), &why);
    ASSERT_TRUE(e) << why;
}

TEST(DecodeNet, RejectsMalformed) {
    auto ev = zeroed<bh_net_event>(BH_EVT_NET);
    ev->family = AF_INET;
    std::string why;
    EXPECT_FALSE(decode(ev.get(), sizeof(*ev) - 1, &why));
    EXPECT_NE(why.find("net event of"), std::string::npos) << why;
    ev->family = AF_NETLINK;
    EXPECT_FALSE(decode(ev.get(), sizeof(*ev), &why));
    EXPECT_NE(why.find("address family"), std::string::npos) << why;
}

TEST(DecodeSyscall, PtraceWithoutPathIsAShortRecord) {
    auto ev = zeroed<bh_syscall_event>(BH_EVT_SYSCALL);
    ev->nr = BH_SYS_PTRACE;
    ev->args[0] = 16;  // PTRACE_ATTACH
    ev->args[1] = 4321;
    ev->ret = -EPERM;
    ev->path_off = BH_NO_PATH;
    const size_t head = offsetof(bh_syscall_event, path);
    std::string why;
    auto e = decode(ev.get(), head, &why);
    ASSERT_TRUE(e) << why;
    EXPECT_EQ(e->kind, "syscall");
    EXPECT_EQ(e->evt_type, "ptrace");
    ASSERT_TRUE(e->evt_arg("request"));
    EXPECT_EQ(*e->evt_arg("request"), "PTRACE_ATTACH");
    EXPECT_EQ(*e->evt_arg("pid"), "4321");
    EXPECT_EQ(e->err, EPERM);
    EXPECT_TRUE(e->path.empty());

    EXPECT_FALSE(decode(ev.get(), head - 1, &why));
    EXPECT_NE(why.find("syscall event of"), std::string::npos) << why;

    ev->path_off = 100;  // announces a path the short record does not hold
    EXPECT_FALSE(decode(ev.get(), head, &why));
    EXPECT_NE(why.find("truncated"), std::string::npos) << why;

    ev->path_off = BH_NO_PATH;
    ev->nr = 77;
    EXPECT_FALSE(decode(ev.get(), head, &why));
    EXPECT_NE(why.find("unknown syscall"), std::string::npos) << why;
}

TEST(DecodeSyscall, MemfdAndModules) {
    auto ev = zeroed<bh_syscall_event>(BH_EVT_SYSCALL);
    ev->nr = BH_SYS_MEMFD_CREATE;
    ev->args[1] = 0x1 | 0x2;
    ev->ret = 3;
    std::memcpy(ev->str, "payload", 8);
    ev->str_len = 7;
    ev->path_off = BH_NO_PATH;
    std::string why;
    auto e = decode(ev.get(), sizeof(*ev), &why);
    ASSERT_TRUE(e) << why;
    EXPECT_EQ(e->evt_type, "memfd_create");
    EXPECT_EQ(*e->evt_arg("name"), "payload");
    EXPECT_EQ(*e->evt_arg("flags"), "MFD_CLOEXEC|MFD_ALLOW_SEALING");
    EXPECT_EQ(*e->evt_arg("fd"), "3");
    EXPECT_EQ(e->err, 0);

    ev->str_len = 9999;  // clamped to the buffer, and a NUL ends the name
    e = decode(ev.get(), sizeof(*ev), &why);
    ASSERT_TRUE(e) << why;
    EXPECT_EQ(*e->evt_arg("name"), "payload");

    ev->nr = BH_SYS_FINIT_MODULE;
    ev->args[0] = 5;
    ev->args[2] = 0;
    std::memcpy(ev->str, "debug=1", 8);
    ev->str_len = 7;
    ev->ret = -EPERM;
    put_path(*ev, "/tmp/rootkit.ko");
    e = decode(ev.get(), sizeof(*ev), &why);
    ASSERT_TRUE(e) << why;
    EXPECT_EQ(e->evt_type, "finit_module");
    EXPECT_EQ(e->path, "/tmp/rootkit.ko");
    EXPECT_EQ(*e->evt_arg("uargs"), "debug=1");
    EXPECT_EQ(*e->evt_arg("fd"), "5");
    EXPECT_EQ(e->err, EPERM);
    EXPECT_FALSE(decode(ev.get(), offsetof(bh_syscall_event, path), &why));

    ev->nr = BH_SYS_INIT_MODULE;
    ev->args[1] = 4096;
    e = decode(ev.get(), sizeof(*ev), &why);
    ASSERT_TRUE(e) << why;
    EXPECT_EQ(e->evt_type, "init_module");
    EXPECT_EQ(*e->evt_arg("length"), "4096");
}

TEST(ToJson, ObserverEventsCarryFalcoFields) {
    auto ev = zeroed<bh_net_event>(BH_EVT_NET);
    ev->family = AF_INET;
    const uint8_t lo[4] = {127, 0, 0, 1};
    std::memcpy(ev->laddr, lo, 4);
    std::memcpy(ev->raddr, lo, 4);
    ev->lport = 40000;
    ev->rport = 8080;
    ev->sock_type = SOCK_STREAM;
    std::string why;
    auto e = decode(ev.get(), sizeof(*ev), &why);
    ASSERT_TRUE(e) << why;
    auto f = to_json(*e, "h")["output_fields"];
    EXPECT_EQ(f["evt.type"], "connect");
    EXPECT_EQ(f["fd.name"], "127.0.0.1:40000->127.0.0.1:8080");
    EXPECT_EQ(f["fd.typechar"], "4");
    EXPECT_EQ(f["fd.type"], "ipv4");
    EXPECT_EQ(f["fd.l4proto"], "tcp");
    EXPECT_EQ(f["fd.rip"], "127.0.0.1");
    EXPECT_EQ(f["fd.rport"], 8080);
    EXPECT_EQ(f["fd.sport"], 8080);
    EXPECT_EQ(f["evt.res"], "SUCCESS");
    EXPECT_NE(to_text(*e).find("connect 127.0.0.1:40000->127.0.0.1:8080 (tcp)"), std::string::npos)
        << to_text(*e);

    auto x = zeroed<bh_exec_event>(BH_EVT_EXEC);
    std::memcpy(x->hdr.comm, "3", 1);
    std::memcpy(x->args, "x\0-v", 4);
    x->args_len = 4;
    x->exe_flags = BH_EXE_F_MEMFD;
    put_path(*x, "/memfd:p");
    e = decode(x.get(), sizeof(*x), &why);
    ASSERT_TRUE(e) << why;
    f = to_json(*e, "h")["output_fields"];
    EXPECT_EQ(f["evt.type"], "execve");
    EXPECT_EQ(f["proc.is_exe_from_memfd"], true);
    EXPECT_EQ(f["proc.cmdline"], "3 -v");
    EXPECT_EQ(f["proc.args"], "-v");
    EXPECT_NE(to_text(*e).find("(memfd)"), std::string::npos) << to_text(*e);

    auto p = zeroed<bh_syscall_event>(BH_EVT_SYSCALL);
    p->nr = BH_SYS_PTRACE;
    p->args[0] = 0x4206;
    p->args[1] = 7;
    p->path_off = BH_NO_PATH;
    e = decode(p.get(), sizeof(*p), &why);
    ASSERT_TRUE(e) << why;
    f = to_json(*e, "h")["output_fields"];
    EXPECT_EQ(f["evt.arg.request"], "PTRACE_SEIZE");
    EXPECT_EQ(f["evt.arg.pid"], "7");
}

}  // namespace
}  // namespace bulkhead::events
