// The micro workloads: names, plans, and how Google Benchmark's JSON becomes
// a result record; then pasidbench-micro itself, briefly, on this machine.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cmath>
#include <map>

#include "runners/backends/host/micro_runner.h"
#include "runners/suite_runner.h"
#include "suites/micro/micro_catalog.h"
#include "suites/workload/workloads.h"

namespace pasidbench {
namespace {

using nlohmann::json;

ParamValues params_for(const std::string& workload, const RawParams& given) {
  register_micro_workloads();
  WorkloadInfo w = resolve_workload(workload, ".", {});
  EXPECT_EQ(w.kind, WorkloadKind::kMicro);
  return resolve_params({&w.params}, given);
}

RawParams raw(std::initializer_list<std::pair<const char*, const char*>> kv) {
  RawParams r;
  for (const auto& [k, v] : kv) r[k] = {v, {"test", 0}};
  return r;
}

TEST(HostMicro, WorkloadsAreListedWithTheirParameters) {
  register_micro_workloads();
  std::set<std::string> names;
  for (const auto& w : builtin_workloads())
    if (w.kind == WorkloadKind::kMicro) names.insert(w.name);
  for (const char* n : {"micro:context-switch", "micro:yield", "micro:ipi", "micro:tlb-shootdown",
                        "micro:migration", "micro:dsa-submit", "micro:perf-bench-pipe"})
    EXPECT_TRUE(names.count(n)) << n;
  ParamValues p = params_for("micro:ipi", {});
  EXPECT_EQ(p.get_int("spinning_cpus"), 0);
  EXPECT_FALSE(p.get_bool("with_pasid"));
  EXPECT_THROW(params_for("micro:context-switch", raw({{"placement", "cpu7"}})), InputError);
}

TEST(HostMicro, PlansNameTheGoogleBenchmark) {
  MicroPlan p = plan_micro("micro:context-switch", params_for("micro:context-switch", {}));
  EXPECT_EQ(p.benchmark, "pipe_pingpong/threads/same_cpu");
  EXPECT_EQ(p.required_cpus, 1);
  p = plan_micro("micro:context-switch",
                 params_for("micro:context-switch", raw({{"mechanism", "futex"},
                                                         {"mode", "processes"},
                                                         {"placement", "cross_cpu"},
                                                         {"with_pasid", "true"},
                                                         {"inject_ns", "250"}})));
  EXPECT_EQ(p.benchmark, "futex_pingpong/processes/cross_cpu");
  EXPECT_EQ(p.required_cpus, 2);
  EXPECT_EQ(p.flags, (std::vector<std::string>{"--with-pasid=auto", "--inject-ns=250"}));
  p = plan_micro("micro:ipi", params_for("micro:ipi", raw({{"spinning_cpus", "3"}})));
  EXPECT_EQ(p.benchmark, "membarrier/spinning:3");
  EXPECT_EQ(p.required_cpus, 4);
  p = plan_micro("micro:tlb-shootdown", params_for("micro:tlb-shootdown", raw({{"op", "munmap"}})));
  EXPECT_EQ(p.benchmark, "tlb_shootdown/munmap/remote:0");
  EXPECT_EQ(plan_micro("micro:yield", params_for("micro:yield", {})).benchmark,
            "sched_yield/threads/same_cpu");
  EXPECT_EQ(plan_micro("micro:migration", params_for("micro:migration", {})).benchmark,
            "migration/cross_cpu");
  EXPECT_THROW(plan_micro("thread-pool", ParamValues{}), InputError);

  std::vector<std::string> cmd = micro_command_line(p, 3);
  EXPECT_EQ(cmd[0], "--benchmark_filter=^tlb_shootdown/munmap/remote:0$");
  EXPECT_EQ(cmd[1], "--benchmark_repetitions=3");
  EXPECT_EQ(cmd.back(), "--benchmark_format=json");
}

json gb_output(const std::string& name, std::vector<double> times, bool with_cycles) {
  json rows = json::array();
  for (size_t i = 0; i < times.size(); ++i) {
    json row = {{"name", name},
                {"run_name", name},
                {"run_type", "iteration"},
                {"repetitions", times.size()},
                {"repetition_index", i},
                {"iterations", 1000},
                {"real_time", times[i]},
                {"cpu_time", times[i] / 2},
                {"time_unit", "ns"}};
    if (with_cycles) row["cycles"] = 100.0 * static_cast<double>(i + 1);
    rows.push_back(row);
  }
  rows.push_back({{"name", name + "_mean"},
                  {"run_name", name},
                  {"run_type", "aggregate"},
                  {"aggregate_name", "mean"},
                  {"real_time", 1.0},
                  {"time_unit", "ns"}});
  return {{"context",
           {{"hardware_counters", with_cycles ? "cycles" : "none"},
            {"hardware_counters_note", with_cycles ? "" : "PAPI: no hardware counters (test)"}}},
          {"benchmarks", rows}};
}

TEST(HostMicro, OneSamplePerRepetitionAndDerivedMetrics) {
  MicroPlan plan;
  plan.benchmark = "pipe_pingpong/threads/same_cpu";
  ResultRecord r;
  fill_from_google_benchmark(gb_output(plan.benchmark, {1000, 3000, 2000}, false), plan, &r);
  ASSERT_EQ(r.outcome, Outcome::kPass) << r.reason;
  EXPECT_EQ(r.metrics["roundtrip_ns"].samples, (std::vector<double>{1000, 3000, 2000}));
  EXPECT_DOUBLE_EQ(r.metrics["roundtrip_ns"].value, 2000);
  EXPECT_EQ(r.metrics["ctxsw_ns"].samples, (std::vector<double>{500, 1500, 1000}));
  EXPECT_EQ(r.metrics["ctxsw_ns"].unit, "ns");
  // No counters here: a metric with the reason, no number.
  EXPECT_TRUE(r.metrics["cycles"].samples.empty());
  EXPECT_EQ(r.metrics["cycles"].note, "PAPI: no hardware counters (test)");
  EXPECT_EQ(r.details["google_benchmark"]["benchmarks"].size(), 4u);  // kept as it came
}

TEST(HostMicro, CountersWhereTheMachineHasThem) {
  MicroPlan plan;
  plan.benchmark = "membarrier/spinning:1";
  ResultRecord r;
  fill_from_google_benchmark(gb_output(plan.benchmark, {5000, 6000}, true), plan, &r);
  ASSERT_EQ(r.outcome, Outcome::kPass);
  EXPECT_EQ(r.metrics["membarrier_ns"].samples, (std::vector<double>{5000, 6000}));
  EXPECT_EQ(r.metrics["cycles"].samples, (std::vector<double>{100, 200}));
}

TEST(HostMicro, SkipAndErrorRowsBecomeOutcomes) {
  MicroPlan plan;
  plan.benchmark = "migration/cross_cpu";
  json row = {{"name", plan.benchmark},
              {"run_name", plan.benchmark},
              {"error_occurred", true},
              {"error_message", "skip: cross_cpu needs 2 CPUs; this process may run on 1"}};
  json out = {{"benchmarks", json::array({row})}};
  ResultRecord r;
  fill_from_google_benchmark(out, plan, &r);
  EXPECT_EQ(r.outcome, Outcome::kSkip);
  EXPECT_EQ(r.reason, "cross_cpu needs 2 CPUs; this process may run on 1");
  out["benchmarks"][0]["error_message"] = "pipe: Too many open files";
  ResultRecord e;
  fill_from_google_benchmark(out, plan, &e);
  EXPECT_EQ(e.outcome, Outcome::kError);
  EXPECT_EQ(e.reason, "pasidbench-micro: migration/cross_cpu: pipe: Too many open files");
  ResultRecord none;
  fill_from_google_benchmark(json{{"benchmarks", json::array()}}, plan, &none);
  EXPECT_EQ(none.outcome, Outcome::kError);
}

TEST(HostMicro, ProcessesMergeIntoRepetitionsWithAggregates) {
  // Three processes of one repetition each (the default sample unit), the
  // way compare.py needs them: one run of three repetitions.
  std::string name = "pipe_pingpong/threads/same_cpu";
  json merged = merge_google_benchmark_processes(
      {gb_output(name, {1000}, true), gb_output(name, {3000}, true), gb_output(name, {2000}, true),
       gb_output("other/benchmark", {5}, false)},
      name);
  EXPECT_EQ(merged["context"]["hardware_counters"], "cycles");  // the first process's
  std::vector<json> iterations, aggregates;
  for (const auto& row : merged["benchmarks"])
    (row["run_type"] == "iteration" ? iterations : aggregates).push_back(row);
  ASSERT_EQ(iterations.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(iterations[i]["name"], name);
    EXPECT_EQ(iterations[i]["repetition_index"], i);
    EXPECT_EQ(iterations[i]["repetitions"], 3);
  }
  EXPECT_EQ(iterations[1]["real_time"], 3000.0);
  ASSERT_EQ(aggregates.size(), 4u);
  std::map<std::string, json> by_name;
  for (const auto& a : aggregates) by_name[a["aggregate_name"]] = a;
  EXPECT_EQ(by_name["mean"]["name"], name + "_mean");
  EXPECT_DOUBLE_EQ(by_name["mean"]["real_time"].get<double>(), 2000.0);
  EXPECT_DOUBLE_EQ(by_name["median"]["real_time"].get<double>(), 2000.0);
  EXPECT_DOUBLE_EQ(by_name["stddev"]["real_time"].get<double>(), 1000.0);  // sample stddev
  EXPECT_DOUBLE_EQ(by_name["cv"]["real_time"].get<double>(), 0.5);
  EXPECT_EQ(by_name["cv"]["aggregate_unit"], "percentage");
  EXPECT_DOUBLE_EQ(by_name["mean"]["cpu_time"].get<double>(), 1000.0);
  EXPECT_DOUBLE_EQ(by_name["mean"]["cycles"].get<double>(), 100.0);  // a counter, averaged too
  EXPECT_EQ(by_name["mean"]["iterations"], 3);
  // One process: no aggregates, as Google Benchmark writes none for one run.
  json one = merge_google_benchmark_processes({gb_output(name, {1000}, false)}, name);
  EXPECT_EQ(one["benchmarks"].size(), 1u);
}

TEST(HostMicro, MicroBinaryBesideAGivenExecutable) {
  ::unsetenv("PASIDBENCH_MICRO");
  std::string tried;
  EXPECT_EQ(find_micro_binary(&tried, "/nonexistent/build/runners/pasidbench"), "");
  EXPECT_EQ(tried,
            "/nonexistent/build/suites/micro/pasidbench-micro, "
            "/nonexistent/build/runners/pasidbench-micro");
  ::setenv("PASIDBENCH_MICRO", "/bin/sh", 1);  // any executable: the variable wins
  EXPECT_EQ(find_micro_binary(&tried, "/nonexistent/build/runners/pasidbench"), "/bin/sh");
  ::unsetenv("PASIDBENCH_MICRO");
}

TEST(HostMicro, PerfBenchOutputIsParsed) {
  std::string out =
      "# Running 'sched/pipe' benchmark:\n# Executed 100000 pipe operations between two "
      "processes\n\n"
      "     Total time: 2.120 [sec]\n\n      21.201300 usecs/op\n          47166 ops/sec\n";
  EXPECT_DOUBLE_EQ(parse_perf_bench_pipe_ns(out), 21201.3);
  EXPECT_TRUE(std::isnan(parse_perf_bench_pipe_ns("Total time: 1 [sec]\n")));
}

TEST(HostMicro, MicroBinaryFromEnvironmentOrBesideTheExecutable) {
  std::string tried;
  ::setenv("PASIDBENCH_MICRO", "/nonexistent/pasidbench-micro", 1);
  EXPECT_EQ(find_micro_binary(&tried), "");
  EXPECT_EQ(tried, "$PASIDBENCH_MICRO=/nonexistent/pasidbench-micro");
  ::unsetenv("PASIDBENCH_MICRO");
  std::string found = find_micro_binary(&tried);
  EXPECT_NE(found.find("suites/micro/pasidbench-micro"), std::string::npos) << tried;
}

// pasidbench-micro for real, as briefly as Google Benchmark allows.
std::string micro_binary() {
  std::string tried;
  return find_micro_binary(&tried);
}

TEST(HostMicroBinary, ContractNamesAndFlags) {
  std::string bin = micro_binary();
  ASSERT_FALSE(bin.empty());
  CapturedRun list = run_captured({bin, "--benchmark_list_tests=true"});
  ASSERT_TRUE(WIFEXITED(list.status) && WEXITSTATUS(list.status) == 0) << list.describe_failure();
  for (const char* name :
       {"pipe_pingpong/threads/same_cpu\n", "pipe_pingpong/processes/cross_cpu\n",
        "futex_pingpong/threads/same_cpu\n", "sched_yield/threads/same_cpu\n",
        "membarrier/spinning:0\n", "tlb_shootdown/mprotect/remote:0\n", "migration/cross_cpu\n"})
    EXPECT_NE(list.out.find(name), std::string::npos) << name;
  CapturedRun bad = run_captured({bin, "--inject-ns=soon"});
  EXPECT_TRUE(WIFEXITED(bad.status) && WEXITSTATUS(bad.status) == 2);
  EXPECT_NE(bad.err.find("--inject-ns"), std::string::npos);
}

// micro:context-switch on the host backend, as a suite test of `samples`
// repetitions would run it.
ResultRecord run_context_switch(const RawParams& params, int samples) {
  TestCase t = make_test_case("micro:context-switch", ".", {}, params, "host", "test");
  t.repetitions = samples;
  t.timeout_s = 120;
  RunContext ctx;
  ctx.run_id = "test";
  return run_one(t, ctx);
}

TEST(HostMicroBinary, RunsThroughTheHostBackend) {
  ResultRecord r = run_context_switch(raw({{"min_time_ms", "10"}, {"inject_ns", "100"}}), 2);
  ASSERT_EQ(r.outcome, Outcome::kPass) << r.reason;
  EXPECT_EQ(r.kind, "benchmark");
  ASSERT_EQ(r.metrics["roundtrip_ns"].samples.size(), 2u);
  EXPECT_GT(r.metrics["roundtrip_ns"].value, 0);
  const Metric& cycles = r.metrics["cycles"];
  EXPECT_TRUE(!cycles.samples.empty() || !cycles.note.empty());
  EXPECT_EQ(r.details["google_benchmark"]["context"]["inject_ns"], "100");
  // By default each sample is its own process of one repetition.
  EXPECT_EQ(r.details["sample_unit"], "process");
  EXPECT_EQ(r.details["processes"], 2);
  EXPECT_NE(r.metrics["roundtrip_ns"].note.find("one sample per process"), std::string::npos);
}

TEST(HostMicroBinary, RepetitionSamplesComeFromOneProcess) {
  ResultRecord r =
      run_context_switch(raw({{"min_time_ms", "10"}, {"sample_unit", "repetition"}}), 3);
  ASSERT_EQ(r.outcome, Outcome::kPass) << r.reason;
  EXPECT_EQ(r.details["sample_unit"], "repetition");
  EXPECT_FALSE(r.details.contains("processes"));
  ASSERT_EQ(r.metrics["roundtrip_ns"].samples.size(), 3u);
  int iterations = 0;
  for (const auto& row : r.details["google_benchmark"]["benchmarks"])
    iterations += row.value("run_type", "") == "iteration";
  EXPECT_EQ(iterations, 3);
}

}  // namespace
}  // namespace pasidbench
