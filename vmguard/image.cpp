// SPDX-License-Identifier: Apache-2.0
#include "vmguard/image.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace bulkhead::vmguard {

namespace fs = std::filesystem;

namespace {

// /init: busybox mounts the shares and API filesystems, then execs the agent
// as PID 1. A guest that cannot mount its shares powers off: the host sees
// QEMU exit and reports the console.
constexpr const char* kInit = R"(#!/vg/busybox sh
/vg/busybox mkdir -p /vg/bin && /vg/busybox --install -s /vg/bin
export PATH=/vg/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in $(cat /vg/modules.order); do
    insmod /vg/modules/$m || echo "vm-init: insmod $m failed" >&2
done
p9=trans=virtio,version=9p2000.L,ro,msize=262144
mount -t 9p -o $p9 usr /usr || { echo "vm-init: cannot mount /usr" >&2; reboot -f; }
mount -t 9p -o $p9 share /vg/share || { echo "vm-init: cannot mount the share" >&2; reboot -f; }
mount -t tmpfs -o mode=1777 tmp /tmp
mount -t tmpfs -o mode=0700 root /root
mount -t tmpfs -o mode=0755 home /home
mount -t tmpfs -o mode=0755 var /var
mkdir -m 1777 /var/tmp
mount -t tmpfs -o mode=0755 run /run
mount -t cgroup2 cgroup2 /sys/fs/cgroup
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs -o mode=1777 shm /dev/shm
ifconfig lo 127.0.0.1 up
hostname bulkhead-vm
exec /vg/bulkhead-guest
)";

// Bumped whenever the layout above changes, so cached images are rebuilt.
constexpr int kImageFormat = 1;

class Cpio {
public:
    explicit Cpio(std::ostream& out) : out_(out) {}

    void dir(const std::string& name, unsigned mode = 0755) { entry(name, S_IFDIR | mode, ""); }
    void file(const std::string& name, unsigned mode, const std::string& data) { entry(name, S_IFREG | mode, data); }
    void symlink(const std::string& name, const std::string& target) { entry(name, S_IFLNK | 0777, target); }
    void trailer() { entry("TRAILER!!!", 0, ""); }

private:
    void entry(const std::string& name, unsigned mode, const std::string& data) {
        char hdr[111];
        std::snprintf(hdr, sizeof(hdr), "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X", ino_++, mode, 0u,
                      0u, 1u, 0u, static_cast<unsigned>(data.size()), 0u, 0u, 0u, 0u,
                      static_cast<unsigned>(name.size() + 1), 0u);
        out_.write(hdr, 110);
        out_.write(name.c_str(), static_cast<std::streamsize>(name.size() + 1));
        pad(110 + name.size() + 1);
        out_.write(data.data(), static_cast<std::streamsize>(data.size()));
        pad(data.size());
    }
    void pad(size_t n) {
        static const char zeros[4] = {};
        out_.write(zeros, static_cast<std::streamsize>((4 - n % 4) % 4));
    }
    std::ostream& out_;
    unsigned ino_ = 1;
};

bool read_file(const std::string& path, std::string* out) {
    std::ifstream f(path, std::ios::binary);
    if (!f)
        return false;
    std::ostringstream ss;
    ss << f.rdbuf();
    *out = ss.str();
    return static_cast<bool>(f) || f.eof();
}

void mix(uint64_t& h, const std::string& s) {
    for (unsigned char c : s) {
        h ^= c;
        h *= 1099511628211ull;
    }
    h ^= 0xff;
    h *= 1099511628211ull;
}

void mix_file(uint64_t& h, const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0)
        mix(h, path + ":" + std::to_string(st.st_size) + ":" + std::to_string(st.st_mtim.tv_sec) + "." +
                   std::to_string(st.st_mtim.tv_nsec));
    else
        mix(h, path + ":missing");
}

// Runs argv and returns its stdout; empty *error on success.
std::string run_capture(const std::vector<std::string>& argv, std::string* error, const std::string& cwd = {}) {
    int pipefd[2];
    if (::pipe2(pipefd, O_CLOEXEC) != 0) {
        *error = std::string("pipe: ") + std::strerror(errno);
        return {};
    }
    pid_t pid = ::fork();
    if (pid == 0) {
        sigset_t none;  // not the daemon's blocked signals
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        ::dup2(pipefd[1], 1);
        if (!cwd.empty() && ::chdir(cwd.c_str()) != 0)
            ::_exit(126);
        std::vector<char*> args;
        for (const auto& a : argv)
            args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        ::execvp(args[0], args.data());
        std::fprintf(stderr, "vmguard: %s: %s\n", args[0], std::strerror(errno));
        ::_exit(127);
    }
    ::close(pipefd[1]);
    std::string out;
    char buf[4096];
    ssize_t n;
    while ((n = ::read(pipefd[0], buf, sizeof(buf))) > 0)
        out.append(buf, static_cast<size_t>(n));
    ::close(pipefd[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (pid < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        *error = argv[0] + " " + (argv.size() > 1 ? argv[1] : "") + " failed (status " + std::to_string(status) + ")";
    return out;
}

}  // namespace

std::string guest_agent_path() {
    return ::access(BULKHEAD_GUEST_AGENT_BUILD, X_OK) == 0 ? BULKHEAD_GUEST_AGENT_BUILD
                                                           : BULKHEAD_GUEST_AGENT_INSTALLED;
}

const std::vector<std::string>& guest_modules() {
    static const std::vector<std::string> mods = {
        "drivers/virtio/virtio_ring.ko", "drivers/virtio/virtio.ko", "drivers/virtio/virtio_mmio.ko",
        "drivers/char/virtio_console.ko", "fs/netfs/netfs.ko", "fs/fscache/fscache.ko", "net/9p/9pnet.ko",
        "net/9p/9pnet_virtio.ko", "fs/9p/9p.ko", "fs/overlayfs/overlay.ko"};
    return mods;
}

const std::vector<std::string>& etc_allow_list() {
    // Name resolution for users and libraries, shell start-up files and the
    // alternatives links: world-readable on every Debian host, no secrets.
    static const std::vector<std::string> files = {
        "passwd", "group", "ld.so.cache", "ld.so.conf", "nsswitch.conf", "profile", "bash.bashrc",
        "inputrc", "debian_version", "mime.types", "services", "protocols", "environment"};
    return files;
}

std::string build_image(const ImageInputs& in, const std::string& dir, Image* out) {
    std::error_code ec;
    std::string version;
    for (const auto& e : fs::directory_iterator(in.kernel_tree + "/boot", ec)) {
        auto name = e.path().filename().string();
        if (name.starts_with("vmlinuz-")) {
            version = name.substr(8);
            out->kernel = e.path().string();
        }
    }
    if (version.empty())
        return "vmguard: no boot/vmlinuz-* in '" + in.kernel_tree +
               "' (run `bulkhead vm prepare`, which unpacks Debian's linux-image package there)";
    const std::string moddir = in.kernel_tree + "/lib/modules/" + version + "/kernel/";
    for (const auto& m : guest_modules())
        if (::access((moddir + m).c_str(), R_OK) != 0)
            return "vmguard: kernel module " + moddir + m + " is missing (is '" + in.kernel_tree +
                   "' an unpacked linux-image-*-amd64 package?)";
    if (::access(in.guest_agent.c_str(), X_OK) != 0)
        return "vmguard: the guest agent '" + in.guest_agent + "' is missing (it is built as bulkhead-guest)";
    std::string busybox;
    if (!read_file(in.busybox, &busybox) || busybox.empty())
        return "vmguard: cannot read " + in.busybox + " (apt-get install busybox-static)";
    std::string probe_err;
    if (run_capture({"file", "-L", in.busybox}, &probe_err).find("dynamically") != std::string::npos)
        return "vmguard: " + in.busybox + " is dynamically linked and the guest has no libraries before /usr "
               "is mounted (apt-get install busybox-static)";

    uint64_t h = 1469598103934665603ull;
    mix(h, std::to_string(kImageFormat) + kInit);
    mix_file(h, in.busybox);
    mix_file(h, in.guest_agent);
    for (const auto& m : guest_modules())
        mix_file(h, moddir + m);
    for (const auto& f : etc_allow_list())
        mix_file(h, in.host_etc + "/" + f);
    mix_file(h, in.host_etc + "/alternatives");
    char hex[17];
    std::snprintf(hex, sizeof(hex), "%016llx", static_cast<unsigned long long>(h));
    out->kernel_version = version;
    out->initramfs = dir + "/initramfs-" + version + "-" + hex + ".cpio";
    if (::access(out->initramfs.c_str(), R_OK) == 0)
        return {};

    fs::create_directories(dir, ec);
    const std::string tmp = out->initramfs + ".tmp";
    {
        std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
        if (!f)
            return "vmguard: cannot write " + tmp + ": " + std::strerror(errno);
        Cpio c(f);
        for (const char* d : {"dev", "proc", "sys", "usr", "tmp", "root", "home", "var", "run", "mnt", "etc", "vg",
                              "vg/share", "vg/modules"})
            c.dir(d);
        for (const char* l : {"bin", "sbin", "lib", "lib64"})
            c.symlink(l, std::string("usr/") + l);
        c.file("init", 0755, kInit);
        c.file("vg/busybox", 0755, busybox);
        std::string data, order;
        if (!read_file(in.guest_agent, &data))
            return "vmguard: cannot read " + in.guest_agent;
        c.file("vg/bulkhead-guest", 0755, data);
        for (const auto& m : guest_modules()) {
            auto base = fs::path(m).filename().string();
            if (!read_file(moddir + m, &data))
                return "vmguard: cannot read " + moddir + m;
            c.file("vg/modules/" + base, 0644, data);
            order += base + "\n";
        }
        c.file("vg/modules.order", 0644, order);
        for (const auto& name : etc_allow_list())
            if (read_file(in.host_etc + "/" + name, &data))
                c.file("etc/" + name, 0644, data);
        c.file("etc/hostname", 0644, "bulkhead-vm\n");
        c.file("etc/hosts", 0644, "127.0.0.1 localhost bulkhead-vm\n::1 localhost\n");
        c.file("etc/resolv.conf", 0644, "");  // no network, no resolver
        c.symlink("etc/mtab", "/proc/self/mounts");
        c.symlink("etc/os-release", "../usr/lib/os-release");
        // Debian reaches awk, editor, pager, ... through these links.
        c.dir("etc/alternatives");
        for (const auto& e : fs::directory_iterator(in.host_etc + "/alternatives", ec))
            if (e.is_symlink())
                c.symlink("etc/alternatives/" + e.path().filename().string(), fs::read_symlink(e.path(), ec).string());
        c.trailer();
        if (!f.flush())
            return "vmguard: writing " + tmp + " failed: " + std::strerror(errno);
    }
    // Older images of this kernel go; one image per kernel is kept.
    for (const auto& e : fs::directory_iterator(dir, ec))
        if (e.path().filename().string().starts_with("initramfs-" + version + "-") && e.path() != tmp)
            fs::remove(e.path(), ec);
    if (::rename(tmp.c_str(), out->initramfs.c_str()) != 0)
        return "vmguard: rename " + tmp + ": " + std::strerror(errno);
    return {};
}

std::string fetch_kernel(const std::string& dir, std::string* kernel_tree) {
    *kernel_tree = dir + "/kernel";
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(*kernel_tree + "/boot", ec))
        if (e.path().filename().string().starts_with("vmlinuz-"))
            return {};
    std::string err;
    auto kernel_package = [&] {
        std::string pkg;
        std::istringstream ss(run_capture({"apt-cache", "depends", "linux-image-amd64"}, &err));
        for (std::string line; std::getline(ss, line);)
            if (auto p = line.find("Depends: linux-image-"); p != std::string::npos && pkg.empty()) {
                pkg = line.substr(p + 9);
                if (pkg.size() < 13 || !std::isdigit(static_cast<unsigned char>(pkg[12])))
                    pkg.clear();
            }
        return pkg;
    };
    std::string pkg = kernel_package();
    if (pkg.empty()) {
        // A fresh machine has no package lists yet.
        run_capture({"apt-get", "update", "-qq"}, &err);
        err.clear();
        pkg = kernel_package();
    }
    if (pkg.empty())
        return "vmguard: apt knows no linux-image-amd64 package (is Debian's archive reachable? apt-get update)";
    const std::string dl = dir + "/download";
    fs::remove_all(dl, ec);
    fs::create_directories(dl, ec);
    run_capture({"apt-get", "download", "-q", pkg}, &err, dl);
    if (!err.empty())
        return "vmguard: apt-get download " + pkg + " failed (run apt-get update)";
    std::string deb;
    for (const auto& e : fs::directory_iterator(dl, ec))
        if (e.path().extension() == ".deb")
            deb = e.path().string();
    const std::string tmp = *kernel_tree + ".tmp";
    fs::remove_all(tmp, ec);
    run_capture({"dpkg", "-x", deb, tmp}, &err);
    if (!err.empty())
        return "vmguard: dpkg -x " + deb + " failed";
    fs::remove_all(dl, ec);
    fs::remove_all(*kernel_tree, ec);
    fs::rename(tmp, *kernel_tree, ec);
    if (ec)
        return "vmguard: cannot move the unpacked kernel into " + *kernel_tree + ": " + ec.message();
    return {};
}

}  // namespace bulkhead::vmguard
