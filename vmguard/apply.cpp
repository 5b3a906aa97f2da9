// SPDX-License-Identifier: Apache-2.0
#include "vmguard/apply.h"

#include "vmguard/errno_text.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>

namespace bulkhead::vmguard {

namespace {

struct Protected {
    const char* path;
    const char* why;
};

// Matched at any depth (nested repositories), on whole components.
constexpr Protected kProtected[] = {
    {".git/hooks", "a git hook runs on the host at the next commit"},
    {".git/config", "git config can set core.hooksPath, aliases and fsmonitor commands"},
    {".gitmodules", "submodule URLs fetch code onto the host"},
    {".mcp.json", "an MCP server config starts programs for the agent"},
    {".claude", "agent settings (hooks, permissions, MCP servers)"},
    {".codex", "agent settings (hooks, MCP servers)"},
    {".gemini", "agent settings (hooks, MCP servers)"},
    {".cursor", "agent settings (hooks, MCP servers, rules)"},
    {".vscode", "editor tasks and MCP servers run programs"},
    {".github/workflows", "CI workflows run with the repository's secrets"},
    {".gitlab-ci.yml", "CI pipelines run with the repository's secrets"},
    {".envrc", "direnv runs it in the developer's shell"},
    {"CLAUDE.md", "agent instructions persist a prompt injection"},
    {"AGENTS.md", "agent instructions persist a prompt injection"},
    {"GEMINI.md", "agent instructions persist a prompt injection"},
};

std::vector<std::string> split(const std::string& rel) {
    std::vector<std::string> parts;
    size_t start = 0;
    while (start <= rel.size()) {
        size_t end = rel.find('/', start);
        if (end == std::string::npos)
            end = rel.size();
        parts.push_back(rel.substr(start, end - start));
        start = end + 1;
    }
    return parts;
}

// Opens the parent directory of parts.back() below root, creating missing
// directories (owned like their parent) when create is set.
int open_parent(int root, const std::vector<std::string>& parts, bool create, std::string* error) {
    int dir = ::dup(root);
    for (size_t i = 0; i + 1 < parts.size(); i++) {
        int next = ::openat(dir, parts[i].c_str(), O_DIRECTORY | O_NOFOLLOW | O_RDONLY | O_CLOEXEC);
        if (next < 0 && errno == ENOENT && create) {
            struct stat pst {};
            ::fstat(dir, &pst);
            if (::mkdirat(dir, parts[i].c_str(), 0755) == 0)
                ::fchownat(dir, parts[i].c_str(), pst.st_uid, pst.st_gid, AT_SYMLINK_NOFOLLOW);
            next = ::openat(dir, parts[i].c_str(), O_DIRECTORY | O_NOFOLLOW | O_RDONLY | O_CLOEXEC);
        }
        ::close(dir);
        if (next < 0) {
            *error = errno == ELOOP || errno == ENOTDIR ? "'" + parts[i] + "' on the host is not a directory (a link?)"
                                                        : errno_text("open " + parts[i]);
            return -1;
        }
        dir = next;
    }
    return dir;
}

std::string temp_name() {
    static std::mt19937_64 rng{std::random_device{}()};
    char buf[48];
    std::snprintf(buf, sizeof(buf), ".bulkhead-apply.%016llx", static_cast<unsigned long long>(rng()));
    return buf;
}

// Removes name below dir, recursively, never following a link.
bool remove_at(int dir, const std::string& name, int depth = 0) {
    if (::unlinkat(dir, name.c_str(), 0) == 0 || errno == ENOENT)
        return true;
    if ((errno != EISDIR && errno != EPERM) || depth > 256)
        return false;
    int sub = ::openat(dir, name.c_str(), O_DIRECTORY | O_NOFOLLOW | O_RDONLY | O_CLOEXEC);
    if (sub < 0)
        return false;
    DIR* d = ::fdopendir(sub);
    std::vector<std::string> names;
    while (auto* e = ::readdir(d))
        if (std::strcmp(e->d_name, ".") && std::strcmp(e->d_name, ".."))
            names.emplace_back(e->d_name);
    bool ok = true;
    for (const auto& n : names)
        ok = remove_at(::dirfd(d), n, depth + 1) && ok;
    ::closedir(d);
    return ok && ::unlinkat(dir, name.c_str(), AT_REMOVEDIR) == 0;
}

std::string apply_one(Vm& vm, int root, const Change& c, const ApplyOptions& o) {
    if (!valid_relative_path(c.path))
        return "malformed path";
    auto parts = split(c.path);
    std::string err;
    int dir = open_parent(root, parts, /* create = */ c.op != 'D', &err);
    if (dir < 0)
        return err;
    const std::string& name = parts.back();
    struct stat pst {}, old {};
    ::fstat(dir, &pst);
    bool existed = ::fstatat(dir, name.c_str(), &old, AT_SYMLINK_NOFOLLOW) == 0;
    uid_t uid = existed ? old.st_uid : pst.st_uid;
    gid_t gid = existed ? old.st_gid : pst.st_gid;
    std::string result;
    if (c.op == 'D') {
        if (!remove_at(dir, name))
            result = errno_text("remove");
    } else if (c.type == 'd') {
        if (existed && !S_ISDIR(old.st_mode) && !remove_at(dir, name))
            result = errno_text("replace");
        else if (::mkdirat(dir, name.c_str(), c.mode & 0777) != 0 && errno != EEXIST)
            result = errno_text("mkdir");
        else if (::fchmodat(dir, name.c_str(), c.mode & 0777, 0) != 0 ||
                 ::fchownat(dir, name.c_str(), uid, gid, AT_SYMLINK_NOFOLLOW) != 0)
            result = errno_text("chmod");
    } else if (c.type == 'l') {
        if (c.target.empty() || c.target[0] == '/' || c.target.find("..") != std::string::npos)
            result = "a link to '" + c.target + "' would point outside the workspace";
        auto tmp = temp_name();
        if (result.empty() && ::symlinkat(c.target.c_str(), dir, tmp.c_str()) != 0)
            result = errno_text("symlink");
        else if (result.empty()) {
            ::fchownat(dir, tmp.c_str(), uid, gid, AT_SYMLINK_NOFOLLOW);
            if (::renameat(dir, tmp.c_str(), dir, name.c_str()) != 0) {
                result = errno_text("rename");
                ::unlinkat(dir, tmp.c_str(), 0);
            }
        }
    } else {
        std::string data;
        if (auto e = vm.read(c.path, o.max_file_bytes, &data); !e.empty()) {
            ::close(dir);
            return e;
        }
        auto tmp = temp_name();
        int fd = ::openat(dir, tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0) {
            result = errno_text("create");
        } else {
            size_t off = 0;
            while (off < data.size()) {
                ssize_t n = ::write(fd, data.data() + off, data.size() - off);
                if (n <= 0)
                    break;
                off += static_cast<size_t>(n);
            }
            // No set-id bits come back from a VM.
            if (off != data.size() || ::fchown(fd, uid, gid) != 0 || ::fchmod(fd, c.mode & 0777) != 0 ||
                ::fsync(fd) != 0)
                result = errno_text("write");
            ::close(fd);
            if (result.empty() && existed && S_ISDIR(old.st_mode) && !remove_at(dir, name))
                result = errno_text("replace directory");
            if (result.empty() && ::renameat(dir, tmp.c_str(), dir, name.c_str()) != 0)
                result = errno_text("rename");
            if (!result.empty())
                ::unlinkat(dir, tmp.c_str(), 0);
        }
    }
    ::close(dir);
    return result;
}

bool selected(const std::string& rel, const std::vector<std::string>& paths) {
    if (paths.empty())
        return true;
    for (auto p : paths) {
        while (p.size() > 1 && p.back() == '/')
            p.pop_back();
        if (rel == p || rel.starts_with(p + "/"))
            return true;
    }
    return false;
}

}  // namespace

std::string review_required(const std::string& rel) {
    const std::string padded = "/" + rel + "/";
    for (const auto& p : kProtected) {
        const std::string needle = "/" + std::string(p.path) + "/";
        // The protected path itself, anything below it, or a directory that holds it.
        if (padded.find(needle) != std::string::npos || needle.find(padded) != std::string::npos)
            return p.why;
    }
    return {};
}

ApplyReport apply(Vm& vm, const std::vector<Change>& changes, const std::string& workspace, const ApplyOptions& o) {
    ApplyReport r;
    int root = ::open(workspace.c_str(), O_DIRECTORY | O_RDONLY | O_CLOEXEC);
    if (root < 0) {
        r.failed.emplace_back(workspace, errno_text("open workspace"));
        return r;
    }
    for (const auto& c : changes) {
        if (!selected(c.path, o.paths))
            continue;
        if (auto why = review_required(c.path); !why.empty() && !o.allow_protected) {
            r.refused.emplace_back(c.path, why);
            continue;
        }
        if (auto e = apply_one(vm, root, c, o); !e.empty())
            r.failed.emplace_back(c.path, e);
        else
            r.applied.push_back(std::string(1, c.op) + " " + c.path);
    }
    ::close(root);
    return r;
}

}  // namespace bulkhead::vmguard
