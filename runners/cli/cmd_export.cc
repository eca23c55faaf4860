#include <filesystem>
#include <iostream>
#include <regex>

#include "platform/file_io.h"
#include "platform/input_error.h"
#include "results/gbench_export.h"
#include "results/jsonl_store.h"
#include "results/kcidb.h"
#include "runners/cli/commands.h"

namespace pasidbench::cli {

namespace {

// `results` (a results.jsonl, or a directory holding one) read; problems
// with single lines go to stderr. `path` is the file read.
JsonlContents read_results(const std::string& results, std::string* path) {
  *path = std::filesystem::is_directory(results)
              ? (std::filesystem::path(results) / "results.jsonl").string()
              : results;
  if (!std::filesystem::exists(*path)) throw InputError({results, 0}, "no results.jsonl here");
  JsonlContents contents = read_jsonl(*path);
  for (const auto& p : contents.problems) std::cerr << "export: " << p << "\n";
  return contents;
}

void write_json(const nlohmann::json& doc, const std::string& out_path) {
  if (out_path.empty())
    std::cout << doc.dump(2) << "\n";
  else
    replace_file(out_path, doc.dump(2) + "\n");
}

}  // namespace

void add_export_command(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand("export", "Write a result set in another system's format.");
  cmd->require_subcommand(1);
  static std::string results, out_path;
  static KcidbOptions options;
  auto* kcidb = cmd->add_subcommand(
      "kcidb",
      "KernelCI KCIDB I/O JSON (schema v5.3): checkouts, builds, tests; metrics as DONE "
      "tests with number{value, unit}. Check it with kcidb-validate before kcidb-submit.");
  kcidb->add_option("results", results, "results.jsonl, or a directory holding one")->required();
  kcidb->add_option("--origin", options.origin, "the submitting CI system ([a-z0-9_]+)");
  kcidb->add_option("--tree", options.tree_name, "checkout tree_name (e.g. mainline, net-next)");
  kcidb->add_option("--out", out_path, "write here instead of stdout");
  kcidb->callback([&exit_code] {
    std::string path;
    JsonlContents contents = read_results(results, &path);
    nlohmann::json report;
    try {
      report = kcidb_report(contents.records, options);
    } catch (const KcidbInputError& e) {
      // The flag, or the line of the results file, that is at fault.
      SourceLocation where = e.record < 0 ? SourceLocation{"--origin", 0}
                                          : SourceLocation{path, contents.line_numbers[e.record]};
      throw InputError(where, e.what());
    }
    write_json(report, out_path);
    exit_code = 0;
  });

  static std::string gb_results, gb_out;
  static GbenchExportOptions gb_options;
  auto* gbench = cmd->add_subcommand(
      "gbench",
      "Google Benchmark JSON of the stored micro benchmarks (every sample a repetition, with "
      "aggregates), for Google Benchmark's tools/compare.py and its U test");
  gbench->add_option("results", gb_results, "results.jsonl, or a directory holding one")
      ->required();
  gbench->add_option("--kernel", gb_options.kernel, "only this kernel build's records");
  gbench->add_option("--test", gb_options.test_regex, "only test ids matching this regex");
  gbench->add_option("--out", gb_out, "write here instead of stdout");
  gbench->callback([&exit_code] {
    std::string path;
    JsonlContents contents = read_results(gb_results, &path);
    nlohmann::json doc;
    try {
      doc = google_benchmark_document(contents.records, gb_options);
    } catch (const std::regex_error& e) {
      throw InputError({"--test", 0}, e.what());
    } catch (const std::runtime_error& e) {
      throw InputError({gb_results, 0}, e.what());
    }
    write_json(doc, gb_out);
    exit_code = 0;
  });
}

}  // namespace pasidbench::cli
