// SPDX-License-Identifier: Apache-2.0
#include "events/event.h"

#include <gtest/gtest.h>

#include <cstring>

#include "bpf_abi.h"

namespace bulkhead::events {
namespace {

struct EscapeCase {
    std::string raw;
    std::string want;
};

TEST(EscapePath, KeepsUtf8AndEscapesEverythingElse) {
    const EscapeCase cases[] = {
        {"/root/.ssh/id_ed25519", "/root/.ssh/id_ed25519"},
        {"/tmp/caf\xc3\xa9", "/tmp/caf\xc3\xa9"},            // valid UTF-8 stays
        {"/tmp/\xff\xfe", "/tmp/\\xff\\xfe"},                 // invalid bytes escaped
        {"/tmp/a\nb", "/tmp/a\\x0ab"},                        // newline cannot forge a line
        {"/tmp/back\\slash", "/tmp/back\\x5cslash"},          // escapes stay unambiguous
        {"/tmp/\xc0\xaf", "/tmp/\\xc0\\xaf"},                 // overlong encoding of '/'
        {"/tmp/\xe2\x80\xae", "/tmp/\xe2\x80\xae"},           // RTL override is valid UTF-8
        {std::string("/tmp/nul\0x", 10), "/tmp/nul\\x00x"},
    };
    for (const auto& c : cases)
        EXPECT_EQ(escape_path(c.raw), c.want) << c.raw;
}

TEST(OpName, JoinsBits) {
    EXPECT_EQ(op_name(BH_OP_READ), "read");
    EXPECT_EQ(op_name(BH_OP_READ | BH_OP_WRITE), "read|write");
    EXPECT_EQ(op_name(BH_OP_RENAME | BH_OP_CREATE), "create|rename");
    EXPECT_EQ(op_name(0), "none");
    EXPECT_EQ(evt_type_for(BH_OP_READ), "open");
    EXPECT_EQ(evt_type_for(BH_OP_LINK | BH_OP_CREATE), "link");
}

TEST(Decode, RejectsShortAndUnknownRecords) {
    std::string why;
    char small[8] = {};
    EXPECT_FALSE(decode(small, sizeof(small), &why));
    EXPECT_NE(why.find("shorter than an event header"), std::string::npos);

    bh_event_header h{};
    h.kind = 99;
    EXPECT_FALSE(decode(&h, sizeof(h), &why));
    EXPECT_EQ(why, "unknown event kind 99");

    h.kind = BH_EVT_FILE;  // a header alone is not a whole file event
    EXPECT_FALSE(decode(&h, sizeof(h), &why));
    EXPECT_NE(why.find("truncated"), std::string::npos);
}

TEST(Decode, FileEventFields) {
    auto ev = std::make_unique<bh_file_event>();
    std::memset(ev.get(), 0, sizeof(*ev));
    ev->hdr.kind = BH_EVT_FILE;
    ev->hdr.session_id = 42;
    ev->hdr.tgid = 1234;
    std::memcpy(ev->hdr.comm, "cat", 3);
    ev->op = BH_OP_READ;
    ev->rule_id = 3;
    ev->verdict = BH_VERDICT_DENY;
    ev->err = -EPERM;
    ev->ino = 77;
    const char path[] = "/root/.ssh/id_ed25519";
    ev->path_off = static_cast<__u16>(BH_PATH_MAX - (sizeof(path) - 1));
    std::memcpy(ev->path + ev->path_off, path, sizeof(path) - 1);

    std::string why;
    auto e = decode(ev.get(), sizeof(*ev), &why);
    ASSERT_TRUE(e) << why;
    EXPECT_EQ(e->kind, "file");
    EXPECT_EQ(e->session, 42u);
    EXPECT_EQ(e->tgid, 1234u);
    EXPECT_EQ(e->comm, "cat");
    EXPECT_EQ(e->op, "read");
    EXPECT_EQ(e->rule_id, 3u);
    EXPECT_EQ(e->verdict, "deny");
    EXPECT_EQ(e->err, EPERM);
    EXPECT_EQ(e->ino, 77u);
    EXPECT_EQ(e->path, "/root/.ssh/id_ed25519");

    ev->path_off = BH_PATH_MAX + 1;  // a corrupt offset is refused, not read past
    EXPECT_FALSE(decode(ev.get(), sizeof(*ev), &why));
    EXPECT_NE(why.find("out of range"), std::string::npos);
}

TEST(ToJson, HasFalcoShapeAndSession) {
    Event e;
    e.kind = "file";
    e.rule = "Read SSH private key";
    e.priority = "Critical";
    e.session = 9;
    e.agent = "claude";
    e.verdict = "deny";
    e.op = "read";
    e.evt_type = "open";
    e.err = EPERM;
    e.path = "/root/.ssh/id_rsa";
    e.level = "bpf-lsm";
    auto j = to_json(e, "host1");
    for (const char* key : {"time", "rule", "priority", "source", "tags", "hostname", "output",
                            "output_fields"})
        EXPECT_TRUE(j.contains(key)) << key;
    EXPECT_EQ(j["rule"], "Read SSH private key");
    EXPECT_EQ(j["output_fields"]["agent.session"], "9");
    EXPECT_EQ(j["output_fields"]["evt.res"], "EPERM");
    EXPECT_EQ(j["output_fields"]["fd.name"], "/root/.ssh/id_rsa");
    EXPECT_EQ(j["output_fields"]["agent.level"], "bpf-lsm");
}

}  // namespace
}  // namespace bulkhead::events
