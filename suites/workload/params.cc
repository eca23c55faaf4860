#include "suites/workload/params.h"

#include <charconv>

namespace pasidbench {

ParamSpec ParamSpec::Int(std::string name, int64_t def, int64_t min, int64_t max,
                         std::string help) {
  ParamSpec s;
  s.name = std::move(name);
  s.type = Type::kInt;
  s.default_value = std::to_string(def);
  s.min = min;
  s.max = max;
  s.help = std::move(help);
  return s;
}

ParamSpec ParamSpec::Bool(std::string name, bool def, std::string help) {
  ParamSpec s;
  s.name = std::move(name);
  s.type = Type::kBool;
  s.default_value = def ? "true" : "false";
  s.help = std::move(help);
  return s;
}

ParamSpec ParamSpec::Choice(std::string name, std::string def, std::vector<std::string> choices,
                            std::string help) {
  ParamSpec s;
  s.name = std::move(name);
  s.type = Type::kChoice;
  s.default_value = std::move(def);
  s.choices = std::move(choices);
  s.help = std::move(help);
  return s;
}

ParamSpec ParamSpec::String(std::string name, std::string def, std::string help) {
  ParamSpec s;
  s.name = std::move(name);
  s.type = Type::kString;
  s.default_value = std::move(def);
  s.help = std::move(help);
  return s;
}

std::string ParamSpec::describe_type() const {
  switch (type) {
    case Type::kInt:
      return "int " + std::to_string(min) + ".." +
             (max == INT64_MAX ? std::string("") : std::to_string(max));
    case Type::kBool:
      return "bool";
    case Type::kChoice: {
      std::string out;
      for (const auto& c : choices) out += (out.empty() ? "" : "|") + c;
      return out;
    }
    case Type::kString:
      return "string";
  }
  return "?";
}

int64_t ParamValues::get_int(const std::string& name) const {
  const std::string& text = get(name);
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || ptr != text.data() + text.size())
    throw InputError("parameter '" + name + "' is not an integer: '" + text + "'");
  return v;
}

bool ParamValues::get_bool(const std::string& name) const { return get(name) == "true"; }

const std::string& ParamValues::get(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end()) throw std::logic_error("parameter '" + name + "' was never declared");
  return it->second;
}

std::pair<std::string, std::string> split_param_flag(const std::string& text) {
  auto eq = text.find('=');
  if (eq == std::string::npos || eq == 0)
    throw InputError({"--param", 0}, "expected key=value, got '" + text + "'");
  return {text.substr(0, eq), text.substr(eq + 1)};
}

std::string validate_param(const ParamSpec& spec, const std::string& value,
                           const SourceLocation& where) {
  auto bad = [&](const std::string& why) {
    return InputError(where, "parameter '" + spec.name + "': " + why + " (expected " +
                                 spec.describe_type() + ")");
  };
  switch (spec.type) {
    case ParamSpec::Type::kInt: {
      int64_t v = 0;
      auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
      if (value.empty() || ec != std::errc() || ptr != value.data() + value.size())
        throw bad("'" + value + "' is not an integer");
      if (v < spec.min || v > spec.max) throw bad(std::to_string(v) + " is out of range");
      return std::to_string(v);
    }
    case ParamSpec::Type::kBool:
      if (value == "true" || value == "1" || value == "yes") return "true";
      if (value == "false" || value == "0" || value == "no") return "false";
      throw bad("'" + value + "' is not a boolean");
    case ParamSpec::Type::kChoice:
      for (const auto& c : spec.choices)
        if (c == value) return value;
      throw bad("'" + value + "' is not one of the choices");
    case ParamSpec::Type::kString:
      return value;
  }
  return value;
}

ParamValues resolve_params(const std::vector<const std::vector<ParamSpec>*>& spec_groups,
                           const RawParams& given) {
  ParamValues out;
  std::map<std::string, const ParamSpec*> known;
  for (const auto* group : spec_groups)
    for (const auto& spec : *group) known.emplace(spec.name, &spec);

  for (const auto& [name, raw] : given) {
    auto it = known.find(name);
    if (it == known.end()) {
      std::string names;
      for (const auto& [n, _] : known) names += (names.empty() ? "" : ", ") + n;
      throw InputError(raw.where, "unknown parameter '" + name +
                                      "' (known: " + (names.empty() ? "none" : names) + ")");
    }
    out.set(name, validate_param(*it->second, raw.value, raw.where));
  }
  for (const auto& [name, spec] : known)
    if (!out.has(name)) out.set(name, spec->default_value);
  return out;
}

}  // namespace pasidbench
