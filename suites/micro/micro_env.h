// What every micro benchmark shares: the topology, the calibrated delay the
// statistics calibration injects, counters, and the PASID binding when the
// run asks for one. Set up once in main() before benchmarks run.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "platform/dsa_wq.h"
#include "platform/topology.h"
#include "suites/micro/busy_delay.h"

namespace benchmark {
class State;
}

namespace pasidbench {

// Holds a PASID for this process: an open shared work queue, and one ENQCMD
// per thread so that each thread's IA32_PASID is loaded (on kernels that
// populate it lazily, that first ENQCMD takes the #GP fixup).
class PasidHolder {
 public:
  // Binds the first usable shared queue. Throws std::runtime_error whose
  // text is the exact reason (the probe's list, or the bind's failure).
  static std::unique_ptr<PasidHolder> bind(SubmitPreference pref);

  // "" when the calling thread's PASID MSR is now loaded; otherwise why not
  // (write() path: the kernel submits, IA32_PASID stays untouched).
  std::string activate_this_thread() const;
  // In a forked child: the inherited file belongs to the parent's mm, so
  // drop it and bind again here. "" or the reason it failed.
  std::string rebind_after_fork();
  std::string describe() const;

 private:
  std::unique_ptr<WorkQueue> wq_;
  IdxdWorkQueue queue_;
  SubmitPreference pref_ = SubmitPreference::kAuto;
};

struct MicroEnv {
  CpuTopology topology;
  BusyDelay delay;
  int64_t inject_ns = 0;
  std::unique_ptr<PasidHolder> pasid;  // null: the process holds no PASID
  bool count_hardware = true;          // PAPI counters where the machine has them
};

MicroEnv& micro_env();

// Where a partner of a two-party benchmark runs.
enum class Mode { kThreads, kProcesses };
const char* to_string(Mode mode);

// The other side of a ping-pong: `body` pinned to `cpu`, as a thread of this
// process or as a child process. A child holds a PASID of its own when the
// run holds one (a fork child does not inherit it).
class Partner {
 public:
  Partner(Mode mode, int cpu, std::function<void()> body);
  ~Partner();
  Partner(const Partner&) = delete;
  Partner& operator=(const Partner&) = delete;

  // Blocks until the partner is pinned and about to run: "" or why it could
  // not start.
  std::string wait_ready();
  // Waits for the body to return: "" or what went wrong (a signal, ...).
  std::string join();

 private:
  int ready_fd_ = -1;
  pid_t pid_ = -1;
  std::unique_ptr<std::thread> thread_;
  bool joined_ = false;
};

// Pins the calling (benchmark) thread and loads its PASID when the run holds
// one. Returns false after telling `state` why (SkipWithError "skip: ...").
bool prepare_measuring_thread(benchmark::State& state, int cpu);

// Starts counting hardware events on this thread, reports them per
// iteration as user counters when stopped.
class CounterScope {
 public:
  CounterScope();
  ~CounterScope();
  void stop(benchmark::State& state);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pasidbench
