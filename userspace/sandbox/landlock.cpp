// SPDX-License-Identifier: Apache-2.0
#include "sandbox/landlock.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <memory>
#include <optional>

#include "events/event.h"
#include "guards/file_guard.h"

namespace bulkhead::sandbox {

namespace {

using rules::KernelScope;
using rules::KernelVerdict;
using rules::TargetKind;

// Bounds: symlinks followed per target (the kernel's own limit), and rules
// per ruleset (a policy that needs more is an error, not a partial sandbox).
constexpr int kMaxSymlinks = 40;
constexpr size_t kMaxGrants = 1u << 16;

// The kernel's structs, declared here because the installed header may be
// older than the running kernel. Sizes select the ABI's layout.
struct RulesetAttr {
    uint64_t handled_access_fs;
    uint64_t handled_access_net;
    uint64_t scoped;
};
struct __attribute__((packed)) PathBeneathAttr {
    uint64_t allowed_access;
    int32_t parent_fd;
};

std::string esc(const std::string& raw) { return events::escape_path(raw); }

// `prefix*suffix` or a literal name, as the BPF file guard matches them.
struct Glob {
    std::string prefix, suffix;
    bool star = false;
    bool matches(const std::string& name) const {
        if (!star)
            return name == prefix;
        return name.size() >= prefix.size() + suffix.size() && name.compare(0, prefix.size(), prefix) == 0 &&
               name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
    }
};

struct Node {
    enum class State { kDir, kOther, kSymlink, kMissing, kUnreachable };
    std::string path;  // absolute, raw bytes
    State state = State::kMissing;
    Fd fd;  // O_PATH, when the object exists
    std::map<std::string, std::unique_ptr<Node>> children;
    uint64_t point = 0;    // denied on this object: it and its ancestors must not grant these
    uint64_t subtree = 0;  // denied on everything beneath (a protected directory)
    std::vector<std::pair<Glob, uint64_t>> globs;  // future entries matching get these denied
    uint64_t below = 0;      // point of this node and every node beneath
    uint64_t inherited = 0;  // subtree denials of this node and its ancestors
};

std::string join(const std::string& dir, const std::string& name) {
    return dir == "/" ? "/" + name : dir + "/" + name;
}

class Planner {
public:
    Planner(const LandlockInputs& in, LandlockPlan* plan) : in_(in), plan_(plan) {}

    bool open_root() {
        root_.path = "/";
        root_.fd = Fd(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
        if (!root_.fd.valid()) {
            plan_->errors.push_back(std::string("landlock: cannot open /: ") + std::strerror(errno));
            return false;
        }
        root_.state = Node::State::kDir;
        return true;
    }

    void add(const rules::FileProtection& p) {
        if (p.scope == KernelScope::kAgent && p.agent != in_.agent)
            return;  // another agent kind's rule: it does not reach this session
        if (p.verdict == KernelVerdict::kAudit) {
            gap(p.rule, "audit",
                p.taint.empty() ? "audit rules only report, and at this level the daemon's observer reports "
                                  "opens only for rules with `taint:`"
                                : "reported, and the session tainted, by the daemon's observer when a daemon runs");
            return;
        }
        // The daemon's fanotify broker holds `ask` files after Landlock lets
        // the open through; without a daemon nobody can be asked, so they
        // are denied (fail closed).
        if (p.verdict == KernelVerdict::kAsk && in_.ask_broker)
            return;
        if (p.verdict == KernelVerdict::kAsk)
            gap(p.rule, "ask", "no daemon holds the operation for a human, so it is denied");
        uint32_t ops = guards::close_ops(p.ops);
        bool reads = ops & (rules::kOpRead | rules::kOpMmap);
        bool writes = ops & (rules::kOpWrite | rules::kOpCreate | rules::kOpUnlink | rules::kOpSetattr);
        bool moves = ops & (rules::kOpLink | rules::kOpRename);
        uint64_t obj = 0, dir = 0;
        if (reads)
            obj |= ll::kReadFile;
        if (ops & rules::kOpExec) {
            obj |= ll::kExecute;
            gap(p.rule, "executable mappings (ld.so PROGRAM)",
                "Landlock's execute right covers execve only; the dynamic loader can still map the program "
                "(bpf-lsm refuses mmap(PROT_EXEC) of it)");
        }
        if (writes)
            obj |= ll::kWriteFile | (in_.abi >= 3 ? ll::kTruncate : 0);
        // Creating, removing, renaming or linking at a name are rights of
        // its directory. A read-only or exec-only rule needs none: Landlock
        // refuses to move or link a file where it would gain rights (EXDEV).
        bool object_denied = reads || (ops & rules::kOpExec);
        if (writes || (moves && !object_denied))
            dir = ll::kRemoveAll | ll::kMakeAll;
        if (ops & rules::kOpSetattr)
            gap(p.rule, "chmod, chown", "Landlock has no right for attribute changes");
        if (ops & rules::kOpConnect)
            gap(p.rule, "connect to a Unix socket", "Landlock ABI " + std::to_string(in_.abi) +
                " has no right for connecting to a socket at a path (bpf-lsm refuses it by inode)");
        if (writes && in_.abi < 3)
            gap(p.rule, "truncate(2)", "needs Landlock ABI 3 (the running ABI is " + std::to_string(in_.abi) + ")");
        if (moves && !object_denied && !writes)
            gap(p.rule, "hard links into other directories",
                "Landlock allows them when they grant no new rights");
        if (!obj && !dir) {
            gap(p.rule, "all its operations", "none of them maps to a Landlock right");
            return;
        }
        for (const auto& t : p.targets)
            add_target(p, t, obj, dir);
    }

    void finish() {
        propagate(&root_, 0);
        emit(&root_);
        std::sort(plan_->frozen.begin(), plan_->frozen.end());
    }

private:
    void gap(const std::string& rule, const std::string& what, const std::string& why) {
        Gap g{rule, what, why};
        if (std::find(plan_->gaps.begin(), plan_->gaps.end(), g) == plan_->gaps.end())
            plan_->gaps.push_back(std::move(g));
    }

    void error(const std::string& rule, const std::string& msg) {
        plan_->errors.push_back("landlock: rule '" + rule + "': " + msg);
    }

    void add_target(const rules::FileProtection& p, const rules::FileTarget& t, uint64_t obj, uint64_t dir) {
        if (t.kind == TargetKind::kOtherWorkspaces) {
            gap(p.rule, "workspaces of sessions started later",
                "the ruleset is fixed when the session starts; the daemon names the ones live then");
            for (const auto& ws : in_.other_workspaces)
                add_target(p, {TargetKind::kSubtree, ws}, obj, dir);
            return;
        }
        if (t.kind == TargetKind::kInode) {
            gap(p.rule, "inode " + t.target, "Landlock matches paths; an object named by fd.dev and fd.ino has none");
            return;
        }
        if (t.kind == TargetKind::kPattern && t.target.rfind("**/", 0) == 0) {
            gap(p.rule, esc(t.target),
                "a name in any directory: Landlock grants rights beneath given directories, not by name");
            return;
        }
        std::vector<std::string> paths;
        if (t.target.rfind("~/", 0) == 0) {
            for (const auto& h : in_.homes)
                paths.push_back(h + t.target.substr(1));
        } else {
            paths.push_back(t.target);
        }
        for (const auto& written : paths) {
            if (written.empty() || written[0] != '/')
                return error(p.rule, "target '" + esc(written) + "' is not an absolute path");
            if (written.find('\0') != std::string::npos)
                return error(p.rule, "target '" + esc(written) + "' contains a NUL byte");
            if (written.size() >= PATH_MAX)
                return error(p.rule, "target '" + esc(written.substr(0, 64)) + "...' is longer than PATH_MAX");
            std::vector<std::string> expanded;
            std::string why;
            if (!guards::expand_dir_globs(written, /* last_too = */ t.kind == TargetKind::kSubtree, &expanded, &why))
                return error(p.rule, esc(why));
            if (expanded.size() != 1 || expanded[0] != written)
                gap(p.rule, esc(written) + " (directories made after the session starts)",
                    "its '*' directories are the ones that exist now; the ruleset is fixed at the start");
            for (const auto& path : expanded)
                add_path(p, t, path, obj, dir);
        }
    }

    void add_path(const rules::FileProtection& p, const rules::FileTarget& t, const std::string& path, uint64_t obj,
                  uint64_t dir) {
        auto comps = guards::path_components(path);
        std::optional<Glob> glob;
        if (t.kind == TargetKind::kPattern) {
            if (comps.empty())
                return error(p.rule, "pattern '" + esc(path) + "' has no file name");
            std::string leaf = comps.back();
            comps.pop_back();
            size_t star = leaf.find('*');
            if (star != std::string::npos && leaf.find('*', star + 1) != std::string::npos)
                return error(p.rule, "more than one '*' in the name '" + esc(leaf) + "'");
            glob = star == std::string::npos ? Glob{leaf, "", false}
                                             : Glob{leaf.substr(0, star), leaf.substr(star + 1), true};
        }
        protect(p.rule, comps, t.kind, glob, obj, dir, 0);
    }

    // Finds or opens one component below a directory node.
    Node* child(Node* n, const std::string& name, const std::string& rule) {
        auto it = n->children.find(name);
        if (it != n->children.end())
            return it->second.get();
        auto c = std::make_unique<Node>();
        c->path = join(n->path, name);
        int fd = ::openat(n->fd.get(), name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) {
            if (errno == ENOENT || errno == ENOTDIR) {
                c->state = Node::State::kMissing;
            } else if (errno == EACCES) {
                c->state = Node::State::kUnreachable;  // nor can the session, with the same credentials
            } else {
                error(rule, "cannot open '" + esc(c->path) + "': " + std::strerror(errno));
                return nullptr;
            }
        } else {
            c->fd = Fd(fd);
            struct stat st{};
            if (::fstat(fd, &st) != 0) {
                error(rule, "cannot stat '" + esc(c->path) + "': " + std::strerror(errno));
                return nullptr;
            }
            c->state = S_ISDIR(st.st_mode) ? Node::State::kDir
                       : S_ISLNK(st.st_mode) ? Node::State::kSymlink
                                             : Node::State::kOther;
        }
        return n->children.emplace(name, std::move(c)).first->second.get();
    }

    // Records one protected object: walks from "/" to it and leaves its
    // denials on the object, or on the nearest directory that exists.
    void protect(const std::string& rule, const std::vector<std::string>& comps, TargetKind kind,
                 const std::optional<Glob>& glob, uint64_t obj, uint64_t dir, int links) {
        Node* n = &root_;
        for (size_t i = 0; i < comps.size(); ++i) {
            Node* c = child(n, comps[i], rule);
            if (!c)
                return;
            if (c->state == Node::State::kSymlink)
                return follow(rule, n, c, comps, i, kind, glob, obj, dir, links);
            bool last = i + 1 == comps.size();
            if (c->state == Node::State::kMissing || c->state == Node::State::kUnreachable ||
                (c->state == Node::State::kOther && !last)) {
                // A program that is not there yet could be created under any
                // other name as well: denying its execution here buys
                // nothing, and would cost a grant per entry of n.
                if (obj == ll::kExecute && !dir)
                    return;
                // Whatever is created here later inherits n's rights only.
                n->point |= obj | dir;
                return;
            }
            n = c;
        }
        if (glob) {
            n->point |= obj | dir;
            n->globs.emplace_back(*glob, obj | dir);
            return;
        }
        n->point |= obj | dir;
        if (n->state == Node::State::kDir) {
            n->subtree |= obj | dir;  // a directory named by a path rule is protected whole
            if (obj & ll::kReadFile)
                gap(rule, esc(n->path) + " (the names in it)",
                    "listing stays allowed (denying it would hide every directory above); contents are denied");
            return;
        }
        struct stat st{};
        if (kind != TargetKind::kPattern && (obj & (ll::kReadFile | ll::kExecute)) && ::fstat(n->fd.get(), &st) == 0 &&
            st.st_nlink > 1)
            gap(rule, esc(n->path),
                "has " + std::to_string(st.st_nlink) +
                    " hard links: Landlock matches paths, so its other names are not protected");
    }

    // A symlink on the way: the link itself must not be replaced (by a
    // write rule), and the protection continues at its target.
    void follow(const std::string& rule, Node* parent, Node* link, const std::vector<std::string>& comps,
                size_t i, TargetKind kind, const std::optional<Glob>& glob, uint64_t obj, uint64_t dir,
                int links) {
        parent->point |= dir;
        if (links >= kMaxSymlinks)
            return error(rule, "too many symbolic links under '" + esc(link->path) + "'");
        char buf[PATH_MAX];
        ssize_t n = ::readlinkat(link->fd.get(), "", buf, sizeof(buf) - 1);
        if (n < 0)
            return error(rule, "cannot read the link '" + esc(link->path) + "': " + std::strerror(errno));
        std::string target(buf, static_cast<size_t>(n));
        std::string base = target[0] == '/' ? target : join(parent->path, target);
        auto next = guards::path_components(base);
        next.insert(next.end(), comps.begin() + static_cast<long>(i) + 1, comps.end());
        protect(rule, next, kind, glob, obj, dir, links + 1);
    }

    // Depth is bounded by PATH_MAX (a component takes two bytes at least).
    void propagate(Node* n, uint64_t inherited) {
        n->inherited = inherited | n->subtree;
        n->below = n->point;
        for (auto& [name, c] : n->children) {
            for (const auto& [g, deny] : n->globs)
                if (g.matches(name))
                    c->point |= deny;
            propagate(c.get(), n->inherited);
            n->below |= c->below;
        }
    }

    // What an object may be granted when `deny` must stay denied on it.
    uint64_t allowed(uint64_t deny, bool is_dir) {
        uint64_t g = plan_->handled & ~deny;
        if (!is_dir)
            return g & ll::kFileRights;
        // A new file that could not be read or written back is worse than
        // none: such a directory gets no create rights at all.
        if ((g & (ll::kReadFile | ll::kWriteFile)) != (plan_->handled & (ll::kReadFile | ll::kWriteFile)))
            g &= ~ll::kMakeAll;
        return g;
    }

    void grant(int fd, const std::string& path, uint64_t access, bool is_dir) {
        if (is_dir && !(access & ll::kMakeReg))
            plan_->frozen.push_back(path);
        if (!access)
            return;
        if (plan_->grants.size() == kMaxGrants) {
            if (!too_many_)
                plan_->errors.push_back("landlock: the policy needs more than " + std::to_string(kMaxGrants) +
                                        " rules (at '" + esc(path) + "')");
            too_many_ = true;
            return;
        }
        plan_->grants.push_back({path, access});
        if (!plan_->ruleset.valid())
            return;
        PathBeneathAttr attr{access, fd};
        if (syscall(SYS_landlock_add_rule, plan_->ruleset.get(), LANDLOCK_RULE_PATH_BENEATH, &attr, 0) != 0)
            plan_->errors.push_back("landlock: cannot add a rule for '" + esc(path) + "' (" +
                                    access_names(access) + "): " + std::strerror(errno));
    }

    void emit(Node* n) {
        bool is_dir = n->state == Node::State::kDir;
        if (!is_dir && n->state != Node::State::kOther)
            return;  // nothing to attach a rule to
        grant(n->fd.get(), n->path, allowed(n->below | n->inherited, is_dir), is_dir);
        if (is_dir && (!n->children.empty() || !n->globs.empty()))
            expand(n);
        for (auto& [name, c] : n->children)
            emit(c.get());
    }

    // Grants every other entry of a directory on a protected path its own
    // subtree. Symlinks get nothing: following one lands on its target,
    // which has rules of its own.
    void expand(Node* n) {
        int dfd = ::openat(n->fd.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0) {
            if (errno != EACCES)  // unlistable: its entries keep only the directory's rights
                plan_->errors.push_back("landlock: cannot list '" + esc(n->path) + "': " + std::strerror(errno));
            return;
        }
        std::unique_ptr<DIR, int (*)(DIR*)> d(fdopendir(dfd), closedir);
        if (!d) {
            ::close(dfd);
            plan_->errors.push_back("landlock: cannot list '" + esc(n->path) + "': " + std::strerror(errno));
            return;
        }
        errno = 0;
        while (dirent* e = readdir(d.get())) {
            std::string name = e->d_name;
            if (name == "." || name == ".." || n->children.count(name))
                continue;
            std::string path = join(n->path, name);
            Fd fd(::openat(n->fd.get(), name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
            struct stat st{};
            if (!fd.valid() || ::fstat(fd.get(), &st) != 0) {
                if (errno != ENOENT && errno != EACCES)  // gone since listing, or out of reach
                    plan_->errors.push_back("landlock: cannot open '" + esc(path) + "': " + std::strerror(errno));
                errno = 0;
                continue;
            }
            if (S_ISLNK(st.st_mode))
                continue;
            uint64_t deny = n->inherited;
            for (const auto& [g, d2] : n->globs)
                if (g.matches(name))
                    deny |= d2;
            grant(fd.get(), path, allowed(deny, S_ISDIR(st.st_mode)), S_ISDIR(st.st_mode));
            errno = 0;
        }
        if (errno != 0)
            plan_->errors.push_back("landlock: cannot list '" + esc(n->path) + "': " + std::strerror(errno));
    }

    const LandlockInputs& in_;
    LandlockPlan* plan_;
    Node root_;
    bool too_many_ = false;
};

// Many nodes may hold a descriptor at once while planning; lift the soft
// limit for that time only, so the agent starts with the user's limits.
class NofileLift {
public:
    NofileLift() {
        if (getrlimit(RLIMIT_NOFILE, &saved_) == 0 && saved_.rlim_cur < saved_.rlim_max) {
            rlimit up = saved_;
            up.rlim_cur = saved_.rlim_max;
            lifted_ = setrlimit(RLIMIT_NOFILE, &up) == 0;
        }
    }
    ~NofileLift() {
        if (lifted_)
            setrlimit(RLIMIT_NOFILE, &saved_);
    }

private:
    rlimit saved_{};
    bool lifted_ = false;
};

}  // namespace

int landlock_abi() {
    long abi = syscall(SYS_landlock_create_ruleset, nullptr, 0, LANDLOCK_CREATE_RULESET_VERSION);
    return abi > 0 ? static_cast<int>(abi) : 0;
}

std::string access_names(uint64_t access) {
    static const char* const names[] = {"execute",   "write_file", "read_file", "read_dir",  "remove_dir",
                                        "remove_file", "make_char", "make_dir", "make_reg", "make_sock",
                                        "make_fifo", "make_block", "make_sym",  "refer",     "truncate",
                                        "ioctl_dev"};
    std::string out;
    for (size_t i = 0; i < std::size(names); ++i)
        if (access & (1ull << i))
            out += (out.empty() ? "" : "|") + std::string(names[i]);
    return out.empty() ? "none" : out;
}

LandlockPlan plan_landlock(const rules::KernelPolicy& policy, const LandlockInputs& in, bool create_ruleset) {
    LandlockPlan plan;
    plan.abi = in.abi;
    if (in.abi < 1) {
        plan.errors.push_back("landlock: not available on this kernel (add landlock to the lsm= boot parameter)");
        return plan;
    }
    // Only rights a deny can need are handled; everything else (listing,
    // ioctl) stays as the rest of the system allows it. Listing is
    // never denied: it would hide every directory above a protected one.
    plan.handled = ll::kReadFile | ll::kWriteFile | ll::kMakeAll | ll::kRemoveAll;
    if (in.abi >= 2)
        plan.handled |= ll::kRefer;  // else moves across directories are always denied (EXDEV)
    if (in.abi >= 3)
        plan.handled |= ll::kTruncate;
    // Execute only when a rule denies running a program: handling it means
    // every grant must carry it.
    for (const auto& f : policy.files)
        if ((f.ops & rules::kOpExec) && f.verdict != KernelVerdict::kAudit)
            plan.handled |= ll::kExecute;
    // The session cannot signal, or reach abstract Unix sockets of,
    // processes outside it (the launcher, an X server, a daemon).
    if (in.abi >= 6)
        plan.scoped = ll::kScopeAbstractUnix | ll::kScopeSignal;
    if (create_ruleset) {
        RulesetAttr attr{plan.handled, 0, plan.scoped};
        size_t size = in.abi >= 6 ? sizeof(attr) : in.abi >= 4 ? 16 : 8;
        plan.ruleset = Fd(static_cast<int>(syscall(SYS_landlock_create_ruleset, &attr, size, 0)));
        if (!plan.ruleset.valid()) {
            plan.errors.push_back(std::string("landlock: cannot create a ruleset: ") + std::strerror(errno));
            return plan;
        }
    }
    NofileLift lift;
    Planner p(in, &plan);
    if (!p.open_root())
        return plan;
    for (const auto& f : policy.files)
        p.add(f);
    p.finish();
    if (in.abi < 2)
        plan.gaps.push_back({"(all)", "moving files between directories",
                             "Landlock ABI 1 denies every move or link into another directory (EXDEV)"});
    return plan;
}

int landlock_restrict(const LandlockPlan& plan) {
    if (!plan.ruleset.valid())
        return EBADF;
    if (syscall(SYS_landlock_restrict_self, plan.ruleset.get(), 0) != 0)
        return errno;
    return 0;
}

}  // namespace bulkhead::sandbox
