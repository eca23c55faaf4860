// LAVA, the scheduler kernel labs share boards with: a job definition per
// (kernel build, device type), a test definition that runs the suite from
// the runner bundle and reports each test with lava-test-case, and the import
// of LAVA's results back into result records.
#pragma once

#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <vector>

#include "runners/lab/kernel_manifest.h"

namespace pasidbench::lab {

// The Lava-Test Test Definition 1.0 for `suite`: fetch the bundle
// (BUNDLE_URL: an http(s) URL or a path), run the suite on the host backend
// with the kernel's provenance (job parameters), report with lava-test-case.
std::string lava_test_definition(const std::string& suite_path);

// On a QEMU device (--boot-method qemu) the bundle rides into the guest's
// initramfs as an overlay file here, and the guest's shell prompt is this.
inline constexpr const char* kQemuBundlePath = "/opt/pasidbench.tar.gz";
inline constexpr const char* kGuestPrompt = "pasidbench-guest:~# ";

struct LavaJobSpec {
  KernelManifest kernel;
  std::string device_type;
  std::string suite_path;
  std::string bundle_url;   // the runner bundle (pasidbench lava bundle)
  std::string kernel_url;   // the kernel image the board boots
  std::string ramdisk_url;  // optional
  std::string modules_url;  // optional (modules.tar.xz)
  std::string rootfs_url;   // optional nfsrootfs (tar.xz)
  // ipxe (and other tftp boots): a board; qemu: LAVA's QEMU device type,
  // deploy to tmpfs (kernel + the initramfs of `lava guest`, the bundle as
  // an overlay at kQemuBundlePath).
  std::string boot_method = "ipxe";
  std::string kernel_type;  // tftp only: image|uimage|zimage; empty: omitted (ipxe needs none)
  std::string prompt;       // the shell prompt LAVA waits for; empty: the method's default
  std::string build_id;     // the kernel build's id, for the records
  std::string source;
  // A test definition in git; empty: the definition goes inline in the job.
  std::string testdef_repository;
  std::string testdef_path = "lava/pasidbench.yaml";
};

// The job definition YAML, valid against lava-common's strict job schema and
// the server's submission schema. Throws InputError for missing URLs.
std::string lava_job_definition(const LavaJobSpec& spec);

struct LavaGuest {
  std::string vmlinuz;  // the kernel image, copied into out_dir
  std::string rootfs;   // out_dir/rootfs.cpio.gz: busybox, an /init that gives a shell
  std::string build_id, source;
};

// What a QEMU device boots for `lava job --boot-method qemu`: the manifest's
// kernel (fetched or built as `pasidbench lab` does) and a busybox
// initramfs whose /init starts a root shell on the console with kGuestPrompt.
// LAVA adds its test overlay and the bundle to that initramfs. Throws
// KernelUnavailable or std::runtime_error with the reason.
LavaGuest lava_guest(const KernelManifest& kernel, const std::string& out_dir,
                     const std::string& cache_dir, std::ostream& log);

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
  // Failed set-up steps and jobs LAVA itself failed: recorded as setup@lava,
  // report@lava (fail) or job@lava (error).
  int lava_failures = 0;
  std::vector<std::string> notes;
};

// Throws InputError for unreadable or malformed files.
LavaImportSummary lava_import(const LavaImportSpec& spec);

}  // namespace pasidbench::lab
