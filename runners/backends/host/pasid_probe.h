// Can this machine run the real PASID path (ENQCMD to a shared DSA work
// queue)? Every missing piece is named, so a SKIP says exactly why.
#pragma once

#include <string>
#include <vector>

namespace pasidbench {

struct SharedWorkQueue {
  std::string name;      // "wq0.0"
  std::string device;    // "dsa0"
  std::string char_dev;  // "/dev/dsa/wq0.0"
};

struct PasidProbe {
  bool cpu_has_enqcmd = false;
  bool has_dsa_bus = false;
  std::vector<SharedWorkQueue> usable_queues;  // enabled, shared, type user
  std::vector<std::string> missing;            // one line per missing prerequisite

  bool ready() const { return missing.empty(); }
  std::string skip_reason() const;  // "; "-joined `missing`
};

// Reads /proc/cpuinfo and /sys/bus/dsa under `root`; checks that the queue's
// character device can be opened read-write (permission) when root is "/".
PasidProbe probe_pasid_path(const std::string& root = "/");

}  // namespace pasidbench
