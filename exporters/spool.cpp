// SPDX-License-Identifier: Apache-2.0
#include "spool.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace bulkhead::exporters {

namespace {

std::string errno_text(const std::string& what, int err) {
    return what + ": " + std::strerror(err);
}

// mkdir -p with mode 0700 for the directories it creates.
bool make_dirs(const std::string& dir, int* err) {
    std::string path;
    size_t pos = 0;
    while (pos != std::string::npos) {
        pos = dir.find('/', pos + 1);
        path = dir.substr(0, pos);
        if (path.empty())
            continue;
        if (mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) {
            *err = errno;
            return false;
        }
    }
    return true;
}

bool write_all(int fd, std::string_view data) {
    while (!data.empty()) {
        ssize_t n = write(fd, data.data(), data.size());
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
}

}  // namespace

Result<std::unique_ptr<Spool>> Spool::open(const std::string& dir, uint64_t max_bytes) {
    int err = 0;
    if (dir.empty())
        return Error{"spool: no directory given"};
    if (!make_dirs(dir, &err))
        return Error{errno_text("spool: cannot create " + dir, err)};
    std::unique_ptr<Spool> s(new Spool(dir, max_bytes));
    DIR* d = opendir(dir.c_str());
    if (!d)
        return Error{errno_text("spool: cannot open " + dir, errno)};
    while (dirent* de = readdir(d)) {
        std::string name = de->d_name;
        unsigned long long seq = 0;
        int prio = 0;
        char tail[8] = {};
        if (name.size() > 4 && name.compare(name.size() - 4, 4, ".tmp") == 0) {
            unlink((dir + "/" + name).c_str());
            continue;
        }
        if (std::sscanf(name.c_str(), "%20llu-%d.%3s", &seq, &prio, tail) != 3 ||
            std::string(tail) != "rec" || prio < 0 || prio > 7 || seq == 0)
            continue;
        struct stat st {};
        if (stat((dir + "/" + name).c_str(), &st) != 0)
            continue;
        s->index_[seq] = Entry{prio, static_cast<uint64_t>(st.st_size)};
        s->by_priority_[prio].insert(seq);
        s->bytes_ += static_cast<uint64_t>(st.st_size);
        s->next_seq_ = std::max<uint64_t>(s->next_seq_, seq + 1);
    }
    closedir(d);
    return s;
}

std::string Spool::path_of(uint64_t seq, int priority) const {
    char name[48];
    std::snprintf(name, sizeof name, "/%020llu-%d.rec", static_cast<unsigned long long>(seq), priority);
    return dir_ + name;
}

void Spool::remove(uint64_t seq) {
    auto it = index_.find(seq);
    if (it == index_.end())
        return;
    unlink(path_of(seq, it->second.priority).c_str());
    bytes_ -= it->second.size;
    by_priority_[it->second.priority].erase(seq);
    index_.erase(it);
}

Spool::PushResult Spool::push(int priority, std::string_view payload) {
    PushResult r;
    priority = std::clamp(priority, 0, 7);
    uint64_t size = payload.size();
    if (size > max_bytes_) {
        r.dropped = 1;
        return r;
    }
    while (bytes_ + size > max_bytes_) {
        int worst = 7;
        while (by_priority_[worst].empty())
            --worst;  // bytes_ > 0 here, so some priority holds a record
        if (priority > worst) {
            // Less important than everything stored: this one goes.
            r.dropped += 1;
            return r;
        }
        remove(*by_priority_[worst].begin());
        r.dropped += 1;
    }
    uint64_t seq = next_seq_++;
    std::string path = path_of(seq, priority);
    std::string tmp = path + ".tmp";
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        r.error = errno_text("spool: cannot create " + tmp, errno);
        r.dropped += 1;
        return r;
    }
    bool ok = write_all(fd, payload);
    int werr = errno;
    ::close(fd);
    if (!ok || rename(tmp.c_str(), path.c_str()) != 0) {
        r.error = errno_text("spool: cannot write " + path, ok ? errno : werr);
        unlink(tmp.c_str());
        r.dropped += 1;
        return r;
    }
    index_[seq] = Entry{priority, size};
    by_priority_[priority].insert(seq);
    bytes_ += size;
    r.stored = true;
    return r;
}

std::optional<Spool::Record> Spool::front(uint64_t* lost) {
    while (!index_.empty()) {
        auto [seq, entry] = *index_.begin();
        Record rec{seq, entry.priority, {}};
        int fd = ::open(path_of(seq, entry.priority).c_str(), O_RDONLY | O_CLOEXEC);
        bool ok = fd >= 0;
        if (ok) {
            rec.payload.resize(entry.size);
            size_t got = 0;
            while (got < entry.size) {
                ssize_t n = read(fd, rec.payload.data() + got, entry.size - got);
                if (n < 0 && errno == EINTR)
                    continue;
                if (n <= 0)
                    break;
                got += static_cast<size_t>(n);
            }
            ok = got == entry.size;
            ::close(fd);
        }
        if (ok)
            return rec;
        // Removed behind our back or truncated: count it, never loop on it.
        remove(seq);
        ++*lost;
    }
    return std::nullopt;
}

void Spool::pop(uint64_t seq) {
    remove(seq);
}

}  // namespace bulkhead::exporters
