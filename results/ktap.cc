#include "results/ktap.h"

#include "results/verdict.h"

namespace pasidbench {

namespace {

std::string hex_escape(unsigned char c) {
  static const char digits[] = "0123456789abcdef";
  return std::string("\\x") + digits[c >> 4] + digits[c & 0xf];
}

}  // namespace

std::string ktap_text(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    // U+0085, U+2028 and U+2029 end a line for Python's str.splitlines().
    bool unicode_break = (c == 0xc2 && i + 1 < text.size() && text[i + 1] == '\x85') ||
                         (c == 0xe2 && i + 2 < text.size() && text[i + 1] == '\x80' &&
                          (text[i + 2] == '\xa8' || text[i + 2] == '\xa9'));
    if (unicode_break) {
      size_t n = c == 0xc2 ? 2 : 3;
      for (size_t k = 0; k < n; ++k) out += hex_escape(static_cast<unsigned char>(text[i + k]));
      i += n - 1;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7f) {
      out += hex_escape(c);
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

std::string ktap_name(const std::string& name) {
  std::string out = ktap_text(name);
  for (char& c : out)
    if (c == '#') c = '_';
  return out;
}

void KtapWriter::header(int planned) {
  out_ << pad() << "KTAP version 1\n" << pad() << "1.." << planned << "\n";
  out_.flush();
}

void KtapWriter::diagnostic(const std::string& line) {
  out_ << pad() << "# " << ktap_text(line) << "\n";
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
  std::string one_line_reason = ktap_text(verdict_note(r));
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
