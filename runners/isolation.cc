#include "runners/isolation.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>

#include "platform/child_groups.h"
#include "platform/file_io.h"
#include "platform/process.h"

namespace pasidbench {

namespace {

std::string signal_name(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  return abbrev ? std::string("SIG") + abbrev : "signal " + std::to_string(sig);
}

}  // namespace

ResultRecord run_isolated(const std::function<ResultRecord()>& body, int timeout_s,
                          const ResultRecord& skeleton) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    ResultRecord r = skeleton;
    r.outcome = Outcome::kError;
    r.reason = std::string("pipe: ") + std::strerror(errno);
    return r;
  }
  std::fflush(nullptr);  // no buffered output duplicated into the child
  pid_t runner = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    ResultRecord r = skeleton;
    r.outcome = Outcome::kError;
    r.reason = std::string("fork: ") + std::strerror(errno);
    return r;
  }
  if (pid == 0) {
    start_group_dying_with(runner);
    ::close(fds[0]);
    std::string payload;
    int status = 0;
    try {
      payload = to_json(body()).dump();
    } catch (const std::exception& e) {
      ResultRecord r = skeleton;
      r.outcome = Outcome::kError;
      r.reason = std::string("error: ") + e.what();
      payload = to_json(r).dump();
      status = 3;
    }
    write_fully(fds[1], payload.data(), payload.size());
    ::close(fds[1]);
    std::fflush(nullptr);
    ::_exit(status);
  }
  ::setpgid(pid, pid);  // both sides, so the kill below cannot race the child's own call
  track_child_group(pid);
  ::close(fds[1]);

  std::string payload;
  bool timed_out = false;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    if (left <= 0) {
      timed_out = true;
      break;
    }
    pollfd p{fds[0], POLLIN, 0};
    int n = ::poll(&p, 1, static_cast<int>(std::min<long long>(left, 1000)));
    if (n < 0 && errno == EINTR) continue;
    if (n == 0) continue;
    char buf[65536];
    ssize_t got = ::read(fds[0], buf, sizeof buf);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;  // EOF: the child closed its end or died
    payload.append(buf, static_cast<size_t>(got));
  }
  ::close(fds[0]);
  if (timed_out) ::kill(-pid, SIGKILL);
  int status = wait_child(pid);
  // Stragglers the test left in its group (forked workloads) go too.
  ::kill(-pid, SIGKILL);
  untrack_child_group(pid);

  ResultRecord r = skeleton;
  if (timed_out) {
    r.outcome = Outcome::kTimeout;
    r.reason = "timeout after " + std::to_string(timeout_s) + " s";
    return r;
  }
  if (WIFSIGNALED(status)) {
    r.outcome = Outcome::kCrashed;
    r.reason = "crashed: " + signal_name(WTERMSIG(status));
    return r;
  }
  auto j = nlohmann::json::parse(payload, nullptr, false);
  if (j.is_discarded()) {
    r.outcome = Outcome::kError;
    r.reason = "test process exited with status " + std::to_string(WEXITSTATUS(status)) +
               " without a result";
    return r;
  }
  try {
    return record_from_json(j);
  } catch (const std::exception& e) {
    r.outcome = Outcome::kError;
    r.reason = std::string("malformed result from test process: ") + e.what();
    return r;
  }
}

}  // namespace pasidbench
