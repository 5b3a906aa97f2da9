// SPDX-License-Identifier: Apache-2.0
#include "session/tool_calls.h"

namespace bulkhead::session {

ToolCall& ToolCalls::begin(uint64_t session, ToolCall call) {
    auto& calls = calls_[session];
    for (auto& c : calls)
        if (c.id == call.id)
            return c;
    // Bounded: the oldest call, then the oldest session, make room.
    if (calls.size() >= kPerSession)
        calls.pop_front();
    calls.push_back(std::move(call));
    ToolCall& added = calls.back();
    while (calls_.size() > kSessions && calls_.begin()->first != session)
        calls_.erase(calls_.begin());
    return added;
}

ToolCall* ToolCalls::active_at(uint64_t session, int64_t t_ns) {
    auto it = calls_.find(session);
    if (it == calls_.end())
        return nullptr;
    for (auto c = it->second.rbegin(); c != it->second.rend(); ++c)
        if (c->start_ns <= t_ns && (c->end_ns == 0 || c->end_ns >= t_ns))
            return &*c;
    return nullptr;
}

std::optional<ToolCall> ToolCalls::end(uint64_t session, const std::string& id, int64_t t_ns) {
    auto it = calls_.find(session);
    if (it == calls_.end())
        return std::nullopt;
    for (auto& c : it->second)
        if (c.id == id) {
            if (c.end_ns == 0)
                c.end_ns = t_ns;
            return c;
        }
    return std::nullopt;
}

const std::deque<ToolCall>* ToolCalls::of(uint64_t session) const {
    auto it = calls_.find(session);
    return it == calls_.end() ? nullptr : &it->second;
}

}  // namespace bulkhead::session
