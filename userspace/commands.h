// SPDX-License-Identifier: Apache-2.0
// The client-side commands main.cpp dispatches to (the daemon, run and
// doctor live in their own components).
#pragma once

#include <optional>
#include <cstdint>
#include <string>
#include <vector>

namespace bulkhead::commands {

int status(const std::string& socket, bool json);
int events(const std::string& socket, bool follow, bool json, const std::optional<std::string>& session);
int sessions(const std::string& socket, bool json);
// `bulkhead sessions show ID`: the session's story, tool call by tool call.
int session_show(const std::string& socket, const std::string& id, bool json);
// `bulkhead sessions thaw ID`: resumes a session a risk threshold froze.
int session_thaw(const std::string& socket, const std::string& id);
// `bulkhead hook AGENT`: the agent's hook handler (stdin JSON, stdout JSON).
int hook(const std::string& agent, const std::string& socket, const std::string& unreachable);
// `bulkhead install-hooks`: adds (or removes) the hook handler in an agent's settings.
struct InstallHooksOptions {
    std::string agent, scope, project_dir, hook_socket, unreachable;
    bool uninstall = false;
};
int install_hooks(const InstallHooksOptions& o);
int unload(const std::string& pin_root);

// microVMs (userspace/vm/vm_commands.cpp).
// `bulkhead vm prepare`: Debian's kernel and the guest image into `assets`.
int vm_prepare(const std::string& assets, const std::string& kernel_tree);
// `bulkhead vm exec --session ID -- CMD`: runs CMD in the session's VM; its exit status.
int vm_exec(const std::string& socket, const std::string& id, const std::vector<std::string>& command);
int vm_diff(const std::string& socket, const std::string& id, bool json);
int vm_apply(const std::string& socket, const std::string& id, const std::vector<std::string>& paths,
             bool allow_protected);
int vm_discard(const std::string& socket, const std::string& id);
// `bulkhead run --isolate vm -- CMD`: a session that lives in a microVM from
// its start; the command's exit status.
int run_in_vm(const std::string& socket, const std::string& agent, const std::string& workspace,
              const std::vector<std::string>& command);
// `bulkhead sessions promote ID`.
int session_promote(const std::string& socket, const std::string& id);
int reload(const std::string& socket);
// `bulkhead approve|deny ID [--session]`: answers a held `ask` request.
int decide(const std::string& socket, const std::string& id, bool allow, bool for_session);

// `bulkhead audit verify`: 0 when the chain is intact, 1 at the first broken,
// missing or reordered record (named by line and sequence), 2 on an error.
int audit_verify(const std::string& log, const std::string& public_key, const std::string& checkpoint, bool json);

// `bulkhead events -f --grpc ADDR`: a client of the daemon's gRPC sink.
struct GrpcEventsOptions {
    std::string address, ca, cert, key, server_name;
    std::string min_priority;
    std::vector<std::string> rules, verdicts;
    std::vector<uint64_t> sessions;
    bool alerts_only = false;
};
int events_grpc(const GrpcEventsOptions& o, bool json);

}  // namespace bulkhead::commands
