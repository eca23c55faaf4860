// pasidlab.ko (kernels/pasidlab/) seen from user space: whether it is
// loaded and with which policy, its counters, and loading it with a policy
// (root). The uapi is kernels/pasidlab/uapi/pasidlab.h.
#pragma once

#include <cstdint>
#include <map>
#include <string>

namespace pasidbench {

struct PasidlabInfo {
  bool loaded = false;
  std::string why_not;  // when !loaded: the path and errno text, and what to do
  std::string policy;
  bool switch_probe = false;  // the sched_switch probe is registered now
  uint32_t pasid_max = 0, wq_size = 0, device_delay_us = 0, max_tasks = 0;
};

PasidlabInfo pasidlab_info();

// Outcomes, violations and counters by the uapi's names (the model's metric
// names). Monotonic counts (pasid_idle_ns too: the idle time of every
// PASID since load, open intervals up to now included), except the gauges
// pasid_live and pasid_peak_live (since load).
struct PasidlabCounters {
  std::map<std::string, uint64_t> outcomes, violations, counters;
};

// Global counters; throws std::runtime_error when the module is not there.
PasidlabCounters pasidlab_counters();

// PASIDLAB_IOC_RESET (CAP_SYS_ADMIN): zero the global counts and restart
// pasid_peak_live from the PASIDs live now. "" or why not.
std::string pasidlab_reset();

// `after` minus `before` for the counts; gauges as they are in `after`.
PasidlabCounters pasidlab_delta(const PasidlabCounters& before, const PasidlabCounters& after);

// Loads `ko_path` with `params` ("policy=resync-ipi device_delay_us=0"),
// unloading a pasidlab already loaded first. (Each load and unload patches
// the kernel's text for the module's tracepoints; keep them few: a 6.1
// TCG guest was seen to hang in text_poke_bp() once in about 70 cycles.) "" on success, else why
// not (not root, the module busy because something is bound, the kernel's refusal -- whose reason
// is in the kernel log).
std::string pasidlab_load(const std::string& ko_path, const std::string& params);

// Unloads it; "" on success or when it was not loaded.
std::string pasidlab_unload();

}  // namespace pasidbench
