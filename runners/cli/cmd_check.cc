#include <iostream>

#include "platform/environment.h"
#include "results/ktap.h"
#include "runners/backends/model/model_backend.h"
#include "runners/cli/commands.h"
#include "runners/suite_runner.h"

namespace pasidbench::cli {

namespace {

struct CheckOptions {
  std::string policy;
  std::string backend;
  std::string workload;
  std::vector<std::string> params;
  std::string replay;
  std::string format = "text";
  int timeout_s = 600;
  std::string out_dir = "out/check";
};

void print_text(const ResultRecord& r) {
  std::cout << r.backend << " " << r.test_id.substr(0, r.test_id.find('@')) << ": "
            << to_string(r.outcome) << (r.reason.empty() ? "" : " (" + r.reason + ")") << "\n";
  if (!r.search.is_null()) std::cout << "search: " << r.search.dump() << "\n";
  if (!r.violations.empty()) {
    std::cout << "violations:\n";
    for (const auto& [k, n] : r.violations) std::cout << "  " << k << ": " << n << "\n";
  }
  if (!r.outcomes.empty()) {
    std::cout << "submission outcomes:\n";
    for (const auto& [k, n] : r.outcomes) std::cout << "  " << k << ": " << n << "\n";
  }
  if (!r.metrics.empty()) {
    std::cout << "metrics:\n";
    for (const auto& [k, m] : r.metrics) {
      if (m.samples.empty())
        std::printf("  %-30s (not measured: %s)\n", k.c_str(), m.note.c_str());
      else
        std::printf("  %-30s %14.6g %s\n", k.c_str(), m.value, m.unit.c_str());
    }
  }
  if (r.counterexample.is_object() && r.counterexample.contains("trace")) {
    std::cout << "counterexample (" << r.counterexample.value("violation", "") << "):\n";
    for (const auto& line : r.counterexample["trace"])
      std::cout << "  " << line.get<std::string>() << "\n";
  }
  if (r.counterexample.is_object() &&
      r.counterexample.value("replay_file", nlohmann::json()).is_string())
    std::cout << "replay file: " << r.counterexample["replay_file"].get<std::string>()
              << " (pasidbench check --replay FILE)\n";
}

}  // namespace

void add_check_command(CLI::App& app, int& exit_code) {
  static CheckOptions o;
  auto* cmd = app.add_subcommand(
      "check", "Conformance of one policy on one workload (the model backend by default).");
  auto* policy =
      cmd->add_option("--policy", o.policy, "PASID policy (see `pasidbench list policies`)");
  cmd->add_option("--backend", o.backend, "backend instead of model:<policy>, e.g. host")
      ->excludes(policy);
  cmd->add_option("--workload", o.workload, "workload name or scenario file");
  cmd->add_option("--param", o.params, "k=v workload or backend parameter (repeatable)");
  cmd->add_option("--format", o.format, "text | json | ktap")
      ->check(CLI::IsMember({"text", "json", "ktap"}));
  cmd->add_option("--timeout", o.timeout_s, "seconds before the check is killed")
      ->check(CLI::Range(1, 86400));
  cmd->add_option("--out", o.out_dir,
                  "where a counterexample's replay file goes (created if missing)")
      ->capture_default_str();
  cmd->add_option("--replay", o.replay,
                  "re-run a counterexample's schedule file exactly; policy, workload and "
                  "parameters come from the file");
  cmd->callback([&exit_code] {
    TestCase test;
    if (!o.replay.empty()) {
      if (!o.policy.empty() || !o.backend.empty() || !o.workload.empty() || !o.params.empty())
        throw InputError({"--replay", 0},
                         "the replay file names the policy, workload and parameters; give "
                         "--replay alone");
      test = model::replay_test_case(o.replay);
    } else {
      if (o.policy.empty() && o.backend.empty())
        throw InputError({"--policy", 0}, "give --policy P (or --backend B)");
      if (o.workload.empty()) throw InputError({"--workload", 0}, "give --workload W");
      std::string backend = o.backend.empty() ? "model:" + o.policy : o.backend;
      RawParams given;
      for (const auto& text : o.params) {
        auto [k, v] = split_param_flag(text);
        given[k] = {v, {"--param " + text, 0}};
      }
      // Catch a bad backend name at the flag that gave it.
      backends().create(backend, {o.backend.empty() ? "--policy" : "--backend", 0});
      test = make_test_case(o.workload, ".", {"--workload", 0}, given, backend, "");
    }
    test.timeout_s = o.timeout_s;

    RunContext ctx;
    ctx.run_id = new_run_id();
    ctx.provenance = provenance_from_environment(collect_environment());
    // A counterexample's schedule goes to --out (out/check: ignored by git
    // in a checkout, so the README's examples leave the tree clean).
    if (o.replay.empty()) ctx.out_dir = o.out_dir;
    ResultRecord r = run_one(test, ctx);

    if (o.format == "json") {
      nlohmann::json j = to_json(r);
      j["verdict"] = r.outcome == Outcome::kPass         ? "pass"
                     : r.outcome == Outcome::kSkip       ? "skip"
                     : r.outcome == Outcome::kIncomplete ? "incomplete"
                                                         : "fail";
      if (!j.contains("violations")) j["violations"] = nlohmann::json::object();
      if (!j.contains("counterexample")) j["counterexample"] = nullptr;
      if (!j.contains("search")) j["search"] = nullptr;
      std::cout << j.dump(2) << "\n";
    } else if (o.format == "ktap") {
      KtapWriter k(std::cout);
      k.header(1);
      k.diagnostic("backend: " + r.backend + " workload: " + r.workload);
      std::vector<std::string> diag;
      for (const auto& [name, n] : r.violations)
        diag.push_back("violation " + name + ": " + std::to_string(n));
      if (r.counterexample.is_object() &&
          r.counterexample.value("replay_file", nlohmann::json()).is_string())
        diag.push_back("replay file: " + r.counterexample["replay_file"].get<std::string>());
      if (r.counterexample.is_object() && r.counterexample.contains("trace"))
        for (const auto& line : r.counterexample["trace"]) diag.push_back(line.get<std::string>());
      k.result(r.test_id, r.outcome, r.reason, diag);
      k.totals();
    } else {
      print_text(r);
    }
    // A check asks whether this policy conforms here: a seeded mutant's
    // violation fails it too, and an incomplete search is no answer.
    exit_code = r.outcome == Outcome::kPass || r.outcome == Outcome::kSkip ? 0 : 1;
  });
}

}  // namespace pasidbench::cli
