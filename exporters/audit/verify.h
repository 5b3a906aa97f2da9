// SPDX-License-Identifier: Apache-2.0
// `bulkhead audit verify FILE`: walks an audit log and names the first
// record that is broken (altered, unsigned, malformed), missing (a gap in the
// sequence), reordered, or torn, with its line and sequence number.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "exporters/audit/record.h"
#include "exporters/result.h"

namespace bulkhead::exporters::audit {

enum class Problem {
    none,
    malformed,       // not a signed JSON record, or longer than kMaxRecordBytes
    bad_signature,   // altered after signing
    wrong_key,       // signed by another key than the one given
    broken_chain,    // authentic record whose "prev" is not the previous line's hash
    missing,         // a gap in the sequence (deleted records)
    reordered,       // a record out of sequence order
    torn,            // a last line without '\n' that no recovery record acknowledges
    checkpoint,      // the log does not contain the checkpoint the SIEM holds
};
const char* problem_name(Problem p);

// A head the SIEM received in an "audit-checkpoint" event.
struct Checkpoint {
    uint64_t seq = 0;
    std::string hash;  // 64 hex digits
};
// "SEQ:HASH" as `bulkhead audit verify --checkpoint` takes it.
Result<Checkpoint> parse_checkpoint(std::string_view text);

struct VerifyOptions {
    // Proves the tail was not cut: the log must contain this record.
    std::optional<Checkpoint> expect;
    // A last line without '\n' past this size is a record being written,
    // not a torn one (verifying a live log). 0: the whole input is final.
    uint64_t final_size = 0;
};

struct VerifyReport {
    bool ok = false;
    uint64_t records = 0;     // authentic records in order
    uint64_t lines = 0;       // lines read, torn ones included
    uint64_t head_seq = 0;    // last authentic record before the first problem
    std::string head_hash;    // its SHA-256 (hex); all zeros for an empty log
    std::string key_id;       // of the public key used

    // The first problem, when !ok.
    Problem problem = Problem::none;
    uint64_t line = 0;                 // 1-based
    std::optional<uint64_t> seq;       // as the record claims, or the expected one
    std::string why;

    std::vector<std::string> notes;    // acknowledged torn lines, restarts, lost events

    // "OK: 120 records, head seq 120 sha256 ab12..." or
    // "FAIL: line 7 (seq 7): reordered: ...".
    std::string to_text() const;
    nlohmann::json to_json() const;
};

// Verifies a whole log held in memory (the fuzz target's entry point).
VerifyReport verify_buffer(std::string_view data, const PublicKey& pk,
                           const VerifyOptions& options = {});

// Maps the file and verifies it. Errors (unreadable file or key) are
// returned, not reported as a broken record.
Result<VerifyReport> verify(const std::string& log_path, const std::string& public_key_path,
                            VerifyOptions options = {});

// Where the writer exports the public key for a log: audit.pub beside it.
std::string default_public_key_path(const std::string& log_path);

}  // namespace bulkhead::exporters::audit
