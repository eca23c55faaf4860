#include "runners/diff_model.h"

#include <set>

namespace pasidbench {

namespace {

using json = nlohmann::json;

// The submission outcomes the model names; anything else the module's
// interpreter counted (timeout, rejected, ioctl_error) is no outcome of the
// policy but of the run, and a record with it is an error, not compared.
const std::set<std::string>& model_outcome_names() {
  static const std::set<std::string> names = {"ok", "gp_sigsegv", "fault_unbound",
                                              "isolation_violation", "use_after_free"};
  return names;
}

// The object at `key`, or an empty one (never a temporary to iterate).
const json& object_at(const json& j, const char* key) {
  static const json empty = json::object();
  return j.is_object() && j.contains(key) && j[key].is_object() ? j[key] : empty;
}

std::string outcome_counts(const std::map<std::string, int64_t>& counts) {
  std::string text;
  for (const auto& [kind, n] : counts)
    text += (text.empty() ? "" : " ") + kind + " x" + std::to_string(n);
  return text.empty() ? "(none)" : text;
}

std::string set_text(const std::set<std::string>& kinds) {
  std::string text;
  for (const auto& k : kinds) text += (text.empty() ? "" : ", ") + k;
  return "{" + text + "}";
}

std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.15g", v);
  return buf;
}

}  // namespace

const char* to_string(DiffVerdict v) {
  switch (v) {
    case DiffVerdict::kAgree:
      return "agree";
    case DiffVerdict::kMismatch:
      return "MISMATCH";
    case DiffVerdict::kIncomplete:
      return "incomplete";
    case DiffVerdict::kNotCompared:
      return "not compared";
  }
  return "?";
}

const std::vector<std::string>& no_choice_counters() {
  static const std::vector<std::string> names = {"pasid_allocs",   "pasid_frees",
                                                 "ipis",           "context_switches_pasid_work",
                                                 "task_work_runs", "gp_fixups"};
  return names;
}

bool scheduler_counter(const std::string& name) { return name == "context_switches_pasid_work"; }

std::string record_kernel(const json& record) {
  return object_at(object_at(record, "provenance"), "kernel").value("name", "");
}

std::string module_side_key(const json& record) {
  std::string key = record_kernel(record) + "\n" + record.value("workload", "") + "\n" +
                    record.value("policy", "");
  if (record.contains("params") && record["params"].is_object())
    for (const auto& [k, v] : record["params"].items()) key += "\n" + k + "=" + v.dump();
  return key;
}

bool add_module_record(const json& record, ModuleSide* side) {
  if (!record.is_object() || !record.contains("details") || !record["details"].is_object())
    return false;
  const json& details = record["details"];
  if (!details.contains("differential")) return false;
  const json& d = details["differential"];
  if (side->records == 0) {
    side->kernel = record_kernel(record);
    side->workload = record.value("workload", "");
    side->policy = record.value("policy", "");
    if (record.contains("params"))
      for (const auto& [k, v] : record["params"].items())
        side->params[k] = v.is_string() ? v.get<std::string>() : v.dump();
    side->noise_seed = d.value("noise_seed", uint64_t{0});
    side->pin_cpu = d.value("pin_cpu", -1);
  }
  ++side->records;
  // Only a pass or a fail is a verdict of the module; an error (a lost
  // submission, counts that differ between module and submitters), a skip
  // or a crash says nothing about the policy.
  const std::string outcome = record.value("outcome", "");
  if (outcome != "pass" && outcome != "fail") {
    side->not_verdicts.push_back(record.value("test_id", "?") + ": " + outcome + " (" +
                                 record.value("reason", "") + ")");
    return true;
  }
  side->runs += d.value("runs", int64_t{0});
  for (const auto& [step, kinds] : object_at(d, "step_outcomes").items())
    for (const auto& [kind, n] : kinds.items()) side->step_outcomes[step][kind] += n.get<int64_t>();
  if (d.contains("witness_runs") && d["witness_runs"].is_array())
    for (const auto& w : d["witness_runs"]) side->witness_runs.push_back(w);
  for (const auto& [kind, n] : object_at(d, "runs_with_violation").items())
    side->runs_with_violation[kind] += n.get<int64_t>();
  for (const auto& [kind, n] : object_at(d, "runs_with_outcome").items())
    side->runs_with_outcome[kind] += n.get<int64_t>();
  if (record.contains("metrics"))
    for (const auto& name : no_choice_counters())
      if (record["metrics"].contains(name) &&
          record["metrics"][name].value("value", json()).is_number())
        side->counters[name] += record["metrics"][name]["value"].get<double>();
  return true;
}

json module_witness_run(const ModuleSide& side, const std::string& step,
                        const std::string& outcome) {
  const std::string key = step + " " + outcome;
  for (const auto& w : side.witness_runs)
    if (w.contains("first_seen") && w["first_seen"].is_array())
      for (const auto& seen : w["first_seen"])
        if (seen.is_string() && seen.get<std::string>() == key) return w;
  return nullptr;
}

DiffResult diff_against_model(const ModuleSide& m, const json& model, const std::string& error) {
  DiffResult out;
  for (const auto& why : m.not_verdicts) out.lines.push_back("not a verdict: " + why);
  if (m.runs == 0) {
    out.lines.push_back("no run of the module to compare");
    return out;
  }
  if (!error.empty() || !model.is_object()) {
    out.lines.push_back("model not run: " + (error.empty() ? "no record" : error));
    return out;
  }
  const json& details = object_at(model, "details");
  if (!details.contains("step_outcomes")) {
    out.lines.push_back("the model's record has no per-step outcomes (model outcome " +
                        model.value("outcome", "?") + ": " + model.value("reason", "") + ")");
    return out;
  }
  const json& steps = object_at(details, "step_outcomes");
  const json& search = object_at(model, "search");
  // Outcomes a search produced are ones the model can produce, however much
  // it searched; "cannot" needs the whole space (of the preemption bound).
  const bool complete = search.value("complete", false) && model.value("outcome", "") != "error";
  std::string scope = search.value("strategy", "?");
  if (search.contains("preemption_bound"))
    scope += " within preemption bound " + std::to_string(search["preemption_bound"].get<int>());
  scope += ", " + std::to_string(search.value("schedules_checked", int64_t{0})) + " schedules, " +
           (complete ? "complete" : "incomplete (" + search.value("stopped_by", "cut short") + ")");
  out.lines.push_back("model: " + scope + "; model record " + model.value("outcome", "?"));

  bool mismatch = false, unknown = false, not_compared = false;
  for (const auto& [step, counts] : m.step_outcomes) {
    if (!steps.contains(step)) {
      out.lines.push_back("step " + step + ": module " + outcome_counts(counts) +
                          " | the model's scenario has no such submit step");
      not_compared = true;
      continue;
    }
    std::set<std::string> can;
    for (const auto& k : steps[step]) can.insert(k.get<std::string>());
    std::string verdict = "agree";
    for (const auto& [kind, n] : counts) {
      if (n <= 0) continue;
      if (!model_outcome_names().count(kind)) {
        verdict = "not compared (" + kind + " is no outcome the model has)";
        not_compared = true;
      } else if (!can.count(kind)) {
        if (complete) {
          verdict = "MISMATCH: " + kind + " never produced by the model";
          mismatch = true;
          out.mismatches.push_back({step, kind});
        } else if (verdict == "agree") {
          verdict = "unknown: " + kind + " not produced by an incomplete search";
          unknown = true;
        }
      }
    }
    if (verdict.rfind("MISMATCH", 0) == 0) ++out.mismatched_steps;
    out.lines.push_back("step " + step + ": module " + outcome_counts(counts) + " | model " +
                        set_text(can) + "  " + verdict);
  }
  // A violation is a state as well as an outcome (stale_pasid_held needs no
  // submission): one the module saw that no schedule of a complete search
  // reached is a mismatch like an outcome.
  const json& model_violations = object_at(model, "violations");
  for (const auto& [kind, n] : m.runs_with_violation) {
    if (n <= 0) continue;
    std::string line = "module violation " + kind + " in " + std::to_string(n) + " of " +
                       std::to_string(m.runs) + " runs";
    if (!model_violations.contains(kind)) {
      if (complete) {
        line += "  MISMATCH: no schedule of the model reached it";
        mismatch = true;
        out.violation_mismatches.push_back(kind);
      } else {
        line += "  unknown: not reached by an incomplete search";
        unknown = true;
      }
    }
    out.lines.push_back(line);
  }
  for (const auto& [kind, n] : model_violations.items())
    out.lines.push_back("model violation " + kind + " in " + std::to_string(n.get<int64_t>()) +
                        " schedules");

  // No choice: one CPU and no noise. The model's reference schedule times
  // the runs.
  const json& ref = object_at(details, "reference_schedule");
  if (m.pin_cpu >= 0 && m.noise_seed == 0 && ref.contains("counters")) {
    std::string line = "counters (one CPU, no noise; module over " + std::to_string(m.runs) +
                       " runs vs the model's reference schedule x" + std::to_string(m.runs) + "):";
    out.lines.push_back(line);
    for (const auto& name : no_choice_counters()) {
      if (!m.counters.count(name) || !ref["counters"].contains(name)) continue;
      CounterComparison c{name, m.counters.at(name),
                          ref["counters"][name].get<double>() * static_cast<double>(m.runs)};
      c.compared = !scheduler_counter(name);
      c.equal = c.module == c.model;
      out.counters.push_back(c);
      out.lines.push_back("  " + name + ": module " + number(c.module) + ", model " +
                          number(c.model) +
                          (!c.compared ? "  not compared (the kernel's scheduler decides)"
                           : c.equal   ? "  equal"
                                       : "  different"));
    }
  }
  // Without a choice the kernel must count what the model's one schedule
  // counts: a compared counter that differs is a mismatch too.
  for (const auto& c : out.counters)
    if (c.compared && !c.equal) mismatch = true;
  out.verdict = mismatch       ? DiffVerdict::kMismatch
                : not_compared ? DiffVerdict::kNotCompared
                : unknown      ? DiffVerdict::kIncomplete
                               : DiffVerdict::kAgree;
  if (!m.not_verdicts.empty() && out.verdict == DiffVerdict::kAgree)
    out.lines.push_back("(agreement over the runs that were verdicts only)");
  return out;
}

}  // namespace pasidbench
