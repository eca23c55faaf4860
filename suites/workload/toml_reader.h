// Small checked accessors over toml++ so every manifest error names file:line.
#pragma once

#include <toml++/toml.h>

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

#include "platform/input_error.h"

namespace pasidbench {

class TomlReader {
 public:
  explicit TomlReader(std::string file) : file_(std::move(file)) {}

  // Parses the file; a syntax error becomes InputError at its line.
  toml::table parse() const;
  // Parses text as if it came from file_ (tests and embedded manifests).
  toml::table parse_text(std::string_view text) const;

  SourceLocation at(const toml::node& node) const;
  const std::string& file() const { return file_; }

  // Rejects keys outside `allowed`, so typos do not pass silently.
  void only_keys(const toml::table& table, std::initializer_list<std::string_view> allowed,
                 const std::string& what) const;

  const toml::table& table(const toml::table& parent, std::string_view key) const;
  std::string string(const toml::table& t, std::string_view key) const;
  std::optional<std::string> optional_string(const toml::table& t, std::string_view key) const;
  std::optional<int64_t> optional_int(const toml::table& t, std::string_view key) const;
  // The same, rejecting values outside [min, max] at their line, so nothing
  // is narrowed or replaced silently.
  std::optional<int64_t> optional_int_in(const toml::table& t, std::string_view key, int64_t min,
                                         int64_t max) const;
  std::optional<bool> optional_bool(const toml::table& t, std::string_view key) const;
  const toml::array* optional_array(const toml::table& t, std::string_view key) const;

  // A scalar (string, integer, boolean) as text, for parameter values.
  std::string scalar_text(const toml::node& node) const;

 private:
  std::string file_;
};

}  // namespace pasidbench
