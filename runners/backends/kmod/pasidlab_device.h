// The scenario interpreter's device for pasidlab.ko: open() of
// /dev/pasidlab/wq0 binds the process's mm, mmap() maps the portal,
// PASIDLAB_IOC_ENQCMD submits with the calling thread's emulated
// IA32_PASID, and the device's completion record says what the emulated
// IOMMU found when it executed the descriptor.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "runners/backends/host/scenario_interpreter.h"

namespace pasidbench {

// What a submission became: the module's outcomes (the model's names), then
// what only a user-space submitter sees.
//   timeout      no completion record within the timeout
//   rejected     the queue stayed full (ENQCMD ZF=1) for max_retries tries
//   ioctl_error  PASIDLAB_IOC_ENQCMD itself failed
const std::vector<std::string>& pasidlab_outcome_kinds();

class PasidlabDevice : public TaskDevice {
 public:
  PasidlabDevice(int max_retries, std::chrono::milliseconds timeout);
  ~PasidlabDevice() override;
  std::string bind(int task, int64_t* ns) override;
  void unbind(int task, int64_t* ns) override;
  std::string submit(int task, int64_t* latency_ns, int* retries) override;
  void after_fork() override;
  std::string describe() const override;
  const std::vector<std::string>& outcome_kinds() const override {
    return pasidlab_outcome_kinds();
  }
  std::string exec_kind() const override { return "pasidlab"; }
  std::string state_for_exec() override;
  static std::unique_ptr<TaskDevice> from_exec_state(const std::string& state);

  bool has_file_steps() const override { return true; }
  std::string open_file(int task, const FileOpen& how, int64_t* ns) override;
  std::string map_file(const std::string& name) override;
  void unmap_file(const std::string& name) override;
  void close_file(const std::string& name) override;
  void unbind_file(const std::string& name, int64_t* ns) override;

 private:
  struct File {
    std::string name;
    int fd = -1;  // -1: closed, a portal keeps the file open
    bool cloexec = false;
    std::vector<void*> portals;  // mapped in this mm
  };
  int ctl_fd();
  int newest_fd(const std::string& name, bool any_name) const;  // index into files_, -1

  int max_retries_;
  std::chrono::milliseconds timeout_;
  std::unique_ptr<std::mutex> mu_ = std::make_unique<std::mutex>();
  std::vector<File> files_;  // oldest first; unbind closes the newest fd, as the model does
  int ctl_ = -1;
};

}  // namespace pasidbench
