#include <filesystem>
#include <iostream>

#include "platform/environment.h"
#include "platform/input_error.h"
#include "runners/cli/commands.h"

namespace pasidbench::cli {

namespace {

void print_text(const nlohmann::json& j, const std::string& prefix) {
  for (const auto& [k, v] : j.items()) {
    std::string key = prefix.empty() ? k : prefix + "." + k;
    if (v.is_object())
      print_text(v, key);
    else if (v.is_array() && !v.empty() && v.front().is_object())
      for (size_t i = 0; i < v.size(); ++i) print_text(v[i], key + "[" + std::to_string(i) + "]");
    else
      std::cout << key << ": " << (v.is_string() ? v.get<std::string>() : v.dump()) << "\n";
  }
}

}  // namespace

void add_env_command(CLI::App& app, int& exit_code) {
  static bool as_json = false;
  static std::string root = "/";
  auto* cmd = app.add_subcommand("env", "Print the environment record every result embeds.");
  cmd->add_flag("--json", as_json, "print JSON");
  cmd->add_option("--root", root, "read /proc and /sys under this directory (for tests)");
  cmd->callback([&exit_code] {
    std::error_code ec;
    if (!std::filesystem::is_directory(root, ec))
      throw InputError({"--root", 0}, "not a directory: " + root);
    nlohmann::json env = collect_environment(root);
    if (as_json)
      std::cout << env.dump(2) << "\n";
    else
      print_text(env, "");
    exit_code = 0;
  });
}

}  // namespace pasidbench::cli
