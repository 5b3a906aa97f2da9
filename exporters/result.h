// SPDX-License-Identifier: Apache-2.0
// Result<T>: a value or an error message, for the exporters' recoverable
// errors (bad sink config, a peer that cannot be reached). The exporters do
// not link rules/, so they carry their own small copy of the idea.
#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace bulkhead::exporters {

// An error message that names the subsystem, the object and the cause:
// "sink 'siem': key 'port': expected an integer in 1..65535, got 'x'".
struct Error {
    std::string message;
    // The peer refused this payload itself (an HTTP 4xx): sending it again
    // cannot succeed, so it is dropped and counted instead of retried.
    bool permanent = false;
};

template <typename T>
class [[nodiscard]] Result {
public:
    Result(T value) : state_(std::in_place_index<0>, std::move(value)) {}
    Result(Error error) : state_(std::in_place_index<1>, std::move(error)) {}

    bool ok() const { return state_.index() == 0; }
    explicit operator bool() const { return ok(); }
    T& value() & {
        assert(ok());
        return std::get<0>(state_);
    }
    T&& value() && {
        assert(ok());
        return std::get<0>(std::move(state_));
    }
    T* operator->() { return &value(); }
    T& operator*() & { return value(); }
    const std::string& error() const {
        assert(!ok());
        return std::get<1>(state_).message;
    }

private:
    std::variant<T, Error> state_;
};

template <>
class [[nodiscard]] Result<void> {
public:
    Result() = default;
    Result(Error error) : error_(std::move(error.message)), ok_(false), permanent_(error.permanent) {}
    bool ok() const { return ok_; }
    explicit operator bool() const { return ok_; }
    const std::string& error() const { return error_; }
    bool permanent() const { return permanent_; }

private:
    std::string error_;
    bool ok_ = true;
    bool permanent_ = false;
};

}  // namespace bulkhead::exporters
