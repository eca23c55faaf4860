#include "results/ktap.h"

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
                        const std::vector<std::string>& diagnostics, bool expect_fail) {
  for (const auto& d : diagnostics) diagnostic(d);
  ++number_;
  std::string one_line_reason = ktap_text(reason);
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
