#include "runners/mutation_campaign.h"

#include <fnmatch.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

#include "kernels/policies/mutation.h"
#include "platform/environment.h"
#include "platform/file_io.h"
#include "platform/input_error.h"
#include "results/jsonl_store.h"
#include "results/verdict.h"
#include "runners/backends/model/machine.h"
#include "runners/backends/model/model_backend.h"
#include "runners/suite_runner.h"

namespace pasidbench {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// The violation kinds that are safety violations: DMA into the wrong place,
// or a state from which the next ENQCMD or the next owner gets it. deadlock
// and unexpected_outcome are not: a policy that kills or hangs a thread is
// broken, but not unsafe.
bool is_safety_violation(const std::string& kind) {
  using model::Violation;
  for (Violation v :
       {Violation::kIsolation, Violation::kUseAfterFree, Violation::kStalePasidHeld,
        Violation::kFreeWhileInstalled, Violation::kDoubleFree, Violation::kPasidTableStale})
    if (kind == model::to_string(v)) return true;
  return false;
}

// The most severe kind among a monitor run's {kind: schedules}.
std::string most_severe(const json& kinds) {
  for (int v = 0; v < model::kViolationKinds; ++v) {
    std::string name = model::to_string(static_cast<model::Violation>(v));
    if (kinds.contains(name)) return name;
  }
  return "";
}

struct MonitorWorkload {
  std::string workload;
  std::vector<std::pair<std::string, std::string>> params;
};

// Larger than every size of suites/conformance.toml (canonical_sizes.h):
// more threads, CPUs, rounds and turnovers, each binder behaviour, handoff.
std::vector<MonitorWorkload> monitor_set(const Suite& suite) {
  std::vector<MonitorWorkload> out = {
      {"thread-pool", {{"tasks", "4"}, {"cpus", "3"}, {"binder", "unbinds"}, {"submits", "2"}}},
      {"thread-pool", {{"tasks", "4"}, {"cpus", "3"}, {"binder", "stays"}, {"submits", "2"}}},
      {"thread-pool", {{"tasks", "4"}, {"cpus", "3"}, {"binder", "exits"}, {"submits", "2"}}},
      {"thread-pool", {{"tasks", "8"}, {"cpus", "4"}, {"binder", "unbinds"}, {"submits", "3"}}},
      {"clone-bind-exit", {{"rounds", "3"}, {"cpus", "3"}, {"submits", "2"}}},
      {"clone-bind-exit", {{"rounds", "6"}, {"cpus", "4"}, {"submits", "3"}}},
      {"long-lived-binders",
       {{"processes", "2"},
        {"threads", "2"},
        {"cpus", "3"},
        {"bystanders", "1"},
        {"turnover", "2"}}},
      {"long-lived-binders",
       {{"processes", "4"},
        {"threads", "3"},
        {"cpus", "4"},
        {"bystanders", "2"},
        {"turnover", "3"}}},
      {"long-lived-binders",
       {{"processes", "2"},
        {"threads", "2"},
        {"cpus", "3"},
        {"bystanders", "1"},
        {"turnover", "1"},
        {"handoff", "true"}}},
  };
  // The suite's scenario files, one CPU more than they ask for.
  std::set<std::string> seen;
  for (const auto& st : suite.tests) {
    if (st.workload.size() < 5 || st.workload.substr(st.workload.size() - 5) != ".toml") continue;
    if (!seen.insert(st.workload).second) continue;
    WorkloadInfo info = resolve_workload(st.workload, suite.base_dir, st.where);
    int cpus = 2;
    for (const auto& spec : info.params)
      if (spec.name == "cpus") cpus = std::stoi(spec.default_value);
    out.push_back({st.workload, {{"cpus", std::to_string(std::min(cpus + 1, 64))}}});
  }
  return out;
}

std::string label_of(const MonitorWorkload& w) {
  std::string text = w.workload + "[";
  for (size_t i = 0; i < w.params.size(); ++i)
    text += (i ? "," : "") + w.params[i].first + "=" + w.params[i].second;
  return text + "]";
}

struct MonitorRun {
  TestCase test;
  std::string label;  // the workload and the strategy, for people
};

// The monitor's searches of one mutant: each workload under random
// schedules and under PCT of another depth than the suite's, another seed.
std::vector<MonitorRun> monitor_plan(const Suite& suite, const std::string& backend,
                                     const MutateOptions& o) {
  std::vector<MonitorRun> plan;
  for (const auto& w : monitor_set(suite))
    for (const char* strategy : {"random", "pct"}) {
      RawParams p;
      SourceLocation where{"mutate monitor", 0};
      for (const auto& [k, v] : w.params) p[k] = {v, where};
      p["strategy"] = {strategy, where};
      p["schedules"] = {std::to_string(o.monitor_schedules), where};
      p["seed"] = {std::to_string(o.monitor_seed), where};
      if (std::string(strategy) == "pct") p["pct_depth"] = {"2", where};
      p["shrink"] = {"false", where};  // evidence, not a report: the raw schedule
      TestCase t =
          make_test_case(w.workload, suite.base_dir, where, p, backend, "mutation-monitor");
      t.timeout_s = suite.timeout_s;
      std::string how = std::string(strategy) == "pct" ? "pct depth 2" : "random";
      plan.push_back({std::move(t), label_of(w) + " " + how});
    }
  return plan;
}

std::string row_of(const std::string& test_id) { return test_id.substr(0, test_id.rfind('@')); }

std::string seconds_text(double s) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f s", s);
  return text;
}

struct Kill {
  std::string test;  // suite test id without the backend
  std::string violation;
  int64_t events = 0;
  std::string replay_file;
  bool reproduced = false;
  std::string replay_reason;
};

struct MutantResult {
  const model::GeneratedMutant* mutant = nullptr;  // op "seeded" for a seeded mutant
  std::string cls;                                 // unsafe | not_shown_unsafe | refused
  json evidence;  // unsafe: the monitor run that showed it; refused: why
  int64_t monitor_schedules = 0;
  int monitor_runs = 0;
  std::vector<std::string> monitor_errors;
  std::vector<Kill> kills;
  std::vector<std::string> suite_errors;  // tests that errored, crashed or timed out
  int suite_tests = 0;
  double seconds = 0;
};

// Replays a kill's file the way `pasidbench check --replay FILE` does.
void check_replay(Kill& k, const RunContext& ctx) {
  if (k.replay_file.empty()) {
    k.replay_reason = "no replay file";
    return;
  }
  try {
    TestCase t = model::replay_test_case(k.replay_file);
    t.timeout_s = 120;
    RunContext quiet = ctx;
    quiet.out_dir.clear();
    ResultRecord r = run_one(t, quiet);
    k.reproduced =
        r.outcome == Outcome::kFail && r.search.is_object() && r.search.value("reproduced", false);
    k.replay_reason = r.reason;
  } catch (const std::exception& e) {
    k.replay_reason = e.what();
  }
}

json to_json(const MutantResult& m) {
  json kills = json::array();
  for (const auto& k : m.kills)
    kills.push_back({{"test", k.test},
                     {"violation", k.violation},
                     {"events", k.events},
                     {"replay_file", k.replay_file},
                     {"replay_reproduced", k.reproduced},
                     {"replay_reason", k.replay_reason}});
  bool unsafe = m.cls == "unsafe";
  return {{"format", "pasidbench-mutant/1"},
          {"mutant", m.mutant->info.name},
          {"policy", m.mutant->info.parent},
          {"operator", m.mutant->op},
          {"hook", m.mutant->hook},
          {"class", m.cls},
          {"evidence", m.evidence},
          {"monitor",
           {{"runs", m.monitor_runs},
            {"schedules_checked", m.monitor_schedules},
            {"errors", m.monitor_errors}}},
          {"suite_tests", m.suite_tests},
          {"killed", !m.kills.empty()},
          {"kills", kills},
          {"suite_errors", m.suite_errors},
          {"survivor", unsafe && m.kills.empty()},
          {"seconds", m.seconds}};
}

}  // namespace

std::vector<std::string> monitor_workloads(const std::string& suite_path) {
  Suite suite = load_suite_file(suite_path);
  std::vector<std::string> out;
  for (const auto& w : monitor_set(suite)) out.push_back(label_of(w));
  return out;
}

int run_mutation_campaign(const MutateOptions& o) {
  const auto started = std::chrono::steady_clock::now();
  auto elapsed = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  };
  Suite suite = load_suite_file(o.suite_path);

  // The seeded mutants of the catalogue first, so the table covers them too,
  // then the generated ones.
  std::vector<model::GeneratedMutant> candidates;
  for (const auto& p : model::policy_catalog())
    if (!p.parent.empty()) candidates.push_back({p, "seeded", ""});
  for (const auto& m : model::generated_mutants()) candidates.push_back(m);
  std::vector<const model::GeneratedMutant*> chosen;
  for (const auto& m : candidates) {
    bool wanted = o.mutant_globs.empty();
    for (const auto& g : o.mutant_globs) wanted |= fnmatch(g.c_str(), m.info.name.c_str(), 0) == 0;
    if (wanted) chosen.push_back(&m);
  }
  if (chosen.empty())
    throw InputError({"--mutants", 0},
                     "no generated mutant matches (`pasidbench mutate --list` names them)");
  // Plan everything first, so bad input exits 2 before anything is written.
  std::vector<std::vector<MonitorRun>> monitor_plans;
  std::vector<std::vector<TestCase>> suite_plans;
  for (const auto* m : chosen) {
    std::string backend = "model:" + m->info.name;
    monitor_plans.push_back(monitor_plan(suite, backend, o));
    suite_plans.push_back(plan_suite(suite, {backend}, {}));
  }

  RunContext ctx;
  ctx.run_id = new_run_id();
  json env = collect_environment();
  ctx.provenance = provenance_from_environment(env);
  std::string out_dir =
      o.out_dir.empty() ? (fs::path("out") / ("mutate-" + ctx.run_id)).string() : o.out_dir;
  JsonlWriter results((fs::path(out_dir) / "results.jsonl").string());
  JsonlWriter mutants_file((fs::path(out_dir) / "mutants.jsonl").string());
  results.append(environment_record(ctx.run_id, env));
  RunContext monitor_ctx = ctx, suite_ctx = ctx;
  monitor_ctx.out_dir = (fs::path(out_dir) / "monitor").string();
  suite_ctx.out_dir = (fs::path(out_dir) / "kills").string();

  // The control: the real policies through the same monitor. A monitor
  // that calls a correct policy unsafe proves nothing about a mutant.
  std::vector<std::string> control_lines, control_failures;
  for (const auto& p : model::policy_catalog()) {
    if (!p.parent.empty()) continue;
    if (!o.quiet) std::cerr << "control " << p.name << ": monitor ... " << std::flush;
    int64_t schedules = 0;
    std::string problem;
    for (const auto& [test, label] : monitor_plan(suite, "model:" + p.name, o)) {
      ResultRecord r = run_one(test, monitor_ctx);
      results.append(pasidbench::to_json(r));
      if (r.search.is_object()) schedules += r.search.value("schedules_checked", 0);
      for (const auto& [kind, n] : r.violations)
        if (is_safety_violation(kind) && problem.empty())
          problem = kind + " on " + label + " in " + std::to_string(n) + " schedules";
      if (r.outcome != Outcome::kPass && r.outcome != Outcome::kFail && problem.empty())
        problem = std::string(to_string(r.outcome)) + " on " + label + " (" + r.reason + ")";
    }
    std::string text = p.name + ": " + (problem.empty() ? "clean" : "NOT CLEAN, " + problem) +
                       " (" + std::to_string(schedules) + " schedules)";
    if (!problem.empty()) control_failures.push_back(text);
    control_lines.push_back(text);
    if (!o.quiet) std::cerr << text.substr(p.name.size() + 2) << "\n";
  }

  std::vector<MutantResult> all;
  for (size_t i = 0; i < chosen.size(); ++i) {
    const auto mutant_start = std::chrono::steady_clock::now();
    MutantResult m;
    m.mutant = chosen[i];
    if (!o.quiet)
      std::cerr << "[" << i + 1 << "/" << chosen.size() << "] " << m.mutant->info.name
                << ": monitor ... " << std::flush;
    m.cls = "not_shown_unsafe";
    for (const auto& [test, label] : monitor_plans[i]) {
      ResultRecord r = run_one(test, monitor_ctx);
      results.append(pasidbench::to_json(r));
      ++m.monitor_runs;
      if (r.search.is_object()) m.monitor_schedules += r.search.value("schedules_checked", 0);
      if (r.outcome == Outcome::kError &&
          r.reason.find(model::kPolicyContractBroken) != std::string::npos) {
        m.cls = "refused";
        m.evidence = {{"monitor", label}, {"test", test.test_id}, {"reason", r.reason}};
        break;
      }
      if (r.outcome != Outcome::kPass && r.outcome != Outcome::kFail)
        m.monitor_errors.push_back(test.test_id + ": " + to_string(r.outcome) + " (" + r.reason +
                                   ")");
      json unsafe_kinds = json::object();
      for (const auto& [kind, n] : r.violations)
        if (is_safety_violation(kind)) unsafe_kinds[kind] = n;
      if (!unsafe_kinds.empty()) {
        // One monitor run that shows it is the evidence; the rest is not run.
        m.cls = "unsafe";
        m.evidence = {{"monitor", label},
                      {"test", test.test_id},
                      {"schedules_showing", unsafe_kinds},
                      {"schedules_checked", r.search.value("schedules_checked", 0)},
                      {"replay_file", r.counterexample.is_object()
                                          ? r.counterexample.value("replay_file", json())
                                          : json()}};
        break;
      }
    }
    if (!o.quiet) {
      if (m.cls == "unsafe")
        std::cerr << "unsafe (" << m.evidence["schedules_showing"].dump() << " on "
                  << m.evidence["monitor"].get<std::string>() << ")";
      else if (m.cls == "refused")
        std::cerr << "refused by the machine";
      else
        std::cerr << "not shown unsafe (" << m.monitor_schedules << " schedules, " << m.monitor_runs
                  << " searches)";
      std::cerr << "; suite ... " << std::flush;
    }
    // A mutant the machine refuses runs nowhere: no test can kill it.
    if (m.cls != "refused") {
      for (const auto& test : suite_plans[i]) {
        ResultRecord r = run_one(test, suite_ctx);
        results.append(pasidbench::to_json(r));
        ++m.suite_tests;
        Verdict v = verdict_of(r);
        if (v == Verdict::kCaught) {
          Kill k;
          k.test = row_of(test.test_id);
          if (r.counterexample.is_object()) {
            k.violation = r.counterexample.value("violation", "");
            k.events = r.counterexample.value("events", int64_t{0});
            json file = r.counterexample.value("replay_file", json());
            if (file.is_string()) k.replay_file = file.get<std::string>();
          }
          check_replay(k, ctx);
          m.kills.push_back(std::move(k));
        } else if (v == Verdict::kFailed) {
          m.suite_errors.push_back(row_of(test.test_id) + ": " + to_string(r.outcome) + " (" +
                                   r.reason + ")");
        }
      }
    }
    m.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - mutant_start).count();
    if (!o.quiet) {
      if (m.cls == "refused")
        std::cerr << "not run";
      else
        std::cerr << "killed by " << m.kills.size() << " of " << m.suite_tests << " tests";
      std::cerr << " [" << seconds_text(m.seconds) << "]\n";
    }
    mutants_file.append(to_json(m));
    all.push_back(std::move(m));
  }

  // The kill table: per suite test, the unsafe mutants it killed.
  std::vector<std::string> rows;
  for (const auto& plan : suite_plans)
    for (const auto& t : plan)
      if (std::find(rows.begin(), rows.end(), row_of(t.test_id)) == rows.end())
        rows.push_back(row_of(t.test_id));
  int unsafe = 0, killed = 0, not_shown = 0, not_shown_killed = 0, refused = 0;
  int64_t max_events = 0;
  std::vector<std::string> survivors, bad_traces;
  std::map<std::string, int> row_kills, row_other_kills;
  for (const auto& m : all) {
    if (m.cls == "refused") {
      ++refused;
      continue;
    }
    bool is_unsafe = m.cls == "unsafe";
    (is_unsafe ? unsafe : not_shown) += 1;
    if (!m.kills.empty()) (is_unsafe ? killed : not_shown_killed) += 1;
    if (is_unsafe && m.kills.empty()) survivors.push_back(m.mutant->info.name);
    for (const auto& k : m.kills) {
      (is_unsafe ? row_kills : row_other_kills)[k.test] += 1;
      max_events = std::max(max_events, k.events);
      if (k.events > kMaxKillEvents || !k.reproduced)
        bad_traces.push_back(
            m.mutant->info.name + " on " + k.test + " (" + std::to_string(k.events) + " events" +
            (k.reproduced ? "" : ", replay did not reproduce: " + k.replay_reason) + ")");
    }
  }

  std::ostringstream table;
  int seeded = 0;
  for (const auto& m : all) seeded += m.mutant->op == "seeded";
  table << "mutation campaign: " << suite.name << " against " << all.size() << " mutants ("
        << seeded << " seeded, " << all.size() - seeded << " generated; revision "
        << ctx.provenance.pasidbench_revision << ")\n";
  table << "monitor: " << monitor_plans.front().size() / 2
        << " workloads beyond the suite's sizes x {random, pct depth 2}, " << o.monitor_schedules
        << " schedules each, seed " << o.monitor_seed << "\n\n";
  size_t width = 44;
  for (const auto& r : rows) width = std::max(width, r.size() + 2);
  char line[512];
  std::snprintf(line, sizeof line, "%-*s %14s %24s\n", static_cast<int>(width), "conformance test",
                "killed/unsafe", "killed/not-shown-unsafe");
  table << line;
  for (const auto& r : rows) {
    std::snprintf(line, sizeof line, "%-*s %8d/%-5d %16d/%-7d\n", static_cast<int>(width),
                  r.c_str(), row_kills[r], unsafe, row_other_kills[r], not_shown);
    table << line;
  }
  std::snprintf(line, sizeof line, "%-*s %8d/%-5d %16d/%-7d\n", static_cast<int>(width),
                "any test (the suite)", killed, unsafe, not_shown_killed, not_shown);
  table << line << "\n";
  table << "overall: " << killed << " killed / " << unsafe << " unsafe / " << not_shown
        << " not shown unsafe / " << refused << " refused by the machine (of " << all.size()
        << ")\n";
  table << "kill traces: "
        << (max_events > 0 ? "the longest has " + std::to_string(max_events) + " events"
                           : std::string("none"))
        << " (limit " << kMaxKillEvents << "), "
        << (bad_traces.empty() ? "every replay reproduced"
                               : std::to_string(bad_traces.size()) + " bad")
        << "\n";
  for (const auto& b : bad_traces) table << "  bad kill trace: " << b << "\n";
  std::string survivor_text;
  for (const auto& s : survivors) survivor_text += (survivor_text.empty() ? "" : ", ") + s;
  table << "unsafe and not killed: " << (survivors.empty() ? "none" : survivor_text) << "\n";
  table << "control, the real policies through the monitor:";
  for (const auto& c : control_lines) table << "\n  " << c;
  table << "\n\n";
  // Per mutant, so the table can be pasted whole into a note.
  for (const auto& m : all) {
    std::string how = m.cls == "refused" ? "refused"
                      : m.cls == "unsafe"
                          ? "unsafe: " + most_severe(m.evidence["schedules_showing"]) + " on " +
                                m.evidence["monitor"].get<std::string>()
                          : "not shown unsafe";
    std::string kills = m.cls == "refused" ? "-"
                                           : std::to_string(m.kills.size()) + "/" +
                                                 std::to_string(m.suite_tests) + " tests";
    int64_t longest = 0;
    for (const auto& k : m.kills) longest = std::max(longest, k.events);
    std::snprintf(line, sizeof line, "  %-40s %-12s %s%s\n", m.mutant->info.name.c_str(),
                  kills.c_str(), how.c_str(),
                  m.kills.empty() ? "" : (", <= " + std::to_string(longest) + " events").c_str());
    table << line;
  }
  table << "\ncampaign took " << seconds_text(elapsed()) << "\n";
  std::cout << table.str() << std::flush;
  replace_file((fs::path(out_dir) / "kill-table.txt").string(), table.str());
  if (!o.quiet) std::cerr << "pasidbench: campaign records in " << out_dir << "\n";
  return survivors.empty() && bad_traces.empty() && control_failures.empty() ? 0 : 1;
}

}  // namespace pasidbench
