// SPDX-License-Identifier: Apache-2.0
#include "rules/kernel_net.h"

#include <optional>
#include <string>
#include <vector>

#include "rules/values.h"

namespace bulkhead::rules {

namespace {

constexpr const char* kNetFields =
    "the net guard checks only evt.type, fd.sip, fd.rip, fd.ip, fd.net, fd.snet, fd.sip.name, fd.sport, "
    "fd.rport, fd.l4proto, fd.typechar, agent.session, agent.name and agent.tainted";

Error unsupported(const Expr& e, const std::string& why) {
    return Error{{}, "'" + to_condition(e) + "' " + why};
}

std::vector<std::string> items(const Expr& check) {
    std::vector<std::string> out;
    if (check.value.kind == Value::Kind::kString) out.push_back(check.value.text);
    if (check.value.kind == Value::Kind::kList)
        for (const auto& item : check.value.items) out.push_back(item.text);
    return out;
}

bool is_address_field(const std::string& name) {
    return name == "fd.sip" || name == "fd.rip" || name == "fd.ip" || name == "fd.net" || name == "fd.snet" ||
           name == "fd.sip.name";
}
bool is_port_field(const std::string& name) { return name == "fd.sport" || name == "fd.rport"; }

uint32_t op_for_syscall(const std::string& name) {
    if (name == "connect") return kNetConnect;
    if (name == "sendto" || name == "sendmsg" || name == "sendmmsg") return kNetSend;
    return 0;
}

// A set of destinations (addresses or ports) one term names.
struct Set {
    std::vector<std::string> cidrs, hosts;
    std::vector<uint16_t> ports;
};

// A plain membership check (`=` / `in`, no transformers or modifiers).
Result<void> plain(const Expr& check) {
    if (!check.field.transformers.empty() || check.field.has_arg)
        return unsupported(check, "is not a kernel check (transformers and field arguments are userspace only)");
    if (check.modifier != Modifier::kNone)
        return unsupported(check, "is not a kernel check (operator modifiers are userspace only)");
    if (check.value.kind == Value::Kind::kField)
        return unsupported(check, "is not a kernel check (comparing two fields is userspace only)");
    return {};
}

// Adds the destinations of an address or port check to *set.
Result<void> add_to_set(const Expr& check, Set* set) {
    if (auto ok = plain(check); !ok) return ok;
    auto values = items(check);
    if (values.empty()) return unsupported(check, "names no destination (empty list)");
    const std::string& name = check.field.name;
    if (name == "fd.sip.name") {
        for (const auto& v : values) {
            if (v.empty() || v.find_first_of(" /\\*") != std::string::npos || v.find('\0') != std::string::npos)
                return unsupported(check, "names '" + v + "', which is not a host name");
            set->hosts.push_back(v);
        }
        return {};
    }
    if (is_port_field(name)) {
        for (const auto& v : values) {
            size_t used = 0;
            unsigned long port = 0;
            try {
                port = std::stoul(v, &used, 10);
            } catch (const std::exception&) {
                used = 0;
            }
            if (used != v.size() || v.empty() || port > 65535)
                return unsupported(check, "names the port '" + v + "', which is not a number from 0 to 65535");
            set->ports.push_back(static_cast<uint16_t>(port));
        }
        return {};
    }
    for (const auto& v : values) {
        IpNetwork net;
        if (!parse_ip_network(v, &net))
            return unsupported(check, "names '" + v + "', which is not an IP address or network");
        set->cidrs.push_back(v);
    }
    return {};
}

struct Terms {
    NetProtection out;
    const Expr* addr = nullptr;  // the term that set the address set
    const Expr* port = nullptr;
    bool scoped = false;  // agent.session exists or agent.name = X seen
};

// Records an address or port term, positive or negated.
Result<void> set_term(const Expr& source, const Set& set, bool negated, Terms* t) {
    bool is_port = !set.ports.empty();
    const Expr*& seen = is_port ? t->port : t->addr;
    if (seen) {
        return Error{{}, "'" + to_condition(*seen) + "' and '" + to_condition(source) + "' both constrain the " +
                             (is_port ? "port" : "address") + "; the net guard holds one set of each per rule"};
    }
    seen = &source;
    NetTerm term = negated ? NetTerm::kNotIn : NetTerm::kIn;
    if (is_port) {
        t->out.port_term = term;
        t->out.ports = set.ports;
    } else {
        t->out.addr_term = term;
        t->out.cidrs = set.cidrs;
        t->out.hosts = set.hosts;
    }
    return {};
}

// An address/port check or an `or` of them (all of one kind): its set.
Result<Set> destination_set(const Expr& e) {
    Set set;
    std::vector<const Expr*> checks;
    if (e.kind == ExprKind::kCheck) {
        checks.push_back(&e);
    } else if (e.kind == ExprKind::kOr) {
        for (const auto& c : e.children) {
            if (c->kind != ExprKind::kCheck)
                return unsupported(e, "is not a kernel check (an 'or' must list address or port checks)");
            checks.push_back(c.get());
        }
    } else {
        return unsupported(e, "is not a kernel check");
    }
    bool ports = false, addrs = false;
    for (const Expr* c : checks) {
        const std::string& name = c->field.name;
        if (!is_address_field(name) && !is_port_field(name))
            return unsupported(*c, std::string("is not a kernel check (") + kNetFields + ")");
        if (c->op != CompareOp::kEq && c->op != CompareOp::kIn)
            return unsupported(*c, "is not a kernel check (addresses and ports take = or in)");
        (is_port_field(name) ? ports : addrs) = true;
        if (auto ok = add_to_set(*c, &set); !ok) return ok.error();
    }
    if (ports && addrs)
        return unsupported(e, "mixes addresses and ports in one 'or'; the net guard cannot check that");
    return set;
}

Result<void> conjunct(const Expr& e, Terms* t) {
    NetProtection& out = t->out;
    if (e.kind == ExprKind::kNot) {
        const Expr& inner = *e.children.front();
        auto set = destination_set(inner);
        if (!set) return unsupported(e, "is a negation the net guard cannot check (only 'not' of addresses or ports)");
        return set_term(e, *set, true, t);
    }
    if (e.kind == ExprKind::kOr) {
        // An `or` of evt.type checks unites operations; else destinations.
        uint32_t ops = 0;
        bool all_types = true;
        for (const auto& c : e.children) {
            if (c->kind != ExprKind::kCheck || c->field.name != "evt.type") {
                all_types = false;
                break;
            }
            for (const auto& v : items(*c)) ops |= op_for_syscall(v);
        }
        if (all_types) {
            for (const auto& c : e.children)
                if (auto ok = conjunct(*c, t); !ok) return ok;
            return {};
        }
        auto set = destination_set(e);
        if (!set) return set.error();
        return set_term(e, *set, false, t);
    }
    if (e.kind != ExprKind::kCheck) return unsupported(e, "is not a kernel check");

    const std::string& name = e.field.name;
    const bool eq_or_in = e.op == CompareOp::kEq || e.op == CompareOp::kIn;
    if (name == "evt.type" && eq_or_in) {
        if (auto ok = plain(e); !ok) return ok;
        for (const auto& v : items(e)) {
            uint32_t op = op_for_syscall(v);
            if (!op) return unsupported(e, "names evt.type '" + v + "', which the net guard does not see");
            out.ops |= op;
        }
        return {};
    }
    if (name == "evt.dir" && e.op == CompareOp::kEq && e.value.text == "<") return {};
    if (name == "agent.session" && e.op == CompareOp::kExists) {
        t->scoped = true;
        return {};
    }
    if (name == "agent.name" && e.op == CompareOp::kEq && e.value.kind == Value::Kind::kString) {
        if (out.scope == KernelScope::kAgent && out.agent != e.value.text)
            return unsupported(e, "names a second agent; no session can match both");
        out.scope = KernelScope::kAgent;
        out.agent = e.value.text;
        t->scoped = true;
        return {};
    }
    if (name == "agent.tainted" && e.op == CompareOp::kEq && e.value.text == "true") {
        out.tainted_only = true;
        return {};
    }
    if (name == "fd.l4proto" && eq_or_in) {
        if (auto ok = plain(e); !ok) return ok;
        for (const auto& v : items(e)) {
            if (v == "tcp") out.protos |= kProtoTcp;
            else if (v == "udp") out.protos |= kProtoUdp;
            else return unsupported(e, "names the protocol '" + v + "'; the net guard sees tcp and udp");
        }
        return {};
    }
    if (name == "fd.typechar" && eq_or_in) {
        if (auto ok = plain(e); !ok) return ok;
        for (const auto& v : items(e)) {
            if (v == "4") out.families |= kFamilyV4;
            else if (v == "6") out.families |= kFamilyV6;
            else return unsupported(e, "names the socket type '" + v + "'; the net guard sees 4 and 6");
        }
        return {};
    }
    if (is_address_field(name) || is_port_field(name)) {
        if (e.op == CompareOp::kNe) {
            Expr positive;
            positive.field = e.field;
            positive.op = CompareOp::kEq;
            positive.value = e.value;
            Set set;
            if (auto ok = add_to_set(positive, &set); !ok) return unsupported(e, ok.error().message);
            return set_term(e, set, true, t);
        }
        auto set = destination_set(e);
        if (!set) return set.error();
        return set_term(e, *set, false, t);
    }
    return unsupported(e, std::string("is not a kernel check (") + kNetFields + ")");
}

}  // namespace

bool is_egress_condition(const Expr& expr) {
    std::vector<const Expr*> stack{&expr};
    while (!stack.empty()) {
        const Expr* e = stack.back();
        stack.pop_back();
        if (e->kind == ExprKind::kCheck && e->field.name == "evt.type") {
            for (const auto& v : items(*e))
                if (op_for_syscall(v)) return true;
        }
        for (const auto& c : e->children) stack.push_back(c.get());
    }
    return false;
}

Result<NetProtection> egress_terms(const Expr& expr) {
    Terms t;
    std::vector<const Expr*> stack{&expr};
    while (!stack.empty()) {
        const Expr* e = stack.back();
        stack.pop_back();
        if (e->kind == ExprKind::kAnd) {
            for (auto it = e->children.rbegin(); it != e->children.rend(); ++it) stack.push_back(it->get());
            continue;
        }
        if (e->kind == ExprKind::kMacroRef) return Error{{}, "macro '" + e->macro + "' was not expanded"};
        if (auto ok = conjunct(*e, &t); !ok) return ok.error();
    }
    if (!t.out.ops)
        return Error{{}, "'" + to_condition(expr) + "' names no network call (add evt.type in (connect, sendto, sendmsg))"};
    if (!t.scoped)
        return Error{{}, "'" + to_condition(expr) + "' is not scoped to agent sessions; the net guard judges "
                             "session traffic only (add 'agent.session exists' or 'agent.name = X')"};
    return t.out;
}

}  // namespace bulkhead::rules
