// SPDX-License-Identifier: Apache-2.0
#include "rules/evaluator.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <set>
#include <unordered_set>

#include <re2/re2.h>

#include "rules/event_types.h"
#include "rules/kernel_compiler.h"
#include "rules/values.h"

namespace bulkhead::rules {

namespace {

// Falco's proc.aname without an index looks this far up.
constexpr int kMaxAncestors = 20;

struct Operand {
    std::string text;  // string value, decoded bytes for b*, the part after `~` for home paths
    bool home = false;
    __int128 num = 0;
    bool boolean = false;
    IpNetwork net;
    std::unique_ptr<RE2> re;
};

struct Side {
    FieldRef field;
    std::vector<Transformer> transformers;  // innermost first
};

struct Check {
    Side lhs;
    CompareOp op = CompareOp::kExists;
    Modifier modifier = Modifier::kNone;
    std::vector<Operand> operands;
    std::unordered_set<std::string_view> set;  // `in` on plain strings: views into operands
    bool rhs_is_field = false;
    Side rhs;
};

struct Node {
    ExprKind kind = ExprKind::kCheck;
    std::vector<Node> children;
    Check* check = nullptr;
    int cost = 0;  // rough work to evaluate; and/or run their cheap children first
};

// Relative cost of one check. Reordering the operands of and/or changes no
// result (checks have no side effects) and lets cheap checks short-circuit
// list lookups, globs and regexes.
int check_cost(const Check& c) {
    int cost = 0;
    switch (c.op) {
    case CompareOp::kExists: cost = 1; break;
    case CompareOp::kEq: case CompareOp::kNe: case CompareOp::kLt: case CompareOp::kLe:
    case CompareOp::kGt: case CompareOp::kGe: case CompareOp::kStartsWith: case CompareOp::kBStartsWith:
    case CompareOp::kEndsWith:
        cost = c.lhs.field.info->type == FieldType::kString ? 3 : 2;
        break;
    case CompareOp::kIn: case CompareOp::kIntersects: cost = 4 + static_cast<int>(c.operands.size() - c.set.size()) * 2; break;
    case CompareOp::kContains: case CompareOp::kIContains: case CompareOp::kBContains: cost = 6; break;
    case CompareOp::kGlob: case CompareOp::kIGlob: case CompareOp::kPmatch:
        cost = 8 * static_cast<int>(std::max<size_t>(1, c.operands.size()));
        break;
    case CompareOp::kRegex: cost = 20; break;
    }
    if (c.modifier != Modifier::kNone) cost *= static_cast<int>(std::max<size_t>(1, c.operands.size()));
    if (!c.lhs.transformers.empty() || c.rhs_is_field) cost += 6;
    if (c.lhs.field.info->arg == FieldArg::kIndex && c.lhs.field.index < 0) cost *= 10;  // any ancestor
    return cost;
}

// A field's value after transformers; owns transformed strings.
struct Extracted {
    FieldValue v;
    std::string storage;
};

std::string b64_decode(std::string_view in) {
    static const std::string_view kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    uint32_t acc = 0;
    int bits = 0;
    for (char c : in) {
        if (c == '=') break;
        size_t pos = kAlphabet.find(c);
        if (pos == std::string_view::npos) return "";  // not base64: Falco yields an empty value
        acc = (acc << 6) | static_cast<uint32_t>(pos);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(static_cast<char>((acc >> bits) & 0xff));
        }
    }
    return out;
}

void apply(const std::vector<Transformer>& transformers, Extracted* value) {
    for (Transformer t : transformers) {
        std::string s(value->v.str);
        switch (t) {
        case Transformer::kToLower:
            for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            break;
        case Transformer::kToUpper:
            for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
            break;
        case Transformer::kB64:
            s = b64_decode(s);
            break;
        case Transformer::kBasename: {
            size_t slash = s.rfind('/');
            if (slash != std::string::npos) s = s.substr(slash + 1);
            break;
        }
        case Transformer::kLen:
            value->v.type = FieldType::kNumber;
            value->v.num = static_cast<__int128>(s.size());
            continue;
        }
        value->storage = std::move(s);
        value->v.str = value->storage;
    }
}

// One event being evaluated: plain fields (no argument) are read from the
// source once and cached, since many rules check proc.name or fd.name.
struct Context {
    explicit Context(const FieldSource& s) : source(s) {}
    const FieldSource& source;
    enum : uint8_t { kUnread = 0, kAbsent, kPresent };
    std::array<uint8_t, static_cast<size_t>(FieldId::kCount)> state{};
    std::array<FieldValue, static_cast<size_t>(FieldId::kCount)> values;

    bool get(const FieldRef& ref, FieldValue* out) {
        if (ref.info->arg != FieldArg::kNone) return source.get(ref, out);
        const auto id = static_cast<size_t>(ref.info->id);
        if (state[id] == kUnread) state[id] = source.get(ref, &values[id]) ? kPresent : kAbsent;
        if (state[id] == kAbsent) return false;
        *out = values[id];
        return true;
    }
};

bool get_value(const Side& side, Context& event, int index_override, Extracted* out) {
    if (side.field.info->id == FieldId::kEvtDir) {
        // Falco 0.42+: only exit events exist, so evt.dir is always '<'.
        out->v.type = FieldType::kString;
        out->v.str = "<";
    } else if (index_override >= 0) {
        FieldRef ref = side.field;
        ref.index = index_override;
        if (!event.get(ref, &out->v)) return false;
    } else if (!event.get(side.field, &out->v)) {
        return false;
    }
    if (!side.transformers.empty()) apply(side.transformers, out);
    return true;
}

bool icontains(std::string_view hay, std::string_view needle) {
    auto it = std::search(hay.begin(), hay.end(), needle.begin(), needle.end(), [](char a, char b) {
        return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
    });
    return it != hay.end();
}

// One string comparison against one operand (`in` and `pmatch` use their
// element operator).
bool compare_string(CompareOp op, std::string_view s, const Operand& o) {
    if (o.home) {
        // `~/x` means x under any home directory.
        size_t h = home_suffix(s);
        if (h == std::string_view::npos) return op == CompareOp::kNe;
        s = s.substr(h);
    }
    switch (op) {
    case CompareOp::kEq: case CompareOp::kIn: case CompareOp::kIntersects: return s == o.text;
    case CompareOp::kNe: return s != o.text;
    case CompareOp::kContains: case CompareOp::kBContains: return s.find(o.text) != std::string_view::npos;
    case CompareOp::kIContains: return icontains(s, o.text);
    case CompareOp::kStartsWith: case CompareOp::kBStartsWith: return s.substr(0, o.text.size()) == o.text;
    case CompareOp::kEndsWith:
        return s.size() >= o.text.size() && s.substr(s.size() - o.text.size()) == o.text;
    case CompareOp::kGlob: return glob_match(o.text, s);
    case CompareOp::kIGlob: return glob_match(o.text, s, true);
    case CompareOp::kRegex: return o.re && RE2::FullMatch(re2::StringPiece(s.data(), s.size()), *o.re);
    case CompareOp::kPmatch: return path_prefix_match(o.text, s);
    default: return false;
    }
}

bool compare_number(CompareOp op, __int128 a, __int128 b) {
    switch (op) {
    case CompareOp::kEq: case CompareOp::kIn: case CompareOp::kIntersects: return a == b;
    case CompareOp::kNe: return a != b;
    case CompareOp::kLt: return a < b;
    case CompareOp::kLe: return a <= b;
    case CompareOp::kGt: return a > b;
    case CompareOp::kGe: return a >= b;
    default: return false;
    }
}

bool compare_one(CompareOp op, const FieldValue& v, const Operand& o) {
    switch (v.type) {
    case FieldType::kString: return compare_string(op, v.str, o);
    case FieldType::kNumber: return compare_number(op, v.num, o.num);
    case FieldType::kBool: return op == CompareOp::kNe ? v.boolean != o.boolean : v.boolean == o.boolean;
    case FieldType::kIp: {
        IpNetwork addr;
        if (!parse_ip_network(v.str, &addr)) return false;
        bool in = ip_in_network(addr, o.net);
        return op == CompareOp::kNe ? !in : in;
    }
    }
    return false;
}

bool compare(const Check& c, const FieldValue& v) {
    if (c.op == CompareOp::kExists) return true;
    if (c.modifier != Modifier::kNone) {
        size_t hits = 0;
        for (const auto& o : c.operands) hits += compare_one(c.op, v, o) ? 1 : 0;
        switch (c.modifier) {
        case Modifier::kOneOf: return hits == 1;
        case Modifier::kAnyOf: return hits >= 1;
        case Modifier::kAllOf: return hits == c.operands.size();
        case Modifier::kNone: break;
        }
    }
    if (is_list_op(c.op)) {
        bool hashed = v.type == FieldType::kString && c.op != CompareOp::kPmatch;
        if (hashed && c.set.count(v.str)) return true;
        for (const auto& o : c.operands) {
            if (hashed && !o.home) continue;  // already looked up in the set
            if (compare_one(c.op, v, o)) return true;
        }
        return false;
    }
    return !c.operands.empty() && compare_one(c.op, v, c.operands.front());
}

bool eval_check(const Check& c, Context& event) {
    bool any_ancestor = c.lhs.field.info->arg == FieldArg::kIndex && c.lhs.field.index < 0 &&
                        c.lhs.field.info->id != FieldId::kProcAexepath;
    Extracted lhs;
    if (any_ancestor) {
        for (int i = 1; i <= kMaxAncestors; ++i) {
            if (!get_value(c.lhs, event, i, &lhs)) return false;
            if (compare(c, lhs.v)) return true;
        }
        return false;
    }
    if (!get_value(c.lhs, event, -1, &lhs)) return false;
    if (!c.rhs_is_field) return compare(c, lhs.v);
    Extracted rhs;
    if (!get_value(c.rhs, event, -1, &rhs)) return false;
    Operand o;
    o.text = std::string(rhs.v.str);
    o.num = rhs.v.num;
    o.boolean = rhs.v.boolean;
    if (rhs.v.type == FieldType::kIp) parse_ip_network(rhs.v.str, &o.net);
    CompareOp op = c.op;
    if (op == CompareOp::kRegex) op = CompareOp::kEq;  // a field is a literal, not a pattern
    return compare_one(op, lhs.v, o);
}

bool eval(const Node& node, Context& event) {
    switch (node.kind) {
    case ExprKind::kCheck: return eval_check(*node.check, event);
    case ExprKind::kNot: return !eval(node.children.front(), event);
    case ExprKind::kAnd:
        for (const auto& child : node.children)
            if (!eval(child, event)) return false;
        return true;
    case ExprKind::kOr:
        for (const auto& child : node.children)
            if (eval(child, event)) return true;
        return false;
    case ExprKind::kMacroRef: return false;
    }
    return false;
}

Result<Side> compile_side(const FieldExpr& field) {
    Side side;
    std::string why;
    if (!resolve_field(field.name, field.arg, field.has_arg, &side.field, &why)) return Error{{}, why};
    side.transformers.assign(field.transformers.rbegin(), field.transformers.rend());
    return side;
}

FieldType type_after(const Side& side) {
    for (Transformer t : side.transformers)
        if (t == Transformer::kLen) return FieldType::kNumber;
    return side.field.info->type;
}

Result<Operand> compile_operand(const Check& c, FieldType type, const std::string& text) {
    Operand o;
    o.text = text;
    switch (type) {
    case FieldType::kString:
        if (c.op == CompareOp::kBContains || c.op == CompareOp::kBStartsWith) {
            parse_hex_bytes(text, &o.text);
        } else if (c.op == CompareOp::kRegex) {
            RE2::Options options;
            options.set_posix_syntax(true);
            options.set_log_errors(false);
            o.re = std::make_unique<RE2>(text, options);
            if (!o.re->ok()) return Error{{}, "invalid regex '" + text + "': " + o.re->error()};
        } else if (is_home_relative(text)) {
            o.home = true;
            o.text = text.substr(1);
        }
        break;
    case FieldType::kNumber:
        if (!parse_number(text, &o.num)) return Error{{}, "'" + text + "' is not a number"};
        break;
    case FieldType::kBool:
        o.boolean = text == "true";
        break;
    case FieldType::kIp:
        if (!parse_ip_network(text, &o.net)) return Error{{}, "'" + text + "' is not an IP address or network"};
        break;
    }
    return o;
}

// True when `node` is an evt.type check that every type in `types` passes.
bool implied_type_check(const Node& node, const std::set<std::string>& types) {
    if (node.kind != ExprKind::kCheck) return false;
    const Check& c = *node.check;
    if (c.lhs.field.info->id != FieldId::kEvtType || !c.lhs.transformers.empty() || c.rhs_is_field ||
        c.modifier != Modifier::kNone || (c.op != CompareOp::kEq && c.op != CompareOp::kIn))
        return false;
    for (const auto& type : types) {
        bool found = false;
        for (const auto& o : c.operands) found = found || o.text == type;
        if (!found) return false;
    }
    return true;
}

// A rule indexed by evt.type only meets events of those types, so the
// evt.type checks that selected them are true by construction: drop them
// from the conjunctions on the root's and-path (an empty `and` is true).
void drop_implied_type_checks(Node& node, const std::set<std::string>& types) {
    if (implied_type_check(node, types)) {
        node = Node{ExprKind::kAnd, {}, nullptr, 0};
        return;
    }
    if (node.kind != ExprKind::kAnd) return;
    auto& kids = node.children;
    kids.erase(std::remove_if(kids.begin(), kids.end(),
                              [&](const Node& child) { return implied_type_check(child, types); }),
               kids.end());
    for (auto& child : kids) drop_implied_type_checks(child, types);
}

struct Compiler {
    std::vector<std::unique_ptr<Check>>* checks;
    size_t bytes = 0;

    Result<Node> compile(const Expr& expr) {
        Node node;
        node.kind = expr.kind;
        if (expr.kind == ExprKind::kMacroRef) return Error{{}, "macro '" + expr.macro + "' was not expanded"};
        if (expr.kind != ExprKind::kCheck) {
            for (const auto& child : expr.children) {
                auto compiled = compile(*child);
                if (!compiled) return compiled.error();
                node.children.push_back(std::move(*compiled));
            }
            bytes += sizeof(Node) * node.children.size();
            for (const auto& child : node.children) node.cost += child.cost;
            if (node.kind == ExprKind::kAnd || node.kind == ExprKind::kOr) {
                std::stable_sort(node.children.begin(), node.children.end(),
                                 [](const Node& a, const Node& b) { return a.cost < b.cost; });
            }
            return node;
        }
        auto check = std::make_unique<Check>();
        auto lhs = compile_side(expr.field);
        if (!lhs) return lhs.error();
        check->lhs = std::move(*lhs);
        check->op = expr.op;
        check->modifier = expr.modifier;
        FieldType type = type_after(check->lhs);
        auto add = [&](const std::string& text) -> Result<void> {
            auto o = compile_operand(*check, type, text);
            if (!o) return o.error();
            bytes += sizeof(Operand) + o->text.size();
            check->operands.push_back(std::move(*o));
            return {};
        };
        switch (expr.value.kind) {
        case rules::Value::Kind::kString:
            if (auto ok = add(expr.value.text); !ok) return ok.error();
            break;
        case rules::Value::Kind::kList:
            for (const auto& item : expr.value.items)
                if (auto ok = add(item.text); !ok) return ok.error();
            break;
        case rules::Value::Kind::kField: {
            auto rhs = compile_side(expr.value.field);
            if (!rhs) return rhs.error();
            check->rhs_is_field = true;
            check->rhs = std::move(*rhs);
            break;
        }
        case rules::Value::Kind::kListRef:
            return Error{{}, "list '" + expr.value.text + "' was not expanded"};
        case rules::Value::Kind::kNone:
            break;
        }
        if ((check->op == CompareOp::kIn || check->op == CompareOp::kIntersects) && type == FieldType::kString &&
            check->modifier == Modifier::kNone) {
            for (const auto& o : check->operands)
                if (!o.home) check->set.insert(o.text);
            bytes += check->set.size() * 32;
        }
        bytes += sizeof(Check);
        node.check = check.get();
        node.cost = check_cost(*check);
        checks->push_back(std::move(check));
        return node;
    }
};

// Output format: literal text and %field / %field[arg] references.
struct Segment {
    std::string literal;
    bool is_field = false;
    std::string key;  // as written, the output_fields key
    FieldRef field;
    bool available = false;  // false: a Falco field bulkhead lacks (<NA>)
};

Segment literal_segment(std::string text) {
    Segment seg;
    seg.literal = std::move(text);
    return seg;
}

bool field_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.'; }

Result<std::vector<Segment>> parse_output(const std::string& output) {
    std::vector<Segment> out;
    std::string literal;
    size_t i = 0;
    while (i < output.size()) {
        char c = output[i];
        if (c != '%' || i + 1 >= output.size() || !std::isalpha(static_cast<unsigned char>(output[i + 1]))) {
            literal.push_back(c);
            ++i;
            continue;
        }
        size_t start = ++i;
        while (i < output.size() && field_char(output[i])) ++i;
        while (i > start && output[i - 1] == '.') --i;  // "%fd.name." ends a sentence
        std::string name = output.substr(start, i - start);
        std::string arg;
        bool has_arg = false;
        if (i < output.size() && output[i] == '[') {
            size_t close = output.find(']', i);
            if (close == std::string::npos) return Error{{}, "output: '[' after %" + name + " is not closed"};
            arg = output.substr(i + 1, close - i - 1);
            has_arg = true;
            i = close + 1;
        }
        if (!literal.empty()) out.push_back(literal_segment(std::move(literal)));
        literal.clear();
        Segment seg;
        seg.is_field = true;
        seg.key = has_arg ? name + "[" + arg + "]" : name;
        std::string why;
        if (resolve_field(name, arg, has_arg, &seg.field, &why)) {
            seg.available = true;
        } else if (find_field(name) || unsupported_field_reason(name).empty()) {
            return Error{{}, "output: %" + seg.key + ": " + why};
        }
        out.push_back(std::move(seg));
    }
    if (!literal.empty()) out.push_back(literal_segment(std::move(literal)));
    return out;
}

}  // namespace

struct CompiledRule {
    bool evaluated = false;  // false: output only (the kernel evaluates it)
    std::vector<std::unique_ptr<Check>> checks;
    Node root;
    std::vector<Segment> output;
};

Evaluator::Evaluator(Evaluator&&) noexcept = default;
Evaluator& Evaluator::operator=(Evaluator&&) noexcept = default;
Evaluator::~Evaluator() = default;

std::vector<bool> Evaluator::userspace_rules(const RuleSet& rules) {
    return userspace_rules(rules, analyze_kernel_policy(rules));
}

std::vector<bool> Evaluator::userspace_rules(const RuleSet& rules, const KernelCompilation& kernel) {
    std::vector<bool> include(rules.rules.size(), false);
    for (size_t i = 0; i < rules.rules.size(); ++i) {
        const Rule& rule = rules.rules[i];
        include[i] = rule.enabled && rule.unsupported.empty() && kernel.report[i].placement == Placement::kUserspace;
    }
    return include;
}

Result<Evaluator> Evaluator::build(std::shared_ptr<const RuleSet> rules, std::vector<bool> include) {
    Evaluator ev;
    ev.rules_ = std::move(rules);
    const auto& list = ev.rules_->rules;
    if (include.empty()) {
        include.resize(list.size());
        for (size_t i = 0; i < list.size(); ++i) include[i] = list[i].enabled && list[i].unsupported.empty();
    }
    ev.compiled_.resize(list.size());
    std::unordered_map<std::string, std::vector<size_t>> typed;
    for (size_t i = 0; i < list.size(); ++i) {
        const Rule& rule = list[i];
        const bool evaluated = i < include.size() && include[i];
        // Outputs of every runnable rule compile, so the daemon can render the
        // output of a rule the kernel enforced.
        if (!evaluated && !(rule.enabled && rule.unsupported.empty())) continue;
        auto where = [&](const Error& e) {
            return Error{rule.location, "rule '" + rule.name + "': " + e.message};
        };
        if (!rule.unsupported.empty()) return where(Error{{}, "unsupported: " + rule.unsupported});
        if (!rule.expr) return where(Error{{}, "has no condition"});
        auto compiled = std::make_unique<CompiledRule>();
        auto output = parse_output(rule.output);
        if (!output) return where(output.error());
        compiled->output = std::move(*output);
        ev.memory_bytes_ += sizeof(CompiledRule) + rule.output.size();
        if (evaluated) {
            Compiler compiler{&compiled->checks};
            auto root = compiler.compile(*rule.expr);
            if (!root) return where(root.error());
            compiled->root = std::move(*root);
            compiled->evaluated = true;
            ev.memory_bytes_ += compiler.bytes;
            if (auto types = event_types(*rule.expr)) {
                drop_implied_type_checks(compiled->root, *types);
                for (const auto& type : *types) typed[type].push_back(i);
            } else {
                ev.any_.push_back(i);
            }
            ++ev.compiled_count_;
        }
        ev.compiled_[i] = std::move(compiled);
    }
    for (auto& [type, indexes] : typed) {
        std::vector<size_t> merged;
        std::merge(indexes.begin(), indexes.end(), ev.any_.begin(), ev.any_.end(), std::back_inserter(merged));
        ev.memory_bytes_ += type.size() + merged.size() * sizeof(size_t);
        ev.by_type_.emplace(type, std::move(merged));
    }
    return ev;
}

void Evaluator::evaluate(const FieldSource& event, std::vector<size_t>* fired) const {
    static const FieldRef kEvtType = [] {
        FieldRef ref;
        ref.info = find_field("evt.type");
        return ref;
    }();
    Context context(event);
    FieldValue type;
    const std::vector<size_t>* candidates = &any_;
    if (context.get(kEvtType, &type)) {
        auto it = by_type_.find(type.str);
        if (it != by_type_.end()) candidates = &it->second;
    }
    for (size_t index : *candidates)
        if (eval(compiled_[index]->root, context)) fired->push_back(index);
}

RenderedOutput Evaluator::render(size_t rule, const FieldSource& event) const {
    RenderedOutput out;
    Context context(event);
    const CompiledRule* compiled = rule < compiled_.size() ? compiled_[rule].get() : nullptr;
    if (!compiled) return out;
    for (const auto& seg : compiled->output) {
        if (!seg.is_field) {
            out.text += seg.literal;
            continue;
        }
        Side side{seg.field, {}};
        Extracted value;
        if (!seg.available || !get_value(side, context, -1, &value)) {
            out.text += "<NA>";
            out.fields[seg.key] = nullptr;
            continue;
        }
        switch (value.v.type) {
        case FieldType::kString:
        case FieldType::kIp: {
            std::string s(value.v.str);
            out.text += s;
            out.fields[seg.key] = s;
            break;
        }
        case FieldType::kNumber: {
            auto n = static_cast<int64_t>(value.v.num);
            out.text += std::to_string(n);
            out.fields[seg.key] = n;
            break;
        }
        case FieldType::kBool:
            out.text += value.v.boolean ? "true" : "false";
            out.fields[seg.key] = value.v.boolean;
            break;
        }
    }
    // Folded YAML leaves a trailing newline; outputs are one line.
    while (!out.text.empty() && (out.text.back() == '\n' || out.text.back() == ' ')) out.text.pop_back();
    return out;
}

Result<bool> evaluate_condition(const Expr& expr, const FieldSource& event) {
    std::vector<std::unique_ptr<Check>> checks;
    Compiler compiler{&checks};
    auto root = compiler.compile(expr);
    if (!root) return root.error();
    Context context(event);
    return eval(*root, context);
}

}  // namespace bulkhead::rules
