#include <iostream>

#include "kernels/policies/mutation.h"
#include "runners/cli/commands.h"
#include "runners/mutation_campaign.h"

namespace pasidbench::cli {

void add_mutate_command(CLI::App& app, int& exit_code) {
  static MutateOptions o;
  static bool list = false;
  auto* cmd = app.add_subcommand(
      "mutate",
      "Mutation campaign: each generated mutant through an independent monitor (is it unsafe?) "
      "and the conformance suite (which tests kill it); prints the kill table. Exit 1 when an "
      "unsafe mutant survives or a kill has no replayable trace of <= 30 events.");
  cmd->add_option("--suite", o.suite_path, "the suite that should kill them")
      ->capture_default_str();
  cmd->add_option("--out", o.out_dir,
                  "where results.jsonl, mutants.jsonl, kill-table.txt and the replay files go "
                  "(default out/mutate-<run id>)");
  cmd->add_option("--mutants", o.mutant_globs,
                  "glob on mutant names, e.g. 'task-refcount~*' (repeatable; default all)");
  cmd->add_option("--monitor-schedules", o.monitor_schedules,
                  "schedules per monitor workload and strategy")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{100000000}));
  cmd->add_flag("--quiet", o.quiet, "no progress lines on stderr");
  cmd->add_flag("--list", list,
                "print the generated mutants and the monitor's workloads, run nothing");
  cmd->callback([&exit_code] {
    if (list) {
      for (const auto& m : model::generated_mutants()) std::cout << m.info.name << "\n";
      for (const auto& w : monitor_workloads(o.suite_path)) std::cout << "monitor: " << w << "\n";
      exit_code = 0;
      return;
    }
    exit_code = run_mutation_campaign(o);
  });
}

}  // namespace pasidbench::cli
