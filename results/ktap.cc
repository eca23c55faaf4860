#include "results/ktap.h"

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
                        const std::vector<std::string>& diagnostics, bool expect_fail) {
  for (const auto& d : diagnostics) diagnostic(d);
  ++number_;
  std::string one_line_reason;
  for (char c : reason) one_line_reason += c == '\n' ? ' ' : c;
  out_ << pad();
  if (expect_fail && (outcome == Outcome::kFail || outcome == Outcome::kPass)) {
    if (outcome == Outcome::kFail) {
      ++xfail_;
      out_ << "ok " << number_ << " " << ktap_name(name) << " # XFAIL " << one_line_reason << "\n";
    } else {
      ++xpass_;
      out_ << "not ok " << number_ << " " << ktap_name(name) << " # XPASS expected to fail\n";
    }
    out_.flush();
    return;
  }
  switch (outcome) {
    case Outcome::kPass:
      ++pass_;
      out_ << "ok " << number_ << " " << ktap_name(name);
      break;
    case Outcome::kSkip:
      ++skip_;
      out_ << "ok " << number_ << " " << ktap_name(name) << " # SKIP " << one_line_reason;
      break;
    case Outcome::kTimeout:
      ++fail_;
      out_ << "not ok " << number_ << " " << ktap_name(name) << " # TIMEOUT " << one_line_reason;
      break;
    case Outcome::kError:
    case Outcome::kCrashed:
      ++error_;
      out_ << "not ok " << number_ << " " << ktap_name(name) << " # ERROR " << one_line_reason;
      break;
    case Outcome::kFail:
      ++fail_;
      out_ << "not ok " << number_ << " " << ktap_name(name);
      break;
  }
  out_ << "\n";
  out_.flush();
}

void KtapWriter::totals() {
  out_ << pad() << "# Totals: pass:" << pass_ << " fail:" << fail_ << " xfail:" << xfail_
       << " xpass:" << xpass_ << " skip:" << skip_ << " error:" << error_ << "\n";
  out_.flush();
}

}  // namespace pasidbench
