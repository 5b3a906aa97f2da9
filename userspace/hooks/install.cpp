// SPDX-License-Identifier: Apache-2.0
#include "hooks/install.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <vector>

#include <nlohmann/json.hpp>

#include "fd.h"

namespace bulkhead::hooks {
namespace {

namespace fs = std::filesystem;
// ordered_json: keys keep the order they have in the user's file.
using Json = nlohmann::ordered_json;

constexpr std::size_t kMaxSettingsBytes = 4u << 20;
constexpr int kMaxSymlinks = 40;  // as the kernel's MAXSYMLINKS
constexpr int kMaxTimeoutSeconds = 24 * 60 * 60;

std::string fail(const std::string& object, const std::string& cause) {
    return "install-hooks: " + object + ": " + cause;
}

std::string fail_errno(const std::string& object, const std::string& what, int err) {
    return fail(object, what + ": " + std::strerror(err));
}

struct AgentSpec {
    const char* before;   // the event before a tool runs
    const char* after;    // the event after it ran
    const char* matcher;  // matches every tool
    bool gemini;          // handler has a name; timeout in milliseconds
};

const AgentSpec& spec(Agent agent) {
    // Claude's "*" is its match-all; Codex and Gemini take a regex.
    static const AgentSpec kClaude{"PreToolUse", "PostToolUse", "*", false};
    static const AgentSpec kCodex{"PreToolUse", "PostToolUse", ".*", false};
    static const AgentSpec kGemini{"BeforeTool", "AfterTool", ".*", true};
    switch (agent) {
    case Agent::kCodex: return kCodex;
    case Agent::kGemini: return kGemini;
    case Agent::kClaudeCode: break;
    }
    return kClaude;
}

// ---- Which file ------------------------------------------------------------

struct Location {
    fs::path file;
    fs::path base;          // must exist; directories below it are created
    std::string base_what;  // what base is, for the error when it does not
};

fs::path absolute_dir(const std::string& dir) {
    std::error_code ec;
    fs::path p = fs::absolute(dir, ec);
    if (ec)
        p = dir;
    p = p.lexically_normal();
    if (p.has_relative_path() && p.filename().empty())
        p = p.parent_path();  // "/a/b/" -> "/a/b"
    return p;
}

std::string env_value(const InstallOptions& o, const char* key) {
    auto it = o.env.find(key);
    return it == o.env.end() ? "" : it->second;
}

std::optional<Location> locate(const InstallOptions& o, std::string* error) {
    const char* dot_dir = o.agent == Agent::kClaudeCode ? ".claude" : o.agent == Agent::kCodex ? ".codex" : ".gemini";
    const char* file = o.agent == Agent::kCodex ? "hooks.json" : "settings.json";
    const std::string object = std::string(agent_name(o.agent)) + " " + std::string(scope_name(o.scope)) + " scope";
    auto under = [&](const std::string& dir, const char* what) -> std::optional<Location> {
        if (dir.empty()) {
            *error = fail(object, std::string(what) + " is not set");
            return std::nullopt;
        }
        fs::path base = absolute_dir(dir);
        return Location{base / dot_dir / file, base, what};
    };

    switch (o.scope) {
    case Scope::kUser: {
        const char* var = o.agent == Agent::kClaudeCode ? "CLAUDE_CONFIG_DIR"
                          : o.agent == Agent::kCodex    ? "CODEX_HOME"
                                                        : nullptr;
        std::string relocated = var ? env_value(o, var) : "";
        if (!relocated.empty()) {
            // The agent creates its config dir itself, so only its parent must exist.
            fs::path dir = absolute_dir(relocated);
            return Location{dir / file, dir.parent_path(), std::string("parent of ") + var};
        }
        return under(o.home, "home directory");
    }
    case Scope::kProject:
        return under(o.project_dir, "project directory");
    case Scope::kManaged:
        break;
    }
    if (o.agent == Agent::kCodex) {
        *error = "install-hooks: codex has no managed hooks file; use --scope user or project";
        return std::nullopt;
    }
    fs::path root = o.root.empty() ? fs::path("/") : absolute_dir(o.root);
    const char* rel = o.agent == Agent::kClaudeCode ? "etc/claude-code/managed-settings.json"
                                                    : "etc/gemini-cli/settings.json";
    return Location{root / rel, root, "managed root"};
}

// Follows symlinks like realpath(3), with one rule more: a symlink must
// belong to root or to the owner of what it points to. Otherwise, with
// install-hooks running as root on a user's settings, that user's link from
// ~/.gemini to /etc/gemini-cli would make us edit (or strip bulkhead from)
// the system file. The part of the path that does not exist yet is kept as
// written.
std::optional<fs::path> resolve(const fs::path& path, std::string* error) {
    std::vector<std::string> todo;  // components still to walk, next one last
    auto push = [&todo](const fs::path& p) {
        std::vector<std::string> parts;
        for (const auto& part : p.relative_path())
            parts.push_back(part.string());
        todo.insert(todo.end(), parts.rbegin(), parts.rend());
    };
    push(path);
    fs::path done = "/";
    int links = 0;
    while (!todo.empty()) {
        std::string c = std::move(todo.back());
        todo.pop_back();
        if (c.empty() || c == ".")
            continue;
        if (c == "..") {
            done = done.parent_path();
            continue;
        }
        fs::path next = done / c;
        struct stat lst {};
        if (::lstat(next.c_str(), &lst) != 0) {
            if (errno != ENOENT) {
                *error = fail_errno(next.string(), "cannot examine", errno);
                return std::nullopt;
            }
            done = next;
            for (; !todo.empty(); todo.pop_back())
                done /= todo.back();
            return done.lexically_normal();
        }
        if (!S_ISLNK(lst.st_mode)) {
            done = next;
            continue;
        }
        if (++links > kMaxSymlinks) {
            *error = fail_errno(path.string(), "cannot resolve", ELOOP);
            return std::nullopt;
        }
        std::error_code ec;
        fs::path target = fs::read_symlink(next, ec);
        if (ec) {
            *error = fail(next.string(), "cannot read symlink: " + ec.message());
            return std::nullopt;
        }
        struct stat tst {};
        if (::stat(next.c_str(), &tst) != 0) {
            if (errno == ENOENT)
                *error = fail(next.string(), "symlink points to " + target.string() + ", which does not exist");
            else
                *error = fail_errno(next.string(), "cannot follow symlink to " + target.string(), errno);
            return std::nullopt;
        }
        if (lst.st_uid != 0 && lst.st_uid != tst.st_uid) {
            *error = fail(next.string(), "symlink owned by uid " + std::to_string(lst.st_uid) + " points to " +
                                             target.string() + ", owned by uid " + std::to_string(tst.st_uid) +
                                             "; refusing to follow it");
            return std::nullopt;
        }
        if (target.is_absolute())
            done = "/";
        push(target);
    }
    return done;
}

// ---- Files -----------------------------------------------------------------

// Gives a file we created the owner (only root can) and mode it must have.
// uid/gid -1 leave the owner as created.
bool set_owner_mode(int fd, uid_t uid, gid_t gid, mode_t mode, std::string* what) {
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        *what = "cannot examine the new file";
        return false;
    }
    bool other_uid = uid != static_cast<uid_t>(-1) && uid != st.st_uid;
    bool other_gid = gid != static_cast<gid_t>(-1) && gid != st.st_gid;
    // fchown first: it may clear set-id bits that fchmod then restores.
    if ((other_uid || other_gid) && ::fchown(fd, uid, gid) != 0) {
        *what = "cannot give it owner " + std::to_string(uid) + ":" + std::to_string(gid);
        return false;
    }
    if (::fchmod(fd, mode) != 0) {
        *what = "cannot set its mode";
        return false;
    }
    return true;
}

// The owner that root gives what it creates in DIR: DIR's own, so that a
// user's settings stay readable by that user. Others keep their own.
void owner_for_new(int dir, uid_t* uid, gid_t* gid) {
    *uid = static_cast<uid_t>(-1);
    *gid = static_cast<gid_t>(-1);
    struct stat st {};
    if (::geteuid() == 0 && ::fstat(dir, &st) == 0) {
        *uid = st.st_uid;
        *gid = st.st_gid;
    }
}

// Opens DIR one component at a time without following symlinks: resolve()
// followed those it allows, so a symlink here means someone raced us.
// With `create`, missing directories are made with MODE. Sets *missing,
// not an error, when a directory is missing and `create` is false.
Fd open_dir(const fs::path& dir, bool create, mode_t mode, bool* missing, std::string* error) {
    Fd cur(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!cur.valid()) {
        *error = fail_errno("/", "cannot open", errno);
        return {};
    }
    fs::path sofar = "/";
    for (const auto& part : dir.relative_path()) {
        const std::string c = part.string();
        if (c.empty())
            continue;
        sofar /= c;
        int fd = ::openat(cur.get(), c.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 && errno == ENOENT && !create) {
            *missing = true;
            return {};
        }
        if (fd < 0 && errno == ENOENT) {
            if (::mkdirat(cur.get(), c.c_str(), mode) != 0 && errno != EEXIST) {
                *error = fail_errno(sofar.string(), "cannot create directory", errno);
                return {};
            }
            // Opened readable so that fchmod and fchown work on it.
            fd = ::openat(cur.get(), c.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (fd >= 0) {
                Fd created(fd);
                uid_t uid;
                gid_t gid;
                owner_for_new(cur.get(), &uid, &gid);
                std::string what;
                if (!set_owner_mode(created.get(), uid, gid, mode, &what)) {
                    *error = fail_errno(sofar.string(), what, errno);
                    return {};
                }
                fd = created.release();
            }
        }
        if (fd < 0) {
            if (errno == ENOTDIR || errno == ELOOP)
                *error = fail(sofar.string(), "is not a directory (or became a symlink while install-hooks ran)");
            else
                *error = fail_errno(sofar.string(), "cannot open directory", errno);
            return {};
        }
        cur = Fd(fd);
    }
    return cur;
}

struct Current {
    bool exists = false;
    struct stat st {};
    std::string bytes;
};

bool read_current(int dir, const std::string& name, const std::string& file, Current* cur, std::string* error) {
    // O_NONBLOCK: a FIFO put in the file's place must not hang us.
    Fd fd(::openat(dir, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
    if (!fd.valid()) {
        if (errno == ENOENT)
            return true;
        if (errno == ELOOP)
            *error = fail(file, "became a symlink while install-hooks ran; run it again");
        else
            *error = fail_errno(file, "cannot open", errno);
        return false;
    }
    if (::fstat(fd.get(), &cur->st) != 0) {
        *error = fail_errno(file, "cannot examine", errno);
        return false;
    }
    if (S_ISDIR(cur->st.st_mode)) {
        *error = fail(file, "is a directory, not a settings file");
        return false;
    }
    if (!S_ISREG(cur->st.st_mode)) {
        *error = fail(file, "is not a regular file");
        return false;
    }
    auto too_big = [&](std::uintmax_t size) {
        *error = fail(file, "is " + std::to_string(size) + " bytes, more than the 4 MiB install-hooks will edit");
        return false;
    };
    if (static_cast<std::uintmax_t>(cur->st.st_size) > kMaxSettingsBytes)
        return too_big(cur->st.st_size);
    // Replacing the file by rename would silently split the links.
    if (cur->st.st_nlink > 1) {
        *error = fail(file, "has " + std::to_string(cur->st.st_nlink) +
                                " hard links, which replacing it would break; add the hooks by hand");
        return false;
    }
    char buf[65536];
    for (;;) {
        ssize_t n = ::read(fd.get(), buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            *error = fail_errno(file, "cannot read", errno);
            return false;
        }
        if (n == 0)
            break;
        cur->bytes.append(buf, static_cast<std::size_t>(n));
        if (cur->bytes.size() > kMaxSettingsBytes)
            return too_big(cur->bytes.size());  // grew since fstat
    }
    cur->exists = true;
    return true;
}

// Creates DIR/NAME, which must not exist yet, with DATA, owner and mode, and
// syncs it. Returns 0 or the errno, with *what the step that failed; leaves
// nothing behind on failure.
int create_file(int dir, const std::string& name, const std::string& data, uid_t uid, gid_t gid, mode_t mode,
                std::string* what) {
    Fd fd(::openat(dir, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!fd.valid()) {
        *what = "cannot create";
        return errno;
    }
    int err = 0;
    for (std::size_t off = 0; off < data.size() && !err;) {
        ssize_t n = ::write(fd.get(), data.data() + off, data.size() - off);
        if (n < 0 && errno != EINTR) {
            *what = "cannot write";
            err = errno;
        } else if (n > 0) {
            off += static_cast<std::size_t>(n);
        }
    }
    if (!err && !set_owner_mode(fd.get(), uid, gid, mode, what))
        err = errno;
    if (!err && ::fsync(fd.get()) != 0) {
        *what = "cannot sync";
        err = errno;
    }
    if (!err && ::close(fd.release()) != 0) {
        *what = "cannot close";
        err = errno;
    }
    if (err)
        ::unlinkat(dir, name.c_str(), 0);
    return err;
}

// Creates PREFIX, or PREFIX-1, PREFIX-2, ... when taken. Returns the name
// used, or "" with *error about OBJECT.
std::string create_unique(int dir, const std::string& prefix, const std::string& data, uid_t uid, gid_t gid,
                          mode_t mode, const std::string& object, std::string* error) {
    for (int i = 0; i < 100; ++i) {
        std::string name = i == 0 ? prefix : prefix + "-" + std::to_string(i);
        std::string what;
        int err = create_file(dir, name, data, uid, gid, mode, &what);
        if (err == 0)
            return name;
        if (err != EEXIST) {
            *error = fail_errno(object, what, err);
            return "";
        }
    }
    *error = fail_errno(object, "cannot create", EEXIST);
    return "";
}

// Someone (the agent itself) may have written the file since we read it;
// renaming over that would lose their change.
bool unchanged_since_read(int dir, const std::string& name, const Current& cur) {
    struct stat now {};
    if (::fstatat(dir, name.c_str(), &now, AT_SYMLINK_NOFOLLOW) != 0)
        return !cur.exists && errno == ENOENT;
    return cur.exists && now.st_dev == cur.st.st_dev && now.st_ino == cur.st.st_ino &&
           now.st_size == cur.st.st_size && now.st_mtim.tv_sec == cur.st.st_mtim.tv_sec &&
           now.st_mtim.tv_nsec == cur.st.st_mtim.tv_nsec;
}

// ---- JSON ------------------------------------------------------------------

std::string a_type(const Json& j) {
    if (j.is_null())
        return "null";
    std::string t = j.type_name();
    return (t == "array" || t == "object" ? "an " : "a ") + t;
}

std::optional<Json> parse(const std::string& text, const std::string& file, std::string* error) {
    if (text.find_first_not_of(" \t\r\n") == std::string::npos)
        return Json::object();  // an empty file holds no settings
    try {
        return Json::parse(text);
    } catch (const Json::parse_error& e) {
        if (Json::accept(text, /* ignore_comments = */ true)) {
            *error = fail(file, "has comments, which rewriting it would drop; remove them or add the hooks by hand");
            return std::nullopt;
        }
        // Drop "[json.exception.parse_error.101] " and the "last read: '...'"
        // excerpt: settings files hold API keys, and errors end up in logs.
        std::string what = e.what();
        if (auto p = what.find("] "); p != std::string::npos)
            what.erase(0, p + 2);
        if (auto p = what.find("; last read:"); p != std::string::npos)
            what.erase(p);
        *error = fail(file, "invalid JSON: " + what + " (byte " + std::to_string(e.byte) + ")");
        return std::nullopt;
    }
}

// Refuses what we would have to guess about; checked before any edit.
std::optional<std::string> check_shape(const Json& doc, const AgentSpec& s, const std::string& file) {
    if (!doc.is_object())
        return fail(file, "top-level value is " + a_type(doc) + ", expected an object");
    auto hooks = doc.find("hooks");
    if (hooks == doc.end())
        return std::nullopt;
    if (!hooks->is_object())
        return fail(file, "\"hooks\" is " + a_type(*hooks) + ", expected an object");
    for (const char* event : {s.before, s.after}) {
        auto e = hooks->find(event);
        if (e != hooks->end() && !e->is_array())
            return fail(file, "\"hooks." + std::string(event) + "\" is " + a_type(*e) + ", expected an array");
    }
    return std::nullopt;
}

std::vector<std::string> words(const std::string& s, std::size_t max) {
    std::vector<std::string> out;
    std::size_t i = 0;
    while (out.size() < max) {
        i = s.find_first_not_of(" \t", i);
        if (i == std::string::npos)
            break;
        std::size_t j = s.find_first_of(" \t", i);
        std::string w = s.substr(i, j == std::string::npos ? std::string::npos : j - i);
        if (w.size() >= 2 && (w.front() == '"' || w.front() == '\'') && w.back() == w.front())
            w = w.substr(1, w.size() - 2);
        out.push_back(w);
        i = j;
    }
    return out;
}

bool is_ours(const Json& handler, const std::string& command) {
    if (!handler.is_object())
        return false;
    auto c = handler.find("command");
    if (c == handler.end() || !c->is_string())
        return false;
    const auto& text = c->get_ref<const std::string&>();
    if (text == command)
        return true;
    auto w = words(text, 2);
    return w.size() == 2 && fs::path(w[0]).filename() == "bulkhead" && w[1] == "hook";
}

Json our_handler(const InstallOptions& o, const AgentSpec& s) {
    Json h = Json::object();
    h["type"] = "command";
    if (s.gemini)
        h["name"] = "bulkhead";
    h["command"] = o.command;
    h["timeout"] = s.gemini ? o.timeout_seconds * 1000 : o.timeout_seconds;
    return h;
}

// Walks an event's matcher groups. With `wanted`, our first handler is
// brought up to date with it (keys it has keep their place); every other
// handler of ours is removed, and a group that this leaves without handlers
// goes with it. Groups we do not understand are left alone. Returns whether
// a handler of ours was there.
bool sweep(Json& groups, const std::string& command, const Json* wanted) {
    bool found = false;
    for (std::size_t g = 0; g < groups.size();) {
        Json& group = groups[g];
        if (!group.is_object() || !group.contains("hooks") || !group["hooks"].is_array()) {
            ++g;
            continue;
        }
        Json& handlers = group["hooks"];
        bool removed = false;
        for (std::size_t i = 0; i < handlers.size();) {
            Json& h = handlers[i];
            if (!is_ours(h, command)) {
                ++i;
            } else if (wanted && !found) {
                for (const auto& [key, value] : wanted->items())
                    if (!h.contains(key) || h[key] != value)
                        h[key] = value;
                found = true;
                ++i;
            } else {
                found = true;
                handlers.erase(i);
                removed = true;
            }
        }
        if (removed && handlers.empty())
            groups.erase(g);
        else
            ++g;
    }
    return found;
}

// Edits DOC (already shape-checked); returns "PreToolUse added, ..." or ""
// when nothing changed.
std::string edit(Json& doc, const InstallOptions& o, bool install) {
    const AgentSpec& s = spec(o.agent);
    const Json wanted = our_handler(o, s);
    std::string changes;
    auto note = [&changes](const char* event, const char* what) {
        changes += (changes.empty() ? "" : ", ") + std::string(event) + " " + what;
    };
    if (!install && !doc.contains("hooks"))
        return "";
    if (!doc.contains("hooks"))
        doc["hooks"] = Json::object();
    Json& hooks = doc["hooks"];
    for (const char* event : {s.before, s.after}) {
        if (!install) {
            if (hooks.contains(event) && sweep(hooks[event], o.command, nullptr)) {
                note(event, "removed");
                if (hooks[event].empty())
                    hooks.erase(event);
            }
            continue;
        }
        if (!hooks.contains(event))
            hooks[event] = Json::array();
        Json& groups = hooks[event];
        const Json before = groups;
        if (!sweep(groups, o.command, &wanted)) {
            Json group = Json::object();
            group["matcher"] = s.matcher;
            group["hooks"] = Json::array();
            group["hooks"].push_back(wanted);
            groups.push_back(std::move(group));
            note(event, "added");
        } else if (groups != before) {
            note(event, "updated");
        }
    }
    if (!install && !changes.empty() && hooks.empty())
        doc.erase("hooks");
    return changes;
}

// ---- The command -----------------------------------------------------------

std::optional<std::string> check_options(const InstallOptions& o, bool install) {
    if (o.command.empty())
        return "install-hooks: handler command is empty";
    if (o.command.find_first_of(std::string("\n\r\0", 3)) != std::string::npos)
        return "install-hooks: handler command contains a line break or NUL";
    if (install && (o.timeout_seconds < 1 || o.timeout_seconds > kMaxTimeoutSeconds))
        return "install-hooks: timeout must be 1 to " + std::to_string(kMaxTimeoutSeconds) + " seconds, not " +
               std::to_string(o.timeout_seconds);
    return std::nullopt;
}

InstallOutcome failed(std::string error) {
    InstallOutcome out;
    out.error = std::move(error);
    return out;
}

InstallOutcome run(const InstallOptions& o, bool install) {
    if (auto e = check_options(o, install))
        return failed(*e);
    std::string error;
    auto loc = locate(o, &error);
    if (!loc)
        return failed(error);
    struct stat bst {};
    if (::stat(loc->base.c_str(), &bst) != 0)
        return failed(fail_errno(loc->base.string(), loc->base_what, errno));
    if (!S_ISDIR(bst.st_mode))
        return failed(fail(loc->base.string(), loc->base_what + " is not a directory"));

    auto path = resolve(loc->file, &error);
    if (!path)
        return failed(error);
    const std::string file = path->string();
    const std::string name = path->filename().string();
    const fs::path dir_path = path->parent_path();
    if (name.empty() || name == "." || name == "..")
        return failed(fail(file, "is not a file name"));
    // "link -> target" in messages when we edit through a symlink.
    const std::string shown = *path == loc->file ? file : loc->file.string() + " -> " + file;

    InstallResult result;
    result.file = file;
    bool missing = false;
    const mode_t dir_mode = o.scope == Scope::kUser ? 0700 : 0755;
    Fd dir = open_dir(dir_path, install, dir_mode, &missing, &error);
    if (!dir.valid() && !missing)
        return failed(error);
    Current cur;
    if (dir.valid() && !read_current(dir.get(), name, file, &cur, &error))
        return failed(error);
    if (!install && !cur.exists) {
        result.message = shown + ": does not exist; no bulkhead hooks to remove";
        return InstallOutcome{result, ""};
    }

    auto doc = parse(cur.bytes, file, &error);
    if (!doc)
        return failed(error);
    if (auto e = check_shape(*doc, spec(o.agent), file))
        return failed(*e);
    std::string changes = edit(*doc, o, install);
    if (changes.empty() && cur.exists) {
        result.message = shown + (install ? ": bulkhead hooks already installed" : ": no bulkhead hooks to remove");
        return InstallOutcome{result, ""};
    }
    const std::string text = doc->dump(2) + "\n";

    uid_t uid = cur.st.st_uid;
    gid_t gid = cur.st.st_gid;
    mode_t mode = cur.st.st_mode & 07777;
    if (!cur.exists) {
        owner_for_new(dir.get(), &uid, &gid);
        mode = o.scope == Scope::kUser ? 0600 : 0644;
    }
    std::string backup_name;
    auto drop_backup = [&] {
        if (!backup_name.empty())
            ::unlinkat(dir.get(), backup_name.c_str(), 0);
    };
    if (cur.exists) {
        // The bytes we parsed, with the file's mode and owner: the backup of a
        // 0600 file must not be more readable than the file.
        std::string prefix = name + ".bulkhead-backup." + std::to_string(std::time(nullptr));
        backup_name = create_unique(dir.get(), prefix, cur.bytes, uid, gid, mode, (dir_path / prefix).string(),
                                    &error);
        if (backup_name.empty())
            return failed(error);
        result.backup = (dir_path / backup_name).string();
    }

    struct timespec now {};
    ::clock_gettime(CLOCK_REALTIME, &now);
    static std::atomic<unsigned> counter{0};
    std::string tmp_prefix = "." + name + ".bulkhead-" + std::to_string(::getpid()) + "." +
                             std::to_string(now.tv_nsec) + "." + std::to_string(counter++);
    std::string tmp =
        create_unique(dir.get(), tmp_prefix, text, uid, gid, mode, file + " (its temporary copy)", &error);
    if (tmp.empty()) {
        drop_backup();
        return failed(error);
    }
    if (!unchanged_since_read(dir.get(), name, cur)) {
        ::unlinkat(dir.get(), tmp.c_str(), 0);
        drop_backup();
        return failed(fail(file, "changed while install-hooks was editing it; nothing written, run it again"));
    }
    if (::renameat(dir.get(), tmp.c_str(), dir.get(), name.c_str()) != 0) {
        int err = errno;
        ::unlinkat(dir.get(), tmp.c_str(), 0);
        drop_backup();
        return failed(fail_errno(file, "cannot replace", err));
    }
    // Best effort: the rename is durable once the directory is synced.
    Fd sync_dir(::openat(dir.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (sync_dir.valid())
        ::fsync(sync_dir.get());

    result.changed = true;
    result.message = shown + ": " + (cur.exists ? "" : "created; ") + changes;
    if (!result.backup.empty())
        result.message += " (backup: " + result.backup + ")";
    return InstallOutcome{result, ""};
}

InstallOutcome run_guarded(const InstallOptions& o, bool install) {
    try {
        return run(o, install);
    } catch (const std::exception& e) {
        return failed(std::string("install-hooks: ") + e.what());
    } catch (...) {
        return failed("install-hooks: unexpected error");
    }
}

}  // namespace

std::optional<Agent> agent_from_name(std::string_view name) {
    if (name == "claude-code")
        return Agent::kClaudeCode;
    if (name == "codex")
        return Agent::kCodex;
    if (name == "gemini")
        return Agent::kGemini;
    return std::nullopt;
}

std::string_view agent_name(Agent agent) {
    switch (agent) {
    case Agent::kCodex: return "codex";
    case Agent::kGemini: return "gemini";
    case Agent::kClaudeCode: break;
    }
    return "claude-code";
}

std::optional<Scope> scope_from_name(std::string_view name) {
    if (name == "user")
        return Scope::kUser;
    if (name == "project")
        return Scope::kProject;
    if (name == "managed")
        return Scope::kManaged;
    return std::nullopt;
}

std::string_view scope_name(Scope scope) {
    switch (scope) {
    case Scope::kProject: return "project";
    case Scope::kManaged: return "managed";
    case Scope::kUser: break;
    }
    return "user";
}

InstallOutcome install_hooks(const InstallOptions& options) {
    return run_guarded(options, /* install = */ true);
}

InstallOutcome uninstall_hooks(const InstallOptions& options) {
    return run_guarded(options, /* install = */ false);
}

std::string settings_path(const InstallOptions& options) {
    try {
        std::string error;
        auto loc = locate(options, &error);
        return loc ? loc->file.string() : "";
    } catch (...) {
        return "";
    }
}

}  // namespace bulkhead::hooks
