// A deterministic simulation of an SMP kernel running a Scenario under one
// PASID policy: N CPUs, preemptive scheduling with time slices, blocking and
// wake-ups, migrations, IPIs with delivery latency, task_work at return to
// user, #GP traps, a global lowest-free PASID allocator, a shared work queue
// whose device executes descriptors later and whose IOMMU resolves each
// PASID only then. See docs/model.md.
//
// Every place where the simulated machine could go more than one way is one
// call to a Chooser: the enabled actions are offered with the one the timed
// order would take (earliest virtual time, ties by sequence number) marked as
// the default. Choosing another action is a "deviation"; the exhaustive
// search bounds how many a schedule may have.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/policies/policy.h"
#include "results/record.h"
#include "suites/workload/scenario.h"

namespace pasidbench::model {

// Virtual durations of the simulated actions, which are also the unit costs
// of the cost model (docs/model.md). Nanoseconds.
struct Costs {
  int64_t ctxsw_ns = 2000;          // one context switch
  int64_t ipi_ns = 1500;            // IPI delivery latency; the cost of one IPI
  int64_t ipi_late_ns = 200000;     // a late IPI (irqs off, vCPU preempted)
  int64_t task_work_ns = 250;       // one task_work callback at return to user
  int64_t gp_fixup_ns = 1500;       // #GP trap, fixup and retry
  int64_t switch_resync_ns = 40;    // PASID work in one context switch
  int64_t syscall_ns = 3000;        // bind, unbind, clone, fork, exec, exit, futex
  int64_t submit_ns = 150;          // one ENQCMD
  int64_t device_ns = 2000;         // submission to execution on the device
  int64_t device_late_ns = 200000;  // a late execution (busy device)
  int64_t slice_ns = 1000000;       // scheduler time slice
};

// Ordered most severe first. The first two are seen when a descriptor
// executes; stale_pasid_held and pasid_table_stale are state invariants
// checked after every action (docs/model.md "Invariants").
enum class Violation : uint8_t {
  kIsolation,           // DMA resolved to another mm
  kUseAfterFree,        // a freed PASID reached the device
  kStalePasidHeld,      // a task running user code holds a free or another mm's PASID
  kFreeWhileInstalled,  // a PASID freed while the IOMMU still maps it
  kDoubleFree,          // a free PASID freed again
  kPasidTableStale,     // a PASID-table entry without its live binding, or a binding without it
  kDeadlock,            // tasks left, nothing can run
  kUnexpectedOutcome,   // a submission's outcome differs from its `expect`
};
inline constexpr int kViolationKinds = 8;
const char* to_string(Violation v);

enum class SubmitOutcome : uint8_t { kOk, kGpSigsegv, kFaultUnbound, kIsolation, kUseAfterFree };
inline constexpr int kOutcomeKinds = 5;
const char* to_string(SubmitOutcome o);

enum class ActionKind : uint8_t {
  kStep = 1,  // the task on a CPU runs its next step
  kSwitch,    // a free CPU switches to a runnable task
  kPreempt,   // a CPU's time slice ends: the running task yields to the runqueue's head
  kIpi,       // an IPI arrives at its CPU and its handler runs
  kDevice,    // the device executes the queue's head descriptor
  kWake,      // a sleep timer fires
  kPrompt,    // latency choice: an IPI or descriptor on time
  kLate,      // latency choice: late
};
const char* to_string(ActionKind k);

inline uint32_t make_key(ActionKind kind, int cpu, int id) {
  return (static_cast<uint32_t>(kind) << 28) | (static_cast<uint32_t>(cpu & 0xff) << 20) |
         static_cast<uint32_t>(id & 0xfffff);
}
inline ActionKind key_kind(uint32_t key) { return static_cast<ActionKind>(key >> 28); }
inline int key_cpu(uint32_t key) { return static_cast<int>((key >> 20) & 0xff); }
inline int key_id(uint32_t key) { return static_cast<int>(key & 0xfffff); }

struct Option {
  uint32_t key = 0;      // stable identity within a schedule (kind, CPU, object)
  int64_t ready_at = 0;  // earliest virtual time it could happen
  uint64_t seq = 0;      // tie-break: order in which it became pending
  int32_t agent = 0;     // the thread of control it belongs to (PCT priorities)
};

// Agents that are not tasks.
inline constexpr int32_t kDeviceAgent = 1 << 24;
inline constexpr int32_t kIpiAgentBase = 1 << 25;
// Scheduling actions belong to the CPU's scheduler, not to the task they
// put on the CPU: being on a CPU and making progress there are separate.
inline constexpr int32_t kCpuAgentBase = 1 << 23;

// The one interface every scheduling decision goes through.
class Chooser {
 public:
  virtual ~Chooser() = default;
  // opts[0..n), n >= 2. `data` marks a latency choice (prompt/late) rather
  // than a choice between threads of control.
  virtual int choose(const Option* opts, int n, int default_index, bool data) = 0;
};

// A choice that differed from the timed default: the schedule is the list of
// these (everything else took the default).
struct Deviation {
  uint32_t decision = 0;  // index among the run's decisions (choices with n >= 2)
  uint32_t key = 0;
};

struct Counters {
  int64_t pasid_allocs = 0;
  int64_t pasid_frees = 0;
  int64_t pasid_peak_live = 0;
  int64_t pasid_idle_ns = 0;  // sum over time of PASIDs allocated with no PASID-table entry
  int64_t context_switches = 0;
  int64_t context_switches_pasid_work = 0;
  int64_t ipis = 0;
  int64_t task_work_runs = 0;
  int64_t gp_fixups = 0;
  int64_t submits = 0;
  int64_t unexpected_outcomes = 0;
};

struct ScheduleResult {
  Counters counters;
  std::array<int64_t, kViolationKinds> violations{};
  std::array<int64_t, kOutcomeKinds> outcomes{};
  // The most severe violation the run showed (a Violation, -1 when none)
  // and the 1-based index of the action that first showed that kind.
  int violation_kind = -1;
  int64_t violation_event = 0;
  // For unexpected_outcome: the step (Step::id) and the outcome of the
  // first unexpected submission, so a shrinker can keep the same failure.
  uint32_t unexpected_step = 0;
  int unexpected_outcome = -1;
  uint64_t digest = 0;
  int64_t steps = 0;      // actions executed
  int64_t decisions = 0;  // chooser calls (actions with an alternative, latency choices)
  int64_t end_ns = 0;
  bool step_limit = false;
  std::vector<Deviation> deviations;
  // Per submit step (Machine::submit_steps()), a bit per SubmitOutcome the
  // step's submissions had in this schedule.
  std::vector<uint8_t> step_outcomes;

  bool failed() const { return violation_kind >= 0; }
};

struct TraceEvent {
  int64_t step = 0;
  int64_t time_ns = 0;
  int column = 0;  // a CPU, or -1 for the device
  std::string text;
  bool violation = false;
};

struct MachineConfig {
  Costs costs;
  bool late_choices = true;  // offer late IPIs and late descriptor execution
  bool settle = false;       // at the end, CPUs drop the mms they hold for lazy TLB
  int64_t max_steps = 200000;
};

// In the message of the error the machine raises when a policy breaks the
// Policy interface's contract (bind must leave the mm a PASID): such a
// policy is refused, not run, so no test result says anything about it.
inline constexpr const char* kPolicyContractBroken = "breaks the policy contract";

class Machine final : public KernelOps {
 public:
  // Throws InputError for scenarios beyond what the model handles (repeat
  // nesting, task count, CPU count).
  Machine(const Scenario& scenario, const PolicyInfo& policy, const MachineConfig& config);
  ~Machine() override;
  Machine(const Machine&) = delete;
  Machine& operator=(const Machine&) = delete;

  // Runs one schedule from the initial state. With `record`, keeps the
  // per-CPU trace and the PASID timeline of this run.
  void run(Chooser& chooser, bool record, ScheduleResult& out);

  const std::vector<TraceEvent>& trace() const { return trace_; }
  const std::vector<PasidInterval>& timeline() const { return timeline_; }
  int cpus() const { return scenario_.cpus; }
  // Every submit step of the scenario, in program order per template:
  // "<template>/<index>[.<index in a repeat's body>...]", 0-based.
  const std::vector<std::string>& submit_steps() const { return submit_steps_; }
  const MachineConfig& config() const { return config_; }

  // KernelOps.
  Mm& mm(int id) override;
  Task& task(int id) override;
  int running_task(int cpu) const override;
  int pasid_alloc(const Mm& owner) override;
  void pasid_free(int pasid) override;
  void set_mm_pasid(Mm& mm, int pasid) override;
  void write_pasid_msr(Task& t, int pasid) override;
  void copy_pasid_msr(Task& to, const Task& from) override;
  int send_ipis(const Task& caller, const Mm& mm) override;
  void task_work_add(Task& t) override;
  int mms_with_pasid() const override { return mms_with_pasid_; }
  int tasks_with_valid_msr() const override { return tasks_with_valid_msr_; }

 private:
  struct Insn;
  struct Program;
  struct SimTask;
  struct SimMm;
  struct Group;
  struct Fd;
  struct Binding;
  struct Cpu;
  struct Ipi;
  struct Descriptor;
  struct Timer;
  struct KOp;

  void reset();
  int enumerate();
  void apply(const Option& o);
  int choose_latency(bool ipi);

  // Tasks and scheduling.
  int new_task(int tmpl, int mm, int group, int parent);
  void step_task(SimTask& t);
  void run_program(SimTask& t);
  void enqcmd(SimTask& t);
  void run_kop(SimTask& t);
  void begin_exit(SimTask& t);
  void block(SimTask& t, int why, int arg, int64_t arg2 = 0);
  void wake(SimTask& t);
  void free_cpu(int cpu);
  void switch_to(int cpu, SimTask& next, SimTask* prev);
  void kill(SimTask& t);
  void after_acks(SimTask& t);

  // Memory and files.
  int new_mm(int creator);
  int new_group();
  void mmgrab(int mm);
  void mmdrop(int mm);
  void mmput(SimTask& t, int mm);
  void defer_release(SimTask& t, int binding);
  void release_if_unused(SimTask& t, int binding);
  // `name`: a scenario fd name's index, kNone for an unnamed step.
  void do_bind(SimTask& t, int name, bool cloexec, bool map);
  void do_unbind(SimTask& t, int name);
  void do_map(SimTask& t, int name);
  void do_unmap(SimTask& t, int name);
  void do_close(SimTask& t, int name);
  void close_on_exec(SimTask& t);
  int find_fd(const Group& g, int name) const;  // index into g.fds, kNone
  void map_portal(int binding);

  // Device and IOMMU.
  void queue_descriptor(SimTask& t);
  void execute_descriptor();
  void iommu_install(int pasid, int mm);
  void iommu_remove(int pasid, int mm);
  void integrate_idle();
  void timeline_event(int pasid, int state);  // 0 freed, 1 idle, 2 bound

  // The state invariants, after every action.
  void check_invariants();
  void settle_lazy_tlb();
  void check_pasid_table();

  void outcome(SimTask& t, SubmitOutcome o, SubmitExpect expect, uint32_t step, int slot, int pasid,
               int mm);
  void violation(Violation v, const std::string& what);
  void set_msr(SimTask& t, int pasid, uint32_t alloc);

  // Trace helpers: each action becomes one line; what it did is appended
  // to the line while it runs (only when recording).
  std::string name(int task) const;
  std::string mm_name(int mm) const;
  std::string file_step_text(int task, const char* what, int name) const;  // "app.1 close 'wq'"
  void note(const std::string& text);
  void finish_line(int column);

  const Scenario scenario_;  // a copy: the machine outlives temporaries
  const PolicyInfo& policy_info_;
  MachineConfig config_;
  std::unique_ptr<Policy> policy_;
  std::vector<Program> programs_;
  int flags_ = 0;
  std::vector<std::string> flag_names_;
  std::vector<std::string> submit_steps_;
  std::vector<std::string> fd_names_;

  // Per-run state (reset() clears it, keeping capacity).
  std::vector<SimTask> tasks_;
  std::vector<SimMm> mms_;
  std::vector<Group> groups_;
  std::vector<Binding> bindings_;
  std::vector<Cpu> cpus_;
  std::vector<Ipi> ipis_;
  std::vector<Descriptor> queue_;
  size_t queue_head_ = 0;
  std::vector<int> queued_per_pasid_;
  std::vector<Timer> timers_;
  std::vector<int> runq_;
  std::vector<int64_t> latches_;
  std::vector<int> live_children_;           // [task * templates + template]
  std::vector<int> instances_;               // per template, for names
  std::vector<uint32_t> pasid_owner_alloc_;  // per PASID: live allocation id, 0 free
  std::vector<int> alloc_pasid_;             // per allocation id: its PASID
  std::vector<int> alloc_mm_;                // per allocation id: the mm it was made for
  std::vector<int> iommu_;                   // per PASID: mm its PASID-table entry maps, kNone
  std::vector<int> open_interval_;           // per PASID: index into timeline_, -1
  std::vector<Option> options_;
  int64_t now_ = 0;
  uint64_t seq_ = 0;
  int live_tasks_ = 0;
  int live_pasids_ = 0;
  int idle_pasids_ = 0;
  int64_t idle_since_ = 0;
  int mms_with_pasid_ = 0;
  int tasks_with_valid_msr_ = 0;
  int next_ipi_id_ = 0;
  bool table_changed_ = false;  // PASID table, allocator, mm->pasid or binds changed this action
  int table_stale_ = kNone;     // the PASID last reported by pasid_table_stale, kNone when clean
  int current_cpu_ = kNone;     // CPU of the action being applied
  Chooser* chooser_ = nullptr;
  ScheduleResult* out_ = nullptr;
  bool record_ = false;
  std::vector<TraceEvent> trace_;
  std::string line_;
  bool line_violation_ = false;
  std::vector<PasidInterval> timeline_;
};

}  // namespace pasidbench::model
