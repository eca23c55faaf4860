#include "runners/backends/model/machine.h"

#include <algorithm>
#include <cstdio>
#include <functional>
#include <map>
#include <stdexcept>

#include "runners/backends/model/prng.h"

namespace pasidbench::model {

namespace {

enum class Op : uint8_t {
  kBind,
  kUnbind,
  kSubmit,
  kCompute,
  kSleep,
  kClone,
  kFork,
  kExec,
  kExit,
  kWait,
  kSignal,
  kAwait,
  kLoop,
  kLoopEnd,
  kMap,
  kUnmap,
  kClose,
};

enum TaskState : uint8_t { kRunnable, kRunning, kBlocked, kSpinning, kDead };
enum BlockWhy : uint8_t { kNotBlocked, kAwaitFlag, kWaitChildren, kSleeping, kDraining };
enum KOpKind : uint8_t { kRelease, kAckWait, kExitMm, kExitFiles, kExitNotify };

constexpr int kMaxRepeatDepth = 8;
constexpr int64_t kMaxTasks = 1 << 16;
constexpr int kMaxPasid = (1 << 20) - 1;

uint64_t cpu_bit(int cpu) { return uint64_t{1} << cpu; }

int64_t saturating_mul(int64_t a, int64_t b) {
  if (a == 0 || b == 0) return 0;
  if (a > INT64_MAX / 4 / b) return INT64_MAX / 4;
  return a * b;
}

std::string us(int64_t ns) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3fus", static_cast<double>(ns) / 1000.0);
  return buf;
}

}  // namespace

struct Machine::Insn {
  Op op = Op::kCompute;
  SubmitExpect expect = SubmitExpect::kAny;
  int32_t arg = 0;       // template or latch index; kBind, kUnbind, kMap, kUnmap, kClose: file name
  int32_t jump = 0;      // kLoop: past the body; kLoopEnd: the body's start
  int64_t n = 0;         // count or nanoseconds
  uint32_t step = 0;     // Step::id of the scenario step
  bool cloexec = false;  // kBind
  bool map = true;       // kBind
  int32_t slot = -1;     // kSubmit: index into submit_steps()
};

struct Machine::Program {
  std::string name;
  bool initial = false;
  int64_t instances = 1;
  std::vector<Insn> code;
};

struct Machine::KOp {
  KOpKind kind = kRelease;
  int arg = 0;  // binding (kRelease), mm (kAckWait)
  // kRelease: progress; kAckWait: 1 + the binding whose open waits, 0: none.
  int phase = 0;
  int cookie = 0;
};

struct Machine::SimTask {
  Task k;
  int tmpl = 0;
  int instance = 0;
  int group = kNone;
  int parent = kNone;
  uint8_t state = kRunnable;
  uint8_t why = kNotBlocked;
  int block_arg = 0;
  int64_t block_n = 0;
  int64_t ready_at = 0;
  int64_t remaining = 0;
  int64_t slice_end = 0;
  int64_t enqueued_at = 0;
  uint64_t seq = 0;
  int pc = 0;
  int depth = 0;
  int64_t loops[kMaxRepeatDepth] = {};
  int64_t submits_left = 0;
  SubmitExpect submit_expect = SubmitExpect::kAny;
  uint32_t submit_step = 0;  // Step::id of the submit in progress
  int32_t submit_slot = -1;
  bool task_work = false;
  bool killed = false;
  bool ran_since_switch = false;
  bool stale_reported = false;  // stale_pasid_held reported for its current state
  uint32_t msr_alloc = 0;       // ghost: the allocation the MSR value was taken from
  int acks_pending = 0;
  std::vector<KOp> kops;  // kernel work in progress, front first
};

struct Machine::SimMm {
  Mm k;
  int creator = kNone;
};

// One entry of an fd table: fork copies it with its flag, exec closes it
// when the flag is set (do_close_on_exec()).
struct Machine::Fd {
  int binding = kNone;
  bool cloexec = false;
};

struct Machine::Group {
  int members = 0;
  std::vector<Fd> fds;  // open work-queue files, oldest first
};

// One open work-queue file: the SVA bind of `mm` (idxd's ctx->mm) from open
// to release. Its fds and its portal mappings each hold the file; the
// release runs when the last of them goes. A portal can only be mapped in
// `mm` (idxd_cdev_mmap() refuses another mm, 8dfa57aabff6), so every
// mapping is in `mm`.
struct Machine::Binding {
  int mm = kNone;
  int pasid = kInvalidPasid;
  int name = kNone;      // scenario fd name (index), kNone unnamed
  int file_refs = 0;     // fd table references
  int maps = 0;          // portal mappings in `mm`
  bool opening = false;  // open() not returned yet (acks): no fd installed to name
  bool map_on_open = true;
};

struct Machine::Cpu {
  int current = kNone;
  int active_mm = kNone;
  bool lazy_ref = false;  // holds mm_count of active_mm (idle, or a task past exit_mm)
  int64_t free_since = 0;
};

struct Machine::Ipi {
  int id = 0;
  int cpu = 0;
  int mm = 0;
  int sender = 0;
  int64_t ready_at = 0;
  uint64_t seq = 0;
};

struct Machine::Descriptor {
  int pasid = 0;
  uint32_t alloc = 0;
  int mm = 0;
  int task = 0;
  SubmitExpect expect = SubmitExpect::kAny;
  uint32_t step = 0;
  int32_t slot = -1;
  int64_t ready_at = 0;
  uint64_t seq = 0;
};

struct Machine::Timer {
  int task = 0;
  int64_t at = 0;
  uint64_t seq = 0;
};

const char* to_string(Violation v) {
  switch (v) {
    case Violation::kIsolation:
      return "isolation_violation";
    case Violation::kUseAfterFree:
      return "use_after_free";
    case Violation::kFreeWhileInstalled:
      return "pasid_freed_while_installed";
    case Violation::kDoubleFree:
      return "pasid_double_free";
    case Violation::kStalePasidHeld:
      return "stale_pasid_held";
    case Violation::kPasidTableStale:
      return "pasid_table_stale";
    case Violation::kDeadlock:
      return "deadlock";
    case Violation::kUnexpectedOutcome:
      return "unexpected_outcome";
  }
  return "?";
}

const char* to_string(SubmitOutcome o) {
  switch (o) {
    case SubmitOutcome::kOk:
      return "ok";
    case SubmitOutcome::kGpSigsegv:
      return "gp_sigsegv";
    case SubmitOutcome::kFaultUnbound:
      return "fault_unbound";
    case SubmitOutcome::kIsolation:
      return "isolation_violation";
    case SubmitOutcome::kUseAfterFree:
      return "use_after_free";
  }
  return "?";
}

const char* to_string(ActionKind k) {
  switch (k) {
    case ActionKind::kStep:
      return "step";
    case ActionKind::kSwitch:
      return "switch";
    case ActionKind::kPreempt:
      return "preempt";
    case ActionKind::kIpi:
      return "ipi";
    case ActionKind::kDevice:
      return "device";
    case ActionKind::kWake:
      return "wake";
    case ActionKind::kPrompt:
      return "prompt";
    case ActionKind::kLate:
      return "late";
  }
  return "?";
}

// ---------------------------------------------------------------------------
// Construction: compile the scenario's programs and bound its size.

Machine::Machine(const Scenario& sc, const PolicyInfo& policy, const MachineConfig& config)
    : scenario_(sc), policy_info_(policy), config_(config), policy_(policy.make()) {
  if (sc.cpus < 1 || sc.cpus > 64)
    throw InputError(sc.where, "the model simulates 1 to 64 CPUs, not " + std::to_string(sc.cpus));
  std::map<std::string, int> template_index, flag_index;
  for (size_t i = 0; i < sc.tasks.size(); ++i)
    template_index[sc.tasks[i].name] = static_cast<int>(i);
  auto flag = [&](const std::string& f) {
    auto [it, inserted] = flag_index.emplace(f, static_cast<int>(flag_index.size()));
    return it->second;
  };
  std::map<std::string, int> fd_index;
  auto fd_name = [&](const std::string& f) {
    if (f.empty()) return static_cast<int>(kNone);
    auto [it, inserted] = fd_index.emplace(f, static_cast<int>(fd_index.size()));
    return it->second;
  };

  // Per template: steps executed per run (with repeat multipliers) of the
  // kinds that create tasks, mms and bindings.
  const size_t T = sc.tasks.size();
  std::vector<std::vector<std::pair<int, int64_t>>> spawns(T);  // (child, per run)
  std::vector<int64_t> execs(T, 0), binds(T, 0);

  // `path`: the step's place in its template ("worker/2.0"), the key the
  // host interpreter counts per-step outcomes under too.
  std::function<void(const std::vector<Step>&, std::vector<Insn>&, int, int64_t, size_t,
                     const std::string&)>
      compile = [&](const std::vector<Step>& steps, std::vector<Insn>& code, int depth,
                    int64_t times, size_t tmpl, const std::string& path) {
        for (size_t index = 0; index < steps.size(); ++index) {
          const Step& s = steps[index];
          const std::string here = path + std::to_string(index);
          Insn in;
          in.step = s.id;
          switch (s.op) {
            case StepOp::kBind:
              in.op = Op::kBind;
              in.arg = fd_name(s.fd);
              in.cloexec = s.cloexec;
              in.map = s.map;
              binds[tmpl] += times;
              break;
            case StepOp::kUnbind:
              in.op = Op::kUnbind;
              in.arg = fd_name(s.fd);
              break;
            case StepOp::kMap:
            case StepOp::kUnmap:
            case StepOp::kClose:
              in.op = s.op == StepOp::kMap     ? Op::kMap
                      : s.op == StepOp::kUnmap ? Op::kUnmap
                                               : Op::kClose;
              in.arg = fd_name(s.fd);
              break;
            case StepOp::kSubmit:
              in.op = Op::kSubmit;
              in.n = s.count;
              in.expect = s.expect;
              in.slot = static_cast<int32_t>(submit_steps_.size());
              submit_steps_.push_back(here);
              break;
            case StepOp::kCompute:
              in.op = Op::kCompute;
              in.n = s.duration_ns;
              break;
            case StepOp::kSleep:
              in.op = Op::kSleep;
              in.n = s.duration_ns;
              break;
            case StepOp::kCloneThread:
            case StepOp::kFork:
              in.op = s.op == StepOp::kFork ? Op::kFork : Op::kClone;
              in.arg = template_index.at(s.task);
              in.n = s.count;
              spawns[tmpl].push_back({in.arg, saturating_mul(times, s.count)});
              break;
            case StepOp::kExec:
              in.op = Op::kExec;
              execs[tmpl] += times;
              break;
            case StepOp::kExit:
              in.op = Op::kExit;
              break;
            case StepOp::kWait:
              in.op = Op::kWait;
              in.arg = template_index.at(s.task);
              break;
            case StepOp::kSignal:
              in.op = Op::kSignal;
              in.arg = flag(s.flag);
              break;
            case StepOp::kAwait:
              in.op = Op::kAwait;
              in.arg = flag(s.flag);
              in.n = s.count;
              break;
            case StepOp::kRepeat: {
              if (depth >= kMaxRepeatDepth)
                throw InputError(s.where, "the model handles repeat nested at most " +
                                              std::to_string(kMaxRepeatDepth) + " deep");
              size_t at = code.size();
              Insn loop;
              loop.op = Op::kLoop;
              loop.n = s.count;
              code.push_back(loop);
              compile(s.body, code, depth + 1, saturating_mul(times, s.count), tmpl, here + ".");
              Insn end;
              end.op = Op::kLoopEnd;
              end.jump = static_cast<int32_t>(at + 1);
              code.push_back(end);
              code[at].jump = static_cast<int32_t>(code.size());
              continue;
            }
          }
          code.push_back(in);
        }
      };
  programs_.resize(T);
  for (size_t i = 0; i < T; ++i) {
    programs_[i].name = sc.tasks[i].name;
    programs_[i].initial = sc.tasks[i].initial;
    programs_[i].instances = sc.tasks[i].instances;
    compile(sc.tasks[i].program, programs_[i].code, 0, 1, i, sc.tasks[i].name + "/");
  }
  flags_ = static_cast<int>(flag_index.size());
  flag_names_.resize(flag_index.size());
  for (const auto& [f, i] : flag_index) flag_names_[i] = f;
  fd_names_.resize(fd_index.size());
  for (const auto& [f, i] : fd_index) fd_names_[i] = f;

  // How many tasks, mms and bindings a run can create at most (validation
  // already rejected templates that start themselves).
  std::vector<int64_t> runs(T, -1);
  std::function<int64_t(size_t)> count_runs = [&](size_t t) -> int64_t {
    if (runs[t] >= 0) return runs[t];
    int64_t total = sc.tasks[t].initial ? sc.tasks[t].instances : 0;
    for (size_t p = 0; p < T; ++p)
      for (const auto& [child, n] : spawns[p])
        if (static_cast<size_t>(child) == t) total += saturating_mul(count_runs(p), n);
    return runs[t] = std::min<int64_t>(total, INT64_MAX / 4);
  };
  int64_t max_tasks = 0, max_mms = 0, max_bindings = 0;
  for (size_t t = 0; t < T; ++t) {
    int64_t r = count_runs(t);
    max_tasks += r;
    max_mms += saturating_mul(r, 1 + execs[t]);
    max_bindings += saturating_mul(r, binds[t]);
  }
  if (max_tasks > kMaxTasks)
    throw InputError(sc.where, "scenario '" + sc.name + "' can start " + std::to_string(max_tasks) +
                                   " tasks; the model simulates at most " +
                                   std::to_string(kMaxTasks));
  if (max_mms > 4 * kMaxTasks || max_bindings > 16 * kMaxTasks)
    throw InputError(sc.where, "scenario '" + sc.name +
                                   "' creates too many address spaces or bindings for the model");
  // References into these stay valid through a run: they never reallocate.
  tasks_.reserve(static_cast<size_t>(max_tasks));
  mms_.reserve(static_cast<size_t>(max_mms));
  groups_.reserve(static_cast<size_t>(max_tasks));
  bindings_.reserve(static_cast<size_t>(max_bindings));
  options_.reserve(256);
}

Machine::~Machine() = default;

// ---------------------------------------------------------------------------
// The run loop.

void Machine::reset() {
  // A fresh policy object per schedule: a policy with state of its own (a
  // generated mutant's deferred hook, the tasks it has seen) must not carry
  // it from one schedule into the next, or a replay in a new machine diverges.
  policy_ = policy_info_.make();
  // SimTask and Group own vectors: keep the objects, clear their contents.
  for (auto& t : tasks_) t.kops.clear();
  tasks_.clear();
  mms_.clear();
  for (auto& g : groups_) g.fds.clear();
  groups_.clear();
  bindings_.clear();
  cpus_.assign(static_cast<size_t>(scenario_.cpus), Cpu{});
  ipis_.clear();
  queue_.clear();
  queue_head_ = 0;
  queued_per_pasid_.assign(64, 0);
  timers_.clear();
  runq_.clear();
  latches_.assign(static_cast<size_t>(flags_), 0);
  live_children_.clear();
  instances_.assign(programs_.size(), 0);
  pasid_owner_alloc_.assign(64, 0);
  alloc_pasid_.assign(1, kInvalidPasid);  // allocation ids start at 1
  alloc_mm_.assign(1, kNone);
  iommu_.assign(64, kNone);
  open_interval_.assign(64, -1);
  now_ = 0;
  seq_ = 0;
  live_tasks_ = 0;
  live_pasids_ = 0;
  idle_pasids_ = 0;
  idle_since_ = 0;
  mms_with_pasid_ = 0;
  tasks_with_valid_msr_ = 0;
  next_ipi_id_ = 0;
  table_changed_ = false;
  table_stale_ = kNone;
  current_cpu_ = kNone;
  trace_.clear();
  timeline_.clear();
  line_.clear();
  line_violation_ = false;

  for (size_t p = 0; p < programs_.size(); ++p) {
    if (!programs_[p].initial) continue;
    for (int64_t i = 0; i < programs_[p].instances; ++i) {
      int mm = new_mm(kNone);
      int group = new_group();
      int id = new_task(static_cast<int>(p), mm, group, kNone);
      mms_[mm].creator = id;
    }
  }
}

void Machine::run(Chooser& chooser, bool record, ScheduleResult& out) {
  std::vector<Deviation> deviations = std::move(out.deviations);
  std::vector<uint8_t> step_outcomes = std::move(out.step_outcomes);
  deviations.clear();
  out = ScheduleResult{};
  out.deviations = std::move(deviations);
  out.step_outcomes = std::move(step_outcomes);
  out.step_outcomes.assign(submit_steps_.size(), 0);
  out.digest = kDigestSeed;
  chooser_ = &chooser;
  out_ = &out;
  record_ = record;
  reset();

  while (true) {
    int n = enumerate();
    if (n == 0) break;
    int def = 0;
    for (int i = 1; i < n; ++i) {
      const Option& a = options_[i];
      const Option& b = options_[def];
      if (a.ready_at < b.ready_at || (a.ready_at == b.ready_at && a.seq < b.seq)) def = i;
    }
    int pick = def;
    if (n > 1) {
      pick = chooser.choose(options_.data(), n, def, false);
      if (pick < 0 || pick >= n) throw std::logic_error("chooser returned an option out of range");
      if (pick != def)
        out.deviations.push_back({static_cast<uint32_t>(out.decisions), options_[pick].key});
      ++out.decisions;
    }
    Option o = options_[pick];
    apply(o);
    ++out.steps;
    if (out.steps >= config_.max_steps) {
      out.step_limit = true;
      break;
    }
  }
  if (live_tasks_ > 0 && !out.step_limit) {
    std::string stuck;
    for (const auto& t : tasks_)
      if (t.state != kDead) stuck += (stuck.empty() ? "" : ", ") + name(t.k.id);
    violation(Violation::kDeadlock, "deadlock: nothing can run, still alive: " + stuck);
    if (record_) finish_line(-1);
  }
  if (config_.settle && live_tasks_ == 0) settle_lazy_tlb();
  integrate_idle();
  if (record_)
    for (auto& iv : timeline_)
      if (iv.end_ns < iv.start_ns) iv.end_ns = static_cast<double>(now_);
  out.end_ns = now_;
  const Counters& c = out.counters;
  for (int64_t v : {c.pasid_allocs, c.pasid_frees, c.context_switches, c.ipis, c.task_work_runs,
                    c.gp_fixups, c.submits, c.pasid_idle_ns, out.steps, now_})
    out.digest = digest_mix(out.digest, static_cast<uint64_t>(v));
  for (int64_t v : out.outcomes) out.digest = digest_mix(out.digest, static_cast<uint64_t>(v));
  chooser_ = nullptr;
  out_ = nullptr;
}

int Machine::enumerate() {
  options_.clear();
  for (int c = 0; c < cpus(); ++c) {
    const Cpu& cpu = cpus_[c];
    if (cpu.current != kNone) {
      const SimTask& t = tasks_[cpu.current];
      if (t.state == kRunning) {
        options_.push_back({make_key(ActionKind::kStep, c, t.k.id), t.ready_at, t.seq, t.k.id});
        // Kernel work is not preempted; user code is, at its slice's end,
        // once it ran at least one step (no preemption ping-pong).
        if (!runq_.empty() && t.kops.empty() && t.ran_since_switch) {
          const SimTask& u = tasks_[runq_.front()];
          options_.push_back({make_key(ActionKind::kPreempt, c, u.k.id),
                              std::max(t.slice_end, u.enqueued_at), u.seq, kCpuAgentBase + c});
        }
      } else if (t.state == kSpinning && t.acks_pending == 0) {
        options_.push_back({make_key(ActionKind::kStep, c, t.k.id), t.ready_at, t.seq, t.k.id});
      }
    } else {
      for (int id : runq_) {
        const SimTask& u = tasks_[id];
        options_.push_back({make_key(ActionKind::kSwitch, c, id),
                            std::max(cpu.free_since, u.enqueued_at), u.seq, kCpuAgentBase + c});
      }
    }
  }
  for (const auto& ipi : ipis_)
    options_.push_back({make_key(ActionKind::kIpi, ipi.cpu, ipi.id), ipi.ready_at, ipi.seq,
                        kIpiAgentBase + ipi.id});
  if (queue_head_ < queue_.size()) {
    const Descriptor& d = queue_[queue_head_];
    options_.push_back({make_key(ActionKind::kDevice, 0, static_cast<int>(queue_head_)), d.ready_at,
                        d.seq, kDeviceAgent});
  }
  for (const auto& timer : timers_)
    options_.push_back(
        {make_key(ActionKind::kWake, 0, timer.task), timer.at, timer.seq, timer.task});
  return static_cast<int>(options_.size());
}

int Machine::choose_latency(bool ipi) {
  if (!config_.late_choices) return 0;
  // The agent whose action the choice delays (PCT demotes it when late).
  const int32_t agent = ipi ? kIpiAgentBase + next_ipi_id_ : kDeviceAgent;
  Option opts[2] = {{make_key(ActionKind::kPrompt, 0, ipi ? 1 : 2), 0, 0, agent},
                    {make_key(ActionKind::kLate, 0, ipi ? 1 : 2), 0, 1, agent}};
  int pick = chooser_->choose(opts, 2, 0, true);
  if (pick != 0) out_->deviations.push_back({static_cast<uint32_t>(out_->decisions), opts[1].key});
  ++out_->decisions;
  return pick;
}

void Machine::apply(const Option& o) {
  now_ = std::max(now_, o.ready_at);
  out_->digest = digest_mix(digest_mix(out_->digest, o.key), static_cast<uint64_t>(now_));
  const int c = key_cpu(o.key);
  const int id = key_id(o.key);
  current_cpu_ = kNone;
  int column = c;
  switch (key_kind(o.key)) {
    case ActionKind::kStep:
      current_cpu_ = c;
      step_task(tasks_[cpus_[c].current]);
      break;
    case ActionKind::kSwitch:
      current_cpu_ = c;
      switch_to(c, tasks_[id], nullptr);
      break;
    case ActionKind::kPreempt: {
      current_cpu_ = c;
      SimTask& t = tasks_[cpus_[c].current];
      t.remaining = std::max<int64_t>(0, t.ready_at - now_);
      t.state = kRunnable;
      t.k.cpu = kNone;
      t.enqueued_at = now_;
      t.seq = seq_++;
      runq_.push_back(t.k.id);
      if (record_) note("slice over: preempt " + name(t.k.id) + ";");
      switch_to(c, tasks_[id], &t);
      break;
    }
    case ActionKind::kIpi: {
      auto it = std::find_if(ipis_.begin(), ipis_.end(), [&](const Ipi& i) { return i.id == id; });
      Ipi ipi = *it;
      ipis_.erase(it);
      current_cpu_ = ipi.cpu;
      int cur = cpus_[ipi.cpu].current;
      if (record_)
        note("IPI from " + name(ipi.sender) + " for " + mm_name(ipi.mm) + ", finds " +
             (cur == kNone ? std::string("idle") : name(cur)));
      policy_->ipi(*this, ipi.cpu, mms_[ipi.mm].k);
      SimTask& sender = tasks_[ipi.sender];
      if (--sender.acks_pending == 0 && sender.state == kSpinning) {
        sender.ready_at = now_;
        sender.seq = seq_++;
      }
      // Return from the interrupt: a task interrupted in user mode runs its
      // task_work before its next user instruction.
      if (cur != kNone) {
        SimTask& t = tasks_[cur];
        if (t.state == kRunning && t.kops.empty() && t.task_work) {
          t.task_work = false;
          ++out_->counters.task_work_runs;
          if (record_) note("; task_work:");
          policy_->return_to_user(*this, t.k);
          t.ready_at = std::max(t.ready_at, now_) + config_.costs.task_work_ns;
        }
      }
      break;
    }
    case ActionKind::kDevice:
      column = cpus();
      execute_descriptor();
      break;
    case ActionKind::kWake: {
      column = tasks_[id].k.cpu == kNone ? -1 : tasks_[id].k.cpu;
      auto it = std::find_if(timers_.begin(), timers_.end(),
                             [&](const Timer& t) { return t.task == id; });
      timers_.erase(it);
      if (record_) note(name(id) + " sleep over");
      wake(tasks_[id]);
      break;
    }
    default:
      throw std::logic_error("not an action: " + std::to_string(o.key));
  }
  check_invariants();
  if (record_) finish_line(column);
}

// The stale-PASID invariant of shared/design/policies.md: a task running
// user code -- on a CPU, not in kernel work, no task_work queued, not
// killed -- must not hold in IA32_PASID a PASID that is free or was
// allocated for another mm. A switched-out task is not checked: its policy
// still gets the context switch to fix the MSR. Reported once each time a
// task enters that state.
void Machine::check_invariants() {
  for (int c = 0; c < cpus(); ++c) {
    if (cpus_[c].current == kNone) continue;
    SimTask& t = tasks_[cpus_[c].current];
    bool user =
        t.state == kRunning && t.kops.empty() && !t.task_work && !t.killed && t.k.mm != kNone;
    const int p = t.k.msr;
    std::string why;
    if (user && p != kInvalidPasid) {
      const uint32_t a =
          p < static_cast<int>(pasid_owner_alloc_.size()) ? pasid_owner_alloc_[p] : 0;
      if (a == 0)
        why = "which is free";
      else if (alloc_mm_[a] != t.k.mm)
        why = "which belongs to " + mm_name(alloc_mm_[a]);
    }
    if (why.empty()) {
      t.stale_reported = false;
      continue;
    }
    if (t.stale_reported) continue;
    t.stale_reported = true;
    violation(Violation::kStalePasidHeld, "stale_pasid_held: " + name(t.k.id) + " (" +
                                              mm_name(t.k.mm) + ") runs user code with PASID " +
                                              std::to_string(p) + " " + why);
  }
  if (table_changed_) check_pasid_table();
}

// PASID-table entry <=> live binding: an entry for PASID p maps mm m only
// while p is allocated, is m's PASID and m has a live bind of the device;
// an mm with a live bind has its PASID's entry pointing at it.
void Machine::check_pasid_table() {
  table_changed_ = false;
  std::string why;
  int bad = kNone;
  for (int p = 1; p < static_cast<int>(iommu_.size()) && bad == kNone; ++p) {
    const int m = iommu_[p];
    if (m == kNone) continue;
    const Mm& mm = mms_[m].k;
    if (p >= static_cast<int>(pasid_owner_alloc_.size()) || pasid_owner_alloc_[p] == 0)
      why = "maps free PASID " + std::to_string(p) + " to " + mm_name(m);
    else if (mm.device_binds == 0)
      why = "maps PASID " + std::to_string(p) + " to " + mm_name(m) + ", which has no live bind";
    else if (mm.pasid != p)
      why = "maps PASID " + std::to_string(p) + " to " + mm_name(m) + ", whose PASID is " +
            std::to_string(mm.pasid);
    if (!why.empty()) bad = p;
  }
  for (size_t m = 0; m < mms_.size() && bad == kNone; ++m) {
    const Mm& mm = mms_[m].k;
    if (mm.device_binds == 0) continue;
    if (mm.pasid == kInvalidPasid || iommu_[mm.pasid] != static_cast<int>(m)) {
      why = "has no entry for " + mm_name(static_cast<int>(m)) + ", which is bound (PASID " +
            std::to_string(mm.pasid) + ")";
      bad = mm.pasid == kInvalidPasid ? 0 : mm.pasid;
    }
  }
  if (bad == table_stale_) return;  // report each stale state once
  table_stale_ = bad;
  if (bad != kNone)
    violation(Violation::kPasidTableStale, "pasid_table_stale: the PASID table " + why);
}

// ---------------------------------------------------------------------------
// Tasks.

int Machine::new_task(int tmpl, int mm, int group, int parent) {
  int id = static_cast<int>(tasks_.size());
  if (tasks_.size() == tasks_.capacity()) throw std::logic_error("task bound exceeded");
  tasks_.emplace_back();
  SimTask& t = tasks_.back();
  t.k.id = id;
  t.k.mm = mm;
  t.tmpl = tmpl;
  t.instance = ++instances_[tmpl];
  t.group = group;
  t.parent = parent;
  t.state = kRunnable;
  t.enqueued_at = now_;
  t.seq = seq_++;
  runq_.push_back(id);
  ++live_tasks_;
  ++groups_[group].members;
  live_children_.resize(tasks_.size() * programs_.size(), 0);
  if (parent != kNone) ++live_children_[static_cast<size_t>(parent) * programs_.size() + tmpl];
  return id;
}

void Machine::step_task(SimTask& t) {
  t.ran_since_switch = true;
  if (t.state == kSpinning) {
    after_acks(t);
    return;
  }
  if (!t.kops.empty()) {
    run_kop(t);
    return;
  }
  if (t.task_work) {
    // exit_to_user_mode(): the policy's task_work before the next user step.
    t.task_work = false;
    ++out_->counters.task_work_runs;
    if (record_) note(name(t.k.id) + " task_work:");
    policy_->return_to_user(*this, t.k);
    if (record_) note(";");
  }
  if (t.killed) {
    if (record_) note(name(t.k.id) + " killed by exec in its thread group;");
    begin_exit(t);
    return;
  }
  if (t.submits_left > 0) {
    enqcmd(t);
    return;
  }
  run_program(t);
}

void Machine::run_program(SimTask& t) {
  const std::vector<Insn>& code = programs_[t.tmpl].code;
  const Costs& costs = config_.costs;
  while (true) {
    if (t.pc >= static_cast<int>(code.size())) {
      begin_exit(t);
      return;
    }
    const Insn& in = code[t.pc];
    if (in.op == Op::kLoop) {
      if (in.n == 0) {
        t.pc = in.jump;
      } else {
        t.loops[t.depth++] = in.n;
        ++t.pc;
      }
      continue;
    }
    if (in.op == Op::kLoopEnd) {
      if (--t.loops[t.depth - 1] > 0) {
        t.pc = in.jump;
      } else {
        --t.depth;
        ++t.pc;
      }
      continue;
    }
    ++t.pc;
    switch (in.op) {
      case Op::kBind:
        do_bind(t, in.arg, in.cloexec, in.map);
        return;
      case Op::kUnbind:
        do_unbind(t, in.arg);
        return;
      case Op::kMap:
        do_map(t, in.arg);
        return;
      case Op::kUnmap:
        do_unmap(t, in.arg);
        return;
      case Op::kClose:
        do_close(t, in.arg);
        return;
      case Op::kSubmit:
        t.submits_left = in.n;
        t.submit_expect = in.expect;
        t.submit_step = in.step;
        t.submit_slot = in.slot;
        enqcmd(t);
        return;
      case Op::kCompute:
        if (record_) note(name(t.k.id) + " computes " + us(in.n));
        t.ready_at = now_ + in.n;
        return;
      case Op::kSleep:
        if (record_) note(name(t.k.id) + " sleeps " + us(in.n));
        timers_.push_back({t.k.id, now_ + in.n, seq_++});
        block(t, kSleeping, 0);
        return;
      case Op::kClone:
      case Op::kFork: {
        const int parent = t.k.id;
        for (int64_t i = 0; i < in.n; ++i) {
          int mm = t.k.mm, group = t.group;
          if (in.op == Op::kFork) {
            mm = new_mm(kNone);
            group = new_group();
            // The child's fd table is a copy; the portal mappings are
            // VM_DONTCOPY (idxd_cdev_mmap), so the child has none.
            groups_[group].fds = groups_[t.group].fds;
            for (const Fd& fd : groups_[group].fds) ++bindings_[fd.binding].file_refs;
          } else {
            ++mms_[mm].k.users;
          }
          int child = new_task(in.arg, mm, group, parent);
          if (in.op == Op::kFork) mms_[mm].creator = child;
          if (record_)
            note(name(parent) + (in.op == Op::kFork ? " forks " : " clones ") + name(child) + " (" +
                 mm_name(mm) + ");");
          // dup_task_struct() and fpu_clone(): no PASID state, not activated.
          if (in.op == Op::kFork)
            policy_->fork(*this, tasks_[parent].k, tasks_[child].k);
          else
            policy_->clone_thread(*this, tasks_[parent].k, tasks_[child].k);
        }
        t.ready_at = now_ + costs.syscall_ns;
        return;
      }
      case Op::kExec: {
        // de_thread(): the other threads of the group die.
        for (auto& s : tasks_)
          if (s.k.id != t.k.id && s.group == t.group && s.state != kDead) kill(s);
        int old = t.k.mm;
        int fresh = new_mm(t.k.id);
        policy_->exec(*this, t.k, mms_[old].k);
        Cpu& cpu = cpus_[t.k.cpu];
        mms_[old].k.cpumask &= ~cpu_bit(t.k.cpu);
        mms_[fresh].k.cpumask |= cpu_bit(t.k.cpu);
        cpu.active_mm = fresh;
        t.k.mm = fresh;
        set_msr(t, kInvalidPasid, 0);  // fpu_flush_thread(); pasid_activated stays
        if (record_) note(name(t.k.id) + " exec: " + mm_name(old) + " -> " + mm_name(fresh) + ";");
        mmput(t, old);
        close_on_exec(t);
        t.ready_at = now_ + costs.syscall_ns;
        return;
      }
      case Op::kExit:
        begin_exit(t);
        return;
      case Op::kWait:
        if (live_children_[static_cast<size_t>(t.k.id) * programs_.size() + in.arg] > 0) {
          if (record_) note(name(t.k.id) + " waits for its " + programs_[in.arg].name + " tasks");
          block(t, kWaitChildren, in.arg);
        } else {
          if (record_)
            note(name(t.k.id) + " waits for its " + programs_[in.arg].name + " tasks: none left");
          t.ready_at = now_ + costs.syscall_ns;
        }
        return;
      case Op::kSignal: {
        int64_t v = ++latches_[in.arg];
        if (record_)
          note(name(t.k.id) + " signals " + flag_names_[in.arg] + " (" + std::to_string(v) + ")");
        for (auto& s : tasks_)
          if (s.state == kBlocked && s.why == kAwaitFlag && s.block_arg == in.arg && v >= s.block_n)
            wake(s);
        t.ready_at = now_ + costs.syscall_ns;
        return;
      }
      case Op::kAwait:
        if (latches_[in.arg] < in.n) {
          if (record_) note(name(t.k.id) + " awaits " + flag_names_[in.arg] + ", blocks");
          block(t, kAwaitFlag, in.arg, in.n);
        } else {
          if (record_) note(name(t.k.id) + " awaits " + flag_names_[in.arg] + ": already there");
          t.ready_at = now_ + costs.syscall_ns;
        }
        return;
      case Op::kLoop:
      case Op::kLoopEnd:
        break;
    }
  }
}

void Machine::enqcmd(SimTask& t) {
  ++out_->counters.submits;
  const SubmitExpect expect = t.submit_expect;
  --t.submits_left;
  int64_t cost = config_.costs.submit_ns;
  if (mms_[t.k.mm].k.portals == 0) {
    // The work queue is not mapped in this mm: there is no portal to
    // ENQCMD to, nothing reaches the device.
    if (record_) note(name(t.k.id) + " submit: no portal mapped");
    outcome(t, SubmitOutcome::kFaultUnbound, expect, t.submit_step, t.submit_slot, t.k.msr, t.k.mm);
    t.ready_at = now_ + cost;
    return;
  }
  if (t.k.msr == kInvalidPasid) {
    // #GP from user mode: try_fixup_enqcmd_gp() or its equivalent first.
    if (record_) note(name(t.k.id) + " ENQCMD: #GP (IA32_PASID invalid)");
    bool fixed = policy_->gp_fault(*this, t.k) && t.k.msr != kInvalidPasid;
    if (!fixed) {
      if (record_) note("-> SIGSEGV");
      outcome(t, SubmitOutcome::kGpSigsegv, expect, t.submit_step, t.submit_slot, kInvalidPasid,
              t.k.mm);
      t.submits_left = 0;
      if (record_) note(";");
      begin_exit(t);
      return;
    }
    ++out_->counters.gp_fixups;
    cost += config_.costs.gp_fixup_ns;
    if (record_) note("fixed up;");
  }
  queue_descriptor(t);
  t.ready_at = now_ + cost;
}

void Machine::block(SimTask& t, int why, int arg, int64_t n) {
  t.state = kBlocked;
  t.why = static_cast<uint8_t>(why);
  t.block_arg = arg;
  t.block_n = n;
  t.remaining = 0;
  int cpu = t.k.cpu;
  t.k.cpu = kNone;
  free_cpu(cpu);
}

void Machine::wake(SimTask& t) {
  t.state = kRunnable;
  t.why = kNotBlocked;
  t.enqueued_at = now_;
  t.seq = seq_++;
  runq_.push_back(t.k.id);
}

void Machine::free_cpu(int c) {
  Cpu& cpu = cpus_[c];
  cpu.current = kNone;
  cpu.free_since = now_;
  // The idle task borrows the last mm lazily (no switch_mm, mmgrab_lazy_tlb).
  if (!cpu.lazy_ref && cpu.active_mm != kNone) {
    mmgrab(cpu.active_mm);
    cpu.lazy_ref = true;
  }
}

// The kernel's next task on each CPU is another process's (or the idle
// CPU's next wakeup switches): switch_mm() lets go of the lazily held mm.
void Machine::settle_lazy_tlb() {
  for (int c = 0; c < static_cast<int>(cpus_.size()); ++c) {
    Cpu& cpu = cpus_[c];
    if (!cpu.lazy_ref || cpu.active_mm == kNone) continue;
    const int old = cpu.active_mm;
    mms_[old].k.cpumask &= ~cpu_bit(c);
    cpu.active_mm = kNone;
    cpu.lazy_ref = false;
    mmdrop(old);
  }
}

void Machine::switch_to(int c, SimTask& next, SimTask* prev) {
  runq_.erase(std::find(runq_.begin(), runq_.end(), next.k.id));
  Cpu& cpu = cpus_[c];
  next.state = kRunning;
  next.k.cpu = c;
  next.ran_since_switch = false;
  cpu.current = next.k.id;
  if (next.k.mm != kNone) {
    Mm& m = mms_[next.k.mm].k;
    if (cpu.active_mm != next.k.mm) {
      // switch_mm(): leave the old mm's cpumask, join the new one's.
      int old = cpu.active_mm;
      bool lazy = cpu.lazy_ref;
      if (old != kNone) mms_[old].k.cpumask &= ~cpu_bit(c);
      cpu.active_mm = next.k.mm;
      cpu.lazy_ref = false;
      m.cpumask |= cpu_bit(c);
      if (lazy) mmdrop(old);
    } else {
      m.cpumask |= cpu_bit(c);
      if (cpu.lazy_ref) {
        cpu.lazy_ref = false;
        mmdrop(cpu.active_mm);
      }
    }
  }
  ++out_->counters.context_switches;
  int old_msr = next.k.msr;
  if (record_) note("switch -> " + name(next.k.id));
  bool work = policy_->context_switch(*this, c, prev ? &prev->k : nullptr, next.k);
  int64_t cost = config_.costs.ctxsw_ns;
  if (work) {
    ++out_->counters.context_switches_pasid_work;
    cost += config_.costs.switch_resync_ns;
    if (record_ && old_msr == next.k.msr) note("(PASID check)");
  }
  next.slice_end = now_ + cost + config_.costs.slice_ns;
  next.ready_at = now_ + cost + next.remaining;
  next.remaining = 0;
  next.seq = seq_++;
}

void Machine::kill(SimTask& s) {
  s.killed = true;
  if (s.state == kBlocked && s.why != kDraining) {
    if (s.why == kSleeping)
      timers_.erase(std::find_if(timers_.begin(), timers_.end(),
                                 [&](const Timer& t) { return t.task == s.k.id; }));
    wake(s);
  }
}

void Machine::begin_exit(SimTask& t) {
  t.submits_left = 0;
  t.kops.push_back({kExitMm, 0, 0, 0});
  t.kops.push_back({kExitFiles, 0, 0, 0});
  t.kops.push_back({kExitNotify, 0, 0, 0});
  run_kop(t);
}

void Machine::after_acks(SimTask& t) {
  KOp op = t.kops.front();
  t.kops.erase(t.kops.begin());
  t.state = kRunning;
  if (record_) note(name(t.k.id) + " IPIs acknowledged:");
  policy_->acks_done(*this, t.k, mms_[op.arg].k, op.cookie);
  if (op.phase > 0) {  // a bind that waited for its acks: open() returns now
    Binding& bd = bindings_[op.phase - 1];
    bd.opening = false;
    if (bd.map_on_open) map_portal(op.phase - 1);
  }
  t.ready_at = now_ + config_.costs.syscall_ns;
}

void Machine::run_kop(SimTask& t) {
  const Costs& costs = config_.costs;
  KOp op = t.kops.front();
  switch (op.kind) {
    case kRelease: {
      // idxd_cdev_release(): drain the PASID's descriptors, then unbind.
      const int b = op.arg;
      const int mm = bindings_[b].mm;
      const int pasid = bindings_[b].pasid;
      if (op.phase == 0) {
        t.kops.front().phase = 1;
        if (pasid < static_cast<int>(queued_per_pasid_.size()) && queued_per_pasid_[pasid] > 0) {
          if (record_)
            note(name(t.k.id) + " release: drain PASID " + std::to_string(pasid) + ", waits");
          block(t, kDraining, pasid);
          return;
        }
        op.phase = 1;
      }
      if (op.phase == 1) {
        t.kops.front().phase = 2;
        Mm& m = mms_[mm].k;
        bool last = --m.device_binds == 0;
        table_changed_ = true;
        if (record_)
          note(name(t.k.id) + " release: unbind " + mm_name(mm) + (last ? " (last)" : ""));
        if (last) iommu_remove(pasid, mm);
        HookResult r = policy_->unbind(*this, t.k, m, last);
        if (r.wait_for_acks) {
          if (t.acks_pending > 0) {
            t.kops.insert(t.kops.begin(), {kAckWait, mm, 0, r.cookie});
            t.state = kSpinning;
            if (record_) note("; waits for IPI acks");
            return;
          }
          policy_->acks_done(*this, t.k, m, r.cookie);
        }
      }
      // The driver's reference to the mm (mmgrab at open).
      t.kops.erase(t.kops.begin());
      mmdrop(mm);
      t.ready_at = now_ + costs.syscall_ns;
      return;
    }
    case kExitMm: {
      t.kops.erase(t.kops.begin());
      int mm = t.k.mm;
      if (mm != kNone) {
        if (record_) note(name(t.k.id) + " exit: exit_mm " + mm_name(mm) + ";");
        policy_->exit(*this, t.k, mms_[mm].k);
        Cpu& cpu = cpus_[t.k.cpu];
        if (!cpu.lazy_ref) {  // exit_mm(): mmgrab_lazy_tlb(), the CPU keeps it active
          mmgrab(cpu.active_mm);
          cpu.lazy_ref = true;
        }
        t.k.mm = kNone;
        mmput(t, mm);
      }
      t.ready_at = now_ + costs.syscall_ns;
      return;
    }
    case kExitFiles: {
      t.kops.erase(t.kops.begin());
      Group& g = groups_[t.group];
      if (--g.members == 0) {
        if (record_)
          note(name(t.k.id) + " exit_files: closes " + std::to_string(g.fds.size()) + " wq fd(s);");
        for (const Fd& fd : g.fds)
          if (--bindings_[fd.binding].file_refs == 0 && bindings_[fd.binding].maps == 0)
            defer_release(t, fd.binding);
        g.fds.clear();
      }
      if (t.kops.front().kind != kExitNotify) {
        t.ready_at = now_ + costs.syscall_ns;
        return;
      }
      [[fallthrough]];
    }
    case kExitNotify: {
      t.kops.erase(t.kops.begin());
      if (t.k.msr != kInvalidPasid) --tasks_with_valid_msr_;
      t.state = kDead;
      --live_tasks_;
      if (record_) note(name(t.k.id) + " exits");
      if (t.parent != kNone) {
        int& live = live_children_[static_cast<size_t>(t.parent) * programs_.size() + t.tmpl];
        SimTask& p = tasks_[t.parent];
        if (--live == 0 && p.state == kBlocked && p.why == kWaitChildren && p.block_arg == t.tmpl)
          wake(p);
      }
      int cpu = t.k.cpu;
      t.k.cpu = kNone;
      free_cpu(cpu);
      return;
    }
    case kAckWait:
      throw std::logic_error("ack wait reached run_kop");
  }
}

// ---------------------------------------------------------------------------
// Memory, files and bindings.

int Machine::new_mm(int creator) {
  if (mms_.size() == mms_.capacity()) throw std::logic_error("mm bound exceeded");
  int id = static_cast<int>(mms_.size());
  mms_.emplace_back();
  mms_.back().k.id = id;
  mms_.back().k.users = 1;
  mms_.back().k.count = 1;  // mm_users hold one mm_count between them
  mms_.back().creator = creator;
  return id;
}

int Machine::new_group() {
  int id = static_cast<int>(groups_.size());
  groups_.emplace_back();
  return id;
}

void Machine::mmgrab(int mm) { ++mms_[mm].k.count; }

void Machine::mmdrop(int mm) {
  Mm& m = mms_[mm].k;
  if (m.count <= 0) throw std::logic_error("mm_count underflow on " + mm_name(mm));
  if (--m.count > 0) return;
  m.freed = true;
  if (record_) note("; __mmdrop(" + mm_name(mm) + ")");
  policy_->mm_drop(*this, m);
}

void Machine::mmput(SimTask& t, int mm) {
  Mm& m = mms_[mm].k;
  if (m.users <= 0) throw std::logic_error("mm_users underflow on " + mm_name(mm));
  if (--m.users > 0) return;
  // __mmput(): exit_mmap() takes the portal mappings down; a file whose fd
  // is closed too is released (its final fput runs as task_work).
  for (int b = 0; b < static_cast<int>(bindings_.size()); ++b) {
    Binding& bd = bindings_[b];
    if (bd.mm != mm || bd.maps == 0) continue;
    m.portals -= bd.maps;
    bd.maps = 0;
    if (bd.file_refs == 0) defer_release(t, b);
  }
  m.exited = true;
  if (record_) note("; __mmput(" + mm_name(mm) + ")");
  policy_->mm_exit(*this, m);
  mmdrop(mm);
}

void Machine::defer_release(SimTask& t, int binding) {
  // ____fput() runs from task_work: after the syscall, or in
  // exit_task_work() -- after exit_mm() and exit_files(), before exit_notify().
  KOp op{kRelease, binding, 0, 0};
  if (!t.kops.empty() && t.kops.back().kind == kExitNotify)
    t.kops.insert(t.kops.end() - 1, op);
  else
    t.kops.push_back(op);
}

void Machine::do_bind(SimTask& t, int name, bool cloexec, bool map) {
  const int mm = t.k.mm;
  int b = static_cast<int>(bindings_.size());
  if (bindings_.size() == bindings_.capacity()) throw std::logic_error("binding bound exceeded");
  bindings_.push_back({mm, kInvalidPasid, name, 1, 0, false, map});
  groups_[t.group].fds.push_back({b, cloexec});
  Mm& m = mms_[mm].k;
  ++m.device_binds;
  table_changed_ = true;
  mmgrab(mm);  // the driver holds the mm until release
  if (record_) note(file_step_text(t.k.id, "bind", name) + ":");
  HookResult r = policy_->bind(*this, t.k, m);
  if (m.pasid == kInvalidPasid)
    throw std::logic_error("policy " + policy_info_.name + " " + kPolicyContractBroken +
                           ": it left " + mm_name(mm) + " without a PASID at bind");
  bindings_[b].pasid = m.pasid;
  if (m.device_binds == 1 || iommu_[m.pasid] != mm) iommu_install(m.pasid, mm);
  t.ready_at = now_ + config_.costs.syscall_ns;
  // The portal is mapped (mmap after open returns) once the bind is done.
  if (r.wait_for_acks) {
    if (t.acks_pending > 0) {
      bindings_[b].opening = true;
      t.kops.insert(t.kops.begin(), {kAckWait, mm, b + 1, r.cookie});
      t.state = kSpinning;
      if (record_) note("; waits for IPI acks");
      return;
    }
    policy_->acks_done(*this, t.k, m, r.cookie);
  }
  if (map) map_portal(b);
}

void Machine::map_portal(int binding) {
  ++bindings_[binding].maps;
  ++mms_[bindings_[binding].mm].k.portals;
}

void Machine::release_if_unused(SimTask& t, int binding) {
  const Binding& bd = bindings_[binding];
  if (bd.file_refs == 0 && bd.maps == 0) defer_release(t, binding);
}

int Machine::find_fd(const Group& g, int name) const {
  for (int i = static_cast<int>(g.fds.size()) - 1; i >= 0; --i) {
    const Binding& bd = bindings_[g.fds[i].binding];
    if (bd.name == name && !bd.opening) return i;
  }
  return kNone;
}

void Machine::do_unbind(SimTask& t, int name) {
  Group& g = groups_[t.group];
  t.ready_at = now_ + config_.costs.syscall_ns;
  // Unnamed: the newest file, whatever its name (the format before names).
  int i = name == kNone ? static_cast<int>(g.fds.size()) - 1 : find_fd(g, name);
  if (i < 0) {
    if (record_) note(file_step_text(t.k.id, "unbind", name) + ": no work-queue fd open");
    return;
  }
  int b = g.fds[i].binding;
  g.fds.erase(g.fds.begin() + i);
  Binding& bd = bindings_[b];
  --bd.file_refs;
  if (bd.maps > 0 && bd.mm == t.k.mm) {
    mms_[bd.mm].k.portals -= bd.maps;
    bd.maps = 0;
  }
  if (record_) note(file_step_text(t.k.id, "unbind", name) + ": munmap+close");
  release_if_unused(t, b);
}

void Machine::do_map(SimTask& t, int name) {
  t.ready_at = now_ + config_.costs.syscall_ns;
  int i = find_fd(groups_[t.group], name);
  if (i < 0) {
    if (record_) note(file_step_text(t.k.id, "mmap", name) + ": no such fd (EBADF)");
    return;
  }
  int b = groups_[t.group].fds[i].binding;
  if (bindings_[b].mm != t.k.mm) {
    // idxd_cdev_mmap() since 8dfa57aabff6 (and pasidlab): the file was
    // opened by another mm (inherited over fork, or kept over exec).
    if (record_)
      note(file_step_text(t.k.id, "mmap", name) + ": EPERM (" + mm_name(bindings_[b].mm) +
           "'s file)");
    return;
  }
  map_portal(b);
  if (record_) note(file_step_text(t.k.id, "mmap", name) + ": portal mapped");
}

void Machine::do_unmap(SimTask& t, int name) {
  t.ready_at = now_ + config_.costs.syscall_ns;
  // The newest mapping of that name in this mm, with or without its fd.
  for (int b = static_cast<int>(bindings_.size()) - 1; b >= 0; --b) {
    Binding& bd = bindings_[b];
    if (bd.name != name || bd.mm != t.k.mm || bd.maps == 0) continue;
    --bd.maps;
    --mms_[bd.mm].k.portals;
    if (record_) note(file_step_text(t.k.id, "munmap", name));
    release_if_unused(t, b);
    return;
  }
  if (record_) note(file_step_text(t.k.id, "munmap", name) + ": no portal mapped");
}

void Machine::do_close(SimTask& t, int name) {
  Group& g = groups_[t.group];
  t.ready_at = now_ + config_.costs.syscall_ns;
  int i = find_fd(g, name);
  if (i < 0) {
    if (record_) note(file_step_text(t.k.id, "close", name) + ": no such fd (EBADF)");
    return;
  }
  int b = g.fds[i].binding;
  g.fds.erase(g.fds.begin() + i);
  --bindings_[b].file_refs;
  if (record_)
    note(file_step_text(t.k.id, "close", name) +
         (bindings_[b].maps > 0 ? " (its portal keeps the file open)" : ""));
  release_if_unused(t, b);
}

void Machine::close_on_exec(SimTask& t) {
  Group& g = groups_[t.group];
  std::vector<int> closed;
  std::erase_if(g.fds, [&](const Fd& fd) {
    if (fd.cloexec) closed.push_back(fd.binding);
    return fd.cloexec;
  });
  for (int b : closed) {
    --bindings_[b].file_refs;
    if (record_) note(file_step_text(t.k.id, "close-on-exec", bindings_[b].name) + ";");
    release_if_unused(t, b);
  }
}

std::string Machine::file_step_text(int task, const char* what, int name) const {
  return this->name(task) + " " + what + (name == kNone ? "" : " '" + fd_names_[name] + "'");
}

// ---------------------------------------------------------------------------
// Device, IOMMU and the PASID allocator.

void Machine::queue_descriptor(SimTask& t) {
  const int pasid = t.k.msr;
  bool late = choose_latency(false) != 0;
  int64_t at = now_ + (late ? config_.costs.device_late_ns : config_.costs.device_ns);
  queue_.push_back({pasid, t.msr_alloc, t.k.mm, t.k.id, t.submit_expect, t.submit_step,
                    t.submit_slot, at, seq_++});
  if (pasid >= static_cast<int>(queued_per_pasid_.size()))
    queued_per_pasid_.resize(static_cast<size_t>(pasid) * 2, 0);
  ++queued_per_pasid_[pasid];
  if (record_)
    note(name(t.k.id) + " ENQCMD PASID " + std::to_string(pasid) + " -> desc#" +
         std::to_string(queue_.size() - 1) + (late ? " (device late)" : ""));
}

void Machine::execute_descriptor() {
  Descriptor d = queue_[queue_head_++];
  const size_t index = queue_head_ - 1;
  if (queue_head_ == queue_.size()) {
    queue_.clear();
    queue_head_ = 0;
  }
  --queued_per_pasid_[d.pasid];
  int owner = d.pasid < static_cast<int>(iommu_.size()) ? iommu_[d.pasid] : kNone;
  SubmitOutcome o;
  if (owner == d.mm)
    o = SubmitOutcome::kOk;
  else if (owner != kNone)
    o = SubmitOutcome::kIsolation;
  else if (d.alloc != 0 && pasid_owner_alloc_[d.pasid] != d.alloc)
    o = SubmitOutcome::kUseAfterFree;
  else
    o = SubmitOutcome::kFaultUnbound;
  if (record_)
    note("device: desc#" + std::to_string(index) + " of " + name(d.task) + " PASID " +
         std::to_string(d.pasid) + " -> " +
         (owner == kNone ? std::string("no PASID-table entry") : mm_name(owner)) + ": " +
         to_string(o));
  outcome(tasks_[d.task], o, d.expect, d.step, d.slot, d.pasid, d.mm);
  if (queued_per_pasid_[d.pasid] == 0)
    for (auto& s : tasks_)
      if (s.state == kBlocked && s.why == kDraining && s.block_arg == d.pasid) wake(s);
}

void Machine::outcome(SimTask& t, SubmitOutcome o, SubmitExpect expect, uint32_t step, int slot,
                      int pasid, int mm) {
  ++out_->outcomes[static_cast<int>(o)];
  if (slot >= 0) out_->step_outcomes[slot] |= uint8_t{1} << static_cast<int>(o);
  if (o == SubmitOutcome::kIsolation)
    violation(Violation::kIsolation, "isolation_violation: DMA of " + name(t.k.id) + " (" +
                                         mm_name(mm) + ") went to another mm via PASID " +
                                         std::to_string(pasid));
  else if (o == SubmitOutcome::kUseAfterFree)
    violation(Violation::kUseAfterFree, "use_after_free: PASID " + std::to_string(pasid) + " of " +
                                            name(t.k.id) + " was freed");
  bool expected = true;
  switch (expect) {
    case SubmitExpect::kAny:
      break;
    case SubmitExpect::kOk:
      expected = o == SubmitOutcome::kOk;
      break;
    case SubmitExpect::kGpSigsegv:
      expected = o == SubmitOutcome::kGpSigsegv;
      break;
    case SubmitExpect::kFaultUnbound:
      expected = o == SubmitOutcome::kFaultUnbound;
      break;
  }
  if (!expected) {
    if (out_->counters.unexpected_outcomes == 0) {
      out_->unexpected_step = step;
      out_->unexpected_outcome = static_cast<int>(o);
    }
    ++out_->counters.unexpected_outcomes;
    violation(Violation::kUnexpectedOutcome, std::string("unexpected_outcome: ") + name(t.k.id) +
                                                 " expected " + to_string(expect) + ", got " +
                                                 to_string(o));
  }
}

void Machine::violation(Violation v, const std::string& what) {
  ++out_->violations[static_cast<int>(v)];
  // Violation kinds are ordered most severe first.
  if (out_->violation_kind < 0 || static_cast<int>(v) < out_->violation_kind) {
    out_->violation_kind = static_cast<int>(v);
    out_->violation_event = out_->steps + 1;
  }
  if (record_) {
    note(" !! " + what);
    line_violation_ = true;
  }
}

void Machine::iommu_install(int pasid, int mm) {
  table_changed_ = true;
  integrate_idle();
  if (pasid >= static_cast<int>(iommu_.size()))
    iommu_.resize(static_cast<size_t>(pasid) * 2, kNone);
  bool allocated = pasid < static_cast<int>(pasid_owner_alloc_.size()) && pasid_owner_alloc_[pasid];
  if (allocated && iommu_[pasid] == kNone) --idle_pasids_;
  iommu_[pasid] = mm;
  if (record_) note("; PASID-table " + std::to_string(pasid) + " -> " + mm_name(mm));
  if (allocated) timeline_event(pasid, 2);
}

void Machine::iommu_remove(int pasid, int mm) {
  table_changed_ = true;
  if (pasid >= static_cast<int>(iommu_.size()) || iommu_[pasid] == kNone) return;
  integrate_idle();
  // The driver tears down entry `pasid` for the device whoever it maps now.
  bool allocated = pasid < static_cast<int>(pasid_owner_alloc_.size()) && pasid_owner_alloc_[pasid];
  if (allocated) ++idle_pasids_;
  if (record_)
    note("; PASID-table " + std::to_string(pasid) + " cleared" +
         (iommu_[pasid] != mm ? " (it mapped " + mm_name(iommu_[pasid]) + ")" : ""));
  iommu_[pasid] = kNone;
  if (allocated) timeline_event(pasid, 1);
}

Mm& Machine::mm(int id) { return mms_[id].k; }
Task& Machine::task(int id) { return tasks_[id].k; }
int Machine::running_task(int cpu) const { return cpus_[cpu].current; }

int Machine::pasid_alloc(const Mm& owner) {
  table_changed_ = true;
  integrate_idle();
  int p = 1;
  while (p < static_cast<int>(pasid_owner_alloc_.size()) && pasid_owner_alloc_[p] != 0) ++p;
  if (p > kMaxPasid) throw std::logic_error("PASID space exhausted");
  if (p >= static_cast<int>(pasid_owner_alloc_.size())) {
    size_t n = static_cast<size_t>(p) * 2;
    pasid_owner_alloc_.resize(n, 0);
    iommu_.resize(std::max(iommu_.size(), n), kNone);
    open_interval_.resize(std::max(open_interval_.size(), n), -1);
  }
  uint32_t id = static_cast<uint32_t>(alloc_pasid_.size());
  alloc_pasid_.push_back(p);
  alloc_mm_.push_back(owner.id);
  pasid_owner_alloc_[p] = id;
  ++live_pasids_;
  Counters& c = out_->counters;
  ++c.pasid_allocs;
  c.pasid_peak_live = std::max<int64_t>(c.pasid_peak_live, live_pasids_);
  if (iommu_[p] == kNone) ++idle_pasids_;
  if (record_) note(" PASID " + std::to_string(p) + " allocated for " + mm_name(owner.id) + ";");
  timeline_event(p, iommu_[p] == kNone ? 1 : 2);
  return p;
}

void Machine::pasid_free(int pasid) {
  table_changed_ = true;
  if (pasid <= 0 || pasid >= static_cast<int>(pasid_owner_alloc_.size()) ||
      pasid_owner_alloc_[pasid] == 0) {
    violation(Violation::kDoubleFree,
              "pasid_double_free: PASID " + std::to_string(pasid) + " freed while not allocated");
    return;
  }
  integrate_idle();
  if (iommu_[pasid] != kNone)
    violation(Violation::kFreeWhileInstalled,
              "pasid_freed_while_installed: PASID " + std::to_string(pasid) +
                  " freed while the PASID table still maps it to " + mm_name(iommu_[pasid]));
  else
    --idle_pasids_;
  pasid_owner_alloc_[pasid] = 0;
  --live_pasids_;
  ++out_->counters.pasid_frees;
  if (record_) note(" PASID " + std::to_string(pasid) + " freed;");
  timeline_event(pasid, 0);
}

void Machine::integrate_idle() {
  out_->counters.pasid_idle_ns += idle_pasids_ * (now_ - idle_since_);
  idle_since_ = now_;
}

void Machine::timeline_event(int pasid, int state) {
  if (!record_) return;
  int& open = open_interval_[pasid];
  if (open >= 0) {
    timeline_[open].end_ns = static_cast<double>(now_);
    open = -1;
  }
  if (state == 0) return;
  PasidInterval iv;
  iv.pasid = pasid;
  iv.mm = mm_name(alloc_mm_[pasid_owner_alloc_[pasid]]);
  iv.bound = state == 2;
  iv.start_ns = static_cast<double>(now_);
  iv.end_ns = -1;
  open = static_cast<int>(timeline_.size());
  timeline_.push_back(iv);
}

void Machine::set_mm_pasid(Mm& mm, int pasid) {
  bool was = mm.pasid != kInvalidPasid, is = pasid != kInvalidPasid;
  mms_with_pasid_ += static_cast<int>(is) - static_cast<int>(was);
  mm.pasid = pasid;
  table_changed_ = true;
  if (record_) note(" " + mm_name(mm.id) + ".pasid=" + std::to_string(pasid) + ";");
}

void Machine::set_msr(SimTask& t, int pasid, uint32_t alloc) {
  bool was = t.k.msr != kInvalidPasid, is = pasid != kInvalidPasid;
  if (t.state != kDead) tasks_with_valid_msr_ += static_cast<int>(is) - static_cast<int>(was);
  if (record_ && t.k.msr != pasid)
    note(" " + name(t.k.id) + " msr " + std::to_string(t.k.msr) + "->" + std::to_string(pasid));
  t.k.msr = pasid;
  t.msr_alloc = alloc;
}

void Machine::write_pasid_msr(Task& t, int pasid) {
  uint32_t alloc = 0;
  if (pasid > 0 && pasid < static_cast<int>(pasid_owner_alloc_.size()))
    alloc = pasid_owner_alloc_[pasid];
  set_msr(tasks_[t.id], pasid, alloc);
}

void Machine::copy_pasid_msr(Task& to, const Task& from) {
  set_msr(tasks_[to.id], from.msr, tasks_[from.id].msr_alloc);
}

int Machine::send_ipis(const Task& caller, const Mm& mm) {
  int sent = 0;
  for (int c = 0; c < cpus(); ++c) {
    if (!(mm.cpumask & cpu_bit(c)) || c == caller.cpu) continue;
    bool late = choose_latency(true) != 0;
    ipis_.push_back({next_ipi_id_++, c, mm.id, caller.id,
                     now_ + (late ? config_.costs.ipi_late_ns : config_.costs.ipi_ns), seq_++});
    if (record_) note(" IPI -> cpu" + std::to_string(c) + (late ? " (late)" : "") + ";");
    ++sent;
  }
  tasks_[caller.id].acks_pending += sent;
  out_->counters.ipis += sent;
  return sent;
}

void Machine::task_work_add(Task& t) {
  tasks_[t.id].task_work = true;
  if (record_) note(" task_work queued for " + name(t.id) + ";");
}

// ---------------------------------------------------------------------------
// Trace.

std::string Machine::name(int task) const {
  if (task < 0) return "idle";
  const SimTask& t = tasks_[task];
  return programs_[t.tmpl].name + "." + std::to_string(t.instance);
}

std::string Machine::mm_name(int mm) const {
  if (mm < 0) return "none";
  return "mm" + std::to_string(mm);
}

void Machine::note(const std::string& text) {
  size_t start = text.find_first_not_of(' ');
  if (start == std::string::npos) return;
  if (text[start] == ';') {
    if (!line_.empty() && line_.back() != ';') line_ += ';';
    ++start;
    start = text.find_first_not_of(' ', start);
    if (start == std::string::npos) return;
  }
  if (!line_.empty()) line_ += ' ';
  line_.append(text, start, std::string::npos);
}

void Machine::finish_line(int column) {
  TraceEvent e;
  e.step = out_->steps + 1;
  e.time_ns = now_;
  e.column = column;
  e.text = std::move(line_);
  e.violation = line_violation_;
  trace_.push_back(std::move(e));
  line_.clear();
  line_violation_ = false;
}

}  // namespace pasidbench::model
