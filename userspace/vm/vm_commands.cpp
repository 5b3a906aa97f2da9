// SPDX-License-Identifier: Apache-2.0
// The client side of `bulkhead vm ...` and `bulkhead sessions promote`.
#include <unistd.h>

#include <filesystem>
#include <iostream>

#include "commands.h"
#include "control/protocol.h"
#include "error.h"
#include "vmguard/apply.h"
#include "vmguard/channel.h"
#include "vmguard/image.h"

namespace bulkhead::commands {

using json = nlohmann::json;

namespace {

json request(const std::string& socket, const json& req) {
    auto r = control::Client::connect(socket).request(req);
    if (!r.value("ok", false))
        throw FatalError(r.value("error", "vm: the daemon refused"));
    return r;
}

}  // namespace

int vm_prepare(const std::string& assets, const std::string& kernel_tree) {
    std::string tree = kernel_tree;
    if (tree.empty()) {
        std::cout << "vm: fetching Debian's kernel package into " << assets << "/kernel (nothing is installed)\n";
        if (auto e = vmguard::fetch_kernel(assets, &tree); !e.empty())
            throw FatalError(e);
    } else if (tree != assets + "/kernel") {
        // The daemon looks in assets/kernel: point it at the given tree.
        std::error_code ec;
        std::filesystem::create_directories(assets, ec);
        std::filesystem::remove(assets + "/kernel", ec);
        std::filesystem::create_directory_symlink(std::filesystem::absolute(tree), assets + "/kernel", ec);
        if (ec)
            throw FatalError("vm: cannot link " + assets + "/kernel to " + tree + ": " + ec.message());
    }
    vmguard::ImageInputs in;
    in.kernel_tree = assets + "/kernel";
    in.guest_agent = vmguard::guest_agent_path();
    vmguard::Image img;
    if (auto e = vmguard::build_image(in, assets, &img); !e.empty())
        throw FatalError(e);
    std::cout << "vm: kernel " << img.kernel << "\nvm: initramfs " << img.initramfs << " ("
              << std::filesystem::file_size(img.initramfs) / 1024 << " KiB)\n";
    return 0;
}

int vm_exec(const std::string& socket, const std::string& id, const std::vector<std::string>& command) {
    if (command.empty())
        throw FatalError("vm exec: no command (bulkhead vm exec --session ID -- CMD ARGS...)", 2);
    auto r = request(socket, {{"op", "vm_exec_socket"}, {"session", id}});
    std::string err;
    auto ch = vmguard::Channel::connect(r.value("exec_socket", ""), std::chrono::milliseconds(5'000), &err);
    if (!ch)
        throw FatalError("vm exec: " + err);
    vmguard::ExecRequest req;
    req.argv = command;
    char cwd[4096];
    if (::getcwd(cwd, sizeof(cwd)))
        req.cwd = cwd;
    req.uid = ::getuid();
    req.gid = ::getgid();
    req.timeout = std::chrono::seconds(r.value("timeout_s", 600));
    auto res = vmguard::exec(
        *ch, /* id = */ 1, req, STDIN_FILENO, [](const std::string& s) { std::cout << s << std::flush; },
        [](const std::string& s) { std::cerr << s << std::flush; });
    if (!res.error.empty())
        throw FatalError("vm exec: " + res.error, 125);
    if (res.timed_out) {
        std::cerr << "bulkhead: vm exec: the command ran out of its wall time in the VM\n";
        return 124;
    }
    return res.signal ? 128 + res.signal : res.code;
}

int run_in_vm(const std::string& socket, const std::string& agent, const std::string& workspace,
              const std::vector<std::string>& command) {
    namespace fs = std::filesystem;
    std::string ws = fs::weakly_canonical(workspace.empty() ? fs::current_path() : fs::path(workspace)).string();
    auto r = request(socket, {{"op", "start_session"}, {"agent", agent}, {"workspace", ws}, {"isolate", "vm"}});
    std::string id = r.value("session", "");
    std::cerr << "bulkhead: session " << id << " starts in a microVM (workspace " << ws << ", read-only to it)\n";
    // The daemon boots or takes a VM; wait for it.
    for (int i = 0;; i++) {
        auto s = request(socket, {{"op", "session"}, {"session", id}})["session"];
        if (!s.value("vm", "").empty())
            break;
        if (s.value("state", "") != "promoting")
            throw FatalError("run: session " + id + " did not get a microVM (state " + s.value("state", "") +
                             "; see bulkhead events --session " + id + ")");
        if (i > 3000)
            throw FatalError("run: no microVM for session " + id + " after 5 minutes");
        ::usleep(100'000);
    }
    std::string cwd = fs::current_path().string();
    if (cwd != ws && !cwd.starts_with(ws + "/"))
        fs::current_path(ws);
    int code = vm_exec(socket, id, command);
    std::cerr << "bulkhead: the session's changes stay in its VM: bulkhead vm diff " << id << ", then vm apply or vm discard\n";
    return code;
}

int vm_diff(const std::string& socket, const std::string& id, bool as_json) {
    auto r = request(socket, {{"op", "vm_diff"}, {"session", id}});
    if (as_json) {
        std::cout << r.dump() << "\n";
        return 0;
    }
    std::cout << "changes of session " << id << " to " << r.value("workspace", "") << ":\n";
    for (const auto& c : r["changes"]) {
        std::string line = "  " + c.value("op", "") + " " + c.value("path", "");
        if (c.value("type", "") == "d")
            line += "/";
        else if (c.value("type", "") == "l")
            line += " -> " + c.value("target", "");
        else if (c.value("op", "") != "D")
            line += " (" + std::to_string(c.value("size", 0)) + " bytes)";
        if (!c.value("review", "").empty())
            line += "   [needs review: " + c.value("review", "") + "]";
        std::cout << line << "\n";
    }
    if (r["changes"].empty())
        std::cout << "  (none)\n";
    return 0;
}

int vm_apply(const std::string& socket, const std::string& id, const std::vector<std::string>& paths,
             bool allow_protected) {
    auto r = control::Client::connect(socket).request(
        {{"op", "vm_apply"}, {"session", id}, {"paths", paths}, {"allow_protected", allow_protected}});
    if (!r.contains("applied"))
        throw FatalError(r.value("error", "vm apply: the daemon refused"));
    for (const auto& a : r["applied"])
        std::cout << "applied  " << a.get<std::string>() << "\n";
    for (const auto& x : r["refused"])
        std::cout << "refused  " << x.value("path", "") << ": " << x.value("why", "")
                  << " (review it, then --allow-protected --paths " << x.value("path", "") << ")\n";
    for (const auto& x : r["failed"])
        std::cout << "failed   " << x.value("path", "") << ": " << x.value("why", "") << "\n";
    return r["failed"].empty() && r["refused"].empty() ? 0 : 1;
}

int vm_discard(const std::string& socket, const std::string& id) {
    request(socket, {{"op", "vm_discard"}, {"session", id}});
    std::cout << "discarded the microVM of session " << id << " and its changes\n";
    return 0;
}

int session_promote(const std::string& socket, const std::string& id) {
    auto r = request(socket, {{"op", "promote"}, {"session", id}});
    std::cout << r.value("detail", "") << "\n";
    return 0;
}

}  // namespace bulkhead::commands
