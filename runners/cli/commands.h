// One function per subcommand; each adds itself to the app and stores its exit
// code in `exit_code` when it runs.
#pragma once

#include <CLI/CLI.hpp>

namespace pasidbench::cli {

void add_list_command(CLI::App& app, int& exit_code);
void add_check_command(CLI::App& app, int& exit_code);
void add_run_command(CLI::App& app, int& exit_code);
void add_env_command(CLI::App& app, int& exit_code);
void add_report_command(CLI::App& app, int& exit_code);
void add_lab_command(CLI::App& app, int& exit_code);
void add_kexec_command(CLI::App& app, int& exit_code);
void add_history_command(CLI::App& app, int& exit_code);
void add_export_command(CLI::App& app, int& exit_code);
void add_lava_command(CLI::App& app, int& exit_code);
void add_diff_model_command(CLI::App& app, int& exit_code);
void add_mutate_command(CLI::App& app, int& exit_code);

}  // namespace pasidbench::cli
