// SPDX-License-Identifier: Apache-2.0
#include "exporters/audit/verify.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>

namespace bulkhead::exporters::audit {

namespace {

constexpr size_t kMaxNotes = 100;

struct Line {
    std::string_view text;  // without '\n'
    uint64_t offset = 0;
    uint64_t number = 0;    // 1-based
    bool terminated = false;
};

// Walks `data` line by line; the last line may lack its '\n'.
class Lines {
public:
    explicit Lines(std::string_view data) : data_(data) {}
    bool next(Line* out) {
        if (pos_ >= data_.size())
            return false;
        size_t nl = data_.find('\n', pos_);
        out->offset = pos_;
        out->number = ++number_;
        out->terminated = nl != std::string_view::npos;
        size_t end = out->terminated ? nl : data_.size();
        out->text = data_.substr(pos_, end - pos_);
        pos_ = out->terminated ? nl + 1 : data_.size();
        return true;
    }

private:
    std::string_view data_;
    size_t pos_ = 0;
    uint64_t number_ = 0;
};

std::string range(uint64_t from, uint64_t to) {
    return from == to ? "seq " + std::to_string(from)
                      : "seqs " + std::to_string(from) + ".." + std::to_string(to);
}

class Verifier {
public:
    Verifier(std::string_view data, const PublicKey& pk, const VerifyOptions& options)
        : data_(data), pk_(pk), options_(options) {
        report_.key_id = key_id(pk);
        report_.head_hash = to_hex(Hash{});
    }

    VerifyReport run() {
        Lines lines(data_);
        Line line;
        Line pending_torn;  // a bad line a recovery record may acknowledge
        bool pending = false;
        RecordError pending_kind = RecordError::none;
        std::string pending_why;
        std::optional<uint64_t> pending_seq;
        while (lines.next(&line)) {
            report_.lines = line.number;
            RecordError kind = RecordError::none;
            std::string why;
            std::optional<uint64_t> claimed;
            std::optional<Record> rec;
            if (!line.terminated)
                kind = RecordError::malformed;
            else if (line.text.empty())
                kind = RecordError::malformed, why = "empty line";
            else
                rec = parse_record(line.text, pk_, &kind, &why, &claimed);

            if (pending) {
                if (rec && acknowledges(*rec, pending_torn)) {
                    note("line " + std::to_string(pending_torn.number) + ": torn record (" +
                         std::to_string(pending_torn.text.size()) +
                         " bytes) acknowledged by the recovery record at line " +
                         std::to_string(line.number));
                    pending = false;
                } else {
                    return fail(problem_of(pending_kind), pending_torn.number,
                                pending_seq ? pending_seq : expected_seq(), pending_why);
                }
            }
            if (!line.terminated) {
                return fail(Problem::torn, line.number, claimed ? claimed : expected_seq(),
                            "torn record: " + std::to_string(line.text.size()) +
                                " bytes without a newline at the end of the log (the writer "
                                "crashed mid-record, or the tail was cut)");
            }
            if (!rec) {
                pending = true;
                pending_torn = line;
                pending_kind = kind;
                pending_why = why;
                pending_seq = claimed;
                continue;
            }
            if (!accept(*rec, line))
                return report_;
        }
        if (pending)
            return fail(problem_of(pending_kind), pending_torn.number,
                        pending_seq ? pending_seq : expected_seq(), pending_why);
        if (options_.expect && !checkpoint_found_) {
            const Checkpoint& c = *options_.expect;
            return fail(Problem::checkpoint, report_.lines + 1, c.seq,
                        "the log ends at seq " + std::to_string(report_.head_seq) +
                            " but the checkpoint names seq " + std::to_string(c.seq) + ": " +
                            range(report_.head_seq + 1, c.seq) + " were cut from the tail");
        }
        report_.ok = true;
        return report_;
    }

private:
    static Problem problem_of(RecordError k) {
        switch (k) {
        case RecordError::wrong_key: return Problem::wrong_key;
        case RecordError::bad_signature: return Problem::bad_signature;
        default: return Problem::malformed;
        }
    }

    uint64_t expected_seq() const { return report_.head_seq + 1; }

    bool acknowledges(const Record& rec, const Line& torn) const {
        if (rec.type != "recover")
            return false;
        auto t = rec.body.find("torn");
        if (t == rec.body.end() || !t->is_object())
            return false;
        return t->value("offset", uint64_t{~0ull}) == torn.offset &&
               t->value("sha256", std::string()) == to_hex(sha256(torn.text));
    }

    // Chains an authentic record; on a gap or reorder, records the problem.
    bool accept(const Record& rec, const Line& line) {
        uint64_t want = expected_seq();
        if (rec.seq > want) {
            if (auto later = find_seq(want, line)) {
                fail(Problem::reordered, line.number, rec.seq,
                     "out of order: expected seq " + std::to_string(want) + ", which appears later at line " +
                         std::to_string(*later));
            } else {
                fail(Problem::missing, line.number, rec.seq,
                     range(want, rec.seq - 1) + " " + (rec.seq - 1 == want ? "is" : "are") +
                         " missing before this record (deleted)");
            }
            return false;
        }
        if (rec.seq < want) {
            fail(Problem::reordered, line.number, rec.seq,
                 "out of order: seq " + std::to_string(rec.seq) + " comes after seq " +
                     std::to_string(report_.head_seq) + " (moved or duplicated)");
            return false;
        }
        if (rec.prev != head_) {
            fail(Problem::broken_chain, line.number, rec.seq,
                 "\"prev\" is not the hash of the previous record (seq " +
                     std::to_string(report_.head_seq) + "): spliced from another log");
            return false;
        }
        head_ = sha256(line.text);
        report_.head_seq = rec.seq;
        report_.head_hash = to_hex(head_);
        report_.records++;
        describe(rec, line);
        if (options_.expect && options_.expect->seq == rec.seq) {
            if (report_.head_hash != options_.expect->hash) {
                fail(Problem::checkpoint, line.number, rec.seq,
                     "the record's hash " + report_.head_hash + " is not the checkpoint's " +
                         options_.expect->hash + ": the log was rewritten from here");
                return false;
            }
            checkpoint_found_ = true;
        }
        return true;
    }

    void describe(const Record& rec, const Line& line) {
        std::string where = "line " + std::to_string(line.number) + " (seq " + std::to_string(rec.seq) + "): ";
        if (rec.body.contains("after_error"))
            note(where + "the writer resumed after a write error: " +
                 rec.body["after_error"].dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
        else if (rec.type == "start" && rec.seq > 1)
            note(where + "the writer restarted and continued the chain");
        else if (rec.type == "lost")
            note(where + std::to_string(rec.body.value("count", uint64_t{0})) +
                 " events were lost before reaching the log (queue full)");
        else if (rec.type == "start" && rec.body.contains("previous"))
            note(where + "new chain; the previous log was moved aside: " +
                 rec.body["previous"].dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    }

    // The first later line whose authentic record has `seq`.
    std::optional<uint64_t> find_seq(uint64_t seq, const Line& from) const {
        Lines lines(data_.substr(from.offset));
        Line l;
        while (lines.next(&l)) {
            RecordError kind;
            std::string why;
            auto r = parse_record(l.text, pk_, &kind, &why);
            if (r && r->seq == seq)
                return from.number + l.number - 1;
        }
        return std::nullopt;
    }

    void note(std::string text) {
        if (report_.notes.size() < kMaxNotes)
            report_.notes.push_back(std::move(text));
        else if (report_.notes.size() == kMaxNotes)
            report_.notes.push_back("(more notes left out)");
    }

    const VerifyReport& fail(Problem p, uint64_t line, std::optional<uint64_t> seq, std::string why) {
        report_.ok = false;
        report_.problem = p;
        report_.line = line;
        report_.seq = seq;
        report_.why = std::move(why);
        return report_;
    }

    std::string_view data_;
    const PublicKey& pk_;
    const VerifyOptions& options_;
    VerifyReport report_;
    Hash head_{};
    bool checkpoint_found_ = false;
};

}  // namespace

const char* problem_name(Problem p) {
    switch (p) {
    case Problem::none: return "none";
    case Problem::malformed: return "malformed";
    case Problem::bad_signature: return "bad-signature";
    case Problem::wrong_key: return "wrong-key";
    case Problem::broken_chain: return "broken-chain";
    case Problem::missing: return "missing";
    case Problem::reordered: return "reordered";
    case Problem::torn: return "torn";
    case Problem::checkpoint: return "checkpoint";
    }
    return "unknown";
}

Result<Checkpoint> parse_checkpoint(std::string_view text) {
    auto colon = text.find(':');
    auto bad = [&] {
        return Error{"audit: checkpoint '" + std::string(text.substr(0, 200)) +
                     "' is not SEQ:HASH (a decimal sequence number and 64 hex digits)"};
    };
    if (colon == std::string_view::npos || colon == 0 || colon > 20)
        return bad();
    Checkpoint c;
    for (char ch : text.substr(0, colon)) {
        if (ch < '0' || ch > '9')
            return bad();
        if (c.seq > (~0ull - 9) / 10)
            return bad();
        c.seq = c.seq * 10 + static_cast<uint64_t>(ch - '0');
    }
    std::string hex(text.substr(colon + 1));
    for (char& ch : hex)
        ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    auto hash = from_hex<32>(hex);
    if (!hash || c.seq == 0)
        return bad();
    c.hash = to_hex(*hash);
    return c;
}

std::string VerifyReport::to_text() const {
    std::string out;
    if (ok) {
        out = "OK: " + std::to_string(records) + " records, head seq " + std::to_string(head_seq) +
              " sha256 " + head_hash + ", key " + key_id + "\n";
    } else {
        out = "FAIL: line " + std::to_string(line);
        if (seq)
            out += " (seq " + std::to_string(*seq) + ")";
        out += ": " + std::string(problem_name(problem)) + ": " + why + "\n";
        out += "last good record: seq " + std::to_string(head_seq) + " sha256 " + head_hash + "\n";
    }
    for (const auto& n : notes)
        out += "note: " + n + "\n";
    return out;
}

nlohmann::json VerifyReport::to_json() const {
    nlohmann::json j{{"ok", ok},           {"records", records},     {"lines", lines},
                     {"head_seq", head_seq}, {"head_hash", head_hash}, {"key_id", key_id},
                     {"notes", notes}};
    if (!ok) {
        j["problem"] = problem_name(problem);
        j["line"] = line;
        j["seq"] = seq ? nlohmann::json(*seq) : nlohmann::json();
        j["why"] = why;
    }
    return j;
}

VerifyReport verify_buffer(std::string_view data, const PublicKey& pk, const VerifyOptions& options) {
    return Verifier(data, pk, options).run();
}

Result<VerifyReport> verify(const std::string& log_path, const std::string& public_key_path,
                            VerifyOptions options) {
    auto pk = read_public_key(public_key_path);
    if (!pk)
        return Error{pk.error()};
    int fd = ::open(log_path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return Error{"audit: cannot open " + log_path + ": " + std::strerror(errno)};
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        return Error{"audit: " + log_path + " is not a regular file"};
    }
    size_t size = static_cast<size_t>(st.st_size);
    void* map = nullptr;
    if (size > 0) {
        map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) {
            int err = errno;
            ::close(fd);
            return Error{"audit: cannot map " + log_path + ": " + std::strerror(err)};
        }
    }
    std::string_view data(static_cast<const char*>(map), size);
    std::string live_note;
    // A live log grows while we read: a last line without '\n' in a file
    // that has grown since is a record being written, not a torn one.
    if (!data.empty() && data.back() != '\n') {
        struct stat now {};
        if (::fstat(fd, &now) == 0 && static_cast<size_t>(now.st_size) > size) {
            size_t keep = data.rfind('\n');
            data = data.substr(0, keep == std::string_view::npos ? 0 : keep + 1);
            live_note = "the log grew while it was read; the record being written was not verified";
        }
    }
    VerifyReport report = verify_buffer(data, *pk, options);
    if (!live_note.empty())
        report.notes.push_back(live_note);
    if (map)
        ::munmap(map, size);
    ::close(fd);
    return report;
}

std::string default_public_key_path(const std::string& log_path) {
    auto dir = std::filesystem::path(log_path).parent_path();
    return (dir / "audit.pub").string();
}

}  // namespace bulkhead::exporters::audit
