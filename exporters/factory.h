// SPDX-License-Identifier: Apache-2.0
// Builds the configured sinks from the daemon's YAML. One entry per sink;
// several sinks of the same type may coexist. Schema (see example.yaml):
//
//   exporters:
//     - name: siem                 # required, unique; [A-Za-z0-9._-], used in metrics and spool paths
//       type: syslog               # required: syslog | http | jsonl | ocsf (| audit | grpc when registered)
//       min_priority: Warning      # Falco priority; default Debug (everything)
//       rules: [ "Read SSH key" ]  # only these rules; default all
//       sessions: [ 12 ]           # only these session ids; default all
//       verdicts: [ deny, audit ]  # only these verdicts (deny|audit|allow|ask); default all
//       queue:   { max_events: 10000 }                    # in-memory bound
//       spool:   { dir: /var/lib/bulkhead/spool/siem,     # default <Options::spool_root>/<name>
//                  max_bytes: 64MiB }                     # 0 = no spool; units B, KiB, MiB, GiB
//       retry:   { min_ms: 250, max_ms: 30000 }           # backoff between failed sends
//       close_timeout_ms: 5000                            # how long close() keeps delivering
//       # ...then the type's own keys, documented with its factory:
//       #   syslog/syslog_exporter.h, http/http_exporter.h, files/file_exporters.h
//
// Unknown keys are errors (a typo must not silently disable a filter), and
// every error names the sink and the key.
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "exporter.h"
#include "result.h"
#include "sink_config.h"

namespace bulkhead::exporters {

struct Options {
    std::string hostname;       // "" = gethostname(), or $BULKHEAD_HOSTNAME when set
    std::string spool_root = "/var/lib/bulkhead/spool";
    std::string version = "0.1.0";  // bulkhead's version, for User-Agent and OCSF metadata
};

// Reads a sink's keys, remembers which it used, and keeps the first error
// (naming the sink and the key). Type factories read their own keys with it.
class SinkReader {
public:
    SinkReader(const YAML::Node& node, std::string sink) : node_(node), sink_(std::move(sink)) {}

    bool has(const std::string& key);
    std::string str(const std::string& key, const std::string& fallback = "");
    std::string required_str(const std::string& key);
    // One of `choices`.
    std::string choice(const std::string& key, const std::set<std::string>& choices,
                       const std::string& fallback);
    int64_t integer(const std::string& key, int64_t lo, int64_t hi, int64_t fallback);
    bool boolean(const std::string& key, bool fallback);
    // "64MiB", "512KiB", "1048576".
    uint64_t bytes(const std::string& key, uint64_t fallback);
    std::vector<std::string> strings(const std::string& key);
    // A nested map (tls:, queue:), read with its own reader; keys are
    // reported as "tls.ca".
    SinkReader& child(const std::string& key);

    // Records an error about `key` unless one is already recorded.
    void fail(const std::string& key, const std::string& what);
    // The first error recorded so far.
    Result<void> errors() const;
    // The first error, or one for the first key nobody read.
    Result<void> finish();
    const std::string& sink() const { return sink_; }

private:
    YAML::Node get(const std::string& key);
    std::string where(const std::string& key) const;

    YAML::Node node_;
    std::string sink_;
    std::string prefix_;
    std::set<std::string> used_;
    std::deque<SinkReader> children_;  // stable references for child()
    std::string error_;
};

// Builds one sink of a type: `config` holds the common keys already read;
// the factory reads its own keys from `reader` and returns reader.finish()'s
// error, if any, before it starts anything.
using Factory = std::function<Result<std::unique_ptr<Exporter>>(
    const SinkConfig& config, SinkReader& reader, const Options& options)>;

// Factories by sink type. builtin_factories() has syslog, http, jsonl and
// ocsf; the daemon adds "audit" and "grpc" (exporters/audit, exporters/grpc)
// with add() before calling make_exporters.
class FactoryRegistry {
public:
    void add(const std::string& type, Factory factory) { factories_[type] = std::move(factory); }
    const Factory* find(const std::string& type) const;
    std::vector<std::string> types() const;

private:
    std::map<std::string, Factory> factories_;
};

FactoryRegistry builtin_factories();

// `sinks` is the sequence under the config's `exporters:` key (null or an
// empty sequence: no sinks). All or nothing: on any error no sink is
// started and the error names the sink (by name, or "#N" before the name is
// known) and the key; the sinks built before the bad one are closed.
Result<std::vector<std::unique_ptr<Exporter>>> make_exporters(
    const YAML::Node& sinks, const Options& options,
    const FactoryRegistry& registry = builtin_factories());

// The hostname events are stamped with: $BULKHEAD_HOSTNAME, else gethostname().
std::string default_hostname();

}  // namespace bulkhead::exporters
