// One open DSA work queue: bind (open), the submission path the kernel
// offers (portal + ENQCMD/MOVDIR64B, or write() on 6.9.1+ kernels that
// refuse the portal without CAP_SYS_RAWIO), NOOP submission with a
// completion record, bounded retry on ENQCMD's "rejected", polling with a
// timeout, and unbind (close).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>

#include "platform/idxd_sysfs.h"

namespace pasidbench {

enum class SubmitPath { kEnqcmd, kMovdir64b, kWrite };
const char* to_string(SubmitPath path);

// What the user asked for: the portal if the kernel allows it else write(),
// or exactly one of them.
enum class SubmitPreference { kAuto, kPortal, kWrite };
bool parse_submit_preference(const std::string& text, SubmitPreference* out);

// A bind or mapping that failed; what() is the exact reason.
class WorkQueueError : public std::runtime_error {
 public:
  WorkQueueError(int err, const std::string& what) : std::runtime_error(what), err_(err) {}
  int err() const { return err_; }

 private:
  int err_;
};

struct SubmitResult {
  enum class Status {
    kOk,           // completion record says success
    kDeviceError,  // completion record written with an error status
    kRejected,     // ENQCMD returned ZF=1 (or write() EAGAIN) on every try
    kTimeout,      // no completion record within the timeout
    kGpSigsegv,    // ENQCMD raised #GP (no valid IA32_PASID and no fixup)
    kWriteError,   // write() failed otherwise
  };
  Status status = Status::kOk;
  int retries = 0;         // rejected attempts before the accepted one
  uint8_t completion = 0;  // raw completion status byte
  int err = 0;             // errno of a failed write()
  int64_t latency_ns = 0;  // from the first attempt to the completion record
  std::string describe() const;
};
const char* to_string(SubmitResult::Status status);

class WorkQueue {
 public:
  // Opens the queue's device node (the SVA bind) and, unless `pref` is
  // kWrite, maps its portal. Throws WorkQueueError with the exact reason.
  WorkQueue(const IdxdWorkQueue& queue, SubmitPreference pref);
  ~WorkQueue();
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  SubmitPath path() const { return path_; }
  // Why the path is what it is ("portal mmap refused: EPERM ... using write()").
  const std::string& path_note() const { return path_note_; }
  int64_t bind_ns() const { return bind_ns_; }
  const IdxdWorkQueue& queue() const { return queue_; }

  // Submits one NOOP with a completion record and waits for it. Callable from
  // any thread of the process that opened the queue.
  SubmitResult submit_noop(int max_retries, std::chrono::milliseconds timeout) const;

  // Unmaps and closes (the unbind, when nothing else holds the file); returns
  // how long that took. Idempotent.
  int64_t close();

 private:
  IdxdWorkQueue queue_;
  int fd_ = -1;
  void* portal_ = nullptr;
  SubmitPath path_ = SubmitPath::kWrite;
  std::string path_note_;
  int64_t bind_ns_ = 0;
};

// Executes ENQCMD with `desc` (64-byte aligned) to `portal`; true when the
// device accepted it (ZF=0).
bool enqcmd(void* portal, const void* desc);
// MOVDIR64B of `desc` to `portal` (dedicated queues; no acceptance status).
void movdir64b(void* portal, const void* desc);

// Runs ENQCMD with SIGSEGV caught: the #GP a task without a valid PASID MSR
// takes becomes kGpSigsegv instead of killing the process. Returns 1
// accepted, 0 rejected, -1 #GP.
int guarded_enqcmd(void* portal, const void* desc);

}  // namespace pasidbench
