// SPDX-License-Identifier: Apache-2.0
#include "guards/loader.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <spdlog/spdlog.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <functional>
#include <set>

#include "bpf_abi.h"
#include "error.h"
#include "fd.h"
#include "file_guard.skel.h"
#include "net_guard.skel.h"
#include "observer.skel.h"
#include "self_guard.skel.h"
#include "sessions.skel.h"

namespace bulkhead::guards {

namespace fs = std::filesystem;

namespace {

constexpr long kBpfFsMagic = 0xcafe4a11;
constexpr long kTraceFsMagic = 0x74726163;

int libbpf_log(enum libbpf_print_level level, const char* fmt, va_list ap) {
    if (level == LIBBPF_DEBUG)
        return 0;
    // Verifier logs arrive as one message of many KiB; keep all of it.
    char* buf = nullptr;
    int n = vasprintf(&buf, fmt, ap);
    std::string line(n > 0 ? buf : "", n > 0 ? static_cast<size_t>(n) : 0);
    free(buf);
    while (!line.empty() && line.back() == '\n')
        line.pop_back();
    if (level == LIBBPF_WARN)
        spdlog::warn("libbpf: {}", line);
    else
        spdlog::debug("libbpf: {}", line);
    return 0;
}

std::string link_pin(const std::string& root, const std::string& obj, const char* prog) {
    return root + "/links/" + obj + "__" + prog;
}

}  // namespace

// One skeleton, type-erased: the loader treats all guards alike.
struct Loader::Object {
    std::string name;
    bpf_object* obj = nullptr;
    std::set<std::string> unavailable;  // programs whose hook this kernel lacks
    std::function<int()> load;
    std::function<void()> destroy;
    ~Object() {
        if (destroy)
            destroy();
    }
};

namespace {

template <typename Skel>
std::unique_ptr<Loader::Object> open_skeleton(const std::string& name,
                                              Skel* (*open)(const bpf_object_open_opts*),
                                              int (*load)(Skel*), void (*destroy)(Skel*),
                                              const std::string& pin_root) {
    LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = pin_root.c_str());
    Skel* skel = open(&opts);
    if (!skel)
        throw FatalError(errno_message(name + ": failed to open BPF object", errno));
    auto o = std::make_unique<Loader::Object>();
    o->name = name;
    o->obj = skel->obj;
    o->load = [skel, load] { return load(skel); };
    o->destroy = [skel, destroy] { destroy(skel); };
    return o;
}

int map_fd(bpf_object* obj, const char* name) {
    bpf_map* m = bpf_object__find_map_by_name(obj, name);
    int fd = m ? bpf_map__fd(m) : -1;
    if (fd < 0)
        throw FatalError(std::string("loader: map ") + name + " missing after load");
    return fd;
}

}  // namespace

void ensure_bpffs() {
    struct statfs st{};
    if (statfs("/sys/fs/bpf", &st) == 0 && st.f_type == kBpfFsMagic)
        return;
    ::mkdir("/sys/fs/bpf", 0700);
    if (::mount("bpf", "/sys/fs/bpf", "bpf", 0, "mode=0700") != 0)
        throw FatalError(errno_message("loader: failed to mount bpffs at /sys/fs/bpf", errno));
    spdlog::info("loader: mounted bpffs at /sys/fs/bpf");
}

std::string ensure_tracefs() {
    // libbpf resolves tracepoints under debugfs when it is mounted, else tracefs.
    std::error_code ec;
    if (fs::exists("/sys/kernel/debug/tracing/events", ec))
        return "/sys/kernel/debug/tracing";
    struct statfs st{};
    if (statfs("/sys/kernel/tracing", &st) == 0 && st.f_type == kTraceFsMagic)
        return "/sys/kernel/tracing";
    if (::mount("tracefs", "/sys/kernel/tracing", "tracefs", 0, nullptr) != 0)
        throw FatalError(errno_message("loader: failed to mount tracefs at /sys/kernel/tracing", errno));
    spdlog::info("loader: mounted tracefs at /sys/kernel/tracing");
    return "/sys/kernel/tracing";
}

bool is_loaded(const std::string& pin_root) {
    std::error_code ec;
    return fs::exists(pin_root + "/links", ec) && !fs::is_empty(pin_root + "/links", ec);
}

std::unique_ptr<Loader> Loader::load(const LoadOptions& opts) {
    // A first load that fails must not leave half-pinned maps behind for the
    // next daemon to adopt; an adopted state is left exactly as it was.
    bool had_state = is_loaded(opts.pin_root);
    try {
        return load_impl(opts);
    } catch (const FatalError&) {
        if (!had_state)
            unload(opts.pin_root);
        throw;
    }
}

std::unique_ptr<Loader> Loader::load_impl(const LoadOptions& opts) {
    libbpf_set_print(libbpf_log);
    ensure_bpffs();
    std::error_code ec;
    fs::create_directories(opts.pin_root + "/links", ec);
    if (ec)
        throw FatalError("loader: cannot create " + opts.pin_root + "/links: " + ec.message());

    std::unique_ptr<Loader> l(new Loader());
    l->objects_.push_back(open_skeleton<sessions_bpf>("sessions", sessions_bpf__open_opts,
                                                      sessions_bpf__load, sessions_bpf__destroy,
                                                      opts.pin_root));
    l->objects_.push_back(open_skeleton<file_guard_bpf>(
        "file_guard", file_guard_bpf__open_opts, file_guard_bpf__load, file_guard_bpf__destroy,
        opts.pin_root));
    l->objects_.push_back(open_skeleton<self_guard_bpf>(
        "self_guard", self_guard_bpf__open_opts, self_guard_bpf__load, self_guard_bpf__destroy,
        opts.pin_root));
    l->objects_.push_back(open_skeleton<observer_bpf>("observer", observer_bpf__open_opts,
                                                      observer_bpf__load, observer_bpf__destroy,
                                                      opts.pin_root));
    l->objects_.push_back(open_skeleton<net_guard_bpf>("net_guard", net_guard_bpf__open_opts,
                                                       net_guard_bpf__load, net_guard_bpf__destroy,
                                                       opts.pin_root));
    const std::string tracefs = ensure_tracefs();
    Fd cgroup;
    if (!opts.cgroup_root.empty()) {
        cgroup = Fd(::open(opts.cgroup_root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (!cgroup.valid())
            throw FatalError(errno_message("loader: cannot open the cgroup v2 root " + opts.cgroup_root, errno));
    }
    const int cgroup_fd = cgroup.get();

    // Configure: a program whose link is pinned already enforces; adopt it
    // instead of loading a second copy.
    int adopted = 0, fresh = 0;
    for (auto& o : l->objects_) {
        bpf_program* p;
        bpf_object__for_each_program(p, o->obj) {
            // A syscall tracepoint the kernel was built without (init_module
            // with CONFIG_MODULES off): that call goes unobserved, said once.
            std::string sec = bpf_program__section_name(p);
            if (sec.rfind("tracepoint/", 0) == 0 &&
                !fs::exists(tracefs + "/events/" + sec.substr(11), ec)) {
                spdlog::warn("{}: {} is not in this kernel; {} is not observed", o->name, sec,
                             bpf_program__name(p));
                o->unavailable.insert(bpf_program__name(p));
                bpf_program__set_autoload(p, false);
                continue;
            }
            // Without BPF LSM (level 2) or a cgroup v2 root, those hooks
            // stay unloaded; the level the daemon reports says so.
            if ((sec.rfind("lsm/", 0) == 0 && !opts.lsm) ||
                (sec.rfind("cgroup/", 0) == 0 && cgroup_fd < 0)) {
                o->unavailable.insert(bpf_program__name(p));
                bpf_program__set_autoload(p, false);
                continue;
            }
            bool pinned = fs::exists(link_pin(opts.pin_root, o->name, bpf_program__name(p)), ec);
            bool load_it = !pinned || opts.replace;
            bpf_program__set_autoload(p, load_it);
            load_it ? ++fresh : ++adopted;
        }
    }

    for (auto& o : l->objects_) {
        auto t0 = std::chrono::steady_clock::now();
        int err = o->load();
        spdlog::info("loader: {}: loaded and verified in {} ms", o->name,
                     std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::steady_clock::now() - t0).count());
        if (err)
            throw FatalError(o->name + ": failed to load: " + std::strerror(-err) +
                             (err == -EPERM ? " (is 'bpf' in /sys/kernel/security/lsm? run "
                                              "`bulkhead doctor`)"
                                            : " (see the libbpf messages above)"));
    }

    // Check the pinned state speaks our ABI before trusting it.
    l->maps_ = MapFds{
        .guard_config = map_fd(l->objects_[0]->obj, "guard_config"),
        .stats = map_fd(l->objects_[0]->obj, "stats"),
        .events = map_fd(l->objects_[0]->obj, "events"),
        .session_by_cg = map_fd(l->objects_[0]->obj, "session_by_cg"),
        .agent_exes = map_fd(l->objects_[0]->obj, "agent_exes"),
        .inode_policy = map_fd(l->objects_[0]->obj, "inode_policy"),
        .dir_patterns = map_fd(l->objects_[0]->obj, "dir_patterns"),
        .dir_names = map_fd(l->objects_[0]->obj, "dir_names"),
        .name_patterns = map_fd(l->objects_[0]->obj, "name_patterns"),
        .ancestor_devs = map_fd(l->objects_[0]->obj, "ancestor_devs"),
        .protected_tgids = map_fd(l->objects_[0]->obj, "protected_tgids"),
        .session_by_tgid = map_fd(l->objects_[0]->obj, "session_by_tgid"),
        .session_state = map_fd(l->objects_[0]->obj, "session_state"),
        .net_policy = map_fd(l->objects_[0]->obj, "net_policy"),
        .net_addrs = map_fd(l->objects_[0]->obj, "net_addrs"),
        .net_ports = map_fd(l->objects_[0]->obj, "net_ports"),
    };
    __u32 zero = 0;
    bh_config cfg{};
    if (bpf_map_lookup_elem(l->maps_.guard_config, &zero, &cfg) != 0)
        throw FatalError(errno_message("loader: cannot read guard_config", errno));
    if (adopted && cfg.abi_version != BH_ABI_VERSION)
        throw FatalError("loader: pinned state under " + opts.pin_root + " has ABI " +
                         std::to_string(cfg.abi_version) + ", this binary speaks ABI " +
                         std::to_string(BH_ABI_VERSION) + "; run `bulkhead unload` first");
    if (cfg.abi_version != BH_ABI_VERSION) {
        cfg.abi_version = BH_ABI_VERSION;
        if (bpf_map_update_elem(l->maps_.guard_config, &zero, &cfg, BPF_ANY) != 0)
            throw FatalError(errno_message("loader: cannot write guard_config", errno));
    }

    // Attach and pin. Replacing a pin releases the old link only after the
    // new program is attached, so enforcement never pauses.
    for (auto& o : l->objects_) {
        bpf_program* p;
        bpf_object__for_each_program(p, o->obj) {
            if (o->unavailable.count(bpf_program__name(p)))
                continue;
            std::string id = o->name + "/" + bpf_program__name(p);
            l->programs_.push_back(id);
            if (!bpf_program__autoload(p))
                continue;
            std::string sec = bpf_program__section_name(p);
            bool cgroup = sec.rfind("cgroup/", 0) == 0;
            bpf_link* link = cgroup ? bpf_program__attach_cgroup(p, cgroup_fd) : bpf_program__attach(p);
            if (!link && cgroup) {
                throw FatalError(errno_message(o->name + ": failed to attach " + sec + " to " +
                                                   opts.cgroup_root, errno));
            }
            if (!link) {
                throw FatalError(errno_message(o->name + ": failed to attach " + sec, errno) +
                                 (sec.rfind("lsm/", 0) == 0
                                      ? " (is 'bpf' in /sys/kernel/security/lsm?)"
                                      : " (is tracefs mounted at " + tracefs + "?)"));
            }
            std::string pin = link_pin(opts.pin_root, o->name, bpf_program__name(p));
            std::string tmp = pin + "_new";  // bpffs refuses names with dots
            ::unlink(tmp.c_str());
            int err = bpf_link__pin(link, tmp.c_str());
            if (err) {
                bpf_link__destroy(link);
                throw FatalError(errno_message("loader: failed to pin link at " + tmp, -err));
            }
            bpf_link__destroy(link);  // the pin holds the link now
            if (::rename(tmp.c_str(), pin.c_str()) != 0)
                throw FatalError(errno_message("loader: failed to move pin " + tmp + " to " + pin, errno));
        }
    }
    l->state_ = adopted && !opts.replace ? LoadState::kAdopted : LoadState::kFresh;
    spdlog::info("loader: {} programs enforcing ({} adopted from {}, {} loaded)",
                 l->programs_.size(), opts.replace ? 0 : adopted, opts.pin_root,
                 opts.replace ? fresh + adopted : fresh);
    return l;
}

Loader::~Loader() = default;

int unload(const std::string& pin_root) {
    std::error_code ec;
    bool exists = fs::exists(pin_root, ec);
    if (ec)  // e.g. EPERM from the self guard inside a session: never "nothing to do"
        throw FatalError("unload: cannot read " + pin_root + ": " + ec.message());
    if (!exists)
        return 0;
    int removed = 0;
    // Links first: enforcement stops at once, then the maps go.
    for (const char* sub : {"/links", ""}) {
        fs::path dir = pin_root + sub;
        if (!fs::exists(dir, ec))
            continue;
        fs::directory_iterator it(dir, ec);
        if (ec)
            throw FatalError("unload: cannot list " + dir.string() + ": " + ec.message());
        for (const auto& entry : it) {
            if (entry.is_directory())
                continue;
            if (::unlink(entry.path().c_str()) != 0)
                throw FatalError(errno_message("unload: cannot remove " + entry.path().string(), errno));
            ++removed;
        }
    }
    ::rmdir((pin_root + "/links").c_str());
    ::rmdir(pin_root.c_str());
    return removed;
}

}  // namespace bulkhead::guards
