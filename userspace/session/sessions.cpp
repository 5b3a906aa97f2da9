// SPDX-License-Identifier: Apache-2.0
#include "session/sessions.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <fstream>
#include <regex>
#include <sstream>

#include "events/event.h"

namespace bulkhead::session {

nlohmann::json to_json(const Session& s) {
    return {
        {"id", std::to_string(s.id)},
        {"agent", s.agent},
        {"uid", s.uid},
        {"workspace", s.workspace},
        {"start", events::rfc3339_ns(s.start_unix_ns)},
        {"cgroup", s.cgroup},
        {"leader_pid", s.leader_pid},
        {"state", s.state},
        {"origin", s.origin},
        {"level", s.level},
        {"tainted", !s.taint.empty()},
        {"taint", s.taint},
        {"denied", s.denied},
        {"risk", s.risk},
        {"audited", s.audited},
        {"vm", s.vm},
        {"relaunch", s.relaunch},
        {"vm_deadline", s.vm_deadline_unix_ns ? events::rfc3339_ns(s.vm_deadline_unix_ns) : ""},
    };
}

std::string cgroup2_root() {
    std::ifstream in("/proc/self/mountinfo");
    std::string line;
    std::string best;
    while (std::getline(in, line)) {
        // ... mountpoint ... - fstype source options
        auto dash = line.find(" - ");
        if (dash == std::string::npos)
            continue;
        std::istringstream rest(line.substr(dash + 3));
        std::string fstype;
        rest >> fstype;
        if (fstype != "cgroup2")
            continue;
        std::istringstream head(line.substr(0, dash));
        std::string id, parent, devno, root, mnt;
        head >> id >> parent >> devno >> root >> mnt;
        if (root == "/" && (best.empty() || mnt.size() < best.size()))
            best = mnt;
    }
    return best;
}

std::optional<std::string> cgroup_of(uint32_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/cgroup");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("0::", 0) == 0)
            return line.substr(3);
    return std::nullopt;
}

std::string read_proc(const std::string& path, size_t limit) {
    std::string out;
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return out;
    char buf[4096];
    ssize_t n;
    while (out.size() < limit && (n = ::read(fd, buf, sizeof(buf))) > 0)
        out.append(buf, static_cast<size_t>(n));
    ::close(fd);
    if (out.size() > limit)
        out.resize(limit);
    return out;
}

std::string comm_of(uint32_t pid) {
    std::string comm = read_proc("/proc/" + std::to_string(pid) + "/comm", 64);
    if (!comm.empty() && comm.back() == '\n')
        comm.pop_back();
    return comm;
}

std::optional<Cmdline> cmdline_of(uint32_t pid, const std::string& comm) {
    std::string raw = read_proc("/proc/" + std::to_string(pid) + "/cmdline", 4096);
    if (raw.empty())
        return std::nullopt;
    size_t first = raw.find('\0');
    std::string args = first == std::string::npos ? "" : raw.substr(first + 1);
    for (auto& c : args)
        if (c == '\0')
            c = ' ';
    while (!args.empty() && args.back() == ' ')
        args.pop_back();
    return Cmdline{raw.substr(0, first), events::escape_path(args.empty() ? comm : comm + " " + args)};
}

std::optional<std::string> container_id_of(uint32_t pid) {
    std::string all = read_proc("/proc/" + std::to_string(pid) + "/cgroup", 64 * 1024);
    if (all.empty())
        return std::nullopt;
    static const std::regex id_re("(?:docker-|cri-containerd-|crio-|libpod-|/docker/|/kubepods[^\n]*/)"
                                  "([0-9a-f]{64})");
    std::smatch m;
    if (std::regex_search(all, m, id_re))
        return m[1].str().substr(0, 12);
    return std::string();
}

bool in_other_workspace(const Workspaces& w, const std::string& path, uint64_t session) {
    if (w.empty() || path.empty() || path[0] != '/')
        return false;
    // Nearest first: the path itself, then each parent ("/" claims nothing).
    std::string_view p = path;
    while (p.size() > 1) {
        if (auto it = w.find(p); it != w.end())
            return std::find(it->second.begin(), it->second.end(), session) == it->second.end();
        p = p.substr(0, p.rfind('/'));
    }
    return false;
}

Workspaces Table::workspaces(const std::vector<std::string>& homes) const {
    Workspaces out;
    for (const auto& [id, s] : sessions_) {
        if (s.state == "ended" || s.state == "killed" || s.workspace.empty() || s.workspace[0] != '/')
            continue;
        if (s.leader_pid && ::kill(static_cast<pid_t>(s.leader_pid), 0) != 0 && errno == ESRCH)
            continue;  // its leader exited (discovered sessions never say they ended)
        std::string ws = s.workspace;
        while (ws.size() > 1 && ws.back() == '/')
            ws.pop_back();
        if (ws == "/" || ws == "/tmp" || ws == "/var/tmp" || ws == "/home" ||
            std::find(homes.begin(), homes.end(), ws) != homes.end())
            continue;
        out[ws].push_back(id);
    }
    return out;
}

uint64_t Table::next_id() {
    if (!epoch_)
        epoch_ = static_cast<uint64_t>(time(nullptr)) << 20;
    return epoch_ | (++counter_ & 0xfffff);
}

uint32_t Table::agent_kind(const std::string& name) {
    auto it = kinds_.find(name);
    if (it != kinds_.end())
        return it->second;
    uint32_t id = static_cast<uint32_t>(kinds_.size() + 1);
    kinds_.emplace(name, id);
    return id;
}

std::optional<std::string> Table::agent_name(uint32_t kind) const {
    for (const auto& [n, k] : kinds_)
        if (k == kind)
            return n;
    return std::nullopt;
}

Session& Table::add(Session s) {
    uint64_t id = s.id;
    return sessions_[id] = std::move(s);
}

Session* Table::find(uint64_t id) {
    auto it = sessions_.find(id);
    return it == sessions_.end() ? nullptr : &it->second;
}

Session* Table::find_by_cgroup(uint64_t cgroup_id) {
    for (auto& [id, s] : sessions_)
        if (s.cgroup_id == cgroup_id && s.state == "active")
            return &s;
    return nullptr;
}

}  // namespace bulkhead::session
