// SPDX-License-Identifier: Apache-2.0
#include "net/background.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "net/host_name.h"

namespace bulkhead::net {

rules::Result<std::unique_ptr<BackgroundResolver>> BackgroundResolver::start(ResolverOptions options) {
    auto resolver = Resolver::create(std::move(options));
    if (!resolver)
        return resolver.error();
    Fd event(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!event.valid())
        return rules::Error{{}, std::string("dns: cannot create an eventfd: ") + std::strerror(errno)};
    std::unique_ptr<BackgroundResolver> b(new BackgroundResolver(std::move(*resolver), std::move(event)));
    b->thread_ = std::thread([raw = b.get()] { raw->run(); });
    return b;
}

BackgroundResolver::BackgroundResolver(std::unique_ptr<Resolver> resolver, Fd event)
    : resolver_(std::move(resolver)), event_(std::move(event)) {}

BackgroundResolver::~BackgroundResolver() {
    {
        std::lock_guard lock(mu_);
        stop_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable())
        thread_.join();  // a lookup in flight ends within its bounded timeout
}

rules::Result<void> BackgroundResolver::set_names(const std::vector<std::string>& names) {
    for (const auto& n : names)
        if (auto why = validate_host_name(n))
            return rules::Error{{}, "dns: " + *why};
    {
        std::lock_guard lock(mu_);
        names_ = names;
        names_changed_ = true;
    }
    wake_.notify_all();
    return {};
}

Snapshot BackgroundResolver::take() {
    uint64_t n;
    while (::read(event_.get(), &n, sizeof(n)) > 0) {
    }
    std::lock_guard lock(mu_);
    return snapshot_;
}

void BackgroundResolver::publish() {
    Snapshot s;
    for (const auto& r : resolver_->resolved()) {
        auto& list = s.addresses[r.name];
        for (const auto& a : r.addresses)
            list.push_back(format_network(a));
        if (!r.error.empty())
            s.errors[r.name] = r.error;
    }
    snapshot_ = std::move(s);
    uint64_t one = 1;
    (void)!::write(event_.get(), &one, sizeof(one));
}

void BackgroundResolver::run() {
    std::unique_lock lock(mu_);
    while (!stop_) {
        bool changed = false;
        if (names_changed_) {
            names_changed_ = false;
            auto names = names_;
            lock.unlock();
            auto r = resolver_->set_names(names);  // validated in set_names()
            lock.lock();
            changed = r.ok();
        }
        lock.unlock();
        Refresh refresh = resolver_->refresh_due(Clock::now());
        lock.lock();
        changed = changed || !refresh.added.empty() || !refresh.removed.empty();
        for (const auto& n : refresh.names)
            changed = changed || !n.error.empty();  // errors are news too
        if (changed)
            publish();
        if (stop_ || names_changed_)
            continue;
        auto due = resolver_->next_due();
        if (due)
            wake_.wait_until(lock, *due, [this] { return stop_ || names_changed_; });
        else
            wake_.wait(lock, [this] { return stop_ || names_changed_; });
    }
}

}  // namespace bulkhead::net
