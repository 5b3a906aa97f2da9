// SPDX-License-Identifier: Apache-2.0
// The audit log's record format, keys and hashes: shared by the writer
// (audit_log.cpp) and the verifier (verify.cpp), so both read one definition.
//
// One record per line:
//
//   {"event":{...},"key":"<16 hex>","prev":"<64 hex>","seq":N,"time":"...",
//    "type":"event","v":1,"sig":"<128 hex>"}
//
// The body is the line without its `,"sig":"..."` suffix (closed with '}');
// `sig` is Ed25519 over kSignContext + body; `prev` is the SHA-256 of the
// previous line's bytes (without '\n'), all zeros for seq 1. The body is
// signed as bytes, so no canonical-JSON rules are needed to verify it.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "exporters/result.h"

namespace bulkhead::exporters::audit {

inline constexpr int kFormatVersion = 1;
// Longer lines are rejected by the verifier and never written by the writer.
inline constexpr size_t kMaxRecordBytes = 1 << 20;
inline constexpr std::string_view kSignContext = "bulkhead-audit-v1\n";
inline constexpr std::string_view kSigPrefix = ",\"sig\":\"";
inline constexpr size_t kSigHexLen = 128;
// `,"sig":"` + 128 hex + `"}`
inline constexpr size_t kSigSuffixLen = kSigPrefix.size() + kSigHexLen + 2;

using Hash = std::array<uint8_t, 32>;
using PublicKey = std::array<uint8_t, 32>;
using SecretKey = std::array<uint8_t, 64>;

std::string to_hex(const uint8_t* data, size_t size);
template <size_t N>
std::string to_hex(const std::array<uint8_t, N>& a) { return to_hex(a.data(), N); }
// Exactly 2*N lowercase hex digits, else nullopt.
template <size_t N>
std::optional<std::array<uint8_t, N>> from_hex(std::string_view hex);

Hash sha256(std::string_view data);
// The first 8 bytes of SHA-256(public key) in hex: names a key in records
// and reports without printing the whole key.
std::string key_id(const PublicKey& pk);

struct KeyPair {
    PublicKey pub{};
    SecretKey secret{};
};

// Loads the secret key (64 hex digits of the Ed25519 seed) or creates it
// (O_EXCL, mode 0600) with its directory (0700). Refuses a key file that
// group or others can access.
Result<KeyPair> load_or_create_key(const std::string& secret_path);
// Writes the public key (64 hex digits and '\n', mode 0644) atomically.
Result<void> write_public_key(const std::string& path, const PublicKey& pk);
Result<PublicKey> read_public_key(const std::string& path);

// Builds one signed line (without '\n') from a body object that must not
// contain "sig".
std::string sign_line(const nlohmann::json& body, const SecretKey& sk);

// A line split and checked: signature verified with `pk`, fields typed.
struct Record {
    uint64_t seq = 0;
    Hash prev{};
    std::string key;   // key id the record names
    std::string type;  // start, event, lost, recover, stop
    nlohmann::json body;
};

enum class RecordError { none, malformed, wrong_key, bad_signature };

// Parses and authenticates one line. On failure returns nullopt with the
// kind of failure and a sentence for humans; `claimed_seq` is filled when
// the body parsed far enough to name one.
std::optional<Record> parse_record(std::string_view line, const PublicKey& pk,
                                   RecordError* kind, std::string* why,
                                   std::optional<uint64_t>* claimed_seq = nullptr);

}  // namespace bulkhead::exporters::audit
