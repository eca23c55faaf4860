#include "suites/micro/micro_catalog.h"

#include <algorithm>
#include <cmath>
#include <mutex>
#include <set>

#include "suites/workload/workloads.h"

namespace pasidbench {

using nlohmann::json;

namespace {

ParamSpec min_time_param() {
  return ParamSpec::Int("min_time_ms", 500, 10, 600000,
                        "least time Google Benchmark spends per repetition");
}
ParamSpec with_pasid_param() {
  return ParamSpec::Bool("with_pasid", false,
                         "run inside a process that holds a PASID (a bound shared DSA work queue, "
                         "every thread's PASID MSR loaded); SKIP where the machine cannot");
}
ParamSpec submission_param() {
  return ParamSpec::Choice("submission", "auto", {"auto", "portal", "write"},
                           "how to submit to the work queue: the portal (ENQCMD) if the kernel "
                           "allows it else write(), or exactly one of them");
}
ParamSpec spinning_param(const std::string& what) {
  return ParamSpec::Int("spinning_cpus", 0, 0, 1023,
                        "other threads of the mm spinning on distinct CPUs, each " + what);
}

std::vector<ParamSpec> with_common(std::vector<ParamSpec> specific) {
  specific.push_back(with_pasid_param());
  specific.push_back(submission_param());
  specific.push_back(min_time_param());
  return specific;
}

double to_ns(double value, const std::string& unit) {
  if (unit == "us") return value * 1e3;
  if (unit == "ms") return value * 1e6;
  if (unit == "s") return value * 1e9;
  return value;  // "ns"
}

// Which metric a benchmark's number is, and how it is derived from a row.
struct Derived {
  std::string metric;
  double (*from_row)(const json& row);
  std::string note;
};

double real_time_ns(const json& row) {
  return to_ns(row.value("real_time", NAN), row.value("time_unit", "ns"));
}
double half_real_time_ns(const json& row) { return real_time_ns(row) / 2; }
double shootdown_counter(const json& row) { return row.value("shootdown_ns", NAN); }

std::vector<Derived> derived_metrics(const std::string& benchmark) {
  if (benchmark.rfind("pipe_pingpong/", 0) == 0 || benchmark.rfind("futex_pingpong/", 0) == 0)
    return {{"roundtrip_ns", real_time_ns, ""},
            {"ctxsw_ns", half_real_time_ns,
             "half a round trip: two switches, wakeup and IPC included"}};
  if (benchmark.rfind("sched_yield/", 0) == 0)
    return {{"yield_ns", half_real_time_ns,
             "half an iteration: each iteration is a yield by each of the two threads"}};
  if (benchmark.rfind("membarrier/", 0) == 0) return {{"membarrier_ns", real_time_ns, ""}};
  if (benchmark.rfind("tlb_shootdown/", 0) == 0)
    return {{"tlb_shootdown_ns", shootdown_counter,
             "the flushing call alone, two clock reads included"}};
  if (benchmark.rfind("migration/", 0) == 0) return {{"migration_ns", real_time_ns, ""}};
  return {};
}

}  // namespace

void register_micro_workloads() {
  static std::once_flag once;
  std::call_once(once, [] {
    register_micro_workload(
        {"micro:context-switch", WorkloadKind::kMicro,
         "ping-pong of a token between two threads or processes over pipes (as perf bench sched "
         "pipe) or a futex, on one CPU or two; per round trip and per switch",
         with_common(
             {ParamSpec::Choice("mechanism", "pipe", {"pipe", "futex"}, "how the token travels"),
              ParamSpec::Choice("mode", "threads", {"threads", "processes"},
                                "two threads of one process, or two processes"),
              ParamSpec::Choice("placement", "same_cpu", {"same_cpu", "cross_cpu"},
                                "both on one CPU, or on two (different cores where there are any)"),
              ParamSpec::Int("inject_ns", 0, 0, 1000000000,
                             "calibrated busy delay added to every round trip (calibration)")}),
         nullptr});
    register_micro_workload({"micro:yield", WorkloadKind::kMicro,
                             "two threads on one CPU taking turns with sched_yield",
                             with_common({}), nullptr});
    register_micro_workload(
        {"micro:ipi", WorkloadKind::kMicro,
         "membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) while other threads of the mm spin on "
         "other CPUs: the cost of an IPI to every CPU running the mm",
         with_common({spinning_param("interrupted by every membarrier")}), nullptr});
    register_micro_workload(
        {"micro:tlb-shootdown", WorkloadKind::kMicro,
         "a TLB shootdown (mprotect to read-only, or munmap, of a touched page) while other "
         "threads of the mm spin on other CPUs",
         with_common({spinning_param("reading the page"),
                      ParamSpec::Choice("op", "mprotect", {"mprotect", "munmap"},
                                        "the call that shoots the TLBs down")}),
         nullptr});
    register_micro_workload({"micro:migration", WorkloadKind::kMicro,
                             "re-pinning a running thread from one CPU to another, back and forth",
                             with_common({}), nullptr});
    register_micro_workload(
        {"micro:dsa-submit",
         WorkloadKind::kMicro,
         "the real PASID path: bind (open a shared DSA work queue), first submission of a "
         "thread (the #GP fixup on lazy kernels), steady NOOP submissions, unbind; each "
         "repetition in a fresh process",
         {ParamSpec::Int("submits", 100, 1, 1000000, "steady-state NOOPs per repetition"),
          ParamSpec::Int("threads", 2, 0, 256, "extra threads whose first submission is timed too"),
          ParamSpec::Int("max_retries", 64, 0, 100000,
                         "ENQCMD attempts rejected (ZF=1) before a submission counts as rejected"),
          ParamSpec::Int("completion_timeout_ms", 1000, 1, 600000,
                         "how long to poll a completion record"),
          submission_param()},
         nullptr});
    register_micro_workload(
        {"micro:perf-bench-pipe",
         WorkloadKind::kMicro,
         "perf bench sched pipe (linux-perf) for comparison with micro:context-switch",
         {ParamSpec::Choice("mode", "processes", {"threads", "processes"},
                            "perf's -T (threads) or its default (processes)"),
          ParamSpec::Choice("placement", "same_cpu", {"same_cpu", "unpinned"},
                            "perf pinned to one CPU (both tasks inherit it), or left to the "
                            "scheduler: perf cannot pin its two tasks apart"),
          ParamSpec::Int("loops", 200000, 1000, 100000000, "round trips per repetition")},
         nullptr});
  });
}

MicroPlan plan_micro(const std::string& workload, const ParamValues& p) {
  MicroPlan plan;
  auto common = [&] {
    plan.min_time_s = static_cast<double>(p.get_int("min_time_ms")) / 1000.0;
    plan.with_pasid = p.get_bool("with_pasid");
    plan.submission = p.get("submission");
    if (plan.with_pasid) plan.flags.push_back("--with-pasid=" + plan.submission);
  };
  if (workload == "micro:context-switch") {
    common();
    plan.benchmark = p.get("mechanism") + "_pingpong/" + p.get("mode") + "/" + p.get("placement");
    if (p.get("placement") == "cross_cpu") plan.required_cpus = 2;
    if (p.get_int("inject_ns") > 0) plan.flags.push_back("--inject-ns=" + p.get("inject_ns"));
  } else if (workload == "micro:yield") {
    common();
    plan.benchmark = "sched_yield/threads/same_cpu";
  } else if (workload == "micro:ipi") {
    common();
    plan.benchmark = "membarrier/spinning:" + p.get("spinning_cpus");
    plan.required_cpus = static_cast<int>(p.get_int("spinning_cpus")) + 1;
  } else if (workload == "micro:tlb-shootdown") {
    common();
    plan.benchmark = "tlb_shootdown/" + p.get("op") + "/remote:" + p.get("spinning_cpus");
    plan.required_cpus = static_cast<int>(p.get_int("spinning_cpus")) + 1;
  } else if (workload == "micro:migration") {
    common();
    plan.benchmark = "migration/cross_cpu";
    plan.required_cpus = 2;
  } else if (workload == "micro:dsa-submit") {
    plan.runner = MicroPlan::Runner::kDsaSubmit;
    plan.with_pasid = true;
    plan.submission = p.get("submission");
  } else if (workload == "micro:perf-bench-pipe") {
    plan.runner = MicroPlan::Runner::kPerfBenchPipe;
  } else {
    throw InputError("'" + workload + "' is not a micro workload");
  }
  if (plan.runner == MicroPlan::Runner::kGoogleBenchmark) plan.cpu_purpose = plan.benchmark;
  return plan;
}

std::vector<std::string> micro_command_line(const MicroPlan& plan, int repetitions) {
  std::vector<std::string> args = plan.flags;
  args.push_back("--benchmark_filter=^" + plan.benchmark + "$");
  args.push_back("--benchmark_repetitions=" + std::to_string(std::max(1, repetitions)));
  args.push_back("--benchmark_min_time=" + std::to_string(plan.min_time_s));
  args.push_back("--benchmark_format=json");
  return args;
}

void fill_from_google_benchmark(const json& output, const MicroPlan& plan, ResultRecord* r) {
  r->details = json::object();
  r->details["google_benchmark"] = output;
  std::vector<json> rows;
  std::string error;
  if (output.contains("benchmarks") && output["benchmarks"].is_array())
    for (const auto& row : output["benchmarks"]) {
      if (row.value("run_name", row.value("name", "")) != plan.benchmark) continue;
      if (row.value("error_occurred", false)) {
        if (error.empty()) error = row.value("error_message", "error without a message");
        continue;
      }
      if (row.value("run_type", "iteration") == "iteration") rows.push_back(row);
    }
  if (!error.empty()) {
    if (error.rfind("skip: ", 0) == 0) {
      r->outcome = Outcome::kSkip;
      r->reason = error.substr(6);
    } else {
      r->outcome = Outcome::kError;
      r->reason = "pasidbench-micro: " + plan.benchmark + ": " + error;
    }
    return;
  }
  if (rows.empty()) {
    r->outcome = Outcome::kError;
    r->reason = "pasidbench-micro reported no result for " + plan.benchmark;
    return;
  }
  for (const auto& d : derived_metrics(plan.benchmark)) {
    std::vector<double> samples;
    for (const auto& row : rows) samples.push_back(d.from_row(row));
    if (std::any_of(samples.begin(), samples.end(), [](double v) { return std::isnan(v); })) {
      r->add_missing_metric(d.metric, "pasidbench-micro's output lacks the value for " + d.metric);
      continue;
    }
    r->add_metric(d.metric, samples, d.note);
  }
  json context = output.value("context", json::object());
  std::string counter_note = context.value("hardware_counters_note", "");
  if (counter_note.empty() && context.value("hardware_counters", "") == "off (--no-counters)")
    counter_note = "hardware counters turned off";
  for (const char* name : {"cycles", "instructions"}) {
    std::vector<double> samples;
    for (const auto& row : rows)
      if (row.contains(name) && row[name].is_number()) samples.push_back(row[name].get<double>());
    if (samples.size() == rows.size())
      r->add_metric(name, samples, "per iteration, on the measuring thread (PAPI)");
    else
      r->add_missing_metric(
          name, counter_note.empty() ? "PAPI did not count " + std::string(name) : counter_note);
  }
  r->outcome = Outcome::kPass;
}

namespace {

double median_of(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double mean_of(const std::vector<double>& v) {
  double sum = 0;
  for (double x : v) sum += x;
  return sum / static_cast<double>(v.size());
}

double stddev_of(const std::vector<double>& v) {
  if (v.size() < 2) return 0;
  double m = mean_of(v), sq = 0;
  for (double x : v) sq += (x - m) * (x - m);
  return std::sqrt(sq / static_cast<double>(v.size() - 1));  // the sample stddev, as GB's
}

// Keys of an iteration row that are not user counters.
bool is_row_field(const std::string& key) {
  static const std::set<std::string> fields = {"family_index", "per_family_instance_index",
                                               "repetitions",  "repetition_index",
                                               "threads",      "iterations",
                                               "real_time",    "cpu_time"};
  return fields.count(key) > 0;
}

}  // namespace

json merge_google_benchmark_processes(const std::vector<json>& outputs,
                                      const std::string& benchmark) {
  json merged = outputs.empty() ? json::object() : outputs.front();
  merged["benchmarks"] = json::array();
  std::vector<json> rows;
  for (const auto& out : outputs)
    if (out.contains("benchmarks") && out["benchmarks"].is_array())
      for (const auto& row : out["benchmarks"])
        if (row.value("run_name", row.value("name", "")) == benchmark &&
            row.value("run_type", "iteration") == "iteration" &&
            !row.value("error_occurred", false))
          rows.push_back(row);
  if (merged.contains("context") && merged["context"].is_object())
    merged["context"]["pasidbench_merged_processes"] = outputs.size();
  int n = static_cast<int>(rows.size());
  for (int i = 0; i < n; ++i) {
    json row = rows[i];
    row["name"] = benchmark;
    row["run_name"] = benchmark;
    row["repetitions"] = n;
    row["repetition_index"] = i;
    merged["benchmarks"].push_back(row);
  }
  if (n < 2) return merged;  // Google Benchmark writes no aggregates for one run either
  std::vector<std::string> keys = {"real_time", "cpu_time"};
  for (const auto& item : rows.front().items()) {
    const std::string& key = item.key();  // clang 14 cannot capture a structured binding
    if (item.value().is_number() && !is_row_field(key) &&
        std::all_of(rows.begin(), rows.end(),
                    [&key](const json& r) { return r.contains(key) && r[key].is_number(); }))
      keys.push_back(key);
  }
  struct Stat {
    const char* name;
    const char* unit;
    double (*compute)(const std::vector<double>&);
  };
  static const Stat stats[] = {
      {"mean", "time", [](const std::vector<double>& v) { return mean_of(v); }},
      {"median", "time", [](const std::vector<double>& v) { return median_of(v); }},
      {"stddev", "time", [](const std::vector<double>& v) { return stddev_of(v); }},
      {"cv", "percentage", [](const std::vector<double>& v) {
         double m = mean_of(v);
         return m == 0 ? 0.0 : stddev_of(v) / m;
       }}};
  const json& first = rows.front();
  for (const auto& stat : stats) {
    json agg;
    agg["name"] = benchmark + "_" + stat.name;
    for (const char* k : {"family_index", "per_family_instance_index"})
      if (first.contains(k)) agg[k] = first[k];
    agg["run_name"] = benchmark;
    agg["run_type"] = "aggregate";
    agg["repetitions"] = n;
    agg["threads"] = first.value("threads", 1);
    agg["aggregate_name"] = stat.name;
    agg["aggregate_unit"] = stat.unit;
    agg["iterations"] = n;
    for (const auto& key : keys) {
      std::vector<double> v;
      for (const auto& r : rows) v.push_back(r[key].get<double>());
      agg[key] = stat.compute(v);
    }
    agg["time_unit"] = first.value("time_unit", "ns");
    merged["benchmarks"].push_back(agg);
  }
  return merged;
}

}  // namespace pasidbench
