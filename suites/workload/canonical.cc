// The three canonical workloads of the domain spec (shared/design/policies.md),
// written as generators so that their size is a parameter.
#include <filesystem>

#include "suites/workload/scenario_toml.h"
#include "suites/workload/workloads.h"

namespace pasidbench {

namespace {

Step op(StepOp kind) {
  Step s;
  s.op = kind;
  return s;
}
Step submit(int64_t count, SubmitExpect expect) {
  Step s = op(StepOp::kSubmit);
  s.count = count;
  s.expect = expect;
  return s;
}
Step spawn(StepOp kind, std::string task, int64_t count = 1) {
  Step s = op(kind);
  s.task = std::move(task);
  s.count = count;
  return s;
}
Step wait_for(std::string task) { return spawn(StepOp::kWait, std::move(task)); }
Step latch(StepOp kind, std::string flag, int64_t count = 1) {
  Step s = op(kind);
  s.flag = std::move(flag);
  s.count = count;
  return s;
}
Step timed(StepOp kind, int64_t ns) {
  Step s = op(kind);
  s.duration_ns = ns;
  return s;
}
Step repeat(int64_t times, std::vector<Step> body) {
  Step s = op(StepOp::kRepeat);
  s.count = times;
  s.body = std::move(body);
  return s;
}
TaskTemplate task(std::string name, bool initial, std::vector<Step> program,
                  int64_t instances = 1) {
  TaskTemplate t;
  t.name = std::move(name);
  t.initial = initial;
  t.instances = instances;
  t.program = std::move(program);
  return t;
}

// A second process that binds, submits and unbinds. The allocator hands out
// the lowest free PASID, so if the workload's own PASID was freed too early
// this process gets it, and a stale holder's next submission lands in the
// probe's address space. With `after` it binds only once that latch was
// signalled (right after the workload closed its queue), and it signals
// "probed" once bound; it sleeps while bound so that the workload can run on.
TaskTemplate reuse_probe(const std::string& after, int64_t hold_ns) {
  std::vector<Step> prog;
  if (!after.empty()) prog.push_back(latch(StepOp::kAwait, after));
  prog.push_back(op(StepOp::kBind));
  if (!after.empty()) prog.push_back(latch(StepOp::kSignal, "probed"));
  prog.push_back(submit(1, SubmitExpect::kOk));
  prog.push_back(timed(StepOp::kSleep, hold_ns));
  prog.push_back(op(StepOp::kUnbind));
  return task("probe", true, std::move(prog));
}

ParamSpec cpus_param() { return ParamSpec::Int("cpus", 2, 1, 64, "CPUs the tasks spread over"); }
ParamSpec probe_param() {
  return ParamSpec::Bool("reuse_probe", true,
                         "add a second process that binds once the workload closed its queue, so "
                         "a PASID freed too early is reused by another mm");
}
ParamSpec work_param() {
  return ParamSpec::Int("work_ns", 20000, 0, INT64_MAX,
                        "user work a thread does between its queue operations");
}

Scenario thread_pool(const ParamValues& p) {
  const int64_t tasks = p.get_int("tasks");
  const int64_t submits = p.get_int("submits");
  const int64_t work = p.get_int("work_ns");
  const std::string binder = p.get("binder");
  const bool probe = p.get_bool("reuse_probe");
  Scenario sc;
  sc.name = "thread-pool";
  sc.description = "one process, " + std::to_string(tasks - 1) +
                   " pool workers started before one thread binds; the binder " + binder;
  sc.cpus = p.get_int("cpus");

  // The pool exists before the queue is opened: workers are busy when the
  // binder binds, as in a server that opens its accelerator late.
  std::vector<Step> main = {spawn(StepOp::kCloneThread, "worker", tasks - 1), op(StepOp::kBind),
                            latch(StepOp::kSignal, "bound"), submit(1, SubmitExpect::kOk),
                            timed(StepOp::kCompute, work / 2)};
  if (binder == "stays") {
    main.push_back(wait_for("worker"));
    main.push_back(op(StepOp::kUnbind));
  } else if (binder == "unbinds") {
    // Closes the queue while the workers go on, and opens it again.
    main.push_back(op(StepOp::kUnbind));
    main.push_back(latch(StepOp::kSignal, "closed"));
    if (probe) main.push_back(latch(StepOp::kAwait, "probed"));
    main.push_back(op(StepOp::kBind));
    main.push_back(latch(StepOp::kSignal, "rebound"));
    main.push_back(submit(1, SubmitExpect::kOk));
    main.push_back(wait_for("worker"));
    main.push_back(op(StepOp::kUnbind));
  } else {  // exits: the binder closes the queue and its thread exits; the pool lives on
    main.push_back(op(StepOp::kUnbind));
    main.push_back(latch(StepOp::kSignal, "closed"));
    main.push_back(op(StepOp::kExit));
  }
  sc.tasks.push_back(task("main", true, std::move(main)));

  // Whether a worker's submission works depends on the policy (no MSR for a
  // non-binding thread under plain mm-lifetime, no portal while the queue
  // is closed), so the workload only asks for safety here.
  // A worker keeps polling the queue (submit, a little work) while the
  // binder closes and reopens it.
  std::vector<Step> worker = {
      timed(StepOp::kCompute, work / 2), latch(StepOp::kAwait, "bound"),
      submit(submits, SubmitExpect::kAny),
      repeat(4, {timed(StepOp::kCompute, work / 2), submit(1, SubmitExpect::kAny)})};
  if (binder == "unbinds") worker.push_back(latch(StepOp::kAwait, "rebound"));
  worker.push_back(submit(submits, SubmitExpect::kAny));
  worker.push_back(timed(StepOp::kCompute, work));
  sc.tasks.push_back(task("worker", false, std::move(worker)));
  if (probe) sc.tasks.push_back(reuse_probe(binder == "stays" ? "" : "closed", work));
  return sc;
}

Scenario clone_bind_exit(const ParamValues& p) {
  const int64_t rounds = p.get_int("rounds");
  const bool probe = p.get_bool("reuse_probe");
  Scenario sc;
  sc.name = "clone-bind-exit";
  sc.description =
      "a process clones a task that binds, submits, unbinds and exits; the process "
      "lives on (" +
      std::to_string(rounds) + " rounds)";
  sc.cpus = p.get_int("cpus");
  sc.tasks.push_back(
      task("main", true,
           {repeat(rounds, {spawn(StepOp::kCloneThread, "worker"), wait_for("worker")}),
            timed(StepOp::kCompute, p.get_int("idle_ns"))}));
  std::vector<Step> worker = {op(StepOp::kBind), submit(p.get_int("submits"), SubmitExpect::kOk),
                              op(StepOp::kUnbind)};
  if (probe) worker.push_back(latch(StepOp::kSignal, "closed"));
  sc.tasks.push_back(task("worker", false, std::move(worker)));
  if (probe) sc.tasks.push_back(reuse_probe("closed", p.get_int("work_ns")));
  return sc;
}

Scenario long_lived_binders(const ParamValues& p) {
  const int64_t threads = p.get_int("threads");
  const int64_t submits = p.get_int("submits");
  const int64_t turnover = p.get_int("turnover");
  Scenario sc;
  sc.name = "long-lived-binders";
  sc.description = std::to_string(p.get_int("processes")) + " processes x " +
                   std::to_string(threads) + " threads bind once and submit, beside " +
                   std::to_string(p.get_int("bystanders")) + " non-PASID processes, " +
                   std::to_string(turnover) + " process turnovers";
  sc.cpus = p.get_int("cpus");

  // A binding process: its first thread binds and submits, the others submit.
  // It exits with the queue open: exit_files() releases it.
  // With `handoff` it closes the queue while its threads still work, and a
  // successor process binds at once: the binder's PASID, if the policy
  // freed it, goes to another mm while its threads are alive.
  const bool handoff = p.get_bool("handoff");
  std::vector<Step> binder = {op(StepOp::kBind), submit(1, SubmitExpect::kOk)};
  if (threads > 1) binder.push_back(spawn(StepOp::kCloneThread, "binder-thread", threads - 1));
  binder.push_back(submit(submits, SubmitExpect::kAny));
  if (handoff) {
    binder.push_back(op(StepOp::kUnbind));
    binder.push_back(latch(StepOp::kSignal, "closed"));
  }
  if (threads > 1) binder.push_back(wait_for("binder-thread"));
  sc.tasks.push_back(task("binder", true, std::move(binder), p.get_int("processes")));
  if (threads > 1) {
    std::vector<Step> worker = {submit(submits, SubmitExpect::kAny)};
    if (handoff)  // they go on working, waiting and submitting past the close
      worker = {repeat(submits + 1, {submit(1, SubmitExpect::kAny), timed(StepOp::kCompute, 10000),
                                     timed(StepOp::kSleep, 10000)})};
    sc.tasks.push_back(task("binder-thread", false, std::move(worker)));
  }
  if (handoff)
    sc.tasks.push_back(
        task("successor", true,
             {latch(StepOp::kAwait, "closed"), op(StepOp::kBind), submit(1, SubmitExpect::kOk),
              timed(StepOp::kSleep, 20000), op(StepOp::kUnbind)}));

  if (p.get_int("bystanders") > 0)
    sc.tasks.push_back(
        task("bystander", true,
             {repeat(submits + 1, {timed(StepOp::kCompute, 20000), timed(StepOp::kSleep, 20000)})},
             p.get_int("bystanders")));

  if (turnover > 0) {
    // Turnover: a bound server forks its successors one after another. In
    // each, a helper thread opens the queue and the process's other threads
    // use it -- so a PASID state inherited over fork would be used.
    sc.tasks.push_back(
        task("launcher", true,
             {op(StepOp::kBind), submit(1, SubmitExpect::kOk),
              repeat(turnover, {spawn(StepOp::kFork, "newcomer"), wait_for("newcomer")}),
              op(StepOp::kUnbind)}));
    std::vector<Step> newcomer = {spawn(StepOp::kCloneThread, "opener"), wait_for("opener"),
                                  submit(submits, SubmitExpect::kAny)};
    if (threads > 1) {
      newcomer.push_back(spawn(StepOp::kCloneThread, "newcomer-thread", threads - 1));
      newcomer.push_back(wait_for("newcomer-thread"));
    }
    sc.tasks.push_back(task("newcomer", false, std::move(newcomer)));
    sc.tasks.push_back(task("opener", false, {op(StepOp::kBind), submit(1, SubmitExpect::kOk)}));
    if (threads > 1)
      sc.tasks.push_back(task("newcomer-thread", false, {submit(submits, SubmitExpect::kAny)}));
  }
  if (p.get_bool("reuse_probe")) sc.tasks.push_back(reuse_probe("", 20000));
  return sc;
}

std::vector<WorkloadInfo>& registry() {
  static std::vector<WorkloadInfo> all = [] {
    std::vector<WorkloadInfo> w;
    w.push_back(
        {"thread-pool",
         WorkloadKind::kCanonical,
         "one process: one thread binds, pool workers submit; the binder stays, unbinds "
         "or exits while the workers go on",
         {ParamSpec::Int("tasks", 3, 2, 64, "threads in the pool process, binder included"),
          cpus_param(), ParamSpec::Int("submits", 1, 1, 10000, "descriptors each worker submits"),
          ParamSpec::Choice("binder", "stays", {"stays", "unbinds", "exits"},
                            "what the binding thread does while the workers go on: keeps "
                            "the queue open, closes and reopens it, or closes it and exits"),
          probe_param(), work_param()},
         thread_pool});
    w.push_back({"clone-bind-exit",
                 WorkloadKind::kCanonical,
                 "the seed thread's case: a process clones a task that binds, submits, unbinds "
                 "and exits, and the process lives on",
                 {ParamSpec::Int("rounds", 1, 1, 1000, "clone-bind-exit rounds, one after another"),
                  cpus_param(),
                  ParamSpec::Int("submits", 1, 1, 10000, "descriptors each cloned task submits"),
                  ParamSpec::Int("idle_ns", 1000000, 0, INT64_MAX,
                                 "how long the process lives on after the last round"),
                  probe_param(), work_param()},
                 clone_bind_exit});
    w.push_back({"long-lived-binders",
                 WorkloadKind::kCanonical,
                 "processes whose threads bind once and submit for the whole run, beside "
                 "non-PASID processes, with process turnover",
                 {ParamSpec::Int("processes", 2, 1, 64, "binding processes at time zero"),
                  ParamSpec::Int("threads", 2, 1, 64, "threads per binding process"), cpus_param(),
                  ParamSpec::Int("submits", 2, 1, 10000, "descriptors each thread submits"),
                  ParamSpec::Int("bystanders", 1, 0, 64, "unrelated processes that never bind"),
                  ParamSpec::Int("turnover", 1, 0, 64,
                                 "binding processes started one after another while others run"),
                  ParamSpec::Bool("reuse_probe", false, probe_param().help),
                  ParamSpec::Bool("handoff", false,
                                  "binding processes close the queue while their threads still "
                                  "work, and a successor process binds at once")},
                 long_lived_binders});
    return w;
  }();
  return all;
}

}  // namespace

const std::vector<WorkloadInfo>& builtin_workloads() { return registry(); }

void register_micro_workload(WorkloadInfo info) {
  info.kind = WorkloadKind::kMicro;
  for (auto& w : registry())
    if (w.name == info.name) {
      w = std::move(info);
      return;
    }
  registry().push_back(std::move(info));
}

WorkloadInfo resolve_workload(const std::string& ref, const std::string& base_dir,
                              const SourceLocation& where) {
  std::string path = ref.rfind("scenario:", 0) == 0 ? ref.substr(9) : ref;
  bool is_file = path != ref || (path.size() > 5 && path.ends_with(".toml"));
  if (!is_file) {
    for (const auto& w : builtin_workloads())
      if (w.name == ref) return w;
    std::string names;
    for (const auto& w : builtin_workloads()) names += (names.empty() ? "" : ", ") + w.name;
    throw InputError(
        where, "unknown workload '" + ref + "' (known: " + names + ", or a scenario file *.toml)");
  }
  std::filesystem::path p(path);
  if (p.is_relative() && !base_dir.empty()) p = std::filesystem::path(base_dir) / p;
  if (!std::filesystem::exists(p))
    throw InputError(where, "scenario file not found: " + p.string());
  Scenario sc = load_scenario_file(p.string());
  WorkloadInfo info;
  info.name = ref;
  info.kind = WorkloadKind::kScenarioFile;
  info.description = sc.description.empty() ? "scenario file " + p.string() : sc.description;
  info.params = {ParamSpec::Int("cpus", sc.cpus, 1, 64, "CPUs the tasks spread over")};
  info.generate = [sc](const ParamValues& values) {
    Scenario copy = sc;
    copy.cpus = values.get_int("cpus");
    return copy;
  };
  return info;
}

}  // namespace pasidbench
