#include "suites/workload/scenario_toml.h"

#include "suites/workload/toml_reader.h"

namespace pasidbench {

namespace {

std::vector<Step> read_program(const TomlReader& r, const toml::array& program, int depth);

Step read_step(const TomlReader& r, const toml::node& node, int depth) {
  if (!node.is_table())
    throw InputError(r.at(node), "a program step must be an inline table { op = ... }");
  const toml::table& t = *node.as_table();
  Step s;
  s.where = r.at(node);
  std::string op_text = r.string(t, "op");
  if (!parse_step_op(op_text, &s.op))
    throw InputError(s.where, "unknown op '" + op_text +
                                  "' (bind, unbind, submit, compute, sleep, clone_thread, fork, "
                                  "exec, exit, wait, signal, await, repeat, map, unmap, close)");
  auto need_task = [&] { s.task = r.string(t, "task"); };
  switch (s.op) {
    case StepOp::kBind:
      r.only_keys(t, {"op", "fd", "cloexec", "map"}, op_text);
      s.fd = r.optional_string(t, "fd").value_or("");
      s.cloexec = r.optional_bool(t, "cloexec").value_or(false);
      s.map = r.optional_bool(t, "map").value_or(true);
      if (t.get("fd") && s.fd.empty()) throw InputError(r.at(*t.get("fd")), "fd name is empty");
      break;
    case StepOp::kUnbind:
      r.only_keys(t, {"op", "fd"}, op_text);
      s.fd = r.optional_string(t, "fd").value_or("");
      if (t.get("fd") && s.fd.empty()) throw InputError(r.at(*t.get("fd")), "fd name is empty");
      break;
    case StepOp::kMap:
    case StepOp::kUnmap:
    case StepOp::kClose:
      r.only_keys(t, {"op", "fd"}, op_text);
      s.fd = r.string(t, "fd");
      if (s.fd.empty()) throw InputError(r.at(*t.get("fd")), "fd name is empty");
      break;
    case StepOp::kExec:
    case StepOp::kExit:
      r.only_keys(t, {"op"}, op_text);
      break;
    case StepOp::kSubmit: {
      r.only_keys(t, {"op", "count", "expect"}, op_text);
      s.count = r.optional_int(t, "count").value_or(1);
      if (auto e = r.optional_string(t, "expect"); e && !parse_submit_expect(*e, &s.expect))
        throw InputError(r.at(*t.get("expect")),
                         "unknown expect '" + *e + "' (any, ok, gp_sigsegv, fault_unbound)");
      break;
    }
    case StepOp::kCompute:
    case StepOp::kSleep: {
      r.only_keys(t, {"op", "ns"}, op_text);
      auto ns = r.optional_int(t, "ns");
      if (!ns) throw InputError(s.where, op_text + " needs ns = <duration in nanoseconds>");
      s.duration_ns = *ns;
      break;
    }
    case StepOp::kCloneThread:
    case StepOp::kFork:
      r.only_keys(t, {"op", "task", "count"}, op_text);
      need_task();
      s.count = r.optional_int(t, "count").value_or(1);
      break;
    case StepOp::kWait:
      r.only_keys(t, {"op", "task"}, op_text);
      need_task();
      break;
    case StepOp::kSignal:
      r.only_keys(t, {"op", "flag"}, op_text);
      s.flag = r.string(t, "flag");
      break;
    case StepOp::kAwait:
      r.only_keys(t, {"op", "flag", "count"}, op_text);
      s.flag = r.string(t, "flag");
      s.count = r.optional_int(t, "count").value_or(1);
      break;
    case StepOp::kRepeat: {
      r.only_keys(t, {"op", "count", "body"}, op_text);
      auto count = r.optional_int(t, "count");
      if (!count) throw InputError(s.where, "repeat needs count = <times>");
      s.count = *count;
      const toml::array* body = r.optional_array(t, "body");
      if (!body) throw InputError(s.where, "repeat needs body = [ ...steps... ]");
      if (depth > 8) throw InputError(s.where, "repeat nested more than 8 deep");
      s.body = read_program(r, *body, depth + 1);
      break;
    }
  }
  return s;
}

std::vector<Step> read_program(const TomlReader& r, const toml::array& program, int depth) {
  std::vector<Step> steps;
  for (const auto& node : program) steps.push_back(read_step(r, node, depth));
  return steps;
}

Scenario read_scenario(const TomlReader& r, const toml::table& root) {
  r.only_keys(root, {"scenario", "task"}, "a scenario file");
  Scenario sc;
  const toml::table& head = r.table(root, "scenario");
  r.only_keys(head, {"name", "description", "cpus"}, "[scenario]");
  sc.where = r.at(head);
  sc.name = r.string(head, "name");
  sc.description = r.optional_string(head, "description").value_or("");
  sc.cpus = r.optional_int(head, "cpus").value_or(2);

  const toml::node* tasks = root.get("task");
  if (!tasks || !tasks->is_array_of_tables())
    throw InputError(sc.where, "a scenario needs one or more [[task]] tables");
  for (const auto& node : *tasks->as_array()) {
    const toml::table& t = *node.as_table();
    r.only_keys(t, {"name", "start", "instances", "program"}, "[[task]]");
    TaskTemplate tt;
    tt.where = r.at(t);
    tt.name = r.string(t, "name");
    std::string start = r.optional_string(t, "start").value_or("spawned");
    if (start != "initial" && start != "spawned")
      throw InputError(r.at(*t.get("start")), "start must be \"initial\" or \"spawned\"");
    tt.initial = start == "initial";
    tt.instances = r.optional_int(t, "instances").value_or(1);
    if (!tt.initial && t.get("instances"))
      throw InputError(
          r.at(*t.get("instances")),
          "instances applies to initial tasks; spawned tasks use count on clone_thread/fork");
    const toml::array* program = r.optional_array(t, "program");
    if (!program) throw InputError(tt.where, "task '" + tt.name + "' has no program");
    tt.program = read_program(r, *program, 0);
    sc.tasks.push_back(std::move(tt));
  }
  validate_scenario(sc);
  return sc;
}

}  // namespace

Scenario load_scenario_file(const std::string& path) {
  TomlReader r(path);
  return read_scenario(r, r.parse());
}

Scenario load_scenario_text(std::string_view text, const std::string& file) {
  TomlReader r(file);
  return read_scenario(r, r.parse_text(text));
}

}  // namespace pasidbench
