// SPDX-License-Identifier: Apache-2.0
#include "files/rotating_file.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace bulkhead::exporters {

namespace {
Result<void> fail(const std::string& what, int err) {
    return Error{"file: " + what + ": " + std::strerror(err)};
}
}  // namespace

Result<void> RotatingFile::open() {
    // 0600: alerts name the files and commands of the user being watched.
    fd_ = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd_ < 0)
        return fail("cannot open " + path_, errno);
    struct stat st {};
    fstat(fd_, &st);
    size_ = static_cast<uint64_t>(st.st_size);
    return {};
}

void RotatingFile::close() {
    if (fd_ >= 0)
        ::close(fd_);
    fd_ = -1;
}

Result<void> RotatingFile::rotate() {
    close();
    auto numbered = [&](int i) { return path_ + "." + std::to_string(i); };
    if (keep_ <= 0) {
        if (unlink(path_.c_str()) != 0 && errno != ENOENT)
            return fail("cannot remove " + path_, errno);
        return open();
    }
    unlink(numbered(keep_).c_str());
    for (int i = keep_ - 1; i >= 1; --i)
        if (rename(numbered(i).c_str(), numbered(i + 1).c_str()) != 0 && errno != ENOENT)
            return fail("cannot rename " + numbered(i), errno);
    if (rename(path_.c_str(), numbered(1).c_str()) != 0 && errno != ENOENT)
        return fail("cannot rename " + path_, errno);
    return open();
}

Result<void> RotatingFile::write_line(const std::string& line) {
    if (fd_ < 0)
        if (auto r = open(); !r)
            return r;
    std::string buf = line + "\n";
    if (size_ > 0 && size_ + buf.size() > max_bytes_)
        if (auto r = rotate(); !r)
            return r;
    ssize_t n = ::write(fd_, buf.data(), buf.size());
    if (n != static_cast<ssize_t>(buf.size())) {
        int err = n < 0 ? errno : ENOSPC;
        // A short write leaves a partial line: cut it off so the retry
        // writes the whole line again and readers never see half of one.
        if (n > 0)
            (void)ftruncate(fd_, static_cast<off_t>(size_));
        return fail("cannot write " + path_, err);
    }
    size_ += buf.size();
    return {};
}

}  // namespace bulkhead::exporters
