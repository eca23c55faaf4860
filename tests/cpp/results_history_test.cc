#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>

#include "results/history.h"
#include "results/jsonl_store.h"

namespace pasidbench {
namespace {

namespace fs = std::filesystem;

class History : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("pb-history-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // One night's result set: a benchmark record per (kernel, value).
  std::string night_file(const std::string& name, const std::string& date,
                         const std::vector<std::tuple<std::string, double, bool>>& values,
                         Outcome outcome = Outcome::kPass) {
    std::string path = (dir_ / name).string();
    JsonlWriter w(path);
    int i = 0;
    for (const auto& [kernel, value, emulated] : values) {
      ResultRecord r;
      r.run_id = name + "-" + std::to_string(i++);
      r.test_id = "micro:context-switch@host";
      r.kind = "benchmark";
      r.backend = "host";
      r.workload = "micro:context-switch";
      r.outcome = outcome;
      r.add_metric("ctxsw_ns", {value});
      r.add_metric("membarrier_ns", {value * 10});
      r.add_missing_metric("cycles", "PAPI: no hardware counters");
      r.provenance.kernel = {kernel, "6.1.0", "", "build-" + date, "mm-lifetime-lazy-gp", ""};
      r.provenance.machine.hostname = emulated ? "tcg-lab1" : "lab1";
      r.provenance.machine.emulated = emulated;
      r.provenance.pasidbench_revision = "test";
      r.started_at = date + "T0" + std::to_string(i) + ":00:00Z";
      w.append(to_json(r));
    }
    return path;
  }

  std::string db() const { return (dir_ / "h.sqlite").string(); }
  fs::path dir_;
};

HistoryQuery query(const std::string& machine = "", const std::string& kernel = "", int last = 0) {
  HistoryQuery q;
  q.metric = "ctxsw_ns";
  q.machine = machine;
  q.kernel = kernel;
  q.last_nights = last;
  return q;
}

TEST_F(History, ImportIsKeyedByRunTestAndKernelSoImportingTwiceAddsNothing) {
  HistoryDb h(db());
  std::string f = night_file("a.jsonl", "2026-11-01", {{"k1", 100, false}, {"k2", 90, false}});
  HistoryImport first = h.import_results(f);
  EXPECT_EQ(first.night, "2026-11-01");
  EXPECT_EQ(first.added, 2);
  HistoryImport again = h.import_results(f, "2026-11-02");
  EXPECT_EQ(again.added, 0);
  EXPECT_EQ(again.already, 2);
  // The unmeasured metric (no samples) is not a value in the history.
  EXPECT_EQ(h.metric_names(), (std::vector<std::string>{"ctxsw_ns", "membarrier_ns"}));
  EXPECT_THROW(h.import_results((dir_ / "missing.jsonl").string()), std::runtime_error);
  EXPECT_THROW(h.import_results(f, "Nov 3"), std::runtime_error);
}

// An incomplete search is filed as such, and its partial numbers are not a
// night's value.
TEST_F(History, AnIncompleteResultIsFiledAsSuchWithoutItsMetrics) {
  HistoryDb h(db());
  h.import_results(night_file("a.jsonl", "2026-11-01", {{"k1", 100, false}}));
  HistoryImport cut = h.import_results(
      night_file("b.jsonl", "2026-11-02", {{"k1", 50, false}}, Outcome::kIncomplete));
  EXPECT_EQ(cut.added, 1);
  std::vector<HistoryPoint> points = h.series(query());
  ASSERT_EQ(points.size(), 1u);
  EXPECT_EQ(points[0].night, "2026-11-01");
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(db().c_str(), &raw), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(raw, "SELECT outcome FROM results WHERE night = '2026-11-02'", -1,
                               &st, nullptr),
            SQLITE_OK);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)), "incomplete");
  sqlite3_finalize(st);
  sqlite3_close(raw);
}

TEST_F(History, SeriesKeepEmulatedAndBareMetalApartAndTakeTheMedianOfANight) {
  HistoryDb h(db());
  h.import_results(
      night_file("1.jsonl", "2026-11-01",
                 {{"k1", 100, false}, {"k1", 300, false}, {"k1", 120, false}, {"k1", 5000, true}}));
  h.import_results(night_file("2.jsonl", "2026-11-02", {{"k1", 110, false}, {"k1", 5100, true}}));
  auto points = h.series(query());
  ASSERT_EQ(points.size(), 4u);
  EXPECT_EQ(points[0].machine, "lab1");
  EXPECT_FALSE(points[0].emulated);
  EXPECT_EQ(points[0].value, 120);  // median of 100, 300, 120
  EXPECT_EQ(points[0].samples, 3);
  EXPECT_EQ(points[0].unit, "ns");
  EXPECT_EQ(points[0].better, Better::kLower);
  EXPECT_EQ(points[1].night, "2026-11-02");
  EXPECT_EQ(points[2].machine, "tcg-lab1");
  EXPECT_TRUE(points[2].emulated);
  EXPECT_EQ(points[2].value, 5000);
  EXPECT_EQ(h.series(query("lab1")).size(), 2u);
  EXPECT_EQ(h.series(query("", "k2")).size(), 0u);
  auto last = h.series(query("", "", 1));
  ASSERT_EQ(last.size(), 2u);
  EXPECT_EQ(last[0].night, "2026-11-02");
}

HistoryPoint point(const std::string& night, double value, Better better = Better::kLower,
                   const std::string& kernel = "k1") {
  HistoryPoint p;
  p.night = night;
  p.machine = "lab1";
  p.kernel = kernel;
  p.test_id = "t";
  p.time_base = "real";
  p.value = value;
  p.better = better;
  return p;
}

TEST(HistoryRegressions, FlagsANightWorseThanTheMedianAndTheRangeOfTheWindow) {
  std::vector<HistoryPoint> s = {point("01", 100), point("02", 104), point("03", 97),
                                 point("04", 101), point("05", 103), point("06", 112)};
  auto flagged = find_regressions(s, 5, 5.0);
  ASSERT_EQ(flagged.size(), 1u);
  EXPECT_EQ(flagged[0].point.night, "06");
  EXPECT_EQ(flagged[0].baseline, 101);
  EXPECT_NEAR(flagged[0].change_pct, 10.89, 0.01);
  EXPECT_EQ(flagged[0].nights_compared, 5);
  // 4 % over the median is within the threshold.
  s.back().value = 105;
  EXPECT_TRUE(find_regressions(s, 5, 5.0).empty());
  // Over the threshold but inside what the window already saw: noise.
  std::vector<HistoryPoint> noisy = {point("01", 100), point("02", 120), point("03", 96),
                                     point("04", 101), point("05", 115)};
  EXPECT_TRUE(find_regressions(noisy, 5, 5.0).empty());
}

TEST(HistoryRegressions, DirectionComesFromTheMetricAndSeriesDoNotMix) {
  std::vector<HistoryPoint> faster = {
      point("01", 100, Better::kHigher), point("02", 101, Better::kHigher),
      point("03", 99, Better::kHigher), point("04", 80, Better::kHigher)};
  auto flagged = find_regressions(faster, 5, 5.0);
  ASSERT_EQ(flagged.size(), 1u);
  EXPECT_EQ(flagged[0].point.night, "04");
  std::vector<HistoryPoint> better = {point("01", 100), point("02", 101), point("03", 99),
                                      point("04", 80)};
  EXPECT_TRUE(find_regressions(better, 5, 5.0).empty());
  // Too little history: nothing to compare against yet.
  std::vector<HistoryPoint> young = {point("01", 100), point("02", 101), point("03", 150)};
  EXPECT_TRUE(find_regressions(young, 5, 5.0).empty());
  // A new series does not inherit the previous one's nights.
  std::vector<HistoryPoint> two = {point("01", 100), point("02", 100), point("03", 100),
                                   point("01", 500, Better::kLower, "k2"),
                                   point("02", 500, Better::kLower, "k2")};
  EXPECT_TRUE(find_regressions(two, 5, 5.0).empty());
}

}  // namespace
}  // namespace pasidbench
