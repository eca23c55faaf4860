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
    expected += hooks.size() * 3 + (waits ? 2 : 0);  // no-ack only on bind/unbind of waiters
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

}  // namespace
}  // namespace pasidbench::model
