// The model backend through the CLI: output formats, replay files, bad input.
#include "runners/backends/model/model_backend.h"

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "results/jsonl_store.h"
#include "runners/backends/backend.h"

namespace pasidbench {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct CliRun {
  int status = -1;
  std::string out;
};

// Runs the CLI in `dir` (stderr to stdout).
CliRun cli(const std::string& args, const fs::path& dir) {
  std::string cmd = "cd '" + dir.string() + "' && '" + PASIDBENCH_BINARY + "' " + args + " 2>&1";
  CliRun r;
  FILE* p = popen(cmd.c_str(), "r");
  std::array<char, 4096> buf;
  while (size_t n = fread(buf.data(), 1, buf.size(), p)) r.out.append(buf.data(), n);
  int status = pclose(p);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

class ModelCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("pasidbench-model-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  // check writes replay files to out/check (its --out default), never to
  // the directory it runs in.
  std::vector<fs::path> replay_files() const {
    std::vector<fs::path> out;
    for (const auto& e : fs::directory_iterator(dir_))
      EXPECT_NE(e.path().filename().string().rfind("replay-", 0), 0u) << e.path();
    if (!fs::exists(dir_ / "out" / "check")) return out;
    for (const auto& e : fs::directory_iterator(dir_ / "out" / "check"))
      if (e.path().filename().string().rfind("replay-", 0) == 0) out.push_back(e.path());
    return out;
  }
  fs::path dir_;
};

const char* kMutantCheck =
    "check --policy task-refcount/unbind-frees --workload thread-pool --param binder=unbinds";

TEST_F(ModelCli, JsonVerdictOfAPassingPolicy) {
  CliRun r =
      cli("check --policy mm-lifetime-lazy-gp --workload clone-bind-exit --format json", dir_);
  ASSERT_EQ(r.status, 0) << r.out;
  json j = json::parse(r.out);
  EXPECT_EQ(j["verdict"], "pass");
  EXPECT_TRUE(j["violations"].empty());
  EXPECT_TRUE(j["counterexample"].is_null());
  EXPECT_EQ(j["search"]["strategy"], "exhaustive");
  EXPECT_GT(j["search"]["schedules"].get<int>(), 1);
  EXPECT_GT(j["search"]["decisions"].get<int>(), 0);
  EXPECT_TRUE(j["search"].contains("seconds"));
  for (const char* m :
       {"pasid_allocs", "pasid_frees", "pasid_peak_live", "pasid_seconds_idle", "context_switches",
        "context_switches_pasid_work", "ipis", "task_work_runs", "gp_fixups", "submits",
        "unexpected_outcomes", "modelled_overhead_ns", "schedules_explored"})
    EXPECT_TRUE(j["metrics"].contains(m)) << m;
  EXPECT_EQ(j["policy"], "mm-lifetime-lazy-gp");
  EXPECT_EQ(j["provenance"]["kernel"]["name"], "model");
  EXPECT_EQ(j["provenance"]["kernel"]["release"], "model");
  EXPECT_EQ(j["provenance"]["kernel"]["policy"], "mm-lifetime-lazy-gp");
  EXPECT_EQ(j["provenance"]["machine"]["time_base"], "model");
  EXPECT_FALSE(j["pasid_timeline"].empty());
  EXPECT_TRUE(replay_files().empty());
}

TEST_F(ModelCli, AFailingCheckWritesAScheduleThatReplaysExactly) {
  CliRun r = cli(std::string(kMutantCheck) + " --format json", dir_);
  ASSERT_EQ(r.status, 1) << r.out;
  json j = json::parse(r.out);
  EXPECT_EQ(j["verdict"], "fail");
  EXPECT_GT(j["violations"]["isolation_violation"].get<int>(), 0);
  const json& ce = j["counterexample"];
  EXPECT_EQ(ce["violation"], "isolation_violation");
  EXPECT_LE(ce["events"].get<int>(), 30);
  EXPECT_EQ(ce["trace"].size(), ce["events"].get<size_t>());
  EXPECT_EQ(ce["schedule"]["format"], "pasidbench-replay/1");
  ASSERT_TRUE(ce["replay_file"].is_string());
  ASSERT_EQ(replay_files().size(), 1u);
  EXPECT_EQ(fs::path(ce["replay_file"].get<std::string>()).filename(),
            replay_files()[0].filename());

  CliRun again = cli("check --replay " + replay_files()[0].string() + " --format json", dir_);
  ASSERT_EQ(again.status, 1) << again.out;
  json k = json::parse(again.out);
  EXPECT_EQ(k["search"]["strategy"], "replay");
  EXPECT_EQ(k["search"]["reproduced"], true);
  EXPECT_EQ(k["counterexample"]["trace"], ce["trace"]);
  EXPECT_EQ(k["search"]["digest"], ce["schedule"]["expect"]["digest"]);
  EXPECT_EQ(replay_files().size(), 1u) << "a replay writes nothing";

  // The text format says where the schedule went and prints the timeline.
  CliRun text = cli(kMutantCheck, dir_);
  EXPECT_EQ(text.status, 1);
  EXPECT_NE(text.out.find("counterexample (isolation_violation):"), std::string::npos);
  EXPECT_NE(text.out.find("replay file: out/check/replay-"), std::string::npos);
  CliRun ktap = cli(std::string(kMutantCheck) + " --format ktap", dir_);
  EXPECT_EQ(ktap.status, 1);
  EXPECT_EQ(ktap.out.rfind("KTAP version 1\n1..1\n", 0), 0u) << ktap.out;
  EXPECT_NE(ktap.out.find("# violation isolation_violation:"), std::string::npos);
  EXPECT_NE(ktap.out.find("# replay file:"), std::string::npos);
  EXPECT_NE(ktap.out.find("\nnot ok 1 "), std::string::npos);
}

TEST_F(ModelCli, AReplayThatDivergesSaysSo) {
  ASSERT_EQ(cli(kMutantCheck, dir_).status, 1);
  ASSERT_EQ(replay_files().size(), 1u);
  fs::path file = replay_files()[0];
  json j = json::parse(std::ifstream(file));
  j["params"]["cost_syscall_ns"] = "2999";  // a different machine: different timing
  std::ofstream(dir_ / "edited.json") << j.dump();
  CliRun r = cli("check --replay edited.json --format json", dir_);
  EXPECT_EQ(r.status, 1);
  json k = json::parse(r.out);
  EXPECT_EQ(k["outcome"], "error");
  EXPECT_EQ(k["search"]["reproduced"], false);
  EXPECT_NE(k["reason"].get<std::string>().find("replay diverged"), std::string::npos);
}

TEST_F(ModelCli, BadInputExitsTwoAndWritesNothing) {
  std::ofstream(dir_ / "corrupt.json") << "{\"format\": \"pasidbench-replay/1\", \"policy\": 3}";
  std::ofstream(dir_ / "notjson.json") << "schedule?";
  std::ofstream(dir_ / "self.toml")
      << "[scenario]\nname = \"s\"\n[[task]]\nname = \"t\"\n"
         "start = \"initial\"\nprogram = [ { op = \"wait\", task = \"t\" } ]\n";
  const char* bad[] = {
      "check --replay corrupt.json",
      "check --replay notjson.json",
      "check --replay missing.json",
      "check --replay notjson.json --policy resync-ipi",
      "check --policy no-such-policy --workload thread-pool",
      "check --policy resync-ipi --workload no-such-workload",
      "check --policy resync-ipi --workload thread-pool --param cpus=0",
      "check --policy resync-ipi --workload thread-pool --param no_such=1",
      "check --policy resync-ipi --workload thread-pool --param strategy=dfs",
      "check --policy resync-ipi --workload self.toml",
      "check --policy resync-ipi --workload thread-pool --param costs_from=missing.jsonl",
      "check --policy resync-ipi --workload thread-pool --param replay=corrupt.json",
  };
  for (const char* args : bad) {
    CliRun r = cli(args, dir_);
    EXPECT_EQ(r.status, 2) << args << "\n" << r.out;
    EXPECT_EQ(r.out.find('{'), std::string::npos) << args << ": printed a result";
  }
  EXPECT_TRUE(replay_files().empty());
}

// pasidlab.ko's benchmarks give the resync's and the fixup's unit costs; a
// lab file of several kernels needs one named.
TEST_F(ModelCli, UnitCostsComeFromTheModulesBenchmarksOfOneKernel) {
  auto kmod = [](const std::string& kernel, const std::string& policy, const std::string& workload,
                 json params, json metrics) {
    return json{
        {"record", "test"},
        {"outcome", "pass"},
        {"backend", "kmod:" + policy},
        {"policy", policy},
        {"workload", workload},
        {"params", params},
        {"metrics", metrics},
        {"provenance", {{"kernel", {{"name", kernel}}}, {"machine", {{"time_base", "real"}}}}}};
  };
  auto v = [](double x) { return json{{"value", x}}; };
  {
    JsonlWriter w((dir_ / "lab.jsonl").string());
    for (const std::string k : {"k61", "k612"}) {
      double scale = k == "k61" ? 1 : 2;
      w.append(kmod(k, "resync-ipi", "micro:pasidlab-switch",
                    {{"binding", "bound"}, {"placement", "same_cpu"}},
                    {{"ctxsw_ns", v(1300 * scale)}}));
      w.append(kmod(k, "resync-ipi", "micro:pasidlab-switch",
                    {{"binding", "none_bound"}, {"placement", "same_cpu"}},
                    {{"ctxsw_ns", v(1000 * scale)}}));
      w.append(kmod(k, "resync-ipi", "micro:pasidlab-switch",
                    {{"binding", "no_module"}, {"placement", "same_cpu"}},
                    {{"ctxsw_ns", v(990 * scale)}}));
      w.append(kmod(k, "mm-lifetime-lazy-gp", "micro:pasidlab-first-submit", json::object(),
                    {{"first_submit_ns", v(9000 * scale)}, {"submit_ns", v(2000 * scale)}}));
      w.append(kmod(k, "mm-lifetime", "micro:pasidlab-first-submit", json::object(),
                    {{"first_submit_ns", v(4000 * scale)}, {"submit_ns", v(1000 * scale)}}));
    }
  }
  CliRun both = cli(
      "check --policy resync-ipi --workload clone-bind-exit --param costs_from=lab.jsonl", dir_);
  EXPECT_EQ(both.status, 2);
  EXPECT_NE(both.out.find("holds measurements of kernels k61, k612; name one: "
                          "costs_from=lab.jsonl#<kernel>"),
            std::string::npos)
      << both.out;
  CliRun r =
      cli("check --policy resync-ipi --workload clone-bind-exit --param costs_from=lab.jsonl#k612 "
          "--format json",
          dir_);
  ASSERT_EQ(r.status, 0) << r.out;
  const json out = json::parse(r.out);
  const json& costs = out["details"]["cost_model"];
  EXPECT_EQ(costs["switch_resync_ns"], 600);  // (1300 - 1000) x 2
  EXPECT_EQ(costs["gp_fixup_ns"], 8000);      // ((9000 - 2000) - (4000 - 1000)) x 2
  EXPECT_EQ(costs["ctxsw_ns"], 1980);         // no host benchmark: the no-module switch
}

TEST_F(ModelCli, UnitCostsComeFromAHostResultsFile) {
  {
    JsonlWriter w((dir_ / "host.jsonl").string());
    w.append({{"record", "test"}, {"metrics", {{"ctxsw_ns", {{"value", 1234.4}}}}}});
    w.append({{"record", "test"}, {"metrics", {{"membarrier_ns", {{"value", 5678}}}}}});
  }
  CliRun r =
      cli("check --policy resync-ipi --workload clone-bind-exit --param costs_from=host.jsonl "
          "--format json",
          dir_);
  ASSERT_EQ(r.status, 0) << r.out;
  json j = json::parse(r.out);
  const json& costs = j["details"]["cost_model"];
  EXPECT_EQ(costs["ctxsw_ns"], 1234);
  EXPECT_EQ(costs["ipi_ns"], 5678);
  EXPECT_EQ(costs["source"], "host.jsonl");
  // The reference schedule's overhead is its counts times those costs.
  const json& m = j["metrics"];
  double want = m["context_switches"]["samples"][0].get<double>() * 1234 +
                m["ipis"]["samples"][0].get<double>() * 5678 +
                m["context_switches_pasid_work"]["samples"][0].get<double>() * 40 +
                m["task_work_runs"]["samples"][0].get<double>() * 250 +
                m["gp_fixups"]["samples"][0].get<double>() * 1500;
  EXPECT_DOUBLE_EQ(m["modelled_overhead_ns"]["samples"][0].get<double>(), want);
  // Given on the command line instead.
  CliRun given =
      cli("check --policy resync-ipi --workload clone-bind-exit --param cost_ipi_ns=777 "
          "--format json",
          dir_);
  EXPECT_EQ(json::parse(given.out)["details"]["cost_model"]["ipi_ns"], 777);
  // Not both.
  EXPECT_EQ(
      cli("check --policy resync-ipi --workload clone-bind-exit --param costs_from=host.jsonl "
          "--param cost_ipi_ns=777",
          dir_)
          .status,
      2);
}

TEST_F(ModelCli, ListsPoliciesWithTheirMutants) {
  CliRun r = cli("list policies --json", dir_);
  ASSERT_EQ(r.status, 0);
  json j = json::parse(r.out);
  ASSERT_EQ(j.size(), model::policy_catalog().size());
  size_t mutants = 0, expected_mutants = 0;
  for (const auto& p : j)
    if (p["mutant_of"].is_string()) ++mutants;
  for (const auto& p : model::policy_catalog()) expected_mutants += !p.parent.empty();
  EXPECT_EQ(mutants, expected_mutants);
  EXPECT_GE(mutants, 4u) << "the four seeded mutants of the spec";
}

TEST_F(ModelCli, ASuiteRunLeavesReplayFilesBesideItsResults) {
  std::ofstream(dir_ / "mini.toml")
      << "[suite]\nname = \"mini\"\nbackends = [\"model:resync-ipi\", "
         "\"model:mm-lifetime/fork-inherits\"]\n[[test]]\nworkload = \"long-lived-binders\"\n"
         "params = { processes = 1, threads = 2, turnover = 1 }\n";
  // A real policy that passes and a seeded mutant caught: all is well (exit 0).
  CliRun r = cli("run mini.toml --out out --quiet", dir_);
  EXPECT_EQ(r.status, 0) << r.out;
  JsonlContents results = read_jsonl((dir_ / "out" / "results.jsonl").string());
  int fails = 0;
  for (const auto& rec : results.records) {
    if (rec["record"] != "test") continue;
    if (rec["outcome"] == "fail") {
      ++fails;
      EXPECT_EQ(rec["mutant_of"], "mm-lifetime");
      ASSERT_TRUE(rec["counterexample"]["replay_file"].is_string());
      EXPECT_TRUE(fs::exists(dir_ / rec["counterexample"]["replay_file"].get<std::string>()));
    } else {
      EXPECT_EQ(rec["outcome"], "pass");
    }
  }
  EXPECT_EQ(fails, 1);
}

TEST(ModelBackend, SkipsMicroSuites) {
  auto b = backends().create("model:resync-ipi", {});
  std::string why;
  EXPECT_FALSE(b->supports(WorkloadKind::kMicro, &why));
  EXPECT_NE(why.find("host"), std::string::npos);
  EXPECT_TRUE(b->supports(WorkloadKind::kCanonical, &why));
  // The wildcard means the real policies, not the mutants.
  EXPECT_EQ(backends().expand("model:*", {}).size(), 4u);
}

}  // namespace
}  // namespace pasidbench
