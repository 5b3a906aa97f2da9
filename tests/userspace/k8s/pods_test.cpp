// SPDX-License-Identifier: Apache-2.0
// The CRI client against a real gRPC server speaking runtime.v1 on a Unix
// socket, as containerd and CRI-O do: labels to pods, NOT_FOUND, a runtime
// that goes away and comes back, and a socket that does not speak gRPC.
#include "k8s/pods.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <thread>

#include "cri.grpc.pb.h"

namespace bulkhead::k8s {
namespace {

namespace fs = std::filesystem;

class FakeRuntime final : public runtime::v1::RuntimeService::Service {
public:
    std::map<std::string, std::map<std::string, std::string>> labels;
    std::atomic<int> calls{0};
    grpc::Status ContainerStatus(grpc::ServerContext*, const runtime::v1::ContainerStatusRequest* req,
                                 runtime::v1::ContainerStatusResponse* resp) override {
        ++calls;
        // Like containerd: a unique prefix names the container.
        for (const auto& [id, l] : labels) {
            if (id.rfind(req->container_id(), 0) != 0)
                continue;
            resp->mutable_status()->set_id(id);
            for (const auto& [k, v] : l)
                (*resp->mutable_status()->mutable_labels())[k] = v;
            return grpc::Status::OK;
        }
        return {grpc::StatusCode::NOT_FOUND, "an error occurred when try to find container \"" +
                                                 req->container_id() + "\": not found"};
    }
};

class PodsTest : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() / ("bulkhead-cri-" + std::to_string(getpid()));
        fs::create_directories(dir_);
        socket_ = (dir_ / "cri.sock").string();
        runtime_.labels["4f1c2a9b8e7d" + std::string(52, 'a')] = {
            {"io.kubernetes.pod.name", "agent-runner-7c9f"},
            {"io.kubernetes.pod.namespace", "ci"},
            {"io.kubernetes.container.name", "claude"}};
        runtime_.labels["0123456789ab" + std::string(52, 'b')] = {{"com.example.owner", "docker-compose"}};
        start();
    }
    void TearDown() override {
        stop();
        fs::remove_all(dir_);
    }
    void start() {
        grpc::ServerBuilder b;
        b.AddListeningPort("unix:" + socket_, grpc::InsecureServerCredentials());
        b.RegisterService(&runtime_);
        server_ = b.BuildAndStart();
        ASSERT_TRUE(server_) << "cannot listen on " << socket_;
    }
    void stop() {
        if (server_)
            server_->Shutdown();
        server_.reset();
        fs::remove(socket_);
    }
    fs::path dir_;
    std::string socket_;
    FakeRuntime runtime_;
    std::unique_ptr<grpc::Server> server_;
};

TEST_F(PodsTest, LabelsNameThePod) {
    CriClient client(socket_, std::chrono::milliseconds(2000));
    std::string error;
    auto pod = client.pod_of("4f1c2a9b8e7d", &error);  // the 12 digits events carry
    ASSERT_TRUE(pod) << error;
    EXPECT_EQ(pod->name, "agent-runner-7c9f");
    EXPECT_EQ(pod->ns, "ci");

    auto plain = client.pod_of("0123456789ab", &error);  // not made by kubelet
    ASSERT_TRUE(plain) << error;
    EXPECT_EQ(plain->name, "");
    EXPECT_EQ(plain->ns, "");

    bool not_found = false;
    EXPECT_FALSE(client.pod_of("ffffffffffff", &error, &not_found));
    EXPECT_TRUE(not_found);
    EXPECT_NE(error.find("cri: ContainerStatus(ffffffffffff) at " + socket_ + " failed: "), std::string::npos)
        << error;
}

TEST_F(PodsTest, DirectoryAsksOncePerContainer) {
    PodDirectory pods(socket_, std::chrono::milliseconds(2000));
    for (int i = 0; i < 3; ++i) {
        auto pod = pods.lookup("4f1c2a9b8e7d");
        ASSERT_TRUE(pod);
        EXPECT_EQ(pod->name, "agent-runner-7c9f");
    }
    for (int i = 0; i < 3; ++i) {
        EXPECT_FALSE(pods.lookup("0123456789ab"));  // no pod: an answer, kept
        EXPECT_FALSE(pods.lookup("ffffffffffff"));  // NOT_FOUND: an answer, kept
    }
    EXPECT_FALSE(pods.lookup(""));
    EXPECT_EQ(runtime_.calls.load(), 3);
    EXPECT_EQ(pods.last_error(), "");
}

// A runtime that is down is left alone for the retry period, then asked
// again; the first answer after that clears the error.
TEST_F(PodsTest, DeadRuntimeIsRetriedLaterNotOnEveryEvent) {
    PodDirectory pods(socket_, std::chrono::milliseconds(300), std::chrono::seconds(30));
    stop();
    auto t0 = PodDirectory::Clock::now();
    EXPECT_FALSE(pods.lookup("4f1c2a9b8e7d", t0));
    EXPECT_NE(pods.last_error().find("at " + socket_ + " failed"), std::string::npos) << pods.last_error();
    start();
    EXPECT_FALSE(pods.lookup("4f1c2a9b8e7d", t0 + std::chrono::seconds(5)));
    EXPECT_EQ(runtime_.calls.load(), 0) << "asked during the quiet period";
    auto pod = pods.lookup("4f1c2a9b8e7d", t0 + std::chrono::seconds(31));
    ASSERT_TRUE(pod) << pods.last_error();
    EXPECT_EQ(pod->ns, "ci");
    EXPECT_EQ(pods.last_error(), "");
}

// Something that is not a CRI runtime listens at the socket and answers
// with junk: a clear error, no crash, no pod.
TEST_F(PodsTest, SocketThatDoesNotSpeakGrpcIsAnError) {
    stop();
    int l = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(l, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", socket_.c_str());
    ASSERT_EQ(::bind(l, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    ASSERT_EQ(::listen(l, 4), 0);
    std::atomic<bool> done{false};
    std::thread junk([&] {
        while (!done) {
            int c = ::accept(l, nullptr, nullptr);
            if (c < 0)
                return;
            const char reply[] = "HTTP/1.0 200 OK\r\n\r\n\xff\xfe not a frame";
            (void)!::write(c, reply, sizeof(reply) - 1);
            ::close(c);
        }
    });
    CriClient client(socket_, std::chrono::milliseconds(500));
    std::string error;
    bool not_found = true;
    EXPECT_FALSE(client.pod_of("4f1c2a9b8e7d", &error, &not_found));
    EXPECT_FALSE(not_found);
    EXPECT_NE(error.find("cri: ContainerStatus(4f1c2a9b8e7d) at " + socket_ + " failed: "), std::string::npos)
        << error;
    done = true;
    ::shutdown(l, SHUT_RDWR);
    ::close(l);
    junk.join();
}

}  // namespace
}  // namespace bulkhead::k8s
