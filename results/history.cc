#include "results/history.h"

#include <sqlite3.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <stdexcept>
#include <tuple>

#include "platform/input_error.h"
#include "results/jsonl_store.h"

namespace pasidbench {

using nlohmann::json;

namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS imports (
  id INTEGER PRIMARY KEY,
  source TEXT NOT NULL,
  night TEXT NOT NULL,
  imported_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS results (
  id INTEGER PRIMARY KEY,
  import_id INTEGER NOT NULL REFERENCES imports(id),
  night TEXT NOT NULL,
  run_id TEXT NOT NULL,
  test_id TEXT NOT NULL,
  suite TEXT,
  workload TEXT NOT NULL,
  backend TEXT NOT NULL,
  kind TEXT NOT NULL,
  kernel_name TEXT NOT NULL,
  kernel_release TEXT NOT NULL,
  kernel_build_id TEXT NOT NULL,
  kernel_policy TEXT NOT NULL,
  machine TEXT NOT NULL,
  emulated INTEGER NOT NULL,
  time_base TEXT NOT NULL,
  started_at TEXT NOT NULL,
  outcome TEXT NOT NULL,
  reason TEXT NOT NULL,
  record TEXT NOT NULL,
  UNIQUE (run_id, test_id, kernel_name)
);
CREATE INDEX IF NOT EXISTS results_series ON results (machine, kernel_name, test_id, night);
CREATE TABLE IF NOT EXISTS metrics (
  result_id INTEGER NOT NULL REFERENCES results(id),
  name TEXT NOT NULL,
  value REAL NOT NULL,
  unit TEXT NOT NULL,
  better TEXT NOT NULL,
  PRIMARY KEY (result_id, name)
);
PRAGMA user_version = 1;
)sql";

class Statement {
 public:
  Statement(sqlite3* db, const char* sql) : db_(db) {
    if (sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr) != SQLITE_OK)
      throw std::runtime_error(std::string("sqlite: ") + sqlite3_errmsg(db));
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement& bind(int i, const std::string& s) {
    sqlite3_bind_text(stmt_, i, s.c_str(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Statement& bind(int i, int64_t v) {
    sqlite3_bind_int64(stmt_, i, v);
    return *this;
  }
  Statement& bind(int i, double v) {
    sqlite3_bind_double(stmt_, i, v);
    return *this;
  }
  // True while there is a row.
  bool step() {
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    throw std::runtime_error(std::string("sqlite: ") + sqlite3_errmsg(db_));
  }
  void reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  std::string text(int col) const {
    const unsigned char* t = sqlite3_column_text(stmt_, col);
    return t ? reinterpret_cast<const char*>(t) : "";
  }
  int64_t integer(int col) const { return sqlite3_column_int64(stmt_, col); }
  double real(int col) const { return sqlite3_column_double(stmt_, col); }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
};

void exec(sqlite3* db, const char* sql) {
  char* error = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &error) != SQLITE_OK) {
    std::string what = error ? error : "unknown error";
    sqlite3_free(error);
    throw std::runtime_error("sqlite: " + what);
  }
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

Better parse_better(const std::string& s) {
  return s == "lower" ? Better::kLower : s == "higher" ? Better::kHigher : Better::kNone;
}

bool is_date(const std::string& s) {
  return s.size() == 10 && s[4] == '-' && s[7] == '-' &&
         std::all_of(s.begin(), s.end(), [](char c) { return std::isdigit(c) || c == '-'; });
}

}  // namespace

HistoryDb::HistoryDb(const std::string& path) : path_(path) {
  if (sqlite3_open(path.c_str(), &db_) != SQLITE_OK) {
    std::string what = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    db_ = nullptr;
    throw std::runtime_error(path + ": cannot open: " + what);
  }
  sqlite3_busy_timeout(db_, 10000);
  try {
    exec(db_, kSchema);
  } catch (const std::exception& e) {
    sqlite3_close(db_);
    db_ = nullptr;
    throw std::runtime_error(path + ": " + e.what());
  }
}

HistoryDb::~HistoryDb() { sqlite3_close(db_); }

HistoryImport HistoryDb::import_results(const std::string& results_jsonl,
                                        const std::string& night) {
  JsonlContents contents = read_jsonl(results_jsonl);
  if (contents.records.empty() && contents.problems.empty())
    throw InputError({results_jsonl, 0}, "no records (missing or empty file)");
  HistoryImport out;
  out.problems = contents.problems;
  std::vector<ResultRecord> records;
  std::vector<std::string> lines;
  for (const auto& j : contents.records) {
    if (!j.is_object() || !j.contains("record") || j["record"] != "test") continue;
    try {
      records.push_back(record_from_json(j));
      lines.push_back(j.dump());
    } catch (const std::exception& e) {
      out.problems.push_back(results_jsonl + ": record left out: " + e.what());
    }
  }
  out.night = night;
  if (out.night.empty()) {
    std::string earliest;
    for (const auto& r : records)
      if (!r.started_at.empty() && (earliest.empty() || r.started_at < earliest))
        earliest = r.started_at;
    out.night = earliest.size() >= 10 ? earliest.substr(0, 10) : utc_now_rfc3339().substr(0, 10);
  }
  if (!is_date(out.night))
    throw InputError({"--night", 0}, "night must be YYYY-MM-DD, not '" + out.night + "'");

  exec(db_, "BEGIN IMMEDIATE");
  try {
    Statement imp(db_, "INSERT INTO imports (source, night, imported_at) VALUES (?, ?, ?)");
    imp.bind(1, results_jsonl).bind(2, out.night).bind(3, utc_now_rfc3339()).step();
    int64_t import_id = sqlite3_last_insert_rowid(db_);
    Statement ins(db_, R"sql(
      INSERT OR IGNORE INTO results (import_id, night, run_id, test_id, suite, workload, backend,
        kind, kernel_name, kernel_release, kernel_build_id, kernel_policy, machine, emulated,
        time_base, started_at, outcome, reason, record)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?))sql");
    Statement metric(
        db_, "INSERT INTO metrics (result_id, name, value, unit, better) VALUES (?, ?, ?, ?, ?)");
    for (size_t i = 0; i < records.size(); ++i) {
      const ResultRecord& r = records[i];
      const auto& k = r.provenance.kernel;
      const auto& m = r.provenance.machine;
      ins.reset();
      ins.bind(1, import_id)
          .bind(2, out.night)
          .bind(3, r.run_id)
          .bind(4, r.test_id)
          .bind(5, r.suite);
      ins.bind(6, r.workload)
          .bind(7, r.backend)
          .bind(8, r.kind)
          .bind(9, k.name)
          .bind(10, k.release);
      ins.bind(11, k.build_id).bind(12, k.policy).bind(13, m.hostname);
      ins.bind(14, static_cast<int64_t>(m.emulated)).bind(15, m.time_base).bind(16, r.started_at);
      ins.bind(17, std::string(to_string(r.outcome))).bind(18, r.reason).bind(19, lines[i]);
      ins.step();
      if (sqlite3_changes(db_) == 0) {
        ++out.already;
        continue;
      }
      ++out.added;
      int64_t result_id = sqlite3_last_insert_rowid(db_);
      // Only a test that ran to its verdict measured what its metrics say;
      // an incomplete search's numbers cover the schedules it reached, an
      // error's whatever it got to (as the report, which leaves them out).
      if (r.outcome != Outcome::kPass && r.outcome != Outcome::kFail) continue;
      for (const auto& [name, mv] : r.metrics) {
        if (mv.samples.empty() || !std::isfinite(mv.value)) continue;  // not measured here
        metric.reset();
        const char* better = mv.better == Better::kLower    ? "lower"
                             : mv.better == Better::kHigher ? "higher"
                                                            : "none";
        metric.bind(1, result_id).bind(2, name).bind(3, mv.value).bind(4, mv.unit);
        metric.bind(5, std::string(better)).step();
      }
    }
    exec(db_, "COMMIT");
  } catch (...) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
  return out;
}

std::vector<HistoryPoint> HistoryDb::series(const HistoryQuery& q) const {
  Statement s(db_, R"sql(
    SELECT r.night, r.machine, r.kernel_name, r.kernel_build_id, r.test_id, r.emulated,
           r.time_base, m.value, m.unit, m.better
    FROM metrics m JOIN results r ON r.id = m.result_id
    WHERE m.name = ?1
      AND (?2 = '' OR r.machine = ?2)
      AND (?3 = '' OR r.kernel_name = ?3)
      AND (?4 = '' OR instr(r.test_id, ?4) > 0)
    ORDER BY r.machine, r.kernel_name, r.test_id, r.emulated, r.time_base, r.night, r.started_at)sql");
  s.bind(1, q.metric).bind(2, q.machine).bind(3, q.kernel).bind(4, q.test);
  using Key = std::tuple<std::string, std::string, std::string, bool, std::string, std::string>;
  std::vector<std::pair<Key, HistoryPoint>> groups;
  std::map<Key, std::vector<double>> values;
  while (s.step()) {
    HistoryPoint p;
    p.night = s.text(0);
    p.machine = s.text(1);
    p.kernel = s.text(2);
    p.kernel_build_id = s.text(3);
    p.test_id = s.text(4);
    p.emulated = s.integer(5) != 0;
    p.time_base = s.text(6);
    p.unit = s.text(8);
    p.better = parse_better(s.text(9));
    Key key{p.machine, p.kernel, p.test_id, p.emulated, p.time_base, p.night};
    auto& v = values[key];
    if (v.empty())
      groups.emplace_back(key, p);
    else
      groups.back().second.kernel_build_id = p.kernel_build_id;  // the night's last build
    v.push_back(s.real(7));
  }
  std::vector<HistoryPoint> out;
  for (auto& [key, p] : groups) {
    p.value = median(values[key]);
    p.samples = static_cast<int>(values[key].size());
    out.push_back(p);
  }
  if (q.last_nights > 0) {
    std::vector<std::string> nights;
    for (const auto& p : out) nights.push_back(p.night);
    std::sort(nights.begin(), nights.end());
    nights.erase(std::unique(nights.begin(), nights.end()), nights.end());
    if (nights.size() > static_cast<size_t>(q.last_nights)) {
      std::string first = nights[nights.size() - q.last_nights];
      std::erase_if(out, [&](const HistoryPoint& p) { return p.night < first; });
    }
  }
  return out;
}

std::vector<std::string> HistoryDb::metric_names() const {
  Statement s(db_, "SELECT DISTINCT name FROM metrics ORDER BY name");
  std::vector<std::string> out;
  while (s.step()) out.push_back(s.text(0));
  return out;
}

std::vector<HistoryRegression> find_regressions(const std::vector<HistoryPoint>& points, int window,
                                                double threshold_pct, int min_history) {
  std::vector<HistoryRegression> out;
  auto same_series = [](const HistoryPoint& a, const HistoryPoint& b) {
    return a.machine == b.machine && a.kernel == b.kernel && a.test_id == b.test_id &&
           a.emulated == b.emulated && a.time_base == b.time_base;
  };
  size_t start = 0;
  for (size_t i = 0; i < points.size(); ++i) {
    if (i > 0 && !same_series(points[i - 1], points[i])) start = i;
    const HistoryPoint& p = points[i];
    size_t earlier = i - start;
    if (p.better == Better::kNone || earlier < static_cast<size_t>(std::max(1, min_history)))
      continue;
    size_t from = i - std::min(earlier, static_cast<size_t>(window));
    std::vector<double> before;
    for (size_t j = from; j < i; ++j) before.push_back(points[j].value);
    double base = median(before);
    if (base == 0) continue;
    double change = (p.value - base) / std::fabs(base) * 100.0;
    auto [lo, hi] = std::minmax_element(before.begin(), before.end());
    bool worse = p.better == Better::kLower ? (change > threshold_pct && p.value > *hi)
                                            : (change < -threshold_pct && p.value < *lo);
    if (worse) out.push_back({p, base, change, static_cast<int>(before.size())});
  }
  return out;
}

}  // namespace pasidbench
