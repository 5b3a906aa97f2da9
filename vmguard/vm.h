// SPDX-License-Identifier: Apache-2.0
// One microVM: QEMU's `microvm` machine running the vmguard image (image.h),
// reached over the exec channel (channel.h).
//
// QEMU does not run as our child: `bulkhead vm-supervise` (supervise() below)
// starts it in a mount namespace of its own and stays beside it. The
// supervisor bind-mounts the workspace read-only into the VM's share when
// asked, so the mount exists only in that namespace. It also removes the VM's
// directory when QEMU exits, when the VM is stopped, or when the daemon dies
// (its end of the supervisor's socket closes). So no QEMU, socket or file
// outlives its owner, even after a SIGKILL of the daemon or a guest panic.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "vmguard/channel.h"
#include "vmguard/image.h"

namespace bulkhead::vmguard {

enum class Accel { kKvm, kTcg };
const char* accel_name(Accel a);

struct Limits {
    int vcpus = 1;
    int memory_mb = 512;   // the VM's RAM; commands get three quarters of it
    int disk_mb = 256;     // the workspace's writable layer
    int pids = 512;        // processes the VM's commands may have at once
};

struct VmSpec {
    std::string name;     // the VM's directory below run_dir; [A-Za-z0-9_-]
    std::string run_dir;  // e.g. /run/bulkhead/vm
    Image image;
    Accel accel = Accel::kTcg;
    Limits limits;
    std::string qemu = "qemu-system-x86_64";
    // argv prefix that runs supervise(): {"/usr/bin/bulkhead", "vm-supervise"}
    std::vector<std::string> supervisor;
    std::chrono::milliseconds boot_timeout{90'000};  // per attempt
    int boot_attempts = 3;
    // A third port, DIR/net.sock, for an EgressProxy (egress.h): the guest
    // listens on 127.0.0.1:VG_NET_PORT and sends each connection there.
    // Still no network device.
    bool egress = false;
};

// A change of the workspace inside the VM, against the host's copy.
struct Change {
    char op = 'M';    // A(dded), M(odified), D(eleted)
    char type = 'f';  // f(ile), d(irectory), l(ink)
    unsigned mode = 0644;
    uint64_t size = 0;
    std::string path;    // relative to the workspace, as the guest says: untrusted
    std::string target;  // symbolic links
};

// QEMU's command line for a VM whose sockets and share live in dir: the
// microvm machine, no network device, QEMU's seccomp sandbox, the exec
// channel's two ports (and the net port, DIR/net.sock, with spec.egress),
// /usr and the share over 9p, QMP.
std::vector<std::string> qemu_command(const VmSpec& spec, const std::string& dir);

// Whether a workspace-relative path from the guest is one to act on: no
// leading '/', no empty, "." or ".." component, components within NAME_MAX.
bool valid_relative_path(const std::string& path);

// Removes the VM directories a killed supervisor left below run_dir (never
// recursively: see remove_vm_dir in vm.cpp).
void remove_stale_vms(const std::string& run_dir);

class Vm {
public:
    // Boots and waits for the guest agent. *error carries the console's tail
    // when the guest never came up.
    static std::unique_ptr<Vm> boot(const VmSpec& spec, std::string* error);
    ~Vm();  // stops QEMU; the supervisor removes the directory
    Vm(const Vm&) = delete;
    Vm& operator=(const Vm&) = delete;

    const std::string& name() const { return spec_.name; }
    const std::string& dir() const { return dir_; }
    std::string exec_socket() const { return dir_ + "/exec.sock"; }
    std::string net_socket() const { return dir_ + "/net.sock"; }  // with spec.egress
    pid_t qemu_pid() const { return qemu_pid_; }
    Accel accel() const { return spec_.accel; }
    const Limits& limits() const { return spec_.limits; }
    std::chrono::milliseconds boot_time() const { return boot_time_; }  // of the last attempt
    int boot_attempts() const { return boot_attempts_; }
    const std::string& kernel() const { return guest_kernel_; }
    bool alive() const;
    const std::string& workspace() const { return workspace_; }

    // QMP stop / cont: a paused VM uses no CPU (the warm pool).
    std::string pause();
    std::string resume();

    // Shares `workspace` read-only and has the guest overlay it, writable in
    // memory, at the same path. `hide` lists paths below the workspace that
    // the guest sees empty (secrets inside it). The exec socket is handed to
    // uid:gid, so the session's own processes can run commands in the VM.
    std::string attach(const std::string& workspace, const std::vector<std::string>& hide, uid_t uid, gid_t gid);

    std::string diff(std::vector<Change>* changes);
    // The new content of a changed file, at most `max` bytes.
    std::string read(const std::string& rel, size_t max, std::string* data);
    // A command over the daemon's channel (relaunching a session's command).
    ExecResult exec(const ExecRequest& req, const std::function<void(const std::string&)>& on_stdout,
                    const std::function<void(const std::string&)>& on_stderr);
    // Asks the guest to stop, then makes sure QEMU is gone.
    void stop();

private:
    explicit Vm(VmSpec spec) : spec_(std::move(spec)) {}
    static std::unique_ptr<Vm> boot_once(const VmSpec& spec, std::string* error);
    std::string supervisor_request(const std::string& line);
    std::optional<Frame> reply(uint32_t id, std::chrono::milliseconds timeout, std::string* error);
    std::string qmp(const std::string& command);
    std::string supervisor_tail();

    VmSpec spec_;
    std::string dir_;
    int sup_fd_ = -1;   // our end of the supervisor's socket
    pid_t sup_pid_ = 0;
    int pidfd_ = -1;    // QEMU
    int qmp_fd_ = -1;
    pid_t qemu_pid_ = 0;
    std::optional<Channel> ctl_;
    std::chrono::milliseconds boot_time_{0};
    std::string guest_kernel_;
    std::string workspace_;
    uint32_t next_id_ = 1;
    int boot_attempts_ = 1;
};

// Whether /dev/kvm runs this guest: boots it with KVM and waits up to
// `timeout` for the agent. Some hosts expose a /dev/kvm that cannot run an
// ordinary guest (a nested, paravirtual one), so its presence proves nothing.
struct KvmProbe {
    bool usable = false;
    std::string why;
};
KvmProbe probe_kvm(VmSpec spec, std::chrono::milliseconds timeout);

// `bulkhead vm-supervise DIR FD -- QEMU ARGS...`; see above.
int supervise(const std::vector<std::string>& args);

}  // namespace bulkhead::vmguard
