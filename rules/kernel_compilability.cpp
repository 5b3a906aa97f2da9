// SPDX-License-Identifier: Apache-2.0
#include "rules/kernel_compilability.h"

#include <charconv>
#include <optional>
#include <utility>

namespace bulkhead::rules {

namespace {

constexpr uint32_t kOpOpen = kOpRead | kOpWrite;

constexpr const char* kKernelFields =
    "the kernel checks only evt.type, evt.is_open_read, evt.is_open_write, fd.name, fd.directory, "
    "fd.filename, fd.in_other_workspace, fd.ino with fd.dev, fd.typechar (f, u), proc.exepath (of an exec), "
    "agent.session and agent.name";

struct Atom {
    // kInode and kDevice are the two halves of one object (fd.ino, fd.dev).
    enum class Kind { kOps, kObject, kInode, kDevice, kScope, kNoop };
    Kind kind = Kind::kNoop;
    uint32_t ops = 0;
    std::vector<FileTarget> targets;
    KernelScope scope = KernelScope::kHost;
    std::string agent;
    // The object is the program an exec runs (proc.exepath); with any other
    // operation proc.exepath would name the subject, which the kernel does
    // not match.
    bool program = false;
    std::vector<std::string> numbers;  // kInode: inode numbers; kDevice: one device
    const Expr* source = nullptr;
};

Error unsupported(const Expr& check, const std::string& why) {
    return Error{{}, "'" + to_condition(check) + "' " + why};
}

// Items of a string or list value, as one list.
std::optional<std::vector<std::string>> value_strings(const Expr& check) {
    std::vector<std::string> out;
    if (check.value.kind == Value::Kind::kString) {
        out.push_back(check.value.text);
    } else if (check.value.kind == Value::Kind::kList) {
        for (const auto& item : check.value.items) out.push_back(item.text);
    } else {
        return std::nullopt;
    }
    return out;
}

Result<void> validate_path(const Expr& check, const std::string& path) {
    if (path.empty()) return unsupported(check, "names an empty path");
    bool absolute = path[0] == '/' || path.rfind("~/", 0) == 0;
    if (!absolute) return unsupported(check, "names '" + path + "', which is neither absolute nor under '~/'");
    size_t start = 0;
    while (start <= path.size()) {
        size_t end = path.find('/', start);
        if (end == std::string::npos) end = path.size();
        std::string_view component(path.data() + start, end - start);
        if (component == "." || component == "..") {
            return unsupported(check, "names '" + path + "', which has a '" + std::string(component) +
                                          "' component (write the path the resolver should protect)");
        }
        start = end + 1;
    }
    return {};
}

std::string strip_trailing_slash(std::string path) {
    while (path.size() > 1 && path.back() == '/') path.pop_back();
    return path;
}

Result<Atom> classify_check(const Expr& check) {
    Atom atom;
    atom.source = &check;
    const FieldExpr& field = check.field;
    if (!field.transformers.empty() || field.has_arg) {
        return unsupported(check, "is not a kernel check (transformers and field arguments are userspace only)");
    }
    if (check.value.kind == Value::Kind::kField) {
        return unsupported(check, "is not a kernel check (comparing two fields is userspace only)");
    }
    if (check.modifier != Modifier::kNone) {
        return unsupported(check, "is not a kernel check (operator modifiers are userspace only)");
    }
    const std::string& name = field.name;
    const CompareOp op = check.op;
    const bool eq_or_in = op == CompareOp::kEq || op == CompareOp::kIn;

    if (name == "evt.type" && eq_or_in) {
        atom.kind = Atom::Kind::kOps;
        auto syscalls = value_strings(check);
        if (!syscalls) return unsupported(check, "is not a kernel check (evt.type needs a name or a list)");
        for (const auto& syscall : *syscalls) {
            uint32_t ops = ops_for_syscall(syscall);
            if (ops == 0) {
                return unsupported(check, "names evt.type '" + syscall + "', which is not a file operation the kernel guards");
            }
            atom.ops |= ops;
        }
        if (atom.ops == 0) return unsupported(check, "names no operation (empty list)");
        return atom;
    }
    if ((name == "evt.is_open_read" || name == "evt.is_open_write") && op == CompareOp::kEq &&
        check.value.kind == Value::Kind::kString && check.value.text == "true") {
        atom.kind = Atom::Kind::kOps;
        atom.ops = name == "evt.is_open_read" ? kOpRead : kOpWrite;
        return atom;
    }
    // Implied by the file guard's hooks; kept so Falco's open_read/open_write
    // macros compile unchanged.
    if ((name == "fd.typechar" && eq_or_in && names_unix_socket(check)) ||
        (name == "fd.typechar" && op == CompareOp::kEq && check.value.text == "f") ||
        (name == "fd.num" && op == CompareOp::kGe && check.value.text == "0") ||
        (name == "evt.dir" && op == CompareOp::kEq && check.value.text == "<")) {
        return atom;  // kNoop
    }
    if (name == "agent.session" && op == CompareOp::kExists) {
        atom.kind = Atom::Kind::kScope;
        atom.scope = KernelScope::kSessions;
        return atom;
    }
    if (name == "agent.name" && op == CompareOp::kEq && check.value.kind == Value::Kind::kString) {
        atom.kind = Atom::Kind::kScope;
        atom.scope = KernelScope::kAgent;
        atom.agent = check.value.text;
        return atom;
    }

    if ((name == "fd.ino" || name == "fd.dev") && eq_or_in) {
        auto numbers = value_strings(check);
        if (!numbers || numbers->empty()) return unsupported(check, "names no number (empty list)");
        for (auto& n : *numbers) {
            uint64_t v = 0;
            auto [end, ec] = std::from_chars(n.data(), n.data() + n.size(), v);
            if (ec != std::errc() || end != n.data() + n.size() || (name == "fd.ino" && v == 0)) {
                return unsupported(check, "names '" + n + "', which is not " +
                                              (name == "fd.ino" ? "an inode number" : "a device number"));
            }
            n = std::to_string(v);
        }
        if (name == "fd.dev" && numbers->size() != 1) {
            return unsupported(check, "names several devices; the kernel pairs one device with the inodes");
        }
        atom.kind = name == "fd.ino" ? Atom::Kind::kInode : Atom::Kind::kDevice;
        atom.numbers = std::move(*numbers);
        return atom;
    }

    atom.kind = Atom::Kind::kObject;
    auto add = [&](TargetKind kind, std::string target) -> Result<void> {
        if (kind != TargetKind::kPattern) {
            if (auto ok = validate_path(check, target); !ok) return ok.error();
        }
        atom.targets.push_back({kind, std::move(target)});
        return {};
    };
    auto values = value_strings(check);
    // An exec's object is its program: proc.exepath reads like fd.name there.
    std::string object_field = name;
    if (name == "proc.exepath") {
        atom.program = true;
        object_field = "fd.name";
    }
    if (object_field == "fd.name" && eq_or_in && values) {
        for (auto& v : *values) {
            if (auto ok = add(TargetKind::kPath, v); !ok) return ok.error();
        }
    } else if (object_field == "fd.name" && op == CompareOp::kStartsWith && values) {
        const std::string& prefix = values->front();
        if (prefix.empty() || prefix.back() != '/') {
            return unsupported(check, "is a string prefix, not a directory; the kernel matches whole directories "
                                      "(end the prefix with '/')");
        }
        if (auto ok = add(TargetKind::kSubtree, strip_trailing_slash(prefix)); !ok) return ok.error();
    } else if (object_field == "fd.name" && op == CompareOp::kPmatch && values) {
        for (auto& v : *values) {
            if (v.find_first_of("*?[") != std::string::npos) {
                return unsupported(check, "has the wildcard item '" + v + "'; the kernel matches pmatch prefixes "
                                          "only without wildcards (use glob)");
            }
            if (auto ok = add(TargetKind::kSubtree, strip_trailing_slash(v)); !ok) return ok.error();
        }
    } else if (object_field == "fd.name" && op == CompareOp::kGlob && check.value.kind == Value::Kind::kString) {
        auto target = classify_glob(check.value.text);
        if (!target) return unsupported(check, target.error().message);
        if (target->kind != TargetKind::kPattern) {
            if (auto ok = validate_path(check, target->target); !ok) return ok.error();
        }
        atom.targets.push_back(std::move(*target));
    } else if (name == "fd.in_other_workspace" && op == CompareOp::kEq && check.value.kind == Value::Kind::kString) {
        if (check.value.text != "true") {
            return unsupported(check, "is a negation; the kernel protects the other sessions' workspaces, "
                                      "not the rest of the host");
        }
        atom.targets.push_back({TargetKind::kOtherWorkspaces, ""});
    } else if (name == "fd.directory" && eq_or_in && values) {
        // Over-approximates: the kernel protects the whole subtree, a superset
        // of "files directly in the directory".
        for (auto& v : *values) {
            if (auto ok = add(TargetKind::kSubtree, strip_trailing_slash(v)); !ok) return ok.error();
        }
    } else if (name == "fd.filename" && eq_or_in && values) {
        for (auto& v : *values) {
            if (v.empty() || v.find('/') != std::string::npos || v.find_first_of("*?[") != std::string::npos) {
                return unsupported(check, "names '" + v + "', which is not a plain file name");
            }
            atom.targets.push_back({TargetKind::kPattern, "**/" + v});
        }
    } else {
        return unsupported(check, std::string("is not a kernel check (") + kKernelFields + ")");
    }
    if (atom.targets.empty()) return unsupported(check, "names no file (empty list)");
    return atom;
}

using Conjunction = std::vector<size_t>;  // indexes into the atom table
using Dnf = std::vector<Conjunction>;

Error both_constrain(const Atom& first, const Atom& second) {
    return Error{{}, "'" + to_condition(*first.source) + "' and '" + to_condition(*second.source) +
                         "' both constrain the file; the kernel matches one object per alternative"};
}

Error too_complex() {
    return Error{{}, "the condition has more than " + std::to_string(kMaxKernelAlternatives) +
                         " alternatives once in disjunctive normal form"};
}

std::string describe(const Conjunction& conjunction, const std::vector<Atom>& atoms) {
    std::string out;
    for (size_t index : conjunction) {
        if (!out.empty()) out += " and ";
        out += to_condition(*atoms[index].source);
    }
    return out;
}

Result<KernelAlternative> combine(const Conjunction& conjunction, const std::vector<Atom>& atoms) {
    KernelAlternative alt;
    bool has_ops = false;
    const Atom* object = nullptr;
    const Atom* inode = nullptr;
    const Atom* device = nullptr;
    const Atom* agent = nullptr;
    uint32_t ops = ~0u;
    for (size_t index : conjunction) {
        const Atom& atom = atoms[index];
        switch (atom.kind) {
            case Atom::Kind::kNoop: break;
            case Atom::Kind::kOps:
                has_ops = true;
                ops &= atom.ops;
                break;
            case Atom::Kind::kInode:
            case Atom::Kind::kDevice: {
                const Atom*& half = atom.kind == Atom::Kind::kInode ? inode : device;
                if (half) return both_constrain(*half, atom);
                half = &atom;
                if (!object || object->kind != Atom::Kind::kObject) object = &atom;
                break;
            }
            case Atom::Kind::kObject:
                if (object) return both_constrain(*object, atom);
                object = &atom;
                break;
            case Atom::Kind::kScope:
                if (atom.scope == KernelScope::kAgent) {
                    if (agent && agent->agent != atom.agent) {
                        return Error{{}, "'" + to_condition(*agent->source) + "' and '" + to_condition(*atom.source) +
                                             "' name two agents; no session can match both"};
                    }
                    agent = &atom;
                    alt.scope = KernelScope::kAgent;
                    alt.agent = atom.agent;
                } else if (alt.scope == KernelScope::kHost) {
                    alt.scope = KernelScope::kSessions;
                }
                break;
        }
    }
    if (!has_ops) {
        return Error{{}, "'" + describe(conjunction, atoms) +
                             "' names no operation (add evt.type in (...), open_read or open_write)"};
    }
    if (ops == 0) {
        return Error{{}, "'" + describe(conjunction, atoms) + "' asks for operations that have nothing in common"};
    }
    if (!object) {
        return Error{{}, "'" + describe(conjunction, atoms) +
                             "' names no file (add fd.name, fd.directory or fd.filename)"};
    }
    if ((inode || device) && object->kind == Atom::Kind::kObject)
        return both_constrain(*object, inode ? *inode : *device);
    if (inode && !device) {
        return Error{{}, "'" + to_condition(*inode->source) +
                             "' names an inode on any device; pair it with fd.dev = N (the device number as "
                             "bulkhead's events report it)"};
    }
    if (device && !inode) {
        return Error{{}, "'" + to_condition(*device->source) +
                             "' names a whole device; the kernel protects objects (add fd.ino)"};
    }
    if (object->program && ops != kOpExec) {
        return Error{{}, "'" + to_condition(*object->source) +
                             "' names the program of an exec; with other operations it is the process "
                             "doing them, which the kernel does not match (use evt.type in (execve, execveat) "
                             "alone, or fd.name for the file)"};
    }
    // Only a session has a workspace to tell apart from the others'.
    if (!object->targets.empty() && object->targets.front().kind == TargetKind::kOtherWorkspaces &&
        alt.scope == KernelScope::kHost)
        alt.scope = KernelScope::kSessions;
    alt.ops = ops;
    if (inode) {
        for (const auto& ino : inode->numbers)
            alt.targets.push_back({TargetKind::kInode, device->numbers.front() + ":" + ino});
        return alt;
    }
    alt.targets = object->targets;
    return alt;
}

}  // namespace

bool names_unix_socket(const Expr& expr) {
    std::vector<const Expr*> stack{&expr};
    while (!stack.empty()) {
        const Expr* e = stack.back();
        stack.pop_back();
        if (e->kind == ExprKind::kCheck && e->field.name == "fd.typechar" &&
            (e->op == CompareOp::kEq || e->op == CompareOp::kIn)) {
            auto values = value_strings(*e);
            bool only_u = values && !values->empty();
            for (const auto& v : values ? *values : std::vector<std::string>{}) only_u &= v == "u";
            if (only_u) return true;
        }
        for (const auto& c : e->children) stack.push_back(c.get());
    }
    return false;
}

uint32_t ops_for_syscall(const std::string& syscall) {
    static const std::pair<const char*, uint32_t> kSyscalls[] = {
        {"open", kOpOpen},        {"openat", kOpOpen},         {"openat2", kOpOpen},
        {"rename", kOpRename},    {"renameat", kOpRename},     {"renameat2", kOpRename},
        {"link", kOpLink},        {"linkat", kOpLink},         {"unlink", kOpUnlink},
        {"unlinkat", kOpUnlink},  {"rmdir", kOpUnlink},        {"creat", kOpCreate},
        {"mkdir", kOpCreate},     {"mkdirat", kOpCreate},      {"mknod", kOpCreate},
        {"mknodat", kOpCreate},   {"symlink", kOpCreate},      {"symlinkat", kOpCreate},
        {"chmod", kOpSetattr},    {"fchmod", kOpSetattr},      {"fchmodat", kOpSetattr},
        {"fchmodat2", kOpSetattr}, {"chown", kOpSetattr},      {"fchown", kOpSetattr},
        {"fchownat", kOpSetattr}, {"lchown", kOpSetattr},      {"truncate", kOpWrite},
        {"ftruncate", kOpWrite},  {"mmap", kOpMmap},         {"execve", kOpExec},
        {"execveat", kOpExec},
        // Only with fd.typechar = u (a Unix socket at a path, an object
        // of the file guard); other connects are the net guard's.
        {"connect", kOpConnect},  {"sendto", kOpConnect},      {"sendmsg", kOpConnect},
    };
    for (const auto& [name, ops] : kSyscalls) {
        if (syscall == name) return ops;
    }
    return 0;
}

Result<FileTarget> classify_glob(const std::string& glob) {
    if (glob.find_first_of("?[]{}\\") != std::string::npos) {
        return Error{{}, "uses '?', '[...]', '{...}' or '\\'; the kernel matches only '*' and a leading '**/'"};
    }
    if (glob.find('*') == std::string::npos) return FileTarget{TargetKind::kPath, glob};
    if (!(glob[0] == '/' || glob.rfind("~/", 0) == 0 || glob.rfind("**/", 0) == 0)) {
        return Error{{}, "is a relative pattern; start it with '/', '~/' or '**/'"};
    }
    // "/dir/**" is a subtree; its directory may hold '*' components
    // ("/run/user/*/systemd/**"), which the planner expands.
    bool subtree = glob.size() > 3 && glob.compare(glob.size() - 3, 3, "/**") == 0 && glob.rfind("**/", 0) != 0;
    if (subtree) {
        std::string root = glob.substr(0, glob.size() - 3);
        if (root.find("**") != std::string::npos)
            return Error{{}, "has '**' in the middle; the kernel matches '**' only at the start ('**/name') "
                             "or as the whole last component ('/dir/**')"};
        auto checked = classify_glob(root);
        if (!checked) return checked.error();
        return FileTarget{TargetKind::kSubtree, root};
    }
    size_t start = 0;
    bool first = true;
    while (start <= glob.size()) {
        size_t end = glob.find('/', start);
        if (end == std::string::npos) end = glob.size();
        std::string component = glob.substr(start, end - start);
        if (component == "**") {
            if (!first) {
                return Error{{}, "has '**' in the middle; the kernel matches '**' only at the start ('**/name') "
                                 "or as the whole last component ('/dir/**')"};
            }
            if (end == glob.size()) return Error{{}, "is '**' alone, which matches every file"};
        } else if (component.find("**") != std::string::npos) {
            return Error{{}, "has the component '" + component + "'; '**' must be a whole component"};
        } else if (component.find('*') != component.rfind('*')) {
            return Error{{}, "has the component '" + component + "' with two '*'; the kernel allows one per component"};
        } else if (component.find('*') != std::string::npos && end != glob.size() && glob.rfind("**/", 0) == 0) {
            // A '**/' pattern is matched on names alone, with no directory
            // to expand a '*' against.
            return Error{{}, "has '*' in the directory component '" + component +
                                 "' after '**/'; there a directory name must be literal"};
        } else if (component == "." || component == "..") {
            return Error{{}, "has a '" + component + "' component"};
        }
        if (!component.empty()) first = false;
        start = end + 1;
    }
    return FileTarget{TargetKind::kPattern, glob};
}

Result<std::vector<KernelAlternative>> kernel_alternatives(const Expr& expr) {
    std::vector<Atom> atoms;
    std::vector<Dnf> results;
    // Post-order walk with an explicit stack: (node, children done?).
    std::vector<std::pair<const Expr*, bool>> stack{{&expr, false}};
    while (!stack.empty()) {
        auto [node, done] = stack.back();
        stack.pop_back();
        if (node->kind == ExprKind::kNot) {
            return Error{{}, "'" + to_condition(*node) + "' is a negation; the kernel cannot check 'not'"};
        }
        if (node->kind == ExprKind::kMacroRef) {
            return Error{{}, "macro '" + node->macro + "' was not expanded"};
        }
        if (node->kind == ExprKind::kCheck) {
            auto atom = classify_check(*node);
            if (!atom) return atom.error();
            atoms.push_back(std::move(*atom));
            results.push_back(Dnf{Conjunction{atoms.size() - 1}});
            continue;
        }
        if (!done) {
            stack.emplace_back(node, true);
            for (auto it = node->children.rbegin(); it != node->children.rend(); ++it) stack.emplace_back(it->get(), false);
            continue;
        }
        // Children results are the last children.size() entries, in order.
        size_t n = node->children.size();
        std::vector<Dnf> parts(std::make_move_iterator(results.end() - static_cast<long>(n)),
                               std::make_move_iterator(results.end()));
        results.resize(results.size() - n);
        Dnf combined;
        if (node->kind == ExprKind::kOr) {
            for (auto& part : parts) {
                if (combined.size() + part.size() > kMaxKernelAlternatives) return too_complex();
                for (auto& conj : part) combined.push_back(std::move(conj));
            }
        } else {
            combined = Dnf{Conjunction{}};
            for (const auto& part : parts) {
                if (combined.size() * part.size() > kMaxKernelAlternatives) return too_complex();
                Dnf next;
                for (const auto& left : combined) {
                    for (const auto& right : part) {
                        Conjunction conj = left;
                        conj.insert(conj.end(), right.begin(), right.end());
                        next.push_back(std::move(conj));
                    }
                }
                combined = std::move(next);
            }
        }
        results.push_back(std::move(combined));
    }
    std::vector<KernelAlternative> alternatives;
    for (const auto& conjunction : results.back()) {
        auto alt = combine(conjunction, atoms);
        if (!alt) return alt.error();
        alternatives.push_back(std::move(*alt));
    }
    return alternatives;
}

}  // namespace bulkhead::rules
