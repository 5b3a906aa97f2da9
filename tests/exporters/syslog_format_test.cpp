// SPDX-License-Identifier: Apache-2.0
// RFC 5424 formatting, piece by piece (the rsyslog tests check the whole
// message as a real receiver parses it).
#include <gtest/gtest.h>

#include "falco_json.h"
#include "syslog/syslog_format.h"
#include "syslog/transport.h"
#include "test_support.h"

namespace bulkhead::exporters {
namespace {

TEST(SyslogFormat, SdParamValueEscaping) {
    const std::pair<std::string, std::string> cases[] = {
        {"plain", "plain"},
        {"say \"hi\"", "say \\\"hi\\\""},
        {"a\\b", "a\\\\b"},
        {"end]", "end\\]"},
        {"[x=y]", "[x=y\\]"},
        {"caf\xC3\xA9", "caf\xC3\xA9"},            // valid UTF-8 stays
        {"bad\xFF", "bad\xEF\xBF\xBD"},            // invalid becomes U+FFFD
        {"cut\xE2\x82", "cut\xEF\xBF\xBD\xEF\xBF\xBD"},
        {"\xC0\xAF", "\xEF\xBF\xBD\xEF\xBF\xBD"},  // overlong '/'
    };
    for (const auto& [in, want] : cases)
        EXPECT_EQ(sd_escape(in), want) << in;
}

TEST(SyslogFormat, HeaderFields) {
    EXPECT_EQ(header_field("", 48), "-");
    EXPECT_EQ(header_field("node-1.example", 255), "node-1.example");
    EXPECT_EQ(header_field("two words", 48), "two_words");
    EXPECT_EQ(header_field("caf\xC3\xA9", 48), "caf__");
    EXPECT_EQ(header_field(std::string(300, 'h'), 255), std::string(255, 'h'));
}

TEST(SyslogFormat, Facilities) {
    const std::pair<const char*, int> ok[] = {{"kern", 0}, {"user", 1}, {"auth", 4}, {"authpriv", 10},
                                              {"local0", 16}, {"local7", 23}, {"0", 0}, {"23", 23}};
    for (const auto& [name, v] : ok)
        EXPECT_EQ(parse_facility(name), v) << name;
    for (const char* bad : {"", "local8", "24", "User", "-1", "999"})
        EXPECT_FALSE(parse_facility(bad)) << bad;
}

TEST(SyslogFormat, Timestamp) {
    EXPECT_EQ(syslog_timestamp(1767323045123456789LL), "2026-01-02T03:04:05.123456Z");
    EXPECT_EQ(syslog_timestamp(0), "1970-01-01T00:00:00.000000Z");
}

TEST(SyslogFormat, PriIsFacilityTimesEightPlusThePriority) {
    const std::pair<const char*, int> sev[] = {{"Emergency", 0}, {"Alert", 1}, {"Critical", 2}, {"Error", 3},
                                               {"Warning", 4}, {"Notice", 5}, {"Informational", 6},
                                               {"Debug", 7}};
    SyslogFormat f;
    f.facility = 10;
    for (const auto& [prio, s] : sev) {
        std::string msg = format_rfc5424(test::sample_event(0, prio), f);
        EXPECT_EQ(msg.substr(0, msg.find('>') + 1), "<" + std::to_string(80 + s) + ">") << prio;
    }
}

TEST(SyslogFormat, WholeMessage) {
    SyslogFormat f;
    f.hostname = "node-1";
    f.procid = "4242";
    auto e = test::sample_event(3);
    e.rule = "Read \"key\" [x]";
    EXPECT_EQ(format_rfc5424(e, f),
              "<10>1 2026-01-02T03:04:05.123456Z node-1 bulkhead 4242 file [bulkhead@32473 "
              "rule=\"Read \\\"key\\\" [x\\]\" priority=\"Critical\" session=\"42\" agent=\"claude-code\" "
              "verdict=\"deny\" action=\"block\" op=\"read\" path=\"/home/dev/.ssh/id_rsa-3\" pid=\"1003\" "
              "uid=\"1000\" exe=\"/usr/bin/cat\" err=\"EPERM\" risk=\"30\" level=\"bpf-lsm\" "
              "workspace=\"/home/dev/project\"] \xEF\xBB\xBF"
              "Denied read of /home/dev/.ssh/id_rsa-3 by cat (session=42 agent=claude-code)");
    f.bom = false;
    std::string no_bom = format_rfc5424(e, f);
    EXPECT_EQ(no_bom.find("\xEF\xBB\xBF"), std::string::npos);
}

TEST(SyslogFormat, LocalSocketMessageIsWhatSyslog3Writes) {
    setenv("TZ", "UTC", 1);
    tzset();
    SyslogFormat f;
    f.procid = "4242";
    f.facility = 4;
    auto e = test::sample_event(3);
    EXPECT_EQ(format_local(e, f),
              "<34>Jan  2 03:04:05 bulkhead[4242]: [bulkhead@32473 rule=\"Read SSH private key\" "
              "priority=\"Critical\" session=\"42\" agent=\"claude-code\" verdict=\"deny\" action=\"block\" "
              "op=\"read\" path=\"/home/dev/.ssh/id_rsa-3\" pid=\"1003\" uid=\"1000\" exe=\"/usr/bin/cat\" "
              "err=\"EPERM\" risk=\"30\" level=\"bpf-lsm\" workspace=\"/home/dev/project\"] "
              "Denied read of /home/dev/.ssh/id_rsa-3 by cat (session=42 agent=claude-code)");
    f.max_size = 480;
    e.output = std::string(1000, 'x');
    EXPECT_EQ(format_local(e, f).size(), 480u) << "MSG is cut, the header and fields are not";
}

TEST(SyslogFormat, LongMessagesAreCutOnACharacterBoundary) {
    SyslogFormat f;
    f.max_size = 600;
    auto e = test::sample_event(0);
    e.output.clear();
    for (int i = 0; i < 400; ++i)
        e.output += "\xC3\xA9";  // é, two octets
    std::string msg = format_rfc5424(e, f);
    EXPECT_LE(msg.size(), 600u);
    EXPECT_GT(msg.size(), 590u);
    EXPECT_EQ(sanitize_utf8(msg), msg) << "no sequence was cut in half";
}

TEST(SyslogFormat, OctetCountingFrame) {
    EXPECT_EQ(octet_frame("<13>1 - - - - - -"), "17 <13>1 - - - - - -");
    std::string utf8 = "\xC3\xA9";
    EXPECT_EQ(octet_frame(utf8), "2 " + utf8) << "MSG-LEN counts octets, not characters";
}

}  // namespace
}  // namespace bulkhead::exporters
