// NAME
//   bounded_memo.h - BoundedMemo<V>: remembers what a pure function of a string returned, in a
//   bounded, thread-safe table.
//
// SYNOPSIS
//   BoundedMemo<std::string> memo;
//   std::string v = memo.get(domain, [&] { return expensive(domain); });
//
// DESCRIPTION
//   For results that depend only on the key and on state fixed for the memo's lifetime (the
//   owner is rebuilt when its configuration changes): the lookalike verdict of a sender domain,
//   the comparison keys of a display name. Mail comes from the same senders again and again,
//   and these cost ICU normalization and confusable skeletons each time.
//
//   Keys are spread over kShards shards, each with its own lock, so connection threads do not
//   queue on one mutex; `compute` runs without a lock (two threads may compute the same key
//   once each; the results are equal). A shard that reaches kMaxPerShard entries is emptied: a
//   flood of made-up keys costs recomputation, never unbounded memory.
//
// THREAD SAFETY
//   get() may be called concurrently.
#pragma once

#include <array>
#include <cstddef>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace meshgate {

template <typename V>
class BoundedMemo {
 public:
  static constexpr size_t kShards = 16;
  static constexpr size_t kMaxPerShard = 1024;

  template <typename Compute>
  V get(std::string_view key, Compute&& compute) {
    Shard& shard = shards_[std::hash<std::string_view>()(key) % kShards];
    {
      std::lock_guard<std::mutex> lock(shard.mu);
      if (auto it = shard.values.find(std::string(key)); it != shard.values.end()) {
        return it->second;
      }
    }
    V value = compute();
    std::lock_guard<std::mutex> lock(shard.mu);
    if (shard.values.size() >= kMaxPerShard) shard.values.clear();
    shard.values.emplace(std::string(key), value);
    return value;
  }

  size_t size() {
    size_t n = 0;
    for (Shard& s : shards_) {
      std::lock_guard<std::mutex> lock(s.mu);
      n += s.values.size();
    }
    return n;
  }

 private:
  struct Shard {
    std::mutex mu;
    std::unordered_map<std::string, V> values;
  };
  std::array<Shard, kShards> shards_;
};

}  // namespace meshgate
