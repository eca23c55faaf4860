// Bad input is reported as "where: what is wrong" and never half-applied.
#pragma once

#include <stdexcept>
#include <string>

namespace pasidbench {

// Where a piece of input came from: "suites/smoke.toml:12", "--param", ...
struct SourceLocation {
  std::string file;
  int line = 0;

  std::string str() const {
    if (file.empty()) return {};
    return line > 0 ? file + ":" + std::to_string(line) : file;
  }
};

// Thrown for anything the user got wrong: a malformed manifest, an unknown
// policy, an impossible parameter. The CLI prints what() and exits 2.
class InputError : public std::runtime_error {
 public:
  InputError(const SourceLocation& where, const std::string& what)
      : std::runtime_error(where.str().empty() ? what : where.str() + ": " + what) {}
  explicit InputError(const std::string& what) : std::runtime_error(what) {}
};

}  // namespace pasidbench
