#include "runners/backends/host/dsa_latency.h"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <thread>

#include "platform/dsa_wq.h"
#include "platform/kprobe_observer.h"
#include "platform/process.h"

namespace pasidbench {

using nlohmann::json;

namespace {

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// One repetition, in the calling (fresh) process. Returns its JSON report.
json one_repetition(const IdxdWorkQueue& queue, SubmitPreference pref, int64_t submits,
                    int64_t threads, int max_retries, std::chrono::milliseconds timeout) {
  json rep;
  std::unique_ptr<WorkQueue> wq;
  try {
    wq = std::make_unique<WorkQueue>(queue, pref);
  } catch (const WorkQueueError& e) {
    return {{"bind_error", e.what()}, {"errno", e.err()}};
  }
  rep["bind_ns"] = wq->bind_ns();
  rep["path"] = to_string(wq->path());
  rep["path_note"] = wq->path_note();
  int64_t retries = 0;
  auto failed = [&](const std::string& what, const SubmitResult& r) {
    std::string lost = work_queue_lost("/", queue.name);
    rep["submit_error"] = what + ": " + r.describe() + (lost.empty() ? "" : "; " + lost);
    rep["submit_status"] = to_string(r.status);
    return rep;
  };
  SubmitResult first = wq->submit_noop(max_retries, timeout);
  retries += first.retries;
  if (first.status != SubmitResult::Status::kOk)
    return failed("first submission of the main thread", first);
  rep["first_submit_ns"] = first.latency_ns;
  std::vector<double> steady;
  for (int64_t i = 0; i < submits; ++i) {
    SubmitResult r = wq->submit_noop(max_retries, timeout);
    retries += r.retries;
    if (r.status != SubmitResult::Status::kOk)
      return failed("steady submission " + std::to_string(i + 1), r);
    steady.push_back(static_cast<double>(r.latency_ns));
  }
  rep["submit_ns"] = median(steady);
  std::vector<SubmitResult> thread_first(static_cast<size_t>(threads));
  for (int64_t t = 0; t < threads; ++t) {
    std::thread th(
        [&, t] { thread_first[static_cast<size_t>(t)] = wq->submit_noop(max_retries, timeout); });
    th.join();  // one at a time: each first ENQCMD timed alone
  }
  json per_thread = json::array();
  for (const auto& r : thread_first) {
    retries += r.retries;
    if (r.status != SubmitResult::Status::kOk) return failed("first submission of a new thread", r);
    per_thread.push_back(r.latency_ns);
  }
  rep["thread_first_submit_ns"] = per_thread;
  rep["enqcmd_retries"] = retries;
  rep["unbind_ns"] = wq->close();
  return rep;
}

}  // namespace

json observe_pasids(const PasidKprobes& kprobes, const std::vector<pid_t>& only, ResultRecord* r) {
  json kp = {{"probed", kprobes.probed()}, {"note", kprobes.note()}};
  if (!kprobes.active()) return kp;
  std::vector<PasidEvent> all = kprobes.collect();
  std::vector<pid_t> pids = only;
  if (pids.empty())
    for (const auto& e : all)
      if (std::find(pids.begin(), pids.end(), e.pid) == pids.end()) pids.push_back(e.pid);
  json events = json::array();
  double t0 = all.empty() ? 0 : all.front().time_s;
  for (pid_t pid : pids) {
    std::optional<int64_t> pasid;
    double start = -1, end = -1;
    for (const auto& e : all) {
      if (e.pid != pid) continue;
      events.push_back({{"pid", e.pid},
                        {"comm", e.comm},
                        {"event", e.event},
                        {"time_s", e.time_s},
                        {"fields", e.fields}});
      if (e.pasid && !pasid &&
          (e.event == "sva_get_pasid" || e.event == "global_pasid_alloc" ||
           e.event == "ioasid_alloc" || e.event == "idxd_wq_set_pasid")) {
        pasid = e.pasid;
        start = e.time_s;
      }
      if (e.event == "sva_unbind") end = e.time_s;
    }
    if (pasid) {
      PasidInterval iv;
      iv.pasid = *pasid;
      iv.mm = "pid " + std::to_string(pid);
      iv.bound = true;
      iv.start_ns = (start - t0) * 1e9;
      iv.end_ns = ((end >= start ? end : start) - t0) * 1e9;
      r->pasid_timeline.push_back(iv);
    }
  }
  kp["events"] = events;
  return kp;
}

ResultRecord run_dsa_submit(const ParamValues& p, int repetitions, const PasidProbe& probe) {
  ResultRecord r;
  if (!probe.ready()) {
    r.outcome = Outcome::kSkip;
    r.reason = probe.skip_reason();
    return r;
  }
  SubmitPreference pref = SubmitPreference::kAuto;
  parse_submit_preference(p.get("submission"), &pref);
  const IdxdWorkQueue queue = probe.usable_queues.front();
  const int64_t submits = p.get_int("submits"), threads = p.get_int("threads");
  const int max_retries = static_cast<int>(p.get_int("max_retries"));
  const auto timeout = std::chrono::milliseconds(p.get_int("completion_timeout_ms"));

  PasidKprobes kprobes;
  json reps = json::array();
  std::vector<pid_t> pids;
  for (int i = 0; i < std::max(1, repetitions); ++i) {
    int fds[2];
    if (::pipe(fds) != 0) {
      r.outcome = Outcome::kError;
      r.reason = std::string("pipe: ") + std::strerror(errno);
      return r;
    }
    std::fflush(nullptr);
    pid_t pid = ::fork();
    if (pid == 0) {
      ::close(fds[0]);
      std::string text = one_repetition(queue, pref, submits, threads, max_retries, timeout).dump();
      ssize_t ignored = ::write(fds[1], text.data(), text.size());
      (void)ignored;
      ::_exit(0);
    }
    ::close(fds[1]);
    std::string text = read_to_end(fds[0]);
    ::close(fds[0]);
    int status = pid > 0 ? wait_child(pid) : 0;
    if (pid > 0 && WIFSIGNALED(status)) {
      r.outcome = Outcome::kCrashed;
      r.reason = std::string("repetition ") + std::to_string(i + 1) +
                 " crashed: " + strsignal(WTERMSIG(status));
      r.details = {{"repetitions", reps}};
      return r;
    }
    json rep = json::parse(text, nullptr, false);
    if (rep.is_discarded()) {
      r.outcome = Outcome::kError;
      r.reason = "repetition " + std::to_string(i + 1) + " reported nothing";
      return r;
    }
    rep["pid"] = pid;
    reps.push_back(rep);
    pids.push_back(pid);
    if (rep.contains("bind_error")) {
      // The kernel or permissions refused the bind itself: an environment
      // reason, exactly as found.
      r.outcome = Outcome::kSkip;
      r.reason = rep["bind_error"].get<std::string>();
      r.details = {{"repetitions", reps}};
      return r;
    }
    if (rep.contains("submit_error")) {
      r.outcome = rep.value("submit_status", "") == "gp_sigsegv" ? Outcome::kFail : Outcome::kError;
      r.reason = rep["submit_error"].get<std::string>();
      r.details = {{"repetitions", reps}};
      return r;
    }
  }

  auto series = [&](const char* key) {
    std::vector<double> v;
    for (const auto& rep : reps) v.push_back(rep.value(key, 0.0));
    return v;
  };
  std::string path_note = reps.front().value("path_note", "");
  r.add_metric("bind_ns", series("bind_ns"), "open() in a process that never bound before");
  r.add_metric("unbind_ns", series("unbind_ns"), "munmap of the portal and close()");
  r.add_metric("first_submit_ns", series("first_submit_ns"),
               "main thread's first submission, to its completion record");
  r.add_metric("submit_ns", series("submit_ns"), "median per repetition; " + path_note);
  r.add_metric("enqcmd_retries", series("enqcmd_retries"));
  r.details = {{"work_queue", queue.name},
               {"submission_path", reps.front().value("path", "")},
               {"submission_note", path_note},
               {"repetitions", reps}};

  r.details["kprobes"] = observe_pasids(kprobes, pids, &r);
  r.outcome = Outcome::kPass;
  return r;
}

}  // namespace pasidbench
