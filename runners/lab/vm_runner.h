// The VM runner: every kernel of a lab run boots in its own QEMU (software
// emulation, no network), runs the suite through the agent and streams its
// records back over a virtio-serial port. One QEMU at a time: parallel TCG
// guests on a small machine distort each other's timings badly.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "suites/workload/params.h"

namespace pasidbench::lab {

struct LabOptions {
  std::vector<std::string> kernel_manifests;
  std::string suite_path;
  std::string out_dir;
  bool resume = false;  // skip (kernel, test) pairs already in out_dir/results.jsonl
  std::string filter;
  RawParams extra_params;
  std::string time_base = "real";  // real | virtual-icount (QEMU -icount shift=0,sleep=off)
  std::string cache_dir;           // empty: default_kernel_cache()
  std::string qemu = "qemu-system-x86_64";
  std::string busybox;            // empty: a static busybox from PATH or /bin
  std::string pasidbench_binary;  // empty: this program
  int smp = 0;                    // vCPUs for every kernel; 0: each manifest's [vm] smp
  int max_boots = 2;              // boots per kernel when it dies in the middle of the suite
  // How long past the running test's timeout the VM may stay silent before
  // the watchdog calls it hung (times 10 under -icount).
  int watchdog_grace_s = 60;
};

// What one boot of one kernel needs from QEMU.
struct VmBoot {
  std::string qemu = "qemu-system-x86_64";
  std::string vmlinuz;
  std::string initramfs;
  std::string console_log;
  std::string channel_file;
  std::string append;  // kernel command line
  int smp = 2;
  int memory_mib = 1024;
  bool intel_iommu = true;
  bool icount = false;
};

std::vector<std::string> qemu_command(const VmBoot& boot);

// Runs every kernel; returns 0 when every test passed or skipped, 1
// otherwise. Throws InputError before anything runs for bad manifests, a bad
// suite or a missing tool.
int run_vm_lab(const LabOptions& options, std::ostream& log);

// Fetches (or builds) every kernel into the cache and prints where each one
// is; nothing boots. Returns 0 when all are ready, 1 otherwise (each reason
// on `log`). CI runs it first to skip with the exact reason when a kernel
// package cannot be downloaded.
int fetch_kernels(const std::vector<std::string>& manifests, const std::string& cache_dir,
                  std::ostream& out, std::ostream& log);

// A busybox that runs with no libraries (busybox-static), or empty.
std::string find_static_busybox();

}  // namespace pasidbench::lab
