// SPDX-License-Identifier: Apache-2.0
// Fuzz target for the audit log reader (verify_buffer): any bytes must give
// a report that says where and why, never a crash or a hang.
//
// Under libFuzzer: tests/fuzz/run.sh builds it as fuzz_audit_log.
// Otherwise (and in ctest) a small driver runs the files given as
// arguments, or with --seeds DIR first writes valid logs signed with the
// fuzz key there, to start a corpus from.
#include <sodium.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "exporters/audit/record.h"
#include "exporters/audit/verify.h"

using namespace bulkhead::exporters::audit;

namespace {

// A fixed key, so the corpus can hold authentic records.
const KeyPair& fuzz_key() {
    static const KeyPair kp = [] {
        KeyPair k;
        if (sodium_init() < 0)
            std::abort();
        unsigned char seed[crypto_sign_SEEDBYTES] = {};
        for (size_t i = 0; i < sizeof seed; i++)
            seed[i] = static_cast<unsigned char>(i * 7 + 1);
        crypto_sign_seed_keypair(k.pub.data(), k.secret.data(), seed);
        return k;
    }();
    return kp;
}

// A valid log of `n` records, as the writer makes them.
std::string seed_log(int n) {
    std::string out;
    Hash prev{};
    for (int i = 1; i <= n; i++) {
        nlohmann::json body{{"seq", i},
                            {"prev", to_hex(prev)},
                            {"key", key_id(fuzz_key().pub)},
                            {"type", i == 1 ? "start" : "event"},
                            {"time", "2026-01-02T03:04:05.000000000Z"},
                            {"v", kFormatVersion},
                            {"event", {{"rule", "r" + std::to_string(i)}}}};
        std::string line = sign_line(body, fuzz_key().secret);
        prev = sha256(line);
        out += line + "\n";
    }
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view input(reinterpret_cast<const char*>(data), size);
    VerifyReport r = verify_buffer(input, fuzz_key().pub);
    if (!r.ok && (r.line == 0 || r.why.empty()))
        std::abort();  // a failure must say where and why
    if (r.ok && r.records > 0 && r.head_hash.size() != 64)
        std::abort();
    (void)r.to_text();
    (void)r.to_json().dump();
    return 0;
}

#ifndef BULKHEAD_LIBFUZZER
int main(int argc, char** argv) {
    int ran = 0;
    for (int i = 1; i < argc; i++) {
        std::string arg = argv[i];
        if (arg == "--seeds" && i + 1 < argc) {
            std::filesystem::path dir = argv[++i];
            std::filesystem::create_directories(dir);
            for (int n : {1, 3, 12})
                std::ofstream(dir / ("log-" + std::to_string(n))) << seed_log(n);
            std::string torn = seed_log(4);
            std::ofstream(dir / "torn") << torn.substr(0, torn.size() - 30);
            continue;
        }
        std::vector<std::filesystem::path> files;
        if (std::filesystem::is_directory(arg)) {
            for (const auto& e : std::filesystem::directory_iterator(arg))
                files.push_back(e.path());
        } else {
            files.push_back(arg);
        }
        for (const auto& f : files) {
            std::ifstream in(f, std::ios::binary);
            std::ostringstream s;
            s << in.rdbuf();
            std::string d = s.str();
            LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(d.data()), d.size());
            // Every one-byte change of a seed is another input.
            for (size_t k = 0; k < d.size(); k += 7) {
                std::string m = d;
                m[k] = static_cast<char>(m[k] ^ 0x21);
                LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(m.data()), m.size());
            }
            ran++;
        }
    }
    std::printf("audit-fuzz: ran %d inputs (and their one-byte mutations)\n", ran);
    return ran > 0 ? 0 : 1;
}
#endif
