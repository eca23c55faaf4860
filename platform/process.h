// Running the external tools the lab runners drive (apt-get, dpkg-deb, qemu,
// ssh, git, make, kexec): argv only, never a shell string built from input.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace pasidbench {

struct ProcessOptions {
  int timeout_s = 0;             // 0: no limit; past it the whole process group is killed
  std::string cwd;               // empty: ours
  std::string stdin_data;        // fed to the child's stdin, then closed
  std::string stdout_path;       // non-empty: stdout goes to this file instead of `out`
  bool pass_stderr = false;      // the child's stderr goes to ours (progress of long tools)
  std::vector<std::string> env;  // extra NAME=VALUE

  ProcessOptions& with_timeout(int s) {
    timeout_s = s;
    return *this;
  }
  ProcessOptions& in_dir(std::string dir) {
    cwd = std::move(dir);
    return *this;
  }
  ProcessOptions& feeding(std::string data) {
    stdin_data = std::move(data);
    return *this;
  }
};

struct ProcessResult {
  int exit_code = -1;  // -1 when killed by a signal or not started
  int signal = 0;
  bool timed_out = false;
  std::string start_error;  // exec failed: "qemu-system-x86_64: No such file or directory"
  std::string out;
  std::string err;

  bool ok() const { return exit_code == 0 && start_error.empty(); }
  // "exit 2: <last line of stderr>", "killed by SIGKILL", "timed out after 30 s", ...
  std::string describe(int timeout_s = 0) const;
};

ProcessResult run_process(const std::vector<std::string>& argv, const ProcessOptions& options = {});

// A long-running child (qemu, ssh) the caller polls while it reads what the
// child writes elsewhere.
class ChildProcess {
 public:
  ChildProcess() = default;
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // stdout/stderr go to the given files ("" = inherit). Returns false and
  // sets `error` when the program cannot be started.
  bool start(const std::vector<std::string>& argv, const std::string& stdout_path,
             const std::string& stderr_path, std::string* error);
  // Starts with stdout readable through stdout_fd() (a pipe).
  bool start_piped(const std::vector<std::string>& argv, const std::string& stderr_path,
                   std::string* error);
  int stdout_fd() const { return stdout_fd_; }
  // Non-blocking: true once the child exited; `status` is the wait status.
  bool exited(int* status);
  // Kills the child's process group and reaps it.
  void kill_group();
  pid_t pid() const { return pid_; }

 private:
  bool spawn(const std::vector<std::string>& argv, int stdout_fd, int stderr_fd,
             std::string* error);
  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  bool reaped_ = false;
};

std::string shell_quote(const std::string& word);
std::string shell_join(const std::vector<std::string>& argv);

// Everything readable from `fd` until end of file (EINTR retried); stops
// at the first other error.
std::string read_to_end(int fd);

// waitpid(pid, ...) with EINTR retried: the wait status; 0 (as if it
// exited 0) when there is no such child to wait for (ECHILD: reaped
// already), which every caller treats as nothing to report.
int wait_child(pid_t pid);

// A whole file's bytes. Throws std::runtime_error naming the path.
std::string read_file(const std::string& path);

// Searches PATH; empty when not found.
std::string find_program(const std::string& name);

}  // namespace pasidbench
