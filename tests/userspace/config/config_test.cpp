// SPDX-License-Identifier: Apache-2.0
// The daemon's configuration file: keys the daemon acts on, and the errors
// that name the file, the line and the problem.
#include "config/config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace bulkhead::config {
namespace {

struct Case {
    const char* yaml;
    const char* error;  // "" = loads
    const char* cri_socket;
};

TEST(Config, CriSocket) {
    const Case cases[] = {
        {"ask_timeout_seconds: 5\n", "", ""},  // unset: the default sockets are tried
        {"cri_socket: /run/containerd/containerd.sock\n", "", "/run/containerd/containerd.sock"},
        {"cri_socket: none\n", "", "none"},
        {"cri_socket: containerd.sock\n", ":1: cri_socket must be an absolute path or 'none'", ""},
        {"cri_socket: ''\n", ":1: cri_socket must be an absolute path or 'none'", ""},
        {"cri_sockett: /x\n", ":1: unknown key 'cri_sockett'", ""},
    };
    auto path = std::filesystem::temp_directory_path() / ("bulkhead-config-" + std::to_string(getpid()) + ".yaml");
    for (const auto& c : cases) {
        std::ofstream(path) << c.yaml;
        std::string error;
        auto cfg = load(path.string(), &error);
        if (*c.error) {
            EXPECT_FALSE(cfg) << c.yaml;
            EXPECT_NE(error.find(c.error), std::string::npos) << c.yaml << " -> " << error;
            EXPECT_EQ(error.rfind("config: " + path.string(), 0), 0u) << error;
        } else {
            ASSERT_TRUE(cfg) << c.yaml << " -> " << error;
            EXPECT_EQ(cfg->cri_socket, c.cri_socket) << c.yaml;
        }
    }
    std::filesystem::remove(path);
}

}  // namespace
}  // namespace bulkhead::config
