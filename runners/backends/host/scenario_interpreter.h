// Runs a Scenario on the running kernel with real threads and processes:
// clone_thread is a pthread in the same mm, fork a child process, exec a
// real execve() of this program that carries on with the task's program,
// latches live in shared memory, and bind/unbind/submit go to a TaskDevice
// (the real DSA work queue on hardware, pasidlab.ko's emulated one, or the
// loopback device in tests of the interpreter itself).
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "platform/dsa_wq.h"
#include "results/record.h"
#include "suites/workload/scenario.h"

namespace pasidbench {

// Submission outcomes as the host sees them (result "outcomes" keys):
//   ok           completion record says success
//   gp_sigsegv   ENQCMD raised #GP (SIGSEGV), caught
//   fault        completion record written with an error status
//   timeout      no completion record in time
//   rejected     ENQCMD kept returning "retry" (ZF=1)
//   no_portal    nothing in this mm is bound: the submission cannot be issued
//   write_error  write() submission failed
inline const std::vector<std::string>& host_outcome_kinds() {
  static const std::vector<std::string> kinds = {"ok",       "gp_sigsegv", "fault",      "timeout",
                                                 "rejected", "no_portal",  "write_error"};
  return kinds;
}
// Whether `outcome` is what a workload expecting `expect` may get (either
// device's names: fault_unbound is pasidlab's).
bool outcome_matches(SubmitExpect expect, const std::string& outcome);

// One per process (fork copies it; after_fork() drops what belongs to the
// parent's mm). Bindings belong to the process, keyed by the task that made
// them: a thread that exits leaves its binding open, as the fd table does.
class TaskDevice {
 public:
  virtual ~TaskDevice() = default;
  // "" or why the bind failed.
  virtual std::string bind(int task, int64_t* ns) = 0;
  virtual void unbind(int task, int64_t* ns) = 0;
  // One submission by `task`: through its own binding, else through any
  // binding of the process. Returns one of host_outcome_kinds().
  virtual std::string submit(int task, int64_t* latency_ns, int* retries) = 0;
  virtual void after_fork() = 0;
  virtual std::string describe() const = 0;
  // The names submit() returns; at most 16.
  virtual const std::vector<std::string>& outcome_kinds() const { return host_outcome_kinds(); }
  // A device that survives exec names its kind (register_exec_device) and
  // writes what the new image needs to rebuild it: its open files, which
  // exec keeps (their portal mappings go with the old mm). "" cannot exec.
  virtual std::string exec_kind() const { return {}; }
  virtual std::string state_for_exec() { return {}; }

  // Steps on named files (docs/scenario-format.md: map, unmap, close, and
  // bind/unbind with fd, cloexec or map = false). A device without them
  // cannot run a scenario that uses them (host_cannot_run). A name names
  // the newest file of that name the process holds. As in the model, a step
  // on a name the process does not hold does nothing.
  virtual bool has_file_steps() const { return false; }
  struct FileOpen {
    std::string name;  // "" unnamed
    bool cloexec = false;
    bool map = true;
  };
  virtual std::string open_file(int task, const FileOpen& how, int64_t* ns);
  // "" mapped, else why nothing was mapped ("EBADF": no such fd; "EPERM":
  // another mm's file, refused as idxd_cdev_mmap() does since 8dfa57aabff6).
  // Other failures throw.
  virtual std::string map_file(const std::string& name);
  virtual void unmap_file(const std::string& name);
  virtual void close_file(const std::string& name);
  virtual void unbind_file(const std::string& name, int64_t* ns);
};

// Names of files in a device's exec state: one token each, "-" for "".
std::string fd_name_token(const std::string& name);
std::string fd_name_from_token(const std::string& token);

// Rebuilds a device of one kind in a program image that exec started.
using ExecDeviceFactory = std::function<std::unique_ptr<TaskDevice>(const std::string& state)>;
void register_exec_device(const std::string& kind, ExecDeviceFactory factory);

// What exec runs: argv[0] of the new image is this path, argv[1]
// kExecContinueCommand, argv[2] the number of an inherited memfd holding
// the continuation. Default /proc/self/exe; the program's main() must hand
// that command to continue_scenario_after_exec() before anything else.
inline constexpr const char* kExecContinueCommand = "__exec-continue";
void set_exec_image(const std::string& path);
[[noreturn]] void continue_scenario_after_exec(const char* fd_text);

// Bindings as the model keeps them: per process, a stack of open files,
// each with its fd (or closed) and its portal mappings in this mm; a
// submission is ok while any portal is mapped, else no_portal. Touches no
// device: for tests of the interpreter's processes, threads, latches, exec
// and file steps.
class LoopbackDevice : public TaskDevice {
 public:
  std::string bind(int task, int64_t* ns) override;
  void unbind(int task, int64_t* ns) override;
  std::string submit(int task, int64_t* latency_ns, int* retries) override;
  void after_fork() override;
  std::string describe() const override { return "loopback (no device)"; }
  std::string exec_kind() const override { return "loopback"; }
  std::string state_for_exec() override;
  static std::unique_ptr<TaskDevice> from_exec_state(const std::string& state);

  bool has_file_steps() const override { return true; }
  std::string open_file(int task, const FileOpen& how, int64_t* ns) override;
  std::string map_file(const std::string& name) override;
  void unmap_file(const std::string& name) override;
  void close_file(const std::string& name) override;
  void unbind_file(const std::string& name, int64_t* ns) override;

 private:
  struct File {
    std::string name;
    bool fd_open = true;
    bool cloexec = false;
    int maps = 0;
    bool own_mm = true;  // opened by this mm: only then may it be mapped
  };
  // The newest file named `name` with an open fd (any, for ""), or -1.
  int newest_fd(const std::string& name, bool any_name) const;
  void unbind_at(int index);

  std::unique_ptr<std::mutex> mu_ = std::make_unique<std::mutex>();
  std::vector<File> files_;  // oldest first
};

// The real device: a shared DSA work queue.
class WorkQueueDevice : public TaskDevice {
 public:
  WorkQueueDevice(IdxdWorkQueue queue, SubmitPreference pref, int max_retries,
                  std::chrono::milliseconds timeout);
  std::string bind(int task, int64_t* ns) override;
  void unbind(int task, int64_t* ns) override;
  std::string submit(int task, int64_t* latency_ns, int* retries) override;
  void after_fork() override;
  std::string describe() const override;
  const std::string& queue_name() const { return queue_.name; }

 private:
  IdxdWorkQueue queue_;
  SubmitPreference pref_;
  int max_retries_;
  std::chrono::milliseconds timeout_;
  std::unique_ptr<std::mutex> mu_ = std::make_unique<std::mutex>();
  std::multimap<int, std::shared_ptr<WorkQueue>> bindings_;
  std::string last_path_;
};

// Schedule noise for differential runs against the model (docs/kmod.md
// "Differential test"): with a seed, each task draws at every step boundary
// whether to sched_yield(), sleep a few microseconds or move itself to a
// random CPU of those the run was allowed, so that repeated runs visit other
// interleavings. Off (seed 0) the interpreter adds nothing.
struct InterpreterOptions {
  uint64_t noise_seed = 0;
  uint64_t run_index = 0;  // mixed into the seed: each run of a test draws anew
  int pin_cpu = -1;        // >= 0: every task of the scenario on this one CPU
};

struct InterpreterResult {
  std::map<std::string, int64_t> outcomes;
  // Per submit step ("<template>/<index>[.<index>...]", 0-based, the model's
  // Machine::submit_steps() keys): outcome -> submissions.
  std::map<std::string, std::map<std::string, int64_t>> step_outcomes;
  int64_t noise_yields = 0, noise_sleeps = 0, noise_repins = 0;
  // The run's event log in time order (task steps, submissions with their
  // outcome, noise), the first 512 events; events_dropped: those past them.
  std::vector<std::string> events;
  int64_t events_dropped = 0;
  int64_t submits = 0;
  int64_t unexpected = 0;
  std::string first_unexpected;
  int64_t retries = 0;
  int64_t tasks = 0;
  std::vector<double> submit_ns, bind_ns, unbind_ns;  // capped samples
  std::string error;  // a bind failed, a task crashed, ...: the run is not a verdict
  bool crashed = false;
};

// Why the host cannot run this scenario on `device` at all ("" if it can):
// exec needs a device with an exec_kind().
std::string host_cannot_run(const Scenario& scenario, const TaskDevice& device);

// Runs it from the calling process (which must not be multi-threaded: it
// forks) and returns when every task has ended.
InterpreterResult run_scenario_on_host(const Scenario& scenario, TaskDevice& device,
                                       const InterpreterOptions& options = {});

// The scenario's submit steps in the order and with the keys above.
std::vector<std::pair<std::string, const Step*>> submit_steps_of(const Scenario& scenario);

// Verdict and metrics of a run.
void fill_from_interpreter(const InterpreterResult& result, ResultRecord* r);

}  // namespace pasidbench
