// pasidbench diff-model RESULTS...: the differential test against the model
// (docs/kmod.md "Differential test"). For every workload x params x policy
// the kmod records ran, the model backend runs the same scenario and policy;
// each outcome the module showed at a submit step must be one the model's
// search produced there.
#include <filesystem>
#include <iostream>
#include <set>

#include "platform/environment.h"
#include "platform/file_io.h"
#include "platform/input_error.h"
#include "results/jsonl_store.h"
#include "runners/cli/commands.h"
#include "runners/diff_model.h"
#include "runners/suite_runner.h"
#include "suites/workload/workloads.h"

namespace pasidbench::cli {

namespace {

struct DiffModelOptions {
  std::vector<std::string> results;
  std::string base_dir = "suites";
  std::string out_dir = "out/diff-model";
  int timeout_s = 120;
  int max_preemption_bound = 4;
  std::vector<std::string> params;
};

std::vector<std::string> result_files(const std::string& path) {
  namespace fs = std::filesystem;
  if (fs::is_regular_file(path)) return {path};
  if (!fs::is_directory(path)) throw InputError({path, 0}, "no such results file or directory");
  std::vector<std::string> files;
  for (const auto& e : fs::recursive_directory_iterator(path))
    if (e.is_regular_file() && e.path().extension() == ".jsonl") files.push_back(e.path().string());
  std::sort(files.begin(), files.end());
  return files;
}

// The model's test for a module side: the workload's own parameters only
// (the kmod backend's are no model parameters), one simulated CPU where the
// module's tasks were pinned to one.
TestCase model_test(const ModuleSide& m, const DiffModelOptions& o, int preemption_bound = -1) {
  WorkloadInfo w = resolve_workload(m.workload, o.base_dir, {"--base-dir", 0});
  RawParams given;
  for (const auto& spec : w.params)
    if (auto it = m.params.find(spec.name); it != m.params.end())
      given[spec.name] = {it->second, {"record param " + spec.name, 0}};
  // The module's counts are taken after its settle wait, when the lazily
  // held mms are gone: the model settles too.
  given["settle"] = {"true", {"diff-model", 0}};
  for (const auto& text : o.params) {
    auto [k, v] = split_param_flag(text);
    given[k] = {v, {"--param " + text, 0}};
  }
  if (preemption_bound >= 0)
    given["preemption_bound"] = {std::to_string(preemption_bound), {"--max-preemption-bound", 0}};
  TestCase test =
      make_test_case(m.workload, o.base_dir, {"--base-dir", 0}, given, "model:" + m.policy, "");
  if (m.pin_cpu >= 0) test.scenario.cpus = 1;
  test.timeout_s = o.timeout_s;
  return test;
}

std::string params_text(const ModuleSide& m) {
  std::string text;
  for (const auto& [k, v] : m.params) text += (text.empty() ? "" : " ") + k + "=" + v;
  return text;
}

// A mismatch is a recorded failure with both sides: the event log of the
// module's run that showed the outcome first, and the model's schedules at
// that step (a replay file for each outcome the model had there), in
// <out>/mismatch-<n>.json, and printed.
void write_mismatch(const ModuleSide& m, const nlohmann::json& model, const DiffResult& d,
                    const DiffModelOptions& o, const RunContext& ctx, int n) {
  nlohmann::json steps = nlohmann::json::array();
  for (const auto& [step, kind] : d.mismatches) {
    nlohmann::json witness = module_witness_run(m, step, kind);
    std::cout << "  step " << step << ", the module's " << kind << ": ";
    if (witness.is_null()) {
      std::cout << "no event log in the records (an older pasidbench, or past the 32 runs a record "
                   "keeps logs of)\n";
    } else {
      std::cout << "run " << witness.value("run", -1) << " of the record, its event log:\n";
      for (const auto& e : witness.value("events", nlohmann::json::array()))
        std::cout << "    " << e.get<std::string>() << "\n";
    }
    nlohmann::json schedules = nlohmann::json::object();
    try {
      const int bound = model.contains("search") && model["search"].contains("preemption_bound")
                            ? model["search"]["preemption_bound"].get<int>()
                            : -1;
      TestCase test = model_test(m, o, bound);
      test.params.set("witness_step", step);
      ResultRecord r = run_one(test, ctx);
      if (r.details.contains("step_witnesses")) schedules = r.details["step_witnesses"];
    } catch (const std::exception& e) {
      schedules = {{"error", e.what()}};
    }
    std::cout << "  the model's schedules at step " << step
              << " (pasidbench check --replay FILE):\n";
    for (const auto& [outcome, file] : schedules.items())
      std::cout << "    " << outcome << ": "
                << (file.is_string() ? file.get<std::string>() : file.dump()) << "\n";
    steps.push_back({{"step", step},
                     {"module_outcome", kind},
                     {"module_run", witness},
                     {"model_schedules", schedules}});
  }
  nlohmann::json violations = nlohmann::json::array();
  for (const auto& kind : d.violation_mismatches) {
    nlohmann::json witness = module_witness_run(m, "violation", kind);
    std::cout << "  the module's " << kind << ", which no schedule of the model reached: ";
    if (witness.is_null()) {
      std::cout << "no event log in the records\n";
    } else {
      std::cout << "run " << witness.value("run", -1) << " of the record, its event log:\n";
      for (const auto& e : witness.value("events", nlohmann::json::array()))
        std::cout << "    " << e.get<std::string>() << "\n";
    }
    violations.push_back({{"violation", kind}, {"module_run", witness}});
  }
  nlohmann::json record = {
      {"kernel", m.kernel},
      {"workload", m.workload},
      {"policy", m.policy},
      {"params", m.params},
      {"runs", m.runs},
      {"noise_seed", m.noise_seed},
      {"pin_cpu", m.pin_cpu},
      {"module_step_outcomes", m.step_outcomes},
      {"model_step_outcomes", model.contains("details")
                                  ? model["details"].value("step_outcomes", nlohmann::json())
                                  : nlohmann::json()},
      {"model_search", model.value("search", nlohmann::json())},
      {"mismatched_steps", steps},
      {"mismatched_violations", violations},
      {"lines", d.lines}};
  const std::string path = o.out_dir + "/mismatch-" + std::to_string(n) + ".json";
  try {
    std::filesystem::create_directories(o.out_dir);
    replace_file(path, record.dump(2) + "\n");
    std::cout << "  both sides: " << path << "\n";
  } catch (const std::exception& e) {
    std::cout << "  both sides not written: " << e.what() << "\n";
  }
}

}  // namespace

void add_diff_model_command(CLI::App& app, int& exit_code) {
  static DiffModelOptions o;
  auto* cmd = app.add_subcommand(
      "diff-model",
      "The differential test: each outcome pasidlab.ko showed per submit step in kmod records "
      "(runs=, noise_seed=) against the outcomes the model's search produces for the same "
      "scenario and policy. Exit 1 on a mismatch or an incomplete comparison.");
  cmd->add_option("results", o.results, "results.jsonl files or directories holding them")
      ->required();
  cmd->add_option("--base-dir", o.base_dir,
                  "where the records' scenario files are named from (the suite's directory)")
      ->capture_default_str();
  cmd->add_option("--out", o.out_dir, "where the model's counterexample replay files go")
      ->capture_default_str();
  cmd->add_option("--timeout", o.timeout_s, "seconds per model search")
      ->check(CLI::Range(1, 86400))
      ->capture_default_str();
  cmd->add_option("--max-preemption-bound", o.max_preemption_bound,
                  "an outcome the model's exhaustive search did not produce within its bound is "
                  "searched for again with the bound one higher, up to this one, before it is "
                  "called a mismatch")
      ->check(CLI::Range(0, 8))
      ->capture_default_str();
  cmd->add_option("--param", o.params, "k=v model parameter for every comparison (repeatable)");
  cmd->callback([&exit_code] {
    std::map<std::string, ModuleSide> sides;
    std::vector<std::string> order;
    std::set<std::string> seen;
    int64_t records = 0;
    for (const auto& path : o.results)
      for (const auto& file : result_files(path)) {
        JsonlContents c = read_jsonl(file);
        for (const auto& p : c.problems) std::cerr << "diff-model: " << p << "\n";
        for (const auto& rec : c.records) {
          if (record_type(rec) != "test") continue;
          // A lab's results directory holds each record twice (the run's
          // file and the kernel's own): one counts.
          if (!seen.insert(rec.value("run_id", "") + "\n" + rec.value("test_id", "") + "\n" +
                           record_kernel(rec))
                   .second)
            continue;
          if (rec.value("backend", "").rfind("kmod:", 0) != 0) continue;
          const std::string key = module_side_key(rec);
          ModuleSide side = sides.count(key) ? sides[key] : ModuleSide{};
          if (!add_module_record(rec, &side)) continue;
          if (!sides.count(key)) order.push_back(key);
          sides[key] = side;
          ++records;
        }
      }
    if (sides.empty()) {
      std::cout << "diff-model: no kmod scenario records with differential details in "
                << o.results.size() << " path(s)\n";
      exit_code = 1;
      return;
    }
    RunContext ctx;
    ctx.run_id = new_run_id();
    ctx.provenance = provenance_from_environment(collect_environment());
    ctx.out_dir = o.out_dir;
    std::map<DiffVerdict, int> totals;
    int mismatches = 0;
    for (const auto& key : order) {
      const ModuleSide& m = sides[key];
      // A schedule the module ran may need more preemptions than the
      // bound allows: a "never" within the bound is only a mismatch once the
      // higher bounds (up to --max-preemption-bound) do not produce it either.
      nlohmann::json model;
      std::string error;
      DiffResult d;
      std::vector<std::string> escalations;
      for (int bound = -1;;) {
        model = nlohmann::json();
        error.clear();
        try {
          ResultRecord r = run_one(model_test(m, o, bound), ctx);
          model = to_json(r);
        } catch (const InputError& e) {
          error = e.what();
        }
        d = diff_against_model(m, model, error);
        const nlohmann::json search =
            model.is_object() ? model.value("search", nlohmann::json()) : nlohmann::json();
        if (d.verdict != DiffVerdict::kMismatch || !search.is_object() ||
            !search.contains("preemption_bound"))
          break;
        const int searched = search["preemption_bound"].get<int>();
        if (searched >= o.max_preemption_bound) break;
        bound = searched + 1;
        escalations.push_back("not produced within preemption bound " + std::to_string(searched) +
                              ": searched again within " + std::to_string(bound));
      }
      d.lines.insert(d.lines.begin(), escalations.begin(), escalations.end());
      ++totals[d.verdict];
      int64_t submissions = 0;
      for (const auto& [step, counts] : m.step_outcomes)
        for (const auto& [kind, n] : counts) submissions += n;
      std::cout << (m.kernel.empty() ? "" : m.kernel + ": ") << m.workload << " [" << params_text(m)
                << "] x " << m.policy << ": " << m.runs << " runs (" << m.records << " records), "
                << submissions << " submissions, noise_seed " << m.noise_seed << ", pin_cpu "
                << m.pin_cpu << ": " << to_string(d.verdict) << "\n";
      for (const auto& line : d.lines) std::cout << "  " << line << "\n";
      if (d.verdict == DiffVerdict::kMismatch) write_mismatch(m, model, d, o, ctx, ++mismatches);
    }
    std::cout << "diff-model: " << order.size() << " workload x policy comparisons from " << records
              << " records: " << totals[DiffVerdict::kAgree] << " agree, "
              << totals[DiffVerdict::kMismatch] << " mismatch, " << totals[DiffVerdict::kIncomplete]
              << " incomplete, " << totals[DiffVerdict::kNotCompared] << " not compared\n";
    exit_code = totals[DiffVerdict::kMismatch] + totals[DiffVerdict::kIncomplete] +
                            totals[DiffVerdict::kNotCompared] >
                        0
                    ? 1
                    : 0;
  });
}

}  // namespace pasidbench::cli
