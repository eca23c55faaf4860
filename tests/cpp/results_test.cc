#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "results/jsonl_store.h"
#include "results/ktap.h"
#include "results/record.h"
#include "results/verdict.h"

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
  j["schema"] = "pasidbench-result/3";
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

ResultRecord record_of(const std::string& id, Outcome outcome, const std::string& reason,
                       bool expect_fail = false, const std::string& mutant_of = "") {
  ResultRecord r;
  r.test_id = id;
  r.backend = "model:" + id;
  r.outcome = outcome;
  r.reason = reason;
  r.expect_fail = expect_fail;
  r.mutant_of = mutant_of;
  return r;
}

// Only directives ktap.rst lists (SKIP, TODO, XFAIL, TIMEOUT, ERROR): an
// expected failure that passed is a plain "not ok" with words, no XPASS.
TEST(Ktap, ExpectedFailuresAreXfailAndAnUnexpectedPassIsNotOk) {
  std::ostringstream out;
  KtapWriter k(out);
  k.header(2);
  k.result(record_of("mutant", Outcome::kFail, "isolation_violation", true));
  k.result(record_of("mutant-missed", Outcome::kPass, "", true));
  k.totals();
  EXPECT_EQ(out.str(),
            "KTAP version 1\n1..2\n"
            "ok 1 mutant # XFAIL isolation_violation\n"
            "not ok 2 mutant-missed # expected to fail, passed\n"
            "# Totals: pass:0 fail:0 xfail:1 xpass:1 skip:0 error:0\n");
  EXPECT_EQ(out.str().find("XPASS"), std::string::npos);
}

TEST(Ktap, SeededMutantsAreCaughtOrNotCaughtHereAndIncompleteIsNotOk) {
  std::ostringstream out;
  KtapWriter k(out);
  k.header(4);
  k.result(record_of("m1", Outcome::kFail, "isolation_violation in 3 of 9 schedules", false,
                     "resync-ipi"));
  k.result(record_of("m2", Outcome::kPass, "no violation in 9 schedules", false, "resync-ipi"));
  k.result(record_of("real", Outcome::kIncomplete, "search stopped by the time limit (1 s)"));
  k.result(record_of("m3", Outcome::kTimeout, "timeout after 3 s", false, "resync-ipi"));
  k.totals();
  EXPECT_EQ(out.str(),
            "KTAP version 1\n1..4\n"
            "ok 1 m1 # XFAIL caught: isolation_violation in 3 of 9 schedules\n"
            "ok 2 m2 # not caught here: no violation in 9 schedules\n"
            "not ok 3 real # incomplete: search stopped by the time limit (1 s)\n"
            "not ok 4 m3 # TIMEOUT timeout after 3 s\n"
            "# Totals: pass:1 fail:2 xfail:1 xpass:0 skip:0 error:0\n");
}

TEST(Verdict, WhatFailsARun) {
  EXPECT_EQ(verdict_of(Outcome::kFail, true, false), Verdict::kExpectedFail);
  EXPECT_EQ(verdict_of(Outcome::kPass, true, false), Verdict::kFailed);
  EXPECT_EQ(verdict_of(Outcome::kCrashed, true, false), Verdict::kFailed);
  EXPECT_EQ(verdict_of(Outcome::kSkip, false, false), Verdict::kSkipped);
  EXPECT_EQ(verdict_of(Outcome::kIncomplete, false, false), Verdict::kFailed);
  EXPECT_EQ(verdict_of(Outcome::kPass, false, false), Verdict::kPassed);
  EXPECT_EQ(verdict_of(Outcome::kFail, false, true), Verdict::kCaught);
  EXPECT_EQ(verdict_of(Outcome::kPass, false, true), Verdict::kNotCaught);
  EXPECT_EQ(verdict_of(Outcome::kIncomplete, false, true), Verdict::kNotCaught);
  EXPECT_EQ(verdict_of(Outcome::kError, false, true), Verdict::kFailed);
}

TEST(Verdict, TheRunFailsWhenAMutantIsCaughtNowhere) {
  RunTally t;
  t.add(record_of("a", Outcome::kPass, ""));
  t.add(record_of("m", Outcome::kFail, "", false, "p"));
  t.add(record_of("m", Outcome::kPass, "", false, "p"));
  EXPECT_FALSE(t.run_failed()) << t.summary();
  EXPECT_EQ(t.uncaught_line(), "");
  t.add(record_of("n", Outcome::kPass, "", false, "p"));
  t.add(record_of("n", Outcome::kIncomplete, "", false, "p"));
  EXPECT_TRUE(t.run_failed());
  EXPECT_EQ(t.uncaught_mutants(), std::vector<std::string>{"model:n"});
  EXPECT_EQ(t.uncaught_line(), "seeded mutant(s) caught by no test: model:n");
  EXPECT_EQ(t.failures(), 1);
}

TEST(Verdict, ResumedRecordsCountWithTheirOutcome) {
  RunTally t;
  t.add(record_of("a", Outcome::kFail, ""), /*earlier=*/true);
  t.add(record_of("b", Outcome::kPass, ""));
  EXPECT_TRUE(t.run_failed());
  EXPECT_EQ(t.earlier(), 1);
  EXPECT_EQ(t.earlier_failed(), 1);
  EXPECT_NE(t.summary().find("1 result(s) taken from the earlier run (--resume), 1 of them failed"),
            std::string::npos)
      << t.summary();
}

TEST(Record, SchemaVersion2RoundTripsAndVersion1IsRead) {
  ResultRecord r = record_of("x", Outcome::kIncomplete, "stopped", false, "resync-ipi");
  r.run_id = "run";
  r.kind = "conformance";
  r.workload = "thread-pool";
  nlohmann::json j = to_json(r);
  EXPECT_EQ(j["schema"], "pasidbench-result/2");
  EXPECT_EQ(j["outcome"], "incomplete");
  EXPECT_EQ(j["mutant_of"], "resync-ipi");
  ResultRecord back = record_from_json(j);
  EXPECT_EQ(back.outcome, Outcome::kIncomplete);
  EXPECT_EQ(back.mutant_of, "resync-ipi");
  j["schema"] = "pasidbench-result/1";
  j.erase("mutant_of");
  j["outcome"] = "pass";
  EXPECT_EQ(record_from_json(j).outcome, Outcome::kPass);
  j["schema"] = "pasidbench-result/3";
  EXPECT_THROW(record_from_json(j), std::runtime_error);
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
