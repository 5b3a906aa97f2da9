// SPDX-License-Identifier: Apache-2.0
// A sink's disk spool: the formatted payloads its peer has not taken yet,
// one file per record in the sink's own directory, named
// "<20-digit sequence>-<priority>.rec" so that a directory listing after a
// daemon restart gives back the order and the priority of every record.
//
// One file per record keeps dropping any single record cheap (the spool
// drops the oldest record of the lowest priority first, wherever it sits)
// and makes a half-written record impossible (write to .tmp, then rename).
// The spool is only written while a peer is down, so the per-record cost of
// a create and a rename is paid only then.
//
// Not thread-safe: only the sink's worker thread uses it.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "result.h"

namespace bulkhead::exporters {

class Spool {
public:
    struct Record {
        uint64_t seq = 0;
        int priority = 0;
        std::string payload;
    };
    struct PushResult {
        bool stored = false;     // false: this record itself was dropped
        uint64_t dropped = 0;    // records lost to make room, this one included
        std::string error;       // set when the disk refused the write
    };

    // Creates `dir` (mode 0700) if needed and indexes what an earlier run
    // left there; stale .tmp files from a crash are removed.
    static Result<std::unique_ptr<Spool>> open(const std::string& dir, uint64_t max_bytes);

    // Appends a record. When it does not fit, the oldest records of the
    // lowest priority go first; a record less important than everything
    // stored (or larger than the whole spool) is dropped itself.
    PushResult push(int priority, std::string_view payload);
    // The oldest record, read from disk; nullopt when empty. A record that
    // cannot be read is removed and counted in *lost.
    std::optional<Record> front(uint64_t* lost);
    void pop(uint64_t seq);

    bool empty() const { return index_.empty(); }
    size_t count() const { return index_.size(); }
    uint64_t bytes() const { return bytes_; }
    const std::string& dir() const { return dir_; }

private:
    struct Entry {
        int priority;
        uint64_t size;
    };
    Spool(std::string dir, uint64_t max_bytes) : dir_(std::move(dir)), max_bytes_(max_bytes) {}
    std::string path_of(uint64_t seq, int priority) const;
    void remove(uint64_t seq);

    std::string dir_;
    uint64_t max_bytes_;
    uint64_t bytes_ = 0;
    uint64_t next_seq_ = 1;
    std::map<uint64_t, Entry> index_;             // by sequence: delivery order
    std::array<std::set<uint64_t>, 8> by_priority_;  // drop order: 7 (Debug) first
};

}  // namespace bulkhead::exporters
