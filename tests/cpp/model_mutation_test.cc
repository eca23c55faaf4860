// The generated mutants (kernels/policies/mutation.h): names, counts, and
// that a mutant which breaks a policy is caught at small size.
#include <gtest/gtest.h>

#include "kernels/policies/mutation.h"
#include "tests/cpp/model_test_util.h"

namespace pasidbench::model {
namespace {

using testing::canonical;
using testing::search;

TEST(Mutation, NamesAndCountsFollowTheHookTable) {
  size_t expected = 0;
  for (const auto& p : policy_catalog()) {
    if (!p.parent.empty()) continue;
    const auto& hooks = mutated_hooks(p.name);
    EXPECT_FALSE(hooks.empty()) << p.name;
    bool waits = false;
    for (const auto& h : hooks) waits = waits || h == "acks_done";
    // skip, twice, wrong-task, late on every hook; no-ack only on bind and
    // unbind of the policies that wait; free-early on its own events.
    expected += hooks.size() * 4 + (waits ? 2 : 0) + free_early_hooks(p.name).size();
  }
  EXPECT_EQ(generated_mutants().size(), expected);
  for (const auto& m : generated_mutants()) {
    EXPECT_EQ(m.info.name, m.info.parent + "~" + m.op + ":" + m.hook);
    EXPECT_EQ(find_policy(m.info.name), &m.info);                           // replays find it
    for (const auto& p : policy_catalog()) EXPECT_NE(p.name, m.info.name);  // not in model:**
  }
}

TEST(Mutation, SkippingResyncIpisContextSwitchIsCaught) {
  const PolicyInfo* m = find_policy("resync-ipi~skip:context_switch");
  ASSERT_NE(m, nullptr);
  SearchResult r = search(canonical(small_sizes()[0]), *m, Strategy::kExhaustive);
  EXPECT_GE(r.found.violation, 0);
  SearchResult real =
      search(canonical(small_sizes()[0]), *find_policy("resync-ipi"), Strategy::kExhaustive);
  EXPECT_EQ(real.found.violation, -1);
}

// A mutant with state of its own (late owes a hook call at the end of a
// schedule, wrong-task remembers the tasks it saw) must start every
// schedule afresh: the second schedule a machine runs is the same as the
// first one of a new machine, as a replay needs.
TEST(Mutation, StatefulMutantsStartEveryScheduleAfresh) {
  for (const char* name :
       {"resync-ipi~late:context_switch", "resync-ipi~late:return_to_user",
        "resync-ipi~wrong-task:context_switch", "task-refcount~wrong-task:gp_fault"}) {
    const PolicyInfo* m = find_policy(name);
    ASSERT_NE(m, nullptr) << name;
    for (const auto& size : small_sizes()) {
      Scenario sc = canonical(size);
      Machine used(sc, *m, MachineConfig{});
      for (uint64_t seed = 1; seed <= 40; ++seed) {
        RandomChooser random;
        ScheduleResult after_others, alone;
        random.begin(seed);
        used.run(random, false, after_others);
        Machine fresh(sc, *m, MachineConfig{});
        random.begin(seed);
        fresh.run(random, false, alone);
        ASSERT_EQ(after_others.digest, alone.digest)
            << name << " on " << size.workload << ", seed " << seed;
      }
    }
  }
}

// free-early on mm_exit is the v5.18-rc1 free in __mmput(): descriptors
// still in flight at exit reach a freed PASID. Plain mm-lifetime frees in
// __mmdrop() and passes the same search.
TEST(Mutation, FreeEarlyAtMmExitIsTheMmputBug) {
  const PolicyInfo* m = find_policy("mm-lifetime~free-early:mm_exit");
  ASSERT_NE(m, nullptr);
  const PolicyInfo* real = find_policy("mm-lifetime");
  bool caught = false;
  for (const auto& size : small_sizes()) {
    caught |= search(canonical(size), *m, Strategy::kExhaustive).found.violation >= 0;
    EXPECT_EQ(search(canonical(size), *real, Strategy::kExhaustive).found.violation, -1);
  }
  EXPECT_TRUE(caught);
}

}  // namespace
}  // namespace pasidbench::model
