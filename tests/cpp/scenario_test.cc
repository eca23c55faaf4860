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

constexpr const char* kFileSteps = R"(
[scenario]
name = "files"

[[task]]
name = "main"
start = "initial"
program = [
  { op = "bind", fd = "wq", cloexec = true },
  { op = "bind", fd = "spare", map = false },
  { op = "bind" },
  { op = "fork", task = "child" },
  { op = "close", fd = "wq" },
  { op = "unmap", fd = "wq" },
  { op = "unbind", fd = "spare" },
  { op = "unbind" },
]

[[task]]
name = "child"
program = [ { op = "map", fd = "wq" } ]
)";

TEST(ScenarioToml, LoadsFileStepsAndRoundTripsThem) {
  Scenario sc = load_scenario_text(kFileSteps, "t.toml");
  const auto& p = sc.tasks[0].program;
  ASSERT_EQ(p.size(), 8u);
  EXPECT_EQ(p[0].op, StepOp::kBind);
  EXPECT_EQ(p[0].fd, "wq");
  EXPECT_TRUE(p[0].cloexec);
  EXPECT_TRUE(p[0].map);
  EXPECT_EQ(p[1].fd, "spare");
  EXPECT_FALSE(p[1].cloexec);
  EXPECT_FALSE(p[1].map);
  // A bare bind means what it always did: unnamed, kept over exec, mapped.
  EXPECT_EQ(p[2].fd, "");
  EXPECT_FALSE(p[2].cloexec);
  EXPECT_TRUE(p[2].map);
  EXPECT_EQ(p[4].op, StepOp::kClose);
  EXPECT_EQ(p[5].op, StepOp::kUnmap);
  EXPECT_EQ(p[6].op, StepOp::kUnbind);
  EXPECT_EQ(p[6].fd, "spare");
  EXPECT_EQ(p[7].fd, "");
  EXPECT_EQ(sc.tasks[1].program[0].op, StepOp::kMap);
  EXPECT_EQ(sc.tasks[1].program[0].fd, "wq");
  const std::string text = scenario_to_toml(sc);
  EXPECT_NE(text.find(R"({ op = "bind", fd = "wq", cloexec = true })"), std::string::npos) << text;
  EXPECT_NE(text.find(R"({ op = "bind", fd = "spare", map = false })"), std::string::npos) << text;
  EXPECT_NE(text.find(R"({ op = "bind" },)"), std::string::npos) << text;
  EXPECT_EQ(scenario_to_toml(load_scenario_text(text, "again.toml")), text);
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
        BadScenario{"map_without_fd",
                    "[scenario]\nname = \"x\"\n[[task]]\nname = \"a\"\nstart = \"initial\"\n"
                    "program = [ { op = \"bind\" },\n { op = \"map\" } ]\n",
                    "t.toml:7: missing key 'fd'"},
        BadScenario{
            "close_of_a_name_nothing_opens",
            "[scenario]\nname = \"x\"\n[[task]]\nname = \"a\"\nstart = \"initial\"\n"
            "program = [ { op = \"bind\", fd = \"wq\" },\n { op = \"close\", fd = \"qw\" } ]\n",
            "t.toml:7: close of fd 'qw', which no bind opens"},
        BadScenario{"cloexec_on_map",
                    "[scenario]\nname = \"x\"\n[[task]]\nname = \"a\"\nstart = \"initial\"\n"
                    "program = [ { op = \"bind\", fd = \"wq\" },\n"
                    " { op = \"map\", fd = \"wq\", cloexec = true } ]\n",
                    "t.toml:7: unknown key 'cloexec'"},
        BadScenario{"cloexec_not_a_bool",
                    "[scenario]\nname = \"x\"\n[[task]]\nname = \"a\"\nstart = \"initial\"\n"
                    "program = [\n { op = \"bind\", fd = \"wq\", cloexec = 1 } ]\n",
                    "t.toml:7: 'cloexec' must be a boolean"},
        BadScenario{"empty_fd_name",
                    "[scenario]\nname = \"x\"\n[[task]]\nname = \"a\"\nstart = \"initial\"\n"
                    "program = [\n { op = \"bind\", fd = \"\" } ]\n",
                    "t.toml:7: fd name is empty"},
        BadScenario{"bad_expect",
                    "[scenario]\nname = \"x\"\n[[task]]\nname = \"a\"\nstart = \"initial\"\n"
                    "program = [ { op = \"submit\", expect = \"great\" } ]\n",
                    "t.toml:6: unknown expect 'great'"}),
    [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace pasidbench
