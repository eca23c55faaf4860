#include "runners/backends/host/micro_runner.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <regex>

#include "platform/affinity.h"
#include "platform/child_groups.h"
#include "platform/process.h"
#include "platform/topology.h"

namespace pasidbench {

namespace fs = std::filesystem;

namespace {

std::string tail(const std::string& s, size_t n) {
  std::string t = s.size() > n ? "..." + s.substr(s.size() - n) : s;
  while (!t.empty() && (t.back() == '\n' || t.back() == ' ')) t.pop_back();
  return t;
}

}  // namespace

std::string CapturedRun::describe_failure() const {
  if (exec_errno) return std::string("cannot execute: ") + std::strerror(exec_errno);
  std::string s;
  if (WIFSIGNALED(status))
    s = std::string("killed by ") + strsignal(WTERMSIG(status));
  else
    s = "exited with status " + std::to_string(WEXITSTATUS(status));
  if (!err.empty()) s += ": " + tail(err, 400);
  return s;
}

CapturedRun run_captured(const std::vector<std::string>& argv, int cpu) {
  CapturedRun r;
  int out[2], err[2], exec_report[2];
  if (::pipe2(out, O_CLOEXEC) || ::pipe2(err, O_CLOEXEC) || ::pipe2(exec_report, O_CLOEXEC)) {
    r.exec_errno = errno;
    return r;
  }
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::fflush(nullptr);
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid == 0) {
    // Stays in our process group, which the runner kills as a whole.
    exec_child_dies_with(parent);
    ::dup2(out[1], 1);
    ::dup2(err[1], 2);
    if (cpu >= 0) pin_calling_thread(cpu);  // no allocation between fork and exec
    ::execv(args[0], args.data());
    int e = errno;
    ssize_t ignored = ::write(exec_report[1], &e, sizeof e);
    (void)ignored;
    ::_exit(127);
  }
  ::close(out[1]);
  ::close(err[1]);
  ::close(exec_report[1]);
  if (pid < 0) {
    r.exec_errno = errno;
    ::close(out[0]);
    ::close(err[0]);
    ::close(exec_report[0]);
    return r;
  }
  pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  int open_fds = 2;
  while (open_fds > 0) {
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      char buf[65536];
      ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
        continue;
      }
      (i == 0 ? r.out : r.err).append(buf, static_cast<size_t>(n));
    }
  }
  int e = 0;
  if (::read(exec_report[0], &e, sizeof e) == sizeof e) r.exec_errno = e;
  ::close(exec_report[0]);
  r.status = wait_child(pid);
  return r;
}

double parse_perf_bench_pipe_ns(const std::string& output) {
  static const std::regex usecs(R"(([0-9]+(?:\.[0-9]+)?)\s+usecs/op)");
  std::smatch m;
  if (!std::regex_search(output, m, usecs)) return NAN;
  return std::stod(m[1].str()) * 1000.0;
}

namespace {

ResultRecord run_micro_process(const std::string& binary, const MicroPlan& plan, int repetitions) {
  ResultRecord r;
  std::vector<std::string> argv = {binary};
  for (auto& a : micro_command_line(plan, repetitions)) argv.push_back(std::move(a));
  CapturedRun run = run_captured(argv);
  if (run.exec_errno) {
    r.outcome = Outcome::kError;
    r.reason = binary + ": " + run.describe_failure();
    return r;
  }
  // Exit status 4: --with-pasid could not be honoured; stderr says why.
  if (WIFEXITED(run.status) && WEXITSTATUS(run.status) == 4) {
    static const std::string marker = "pasidbench-micro: skip: ";
    auto at = run.err.rfind(marker);
    r.outcome = Outcome::kSkip;
    r.reason = at == std::string::npos ? tail(run.err, 400)
                                       : tail(run.err.substr(at + marker.size()), 800);
    return r;
  }
  if (!WIFEXITED(run.status) || WEXITSTATUS(run.status) != 0) {
    r.outcome = WIFSIGNALED(run.status) ? Outcome::kCrashed : Outcome::kError;
    r.reason = "pasidbench-micro " + run.describe_failure();
    return r;
  }
  auto j = nlohmann::json::parse(run.out, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    r.outcome = Outcome::kError;
    r.reason = "pasidbench-micro printed no JSON: " + tail(run.out + run.err, 400);
    return r;
  }
  fill_from_google_benchmark(j, plan, &r);
  r.details["command"] = argv;
  return r;
}

}  // namespace

ResultRecord run_google_benchmark(const MicroPlan& plan, int samples, SampleUnit unit) {
  std::string tried;
  std::string binary = find_micro_binary(&tried);
  if (binary.empty()) {
    ResultRecord r;
    r.outcome = Outcome::kError;
    r.reason = "pasidbench-micro not found (looked at " + tried + "; set PASIDBENCH_MICRO)";
    return r;
  }
  samples = std::max(1, samples);
  if (unit == SampleUnit::kRepetition) {
    ResultRecord r = run_micro_process(binary, plan, samples);
    if (r.outcome == Outcome::kPass) r.details["sample_unit"] = "repetition";
    return r;
  }
  std::vector<ResultRecord> runs;
  for (int i = 0; i < samples; ++i) {
    runs.push_back(run_micro_process(binary, plan, 1));
    if (runs.back().outcome != Outcome::kPass) {
      ResultRecord failed = std::move(runs.back());
      if (i > 0)
        failed.reason +=
            " (process " + std::to_string(i + 1) + " of " + std::to_string(samples) + ")";
      return failed;
    }
  }
  ResultRecord first = runs.front();
  for (const auto& [name, metric] : runs.front().metrics) {
    std::vector<double> pooled;
    for (const auto& run : runs) {
      auto it = run.metrics.find(name);
      if (it == run.metrics.end() || it->second.samples.empty()) break;
      pooled.insert(pooled.end(), it->second.samples.begin(), it->second.samples.end());
    }
    // A metric one process could not give (counters) is missing for all.
    if (pooled.size() != runs.size())
      first.add_missing_metric(name, metric.note);
    else
      first.add_metric(name, pooled,
                       (metric.note.empty() ? "" : metric.note + "; ") + "one sample per process");
  }
  first.details["sample_unit"] = "process";
  first.details["processes"] = samples;
  std::vector<nlohmann::json> outputs;
  for (const auto& run : runs)
    outputs.push_back(run.details.value("google_benchmark", nlohmann::json()));
  first.details["google_benchmark"] = merge_google_benchmark_processes(outputs, plan.benchmark);
  return first;
}

ResultRecord run_perf_bench_pipe(const ParamValues& params, int repetitions) {
  ResultRecord r;
  std::string tried;
  std::string perf = find_perf(&tried);
  if (perf.empty()) {
    r.outcome = Outcome::kSkip;
    r.reason = "perf not installed (looked at " + tried + "; Debian package linux-perf)";
    return r;
  }
  std::vector<std::string> argv = {perf, "bench", "sched", "pipe", "-l", params.get("loops")};
  if (params.get("mode") == "threads") argv.push_back("-T");
  int cpu = -1;
  if (params.get("placement") == "same_cpu") {
    try {
      cpu = CpuTopology::discover().pick_pair(Placement::kSameCpu).first;
    } catch (const PlacementError& e) {
      r.outcome = Outcome::kSkip;
      r.reason = e.what();
      return r;
    }
  }
  std::vector<double> samples;
  nlohmann::json outputs = nlohmann::json::array();
  for (int i = 0; i < std::max(1, repetitions); ++i) {
    CapturedRun run = run_captured(argv, cpu);
    outputs.push_back(run.out);
    double ns = parse_perf_bench_pipe_ns(run.out);
    if (run.exec_errno || !WIFEXITED(run.status) || WEXITSTATUS(run.status) != 0 ||
        std::isnan(ns)) {
      r.outcome = Outcome::kError;
      r.reason = perf + " bench sched pipe " +
                 (std::isnan(ns) && !run.exec_errno && WIFEXITED(run.status) &&
                          WEXITSTATUS(run.status) == 0
                      ? "printed no usecs/op line: " + tail(run.out, 300)
                      : run.describe_failure());
      r.details = {{"command", argv}, {"outputs", outputs}};
      return r;
    }
    samples.push_back(ns);
  }
  r.add_metric("perf_bench_pipe_ns", samples,
               cpu >= 0 ? "perf pinned to CPU " + std::to_string(cpu) : "unpinned");
  r.details = {{"command", argv}, {"outputs", outputs}};
  r.outcome = Outcome::kPass;
  return r;
}

}  // namespace pasidbench
