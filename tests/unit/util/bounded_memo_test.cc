// BoundedMemo: one computation per key while it is kept, a bounded table, safe across threads.
#include "gateway/util/bounded_memo.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cctype>
#include <string>
#include <thread>
#include <vector>

namespace meshgate {
namespace {

TEST(BoundedMemo, ComputesEachKeyOnceAndReturnsWhatItComputed) {
  BoundedMemo<std::string> memo;
  int calls = 0;
  auto upper = [&](std::string_view key) {
    return memo.get(key, [&] {
      ++calls;
      std::string s(key);
      for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      return s;
    });
  };
  EXPECT_EQ(upper("paypal.com"), "PAYPAL.COM");
  EXPECT_EQ(upper("paypal.com"), "PAYPAL.COM");
  EXPECT_EQ(upper("example.net"), "EXAMPLE.NET");
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(memo.size(), 2u);
}

TEST(BoundedMemo, AFloodOfNewKeysNeverGrowsItPastItsBound) {
  BoundedMemo<int> memo;
  const size_t bound = BoundedMemo<int>::kShards * BoundedMemo<int>::kMaxPerShard;
  for (size_t i = 0; i < 3 * bound; ++i) {
    const std::string key = "sender" + std::to_string(i) + ".example";
    EXPECT_EQ(memo.get(key, [&] { return static_cast<int>(i); }), static_cast<int>(i));
  }
  EXPECT_LE(memo.size(), bound);
  EXPECT_GT(memo.size(), 0u);
}

TEST(BoundedMemo, ConcurrentCallersAllGetTheValueOfTheirKey) {
  BoundedMemo<std::string> memo;
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 5000; ++i) {
        const std::string key = "k" + std::to_string((i * 7 + t) % 300);
        if (memo.get(key, [&] { return key + "!"; }) != key + "!") ++wrong;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(memo.size(), 300u);
}

}  // namespace
}  // namespace meshgate
