#include "platform/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "platform/child_groups.h"

namespace pasidbench {

namespace {

std::string signal_name(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  return abbrev ? std::string("SIG") + abbrev : "signal " + std::to_string(sig);
}

std::string last_line(const std::string& text) {
  size_t end = text.find_last_not_of("\n\r ");
  if (end == std::string::npos) return {};
  size_t start = text.rfind('\n', end);
  return text.substr(start == std::string::npos ? 0 : start + 1,
                     end + 1 - (start == std::string::npos ? 0 : start + 1));
}

std::vector<char*> c_argv(std::vector<std::string>& argv) {
  std::vector<char*> out;
  for (auto& a : argv) out.push_back(a.data());
  out.push_back(nullptr);
  return out;
}

// The child half of every spawn: own process group, killed when `parent`
// dies, fds in place, exec. Reports an exec failure as errno through
// `err_fd` (close-on-exec).
[[noreturn]] void exec_child(pid_t parent, std::vector<std::string> argv, int stdin_fd,
                             int stdout_fd, int stderr_fd, const std::string& cwd,
                             const std::vector<std::string>& env, int err_fd) {
  ::setpgid(0, 0);
  exec_child_dies_with(parent);
  if (stdin_fd >= 0) ::dup2(stdin_fd, 0);
  if (stdout_fd >= 0) ::dup2(stdout_fd, 1);
  if (stderr_fd >= 0) ::dup2(stderr_fd, 2);
  if (!cwd.empty() && ::chdir(cwd.c_str()) != 0) {
    int e = errno;
    (void)!::write(err_fd, &e, sizeof e);
    ::_exit(127);
  }
  for (const auto& kv : env) {
    auto eq = kv.find('=');
    if (eq != std::string::npos) ::setenv(kv.substr(0, eq).c_str(), kv.substr(eq + 1).c_str(), 1);
  }
  auto args = c_argv(argv);
  ::execvp(args[0], args.data());
  int e = errno;
  (void)!::write(err_fd, &e, sizeof e);
  ::_exit(127);
}

// Waits for the exec report: 0 when the program started.
int exec_errno(int err_read_fd) {
  int e = 0;
  ssize_t n;
  do n = ::read(err_read_fd, &e, sizeof e);
  while (n < 0 && errno == EINTR);
  ::close(err_read_fd);
  return n == sizeof e ? e : 0;
}

}  // namespace

std::string ProcessResult::describe(int timeout_s) const {
  if (!start_error.empty()) return start_error;
  if (timed_out) return "timed out after " + std::to_string(timeout_s) + " s";
  std::string tail = last_line(err.empty() ? out : err);
  if (signal) return "killed by " + signal_name(signal) + (tail.empty() ? "" : ": " + tail);
  return "exit " + std::to_string(exit_code) + (tail.empty() ? "" : ": " + tail);
}

ProcessResult run_process(const std::vector<std::string>& argv, const ProcessOptions& options) {
  ProcessResult result;
  int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1}, report[2] = {-1, -1};
  if (::pipe2(in, O_CLOEXEC) || ::pipe2(out, O_CLOEXEC) || ::pipe2(err, O_CLOEXEC) ||
      ::pipe2(report, O_CLOEXEC)) {
    result.start_error = std::string("pipe: ") + std::strerror(errno);
    for (int fd : {in[0], in[1], out[0], out[1], err[0], err[1], report[0], report[1]})
      if (fd >= 0) ::close(fd);
    return result;
  }
  int file_fd = -1;
  if (!options.stdout_path.empty()) {
    file_fd = ::open(options.stdout_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (file_fd < 0) {
      result.start_error = options.stdout_path + ": " + std::strerror(errno);
      for (int fd : {in[0], in[1], out[0], out[1], err[0], err[1], report[0], report[1]})
        ::close(fd);
      return result;
    }
  }
  std::fflush(nullptr);
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid == 0)
    exec_child(parent, argv, in[0], file_fd >= 0 ? file_fd : out[1],
               options.pass_stderr ? -1 : err[1], options.cwd, options.env, report[1]);
  ::close(in[0]);
  ::close(out[1]);
  ::close(err[1]);
  ::close(report[1]);
  if (file_fd >= 0) ::close(file_fd);
  if (pid < 0) {
    result.start_error = std::string("fork: ") + std::strerror(errno);
    for (int fd : {in[1], out[0], err[0], report[0]}) ::close(fd);
    return result;
  }
  ::setpgid(pid, pid);
  track_child_group(pid);
  if (int e = exec_errno(report[0])) {
    result.start_error = argv[0] + ": " + std::strerror(e);
    ::close(in[1]);
    ::close(out[0]);
    ::close(err[0]);
    ::waitpid(pid, nullptr, 0);
    untrack_child_group(pid);
    return result;
  }

  // Feed stdin and drain both outputs together so no pipe fills and stalls.
  size_t fed = 0;
  if (options.stdin_data.empty()) {
    ::close(in[1]);
    in[1] = -1;
  } else {
    ::fcntl(in[1], F_SETFL, O_NONBLOCK);
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(options.timeout_s);
  int open_outputs = 2;
  while (open_outputs > 0 || in[1] >= 0) {
    pollfd fds[3] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}, {in[1], POLLOUT, 0}};
    int wait_ms = 200;
    if (options.timeout_s > 0) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        result.timed_out = true;
        ::kill(-pid, SIGKILL);
        break;
      }
      wait_ms = static_cast<int>(std::min<long long>(left.count(), 200));
    }
    int n = ::poll(fds, 3, wait_ms);
    if (n < 0 && errno != EINTR) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      char buf[65536];
      ssize_t got = ::read(fds[i].fd, buf, sizeof buf);
      if (got > 0) {
        (i == 0 ? result.out : result.err).append(buf, static_cast<size_t>(got));
      } else if (got == 0 || errno != EINTR) {
        ::close(fds[i].fd);
        (i == 0 ? out[0] : err[0]) = -1;
        --open_outputs;
      }
    }
    if (in[1] >= 0 && (fds[2].revents & (POLLOUT | POLLERR | POLLHUP))) {
      ssize_t put =
          ::write(in[1], options.stdin_data.data() + fed, options.stdin_data.size() - fed);
      if (put > 0) fed += static_cast<size_t>(put);
      if ((put < 0 && errno != EAGAIN && errno != EINTR) || fed == options.stdin_data.size()) {
        ::close(in[1]);
        in[1] = -1;
      }
    }
  }
  for (int fd : {in[1], out[0], err[0]})
    if (fd >= 0) ::close(fd);
  int status = wait_child(pid);
  untrack_child_group(pid);
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) result.signal = WTERMSIG(status);
  return result;
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0 && !reaped_) kill_group();
  if (stdout_fd_ >= 0) ::close(stdout_fd_);
}

bool ChildProcess::spawn(const std::vector<std::string>& argv, int stdout_fd, int stderr_fd,
                         std::string* error) {
  int report[2];
  if (::pipe2(report, O_CLOEXEC) != 0) {
    *error = std::string("pipe: ") + std::strerror(errno);
    return false;
  }
  std::fflush(nullptr);
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid == 0) {
    int devnull = ::open("/dev/null", O_RDONLY);
    exec_child(parent, argv, devnull, stdout_fd, stderr_fd, {}, {}, report[1]);
  }
  ::close(report[1]);
  if (pid < 0) {
    ::close(report[0]);
    *error = std::string("fork: ") + std::strerror(errno);
    return false;
  }
  ::setpgid(pid, pid);
  track_child_group(pid);
  if (int e = exec_errno(report[0])) {
    ::waitpid(pid, nullptr, 0);
    untrack_child_group(pid);
    *error = argv[0] + ": " + std::strerror(e);
    return false;
  }
  pid_ = pid;
  reaped_ = false;
  return true;
}

bool ChildProcess::start(const std::vector<std::string>& argv, const std::string& stdout_path,
                         const std::string& stderr_path, std::string* error) {
  auto open_out = [&](const std::string& path) {
    return path.empty() ? -1 : ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  };
  int out = open_out(stdout_path), err = open_out(stderr_path);
  if ((!stdout_path.empty() && out < 0) || (!stderr_path.empty() && err < 0)) {
    *error = "cannot open " + (out < 0 ? stdout_path : stderr_path) + ": " + std::strerror(errno);
    for (int fd : {out, err})
      if (fd >= 0) ::close(fd);
    return false;
  }
  bool ok = spawn(argv, out, err, error);
  for (int fd : {out, err})
    if (fd >= 0) ::close(fd);
  return ok;
}

bool ChildProcess::start_piped(const std::vector<std::string>& argv, const std::string& stderr_path,
                               std::string* error) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) {
    *error = std::string("pipe: ") + std::strerror(errno);
    return false;
  }
  int err = stderr_path.empty()
                ? -1
                : ::open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  bool ok = spawn(argv, p[1], err, error);
  ::close(p[1]);
  if (err >= 0) ::close(err);
  if (!ok) {
    ::close(p[0]);
    return false;
  }
  stdout_fd_ = p[0];
  return true;
}

bool ChildProcess::exited(int* status) {
  if (pid_ <= 0 || reaped_) return true;
  pid_t r = ::waitpid(pid_, status, WNOHANG);
  if (r == pid_) {
    reaped_ = true;
    untrack_child_group(pid_);
    return true;
  }
  return false;
}

void ChildProcess::kill_group() {
  if (pid_ <= 0 || reaped_) return;
  ::kill(-pid_, SIGKILL);
  wait_child(pid_);
  untrack_child_group(pid_);
  reaped_ = true;
}

std::string shell_quote(const std::string& word) {
  if (!word.empty() && word.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                              "0123456789_-./=:,+@%") == std::string::npos)
    return word;
  std::string out = "'";
  for (char c : word) {
    if (c == '\'')
      out += "'\\''";
    else
      out += c;
  }
  return out + "'";
}

std::string shell_join(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& a : argv) out += (out.empty() ? "" : " ") + shell_quote(a);
  return out;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string find_program(const std::string& name) {
  if (name.find('/') != std::string::npos) return ::access(name.c_str(), X_OK) == 0 ? name : "";
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0 && !std::filesystem::is_directory(candidate))
      return candidate;
  }
  return {};
}

std::string read_to_end(int fd) {
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return out;
    out.append(buf, static_cast<size_t>(n));
  }
}

int wait_child(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return 0;
  return status;
}

}  // namespace pasidbench
