// SPDX-License-Identifier: Apache-2.0
#include "guards/file_guard.h"
#include "guards/map_keys.h"

#include <bpf/bpf.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <set>

namespace bulkhead::guards {

namespace fs = std::filesystem;
using rules::FileProtection;
using rules::KernelScope;
using rules::KernelVerdict;
using rules::TargetKind;

uint32_t close_ops(uint32_t ops) {
    if (ops & (BH_OP_READ | BH_OP_MMAP))
        ops |= BH_OP_READ | BH_OP_MMAP | BH_OP_LINK | BH_OP_RENAME;
    // A protected program keeps its protection wherever it is moved or
    // linked (same inode); a subtree's programs must not leave the subtree.
    if (ops & BH_OP_EXEC)
        ops |= BH_OP_LINK | BH_OP_RENAME;
    if (ops & (BH_OP_WRITE | BH_OP_CREATE | BH_OP_UNLINK | BH_OP_SETATTR))
        ops |= BH_OP_WRITE | BH_OP_CREATE | BH_OP_LINK | BH_OP_RENAME | BH_OP_UNLINK |
               BH_OP_SETATTR;
    return ops;
}

std::vector<std::string> host_homes() {
    std::vector<std::string> homes{"/root"};
    std::error_code ec;
    for (const auto& e : fs::directory_iterator("/home", ec))
        if (e.is_directory(ec))
            homes.push_back(e.path().string());
    return homes;
}

bool inode_key_of(const std::string& path, bh_inode_key* key) {
    struct stat st{};
    if (::stat(path.c_str(), &st) != 0)
        return false;
    key->dev = kernel_dev(st.st_dev);
    key->ino = st.st_ino;
    return true;
}

namespace {

bool has_star(const std::string& s) { return s.find('*') != std::string::npos; }

bool has_affixes(const std::string& name, const std::string& prefix, const std::string& suffix) {
    return name.size() >= prefix.size() + suffix.size() && !name.compare(0, prefix.size(), prefix) &&
           !name.compare(name.size() - suffix.size(), suffix.size(), suffix);
}

// The entries of `dir` named `prefix*suffix`, as paths.
std::vector<std::string> leaf_matches(const std::string& dir, const std::string& prefix, const std::string& suffix) {
    std::vector<std::string> out;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir, ec))
        if (has_affixes(e.path().filename().string(), prefix, suffix))
            out.push_back(e.path().string());
    return out;
}

// Does `name` match `glob` (one '*' at most, as the compiler allows)?
bool component_matches(const std::string& glob, const std::string& name) {
    size_t star = glob.find('*');
    if (star == std::string::npos)
        return glob == name;
    return has_affixes(name, glob.substr(0, star), glob.substr(star + 1));
}

}  // namespace

std::vector<std::string> path_components(const std::string& path) {
    std::vector<std::string> out;
    size_t i = 0;
    while (i < path.size()) {
        size_t j = path.find('/', i);
        if (j == std::string::npos)
            j = path.size();
        std::string c = path.substr(i, j - i);
        if (c == "..") {
            if (!out.empty())
                out.pop_back();
        } else if (!c.empty() && c != ".") {
            out.push_back(std::move(c));
        }
        i = j + 1;
    }
    return out;
}

bool expand_dir_globs(const std::string& path, bool last_too, std::vector<std::string>* out, std::string* error) {
    out->clear();
    std::vector<std::string> comps = path_components(path);
    size_t globbed = last_too ? comps.size() : (comps.empty() ? 0 : comps.size() - 1);
    if (path.empty() || path[0] != '/' ||
        std::none_of(comps.begin(), comps.begin() + static_cast<long>(globbed), has_star)) {
        out->push_back(path);
        return true;
    }
    std::vector<std::string> prefixes = {""};
    for (size_t i = 0; i < comps.size(); ++i) {
        const std::string& c = comps[i];
        std::vector<std::string> next;
        for (const auto& pre : prefixes) {
            if (i >= globbed || !has_star(c)) {
                next.push_back(pre + "/" + c);
                continue;
            }
            std::error_code ec;
            for (const auto& e : fs::directory_iterator(pre.empty() ? "/" : pre, ec)) {
                std::string name = e.path().filename().string();
                std::error_code dir_ec;
                if (component_matches(c, name) && fs::is_directory(e.path(), dir_ec))
                    next.push_back(pre + "/" + name);
            }
        }
        if (next.size() > kMaxGlobDirs) {
            *error = "'" + path + "' matches more than " + std::to_string(kMaxGlobDirs) + " directories";
            return false;
        }
        prefixes = std::move(next);
    }
    std::sort(prefixes.begin(), prefixes.end());
    *out = std::move(prefixes);
    return true;
}

namespace {

// `~/x` → one target per home; anything else unchanged.
std::vector<std::string> expand_home(const std::string& t, const std::vector<std::string>& homes) {
    if (t.rfind("~/", 0) != 0)
        return {t};
    std::vector<std::string> out;
    for (const auto& h : homes)
        out.push_back(h + t.substr(1));
    return out;
}

// Parses `prefix*suffix` (at most one star) into a leaf glob.
bool make_glob(const std::string& leaf, bh_leaf_glob* g, std::string* why) {
    std::memset(g, 0, sizeof(*g));
    size_t star = leaf.find('*');
    if (star != std::string::npos && leaf.find('*', star + 1) != std::string::npos) {
        *why = "more than one '*' in the name '" + leaf + "'";
        return false;
    }
    std::string prefix = star == std::string::npos ? leaf : leaf.substr(0, star);
    std::string suffix = star == std::string::npos ? "" : leaf.substr(star + 1);
    if (prefix.size() > BH_GLOB_PREFIX || suffix.size() > BH_GLOB_SUFFIX) {
        *why = "name '" + leaf + "' is longer than the kernel's pattern limit";
        return false;
    }
    std::memcpy(g->prefix, prefix.data(), prefix.size());
    std::memcpy(g->suffix, suffix.data(), suffix.size());
    g->prefix_len = static_cast<__u8>(prefix.size());
    g->suffix_len = static_cast<__u8>(suffix.size());
    g->star = star != std::string::npos;
    return true;
}

bool make_name_key(__u32 kind, const std::string& name, bh_name_key* key, std::string* why) {
    std::memset(key, 0, sizeof(*key));
    if (name.empty() || name.size() >= BH_NAME_KEY_LEN || has_star(name)) {
        *why = "directory or file name '" + name + "' must be literal and under " +
               std::to_string(BH_NAME_KEY_LEN) + " bytes";
        return false;
    }
    key->kind = kind;
    std::memcpy(key->name, name.data(), name.size());
    return true;
}

bool same_claim(const bh_guard_rule& a, const bh_guard_rule& b) {
    return a.verdict == b.verdict && a.scope == b.scope && a.agent_kind == b.agent_kind;
}

// Adds a rule's claim to a fixed array of slots: the same rule merges, and
// once slots run out, claims with the same verdict and scope share a slot
// (the event then names the first rule). Returns false when nothing fits.
template <size_t N>
int add_claim(bh_guard_rule (&slots)[N], const bh_guard_rule& r) {
    for (size_t i = 0; i < N; ++i) {
        // Rename protection of an ancestor is the same claim whichever rule
        // asked for it: one slot per verdict and scope.
        bool shared_ancestor = r.match == BH_MATCH_ANCESTOR && slots[i].match == BH_MATCH_ANCESTOR &&
                               same_claim(slots[i], r);
        if (slots[i].verdict && (slots[i].rule_id == r.rule_id || shared_ancestor)) {
            slots[i].ops |= r.ops;
            slots[i].match |= r.match;
            return static_cast<int>(i);
        }
    }
    for (size_t i = 0; i < N; ++i) {
        if (!slots[i].verdict) {
            slots[i] = r;
            return static_cast<int>(i);
        }
    }
    for (size_t i = 0; i < N; ++i) {
        if (same_claim(slots[i], r) && slots[i].match == r.match) {
            slots[i].ops |= r.ops;
            return static_cast<int>(i);
        }
    }
    return -1;
}

struct Planner {
    const PlanInputs& in;
    FilePlan plan;
    std::map<std::pair<dev_t, ino_t>, std::string> ask_owner;  // file → its ask rule

    void error(const FileProtection& p, const std::string& msg) {
        plan.errors.push_back(p.file + ":" + std::to_string(p.line) + ": rule '" + p.rule +
                              "': " + msg);
    }

    // A target after `~` expansion: absolute and shorter than PATH_MAX, or an error.
    bool usable_path(const FileProtection& p, const rules::FileTarget& t, const std::string& path) {
        if (path.empty() || path[0] != '/')
            error(p, "target '" + t.target + "' is not an absolute path");
        else if (path.size() >= BH_PATH_MAX)
            error(p, "target '" + t.target + "' is longer than PATH_MAX");
        else
            return true;
        return false;
    }

    // The concrete paths of a target: `~` expanded, then the '*' of its
    // directory components. A glob that matches nothing is pending; each
    // match adds its own inodes to the fingerprint, so a new one replans.
    std::vector<std::string> expanded(const FileProtection& p, const rules::FileTarget& t) {
        std::vector<std::string> out;
        for (const auto& path : expand_home(t.target, in.homes)) {
            if (!usable_path(p, t, path))
                return {};
            std::vector<std::string> dirs;
            std::string why;
            if (!expand_dir_globs(path, /* last_too = */ t.kind == TargetKind::kSubtree, &dirs, &why)) {
                error(p, why);
                return {};
            }
            if (dirs.empty())
                plan.pending.push_back(path);
            out.insert(out.end(), dirs.begin(), dirs.end());
        }
        return out;
    }

    void claim_inode(const FileProtection& p, const bh_inode_key& key, bh_guard_rule r,
                     const std::string& what) {
        auto& slot = plan.inodes[key];
        if (add_claim(slot.rules, r) < 0)
            error(p, "more than " + std::to_string(BH_RULES_PER_OBJECT) +
                         " distinct rules protect " + what);
    }

    // Directories holding a protected object cannot be renamed away by the
    // protected sessions; "/" itself is left alone.
    void claim_ancestors(const FileProtection& p, const std::string& path, bh_guard_rule r) {
        r.ops = BH_OP_RENAME;
        r.match = BH_MATCH_ANCESTOR;
        fs::path cur = fs::path(path).parent_path();
        while (!cur.empty() && cur != cur.root_path()) {
            bh_inode_key key;
            if (inode_key_of(cur.string(), &key))
                claim_inode(p, key, r, cur.string());
            cur = cur.parent_path();
        }
    }

    void add_dir_pattern(const FileProtection& p, const std::string& dir, const std::string& leaf,
                         bh_guard_rule r, std::string* fp) {
        bh_inode_key key;
        if (!inode_key_of(dir, &key)) {
            plan.pending.push_back(dir + "/" + leaf);
            *fp += "?" + dir + ";";
            return;
        }
        *fp += dir + "=" + std::to_string(key.dev) + ":" + std::to_string(key.ino) + ";";
        bh_leaf_glob g;
        std::string why;
        if (!make_glob(leaf, &g, &why))
            return error(p, why);
        // What matches today is also protected by inode, so another name for
        // it (a hard link made before the policy) cannot reach it.
        for (const auto& path : leaf_matches(dir, std::string(g.prefix, g.prefix_len),
                                             std::string(g.suffix, g.suffix_len))) {
            bh_inode_key file;
            if (!inode_key_of(path, &file))
                continue;
            *fp += path + "=" + std::to_string(file.dev) + ":" + std::to_string(file.ino) + ";";
            bh_guard_rule exact = r;
            exact.match = BH_MATCH_EXACT;
            claim_inode(p, file, exact, path);
        }
        auto& d = plan.dirs[key];
        int free_slot = -1;
        for (int i = 0; i < BH_PATTERNS_PER_KEY; ++i) {
            if (d.rules[i].verdict && std::memcmp(&d.leaf[i], &g, sizeof(g)) == 0 &&
                d.rules[i].rule_id == r.rule_id) {
                d.rules[i].ops |= r.ops;
                free_slot = -2;
                break;
            }
            if (!d.rules[i].verdict && free_slot == -1)
                free_slot = i;
        }
        if (free_slot == -1)
            return error(p, "more than " + std::to_string(BH_PATTERNS_PER_KEY) +
                                " name patterns in directory " + dir);
        if (free_slot >= 0) {
            d.rules[free_slot] = r;
            d.leaf[free_slot] = g;
        }
        anchor(p, key, dir, r, BH_DIR_GLOBS);
    }

    // The directory itself gets an entry (so the walk sees its flags) and its
    // ancestors cannot be renamed away.
    void anchor(const FileProtection& p, const bh_inode_key& key, const std::string& dir,
                const bh_guard_rule& r, __u32 flag) {
        plan.inodes[key].dir_flags |= flag;  // the walk reads the flags here
        plan.ancestor_devs[key.dev] = 1;
        claim_ancestors(p, dir + "/x", r);
    }

    void add_dir_name(const FileProtection& p, const std::string& dir, const std::string& leaf,
                      bh_guard_rule r, std::string* fp) {
        bh_inode_key key;
        if (!inode_key_of(dir, &key)) {
            plan.pending.push_back(dir + "/" + leaf);
            *fp += "?" + dir + ";";
            return;
        }
        *fp += dir + "=" + std::to_string(key.dev) + ":" + std::to_string(key.ino) + ";";
        if (leaf.size() >= BH_NAME_KEY_LEN)
            return error(p, "file name '" + leaf + "' is longer than " +
                                std::to_string(BH_NAME_KEY_LEN - 1) + " bytes");
        bh_dir_name_key nk{};
        nk.dev = key.dev;
        nk.ino = key.ino;
        std::memcpy(nk.name, leaf.data(), leaf.size());
        r.match = BH_MATCH_EXACT;
        if (add_claim(plan.dir_names[nk].rules, r) < 0)
            return error(p, "more than " + std::to_string(BH_RULES_PER_OBJECT) +
                                " distinct rules protect " + dir + "/" + leaf);
        anchor(p, key, dir, r, BH_DIR_NAMES);
    }

    void add_anywhere_pattern(const FileProtection& p, const std::string& pattern, bh_guard_rule r) {
        // pattern is what follows the leading "**/".
        std::vector<std::string> comps;
        for (auto& c : fs::path(pattern))
            comps.push_back(c.string());
        if (comps.empty() || comps.size() > 3)
            return error(p, "pattern '**/" + pattern +
                                "' must end in at most two directory names and a file name");
        std::string why;
        bh_name_key key;
        bh_leaf_glob g{};
        std::string grandparent;
        if (comps.size() == 1) {
            if (!make_name_key(BH_NAME_LEAF, comps[0], &key, &why))
                return error(p, "pattern '**/" + pattern + "': " + why +
                                    " (a '**' pattern needs a literal file name or parent directory)");
        } else {
            if (!make_name_key(BH_NAME_PARENT, comps[comps.size() - 2], &key, &why) ||
                !make_glob(comps.back(), &g, &why))
                return error(p, "pattern '**/" + pattern + "': " + why);
            if (comps.size() == 3) {
                grandparent = comps[0];
                if (has_star(grandparent) || grandparent.size() >= BH_NAME_KEY_LEN)
                    return error(p, "pattern '**/" + pattern + "': directory name '" +
                                        grandparent + "' must be literal");
            }
        }
        auto& np = plan.names[key];
        for (int i = 0; i < BH_PATTERNS_PER_KEY; ++i) {
            if (np.rules[i].verdict)
                continue;
            np.rules[i] = r;
            np.leaf[i] = g;
            std::memcpy(np.grandparent[i], grandparent.data(), grandparent.size());
            ++plan.name_pattern_count;
            return;
        }
        error(p, "more than " + std::to_string(BH_PATTERNS_PER_KEY) +
                     " patterns share the name '" + std::string(key.name) + "'");
    }

    // Each live session's workspace, by inode: the kernel applies the claim
    // to sessions whose nearest workspace above the object is not their own.
    void add_workspaces(bh_guard_rule r, std::string* fp) {
        r.match = BH_MATCH_SUBTREE;
        r.scope = BH_SCOPE_OTHER_WORKSPACE;
        for (const auto& ws : in.workspaces) {
            bh_inode_key key;
            bool exists = inode_key_of(ws, &key);
            *fp += "workspace " + ws + "=" + (exists ? std::to_string(key.dev) + ":" + std::to_string(key.ino) : "?") + ";";
            if (!exists)
                continue;  // gone with its session: nothing left to read
            auto& slot = plan.inodes[key];
            if (add_claim(slot.rules, r) < 0)
                plan.warnings.push_back("file-guard: workspace " + ws + " holds " + std::to_string(BH_RULES_PER_OBJECT) +
                                        " other protections; other sessions' reads of it are not checked");
            plan.ancestor_devs[key.dev] = 1;
        }
    }

    // An object by fd.dev and fd.ino: nothing to resolve, nothing to name.
    void add_inode(const FileProtection& p, const rules::FileTarget& t, bh_guard_rule r) {
        bh_inode_key key{};
        if (std::sscanf(t.target.c_str(), "%llu:%llu", &key.dev, &key.ino) != 2 || !key.ino)
            return error(p, "inode target '" + t.target + "' is not DEV:INO");
        r.match = BH_MATCH_EXACT;
        claim_inode(p, key, r, "inode " + t.target);
    }

    void add_target(const FileProtection& p, const rules::FileTarget& t, bh_guard_rule r,
                    std::string* fp) {
        if (t.kind == TargetKind::kOtherWorkspaces)
            return add_workspaces(r, fp);
        if (t.kind == TargetKind::kInode)
            return add_inode(p, t, r);
        if (t.kind == TargetKind::kPattern && t.target.rfind("**/", 0) == 0)
            return add_anywhere_pattern(p, t.target.substr(3), r);
        for (const auto& path : expanded(p, t)) {
            fs::path fp_path(path);
            std::string dir = fp_path.parent_path().string();
            std::string leaf = fp_path.filename().string();
            if (t.kind == TargetKind::kPattern) {
                add_dir_pattern(p, dir, leaf, r, fp);
                continue;
            }
            bh_inode_key key;
            bool exists = inode_key_of(path, &key);
            *fp += path + "=" + (exists ? std::to_string(key.dev) + ":" + std::to_string(key.ino)
                                        : std::string("?")) + ";";
            if (t.kind == TargetKind::kSubtree) {
                if (!exists) {
                    plan.pending.push_back(path);
                    continue;
                }
                r.match = BH_MATCH_SUBTREE;
                claim_inode(p, key, r, path);
                plan.ancestor_devs[key.dev] = 1;
                claim_ancestors(p, path, r);
                continue;
            }
            // A single object: by inode when it exists, and by its name in the
            // parent so that creating or replacing it later is covered too.
            if (exists) {
                r.match = BH_MATCH_EXACT;
                claim_inode(p, key, r, path);
            }
            if (!leaf.empty() && !has_star(leaf))
                add_dir_name(p, dir, leaf, r, fp);
            else if (!exists)
                plan.pending.push_back(path);
        }
    }

    // fanotify marks inodes, so an ask rule names existing files: a path, or
    // a `*` in the last component matched against what the directory holds
    // now. The fingerprint makes the next rescan mark files that appear.
    void add_ask(const FileProtection& p) {
        if (p.scope == KernelScope::kAgent)
            return error(p, "'ask' applies to every agent session; drop the agent.name condition or use 'block'");
        for (const auto& t : p.targets) {
            if (t.kind == TargetKind::kInode)
                return error(p, "'ask' marks files by path; inode " + t.target +
                                    " (fd.ino, fd.dev) has none it could mark (use 'block')");
            if (t.kind == TargetKind::kSubtree || t.target.rfind("**/", 0) == 0)
                return error(p, "'ask' holds existing files by inode; '" + t.target +
                                    "' names a directory tree or names anywhere, which it cannot hold (use 'block')");
            for (const auto& path : expanded(p, t)) {
                fs::path fp_path(path);
                std::string dir = fp_path.parent_path().string(), leaf = fp_path.filename().string();
                std::vector<std::string> files;
                if (!has_star(leaf)) {
                    files.push_back(path);
                } else {
                    size_t star = leaf.find('*');
                    std::string prefix = leaf.substr(0, star), suffix = leaf.substr(star + 1);
                    if (has_star(suffix))
                        return error(p, "more than one '*' in the name '" + leaf + "'");
                    files = leaf_matches(dir, prefix, suffix);
                }
                bool any = false;
                for (const auto& f : files) {
                    struct stat st{};
                    bool regular = ::stat(f.c_str(), &st) == 0 && S_ISREG(st.st_mode);
                    plan.fingerprint += f + "=" + (regular ? std::to_string(st.st_dev) + ":" +
                                                                 std::to_string(st.st_ino) : "?") + ";";
                    if (!regular)
                        continue;
                    any = true;
                    auto [owner, fresh] = ask_owner.emplace(std::make_pair(st.st_dev, st.st_ino), p.rule);
                    if (!fresh && owner->second != p.rule)
                        return error(p, "'" + f + "' is already asked for by rule '" + owner->second +
                                            "'; one file can have one ask rule");
                    if (fresh)
                        plan.asks.push_back(AskTarget{f, p.rule, t.target});
                }
                if (!any)
                    plan.pending.push_back(path);
            }
        }
    }

    void add(const FileProtection& p) {
        if (p.verdict == KernelVerdict::kAsk)
            return add_ask(p);
        bh_guard_rule r{};
        plan.rules.push_back(RuleInfo{p.rule, p.priority, p.file, p.line, p.risk,
                                      p.verdict == KernelVerdict::kDeny ? "deny" : "audit"});
        r.rule_id = static_cast<__u32>(plan.rules.size());
        r.ops = close_ops(p.ops);
        r.verdict = p.verdict == KernelVerdict::kDeny ? BH_VERDICT_DENY : BH_VERDICT_AUDIT;
        if (!p.taint.empty())
            r.flags |= BH_RULE_TAINT;
        switch (p.scope) {
        case KernelScope::kHost:
            r.scope = BH_SCOPE_HOST;
            ++plan.host_rules;
            break;
        case KernelScope::kSessions:
            r.scope = BH_SCOPE_SESSIONS;
            break;
        case KernelScope::kAgent: {
            r.scope = BH_SCOPE_AGENT;
            auto it = in.agent_kinds.find(p.agent);
            if (it == in.agent_kinds.end())
                return error(p, "agent '" + p.agent + "' is not a known agent kind");
            r.agent_kind = it->second;
            break;
        }
        }
        if (!r.ops)
            return error(p, "names no file operation the kernel can check");
        for (const auto& t : p.targets)
            add_target(p, t, r, &plan.fingerprint);
    }
};

template <typename Map>
std::string write_map(int fd, const Map& want, const char* name) {
    for (const auto& [k, v] : want)
        if (bpf_map_update_elem(fd, &k, &v, BPF_ANY) != 0)
            return std::string("file-guard: cannot update ") + name + ": " + std::strerror(errno) +
                   " (raise its size?)";
    return "";
}

template <typename Key, typename Map>
void delete_stale(int fd, const Map& want) {
    for (const auto& k : map_keys<Key>(fd))
        if (!want.count(k))
            bpf_map_delete_elem(fd, &k);
}

}  // namespace

FilePlan plan_file_policy(const rules::KernelPolicy& policy, const PlanInputs& in) {
    Planner p{in, {}, {}};
    for (const auto& fpr : policy.files)
        p.add(fpr);
    std::sort(p.plan.pending.begin(), p.plan.pending.end());
    p.plan.pending.erase(std::unique(p.plan.pending.begin(), p.plan.pending.end()),
                         p.plan.pending.end());
    return std::move(p.plan);
}

std::string apply_file_plan(const FilePlan& plan, const MapFds& m) {
    // Patterns and names before the inode entries that point at them.
    if (auto e = write_map(m.dir_patterns, plan.dirs, "dir_patterns"); !e.empty())
        return e;
    if (auto e = write_map(m.dir_names, plan.dir_names, "dir_names"); !e.empty())
        return e;
    if (auto e = write_map(m.name_patterns, plan.names, "name_patterns"); !e.empty())
        return e;
    if (auto e = write_map(m.inode_policy, plan.inodes, "inode_policy"); !e.empty())
        return e;
    if (auto e = write_map(m.ancestor_devs, plan.ancestor_devs, "ancestor_devs"); !e.empty())
        return e;
    int config_fd = m.guard_config;
    __u32 zero = 0;
    bh_config cfg{};
    if (bpf_map_lookup_elem(config_fd, &zero, &cfg) != 0)
        return std::string("file-guard: cannot read guard_config: ") + std::strerror(errno);
    cfg.host_rules = plan.host_rules;
    cfg.name_patterns = plan.name_pattern_count;
    cfg.policy_gen += 1;
    if (bpf_map_update_elem(config_fd, &zero, &cfg, BPF_ANY) != 0)
        return std::string("file-guard: cannot write guard_config: ") + std::strerror(errno);
    delete_stale<bh_inode_key>(m.inode_policy, plan.inodes);
    delete_stale<bh_name_key>(m.name_patterns, plan.names);
    delete_stale<bh_dir_name_key>(m.dir_names, plan.dir_names);
    delete_stale<bh_inode_key>(m.dir_patterns, plan.dirs);
    delete_stale<__u64>(m.ancestor_devs, plan.ancestor_devs);
    return "";
}

}  // namespace bulkhead::guards
