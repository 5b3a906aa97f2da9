// SPDX-License-Identifier: Apache-2.0
#include "vm/vm_host.h"

#include <sys/eventfd.h>
#include <cstring>
#include <filesystem>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include "session/sessions.h"

namespace bulkhead::vm {

using json = nlohmann::json;

std::vector<std::string> secrets_below(const std::string& workspace) {
    static const char* kSecrets[] = {
        ".ssh", ".aws", ".azure", ".config/gcloud", ".kube", ".docker/config.json", ".netrc", ".git-credentials",
        ".gnupg", ".npmrc", ".pypirc", ".claude/.credentials.json", ".claude.json", ".codex/auth.json",
        ".gemini/oauth_creds.json", ".gemini/mcp-oauth-tokens.json", ".config/gh/hosts.yml",
        ".config/github-copilot"};
    std::vector<std::string> out;
    for (const char* s : kSecrets)
        out.push_back(workspace + "/" + s);
    return out;
}

std::unique_ptr<VmHost> VmHost::start(const config::VmConfig& cfg, const std::string& supervisor_exe,
                                      std::string* error) {
    vmguard::ImageInputs in;
    in.kernel_tree = cfg.assets + "/kernel";
    in.guest_agent = vmguard::guest_agent_path();
    vmguard::VmSpec base;
    if (auto e = vmguard::build_image(in, cfg.assets, &base.image); !e.empty()) {
        *error = e;
        return nullptr;
    }
    base.run_dir = cfg.run_dir;
    base.limits = {cfg.vcpus, cfg.memory_mb, cfg.disk_mb, cfg.pids};
    base.supervisor = {supervisor_exe, "vm-supervise"};
    base.accel = cfg.accel == "kvm" ? vmguard::Accel::kKvm : vmguard::Accel::kTcg;
    base.egress = !cfg.egress.empty();
    std::vector<vmguard::EgressRule> egress;
    for (const auto& text : cfg.egress) {
        vmguard::EgressRule rule;
        if (auto bad = vmguard::parse_egress_rule(text, &rule)) {  // the config checked it; a caller may not have
            *error = "vm: " + *bad;
            return nullptr;
        }
        egress.push_back(rule);
    }
    vmguard::remove_stale_vms(cfg.run_dir);  // of a daemon that died with its supervisors
    Fd ev(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
    if (!ev.valid()) {
        *error = std::string("vm: eventfd: ") + std::strerror(errno);
        return nullptr;
    }
    std::unique_ptr<VmHost> h(new VmHost(cfg, std::move(base), std::move(ev)));
    h->egress_ = std::move(egress);
    h->pool_thread_ = std::thread([p = h.get()] { p->pool_loop(); });
    h->worker_thread_ = std::thread([p = h.get()] { p->worker_loop(); });
    return h;
}

VmHost::VmHost(const config::VmConfig& cfg, vmguard::VmSpec base, Fd event)
    : cfg_(cfg), base_(std::move(base)), event_(std::move(event)) {}

VmHost::~VmHost() {
    {
        std::lock_guard lk(mu_);
        stop_ = true;
    }
    wake_pool_.notify_all();
    wake_worker_.notify_all();
    probed_.notify_all();
    pool_filled_.notify_all();
    if (pool_thread_.joinable())
        pool_thread_.join();
    if (worker_thread_.joinable())
        worker_thread_.join();
    proxies_.clear();  // before their VMs
    ready_.clear();
    vms_.clear();
}

vmguard::VmSpec VmHost::spec_named(const std::string& name) {
    vmguard::VmSpec s = base_;
    s.name = name;
    return s;
}

void VmHost::wait_probe() {
    std::unique_lock lk(mu_);
    probed_.wait(lk, [&] { return probe_done_ || stop_; });
}

void VmHost::complete(Completion c) {
    {
        std::lock_guard lk(mu_);
        done_.push_back(std::move(c));
    }
    uint64_t one = 1;
    (void)!::write(event_.get(), &one, sizeof(one));
}

std::vector<Completion> VmHost::take() {
    uint64_t n;
    (void)!::read(event_.get(), &n, sizeof(n));
    std::lock_guard lk(mu_);
    return std::exchange(done_, {});
}

void VmHost::pool_loop() {
    // Probe once: /dev/kvm may exist and still not run a guest.
    if (cfg_.accel == "auto") {
        auto p = vmguard::probe_kvm(spec_named("probe"), std::chrono::seconds(20));  // one attempt
        std::lock_guard lk(mu_);
        base_.accel = p.usable ? vmguard::Accel::kKvm : vmguard::Accel::kTcg;
        accel_why_ = p.usable ? p.why : p.why + "; software emulation (TCG) instead";
    } else {
        std::lock_guard lk(mu_);
        accel_why_ = "configured (vm.accel: " + cfg_.accel + ")";
    }
    spdlog::info("vm: accel {}: {}", vmguard::accel_name(base_.accel), accel_why_);
    {
        std::lock_guard lk(mu_);
        probe_done_ = true;
    }
    probed_.notify_all();
    int failures = 0;
    for (;;) {
        std::string name;
        {
            std::unique_lock lk(mu_);
            wake_pool_.wait_for(lk, std::chrono::seconds(failures ? 30 : 3600), [&] {
                return stop_ || static_cast<int>(ready_.size()) < cfg_.pool;
            });
            if (stop_)
                return;
            if (static_cast<int>(ready_.size()) >= cfg_.pool)
                continue;
            name = "pool-" + std::to_string(++pool_serial_);
            pool_booting_ = true;
        }
        std::string err;
        auto vm = vmguard::Vm::boot(spec_named(name), &err);
        if (vm && !(err = vm->pause()).empty())
            vm.reset();
        std::lock_guard lk(mu_);
        pool_booting_ = false;
        pool_filled_.notify_all();
        if (!vm) {
            pool_error_ = err;
            spdlog::error("vm: warm pool: {}", err);
            ++failures;
            continue;
        }
        failures = 0;
        pool_error_.clear();
        spdlog::info("vm: warm pool: {} booted in {} ms ({} attempt(s)) and paused", name, vm->boot_time().count(),
                     vm->boot_attempts());
        ready_.push_back(std::move(vm));
    }
}

void VmHost::worker_loop() {
    for (;;) {
        std::function<void()> fn;
        {
            std::unique_lock lk(mu_);
            wake_worker_.wait(lk, [&] { return stop_ || !jobs_.empty(); });
            if (stop_)
                return;
            fn = std::move(jobs_.front());
            jobs_.pop_front();
        }
        fn();
    }
}

void VmHost::promote(PromoteRequest req) {
    std::lock_guard lk(mu_);
    jobs_.push_back([this, req = std::move(req)] {
        const auto t0 = std::chrono::steady_clock::now();
        Completion c{"promote", req.session, -1, 0, {{"ok", false}}};
        wait_probe();
        std::unique_ptr<vmguard::Vm> vm;
        std::string source = "the warm pool", err;
        {
            // A pool VM already booting is nearer than a second boot, which
            // would share the CPUs with it.
            std::unique_lock lk2(mu_);
            pool_filled_.wait_for(lk2, base_.boot_timeout * base_.boot_attempts, [&] { return stop_ || !ready_.empty() || !pool_booting_; });
            if (!ready_.empty()) {
                vm = std::move(ready_.front());
                ready_.pop_front();
            }
        }
        wake_pool_.notify_all();
        if (vm && !(err = vm->resume()).empty())
            vm.reset();
        if (!vm) {
            source = "a cold boot";
            vm = vmguard::Vm::boot(spec_named("s" + std::to_string(req.session)), &err);
        }
        if (vm)
            err = vm->attach(req.workspace, req.hide, req.uid, req.gid);
        if (!vm || !err.empty()) {
            c.result["error"] = err;
            return complete(std::move(c));
        }
        auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
        c.result = {{"ok", true},
                    {"vm", vm->name()},
                    {"exec_socket", vm->exec_socket()},
                    {"accel", vmguard::accel_name(vm->accel())},
                    {"source", source},
                    {"ms", ms.count()},
                    {"qemu_pid", vm->qemu_pid()},
                    {"egress", cfg_.egress}};
        if (!egress_.empty()) {
            uint64_t session = req.session;
            proxies_[session] = std::make_unique<vmguard::EgressProxy>(
                vm->net_socket(), egress_,
                [this, session](const vmguard::EgressDecision& d) {
                    complete({"egress", session, -1, 0,
                              {{"ok", true}, {"method", d.method}, {"host", d.host}, {"port", d.port},
                               {"address", d.address}, {"allowed", d.allowed}, {"reason", d.reason},
                               {"error", d.error}}});
                },
                [session](const std::string& why) { spdlog::warn("vm: egress of session {}: {}", session, why); });
        }
        vms_[req.session] = std::move(vm);
        complete(std::move(c));
    });
    wake_worker_.notify_all();
}

void VmHost::job(uint64_t session, int client_fd, uint64_t serial, std::function<json(vmguard::Vm&)> fn) {
    std::lock_guard lk(mu_);
    jobs_.push_back([this, session, client_fd, serial, fn = std::move(fn)] {
        Completion c{"job", session, client_fd, serial, {}};
        auto it = vms_.find(session);
        if (it == vms_.end())
            c.result = {{"ok", false}, {"error", "vm: session " + std::to_string(session) + " has no microVM"}};
        else if (!it->second->alive())
            c.result = {{"ok", false}, {"error", "vm: the microVM of session " + std::to_string(session) +
                                                     " is gone (QEMU exited); its changes are lost"}};
        else
            c.result = fn(*it->second);
        complete(std::move(c));
    });
    wake_worker_.notify_all();
}

void VmHost::discard(uint64_t session, int client_fd, uint64_t serial) {
    std::lock_guard lk(mu_);
    jobs_.push_back([this, session, client_fd, serial] {
        Completion c{"discard", session, client_fd, serial, {}};
        auto it = vms_.find(session);
        if (it == vms_.end()) {
            c.result = {{"ok", false}, {"error", "vm: session " + std::to_string(session) + " has no microVM"}};
        } else {
            proxies_.erase(session);
            it->second->stop();
            vms_.erase(it);
            c.result = {{"ok", true}};
        }
        complete(std::move(c));
    });
    wake_worker_.notify_all();
}

json VmHost::status() {
    std::lock_guard lk(mu_);
    return {{"accel", probe_done_ ? vmguard::accel_name(base_.accel) : "probing"},
            {"accel_why", accel_why_},
            {"pool_size", cfg_.pool},
            {"pool_ready", ready_.size()},
            {"pool_error", pool_error_},
            {"egress", cfg_.egress},
            {"kernel", base_.image.kernel}};
}

}  // namespace bulkhead::vm
