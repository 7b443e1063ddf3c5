#include "gateway/util/metrics.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace meshgate::metrics {
namespace {

TEST(Metrics, CounterSeriesAreFoundAgainByNameAndLabels) {
  Counter& a = counter("test_found_total", "help", {{"action", "reject"}});
  Counter& b = counter("test_found_total", "help", {{"action", "reject"}});
  Counter& c = counter("test_found_total", "help", {{"action", "accept"}});
  EXPECT_EQ(&a, &b);
  EXPECT_NE(&a, &c);
  a.inc();
  b.inc(2);
  EXPECT_EQ(a.value(), 3u);
  EXPECT_EQ(c.value(), 0u);
}

TEST(Metrics, RendersCountersAndGaugesInTextFormat) {
  counter("test_render_total", "Things done.", {{"kind", "a\"b\\c\nd"}}).inc(7);
  gauge("test_render_gauge", "Level.").set(-3);
  const std::string page = renderPrometheus();
  EXPECT_NE(page.find("# HELP test_render_total Things done.\n# TYPE test_render_total counter\n"),
            std::string::npos);
  EXPECT_NE(page.find("test_render_total{kind=\"a\\\"b\\\\c\\nd\"} 7\n"), std::string::npos);
  EXPECT_NE(page.find("# TYPE test_render_gauge gauge\ntest_render_gauge -3\n"),
            std::string::npos);
}

TEST(Metrics, HistogramBucketsAreCumulativeWithSumAndCount) {
  Histogram& h = histogram("test_latency_seconds", "Latency.", {{"frontend", "milter"}});
  h.observe(0.00003);  // first bucket (<= 50 us)
  h.observe(0.0015);   // <= 2 ms
  h.observe(20.0);     // +Inf
  const std::string page = renderPrometheus();
  EXPECT_NE(page.find("test_latency_seconds_bucket{frontend=\"milter\",le=\"5e-05\"} 1\n"),
            std::string::npos) << page;
  EXPECT_NE(page.find("test_latency_seconds_bucket{frontend=\"milter\",le=\"0.001\"} 1\n"),
            std::string::npos);
  EXPECT_NE(page.find("test_latency_seconds_bucket{frontend=\"milter\",le=\"0.002\"} 2\n"),
            std::string::npos);
  EXPECT_NE(page.find("test_latency_seconds_bucket{frontend=\"milter\",le=\"10\"} 2\n"),
            std::string::npos);
  EXPECT_NE(page.find("test_latency_seconds_bucket{frontend=\"milter\",le=\"+Inf\"} 3\n"),
            std::string::npos);
  EXPECT_NE(page.find("test_latency_seconds_count{frontend=\"milter\"} 3\n"), std::string::npos);
  EXPECT_NEAR(h.sum(), 20.00153, 1e-6);
}

TEST(Metrics, QuantileInterpolatesWithinTheBucket) {
  Histogram& h = histogram("test_quantile_seconds", "q");
  EXPECT_EQ(h.quantile(0.5), 0.0);
  for (int i = 0; i < 100; ++i) h.observe(0.0003);  // bucket (0.0002, 0.0005]
  EXPECT_GT(h.quantile(0.5), 0.0002);
  EXPECT_LE(h.quantile(0.5), 0.0005);
  EXPECT_NEAR(h.quantile(0.5), 0.00035, 1e-9);
  h.observe(3.0);  // one slow outlier lands in (2, 5]
  EXPECT_LE(h.quantile(0.99), 0.0005);
  EXPECT_GT(h.quantile(0.999), 2.0);
}

TEST(Metrics, ATypeClashIsDetachedNotRendered) {
  counter("test_clash", "c").inc();
  Gauge& g = gauge("test_clash", "g");
  g.set(42);
  const std::string page = renderPrometheus();
  EXPECT_NE(page.find("# TYPE test_clash counter\ntest_clash 1\n"), std::string::npos);
  EXPECT_EQ(page.find("test_clash 42"), std::string::npos);
}

TEST(Metrics, ConcurrentUpdatesAreAllCounted) {
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([] {
      for (int i = 0; i < 10000; ++i) {
        counter("test_concurrent_total", "c", {{"t", "x"}}).inc();
        histogram("test_concurrent_seconds", "h").observe(0.001);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(counter("test_concurrent_total", "c", {{"t", "x"}}).value(), 40000u);
  EXPECT_EQ(histogram("test_concurrent_seconds", "h").count(), 40000u);
}

TEST(Metrics, ScopedTimerObservesOnce) {
  Histogram& h = histogram("test_timer_seconds", "t");
  { ScopedTimer timer(h); }
  EXPECT_EQ(h.count(), 1u);
}

}  // namespace
}  // namespace meshgate::metrics
