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

// A mutant with state of its own (late keeps the hook call it owes) must
// start every schedule afresh: the same schedule gives the same digest in a
// machine that ran others before it and in a new one, as a replay needs.
TEST(Mutation, LateMutantsReplayInAFreshMachine) {
  const PolicyInfo* m = find_policy("resync-ipi~late:context_switch");
  ASSERT_NE(m, nullptr);
  Scenario sc = canonical(small_sizes()[0]);
  SearchResult r = search(sc, *m, Strategy::kRandom, 200);
  ASSERT_GE(r.found.violation, 0);
  Machine fresh(sc, *m, MachineConfig{});
  std::string divergence;
  ScheduleResult again = replay_schedule(fresh, r.found.deviations, true, false, &divergence);
  EXPECT_EQ(divergence, "");
  EXPECT_EQ(again.violation_kind, r.found.violation);
  EXPECT_EQ(again.violation_event, r.found.event);
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
