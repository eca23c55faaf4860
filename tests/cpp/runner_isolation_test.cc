// Crash isolation: a SIGSEGV, a hang or a timeout in a test becomes a
// recorded result, the runner goes on, and nothing recorded earlier is lost.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "results/jsonl_store.h"
#include "runners/isolation.h"
#include "runners/suite_runner.h"
#include "tests/cpp/host_test_support.h"

namespace pasidbench {
namespace {

using testing_support::FakeRoot;

ResultRecord skeleton(const std::string& id) {
  ResultRecord s;
  s.run_id = "run";
  s.test_id = id;
  s.backend = "host";
  s.workload = "w";
  return s;
}

ResultRecord passing() {
  ResultRecord r = skeleton("ok");
  r.outcome = Outcome::kPass;
  r.add_metric("ctxsw_ns", {1.0});
  return r;
}

// A genuine SIGSEGV: a store to a page mapped without access.
ResultRecord segfaulting() {
  void* page = ::mmap(nullptr, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  *static_cast<volatile int*>(page) = 1;
  return passing();
}

ResultRecord hanging() {
  for (;;) ::pause();
}

bool process_gone(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  if (!stat) return true;
  std::string line;
  std::getline(stat, line);
  auto close_paren = line.rfind(')');
  return close_paren != std::string::npos && line.size() > close_paren + 2 &&
         line[close_paren + 2] == 'Z';
}

TEST(HostIsolation, SigsegvBecomesACrashedRecord) {
  ResultRecord r = run_isolated(segfaulting, 30, skeleton("segv"));
  EXPECT_EQ(r.outcome, Outcome::kCrashed);
  EXPECT_EQ(r.reason, "crashed: SIGSEGV");
  EXPECT_EQ(r.test_id, "segv");
}

TEST(HostIsolation, HangBecomesATimeoutAndItsProcessGroupIsKilled) {
  FakeRoot dir;
  std::string pid_file = dir.at("grandchild.pid");
  ResultRecord r = run_isolated(
      [&] {
        pid_t pid = ::fork();
        if (pid == 0) hanging();
        std::ofstream(pid_file) << pid;
        return hanging();
      },
      1, skeleton("hang"));
  EXPECT_EQ(r.outcome, Outcome::kTimeout);
  EXPECT_EQ(r.reason, "timeout after 1 s");
  pid_t grandchild = 0;
  std::ifstream(pid_file) >> grandchild;
  ASSERT_GT(grandchild, 0);
  bool gone = false;
  for (int i = 0; i < 100 && !gone; ++i) {
    gone = process_gone(grandchild);
    if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(gone) << "pid " << grandchild << " survived its test";
}

TEST(HostIsolation, ExceptionBecomesAnErrorRecord) {
  ResultRecord r = run_isolated(
      []() -> ResultRecord { throw std::runtime_error("wq0.0 vanished"); }, 30, skeleton("throws"));
  EXPECT_EQ(r.outcome, Outcome::kError);
  EXPECT_EQ(r.reason, "error: wq0.0 vanished");
}

TEST(HostIsolation, RunnerGoesOnAndKeepsEarlierRecords) {
  FakeRoot dir;
  std::string path = dir.at("results.jsonl");
  {
    JsonlWriter w(path);
    w.append(to_json(run_isolated(passing, 30, skeleton("first"))));
    w.append(to_json(run_isolated(segfaulting, 30, skeleton("second"))));
    w.append(to_json(run_isolated(hanging, 1, skeleton("third"))));
    w.append(to_json(run_isolated(passing, 30, skeleton("fourth"))));
  }
  JsonlContents c = read_jsonl(path);
  EXPECT_TRUE(c.problems.empty());
  ASSERT_EQ(c.records.size(), 4u);
  EXPECT_EQ(c.records[0]["outcome"], "pass");
  EXPECT_EQ(c.records[1]["outcome"], "crashed");
  EXPECT_EQ(c.records[1]["reason"], "crashed: SIGSEGV");
  EXPECT_EQ(c.records[2]["outcome"], "timeout");
  EXPECT_EQ(c.records[3]["outcome"], "pass");
  EXPECT_EQ(c.records[3]["metrics"]["ctxsw_ns"]["value"], 1.0);
}

// A stand-in for pasidbench-micro that passes, crashes or hangs depending on
// the benchmark it is asked for: a whole suite run through the host backend.
constexpr const char* kFakeMicro = R"(#!/bin/sh
for a in "$@"; do case "$a" in --benchmark_filter=*) f="${a#--benchmark_filter=}";; esac; done
case "$f" in
  *membarrier*) cat <<'JSON'
{"context": {"hardware_counters": "none", "hardware_counters_note": "PAPI: fake"},
 "benchmarks": [{"name": "membarrier/spinning:0", "run_name": "membarrier/spinning:0",
  "run_type": "iteration", "iterations": 10, "real_time": 1500.0, "cpu_time": 1400.0, "time_unit": "ns"}]}
JSON
  ;;
  *migration*) kill -SEGV $$ ;;
  *sched_yield*) exec sleep 600 ;;
esac
)";

TEST(HostIsolation, SuiteRunRecordsCrashAndTimeoutAndGoesOn) {
  FakeRoot dir;
  dir.write("fake-micro", kFakeMicro);
  std::filesystem::permissions(dir.at("fake-micro"), std::filesystem::perms::owner_all);
  dir.write("suite.toml", R"([suite]
name = "isolation"
backends = ["host"]
timeout_s = 60

[[test]]
workload = "micro:ipi"

[[test]]
workload = "micro:yield"
timeout_s = 1

[[test]]
workload = "micro:migration"

[[test]]
workload = "micro:ipi"
params = { min_time_ms = 20 }
)");
  ::setenv("PASIDBENCH_MICRO", dir.at("fake-micro").c_str(), 1);
  RunOptions o;
  o.suite_path = dir.at("suite.toml");
  o.out_dir = dir.at("out");
  o.quiet = true;
  int rc = run_suite(o);
  ::unsetenv("PASIDBENCH_MICRO");
  EXPECT_EQ(rc, 1);
  JsonlContents c = read_jsonl(dir.at("out/results.jsonl"));
  ASSERT_EQ(c.records.size(), 5u);
  EXPECT_EQ(c.records[0]["record"], "environment");
  EXPECT_EQ(c.records[1]["outcome"], "pass");
  EXPECT_EQ(c.records[1]["metrics"]["membarrier_ns"]["value"], 1500.0);
  EXPECT_EQ(c.records[2]["outcome"], "timeout");
  EXPECT_EQ(c.records[2]["reason"], "timeout after 1 s");
  EXPECT_EQ(c.records[3]["outcome"], "crashed");
  EXPECT_NE(c.records[3]["reason"].get<std::string>().find("Segmentation fault"), std::string::npos)
      << c.records[3]["reason"];
  EXPECT_EQ(c.records[4]["outcome"], "pass");
}

}  // namespace
}  // namespace pasidbench
