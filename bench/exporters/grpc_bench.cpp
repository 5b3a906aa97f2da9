// SPDX-License-Identifier: Apache-2.0
// bulkhead-grpc-bench: events per second from publish() to a subscriber
// reading over the Unix socket, as a ratio against converting and
// serialising the same events alone (to_proto + SerializeToString) in the
// same run; plus the daemon-side cost of publish(). Never a unit test.
//
// usage: bulkhead-grpc-bench [EVENTS] [SUBSCRIBERS]   (default 100000, 1)
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include <grpcpp/grpcpp.h>

#include "bulkhead.grpc.pb.h"
#include "bench_event.h"
#include "exporters/grpc/convert.h"
#include "exporters/grpc/grpc_server.h"

using namespace bulkhead;
using namespace bulkhead::exporters::rpc;
using Clock = std::chrono::steady_clock;

namespace {

double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace

int main(int argc, char** argv) {
    int n = argc > 1 ? std::atoi(argv[1]) : 100000;
    int subs = argc > 2 ? std::atoi(argv[2]) : 1;
    if (n <= 0 || subs <= 0)
        return 2;
    std::vector<events::Event> evs;
    for (int i = 0; i < n; i++)
        evs.push_back(bench::sample_event(i));

    auto t0 = Clock::now();
    size_t bytes = 0;
    for (const auto& e : evs) {
        std::string wire;
        to_proto(e, "bench-host").SerializeToString(&wire);
        bytes += wire.size();
    }
    double base = n / seconds(Clock::now() - t0);

    char tmpl[] = "/tmp/bulkhead-grpc-bench-XXXXXX";
    if (!mkdtemp(tmpl))
        return 1;
    std::string sock = std::string("unix:") + tmpl + "/grpc.sock";
    ServerConfig c;
    c.listen = {sock};
    c.hostname = "bench-host";
    c.subscriber_queue = static_cast<size_t>(n) + 16;  // throughput, not drops
    auto server = GrpcServer::start(c, nullptr);
    if (!server) {
        std::fprintf(stderr, "%s\n", server.error().c_str());
        return 1;
    }
    auto channel = grpc::CreateChannel(sock, grpc::InsecureChannelCredentials());
    auto stub = bulkhead::v1::Bulkhead::NewStub(channel);
    std::atomic<int> received{0};
    std::vector<std::thread> readers;
    std::vector<std::unique_ptr<grpc::ClientContext>> ctxs;
    for (int s = 0; s < subs; s++) {
        ctxs.push_back(std::make_unique<grpc::ClientContext>());
        auto reader = stub->Subscribe(ctxs.back().get(), {});
        reader->WaitForInitialMetadata();
        readers.emplace_back([r = std::move(reader), &received] {
            bulkhead::v1::SubscribeResponse resp;
            while (r->Read(&resp))
                received++;
            r->Finish();
        });
    }
    while ((*server)->subscribers() < static_cast<size_t>(subs))
        std::this_thread::sleep_for(std::chrono::milliseconds(1));

    t0 = Clock::now();
    Clock::duration in_publish{};
    for (const auto& e : evs) {
        auto p0 = Clock::now();
        (*server)->publish(e);
        in_publish += Clock::now() - p0;
    }
    while (received < n * subs)
        std::this_thread::sleep_for(std::chrono::microseconds(200));
    double through = static_cast<double>(n) / seconds(Clock::now() - t0);
    auto st = (*server)->stats();
    (*server)->close();
    for (auto& t : readers)
        t.join();
    std::filesystem::remove_all(tmpl);

    std::printf("bulkhead-grpc-bench: %d events, %d subscriber(s), %zu bytes/event on the wire\n", n,
                subs, bytes / n);
    std::printf("  %-36s %12.0f events/s\n", "to_proto + serialise (baseline)", base);
    std::printf("  %-36s %12.0f events/s  ratio %.2f  publish() %.0f ns  dropped %llu\n",
                "publish -> subscriber (Unix socket)", through, through / base,
                seconds(in_publish) * 1e9 / n, static_cast<unsigned long long>(st.dropped));
    return 0;
}
