// SPDX-License-Identifier: Apache-2.0
#include "vmguard/vm.h"

#include "vmguard/errno_text.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <filesystem>
#include <thread>

namespace bulkhead::vmguard {

namespace {

constexpr size_t kConsoleTail = 4096;
constexpr size_t kMaxChanges = 100'000;

std::string hex(const std::string& s) {
    static const char* digits = "0123456789abcdef";
    std::string out;
    for (unsigned char c : s) {
        out += digits[c >> 4];
        out += digits[c & 15];
    }
    return out;
}

std::optional<std::string> unhex(const std::string& s) {
    if (s.size() % 2)
        return std::nullopt;
    std::string out;
    for (size_t i = 0; i < s.size(); i += 2) {
        auto nib = [](char c) -> int {
            if (c >= '0' && c <= '9')
                return c - '0';
            if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
            return -1;
        };
        int hi = nib(s[i]), lo = nib(s[i + 1]);
        if (hi < 0 || lo < 0)
            return std::nullopt;
        out += static_cast<char>(hi << 4 | lo);
    }
    return out;
}

// Reads one line from fd, waiting up to timeout_ms; nullopt on EOF/timeout.
std::optional<std::string> read_line(int fd, std::string& buf, int timeout_ms) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
        if (auto nl = buf.find('\n'); nl != std::string::npos) {
            std::string line = buf.substr(0, nl);
            buf.erase(0, nl + 1);
            return line;
        }
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0)
            return std::nullopt;
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(left.count())) <= 0)
            continue;
        char tmp[8192];
        ssize_t n = ::read(fd, tmp, sizeof(tmp));
        if (n <= 0)
            return std::nullopt;
        buf.append(tmp, static_cast<size_t>(n));
    }
}

bool valid_name(const std::string& n) {
    if (n.empty() || n.size() > 64)
        return false;
    for (char c : n)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_')
            return false;
    return true;
}

// Removes what a VM directory can hold, never recursively: a mount left in
// it must never lead to deleting what is mounted there.
void remove_vm_dir(const std::string& dir) {
    for (const char* f : {"ctl.sock", "exec.sock", "net.sock", "qmp.sock", "console.log", "empty"})
        ::unlink((dir + "/" + f).c_str());
    ::rmdir((dir + "/share/ws").c_str());
    ::rmdir((dir + "/share").c_str());
    ::rmdir(dir.c_str());
}

std::string console_tail_of(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return {};
    struct stat st {};
    ::fstat(fd, &st);
    off_t off = st.st_size > static_cast<off_t>(kConsoleTail) ? st.st_size - static_cast<off_t>(kConsoleTail) : 0;
    std::string out(static_cast<size_t>(st.st_size - off), '\0');
    ssize_t n = ::pread(fd, out.data(), out.size(), off);
    ::close(fd);
    out.resize(n > 0 ? static_cast<size_t>(n) : 0);
    return out;
}

}  // namespace

bool valid_relative_path(const std::string& p) {
    if (p.empty() || p.size() > PATH_MAX || p[0] == '/' || p.find('\0') != std::string::npos)
        return false;
    size_t start = 0;
    while (start <= p.size()) {
        size_t end = p.find('/', start);
        if (end == std::string::npos)
            end = p.size();
        auto part = p.substr(start, end - start);
        if (part.empty() || part == "." || part == ".." || part.size() > NAME_MAX)
            return false;
        start = end + 1;
    }
    return true;
}

void remove_stale_vms(const std::string& run_dir) {
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(run_dir, ec))
        remove_vm_dir(e.path().string());
}

const char* accel_name(Accel a) { return a == Accel::kKvm ? "kvm" : "tcg"; }

std::vector<std::string> qemu_command(const VmSpec& spec, const std::string& dir) {
    const Limits& l = spec.limits;
    const bool kvm = spec.accel == Accel::kKvm;
    std::string append = "console=ttyS0 quiet panic=-1 reboot=t rdinit=/init bulkhead.pids=" + std::to_string(l.pids) +
                         " bulkhead.mem_mb=" + std::to_string(std::max(64, l.memory_mb * 3 / 4));
    if (spec.egress)
        append += " bulkhead.egress=1";
    std::vector<std::string> argv = {
        spec.qemu, "-M", "microvm", "-accel", kvm ? "kvm" : (l.vcpus > 1 ? "tcg,thread=multi" : "tcg"), "-cpu",
        kvm ? "host" : "max", "-smp", std::to_string(l.vcpus), "-m", std::to_string(l.memory_mb), "-nodefaults",
        "-no-user-config", "-display", "none", "-no-reboot", "-serial", "stdio",
        // QEMU's own seccomp filter: no exec, no privilege changes, no obsolete syscalls.
        "-sandbox", "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny",
        "-kernel", spec.image.kernel, "-initrd", spec.image.initramfs, "-append", append,
        "-device", "virtio-serial-device,id=vs",
        "-chardev", "socket,id=ctl,path=" + dir + "/ctl.sock,server=on,wait=off",
        "-device", "virtserialport,bus=vs.0,chardev=ctl,name=" VG_PORT_CTL,
        "-chardev", "socket,id=exec,path=" + dir + "/exec.sock,server=on,wait=off",
        "-device", "virtserialport,bus=vs.0,chardev=exec,name=" VG_PORT_EXEC,
        "-fsdev", "local,id=usr,path=/usr,security_model=none,readonly=on,multidevs=remap",
        "-device", "virtio-9p-device,fsdev=usr,mount_tag=usr",
        "-fsdev", "local,id=share,path=" + dir + "/share,security_model=none,readonly=on,multidevs=remap",
        "-device", "virtio-9p-device,fsdev=share,mount_tag=share",
        "-qmp", "unix:" + dir + "/qmp.sock,server=on,wait=off"};
    if (spec.egress)
        argv.insert(argv.end(), {"-chardev", "socket,id=net,path=" + dir + "/net.sock,server=on,wait=off",
                                 "-device", "virtserialport,bus=vs.0,chardev=net,name=" VG_PORT_NET});
    return argv;
}

// Debian's kernel under TCG on microvm sometimes stops for good in early
// boot (the console's last line is ACPI table parsing, at time 0), a few
// boots in ten on the development machines. A fresh QEMU boots, so a boot
// that does not reach the agent in time is retried.
std::unique_ptr<Vm> Vm::boot(const VmSpec& spec, std::string* error) {
    std::string all;
    for (int attempt = 1; attempt <= std::max(1, spec.boot_attempts); attempt++) {
        std::string err;
        auto vm = boot_once(spec, &err);
        if (vm) {
            vm->boot_attempts_ = attempt;
            return vm;
        }
        all += (all.empty() ? "" : "\n") + ("attempt " + std::to_string(attempt) + ": ") + err;
        if (err.find("did not answer within") == std::string::npos)
            break;  // not a hang: another try would fail the same way
    }
    *error = all;
    return nullptr;
}

std::unique_ptr<Vm> Vm::boot_once(const VmSpec& spec, std::string* error) {
    if (!valid_name(spec.name)) {
        *error = "vmguard: invalid VM name '" + spec.name + "'";
        return nullptr;
    }
    if (spec.supervisor.empty()) {
        *error = "vmguard: no supervisor command";
        return nullptr;
    }
    std::unique_ptr<Vm> vm(new Vm(spec));
    const auto started = std::chrono::steady_clock::now();
    vm->dir_ = spec.run_dir + "/" + spec.name;
    std::error_code ec;
    std::filesystem::create_directories(spec.run_dir, ec);
    remove_vm_dir(vm->dir_);  // a stale one, from a supervisor that was killed
    if (::mkdir(vm->dir_.c_str(), 0711) != 0 || ::mkdir((vm->dir_ + "/share").c_str(), 0755) != 0 ||
        ::mkdir((vm->dir_ + "/share/ws").c_str(), 0755) != 0) {
        *error = errno_text("vmguard: mkdir " + vm->dir_);
        return nullptr;
    }
    ::chmod(vm->dir_.c_str(), 0711);  // umask

    std::vector<std::string> argv = spec.supervisor;
    argv.push_back(vm->dir_);
    argv.push_back("3");
    argv.push_back("--");
    auto qemu = qemu_command(spec, vm->dir_);
    argv.insert(argv.end(), qemu.begin(), qemu.end());
    std::vector<char*> cargv;
    for (auto& a : argv)
        cargv.push_back(a.data());
    cargv.push_back(nullptr);

    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
        *error = errno_text("vmguard: socketpair");
        remove_vm_dir(vm->dir_);
        return nullptr;
    }
    pid_t sup = ::fork();
    if (sup == 0) {
        // Only async-signal-safe calls between fork and exec. The daemon
        // blocks its loop's signals in every thread; the supervisor sets
        // its own mask.
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        if (sv[1] == 3)
            ::fcntl(3, F_SETFD, 0);
        else
            ::dup2(sv[1], 3);
        ::execv(cargv[0], cargv.data());
        ::_exit(127);
    }
    ::close(sv[1]);
    vm->sup_fd_ = sv[0];
    vm->sup_pid_ = sup;
    if (sup < 0) {
        *error = errno_text("vmguard: fork");
        return nullptr;
    }
    std::string buf;
    auto first = read_line(vm->sup_fd_, buf, 10'000);
    if (!first || !first->starts_with("qemu ")) {
        *error = "vmguard: the supervisor (" + spec.supervisor[0] + ") did not start QEMU" +
                 (first ? ": " + *first : "");
        return nullptr;
    }
    vm->qemu_pid_ = std::atoi(first->c_str() + 5);
    vm->pidfd_ = static_cast<int>(::syscall(SYS_pidfd_open, vm->qemu_pid_, 0));

    std::string err;
    vm->ctl_ = Channel::connect(vm->dir_ + "/ctl.sock", std::chrono::milliseconds(10'000), &err);
    if (!vm->ctl_) {
        *error = "vmguard: " + err + vm->supervisor_tail();
        return nullptr;
    }
    if (auto e = vm->ctl_->send(VG_HELLO, 0); !e.empty()) {
        *error = "vmguard: " + e;
        return nullptr;
    }
    // HELLO again every second until the agent answers: bytes that reach the
    // port before the guest has opened it can be dropped.
    auto last_hello = std::chrono::steady_clock::now();
    for (;;) {
        auto f = vm->ctl_->receive(std::chrono::milliseconds(250), &err);
        if (!f && std::chrono::steady_clock::now() - last_hello > std::chrono::seconds(1)) {
            vm->ctl_->send(VG_HELLO, 0);
            last_hello = std::chrono::steady_clock::now();
        }
        if (f && f->type == VG_READY) {
            auto kv = KvList::parse(f->payload);
            if (!kv || kv->get("version") != std::to_string(VG_PROTOCOL_VERSION)) {
                *error = "vmguard: the guest agent speaks another protocol version (rebuild the image)";
                return nullptr;
            }
            vm->guest_kernel_ = kv->get("kernel").value_or("");
            break;
        }
        if (!f && !err.starts_with("timed out")) {
            *error = "vmguard: " + err + vm->supervisor_tail();
            return nullptr;
        }
        if (!vm->alive()) {
            *error = "vmguard: QEMU exited before the guest agent answered" + vm->supervisor_tail();
            return nullptr;
        }
        if (std::chrono::steady_clock::now() - started > spec.boot_timeout) {
            *error = "vmguard: the guest agent did not answer within " +
                     std::to_string(spec.boot_timeout.count() / 1000) + " s (accel " + accel_name(spec.accel) +
                     "); console:\n" + console_tail_of(vm->dir_ + "/console.log");
            return nullptr;
        }
    }
    // QMP, for pause and resume.
    auto qmp = Channel::connect(vm->dir_ + "/qmp.sock", std::chrono::milliseconds(5'000), &err);
    if (!qmp) {
        *error = "vmguard: QMP: " + err;
        return nullptr;
    }
    vm->qmp_fd_ = ::dup(qmp->fd());
    std::string qbuf;
    if (!read_line(vm->qmp_fd_, qbuf, 5'000)) {
        *error = "vmguard: QMP sent no greeting";
        return nullptr;
    }
    if (auto e = vm->qmp("qmp_capabilities"); !e.empty()) {
        *error = "vmguard: " + e;
        return nullptr;
    }
    vm->boot_time_ =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
    return vm;
}

Vm::~Vm() {
    stop();
    for (int fd : {pidfd_, qmp_fd_})
        if (fd >= 0)
            ::close(fd);
}

bool Vm::alive() const {
    if (pidfd_ < 0)
        return false;
    pollfd p{pidfd_, POLLIN, 0};
    return ::poll(&p, 1, 0) == 0;
}

// The supervisor's report of QEMU's exit and the console's last lines.
std::string Vm::supervisor_tail() {
    std::string buf;
    std::string out;
    // The supervisor reports within moments of QEMU's exit.
    for (int i = 0; i < 20 && alive(); i++)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    while (auto line = read_line(sup_fd_, buf, 2'000)) {
        if (line->starts_with("exit "))
            out += "; QEMU " + line->substr(5);
        if (line->starts_with("console ")) {
            size_t n = std::stoul(line->substr(8));
            while (buf.size() < n)
                if (!read_line(sup_fd_, buf, 2'000) && buf.size() < n)
                    break;
            out += "; console:\n" + buf.substr(0, n);
            break;
        }
    }
    return out;
}

std::string Vm::supervisor_request(const std::string& line) {
    std::string msg = line + "\n";
    if (::send(sup_fd_, msg.data(), msg.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(msg.size()))
        return errno_text("vmguard: supervisor");
    std::string buf;
    auto reply = read_line(sup_fd_, buf, 30'000);
    if (!reply)
        return "vmguard: the supervisor did not answer '" + line.substr(0, line.find(' ')) + "'";
    if (*reply == "ok")
        return {};
    if (reply->starts_with("exit "))
        return "vmguard: QEMU exited (" + reply->substr(5) + ")";
    return "vmguard: " + (reply->starts_with("error ") ? reply->substr(6) : *reply);
}

std::string Vm::qmp(const std::string& command) {
    std::string msg = "{\"execute\":\"" + command + "\"}\n";
    if (::send(qmp_fd_, msg.data(), msg.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(msg.size()))
        return errno_text("QMP " + command);
    std::string buf;
    while (auto line = read_line(qmp_fd_, buf, 5'000)) {
        if (line->find("\"return\"") != std::string::npos)
            return {};
        if (line->find("\"error\"") != std::string::npos)
            return "QMP " + command + ": " + *line;
    }
    return "QMP " + command + ": no answer";
}

std::string Vm::pause() { return qmp("stop"); }
std::string Vm::resume() { return qmp("cont"); }

std::string Vm::attach(const std::string& workspace, const std::vector<std::string>& hide, uid_t uid, gid_t gid) {
    if (!workspace_.empty())
        return "vmguard: VM " + name() + " already has the workspace " + workspace_;
    if (workspace.empty() || workspace[0] != '/' || workspace == "/")
        return "vmguard: the workspace must be an absolute directory other than / (got '" + workspace + "')";
    for (const char* sys : {"/usr", "/proc", "/sys", "/dev", "/vg"})
        if (workspace == sys || workspace.starts_with(std::string(sys) + "/"))
            return "vmguard: the workspace " + workspace + " lies in " + sys + ", which the guest provides itself";
    if (auto e = supervisor_request("attach " + hex(workspace)); !e.empty())
        return e;
    for (const auto& h : hide)
        if (h.starts_with(workspace + "/"))
            if (auto e = supervisor_request("hide " + hex(h.substr(workspace.size() + 1))); !e.empty())
                return e;
    if (auto e = supervisor_request("chown " + std::to_string(uid) + " " + std::to_string(gid)); !e.empty())
        return e;
    KvList kv;
    kv.add("lower", "/vg/share/ws").add("path", workspace).add("size_mb", std::to_string(spec_.limits.disk_mb));
    const uint32_t id = next_id_++;
    if (auto e = ctl_->send(VG_ATTACH, id, kv.bytes()); !e.empty())
        return "vmguard: " + e;
    std::string err;
    auto f = reply(id, std::chrono::seconds(30), &err);
    if (!f)
        return "vmguard: attach: " + err;
    if (f->type != VG_OK)
        return "vmguard: " + f->payload;
    workspace_ = workspace;
    return {};
}

// The next frame for request `id`; frames of other requests (a late READY)
// are skipped.
std::optional<Frame> Vm::reply(uint32_t id, std::chrono::milliseconds timeout, std::string* error) {
    for (;;) {
        auto f = ctl_->receive(timeout, error);
        if (!f || f->id == id)
            return f;
    }
}

std::string Vm::diff(std::vector<Change>* changes) {
    const uint32_t id = next_id_++;
    if (auto e = ctl_->send(VG_DIFF, id); !e.empty())
        return "vmguard: " + e;
    std::string err;
    for (;;) {
        auto f = reply(id, std::chrono::seconds(60), &err);
        if (!f)
            return "vmguard: diff: " + err;
        if (f->type == VG_END)
            return {};
        if (f->type == VG_ERROR)
            return "vmguard: " + f->payload;
        auto kv = KvList::parse(f->payload);
        if (f->type != VG_CHANGE || !kv)
            return "vmguard: diff: malformed frame from the guest";
        Change c;
        auto op = kv->get("op").value_or(""), type = kv->get("type").value_or("");
        c.path = kv->get("path").value_or("");
        c.target = kv->get("target").value_or("");
        if (op.size() != 1 || std::string("AMD").find(op[0]) == std::string::npos || type.size() != 1 ||
            std::string("fdl").find(type[0]) == std::string::npos || !valid_relative_path(c.path))
            return "vmguard: diff: the guest reported a malformed change (op '" + op + "', path '" +
                   c.path.substr(0, 200) + "')";
        c.op = op[0];
        c.type = type[0];
        c.mode = static_cast<unsigned>(std::strtoul(kv->get("mode").value_or("644").c_str(), nullptr, 8)) & 07777;
        c.size = std::strtoull(kv->get("size").value_or("0").c_str(), nullptr, 10);
        if (changes->size() >= kMaxChanges)
            return "vmguard: diff: more than " + std::to_string(kMaxChanges) + " changes";
        changes->push_back(std::move(c));
    }
}

std::string Vm::read(const std::string& rel, size_t max, std::string* data) {
    if (!valid_relative_path(rel))
        return "vmguard: read: invalid path '" + rel.substr(0, 200) + "'";
    const uint32_t id = next_id_++;
    KvList kv;
    kv.add("path", rel);
    if (auto e = ctl_->send(VG_READ, id, kv.bytes()); !e.empty())
        return "vmguard: " + e;
    data->clear();
    std::string err;
    for (;;) {
        auto f = reply(id, std::chrono::seconds(60), &err);
        if (!f)
            return "vmguard: read " + rel + ": " + err;
        if (f->type == VG_END)
            return {};
        if (f->type == VG_ERROR)
            return "vmguard: " + f->payload;
        if (f->type != VG_DATA)
            return "vmguard: read: unexpected frame from the guest";
        if (data->size() + f->payload.size() > max)
            return "vmguard: read " + rel + ": larger than " + std::to_string(max) + " bytes";
        *data += f->payload;
    }
}

ExecResult Vm::exec(const ExecRequest& req, const std::function<void(const std::string&)>& on_stdout,
                    const std::function<void(const std::string&)>& on_stderr) {
    return vmguard::exec(*ctl_, next_id_++, req, -1, on_stdout, on_stderr);
}

void Vm::stop() {
    if (sup_fd_ < 0)
        return;
    if (alive() && ctl_) {
        ctl_->send(VG_POWEROFF, next_id_++);
        pollfd p{pidfd_, POLLIN, 0};
        ::poll(&p, 1, 3'000);
    }
    ctl_.reset();
    // EOF on its socket: the supervisor kills what is left of QEMU, removes
    // the directory and exits.
    ::close(sup_fd_);
    sup_fd_ = -1;
    if (pidfd_ >= 0) {
        pollfd p{pidfd_, POLLIN, 0};
        ::poll(&p, 1, 5'000);
    }
    if (sup_pid_ > 0)
        ::waitpid(sup_pid_, nullptr, 0);
    sup_pid_ = 0;
}

KvmProbe probe_kvm(VmSpec spec, std::chrono::milliseconds timeout) {
    KvmProbe p;
    if (::access("/dev/kvm", R_OK | W_OK) != 0) {
        p.why = errno_text("/dev/kvm");
        return p;
    }
    spec.accel = Accel::kKvm;
    spec.boot_timeout = timeout;
    spec.boot_attempts = 1;
    spec.name += "-kvm-probe";
    std::string err;
    auto vm = Vm::boot(spec, &err);
    if (!vm) {
        p.why = "/dev/kvm exists but did not boot the guest: " + err.substr(0, err.find('\n'));
        return p;
    }
    p.usable = true;
    p.why = "/dev/kvm booted the guest in " + std::to_string(vm->boot_time().count()) + " ms";
    return p;
}

// ---------------------------------------------------------------------------
// The supervisor: a fresh process (exec'd, single-threaded).

namespace {

struct Supervisor {
    std::string dir;
    int fd = -1;
    pid_t qemu = 0;
    std::vector<std::string> mounts;  // innermost last

    void say(const std::string& line) {
        std::string msg = line + "\n";
        ::send(fd, msg.data(), msg.size(), MSG_NOSIGNAL);
    }

    std::string share_path(const std::string& rel) { return dir + "/share/ws" + (rel.empty() ? "" : "/" + rel); }

    std::string handle(const std::string& line) {
        auto sp = line.find(' ');
        std::string verb = line.substr(0, sp), arg = sp == std::string::npos ? "" : line.substr(sp + 1);
        if (verb == "attach") {
            auto src = unhex(arg);
            if (!src || (*src)[0] != '/')
                return "malformed attach";
            struct stat st {};
            if (::stat(src->c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
                return "workspace " + *src + ": not a directory";
            auto dst = share_path("");
            if (::mount(src->c_str(), dst.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0)
                return errno_text("bind " + *src);
            mounts.push_back(dst);
            if (::mount(nullptr, dst.c_str(), nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV,
                        nullptr) != 0)
                return errno_text("read-only remount of " + *src);
            return {};
        }
        if (verb == "hide") {
            auto rel = unhex(arg);
            if (!rel || !valid_relative_path(*rel))
                return "malformed hide";
            auto target = share_path(*rel);
            char real[PATH_MAX];
            // A link inside the workspace must not aim the mask elsewhere.
            if (!::realpath(target.c_str(), real))
                return {};  // nothing there to hide
            if (std::string(real) != target)
                return "hide " + *rel + ": resolves outside its place (" + real + ")";
            struct stat st {};
            ::lstat(target.c_str(), &st);
            int rc;
            if (S_ISDIR(st.st_mode)) {
                rc = ::mount("hidden", target.c_str(), "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                             "size=4k,mode=0555");
            } else {
                auto empty = dir + "/empty";
                int e = ::open(empty.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0444);
                if (e >= 0)
                    ::close(e);
                rc = ::mount(empty.c_str(), target.c_str(), nullptr, MS_BIND, nullptr);
            }
            if (rc != 0)
                return errno_text("hide " + *rel);
            mounts.push_back(target);
            return {};
        }
        if (verb == "chown") {
            unsigned uid = 0, gid = 0;
            if (std::sscanf(arg.c_str(), "%u %u", &uid, &gid) != 2)
                return "malformed chown";
            if (::chown((dir + "/exec.sock").c_str(), uid, gid) != 0 || ::chmod((dir + "/exec.sock").c_str(), 0600))
                return errno_text("chown exec.sock");
            return {};
        }
        return "unknown request '" + verb + "'";
    }

    void cleanup() {
        if (qemu > 0) {
            ::kill(qemu, SIGKILL);
            ::waitpid(qemu, nullptr, 0);
            qemu = 0;
        }
        for (auto it = mounts.rbegin(); it != mounts.rend(); ++it)
            ::umount2(it->c_str(), MNT_DETACH);
        remove_vm_dir(dir);
    }
};

}  // namespace

int supervise(const std::vector<std::string>& args) {
    Supervisor s;
    size_t i = 0;
    if (args.size() < 4) {
        std::fprintf(stderr, "usage: bulkhead vm-supervise DIR FD -- QEMU ARGS...\n");
        return 2;
    }
    s.dir = args[i++];
    s.fd = std::atoi(args[i++].c_str());
    if (i >= args.size() || args[i++] != "--" || i >= args.size()) {
        std::fprintf(stderr, "vm-supervise: expected -- QEMU ARGS\n");
        return 2;
    }
    ::fcntl(s.fd, F_SETFD, FD_CLOEXEC);
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    sigset_t set;
    sigemptyset(&set);
    for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGCHLD})
        sigaddset(&set, sig);
    ::sigprocmask(SIG_BLOCK, &set, nullptr);
    int sfd = ::signalfd(-1, &set, SFD_CLOEXEC);

    // The workspace mounts live here only; nothing propagates to the host.
    if (::unshare(CLONE_NEWNS) != 0 || ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
        s.say("error " + errno_text("mount namespace"));
        s.cleanup();
        return 1;
    }
    int con = ::open((s.dir + "/console.log").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    std::vector<char*> qargv;
    for (size_t k = i; k < args.size(); k++)
        qargv.push_back(const_cast<char*>(args[k].c_str()));
    qargv.push_back(nullptr);
    s.qemu = ::fork();
    if (s.qemu == 0) {
        ::sigprocmask(SIG_UNBLOCK, &set, nullptr);
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        int null = ::open("/dev/null", O_RDONLY);
        ::dup2(null, 0);
        ::dup2(con, 1);
        ::dup2(con, 2);
        ::execvp(qargv[0], qargv.data());
        std::fprintf(stderr, "vm-supervise: %s: %s\n", qargv[0], std::strerror(errno));
        ::_exit(127);
    }
    if (s.qemu < 0) {
        s.say("error " + errno_text("fork"));
        s.cleanup();
        return 1;
    }
    s.say("qemu " + std::to_string(s.qemu));
    std::string buf;
    for (;;) {
        pollfd p[2] = {{s.fd, POLLIN, 0}, {sfd, POLLIN, 0}};
        if (::poll(p, 2, -1) < 0 && errno != EINTR)
            break;
        if (p[1].revents & POLLIN) {
            signalfd_siginfo si{};
            if (::read(sfd, &si, sizeof(si)) == sizeof(si) && si.ssi_signo != SIGCHLD)
                break;  // stopped from outside
            int status = 0;
            if (::waitpid(s.qemu, &status, WNOHANG) == s.qemu) {
                s.qemu = 0;
                s.say("exit " + std::string(WIFEXITED(status) ? "status " + std::to_string(WEXITSTATUS(status))
                                                               : "signal " + std::to_string(WTERMSIG(status))));
                auto tail = console_tail_of(s.dir + "/console.log");
                s.say("console " + std::to_string(tail.size()));
                ::send(s.fd, tail.data(), tail.size(), MSG_NOSIGNAL);
                break;
            }
        }
        if (p[0].revents & (POLLIN | POLLHUP)) {
            char tmp[4096];
            ssize_t n = ::read(s.fd, tmp, sizeof(tmp));
            if (n <= 0)
                break;  // our owner is gone
            buf.append(tmp, static_cast<size_t>(n));
            if (buf.size() > 64 * 1024)
                break;
            for (size_t nl; (nl = buf.find('\n')) != std::string::npos;) {
                auto line = buf.substr(0, nl);
                buf.erase(0, nl + 1);
                auto err = s.handle(line);
                s.say(err.empty() ? "ok" : "error " + err);
            }
        }
    }
    s.cleanup();
    return 0;
}

}  // namespace bulkhead::vmguard
