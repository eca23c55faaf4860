// The simulated kernel does what policies.md says the kernels do, so that
// the historical bugs show when written as mutants.
#include <gtest/gtest.h>

#include "kernels/policies/mm_lifetime.h"
#include "kernels/policies/resync_ipi.h"
#include "kernels/policies/task_refcount.h"
#include "tests/cpp/model_test_util.h"

namespace pasidbench::model {
namespace {

using namespace testing;

std::vector<std::string>& hook_log() {
  static std::vector<std::string> log;
  return log;
}

// mm-lifetime, logging the hooks the kernel calls.
class LoggingMmLifetime : public MmLifetime {
 public:
  void exit(KernelOps& k, Task& t, Mm& mm) override {
    hook_log().push_back("exit");
    MmLifetime::exit(k, t, mm);
  }
  void mm_exit(KernelOps& k, Mm& mm) override {
    hook_log().push_back("mm_exit");
    MmLifetime::mm_exit(k, mm);
  }
  HookResult unbind(KernelOps& k, Task& t, Mm& mm, bool last) override {
    hook_log().push_back(last ? "unbind(last)" : "unbind");
    return MmLifetime::unbind(k, t, mm, last);
  }
  void mm_drop(KernelOps& k, Mm& mm) override {
    hook_log().push_back("mm_drop pasid=" + std::to_string(mm.pasid));
    MmLifetime::mm_drop(k, mm);
  }
};

// v5.18-rc1: mm_pasid_drop() in __mmput(), before exit_files() drained the
// queue (fixed by 2667ed10d9f0 "mm: Fix PASID use-after-free issue").
class FreeAtMmput : public MmLifetime {
 public:
  void mm_exit(KernelOps& k, Mm& mm) override { drop_mm_pasid(k, mm); }
  void mm_drop(KernelOps&, Mm&) override {}
};

// An IPI handler that trusts mm_cpumask: it gives whatever task it finds
// the IPI's mm's PASID.
class IpiTrustsCpumask : public ResyncIpi {
 public:
  void ipi(KernelOps& k, int cpu, const Mm& mm) override {
    int current = k.running_task(cpu);
    if (current != kNone) k.write_pasid_msr(k.task(current), mm.pasid);
  }
};

// The static key going off as soon as no mm has a PASID.
class KeyOffWithoutPasids : public ResyncIpi {
 public:
  bool context_switch(KernelOps& k, int cpu, Task* prev, Task& next) override {
    if (k.mms_with_pasid() == 0) return false;
    return ResyncIpi::context_switch(k, cpu, prev, next);
  }
};

// Counts where resync-ipi's IPIs land.
struct IpiLanding {
  int own = 0, unrelated = 0, idle = 0;
};
IpiLanding& landing() {
  static IpiLanding l;
  return l;
}
class CountingResyncIpi : public ResyncIpi {
 public:
  void ipi(KernelOps& k, int cpu, const Mm& mm) override {
    int current = k.running_task(cpu);
    if (current == kNone)
      ++landing().idle;
    else if (k.task(current).mm == mm.id)
      ++landing().own;
    else
      ++landing().unrelated;
    ResyncIpi::ipi(k, cpu, mm);
  }
};

// Every latency choice late, the timed default elsewhere.
class LateChooser final : public Chooser {
 public:
  int choose(const Option*, int n, int default_index, bool data) override {
    return data ? n - 1 : default_index;
  }
};

int pasid_of(const std::vector<PasidInterval>& timeline, const std::string& mm) {
  for (const auto& iv : timeline)
    if (iv.mm == mm) return static_cast<int>(iv.pasid);
  return -1;
}

const char* kTwoProcessesOneAfterTheOther = R"(
[scenario]
name = "reuse"
cpus = 2
[[task]]
name = "first"
start = "initial"
program = [ { op = "bind" }, { op = "submit", expect = "ok" }, { op = "unbind" },
            { op = "signal", flag = "closed" }, { op = "sleep", ns = 100000 } ]
[[task]]
name = "second"
start = "initial"
program = [ { op = "await", flag = "closed" }, { op = "bind" }, { op = "submit", expect = "ok" } ]
)";

TEST(ModelMachine, LowestFreeAllocatorHandsAFreedPasidOutAgain) {
  Scenario sc = scenario(kTwoProcessesOneAfterTheOther);
  // resync-ipi frees at the last unbind: the second process gets PASID 1.
  Recorded resync = reference(sc, policy("resync-ipi"));
  EXPECT_EQ(pasid_of(resync.timeline, "mm0"), 1);
  EXPECT_EQ(pasid_of(resync.timeline, "mm1"), 1);
  EXPECT_EQ(resync.result.counters.pasid_peak_live, 1);
  // mm-lifetime keeps it while the first mm lives: the second gets PASID 2.
  Recorded lifetime = reference(sc, policy("mm-lifetime"));
  EXPECT_EQ(pasid_of(lifetime.timeline, "mm1"), 2);
  EXPECT_EQ(lifetime.result.counters.pasid_peak_live, 2);
}

const char* kExitWithQueueOpen = R"(
[scenario]
name = "exit-open"
cpus = 1
[[task]]
name = "later"
start = "initial"
program = [ { op = "sleep", ns = 500000 }, { op = "compute", ns = 1000 } ]
[[task]]
name = "app"
start = "initial"
program = [ { op = "bind" }, { op = "submit", count = 2, expect = "ok" } ]
)";

// exit_mm() (mmput -> __mmput) runs before exit_files() (the release), and
// mm-lifetime frees the PASID in __mmdrop(): after the driver dropped its
// mm reference and the CPU its lazy one.
TEST(ModelMachine, ExitOrderAndMmCountDecideWhenMmLifetimeFrees) {
  hook_log().clear();
  PolicyInfo logging = test_policy<LoggingMmLifetime>("logging-mm-lifetime");
  Recorded r = reference(scenario(kExitWithQueueOpen), logging);
  std::vector<std::string> want = {"exit", "mm_exit", "unbind(last)"};
  ASSERT_GE(hook_log().size(), 4u);
  EXPECT_EQ(std::vector<std::string>(hook_log().begin(), hook_log().begin() + 3), want);
  // The idle CPU kept app's mm lazily until `later` woke up and ran: that
  // is when __mmdrop() freed the PASID.
  EXPECT_NE(std::find(hook_log().begin(), hook_log().end(), "mm_drop pasid=1"), hook_log().end());
  const int64_t freed = time_of(r.trace, "PASID 1 freed");
  const int64_t later_runs = last_time_of(r.trace, "switch -> later.1");
  ASSERT_GT(freed, 0);
  EXPECT_EQ(freed, later_runs);
  EXPECT_GE(freed, 500000);
  EXPECT_LT(time_of(r.trace, "app.1 exits"), 100000);
  EXPECT_EQ(r.result.outcomes[static_cast<int>(SubmitOutcome::kOk)], 2);
}

const char* kExitWhileDescriptorsInFlight = R"(
[scenario]
name = "uaf"
cpus = 2
[[task]]
name = "app"
start = "initial"
program = [ { op = "bind" }, { op = "submit", expect = "ok" } ]
[[task]]
name = "other"
start = "initial"
program = [ { op = "compute", ns = 5000 }, { op = "bind" }, { op = "submit", expect = "ok" } ]
)";

TEST(ModelMachine, FreeingAtMmputShowsThe518Rc1UseAfterFree) {
  Scenario sc = scenario(kExitWhileDescriptorsInFlight);
  PolicyInfo historical = test_policy<FreeAtMmput>("mm-lifetime/free-at-mmput", "mm-lifetime");
  SearchResult bad = search(sc, historical, Strategy::kExhaustive, 0, 2);
  ASSERT_GE(bad.found.violation, 0);
  const auto v = static_cast<Violation>(bad.found.violation);
  EXPECT_TRUE(v == Violation::kIsolation || v == Violation::kUseAfterFree) << to_string(v);
  EXPECT_EQ(search(sc, policy("mm-lifetime"), Strategy::kExhaustive, 0, 2).found.violation, -1);
  EXPECT_EQ(search(sc, policy("mm-lifetime-lazy-gp"), Strategy::kExhaustive, 0, 2).found.violation,
            -1);
}

const char* kTwoBoundProcesses = R"(
[scenario]
name = "neighbours"
cpus = 2
[[task]]
name = "a"
start = "initial"
program = [ { op = "clone_thread", task = "a-thread" }, { op = "bind" }, { op = "submit", expect = "ok" },
            { op = "unbind" }, { op = "bind" }, { op = "submit", expect = "ok" }, { op = "wait", task = "a-thread" } ]
[[task]]
name = "a-thread"
program = [ { op = "compute", ns = 3000 } ]
[[task]]
name = "b"
start = "initial"
program = [ { op = "bind" }, { op = "repeat", count = 3, body = [ { op = "compute", ns = 4000 }, { op = "submit" } ] } ]
)";

// mm_cpumask is a superset: an IPI for an mm lands on CPUs running
// something else, and a handler that does not check the mm corrupts an
// unrelated process (the reason 9bfecd058339 removed update_pasid()).
TEST(ModelMachine, IpisForAnMmLandOnUnrelatedTasksAndIdleCpus) {
  Scenario sc = scenario(kTwoBoundProcesses);
  landing() = {};
  PolicyInfo counting = test_policy<CountingResyncIpi>("counting-resync-ipi");
  SearchResult s = search(sc, counting, Strategy::kExhaustive, 0, 2);
  EXPECT_EQ(s.found.violation, -1);
  EXPECT_GT(landing().own, 0);
  EXPECT_GT(landing().unrelated, 0);
  EXPECT_GT(landing().idle, 0);

  PolicyInfo trusting =
      test_policy<IpiTrustsCpumask>("resync-ipi/ipi-trusts-cpumask", "resync-ipi");
  SearchResult bad = search(sc, trusting, Strategy::kExhaustive, 0, 2);
  EXPECT_EQ(bad.found.violation, static_cast<int>(Violation::kIsolation));
}

// "turning it off as soon as no mm has a PASID is not enough"
TEST(ModelMachine, ResyncIpiStaticKeyMustWaitForStaleTasks) {
  Scenario sc = canonical("thread-pool", {{"tasks", "3"}, {"cpus", "2"}, {"binder", "unbinds"}});
  PolicyInfo early = test_policy<KeyOffWithoutPasids>("resync-ipi/key-off-early", "resync-ipi");
  SearchResult bad = search(sc, early, Strategy::kExhaustive, 0, 2);
  ASSERT_GE(bad.found.violation, 0);
  EXPECT_LE(bad.found.violation, static_cast<int>(Violation::kUseAfterFree));
}

const char* kCloneAndForkChildren = R"(
[scenario]
name = "children"
cpus = 2
[[task]]
name = "parent"
start = "initial"
program = [ { op = "bind" }, { op = "submit", expect = "ok" },
            { op = "clone_thread", task = "thread" }, { op = "wait", task = "thread" },
            { op = "fork", task = "child" }, { op = "wait", task = "child" } ]
[[task]]
name = "thread"
program = [ { op = "submit", expect = "gp_sigsegv" } ]
[[task]]
name = "child"
program = [ { op = "bind" }, { op = "submit", expect = "ok" } ]
)";

// fpu_clone() clears the PASID state of every new task; a fork child has a
// new mm and a PASID of its own.
TEST(ModelMachine, NewTasksStartWithoutPasidState) {
  Scenario sc = scenario(kCloneAndForkChildren);
  SearchResult s = search(sc, policy("mm-lifetime"), Strategy::kExhaustive, 0, 2);
  EXPECT_EQ(s.found.violation, -1);
  EXPECT_GT(s.outcomes[static_cast<int>(SubmitOutcome::kGpSigsegv)], 0);
  Recorded r = reference(sc, policy("mm-lifetime"));
  EXPECT_EQ(pasid_of(r.timeline, "mm0"), 1);
  EXPECT_EQ(pasid_of(r.timeline, "mm1"), 2);
}

const char* kExecAfterUse = R"(
[scenario]
name = "exec"
cpus = 1
[[task]]
name = "app"
start = "initial"
program = [ { op = "bind" }, { op = "submit", expect = "ok" }, { op = "exec" },
            { op = "bind" }, { op = "submit", expect = "EXPECT" } ]
)";

// exec gives a new mm and resets the extended state; pasid_activated is
// only cleared in dup_task_struct(), so on mainline the first ENQCMD after
// exec takes a #GP the fixup declines.
TEST(ModelMachine, ExecGivesANewMmAndKeepsPasidActivated) {
  auto with = [](const std::string& expect) {
    std::string text = kExecAfterUse;
    text.replace(text.find("EXPECT"), 6, expect);
    return scenario(text);
  };
  Recorded lazy = reference(with("gp_sigsegv"), policy("mm-lifetime-lazy-gp"));
  EXPECT_EQ(lazy.result.violation_kind, -1);
  EXPECT_EQ(lazy.result.counters.pasid_allocs, 2);  // one per mm
  EXPECT_EQ(lazy.result.counters.gp_fixups, 1);
  // task-refcount drops the thread's reference and its flag at exec.
  Recorded refcount = reference(with("ok"), policy("task-refcount"));
  EXPECT_EQ(refcount.result.violation_kind, -1);
  EXPECT_EQ(refcount.result.counters.gp_fixups, 2);
}

// Index of the first trace line containing `text` (the action order), -1.
int line_of(const std::vector<TraceEvent>& trace, const std::string& text) {
  for (size_t i = 0; i < trace.size(); ++i)
    if (trace[i].text.find(text) != std::string::npos) return static_cast<int>(i);
  return -1;
}

const char* kChildMapsTheInheritedFd = R"(
[scenario]
name = "inherited"
cpus = 1
[[task]]
name = "parent"
start = "initial"
program = [ { op = "bind", fd = "wq" }, { op = "submit", expect = "ok" },
            { op = "fork", task = "child" }, { op = "wait", task = "child" },
            { op = "unbind", fd = "wq" } ]
[[task]]
name = "child"
program = [ { op = "map", fd = "wq" }, { op = "submit", expect = "fault_unbound" },
            { op = "bind", fd = "own" }, { op = "submit", expect = "ok" } ]
)";

// fork copies the fd table, not the portal (VM_DONTCOPY), and the file's
// binding is the parent's mm: idxd_cdev_mmap() refuses another mm (EPERM),
// so the child has no portal until it opens its own file.
TEST(ModelMachine, AForkChildCannotMapItsInheritedFd) {
  Scenario sc = scenario(kChildMapsTheInheritedFd);
  for (const auto& name : real_policies()) {
    Recorded r = reference(sc, policy(name));
    EXPECT_EQ(r.result.violation_kind, -1) << name;
    EXPECT_GE(line_of(r.trace, "child.1 mmap 'wq': EPERM"), 0) << name;
    EXPECT_EQ(r.result.outcomes[static_cast<int>(SubmitOutcome::kFaultUnbound)], 1) << name;
    EXPECT_EQ(r.result.outcomes[static_cast<int>(SubmitOutcome::kOk)], 2) << name;
    EXPECT_EQ(search(sc, policy(name), Strategy::kExhaustive, 0, 2).found.violation, -1) << name;
  }
}

const char* kCloseOneOfTwoFds = R"(
[scenario]
name = "two-fds"
cpus = 1
[[task]]
name = "app"
start = "initial"
program = [ { op = "bind", fd = "a" }, { op = "bind", fd = "b", map = false },
            { op = "close", fd = "a" }, { op = "submit", expect = "ok" },
            { op = "unmap", fd = "a" }, { op = "submit", expect = "fault_unbound" },
            { op = "map", fd = "b" }, { op = "submit", expect = "ok" },
            { op = "close", fd = "b" }, { op = "unmap", fd = "b" } ]
)";

// The fd and each portal mapping hold the file; its release (drain, then
// unbind) runs when the last of them goes: after the munmap, not the close.
TEST(ModelMachine, AFilesPortalKeepsItsBindingAfterTheClose) {
  hook_log().clear();
  Recorded r =
      reference(scenario(kCloseOneOfTwoFds), test_policy<LoggingMmLifetime>("logging-mm-lifetime"));
  EXPECT_EQ(r.result.violation_kind, -1);
  EXPECT_EQ(r.result.outcomes[static_cast<int>(SubmitOutcome::kOk)], 2);
  EXPECT_EQ(r.result.outcomes[static_cast<int>(SubmitOutcome::kFaultUnbound)], 1);
  const int close_a = line_of(r.trace, "app.1 close 'a' (its portal keeps the file open)");
  const int unmap_a = line_of(r.trace, "app.1 munmap 'a'");
  const int release = line_of(r.trace, "release: unbind");
  ASSERT_GE(close_a, 0);
  EXPECT_GT(release, unmap_a);
  EXPECT_GT(unmap_a, close_a);
  // 'a' was not the last bind of the mm ('b' was open); 'b' was.
  ASSERT_GE(hook_log().size(), 2u);
  EXPECT_EQ(hook_log()[0], "unbind");
  EXPECT_EQ(hook_log()[1], "unbind(last)");
}

const char* kExecWithACloexecFd = R"(
[scenario]
name = "cloexec"
cpus = 1
[[task]]
name = "app"
start = "initial"
program = [ { op = "bind", fd = "own", cloexec = true }, { op = "bind", fd = "kept" },
            { op = "submit", expect = "ok" }, { op = "exec" },
            { op = "map", fd = "own" }, { op = "map", fd = "kept" },
            { op = "submit", expect = "fault_unbound" }, { op = "compute", ns = 100000 },
            { op = "unbind", fd = "kept" } ]
)";

// exec closes the O_CLOEXEC fd (do_close_on_exec(), after exec_mmap() took
// the old mm and its portals down), so that file is released at once; the
// other stays open, still the old mm's file: it cannot be mapped, and the
// old mm's binding lives until it is closed.
TEST(ModelMachine, ExecClosesCloexecFdsAndKeepsTheOthers) {
  hook_log().clear();
  Recorded r = reference(scenario(kExecWithACloexecFd),
                         test_policy<LoggingMmLifetime>("logging-mm-lifetime"));
  EXPECT_EQ(r.result.violation_kind, -1);
  const int exec = line_of(r.trace, "app.1 close-on-exec 'own'");
  const int first_release = line_of(r.trace, "release: unbind mm0");
  const int ebadf = line_of(r.trace, "app.1 mmap 'own': no such fd (EBADF)");
  const int eperm = line_of(r.trace, "app.1 mmap 'kept': EPERM (mm0's file)");
  const int last_release = line_of(r.trace, "release: unbind mm0 (last)");
  ASSERT_GE(exec, 0);
  EXPECT_GT(first_release, exec);
  EXPECT_GT(ebadf, first_release);
  EXPECT_GT(eperm, ebadf);
  EXPECT_GT(last_release, eperm);
  EXPECT_EQ(r.result.outcomes[static_cast<int>(SubmitOutcome::kFaultUnbound)], 1);
}

const char* kInheritedFdOutlivesTheParentsClose = R"(
[scenario]
name = "holder"
cpus = 2
[[task]]
name = "parent"
start = "initial"
program = [ { op = "bind", fd = "wq" }, { op = "fork", task = "child" },
            { op = "unbind", fd = "wq" }, { op = "signal", flag = "closed" },
            { op = "wait", task = "child" } ]
[[task]]
name = "child"
program = [ { op = "await", flag = "closed" }, { op = "compute", ns = 10000 } ]
)";

// The child's copy of the fd holds the parent's file: the parent's munmap
// and close leave it open, and the child's exit_files() runs its release,
// on the parent's mm.
TEST(ModelMachine, AnInheritedFdKeepsTheParentsBindingUntilTheChildLetsGo) {
  Recorded r = reference(scenario(kInheritedFdOutlivesTheParentsClose), policy("resync-ipi"));
  EXPECT_EQ(r.result.violation_kind, -1);
  const int unbind = line_of(r.trace, "parent.1 unbind 'wq': munmap+close");
  const int release = line_of(r.trace, "release: unbind mm0 (last)");
  ASSERT_GE(unbind, 0);
  ASSERT_GT(release, unbind);
  EXPECT_NE(r.trace[release].text.find("child.1 release"), std::string::npos)
      << r.trace[release].text;
  EXPECT_GT(release, line_of(r.trace, "child.1 exit_files: closes 1 wq fd(s)"));
}

const char* kSubmitThenClose = R"(
[scenario]
name = "drain"
cpus = 2
[[task]]
name = "app"
start = "initial"
program = [ { op = "bind" }, { op = "submit", count = 3, expect = "ok" }, { op = "unbind" },
            { op = "signal", flag = "closed" }, { op = "sleep", ns = 1000000 } ]
[[task]]
name = "next"
start = "initial"
program = [ { op = "await", flag = "closed" }, { op = "bind" }, { op = "submit", expect = "ok" } ]
)";

// The device runs descriptors later; the release drains the PASID's queue
// before it unbinds, so late descriptors still reach their own mm. IPIs
// arrive after their latency.
TEST(ModelMachine, ReleaseDrainsLateDescriptorsAndIpisTakeTheirLatency) {
  Scenario sc = scenario(kSubmitThenClose);
  for (const char* name : {"resync-ipi", "task-refcount", "mm-lifetime-lazy-gp"}) {
    Machine m(sc, policy(name), MachineConfig{});
    LateChooser late;
    ScheduleResult r;
    m.run(late, true, r);
    EXPECT_EQ(r.violation_kind, -1) << name;
    EXPECT_EQ(r.outcomes[static_cast<int>(SubmitOutcome::kOk)], 4) << name;
    EXPECT_GE(time_of(m.trace(), "drain PASID 1, waits"), 0) << name;
  }
  Costs costs;
  // The pool is running when the binder binds: the bind sends an IPI.
  Machine m(canonical("thread-pool", {{"binder", "unbinds"}}), policy("resync-ipi"),
            MachineConfig{});
  for (bool slow : {false, true}) {
    LateChooser late;
    DefaultChooser prompt;
    ScheduleResult r;
    m.run(slow ? static_cast<Chooser&>(late) : prompt, true, r);
    int64_t sent = -1, delivered = -1;
    for (const auto& e : m.trace()) {
      if (sent < 0 && e.text.find("IPI -> cpu") != std::string::npos) sent = e.time_ns;
      if (delivered < 0 && e.text.find("IPI from") != std::string::npos) delivered = e.time_ns;
    }
    ASSERT_GE(sent, 0);
    EXPECT_EQ(delivered - sent, slow ? costs.ipi_late_ns : costs.ipi_ns);
  }
}

const char* kThreadSubmitsThrice = R"(
[scenario]
name = "gp"
cpus = 2
[[task]]
name = "main"
start = "initial"
program = [ { op = "bind" }, { op = "clone_thread", task = "t" }, { op = "wait", task = "t" } ]
[[task]]
name = "t"
program = [ { op = "submit", count = 3, expect = "ok" } ]
)";

TEST(ModelMachine, GpFixupLoadsTheMsrOncePerThread) {
  Scenario sc = scenario(kThreadSubmitsThrice);
  Recorded lazy = reference(sc, policy("mm-lifetime-lazy-gp"));
  EXPECT_EQ(lazy.result.violation_kind, -1);
  EXPECT_EQ(lazy.result.counters.gp_fixups, 1);
  EXPECT_EQ(lazy.result.counters.submits, 3);
  // Plain mm-lifetime loads only the binder's MSR: the thread's #GP stands.
  Recorded plain = reference(sc, policy("mm-lifetime"));
  EXPECT_EQ(plain.result.violation_kind, static_cast<int>(Violation::kUnexpectedOutcome));
  EXPECT_EQ(plain.result.outcomes[static_cast<int>(SubmitOutcome::kGpSigsegv)], 1);
}

const char* kWaitForTheDead = R"(
[scenario]
name = "deadlock"
cpus = 2
[[task]]
name = "main"
start = "initial"
program = [ { op = "bind" }, { op = "clone_thread", task = "t" }, { op = "await", flag = "done" } ]
[[task]]
name = "t"
program = [ { op = "submit" }, { op = "signal", flag = "done" } ]
)";

const char* kForkChildComputes = R"(
[scenario]
name = "fork-child-computes"
cpus = 2
[[task]]
name = "parent"
start = "initial"
program = [ { op = "bind" }, { op = "submit", expect = "ok" }, { op = "fork", task = "child" },
            { op = "wait", task = "child" } ]
[[task]]
name = "child"
program = [ { op = "compute", ns = 5000 } ]
)";

// A fork child that inherited its parent's IA32_PASID (fork-inherits) holds
// another mm's PASID while it runs, though it never submits: the invariant
// catches what no descriptor would show. The correct parent stays clean.
TEST(ModelMachine, StalePasidHeldIsCaughtWithoutASubmission) {
  Scenario sc = scenario(kForkChildComputes);
  Recorded bad = reference(sc, policy("mm-lifetime/fork-inherits"));
  EXPECT_EQ(bad.result.violation_kind, static_cast<int>(Violation::kStalePasidHeld));
  EXPECT_EQ(bad.result.violations[static_cast<int>(Violation::kIsolation)], 0);
  EXPECT_GE(time_of(bad.trace,
                    "stale_pasid_held: child.1 (mm1) runs user code with PASID 1 "
                    "which belongs to mm0"),
            0);
  SearchResult good = search(sc, policy("mm-lifetime"), Strategy::kExhaustive, 0, 2);
  EXPECT_EQ(good.found.violation, -1);
  EXPECT_GT(good.schedules, 1);
}

// resync-ipi leaves stale values in switched-out threads on purpose and
// fixes them at the switch-in: the invariant only looks at a task running
// user code. Its mutant without the switch-in resync is caught on the same
// scenario by the invariant alone (binder=exits has no stale submission).
TEST(ModelMachine, SwitchedOutTasksMayHoldAStalePasidUntilTheirResync) {
  Scenario sc = canonical("thread-pool", {{"tasks", "3"}, {"cpus", "2"}, {"binder", "exits"}});
  SearchResult good = search(sc, policy("resync-ipi"), Strategy::kExhaustive, 0, 2);
  EXPECT_EQ(good.found.violation, -1);
  SearchResult bad = search(sc, policy("resync-ipi/no-switch-resync"), Strategy::kExhaustive, 0, 2);
  EXPECT_EQ(bad.found.violation, static_cast<int>(Violation::kStalePasidHeld));
  EXPECT_EQ(bad.failing_schedules[static_cast<int>(Violation::kIsolation)], 0);
  EXPECT_EQ(bad.failing_schedules[static_cast<int>(Violation::kUseAfterFree)], 0);
}

// A policy that gives the mm a new PASID at every bind (and leaks the old):
// the old PASID-table entry outlives the mm's PASID.
class BindReallocates : public MmLifetime {
 public:
  HookResult bind(KernelOps& k, Task& t, Mm& mm) override {
    k.set_mm_pasid(mm, k.pasid_alloc(mm));
    load_msr_at_bind(k, t, mm);
    return {};
  }
};

const char* kBindTwice = R"(
[scenario]
name = "bind-twice"
cpus = 1
[[task]]
name = "app"
start = "initial"
program = [ { op = "bind" }, { op = "bind" }, { op = "unbind" }, { op = "unbind" } ]
)";

TEST(ModelMachine, APasidTableEntryWithoutItsBindingIsStale) {
  Scenario sc = scenario(kBindTwice);
  PolicyInfo realloc = test_policy<BindReallocates>("mm-lifetime/bind-reallocates", "mm-lifetime");
  Recorded bad = reference(sc, realloc);
  EXPECT_EQ(bad.result.violation_kind, static_cast<int>(Violation::kPasidTableStale));
  EXPECT_GE(time_of(bad.trace,
                    "pasid_table_stale: the PASID table maps PASID 1 to mm0, whose "
                    "PASID is 2"),
            0);
  Recorded good = reference(sc, policy("mm-lifetime"));
  EXPECT_EQ(good.result.violation_kind, -1);
}

TEST(ModelMachine, ATaskWaitingForeverIsADeadlock) {
  // Under plain mm-lifetime the thread dies of the #GP before it signals.
  Recorded r = reference(scenario(kWaitForTheDead), policy("mm-lifetime"));
  EXPECT_EQ(r.result.violation_kind, static_cast<int>(Violation::kDeadlock));
  Recorded ok = reference(scenario(kWaitForTheDead), policy("mm-lifetime-lazy-gp"));
  EXPECT_EQ(ok.result.violation_kind, -1);
}

TEST(ModelMachine, RejectsScenariosBeyondItsLimits) {
  Scenario deep = canonical("thread-pool");
  std::vector<Step>* body = &deep.tasks[0].program;
  for (int i = 0; i < 9; ++i) {
    Step loop;
    loop.op = StepOp::kRepeat;
    body->push_back(loop);
    body = &body->back().body;
  }
  body->push_back(Step{});
  EXPECT_THROW(Machine(deep, policy("resync-ipi"), MachineConfig{}), InputError);
  Scenario many = canonical("thread-pool");
  many.cpus = 65;
  EXPECT_THROW(Machine(many, policy("resync-ipi"), MachineConfig{}), InputError);
  Scenario huge = canonical("long-lived-binders", {{"processes", "64"}, {"threads", "64"}});
  huge.tasks[0].instances = 64000;
  EXPECT_THROW(Machine(huge, policy("resync-ipi"), MachineConfig{}), InputError);
}

}  // namespace
}  // namespace pasidbench::model
