// SPDX-License-Identifier: Apache-2.0
// `bulkhead doctor`: what this host can enforce, probe by probe, and why.
#pragma once

#include <string>
#include <vector>

namespace bulkhead::doctor {

struct Probe {
    std::string name;
    bool ok = false;
    std::string detail;  // what was found, or why not and how to fix it
};

struct Report {
    std::vector<Probe> probes;
    std::string host_level;    // strongest level the host supports
    std::string build_level;   // strongest level this build enforces here
    std::string explanation;
};

Report examine();
std::string to_text(const Report& r);

}  // namespace bulkhead::doctor
