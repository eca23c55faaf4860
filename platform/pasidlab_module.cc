#include "platform/pasidlab_module.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "kernels/pasidlab/uapi/pasidlab.h"

namespace pasidbench {

namespace {

const char* const kOutcomeNames[] = PASIDLAB_OUTCOME_NAMES;
const char* const kViolationNames[] = PASIDLAB_VIOLATION_NAMES;
const char* const kCounterNames[] = PASIDLAB_COUNTER_NAMES;

bool is_gauge(const std::string& name) { return name == "pasid_live" || name == "pasid_peak_live"; }

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

}  // namespace

PasidlabInfo pasidlab_info() {
  PasidlabInfo info;
  Fd ctl(::open(PASIDLAB_CTL_PATH, O_RDONLY | O_CLOEXEC));
  if (ctl.get() < 0) {
    info.why_not = std::string("pasidlab.ko is not loaded (") + PASIDLAB_CTL_PATH + ": " +
                   std::strerror(errno) +
                   "); load it with `insmod kernels/pasidlab/pasidlab.ko policy=<policy>` or give "
                   "the backend module=<path to pasidlab.ko> (docs/kmod.md)";
    return info;
  }
  struct pasidlab_info raw {};
  if (::ioctl(ctl.get(), PASIDLAB_IOC_INFO, &raw) != 0) {
    info.why_not = std::string(PASIDLAB_CTL_PATH) + ": PASIDLAB_IOC_INFO: " + std::strerror(errno);
    return info;
  }
  if (raw.version != PASIDLAB_VERSION) {
    info.why_not = "pasidlab.ko speaks uapi version " + std::to_string(raw.version) +
                   ", this pasidbench " + std::to_string(PASIDLAB_VERSION);
    return info;
  }
  info.loaded = true;
  info.policy.assign(raw.policy, strnlen(raw.policy, sizeof raw.policy));
  info.switch_probe = raw.switch_probe != 0;
  info.pasid_max = raw.pasid_max;
  info.wq_size = raw.wq_size;
  info.device_delay_us = raw.device_delay_us;
  info.max_tasks = raw.max_tasks;
  return info;
}

PasidlabCounters pasidlab_counters() {
  Fd ctl(::open(PASIDLAB_CTL_PATH, O_RDONLY | O_CLOEXEC));
  if (ctl.get() < 0)
    throw std::runtime_error(std::string(PASIDLAB_CTL_PATH) + ": " + std::strerror(errno));
  struct pasidlab_counters raw {};
  raw.size = sizeof raw;
  if (::ioctl(ctl.get(), PASIDLAB_IOC_COUNTERS, &raw) != 0)
    throw std::runtime_error(std::string("PASIDLAB_IOC_COUNTERS: ") + std::strerror(errno));
  PasidlabCounters c;
  for (int i = 0; i < PASIDLAB_NR_OUTCOMES; ++i) c.outcomes[kOutcomeNames[i]] = raw.outcomes[i];
  for (int i = 0; i < PASIDLAB_NR_VIOLATIONS; ++i)
    c.violations[kViolationNames[i]] = raw.violations[i];
  for (int i = 0; i < PASIDLAB_NR_COUNTERS; ++i) c.counters[kCounterNames[i]] = raw.counters[i];
  return c;
}

std::string pasidlab_reset() {
  Fd ctl(::open(PASIDLAB_CTL_PATH, O_RDONLY | O_CLOEXEC));
  if (ctl.get() < 0) return std::string(PASIDLAB_CTL_PATH) + ": " + std::strerror(errno);
  if (::ioctl(ctl.get(), PASIDLAB_IOC_RESET) != 0)
    return std::string("PASIDLAB_IOC_RESET: ") + std::strerror(errno);
  return {};
}

PasidlabCounters pasidlab_delta(const PasidlabCounters& before, const PasidlabCounters& after) {
  auto minus = [](const std::map<std::string, uint64_t>& a,
                  const std::map<std::string, uint64_t>& b, bool gauges) {
    std::map<std::string, uint64_t> d;
    for (const auto& [name, v] : b) {
      auto it = a.find(name);
      uint64_t old = it == a.end() ? 0 : it->second;
      d[name] = gauges && is_gauge(name) ? v : (v >= old ? v - old : 0);
    }
    return d;
  };
  return {minus(before.outcomes, after.outcomes, false),
          minus(before.violations, after.violations, false),
          minus(before.counters, after.counters, true)};
}

std::string pasidlab_unload() {
  if (::access("/sys/module/pasidlab", F_OK) != 0) return {};  // not loaded
  if (::syscall(SYS_delete_module, "pasidlab", O_NONBLOCK) == 0 || errno == ENOENT) return {};
  if (errno == EWOULDBLOCK || errno == EBUSY)
    return "rmmod pasidlab: in use (a work queue is still open or mapped)";
  return std::string("rmmod pasidlab: ") + std::strerror(errno);
}

std::string pasidlab_load(const std::string& ko_path, const std::string& params) {
  Fd ko(::open(ko_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (ko.get() < 0) return ko_path + ": " + std::strerror(errno);
  if (std::string err = pasidlab_unload(); !err.empty()) return err;
  if (::syscall(SYS_finit_module, ko.get(), params.c_str(), 0) != 0) {
    int e = errno;
    std::string why = "insmod " + ko_path + " " + params + ": " + std::strerror(e);
    if (e == EPERM) why += " (loading a module needs root)";
    if (e == ENOSYS) why += " (this kernel or container does not load modules: needs root)";
    if (e == EINVAL || e == ENOEXEC)
      why +=
          " (the kernel log says why: a policy name it lists, or a module built for another "
          "kernel)";
    return why;
  }
  return {};
}

}  // namespace pasidbench
