// SPDX-License-Identifier: Apache-2.0
// Events per second through the userspace evaluator on one core, with the
// shipped agents.yaml plus Falco's falco_rules.yaml, and the memory the
// compiled rules take.
//
// Baseline, measured in the same run on the same events: reading the fields
// any engine must read (evt.type and the event's main fields) through the
// same EventFields adapter, with no rule work. The ratio says what the rules
// cost on top of touching the event.
//
//   bulkhead-rules-bench [--seconds N] RULES.yaml...
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "engine/event_fields.h"
#include "rules/rules.h"

using namespace bulkhead;
using Clock = std::chrono::steady_clock;

namespace {

long rss_kib() {
    FILE* f = std::fopen("/proc/self/statm", "r");
    long pages = 0, resident = 0;
    if (f) {
        if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
        std::fclose(f);
    }
    return resident * 4;
}

std::vector<events::Event> make_events() {
    std::vector<events::Event> out;
    const char* paths[] = {"/home/ann/project/src/main.c", "/etc/shadow", "/home/ann/.ssh/id_ed25519",
                           "/usr/lib/x86_64-linux-gnu/libc.so.6", "/work/repo/.git/hooks/pre-commit",
                           "/tmp/build/obj/a.o", "/home/ann/.aws/credentials", "/proc/self/status"};
    const char* procs[] = {"cat", "node", "bash", "python3", "git", "curl", "make", "cc1"};
    for (int i = 0; i < 64; ++i) {
        events::Event e;
        e.session = i % 3 ? 7 : 0;
        e.agent = "claude-code";
        e.tgid = 1000 + i;
        e.ppid = 999;
        e.uid = 1000;
        e.comm = procs[i % 8];
        e.pname = "bash";
        e.exe = std::string("/usr/bin/") + e.comm;
        e.cmdline = e.comm + std::string(" --flag ") + paths[i % 8];
        e.cwd = "/home/ann/project";
        switch (i % 4) {
        case 0: case 1:  // opens dominate a real stream
            e.kind = "file";
            e.evt_type = "openat";
            e.op = i % 8 ? "read" : "write";
            e.path = paths[i % 8];
            e.verdict = "audit";
            break;
        case 2:
            e.kind = "exec";
            e.evt_type = "execve";
            break;
        case 3:
            e.kind = "net";
            e.evt_type = "connect";
            break;
        }
        out.push_back(std::move(e));
    }
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    double seconds = 3;
    std::vector<std::string> files;
    for (int i = 1; i < argc; ++i) {
        if (!std::strcmp(argv[i], "--seconds") && i + 1 < argc) seconds = std::atof(argv[++i]);
        else files.push_back(argv[i]);
    }
    if (files.empty()) {
        std::fprintf(stderr, "usage: %s [--seconds N] RULES.yaml...\n", argv[0]);
        return 2;
    }
    long rss_before = rss_kib();
    auto loaded = rules::load_rule_files(files);
    if (!loaded) {
        std::fprintf(stderr, "%s\n", loaded.error().to_string().c_str());
        return 1;
    }
    auto rs = std::make_shared<const rules::RuleSet>(std::move(*loaded));
    auto engine = rules::Evaluator::build(rs);  // every supported rule, kernel ones too: the worst case
    // What the daemon's evaluator runs: the rules the kernel does not enforce
    // and that are not the hooks' (tool_call).
    auto daemon = rules::Evaluator::build(rs, rules::Evaluator::userspace_rules(*rs));
    if (!engine || !daemon) {
        std::fprintf(stderr, "%s\n", (engine ? daemon : engine).error().to_string().c_str());
        return 1;
    }
    long rss_after = rss_kib();
    const auto events = make_events();

    // Baseline: the fields every engine reads, no rules.
    const char* touched[] = {"evt.type", "proc.name", "fd.name", "agent.session", "proc.cmdline", "user.uid"};
    std::vector<rules::FieldRef> refs;
    for (const char* name : touched) {
        rules::FieldRef ref;
        std::string why;
        rules::resolve_field(name, "", false, &ref, &why);
        refs.push_back(ref);
    }
    auto run = [&](auto&& body) {
        uint64_t n = 0;
        auto start = Clock::now();
        auto deadline = start + std::chrono::duration<double>(seconds);
        while (Clock::now() < deadline) {
            for (int rep = 0; rep < 64; ++rep)
                for (const auto& e : events) body(e), ++n;
        }
        return n / std::chrono::duration<double>(Clock::now() - start).count();
    };
    size_t sink = 0;
    double base = run([&](const events::Event& e) {
        engine::EventFields fields(e);
        rules::FieldValue v;
        for (const auto& ref : refs) sink += fields.get(ref, &v) ? v.str.size() : 0;
    });
    std::vector<size_t> fired;
    size_t total_fired = 0;
    double rate = run([&](const events::Event& e) {
        engine::EventFields fields(e);
        fired.clear();
        engine->evaluate(fields, &fired);
        total_fired += fired.size();
    });
    double daemon_rate = run([&](const events::Event& e) {
        engine::EventFields fields(e);
        fired.clear();
        daemon->evaluate(fields, &fired);
        total_fired += fired.size();
    });
    std::printf("rules loaded: %zu (%zu evaluated; %zu of them by the daemon's evaluator)\n", rs->rules.size(),
                engine->compiled_rules(), daemon->compiled_rules());
    std::printf("baseline (field reads only): %.0f events/s\n", base);
    std::printf("evaluator, the daemon's rules: %.0f events/s on one core (%.2fx the baseline's time per event)\n",
                daemon_rate, base / daemon_rate);
    std::printf("evaluator, every rule:         %.0f events/s on one core (%.2fx the baseline's time per event)\n",
                rate, base / rate);
    std::printf("compiled rules: %zu KiB by count, RSS growth while loading %ld KiB\n",
                engine->memory_bytes() / 1024, rss_after - rss_before);
    std::printf("(fired %zu alerts; checksum %zu)\n", total_fired, sink);
    return 0;
}
