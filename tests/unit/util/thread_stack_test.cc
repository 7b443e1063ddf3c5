#include "gateway/util/thread_stack.h"

#include <gtest/gtest.h>
#include <pthread.h>

#include <thread>

namespace meshgate {
namespace {

// The stack the calling thread really got (what libmilter's threads get).
size_t stackOfThisThread() {
  pthread_attr_t attr;
  size_t bytes = 0;
  if (pthread_getattr_np(pthread_self(), &attr) == 0) {
    pthread_attr_getstacksize(&attr, &bytes);
    pthread_attr_destroy(&attr);
  }
  return bytes;
}

size_t stackOfANewThread() {
  size_t bytes = 0;
  std::thread t([&] { bytes = stackOfThisThread(); });
  t.join();
  return bytes;
}

TEST(ThreadStack, ThreadsCreatedAfterwardsGetTheSizeSet) {
  auto before = defaultThreadStackSize();
  ASSERT_TRUE(before.ok()) << before.status().toString();
  constexpr size_t kSize = size_t{1} << 20;
  ASSERT_NE(*before, kSize) << "the test needs a default other than 1 MiB to see a change";

  ASSERT_TRUE(setDefaultThreadStackSize(kSize).ok());
  EXPECT_EQ(*defaultThreadStackSize(), kSize);
  size_t got = stackOfANewThread();
  // glibc rounds up to pages and may add the guard; never less than asked.
  EXPECT_GE(got, kSize);
  EXPECT_LT(got, kSize + (size_t{64} << 10));

  ASSERT_TRUE(setDefaultThreadStackSize(*before).ok());
  EXPECT_GE(stackOfANewThread(), *before);
}

TEST(ThreadStack, ASizeBelowTheMinimumIsRefusedAndChangesNothing) {
  auto before = defaultThreadStackSize();
  ASSERT_TRUE(before.ok());
  Status st = setDefaultThreadStackSize(1024);  // below PTHREAD_STACK_MIN
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("1024"), std::string::npos) << st.message();
  EXPECT_EQ(*defaultThreadStackSize(), *before);
}

}  // namespace
}  // namespace meshgate
