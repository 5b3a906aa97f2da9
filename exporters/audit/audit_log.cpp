// SPDX-License-Identifier: Apache-2.0
#include "exporters/audit/audit_log.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>

#include "exporters/audit/verify.h"
#include "exporters/factory.h"
#include "exporters/falco_json.h"

namespace bulkhead::exporters::audit {

namespace {

constexpr const char* kCheckpointKind = "audit-checkpoint";

std::string sys_error(const std::string& what, int err) {
    return "audit: " + what + ": " + std::strerror(err);
}

int64_t now_unix_ns() {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

}  // namespace

// What the end of the log says: where the chain stands, and a torn line.
struct AuditLog::Tail {
    uint64_t seq = 0;
    Hash head{};
    struct Torn {
        uint64_t offset = 0;
        std::string bytes;
    };
    std::optional<Torn> torn;
    std::string bad;  // why the last record cannot be continued, "" if it can
};

std::optional<FsyncPolicy> parse_fsync_policy(std::string_view text) {
    if (text == "batch") return FsyncPolicy::batch;
    if (text == "always") return FsyncPolicy::always;
    if (text == "never") return FsyncPolicy::never;
    return std::nullopt;
}

AuditLog::AuditLog(AuditConfig config) : config_(std::move(config)) {
    if (config_.public_key.empty())
        config_.public_key = default_public_key_path(config_.path);
    if (config_.hostname.empty())
        config_.hostname = default_hostname();
    if (config_.queue_size == 0)
        config_.queue_size = 1;
    // The first checkpoint is due as soon as the head moves.
    last_checkpoint_time_ = std::chrono::steady_clock::now() - config_.checkpoint_interval;
}

Result<std::unique_ptr<AuditLog>> AuditLog::open(AuditConfig config) {
    std::unique_ptr<AuditLog> log(new AuditLog(std::move(config)));
    if (auto r = log->start(); !r)
        return Error{r.error()};
    return log;
}

AuditLog::~AuditLog() { close(); }

Result<AuditLog::Tail> AuditLog::read_tail() {
    Tail tail;
    struct stat st {};
    if (::fstat(fd_, &st) != 0)
        return Error{sys_error("cannot stat " + config_.path, errno)};
    uint64_t size = static_cast<uint64_t>(st.st_size);
    if (size == 0)
        return tail;
    // The last complete record and a torn one after it both fit in this.
    uint64_t chunk = std::min<uint64_t>(size, 2 * (kMaxRecordBytes + 1));
    std::string buf(chunk, '\0');
    ssize_t n = ::pread(fd_, buf.data(), chunk, static_cast<off_t>(size - chunk));
    if (n != static_cast<ssize_t>(chunk))
        return Error{sys_error("cannot read the tail of " + config_.path, n < 0 ? errno : EIO)};
    std::string_view d(buf);
    uint64_t base = size - chunk;

    size_t end = d.size();  // one past the last complete line's '\n'
    if (d.back() != '\n') {
        size_t nl = d.rfind('\n');
        if (nl == std::string_view::npos && chunk < size) {
            tail.bad = "the last line is longer than " + std::to_string(kMaxRecordBytes) + " bytes";
            return tail;
        }
        end = nl == std::string_view::npos ? 0 : nl + 1;
        tail.torn = Tail::Torn{base + end, std::string(d.substr(end))};
    }
    if (end == 0) {
        if (base == 0)
            return tail;  // nothing but a torn first line
        tail.bad = "the last line is longer than " + std::to_string(kMaxRecordBytes) + " bytes";
        return tail;
    }
    std::string_view complete = d.substr(0, end - 1);
    size_t start = complete.rfind('\n');
    std::string_view last = start == std::string_view::npos ? complete : complete.substr(start + 1);
    if (start == std::string_view::npos && base != 0) {
        tail.bad = "the last record is longer than " + std::to_string(kMaxRecordBytes) + " bytes";
        return tail;
    }
    RecordError kind;
    std::string why;
    auto rec = parse_record(last, keys_.pub, &kind, &why);
    if (!rec) {
        tail.bad = "the last record (at byte " + std::to_string(base + (end - 1 - last.size())) +
                   ") cannot be continued: " + why;
        return tail;
    }
    tail.seq = rec->seq;
    tail.head = sha256(last);
    return tail;
}

std::string AuditLog::make_line(const std::string& type, nlohmann::json fields) {
    fields["seq"] = seq_ + 1;
    fields["prev"] = to_hex(head_);
    fields["key"] = key_id_;
    fields["type"] = type;
    fields["time"] = events::rfc3339_ns(now_unix_ns());
    fields["v"] = kFormatVersion;
    std::string line = sign_line(fields, keys_.secret);
    if (line.size() > kMaxRecordBytes && fields.contains("event")) {
        // Keep the record (the chain must not skip an event) but not the bulk.
        const auto& ev = fields["event"];
        fields["event"] = nlohmann::json{{"truncated", true},
                                         {"bytes", line.size()},
                                         {"rule", ev.value("rule", "")},
                                         {"time", ev.value("time", "")},
                                         {"priority", ev.value("priority", "")}};
        line = sign_line(fields, keys_.secret);
    }
    seq_++;
    head_ = sha256(line);
    return line;
}

bool AuditLog::write_all(const std::string& data) {
    size_t off = 0;
    while (off < data.size()) {
        ssize_t n = ::write(fd_, data.data() + off, data.size() - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        off += static_cast<size_t>(n);
    }
    if (config_.fsync != FsyncPolicy::never && ::fdatasync(fd_) != 0)
        return false;
    return true;
}

Result<void> AuditLog::append_start_record(const Tail& tail, nlohmann::json fields) {
    seq_ = tail.seq;
    head_ = tail.head;
    fields["writer"] = {{"pid", ::getpid()}, {"host", config_.hostname}};
    std::string data;
    std::string type = "start";
    if (tail.torn) {
        // Keep the torn bytes as evidence: end their line, then sign a record
        // that names them so verify can tell a crash from an attack.
        type = "recover";
        fields["torn"] = {{"offset", tail.torn->offset},
                          {"bytes", tail.torn->bytes.size()},
                          {"sha256", to_hex(sha256(tail.torn->bytes))}};
        data = "\n";
    }
    data += make_line(type, std::move(fields)) + "\n";
    if (!write_all(data))
        return Error{sys_error("cannot append to " + config_.path, errno)};
    if (config_.fsync == FsyncPolicy::never)
        ::fdatasync(fd_);  // the start record anchors the chain: always sync it
    std::lock_guard lock(mu_);
    synced_ = {seq_, to_hex(head_)};
    return {};
}

Result<void> AuditLog::start() {
    auto kp = load_or_create_key(config_.secret_key);
    if (!kp)
        return Error{kp.error()};
    keys_ = *kp;
    key_id_ = audit::key_id(keys_.pub);

    namespace fs = std::filesystem;
    for (const auto& file : {config_.path, config_.public_key}) {
        std::error_code ec;
        fs::path dir = fs::path(file).parent_path();
        if (!dir.empty() && !fs::exists(dir, ec)) {
            fs::create_directories(dir, ec);
            if (ec)
                return Error{"audit: cannot create " + dir.string() + ": " + ec.message()};
            ::chmod(dir.c_str(), 0755);  // the public key is for everyone
        }
    }
    if (auto w = write_public_key(config_.public_key, keys_.pub); !w)
        return w;

    nlohmann::json previous;
    for (int attempt = 0; attempt < 2; attempt++) {
        fd_ = ::open(config_.path.c_str(), O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
        if (fd_ < 0)
            return Error{sys_error("cannot open " + config_.path, errno)};
        if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
            int err = errno;
            ::close(fd_);
            fd_ = -1;
            return Error{err == EWOULDBLOCK
                             ? "audit: " + config_.path + " is locked by another writer (is another bulkhead daemon running?)"
                             : sys_error("cannot lock " + config_.path, err)};
        }
        auto tail = read_tail();
        if (!tail)
            return Error{tail.error()};
        if (tail->bad.empty()) {
            nlohmann::json extra = nlohmann::json::object();
            if (!previous.is_null())
                extra["previous"] = previous;
            if (auto r = append_start_record(*tail, extra); !r)
                return r;
            writer_ = std::thread([this] { run(); });
            return {};
        }
        if (config_.on_bad_tail == BadTailPolicy::fail || attempt > 0)
            return Error{"audit: " + config_.path + ": " + tail->bad +
                         "; it was altered or written with another key. Run `bulkhead audit verify " +
                         config_.path + "`, then move it aside to start a new chain (or set on_bad_tail: rotate)"};
        std::string aside = config_.path + ".broken-" + std::to_string(now_unix_ns() / 1000000000);
        if (::rename(config_.path.c_str(), aside.c_str()) != 0)
            return Error{sys_error("cannot move " + config_.path + " aside", errno)};
        ::close(fd_);
        fd_ = -1;
        previous = {{"file", aside}, {"reason", tail->bad}};
    }
    return Error{"audit: unreachable"};
}

void AuditLog::publish(const events::Event& event) {
    std::lock_guard lock(mu_);
    stats_.published++;
    // Our own head comes back when the daemon forwards it to every sink.
    if (event.kind == kCheckpointKind || !config_.filter.accepts(event)) {
        stats_.filtered++;
        return;
    }
    if (closed_ || queue_.size() >= config_.queue_size) {
        stats_.dropped++;
        lost_++;
        enqueued_++;
        done_++;
        wake_.notify_one();
        return;
    }
    queue_.push_back(Item{event});
    enqueued_++;
    stats_.queue_depth = queue_.size();
    // The writer takes the whole queue each time: it only sleeps when the
    // queue is empty, so only the first event needs to wake it.
    if (queue_.size() == 1)
        wake_.notify_one();
}

void AuditLog::run() {
    std::deque<Item> batch;
    while (true) {
        uint64_t lost = 0;
        {
            std::unique_lock lock(mu_);
            wake_.wait(lock, [&] { return !queue_.empty() || lost_ || stopping_; });
            if (queue_.empty() && !lost_ && stopping_)
                break;
            batch.swap(queue_);
            lost = lost_;
            lost_ = 0;
            stats_.queue_depth = 0;
        }
        write_batch(batch, lost);
        batch.clear();
    }
    nlohmann::json fields{{"written", seq_}};
    std::string line = make_line("stop", std::move(fields)) + "\n";
    if (write_all(line)) {
        ::fdatasync(fd_);
        std::lock_guard lock(mu_);
        synced_ = {seq_, to_hex(head_)};
    }
}

// Writes `lost` (a "lost" record) and `batch`, retrying after errors: a
// write that failed midway is resynced from the file so the chain never
// forks and no event is written twice.
void AuditLog::write_batch(std::deque<Item>& batch, uint64_t lost) {
    size_t next = 0;  // first item not yet written
    auto backoff = std::chrono::milliseconds(100);
    auto wait = [&] {
        std::unique_lock lock(mu_);
        wake_.wait_for(lock, backoff, [&] { return stopping_.load(); });
        backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
    };
    auto give_up = [&] {
        // Shutting down and the disk still fails: count, never hang.
        std::lock_guard lock(mu_);
        stats_.dropped += batch.size() - next;
        done_ += batch.size() - next;
        written_.notify_all();
    };
    for (int failures = 0;; failures++) {
        uint64_t base = seq_;
        std::vector<std::string> lines;
        if (lost)
            lines.push_back(make_line("lost", {{"count", lost}}) + "\n");
        for (size_t i = next; i < batch.size(); i++) {
            const auto& e = batch[i].event;
            lines.push_back(make_line("event", {{"kind", e.kind},
                                                {"event", falco_json(e, config_.hostname)}}) + "\n");
        }
        bool ok = true;
        if (config_.fsync == FsyncPolicy::always) {
            for (const auto& l : lines)
                if (!(ok = write_all(l)))
                    break;
        } else {
            std::string data;
            for (const auto& l : lines)
                data += l;
            ok = write_all(data);
        }
        if (ok) {
            std::lock_guard lock(mu_);
            synced_ = {seq_, to_hex(head_)};
            stats_.delivered += batch.size() - next;
            done_ += batch.size() - next;
            written_.notify_all();
            return;
        }

        std::string cause = std::strerror(errno);
        {
            std::lock_guard lock(mu_);
            stats_.send_errors++;
        }
        while (!recover_after_error(cause)) {
            if (stopping_)
                return give_up();
            wait();
        }
        // Records up to the file's tail made it (the recovery record is
        // the last one); do not write their events again.
        uint64_t made = std::min<uint64_t>(seq_ - base - 1, lines.size());
        if (lost && made > 0)
            lost = 0, made--;
        size_t items = std::min<size_t>(made, batch.size() - next);
        {
            std::lock_guard lock(mu_);
            stats_.delivered += items;
            done_ += items;
        }
        next += items;
        if (stopping_ && failures > 3)
            return give_up();
        wait();
    }
}

// After a failed write: reread the tail, continue from the last complete
// record (acknowledging a torn one). False when the tail is unusable.
bool AuditLog::recover_after_error(const std::string& cause) {
    auto tail = read_tail();
    if (!tail || !tail->bad.empty())
        return false;
    return append_start_record(*tail, {{"after_error", cause}}).ok();
}

void AuditLog::flush() {
    std::unique_lock lock(mu_);
    uint64_t target = enqueued_;
    written_.wait(lock, [&] { return done_ >= target || closed_; });
}

void AuditLog::close() {
    {
        std::lock_guard lock(mu_);
        if (closed_)
            return;
        closed_ = true;
        stopping_ = true;
    }
    wake_.notify_all();
    if (writer_.joinable())
        writer_.join();
    written_.notify_all();
    if (fd_ >= 0)
        ::close(fd_);
    fd_ = -1;
}

ExporterStats AuditLog::stats() const {
    std::lock_guard lock(mu_);
    return stats_;
}

Checkpoint AuditLog::head() const {
    std::lock_guard lock(mu_);
    return synced_;
}

events::Event AuditLog::checkpoint_now() {
    Checkpoint c = head();
    {
        std::lock_guard lock(mu_);
        last_checkpoint_seq_ = c.seq;
        last_checkpoint_time_ = std::chrono::steady_clock::now();
    }
    events::Event e;
    e.kind = kCheckpointKind;
    e.time_unix_ns = now_unix_ns();
    e.rule = "bulkhead audit checkpoint";
    e.priority = "Informational";
    e.tags = {"bulkhead", "audit"};
    e.output = "Audit log checkpoint seq=" + std::to_string(c.seq) + " sha256=" + c.hash +
               " (log=" + config_.path + " key=" + key_id_ + ")";
    e.output_fields = {{"audit.seq", c.seq},
                       {"audit.head", c.hash},
                       {"audit.key", key_id_},
                       {"audit.log", config_.path}};
    e.detail = std::to_string(c.seq) + ":" + c.hash;  // what `verify --checkpoint` takes
    return e;
}

std::optional<events::Event> AuditLog::checkpoint_due() {
    {
        std::lock_guard lock(mu_);
        if (synced_.seq == last_checkpoint_seq_ ||
            std::chrono::steady_clock::now() - last_checkpoint_time_ < config_.checkpoint_interval)
            return std::nullopt;
    }
    return checkpoint_now();
}

}  // namespace bulkhead::exporters::audit
