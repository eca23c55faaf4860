#include <gtest/gtest.h>

#include "suites/workload/scenario_toml.h"
#include "suites/workload/workloads.h"

namespace pasidbench {
namespace {

std::string error_of(const std::string& text) {
  try {
    load_scenario_text(text, "t.toml");
  } catch (const InputError& e) {
    return e.what();
  }
  return "no error";
}

constexpr const char* kGood = R"(
[scenario]
name = "seed"
cpus = 2

[[task]]
name = "main"
start = "initial"
program = [
  { op = "repeat", count = 2, body = [
    { op = "clone_thread", task = "worker" },
    { op = "wait", task = "worker" },
  ] },
  { op = "compute", ns = 5000 },
]

[[task]]
name = "worker"
program = [
  { op = "bind" },
  { op = "submit", count = 2, expect = "ok" },
  { op = "unbind" },
]
)";

TEST(ScenarioToml, LoadsProgramsWithRepeat) {
  Scenario sc = load_scenario_text(kGood, "t.toml");
  ASSERT_EQ(sc.tasks.size(), 2u);
  EXPECT_TRUE(sc.tasks[0].initial);
  EXPECT_FALSE(sc.tasks[1].initial);
  ASSERT_EQ(sc.tasks[0].program.size(), 2u);
  EXPECT_EQ(sc.tasks[0].program[0].op, StepOp::kRepeat);
  EXPECT_EQ(sc.tasks[0].program[0].count, 2);
  EXPECT_EQ(sc.tasks[0].program[0].body.size(), 2u);
  EXPECT_EQ(sc.tasks[1].program[1].expect, SubmitExpect::kOk);
  EXPECT_EQ(sc.tasks[1].program[1].where.line, 21);
}

TEST(ScenarioToml, RoundTripsThroughToml) {
  Scenario sc = load_scenario_text(kGood, "t.toml");
  Scenario again = load_scenario_text(scenario_to_toml(sc), "again.toml");
  EXPECT_EQ(scenario_to_toml(sc), scenario_to_toml(again));
}

// Found by tests/fuzz/scenario_fuzz: a control character in a text field was
// written raw, and the replay file it went into could not be read back.
TEST(ScenarioToml, ControlCharactersRoundTrip) {
  Scenario sc = load_scenario_text(kGood, "t.toml");
  sc.description = std::string(
      "a\x01"
      "b\rc\nd\te\x7f"
      "\"\\");
  Scenario again = load_scenario_text(scenario_to_toml(sc), "again.toml");
  EXPECT_EQ(again.description, sc.description);
}

TEST(ScenarioToml, CanonicalWorkloadsRoundTrip) {
  for (const auto& w : builtin_workloads()) {
    if (!w.generate) continue;
    ParamValues defaults = resolve_params({&w.params}, {});
    Scenario sc = w.generate(defaults);
    validate_scenario(sc);
    Scenario again = load_scenario_text(scenario_to_toml(sc), w.name + ".toml");
    EXPECT_EQ(scenario_to_toml(sc), scenario_to_toml(again)) << w.name;
  }
}

TEST(ScenarioToml, SyntaxErrorNamesLine) {
  EXPECT_EQ(error_of("[scenario]\nname = \"x\"\ncpus = = 2\n").rfind("t.toml:3: TOML syntax", 0),
            0u);
}

struct BadScenario {
  const char* name;
  const char* text;
  const char* expected;  // prefix of the message
};

class ScenarioBadInput : public ::testing::TestWithParam<BadScenario> {};

TEST_P(ScenarioBadInput, NamesFileLineAndProblem) {
  const auto& c = GetParam();
  std::string msg = error_of(c.text);
  EXPECT_EQ(msg.rfind(c.expected, 0), 0u) << "got: " << msg;
}

INSTANTIATE_TEST_SUITE_P(
    Each, ScenarioBadInput,
    ::testing::Values(
        BadScenario{"unknown_op",
                    "[scenario]\nname = \"x\"\n[[task]]\nname = \"a\"\nstart = \"initial\"\n"
                    "program = [ { op = \"jump\" } ]\n",
                    "t.toml:6: unknown op 'jump'"},
        BadScenario{"unknown_key",
                    "[scenario]\nname = \"x\"\ncolour = 1\n[[task]]\nname = \"a\"\n"
                    "start = \"initial\"\nprogram = []\n",
                    "t.toml:3: unknown key 'colour'"},
        BadScenario{"waits_on_itself",
                    "[scenario]\nname = \"x\"\n[[task]]\nname = \"a\"\nstart = \"initial\"\n"
                    "program = [ { op = \"wait\", task = \"a\" } ]\n",
                    "t.toml:6: task 'a' waits on itself"},
        BadScenario{"await_never_signalled",
                    "[scenario]\nname = \"x\"\n[[task]]\nname = \"a\"\nstart = \"initial\"\n"
                    "program = [ { op = \"await\", flag = \"go\" } ]\n",
                    "t.toml:6: await 'go' for 1 signals can never be satisfied"},
        BadScenario{"unknown_template",
                    "[scenario]\nname = \"x\"\n[[task]]\nname = \"a\"\nstart = \"initial\"\n"
                    "program = [ { op = \"fork\", task = \"b\" } ]\n",
                    "t.toml:6: task 'a' starts unknown task 'b'"},
        BadScenario{"self_spawning",
                    "[scenario]\nname = \"x\"\n[[task]]\nname = \"a\"\nstart = \"initial\"\n"
                    "program = [ { op = \"fork\", task = \"b\" } ]\n[[task]]\nname = \"b\"\n"
                    "program = [ { op = \"clone_thread\", task = \"b\" } ]\n",
                    "t.toml:7: task 'b' starts itself"},
        BadScenario{"wrong_type",
                    "[scenario]\nname = \"x\"\ncpus = \"two\"\n[[task]]\nname = \"a\"\n"
                    "start = \"initial\"\nprogram = []\n",
                    "t.toml:3: 'cpus' must be an integer"},
        BadScenario{"zero_cpus",
                    "[scenario]\nname = \"x\"\ncpus = 0\n[[task]]\nname = \"a\"\n"
                    "start = \"initial\"\nprogram = []\n",
                    "t.toml:1: scenario 'x': cpus must be 1..4096"},
        BadScenario{"bad_expect",
                    "[scenario]\nname = \"x\"\n[[task]]\nname = \"a\"\nstart = \"initial\"\n"
                    "program = [ { op = \"submit\", expect = \"great\" } ]\n",
                    "t.toml:6: unknown expect 'great'"}),
    [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace pasidbench
