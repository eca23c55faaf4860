#include "results/kcidb.h"

#include <map>
#include <regex>
#include <stdexcept>

#include "results/record.h"
#include "results/verdict.h"

namespace pasidbench {

using nlohmann::json;

namespace {

// KCIDB has no expected-failure status. A test that failed as its suite
// expects, or a seeded mutant caught, did what it is for: PASS, with misc
// saying so (expected_outcome, verdict). An incomplete search is ERROR:
// it did not complete and the code's status is unknown.
const char* kcidb_status(const ResultRecord& r) {
  switch (verdict_of(r)) {
    case Verdict::kPassed:
    case Verdict::kExpectedFail:
    case Verdict::kCaught:
      return "PASS";
    case Verdict::kSkipped:
      return "SKIP";
    case Verdict::kNotCaught:
      return r.outcome == Outcome::kIncomplete ? "ERROR" : "PASS";
    case Verdict::kFailed:
      break;
  }
  switch (r.outcome) {
    // A failed check, an expected failure that passed, or the kernel died or
    // the test process was killed by a signal: a verdict on the code.
    case Outcome::kFail:
    case Outcome::kPass:
    case Outcome::kCrashed:
      return "FAIL";
    // Harness trouble, a search cut short, or a test that never ran: the
    // code's status is unknown.
    default:
      return "ERROR";
  }
}

// "micro:context-switch[cpus=2]@host" -> "micro-context-switch.cpus-2.host"
std::string test_path(const ResultRecord& r) {
  std::string path = "pasidbench." + kcidb_path_part(r.workload);
  for (const auto& [k, v] : r.params) path += "." + kcidb_path_part(k + "-" + v);
  return path + "." + kcidb_path_part(r.backend);
}

// The number KCIDB shows: nanoseconds become seconds with a metric prefix
// ("160 ns" on display); other units pass through.
json kcidb_number(const Metric& m) {
  if (m.unit == "ns") return {{"value", m.value * 1e-9}, {"unit", "s"}, {"prefix", "metric"}};
  json n = {{"value", m.value}};
  if (m.unit != "count") n["unit"] = m.unit;
  return n;
}

}  // namespace

std::string kcidb_path_part(const std::string& text) {
  std::string out;
  for (char c : text) {
    bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
    if (ok)
      out += c;
    else if (!out.empty() && out.back() != '-')
      out += '-';
  }
  while (!out.empty() && out.back() == '-') out.pop_back();
  return out.empty() ? "_" : out;
}

json kcidb_report(const std::vector<json>& lines, const KcidbOptions& o) {
  if (!std::regex_match(o.origin, std::regex("[a-z0-9_]+")))
    throw KcidbInputError(-1, "KCIDB origin must match [a-z0-9_]+, not '" + o.origin + "'");
  json checkouts = json::array(), builds = json::array(), tests = json::array();
  std::map<std::string, std::string> build_of;   // kernel key -> build id
  std::map<std::string, RunTally> tally;         // kernel key -> its verdicts
  std::map<std::string, std::string> first_run;  // kernel key -> first run id
  for (size_t i = 0; i < lines.size(); ++i) {
    const json& line = lines[i];
    if (!line.is_object() || line.value("record", json()) != "test") continue;
    ResultRecord r;
    try {
      r = record_from_json(line);
    } catch (const std::exception& e) {
      throw KcidbInputError(static_cast<long>(i), std::string("not a result record: ") + e.what());
    }
    const auto& k = r.provenance.kernel;
    const auto& m = r.provenance.machine;
    std::string key = k.name + "@" + (k.build_id.empty() ? k.release : k.build_id);
    if (!build_of.count(key)) {
      std::string checkout_id = o.origin + ":checkout:" + key;
      std::string build_id = o.origin + ":build:" + key;
      build_of[key] = build_id;
      json checkout = {
          {"id", checkout_id},
          {"origin", o.origin},
          {"valid", true},
          {"comment", k.name + " (" + k.release + ")"},
          {"misc", {{"kernel_name", k.name}, {"source", k.source}, {"policy", k.policy}}}};
      if (!o.tree_name.empty()) checkout["tree_name"] = o.tree_name;
      // A kernel built from git names its commit (and patch series).
      std::smatch git;
      if (std::regex_search(k.build_id, git,
                            std::regex("^git:([0-9a-f]{40})(\\+patches:([0-9a-f]{64}))?"))) {
        checkout["git_commit_hash"] = git[1].str();
        checkout["patchset_hash"] = git[3].matched ? git[3].str() : "";
      }
      checkouts.push_back(checkout);
      builds.push_back({{"id", build_id},
                        {"origin", o.origin},
                        {"checkout_id", checkout_id},
                        {"architecture", "x86_64"},
                        {"config_name", k.name},
                        {"comment", k.release},
                        {"status", "PASS"},
                        {"misc",
                         {{"release", k.release},
                          {"version", k.version},
                          {"build_id", k.build_id},
                          {"pasid_policy", k.policy}}}});
    }
    std::string build_id = build_of[key];
    std::string id = o.origin + ":" + r.run_id + ":" + k.name + ":" + r.test_id;
    json environment = {{"misc",
                         {{"hostname", m.hostname},
                          {"cpu_model", m.cpu_model},
                          {"emulated", m.emulated},
                          {"time_base", m.time_base}}}};
    if (m.emulated)
      environment["comment"] = "emulated VM (QEMU TCG): emulator numbers, not hardware numbers";
    std::string path = test_path(r);
    json test = {{"id", id},
                 {"origin", o.origin},
                 {"build_id", build_id},
                 {"path", path},
                 {"status", kcidb_status(r)},
                 {"environment", environment},
                 {"duration", r.duration_s},
                 {"misc",
                  {{"test_id", r.test_id},
                   {"outcome", to_string(r.outcome)},
                   {"verdict", to_string(verdict_of(r))}}}};
    if (r.expect_fail) test["misc"]["expected_outcome"] = "fail";
    if (!r.mutant_of.empty()) test["misc"]["seeded_mutant_of"] = r.mutant_of;
    if (!r.started_at.empty()) test["start_time"] = r.started_at;
    std::string comment = verdict_note(r);
    if (!comment.empty()) test["comment"] = comment;
    tally[key].add(r);
    if (!first_run.count(key)) first_run[key] = r.run_id;
    if (!r.violations.empty()) test["misc"]["violations"] = r.violations;
    tests.push_back(test);
    // One number per test object: each measured metric is its own DONE test.
    for (const auto& [name, metric] : r.metrics) {
      if (metric.samples.empty()) continue;
      json mt = {{"id", id + ":" + name},
                 {"origin", o.origin},
                 {"build_id", build_id},
                 {"path", path + "." + kcidb_path_part(name)},
                 {"status", "DONE"},
                 {"number", kcidb_number(metric)},
                 {"environment", environment},
                 {"misc",
                  {{"test_id", r.test_id},
                   {"metric", name},
                   {"unit", metric.unit},
                   {"better", metric.better == Better::kLower    ? "lower"
                              : metric.better == Better::kHigher ? "higher"
                                                                 : "none"},
                   {"samples", metric.samples.size()}}}};
      if (!r.started_at.empty()) mt["start_time"] = r.started_at;
      if (!metric.note.empty()) mt["comment"] = metric.note;
      tests.push_back(mt);
    }
  }
  // Whether the suite caught each seeded mutant is a verdict over all its
  // tests (caught by none fails the run): one more test object says it.
  for (const auto& [key, t] : tally)
    for (const auto& [backend, caught] : t.mutants()) {
      json mt = {{"id", o.origin + ":" + first_run[key] + ":" + key + ":seeded-mutant:" + backend},
                 {"origin", o.origin},
                 {"build_id", build_of[key]},
                 {"path", "pasidbench.seeded-mutant." + kcidb_path_part(backend)},
                 {"status", caught ? "PASS" : "FAIL"},
                 {"comment", caught ? "seeded mutant caught by at least one test"
                                    : "seeded mutant caught by no test"},
                 {"misc",
                  {{"backend", backend},
                   {"verdict", caught ? "caught by some test" : "caught by no test"}}}};
      tests.push_back(mt);
    }
  return {{"version", {{"major", 5}, {"minor", 3}}},
          {"checkouts", checkouts},
          {"builds", builds},
          {"tests", tests}};
}

}  // namespace pasidbench
