#include "suites/workload/suite.h"

#include <filesystem>

#include "suites/workload/toml_reader.h"

namespace pasidbench {

namespace {

std::vector<std::string> string_list(const TomlReader& r, const toml::table& t,
                                     std::string_view key) {
  std::vector<std::string> out;
  const toml::array* a = r.optional_array(t, key);
  if (!a) return out;
  for (const auto& n : *a) {
    if (!n.is_string()) throw InputError(r.at(n), "'" + std::string(key) + "' must list strings");
    out.emplace_back(*n.as_string());
  }
  return out;
}

Suite read_suite(const TomlReader& r, const toml::table& root) {
  r.only_keys(root, {"suite", "test"}, "a suite file");
  Suite s;
  const toml::table& head = r.table(root, "suite");
  r.only_keys(head, {"name", "description", "backends", "timeout_s", "repetitions"}, "[suite]");
  s.name = r.string(head, "name");
  // It names the default output directory, out/<name>-<run id>.
  if (s.name.empty() || s.name.find_first_of(std::string("/\0", 2)) != std::string::npos)
    throw InputError(r.at(*head.get("name")),
                     "name must be one file name (no '/'): it names the output directory");
  s.description = r.optional_string(head, "description").value_or("");
  s.backends = string_list(r, head, "backends");
  s.timeout_s =
      static_cast<int>(r.optional_int_in(head, "timeout_s", 1, kMaxTimeoutS).value_or(120));
  s.repetitions = static_cast<int>(r.optional_int_in(head, "repetitions", 1, 1000).value_or(1));

  const toml::node* tests = root.get("test");
  if (!tests || !tests->is_array_of_tables())
    throw InputError(r.at(head), "a suite needs one or more [[test]] tables");
  for (const auto& node : *tests->as_array()) {
    const toml::table& t = *node.as_table();
    r.only_keys(t, {"workload", "backends", "params", "timeout_s", "expect"}, "[[test]]");
    SuiteTest st;
    st.where = r.at(t);
    st.workload = r.string(t, "workload");
    st.backends = string_list(r, t, "backends");
    // 0 (or absent) takes the suite's timeout.
    st.timeout_s = static_cast<int>(r.optional_int_in(t, "timeout_s", 0, kMaxTimeoutS).value_or(0));
    if (auto e = r.optional_string(t, "expect")) {
      if (*e != "pass" && *e != "fail")
        throw InputError(r.at(*t.get("expect")), "expect must be \"pass\" or \"fail\"");
      st.expect_fail = *e == "fail";
    }
    if (const toml::node* p = t.get("params")) {
      if (!p->is_table()) throw InputError(r.at(*p), "params must be a table");
      for (const auto& [key, value] : *p->as_table()) {
        std::vector<RawParam>& axis = st.params[std::string(key.str())];
        if (const toml::array* list = value.as_array()) {
          if (list->empty()) throw InputError(r.at(value), "parameter list must not be empty");
          for (const auto& v : *list) axis.push_back({r.scalar_text(v), r.at(v)});
        } else {
          axis.push_back({r.scalar_text(value), r.at(value)});
        }
      }
    }
    if (st.backends.empty() && s.backends.empty())
      throw InputError(st.where, "no backends: set [suite] backends or this test's backends");
    s.tests.push_back(std::move(st));
  }
  return s;
}

}  // namespace

Suite load_suite_file(const std::string& path) {
  TomlReader r(path);
  Suite s = read_suite(r, r.parse());
  s.path = path;
  s.base_dir = std::filesystem::path(path).parent_path().string();
  return s;
}

Suite load_suite_text(std::string_view text, const std::string& file) {
  TomlReader r(file);
  Suite s = read_suite(r, r.parse_text(text));
  s.path = file;
  return s;
}

std::vector<RawParams> expand_param_matrix(const SuiteTest& test) {
  // Counted before anything is built: a few lines of lists can name 10^9 tests.
  size_t total = 1;
  for (const auto& [name, values] : test.params) {
    total *= values.size();
    if (total > kMaxTestsPerEntry)
      throw InputError(test.where, "the parameter lists make more than " +
                                       std::to_string(kMaxTestsPerEntry) +
                                       " tests; split the [[test]] into several");
  }
  std::vector<RawParams> combos(1);
  for (const auto& [name, values] : test.params) {
    std::vector<RawParams> next;
    for (const auto& partial : combos)
      for (const auto& v : values) {
        RawParams p = partial;
        p[name] = v;
        next.push_back(std::move(p));
      }
    combos = std::move(next);
  }
  return combos;
}

}  // namespace pasidbench
