// KTAP version 1 output (Documentation/dev-tools/ktap.rst), written as results
// arrive so a consumer sees progress.
#pragma once

#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "results/record.h"

namespace pasidbench {

class KtapWriter {
 public:
  explicit KtapWriter(std::ostream& out, int indent = 0) : out_(out), indent_(indent) {}

  void header(int planned);  // "KTAP version 1" and "1..N"
  void diagnostic(const std::string& line);
  // "ok N name", "ok N name # SKIP reason", "not ok N name # TIMEOUT ...",
  // "not ok N name # incomplete: ..." (a search that stopped early).
  // Only directives Documentation/dev-tools/ktap.rst lists (SKIP, XFAIL,
  // TIMEOUT, ERROR); other outcomes put their words in diagnostic data.
  void result(const std::string& name, Outcome outcome, const std::string& reason,
              const std::vector<std::string>& diagnostics = {});
  // The same from a record, with what the run makes of it (results/verdict.h):
  // an expected failure is "ok ... # XFAIL why", one that passed "not ok ...
  // # expected to fail, passed"; a seeded mutant caught here "ok ... # XFAIL
  // caught: why", not caught here "ok ... # not caught here: why".
  void result(const ResultRecord& r, const std::vector<std::string>& diagnostics = {});
  // The kselftest-style totals line.
  void totals();

  int passed() const { return pass_; }
  int failed() const { return fail_; }
  int skipped() const { return skip_; }

 private:
  std::string pad() const { return std::string(indent_, ' '); }

  std::ostream& out_;
  int indent_;
  int number_ = 0;
  int pass_ = 0, fail_ = 0, skip_ = 0, error_ = 0, xfail_ = 0, xpass_ = 0;
};

// Text that cannot leave its KTAP line: newline, carriage return and tab
// become \n, \r and \t, other control characters (and the Unicode line
// breaks U+0085, U+2028, U+2029) \xNN. Every line the writer emits passes
// its text through this, so no name, reason or trace can forge a result.
std::string ktap_text(std::string_view text);

// A test description safe for a KTAP result line: ktap_text, and '#' (which
// starts a directive) becomes '_'.
std::string ktap_name(const std::string& name);

}  // namespace pasidbench
