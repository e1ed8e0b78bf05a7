// Ordered prefetching: worker threads compute items 0, 1, 2, ... of a pure
// function make(index) ahead of the consumer, at most `depth` items ahead;
// next() hands them out in index order. Because each item is a pure function
// of its index, the sequence is identical for any number of threads.
// A worker's exception is rethrown by next(); the destructor (or stop())
// wakes and joins the workers, also when items are pending.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

namespace ember {

template <class T>
class OrderedPrefetcher {
 public:
  // Items [first, end) are produced.
  OrderedPrefetcher(uint64_t first, uint64_t end, int threads, int depth, std::function<T(uint64_t)> make)
      : make_(std::move(make)), next_produce_(first), next_consume_(first), end_(end),
        depth_(depth < 1 ? 1 : depth) {
    for (int t = 0; t < (threads < 1 ? 1 : threads); ++t) workers_.emplace_back([this] { run(); });
  }
  ~OrderedPrefetcher() { stop(); }
  OrderedPrefetcher(const OrderedPrefetcher&) = delete;
  OrderedPrefetcher& operator=(const OrderedPrefetcher&) = delete;

  // False when every item has been handed out.
  bool next(T& out) {
    std::unique_lock<std::mutex> lock(mu_);
    if (next_consume_ >= end_) return false;
    cv_.wait(lock, [&] { return ready_.count(next_consume_) || (error_ && error_index_ <= next_consume_); });
    if (!ready_.count(next_consume_)) std::rethrow_exception(error_);
    out = std::move(ready_[next_consume_]);
    ready_.erase(next_consume_++);
    cv_.notify_all();
    return true;
  }

  void stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& w : workers_)
      if (w.joinable()) w.join();
    workers_.clear();
  }

 private:
  void run() {
    for (;;) {
      uint64_t idx;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return stop_ || error_ || next_produce_ >= end_ || next_produce_ < next_consume_ + depth_; });
        if (stop_ || error_ || next_produce_ >= end_) return;
        idx = next_produce_++;
      }
      try {
        T item = make_(idx);
        std::lock_guard<std::mutex> lock(mu_);
        ready_.emplace(idx, std::move(item));
      } catch (...) {
        std::lock_guard<std::mutex> lock(mu_);
        if (!error_ || idx < error_index_) {
          error_ = std::current_exception();
          error_index_ = idx;
        }
      }
      cv_.notify_all();
    }
  }

  std::function<T(uint64_t)> make_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<uint64_t, T> ready_;
  uint64_t next_produce_, next_consume_, end_;
  uint64_t depth_;
  bool stop_ = false;
  std::exception_ptr error_;
  uint64_t error_index_ = 0;
  std::vector<std::thread> workers_;
};

}  // namespace ember
