// Runs a Scenario on the running kernel with real threads and processes:
// clone_thread is a pthread in the same mm, fork a child process, latches
// live in shared memory, and bind/unbind/submit go to a TaskDevice (the
// real DSA work queue on hardware; a stand-in in unit tests of the
// interpreter itself).
#pragma once

#include <chrono>
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
// Whether `outcome` is what a workload expecting `expect` may get.
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

struct InterpreterResult {
  std::map<std::string, int64_t> outcomes;
  int64_t submits = 0;
  int64_t unexpected = 0;
  std::string first_unexpected;
  int64_t retries = 0;
  int64_t tasks = 0;
  std::vector<double> submit_ns, bind_ns, unbind_ns;  // capped samples
  std::string error;  // a bind failed, a task crashed, ...: the run is not a verdict
  bool crashed = false;
};

// Why the host cannot run this scenario at all ("" if it can).
std::string host_cannot_run(const Scenario& scenario);

// Runs it from the calling process (which must not be multi-threaded: it
// forks) and returns when every task has ended.
InterpreterResult run_scenario_on_host(const Scenario& scenario, TaskDevice& device);

// Verdict and metrics of a run.
void fill_from_interpreter(const InterpreterResult& result, ResultRecord* r);

}  // namespace pasidbench
