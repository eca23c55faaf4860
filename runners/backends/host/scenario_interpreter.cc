#include "runners/backends/host/scenario_interpreter.h"

#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>
#include <cstring>
#include <functional>
#include <nlohmann/json.hpp>
#include <span>
#include <sstream>

#include "platform/affinity.h"
#include "platform/file_io.h"
#include "platform/process.h"
#include "suites/workload/scenario_toml.h"

namespace pasidbench {

namespace {

using Clock = std::chrono::steady_clock;

constexpr int kMaxLatches = 256;
constexpr uint32_t kMaxSamples = 16384;
constexpr uint32_t kMaxProcesses = 4096;
constexpr size_t kMaxOutcomeKinds = 16;
constexpr size_t kMaxSubmitSteps = 64;
constexpr uint32_t kMaxEvents = 512;

// One line of a run's event log: what a task did at a step boundary, where
// and when, as the differential test shows it beside the model's schedule.
struct RunEvent {
  int64_t t_ns;
  int32_t task_uid;
  int32_t cpu;
  char task[32];
  char what[96];
};

// Everything tasks in different processes share; lives in a MAP_SHARED
// mapping made before the first fork.
struct SharedState {
  std::atomic<uint32_t> latches[kMaxLatches];
  std::atomic<int64_t> outcomes[kMaxOutcomeKinds];
  std::atomic<int64_t> unexpected, retries, tasks;
  std::atomic<uint32_t> abort;
  std::atomic<int> first_unexpected_claimed;
  char first_unexpected[512];
  std::atomic<int> error_claimed;
  std::atomic<int> crashed;
  char error[512];
  std::atomic<uint32_t> n_submit, n_bind, n_unbind;
  double submit_ns[kMaxSamples], bind_ns[kMaxSamples], unbind_ns[kMaxSamples];
  std::atomic<int64_t> step_outcomes[kMaxSubmitSteps][kMaxOutcomeKinds];
  std::atomic<int64_t> noise_yields, noise_sleeps, noise_repins;
  std::atomic<uint32_t> n_processes;
  std::atomic<int32_t> process_pids[kMaxProcesses];
  int64_t start_ns;
  std::atomic<uint32_t> n_events;
  RunEvent events[kMaxEvents];
};

struct Interpreter {
  const Scenario* scenario = nullptr;
  TaskDevice* device = nullptr;
  SharedState* shared = nullptr;
  int shared_fd = -1;  // the memfd behind `shared`, for exec
  std::map<std::string, int> latch_index;
  std::map<const Step*, int> submit_slot;  // into SharedState::step_outcomes
  std::vector<std::string> submit_keys;    // by slot
  InterpreterOptions options;
  std::vector<int> allowed_cpus;  // where noise may move a task
};
Interpreter interp;  // set before the first fork, so every process has it

struct TaskExit {};   // exit step
struct TaskAbort {};  // the run was aborted elsewhere

void claim_text(std::atomic<int>& claimed, char* buf, size_t size, const std::string& text) {
  int expected = 0;
  if (!claimed.compare_exchange_strong(expected, 1)) return;
  std::snprintf(buf, size, "%s", text.c_str());
}

int64_t monotonic_ns() {
  timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

void fail_run(const std::string& why, bool crashed = false) {
  SharedState* s = interp.shared;
  claim_text(s->error_claimed, s->error, sizeof s->error, why);
  if (crashed) s->crashed = 1;
  s->abort = 1;
  for (auto& l : s->latches) {
    ::syscall(SYS_futex, reinterpret_cast<uint32_t*>(&l), FUTEX_WAKE, INT_MAX, nullptr, nullptr, 0);
  }
}

void push_sample(double* array, std::atomic<uint32_t>& n, double value) {
  uint32_t i = n.fetch_add(1);
  if (i < kMaxSamples) array[i] = value;
}

void check_abort() {
  if (interp.shared->abort.load()) throw TaskAbort{};
}

void spin_for(int64_t ns) {
  auto until = Clock::now() + std::chrono::nanoseconds(ns);
  while (Clock::now() < until) {
    asm volatile("pause" ::: "memory");
  }
}

void sleep_for(int64_t ns) {
  timespec ts{static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
  while (::nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

void await_latch(int index, int64_t count) {
  std::atomic<uint32_t>& latch = interp.shared->latches[index];
  for (;;) {
    uint32_t v = latch.load();
    if (static_cast<int64_t>(v) >= count) return;
    check_abort();
    timespec timeout{0, 100 * 1000 * 1000};  // wake now and then to see an abort
    ::syscall(SYS_futex, reinterpret_cast<uint32_t*>(&latch), FUTEX_WAIT, v, &timeout, nullptr, 0);
  }
}

void signal_latch(int index) {
  std::atomic<uint32_t>& latch = interp.shared->latches[index];
  latch.fetch_add(1);
  ::syscall(SYS_futex, reinterpret_cast<uint32_t*>(&latch), FUTEX_WAKE, INT_MAX, nullptr, nullptr,
            0);
}

std::string signal_text(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  return abbrev ? std::string("SIG") + abbrev : "signal " + std::to_string(sig);
}

// Where a task is in its program: per nesting level, the step and, for a
// repeat, the iteration. exec carries it into the new image.
struct ProgramPoint {
  size_t index = 0;
  int64_t iteration = 0;
};

struct Task {
  const TaskTemplate* tmpl = nullptr;
  int uid = 0;
  uint64_t noise = 0;                                     // the task's noise PRNG state
  std::map<std::string, std::vector<pthread_t>> threads;  // started by this task
  std::map<std::string, std::vector<pid_t>> processes;
  std::vector<ProgramPoint> pc;
};

// Past kMaxEvents the log keeps counting (n_events) but stores nothing.
void log_event(const Task& task, const std::string& what) {
  SharedState* s = interp.shared;
  const uint32_t i = s->n_events.fetch_add(1);
  if (i >= kMaxEvents) return;
  RunEvent& e = s->events[i];
  e.t_ns = monotonic_ns() - s->start_ns;
  e.task_uid = task.uid;
  e.cpu = ::sched_getcpu();
  std::snprintf(e.task, sizeof e.task, "%s", task.tmpl->name.c_str());
  std::snprintf(e.what, sizeof e.what, "%s", what.c_str());
}

std::string& exec_image() {
  static std::string path = "/proc/self/exe";
  return path;
}

std::map<std::string, ExecDeviceFactory>& exec_devices() {
  static std::map<std::string, ExecDeviceFactory> devices;
  return devices;
}

void run_program(Task& task);

uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

void seed_noise(Task& task) {
  task.noise = interp.options.noise_seed ^ (interp.options.run_index * 0x9e3779b97f4a7c15ull) ^
               (static_cast<uint64_t>(task.uid) << 32);
}

// At a step boundary: nothing (half the time), a yield, a 1-20 us sleep, or
// a move to a random allowed CPU. Seeded, but the kernel decides what the
// task meets there, so runs are not replayable; the seed only varies them.
void inject_noise(Task& task) {
  if (interp.options.noise_seed == 0) return;
  const uint64_t r = splitmix64(task.noise);
  switch (r % 8) {
    case 0:
    case 1:
      ::sched_yield();
      interp.shared->noise_yields.fetch_add(1);
      log_event(task, "noise: sched_yield");
      break;
    case 2:
      sleep_for(1000 + static_cast<int64_t>((r >> 8) % 20000));
      interp.shared->noise_sleeps.fetch_add(1);
      log_event(task, "noise: slept");
      break;
    case 3:
      if (interp.options.pin_cpu < 0 && interp.allowed_cpus.size() > 1) {
        const int cpu = interp.allowed_cpus[(r >> 8) % interp.allowed_cpus.size()];
        if (pin_calling_thread(cpu) == 0) {
          interp.shared->noise_repins.fetch_add(1);
          log_event(task, "noise: moved to CPU " + std::to_string(cpu));
        }
      }
      break;
    default:
      break;
  }
}

void* thread_main(void* arg) {
  std::unique_ptr<Task> task(static_cast<Task*>(arg));
  try {
    run_program(*task);
  } catch (const TaskExit&) {
  } catch (const TaskAbort&) {
  } catch (const std::exception& e) {
    fail_run("task '" + task->tmpl->name + "': " + e.what());
  }
  return nullptr;
}

// The body of a new process: its first task on its only thread. The thread
// ends with a bare thread exit, not exit(): the other threads of the process
// go on, as they do when a real main thread exits.
[[noreturn]] void process_main(const TaskTemplate* tmpl) {
  interp.device->after_fork();
  uint32_t slot = interp.shared->n_processes.fetch_add(1);
  if (slot < kMaxProcesses) interp.shared->process_pids[slot] = ::getpid();
  Task task;
  task.tmpl = tmpl;
  task.uid = static_cast<int>(interp.shared->tasks.fetch_add(1));
  seed_noise(task);
  try {
    run_program(task);
  } catch (const TaskExit&) {
  } catch (const TaskAbort&) {
  } catch (const std::exception& e) {
    fail_run("task '" + tmpl->name + "': " + e.what());
  }
  ::syscall(SYS_exit, 0);
  __builtin_unreachable();
}

pid_t start_process(const TaskTemplate* tmpl) {
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) process_main(tmpl);
  return pid;
}

void start_thread(Task& parent, const TaskTemplate* tmpl) {
  auto* task = new Task;
  task->tmpl = tmpl;
  task->uid = static_cast<int>(interp.shared->tasks.fetch_add(1));
  seed_noise(*task);
  pthread_t th;
  int rc = pthread_create(&th, nullptr, thread_main, task);
  if (rc != 0) {
    delete task;
    throw std::runtime_error(std::string("pthread_create: ") + std::strerror(rc));
  }
  parent.threads[tmpl->name].push_back(th);
}

void wait_for(Task& task, const std::string& name) {
  for (pthread_t th : task.threads[name]) pthread_join(th, nullptr);
  task.threads[name].clear();
  for (pid_t pid : task.processes[name]) {
    int status = wait_child(pid);
    if (WIFSIGNALED(status))
      fail_run("crashed: " + signal_text(WTERMSIG(status)) + " in a process of task '" + name +
                   "' (pid " + std::to_string(pid) + ")",
               true);
  }
  task.processes[name].clear();
}

void record_submit(Task& task, const Step& step, const std::string& outcome, int64_t ns,
                   int retries) {
  SharedState* s = interp.shared;
  const auto& kinds = interp.device->outcome_kinds();
  auto it = std::find(kinds.begin(), kinds.end(), outcome);
  if (it == kinds.end()) throw std::logic_error("device returned an unlisted outcome: " + outcome);
  s->outcomes[it - kinds.begin()].fetch_add(1);
  auto slot = interp.submit_slot.find(&step);
  if (slot != interp.submit_slot.end())
    s->step_outcomes[slot->second][it - kinds.begin()].fetch_add(1);
  log_event(task, "submit " +
                      (slot != interp.submit_slot.end() ? interp.submit_keys[slot->second] : "?") +
                      " -> " + outcome);
  s->retries.fetch_add(retries);
  if (outcome == "ok") push_sample(s->submit_ns, s->n_submit, static_cast<double>(ns));
  if (!outcome_matches(step.expect, outcome)) {
    s->unexpected.fetch_add(1);
    std::string where = step.where.str();
    claim_text(s->first_unexpected_claimed, s->first_unexpected, sizeof s->first_unexpected,
               "task '" + task.tmpl->name + "' #" + std::to_string(task.uid) + " submit" +
                   (where.empty() ? "" : " (" + where + ")") + ": expected " +
                   to_string(step.expect) + ", got " + outcome);
  }
}

void run_steps(Task& task, const std::vector<Step>& steps,
               std::span<const ProgramPoint> resume = {});

// execve() of this program, which carries on after the exec step with the
// same shared state and the device's open files (docs/host.md).
void exec_task(Task& task) {
  nlohmann::json points = nlohmann::json::array();
  for (const ProgramPoint& p : task.pc) points.push_back({p.index, p.iteration});
  nlohmann::json processes = nlohmann::json::object();
  for (const auto& [name, pids] : task.processes) processes[name] = pids;
  nlohmann::json j = {{"scenario", scenario_to_toml(*interp.scenario)},
                      {"template", task.tmpl->name},
                      {"uid", task.uid},
                      {"resume", points},
                      {"processes", processes},
                      {"device_kind", interp.device->exec_kind()},
                      {"device_state", interp.device->state_for_exec()},
                      {"shared_fd", interp.shared_fd},
                      {"noise_seed", interp.options.noise_seed},
                      {"run_index", interp.options.run_index},
                      {"pin_cpu", interp.options.pin_cpu},
                      {"allowed_cpus", interp.allowed_cpus},
                      {"noise", task.noise},
                      {"exec_image", exec_image()}};
  const std::string text = j.dump();
  int fd = ::memfd_create("pasidbench-exec", 0);  // inherited: the new image reads it
  if (fd < 0) throw std::runtime_error(std::string("memfd_create: ") + std::strerror(errno));
  if (int e = write_fully(fd, text.data(), text.size()); e != 0)
    throw std::runtime_error(std::string("write exec state: ") + std::strerror(e));
  ::fcntl(interp.shared_fd, F_SETFD, 0);
  std::string fd_text = std::to_string(fd);
  const std::string& image = exec_image();
  char* argv[] = {const_cast<char*>(image.c_str()), const_cast<char*>(kExecContinueCommand),
                  fd_text.data(), nullptr};
  ::execv(image.c_str(), argv);
  int e = errno;
  ::close(fd);
  ::fcntl(interp.shared_fd, F_SETFD, FD_CLOEXEC);
  throw std::runtime_error("exec " + image + ": " + std::strerror(e));
}

// ---- file steps (map, unmap, close, named bind/unbind) ---------------------

bool is_file_step(const Step& s) {
  switch (s.op) {
    case StepOp::kMap:
    case StepOp::kUnmap:
    case StepOp::kClose:
      return true;
    case StepOp::kBind:
    case StepOp::kUnbind:
      return !s.fd.empty() || s.cloexec || !s.map;
    default:
      return false;
  }
}

bool uses_file_steps(const std::vector<Step>& steps) {
  for (const auto& s : steps)
    if (is_file_step(s) || uses_file_steps(s.body)) return true;
  return false;
}

void run_file_step(Task& task, const Step& step) {
  TaskDevice& dev = *interp.device;
  int64_t ns = 0;
  switch (step.op) {
    case StepOp::kBind: {
      std::string err = dev.open_file(task.uid, {step.fd, step.cloexec, step.map}, &ns);
      if (!err.empty()) {
        fail_run("bind by task '" + task.tmpl->name + "': " + err);
        throw TaskAbort{};
      }
      push_sample(interp.shared->bind_ns, interp.shared->n_bind, static_cast<double>(ns));
      break;
    }
    case StepOp::kUnbind:
      dev.unbind_file(step.fd, &ns);
      push_sample(interp.shared->unbind_ns, interp.shared->n_unbind, static_cast<double>(ns));
      break;
    case StepOp::kMap:
      (void)dev.map_file(step.fd);  // refused (EPERM, EBADF) is an outcome, as in the model
      break;
    case StepOp::kUnmap:
      dev.unmap_file(step.fd);
      break;
    case StepOp::kClose:
      dev.close_file(step.fd);
      break;
    default:
      throw std::logic_error("not a file step");
  }
}

void run_step(Task& task, const Step& step) {
  if (is_file_step(step)) return run_file_step(task, step);
  switch (step.op) {
    case StepOp::kBind: {
      int64_t ns = 0;
      std::string err = interp.device->bind(task.uid, &ns);
      if (!err.empty()) {
        fail_run("bind by task '" + task.tmpl->name + "': " + err);
        throw TaskAbort{};
      }
      push_sample(interp.shared->bind_ns, interp.shared->n_bind, static_cast<double>(ns));
      break;
    }
    case StepOp::kUnbind: {
      int64_t ns = 0;
      interp.device->unbind(task.uid, &ns);
      push_sample(interp.shared->unbind_ns, interp.shared->n_unbind, static_cast<double>(ns));
      break;
    }
    case StepOp::kSubmit:
      for (int64_t i = 0; i < step.count; ++i) {
        int64_t ns = 0;
        int retries = 0;
        std::string outcome = interp.device->submit(task.uid, &ns, &retries);
        record_submit(task, step, outcome, ns, retries);
        // An unfixed #GP is a SIGSEGV: the task ends there, as in the model.
        if (outcome == "gp_sigsegv") throw TaskExit{};
      }
      break;
    case StepOp::kCompute:
      spin_for(step.duration_ns);
      break;
    case StepOp::kSleep:
      sleep_for(step.duration_ns);
      break;
    case StepOp::kCloneThread:
      for (int64_t i = 0; i < step.count; ++i) start_thread(task, interp.scenario->find(step.task));
      break;
    case StepOp::kFork:
      for (int64_t i = 0; i < step.count; ++i)
        task.processes[step.task].push_back(start_process(interp.scenario->find(step.task)));
      break;
    case StepOp::kExec:
      exec_task(task);
      break;
    case StepOp::kExit:
      throw TaskExit{};
    case StepOp::kWait:
      wait_for(task, step.task);
      break;
    case StepOp::kSignal:
      signal_latch(interp.latch_index.at(step.flag));
      break;
    case StepOp::kAwait:
      await_latch(interp.latch_index.at(step.flag), step.count);
      break;
    case StepOp::kRepeat:
      for (int64_t i = 0; i < step.count; ++i) {
        task.pc.back().iteration = i;
        run_steps(task, step.body);
      }
      break;
    case StepOp::kMap:
    case StepOp::kUnmap:
    case StepOp::kClose:
      break;  // run_file_step
  }
}

// `resume`: the point of an exec this image carries on from (the exec
// step itself is done), one entry per nesting level.
void run_steps(Task& task, const std::vector<Step>& steps, std::span<const ProgramPoint> resume) {
  task.pc.push_back({});
  size_t i = 0;
  if (resume.size() == 1) {
    i = resume[0].index + 1;
  } else if (resume.size() > 1) {
    i = resume[0].index;
    const Step& repeat = steps.at(i);
    for (int64_t k = resume[0].iteration; k < repeat.count; ++k) {
      task.pc.back() = {i, k};
      check_abort();
      run_steps(task, repeat.body,
                k == resume[0].iteration ? resume.subspan(1) : std::span<const ProgramPoint>{});
    }
    ++i;
  }
  for (; i < steps.size(); ++i) {
    task.pc.back() = {i, 0};
    check_abort();
    inject_noise(task);
    if (steps[i].op != StepOp::kSubmit && steps[i].op != StepOp::kCompute &&
        steps[i].op != StepOp::kRepeat)
      log_event(task, std::string(to_string(steps[i].op)) +
                          (steps[i].task.empty() ? "" : " " + steps[i].task) +
                          (steps[i].flag.empty() ? "" : " " + steps[i].flag));
    run_step(task, steps[i]);
  }
  task.pc.pop_back();
}

void run_program(Task& task) { run_steps(task, task.tmpl->program); }

void collect_latches(const std::vector<Step>& steps, std::map<std::string, int>* index) {
  for (const auto& s : steps) {
    if ((s.op == StepOp::kSignal || s.op == StepOp::kAwait) && !index->count(s.flag)) {
      int next = static_cast<int>(index->size());
      (*index)[s.flag] = next;
    }
    collect_latches(s.body, index);
  }
}

bool uses_exec(const std::vector<Step>& steps) {
  for (const auto& s : steps)
    if (s.op == StepOp::kExec || uses_exec(s.body)) return true;
  return false;
}

// The scenario's outcome names; a device error is what the model calls a fault.
std::string outcome_of(const SubmitResult& r) {
  return r.status == SubmitResult::Status::kDeviceError ? "fault" : to_string(r.status);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

void collect_submit_steps(const std::vector<Step>& steps, const std::string& path,
                          std::vector<std::pair<std::string, const Step*>>* out) {
  for (size_t i = 0; i < steps.size(); ++i) {
    const std::string here = path + std::to_string(i);
    if (steps[i].op == StepOp::kSubmit) out->push_back({here, &steps[i]});
    collect_submit_steps(steps[i].body, here + ".", out);
  }
}

}  // namespace

std::vector<std::pair<std::string, const Step*>> submit_steps_of(const Scenario& scenario) {
  std::vector<std::pair<std::string, const Step*>> out;
  for (const auto& t : scenario.tasks) collect_submit_steps(t.program, t.name + "/", &out);
  return out;
}

namespace {
// The first kMaxSubmitSteps are counted per step; host_cannot_run() refuses more.
void number_submit_steps(const Scenario& scenario) {
  interp.submit_slot.clear();
  interp.submit_keys.clear();
  for (const auto& [key, step] : submit_steps_of(scenario))
    if (interp.submit_slot.size() < kMaxSubmitSteps) {
      interp.submit_slot.emplace(step, static_cast<int>(interp.submit_slot.size()));
      interp.submit_keys.push_back(key);
    }
}
}  // namespace

bool outcome_matches(SubmitExpect expect, const std::string& outcome) {
  switch (expect) {
    case SubmitExpect::kAny:
      return true;
    case SubmitExpect::kOk:
      return outcome == "ok";
    case SubmitExpect::kGpSigsegv:
      return outcome == "gp_sigsegv";
    // The mm is not bound: the device faults, never completes, or (on the
    // host) there is no portal left to submit through.
    case SubmitExpect::kFaultUnbound:
      return outcome == "fault" || outcome == "fault_unbound" || outcome == "timeout" ||
             outcome == "no_portal";
  }
  return false;
}

// ---- WorkQueueDevice ---------------------------------------------------------

WorkQueueDevice::WorkQueueDevice(IdxdWorkQueue queue, SubmitPreference pref, int max_retries,
                                 std::chrono::milliseconds timeout)
    : queue_(std::move(queue)), pref_(pref), max_retries_(max_retries), timeout_(timeout) {}

std::string WorkQueueDevice::bind(int task, int64_t* ns) {
  try {
    auto wq = std::make_shared<WorkQueue>(queue_, pref_);
    *ns = wq->bind_ns();
    std::lock_guard<std::mutex> lock(*mu_);
    last_path_ = std::string(to_string(wq->path())) + " (" + wq->path_note() + ")";
    bindings_.emplace(task, std::move(wq));
  } catch (const WorkQueueError& e) {
    return e.what();
  }
  return {};
}

void WorkQueueDevice::unbind(int task, int64_t* ns) {
  std::shared_ptr<WorkQueue> wq;
  {
    std::lock_guard<std::mutex> lock(*mu_);
    auto it = bindings_.find(task);
    if (it == bindings_.end()) return;  // nothing to unbind: a no-op, as close() of nothing
    wq = std::move(it->second);
    bindings_.erase(it);
  }
  // The close happens when the last submitter lets go of it, never under a
  // submission in flight (that would be a fault on an unmapped portal).
  auto t0 = Clock::now();
  wq.reset();
  *ns = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count();
}

std::string WorkQueueDevice::submit(int task, int64_t* latency_ns, int* retries) {
  std::shared_ptr<WorkQueue> wq;
  {
    std::lock_guard<std::mutex> lock(*mu_);
    auto own = bindings_.find(task);
    if (own != bindings_.end())
      wq = own->second;
    else if (!bindings_.empty())
      wq = bindings_.begin()->second;
  }
  if (!wq) return "no_portal";
  SubmitResult r = wq->submit_noop(max_retries_, timeout_);
  *latency_ns = r.latency_ns;
  *retries = r.retries;
  return outcome_of(r);
}

void WorkQueueDevice::after_fork() {
  // The mutex may have been held by a thread that does not exist here.
  (void)mu_.release();
  mu_ = std::make_unique<std::mutex>();
  // Inherited files belong to the parent's mm: closing our copies drops a
  // reference, it does not unbind the parent.
  for (auto& [task, wq] : bindings_) wq->close();
  bindings_.clear();
}

std::string WorkQueueDevice::describe() const {
  return queue_.name + " (" + queue_.char_dev + ")" +
         (last_path_.empty() ? "" : ", submissions via " + last_path_);
}

// ---- file steps: what a device without them says ---------------------------

std::string TaskDevice::open_file(int, const FileOpen&, int64_t*) {
  return describe() + " has no file steps";
}
std::string TaskDevice::map_file(const std::string&) {
  throw std::logic_error(describe() + " has no file steps");
}
void TaskDevice::unmap_file(const std::string&) {
  throw std::logic_error(describe() + " has no file steps");
}
void TaskDevice::close_file(const std::string&) {
  throw std::logic_error(describe() + " has no file steps");
}
void TaskDevice::unbind_file(const std::string&, int64_t*) {
  throw std::logic_error(describe() + " has no file steps");
}

std::string fd_name_token(const std::string& name) {
  if (name.empty()) return "-";
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : name) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

std::string fd_name_from_token(const std::string& token) {
  if (token == "-") return {};
  if (token.size() % 2) throw std::runtime_error("bad fd name token '" + token + "'");
  std::string out;
  for (size_t i = 0; i < token.size(); i += 2)
    out += static_cast<char>(std::stoi(token.substr(i, 2), nullptr, 16));
  return out;
}

// ---- LoopbackDevice ----------------------------------------------------------

int LoopbackDevice::newest_fd(const std::string& name, bool any_name) const {
  for (int i = static_cast<int>(files_.size()) - 1; i >= 0; --i)
    if (files_[i].fd_open && (any_name || files_[i].name == name)) return i;
  return -1;
}

void LoopbackDevice::unbind_at(int i) {
  if (i < 0) return;  // nothing open: a no-op, as in the model
  File& f = files_[i];
  f.fd_open = false;
  if (f.own_mm) f.maps = 0;
  if (f.maps == 0) files_.erase(files_.begin() + i);
}

std::string LoopbackDevice::bind(int task, int64_t* ns) { return open_file(task, {}, ns); }

void LoopbackDevice::unbind(int, int64_t* ns) {
  std::lock_guard<std::mutex> lock(*mu_);
  unbind_at(newest_fd({}, true));
  *ns = 0;
}

std::string LoopbackDevice::submit(int, int64_t* latency_ns, int* retries) {
  std::lock_guard<std::mutex> lock(*mu_);
  *latency_ns = 0;
  *retries = 0;
  for (const File& f : files_)
    if (f.maps > 0) return "ok";
  return "no_portal";
}

void LoopbackDevice::after_fork() {
  (void)mu_.release();
  mu_ = std::make_unique<std::mutex>();
  // The fds are inherited; the portal mappings are not (VM_DONTCOPY), and
  // the files belong to the parent's mm.
  std::erase_if(files_, [](const File& f) { return !f.fd_open; });
  for (File& f : files_) {
    f.maps = 0;
    f.own_mm = false;
  }
}

std::string LoopbackDevice::open_file(int, const FileOpen& how, int64_t* ns) {
  std::lock_guard<std::mutex> lock(*mu_);
  files_.push_back({how.name, true, how.cloexec, how.map ? 1 : 0, true});
  *ns = 0;
  return {};
}

std::string LoopbackDevice::map_file(const std::string& name) {
  std::lock_guard<std::mutex> lock(*mu_);
  int i = newest_fd(name, false);
  if (i < 0) return "EBADF";
  if (!files_[i].own_mm) return "EPERM";
  ++files_[i].maps;
  return {};
}

void LoopbackDevice::unmap_file(const std::string& name) {
  std::lock_guard<std::mutex> lock(*mu_);
  for (int i = static_cast<int>(files_.size()) - 1; i >= 0; --i) {
    File& f = files_[i];
    if (f.name != name || f.maps == 0) continue;
    if (--f.maps == 0 && !f.fd_open) files_.erase(files_.begin() + i);
    return;
  }
}

void LoopbackDevice::close_file(const std::string& name) {
  std::lock_guard<std::mutex> lock(*mu_);
  int i = newest_fd(name, false);
  if (i < 0) return;
  files_[i].fd_open = false;
  if (files_[i].maps == 0) files_.erase(files_.begin() + i);
}

void LoopbackDevice::unbind_file(const std::string& name, int64_t* ns) {
  std::lock_guard<std::mutex> lock(*mu_);
  unbind_at(newest_fd(name, name.empty()));
  *ns = 0;
}

// The fds exec keeps: not the O_CLOEXEC ones, none of the mappings.
std::string LoopbackDevice::state_for_exec() {
  std::string out;
  for (const File& f : files_)
    if (f.fd_open && !f.cloexec) out += fd_name_token(f.name) + " ";
  return out;
}

std::unique_ptr<TaskDevice> LoopbackDevice::from_exec_state(const std::string& state) {
  auto dev = std::make_unique<LoopbackDevice>();
  std::istringstream in(state);
  // The old mm took the portals along; the files stay the old mm's.
  for (std::string token; in >> token;)
    dev->files_.push_back({fd_name_from_token(token), true, false, 0, false});
  return dev;
}

// ---- exec --------------------------------------------------------------------

void register_exec_device(const std::string& kind, ExecDeviceFactory factory) {
  exec_devices()[kind] = std::move(factory);
}

void set_exec_image(const std::string& path) { exec_image() = path; }

void continue_scenario_after_exec(const char* fd_text) {
  // Nothing to report to but the shared state, and that needs the state
  // this reads: a broken continuation ends the process with a signal, which
  // the scenario's waiter reports as a crash.
  auto die = [](const std::string& why) {
    std::fprintf(stderr, "pasidbench %s: %s\n", kExecContinueCommand, why.c_str());
    ::raise(SIGABRT);
    ::_exit(127);
  };
  static Scenario scenario;
  static std::unique_ptr<TaskDevice> device;
  nlohmann::json j;
  try {
    int fd = std::stoi(fd_text);
    ::lseek(fd, 0, SEEK_SET);
    std::string text = read_to_end(fd);
    ::close(fd);
    j = nlohmann::json::parse(text);
    scenario = load_scenario_text(j.at("scenario").get<std::string>(), "<exec continuation>");
    auto factory = exec_devices().find(j.at("device_kind").get<std::string>());
    if (factory == exec_devices().end())
      die("no device of kind '" + j.at("device_kind").get<std::string>() + "' in this program");
    device = factory->second(j.at("device_state").get<std::string>());
  } catch (const std::exception& e) {
    die(e.what());
  }
  int shared_fd = j.at("shared_fd").get<int>();
  void* mem =
      ::mmap(nullptr, sizeof(SharedState), PROT_READ | PROT_WRITE, MAP_SHARED, shared_fd, 0);
  if (mem == MAP_FAILED) die(std::string("mmap the shared state: ") + std::strerror(errno));
  ::fcntl(shared_fd, F_SETFD, FD_CLOEXEC);
  interp.scenario = &scenario;
  interp.device = device.get();
  interp.shared = static_cast<SharedState*>(mem);
  interp.shared_fd = shared_fd;
  for (const auto& t : scenario.tasks) collect_latches(t.program, &interp.latch_index);
  number_submit_steps(scenario);
  interp.options.noise_seed = j.at("noise_seed").get<uint64_t>();
  interp.options.run_index = j.at("run_index").get<uint64_t>();
  interp.options.pin_cpu = j.at("pin_cpu").get<int>();
  interp.allowed_cpus = j.at("allowed_cpus").get<std::vector<int>>();
  exec_image() = j.at("exec_image").get<std::string>();

  Task task;
  task.tmpl = scenario.find(j.at("template").get<std::string>());
  if (!task.tmpl) die("no template '" + j.at("template").get<std::string>() + "'");
  task.uid = j.at("uid").get<int>();
  task.noise = j.at("noise").get<uint64_t>();
  for (const auto& [name, pids] : j.at("processes").items())
    task.processes[name] = pids.get<std::vector<pid_t>>();
  std::vector<ProgramPoint> resume;
  for (const auto& p : j.at("resume"))
    resume.push_back({p.at(0).get<size_t>(), p.at(1).get<int64_t>()});
  try {
    run_steps(task, task.tmpl->program, resume);
  } catch (const TaskExit&) {
  } catch (const TaskAbort&) {
  } catch (const std::exception& e) {
    fail_run("task '" + task.tmpl->name + "' after exec: " + e.what());
  }
  ::syscall(SYS_exit, 0);
  __builtin_unreachable();
}

namespace {
[[maybe_unused]] const bool loopback_registered =
    (register_exec_device("loopback", LoopbackDevice::from_exec_state), true);
}  // namespace

// ---- the run -----------------------------------------------------------------

std::string host_cannot_run(const Scenario& scenario, const TaskDevice& device) {
  for (const auto& t : scenario.tasks)
    if (uses_file_steps(t.program) && !device.has_file_steps())
      return "scenario uses steps on named files (task '" + t.name + "'), which " +
             device.describe() + " does not run";
  for (const auto& t : scenario.tasks)
    if (uses_exec(t.program) && device.exec_kind().empty())
      return "scenario uses exec (task '" + t.name + "'), which " + device.describe() +
             " cannot carry into a new program image";
  if (device.outcome_kinds().size() > kMaxOutcomeKinds)
    return "the device has more outcome kinds than the interpreter counts";
  std::map<std::string, int> latches;
  for (const auto& t : scenario.tasks) collect_latches(t.program, &latches);
  if (submit_steps_of(scenario).size() > kMaxSubmitSteps)
    return "scenario has more than " + std::to_string(kMaxSubmitSteps) +
           " submit steps; the host interpreter counts outcomes per step for that many";
  if (latches.size() > kMaxLatches)
    return "scenario uses " + std::to_string(latches.size()) +
           " latches; the host interpreter holds " + std::to_string(kMaxLatches);
  return {};
}

InterpreterResult run_scenario_on_host(const Scenario& scenario, TaskDevice& device,
                                       const InterpreterOptions& options) {
  InterpreterResult result;
  if (std::string why = host_cannot_run(scenario, device); !why.empty()) {
    result.error = why;
    return result;
  }
  // The CPUs this run may use; pin_cpu narrows them to one for every task
  // (they inherit the affinity), restored when the run is over.
  const std::vector<int> was_allowed = allowed_cpus();
  if (was_allowed.empty()) {
    result.error = std::string("sched_getaffinity: ") + std::strerror(errno);
    return result;
  }
  std::vector<int> allowed = was_allowed;
  if (options.pin_cpu >= 0) {
    if (std::find(allowed.begin(), allowed.end(), options.pin_cpu) == allowed.end()) {
      result.error = "pin_cpu " + std::to_string(options.pin_cpu) +
                     " is not among the CPUs this process may run on";
      return result;
    }
    if (int err = pin_calling_thread(options.pin_cpu); err != 0) {
      result.error = std::string("sched_setaffinity: ") + std::strerror(err);
      return result;
    }
    allowed = {options.pin_cpu};
  }
  // A memfd, so that a task's exec can map the same state again.
  int shared_fd = ::memfd_create("pasidbench-scenario", MFD_CLOEXEC);
  if (shared_fd < 0 || ::ftruncate(shared_fd, sizeof(SharedState)) != 0) {
    result.error = std::string("memfd for the shared state: ") + std::strerror(errno);
    if (shared_fd >= 0) ::close(shared_fd);
    return result;
  }
  void* mem =
      ::mmap(nullptr, sizeof(SharedState), PROT_READ | PROT_WRITE, MAP_SHARED, shared_fd, 0);
  if (mem == MAP_FAILED) {
    result.error = std::string("mmap: ") + std::strerror(errno);
    ::close(shared_fd);
    return result;
  }
  auto* shared = new (mem) SharedState();
  shared->start_ns = monotonic_ns();
  interp.scenario = &scenario;
  interp.device = &device;
  interp.shared = shared;
  interp.shared_fd = shared_fd;
  interp.latch_index.clear();
  for (const auto& t : scenario.tasks) collect_latches(t.program, &interp.latch_index);
  number_submit_steps(scenario);
  interp.options = options;
  interp.allowed_cpus = allowed;

  // Orphans (a process whose parent task exited first) come back here to be
  // reaped, and to be seen if they crashed.
  int was_subreaper = 0;
  ::prctl(PR_GET_CHILD_SUBREAPER, &was_subreaper);
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  std::fflush(nullptr);
  try {
    for (const auto& t : scenario.tasks)
      if (t.initial)
        for (int64_t i = 0; i < t.instances; ++i) start_process(&t);
  } catch (const std::exception& e) {
    fail_run(e.what());
  }
  bool killed = false;
  for (;;) {
    int status = 0;
    pid_t pid = ::waitpid(-1, &status, 0);
    if (pid < 0) {
      if (errno == EINTR) continue;
      break;  // ECHILD: every process of the scenario is gone
    }
    if (WIFSIGNALED(status) && !(killed && WTERMSIG(status) == SIGKILL))
      fail_run("crashed: " + signal_text(WTERMSIG(status)) + " in scenario process " +
                   std::to_string(pid),
               true);
    if (shared->abort && !killed) {
      killed = true;
      uint32_t n = std::min(shared->n_processes.load(), kMaxProcesses);
      for (uint32_t i = 0; i < n; ++i)
        if (pid_t p = shared->process_pids[i].load(); p > 0) ::kill(p, SIGKILL);
    }
  }
  ::prctl(PR_SET_CHILD_SUBREAPER, was_subreaper);
  if (options.pin_cpu >= 0) set_allowed_cpus(was_allowed);

  const auto& kinds = device.outcome_kinds();
  for (size_t i = 0; i < kinds.size(); ++i)
    if (int64_t n = shared->outcomes[i].load()) {
      result.outcomes[kinds[i]] = n;
      result.submits += n;
    }
  for (const auto& [key, step] : submit_steps_of(scenario)) {
    auto slot = interp.submit_slot.find(step);
    if (slot == interp.submit_slot.end()) continue;
    auto& per_step = result.step_outcomes[key];
    for (size_t i = 0; i < kinds.size(); ++i)
      if (int64_t n = shared->step_outcomes[slot->second][i].load()) per_step[kinds[i]] = n;
  }
  result.noise_yields = shared->noise_yields.load();
  result.noise_sleeps = shared->noise_sleeps.load();
  result.noise_repins = shared->noise_repins.load();
  const uint32_t n_events = shared->n_events.load();
  result.events_dropped = n_events > kMaxEvents ? n_events - kMaxEvents : 0;
  std::vector<RunEvent> events(shared->events, shared->events + std::min(n_events, kMaxEvents));
  std::stable_sort(events.begin(), events.end(),
                   [](const RunEvent& a, const RunEvent& b) { return a.t_ns < b.t_ns; });
  for (const auto& e : events) {
    char line[192];
    std::snprintf(line, sizeof line, "%10.3f us  cpu%-3d %s#%d: %s", e.t_ns / 1000.0, e.cpu, e.task,
                  e.task_uid, e.what);
    result.events.push_back(line);
  }
  result.unexpected = shared->unexpected.load();
  if (shared->first_unexpected_claimed.load()) result.first_unexpected = shared->first_unexpected;
  result.retries = shared->retries.load();
  result.tasks = shared->tasks.load();
  auto samples = [](const double* a, uint32_t n) {
    return std::vector<double>(a, a + std::min(n, kMaxSamples));
  };
  result.submit_ns = samples(shared->submit_ns, shared->n_submit.load());
  result.bind_ns = samples(shared->bind_ns, shared->n_bind.load());
  result.unbind_ns = samples(shared->unbind_ns, shared->n_unbind.load());
  if (shared->error_claimed.load()) result.error = shared->error;
  result.crashed = shared->crashed.load() != 0;
  shared->~SharedState();
  ::munmap(mem, sizeof(SharedState));
  ::close(shared_fd);
  interp = Interpreter{};
  return result;
}

void fill_from_interpreter(const InterpreterResult& res, ResultRecord* r) {
  r->outcomes = res.outcomes;
  r->add_metric("submits", {static_cast<double>(res.submits)});
  r->add_metric("unexpected_outcomes", {static_cast<double>(res.unexpected)});
  r->add_metric("enqcmd_retries", {static_cast<double>(res.retries)});
  auto add_median = [&](const char* name, const std::vector<double>& v) {
    if (v.empty()) return;
    r->add_metric(name, {median(v)}, "median of " + std::to_string(v.size()) + " in the run");
  };
  add_median("submit_ns", res.submit_ns);
  add_median("bind_ns", res.bind_ns);
  add_median("unbind_ns", res.unbind_ns);
  if (res.crashed) {
    r->outcome = Outcome::kCrashed;
    r->reason = res.error;
  } else if (!res.error.empty()) {
    r->outcome = Outcome::kError;
    r->reason = res.error;
  } else if (res.unexpected > 0) {
    r->outcome = Outcome::kFail;
    r->reason =
        std::to_string(res.unexpected) + " of " + std::to_string(res.submits) +
        " submissions differed from the workload's expectation; first: " + res.first_unexpected;
  } else {
    r->outcome = Outcome::kPass;
  }
}

}  // namespace pasidbench
