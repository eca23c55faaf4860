#include "runners/backends/kmod/kmod_micro.h"

#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <functional>
#include <map>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "kernels/pasidlab/uapi/pasidlab.h"
#include "platform/affinity.h"
#include "platform/file_io.h"
#include "platform/pasidlab_module.h"
#include "platform/process.h"
#include "suites/workload/workloads.h"

namespace pasidbench {

namespace {

constexpr const char* kPrefix = "micro:pasidlab-";

int64_t now_ns() {
  timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

void pin_thread(int cpu) {
  if (int err = pin_calling_thread(cpu); err != 0)
    throw std::runtime_error("sched_setaffinity(" + std::to_string(cpu) +
                             "): " + std::strerror(err));
}

// A bound work queue in this process: the file and its portal.
struct Binding {
  int fd = -1;
  void* portal = MAP_FAILED;
  void open_and_map() {
    fd = ::open(PASIDLAB_WQ_PATH, O_RDWR | O_CLOEXEC);
    if (fd < 0)
      throw std::runtime_error(std::string("open ") + PASIDLAB_WQ_PATH + ": " +
                               std::strerror(errno));
    portal = ::mmap(nullptr, 4096, PROT_WRITE, MAP_SHARED, fd, 0);
    if (portal == MAP_FAILED)
      throw std::runtime_error(std::string("mmap portal: ") + std::strerror(errno));
  }
  void close_all() {
    if (portal != MAP_FAILED) ::munmap(portal, 4096);
    if (fd >= 0) ::close(fd);
    fd = -1;
    portal = MAP_FAILED;
  }
};

int open_ctl() {
  int fd = ::open(PASIDLAB_CTL_PATH, O_RDWR | O_CLOEXEC);
  if (fd < 0)
    throw std::runtime_error(std::string("open ") + PASIDLAB_CTL_PATH + ": " +
                             std::strerror(errno));
  return fd;
}

// One ENQCMD without a completion record: the result and whether a #GP
// was fixed up first.
struct pasidlab_enqcmd enqcmd(int ctl) {
  struct pasidlab_enqcmd e {};
  e.flags = PASIDLAB_ENQ_NO_SIGNAL;
  if (::ioctl(ctl, PASIDLAB_IOC_ENQCMD, &e) != 0)
    throw std::runtime_error(std::string("PASIDLAB_IOC_ENQCMD: ") + std::strerror(errno));
  return e;
}

// Named sample series a measurement child sends back.
using Series = std::map<std::string, std::vector<double>>;

struct SkipError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Runs `measure` in a child process, so that its bindings, threads and
// pinning end with it; returns its series, or throws what it threw.
Series in_child(const std::function<void(Series&)>& measure) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0)
    throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    ::close(p[0]);
    std::ostringstream out;
    out.precision(17);
    try {
      Series s;
      measure(s);
      out << "ok\n";
      for (const auto& [name, v] : s) {
        out << name;
        for (double x : v) out << " " << x;
        out << "\n";
      }
    } catch (const SkipError& e) {
      out << "skip " << e.what() << "\n";
    } catch (const std::exception& e) {
      out << "error " << e.what() << "\n";
    }
    std::string text = out.str();
    write_fully(p[1], text.data(), text.size());
    ::_exit(0);
  }
  ::close(p[1]);
  std::string text = read_to_end(p[0]);
  ::close(p[0]);
  int status = wait_child(pid);
  if (WIFSIGNALED(status))
    throw std::runtime_error("the measuring process died of signal " +
                             std::to_string(WTERMSIG(status)));
  std::istringstream in(text);
  std::string first;
  std::getline(in, first);
  if (first.rfind("skip ", 0) == 0) throw SkipError(first.substr(5));
  if (first != "ok")
    throw std::runtime_error(
        first.rfind("error ", 0) == 0 ? first.substr(6) : "no result from the measuring process");
  Series s;
  for (std::string line; std::getline(in, line);) {
    std::istringstream words(line);
    std::string name;
    words >> name;
    for (double x; words >> x;) s[name].push_back(x);
  }
  return s;
}

// A process of another mm, bound, that submitted once and sleeps: the
// policy's state is live, but not in the measured mm.
class OtherBoundProcess {
 public:
  OtherBoundProcess() {
    int ready[2], hold[2];
    if (::pipe2(ready, O_CLOEXEC) != 0 || ::pipe2(hold, O_CLOEXEC) != 0)
      throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
    if (pid_ == 0) {
      ::close(ready[0]);
      ::close(hold[1]);
      char ok = 'n';
      try {
        Binding b;
        b.open_and_map();
        int ctl = open_ctl();
        enqcmd(ctl);
        ok = 'y';
      } catch (const std::exception&) {
      }
      (void)!::write(ready[1], &ok, 1);
      char c;
      while (::read(hold[0], &c, 1) < 0 && errno == EINTR) {
      }
      ::_exit(0);
    }
    ::close(ready[1]);
    ::close(hold[0]);
    hold_ = hold[1];
    char ok = 'n';
    while (::read(ready[0], &ok, 1) < 0 && errno == EINTR) {
    }
    ::close(ready[0]);
    if (ok != 'y') {
      release();
      throw std::runtime_error("the other mm could not bind " PASIDLAB_WQ_PATH);
    }
  }
  ~OtherBoundProcess() { release(); }

 private:
  void release() {
    if (hold_ >= 0) ::close(hold_);
    hold_ = -1;
    if (pid_ > 0) wait_child(pid_);
    pid_ = -1;
  }
  pid_t pid_ = -1;
  int hold_ = -1;
};

ResultRecord skip(const std::string& why) {
  ResultRecord r;
  r.outcome = Outcome::kSkip;
  r.reason = why;
  return r;
}

double per(uint64_t n, double d) { return d > 0 ? static_cast<double>(n) / d : 0; }

// Pipe ping-pong between two threads of one process.
void measure_switch(Series& s, bool bound, bool cross_cpu, int64_t round_trips, int samples) {
  std::vector<int> cpus = allowed_cpus();
  if (cpus.empty()) throw std::runtime_error("no CPU in this process's affinity mask");
  if (cross_cpu && cpus.size() < 2) throw SkipError("cross_cpu needs 2 CPUs; 1 allowed here");
  const int cpu_a = cpus[0], cpu_b = cross_cpu ? cpus[1] : cpus[0];
  Binding b;
  int ctl = -1;
  if (bound) {
    b.open_and_map();
    ctl = open_ctl();
  }
  int ping[2], pong[2];
  if (::pipe(ping) != 0 || ::pipe(pong) != 0)
    throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  std::thread partner([&] {
    pin_thread(cpu_b);
    if (ctl >= 0) enqcmd(ctl);  // the thread carries the mm's PASID from now on
    for (char c;;) {
      if (::read(ping[0], &c, 1) != 1 || c == 'q') break;
      (void)!::write(pong[1], &c, 1);
    }
  });
  pin_thread(cpu_a);
  if (ctl >= 0) enqcmd(ctl);
  auto trip = [&] {
    char c = 'x';
    (void)!::write(ping[1], &c, 1);
    (void)!::read(pong[0], &c, 1);
  };
  for (int i = 0; i < 2000; ++i) trip();
  for (int k = 0; k < samples; ++k) {
    int64_t t0 = now_ns();
    for (int64_t i = 0; i < round_trips; ++i) trip();
    s["roundtrip_ns"].push_back(static_cast<double>(now_ns() - t0) /
                                static_cast<double>(round_trips));
  }
  char q = 'q';
  (void)!::write(ping[1], &q, 1);
  partner.join();
}

// bind + unbind cycles while `spinning` threads of the mm run on other CPUs.
void measure_pasid_change(Series& s, int64_t spinning, int64_t cycles) {
  std::vector<int> cpus = allowed_cpus();
  if (static_cast<int64_t>(cpus.size()) < spinning + 1)
    throw SkipError("spinning_cpus=" + std::to_string(spinning) + " needs " +
                    std::to_string(spinning + 1) + " CPUs; " + std::to_string(cpus.size()) +
                    " allowed here");
  std::atomic<bool> stop{false};
  std::atomic<int64_t> running{0};
  std::vector<std::thread> spinners;
  for (int64_t i = 0; i < spinning; ++i)
    spinners.emplace_back([&, i] {
      pin_thread(cpus[static_cast<size_t>(i + 1)]);
      running.fetch_add(1);
      while (!stop.load(std::memory_order_relaxed)) asm volatile("pause" ::: "memory");
    });
  pin_thread(cpus[0]);
  while (running.load() < spinning) std::this_thread::yield();
  int ctl = open_ctl();
  try {
    for (int64_t c = 0; c < cycles; ++c) {
      Binding b;
      int64_t t0 = now_ns();
      b.open_and_map();
      int64_t t1 = now_ns();
      enqcmd(ctl);
      int64_t t2 = now_ns();
      b.close_all();
      int64_t t3 = now_ns();
      s["bind_ns"].push_back(static_cast<double>(t1 - t0));
      s["unbind_ns"].push_back(static_cast<double>(t3 - t2));
    }
  } catch (...) {
    stop = true;
    for (auto& t : spinners) t.join();
    throw;
  }
  stop = true;
  for (auto& t : spinners) t.join();
  ::close(ctl);
}

// Each new thread's first ENQCMD (the #GP path where the policy has one)
// and its second.
void measure_first_submit(Series& s, int64_t threads) {
  Binding b;
  b.open_and_map();
  int ctl = open_ctl();
  std::mutex mu;
  for (int64_t i = 0; i < threads; ++i) {
    std::thread t([&] {
      int64_t t0 = now_ns();
      struct pasidlab_enqcmd first = enqcmd(ctl);
      int64_t t1 = now_ns();
      enqcmd(ctl);
      int64_t t2 = now_ns();
      std::lock_guard<std::mutex> lock(mu);
      s["first_submit_ns"].push_back(static_cast<double>(t1 - t0));
      s["submit_ns"].push_back(static_cast<double>(t2 - t1));
      s[first.result == PASIDLAB_ENQ_GP ? "first_gp_unfixed"
        : first.gp_fixed                ? "first_gp_fixed"
                                        : "first_queued"]
          .push_back(1);
    });
    t.join();
  }
  ::close(ctl);
}

}  // namespace

bool is_kmod_micro_workload(const std::string& workload) { return workload.rfind(kPrefix, 0) == 0; }

void register_kmod_micro_workloads() {
  static std::once_flag once;
  std::call_once(once, [] {
    register_micro_workload(
        {"micro:pasidlab-switch",
         WorkloadKind::kMicro,
         "pipe ping-pong between two threads with pasidlab.ko loaded: the per-switch price of "
         "the policy's resync in a bound mm, in an unbound mm while another is bound, with "
         "nothing bound (the probe's static key off), and with no module (kmod backends)",
         {ParamSpec::Choice("binding", "bound", {"bound", "other_bound", "none_bound", "no_module"},
                            "the measured mm is bound and both threads submitted; another mm is "
                            "bound; nothing is; the module is unloaded (needs module=)"),
          ParamSpec::Choice("placement", "same_cpu", {"same_cpu", "cross_cpu"},
                            "both threads on one CPU, or on two"),
          ParamSpec::Int("round_trips", 20000, 100, 100000000, "round trips per sample")},
         nullptr});
    register_micro_workload(
        {"micro:pasidlab-pasid-change",
         WorkloadKind::kMicro,
         "bind then unbind of pasidlab's work queue (the mm's PASID changes where the policy "
         "ties it to bindings) while other threads of the mm spin on other CPUs: bind and "
         "unbind latency, IPIs and task_work per cycle (kmod backends)",
         {ParamSpec::Int("spinning_cpus", 0, 0, 1023,
                         "threads of the mm spinning in user mode on distinct other CPUs"),
          ParamSpec::Int("cycles", 200, 1, 1000000, "bind/unbind cycles")},
         nullptr});
    register_micro_workload(
        {"micro:pasidlab-first-submit",
         WorkloadKind::kMicro,
         "in a bound mm, each new thread's first ENQCMD (the #GP fixup where the policy has "
         "one, or the #GP a thread gets with no PASID) and its second (kmod backends)",
         {ParamSpec::Int("threads", 200, 1, 100000, "threads, one after another")},
         nullptr});
  });
}

ResultRecord run_kmod_micro(const TestCase& test, const std::string& policy) {
  const std::string& w = test.workload;
  const int samples = std::max(1, test.repetitions);
  ResultRecord r;
  r.kind = "benchmark";
  try {
    if (w == "micro:pasidlab-switch") {
      const std::string binding = test.params.get("binding");
      if (binding == "no_module") {
        if (test.params.get("module").empty())
          return skip(
              "binding=no_module unloads pasidlab.ko and so needs module=<path>, to load "
              "it again for the next test");
        if (std::string err = pasidlab_unload(); !err.empty()) throw std::runtime_error(err);
      }
      if (binding == "none_bound") {
        // The probe goes off a second after the last mm lost its PASID
        // (the deferred static key): wait for that, or this measures it on.
        for (int i = 0; i < 300 && pasidlab_info().switch_probe; ++i)
          std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
      std::unique_ptr<OtherBoundProcess> other;
      if (binding == "other_bound") other = std::make_unique<OtherBoundProcess>();
      const bool loaded = binding != "no_module";
      PasidlabCounters before = loaded ? pasidlab_counters() : PasidlabCounters{};
      bool probe = loaded && pasidlab_info().switch_probe;
      const int64_t trips = test.params.get_int("round_trips");
      Series s = in_child([&](Series& out) {
        measure_switch(out, binding == "bound", test.params.get("placement") == "cross_cpu", trips,
                       samples);
      });
      std::vector<double> half;
      for (double v : s["roundtrip_ns"]) half.push_back(v / 2);
      r.add_metric("roundtrip_ns", s["roundtrip_ns"]);
      r.add_metric("ctxsw_ns", half, "half a round trip: two switches, wakeup and IPC included");
      nlohmann::json details = {{"module_loaded", loaded}, {"switch_probe_registered", probe}};
      if (loaded) {
        PasidlabCounters d = pasidlab_delta(before, pasidlab_counters());
        double n = static_cast<double>(trips) * samples * 2;
        details["probe_switches_per_switch"] = per(d.counters["context_switches"], n);
        details["pasid_work_per_switch"] = per(d.counters["context_switches_pasid_work"], n);
      }
      r.details = details;
    } else if (w == "micro:pasidlab-pasid-change") {
      const int64_t cycles = test.params.get_int("cycles");
      PasidlabCounters before = pasidlab_counters();
      Series s = in_child([&](Series& out) {
        measure_pasid_change(out, test.params.get_int("spinning_cpus"), cycles);
      });
      PasidlabCounters d = pasidlab_delta(before, pasidlab_counters());
      r.add_metric("bind_ns", s["bind_ns"], "open + mmap of the work queue");
      r.add_metric("unbind_ns", s["unbind_ns"], "munmap + close: the release, drain included");
      r.add_metric("ipis", {per(d.counters["ipis"], static_cast<double>(cycles))}, "per cycle");
      r.add_metric("task_work_runs",
                   {per(d.counters["task_work_runs"], static_cast<double>(cycles))}, "per cycle");
      r.details = {
          {"pasid_allocs_per_cycle", per(d.counters["pasid_allocs"], static_cast<double>(cycles))},
          {"ipis_handled_per_cycle", per(d.counters["ipis_handled"], static_cast<double>(cycles))}};
    } else if (w == "micro:pasidlab-first-submit") {
      PasidlabCounters before = pasidlab_counters();
      Series s =
          in_child([&](Series& out) { measure_first_submit(out, test.params.get_int("threads")); });
      PasidlabCounters d = pasidlab_delta(before, pasidlab_counters());
      r.add_metric("first_submit_ns", s["first_submit_ns"],
                   "a new thread's first ENQCMD ioctl: the emulated #GP and its fixup, where the "
                   "policy has them (no real exception: docs/kmod.md)");
      r.add_metric("submit_ns", s["submit_ns"], "its second ENQCMD ioctl, no completion wait");
      r.add_metric("gp_fixups", {static_cast<double>(d.counters["gp_fixups"])});
      r.details = {{"first_queued", s["first_queued"].size()},
                   {"first_gp_fixed", s["first_gp_fixed"].size()},
                   {"first_gp_unfixed", s["first_gp_unfixed"].size()}};
    } else {
      return skip("not a pasidlab micro benchmark: " + w);
    }
  } catch (const SkipError& e) {
    return skip(e.what());
  } catch (const std::exception& e) {
    r.outcome = Outcome::kError;
    r.reason = e.what();
    return r;
  }
  r.details["policy"] = policy;
  r.outcome = Outcome::kPass;
  return r;
}

}  // namespace pasidbench
