// SPDX-License-Identifier: Apache-2.0
#include "rules/values.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <cctype>
#include <charconv>
#include <cstring>

namespace bulkhead::rules {

bool parse_number(std::string_view text, __int128* out) {
    bool negative = false;
    if (!text.empty() && (text[0] == '-' || text[0] == '+')) {
        negative = text[0] == '-';
        text.remove_prefix(1);
    }
    int base = 10;
    if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
        base = 16;
        text.remove_prefix(2);
    }
    if (text.empty()) return false;
    uint64_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value, base);
    if (ec != std::errc() || end != text.data() + text.size()) return false;
    if (out) *out = negative ? -static_cast<__int128>(value) : static_cast<__int128>(value);
    return true;
}

bool parse_hex_bytes(std::string_view text, std::string* out) {
    if (text.empty() || text.size() % 2) return false;
    std::string bytes;
    for (size_t i = 0; i < text.size(); i += 2) {
        unsigned value = 0;
        auto [end, ec] = std::from_chars(text.data() + i, text.data() + i + 2, value, 16);
        if (ec != std::errc() || end != text.data() + i + 2) return false;
        bytes.push_back(static_cast<char>(value));
    }
    if (out) *out = std::move(bytes);
    return true;
}

bool parse_ip_network(std::string_view text, IpNetwork* out) {
    if (text.size() > 64) return false;
    std::string addr(text);
    int prefix = -1;
    if (size_t slash = addr.find('/'); slash != std::string::npos) {
        std::string_view digits(addr.data() + slash + 1, addr.size() - slash - 1);
        auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), prefix);
        if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size()) return false;
        addr.resize(slash);
    }
    IpNetwork net;
    if (inet_pton(AF_INET, addr.c_str(), net.addr.data()) == 1) {
        net.family = AF_INET;
        net.prefix = prefix < 0 ? 32 : prefix;
        if (net.prefix > 32) return false;
    } else if (inet_pton(AF_INET6, addr.c_str(), net.addr.data()) == 1) {
        net.family = AF_INET6;
        net.prefix = prefix < 0 ? 128 : prefix;
        if (net.prefix > 128) return false;
    } else {
        return false;
    }
    if (out) *out = net;
    return true;
}

bool ip_in_network(const IpNetwork& addr, const IpNetwork& net) {
    if (addr.family != net.family) return false;
    int bits = net.prefix;
    for (size_t i = 0; bits > 0; ++i, bits -= 8) {
        uint8_t mask = bits >= 8 ? 0xff : static_cast<uint8_t>(0xff << (8 - bits));
        if ((addr.addr[i] & mask) != (net.addr[i] & mask)) return false;
    }
    return true;
}

namespace {

char fold(char c, bool casefold) {
    return casefold ? static_cast<char>(std::tolower(static_cast<unsigned char>(c))) : c;
}

// `[...]` at pattern[p]; returns the index after it, or npos when malformed
// (then `[` is literal).
size_t match_class(std::string_view pattern, size_t p, char c, bool casefold, bool* matched) {
    size_t i = p + 1;
    bool negate = i < pattern.size() && (pattern[i] == '!' || pattern[i] == '^');
    if (negate) ++i;
    bool hit = false;
    bool first = true;
    while (i < pattern.size() && (first || pattern[i] != ']')) {
        first = false;
        char lo = pattern[i];
        char hi = lo;
        if (i + 2 < pattern.size() && pattern[i + 1] == '-' && pattern[i + 2] != ']') {
            hi = pattern[i + 2];
            i += 3;
        } else {
            ++i;
        }
        char fc = fold(c, casefold);
        if (fold(lo, casefold) <= fc && fc <= fold(hi, casefold)) hit = true;
    }
    if (i >= pattern.size()) return std::string_view::npos;
    *matched = c != '/' && hit != negate;
    return i + 1;
}

// Iterative glob with one backtrack point per `*` (the classic two-pointer
// algorithm, bounded to the component for `*`) and recursion only for `**/`.
bool glob_at(std::string_view pattern, std::string_view text, bool casefold, int depth) {
    if (depth > 16) return false;  // patterns with many `**/` stay cheap
    size_t p = 0, t = 0;
    size_t star_p = std::string_view::npos, star_t = 0;
    while (t < text.size() || p < pattern.size()) {
        if (p + 2 < pattern.size() + 0 && pattern.compare(p, 3, "**/") == 0 && (p == 0 || pattern[p - 1] == '/')) {
            std::string_view rest = pattern.substr(p + 3);
            // Zero or more whole directories.
            for (size_t s = t;; ) {
                if (glob_at(rest, text.substr(s), casefold, depth + 1)) return true;
                size_t slash = text.find('/', s);
                if (slash == std::string_view::npos) return false;
                s = slash + 1;
            }
        }
        if (p < pattern.size()) {
            char pc = pattern[p];
            if (pc == '*') {
                star_p = p++;
                star_t = t;
                continue;
            }
            if (t < text.size()) {
                if (pc == '?' && text[t] != '/') { ++p; ++t; continue; }
                if (pc == '[') {
                    bool matched = false;
                    size_t next = match_class(pattern, p, text[t], casefold, &matched);
                    if (next != std::string_view::npos) {
                        if (matched) { p = next; ++t; continue; }
                    } else if (text[t] == '[') {
                        ++p; ++t; continue;
                    }
                } else if (pc == '\\' && p + 1 < pattern.size()) {
                    if (pattern[p + 1] == text[t]) { p += 2; ++t; continue; }
                } else if (pc != '?' && fold(pc, casefold) == fold(text[t], casefold)) {
                    ++p; ++t; continue;
                }
            }
        }
        // Backtrack: let the last `*` eat one more character of its component.
        if (star_p != std::string_view::npos && star_t < text.size() && text[star_t] != '/') {
            p = star_p + 1;
            t = ++star_t;
            continue;
        }
        return false;
    }
    return true;
}

}  // namespace

bool glob_match(std::string_view pattern, std::string_view text, bool casefold) {
    return glob_at(pattern, text, casefold, 0);
}

bool path_prefix_match(std::string_view prefix, std::string_view text) {
    while (prefix.size() > 1 && prefix.back() == '/') prefix.remove_suffix(1);
    bool wild = prefix.find_first_of("*?[") != std::string_view::npos;
    if (!wild) {
        if (text.size() < prefix.size() || text.compare(0, prefix.size(), prefix) != 0) return false;
        return text.size() == prefix.size() || prefix == "/" || text[prefix.size()] == '/';
    }
    // Try the prefix against each leading run of whole components.
    for (size_t end = 0; end <= text.size(); ++end) {
        if (end == text.size() || text[end] == '/') {
            if (glob_match(prefix, text.substr(0, end))) return true;
            if (end == text.size()) break;
        }
    }
    return false;
}

size_t home_suffix(std::string_view path) {
    if (path.compare(0, 6, "/root/") == 0) return 5;
    if (path.compare(0, 6, "/home/") != 0) return std::string_view::npos;
    size_t slash = path.find('/', 6);
    if (slash == std::string_view::npos || slash == 6) return std::string_view::npos;
    return slash;
}

}  // namespace bulkhead::rules
