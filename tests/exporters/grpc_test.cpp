// SPDX-License-Identifier: Apache-2.0
// The gRPC sink against real gRPC clients: over the Unix socket, TCP+TLS and
// mTLS (certificates made by the openssl CLI), filters, sessions, bad
// requests and clients that never read.
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "bulkhead.grpc.pb.h"
#include "exporters/falco_json.h"
#include "exporters/grpc/convert.h"
#include "exporters/grpc/grpc_client.h"
#include "exporters/grpc/grpc_factory.h"
#include "exporters/grpc/grpc_server.h"

namespace bulkhead::exporters::rpc {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

events::Event event(const std::string& rule, const std::string& priority, const std::string& verdict,
                    uint64_t session = 7) {
    events::Event e;
    e.kind = "file";
    e.time_unix_ns = 1767323045123456789;
    e.ts_boot_ns = 99;
    e.session = session;
    e.agent = "claude";
    e.rule = rule;
    e.priority = priority;
    e.verdict = verdict;
    e.op = "read";
    e.evt_type = "open";
    e.err = verdict == "deny" ? 1 : 0;
    e.path = "/home/dev/.ssh/id_ed25519";
    e.ino = 1234;
    e.dev = 2049;
    e.comm = "cat";
    e.exe = "/usr/bin/cat";
    e.tgid = 4321;
    e.pid = 4322;
    e.uid = 1000;
    e.tags = {"agent", "T1552"};
    e.risk = 30;
    e.action = "block";
    e.output_fields = {{"evt.time", 1767323045123456789ull}, {"proc.cmdline", "cat id"},
                       {"agent.tool_name", nullptr}, {"fd.num", -3}, {"x.ratio", 0.5}};
    return e;
}

class FakeSessions : public SessionSource {
public:
    std::vector<SessionInfo> list() override {
        std::lock_guard lock(mu_);
        return sessions_;
    }
    std::optional<SessionInfo> get(uint64_t id) override {
        std::lock_guard lock(mu_);
        for (const auto& s : sessions_)
            if (s.id == id)
                return s;
        return std::nullopt;
    }
    void add(SessionInfo s) {
        std::lock_guard lock(mu_);
        sessions_.push_back(std::move(s));
    }

private:
    std::mutex mu_;
    std::vector<SessionInfo> sessions_;
};

bool wait_for(const std::function<bool()>& cond, std::chrono::milliseconds limit = 5000ms) {
    auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
        if (cond())
            return true;
        std::this_thread::sleep_for(5ms);
    }
    return cond();
}

class GrpcTest : public ::testing::Test {
protected:
    void SetUp() override {
        char tmpl[] = "/tmp/bulkhead-grpc-XXXXXX";
        ASSERT_NE(mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
        sock_ = "unix:" + dir_ + "/run/grpc.sock";
        sessions_ = std::make_shared<FakeSessions>();
    }
    void TearDown() override {
        if (server_)
            server_->close();
        fs::remove_all(dir_);
    }

    void serve(ServerConfig config) {
        config.hostname = "node-1";
        auto s = GrpcServer::start(std::move(config), sessions_);
        ASSERT_TRUE(s) << s.error();
        server_ = std::move(*s);
    }
    void serve_unix() {
        ServerConfig c;
        c.listen = {sock_};
        serve(c);
    }

    std::unique_ptr<v1::Bulkhead::Stub> stub(const std::string& address) {
        return v1::Bulkhead::NewStub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
    }

    // Makes a CA, a server certificate for 127.0.0.1 and a client
    // certificate with it, and a client certificate from another CA.
    bool make_certs() {
        if (std::system("command -v openssl >/dev/null 2>&1") != 0)
            return false;
        std::string d = dir_ + "/pki";
        fs::create_directories(d);
        std::ofstream(d + "/server.ext") << "subjectAltName=IP:127.0.0.1,DNS:localhost\n";
        std::string cmd = "set -e; cd " + d + ";"
            "ec='-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes';"
            "openssl req -x509 $ec -keyout ca.key -out ca.crt -days 1 -subj /CN=bulkhead-test-ca;"
            "openssl req -x509 $ec -keyout rogue.key -out rogue.crt -days 1 -subj /CN=rogue-ca;"
            "openssl req $ec -keyout server.key -out server.csr -subj /CN=localhost;"
            "openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 1 "
            "  -extfile server.ext -out server.crt;"
            "openssl req $ec -keyout client.key -out client.csr -subj /CN=siem-client;"
            "openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 1 -out client.crt;"
            "openssl req $ec -keyout evil.key -out evil.csr -subj /CN=evil-client;"
            "openssl x509 -req -in evil.csr -CA rogue.crt -CAkey rogue.key -CAcreateserial -days 1 -out evil.crt;";
        return std::system(("(" + cmd + ") >" + d + "/openssl.log 2>&1").c_str()) == 0;
    }
    std::string pki(const std::string& name) const { return dir_ + "/pki/" + name; }

    // Subscribes with `options`, returns after `n` events or the end of the
    // stream: (exit code, stdout, stderr).
    std::future<std::tuple<int, std::string, std::string>> subscribe_async(
        ClientOptions options, ClientFilter filter, bool json, uint64_t n) {
        return std::async(std::launch::async, [=] {
            std::ostringstream out, err;
            int rc = subscribe_and_print(options, filter, json, out, err, n);
            return std::make_tuple(rc, out.str(), err.str());
        });
    }

    std::string dir_;
    std::string sock_;
    std::shared_ptr<FakeSessions> sessions_;
    std::unique_ptr<GrpcServer> server_;
};

TEST_F(GrpcTest, EventsRoundTripThroughProtobuf) {
    auto e = event("Read SSH key", "Critical", "deny");
    e.path_truncated = true;
    e.detail = "via symlink";
    e.workspace = "/home/dev/proj";
    e.tool_use_id = "toolu_1";
    e.tool_name = "Bash";
    e.level = "bpf-lsm";
    e.rule_id = 12;
    e.container_id = "abc123";
    v1::Event pe = to_proto(e, "node-1");
    EXPECT_EQ(pe.priority(), v1::PRIORITY_CRITICAL);
    EXPECT_EQ(pe.verdict(), v1::VERDICT_DENY);
    EXPECT_EQ(pe.alert().output_fields().at("evt.time").uint_value(), 1767323045123456789ull)
        << "64-bit integers survive";
    EXPECT_EQ(pe.alert().output_fields().at("agent.tool_name").kind_case(),
              v1::FieldValue::KIND_NOT_SET);

    std::string wire;
    ASSERT_TRUE(pe.SerializeToString(&wire));
    v1::Event back_pe;
    ASSERT_TRUE(back_pe.ParseFromString(wire));
    std::string host;
    events::Event back = from_proto(back_pe, &host);
    EXPECT_EQ(host, "node-1");
    EXPECT_EQ(dump_json(falco_json(back, host)), dump_json(falco_json(e, "node-1")));
    EXPECT_EQ(events::to_text(back), events::to_text(e));
    EXPECT_EQ(back.ts_boot_ns, 99u);

    // An event no rule fired on has no alert.
    auto plain = event("", "Notice", "allow");
    EXPECT_FALSE(to_proto(plain, "h").has_alert());
}

// Several subscribers with different filters see exactly their events.
TEST_F(GrpcTest, UnixSocketSubscribersGetExactlyWhatTheirFiltersAsk) {
    serve_unix();
    struct stat sock_stat {};
    ASSERT_EQ(stat((dir_ + "/run/grpc.sock").c_str(), &sock_stat), 0);
    EXPECT_TRUE(S_ISSOCK(sock_stat.st_mode));
    EXPECT_EQ(sock_stat.st_mode & 0777, 0660u);

    const std::vector<events::Event> published = {
        event("A", "Critical", "deny", 1),
        event("B", "Notice", "deny", 1),
        event("C", "Warning", "audit", 2),
        event("A", "Emergency", "allow", 3),
        event("", "Informational", "allow", 2),
        event("D", "Debug", "deny", 9),
    };
    struct Case {
        const char* name;
        std::function<void(v1::SubscribeRequest&)> set;
        std::vector<std::string> expect;  // "rule/session" in order
    };
    const std::vector<Case> cases = {
        {"everything", [](auto&) {}, {"A/1", "B/1", "C/2", "A/3", "/2", "D/9"}},
        {"min priority Warning", [](auto& r) { r.set_min_priority(v1::PRIORITY_WARNING); },
         {"A/1", "C/2", "A/3"}},
        {"rule A", [](auto& r) { r.add_rules("A"); }, {"A/1", "A/3"}},
        {"rules B and D", [](auto& r) { r.add_rules("B"); r.add_rules("D"); }, {"B/1", "D/9"}},
        {"session 2", [](auto& r) { r.add_session_ids(2); }, {"C/2", "/2"}},
        {"verdict deny", [](auto& r) { r.add_verdicts(v1::VERDICT_DENY); }, {"A/1", "B/1", "D/9"}},
        {"verdicts audit+allow", [](auto& r) { r.add_verdicts(v1::VERDICT_AUDIT); r.add_verdicts(v1::VERDICT_ALLOW); },
         {"C/2", "A/3", "/2"}},
        {"alerts only", [](auto& r) { r.set_alerts_only(true); }, {"A/1", "B/1", "C/2", "A/3", "D/9"}},
        {"all filters", [](auto& r) {
             r.set_min_priority(v1::PRIORITY_NOTICE);
             r.add_rules("A"); r.add_rules("B");
             r.add_session_ids(1);
             r.add_verdicts(v1::VERDICT_DENY);
         }, {"A/1", "B/1"}},
        {"nothing matches", [](auto& r) { r.add_rules("no such rule"); }, {}},
    };

    // Each client reads as it arrives, as real clients do.
    struct Stream {
        grpc::ClientContext ctx;
        std::unique_ptr<grpc::ClientReader<v1::SubscribeResponse>> reader;
        std::vector<std::string> got;
        grpc::Status status;
        std::thread thread;
    };
    auto client = stub(sock_);
    std::vector<std::unique_ptr<Stream>> streams;
    for (const auto& c : cases) {
        v1::SubscribeRequest req;
        c.set(req);
        auto s = std::make_unique<Stream>();
        s->reader = client->Subscribe(&s->ctx, req);
        s->reader->WaitForInitialMetadata();
        s->thread = std::thread([s = s.get()] {
            v1::SubscribeResponse resp;
            while (s->reader->Read(&resp))
                s->got.push_back(resp.has_event() ? resp.event().alert().rule() + "/" +
                                                        std::to_string(resp.event().session_id())
                                                  : "lost");
            s->status = s->reader->Finish();
        });
        streams.push_back(std::move(s));
    }
    ASSERT_TRUE(wait_for([&] { return server_->subscribers() == cases.size(); }));
    for (const auto& e : published)
        server_->publish(e);
    // Closing ends every stream cleanly after what was queued.
    server_->close();

    for (size_t i = 0; i < cases.size(); i++) {
        SCOPED_TRACE(cases[i].name);
        streams[i]->thread.join();
        EXPECT_TRUE(streams[i]->status.ok())
            << streams[i]->status.error_code() << ": " << streams[i]->status.error_message();
        EXPECT_EQ(streams[i]->got, cases[i].expect);
    }
    auto st = server_->stats();
    EXPECT_EQ(st.published, published.size());
    EXPECT_EQ(st.delivered, 6u + 3 + 2 + 2 + 2 + 3 + 3 + 5 + 2);
    EXPECT_EQ(st.dropped, 0u);
}

TEST_F(GrpcTest, SinkFilterAppliesBeforeSubscribers) {
    ServerConfig c;
    c.listen = {sock_};
    c.filter.min_priority = 4;  // Warning
    serve(c);
    auto f = subscribe_async({.address = sock_}, {}, /* json = */ false, 1);
    ASSERT_TRUE(wait_for([&] { return server_->subscribers() == 1; }));
    server_->publish(event("low", "Notice", "deny"));
    server_->publish(event("high", "Error", "deny"));
    auto [rc, out, err] = f.get();
    EXPECT_EQ(rc, 0) << err;
    EXPECT_EQ(out.find("low"), std::string::npos);
    EXPECT_NE(out.find("DENY  high: Denied read of /home/dev/.ssh/id_ed25519"), std::string::npos) << out;
    EXPECT_EQ(server_->stats().filtered, 1u);
}

TEST_F(GrpcTest, ClientPrintsFalcoJsonLikeTheJsonlSink) {
    serve_unix();
    ClientFilter filter;
    filter.min_priority = "error";
    filter.verdicts = {"deny"};
    auto f = subscribe_async({.address = sock_}, filter, /* json = */ true, 2);
    ASSERT_TRUE(wait_for([&] { return server_->subscribers() == 1; }));
    auto a = event("Read SSH key", "Critical", "deny");
    auto skipped = event("Read SSH key", "Critical", "audit");
    auto b = event("Write git hook", "Error", "deny", 12);
    server_->publish(a);
    server_->publish(skipped);
    server_->publish(b);
    auto [rc, out, err] = f.get();
    EXPECT_EQ(rc, 0) << err;
    EXPECT_EQ(out, dump_json(falco_json(a, "node-1")) + "\n" + dump_json(falco_json(b, "node-1")) + "\n");
    auto j = nlohmann::json::parse(out.substr(0, out.find('\n')));
    EXPECT_EQ(j["output_fields"]["evt.time"].get<uint64_t>(), 1767323045123456789ull);
    EXPECT_EQ(j["hostname"], "node-1");
}

TEST_F(GrpcTest, ClientRejectsBadFiltersBeforeConnecting) {
    std::ostringstream out, err;
    ClientFilter f;
    f.min_priority = "loud";
    EXPECT_EQ(subscribe_and_print({.address = sock_}, f, false, out, err), 2);
    EXPECT_NE(err.str().find("unknown priority 'loud'"), std::string::npos) << err.str();
    f = {};
    f.verdicts = {"maybe"};
    err.str("");
    EXPECT_EQ(subscribe_and_print({.address = sock_}, f, false, out, err), 2);
    EXPECT_NE(err.str().find("unknown verdict 'maybe'"), std::string::npos) << err.str();
}

TEST_F(GrpcTest, NoServerIsAClearError) {
    std::ostringstream out, err;
    ClientOptions o{.address = sock_, .connect_timeout = 300ms};
    EXPECT_EQ(subscribe_and_print(o, {}, false, out, err), 1);
    EXPECT_NE(err.str().find("cannot connect to " + sock_), std::string::npos) << err.str();
}

TEST_F(GrpcTest, TlsAndMutualTls) {
    if (!make_certs())
        GTEST_SKIP() << "openssl CLI missing or failed (see " << pki("openssl.log") << ")";
    ServerConfig c;
    c.listen = {"127.0.0.1:0", sock_};
    c.tls = {pki("server.crt"), pki("server.key"), ""};
    serve(c);
    std::string tls_addr = server_->bound()[0];
    ASSERT_NE(tls_addr, "127.0.0.1:0");

    auto run = [&](ClientOptions o, std::string* err_out = nullptr) {
        o.connect_timeout = 2000ms;
        auto f = subscribe_async(o, {}, false, 1);
        // A rejected client never registers; an accepted one gets the event.
        bool registered = wait_for([&] {
            return server_->subscribers() == 1 || f.wait_for(0s) == std::future_status::ready;
        });
        if (registered && server_->subscribers() == 1)
            server_->publish(event("over tls", "Critical", "deny"));
        auto [rc, out, err] = f.get();
        if (err_out)
            *err_out = err;
        wait_for([&] { return server_->subscribers() == 0; });
        return rc == 0 && out.find("over tls") != std::string::npos;
    };

    EXPECT_TRUE(run({.address = tls_addr, .ca = pki("ca.crt")})) << "TLS with the right CA";
    EXPECT_FALSE(run({.address = tls_addr})) << "plaintext client on the TLS port";
    std::string err;
    EXPECT_FALSE(run({.address = tls_addr, .ca = pki("rogue.crt")}, &err)) << "server cert from an unknown CA";
    EXPECT_NE(err.find("cannot connect to " + tls_addr), std::string::npos) << err;
    EXPECT_TRUE(run({.address = sock_})) << "the Unix socket stays plaintext beside TLS";
    server_->close();
    server_.reset();

    // mTLS: the client must present a certificate the client CA signed.
    c.tls.client_ca = pki("ca.crt");
    serve(c);
    tls_addr = server_->bound()[0];
    EXPECT_TRUE(run({.address = tls_addr, .ca = pki("ca.crt"), .cert = pki("client.crt"), .key = pki("client.key")}))
        << "mTLS with a good client certificate";
    EXPECT_FALSE(run({.address = tls_addr, .ca = pki("ca.crt")}, &err)) << "mTLS without a client certificate";
    EXPECT_FALSE(err.empty());
    EXPECT_FALSE(run({.address = tls_addr, .ca = pki("ca.crt"), .cert = pki("evil.crt"), .key = pki("evil.key")}))
        << "mTLS with a certificate from another CA";
    EXPECT_EQ(server_->stats().delivered, 1u) << "only the authenticated client got events";
}

TEST_F(GrpcTest, ConfigErrorsNameTheProblem) {
    ServerConfig c;
    c.listen = {"127.0.0.1:0"};
    auto plain = GrpcServer::start(c, nullptr);
    ASSERT_FALSE(plain);
    EXPECT_NE(plain.error().find("plaintext TCP is refused"), std::string::npos) << plain.error();

    c.tls = {dir_ + "/missing.crt", dir_ + "/missing.key", ""};
    auto missing = GrpcServer::start(c, nullptr);
    ASSERT_FALSE(missing);
    EXPECT_NE(missing.error().find(dir_ + "/missing.crt"), std::string::npos) << missing.error();

    std::ofstream(dir_ + "/junk.crt") << "not a certificate";
    c.tls.cert = dir_ + "/junk.crt";
    auto junk = GrpcServer::start(c, nullptr);
    ASSERT_FALSE(junk);
    EXPECT_NE(junk.error().find("is not PEM"), std::string::npos) << junk.error();

    c.tls = {};
    c.allow_plaintext_tcp = true;
    c.listen = {"127.0.0.1:0"};
    auto first = GrpcServer::start(c, nullptr);
    ASSERT_TRUE(first) << first.error();
    c.listen = {(*first)->bound()[0]};
    auto taken = GrpcServer::start(c, nullptr);
    ASSERT_FALSE(taken) << "the port is in use";
    EXPECT_NE(taken.error().find((*first)->bound()[0]), std::string::npos) << taken.error();
}

TEST_F(GrpcTest, ListAndGetSessions) {
    sessions_->add({.id = 11, .agent = "claude", .uid = 1000, .workspace = "/home/dev/a",
                    .start_unix_ns = 1767323045000000000, .state = "active", .leader_pid = 500,
                    .risk = 40, .origin = "run", .denied = 3, .level = "landlock+seccomp",
                    .taint = "rule 'Read environment secrets file' read /home/dev/a/.env", .pending_asks = 2});
    sessions_->add({.id = 12, .agent = "codex", .state = "promoted", .origin = "discovered", .vm = "pool-1"});
    sessions_->add({.id = 14, .agent = "goose", .state = "frozen"});
    sessions_->add({.id = 13, .agent = "aider", .state = "ended"});
    serve_unix();
    auto client = stub(sock_);

    {
        grpc::ClientContext ctx;
        v1::ListSessionsResponse resp;
        ASSERT_TRUE(client->ListSessions(&ctx, {}, &resp).ok());
        ASSERT_EQ(resp.sessions_size(), 3);
        EXPECT_EQ(resp.sessions(0).id(), 11u);
        EXPECT_EQ(resp.sessions(1).state(), v1::SESSION_STATE_PROMOTED);
        EXPECT_EQ(resp.sessions(1).vm(), "pool-1");
        EXPECT_EQ(resp.sessions(2).state(), v1::SESSION_STATE_FROZEN);
    }
    {
        grpc::ClientContext ctx;
        v1::ListSessionsRequest req;
        req.set_include_ended(true);
        v1::ListSessionsResponse resp;
        ASSERT_TRUE(client->ListSessions(&ctx, req, &resp).ok());
        EXPECT_EQ(resp.sessions_size(), 4);
    }
    {
        grpc::ClientContext ctx;
        v1::GetSessionRequest req;
        req.set_id(11);
        v1::Session s;
        ASSERT_TRUE(client->GetSession(&ctx, req, &s).ok());
        EXPECT_EQ(s.agent(), "claude");
        EXPECT_EQ(s.uid(), 1000u);
        EXPECT_EQ(s.workspace(), "/home/dev/a");
        EXPECT_EQ(s.start_time().seconds(), 1767323045);
        EXPECT_EQ(s.state(), v1::SESSION_STATE_ACTIVE);
        EXPECT_EQ(s.leader_pid(), 500u);
        EXPECT_EQ(s.risk(), 40);
        EXPECT_EQ(s.origin(), "run");
        EXPECT_EQ(s.denied(), 3u);
        EXPECT_EQ(s.level(), "landlock+seccomp");
        EXPECT_EQ(s.taint(), "rule 'Read environment secrets file' read /home/dev/a/.env");
        EXPECT_EQ(s.pending_asks(), 2u);
    }
    for (auto [id, code] : {std::pair{uint64_t{99}, grpc::StatusCode::NOT_FOUND},
                            std::pair{uint64_t{0}, grpc::StatusCode::INVALID_ARGUMENT}}) {
        grpc::ClientContext ctx;
        v1::GetSessionRequest req;
        req.set_id(id);
        v1::Session s;
        EXPECT_EQ(client->GetSession(&ctx, req, &s).error_code(), code) << id;
    }

    // The CLI's printers.
    std::ostringstream out, err;
    EXPECT_EQ(list_sessions_and_print({.address = sock_}, false, true, out, err), 0) << err.str();
    auto first = nlohmann::json::parse(out.str().substr(0, out.str().find('\n')));
    EXPECT_EQ(first["id"], 11);
    EXPECT_EQ(first["state"], "active");
    EXPECT_EQ(first["start_time"], "2026-01-02T03:04:05.000000000Z");
    out.str("");
    EXPECT_EQ(get_session_and_print({.address = sock_}, 12, false, out, err), 0) << err.str();
    EXPECT_NE(out.str().find("codex"), std::string::npos);
    EXPECT_NE(out.str().find("promoted"), std::string::npos);
    EXPECT_EQ(get_session_and_print({.address = sock_}, 77, false, out, err), 1);
    EXPECT_NE(err.str().find("session 77 not found"), std::string::npos);
}

TEST_F(GrpcTest, FromTheDaemonsYaml) {
    FactoryRegistry registry = builtin_factories();
    registry.add("grpc", grpc_factory(sessions_));
    sessions_->add({.id = 5, .agent = "claude"});
    auto yaml = YAML::Load("- name: api\n  type: grpc\n  listen: [\"" + sock_ +
                           "\"]\n  unix_mode: \"0600\"\n  max_subscribers: 3\n  min_priority: Error\n");
    auto sinks = make_exporters(yaml, {.hostname = "yaml-host"}, registry);
    ASSERT_TRUE(sinks) << sinks.error();
    auto* server = dynamic_cast<GrpcServer*>((*sinks)[0].get());
    ASSERT_NE(server, nullptr);
    struct stat sock_stat {};
    ASSERT_EQ(stat((dir_ + "/run/grpc.sock").c_str(), &sock_stat), 0);
    EXPECT_EQ(sock_stat.st_mode & 0777, 0600u);
    std::ostringstream out, err;
    EXPECT_EQ(get_session_and_print({.address = sock_}, 5, true, out, err), 0) << err.str();
    EXPECT_NE(out.str().find("\"claude\""), std::string::npos);
    server->close();

    for (auto [bad, key] : {std::pair{"listen: [\"127.0.0.1:0\"]", "plaintext TCP is refused"},
                            std::pair{"unix_mode: \"999\"", "unix_mode"},
                            std::pair{"tls: {cert: /x.crt}", "tls.key"},
                            std::pair{"tls: {client_ca: /ca.crt}", "client_ca"},
                            std::pair{"max_subscribers: 0", "max_subscribers"}}) {
        auto y = YAML::Load(std::string("- name: a\n  type: grpc\n  ") + bad + "\n");
        auto r = make_exporters(y, {}, registry);
        ASSERT_FALSE(r) << bad;
        EXPECT_NE(r.error().find(key), std::string::npos) << r.error();
    }
}

TEST_F(GrpcTest, NoSessionSourceIsUnavailable) {
    ServerConfig c;
    c.listen = {sock_};
    c.hostname = "h";
    auto s = GrpcServer::start(c, nullptr);
    ASSERT_TRUE(s) << s.error();
    grpc::ClientContext ctx;
    v1::ListSessionsResponse resp;
    EXPECT_EQ(stub(sock_)->ListSessions(&ctx, {}, &resp).error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(GrpcTest, MalformedRequestsAreRejectedAndTheServerLives) {
    ServerConfig c;
    c.listen = {sock_};
    c.max_subscribers = 2;
    serve(c);
    auto client = stub(sock_);
    auto status_of = [&](const v1::SubscribeRequest& req) {
        grpc::ClientContext ctx;
        ctx.set_deadline(std::chrono::system_clock::now() + 5s);
        auto reader = client->Subscribe(&ctx, req);
        v1::SubscribeResponse resp;
        while (reader->Read(&resp)) {
        }
        return reader->Finish();
    };

    struct Bad {
        const char* name;
        std::function<void(v1::SubscribeRequest&)> set;
        grpc::StatusCode code;
        const char* message_has;
    };
    const std::vector<Bad> cases = {
        {"unknown priority", [](auto& r) { r.set_min_priority(static_cast<v1::Priority>(99)); },
         grpc::StatusCode::INVALID_ARGUMENT, "min_priority 99"},
        {"unknown verdict", [](auto& r) { r.add_verdicts(static_cast<v1::Verdict>(42)); },
         grpc::StatusCode::INVALID_ARGUMENT, "verdicts has 42"},
        {"too many rules", [](auto& r) { for (int i = 0; i < 300; i++) r.add_rules("r" + std::to_string(i)); },
         grpc::StatusCode::INVALID_ARGUMENT, "rules has 300 entries"},
        {"too many sessions", [](auto& r) { for (int i = 0; i < 2000; i++) r.add_session_ids(i); },
         grpc::StatusCode::INVALID_ARGUMENT, "session_ids has 2000 entries"},
        {"long rule name", [](auto& r) { r.add_rules(std::string(5000, 'x')); },
         grpc::StatusCode::INVALID_ARGUMENT, "5000 bytes long"},
        {"oversized request", [](auto& r) { r.add_rules(std::string(200000, 'x')); },
         grpc::StatusCode::RESOURCE_EXHAUSTED, ""},
    };
    for (const auto& b : cases) {
        SCOPED_TRACE(b.name);
        v1::SubscribeRequest req;
        b.set(req);
        auto st = status_of(req);
        EXPECT_EQ(st.error_code(), b.code) << st.error_message();
        EXPECT_NE(st.error_message().find(b.message_has), std::string::npos) << st.error_message();
    }

    // Bytes that are not HTTP/2 on the socket.
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::string path = dir_ + "/run/grpc.sock";
    std::strncpy(sa.sun_path, path.c_str(), sizeof sa.sun_path - 1);
    ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
    timeval tv{.tv_sec = 2, .tv_usec = 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    std::string junk = "GET / HTTP/1.1\r\n\r\n" + std::string(4096, '\xff');
    (void)!write(fd, junk.data(), junk.size());
    char buf[256];
    (void)!read(fd, buf, sizeof buf);
    close(fd);

    // Too many subscribers.
    grpc::ClientContext c1, c2;
    auto r1 = client->Subscribe(&c1, {});
    auto r2 = client->Subscribe(&c2, {});
    r1->WaitForInitialMetadata();
    r2->WaitForInitialMetadata();
    ASSERT_TRUE(wait_for([&] { return server_->subscribers() == 2; }));
    auto third = status_of({});
    EXPECT_EQ(third.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
    EXPECT_NE(third.error_message().find("too many subscribers (max 2)"), std::string::npos);
    c1.TryCancel();
    c2.TryCancel();
    r1->Finish();
    r2->Finish();

    // Still serving.
    ASSERT_TRUE(wait_for([&] { return server_->subscribers() == 0; }));
    auto f = subscribe_async({.address = sock_}, {}, false, 1);
    ASSERT_TRUE(wait_for([&] { return server_->subscribers() == 1; }));
    server_->publish(event("still alive", "Critical", "deny"));
    auto [rc, out, err] = f.get();
    EXPECT_EQ(rc, 0) << err;
    EXPECT_NE(out.find("still alive"), std::string::npos);
}

// A client that never reads must not slow publish(), must not starve a
// reading client, loses events with a count, and is disconnected.
TEST_F(GrpcTest, SlowSubscriberNeverBlocksPublish) {
    ServerConfig c;
    c.listen = {sock_};
    c.subscriber_queue = 1024;
    c.slow_timeout = 300ms;
    serve(c);
    auto client = stub(sock_);

    grpc::ClientContext slow_ctx;
    auto slow = client->Subscribe(&slow_ctx, {});  // never Read()
    slow->WaitForInitialMetadata();

    std::atomic<uint64_t> fast_events{0}, fast_lost{0};
    grpc::ClientContext fast_ctx;
    auto fast = client->Subscribe(&fast_ctx, {});
    fast->WaitForInitialMetadata();
    std::thread reader([&] {
        v1::SubscribeResponse r;
        while (fast->Read(&r)) {
            if (r.has_lost())
                fast_lost += r.lost().count();
            else
                fast_events++;
        }
    });
    ASSERT_TRUE(wait_for([&] { return server_->subscribers() == 2; }));

    auto e = event("flood", "Critical", "deny");
    e.path = std::string(2000, 'p');  // fills the slow client's HTTP/2 window sooner
    const uint64_t n = 20000;
    auto worst = std::chrono::nanoseconds(0);
    auto start = std::chrono::steady_clock::now();
    for (uint64_t i = 0; i < n; i++) {
        auto t0 = std::chrono::steady_clock::now();
        server_->publish(e);
        worst = std::max(worst, std::chrono::steady_clock::now() - t0);
        if (i % 500 == 499)
            std::this_thread::sleep_for(20ms);  // lets the reading client keep up
    }
    auto total = std::chrono::steady_clock::now() - start;
    EXPECT_LT(worst, 100ms) << "one publish() waited on a client";
    EXPECT_LT(total, 20s);

    // The slow one is cut off; the fast one saw everything, or a count.
    EXPECT_TRUE(wait_for([&] { return server_->subscribers() == 1; }, 5000ms))
        << "the slow subscriber was not disconnected";
    auto st = server_->stats();
    EXPECT_GT(st.dropped, 0u);
    server_->close();
    reader.join();
    EXPECT_TRUE(fast->Finish().ok());
    EXPECT_EQ(fast_events + fast_lost, n) << "every event arrived or was counted as lost";
    EXPECT_GT(fast_events, n / 2);
    // What reached the slow client before it was cut off, then the error.
    v1::SubscribeResponse r;
    uint64_t slow_events = 0;
    while (slow->Read(&r))
        slow_events += r.has_event();
    EXPECT_LT(slow_events, n / 2);
    EXPECT_FALSE(slow->Finish().ok());
}

TEST_F(GrpcTest, CloseDoesNotHangOnAClientThatNeverReads) {
    ServerConfig c;
    c.listen = {sock_};
    c.subscriber_queue = 100000;
    c.slow_timeout = std::chrono::hours(1);
    serve(c);
    auto client = stub(sock_);
    grpc::ClientContext ctx;
    auto stuck = client->Subscribe(&ctx, {});
    stuck->WaitForInitialMetadata();
    ASSERT_TRUE(wait_for([&] { return server_->subscribers() == 1; }));
    auto e = event("flood", "Critical", "deny");
    e.path = std::string(4000, 'p');
    for (int i = 0; i < 5000; i++)
        server_->publish(e);
    auto t0 = std::chrono::steady_clock::now();
    server_->close();
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
    ctx.TryCancel();
    stuck->Finish();
}

}  // namespace
}  // namespace bulkhead::exporters::rpc
