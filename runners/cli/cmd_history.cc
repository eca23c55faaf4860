#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>

#include "platform/input_error.h"
#include "results/history.h"
#include "runners/cli/commands.h"

namespace pasidbench::cli {

namespace {

std::string default_history_db() {
  if (const char* p = std::getenv("PASIDBENCH_HISTORY"); p && *p) return p;
  if (const char* x = std::getenv("XDG_DATA_HOME"); x && *x)
    return std::string(x) + "/pasidbench/history.sqlite";
  const char* home = std::getenv("HOME");
  return std::string(home && *home ? home : ".") + "/.local/share/pasidbench/history.sqlite";
}

std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::string signed_pct(double v) { return (v >= 0 ? "+" : "") + fixed(v, 1) + "%"; }

const char* better_text(Better b) {
  return b == Better::kLower ? "lower is better" : b == Better::kHigher ? "higher is better" : "";
}

bool same_series(const HistoryPoint& a, const HistoryPoint& b) {
  return a.machine == b.machine && a.kernel == b.kernel && a.test_id == b.test_id &&
         a.emulated == b.emulated && a.time_base == b.time_base;
}

void print_text(const std::string& metric, const std::vector<HistoryPoint>& points,
                const std::map<size_t, HistoryRegression>& flagged, int window) {
  for (size_t i = 0; i < points.size(); ++i) {
    const HistoryPoint& p = points[i];
    bool first = i == 0 || !same_series(points[i - 1], p);
    if (first) {
      std::string how = p.emulated ? "emulated VM: emulator numbers" : "bare metal";
      how += p.time_base == "virtual-icount" ? ", virtual time (icount)"
                                             : ", " + p.time_base + " time";
      std::cout << (i ? "\n" : "") << metric << " [" << p.unit
                << (better_text(p.better)[0] ? std::string(", ") + better_text(p.better) : "")
                << "]  " << p.machine << " (" << how << ")  " << p.kernel << "  " << p.test_id
                << "\n";
      std::printf("  %-10s  %14s  %3s  %8s  %s\n", "night", "value", "n", "vs prev", "build");
    }
    std::string change =
        first
            ? ""
            : signed_pct((p.value - points[i - 1].value) / std::fabs(points[i - 1].value) * 100.0);
    std::printf("  %-10s  %14s  %3d  %8s  %s\n", p.night.c_str(), fixed(p.value, 1).c_str(),
                p.samples, change.c_str(), p.kernel_build_id.c_str());
    if (auto it = flagged.find(i); it != flagged.end())
      std::printf(
          "  %-10s  REGRESSED: %s against the median (%s) of the %d night(s) before "
          "(window %d)\n",
          "", signed_pct(it->second.change_pct).c_str(), fixed(it->second.baseline, 1).c_str(),
          it->second.nights_compared, window);
  }
}

nlohmann::json to_json(const std::string& metric, const std::vector<HistoryPoint>& points,
                       const std::map<size_t, HistoryRegression>& flagged, int window,
                       double threshold) {
  nlohmann::json series = nlohmann::json::array();
  for (size_t i = 0; i < points.size(); ++i) {
    const HistoryPoint& p = points[i];
    if (i == 0 || !same_series(points[i - 1], p))
      series.push_back({{"machine", p.machine},
                        {"kernel", p.kernel},
                        {"test_id", p.test_id},
                        {"emulated", p.emulated},
                        {"time_base", p.time_base},
                        {"unit", p.unit},
                        {"better", p.better == Better::kLower    ? "lower"
                                   : p.better == Better::kHigher ? "higher"
                                                                 : "none"},
                        {"points", nlohmann::json::array()}});
    nlohmann::json point = {{"night", p.night},
                            {"value", p.value},
                            {"records", p.samples},
                            {"kernel_build_id", p.kernel_build_id},
                            {"regressed", flagged.count(i) != 0}};
    if (auto it = flagged.find(i); it != flagged.end()) {
      point["baseline"] = it->second.baseline;
      point["change_pct"] = it->second.change_pct;
    }
    series.back()["points"].push_back(point);
  }
  return {{"metric", metric}, {"window", window}, {"threshold_pct", threshold}, {"series", series}};
}

}  // namespace

void add_history_command(CLI::App& app, int& exit_code) {
  static std::string db_path = default_history_db();
  static HistoryQuery query;
  static int window = 5;
  static double threshold = 5.0;
  static bool as_json = false, check = false;
  auto* cmd = app.add_subcommand(
      "history",
      "A metric's trend across nights (SQLite history; `history import` files result sets into "
      "it). Flags a night that regressed against the nights before it. See docs/history.md.");
  cmd->add_option("metric", query.metric, "metric name (e.g. ctxsw_ns)");
  cmd->add_option("--db", db_path,
                  "history database (default $PASIDBENCH_HISTORY or "
                  "~/.local/share/pasidbench/history.sqlite)");
  cmd->add_option("--machine", query.machine, "only this machine (host name in the records)");
  cmd->add_option("--kernel", query.kernel, "only this kernel build name");
  cmd->add_option("--test", query.test, "only tests whose id contains this");
  cmd->add_option("--last", query.last_nights, "only the last N nights");
  cmd->add_option("--window", window, "nights a night is compared against (default 5)");
  cmd->add_option("--threshold", threshold, "percent worse than their median to flag (default 5)");
  cmd->add_flag("--json", as_json, "print JSON (for reports)");
  cmd->add_flag("--check", check, "exit 1 when the latest night regressed (nightly CI)");

  static std::vector<std::string> files;
  static std::string night;
  auto* imp = cmd->add_subcommand("import", "file result sets (results.jsonl) into the history");
  imp->add_option("results", files, "results.jsonl files or directories holding one")->required();
  imp->add_option("--night", night,
                  "file them under this night (YYYY-MM-DD; default: the date "
                  "of each file's earliest record)");
  imp->add_option("--db", db_path, "history database");
  imp->callback([&exit_code] {
    std::filesystem::path db(db_path);
    if (db.has_parent_path()) std::filesystem::create_directories(db.parent_path());
    HistoryDb history(db_path);
    exit_code = 0;
    for (const auto& f : files) {
      std::string path = std::filesystem::is_directory(f)
                             ? (std::filesystem::path(f) / "results.jsonl").string()
                             : f;
      if (!std::filesystem::exists(path)) throw InputError({f, 0}, "no results.jsonl here");
      HistoryImport r = history.import_results(path, night);
      for (const auto& p : r.problems) std::cerr << "history: " << p << "\n";
      if (r.added == 0 && r.already == 0 && !r.problems.empty())
        throw InputError({path, 0}, "no record could be filed (the lines above say why)");
      std::cout << path << ": " << r.added << " record(s) filed under " << r.night
                << (r.already ? ", " + std::to_string(r.already) + " already there" : "") << "\n";
    }
  });

  cmd->callback([&exit_code, cmd] {
    if (cmd->got_subcommand("import")) return;
    if (query.metric.empty())
      throw InputError({"history", 0}, "name a metric (or: history import FILES)");
    if (window < 1) throw InputError({"--window", 0}, "must be at least 1");
    if (!std::filesystem::exists(db_path))
      throw InputError({"--db", 0}, db_path + " does not exist (history import creates it)");
    HistoryDb history(db_path);
    std::vector<HistoryPoint> points = history.series(query);
    if (points.empty()) {
      std::string known;
      for (const auto& m : history.metric_names()) known += (known.empty() ? "" : ", ") + m;
      throw InputError({query.metric, 0},
                       "no values for this metric and filter (metrics in the "
                       "history: " +
                           (known.empty() ? "none" : known) + ")");
    }
    std::map<size_t, HistoryRegression> flagged;
    auto regressions = find_regressions(points, window, threshold);
    for (const auto& r : regressions)
      for (size_t i = 0; i < points.size(); ++i)
        if (same_series(points[i], r.point) && points[i].night == r.point.night) flagged[i] = r;
    if (as_json)
      std::cout << to_json(query.metric, points, flagged, window, threshold).dump(2) << "\n";
    else
      print_text(query.metric, points, flagged, window);
    std::string latest;
    for (const auto& p : points) latest = std::max(latest, p.night);
    bool latest_regressed = false;
    for (const auto& r : regressions) latest_regressed |= r.point.night == latest;
    exit_code = check && latest_regressed ? 1 : 0;
  });
}

}  // namespace pasidbench::cli
