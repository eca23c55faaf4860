#include "suites/micro/micro_env.h"

#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "platform/file_io.h"
#include "platform/papi_counters.h"
#include "platform/pasid_probe.h"
#include "platform/process.h"

namespace pasidbench {

MicroEnv& micro_env() {
  static MicroEnv env;
  return env;
}

const char* to_string(Mode mode) { return mode == Mode::kThreads ? "threads" : "processes"; }

// ---- PasidHolder -----------------------------------------------------------

std::unique_ptr<PasidHolder> PasidHolder::bind(SubmitPreference pref) {
  PasidProbe probe = probe_pasid_path("/");
  if (!probe.ready()) throw std::runtime_error(probe.skip_reason());
  auto h = std::unique_ptr<PasidHolder>(new PasidHolder);
  h->queue_ = probe.usable_queues.front();
  h->pref_ = pref;
  try {
    h->wq_ = std::make_unique<WorkQueue>(h->queue_, pref);
  } catch (const WorkQueueError& e) {
    throw std::runtime_error(e.what());
  }
  return h;
}

std::string PasidHolder::activate_this_thread() const {
  if (!wq_) return "no work queue bound in this process";
  if (wq_->path() != SubmitPath::kEnqcmd)
    return std::string("IA32_PASID not loaded: submissions go through ") + to_string(wq_->path());
  SubmitResult r = wq_->submit_noop(64, std::chrono::milliseconds(2000));
  if (r.status != SubmitResult::Status::kOk) return "activating ENQCMD failed: " + r.describe();
  return {};
}

std::string PasidHolder::rebind_after_fork() {
  if (wq_) wq_->close();
  wq_.reset();
  try {
    wq_ = std::make_unique<WorkQueue>(queue_, pref_);
  } catch (const WorkQueueError& e) {
    return e.what();
  }
  return {};
}

std::string PasidHolder::describe() const {
  if (!wq_) return "none";
  return wq_->queue().name + " via " + to_string(wq_->path()) + " (" + wq_->path_note() + ")";
}

// ---- Partner ---------------------------------------------------------------

namespace {

void write_message(int fd, const std::string& msg) {
  std::string payload = msg + '\0';
  write_fully(fd, payload.data(), payload.size());
}

// The partner's preparation: pinned, and with its PASID loaded if the run
// holds one. Returns "" or why not.
std::string prepare_partner(Mode mode, int cpu) {
  try {
    micro_env().topology.pin_current_thread(cpu);
  } catch (const PlacementError& e) {
    return e.what();
  }
  PasidHolder* pasid = micro_env().pasid.get();
  if (!pasid) return {};
  if (mode == Mode::kProcesses) {
    if (std::string err = pasid->rebind_after_fork(); !err.empty()) return "partner bind: " + err;
  }
  std::string why = pasid->activate_this_thread();
  // A write()-path binding still means "this process holds a PASID"; only a
  // failed ENQCMD makes the comparison meaningless.
  if (why.rfind("activating", 0) == 0) return why;
  return {};
}

}  // namespace

Partner::Partner(Mode mode, int cpu, std::function<void()> body) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0)
    throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  ready_fd_ = fds[0];
  int write_fd = fds[1];
  if (mode == Mode::kThreads) {
    thread_ = std::make_unique<std::thread>([=] {
      std::string why = prepare_partner(mode, cpu);
      write_message(write_fd, why);
      ::close(write_fd);
      if (why.empty()) body();
    });
    return;
  }
  std::fflush(nullptr);
  pid_ = ::fork();
  if (pid_ < 0) {
    int err = errno;
    ::close(write_fd);
    throw std::runtime_error(std::string("fork: ") + std::strerror(err));
  }
  if (pid_ == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    std::string why = prepare_partner(mode, cpu);
    write_message(write_fd, why);
    ::close(write_fd);
    if (!why.empty()) ::_exit(2);
    try {
      body();
    } catch (...) {
      ::_exit(1);
    }
    ::_exit(0);
  }
  ::close(write_fd);
}

std::string Partner::wait_ready() {
  std::string msg;
  char c;
  for (;;) {
    ssize_t n = ::read(ready_fd_, &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return msg.empty() ? "partner died before it was ready" : msg;
    if (c == '\0') return msg;
    msg += c;
  }
}

std::string Partner::join() {
  if (joined_) return {};
  joined_ = true;
  if (ready_fd_ >= 0) ::close(ready_fd_);
  ready_fd_ = -1;
  if (thread_) {
    thread_->join();
    return {};
  }
  int status = wait_child(pid_);
  if (WIFSIGNALED(status))
    return std::string("partner process killed by ") + strsignal(WTERMSIG(status));
  if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
    return "partner process exited with status " + std::to_string(WEXITSTATUS(status));
  return {};
}

Partner::~Partner() {
  if (!joined_ && pid_ > 0) ::kill(pid_, SIGKILL);
  join();
}

bool prepare_measuring_thread(benchmark::State& state, int cpu) {
  try {
    micro_env().topology.pin_current_thread(cpu);
  } catch (const PlacementError& e) {
    state.SkipWithError((std::string("skip: ") + e.what()).c_str());
    return false;
  }
  if (PasidHolder* pasid = micro_env().pasid.get()) {
    std::string why = pasid->activate_this_thread();
    if (why.rfind("activating", 0) == 0) {
      state.SkipWithError(("PASID: " + why).c_str());
      return false;
    }
  }
  return true;
}

// ---- CounterScope ----------------------------------------------------------

struct CounterScope::Impl {
  PapiCounters::Scope scope{PapiCounters::instance()};
};

CounterScope::CounterScope() {
  if (micro_env().count_hardware && PapiCounters::instance().available())
    impl_ = std::make_unique<Impl>();
}

CounterScope::~CounterScope() = default;

void CounterScope::stop(benchmark::State& state) {
  if (!impl_) return;
  std::vector<long long> values = impl_->scope.stop();
  std::vector<std::string> names = PapiCounters::instance().names();
  if (values.size() != names.size()) return;  // counting failed: no numbers rather than wrong ones
  for (size_t i = 0; i < names.size(); ++i)
    state.counters[names[i]] =
        benchmark::Counter(static_cast<double>(values[i]), benchmark::Counter::kAvgIterations);
}

}  // namespace pasidbench
