// The agent: runs `pasidbench run` on the machine under test (inside the VM,
// over ssh) and streams each result record to the lab runner over the
// results channel as soon as it is written, framed by a hello (the kernel
// and what it offers) and a done (how the run ended).
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace pasidbench::lab {

struct AgentOptions {
  // Where the messages go: a path (a virtio port such as /dev/vport0p1, a
  // file), "-" for stdout, or "virtio:NAME" for the virtio-serial port named
  // NAME (looked up in /sys/class/virtio-ports).
  std::string channel = "-";
  std::string results_path;           // the run's results.jsonl
  std::vector<std::string> run_args;  // the `pasidbench run` arguments
  int poll_ms = 200;
  // Fault injection for checking a lab setup end to end: "panic-after:N"
  // crashes the kernel (sysrq c) once N records were sent, "hang-after:N"
  // stops every process. Empty: taken from pasidbench.inject= on the kernel
  // command line, if there.
  std::string inject;
};

struct Injection {
  enum class Kind { kNone, kPanic, kHang } kind = Kind::kNone;
  int after_records = 0;
};
// Parses "panic-after:N" / "hang-after:N". Throws std::runtime_error.
Injection parse_injection(const std::string& text);

// Runs `run(args)` in a child process and returns its exit code (or 128 +
// signal). `run` is the CLI's `run` command; the agent never parses it.
// Throws std::runtime_error when the channel cannot be opened.
int run_agent(const AgentOptions& options,
              const std::function<int(const std::vector<std::string>&)>& run);

// What the kernel under test offers the suite, probed for real: membarrier
// and perf_event_open by calling them, SVA by its symbols in /proc/kallsyms,
// the IOMMU's capabilities from sysfs, ENQCMD from /proc/cpuinfo. `root`
// prefixes the /proc and /sys paths (tests); syscalls are only made when
// root is "/".
nlohmann::json probe_kernel_features(const std::string& root = "/");

// The /dev path of the virtio-serial port called `name`, or empty.
std::string find_virtio_port(const std::string& name, const std::string& root = "/");

}  // namespace pasidbench::lab
