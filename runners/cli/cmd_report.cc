#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iostream>

#include "platform/environment.h"
#include "platform/input_error.h"
#include "runners/cli/commands.h"

namespace pasidbench::cli {

void add_report_command(CLI::App& app, int& exit_code) {
  static std::vector<std::string> args;
  auto* cmd = app.add_subcommand(
      "report",
      "Compare result sets (the first is the baseline): text table for mail on stdout, HTML and "
      "plots with --out DIR. Hands off to reports/pasidbench_report.py; see its --help.");
  cmd->prefix_command();  // everything after `report` goes to the Python side as it is
  cmd->callback([&exit_code, cmd] {
    args = cmd->remaining();
    std::string script =
        (std::filesystem::path(pasidbench_home()) / "reports" / "pasidbench_report.py").string();
    if (!std::filesystem::exists(script))
      throw InputError("report: " + script + " not found (set PASIDBENCH_HOME?)");
    // Debian's interpreter: it is the one that sees python3-matplotlib & co.
    std::vector<char*> argv;
    std::string python = "/usr/bin/python3";
    argv.push_back(python.data());
    argv.push_back(script.data());
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::cout.flush();
    ::execv(python.c_str(), argv.data());
    std::cerr << "pasidbench: cannot run " << python << ": " << std::strerror(errno) << "\n";
    exit_code = 2;
  });
}

}  // namespace pasidbench::cli
