// What every lab runner (VM, ssh, kexec, LAVA) does the same way: check the
// input before anything runs, plan the suite for the host backend, and
// write the `pasidbench run` command line the machine under test executes.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "results/record.h"
#include "runners/backends/backend.h"
#include "runners/lab/kernel_manifest.h"

namespace pasidbench::lab {

// Loads every manifest; names must be unique. Throws InputError.
std::vector<KernelManifest> load_manifests(const std::vector<std::string>& paths);

// OUT/kernels/NAME: one kernel's own files (console logs, its run's
// results). Built with path_under, so a name can never reach outside
// OUT/kernels; throws InputError for one that would (the manifest loader
// rejects those first).
std::filesystem::path kernel_results_dir(const std::string& out_dir,
                                         const std::string& kernel_name);

// The suite's tests as the machine under test will run them, in order: its
// host and kmod:<policy> tests; a suite that names neither runs on the host
// backend. Throws InputError (a suite mixing them with model tests too).
std::vector<TestCase> plan_lab_tests(const std::string& suite_path, const std::string& filter,
                                     const RawParams& extra_params);

struct RunArgs {
  std::string suite;    // the suite's path on the target
  std::string out_dir;  // the run's --out on the target
  bool resume = false;
  std::string filter;
  RawParams extra_params;
  bool emulated = false;
  std::string time_base = "real";
  // --backend host (a suite of the model's run on the machine); false: the
  // suite's own host and kmod:<policy> backends.
  bool host_only = true;
};

// `run SUITE --backend host --out DIR --kernel-name ... [--emulated] ...`:
// every record names the kernel build it measured.
std::vector<std::string> run_command_args(const KernelManifest& kernel, const std::string& build_id,
                                          const std::string& source, const RunArgs& args);

// Provenance for the records the lab writes itself.
Provenance lab_provenance(const KernelManifest& kernel, const std::string& release,
                          const std::string& build_id, const std::string& source,
                          const std::string& hostname, bool emulated, const std::string& time_base);

// This machine's host name, made safe for a kernel command line.
std::string safe_hostname();

}  // namespace pasidbench::lab
