// The kexec runner: a lab machine goes through a queue of kernels on its
// own. At every boot (a service runs `pasidbench kexec step`), it looks at
// what is recorded, runs the suite if it booted into the kernel whose turn
// it is, then loads the next kernel with kexec and reboots into it. A kernel
// that dies or hangs sends the machine back to its default kernel (watchdog,
// panic=N); the next step records that and either tries the kernel again
// (resuming after the test it died in) or moves on. The queue's state lives
// in --out, written before every reboot, so a power cut loses nothing.
#pragma once

#include <functional>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "runners/suite_runner.h"

namespace pasidbench::lab {

// kexec-queue.json in the output directory.
struct KexecQueue {
  std::vector<std::string> manifests;  // absolute paths, in order
  std::string suite;                   // absolute path
  std::string filter;
  int max_attempts = 2;                 // kexecs per kernel
  std::map<std::string, int> attempts;  // kernel name -> kexecs into it so far
  std::map<std::string, bool> reached;  // kernel name -> its runner started at least once
};

std::string kexec_queue_path(const std::string& out_dir);
// Throws InputError when there is no queue or it is malformed.
KexecQueue load_kexec_queue(const std::string& out_dir);
// Written to a temporary file, fsync'ed and renamed into place.
void save_kexec_queue(const std::string& out_dir, const KexecQueue& queue);

// What the machine does at a step.
enum class KexecAction {
  kRunHere,  // this is the kernel whose turn it is: run (or resume) the suite
  kKexec,    // load that kernel and reboot into it
  kDone,     // every kernel is recorded
};

struct KexecDecision {
  KexecAction action = KexecAction::kDone;
  std::string kernel;  // kRunHere / kKexec
  // Records the step writes first: the verdict on a kernel that did not come
  // back (its running test crashed, or it never reached the runner).
  std::string note;
};

// How a step talks to the machine; tests replace every part.
struct KexecEnvironment {
  std::string root = "/";  // where /proc/cmdline is read
  // `kexec -l IMAGE [--initrd=INITRD] --append=CMDLINE`; returns "" or the error.
  std::function<std::string(const std::string& image, const std::string& initrd,
                            const std::string& append)>
      load;
  // Reboots into the loaded kernel (systemctl kexec, else kexec -e); returns
  // "" once the reboot is under way, else the error.
  std::function<std::string()> reboot;
  // Runs the suite on this machine (normally run_suite).
  std::function<int(const RunOptions&)> run = run_suite;
  std::string cache_dir;  // for fetching the kernels to kexec
  bool dry_run = false;   // decide and print; record, load and reboot nothing
};

// The kexec environment of a real machine (kexec-tools, systemd when present).
KexecEnvironment system_kexec_environment();

// Creates the queue in `out_dir` (InputError if one exists there already).
void start_kexec_queue(const std::vector<std::string>& manifests, const std::string& suite,
                       const std::string& filter, int max_attempts, const std::string& out_dir);

// One step at boot. Returns 0 when the step did its part (kexec'd, or the
// queue is done), 1 when something could not be done (a kexec failed: the
// results say why), 2 for bad input.
int kexec_step(const std::string& out_dir, const KexecEnvironment& env, std::ostream& log);

// The command line for the next kernel: this boot's, without our marker, the
// bootloader's BOOT_IMAGE/initrd and the words the running kernel's own
// manifest added, plus the marker and the next manifest's words.
std::string next_kernel_cmdline(const std::string& current,
                                const std::string& running_manifest_words,
                                const std::string& kernel_name,
                                const std::string& manifest_cmdline);

// The kernel name this boot carries (pasidbench.kernel=NAME), or empty.
std::string booted_kernel_name(const std::string& cmdline);

// One line per kernel: recorded / total, attempts.
void print_kexec_status(const std::string& out_dir, std::ostream& out);

}  // namespace pasidbench::lab
