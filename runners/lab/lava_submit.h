// `pasidbench lava submit`: the path a lab takes with its boards, through a
// LAVA server: per kernel manifest, the guest (kernel and initramfs) and
// the bundle, a job for the QEMU device type, submitted with lavacli,
// waited for, its results fetched and imported into OUT/<kernel>/
// results.jsonl, one result set per kernel for `pasidbench report`.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace pasidbench::lab {

struct LavaSubmitOptions {
  std::vector<std::string> kernel_manifests;
  std::string suite_path;
  std::string out_dir;
  std::string identity = "pasidbench-lab";  // lavacli's (scripts/lava-lab.sh adds it)
  std::string device_type = "qemu";
  std::string lavacli = "lavacli";
  std::string cache_dir;          // kernels; empty: pasidbench lab's
  int job_timeout_s = 3600;       // waiting for one job
  std::string pasidbench_binary;  // empty: this one
};

// Jobs run one after another (parallel TCG guests distort each other).
// Returns 0 when every job's results were imported and all tests passed or
// skipped, 1 otherwise (each kernel's reason is logged). Throws InputError
// for bad input.
int lava_submit(const LavaSubmitOptions& options, std::ostream& log);

}  // namespace pasidbench::lab
