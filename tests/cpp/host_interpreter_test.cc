// The host scenario interpreter, driven against a stand-in device so that
// its process/thread/latch machinery is checked on any machine. (On DSA
// hardware the same interpreter drives WorkQueueDevice.)
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <set>

#include "runners/backends/host/scenario_interpreter.h"
#include "suites/workload/scenario_toml.h"
#include "suites/workload/workloads.h"

namespace pasidbench {
namespace {

// Per-process bindings, like file descriptors: a submission works while
// anything in the process is bound.
class StandInDevice : public TaskDevice {
 public:
  std::string bind(int task, int64_t* ns) override {
    if (refuse_bind) return "open /dev/dsa/wq0.0: Operation not supported: test";
    bound.insert(task);
    *ns = 10;
    return {};
  }
  void unbind(int task, int64_t* ns) override {
    auto it = bound.find(task);
    if (it != bound.end()) bound.erase(it);
    *ns = 5;
  }
  std::string submit(int task, int64_t* latency_ns, int* retries) override {
    if (crash_on_submit) ::raise(SIGSEGV);
    *retries = 0;
    *latency_ns = 100;
    (void)task;
    return bound.empty() ? "no_portal" : "ok";
  }
  void after_fork() override { bound.clear(); }
  std::string describe() const override { return "stand-in"; }

  std::multiset<int> bound;
  bool refuse_bind = false;
  bool crash_on_submit = false;
};

Scenario canonical(const std::string& name, RawParams given) {
  WorkloadInfo w = resolve_workload(name, ".", {});
  Scenario sc = w.generate(resolve_params({&w.params}, given));
  validate_scenario(sc);
  return sc;
}

RawParams raw(std::initializer_list<std::pair<const char*, const char*>> kv) {
  RawParams r;
  for (const auto& [k, v] : kv) r[k] = {v, {"test", 0}};
  return r;
}

TEST(HostInterpreter, ThreadPoolBinderStays) {
  StandInDevice dev;
  InterpreterResult res = run_scenario_on_host(
      canonical("thread-pool", raw({{"tasks", "4"}, {"submits", "3"}, {"reuse_probe", "true"}})),
      dev);
  ASSERT_EQ(res.error, "");
  // 3 workers x (3 + 4 polls + 3), the binder's own, the probe's.
  EXPECT_EQ(res.outcomes, (std::map<std::string, int64_t>{{"ok", 32}}));
  EXPECT_EQ(res.submits, 32);
  EXPECT_EQ(res.tasks, 5);
  EXPECT_EQ(res.unexpected, 0);
  EXPECT_EQ(res.bind_ns.size(), 2u);
  EXPECT_EQ(res.unbind_ns.size(), 2u);
  ResultRecord r;
  fill_from_interpreter(res, &r);
  EXPECT_EQ(r.outcome, Outcome::kPass);
  EXPECT_EQ(r.metrics["submits"].value, 32);
}

TEST(HostInterpreter, BinderExitsWhileWorkersGoOn) {
  StandInDevice dev;
  InterpreterResult res = run_scenario_on_host(
      canonical("thread-pool",
                raw({{"tasks", "3"}, {"binder", "exits"}, {"reuse_probe", "false"}})),
      dev);
  ASSERT_EQ(res.error, "");
  // The binder submits once, closes the queue and exits; the workers poll on
  // (2 x (1 + 4 + 1)). How many of their submissions land before the close
  // is up to the real scheduler; after it they find no portal.
  EXPECT_EQ(res.submits, 13);
  EXPECT_GE(res.outcomes["ok"], 1);
  EXPECT_EQ(res.outcomes["ok"] + res.outcomes["no_portal"], 13);
  EXPECT_EQ(res.unexpected, 0);
  EXPECT_EQ(res.tasks, 3);
}

TEST(HostInterpreter, ForksTurnoverAndBystanders) {
  StandInDevice dev;
  InterpreterResult res =
      run_scenario_on_host(canonical("long-lived-binders", raw({{"processes", "2"},
                                                                {"threads", "2"},
                                                                {"submits", "2"},
                                                                {"bystanders", "1"},
                                                                {"turnover", "2"}})),
                           dev);
  ASSERT_EQ(res.error, "");
  // Each binding process: 1 + 2 by its first thread, 2 by its other thread;
  // the launcher's own; each newcomer: its opener's 1, 2 + 2 by its threads.
  EXPECT_EQ(res.outcomes, (std::map<std::string, int64_t>{{"ok", 2 * 5 + 1 + 2 * 5}}));
  EXPECT_EQ(res.unexpected, 0);
}

TEST(HostInterpreter, CloneBindExitRounds) {
  StandInDevice dev;
  InterpreterResult res = run_scenario_on_host(
      canonical("clone-bind-exit", raw({{"rounds", "3"}, {"submits", "2"}, {"idle_ns", "1000"}})),
      dev);
  ASSERT_EQ(res.error, "");
  EXPECT_EQ(res.outcomes, (std::map<std::string, int64_t>{{"ok", 3 * 2 + 1}}));
  EXPECT_EQ(res.bind_ns.size(), 4u);
}

TEST(HostInterpreter, UnexpectedOutcomeFailsWithTheFirstOneNamed) {
  Scenario sc = load_scenario_text(R"(
[scenario]
name = "unbound"
[[task]]
name = "main"
start = "initial"
program = [ { op = "submit", count = 2, expect = "ok" } ]
)",
                                   "unbound.toml");
  StandInDevice dev;
  InterpreterResult res = run_scenario_on_host(sc, dev);
  EXPECT_EQ(res.outcomes, (std::map<std::string, int64_t>{{"no_portal", 2}}));
  EXPECT_EQ(res.unexpected, 2);
  EXPECT_NE(res.first_unexpected.find("expected ok, got no_portal"), std::string::npos)
      << res.first_unexpected;
  EXPECT_NE(res.first_unexpected.find("unbound.toml:"), std::string::npos) << res.first_unexpected;
  ResultRecord r;
  fill_from_interpreter(res, &r);
  EXPECT_EQ(r.outcome, Outcome::kFail);
  EXPECT_EQ(r.reason.rfind("2 of 2 submissions differed", 0), 0u) << r.reason;
}

TEST(HostInterpreter, CrashIsRecordedAndWaitersAreReleased) {
  // The submitter dies before it signals; the waiter must not hang the run.
  Scenario sc = load_scenario_text(R"(
[scenario]
name = "crash"
[[task]]
name = "waiter"
start = "initial"
program = [ { op = "await", flag = "go" } ]
[[task]]
name = "submitter"
start = "initial"
program = [ { op = "bind" }, { op = "submit" }, { op = "signal", flag = "go" } ]
)",
                                   "crash.toml");
  StandInDevice dev;
  dev.crash_on_submit = true;
  InterpreterResult res = run_scenario_on_host(sc, dev);
  EXPECT_TRUE(res.crashed);
  EXPECT_EQ(res.error.rfind("crashed: SIGSEGV in scenario process", 0), 0u) << res.error;
  ResultRecord r;
  fill_from_interpreter(res, &r);
  EXPECT_EQ(r.outcome, Outcome::kCrashed);
}

TEST(HostInterpreter, RefusedBindIsAnErrorWithTheReason) {
  StandInDevice dev;
  dev.refuse_bind = true;
  InterpreterResult res = run_scenario_on_host(
      canonical("thread-pool", raw({{"tasks", "2"}, {"reuse_probe", "false"}})), dev);
  EXPECT_FALSE(res.crashed);
  EXPECT_EQ(res.error, "bind by task 'main': open /dev/dsa/wq0.0: Operation not supported: test");
}

TEST(HostInterpreter, ExecIsRefusedUpFront) {
  Scenario sc = load_scenario_text(R"(
[scenario]
name = "exec"
[[task]]
name = "main"
start = "initial"
program = [ { op = "bind" }, { op = "exec" } ]
)",
                                   "exec.toml");
  StandInDevice dev;
  EXPECT_NE(
      host_cannot_run(sc, dev).find("scenario uses exec (task 'main'), which stand-in cannot"),
      std::string::npos);
  EXPECT_FALSE(run_scenario_on_host(sc, dev).error.empty());
}

TEST(HostInterpreter, ExpectationsMatchHostOutcomes) {
  EXPECT_TRUE(outcome_matches(SubmitExpect::kAny, "timeout"));
  EXPECT_TRUE(outcome_matches(SubmitExpect::kOk, "ok"));
  EXPECT_FALSE(outcome_matches(SubmitExpect::kOk, "gp_sigsegv"));
  EXPECT_TRUE(outcome_matches(SubmitExpect::kGpSigsegv, "gp_sigsegv"));
  for (const char* o : {"fault", "fault_unbound", "timeout", "no_portal"})
    EXPECT_TRUE(outcome_matches(SubmitExpect::kFaultUnbound, o));
  EXPECT_FALSE(outcome_matches(SubmitExpect::kFaultUnbound, "ok"));
}

// exec is a real execve() of pasidbench, which carries on with the task's
// program: inside a repeat (three execs in a row), with the files kept and
// the portal gone, a forked child still waited for, latches shared, and the
// other threads of the process killed (a sleeper that would hold the run
// for 30 s).
TEST(HostInterpreter, ExecCarriesOnInANewImage) {
  Scenario sc = load_scenario_text(R"(
[scenario]
name = "exec"
[[task]]
name = "main"
start = "initial"
program = [
  { op = "bind" },
  { op = "submit", expect = "ok" },
  { op = "fork", task = "child" },
  { op = "clone_thread", task = "sleeper" },
  { op = "repeat", count = 3, body = [ { op = "signal", flag = "tick" }, { op = "exec" } ] },
  { op = "submit", expect = "fault_unbound" },
  { op = "bind" },
  { op = "submit", count = 2, expect = "ok" },
  { op = "unbind" },
  { op = "unbind" },
  { op = "submit", expect = "fault_unbound" },
  { op = "await", flag = "tick", count = 3 },
  { op = "wait", task = "child" },
]
[[task]]
name = "child"
program = [ { op = "submit", expect = "fault_unbound" }, { op = "signal", flag = "child" } ]
[[task]]
name = "sleeper"
program = [ { op = "sleep", ns = 30000000000 } ]
)",
                                   "exec.toml");
  set_exec_image(PASIDBENCH_BINARY);
  LoopbackDevice dev;
  EXPECT_EQ(host_cannot_run(sc, dev), "");
  auto t0 = std::chrono::steady_clock::now();
  InterpreterResult res = run_scenario_on_host(sc, dev);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(20));
  set_exec_image("/proc/self/exe");
  EXPECT_EQ(res.error, "");
  EXPECT_EQ(res.unexpected, 0) << res.first_unexpected;
  EXPECT_EQ(res.outcomes["ok"], 3);
  EXPECT_EQ(res.outcomes["no_portal"], 3);
  EXPECT_EQ(res.tasks, 3);
}

// A failed exec is the run's error, with the reason.
TEST(HostInterpreter, ExecOfAMissingImageIsAnError) {
  Scenario sc = load_scenario_text(R"(
[scenario]
name = "exec"
[[task]]
name = "main"
start = "initial"
program = [ { op = "exec" } ]
)",
                                   "exec.toml");
  set_exec_image("/nonexistent/pasidbench");
  LoopbackDevice dev;
  InterpreterResult res = run_scenario_on_host(sc, dev);
  set_exec_image("/proc/self/exe");
  EXPECT_NE(res.error.find("exec /nonexistent/pasidbench: No such file or directory"),
            std::string::npos)
      << res.error;
}

// An unfixed #GP ends the task, as SIGSEGV does in the model: the rest of
// its program does not run.
TEST(HostInterpreter, AGpSigsegvEndsTheTask) {
  class GpDevice : public LoopbackDevice {
   public:
    std::string submit(int, int64_t*, int*) override { return "gp_sigsegv"; }
  };
  Scenario sc = load_scenario_text(R"(
[scenario]
name = "gp"
[[task]]
name = "main"
start = "initial"
program = [ { op = "bind" }, { op = "submit", count = 5 }, { op = "signal", flag = "after" } ]
)",
                                   "gp.toml");
  GpDevice dev;
  InterpreterResult res = run_scenario_on_host(sc, dev);
  EXPECT_EQ(res.error, "");
  EXPECT_EQ(res.outcomes["gp_sigsegv"], 1);
}

// The example scenario of file steps, on real processes and a real exec:
// the fork child's map of its inherited fd is refused, the parent's closed
// fd keeps its portal until the munmap, the O_CLOEXEC file is gone after
// exec and the other is the old mm's.
TEST(HostInterpreter, InheritedFdScenarioRunsOnTheLoopbackDevice) {
  Scenario sc = load_scenario_file("suites/scenarios/inherited-fd.toml");
  set_exec_image(PASIDBENCH_BINARY);
  LoopbackDevice dev;
  EXPECT_EQ(host_cannot_run(sc, dev), "");
  InterpreterResult res = run_scenario_on_host(sc, dev);
  set_exec_image("/proc/self/exe");
  EXPECT_EQ(res.error, "");
  EXPECT_EQ(res.unexpected, 0) << res.first_unexpected;
  EXPECT_EQ(res.outcomes["ok"], 4);
  EXPECT_EQ(res.outcomes["no_portal"], 3);
  EXPECT_EQ(res.bind_ns.size(), 4u);
}

TEST(HostInterpreter, CloseLeavesThePortalAndUnmapDropsIt) {
  Scenario sc = load_scenario_text(R"(
[scenario]
name = "two-fds"
[[task]]
name = "main"
start = "initial"
program = [
  { op = "bind", fd = "a" }, { op = "bind", fd = "b", map = false },
  { op = "close", fd = "a" }, { op = "submit", expect = "ok" },
  { op = "unmap", fd = "a" }, { op = "submit", expect = "fault_unbound" },
  { op = "map", fd = "b" }, { op = "submit", expect = "ok" },
  { op = "unbind", fd = "b" }, { op = "submit", expect = "fault_unbound" },
]
)",
                                   "two-fds.toml");
  LoopbackDevice dev;
  InterpreterResult res = run_scenario_on_host(sc, dev);
  EXPECT_EQ(res.error, "");
  EXPECT_EQ(res.unexpected, 0) << res.first_unexpected;
  EXPECT_EQ(res.outcomes["ok"], 2);
  EXPECT_EQ(res.outcomes["no_portal"], 2);
}

// What fork and exec leave of the device's files, step by step.
TEST(HostInterpreter, LoopbackFilesAcrossForkAndExec) {
  int64_t ns = 0;
  LoopbackDevice forked;
  ASSERT_EQ(forked.open_file(0, {"wq", false, true}, &ns), "");
  // after_fork() belongs in a forked child (it lets go of a mutex the
  // parent's threads may hold): check it in one, by its exit status.
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    forked.after_fork();
    int child_retries = 0;
    int64_t child_ns = 0;
    bool as_expected = forked.map_file("wq") == "EPERM" &&  // the parent's mm's file
                       forked.map_file("other") == "EBADF" &&
                       forked.submit(0, &child_ns, &child_retries) == "no_portal";
    ::_exit(as_expected ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  int retries = 0;
  EXPECT_EQ(forked.map_file("wq"), "");  // the parent's own file

  LoopbackDevice before_exec;
  ASSERT_EQ(before_exec.open_file(0, {"own", true, true}, &ns), "");
  ASSERT_EQ(before_exec.open_file(0, {"kept", false, false}, &ns), "");
  ASSERT_EQ(before_exec.map_file("kept"), "");
  auto after_exec = LoopbackDevice::from_exec_state(before_exec.state_for_exec());
  EXPECT_EQ(after_exec->map_file("own"), "EBADF");   // closed on exec
  EXPECT_EQ(after_exec->map_file("kept"), "EPERM");  // the old mm's file
  EXPECT_EQ(after_exec->submit(0, &ns, &retries), "no_portal");
}

TEST(HostInterpreter, FileStepsAreRefusedUpFrontOnADeviceWithout) {
  Scenario sc = load_scenario_text(R"(
[scenario]
name = "files"
[[task]]
name = "main"
start = "initial"
program = [ { op = "bind", fd = "wq", map = false }, { op = "map", fd = "wq" } ]
)",
                                   "files.toml");
  StandInDevice dev;
  EXPECT_EQ(host_cannot_run(sc, dev),
            "scenario uses steps on named files (task 'main'), which stand-in does not run");
  EXPECT_FALSE(run_scenario_on_host(sc, dev).error.empty());
}

}  // namespace
}  // namespace pasidbench
