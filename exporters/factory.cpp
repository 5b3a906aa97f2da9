// SPDX-License-Identifier: Apache-2.0
#include "factory.h"

#include <cstdlib>
#include <unistd.h>

#include "files/file_exporters.h"
#include "http/http_exporter.h"
#include "syslog/syslog_exporter.h"

namespace bulkhead::exporters {

std::string default_hostname() {
    if (const char* env = std::getenv("BULKHEAD_HOSTNAME"); env && *env)
        return env;
    char buf[256] = {};
    if (gethostname(buf, sizeof buf - 1) != 0 || !buf[0])
        return "localhost";
    return buf;
}

// ---- SinkReader ----

std::string SinkReader::where(const std::string& key) const {
    return "sink '" + sink_ + "': key '" + prefix_ + key + "'";
}

void SinkReader::fail(const std::string& key, const std::string& what) {
    if (error_.empty())
        error_ = where(key) + ": " + what;
}

YAML::Node SinkReader::get(const std::string& key) {
    used_.insert(key);
    if (!node_.IsMap())
        return YAML::Node();
    return node_[key];
}

bool SinkReader::has(const std::string& key) {
    return node_.IsMap() && node_[key] && !node_[key].IsNull();
}

std::string SinkReader::str(const std::string& key, const std::string& fallback) {
    YAML::Node n = get(key);
    if (!n || n.IsNull())
        return fallback;
    if (!n.IsScalar()) {
        fail(key, "expected a string");
        return fallback;
    }
    return n.Scalar();
}

std::string SinkReader::required_str(const std::string& key) {
    std::string v = str(key);
    if (v.empty())
        fail(key, "is required");
    return v;
}

std::string SinkReader::choice(const std::string& key, const std::set<std::string>& choices,
                               const std::string& fallback) {
    std::string v = str(key, fallback);
    if (!choices.count(v)) {
        std::string list;
        for (const auto& c : choices)
            list += (list.empty() ? "" : "|") + c;
        fail(key, "expected one of " + list + ", got '" + v + "'");
        return fallback;
    }
    return v;
}

int64_t SinkReader::integer(const std::string& key, int64_t lo, int64_t hi, int64_t fallback) {
    std::string s = str(key);
    if (s.empty())
        return fallback;
    char* end = nullptr;
    errno = 0;
    long long v = std::strtoll(s.c_str(), &end, 10);
    if (errno || *end || v < lo || v > hi) {
        fail(key, "expected an integer in " + std::to_string(lo) + ".." + std::to_string(hi) +
                      ", got '" + s + "'");
        return fallback;
    }
    return v;
}

bool SinkReader::boolean(const std::string& key, bool fallback) {
    std::string s = str(key);
    if (s.empty())
        return fallback;
    if (s == "true" || s == "yes" || s == "on")
        return true;
    if (s == "false" || s == "no" || s == "off")
        return false;
    fail(key, "expected true or false, got '" + s + "'");
    return fallback;
}

uint64_t SinkReader::bytes(const std::string& key, uint64_t fallback) {
    std::string s = str(key);
    if (s.empty())
        return fallback;
    char* end = nullptr;
    errno = 0;
    unsigned long long v = std::strtoull(s.c_str(), &end, 10);
    std::string unit = end;
    static const std::map<std::string, uint64_t> units = {
        {"", 1}, {"B", 1}, {"KiB", 1ull << 10}, {"MiB", 1ull << 20}, {"GiB", 1ull << 30}};
    auto u = units.find(unit);
    if (errno || end == s.c_str() || s[0] == '-' || u == units.end() || v > (1ull << 50)) {
        fail(key, "expected a size such as 65536, 512KiB or 64MiB, got '" + s + "'");
        return fallback;
    }
    return v * u->second;
}

std::vector<std::string> SinkReader::strings(const std::string& key) {
    YAML::Node n = get(key);
    std::vector<std::string> out;
    if (!n || n.IsNull())
        return out;
    if (!n.IsSequence()) {
        fail(key, "expected a list");
        return out;
    }
    for (const auto& item : n) {
        if (!item.IsScalar()) {
            fail(key, "expected a list of strings");
            return {};
        }
        out.push_back(item.Scalar());
    }
    return out;
}

SinkReader& SinkReader::child(const std::string& key) {
    YAML::Node n = get(key);
    if (n && !n.IsNull() && !n.IsMap())
        fail(key, "expected a map");
    children_.emplace_back(n && n.IsMap() ? n : YAML::Node(), sink_);
    children_.back().prefix_ = prefix_ + key + ".";
    return children_.back();
}

Result<void> SinkReader::errors() const {
    if (!error_.empty())
        return Error{error_};
    for (const auto& c : children_)
        if (auto e = c.errors(); !e)
            return e;
    return {};
}

Result<void> SinkReader::finish() {
    for (auto& c : children_) {
        auto r = c.finish();
        if (!r && error_.empty())
            error_ = r.error();
    }
    if (error_.empty() && node_.IsMap())
        for (const auto& kv : node_) {
            std::string key = kv.first.as<std::string>();
            if (!used_.count(key)) {
                fail(key, "unknown key");
                break;
            }
        }
    if (!error_.empty())
        return Error{error_};
    return {};
}

// ---- registry ----

const Factory* FactoryRegistry::find(const std::string& type) const {
    auto it = factories_.find(type);
    return it == factories_.end() ? nullptr : &it->second;
}

std::vector<std::string> FactoryRegistry::types() const {
    std::vector<std::string> out;
    for (const auto& [type, f] : factories_)
        out.push_back(type);
    return out;
}

FactoryRegistry builtin_factories() {
    FactoryRegistry r;
    r.add("syslog", make_syslog_exporter);
    r.add("http", make_http_exporter);
    r.add("jsonl", make_jsonl_exporter);
    r.add("ocsf", make_ocsf_exporter);
    return r;
}

namespace {

bool valid_name(const std::string& name) {
    if (name.empty() || name.size() > 64 || name[0] == '.')
        return false;
    for (char c : name)
        if (!isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.')
            return false;
    return true;
}

// The keys every sink has; the type's factory reads the rest.
SinkConfig read_common(SinkReader& r, const std::string& name, const std::string& type,
                       const Options& options) {
    SinkConfig c;
    c.name = name;
    c.type = type;
    std::string prio = r.str("min_priority", "Debug");
    if (auto p = parse_priority(prio))
        c.filter.min_priority = *p;
    else
        r.fail("min_priority", "unknown priority '" + prio +
                                   "' (Emergency, Alert, Critical, Error, Warning, Notice, "
                                   "Informational, Debug)");
    for (auto& rule : r.strings("rules"))
        c.filter.rules.insert(rule);
    for (auto& s : r.strings("sessions")) {
        char* end = nullptr;
        unsigned long long id = std::strtoull(s.c_str(), &end, 10);
        if (s.empty() || *end)
            r.fail("sessions", "expected session ids (integers), got '" + s + "'");
        c.filter.sessions.insert(id);
    }
    for (auto& v : r.strings("verdicts")) {
        if (v != "deny" && v != "audit" && v != "allow" && v != "ask")
            r.fail("verdicts", "expected deny, audit, allow or ask, got '" + v + "'");
        c.filter.verdicts.insert(v);
    }
    SinkReader& queue = r.child("queue");
    c.queue_max_events = static_cast<size_t>(queue.integer("max_events", 1, 10'000'000, 10000));
    SinkReader& spool = r.child("spool");
    c.spool_max_bytes = spool.bytes("max_bytes", c.spool_max_bytes);
    c.spool_dir = spool.str("dir", options.spool_root.empty() ? "" : options.spool_root + "/" + name);
    if (c.spool_max_bytes == 0)
        c.spool_dir.clear();
    SinkReader& retry = r.child("retry");
    c.retry_min = std::chrono::milliseconds(retry.integer("min_ms", 1, 3'600'000, 250));
    c.retry_max = std::chrono::milliseconds(retry.integer("max_ms", 1, 3'600'000, 30000));
    if (c.retry_max < c.retry_min)
        retry.fail("max_ms", "must not be smaller than retry.min_ms");
    c.close_timeout = std::chrono::milliseconds(r.integer("close_timeout_ms", 0, 600'000, 5000));
    return c;
}

}  // namespace

Result<std::vector<std::unique_ptr<Exporter>>> make_exporters(const YAML::Node& sinks,
                                                              const Options& options,
                                                              const FactoryRegistry& registry) {
    std::vector<std::unique_ptr<Exporter>> out;
    if (!sinks || sinks.IsNull())
        return out;
    if (!sinks.IsSequence())
        return Error{"exporters: expected a list of sinks"};
    Options opts = options;
    if (opts.hostname.empty())
        opts.hostname = default_hostname();
    std::set<std::string> names;
    int index = 0;
    for (const auto& node : sinks) {
        ++index;
        std::string label = "#" + std::to_string(index);
        if (!node.IsMap())
            return Error{"exporters: sink " + label + ": expected a map with name and type"};
        SinkReader r(node, label);
        std::string name = r.required_str("name");
        if (auto e = r.errors(); !e)
            return Error{"exporters: " + e.error()};
        if (!valid_name(name))
            return Error{"exporters: sink '" + name +
                         "': key 'name': use 1 to 64 of A-Z a-z 0-9 . _ - (it names the spool "
                         "directory and the metrics label)"};
        if (!names.insert(name).second)
            return Error{"exporters: sink '" + name + "': key 'name': used by two sinks"};
        SinkReader reader(node, name);
        reader.str("name");
        std::string type = reader.required_str("type");
        const Factory* factory = registry.find(type);
        if (!type.empty() && !factory) {
            std::string known;
            for (const auto& t : registry.types())
                known += (known.empty() ? "" : ", ") + t;
            reader.fail("type", "unknown sink type '" + type + "' (this build has " + known + ")");
        }
        SinkConfig config = read_common(reader, name, type, opts);
        if (auto e = reader.errors(); !e)
            return Error{"exporters: " + e.error()};
        // The factory reads its own keys and calls finish() before it starts
        // a worker; finish() again here catches a factory that forgot.
        auto made = (*factory)(config, reader, opts);
        if (!made)
            return Error{"exporters: " + made.error()};
        if (auto f = reader.finish(); !f)
            return Error{"exporters: " + f.error()};
        out.push_back(std::move(made.value()));
    }
    return out;
}

}  // namespace bulkhead::exporters
