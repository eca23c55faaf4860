#include "suites/workload/scenario.h"

#include <cstdio>
#include <functional>
#include <map>
#include <set>
#include <sstream>

namespace pasidbench {

namespace {

struct OpName {
  StepOp op;
  const char* name;
};
constexpr OpName kOpNames[] = {
    {StepOp::kBind, "bind"},     {StepOp::kUnbind, "unbind"},
    {StepOp::kSubmit, "submit"}, {StepOp::kCompute, "compute"},
    {StepOp::kSleep, "sleep"},   {StepOp::kCloneThread, "clone_thread"},
    {StepOp::kFork, "fork"},     {StepOp::kExec, "exec"},
    {StepOp::kExit, "exit"},     {StepOp::kWait, "wait"},
    {StepOp::kSignal, "signal"}, {StepOp::kAwait, "await"},
    {StepOp::kRepeat, "repeat"}, {StepOp::kMap, "map"},
    {StepOp::kUnmap, "unmap"},   {StepOp::kClose, "close"},
};

struct ExpectName {
  SubmitExpect expect;
  const char* name;
};
constexpr ExpectName kExpectNames[] = {
    {SubmitExpect::kAny, "any"},
    {SubmitExpect::kOk, "ok"},
    {SubmitExpect::kGpSigsegv, "gp_sigsegv"},
    {SubmitExpect::kFaultUnbound, "fault_unbound"},
};

// Bounds that keep every count product far from int64 and a run finite: a
// scenario is a test, not a load generator.
constexpr int64_t kMaxCount = 1'000'000;  // one step's count, a task's instances
constexpr int64_t kMaxCpus = 4096;
constexpr int64_t kMaxRuns = 1'000'000'000;           // how often any one step may run in all
constexpr int64_t kMaxDurationNs = 3600'000'000'000;  // an hour

// a * b, or InputError at `where` when it passes kMaxRuns.
int64_t bounded_product(int64_t a, int64_t b, const SourceLocation& where) {
  int64_t p = 0;
  if (__builtin_mul_overflow(a, b, &p) || p > kMaxRuns)
    throw InputError(
        where, "counts multiply to more than " + std::to_string(kMaxRuns) + " runs of one step");
  return p;
}

// Visits every step, repeat bodies included, with the product of the
// enclosing repeat counts (how often the step runs per task instance).
void for_each_step(const std::vector<Step>& steps, int64_t multiplier,
                   const std::function<void(const Step&, int64_t)>& fn) {
  for (const auto& step : steps) {
    fn(step, multiplier);
    if (step.op == StepOp::kRepeat)
      for_each_step(step.body, bounded_product(multiplier, step.count, step.where), fn);
  }
}

void check_counts(const std::vector<Step>& steps) {
  for (const auto& s : steps) {
    if (s.count > kMaxCount)
      throw InputError(s.where, "count must be at most " + std::to_string(kMaxCount));
    if (s.duration_ns > kMaxDurationNs)
      throw InputError(s.where, "ns must be at most " + std::to_string(kMaxDurationNs));
    check_counts(s.body);
  }
}

std::string quoted(const std::string& s) {
  std::string out = "\"";
  // TOML basic strings allow no control character but tab unescaped.
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if ((c < 0x20 && c != '\t') || c == 0x7f) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\u%04X", c);
      out += hex;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

void steps_to_toml(const std::vector<Step>& steps, int indent, std::ostringstream& out) {
  std::string pad(indent, ' ');
  for (const auto& s : steps) {
    out << pad << "{ op = \"" << to_string(s.op) << "\"";
    switch (s.op) {
      case StepOp::kBind:
        if (!s.fd.empty()) out << ", fd = " << quoted(s.fd);
        if (s.cloexec) out << ", cloexec = true";
        if (!s.map) out << ", map = false";
        break;
      case StepOp::kUnbind:
        if (!s.fd.empty()) out << ", fd = " << quoted(s.fd);
        break;
      case StepOp::kMap:
      case StepOp::kUnmap:
      case StepOp::kClose:
        out << ", fd = " << quoted(s.fd);
        break;
      case StepOp::kSubmit:
        if (s.count != 1) out << ", count = " << s.count;
        if (s.expect != SubmitExpect::kAny) out << ", expect = \"" << to_string(s.expect) << "\"";
        break;
      case StepOp::kCompute:
      case StepOp::kSleep:
        out << ", ns = " << s.duration_ns;
        break;
      case StepOp::kCloneThread:
      case StepOp::kFork:
        out << ", task = " << quoted(s.task);
        if (s.count != 1) out << ", count = " << s.count;
        break;
      case StepOp::kWait:
        out << ", task = " << quoted(s.task);
        break;
      case StepOp::kSignal:
        out << ", flag = " << quoted(s.flag);
        break;
      case StepOp::kAwait:
        out << ", flag = " << quoted(s.flag);
        if (s.count != 1) out << ", count = " << s.count;
        break;
      case StepOp::kRepeat:
        out << ", count = " << s.count << ", body = [\n";
        steps_to_toml(s.body, indent + 2, out);
        out << pad << "]";
        break;
      default:
        break;
    }
    out << " },\n";
  }
}

}  // namespace

const TaskTemplate* Scenario::find(const std::string& task_name) const {
  for (const auto& t : tasks)
    if (t.name == task_name) return &t;
  return nullptr;
}

const char* to_string(StepOp op) {
  for (const auto& n : kOpNames)
    if (n.op == op) return n.name;
  return "?";
}

const char* to_string(SubmitExpect expect) {
  for (const auto& n : kExpectNames)
    if (n.expect == expect) return n.name;
  return "?";
}

bool parse_step_op(const std::string& text, StepOp* out) {
  for (const auto& n : kOpNames)
    if (text == n.name) {
      *out = n.op;
      return true;
    }
  return false;
}

bool parse_submit_expect(const std::string& text, SubmitExpect* out) {
  for (const auto& n : kExpectNames)
    if (text == n.name) {
      *out = n.expect;
      return true;
    }
  return false;
}

void validate_scenario(const Scenario& sc) {
  if (sc.tasks.empty()) throw InputError(sc.where, "scenario '" + sc.name + "' has no tasks");
  if (sc.cpus < 1 || sc.cpus > kMaxCpus)
    throw InputError(sc.where,
                     "scenario '" + sc.name + "': cpus must be 1.." + std::to_string(kMaxCpus));

  std::set<std::string> names;
  bool any_initial = false;
  for (const auto& t : sc.tasks) {
    if (t.name.empty()) throw InputError(t.where, "task without a name");
    if (!names.insert(t.name).second) throw InputError(t.where, "duplicate task '" + t.name + "'");
    if (t.instances < 1) throw InputError(t.where, "task '" + t.name + "': instances must be >= 1");
    if (t.instances > kMaxCount)
      throw InputError(
          t.where, "task '" + t.name + "': instances must be at most " + std::to_string(kMaxCount));
    check_counts(t.program);
    any_initial |= t.initial;
  }
  if (!any_initial) throw InputError(sc.where, "no task starts at time zero (start = \"initial\")");

  // A step on a named file needs a bind somewhere that opens a file of that
  // name (which process holds it at run time is the run's business: a step
  // on a name the process does not hold does nothing, as on EBADF).
  std::set<std::string> opened;
  for (const auto& t : sc.tasks)
    for_each_step(t.program, 1, [&](const Step& s, int64_t) {
      if (s.op == StepOp::kBind && !s.fd.empty()) opened.insert(s.fd);
    });
  for (const auto& t : sc.tasks)
    for_each_step(t.program, 1, [&](const Step& s, int64_t) {
      const bool named_op =
          s.op == StepOp::kMap || s.op == StepOp::kUnmap || s.op == StepOp::kClose;
      if (named_op && s.fd.empty())
        throw InputError(s.where, std::string(to_string(s.op)) + " needs fd = <name of a file>");
      if ((named_op || s.op == StepOp::kUnbind) && !s.fd.empty() && !opened.count(s.fd))
        throw InputError(s.where, std::string(to_string(s.op)) + " of fd '" + s.fd +
                                      "', which no bind opens (bind with fd = \"" + s.fd + "\")");
      if (s.op != StepOp::kBind && (s.cloexec || !s.map))
        throw InputError(s.where, "cloexec and map apply to bind only");
    });

  // Who starts whom, and how many signals each latch can get at most.
  std::map<std::string, std::set<std::string>> starts;
  std::set<std::string> started;
  std::map<std::string, int64_t> signals;  // per instance of the signalling template
  std::map<std::string, int64_t> instances;
  for (const auto& t : sc.tasks) {
    if (t.initial) instances[t.name] = t.instances;
    std::set<std::string> spawned_by_t;
    for_each_step(t.program, 1, [&](const Step& s, int64_t times) {
      switch (s.op) {
        case StepOp::kCloneThread:
        case StepOp::kFork: {
          const TaskTemplate* child = sc.find(s.task);
          if (!child)
            throw InputError(s.where, "task '" + t.name + "' starts unknown task '" + s.task + "'");
          if (child->initial)
            throw InputError(
                s.where, "task '" + s.task + "' starts at time zero and cannot also be spawned");
          if (s.count < 1) throw InputError(s.where, "count must be >= 1");
          starts[t.name].insert(s.task);
          started.insert(s.task);
          spawned_by_t.insert(s.task);
          break;
        }
        case StepOp::kWait:
          if (s.task == t.name) throw InputError(s.where, "task '" + t.name + "' waits on itself");
          if (!sc.find(s.task))
            throw InputError(s.where,
                             "task '" + t.name + "' waits on unknown task '" + s.task + "'");
          if (!spawned_by_t.count(s.task))
            throw InputError(s.where, "task '" + t.name + "' waits on '" + s.task +
                                          "', which it has not started before this step");
          break;
        case StepOp::kSignal:
          if (s.flag.empty()) throw InputError(s.where, "signal needs a flag");
          signals[s.flag] += times;
          break;
        case StepOp::kAwait:
          if (s.flag.empty()) throw InputError(s.where, "await needs a flag");
          if (s.count < 1) throw InputError(s.where, "count must be >= 1");
          break;
        case StepOp::kSubmit:
          if (s.count < 1) throw InputError(s.where, "count must be >= 1");
          break;
        case StepOp::kCompute:
        case StepOp::kSleep:
          if (s.duration_ns < 0) throw InputError(s.where, "ns must be >= 0");
          break;
        case StepOp::kRepeat:
          if (s.count < 0) throw InputError(s.where, "repeat count must be >= 0");
          break;
        default:
          break;
      }
    });
  }
  for (const auto& t : sc.tasks)
    if (!t.initial && !started.count(t.name))
      throw InputError(t.where,
                       "task '" + t.name + "' is never started (no clone_thread/fork names it)");

  // A template that (transitively) starts itself would never end.
  std::map<std::string, int> state;  // 0 new, 1 on stack, 2 done
  std::function<void(const std::string&)> visit = [&](const std::string& n) {
    state[n] = 1;
    for (const auto& child : starts[n]) {
      if (state[child] == 1)
        throw InputError(sc.find(child)->where,
                         "task '" + child + "' starts itself (directly or through others)");
      if (state[child] == 0) visit(child);
    }
    state[n] = 2;
  };
  for (const auto& t : sc.tasks)
    if (state[t.name] == 0) visit(t.name);

  // Upper bound on how often each template runs, to bound latch signals.
  std::map<std::string, int64_t> runs;
  std::function<int64_t(const std::string&)> count_runs = [&](const std::string& n) -> int64_t {
    if (runs.count(n)) return runs[n];
    const TaskTemplate* tt = sc.find(n);
    int64_t total = tt->initial ? tt->instances : 0;
    for (const auto& parent : sc.tasks)
      for_each_step(parent.program, 1, [&](const Step& s, int64_t times) {
        if ((s.op == StepOp::kCloneThread || s.op == StepOp::kFork) && s.task == n)
          total += bounded_product(bounded_product(count_runs(parent.name), times, s.where),
                                   s.count, s.where);
        if (total > kMaxRuns)
          throw InputError(tt->where, "task '" + n + "' would start more than " +
                                          std::to_string(kMaxRuns) + " times");
      });
    return runs[n] = total;
  };
  std::map<std::string, int64_t> latch_max;
  for (const auto& t : sc.tasks)
    for_each_step(t.program, 1, [&](const Step& s, int64_t times) {
      if (s.op == StepOp::kSignal)
        latch_max[s.flag] += bounded_product(times, count_runs(t.name), s.where);
    });
  for (const auto& t : sc.tasks)
    for_each_step(t.program, 1, [&](const Step& s, int64_t) {
      if (s.op == StepOp::kAwait && latch_max[s.flag] < s.count)
        throw InputError(s.where, "await '" + s.flag + "' for " + std::to_string(s.count) +
                                      " signals can never be satisfied (at most " +
                                      std::to_string(latch_max[s.flag]) + " are sent)");
    });
}

std::string scenario_to_toml(const Scenario& sc) {
  std::ostringstream out;
  out << "[scenario]\nname = " << quoted(sc.name) << "\n";
  if (!sc.description.empty()) out << "description = " << quoted(sc.description) << "\n";
  out << "cpus = " << sc.cpus << "\n";
  for (const auto& t : sc.tasks) {
    out << "\n[[task]]\nname = " << quoted(t.name) << "\n";
    out << "start = \"" << (t.initial ? "initial" : "spawned") << "\"\n";
    if (t.initial && t.instances != 1) out << "instances = " << t.instances << "\n";
    out << "program = [\n";
    steps_to_toml(t.program, 2, out);
    out << "]\n";
  }
  return out.str();
}

}  // namespace pasidbench
