// pasidbench: benchmark and conformance suite for Linux kernel PASID policies.
#include <cstring>
#include <iostream>

#include "platform/environment.h"
#include "platform/file_io.h"
#include "platform/input_error.h"
#include "runners/backends/host/scenario_interpreter.h"
#include "runners/cli/commands.h"

int main(int argc, char** argv) {
  // A scenario task that exec'd carries on here (never returns).
  if (argc == 3 && std::strcmp(argv[1], pasidbench::kExecContinueCommand) == 0)
    pasidbench::continue_scenario_after_exec(argv[2]);
  CLI::App app{
      "pasidbench: benchmark and conformance suite for Linux kernel PASID policies.\n"
      "Exit codes: 0 all passed (skips included), 1 a check or test failed, 2 bad input.",
      "pasidbench"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "pasidbench " + pasidbench::pasidbench_revision());
  int exit_code = 0;
  pasidbench::cli::add_list_command(app, exit_code);
  pasidbench::cli::add_check_command(app, exit_code);
  pasidbench::cli::add_run_command(app, exit_code);
  pasidbench::cli::add_env_command(app, exit_code);
  pasidbench::cli::add_report_command(app, exit_code);
  pasidbench::cli::add_lab_command(app, exit_code);
  pasidbench::cli::add_kexec_command(app, exit_code);
  pasidbench::cli::add_history_command(app, exit_code);
  pasidbench::cli::add_export_command(app, exit_code);
  pasidbench::cli::add_lava_command(app, exit_code);
  pasidbench::cli::add_diff_model_command(app, exit_code);
  pasidbench::cli::add_mutate_command(app, exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;
  } catch (const pasidbench::InputError& e) {
    std::cerr << "pasidbench: " << e.what() << "\n";
    return 2;
  } catch (const pasidbench::WriteError& e) {
    // A full disk: what was written before is whole, the rest is not there.
    std::cerr << "pasidbench: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "pasidbench: internal error: " << e.what() << "\n";
    return 3;
  }
  return exit_code;
}
