#include <gtest/gtest.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <set>
#include <thread>

#include "platform/affinity.h"
#include "platform/topology.h"

namespace pasidbench {
namespace {

TEST(HostTopology, CrossCpuPrefersAnotherCoreOverAnSmtSibling) {
  CpuTopology t = CpuTopology::synthetic("package:1 core:2 pu:2");
  ASSERT_EQ(t.pus().size(), 4u);
  EXPECT_EQ(t.cores(), 2);
  EXPECT_TRUE(t.smt());
  CpuPair same = t.pick_pair(Placement::kSameCpu);
  EXPECT_EQ(same.first, same.second);
  CpuPair cross = t.pick_pair(Placement::kCrossCpu);
  EXPECT_EQ(cross.relation, "different cores");
  const auto& pus = t.pus();
  auto core_of = [&](int os) {
    for (const auto& p : pus)
      if (p.os_index == os) return p.core;
    return -1;
  };
  EXPECT_NE(core_of(cross.first), core_of(cross.second));
}

TEST(HostTopology, SmtSiblingsWhenThatIsAllThereIs) {
  CpuTopology t = CpuTopology::synthetic("package:1 core:1 pu:2");
  EXPECT_EQ(t.pick_pair(Placement::kCrossCpu).relation, "SMT siblings");
}

TEST(HostTopology, DifferentPackagesOnlyAfterSamePackage) {
  CpuTopology t = CpuTopology::synthetic("package:2 core:1 pu:1");
  EXPECT_EQ(t.pick_pair(Placement::kCrossCpu).relation, "different packages");
  CpuTopology u = CpuTopology::synthetic("package:2 core:2 pu:1");
  EXPECT_EQ(u.pick_pair(Placement::kCrossCpu).relation, "different cores");
}

TEST(HostTopology, DistinctSpreadsOverCoresFirst) {
  CpuTopology t = CpuTopology::synthetic("package:1 core:3 pu:2");
  std::vector<int> cpus = t.pick_distinct(3, "test");
  std::set<int> cores;
  for (int os : cpus)
    for (const auto& p : t.pus())
      if (p.os_index == os) cores.insert(p.core);
  EXPECT_EQ(cores.size(), 3u);
  EXPECT_EQ(t.pick_distinct(6, "test").size(), 6u);
}

TEST(HostTopology, MoreThreadsThanCpusIsAClearError) {
  CpuTopology t = CpuTopology::synthetic("package:1 core:2 pu:1");
  try {
    t.pick_distinct(5, "membarrier with 4 spinning thread(s)");
    FAIL() << "no error";
  } catch (const PlacementError& e) {
    EXPECT_EQ(std::string(e.what()).rfind(
                  "membarrier with 4 spinning thread(s) needs 5 CPUs; this process may "
                  "run on 2 (1 package, 2 cores, 2 PUs (SMT off)",
                  0),
              0u)
        << e.what();
  }
  CpuTopology one = CpuTopology::synthetic("package:1 core:1 pu:1");
  EXPECT_THROW(one.pick_pair(Placement::kCrossCpu), PlacementError);
}

TEST(HostTopology, LiveMachineHasAtLeastOneCpuAndPinsToIt) {
  CpuTopology t = CpuTopology::discover();
  ASSERT_FALSE(t.pus().empty()) << t.note();
  int cpu = t.pick_pair(Placement::kSameCpu).first;
  std::thread th([&] {
    t.pin_current_thread(cpu);
    EXPECT_EQ(sched_getcpu(), cpu);
  });
  th.join();
  EXPECT_THROW(t.pin_current_thread(100000), PlacementError);
}

TEST(Affinity, PinsTheCallingThreadAndRestoresItsCpus) {
  const std::vector<int> all = allowed_cpus();
  ASSERT_FALSE(all.empty());
  std::thread th([&] {
    EXPECT_EQ(pin_calling_thread(all.back()), 0);
    EXPECT_EQ(allowed_cpus(), std::vector<int>{all.back()});
    EXPECT_EQ(sched_getcpu(), all.back());
    EXPECT_EQ(set_allowed_cpus(all), 0);
    EXPECT_EQ(allowed_cpus(), all);
    EXPECT_EQ(pin_calling_thread(-1), EINVAL);
    EXPECT_EQ(pin_calling_thread(CPU_SETSIZE), EINVAL);
    EXPECT_EQ(set_allowed_cpus({}), EINVAL);
    EXPECT_EQ(allowed_cpus(), all) << "a refused call changes nothing";
  });
  th.join();
  EXPECT_EQ(allowed_cpus(), all) << "only the calling thread moves";
}

TEST(HostTopology, AffinityMaskIsHonoured) {
  // As under taskset or a lab runner's pinning: only the allowed CPU is used.
  CpuTopology all = CpuTopology::discover();
  int last = all.pus().back().os_index;
  pid_t pid = ::fork();
  if (pid == 0) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(last, &set);
    if (sched_setaffinity(0, sizeof set, &set) != 0) ::_exit(3);
    CpuTopology t = CpuTopology::discover();
    bool ok = t.pus().size() == 1 && t.pus()[0].os_index == last &&
              t.pick_pair(Placement::kSameCpu).first == last;
    ::_exit(ok ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

TEST(HostTopology, PlacementNamesRoundTrip) {
  Placement p;
  ASSERT_TRUE(parse_placement("cross_cpu", &p));
  EXPECT_STREQ(to_string(p), "cross_cpu");
  EXPECT_FALSE(parse_placement("cpu0", &p));
}

}  // namespace
}  // namespace pasidbench
