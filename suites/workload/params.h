// Typed, validated parameters for workloads and backends.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "platform/input_error.h"

namespace pasidbench {

struct ParamSpec {
  enum class Type { kInt, kBool, kChoice, kString };

  std::string name;
  Type type = Type::kInt;
  std::string default_value;
  std::string help;
  int64_t min = 0;  // kInt only
  int64_t max = INT64_MAX;
  std::vector<std::string> choices;  // kChoice only
  // Where the machine keeps something (a module's path), not what the test
  // is: left out of the test id and the recorded parameters, so that runs
  // on two machines are the same test.
  bool locates = false;

  static ParamSpec Int(std::string name, int64_t def, int64_t min, int64_t max, std::string help);
  static ParamSpec Bool(std::string name, bool def, std::string help);
  static ParamSpec Choice(std::string name, std::string def, std::vector<std::string> choices,
                          std::string help);
  static ParamSpec String(std::string name, std::string def, std::string help);

  std::string describe_type() const;  // "int 1..64", "stays|unbinds|exits", ...
  ParamSpec& locating() {
    locates = true;
    return *this;
  }
};

// A raw parameter as the user wrote it, with where it came from.
struct RawParam {
  std::string value;
  SourceLocation where;
};
using RawParams = std::map<std::string, RawParam>;

// Parameters after validation: every spec has a value (given or default).
class ParamValues {
 public:
  ParamValues() = default;

  int64_t get_int(const std::string& name) const;
  bool get_bool(const std::string& name) const;
  const std::string& get(const std::string& name) const;
  bool has(const std::string& name) const { return values_.count(name) != 0; }
  const std::map<std::string, std::string>& all() const { return values_; }

  void set(const std::string& name, std::string value) { values_[name] = std::move(value); }

 private:
  std::map<std::string, std::string> values_;
};

// Splits "k=v" (from --param). Throws InputError naming the flag.
std::pair<std::string, std::string> split_param_flag(const std::string& text);

// Checks one value against its spec; returns the canonical spelling
// ("true"/"false" for bools, decimal for ints). Throws InputError at `where`.
std::string validate_param(const ParamSpec& spec, const std::string& value,
                           const SourceLocation& where);

// Applies defaults and validates `given` against the union of `spec_groups`.
// A name that no group knows is an error listing the known names.
ParamValues resolve_params(const std::vector<const std::vector<ParamSpec>*>& spec_groups,
                           const RawParams& given);

}  // namespace pasidbench
