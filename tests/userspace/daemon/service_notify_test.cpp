// SPDX-License-Identifier: Apache-2.0
#include "daemon/service_notify.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>

namespace bulkhead::daemon {
namespace {

// A datagram socket standing in for systemd's notify socket (the protocol
// is one datagram per call, nothing more to emulate).
struct Listener {
    int fd = -1;
    explicit Listener(const std::string& name) {
        fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        sockaddr_un a{};
        a.sun_family = AF_UNIX;
        std::memcpy(a.sun_path, name.data(), name.size());
        if (name[0] == '@')
            a.sun_path[0] = '\0';
        EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), offsetof(sockaddr_un, sun_path) + name.size()), 0);
    }
    ~Listener() { close(fd); }
    std::string take() {
        pollfd p{fd, POLLIN, 0};
        if (poll(&p, 1, 2000) != 1)
            return "<nothing>";
        char buf[4096];
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        return n < 0 ? "<error>" : std::string(buf, static_cast<size_t>(n));
    }
};

struct NotifySocket {
    explicit NotifySocket(const std::string& v) { setenv("NOTIFY_SOCKET", v.c_str(), 1); }
    ~NotifySocket() { unsetenv("NOTIFY_SOCKET"); }
};

TEST(ServiceNotify, SendsTheStateToAPathSocket) {
    char dir[] = "/tmp/bulkhead-notify.XXXXXX";
    ASSERT_TRUE(mkdtemp(dir));
    std::string path = std::string(dir) + "/notify";
    Listener l(path);
    NotifySocket env(path);
    std::string e;
    ASSERT_TRUE(notify_service_manager("READY=1\nSTATUS=enforcing at bpf-lsm (fresh)", &e)) << e;
    EXPECT_EQ(l.take(), "READY=1\nSTATUS=enforcing at bpf-lsm (fresh)");
    unlink(path.c_str());
    rmdir(dir);
}

TEST(ServiceNotify, SendsToAnAbstractSocket) {
    std::string name = "@bulkhead-notify-test-" + std::to_string(getpid());
    Listener l(name);
    NotifySocket env(name);
    std::string e;
    ASSERT_TRUE(notify_service_manager("STOPPING=1", &e)) << e;
    EXPECT_EQ(l.take(), "STOPPING=1");
}

TEST(ServiceNotify, WithoutTheVariableItDoesNothing) {
    unsetenv("NOTIFY_SOCKET");
    std::string e;
    EXPECT_TRUE(notify_service_manager("READY=1", &e));
    EXPECT_EQ(e, "");
}

TEST(ServiceNotify, BadOrDeadSocketsAreNamedErrors) {
    std::string e;
    {
        NotifySocket env("relative/notify");
        EXPECT_FALSE(notify_service_manager("READY=1", &e));
        EXPECT_NE(e.find("'relative/notify' is not an absolute path"), std::string::npos) << e;
    }
    {
        NotifySocket env("/" + std::string(200, 'a'));
        EXPECT_FALSE(notify_service_manager("READY=1", &e));
        EXPECT_NE(e.find("is not an absolute path or @abstract name"), std::string::npos) << e;
    }
    {
        NotifySocket env("/nonexistent/bulkhead/notify");
        EXPECT_FALSE(notify_service_manager("READY=1", &e));
        EXPECT_NE(e.find("cannot notify /nonexistent/bulkhead/notify"), std::string::npos) << e;
        EXPECT_NE(e.find("No such file or directory"), std::string::npos) << e;
    }
}

}  // namespace
}  // namespace bulkhead::daemon
