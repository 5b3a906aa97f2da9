// SPDX-License-Identifier: Apache-2.0
// ask: a human holds the syscall.
//
// The broker puts inode marks for FAN_OPEN_PERM and FAN_OPEN_EXEC_PERM on the
// objects a rule with `action: ask` protects. The kernel then pauses every
// open and exec of those objects, by any path or hard link, until the broker
// writes an answer. The broker lets processes outside agent sessions through
// at once (the daemon included), applies a session's standing decisions, and
// holds the rest as PendingAsks until decide() or their deadline, which
// denies. A denied open or execve fails with EPERM.
//
// Fail-closed rules, and the one the kernel imposes:
// - past Options::max_pending held requests, new ones are denied at once;
// - deny_all() and the destructor answer every held request with DENY;
// - the kernel answers ALLOW to whatever is still held when the fanotify
//   group is released without an answer (a daemon killed with SIGKILL), so
//   the broker must be stopped through its destructor, never abandoned.
//
// Not thread-safe: the daemon calls everything from its event loop. That loop
// must never open a watched object itself: the kernel would hold it waiting
// for the very thread that answers.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "fd.h"
#include "rules/result.h"

namespace bulkhead::ask {

enum class Op { kOpen, kExec };
enum class Decision { kAllow, kDeny };
enum class Scope { kOnce, kSession };
// How an answer came about.
enum class Via {
    kHuman,     // decide()
    kTimeout,   // expire(): nobody answered before the deadline
    kStanding,  // an earlier "for the rest of this session" decision
    kOverflow,  // more than Options::max_pending held: denied at once
    kEnded,     // deny_all(), forget_session(), or the broker stopping
};

const char* to_string(Op op);          // "open", "exec"
const char* to_string(Decision d);     // "allow", "deny"
const char* to_string(Scope s);        // "once", "session"
const char* to_string(Via v);          // "human", "timeout", ...

// What the daemon knows about a session process. `id` is session::Session::id.
struct SessionInfo {
    uint64_t id = 0;
};

// Who answered, for the audit trail.
struct DecidedBy {
    uint32_t uid = 0;
    int32_t pid = 0;
    std::string name;
};

struct PendingAsk {
    std::string id;  // "a7": unique for the broker's lifetime
    uint64_t session_id = 0;
    pid_t pid = 0;     // thread group id of the process held
    std::string exe;   // /proc/PID/exe; for an exec, the program doing the exec
    std::string comm;  // /proc/PID/comm
    std::string path;  // the object as the held process reached it
    dev_t dev = 0;     // the object (st_dev, st_ino)
    ino_t ino = 0;
    std::string rule;
    std::string label;  // the caller's label for the watched object
    Op op = Op::kOpen;
    std::chrono::steady_clock::time_point created;
    std::chrono::steady_clock::time_point deadline;
    int64_t created_unix_ns = 0;  // for humans and exported events
};

struct Outcome {
    Decision decision = Decision::kDeny;
    Scope scope = Scope::kOnce;
    Via via = Via::kHuman;
    // "allowed once by alice (uid 1000, pid 4242)", "timeout after 60 s", ...
    std::string reason;
    std::optional<DecidedBy> decided_by;  // set for kHuman and kStanding
};

struct Options {
    std::chrono::seconds timeout{60};
    // Held requests each keep a task asleep and an fd open in the daemon;
    // past this bound new ones are denied at once and counted. The daemon's
    // RLIMIT_NOFILE must leave room for this many fds: when the kernel cannot
    // install the event fd it denies the request itself (counted as a read
    // error).
    size_t max_pending = 1024;
    // After an exec is allowed once, the kernel also asks FAN_OPEN_PERM for
    // the same file, and a script's interpreter opens it again: the process
    // allowed to run a program may open that program without a second ask.
    // Bounds the table of such grants (evicting one only means asking again).
    size_t max_exec_grants = 4096;
};

struct Callbacks {
    // The session a process belongs to; nullopt for everything else, which
    // the broker lets through at once. Required.
    std::function<std::optional<SessionInfo>(pid_t)> session_of;
    // A request is held and waits for decide(). Optional.
    std::function<void(const PendingAsk&)> on_pending;
    // Every answer given for a session process: a human's, a timeout, a
    // standing decision, an overflow or the end. Optional.
    std::function<void(const PendingAsk&, const Outcome&)> on_decided;
};

struct Stats {
    uint64_t events = 0;         // permission events read
    uint64_t not_session = 0;    // allowed at once: not a session process
    uint64_t unwatched = 0;      // allowed at once: object no longer watched
    uint64_t asked = 0;          // held for a decision
    uint64_t allowed = 0;        // answered ALLOW for a session process
    uint64_t denied = 0;         // answered DENY for a session process
    uint64_t timed_out = 0;      // of `denied`, by the deadline
    uint64_t standing = 0;       // answered by a standing session decision
    uint64_t overflow = 0;       // denied at once past max_pending
    uint64_t exec_follow = 0;    // opens allowed by an earlier exec grant
    uint64_t read_errors = 0;    // events the kernel denied for us (EMFILE, ...)
    uint64_t response_errors = 0;  // answers the kernel refused
};

class AskBroker {
public:
    using Clock = std::chrono::steady_clock;

    // Creates the fanotify group. Throws FatalError when the kernel has no
    // fanotify permission events or the caller lacks CAP_SYS_ADMIN.
    AskBroker(Options options, Callbacks callbacks);
    // Stops new events, then denies everything queued or held (no callbacks).
    ~AskBroker();
    AskBroker(const AskBroker&) = delete;
    AskBroker& operator=(const AskBroker&) = delete;

    // Whether this kernel and this process can hold opens and execs; the
    // error names the cause. For `bulkhead doctor` and for tests that skip.
    static rules::Result<void> probe();

    // Holds opens and execs of the regular file at `path` (symlinks followed)
    // for `rule`. Watching an object again for the same rule updates its
    // label; for another rule it is an error naming both.
    rules::Result<void> watch(const std::string& path, const std::string& rule,
                              const std::string& label);
    // Makes `targets` the watched set for a policy reload: marks what is
    // new first, then forgets what the policy no longer names, so an object
    // both policies ask for is held throughout. A forgotten object's mark
    // stays until clear_watches(); its opens pass at once. Returns one
    // message per target that could not be watched (the others are).
    struct Target {
        std::string path, rule, label;
    };
    std::vector<std::string> replace_watches(const std::vector<Target>& targets);
    // Stops holding the object `path` resolves to now.
    rules::Result<void> unwatch(const std::string& path);
    // Stops holding every object (policy reload: clear, then watch again).
    void clear_watches();
    size_t watched_count() const { return watched_.size(); }

    // For the caller's epoll loop (level-triggered; EPOLLIN).
    int fd() const { return fan_.get(); }
    // Reads and answers or holds what the kernel has queued. Never blocks.
    void on_readable();

    // Answers a held request. Scope kSession also answers, from now on,
    // every request of that session for the same rule and object, including
    // the ones held now.
    rules::Result<void> decide(const std::string& id, Decision decision, Scope scope,
                               const DecidedBy& by);
    // Denies every request whose deadline has passed.
    void expire(Clock::time_point now = Clock::now());
    // The earliest deadline, to arm the caller's timerfd; nullopt when
    // nothing is held.
    std::optional<Clock::time_point> next_deadline() const;
    // Held requests, oldest first.
    std::vector<PendingAsk> pending() const;
    // Drops a session's standing decisions and exec grants, and denies what
    // it still has held.
    void forget_session(uint64_t session_id);
    // Denies every held request (Via::kEnded) with `reason`.
    void deny_all(const std::string& reason);

    const Stats& stats() const { return stats_; }
    const Options& options() const { return options_; }

private:
    struct ObjectKey {
        dev_t dev = 0;
        ino_t ino = 0;
        bool operator<(const ObjectKey& o) const {
            return std::tie(dev, ino) < std::tie(o.dev, o.ino);
        }
    };
    struct Watched {
        std::string path;
        std::string rule;
        std::string label;
    };
    struct Held {
        PendingAsk ask;
        Fd event_fd;
        ObjectKey object;
        uint64_t start_time = 0;  // of the held process, for exec grants
    };
    struct Standing {
        Decision decision = Decision::kDeny;
        DecidedBy by;
    };
    // (session, rule, dev, ino)
    using StandingKey = std::tuple<uint64_t, std::string, dev_t, ino_t>;
    // (pid, process start time, dev, ino); the start time keeps a grant from
    // passing to a process that reuses the pid.
    using GrantKey = std::tuple<pid_t, uint64_t, dev_t, ino_t>;

    void handle_event(pid_t pid, uint64_t mask, Fd event_fd);
    bool respond(int event_fd, Decision decision);
    void finish(Held held, const Outcome& outcome);
    void answer_held_standing(const StandingKey& key);
    void add_exec_grant(const Held& held);
    std::map<uint64_t, Held>::iterator find(const std::string& id);

    Options options_;
    Callbacks callbacks_;
    Fd fan_;
    pid_t self_pid_ = 0;
    uint64_t next_id_ = 1;
    std::map<ObjectKey, Watched> watched_;
    std::map<uint64_t, Held> held_;  // by the number in the id, so oldest first
    std::map<StandingKey, Standing> standing_;
    std::map<GrantKey, uint64_t> exec_grants_;  // → session id
    Stats stats_;
};

}  // namespace bulkhead::ask
