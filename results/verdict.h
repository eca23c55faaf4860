// What a record means for its run: the one place that decides whether a
// result fails a run, is an expected failure, or is a seeded mutant caught.
// The suite runner, the lab runners, `check`, KTAP and KCIDB all ask here.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "results/record.h"

namespace pasidbench {

enum class Verdict {
  kPassed,
  kFailed,  // fail, error, crashed, timeout, incomplete; an XPASS
  kSkipped,
  kExpectedFail,  // expect = "fail" and it failed (KTAP XFAIL)
  kCaught,        // a seeded mutant's test failed: the mutant was caught here
  kNotCaught,     // a seeded mutant's test passed (or was incomplete): not caught here
};

const char* to_string(Verdict v);
Verdict verdict_of(Outcome outcome, bool expect_fail, bool is_mutant);
inline Verdict verdict_of(const ResultRecord& r) {
  return verdict_of(r.outcome, r.expect_fail, !r.mutant_of.empty());
}
// Does this verdict alone fail the run? (An uncaught mutant fails it too,
// but only once every test of the run is known: see RunTally.)
inline bool fails_run(Verdict v) { return v == Verdict::kFailed; }
// The words a report puts after a result: "caught", "not caught here", ...
std::string verdict_note(const ResultRecord& r);

// Counts a run's records, its resumed ones included, and which seeded
// mutants some test caught. The run fails when a record fails it or a
// mutant that ran was caught by none of its tests.
class RunTally {
 public:
  // `earlier`: the record was taken from an earlier run (--resume).
  void add(const ResultRecord& r, bool earlier = false);

  int passed() const { return passed_; }
  int failed() const { return failed_; }
  int skipped() const { return skipped_; }
  int expected_failures() const { return xfail_; }
  int caught() const { return caught_; }
  int not_caught() const { return not_caught_; }
  int earlier() const { return earlier_; }
  int earlier_failed() const { return earlier_failed_; }
  // Mutants (by backend) that ran and were caught by no test, in name order.
  std::vector<std::string> uncaught_mutants() const;
  // Every mutant that ran (by backend) -> whether some test caught it.
  const std::map<std::string, bool>& mutants() const { return mutants_; }
  bool run_failed() const { return failed_ > 0 || !uncaught_mutants().empty(); }
  // Failing records plus uncaught mutants: what a lab adds up per kernel.
  int failures() const { return failed_ + static_cast<int>(uncaught_mutants().size()); }

  // "57 passed, 0 failed, 0 skipped, 7 mutants caught (9 caught, 12 not caught here)"
  std::string summary() const;
  // "seeded mutant(s) caught by no test: a, b" or empty.
  std::string uncaught_line() const;

 private:
  int passed_ = 0, failed_ = 0, skipped_ = 0, xfail_ = 0, caught_ = 0, not_caught_ = 0;
  int earlier_ = 0, earlier_failed_ = 0;
  int mutant_catches_ = 0;               // mutant tests that failed, expected or not
  std::map<std::string, bool> mutants_;  // backend -> caught somewhere
};

}  // namespace pasidbench
