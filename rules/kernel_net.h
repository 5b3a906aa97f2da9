// SPDX-License-Identifier: Apache-2.0
// Pass: kernel compilability of egress rules (internal).
//
// A rule whose evt.type names network calls (connect, sendto, sendmsg,
// sendmmsg) is an egress rule. It compiles when its condition is a
// conjunction of:
//   - operations: evt.type = / in (...), or an `or` of them;
//   - at most one address term: fd.sip, fd.rip, fd.ip, fd.net, fd.snet with
//     = / in (addresses and CIDRs), fd.sip.name = / in (host names), an `or`
//     of those (a union), or `not` / `!=` of them (the complement);
//   - at most one port term: fd.sport, fd.rport with = / in, or its negation;
//   - fd.l4proto = / in (tcp, udp), fd.typechar = / in (4, 6);
//   - scope: agent.session exists, agent.name = X; agent.tainted = true;
//   - evt.dir = '<' (deprecated, always true).
// Anything else makes the rule userspace-only; the error quotes the part.
#pragma once

#include "rules/ast.h"
#include "rules/kernel_policy.h"
#include "rules/result.h"

namespace bulkhead::rules {

// True when the condition names a network call in evt.type, which makes it
// an egress rule rather than a file rule.
bool is_egress_condition(const Expr& expr);

// The rule's egress terms (rule, file, verdict and the like left for the
// caller), or an Error saying which sub-expression the net guard cannot
// check and why.
Result<NetProtection> egress_terms(const Expr& expr);

}  // namespace bulkhead::rules
