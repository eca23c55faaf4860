// The ssh runner: a machine already booted into the kernel under test. Copy
// the runner bundle (binary, its libraries, the suite) over ssh, run the
// agent there, read the records it streams on ssh's stdout into --out's
// results.jsonl as they come, and leave nothing behind but the bundle.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "runners/lab/vm_runner.h"

namespace pasidbench::lab {

struct SshOptions {
  std::string destination;               // [user@]host
  int port = 0;                          // 0: ssh's default
  std::vector<std::string> ssh_options;  // each passed as -o OPTION
  std::string remote_dir = "/tmp/pasidbench-lab";
  int connect_timeout_s = 15;
};

// The ssh command line for running `remote_command` on the destination.
std::vector<std::string> ssh_command(const SshOptions& ssh, const std::string& remote_command);

// Runs the suite on the machine `ssh` reaches, for the one kernel manifest in
// `options` (it describes the running kernel; a `release` it names is
// checked against uname -r). Returns 0 when every test passed or skipped.
int run_ssh_lab(const LabOptions& options, const SshOptions& ssh, std::ostream& log);

// Writes the runner bundle (kBundled payload) for `suite` as a gzip'ed tar
// to `tarball`: what the ssh runner copies and a LAVA test definition
// downloads. Throws std::runtime_error.
void write_bundle(const std::string& pasidbench_binary, const std::string& suite,
                  const std::string& work_dir, const std::string& tarball);

}  // namespace pasidbench::lab
