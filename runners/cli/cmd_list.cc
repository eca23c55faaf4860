#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "platform/environment.h"
#include "runners/backends/backend.h"
#include "runners/cli/commands.h"
#include "suites/workload/suite.h"

namespace pasidbench::cli {

namespace {

using nlohmann::json;

json policies_json() {
  json out = json::array();
  if (const BackendFamily* model = backends().family("model"))
    for (const auto& v : model->variants)
      out.push_back({{"name", v.name},
                     {"description", v.description},
                     {"mutant_of", v.parent.empty() ? json(nullptr) : json(v.parent)}});
  return out;
}

json params_json(const std::vector<ParamSpec>& specs) {
  json out = json::array();
  for (const auto& p : specs)
    out.push_back({{"name", p.name},
                   {"type", p.describe_type()},
                   {"default", p.default_value},
                   {"help", p.help}});
  return out;
}

json workloads_json() {
  json out = json::array();
  for (const auto& w : builtin_workloads())
    out.push_back({{"name", w.name},
                   {"kind", w.kind == WorkloadKind::kMicro ? "micro" : "canonical"},
                   {"description", w.description},
                   {"params", params_json(w.params)}});
  return out;
}

json suites_json() {
  json out = json::array();
  std::filesystem::path dir = std::filesystem::path(pasidbench_home()) / "suites";
  std::error_code ec;
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec))
    if (e.path().extension() == ".toml") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    try {
      Suite s = load_suite_file(f.string());
      out.push_back({{"name", s.name},
                     {"path", f.string()},
                     {"description", s.description},
                     {"tests", s.tests.size()}});
    } catch (const InputError& e) {
      out.push_back({{"name", f.stem().string()}, {"path", f.string()}, {"error", e.what()}});
    }
  }
  return out;
}

json backends_json() {
  json out = json::array();
  for (const auto& f : backends().families()) {
    std::unique_ptr<Backend> b = backends().create(
        f.variants.empty() ? f.prefix : f.prefix + ":" + f.variants.front().name, {});
    out.push_back({{"name", f.variants.empty() ? f.prefix : f.prefix + ":<policy>"},
                   {"description", f.description},
                   {"params", params_json(b->params())}});
  }
  return out;
}

void print_text(const std::string& what, const json& j) {
  std::cout << what << ":\n";
  for (const auto& item : j) {
    std::string name = item.value("name", "");
    std::string desc = item.value("description", item.value("error", ""));
    if (item.contains("mutant_of") && item["mutant_of"].is_string())
      desc = "[seeded mutant of " + item["mutant_of"].get<std::string>() + "] " + desc;
    std::printf("  %-36s %s\n", name.c_str(), desc.c_str());
    if (item.contains("params"))
      for (const auto& p : item["params"])
        std::printf("      %-16s %-22s default %-8s %s\n", p["name"].get<std::string>().c_str(),
                    p["type"].get<std::string>().c_str(), p["default"].get<std::string>().c_str(),
                    p["help"].get<std::string>().c_str());
  }
}

}  // namespace

void add_list_command(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand("list", "List policies, workloads, suites and backends.");
  static std::string what;
  static bool as_json = false;
  cmd->add_option("what", what, "policies | workloads | suites | backends (default: all)")
      ->check(CLI::IsMember({"policies", "workloads", "suites", "backends"}));
  cmd->add_flag("--json", as_json, "print JSON");
  cmd->callback([&exit_code] {
    json all = {{"policies", policies_json()},
                {"workloads", workloads_json()},
                {"suites", suites_json()},
                {"backends", backends_json()}};
    json selected = what.empty() ? all : json{{what, all[what]}};
    if (as_json) {
      std::cout << (what.empty() ? selected : selected[what]).dump(2) << "\n";
    } else {
      for (const auto& [k, v] : selected.items()) print_text(k, v);
    }
    exit_code = 0;
  });
}

}  // namespace pasidbench::cli
