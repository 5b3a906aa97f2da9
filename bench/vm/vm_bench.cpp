// SPDX-License-Identifier: Apache-2.0
// microVM costs against a baseline measured in the same run:
//   boot:    vmguard's boot to the guest agent's first answer, against a bare
//            QEMU boot of the same kernel and initramfs to the same point
//            (the agent's "serving" line on the console);
//   promote: resuming a paused pool VM and attaching a workspace, against a
//            cold boot;
//   memory:  the QEMU process's resident memory per idle (paused) VM.
// Under software emulation absolute times are the emulator's; the ratios are
// what carries over.
//   vm_bench BULKHEAD ASSETS [ROUNDS]
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "vmguard/vm.h"

using namespace bulkhead::vmguard;
using Clock = std::chrono::steady_clock;

namespace {

double ms_since(Clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0 : v[v.size() / 2];
}

// QEMU with the same command line vmguard uses (qemu_command), without the
// supervisor and the channel: the time until the agent says it serves.
double bare_boot(const VmSpec& spec, const std::string& dir) {
    std::filesystem::create_directories(dir + "/share");
    std::string cmd = "exec timeout 60";
    for (const auto& a : qemu_command(spec, dir)) {
        cmd += " '";
        for (char c : a)
            cmd += c == '\'' ? std::string("'\\''") : std::string(1, c);
        cmd += "'";
    }
    cmd += " </dev/null";
    auto t0 = Clock::now();
    FILE* p = ::popen(cmd.c_str(), "r");
    char line[4096];
    double ms = -1;
    while (p && std::fgets(line, sizeof(line), p))
        if (std::string(line).find("bulkhead-guest: serving") != std::string::npos) {
            ms = ms_since(t0);
            break;
        }
    (void)!::system("pkill -f -- 'socket,id=ctl,path=/tmp/vm_bench.bare' >/dev/null 2>&1");
    if (p)
        ::pclose(p);
    std::filesystem::remove_all(dir);
    return ms;
}

long rss_kib(pid_t pid) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/status");
    std::string k;
    long v = 0;
    while (f >> k)
        if (k == "VmRSS:" && f >> v)
            return v;
    return -1;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 3) {
        std::cerr << "usage: vm_bench BULKHEAD ASSETS [ROUNDS]\n";
        return 2;
    }
    int rounds = argc > 3 ? std::atoi(argv[3]) : 3;
    ImageInputs in;
    in.kernel_tree = std::string(argv[2]) + "/kernel";
    in.guest_agent = BULKHEAD_GUEST_AGENT_BUILD;
    VmSpec spec;
    if (auto e = build_image(in, argv[2], &spec.image); !e.empty()) {
        std::cerr << e << "\n";
        return 1;
    }
    spec.run_dir = "/tmp/vm_bench.run";
    spec.supervisor = {argv[1], "vm-supervise"};
    std::filesystem::create_directories("/tmp/vm_bench.ws");
    std::vector<double> bare, cold, warm;
    std::vector<long> rss;
    int retried = 0;
    for (int r = 0; r < rounds; r++) {
        // Interleaved, so drift on the machine hits both alike.
        // A bare boot that hangs in early boot (see Vm::boot) is retried too.
        double b = -1;
        for (int attempt = 0; attempt < 3 && b < 0; attempt++)
            b = bare_boot(spec, "/tmp/vm_bench.bare" + std::to_string(r));
        if (b > 0)
            bare.push_back(b);
        spec.name = "bench" + std::to_string(r);
        std::string err;
        auto vm = Vm::boot(spec, &err);
        if (!vm) {
            std::cerr << err << "\n";
            return 1;
        }
        retried += vm->boot_attempts() - 1;
        cold.push_back(static_cast<double>(vm->boot_time().count()));
        vm->pause();
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
        rss.push_back(rss_kib(vm->qemu_pid()));
        auto t0 = Clock::now();
        vm->resume();
        if (auto e = vm->attach("/tmp/vm_bench.ws", {}, 0, 0); !e.empty()) {
            std::cerr << e << "\n";
            return 1;
        }
        warm.push_back(ms_since(t0));
    }
    std::filesystem::remove_all("/tmp/vm_bench.ws");
    std::sort(rss.begin(), rss.end());
    double b = median(bare), c = median(cold), w = median(warm);
    std::printf("microVM (accel tcg, %d rounds, medians)\n", rounds);
    std::printf("  bare QEMU boot to the agent      %8.0f ms\n", b);
    std::printf("  vmguard boot to the agent        %8.0f ms   %.2fx bare  (early-boot hangs retried: %d)\n", c,
                b > 0 ? c / b : 0.0, retried);
    std::printf("  promotion from the warm pool     %8.1f ms   %.4fx a cold boot\n", w, c > 0 ? w / c : 0.0);
    std::printf("  QEMU resident memory, idle VM    %8ld KiB (512 MiB guest)\n", rss.empty() ? 0 : rss[rss.size() / 2]);
    return 0;
}
