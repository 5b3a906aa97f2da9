// SPDX-License-Identifier: Apache-2.0
// install-hooks on real files in a temporary directory: exact contents,
// modes, owners, backups and links, and that a refused file keeps its bytes.
#include "hooks/install.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

namespace bulkhead::hooks {
namespace {

namespace fs = std::filesystem;

constexpr uid_t kNobody = 65534;

class TempDir {
public:
    TempDir() {
        std::string tmpl = (fs::temp_directory_path() / "bulkhead-install-XXXXXX").string();
        const char* made = ::mkdtemp(tmpl.data());
        path_ = made ? made : "";
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path_, ec);
    }
    const fs::path& path() const { return path_; }

private:
    fs::path path_;
};

std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

void spit(const fs::path& p, const std::string& text, mode_t mode = 0644) {
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary | std::ios::trunc) << text;
    ASSERT_EQ(::chmod(p.c_str(), mode), 0);
}

struct stat lstat_of(const fs::path& p) {
    struct stat st {};
    EXPECT_EQ(::lstat(p.c_str(), &st), 0) << p;
    return st;
}

mode_t mode_of(const fs::path& p) { return lstat_of(p).st_mode & 07777; }

// Every name in DIR, sorted: shows backups and leftover temporary files.
std::vector<std::string> names_in(const fs::path& dir) {
    std::vector<std::string> out;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir, ec))
        out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
}

std::vector<std::string> backups_in(const fs::path& dir) {
    std::vector<std::string> out;
    for (const auto& n : names_in(dir))
        if (n.find(".bulkhead-backup.") != std::string::npos)
            out.push_back(n);
    return out;
}

const char* kClaudeFresh = R"json({
  "hooks": {
    "PreToolUse": [
      {
        "matcher": "*",
        "hooks": [
          {
            "type": "command",
            "command": "/usr/sbin/bulkhead hook claude-code",
            "timeout": 30
          }
        ]
      }
    ],
    "PostToolUse": [
      {
        "matcher": "*",
        "hooks": [
          {
            "type": "command",
            "command": "/usr/sbin/bulkhead hook claude-code",
            "timeout": 30
          }
        ]
      }
    ]
  }
}
)json";

const char* kCodexFresh = R"json({
  "hooks": {
    "PreToolUse": [
      {
        "matcher": ".*",
        "hooks": [
          {
            "type": "command",
            "command": "/usr/sbin/bulkhead hook codex",
            "timeout": 30
          }
        ]
      }
    ],
    "PostToolUse": [
      {
        "matcher": ".*",
        "hooks": [
          {
            "type": "command",
            "command": "/usr/sbin/bulkhead hook codex",
            "timeout": 30
          }
        ]
      }
    ]
  }
}
)json";

const char* kGeminiFresh = R"json({
  "hooks": {
    "BeforeTool": [
      {
        "matcher": ".*",
        "hooks": [
          {
            "type": "command",
            "name": "bulkhead",
            "command": "/usr/sbin/bulkhead hook gemini",
            "timeout": 30000
          }
        ]
      }
    ],
    "AfterTool": [
      {
        "matcher": ".*",
        "hooks": [
          {
            "type": "command",
            "name": "bulkhead",
            "command": "/usr/sbin/bulkhead hook gemini",
            "timeout": 30000
          }
        ]
      }
    ]
  }
}
)json";

// A user's settings in the layout install-hooks writes (indent 2), so that
// install + uninstall must give back the same bytes.
const char* kClaudeExisting = R"json({
  "model": "opus",
  "permissions": {
    "allow": [
      "Bash(git *)"
    ]
  },
  "hooks": {
    "PreToolUse": [
      {
        "matcher": "Bash",
        "hooks": [
          {
            "type": "command",
            "command": "/home/u/bin/check-bash.sh",
            "timeout": 5
          }
        ]
      }
    ],
    "Stop": [
      {
        "hooks": [
          {
            "type": "command",
            "command": "notify-send done"
          }
        ]
      }
    ]
  },
  "env": {
    "ZZZ": "1",
    "AAA": "2"
  }
}
)json";

const char* kClaudeExistingInstalled = R"json({
  "model": "opus",
  "permissions": {
    "allow": [
      "Bash(git *)"
    ]
  },
  "hooks": {
    "PreToolUse": [
      {
        "matcher": "Bash",
        "hooks": [
          {
            "type": "command",
            "command": "/home/u/bin/check-bash.sh",
            "timeout": 5
          }
        ]
      },
      {
        "matcher": "*",
        "hooks": [
          {
            "type": "command",
            "command": "/usr/sbin/bulkhead hook claude-code",
            "timeout": 30
          }
        ]
      }
    ],
    "Stop": [
      {
        "hooks": [
          {
            "type": "command",
            "command": "notify-send done"
          }
        ]
      }
    ],
    "PostToolUse": [
      {
        "matcher": "*",
        "hooks": [
          {
            "type": "command",
            "command": "/usr/sbin/bulkhead hook claude-code",
            "timeout": 30
          }
        ]
      }
    ]
  },
  "env": {
    "ZZZ": "1",
    "AAA": "2"
  }
}
)json";

class InstallHooks : public ::testing::Test {
protected:
    void SetUp() override {
        ASSERT_FALSE(tmp_.path().empty());
        for (const char* d : {"home", "proj", "root", "cfg"})
            fs::create_directory(tmp_.path() / d);
    }

    fs::path t() const { return tmp_.path(); }
    fs::path home() const { return t() / "home"; }

    InstallOptions options(Agent agent, Scope scope = Scope::kUser) const {
        InstallOptions o;
        o.agent = agent;
        o.scope = scope;
        o.command = "/usr/sbin/bulkhead hook " + std::string(agent_name(agent));
        o.home = home().string();
        o.project_dir = (t() / "proj").string();
        o.root = (t() / "root").string();
        return o;
    }

    TempDir tmp_;
};

TEST(InstallHooksNames, AgentsAndScopes) {
    struct Case {
        const char* name;
        std::optional<Agent> agent;
        std::optional<Scope> scope;
    };
    const Case cases[] = {
        {"claude-code", Agent::kClaudeCode, std::nullopt},
        {"codex", Agent::kCodex, std::nullopt},
        {"gemini", Agent::kGemini, std::nullopt},
        {"user", std::nullopt, Scope::kUser},
        {"project", std::nullopt, Scope::kProject},
        {"managed", std::nullopt, Scope::kManaged},
        {"claude", std::nullopt, std::nullopt},
        {"Codex", std::nullopt, std::nullopt},
        {"", std::nullopt, std::nullopt},
    };
    for (const auto& c : cases) {
        EXPECT_EQ(agent_from_name(c.name), c.agent) << c.name;
        EXPECT_EQ(scope_from_name(c.name), c.scope) << c.name;
        if (c.agent) {
            EXPECT_EQ(agent_name(*c.agent), c.name);
        }
        if (c.scope) {
            EXPECT_EQ(scope_name(*c.scope), c.name);
        }
    }
}

// A fresh install per agent and scope: the file the scope means, exactly
// the expected JSON, and the modes of what was created.
TEST_F(InstallHooks, FreshInstallPerAgentAndScope) {
    struct Case {
        Agent agent;
        Scope scope;
        const char* env_key;    // nullptr: none
        const char* env_value;  // relative to the temp dir
        const char* file;       // relative to the temp dir
        const char* created;    // the directory created for it, relative
        mode_t file_mode;
        mode_t dir_mode;
        const char* text;
    };
    const Case cases[] = {
        {Agent::kClaudeCode, Scope::kUser, nullptr, "", "home/.claude/settings.json", "home/.claude", 0600, 0700,
         kClaudeFresh},
        {Agent::kClaudeCode, Scope::kUser, "CLAUDE_CONFIG_DIR", "cfg/claude", "cfg/claude/settings.json", "cfg/claude",
         0600, 0700, kClaudeFresh},
        {Agent::kClaudeCode, Scope::kProject, nullptr, "", "proj/.claude/settings.json", "proj/.claude", 0644, 0755,
         kClaudeFresh},
        {Agent::kClaudeCode, Scope::kManaged, nullptr, "", "root/etc/claude-code/managed-settings.json", "root/etc",
         0644, 0755, kClaudeFresh},
        {Agent::kCodex, Scope::kUser, nullptr, "", "home/.codex/hooks.json", "home/.codex", 0600, 0700, kCodexFresh},
        {Agent::kCodex, Scope::kUser, "CODEX_HOME", "cfg/codex", "cfg/codex/hooks.json", "cfg/codex", 0600, 0700,
         kCodexFresh},
        {Agent::kCodex, Scope::kProject, nullptr, "", "proj/.codex/hooks.json", "proj/.codex", 0644, 0755,
         kCodexFresh},
        {Agent::kGemini, Scope::kUser, nullptr, "", "home/.gemini/settings.json", "home/.gemini", 0600, 0700,
         kGeminiFresh},
        {Agent::kGemini, Scope::kProject, nullptr, "", "proj/.gemini/settings.json", "proj/.gemini", 0644, 0755,
         kGeminiFresh},
        {Agent::kGemini, Scope::kManaged, nullptr, "", "root/etc/gemini-cli/settings.json", "root/etc/gemini-cli",
         0644, 0755, kGeminiFresh},
    };
    for (const auto& c : cases) {
        TempDir fresh;
        for (const char* d : {"home", "proj", "root", "cfg"})
            fs::create_directory(fresh.path() / d);
        InstallOptions o = options(c.agent, c.scope);
        o.home = (fresh.path() / "home").string();
        o.project_dir = (fresh.path() / "proj").string();
        o.root = (fresh.path() / "root").string();
        if (c.env_key)
            o.env[c.env_key] = (fresh.path() / c.env_value).string();
        const fs::path file = fresh.path() / c.file;
        SCOPED_TRACE(c.file);

        EXPECT_EQ(settings_path(o), file.string());
        auto out = install_hooks(o);
        ASSERT_TRUE(out.ok()) << out.error;
        EXPECT_EQ(out.result->file, file.string());
        EXPECT_TRUE(out.result->changed);
        EXPECT_EQ(out.result->backup, "");
        EXPECT_EQ(out.result->message, file.string() + ": created; " +
                                           (c.agent == Agent::kGemini ? "BeforeTool added, AfterTool added"
                                                                      : "PreToolUse added, PostToolUse added"));
        EXPECT_EQ(slurp(file), c.text);
        EXPECT_EQ(mode_of(file), c.file_mode);
        EXPECT_EQ(mode_of(fresh.path() / c.created), c.dir_mode);
        EXPECT_EQ(mode_of(file.parent_path()), c.dir_mode);
        EXPECT_EQ(names_in(file.parent_path()), std::vector<std::string>{file.filename().string()});
    }
}

TEST_F(InstallHooks, SettingsPaths) {
    struct Case {
        Agent agent;
        Scope scope;
        std::string root;
        std::string expected;
    };
    const Case cases[] = {
        {Agent::kClaudeCode, Scope::kManaged, "", "/etc/claude-code/managed-settings.json"},
        {Agent::kGemini, Scope::kManaged, "", "/etc/gemini-cli/settings.json"},
        {Agent::kClaudeCode, Scope::kManaged, "/srv/img/", "/srv/img/etc/claude-code/managed-settings.json"},
        {Agent::kCodex, Scope::kManaged, "", ""},
        {Agent::kCodex, Scope::kUser, "", home().string() + "/.codex/hooks.json"},
    };
    for (const auto& c : cases) {
        InstallOptions o = options(c.agent, c.scope);
        o.root = c.root;
        EXPECT_EQ(settings_path(o), c.expected);
    }
    InstallOptions no_home = options(Agent::kClaudeCode);
    no_home.home = "";
    EXPECT_EQ(settings_path(no_home), "");
}

TEST_F(InstallHooks, KeepsOtherKeysAndHooksInOrderAndUninstallRestoresBytes) {
    const fs::path file = home() / ".claude/settings.json";
    spit(file, kClaudeExisting, 0600);

    auto out = install_hooks(options(Agent::kClaudeCode));
    ASSERT_TRUE(out.ok()) << out.error;
    EXPECT_TRUE(out.result->changed);
    EXPECT_EQ(slurp(file), kClaudeExistingInstalled);
    ASSERT_NE(out.result->backup, "");
    EXPECT_EQ(out.result->message, file.string() + ": PreToolUse added, PostToolUse added (backup: " +
                                       out.result->backup + ")");

    auto un = uninstall_hooks(options(Agent::kClaudeCode));
    ASSERT_TRUE(un.ok()) << un.error;
    EXPECT_TRUE(un.result->changed);
    EXPECT_NE(un.result->backup, "");
    EXPECT_EQ(un.result->message, file.string() + ": PreToolUse removed, PostToolUse removed (backup: " +
                                      un.result->backup + ")");
    EXPECT_EQ(slurp(file), kClaudeExisting);
    EXPECT_EQ(backups_in(file.parent_path()).size(), 2u);
}

TEST_F(InstallHooks, SecondInstallChangesNothing) {
    const fs::path file = home() / ".claude/settings.json";
    spit(file, kClaudeExisting, 0600);
    auto first = install_hooks(options(Agent::kClaudeCode));
    ASSERT_TRUE(first.ok()) << first.error;
    const std::string bytes = slurp(file);
    const struct stat before = lstat_of(file);
    const auto names = names_in(file.parent_path());

    auto second = install_hooks(options(Agent::kClaudeCode));
    ASSERT_TRUE(second.ok()) << second.error;
    EXPECT_FALSE(second.result->changed);
    EXPECT_EQ(second.result->backup, "");
    EXPECT_EQ(second.result->message, file.string() + ": bulkhead hooks already installed");
    EXPECT_EQ(slurp(file), bytes);
    EXPECT_EQ(lstat_of(file).st_ino, before.st_ino);  // not even rewritten
    EXPECT_EQ(names_in(file.parent_path()), names);
}

TEST_F(InstallHooks, FreshInstallThenUninstallLeavesEmptyObject) {
    const fs::path file = home() / ".gemini/settings.json";
    ASSERT_TRUE(install_hooks(options(Agent::kGemini)).ok());
    auto un = uninstall_hooks(options(Agent::kGemini));
    ASSERT_TRUE(un.ok()) << un.error;
    EXPECT_TRUE(un.result->changed);
    EXPECT_EQ(slurp(file), "{}\n");
}

// Ours already there, from another path and with another timeout, plus a
// duplicate: the first is updated in place, the duplicate removed.
TEST_F(InstallHooks, UpdatesOursInPlaceAndDropsDuplicates) {
    const fs::path file = t() / "proj/.gemini/settings.json";
    spit(file, R"json({
  "hooks": {
    "BeforeTool": [
      {
        "matcher": "run_shell_command",
        "hooks": [
          {
            "type": "command",
            "command": "/usr/local/bin/bulkhead hook gemini",
            "timeout": 10,
            "description": "old"
          },
          {
            "type": "command",
            "command": "audit.sh"
          }
        ]
      },
      {
        "matcher": ".*",
        "hooks": [
          {
            "command": "bulkhead hook gemini"
          }
        ]
      }
    ]
  }
}
)json");
    InstallOptions o = options(Agent::kGemini, Scope::kProject);
    o.timeout_seconds = 5;
    auto out = install_hooks(o);
    ASSERT_TRUE(out.ok()) << out.error;
    EXPECT_TRUE(out.result->changed);
    EXPECT_EQ(out.result->message,
              file.string() + ": BeforeTool updated, AfterTool added (backup: " + out.result->backup + ")");
    EXPECT_EQ(slurp(file), R"json({
  "hooks": {
    "BeforeTool": [
      {
        "matcher": "run_shell_command",
        "hooks": [
          {
            "type": "command",
            "command": "/usr/sbin/bulkhead hook gemini",
            "timeout": 5000,
            "description": "old",
            "name": "bulkhead"
          },
          {
            "type": "command",
            "command": "audit.sh"
          }
        ]
      }
    ],
    "AfterTool": [
      {
        "matcher": ".*",
        "hooks": [
          {
            "type": "command",
            "name": "bulkhead",
            "command": "/usr/sbin/bulkhead hook gemini",
            "timeout": 5000
          }
        ]
      }
    ]
  }
}
)json");
}

// Which handlers are ours: uninstall removes exactly those, in our events
// only, and prunes what that leaves empty.
TEST_F(InstallHooks, UninstallRemovesOnlyOurs) {
    const fs::path file = home() / ".claude/settings.json";
    spit(file, R"json({
  "hooks": {
    "PreToolUse": [
      {
        "matcher": "Bash",
        "hooks": [
          {"type": "command", "command": "/usr/bin/check"},
          {"type": "command", "command": "'/opt/bh/bulkhead' hook claude-code"},
          {"type": "command", "command": "/usr/bin/bulkhead-lint hook"},
          {"type": "command", "command": "/usr/bin/notbulkhead hook x"},
          {"type": "command", "command": "bulkhead hooks"},
          {"type": "command", "command": "bulkhead"},
          {"type": "http", "url": "http://127.0.0.1/bulkhead hook"}
        ]
      },
      {"matcher": "*", "hooks": [{"type": "command", "command": "/usr/sbin/bulkhead hook claude-code"}]},
      {"matcher": "Edit", "hooks": []}
    ],
    "PostToolUse": [
      {"matcher": "*", "hooks": [{"type": "command", "command": "  bulkhead\thook codex"}]}
    ],
    "Stop": [
      {"hooks": [{"type": "command", "command": "/usr/sbin/bulkhead hook claude-code"}]}
    ]
  }
}
)json");
    auto un = uninstall_hooks(options(Agent::kClaudeCode));
    ASSERT_TRUE(un.ok()) << un.error;
    EXPECT_TRUE(un.result->changed);
    EXPECT_EQ(slurp(file), R"json({
  "hooks": {
    "PreToolUse": [
      {
        "matcher": "Bash",
        "hooks": [
          {
            "type": "command",
            "command": "/usr/bin/check"
          },
          {
            "type": "command",
            "command": "/usr/bin/bulkhead-lint hook"
          },
          {
            "type": "command",
            "command": "/usr/bin/notbulkhead hook x"
          },
          {
            "type": "command",
            "command": "bulkhead hooks"
          },
          {
            "type": "command",
            "command": "bulkhead"
          },
          {
            "type": "http",
            "url": "http://127.0.0.1/bulkhead hook"
          }
        ]
      },
      {
        "matcher": "Edit",
        "hooks": []
      }
    ],
    "Stop": [
      {
        "hooks": [
          {
            "type": "command",
            "command": "/usr/sbin/bulkhead hook claude-code"
          }
        ]
      }
    ]
  }
}
)json");
}

TEST_F(InstallHooks, UninstallWithNothingOursChangesNothing) {
    const fs::path file = home() / ".claude/settings.json";
    spit(file, "{\"model\": \"opus\", \"hooks\": {\"PreToolUse\": []}}", 0600);
    auto un = uninstall_hooks(options(Agent::kClaudeCode));
    ASSERT_TRUE(un.ok()) << un.error;
    EXPECT_FALSE(un.result->changed);
    EXPECT_EQ(un.result->backup, "");
    EXPECT_EQ(un.result->message, file.string() + ": no bulkhead hooks to remove");
    EXPECT_EQ(slurp(file), "{\"model\": \"opus\", \"hooks\": {\"PreToolUse\": []}}");
    EXPECT_EQ(names_in(file.parent_path()), std::vector<std::string>{"settings.json"});
}

TEST_F(InstallHooks, UninstallWithoutFileCreatesNothing) {
    auto un = uninstall_hooks(options(Agent::kCodex));
    ASSERT_TRUE(un.ok()) << un.error;
    EXPECT_FALSE(un.result->changed);
    EXPECT_EQ(un.result->message,
              (home() / ".codex/hooks.json").string() + ": does not exist; no bulkhead hooks to remove");
    EXPECT_FALSE(fs::exists(home() / ".codex"));
}

// Refused input leaves the file's bytes and its directory as they were,
// for install and uninstall alike.
TEST_F(InstallHooks, RefusesWhatItCannotEditSafely) {
    struct Case {
        const char* name;
        std::string content;  // "" with `kind` set: see below
        char kind;            // 'f' file, 'd' directory, 'p' FIFO, 'l' hard-linked file
        std::string cause;    // after "install-hooks: FILE: "
    };
    const std::string big = "{}" + std::string(4 * 1024 * 1024 - 1, ' ');
    const Case cases[] = {
        {"invalid", "{\"model\": \"opus\",\n  \"hooks\": {\n}", 'f',
         "invalid JSON: parse error at line 3, column 2: syntax error while parsing object - unexpected end of "
         "input; expected '}' (byte 33)"},
        {"secret not echoed", "{\"env\": {\"API_KEY\": \"sk-secret-123", 'f',
         "invalid JSON: parse error at line 1, column 35: syntax error while parsing value - invalid string: "
         "missing closing quote (byte 35)"},
        {"comments", "{\n  // mine\n  \"model\": \"opus\"\n}\n", 'f',
         "has comments, which rewriting it would drop; remove them or add the hooks by hand"},
        {"array root", "[1, 2]\n", 'f', "top-level value is an array, expected an object"},
        {"string root", "\"x\"", 'f', "top-level value is a string, expected an object"},
        {"hooks array", "{\"hooks\": []}", 'f', "\"hooks\" is an array, expected an object"},
        {"hooks null", "{\"hooks\": null}", 'f', "\"hooks\" is null, expected an object"},
        {"event object", "{\"hooks\": {\"PreToolUse\": {}}}", 'f',
         "\"hooks.PreToolUse\" is an object, expected an array"},
        {"event string", "{\"hooks\": {\"Stop\": 1, \"PostToolUse\": \"x\"}}", 'f',
         "\"hooks.PostToolUse\" is a string, expected an array"},
        {"too big", big, 'f', "is 4194305 bytes, more than the 4 MiB install-hooks will edit"},
        {"directory", "", 'd', "is a directory, not a settings file"},
        {"fifo", "", 'p', "is not a regular file"},
        {"hard link", "{}", 'l', "has 2 hard links, which replacing it would break; add the hooks by hand"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.name);
        TempDir tmp;
        const fs::path dir = tmp.path() / ".claude";
        const fs::path file = dir / "settings.json";
        fs::create_directories(dir);
        if (c.kind == 'd') {
            fs::create_directory(file);
        } else if (c.kind == 'p') {
            ASSERT_EQ(::mkfifo(file.c_str(), 0600), 0);
        } else {
            spit(file, c.content, 0600);
            if (c.kind == 'l')
                fs::create_hard_link(file, tmp.path() / "other-link");
        }
        InstallOptions o = options(Agent::kClaudeCode);
        o.home = tmp.path().string();
        for (bool install : {true, false}) {
            auto out = install ? install_hooks(o) : uninstall_hooks(o);
            ASSERT_FALSE(out.ok());
            EXPECT_EQ(out.error, "install-hooks: " + file.string() + ": " + c.cause);
            EXPECT_EQ(out.error.find("sk-secret"), std::string::npos);
            if (c.kind == 'f' || c.kind == 'l') {
                EXPECT_EQ(slurp(file), c.content);
            }
            EXPECT_EQ(names_in(dir), std::vector<std::string>{"settings.json"});
        }
    }
}

TEST_F(InstallHooks, RefusesBadOptions) {
    struct Case {
        const char* name;
        void (*change)(InstallOptions&, const fs::path& t);
        std::string error;  // "@" stands for the temp dir
    };
    const Case cases[] = {
        {"empty command", [](InstallOptions& o, const fs::path&) { o.command = ""; },
         "install-hooks: handler command is empty"},
        {"newline", [](InstallOptions& o, const fs::path&) { o.command += "\nrm -rf /"; },
         "install-hooks: handler command contains a line break or NUL"},
        {"timeout 0", [](InstallOptions& o, const fs::path&) { o.timeout_seconds = 0; },
         "install-hooks: timeout must be 1 to 86400 seconds, not 0"},
        {"timeout day+1", [](InstallOptions& o, const fs::path&) { o.timeout_seconds = 86401; },
         "install-hooks: timeout must be 1 to 86400 seconds, not 86401"},
        {"no home", [](InstallOptions& o, const fs::path&) { o.home = ""; },
         "install-hooks: claude-code user scope: home directory is not set"},
        {"no project", [](InstallOptions& o, const fs::path&) { o.scope = Scope::kProject; o.project_dir = ""; },
         "install-hooks: claude-code project scope: project directory is not set"},
        {"missing home", [](InstallOptions& o, const fs::path& t) { o.home = (t / "nohome").string(); },
         "install-hooks: @/nohome: home directory: No such file or directory"},
        {"codex managed",
         [](InstallOptions& o, const fs::path&) {
             o.agent = Agent::kCodex;
             o.scope = Scope::kManaged;
         },
         "install-hooks: codex has no managed hooks file; use --scope user or project"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.name);
        InstallOptions o = options(Agent::kClaudeCode);
        c.change(o, t());
        std::string want = c.error;
        if (auto at = want.find('@'); at != std::string::npos)
            want.replace(at, 1, t().string());
        auto out = install_hooks(o);
        ASSERT_FALSE(out.ok());
        EXPECT_EQ(out.error, want);
    }
    // Nothing anywhere was created.
    EXPECT_TRUE(names_in(home()).empty());
    EXPECT_TRUE(names_in(t() / "root").empty());
}

TEST_F(InstallHooks, EditsThroughSymlinks) {
    // A dotfiles repository: the settings file is a relative link into it.
    const fs::path link = home() / ".claude/settings.json";
    const fs::path target = home() / "dotfiles/claude.json";
    spit(target, "{\"model\": \"opus\"}\n", 0600);
    fs::create_directories(link.parent_path());
    fs::create_symlink("../dotfiles/claude.json", link);

    auto out = install_hooks(options(Agent::kClaudeCode));
    ASSERT_TRUE(out.ok()) << out.error;
    EXPECT_EQ(out.result->file, target.string());
    EXPECT_EQ(out.result->message.rfind(link.string() + " -> " + target.string() + ": ", 0), 0u)
        << out.result->message;
    EXPECT_TRUE(fs::is_symlink(link));
    EXPECT_EQ(fs::read_symlink(link), "../dotfiles/claude.json");
    const std::string want = std::string("{\n  \"model\": \"opus\",\n") + (kClaudeFresh + 2);
    EXPECT_EQ(slurp(target), want);
    EXPECT_EQ(out.result->backup.rfind((home() / "dotfiles/claude.json.bulkhead-backup.").string(), 0), 0u);
    EXPECT_EQ(slurp(out.result->backup), "{\"model\": \"opus\"}\n");

    // A linked directory: ~/.gemini -> dotfiles/gemini.
    fs::create_directories(home() / "dotfiles/gemini");
    fs::create_directory_symlink("dotfiles/gemini", home() / ".gemini");
    auto g = install_hooks(options(Agent::kGemini));
    ASSERT_TRUE(g.ok()) << g.error;
    EXPECT_EQ(g.result->file, (home() / "dotfiles/gemini/settings.json").string());
    EXPECT_TRUE(fs::is_symlink(home() / ".gemini"));
    EXPECT_EQ(slurp(home() / "dotfiles/gemini/settings.json"), kGeminiFresh);
}

TEST_F(InstallHooks, RefusesDanglingSymlink) {
    const fs::path link = home() / ".claude/settings.json";
    fs::create_directories(link.parent_path());
    fs::create_symlink("../dotfiles/missing.json", link);
    auto out = install_hooks(options(Agent::kClaudeCode));
    ASSERT_FALSE(out.ok());
    EXPECT_EQ(out.error,
              "install-hooks: " + link.string() + ": symlink points to ../dotfiles/missing.json, which does not exist");
    EXPECT_FALSE(fs::exists(home() / "dotfiles"));
    EXPECT_TRUE(fs::is_symlink(link));
}

// Run as root on a user's settings, a link the user planted must not lead
// us to a file of someone else (here: a managed settings file of root's).
TEST_F(InstallHooks, RefusesSymlinkToAnotherOwnersFile) {
    if (::geteuid() != 0)
        GTEST_SKIP() << "needs root to give the link another owner";
    const fs::path managed = t() / "root/etc/gemini-cli";
    spit(managed / "settings.json", "{}\n", 0644);
    fs::create_directory_symlink(managed, home() / ".gemini");
    ASSERT_EQ(::lchown((home() / ".gemini").c_str(), kNobody, kNobody), 0);

    auto out = uninstall_hooks(options(Agent::kGemini));
    ASSERT_FALSE(out.ok());
    EXPECT_EQ(out.error, "install-hooks: " + (home() / ".gemini").string() + ": symlink owned by uid 65534 points to " +
                             managed.string() + ", owned by uid 0; refusing to follow it");
    out = install_hooks(options(Agent::kGemini));
    ASSERT_FALSE(out.ok());
    EXPECT_EQ(slurp(managed / "settings.json"), "{}\n");
    EXPECT_EQ(names_in(managed), std::vector<std::string>{"settings.json"});

    // The same link to a directory of its own owner is followed.
    ASSERT_EQ(::chown(managed.c_str(), kNobody, kNobody), 0);
    ASSERT_TRUE(install_hooks(options(Agent::kGemini)).ok());
}

TEST_F(InstallHooks, BackupHasOriginalBytesAndMode) {
    const fs::path file = t() / "proj/.codex/hooks.json";
    const std::string original = "{\"hooks\":{\"Stop\":[]}, \"x\": 1.5}";
    spit(file, original, 0640);
    auto out = install_hooks(options(Agent::kCodex, Scope::kProject));
    ASSERT_TRUE(out.ok()) << out.error;
    EXPECT_EQ(mode_of(file), 0640);
    ASSERT_NE(out.result->backup, "");
    EXPECT_EQ(fs::path(out.result->backup).parent_path(), file.parent_path());
    EXPECT_EQ(fs::path(out.result->backup).filename().string().rfind("hooks.json.bulkhead-backup.", 0), 0u);
    EXPECT_EQ(slurp(out.result->backup), original);
    EXPECT_EQ(mode_of(out.result->backup), 0640);
    EXPECT_EQ(backups_in(file.parent_path()), std::vector<std::string>{fs::path(out.result->backup).filename()});
    // The backup and the file; no temporary file left over.
    EXPECT_EQ(names_in(file.parent_path()).size(), 2u);
}

TEST_F(InstallHooks, BackupsInTheSameSecondDoNotOverwrite) {
    const fs::path file = home() / ".claude/settings.json";
    spit(file, "{\"a\": 1}", 0600);
    auto one = install_hooks(options(Agent::kClaudeCode));
    auto two = uninstall_hooks(options(Agent::kClaudeCode));
    auto three = install_hooks(options(Agent::kClaudeCode));
    ASSERT_TRUE(one.ok() && two.ok() && three.ok());
    EXPECT_EQ(slurp(one.result->backup), "{\"a\": 1}");
    EXPECT_EQ(slurp(two.result->backup).substr(0, 14), "{\n  \"a\": 1,\n  ");
    EXPECT_EQ(slurp(three.result->backup), "{\n  \"a\": 1\n}\n");
    EXPECT_EQ(backups_in(file.parent_path()).size(), 3u);
}

TEST_F(InstallHooks, KeepsOwnerOfExistingFile) {
    if (::geteuid() != 0)
        GTEST_SKIP() << "needs root to give the file another owner";
    const fs::path file = home() / ".claude/settings.json";
    spit(file, "{}", 0640);
    ASSERT_EQ(::chown(file.c_str(), kNobody, kNobody), 0);
    auto out = install_hooks(options(Agent::kClaudeCode));
    ASSERT_TRUE(out.ok()) << out.error;
    for (const fs::path& p : {file, fs::path(out.result->backup)}) {
        const struct stat st = lstat_of(p);
        EXPECT_EQ(st.st_uid, kNobody) << p;
        EXPECT_EQ(st.st_gid, kNobody) << p;
        EXPECT_EQ(st.st_mode & 07777, 0640u) << p;
    }
}

// Root installing into a user's home creates what the user can read.
TEST_F(InstallHooks, RootGivesNewFilesTheHomesOwner) {
    if (::geteuid() != 0)
        GTEST_SKIP() << "needs root to create files for another user";
    ASSERT_EQ(::chown(home().c_str(), kNobody, kNobody), 0);
    auto out = install_hooks(options(Agent::kCodex));
    ASSERT_TRUE(out.ok()) << out.error;
    for (const fs::path& p : {home() / ".codex", home() / ".codex/hooks.json"}) {
        const struct stat st = lstat_of(p);
        EXPECT_EQ(st.st_uid, kNobody) << p;
        EXPECT_EQ(st.st_gid, kNobody) << p;
    }
    EXPECT_EQ(mode_of(home() / ".codex"), 0700u);
    EXPECT_EQ(mode_of(home() / ".codex/hooks.json"), 0600u);
}

TEST_F(InstallHooks, BlankFileCountsAsEmptySettings) {
    const fs::path file = home() / ".codex/hooks.json";
    spit(file, " \n", 0600);
    auto out = install_hooks(options(Agent::kCodex));
    ASSERT_TRUE(out.ok()) << out.error;
    EXPECT_TRUE(out.result->changed);
    EXPECT_EQ(slurp(file), kCodexFresh);
    EXPECT_EQ(slurp(out.result->backup), " \n");
}

TEST_F(InstallHooks, ManagedGoesUnderRoot) {
    InstallOptions o = options(Agent::kClaudeCode, Scope::kManaged);
    auto out = install_hooks(o);
    ASSERT_TRUE(out.ok()) << out.error;
    EXPECT_EQ(out.result->file, (t() / "root/etc/claude-code/managed-settings.json").string());
    EXPECT_EQ(slurp(t() / "root/etc/claude-code/managed-settings.json"), kClaudeFresh);
    EXPECT_TRUE(names_in(home()).empty());
}

}  // namespace
}  // namespace bulkhead::hooks
