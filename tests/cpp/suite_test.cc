#include "suites/workload/suite.h"

#include <gtest/gtest.h>

#include "runners/suite_runner.h"

namespace pasidbench {
namespace {

std::string error_of(const std::string& text) {
  try {
    Suite s = load_suite_text(text, "s.toml");
    plan_suite(s, {}, {});
  } catch (const InputError& e) {
    return e.what();
  }
  return "no error";
}

TEST(SuiteManifest, ParamListsMultiplyIntoTests) {
  Suite s = load_suite_text(R"([suite]
name = "m"
backends = ["host"]
[[test]]
workload = "thread-pool"
params = { binder = ["stays", "exits"], tasks = [3, 4] }
)",
                            "s.toml");
  std::vector<TestCase> plan = plan_suite(s, {}, {});
  ASSERT_EQ(plan.size(), 4u);
  EXPECT_EQ(plan[0].test_id, "thread-pool[binder=stays,tasks=3]@host");
  EXPECT_EQ(plan[3].test_id, "thread-pool[binder=exits,tasks=4]@host");
  EXPECT_EQ(plan[3].params.get("binder"), "exits");
  EXPECT_EQ(plan[3].params.get_int("tasks"), 4);
  EXPECT_EQ(plan[3].params.get("cpus"), "2");  // default filled in
  EXPECT_EQ(plan[0].timeout_s, 120);
}

TEST(SuiteManifest, BackendOverrideReplacesSuiteBackends) {
  Suite s = load_suite_text(
      "[suite]\nname = \"m\"\nbackends = [\"nope\"]\n[[test]]\nworkload = \"thread-pool\"\n",
      "s.toml");
  std::vector<TestCase> plan = plan_suite(s, {"host"}, {});
  ASSERT_EQ(plan.size(), 1u);
  EXPECT_EQ(plan[0].backend, "host");
}

struct BadSuite {
  const char* name;
  const char* text;
  const char* expected;
};
class SuiteBadInput : public ::testing::TestWithParam<BadSuite> {};

TEST_P(SuiteBadInput, NamesFileLineAndProblem) {
  std::string msg = error_of(GetParam().text);
  EXPECT_EQ(msg.rfind(GetParam().expected, 0), 0u) << "got: " << msg;
}

INSTANTIATE_TEST_SUITE_P(
    Each, SuiteBadInput,
    ::testing::Values(
        BadSuite{"unknown_workload",
                 "[suite]\nname = \"m\"\nbackends = [\"host\"]\n[[test]]\nworkload = \"pool\"\n",
                 "s.toml:4: unknown workload 'pool'"},
        BadSuite{"unknown_backend",
                 "[suite]\nname = \"m\"\nbackends = [\"model:nope\"]\n[[test]]\nworkload = "
                 "\"thread-pool\"\n",
                 "s.toml:4: unknown model variant 'nope'"},
        BadSuite{"unknown_param",
                 "[suite]\nname = \"m\"\nbackends = [\"host\"]\n[[test]]\nworkload = "
                 "\"thread-pool\"\nparams = { colour = 1 }\n",
                 "s.toml:6: unknown parameter 'colour'"},
        BadSuite{"param_out_of_range",
                 "[suite]\nname = \"m\"\nbackends = [\"host\"]\n[[test]]\nworkload = "
                 "\"thread-pool\"\nparams = { cpus = 0 }\n",
                 "s.toml:6: parameter 'cpus': 0 is out of range"},
        BadSuite{"bad_choice",
                 "[suite]\nname = \"m\"\nbackends = [\"host\"]\n[[test]]\nworkload = "
                 "\"thread-pool\"\nparams = { binder = \"leaves\" }\n",
                 "s.toml:6: parameter 'binder': 'leaves' is not one of the choices"},
        BadSuite{"no_backends", "[suite]\nname = \"m\"\n[[test]]\nworkload = \"thread-pool\"\n",
                 "s.toml:3: no backends"},
        BadSuite{"missing_scenario_file",
                 "[suite]\nname = \"m\"\nbackends = [\"host\"]\n[[test]]\nworkload = "
                 "\"nowhere.toml\"\n",
                 "s.toml:4: scenario file not found"},
        BadSuite{"syntax", "[suite\nname = \"m\"\n", "s.toml:1: TOML syntax"},
        BadSuite{"no_tests", "[suite]\nname = \"m\"\nbackends = [\"host\"]\n",
                 "s.toml:1: a suite needs one or more [[test]] tables"},
        BadSuite{"unknown_suite_key",
                 "[suite]\nname = \"m\"\nbackend = [\"host\"]\n[[test]]\nworkload = \"x\"\n",
                 "s.toml:3: unknown key 'backend' in [suite]"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(Params, FlagNeedsKeyValue) {
  EXPECT_THROW(split_param_flag("tasks"), InputError);
  EXPECT_THROW(split_param_flag("=3"), InputError);
  EXPECT_EQ(split_param_flag("tasks=3").second, "3");
}

}  // namespace
}  // namespace pasidbench
