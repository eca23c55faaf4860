// Watches the PASID lifecycle in the kernel through kprobes in tracefs:
// SVA bind/unbind and the global PASID alloc/free functions, under whatever
// names this kernel has (see shared/reference/kernel-notes.md). Root only;
// everything it cannot do becomes a note, never an error of the test.
#pragma once

#include <sys/types.h>

#include <optional>
#include <set>
#include <string>
#include <vector>

namespace pasidbench {

struct KprobeSpec {
  std::string event;     // "sva_get_pasid" (group "pasidbench")
  std::string function;  // "iommu_sva_get_pasid"
  bool on_return = false;
  std::string fetch;  // "pasid=$retval:u32"
  // "r:<group>/sva_get_pasid iommu_sva_get_pasid pasid=$retval:u32"
  std::string definition(const std::string& group) const;
};

// Every probe pasidbench knows, across kernel versions.
const std::vector<KprobeSpec>& pasid_kprobe_catalog();
// Those whose function this kernel has.
std::vector<KprobeSpec> probes_for(const std::set<std::string>& kernel_functions);

struct PasidEvent {
  double time_s = 0;
  pid_t pid = 0;
  std::string comm;
  std::string event;             // the KprobeSpec event name
  std::optional<int64_t> pasid;  // from a pasid= field
  std::string fields;            // the rest of the line, as it came
};

// Parses trace text ("comm-pid [cpu] flags time: event: (site) k=v ...");
// lines of other events and comments are skipped.
std::vector<PasidEvent> parse_trace(const std::string& text);

class PasidKprobes {
 public:
  // Sets up probes under `root` (normally "/"): finds tracefs in
  // proc/mounts, the functions in proc/kallsyms, creates the probes and a
  // private trace instance. Check active() and note().
  explicit PasidKprobes(const std::string& root = "/");
  ~PasidKprobes();
  PasidKprobes(const PasidKprobes&) = delete;
  PasidKprobes& operator=(const PasidKprobes&) = delete;

  bool active() const { return !installed_.empty() && !instance_.empty(); }
  const std::string& note() const { return note_; }
  std::vector<std::string> probed() const;  // function names
  // Everything recorded so far (the instance's trace buffer).
  std::vector<PasidEvent> collect() const;

 private:
  std::string group_;  // "pasidbench<pid>": concurrent runs do not collide
  std::string tracefs_;
  std::string instance_;
  std::vector<KprobeSpec> installed_;
  std::string note_;
};

// Where tracefs is mounted according to root/proc/mounts ("" if nowhere).
std::string find_tracefs(const std::string& root);
// Function names from a kallsyms text (text symbols only).
std::set<std::string> kernel_functions(const std::string& kallsyms_text,
                                       const std::set<std::string>& wanted);

}  // namespace pasidbench
