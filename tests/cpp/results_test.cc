#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "results/jsonl_store.h"
#include "results/ktap.h"
#include "results/record.h"

namespace pasidbench {
namespace {

namespace fs = std::filesystem;

fs::path temp_dir() {
  fs::path p =
      fs::temp_directory_path() / ("pasidbench-test-" + std::to_string(::getpid()) + "-" +
                                   ::testing::UnitTest::GetInstance()->current_test_info()->name());
  fs::remove_all(p);
  fs::create_directories(p);
  return p;
}

ResultRecord sample_record(const std::string& id) {
  ResultRecord r;
  r.run_id = "run";
  r.test_id = id;
  r.backend = "host";
  r.workload = "thread-pool";
  r.params = {{"tasks", "3"}, {"binder", "stays"}, {"reuse_probe", "true"}};
  r.outcome = Outcome::kPass;
  r.add_metric("ctxsw_ns", {3, 1, 2});
  r.provenance.machine.hostname = "h";
  r.provenance.kernel.release = "6.1.0";
  r.provenance.pasidbench_revision = "abc";
  r.started_at = "2026-11-27T00:00:00Z";
  return r;
}

TEST(Record, RoundTripsAndKeepsParamTypes) {
  ResultRecord r = sample_record("a");
  nlohmann::json j = to_json(r);
  EXPECT_EQ(j["params"]["tasks"], 3);
  EXPECT_EQ(j["params"]["reuse_probe"], true);
  EXPECT_EQ(j["params"]["binder"], "stays");
  EXPECT_DOUBLE_EQ(j["metrics"]["ctxsw_ns"]["value"].get<double>(), 2.0);  // median
  EXPECT_EQ(j["metrics"]["ctxsw_ns"]["unit"], "ns");
  EXPECT_EQ(j["metrics"]["ctxsw_ns"]["better"], "lower");
  ResultRecord back = record_from_json(j);
  EXPECT_EQ(to_json(back), j);
}

TEST(Record, UnregisteredMetricIsAProgrammingError) {
  ResultRecord r;
  EXPECT_THROW(r.add_metric("speediness", {1}), std::logic_error);
}

TEST(Record, MissingMetricKeepsItsNoteAndNoValue) {
  ResultRecord r = sample_record("a");
  r.add_missing_metric("cycles", "PAPI: no hardware counters");
  nlohmann::json j = to_json(r);
  EXPECT_TRUE(j["metrics"]["cycles"]["value"].is_null());
  EXPECT_EQ(j["metrics"]["cycles"]["note"], "PAPI: no hardware counters");
}

TEST(Record, RejectsOtherSchemaVersion) {
  nlohmann::json j = to_json(sample_record("a"));
  j["schema"] = "pasidbench-result/2";
  EXPECT_THROW(record_from_json(j), std::runtime_error);
}

TEST(Jsonl, AppendsAndResumesAfterATornLine) {
  fs::path dir = temp_dir();
  std::string path = (dir / "sub" / "results.jsonl").string();
  {
    JsonlWriter w(path);
    w.append(to_json(sample_record("a")));
    w.append(to_json(sample_record("b")));
  }
  {  // a crash in the middle of a write
    std::ofstream out(path, std::ios::app);
    out << R"({"schema":"pasidbench-result/1","record":"test","test_id":"c)";
  }
  JsonlContents c = read_jsonl(path);
  EXPECT_EQ(c.records.size(), 2u);
  ASSERT_EQ(c.problems.size(), 1u);
  EXPECT_NE(c.problems[0].find("results.jsonl:3"), std::string::npos);
  EXPECT_EQ(recorded_test_ids(c), (std::set<std::string>{"a", "b"}));

  JsonlWriter w(path);  // resume appends on a fresh line
  w.append(to_json(sample_record("c")));
  JsonlContents after = read_jsonl(path);
  EXPECT_EQ(recorded_test_ids(after), (std::set<std::string>{"a", "b", "c"}));
  EXPECT_EQ(after.problems.size(), 1u);
  fs::remove_all(dir);
}

TEST(Ktap, WritesVersionPlanResultsAndTotals) {
  std::ostringstream out;
  KtapWriter k(out);
  k.header(4);
  k.result("pass-case", Outcome::kPass, "");
  k.result("skip#case", Outcome::kSkip, "no /sys/bus/dsa");
  k.result("fail-case", Outcome::kFail, "isolation_violation",
           {"violation isolation_violation: 1"});
  k.result("slow-case", Outcome::kTimeout, "timeout after 3 s");
  k.totals();
  EXPECT_EQ(out.str(),
            "KTAP version 1\n"
            "1..4\n"
            "ok 1 pass-case\n"
            "ok 2 skip_case # SKIP no /sys/bus/dsa\n"
            "# violation isolation_violation: 1\n"
            "not ok 3 fail-case\n"
            "not ok 4 slow-case # TIMEOUT timeout after 3 s\n"
            "# Totals: pass:1 fail:2 xfail:0 xpass:0 skip:1 error:0\n");
}

}  // namespace
}  // namespace pasidbench

namespace pasidbench {
namespace {

TEST(Ktap, ExpectedFailuresAreXfailAndUnexpectedPassesXpass) {
  std::ostringstream out;
  KtapWriter k(out);
  k.header(2);
  k.result("mutant", Outcome::kFail, "isolation_violation", {}, /*expect_fail=*/true);
  k.result("mutant-missed", Outcome::kPass, "", {}, /*expect_fail=*/true);
  k.totals();
  EXPECT_EQ(out.str(),
            "KTAP version 1\n1..2\n"
            "ok 1 mutant # XFAIL isolation_violation\n"
            "not ok 2 mutant-missed # XPASS expected to fail\n"
            "# Totals: pass:0 fail:0 xfail:1 xpass:1 skip:0 error:0\n");
  EXPECT_FALSE(fails_run(Outcome::kFail, true));
  EXPECT_TRUE(fails_run(Outcome::kPass, true));
  EXPECT_TRUE(fails_run(Outcome::kCrashed, true));
  EXPECT_FALSE(fails_run(Outcome::kSkip, false));
}

}  // namespace
}  // namespace pasidbench

namespace pasidbench {
namespace {

// Text from suites, scenarios and task names reaches every KTAP line; none of
// it may start a line of its own (issue 16: a suite name with a newline
// printed "ok 7 forged" and a fake totals line).
TEST(Ktap, NoTextCanStartALineOfItsOwn) {
  std::ostringstream out;
  KtapWriter k(out);
  k.header(2);
  k.diagnostic("suite: evil\nok 7 forged\n# Totals: pass:99 fail:0 xfail:0 xpass:0 skip:0 error:0");
  k.result("name\nok 8 forged # SKIP", Outcome::kFail, "", {"trace: task a\rok 9 b\x01\x7f"});
  k.result("skip", Outcome::kSkip, "reason\nnot ok 10 x\tand U+2028:\xe2\x80\xa8 U+0085:\xc2\x85");
  k.totals();
  EXPECT_EQ(out.str(),
            "KTAP version 1\n"
            "1..2\n"
            "# suite: evil\\nok 7 forged\\n# Totals: pass:99 fail:0 xfail:0 xpass:0 skip:0 "
            "error:0\n"
            "# trace: task a\\rok 9 b\\x01\\x7f\n"
            "not ok 1 name\\nok 8 forged _ SKIP\n"
            "ok 2 skip # SKIP reason\\nnot ok 10 x\\tand U+2028:\\xe2\\x80\\xa8 U+0085:\\xc2\\x85\n"
            "# Totals: pass:0 fail:1 xfail:0 xpass:0 skip:1 error:0\n");
  // Every line the writer emitted is one the test above expects: no text
  // made one of its own.
  std::istringstream lines(out.str());
  int count = 0;
  for (std::string line; std::getline(lines, line);) ++count;
  EXPECT_EQ(count, 7);
}

TEST(Ktap, PlainTextPassesThroughUnchanged) {
  EXPECT_EQ(ktap_text("thread-pool[binder=unbinds]@model:resync-ipi µs é"),
            "thread-pool[binder=unbinds]@model:resync-ipi µs é");
  EXPECT_EQ(ktap_name("a#b"), "a_b");
}

}  // namespace
}  // namespace pasidbench
