#include "runners/backends/kmod/pasidlab_device.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <sstream>

#include "kernels/pasidlab/uapi/pasidlab.h"

namespace pasidbench {

namespace {

using Clock = std::chrono::steady_clock;

int64_t ns_since(Clock::time_point t0) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count();
}

const char* const kModuleOutcomes[] = PASIDLAB_OUTCOME_NAMES;

}  // namespace

const std::vector<std::string>& pasidlab_outcome_kinds() {
  static const std::vector<std::string> kinds = [] {
    std::vector<std::string> k(std::begin(kModuleOutcomes), std::end(kModuleOutcomes));
    for (const char* extra : {"timeout", "rejected", "ioctl_error"}) k.emplace_back(extra);
    return k;
  }();
  return kinds;
}

PasidlabDevice::PasidlabDevice(int max_retries, std::chrono::milliseconds timeout)
    : max_retries_(max_retries), timeout_(timeout) {}

PasidlabDevice::~PasidlabDevice() {
  for (File& f : files_) {
    for (void* p : f.portals) ::munmap(p, 4096);
    if (f.fd >= 0) ::close(f.fd);
  }
  if (ctl_ >= 0) ::close(ctl_);
}

int PasidlabDevice::ctl_fd() {
  if (ctl_ < 0) ctl_ = ::open(PASIDLAB_CTL_PATH, O_RDWR | O_CLOEXEC);
  return ctl_;
}

std::string PasidlabDevice::bind(int task, int64_t* ns) { return open_file(task, {}, ns); }

void PasidlabDevice::unbind(int, int64_t* ns) { unbind_file({}, ns); }

std::string PasidlabDevice::open_file(int, const FileOpen& how, int64_t* ns) {
  auto t0 = Clock::now();
  // O_CLOEXEC only when the step asks: by default exec keeps the file, as
  // the model's exec does.
  int fd = ::open(PASIDLAB_WQ_PATH, O_RDWR | (how.cloexec ? O_CLOEXEC : 0));
  if (fd < 0) return std::string("open ") + PASIDLAB_WQ_PATH + ": " + std::strerror(errno);
  File f{how.name, fd, how.cloexec, {}};
  if (how.map) {
    void* portal = ::mmap(nullptr, 4096, PROT_WRITE, MAP_SHARED, fd, 0);
    if (portal == MAP_FAILED) {
      int e = errno;
      ::close(fd);
      return std::string("mmap the portal of ") + PASIDLAB_WQ_PATH + ": " + std::strerror(e);
    }
    f.portals.push_back(portal);
  }
  *ns = ns_since(t0);
  std::lock_guard<std::mutex> lock(*mu_);
  files_.push_back(std::move(f));
  return {};
}

int PasidlabDevice::newest_fd(const std::string& name, bool any_name) const {
  for (int i = static_cast<int>(files_.size()) - 1; i >= 0; --i)
    if (files_[i].fd >= 0 && (any_name || files_[i].name == name)) return i;
  return -1;
}

void PasidlabDevice::unbind_file(const std::string& name, int64_t* ns) {
  File f;
  {
    std::lock_guard<std::mutex> lock(*mu_);
    int i = newest_fd(name, name.empty());
    if (i < 0) {
      *ns = 0;
      return;  // nothing open: a no-op, as in the model
    }
    f = std::move(files_[i]);
    files_.erase(files_.begin() + i);
  }
  // munmap + close: the release (drain, unbind) runs in the last of them.
  auto t0 = Clock::now();
  for (void* p : f.portals) ::munmap(p, 4096);
  ::close(f.fd);
  *ns = ns_since(t0);
}

std::string PasidlabDevice::map_file(const std::string& name) {
  std::lock_guard<std::mutex> lock(*mu_);
  int i = newest_fd(name, false);
  if (i < 0) return "EBADF";
  void* portal = ::mmap(nullptr, 4096, PROT_WRITE, MAP_SHARED, files_[i].fd, 0);
  if (portal == MAP_FAILED) {
    // The module refuses another mm's file (inherited over fork, kept over
    // exec), as idxd does since 8dfa57aabff6.
    if (errno == EPERM) return "EPERM";
    throw std::runtime_error("mmap the portal of '" + name + "': " + std::strerror(errno));
  }
  files_[i].portals.push_back(portal);
  return {};
}

void PasidlabDevice::unmap_file(const std::string& name) {
  std::lock_guard<std::mutex> lock(*mu_);
  for (int i = static_cast<int>(files_.size()) - 1; i >= 0; --i) {
    File& f = files_[i];
    if (f.name != name || f.portals.empty()) continue;
    ::munmap(f.portals.back(), 4096);  // the last reference: the release runs here
    f.portals.pop_back();
    if (f.portals.empty() && f.fd < 0) files_.erase(files_.begin() + i);
    return;
  }
}

void PasidlabDevice::close_file(const std::string& name) {
  std::lock_guard<std::mutex> lock(*mu_);
  int i = newest_fd(name, false);
  if (i < 0) return;
  ::close(files_[i].fd);  // a portal left keeps the file, and its binding, open
  files_[i].fd = -1;
  if (files_[i].portals.empty()) files_.erase(files_.begin() + i);
}

std::string PasidlabDevice::submit(int, int64_t* latency_ns, int* retries) {
  int ctl;
  {
    std::lock_guard<std::mutex> lock(*mu_);
    ctl = ctl_fd();
    if (ctl < 0) return "ioctl_error";
  }
  // The device writes the record later, from its own thread: memory that
  // outlives a timeout (left allocated then) and no other use of it.
  auto* cr = static_cast<pasidlab_completion*>(std::aligned_alloc(32, sizeof(pasidlab_completion)));
  if (!cr) return "ioctl_error";
  std::memset(cr, 0, sizeof *cr);
  struct pasidlab_enqcmd e {};
  e.completion_addr = reinterpret_cast<uintptr_t>(cr);
  e.flags = PASIDLAB_ENQ_NO_SIGNAL;
  *retries = 0;
  auto t0 = Clock::now();
  for (;;) {
    e.result = 0;
    if (::ioctl(ctl, PASIDLAB_IOC_ENQCMD, &e) != 0) {
      std::free(cr);
      return "ioctl_error";
    }
    if (e.result != PASIDLAB_ENQ_RETRY) break;
    if (++*retries > max_retries_) {
      std::free(cr);
      return "rejected";
    }
    ::sched_yield();
  }
  switch (e.result) {
    case PASIDLAB_ENQ_NO_PORTAL:
      std::free(cr);
      *latency_ns = ns_since(t0);
      return "fault_unbound";  // nothing reaches the device, as in the model
    case PASIDLAB_ENQ_GP:
      std::free(cr);
      *latency_ns = ns_since(t0);
      return "gp_sigsegv";
    case PASIDLAB_ENQ_QUEUED:
      break;
    default:
      std::free(cr);
      return "ioctl_error";
  }
  auto deadline = t0 + timeout_;
  std::atomic_ref<uint8_t> status(cr->status);
  for (int spins = 0;; ++spins) {
    uint8_t s = status.load(std::memory_order_acquire);
    if (s != 0) {
      *latency_ns = ns_since(t0);
      std::free(cr);
      if (s > PASIDLAB_NR_OUTCOMES) return "ioctl_error";
      return kModuleOutcomes[s - 1];
    }
    if (Clock::now() > deadline) return "timeout";  // cr stays: the device may write it yet
    if (spins < 200) {
      ::sched_yield();
    } else {
      timespec ts{0, 20000};
      ::nanosleep(&ts, nullptr);
    }
  }
}

void PasidlabDevice::after_fork() {
  (void)mu_.release();  // possibly held by a thread that is not in this process
  mu_ = std::make_unique<std::mutex>();
  // The child holds the fds; the portals are VM_DONTCOPY, and a file held
  // only by a portal is not the child's at all.
  std::erase_if(files_, [](const File& f) { return f.fd < 0; });
  for (File& f : files_) f.portals.clear();
}

// The fds exec keeps: the kernel closes the O_CLOEXEC ones.
std::string PasidlabDevice::state_for_exec() {
  std::ostringstream out;
  out << max_retries_ << " " << timeout_.count();
  for (const File& f : files_)
    if (f.fd >= 0 && !f.cloexec) out << " " << f.fd << " " << fd_name_token(f.name);
  return out.str();
}

std::unique_ptr<TaskDevice> PasidlabDevice::from_exec_state(const std::string& state) {
  std::istringstream in(state);
  int max_retries = 0;
  int64_t timeout_ms = 0;
  if (!(in >> max_retries >> timeout_ms)) throw std::runtime_error("bad pasidlab exec state");
  auto dev = std::make_unique<PasidlabDevice>(max_retries, std::chrono::milliseconds(timeout_ms));
  // The portals went with the old mm.
  std::string token;
  for (int fd; in >> fd >> token;)
    dev->files_.push_back({fd_name_from_token(token), fd, false, {}});
  return dev;
}

std::string PasidlabDevice::describe() const {
  return std::string(PASIDLAB_WQ_PATH) + " (pasidlab.ko, emulated shared work queue)";
}

namespace {
[[maybe_unused]] const bool registered =
    (register_exec_device("pasidlab", PasidlabDevice::from_exec_state), true);
}  // namespace

}  // namespace pasidbench
