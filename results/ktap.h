// KTAP version 1 output (Documentation/dev-tools/ktap.rst), written as results
// arrive so a consumer sees progress.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "results/record.h"

namespace pasidbench {

class KtapWriter {
 public:
  explicit KtapWriter(std::ostream& out, int indent = 0) : out_(out), indent_(indent) {}

  void header(int planned);  // "KTAP version 1" and "1..N"
  void diagnostic(const std::string& line);
  // "ok N name", "ok N name # SKIP reason", "not ok N name # TIMEOUT ..."
  // With expect_fail, a fail is "ok ... # XFAIL" and a pass "not ok ... # XPASS".
  void result(const std::string& name, Outcome outcome, const std::string& reason,
              const std::vector<std::string>& diagnostics = {}, bool expect_fail = false);
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

// A test description safe for a KTAP result line ('#' starts a directive).
std::string ktap_name(const std::string& name);

}  // namespace pasidbench
