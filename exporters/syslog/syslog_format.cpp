// SPDX-License-Identifier: Apache-2.0
#include "syslog/syslog_format.h"

#include <array>
#include <ctime>

#include "falco_json.h"
#include "sink_config.h"

namespace bulkhead::exporters {

std::optional<int> parse_facility(std::string_view name) {
    static const std::array<const char*, 16> names = {
        "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news",
        "uucp", "cron", "authpriv", "ftp", "ntp", "audit", "alert", "clock"};
    for (size_t i = 0; i < names.size(); ++i)
        if (name == names[i])
            return static_cast<int>(i);
    if (name.size() == 6 && name.substr(0, 5) == "local" && name[5] >= '0' && name[5] <= '7')
        return 16 + (name[5] - '0');
    if (!name.empty() && name.size() <= 2 && name.find_first_not_of("0123456789") == name.npos) {
        int v = std::stoi(std::string(name));
        if (v <= 23)
            return v;
    }
    return std::nullopt;
}

std::string sd_escape(std::string_view value) {
    std::string clean = sanitize_utf8(std::string(value));
    std::string out;
    out.reserve(clean.size());
    for (char c : clean) {
        if (c == '"' || c == '\\' || c == ']')
            out += '\\';
        out += c;
    }
    return out;
}

std::string header_field(std::string_view value, size_t max) {
    if (value.empty())
        return "-";
    std::string out(value.substr(0, max));
    for (char& c : out)
        if (c < 33 || c > 126)
            c = '_';
    return out;
}

std::string syslog_timestamp(int64_t unix_ns) {
    time_t secs = static_cast<time_t>(unix_ns / 1'000'000'000);
    long micros = static_cast<long>((unix_ns % 1'000'000'000) / 1000);
    if (micros < 0) {
        --secs;
        micros += 1'000'000;
    }
    struct tm tm {};
    gmtime_r(&secs, &tm);
    char buf[96];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, micros);
    return buf;
}

namespace {

// [SD-ID rule="…" …]: what a SIEM filters on.
std::string structured_data(const events::Event& e, const SyslogFormat& f, int severity) {
    std::string sd = "[" + f.sd_id;
    auto param = [&](const char* name, const std::string& value) {
        if (!value.empty())
            sd += std::string(" ") + name + "=\"" + sd_escape(value) + "\"";
    };
    param("rule", e.rule);
    param("priority", priority_name(severity));
    param("session", std::to_string(e.session));
    param("agent", e.agent);
    param("verdict", e.verdict);
    param("action", e.action);
    param("op", e.op);
    param("path", e.path);
    param("pid", e.tgid ? std::to_string(e.tgid) : "");
    param("uid", std::to_string(e.uid));
    param("exe", e.exe);
    param("err", e.err ? events::errno_name(e.err) : "");
    param("risk", e.risk ? std::to_string(e.risk) : "");
    param("level", e.level);
    param("container", e.container_id);
    param("workspace", e.workspace);
    param("tool_use_id", e.tool_use_id);
    param("count", e.count ? std::to_string(e.count) : "");
    return sd + "]";
}

std::string message_text(const events::Event& e) {
    return sanitize_utf8(e.output.empty() ? events::output_line(e) : e.output);
}

// MSG is cut (on a UTF-8 boundary) so the whole message fits max_size; the
// header and structured data are never cut.
std::string fit(std::string head, const std::string& text, size_t max_size) {
    size_t room = max_size > head.size() ? max_size - head.size() : 0;
    return head + utf8_prefix(text, room);
}

}  // namespace

std::string format_rfc5424(const events::Event& e, const SyslogFormat& f) {
    int severity = event_priority(e);
    std::string head = "<" + std::to_string(f.facility * 8 + severity) + ">1 " +
                       syslog_timestamp(e.time_unix_ns) + " " + header_field(f.hostname, 255) + " " +
                       header_field(f.app_name, 48) + " " + header_field(f.procid, 128) + " " +
                       header_field(e.kind, 32) + " " + structured_data(e, f, severity) +
                       (f.bom ? " \xEF\xBB\xBF" : " ");
    return fit(std::move(head), message_text(e), f.max_size);
}

std::string format_local(const events::Event& e, const SyslogFormat& f) {
    int severity = event_priority(e);
    time_t secs = static_cast<time_t>(e.time_unix_ns / 1'000'000'000);
    struct tm tm {};
    localtime_r(&secs, &tm);
    char stamp[32];
    std::strftime(stamp, sizeof stamp, "%b %e %H:%M:%S", &tm);
    std::string head = "<" + std::to_string(f.facility * 8 + severity) + ">" + stamp + " " +
                       header_field(f.app_name, 48) + "[" + header_field(f.procid, 128) + "]: " +
                       structured_data(e, f, severity) + " ";
    return fit(std::move(head), message_text(e), f.max_size);
}

}  // namespace bulkhead::exporters
