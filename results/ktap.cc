#include "results/ktap.h"

#include "results/verdict.h"

namespace pasidbench {

std::string ktap_name(const std::string& name) {
  std::string out;
  for (char c : name) out += (c == '#' || c == '\n') ? '_' : c;
  return out;
}

void KtapWriter::header(int planned) {
  out_ << pad() << "KTAP version 1\n" << pad() << "1.." << planned << "\n";
  out_.flush();
}

void KtapWriter::diagnostic(const std::string& line) {
  out_ << pad() << "# " << line << "\n";
  out_.flush();
}

void KtapWriter::result(const std::string& name, Outcome outcome, const std::string& reason,
                        const std::vector<std::string>& diagnostics) {
  ResultRecord r;
  r.test_id = name;
  r.outcome = outcome;
  r.reason = reason;
  result(r, diagnostics);
}

void KtapWriter::result(const ResultRecord& r, const std::vector<std::string>& diagnostics) {
  for (const auto& d : diagnostics) diagnostic(d);
  ++number_;
  std::string one_line_reason;
  for (char c : verdict_note(r)) one_line_reason += c == '\n' ? ' ' : c;
  std::string head = "ok " + std::to_string(number_) + " " + ktap_name(r.test_id);
  std::string line;
  switch (verdict_of(r)) {
    case Verdict::kExpectedFail:
    case Verdict::kCaught:
      ++xfail_;
      line = head + " # XFAIL " + one_line_reason;
      break;
    case Verdict::kNotCaught:
      ++pass_;
      line = head + " # " + one_line_reason;
      break;
    case Verdict::kPassed:
      ++pass_;
      line = head;
      break;
    case Verdict::kSkipped:
      ++skip_;
      line = head + " # SKIP " + one_line_reason;
      break;
    case Verdict::kFailed:
      line = "not " + head;
      if (r.expect_fail && r.outcome == Outcome::kPass) {
        ++xpass_;  // kselftest's count; ktap.rst has no XPASS directive
        line += " # " + one_line_reason;
      } else if (r.outcome == Outcome::kTimeout) {
        ++fail_;
        line += " # TIMEOUT " + one_line_reason;
      } else if (r.outcome == Outcome::kError || r.outcome == Outcome::kCrashed) {
        ++error_;
        line += " # ERROR " + one_line_reason;
      } else if (r.outcome == Outcome::kIncomplete) {
        ++fail_;
        line += " # incomplete: " + one_line_reason;
      } else {
        ++fail_;
      }
      break;
  }
  while (!line.empty() && line.back() == ' ') line.pop_back();
  out_ << pad() << line << "\n";
  out_.flush();
}

void KtapWriter::totals() {
  out_ << pad() << "# Totals: pass:" << pass_ << " fail:" << fail_ << " xfail:" << xfail_
       << " xpass:" << xpass_ << " skip:" << skip_ << " error:" << error_ << "\n";
  out_.flush();
}

}  // namespace pasidbench
