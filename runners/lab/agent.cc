#include "runners/lab/agent.h"

#include <fcntl.h>
#include <linux/membarrier.h>
#include <linux/perf_event.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>

#include "platform/child_groups.h"
#include "platform/file_io.h"
#include "runners/lab/channel.h"

namespace pasidbench::lab {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string read_first_line(const fs::path& p) {
  std::ifstream in(p);
  std::string s;
  std::getline(in, s);
  return s;
}

double uptime_s(const std::string& root) {
  std::ifstream in(fs::path(root) / "proc/uptime");
  double up = -1;
  in >> up;
  return up;
}

// VT-d extended capability bits (Intel VT-d spec, ECAP_REG): what SVA needs.
json decode_vtd_ecap(const std::string& hex) {
  uint64_t ecap = std::strtoull(hex.c_str(), nullptr, 16);
  auto bit = [&](int n) { return ((ecap >> n) & 1) != 0; };
  return {{"ecap", hex},
          {"pasid", bit(40)},
          {"scalable_mode", bit(43)},
          {"second_level", bit(46)},
          {"first_level", bit(47)},
          {"page_requests", bit(29)}};
}

json iommu_features(const fs::path& root) {
  json units = json::array();
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(root / "sys/class/iommu", ec)) {
    json unit = {{"name", e.path().filename().string()}};
    fs::path ecap = e.path() / "intel-iommu" / "ecap";
    if (fs::exists(ecap)) unit["intel"] = decode_vtd_ecap(read_first_line(ecap));
    units.push_back(unit);
  }
  return units;
}

// One pass over /proc/kallsyms for the few symbols that tell the SVA story.
json sva_symbols(const fs::path& root) {
  const char* wanted[] = {"iommu_sva_bind_device", "iommu_sva_invalidate_kva_range",
                          "intel_svm_enable_prq"};
  json found = json::object();
  for (const char* w : wanted) found[w] = false;
  std::ifstream in(root / "proc/kallsyms");
  if (!in) return {{"note", "cannot read /proc/kallsyms"}};
  std::string line;
  while (std::getline(in, line)) {
    size_t name_at = line.rfind(' ');
    if (name_at == std::string::npos) continue;
    std::string_view name(line.data() + name_at + 1, line.size() - name_at - 1);
    if (name.find('\t') != std::string_view::npos) name = name.substr(0, name.find('\t'));
    for (const char* w : wanted)
      if (name == w) found[w] = true;
  }
  return found;
}

// Crashes or freezes the machine on purpose (see AgentOptions::inject).
void inject_fault(const Injection& injection) {
  if (injection.kind == Injection::Kind::kPanic) {
    std::ofstream("/proc/sys/kernel/sysrq") << "1\n";
    std::ofstream trigger("/proc/sysrq-trigger");
    trigger << "c" << std::flush;
  } else if (injection.kind == Injection::Kind::kHang) {
    ::kill(-1, SIGSTOP);  // every process but init and ourselves
    while (true) ::pause();
  }
}

std::string injection_from_cmdline(const std::string& cmdline) {
  std::istringstream words(cmdline);
  for (std::string w; words >> w;)
    if (w.rfind("pasidbench.inject=", 0) == 0) return w.substr(18);
  return {};
}

}  // namespace

Injection parse_injection(const std::string& text) {
  Injection i;
  if (text.empty()) return i;
  size_t colon = text.find(':');
  std::string what = text.substr(0, colon);
  if (what == "panic-after")
    i.kind = Injection::Kind::kPanic;
  else if (what == "hang-after")
    i.kind = Injection::Kind::kHang;
  else
    throw std::runtime_error("unknown fault injection '" + text +
                             "' (panic-after:N | hang-after:N)");
  try {
    i.after_records = colon == std::string::npos ? 0 : std::stoi(text.substr(colon + 1));
  } catch (const std::exception&) {
    throw std::runtime_error("fault injection '" + text + "': N must be a number");
  }
  return i;
}

std::string find_virtio_port(const std::string& name, const std::string& root) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(fs::path(root) / "sys/class/virtio-ports", ec))
    if (read_first_line(e.path() / "name") == name)
      return (fs::path(root) / "dev" / e.path().filename()).string();
  return {};
}

json probe_kernel_features(const std::string& root_text) {
  fs::path root(root_text);
  json f;
  bool live = root_text == "/";
  if (live) {
    long mb = ::syscall(__NR_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
    f["membarrier"] =
        mb >= 0 ? json{{"available", true},
                       {"private_expedited", (mb & MEMBARRIER_CMD_PRIVATE_EXPEDITED) != 0}}
                : json{{"available", false}, {"errno", std::strerror(errno)}};
    perf_event_attr attr{};
    attr.size = sizeof attr;
    attr.type = PERF_TYPE_SOFTWARE;
    attr.config = PERF_COUNT_SW_TASK_CLOCK;
    attr.exclude_kernel = 1;
    long fd = ::syscall(__NR_perf_event_open, &attr, 0, -1, -1, 0);
    if (fd >= 0) ::close(static_cast<int>(fd));
    f["perf_events"] = fd >= 0 ? json{{"available", true}}
                               : json{{"available", false}, {"errno", std::strerror(errno)}};
    attr.type = PERF_TYPE_HARDWARE;
    attr.config = PERF_COUNT_HW_CPU_CYCLES;
    fd = ::syscall(__NR_perf_event_open, &attr, 0, -1, -1, 0);
    if (fd >= 0) ::close(static_cast<int>(fd));
    f["perf_events"]["hardware_cycles"] = fd >= 0;
  }
  std::ifstream cpuinfo(root / "proc/cpuinfo");
  std::string line;
  json cpu = {{"enqcmd", false}, {"movdir64b", false}};
  while (std::getline(cpuinfo, line)) {
    if (line.rfind("model name", 0) == 0 && !cpu.contains("model"))
      cpu["model"] = line.substr(line.find(':') + 2);
    if (line.rfind("flags", 0) != 0) continue;
    std::istringstream words(line.substr(line.find(':') + 1));
    for (std::string w; words >> w;)
      if (w == "enqcmd" || w == "movdir64b") cpu[w] = true;
    break;
  }
  f["cpu"] = cpu;
  f["iommu"] = iommu_features(root);
  f["sva_symbols"] = sva_symbols(root);
  return f;
}

int run_agent(const AgentOptions& options,
              const std::function<int(const std::vector<std::string>&)>& run) {
  std::string channel = options.channel;
  if (channel.rfind("virtio:", 0) == 0) {
    // The port's device appears a moment after virtio_console binds.
    std::string port;
    for (int tries = 0; tries < 50 && port.empty(); ++tries) {
      port = find_virtio_port(channel.substr(7));
      if (port.empty() || !fs::exists(port)) {
        port.clear();
        ::usleep(100 * 1000);
      }
    }
    if (port.empty())
      throw std::runtime_error("no virtio-serial port named " + channel.substr(7) +
                               " in /sys/class/virtio-ports (virtio_console not loaded?)");
    channel = port;
  }
  int out = channel == "-"
                ? ::dup(1)
                : ::open(channel.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (out < 0)
    throw std::runtime_error("cannot open results channel " + channel + ": " +
                             std::strerror(errno));
  struct stat st {};
  bool regular = ::fstat(out, &st) == 0 && S_ISREG(st.st_mode);
  auto send = [&](const std::string& line) {
    std::string framed = line + "\n";
    if (int e = write_fully(out, framed.data(), framed.size()))
      std::cerr << "agent: write to " << channel << " failed: " << std::strerror(e) << "\n";
    if (regular) ::fdatasync(out);
  };

  struct utsname u {};
  ::uname(&u);
  std::ifstream cmdline("/proc/cmdline");
  std::string cmd;
  std::getline(cmdline, cmd);
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  Injection injection =
      parse_injection(options.inject.empty() ? injection_from_cmdline(cmd) : options.inject);
  int sent_records = 0;
  send(json{{kLabMessageKey, "hello"},
            {"release", u.release},
            {"version", u.version},
            {"hostname", host},
            {"cmdline", cmd},
            {"uptime_s", uptime_s("/")},
            {"features", probe_kernel_features("/")}}
           .dump());

  // Records already in the file (a resumed run) were delivered before.
  std::error_code ec;
  uint64_t offset =
      fs::exists(options.results_path, ec) ? fs::file_size(options.results_path, ec) : 0;
  auto stream_new_records = [&] {
    std::ifstream in(options.results_path, std::ios::binary);
    if (!in) return;
    in.seekg(static_cast<std::streamoff>(offset));
    std::string chunk((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    size_t end = chunk.rfind('\n');
    if (end == std::string::npos) return;  // a line still being written
    std::istringstream lines(chunk.substr(0, end + 1));
    for (std::string l; std::getline(lines, l);) {
      if (l.empty()) continue;
      send(l);
      if (l.find("\"record\":\"test\"") != std::string::npos) ++sent_records;
      if (injection.kind != Injection::Kind::kNone && sent_records >= injection.after_records) {
        std::cerr << "agent: injecting "
                  << (injection.kind == Injection::Kind::kPanic ? "a kernel panic" : "a hang")
                  << " after " << sent_records << " record(s)\n";
        inject_fault(injection);
      }
    }
    offset += end + 1;
  };

  int err_pipe[2];
  if (::pipe2(err_pipe, O_CLOEXEC) != 0)
    throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  std::fflush(nullptr);
  std::cout.flush();
  pid_t agent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    start_group_dying_with(agent);
    ::close(err_pipe[0]);
    ::dup2(err_pipe[1], 2);
    ::dup2(err_pipe[1], 1);  // stdout may be the channel: keep the run's text off it
    int rc = 3;
    try {
      rc = run(options.run_args);
    } catch (const std::exception& e) {
      std::cerr << "pasidbench: " << e.what() << "\n";
      rc = 2;
    }
    std::cout.flush();
    std::cerr.flush();
    ::_exit(rc);
  }
  ::close(err_pipe[1]);

  // The run's stderr (progress lines) passes through to ours (the console);
  // its tail goes into the done message.
  std::deque<std::string> tail;
  std::string partial;
  bool err_open = true;
  int status = 0;
  bool exited = false;
  int polls_since_exit = 0;
  while (!exited || err_open) {
    // A grandchild that outlived the run must not hold the agent open.
    if (exited && ++polls_since_exit * options.poll_ms > 2000 && err_open) {
      ::close(err_pipe[0]);
      err_open = false;
    }
    if (err_open) {
      pollfd p{err_pipe[0], POLLIN, 0};
      if (::poll(&p, 1, options.poll_ms) > 0) {
        char buf[4096];
        ssize_t n = ::read(err_pipe[0], buf, sizeof buf);
        if (n > 0) {
          write_fully(2, buf, static_cast<size_t>(n));
          partial.append(buf, static_cast<size_t>(n));
          for (size_t nl; (nl = partial.find('\n')) != std::string::npos;
               partial.erase(0, nl + 1)) {
            tail.push_back(partial.substr(0, nl));
            if (tail.size() > 20) tail.pop_front();
          }
        } else if (n == 0 || errno != EINTR) {
          err_open = false;
          ::close(err_pipe[0]);
        }
      }
    } else {
      ::usleep(static_cast<useconds_t>(options.poll_ms) * 1000);
    }
    stream_new_records();
    if (!exited && ::waitpid(pid, &status, WNOHANG) == pid) exited = true;
  }
  stream_new_records();
  if (!partial.empty()) tail.push_back(partial);
  int rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  send(json{{kLabMessageKey, "done"},
            {"exit_code", rc},
            {"stderr_tail", json(std::vector<std::string>(tail.begin(), tail.end()))},
            {"uptime_s", uptime_s("/")}}
           .dump());
  ::close(out);
  return rc;
}

}  // namespace pasidbench::lab
