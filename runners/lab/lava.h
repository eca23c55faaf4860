// LAVA, the scheduler kernel labs share boards with: a job definition per
// (kernel build, device type), a test definition that runs the suite from
// the runner bundle and reports each test with lava-test-case, and the import
// of LAVA's results back into result records.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "runners/lab/kernel_manifest.h"

namespace pasidbench::lab {

// The Lava-Test Test Definition 1.0 for `suite`: fetch the bundle
// (BUNDLE_URL: an http(s) URL or a path), run the suite on the host backend
// with the kernel's provenance (job parameters), report with lava-test-case.
std::string lava_test_definition(const std::string& suite_path);

struct LavaJobSpec {
  KernelManifest kernel;
  std::string device_type;
  std::string suite_path;
  std::string bundle_url;   // the runner bundle (pasidbench lava bundle)
  std::string kernel_url;   // the kernel image the board boots
  std::string ramdisk_url;  // optional
  std::string modules_url;  // optional (modules.tar.xz)
  std::string rootfs_url;   // optional nfsrootfs (tar.xz)
  std::string boot_method = "ipxe";
  std::string build_id;  // the kernel build's id, for the records
  std::string source;
  // A test definition in git; empty: the definition goes inline in the job.
  std::string testdef_repository;
  std::string testdef_path = "lava/pasidbench.yaml";
};

// The job definition YAML. Throws InputError for missing URLs.
std::string lava_job_definition(const LavaJobSpec& spec);

// The test case name of a result: [A-Za-z0-9_.-] only ("micro:ipi[cpus=2]@host"
// -> "micro-ipi.cpus-2.host").
std::string lava_case_name(const std::string& test_id);

// Shell lines reporting `records` (results.jsonl lines) to LAVA: one case per
// test with its verdict, one per measured metric with --measurement and --units.
std::string lava_cases_script(const std::vector<nlohmann::json>& records);

struct LavaImportSpec {
  std::string results_yaml;  // LAVA's /results/<job id>/yaml export
  std::string job_yaml;      // the job definition `lava job` wrote (its metadata names the kernel)
  std::string suite_path;    // to map case names back to test ids and parameters
  std::string out_dir;       // records are appended to out_dir/results.jsonl
};

struct LavaImportSummary {
  int imported = 0;
  int missing = 0;  // planned tests LAVA had no case for: recorded as errors
  int unknown = 0;  // cases no planned test accounts for: reported, not imported
  std::vector<std::string> notes;
};

// Throws InputError for unreadable or malformed files.
LavaImportSummary lava_import(const LavaImportSpec& spec);

}  // namespace pasidbench::lab
