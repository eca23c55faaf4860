// Night-after-night history of result sets in SQLite: every results.jsonl
// can be imported (keyed by kernel build, machine and night), a metric's
// trend read back per series, and a night flagged when it regressed against
// the nights before it. See docs/history.md.
#pragma once

#include <string>
#include <vector>

#include "results/record.h"

struct sqlite3;

namespace pasidbench {

struct HistoryImport {
  std::string night;  // YYYY-MM-DD the records were filed under
  int added = 0;      // test records new to the database
  int already = 0;    // test records it had (same run, test, kernel): importing twice is harmless
  std::vector<std::string> problems;  // lines left out, and why
};

// One value of a metric: the median over a night's records of one series.
struct HistoryPoint {
  std::string night;
  std::string machine;
  std::string kernel;
  std::string kernel_build_id;
  std::string test_id;
  bool emulated = false;
  std::string time_base;
  double value = 0;
  int samples = 0;  // records behind the value
  std::string unit;
  Better better = Better::kNone;
};

struct HistoryQuery {
  std::string metric;
  std::string machine;  // empty: every machine
  std::string kernel;   // empty: every kernel
  std::string test;     // substring of the test id; empty: every test
  int last_nights = 0;  // 0: all
};

// A night whose value is worse than the median of the `window` nights
// before it by more than the threshold, and worse than every one of them.
struct HistoryRegression {
  HistoryPoint point;
  double baseline = 0;    // median of the previous nights
  double change_pct = 0;  // signed, (value - baseline) / baseline
  int nights_compared = 0;
};

class HistoryDb {
 public:
  // Opens (creating) the database. Throws std::runtime_error with the path.
  explicit HistoryDb(const std::string& path);
  ~HistoryDb();
  HistoryDb(const HistoryDb&) = delete;
  HistoryDb& operator=(const HistoryDb&) = delete;

  // Imports a results.jsonl. `night` empty: the UTC date of its earliest
  // test record. Throws std::runtime_error when the file cannot be read.
  HistoryImport import_results(const std::string& results_jsonl, const std::string& night = {});

  // The metric's values, one per (series, night), ordered by series then night.
  // A series is (machine, kernel, test, emulated, time base): an emulated
  // value is never lined up with a bare-metal one.
  std::vector<HistoryPoint> series(const HistoryQuery& query) const;

  // Every metric name the database holds values for.
  std::vector<std::string> metric_names() const;

 private:
  sqlite3* db_ = nullptr;
  std::string path_;
};

// Flags regressions in `points` (as series() returns them). Needs at least
// `min_history` earlier nights in a series before it flags anything.
std::vector<HistoryRegression> find_regressions(const std::vector<HistoryPoint>& points, int window,
                                                double threshold_pct, int min_history = 3);

}  // namespace pasidbench
