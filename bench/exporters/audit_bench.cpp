// SPDX-License-Identifier: Apache-2.0
// bulkhead-audit-bench: audit log appends per second as a ratio against
// plain JSONL appends (the same Falco JSON, one O_APPEND write per event)
// measured in the same run, for each fsync policy; plus the daemon-side
// cost of publish(). Never a unit test.
//
// usage: bulkhead-audit-bench [EVENTS] [DIR]   (default 100000, a new dir under /tmp)
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "bench_event.h"
#include "exporters/audit/audit_log.h"
#include "exporters/falco_json.h"

using namespace bulkhead;
using namespace bulkhead::exporters;
using Clock = std::chrono::steady_clock;

namespace {

double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// The baseline: what a plain JSONL sink does per event, synced like the
// audit policy it is compared with (every event, or once at the end).
double plain_jsonl(const std::string& path, int n, bool sync_each) {
    int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0) {
        std::perror(path.c_str());
        std::exit(1);
    }
    auto t0 = Clock::now();
    for (int i = 0; i < n; i++) {
        std::string line = dump_json(falco_json(bench::sample_event(i), "bench-host")) + "\n";
        if (::write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size()))
            std::exit(1);
        if (sync_each)
            ::fdatasync(fd);
    }
    ::fdatasync(fd);
    double s = seconds(Clock::now() - t0);
    ::close(fd);
    return n / s;
}

struct AuditResult {
    double per_s;
    double publish_ns;  // mean time publish() took on the caller's thread
    uint64_t dropped;
};

AuditResult run_audit(const std::string& dir, int n, audit::FsyncPolicy policy) {
    std::filesystem::remove_all(dir);
    audit::AuditConfig c;
    c.path = dir + "/audit.jsonl";
    c.secret_key = dir + "/key/audit.key";
    c.hostname = "bench-host";
    c.fsync = policy;
    c.queue_size = static_cast<size_t>(n) + 16;  // measure throughput, not drops
    auto log = audit::AuditLog::open(c);
    if (!log) {
        std::fprintf(stderr, "%s\n", log.error().c_str());
        std::exit(1);
    }
    std::vector<events::Event> evs;
    evs.reserve(n);
    for (int i = 0; i < n; i++)
        evs.push_back(bench::sample_event(i));
    auto t0 = Clock::now();
    Clock::duration in_publish{};
    for (const auto& e : evs) {
        auto p0 = Clock::now();
        (*log)->publish(e);
        in_publish += Clock::now() - p0;
    }
    (*log)->flush();
    double s = seconds(Clock::now() - t0);
    auto st = (*log)->stats();
    (*log)->close();
    return {n / s, seconds(in_publish) * 1e9 / n, st.dropped};
}

}  // namespace

int main(int argc, char** argv) {
    int n = argc > 1 ? std::atoi(argv[1]) : 100000;
    if (n <= 0)
        n = 100000;
    std::string dir;
    if (argc > 2) {
        dir = argv[2];
    } else {
        char tmpl[] = "/tmp/bulkhead-audit-bench-XXXXXX";
        if (!mkdtemp(tmpl))
            return 1;
        dir = tmpl;
    }
    std::filesystem::create_directories(dir);
    int n_sync = std::max(1, n / 20);  // fsync per event is slow: fewer events

    std::printf("bulkhead-audit-bench: %d events (%d for per-event fsync) in %s\n", n, n_sync, dir.c_str());
    double base = plain_jsonl(dir + "/plain.jsonl", n, false);
    double base_sync = plain_jsonl(dir + "/plain-sync.jsonl", n_sync, true);
    std::printf("  %-34s %12.0f events/s\n", "plain JSONL (baseline)", base);
    std::printf("  %-34s %12.0f events/s\n", "plain JSONL, fdatasync each", base_sync);

    struct Row {
        const char* name;
        audit::FsyncPolicy policy;
        int n;
        double baseline;
    };
    for (const Row& r : {Row{"audit, fsync never", audit::FsyncPolicy::never, n, base},
                         Row{"audit, fsync batch (default)", audit::FsyncPolicy::batch, n, base},
                         Row{"audit, fsync always", audit::FsyncPolicy::always, n_sync, base_sync}}) {
        auto a = run_audit(dir + "/audit", r.n, r.policy);
        std::printf("  %-34s %12.0f events/s  ratio %.2f  publish() %.0f ns  dropped %llu\n", r.name,
                    a.per_s, a.per_s / r.baseline, a.publish_ns,
                    static_cast<unsigned long long>(a.dropped));
    }
    if (argc <= 2)
        std::filesystem::remove_all(dir);
    return 0;
}
