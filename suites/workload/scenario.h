// The workload model every backend runs: task templates with event programs.
//
// A scenario starts its "initial" templates at time zero, each instance as a
// new process (its own mm). Other templates start when a running task
// clone_thread()s (same mm) or fork()s (new mm) them. A task that runs off the
// end of its program exits.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "platform/input_error.h"

namespace pasidbench {

enum class StepOp {
  kBind,         // open the device work queue (SVA bind of the task's mm), map its portal
  kUnbind,       // munmap and close it (the release, drain and unbind, follows)
  kSubmit,       // ENQCMD `count` descriptors, each expecting `expect`
  kCompute,      // run on the CPU for `duration_ns`
  kSleep,        // block for `duration_ns`
  kCloneThread,  // start `count` instances of template `task` in this mm
  kFork,         // start `count` instances of template `task`, each in a copy of this mm
  kExec,         // replace this task's mm with a new one
  kExit,         // exit now
  kWait,         // block until every instance of `task` this task started has exited
  kSignal,       // add one to latch `flag`
  kAwait,        // block until latch `flag` reached `count`
  kRepeat,       // run `body` `count` times
  // Steps on one named file (`fd`) of the process (docs/scenario-format.md):
  kMap,    // mmap the portal of an fd this process holds (inherited or opened unmapped)
  kUnmap,  // munmap this mm's portal of the file; the fd stays open
  kClose,  // close the fd; a portal mapping keeps the file (and its binding) alive
};

// What a workload expects of a submission. Safety violations
// (isolation_violation, use_after_free) fail a test whatever is expected.
enum class SubmitExpect { kAny, kOk, kGpSigsegv, kFaultUnbound };

struct Step {
  StepOp op = StepOp::kCompute;
  std::string task;  // kCloneThread, kFork, kWait
  std::string flag;  // kSignal, kAwait
  // kBind: the name of the file it opens ("" unnamed); kMap, kUnmap, kClose
  // and kUnbind: the file they act on (the newest of that name; for kUnbind
  // "" is the newest file of the process, as before names existed).
  std::string fd;
  bool cloexec = false;  // kBind: O_CLOEXEC, exec closes the fd
  bool map = true;       // kBind: mmap the portal once the open is done
  int64_t count = 1;
  int64_t duration_ns = 0;
  SubmitExpect expect = SubmitExpect::kAny;
  std::vector<Step> body;  // kRepeat
  SourceLocation where;    // empty for generated steps
  // Identity that survives copies and edits of the scenario (the shrinker
  // numbers the steps so that it can tell the same step in a smaller
  // scenario); 0 when unnumbered. Not part of the file format.
  uint32_t id = 0;
};

struct TaskTemplate {
  std::string name;
  bool initial = false;   // started at time zero, each instance its own process
  int64_t instances = 1;  // initial templates only
  std::vector<Step> program;
  SourceLocation where;
};

struct Scenario {
  std::string name;
  std::string description;
  int64_t cpus = 2;  // CPUs the workload is meant to spread over
  std::vector<TaskTemplate> tasks;
  SourceLocation where;

  const TaskTemplate* find(const std::string& task_name) const;
};

const char* to_string(StepOp op);
const char* to_string(SubmitExpect expect);
bool parse_step_op(const std::string& text, StepOp* out);
bool parse_submit_expect(const std::string& text, SubmitExpect* out);

// Rejects scenarios no backend could run: unknown templates, a task that waits
// on itself, a latch nobody signals often enough, templates that spawn
// themselves forever, a spawned template that nobody starts. Throws InputError
// at the offending step.
void validate_scenario(const Scenario& scenario);

// Renders the scenario as TOML in the scenario-file format (round-trips
// through load_scenario_toml).
std::string scenario_to_toml(const Scenario& scenario);

}  // namespace pasidbench
