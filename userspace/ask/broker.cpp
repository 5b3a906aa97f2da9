// SPDX-License-Identifier: Apache-2.0
#include "ask/broker.h"

#include <fcntl.h>
#include <sys/fanotify.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>

#include <spdlog/spdlog.h>

#include "error.h"

namespace bulkhead::ask {

namespace {

constexpr uint64_t kPermMask = FAN_OPEN_PERM | FAN_OPEN_EXEC_PERM;

// Reads per on_readable() call, so one flood cannot starve the caller's loop
// (the fd stays readable and epoll calls again).
constexpr int kMaxReadsPerCall = 64;

rules::Error error(std::string message) {
    return rules::Error{{}, std::move(message)};
}

std::string strerr(const std::string& what, int err) {
    return what + ": " + std::strerror(err);
}

std::string read_link(const std::string& path) {
    char buf[4096];
    ssize_t n = ::readlink(path.c_str(), buf, sizeof(buf) - 1);
    if (n < 0) return "";
    return std::string(buf, static_cast<size_t>(n));
}

std::string read_comm(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/comm");
    std::string comm;
    std::getline(in, comm);
    return comm;
}

// Field 22 of /proc/PID/stat (starttime, in clock ticks since boot); 0 when
// the process is gone. comm (field 2) may hold spaces and parentheses, so
// count from the last ')'.
uint64_t start_time_of(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(in, line)) return 0;
    size_t close = line.rfind(')');
    if (close == std::string::npos) return 0;
    std::istringstream fields(line.substr(close + 1));
    std::string field;
    for (int i = 3; i <= 22; ++i) {
        if (!(fields >> field)) return 0;
    }
    uint64_t value = 0;
    std::from_chars(field.data(), field.data() + field.size(), value);
    return value;
}

int64_t unix_now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::string describe(const DecidedBy& by) {
    return (by.name.empty() ? std::string("uid ") + std::to_string(by.uid) : by.name) +
           " (uid " + std::to_string(by.uid) + ", pid " + std::to_string(by.pid) + ")";
}

const char* past_tense(Decision d) { return d == Decision::kAllow ? "allowed" : "denied"; }

}  // namespace

const char* to_string(Op op) { return op == Op::kExec ? "exec" : "open"; }
const char* to_string(Decision d) { return d == Decision::kAllow ? "allow" : "deny"; }
const char* to_string(Scope s) { return s == Scope::kSession ? "session" : "once"; }
const char* to_string(Via v) {
    switch (v) {
        case Via::kHuman: return "human";
        case Via::kTimeout: return "timeout";
        case Via::kStanding: return "standing";
        case Via::kOverflow: return "overflow";
        case Via::kEnded: return "ended";
    }
    return "unknown";
}

rules::Result<void> AskBroker::probe() {
    // FAN_CLASS_CONTENT needs CAP_SYS_ADMIN; permission marks need
    // CONFIG_FANOTIFY_ACCESS_PERMISSIONS. A memfd is the probe's object:
    // nobody else can open it, so the probe never holds anyone.
    Fd group(::fanotify_init(FAN_CLASS_CONTENT | FAN_CLOEXEC | FAN_NONBLOCK,
                             O_RDONLY | O_LARGEFILE | O_CLOEXEC));
    if (!group.valid()) {
        int err = errno;
        return error(strerr("ask: fanotify_init(FAN_CLASS_CONTENT) failed", err) +
                     (err == EPERM ? " (needs CAP_SYS_ADMIN)"
                                   : " (is CONFIG_FANOTIFY set?)"));
    }
    Fd object(::memfd_create("bulkhead-ask-probe", MFD_CLOEXEC));
    if (!object.valid()) return error(strerr("ask: probe: memfd_create failed", errno));
    if (::fanotify_mark(group.get(), FAN_MARK_ADD, kPermMask, object.get(), nullptr) != 0) {
        int err = errno;
        return error(strerr("ask: fanotify permission marks are unavailable", err) +
                     (err == EINVAL ? " (is CONFIG_FANOTIFY_ACCESS_PERMISSIONS set? "
                                      "FAN_OPEN_EXEC_PERM needs Linux 5.0)"
                                    : ""));
    }
    return {};
}

AskBroker::AskBroker(Options options, Callbacks callbacks)
    : options_(std::move(options)), callbacks_(std::move(callbacks)), self_pid_(::getpid()) {
    if (!callbacks_.session_of) throw FatalError("ask: the broker needs a session_of callback");
    if (options_.timeout.count() <= 0)
        throw FatalError("ask: the timeout must be positive, got " +
                         std::to_string(options_.timeout.count()) + " s");
    // FAN_UNLIMITED_QUEUE: on a full queue the kernel drops a permission
    // event and lets the access through. Every queued permission event holds
    // a sleeping task, so the queue is bounded by the tasks that can block.
    // O_CLOEXEC on event fds: processes the daemon spawns never inherit them.
    fan_ = Fd(::fanotify_init(FAN_CLASS_CONTENT | FAN_CLOEXEC | FAN_NONBLOCK | FAN_UNLIMITED_QUEUE,
                              O_RDONLY | O_LARGEFILE | O_CLOEXEC));
    if (!fan_.valid()) {
        int err = errno;
        throw FatalError(strerr("ask: fanotify_init(FAN_CLASS_CONTENT) failed", err) +
                         (err == EPERM ? " (needs CAP_SYS_ADMIN)" : ""));
    }
    spdlog::info("ask: broker ready (timeout {} s, at most {} held)", options_.timeout.count(),
                 options_.max_pending);
}

AskBroker::~AskBroker() {
    if (!fan_.valid()) return;
    // New opens pass from here on; events already queued and everything held
    // is denied. Released with an answer missing, the kernel would allow.
    ::fanotify_mark(fan_.get(), FAN_MARK_FLUSH, 0, AT_FDCWD, nullptr);
    size_t denied = 0;
    alignas(struct fanotify_event_metadata) char buf[4096];
    for (;;) {
        ssize_t len = ::read(fan_.get(), buf, sizeof(buf));
        if (len < 0 && errno == EINTR) continue;
        if (len <= 0) break;
        auto* m = reinterpret_cast<struct fanotify_event_metadata*>(buf);
        for (; FAN_EVENT_OK(m, len); m = FAN_EVENT_NEXT(m, len)) {
            if (m->fd < 0) continue;
            Fd event_fd(m->fd);
            if (m->mask & kPermMask) {
                respond(event_fd.get(), Decision::kDeny);
                ++denied;
            }
        }
    }
    for (auto& [number, held] : held_) {
        respond(held.event_fd.get(), Decision::kDeny);
        ++denied;
    }
    held_.clear();
    if (denied > 0) spdlog::warn("ask: broker stopped; denied {} request(s) still waiting", denied);
}

rules::Result<void> AskBroker::watch(const std::string& path, const std::string& rule,
                                     const std::string& label) {
    struct stat before {};
    if (::stat(path.c_str(), &before) != 0)
        return error(strerr("ask: cannot watch '" + path + "'", errno));
    if (!S_ISREG(before.st_mode))
        return error("ask: cannot watch '" + path +
                     "': not a regular file (ask holds opens and execs of files)");
    ObjectKey key{before.st_dev, before.st_ino};
    auto it = watched_.find(key);
    if (it != watched_.end()) {
        if (it->second.rule != rule)
            return error("ask: '" + path + "' is already asked for by rule '" + it->second.rule +
                         "'; rule '" + rule + "' cannot ask for it too");
        it->second.label = label;
        return {};
    }
    if (::fanotify_mark(fan_.get(), FAN_MARK_ADD, kPermMask, AT_FDCWD, path.c_str()) != 0) {
        int err = errno;
        return error(strerr("ask: cannot mark '" + path + "' for permission events", err) +
                     (err == EINVAL ? " (is CONFIG_FANOTIFY_ACCESS_PERMISSIONS set?)" : ""));
    }
    // The mark went on whatever `path` named at that instant; make sure that
    // is the object stat() saw, or the table would name the wrong inode.
    struct stat after {};
    if (::stat(path.c_str(), &after) != 0 || after.st_dev != before.st_dev ||
        after.st_ino != before.st_ino) {
        ::fanotify_mark(fan_.get(), FAN_MARK_REMOVE, kPermMask, AT_FDCWD, path.c_str());
        return error("ask: cannot watch '" + path + "': it was replaced while being marked");
    }
    watched_[key] = Watched{path, rule, label};
    spdlog::debug("ask: watching '{}' ({}:{}) for rule '{}'", path, before.st_dev, before.st_ino,
                  rule);
    return {};
}

std::vector<std::string> AskBroker::replace_watches(const std::vector<Target>& targets) {
    std::vector<std::string> errors;
    std::map<ObjectKey, Watched> next;
    for (const auto& t : targets) {
        struct stat st {};
        if (::stat(t.path.c_str(), &st) != 0) {
            errors.push_back(strerr("ask: cannot watch '" + t.path + "'", errno));
            continue;
        }
        ObjectKey key{st.st_dev, st.st_ino};
        if (auto n = next.find(key); n != next.end()) {
            if (n->second.rule != t.rule)
                errors.push_back("ask: '" + t.path + "' is asked for by rules '" + n->second.rule + "' and '" +
                                 t.rule + "'; one object can have one ask rule");
            continue;
        }
        if (auto old = watched_.find(key); old != watched_.end()) {
            next[key] = Watched{t.path, t.rule, t.label};  // already marked
            continue;
        }
        // watch() marks and checks the object; park the entry in `next`.
        if (auto r = watch(t.path, t.rule, t.label); !r) {
            errors.push_back(r.error().message);
            continue;
        }
        next[key] = watched_[key];
    }
    watched_ = std::move(next);
    return errors;
}

rules::Result<void> AskBroker::unwatch(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0)
        return error(strerr("ask: cannot unwatch '" + path + "'", errno));
    auto it = watched_.find(ObjectKey{st.st_dev, st.st_ino});
    if (it == watched_.end()) return error("ask: '" + path + "' is not watched");
    if (::fanotify_mark(fan_.get(), FAN_MARK_REMOVE, kPermMask, AT_FDCWD, path.c_str()) != 0 &&
        errno != ENOENT)
        return error(strerr("ask: cannot remove the mark on '" + path + "'", errno));
    watched_.erase(it);
    return {};
}

void AskBroker::clear_watches() {
    // FAN_MARK_FLUSH without MOUNT or FILESYSTEM removes every inode mark.
    if (::fanotify_mark(fan_.get(), FAN_MARK_FLUSH, 0, AT_FDCWD, nullptr) != 0)
        spdlog::error("ask: {}", strerr("cannot flush marks", errno));
    watched_.clear();
}

void AskBroker::on_readable() {
    alignas(struct fanotify_event_metadata) char buf[8192];
    for (int reads = 0; reads < kMaxReadsPerCall; ++reads) {
        ssize_t len = ::read(fan_.get(), buf, sizeof(buf));
        if (len < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) return;
            // The kernel could not install an event fd (EMFILE, ENFILE, ...):
            // it has denied that request itself and dequeued it.
            ++stats_.read_errors;
            spdlog::warn("ask: {} (the kernel denied that request)",
                         strerr("cannot read a permission event", errno));
            continue;
        }
        if (len == 0) return;
        auto* m = reinterpret_cast<struct fanotify_event_metadata*>(buf);
        for (; FAN_EVENT_OK(m, len); m = FAN_EVENT_NEXT(m, len)) {
            if (m->vers != FANOTIFY_METADATA_VERSION) {
                // Unparseable: its fd stays open and the kernel keeps the
                // process held until the group is gone. Never seen since 2.6.37.
                spdlog::error("ask: fanotify metadata version {} (expected {}); event ignored",
                              m->vers, FANOTIFY_METADATA_VERSION);
                continue;
            }
            if (m->mask & FAN_Q_OVERFLOW) {
                ++stats_.read_errors;
                spdlog::error("ask: fanotify queue overflow");
                continue;
            }
            if (m->fd < 0) continue;
            Fd event_fd(m->fd);
            if (!(m->mask & kPermMask)) continue;
            ++stats_.events;
            handle_event(m->pid, m->mask, std::move(event_fd));
        }
    }
}

void AskBroker::handle_event(pid_t pid, uint64_t mask, Fd event_fd) {
    if (pid == self_pid_) {
        ++stats_.not_session;
        respond(event_fd.get(), Decision::kAllow);
        return;
    }
    std::optional<SessionInfo> session = callbacks_.session_of(pid);
    if (!session) {
        ++stats_.not_session;
        respond(event_fd.get(), Decision::kAllow);
        return;
    }

    struct stat st {};
    if (::fstat(event_fd.get(), &st) != 0) {
        // A session process and an object we cannot name: fail closed.
        ++stats_.denied;
        respond(event_fd.get(), Decision::kDeny);
        spdlog::warn("ask: {}; denied pid {}", strerr("cannot stat a held object", errno), pid);
        return;
    }
    ObjectKey object{st.st_dev, st.st_ino};
    auto watched = watched_.find(object);
    if (watched == watched_.end()) {
        // A mark left on an object the policy no longer asks for.
        ++stats_.unwatched;
        respond(event_fd.get(), Decision::kAllow);
        return;
    }

    Held held;
    held.object = object;
    held.start_time = start_time_of(pid);
    PendingAsk& ask = held.ask;
    ask.id = "a" + std::to_string(next_id_);
    ask.session_id = session->id;
    ask.pid = pid;
    ask.exe = read_link("/proc/" + std::to_string(pid) + "/exe");
    ask.comm = read_comm(pid);
    ask.dev = st.st_dev;
    ask.ino = st.st_ino;
    ask.path = read_link("/proc/self/fd/" + std::to_string(event_fd.get()));
    if (ask.path.empty()) ask.path = watched->second.path;
    ask.rule = watched->second.rule;
    ask.label = watched->second.label;
    ask.op = (mask & FAN_OPEN_EXEC_PERM) ? Op::kExec : Op::kOpen;
    ask.created = Clock::now();
    ask.deadline = ask.created + options_.timeout;
    ask.created_unix_ns = unix_now_ns();
    held.event_fd = std::move(event_fd);

    StandingKey standing_key{ask.session_id, ask.rule, object.dev, object.ino};
    if (auto s = standing_.find(standing_key); s != standing_.end()) {
        ++next_id_;
        ++stats_.standing;
        Outcome outcome{s->second.decision, Scope::kSession, Via::kStanding,
                        std::string(past_tense(s->second.decision)) + " for this session by " +
                            describe(s->second.by),
                        s->second.by};
        finish(std::move(held), outcome);
        return;
    }

    if (ask.op == Op::kOpen && held.start_time != 0) {
        GrantKey grant{pid, held.start_time, object.dev, object.ino};
        if (exec_grants_.count(grant) != 0) {
            ++stats_.exec_follow;
            respond(held.event_fd.get(), Decision::kAllow);
            spdlog::debug("ask: pid {} opens '{}' it was allowed to exec", pid, ask.path);
            return;
        }
    }

    ++next_id_;
    if (held_.size() >= options_.max_pending) {
        ++stats_.overflow;
        spdlog::warn("ask: {} requests already held; denied {} of '{}' by pid {} at once",
                     held_.size(), to_string(ask.op), ask.path, pid);
        Outcome outcome{Decision::kDeny, Scope::kOnce, Via::kOverflow,
                        "too many requests held (" + std::to_string(options_.max_pending) +
                            "); denied at once",
                        std::nullopt};
        finish(std::move(held), outcome);
        return;
    }

    ++stats_.asked;
    spdlog::info("ask: {} holds {} of '{}' by pid {} ({}) in session {} for rule '{}'", ask.id,
                 to_string(ask.op), ask.path, pid, ask.comm, ask.session_id, ask.rule);
    uint64_t number = next_id_ - 1;
    PendingAsk copy = ask;
    held_.emplace(number, std::move(held));
    // After the insert: the callback may decide() at once.
    if (callbacks_.on_pending) callbacks_.on_pending(copy);
}

bool AskBroker::respond(int event_fd, Decision decision) {
    struct fanotify_response response {};
    response.fd = event_fd;
    response.response = decision == Decision::kAllow ? FAN_ALLOW : FAN_DENY;
    for (;;) {
        ssize_t n = ::write(fan_.get(), &response, sizeof(response));
        if (n == static_cast<ssize_t>(sizeof(response))) return true;
        if (n < 0 && errno == EINTR) continue;
        ++stats_.response_errors;
        spdlog::error("ask: {}", strerr(std::string("cannot answer ") + to_string(decision) +
                                            " to the kernel",
                                        n < 0 ? errno : EIO));
        return false;
    }
}

// Answers a request that is no longer in held_, records the outcome and
// tells the caller.
void AskBroker::finish(Held held, const Outcome& outcome) {
    respond(held.event_fd.get(), outcome.decision);
    held.event_fd.reset();
    if (outcome.decision == Decision::kAllow) {
        ++stats_.allowed;
        if (held.ask.op == Op::kExec) add_exec_grant(held);
    } else {
        ++stats_.denied;
        if (outcome.via == Via::kTimeout) ++stats_.timed_out;
    }
    spdlog::info("ask: {} {} {} of '{}' by pid {}: {}", held.ask.id, past_tense(outcome.decision),
                 to_string(held.ask.op), held.ask.path, held.ask.pid, outcome.reason);
    if (callbacks_.on_decided) callbacks_.on_decided(held.ask, outcome);
}

void AskBroker::add_exec_grant(const Held& held) {
    if (held.start_time == 0 || options_.max_exec_grants == 0) return;
    if (exec_grants_.size() >= options_.max_exec_grants) exec_grants_.erase(exec_grants_.begin());
    exec_grants_[GrantKey{held.ask.pid, held.start_time, held.object.dev, held.object.ino}] =
        held.ask.session_id;
}

std::map<uint64_t, AskBroker::Held>::iterator AskBroker::find(const std::string& id) {
    if (id.size() < 2 || id[0] != 'a') return held_.end();
    uint64_t number = 0;
    auto [end, ec] = std::from_chars(id.data() + 1, id.data() + id.size(), number);
    if (ec != std::errc() || end != id.data() + id.size()) return held_.end();
    return held_.find(number);
}

rules::Result<void> AskBroker::decide(const std::string& id, Decision decision, Scope scope,
                                      const DecidedBy& by) {
    auto it = find(id);
    if (it == held_.end())
        return error("ask: no pending request '" + id +
                     "' (it may have been decided or timed out)");
    Held held = std::move(it->second);
    held_.erase(it);
    uint64_t errors_before = stats_.response_errors;

    Outcome outcome{decision, scope, Via::kHuman,
                    std::string(past_tense(decision)) +
                        (scope == Scope::kSession ? " for this session" : " once") + " by " +
                        describe(by),
                    by};
    StandingKey key{held.ask.session_id, held.ask.rule, held.object.dev, held.object.ino};
    std::string path = held.ask.path;
    finish(std::move(held), outcome);
    if (scope == Scope::kSession) {
        standing_[key] = Standing{decision, by};
        answer_held_standing(key);
    }
    if (stats_.response_errors != errors_before)
        return error("ask: the kernel refused the answer to '" + id + "' for '" + path +
                     "' (the process may be gone)");
    return {};
}

// A standing decision also answers what that session has held for the same
// rule and object (several threads, or several processes, asking at once).
void AskBroker::answer_held_standing(const StandingKey& key) {
    const Standing standing = standing_.at(key);
    std::vector<uint64_t> numbers;
    for (const auto& [number, held] : held_) {
        if (StandingKey{held.ask.session_id, held.ask.rule, held.object.dev, held.object.ino} ==
            key)
            numbers.push_back(number);
    }
    for (uint64_t number : numbers) {
        auto it = held_.find(number);
        if (it == held_.end()) continue;  // a callback answered it meanwhile
        Held held = std::move(it->second);
        held_.erase(it);
        ++stats_.standing;
        finish(std::move(held),
               Outcome{standing.decision, Scope::kSession, Via::kStanding,
                       std::string(past_tense(standing.decision)) + " for this session by " +
                           describe(standing.by),
                       standing.by});
    }
}

void AskBroker::expire(Clock::time_point now) {
    std::vector<uint64_t> numbers;
    for (const auto& [number, held] : held_) {
        if (held.ask.deadline <= now) numbers.push_back(number);
    }
    for (uint64_t number : numbers) {
        auto it = held_.find(number);
        if (it == held_.end()) continue;
        Held held = std::move(it->second);
        held_.erase(it);
        finish(std::move(held),
               Outcome{Decision::kDeny, Scope::kOnce, Via::kTimeout,
                       "timeout after " + std::to_string(options_.timeout.count()) + " s",
                       std::nullopt});
    }
}

std::optional<AskBroker::Clock::time_point> AskBroker::next_deadline() const {
    std::optional<Clock::time_point> earliest;
    for (const auto& [number, held] : held_) {
        if (!earliest || held.ask.deadline < *earliest) earliest = held.ask.deadline;
    }
    return earliest;
}

std::vector<PendingAsk> AskBroker::pending() const {
    std::vector<PendingAsk> out;
    out.reserve(held_.size());
    for (const auto& [number, held] : held_) out.push_back(held.ask);
    return out;
}

void AskBroker::forget_session(uint64_t session_id) {
    for (auto it = standing_.begin(); it != standing_.end();) {
        it = std::get<0>(it->first) == session_id ? standing_.erase(it) : std::next(it);
    }
    for (auto it = exec_grants_.begin(); it != exec_grants_.end();) {
        it = it->second == session_id ? exec_grants_.erase(it) : std::next(it);
    }
    std::vector<uint64_t> numbers;
    for (const auto& [number, held] : held_) {
        if (held.ask.session_id == session_id) numbers.push_back(number);
    }
    for (uint64_t number : numbers) {
        auto it = held_.find(number);
        if (it == held_.end()) continue;
        Held held = std::move(it->second);
        held_.erase(it);
        finish(std::move(held), Outcome{Decision::kDeny, Scope::kOnce, Via::kEnded,
                                        "session ended", std::nullopt});
    }
}

void AskBroker::deny_all(const std::string& reason) {
    while (!held_.empty()) {
        Held held = std::move(held_.begin()->second);
        held_.erase(held_.begin());
        finish(std::move(held),
               Outcome{Decision::kDeny, Scope::kOnce, Via::kEnded, reason, std::nullopt});
    }
}

}  // namespace bulkhead::ask
