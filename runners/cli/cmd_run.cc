#include "runners/cli/commands.h"
#include "runners/suite_runner.h"

namespace pasidbench::cli {

void add_run_command(CLI::App& app, int& exit_code) {
  static RunOptions o;
  static std::vector<std::string> params;
  auto* cmd = app.add_subcommand(
      "run", "Run a whole suite; every test in its own process, one JSON record per test.");
  cmd->add_option("suite", o.suite_path, "suite manifest (suites/*.toml)")->required();
  cmd->add_option("--backend", o.backends,
                  "backend(s) to run instead of the suite's: model:<policy>, model:*, host");
  cmd->add_option("--out", o.out_dir, "results directory (default out/<suite>-<run id>)");
  cmd->add_flag("--resume", o.resume, "skip tests already recorded in --out's results.jsonl");
  cmd->add_option("--format", o.format, "stdout format: text | ktap")
      ->check(CLI::IsMember({"text", "ktap"}));
  cmd->add_option("--filter", o.filter, "run only tests whose id contains this");
  cmd->add_option("--param", params, "k=v parameter applied to every test (repeatable)");
  cmd->add_flag("--quiet", o.quiet, "no progress lines on stderr");
  auto* lab = "Provenance (set by lab runners)";
  cmd->add_option("--kernel-name", o.kernel.name, "kernel build under test")->group(lab);
  cmd->add_option("--kernel-build-id", o.kernel.build_id, "its build id")->group(lab);
  cmd->add_option("--kernel-policy", o.kernel.policy, "the PASID policy it implements")->group(lab);
  cmd->add_option("--kernel-source", o.kernel.source, "where it came from")->group(lab);
  cmd->add_flag("--emulated", o.emulated, "results come from an emulated VM")->group(lab);
  cmd->add_option("--time-base", o.time_base, "real | virtual-icount")
      ->check(CLI::IsMember({"real", "virtual-icount"}))
      ->group(lab);
  cmd->callback([&exit_code] {
    if (o.resume && o.out_dir.empty())
      throw InputError({"--resume", 0}, "--resume needs --out DIR (the run to resume)");
    for (const auto& text : params) {
      auto [k, v] = split_param_flag(text);
      o.extra_params[k] = {v, {"--param " + text, 0}};
    }
    exit_code = run_suite(o);
  });
}

}  // namespace pasidbench::cli
