// SPDX-License-Identifier: Apache-2.0
#include "exporters/audit/record.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <sodium.h>

namespace bulkhead::exporters::audit {

namespace {

bool sodium_ready() {
    static const bool ok = sodium_init() >= 0;
    return ok;
}

std::string lowercase(std::string s) {
    for (char& c : s)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

std::string sys_error(const std::string& what, int err) {
    return "audit: " + what + ": " + std::strerror(err);
}

// Writes all of `data` to a new file at `path` (mode `mode`, O_EXCL) and
// fsyncs it, so a crash never leaves a half-written key.
Result<void> write_new_file(const std::string& path, std::string_view data, mode_t mode) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0)
        return Error{sys_error("cannot create " + path, errno)};
    // The umask may have cleared bits we asked for; the mode is part of the contract.
    if (::fchmod(fd, mode) != 0 ||
        ::write(fd, data.data(), data.size()) != static_cast<ssize_t>(data.size()) ||
        ::fsync(fd) != 0) {
        int err = errno;
        ::close(fd);
        ::unlink(path.c_str());
        return Error{sys_error("cannot write " + path, err)};
    }
    ::close(fd);
    return {};
}

void fsync_dir(const std::string& dir) {
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        ::fsync(fd);
        ::close(fd);
    }
}

Result<std::string> read_small_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in)
        return Error{sys_error("cannot read " + path, errno ? errno : ENOENT)};
    std::string data(4096, '\0');
    in.read(data.data(), static_cast<std::streamsize>(data.size()));
    data.resize(static_cast<size_t>(in.gcount()));
    while (!data.empty() && std::isspace(static_cast<unsigned char>(data.back())))
        data.pop_back();
    return data;
}

}  // namespace

std::string to_hex(const uint8_t* data, size_t size) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out(size * 2, '0');
    for (size_t i = 0; i < size; i++) {
        out[2 * i] = kDigits[data[i] >> 4];
        out[2 * i + 1] = kDigits[data[i] & 15];
    }
    return out;
}

template <size_t N>
std::optional<std::array<uint8_t, N>> from_hex(std::string_view hex) {
    if (hex.size() != 2 * N)
        return std::nullopt;
    auto nibble = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        return -1;  // lowercase only: one spelling per value, so records are not malleable
    };
    std::array<uint8_t, N> out{};
    for (size_t i = 0; i < N; i++) {
        int hi = nibble(hex[2 * i]), lo = nibble(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return std::nullopt;
        out[i] = static_cast<uint8_t>(hi << 4 | lo);
    }
    return out;
}
template std::optional<std::array<uint8_t, 32>> from_hex<32>(std::string_view);
template std::optional<std::array<uint8_t, 64>> from_hex<64>(std::string_view);

Hash sha256(std::string_view data) {
    Hash h{};
    crypto_hash_sha256(h.data(), reinterpret_cast<const unsigned char*>(data.data()), data.size());
    return h;
}

std::string key_id(const PublicKey& pk) {
    Hash h = sha256(std::string_view(reinterpret_cast<const char*>(pk.data()), pk.size()));
    return to_hex(h.data(), 8);
}

Result<KeyPair> load_or_create_key(const std::string& secret_path) {
    if (!sodium_ready())
        return Error{"audit: libsodium failed to initialise"};
    namespace fs = std::filesystem;
    fs::path dir = fs::path(secret_path).parent_path();
    std::error_code ec;
    if (!dir.empty() && !fs::exists(dir, ec)) {
        fs::create_directories(dir, ec);
        if (ec)
            return Error{"audit: cannot create key directory " + dir.string() + ": " + ec.message()};
        ::chmod(dir.c_str(), 0700);
    }

    KeyPair kp;
    struct stat st {};
    if (::lstat(secret_path.c_str(), &st) != 0) {
        if (errno != ENOENT)
            return Error{sys_error("cannot stat " + secret_path, errno)};
        std::array<uint8_t, crypto_sign_SEEDBYTES> seed{};
        randombytes_buf(seed.data(), seed.size());
        crypto_sign_seed_keypair(kp.pub.data(), kp.secret.data(), seed.data());
        std::string text = to_hex(seed) + "\n";
        sodium_memzero(seed.data(), seed.size());
        auto w = write_new_file(secret_path, text, 0600);
        sodium_memzero(text.data(), text.size());
        if (!w)
            return Error{w.error()};
        fsync_dir(dir.empty() ? "." : dir.string());
        return kp;
    }
    if (!S_ISREG(st.st_mode))
        return Error{"audit: secret key " + secret_path + " is not a regular file"};
    if (st.st_mode & 077) {
        char mode[8];
        std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
        return Error{"audit: secret key " + secret_path + " has mode " + mode +
                     ", readable by group or others; expected 0600"};
    }
    auto text = read_small_file(secret_path);
    if (!text)
        return Error{text.error()};
    auto seed = from_hex<crypto_sign_SEEDBYTES>(*text);
    sodium_memzero(text->data(), text->size());
    if (!seed)
        return Error{"audit: secret key " + secret_path + " is not 64 hex digits"};
    crypto_sign_seed_keypair(kp.pub.data(), kp.secret.data(), seed->data());
    sodium_memzero(seed->data(), seed->size());
    return kp;
}

Result<void> write_public_key(const std::string& path, const PublicKey& pk) {
    std::string want = to_hex(pk);
    if (auto have = read_small_file(path); have && *have == want)
        return {};
    std::string tmp = path + ".tmp";
    ::unlink(tmp.c_str());
    if (auto w = write_new_file(tmp, want + "\n", 0644); !w)
        return w;
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        int err = errno;
        ::unlink(tmp.c_str());
        return Error{sys_error("cannot rename " + tmp + " to " + path, err)};
    }
    fsync_dir(std::filesystem::path(path).parent_path().string());
    return {};
}

Result<PublicKey> read_public_key(const std::string& path) {
    auto text = read_small_file(path);
    if (!text)
        return Error{text.error()};
    auto pk = from_hex<32>(lowercase(*text));
    if (!pk)
        return Error{"audit: public key " + path + " is not 64 hex digits"};
    return *pk;
}

std::string sign_line(const nlohmann::json& body, const SecretKey& sk) {
    sodium_ready();
    std::string text = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    std::string msg = std::string(kSignContext) + text;
    std::array<uint8_t, crypto_sign_BYTES> sig{};
    crypto_sign_detached(sig.data(), nullptr, reinterpret_cast<const unsigned char*>(msg.data()),
                         msg.size(), sk.data());
    text.pop_back();  // the closing '}'
    text += kSigPrefix;
    text += to_hex(sig);
    text += "\"}";
    return text;
}

std::optional<Record> parse_record(std::string_view line, const PublicKey& pk, RecordError* kind,
                                   std::string* why, std::optional<uint64_t>* claimed_seq) {
    sodium_ready();
    auto fail = [&](RecordError k, std::string w) -> std::optional<Record> {
        *kind = k;
        *why = std::move(w);
        return std::nullopt;
    };
    if (line.size() > kMaxRecordBytes)
        return fail(RecordError::malformed, "record is longer than " +
                                                std::to_string(kMaxRecordBytes) + " bytes");
    if (line.size() < kSigSuffixLen + 2 || line.front() != '{' ||
        line.substr(line.size() - kSigSuffixLen, kSigPrefix.size()) != kSigPrefix ||
        line.substr(line.size() - 2) != "\"}")
        return fail(RecordError::malformed, "not a signed record (no trailing \"sig\" field)");
    auto sig = from_hex<64>(line.substr(line.size() - kSigSuffixLen + kSigPrefix.size(), kSigHexLen));
    if (!sig)
        return fail(RecordError::malformed, "the signature is not 128 hex digits");

    std::string body_text(line.substr(0, line.size() - kSigSuffixLen));
    body_text += '}';
    auto body = nlohmann::json::parse(body_text, nullptr, /* allow_exceptions = */ false);
    if (body.is_discarded() || !body.is_object())
        return fail(RecordError::malformed, "the record is not a JSON object");

    Record r;
    auto seq = body.find("seq");
    if (seq != body.end() && seq->is_number_unsigned()) {
        r.seq = seq->get<uint64_t>();
        if (claimed_seq)
            *claimed_seq = r.seq;
    }

    std::string msg = std::string(kSignContext) + body_text;
    bool sig_ok = crypto_sign_verify_detached(sig->data(),
                                              reinterpret_cast<const unsigned char*>(msg.data()),
                                              msg.size(), pk.data()) == 0;
    auto key = body.find("key");
    r.key = key != body.end() && key->is_string() ? key->get<std::string>() : "";
    if (!sig_ok) {
        std::string ours = key_id(pk);
        if (!r.key.empty() && r.key != ours)
            return fail(RecordError::wrong_key, "signed by key " + r.key +
                                                    ", not by the given public key " + ours);
        return fail(RecordError::bad_signature,
                    "the signature does not verify: the record was altered");
    }
    // Authentic from here on; these checks catch a writer bug, not an attacker.
    auto v = body.find("v");
    if (v == body.end() || !v->is_number_unsigned() || v->get<uint64_t>() != kFormatVersion)
        return fail(RecordError::malformed,
                    "unsupported record version (expected v=" + std::to_string(kFormatVersion) + ")");
    if (seq == body.end() || !seq->is_number_unsigned())
        return fail(RecordError::malformed, "no unsigned \"seq\"");
    auto prev = body.find("prev");
    std::optional<Hash> ph;
    if (prev != body.end() && prev->is_string())
        ph = from_hex<32>(prev->get_ref<const std::string&>());
    if (!ph)
        return fail(RecordError::malformed, "\"prev\" is not 64 hex digits");
    r.prev = *ph;
    auto type = body.find("type");
    if (type == body.end() || !type->is_string())
        return fail(RecordError::malformed, "no \"type\"");
    r.type = type->get<std::string>();
    r.body = std::move(body);
    *kind = RecordError::none;
    return r;
}

}  // namespace bulkhead::exporters::audit
