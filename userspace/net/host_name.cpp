// SPDX-License-Identifier: Apache-2.0
#include "net/host_name.h"

#include <cstdio>

#include "rules/values.h"

namespace bulkhead::net {

namespace {

bool is_ldh(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
}

std::string hex_byte(unsigned char c) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "\\x%02x", c);
    return buf;
}

// "'_' (\x5f)" for a printable byte, "\xff" for the others.
std::string describe_byte(unsigned char c) {
    if (c > 0x20 && c < 0x7f) return std::string("'") + static_cast<char>(c) + "' (" + hex_byte(c) + ")";
    return hex_byte(c);
}

std::string at(size_t offset) { return " at offset " + std::to_string(offset); }

}  // namespace

std::string quote_host_name(std::string_view name, size_t max) {
    std::string out;
    for (size_t i = 0; i < name.size() && i < max; ++i) {
        auto c = static_cast<unsigned char>(name[i]);
        if (c >= 0x20 && c < 0x7f && c != '\\' && c != '\'')
            out += static_cast<char>(c);
        else
            out += hex_byte(c);
    }
    if (name.size() > max) out += "...";
    return "'" + out + "'";
}

std::optional<std::string> validate_host_name(std::string_view name) {
    const std::string quoted = "host name " + quote_host_name(name);
    if (name.empty()) return "host name is empty";

    // Problems a user should hear about before a generic "bad byte".
    if (size_t nul = name.find('\0'); nul != std::string_view::npos)
        return quoted + " contains a NUL byte" + at(nul);
    if (name.find('*') != std::string_view::npos)
        return quoted + ": wildcards are not supported for kernel egress (the kernel allows addresses, and a "
                        "wildcard has none to resolve); list each host name";
    if (rules::parse_ip_network(name, nullptr)) {
        bool cidr = name.find('/') != std::string_view::npos;
        return quoted + " is an IP " + (cidr ? "network" : "address") +
               ", not a host name; put it in the CIDR allow list";
    }

    std::string_view body = name;
    if (body.back() == '.') body.remove_suffix(1);
    for (size_t i = 0; i < body.size(); ++i) {
        auto c = static_cast<unsigned char>(body[i]);
        if (c != '.' && !is_ldh(c))
            return quoted + " contains byte " + describe_byte(c) + at(i) +
                   "; only letters, digits, '-' and '.' are allowed";
    }
    if (body.size() > kMaxHostNameLength)
        return quoted + " is " + std::to_string(body.size()) + " bytes long; the limit is " +
               std::to_string(kMaxHostNameLength);

    size_t start = 0;
    while (true) {
        size_t end = body.find('.', start);
        if (end == std::string_view::npos) end = body.size();
        std::string_view label = body.substr(start, end - start);
        if (label.empty()) return quoted + " has an empty label" + at(start);
        if (label.size() > kMaxLabelLength)
            return quoted + " has a label of " + std::to_string(label.size()) + " bytes" + at(start) +
                   "; the limit is " + std::to_string(kMaxLabelLength);
        if (label.front() == '-')
            return quoted + " has a label starting with '-'" + at(start);
        if (label.back() == '-')
            return quoted + " has a label ending with '-'" + at(end - 1);
        if (end == body.size()) {
            // An all-digit last label is no top-level domain, and libc reads
            // "10.1" or "127.1" as IPv4 addresses: refuse the ambiguity.
            if (label.find_first_not_of("0123456789") == std::string_view::npos)
                return quoted + " ends in an all-digit label, so it reads as an IP address; put addresses in "
                                "the CIDR allow list";
            break;
        }
        start = end + 1;
    }
    return std::nullopt;
}

std::string normalize_host_name(std::string_view name) {
    if (!name.empty() && name.back() == '.') name.remove_suffix(1);
    std::string out(name);
    for (char& c : out)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return out;
}

}  // namespace bulkhead::net
