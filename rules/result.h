// SPDX-License-Identifier: Apache-2.0
// Result<T>: a value or an Error, in the spirit of C++23 std::expected.
//
// Recoverable errors (bad rule files, conditions the kernel cannot check)
// travel in return values; the library throws nothing across its API.
#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace bulkhead::rules {

// Where a diagnostic points. Lines and columns are 1-based; 0 means unknown.
struct SourceLocation {
    std::string file;
    int line = 0;
    int column = 0;

    // "file:line:column", dropping the parts that are unknown.
    std::string to_string() const;
};

// A recoverable error: where, and what went wrong. `message` names the
// subsystem, the object and the cause; `to_string()` prefixes the location.
struct Error {
    SourceLocation location;
    std::string message;

    std::string to_string() const;
};

// A warning does not stop loading (deprecated syntax, unknown keys).
struct Warning {
    SourceLocation location;
    std::string message;

    std::string to_string() const;
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
    const T& value() const& {
        assert(ok());
        return std::get<0>(state_);
    }
    T&& value() && {
        assert(ok());
        return std::get<0>(std::move(state_));
    }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }

    const Error& error() const {
        assert(!ok());
        return std::get<1>(state_);
    }

private:
    std::variant<T, Error> state_;
};

// Result<void>: success or an Error.
template <>
class [[nodiscard]] Result<void> {
public:
    Result() = default;
    Result(Error error) : error_(std::move(error)), ok_(false) {}

    bool ok() const { return ok_; }
    explicit operator bool() const { return ok_; }
    const Error& error() const {
        assert(!ok_);
        return error_;
    }

private:
    Error error_;
    bool ok_ = true;
};

}  // namespace bulkhead::rules
