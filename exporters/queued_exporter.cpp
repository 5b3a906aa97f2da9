// SPDX-License-Identifier: Apache-2.0
#include "queued_exporter.h"

#include <algorithm>
#include <csignal>
#include <pthread.h>

namespace bulkhead::exporters {

using Clock = std::chrono::steady_clock;

Result<std::unique_ptr<QueuedExporter>> QueuedExporter::create(SinkConfig config,
                                                               std::unique_ptr<Delivery> delivery) {
    std::unique_ptr<Spool> spool;
    if (!config.spool_dir.empty()) {
        auto s = Spool::open(config.spool_dir, config.spool_max_bytes);
        if (!s)
            return Error{"sink '" + config.name + "': " + s.error()};
        spool = std::move(s.value());
    }
    return std::unique_ptr<QueuedExporter>(
        new QueuedExporter(std::move(config), std::move(delivery), std::move(spool)));
}

QueuedExporter::QueuedExporter(SinkConfig config, std::unique_ptr<Delivery> delivery,
                               std::unique_ptr<Spool> spool)
    : config_(std::move(config)), delivery_(std::move(delivery)), spool_(std::move(spool)) {
    if (spool_)
        spool_bytes_ = spool_->bytes();
    worker_ = std::thread([this] { run(); });
}

QueuedExporter::~QueuedExporter() {
    close();
}

void QueuedExporter::publish(const events::Event& event) {
    ++published_;
    if (!config_.filter.accepts(event) || !delivery_->carries(event)) {
        ++filtered_;
        return;
    }
    int prio = event_priority(event);
    {
        std::lock_guard lock(mu_);
        if (stopping_) {
            ++dropped_;
            return;
        }
        if (queue_.size() >= config_.queue_max_events) {
            // Full (the worker cannot keep up even with the spool): lose the
            // oldest of the least important events, or this one.
            auto victim = queue_.begin();
            for (auto it = queue_.begin(); it != queue_.end(); ++it)
                if (it->priority > victim->priority)
                    victim = it;
            ++dropped_;
            if (victim == queue_.end() || prio > victim->priority)
                return;
            queue_.erase(victim);
        }
        queue_.push_back(Item{prio, event});
    }
    cv_.notify_one();
}

void QueuedExporter::close() {
    {
        std::lock_guard lock(mu_);
        if (closed_)
            return;
        closed_ = true;
        stopping_ = true;
        close_deadline_ = Clock::now() + config_.close_timeout;
    }
    cv_.notify_one();
    if (worker_.joinable())
        worker_.join();
    delivery_->shutdown();
    std::lock_guard lock(mu_);
    dropped_ += queue_.size();  // only without a spool: the worker spools what it can
    queue_.clear();
}

ExporterStats QueuedExporter::stats() const {
    ExporterStats s;
    s.published = published_;
    s.delivered = delivered_;
    s.filtered = filtered_;
    s.spooled = spooled_;
    s.dropped = dropped_;
    s.send_errors = send_errors_;
    s.spool_bytes = spool_bytes_;
    std::lock_guard lock(mu_);
    s.queue_depth = queue_.size();
    return s;
}

std::string QueuedExporter::last_error() const {
    std::lock_guard lock(mu_);
    return last_error_;
}

void QueuedExporter::set_error(const std::string& error) {
    std::lock_guard lock(mu_);
    last_error_ = error;
}

void QueuedExporter::spool_payload(int priority, const std::string& payload) {
    if (!spool_) {
        ++dropped_;
        return;
    }
    auto r = spool_->push(priority, payload);
    if (r.stored)
        ++spooled_;
    dropped_ += r.dropped;
    spool_bytes_ = spool_->bytes();
    if (!r.error.empty())
        set_error("sink '" + config_.name + "': " + r.error);
}

// Moves the whole queue to the spool tail (the queue is newer than all of
// the spool, so order holds). Formats and writes with the lock released.
void QueuedExporter::spool_queue(std::unique_lock<std::mutex>& lock) {
    if (!spool_ || queue_.empty())
        return;
    std::deque<Item> items;
    items.swap(queue_);
    lock.unlock();
    for (auto& item : items)
        spool_payload(item.priority, delivery_->format(item.event));
    lock.lock();
}

// True when the payload is done with: delivered, or refused for good (it
// would block every later event if it were retried).
bool QueuedExporter::deliver(const std::string& payload) {
    auto r = delivery_->send(payload);
    if (r) {
        ++delivered_;
        return true;
    }
    ++send_errors_;
    if (r.permanent()) {
        ++dropped_;
        set_error("sink '" + config_.name + "': dropped an event the peer refuses: " + r.error());
        return true;
    }
    set_error("sink '" + config_.name + "': " + r.error());
    delivery_->reset();
    return false;
}

void QueuedExporter::run() {
    // A peer that hangs up makes writes raise SIGPIPE (OpenSSL writes
    // without MSG_NOSIGNAL): keep it pending on this thread, get EPIPE.
    sigset_t pipe;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe, nullptr);
    auto backoff = config_.retry_min;
    Clock::time_point retry_at{};
    std::unique_lock lock(mu_);
    for (;;) {
        bool spool_empty = !spool_ || spool_->empty();
        if (stopping_ && queue_.empty() && spool_empty)
            break;
        auto now = Clock::now();
        if (stopping_ && now >= close_deadline_) {
            spool_queue(lock);  // what the peer did not take survives a restart
            break;
        }
        if (now < retry_at) {
            // Peer down: keep the daemon's memory small, keep the order.
            spool_queue(lock);
            if (stopping_ && spool_)
                break;  // waiting for a dead peer would only delay the daemon's exit
            auto until = stopping_ ? std::min(retry_at, close_deadline_) : retry_at;
            cv_.wait_until(lock, until, [&] { return stopping_ || (spool_ && !queue_.empty()); });
            continue;
        }
        bool ok;
        if (!spool_empty) {
            // Catching up: the queue waits behind the spool, and joins it
            // when it grows past half its limit.
            if (queue_.size() > config_.queue_max_events / 2)
                spool_queue(lock);
            lock.unlock();
            uint64_t lost = 0;
            auto rec = spool_->front(&lost);
            dropped_ += lost;
            ok = !rec || deliver(rec->payload);
            if (rec && ok)
                spool_->pop(rec->seq);
            spool_bytes_ = spool_->bytes();
            lock.lock();
        } else if (!queue_.empty()) {
            Item item = std::move(queue_.front());
            queue_.pop_front();
            lock.unlock();
            std::string payload = delivery_->format(item.event);
            ok = deliver(payload);
            if (!ok && spool_)
                spool_payload(item.priority, payload);
            else if (!ok) {
                // No spool: keep it at the head of the queue for the retry.
                lock.lock();
                queue_.push_front(std::move(item));
                if (queue_.size() > config_.queue_max_events) {
                    queue_.pop_back();
                    ++dropped_;
                }
                lock.unlock();
            }
            lock.lock();
        } else {
            cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
            continue;
        }
        if (ok) {
            backoff = config_.retry_min;
        } else {
            retry_at = Clock::now() + backoff;
            backoff = std::min(backoff * 2, config_.retry_max);
        }
    }
}

}  // namespace bulkhead::exporters
