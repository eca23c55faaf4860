#include "platform/dsa_wq.h"

#include <fcntl.h>
#include <linux/idxd.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>

#include "platform/pasid_probe.h"

namespace pasidbench {

static_assert(sizeof(dsa_hw_desc) == 64, "uapi descriptor is 64 bytes");
static_assert(sizeof(dsa_completion_record) == 32, "uapi DSA completion record is 32 bytes");

namespace {

using Clock = std::chrono::steady_clock;

int64_t ns_since(Clock::time_point t0) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count();
}

constexpr size_t kPortalSize = 4096;

// The #GP guard: a thread-local jump target armed only around ENQCMD.
thread_local sigjmp_buf guard_env;
thread_local volatile sig_atomic_t guard_armed = 0;
struct sigaction previous_segv;

void segv_handler(int sig, siginfo_t* info, void* ctx) {
  if (guard_armed) {
    guard_armed = 0;
    siglongjmp(guard_env, 1);
  }
  // Not ours: restore what was there and let the fault happen again.
  sigaction(SIGSEGV, &previous_segv, nullptr);
  (void)sig;
  (void)info;
  (void)ctx;
}

void install_guard() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction sa {};
    sa.sa_sigaction = segv_handler;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, &previous_segv);
  });
}

struct alignas(64) Submission {
  dsa_hw_desc desc;
  alignas(64) dsa_completion_record completion;
};

// The descriptor and record a thread submits from. After a timeout the device
// may still write the old record, so that block is abandoned, not reused.
thread_local Submission* thread_submission = nullptr;

Submission& fresh_submission() {
  if (!thread_submission) thread_submission = new Submission;
  std::memset(thread_submission, 0, sizeof *thread_submission);
  return *thread_submission;
}

void abandon_submission() { thread_submission = nullptr; }

}  // namespace

const char* to_string(SubmitPath path) {
  switch (path) {
    case SubmitPath::kEnqcmd:
      return "enqcmd";
    case SubmitPath::kMovdir64b:
      return "movdir64b";
    case SubmitPath::kWrite:
      return "write";
  }
  return "?";
}

bool parse_submit_preference(const std::string& text, SubmitPreference* out) {
  if (text == "auto")
    *out = SubmitPreference::kAuto;
  else if (text == "portal")
    *out = SubmitPreference::kPortal;
  else if (text == "write")
    *out = SubmitPreference::kWrite;
  else
    return false;
  return true;
}

const char* to_string(SubmitResult::Status status) {
  switch (status) {
    case SubmitResult::Status::kOk:
      return "ok";
    case SubmitResult::Status::kDeviceError:
      return "device_error";
    case SubmitResult::Status::kRejected:
      return "rejected";
    case SubmitResult::Status::kTimeout:
      return "timeout";
    case SubmitResult::Status::kGpSigsegv:
      return "gp_sigsegv";
    case SubmitResult::Status::kWriteError:
      return "write_error";
  }
  return "?";
}

std::string SubmitResult::describe() const {
  std::string s = to_string(status);
  if (status == Status::kDeviceError) {
    char b[8];
    std::snprintf(b, sizeof b, "0x%02x", completion);
    s += std::string(" (completion status ") + b + ")";
  }
  if (status == Status::kRejected) s += " (" + std::to_string(retries) + " attempts)";
  if (status == Status::kWriteError) s += std::string(" (") + std::strerror(err) + ")";
  return s;
}

bool enqcmd(void* portal, const void* desc) {
  uint8_t rejected;
  // ENQCMD rax, [rdx]: F2 0F 38 F8 /r with ModRM 0x02. The sfence orders the
  // completion-record reset before the device can see the descriptor.
  asm volatile(
      "sfence\n\t"
      ".byte 0xf2, 0x0f, 0x38, 0xf8, 0x02\n\t"
      "setz %0"
      : "=r"(rejected)
      : "a"(portal), "d"(desc)
      : "memory", "cc");
  return rejected == 0;
}

void movdir64b(void* portal, const void* desc) {
  // MOVDIR64B rax, [rdx]: 66 0F 38 F8 /r with ModRM 0x02.
  asm volatile(
      "sfence\n\t"
      ".byte 0x66, 0x0f, 0x38, 0xf8, 0x02"
      :
      : "a"(portal), "d"(desc)
      : "memory");
}

int guarded_enqcmd(void* portal, const void* desc) {
  install_guard();
  if (sigsetjmp(guard_env, 1) != 0) return -1;
  guard_armed = 1;
  bool accepted = enqcmd(portal, desc);
  guard_armed = 0;
  return accepted ? 1 : 0;
}

WorkQueue::WorkQueue(const IdxdWorkQueue& queue, SubmitPreference pref) : queue_(queue) {
  if (queue_.char_dev.empty())
    throw WorkQueueError(ENODEV, queue_.describe() + " has no user device node");
  auto t0 = Clock::now();
  fd_ = ::open(queue_.char_dev.c_str(), O_RDWR | O_CLOEXEC);
  bind_ns_ = ns_since(t0);
  if (fd_ < 0) throw WorkQueueError(errno, describe_open_error(queue_.char_dev, errno));

  bool dedicated = queue_.mode == "dedicated";
  if (pref == SubmitPreference::kWrite) {
    path_ = SubmitPath::kWrite;
    path_note_ = "write() submission requested";
    return;
  }
  void* p = ::mmap(nullptr, kPortalSize, PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd_, 0);
  if (p != MAP_FAILED) {
    portal_ = p;
    path_ = dedicated ? SubmitPath::kMovdir64b : SubmitPath::kEnqcmd;
    path_note_ = std::string("portal mapped; ") + to_string(path_) + " from user space";
    return;
  }
  int err = errno;
  std::string why = "portal mmap of " + queue_.char_dev + " refused: " + std::strerror(err);
  if (err == EPERM)
    why +=
        " (kernels since 6.9.1 require CAP_SYS_RAWIO for it: idxd hardening for "
        "INTEL-SA-01084)";
  if (pref == SubmitPreference::kPortal) {
    ::close(fd_);
    fd_ = -1;
    throw WorkQueueError(err, why);
  }
  path_ = SubmitPath::kWrite;
  path_note_ = why +
               "; using write() submission (the kernel submits with the mm's PASID, "
               "IA32_PASID untouched)";
}

WorkQueue::~WorkQueue() { close(); }

int64_t WorkQueue::close() {
  if (fd_ < 0) return 0;
  auto t0 = Clock::now();
  if (portal_) ::munmap(portal_, kPortalSize);
  ::close(fd_);
  int64_t ns = ns_since(t0);
  portal_ = nullptr;
  fd_ = -1;
  return ns;
}

SubmitResult WorkQueue::submit_noop(int max_retries, std::chrono::milliseconds timeout) const {
  SubmitResult r;
  Submission& s = fresh_submission();
  s.desc.opcode = DSA_OPCODE_NOOP;
  s.desc.flags = IDXD_OP_FLAG_CRAV | IDXD_OP_FLAG_RCR;
  s.desc.completion_addr = reinterpret_cast<uintptr_t>(&s.completion);

  auto t0 = Clock::now();
  for (int attempt = 0;; ++attempt) {
    bool accepted = false;
    if (path_ == SubmitPath::kEnqcmd) {
      int rc = guarded_enqcmd(portal_, &s.desc);
      if (rc < 0) {
        r.status = SubmitResult::Status::kGpSigsegv;
        r.latency_ns = ns_since(t0);
        return r;
      }
      accepted = rc == 1;
    } else if (path_ == SubmitPath::kMovdir64b) {
      movdir64b(portal_, &s.desc);
      accepted = true;
    } else {
      ssize_t n = ::write(fd_, &s.desc, sizeof s.desc);
      if (n == static_cast<ssize_t>(sizeof s.desc)) {
        accepted = true;
      } else if (n < 0 && errno != EAGAIN) {
        r.status = SubmitResult::Status::kWriteError;
        r.err = errno;
        r.latency_ns = ns_since(t0);
        return r;
      }
    }
    if (accepted) break;
    r.retries = attempt + 1;
    if (attempt + 1 > max_retries) {
      r.status = SubmitResult::Status::kRejected;
      r.latency_ns = ns_since(t0);
      return r;
    }
    sched_yield();  // let the queue drain a little before the next try
  }
  auto deadline = t0 + timeout;
  for (uint64_t spins = 0;; ++spins) {
    uint8_t status = s.completion.status;
    if (status != 0) {
      r.latency_ns = ns_since(t0);
      r.completion = status;
      r.status = (status & DSA_COMP_STATUS_MASK) == DSA_COMP_SUCCESS
                     ? SubmitResult::Status::kOk
                     : SubmitResult::Status::kDeviceError;
      return r;
    }
    if ((spins & 0x3ff) == 0 && Clock::now() > deadline) {
      r.status = SubmitResult::Status::kTimeout;
      r.latency_ns = ns_since(t0);
      abandon_submission();
      return r;
    }
    if (spins > 100000) sched_yield();
    asm volatile("pause" ::: "memory");
  }
}

}  // namespace pasidbench
