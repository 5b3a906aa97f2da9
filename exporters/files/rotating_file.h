// SPDX-License-Identifier: Apache-2.0
// An append-only file with size-based rotation: when the next line would
// take it past max_bytes it becomes FILE.1 (FILE.1 becomes FILE.2, ... and
// the oldest past `keep` is deleted) and a new FILE starts.
#pragma once

#include <cstdint>
#include <string>

#include "result.h"

namespace bulkhead::exporters {

class RotatingFile {
public:
    RotatingFile(std::string path, uint64_t max_bytes, int keep)
        : path_(std::move(path)), max_bytes_(max_bytes), keep_(keep) {}
    ~RotatingFile() { close(); }
    RotatingFile(const RotatingFile&) = delete;
    RotatingFile& operator=(const RotatingFile&) = delete;

    // Appends `line` and a newline in one write, rotating first if needed.
    Result<void> write_line(const std::string& line);
    void close();

private:
    Result<void> open();
    Result<void> rotate();

    std::string path_;
    uint64_t max_bytes_;
    int keep_;
    int fd_ = -1;
    uint64_t size_ = 0;
};

}  // namespace bulkhead::exporters
