#include "results/verdict.h"

namespace pasidbench {

const char* to_string(Verdict v) {
  switch (v) {
    case Verdict::kPassed:
      return "passed";
    case Verdict::kFailed:
      return "failed";
    case Verdict::kSkipped:
      return "skipped";
    case Verdict::kExpectedFail:
      return "failed as expected";
    case Verdict::kCaught:
      return "caught";
    case Verdict::kNotCaught:
      return "not caught here";
  }
  return "failed";
}

Verdict verdict_of(Outcome outcome, bool expect_fail, bool is_mutant) {
  if (outcome == Outcome::kSkip) return Verdict::kSkipped;
  // expect = "fail" names the test that must catch it: anything else fails.
  if (expect_fail) return outcome == Outcome::kFail ? Verdict::kExpectedFail : Verdict::kFailed;
  if (is_mutant) {
    switch (outcome) {
      case Outcome::kFail:
        return Verdict::kCaught;
      // A search that found nothing, complete or not, claims nothing about
      // a mutant; the suite needs some other test to catch it.
      case Outcome::kPass:
      case Outcome::kIncomplete:
        return Verdict::kNotCaught;
      default:
        return Verdict::kFailed;  // the harness broke: error, crashed, timeout
    }
  }
  return outcome == Outcome::kPass ? Verdict::kPassed : Verdict::kFailed;
}

std::string verdict_note(const ResultRecord& r) {
  Verdict v = verdict_of(r);
  std::string why = r.reason;
  if (!r.mutant_of.empty() && r.outcome == Outcome::kFail)
    return "caught" + (why.empty() ? "" : ": " + why);
  switch (v) {
    case Verdict::kNotCaught:
      return std::string(to_string(v)) + (why.empty() ? "" : ": " + why);
    case Verdict::kFailed:
      if (r.expect_fail && r.outcome == Outcome::kPass)
        return "expected to fail, passed" + (why.empty() ? "" : ": " + why);
      return why;
    default:
      return why;
  }
}

void RunTally::add(const ResultRecord& r, bool earlier) {
  Verdict v = verdict_of(r);
  switch (v) {
    case Verdict::kPassed:
      ++passed_;
      break;
    case Verdict::kFailed:
      ++failed_;
      break;
    case Verdict::kSkipped:
      ++skipped_;
      break;
    case Verdict::kExpectedFail:
      ++xfail_;
      break;
    case Verdict::kCaught:
      ++caught_;
      break;
    case Verdict::kNotCaught:
      ++not_caught_;
      break;
  }
  if (earlier) {
    ++earlier_;
    if (v == Verdict::kFailed) ++earlier_failed_;
  }
  if (!r.mutant_of.empty()) {
    mutants_[r.backend] |= r.outcome == Outcome::kFail;
    if (r.outcome == Outcome::kFail) ++mutant_catches_;
  }
}

std::vector<std::string> RunTally::uncaught_mutants() const {
  std::vector<std::string> out;
  for (const auto& [name, caught] : mutants_)
    if (!caught) out.push_back(name);
  return out;
}

std::string RunTally::summary() const {
  std::string s = std::to_string(passed_) + " passed, " + std::to_string(failed_) + " failed, " +
                  std::to_string(skipped_) + " skipped";
  if (xfail_ > 0) s += ", " + std::to_string(xfail_) + " failed as expected";
  if (!mutants_.empty()) {
    size_t uncaught = uncaught_mutants().size();
    s += "; seeded mutants: " + std::to_string(mutants_.size() - uncaught) + " of " +
         std::to_string(mutants_.size()) + " caught (" + std::to_string(mutant_catches_) +
         " test(s) caught one, " + std::to_string(not_caught_) + " did not)";
  }
  if (earlier_ > 0)
    s += "; " + std::to_string(earlier_) + " result(s) taken from the earlier run (--resume), " +
         std::to_string(earlier_failed_) + " of them failed";
  return s;
}

std::string RunTally::uncaught_line() const {
  std::vector<std::string> names = uncaught_mutants();
  if (names.empty()) return {};
  std::string s = "seeded mutant(s) caught by no test: ";
  for (size_t i = 0; i < names.size(); ++i) s += (i ? ", " : "") + names[i];
  return s;
}

}  // namespace pasidbench
