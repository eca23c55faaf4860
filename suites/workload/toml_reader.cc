#include "suites/workload/toml_reader.h"

#include <sstream>

namespace pasidbench {

namespace {

const char* type_name(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a float";
    case toml::node_type::boolean:
      return "a boolean";
    default:
      return "a date/time";
  }
}

toml::table parse_or_throw(const std::string& file, std::string_view text, bool from_disk) {
  try {
    if (from_disk) return toml::parse_file(file);
    return toml::parse(text, file);
  } catch (const toml::parse_error& e) {
    std::string what(e.description());
    int line = static_cast<int>(e.source().begin.line);
    if (from_disk && line == 0) throw InputError({file, 0}, "cannot read: " + what);
    throw InputError({file, line}, "TOML syntax: " + what);
  }
}

}  // namespace

toml::table TomlReader::parse() const { return parse_or_throw(file_, {}, true); }

toml::table TomlReader::parse_text(std::string_view text) const {
  return parse_or_throw(file_, text, false);
}

SourceLocation TomlReader::at(const toml::node& node) const {
  return {file_, static_cast<int>(node.source().begin.line)};
}

void TomlReader::only_keys(const toml::table& table,
                           std::initializer_list<std::string_view> allowed,
                           const std::string& what) const {
  for (const auto& [key, node] : table) {
    bool ok = false;
    for (auto a : allowed) ok |= (key.str() == a);
    if (!ok) {
      std::ostringstream names;
      for (auto a : allowed) names << (names.tellp() ? ", " : "") << a;
      throw InputError(at(node), "unknown key '" + std::string(key.str()) + "' in " + what +
                                     " (allowed: " + names.str() + ")");
    }
  }
}

const toml::table& TomlReader::table(const toml::table& parent, std::string_view key) const {
  const toml::node* n = parent.get(key);
  if (!n) throw InputError(at(parent), "missing table [" + std::string(key) + "]");
  if (!n->is_table())
    throw InputError(at(*n), "'" + std::string(key) + "' must be a table, not " + type_name(*n));
  return *n->as_table();
}

std::string TomlReader::string(const toml::table& t, std::string_view key) const {
  auto v = optional_string(t, key);
  if (!v) throw InputError(at(t), "missing key '" + std::string(key) + "'");
  return *v;
}

std::optional<std::string> TomlReader::optional_string(const toml::table& t,
                                                       std::string_view key) const {
  const toml::node* n = t.get(key);
  if (!n) return std::nullopt;
  if (!n->is_string())
    throw InputError(at(*n), "'" + std::string(key) + "' must be a string, not " + type_name(*n));
  return std::string(*n->as_string());
}

std::optional<int64_t> TomlReader::optional_int(const toml::table& t, std::string_view key) const {
  const toml::node* n = t.get(key);
  if (!n) return std::nullopt;
  if (!n->is_integer())
    throw InputError(at(*n), "'" + std::string(key) + "' must be an integer, not " + type_name(*n));
  return n->as_integer()->get();
}

std::optional<int64_t> TomlReader::optional_int_in(const toml::table& t, std::string_view key,
                                                   int64_t min, int64_t max) const {
  std::optional<int64_t> v = optional_int(t, key);
  if (v && (*v < min || *v > max))
    throw InputError(at(*t.get(key)), "'" + std::string(key) + "' must be " + std::to_string(min) +
                                          ".." + std::to_string(max) + ", not " +
                                          std::to_string(*v));
  return v;
}

std::optional<bool> TomlReader::optional_bool(const toml::table& t, std::string_view key) const {
  const toml::node* n = t.get(key);
  if (!n) return std::nullopt;
  if (!n->is_boolean())
    throw InputError(at(*n), "'" + std::string(key) + "' must be a boolean, not " + type_name(*n));
  return n->as_boolean()->get();
}

const toml::array* TomlReader::optional_array(const toml::table& t, std::string_view key) const {
  const toml::node* n = t.get(key);
  if (!n) return nullptr;
  if (!n->is_array())
    throw InputError(at(*n), "'" + std::string(key) + "' must be an array, not " + type_name(*n));
  return n->as_array();
}

std::string TomlReader::scalar_text(const toml::node& node) const {
  if (auto s = node.as_string()) return std::string(s->get());
  if (auto i = node.as_integer()) return std::to_string(i->get());
  if (auto b = node.as_boolean()) return b->get() ? "true" : "false";
  throw InputError(at(node),
                   std::string("expected a string, integer or boolean, not ") + type_name(node));
}

}  // namespace pasidbench
