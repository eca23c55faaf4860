#include "runners/suite_runner.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <set>

#include "platform/environment.h"
#include "results/jsonl_store.h"
#include "results/ktap.h"
#include "results/verdict.h"
#include "runners/isolation.h"

namespace pasidbench {

namespace fs = std::filesystem;

namespace {

std::string test_id_for(const std::string& workload, const RawParams& given,
                        const std::string& backend) {
  std::string id = workload;
  if (!given.empty()) {
    id += "[";
    bool first = true;
    for (const auto& [k, v] : given) {
      id += (first ? "" : ",") + k + "=" + v.value;
      first = false;
    }
    id += "]";
  }
  return id + "@" + backend;
}

}  // namespace

TestCase make_test_case(const std::string& workload_ref, const std::string& base_dir,
                        const SourceLocation& where, const RawParams& params,
                        const std::string& backend_name, const std::string& suite_name) {
  WorkloadInfo workload = resolve_workload(workload_ref, base_dir, where);
  std::unique_ptr<Backend> backend = backends().create(backend_name, where);
  TestCase t;
  t.suite = suite_name;
  t.workload = workload_ref;
  t.kind = workload.kind;
  t.backend = backend_name;
  t.params = resolve_params({&workload.params, &backend->params()}, params);
  RawParams identity = params;
  for (const auto& spec : backend->params())
    if (spec.locates) identity.erase(spec.name);
  for (const auto& [name, value] : t.params.all()) {
    bool of_workload = false;
    for (const auto& spec : workload.params) of_workload |= spec.name == name;
    if (of_workload || identity.count(name)) t.recorded_params[name] = value;
  }
  if (workload.generate) {
    t.scenario = workload.generate(t.params);
    validate_scenario(t.scenario);
  }
  t.test_id = test_id_for(workload_ref, identity, backend_name);
  t.mutant_of = backend->mutant_of();
  backend->check(t);
  return t;
}

std::vector<TestCase> plan_suite(const Suite& suite,
                                 const std::vector<std::string>& override_backends,
                                 const RawParams& extra_params) {
  std::vector<TestCase> plan;
  std::set<std::string> taken;
  for (const auto& st : suite.tests) {
    std::vector<std::string> names;
    const auto& wanted = !override_backends.empty() ? override_backends
                         : !st.backends.empty()     ? st.backends
                                                    : suite.backends;
    SourceLocation where = !override_backends.empty() ? SourceLocation{"--backend", 0} : st.where;
    for (const auto& pattern : wanted)
      for (auto& n : backends().expand(pattern, where)) names.push_back(std::move(n));
    std::vector<RawParams> combos = expand_param_matrix(st);
    if (plan.size() + combos.size() * names.size() > kMaxTestsPerSuite)
      throw InputError(st.where, "the suite plans more than " + std::to_string(kMaxTestsPerSuite) +
                                     " tests; split it into several suites");
    // --param goes to the tests that take it (a suite may mix backends with
    // their own parameters); one no test takes is an error, below.
    const WorkloadInfo workload = resolve_workload(st.workload, suite.base_dir, st.where);
    std::map<std::string, RawParams> extras_taken;  // backend -> the --param it takes
    for (const auto& b : names) {
      std::unique_ptr<Backend> backend = backends().create(b, st.where);
      for (const auto& [k, v] : extra_params)
        for (const auto* specs : {&workload.params, &backend->params()})
          for (const auto& spec : *specs)
            if (spec.name == k) {
              extras_taken[b][k] = v;
              taken.insert(k);
            }
    }
    for (const RawParams& suite_combo : combos) {
      for (const auto& b : names) {
        RawParams combo = suite_combo;
        for (const auto& [k, v] : extras_taken[b]) combo[k] = v;
        TestCase t = make_test_case(st.workload, suite.base_dir, st.where, combo, b, suite.name);
        t.timeout_s = st.timeout_s > 0 ? st.timeout_s : suite.timeout_s;
        t.repetitions = suite.repetitions;
        t.expect_fail = st.expect_fail;
        plan.push_back(std::move(t));
      }
    }
  }
  // Each change of kmod backend reloads pasidlab.ko (and patches kernel
  // text): its tests run grouped by backend, after the others.
  std::map<std::string, int> kmod_rank;
  for (const auto& t : plan)
    if (t.backend.rfind("kmod:", 0) == 0) kmod_rank.emplace(t.backend, 1 + kmod_rank.size());
  if (!kmod_rank.empty())
    std::stable_sort(plan.begin(), plan.end(), [&](const TestCase& a, const TestCase& b) {
      auto rank = [&](const TestCase& t) {
        auto it = kmod_rank.find(t.backend);
        return it == kmod_rank.end() ? 0 : it->second;
      };
      return rank(a) < rank(b);
    });
  for (const auto& [k, v] : extra_params)
    if (!taken.count(k) && !suite.tests.empty()) {
      // The error resolve_params gives, with the names the first test knows.
      RawParams one = expand_param_matrix(suite.tests.front()).front();
      one[k] = v;
      make_test_case(suite.tests.front().workload, suite.base_dir, suite.tests.front().where, one,
                     plan.empty() ? "host" : plan.front().backend, suite.name);
      throw InputError(v.where, "no test of the suite takes parameter '" + k + "'");
    }
  return plan;
}

ResultRecord run_one(const TestCase& test, const RunContext& ctx) {
  std::unique_ptr<Backend> backend = backends().create(test.backend, {});
  ResultRecord skeleton;
  skeleton.run_id = ctx.run_id;
  skeleton.suite = test.suite;
  skeleton.test_id = test.test_id;
  skeleton.backend = test.backend;
  skeleton.workload = test.workload;
  skeleton.kind = test.kind == WorkloadKind::kMicro ? "benchmark" : "conformance";
  skeleton.params = test.recorded_params;
  skeleton.provenance = ctx.provenance;
  skeleton.started_at = utc_now_rfc3339();

  auto start = std::chrono::steady_clock::now();
  ResultRecord r;
  std::string why;
  if (!backend->supports(test.kind, &why)) {
    r = skeleton;
    r.outcome = Outcome::kSkip;
    r.reason = why;
  } else {
    r = run_isolated([&] { return backend->run(test, ctx); }, test.timeout_s, skeleton);
  }
  // The runner owns identity and timing; the backend owns outcome and data.
  r.run_id = skeleton.run_id;
  r.suite = skeleton.suite;
  r.test_id = skeleton.test_id;
  r.backend = skeleton.backend;
  r.workload = skeleton.workload;
  r.kind = skeleton.kind;
  r.params = skeleton.params;
  r.expect_fail = test.expect_fail;
  r.mutant_of = test.mutant_of;
  if (r.provenance.pasidbench_revision.empty()) r.provenance = skeleton.provenance;
  r.started_at = skeleton.started_at;
  r.duration_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

int run_suite(const RunOptions& options) {
  Suite suite = load_suite_file(options.suite_path);
  std::vector<TestCase> plan = plan_suite(suite, options.backends, options.extra_params);
  if (!options.filter.empty())
    std::erase_if(plan, [&](const TestCase& t) {
      return t.test_id.find(options.filter) == std::string::npos;
    });

  RunContext ctx;
  ctx.run_id = new_run_id();
  nlohmann::json env = collect_environment();
  ctx.provenance = provenance_from_environment(env);
  if (!options.kernel.name.empty() && options.kernel.name != "running") {
    std::string release = ctx.provenance.kernel.release;
    ctx.provenance.kernel = options.kernel;
    if (ctx.provenance.kernel.release.empty()) ctx.provenance.kernel.release = release;
  }
  ctx.provenance.machine.emulated = options.emulated;
  ctx.provenance.machine.time_base = options.time_base;

  std::string out_dir = options.out_dir.empty()
                            ? (fs::path("out") / (suite.name + "-" + ctx.run_id)).string()
                            : options.out_dir;
  ctx.out_dir = out_dir;
  std::string results_path = (fs::path(out_dir) / "results.jsonl").string();

  // --resume: the tests recorded so far count with the outcome they had.
  std::map<std::string, ResultRecord> earlier;
  if (options.resume) {
    JsonlContents existing = read_jsonl(results_path);
    for (const auto& p : existing.problems) std::cerr << "resume: " << p << "\n";
    for (const auto& line : existing.records) {
      if (record_type(line) != "test") continue;
      try {
        ResultRecord r = record_from_json(line);
        earlier[r.test_id] = std::move(r);  // the last record of a test wins
      } catch (const std::exception& e) {
        std::cerr << "resume: " << results_path << ": a test record is unreadable (" << e.what()
                  << "); its test runs again\n";
      }
    }
  }
  JsonlWriter writer(results_path);
  writer.append(environment_record(ctx.run_id, env));

  KtapWriter ktap(std::cout);
  if (options.format == "ktap") {
    ktap.header(static_cast<int>(plan.size()));
    ktap.diagnostic("suite: " + suite.name + " run: " + ctx.run_id);
  }
  RunTally tally;
  int index = 0;
  for (const auto& test : plan) {
    ++index;
    std::string progress =
        "[" + std::to_string(index) + "/" + std::to_string(plan.size()) + "] " + test.test_id;
    auto found = earlier.find(test.test_id);
    bool resumed = found != earlier.end();
    ResultRecord r;
    if (resumed) {
      r = found->second;
      // What the suite expects is the plan's (a version 1 record has no
      // mutant_of); the outcome is the record's.
      r.expect_fail = test.expect_fail;
      r.mutant_of = test.mutant_of;
      if (!options.quiet) std::cerr << progress << " ... already recorded (resume): ";
    } else {
      if (!options.quiet) std::cerr << progress << " ... " << std::flush;
      r = run_one(test, ctx);
      writer.append(to_json(r));
    }
    if (!options.quiet) {
      char secs[32];
      std::snprintf(secs, sizeof secs, "%.2f s", r.duration_s);
      Verdict v = verdict_of(r);
      std::cerr << to_string(r.outcome)
                << (v == Verdict::kExpectedFail ? " (expected)"
                    : v == Verdict::kCaught     ? " (seeded mutant caught)"
                    : v == Verdict::kNotCaught  ? " (seeded mutant not caught here)"
                                                : "")
                << (r.reason.empty() ? "" : " (" + r.reason + ")") << " [" << secs << "]"
                << (resumed ? " in run " + r.run_id : "") << "\n";
    }
    if (options.format == "ktap") {
      std::vector<std::string> diag;
      if (resumed)
        diag.push_back(test.test_id + ": taken from run " + r.run_id +
                       " (--resume), not run again");
      for (const auto& [k, n] : r.violations) diag.push_back(k + ": " + std::to_string(n));
      ktap.result(r, diag);
    }
    tally.add(r, resumed);
  }
  std::string uncaught = tally.uncaught_line();
  if (options.format == "ktap") {
    if (!uncaught.empty()) ktap.diagnostic("FAIL: " + uncaught);
    ktap.totals();
  }
  std::cerr << "pasidbench: " << tally.summary() << "; results in " << results_path << "\n";
  if (!uncaught.empty()) std::cerr << "pasidbench: FAIL: " << uncaught << "\n";
  return tally.run_failed() ? 1 : 0;
}

}  // namespace pasidbench
