// SPDX-License-Identifier: Apache-2.0
// The fields a condition or an output can name: Falco's syscall fields that
// bulkhead provides, and bulkhead's own (`agent.*`, `fd.ino`, ...).
//
// Each field has a type that decides which operators and values the type
// checker accepts and how the evaluator compares. Events reach the evaluator
// through FieldSource, so rules/ stays free of the daemon's event struct.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace bulkhead::rules {

enum class FieldType : uint8_t {
    kString,  // also paths and byte buffers
    kNumber,  // signed or unsigned integers (compared as 128-bit)
    kBool,
    kIp,      // an address; `=` and `in` also accept CIDR networks
};

enum class FieldArg : uint8_t {
    kNone,      // `proc.name`
    kIndex,     // `proc.aname[2]`; without it, proc.aname means any ancestor
    kName,      // `evt.arg.flags`, `evt.arg[flags]`
};

enum class FieldId : uint16_t {
    kEvtType, kEvtRes, kEvtRawres, kEvtNum, kEvtIsOpenRead, kEvtIsOpenWrite, kEvtArg, kEvtArgs,
    kEvtDir, kEvtHostname,
    kProcName, kProcExe, kProcExepath, kProcCmdline, kProcArgs, kProcPid, kProcPpid, kProcPname,
    kProcPexe, kProcPexepath, kProcPcmdline, kProcAname, kProcApid, kProcAexepath, kProcCwd,
    kProcTty, kProcSname, kProcIsExeFromMemfd, kProcExeIno,
    kFdName, kFdDirectory, kFdFilename, kFdNameraw, kFdTypechar, kFdType, kFdNum, kFdSip,
    kFdRip, kFdIp, kFdNet, kFdSnet, kFdLport, kFdRport, kFdSport, kFdL4proto, kFdIno, kFdDev,
    kFdSipName, kFdInOtherWorkspace,
    kUserName, kUserUid, kUserLoginuid, kUserLoginname, kGroupGid, kGroupName,
    kContainerId, kContainerImageRepository, kContainerPrivileged, kK8sNsName, kK8sPodName,
    kAgentSession, kAgentName, kAgentPid, kAgentWorkspace, kAgentRisk, kAgentToolUseId,
    kAgentToolName, kAgentVerdict, kAgentLevel, kAgentTainted,
    kToolInput,
    kCount,
};

struct FieldInfo {
    std::string_view name;
    FieldId id;
    FieldType type;
    FieldArg arg;
    std::string_view desc;
};

// A field as a check names it, resolved once when a rule is compiled.
struct FieldRef {
    const FieldInfo* info = nullptr;
    std::string arg;  // kName: the argument; kIndex: the digits
    int index = -1;   // kIndex: parsed; -1 when absent
};

// What a FieldSource hands back. `str` must stay valid for as long as the
// source lives (the evaluator caches it for the whole event).
struct FieldValue {
    FieldType type = FieldType::kString;
    std::string_view str;
    __int128 num = 0;
    bool boolean = false;
};

// One event, seen as fields. Returns false when the event does not carry the
// field; Falco's rule then is that every comparison on it is false.
class FieldSource {
public:
    virtual ~FieldSource() = default;
    virtual bool get(const FieldRef& field, FieldValue* out) const = 0;
};

// The field named `name` (without its `[arg]`), or nullptr. `evt.arg.X` is
// looked up as "evt.arg" with arg "X" by resolve_field().
const FieldInfo* find_field(std::string_view name);

// Every field, in FieldId order; for `bulkhead rules fields` and docs.
const FieldInfo* all_fields(size_t* count);

// Why a field bulkhead does not provide cannot be evaluated: "" when the name
// is not a Falco field either (then it is an error, not unsupported).
std::string unsupported_field_reason(std::string_view name);

// Resolves `name` and `arg` as written in a condition or output, or fills
// *error ("unknown field 'x'", "proc.aname takes a numeric index").
bool resolve_field(std::string_view name, std::string_view arg, bool has_arg, FieldRef* out,
                   std::string* error);

std::string_view to_string(FieldType type);

}  // namespace bulkhead::rules
