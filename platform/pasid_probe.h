// Can this machine run the real PASID path (ENQCMD to a shared DSA work
// queue)? Every missing piece is named, so a SKIP says exactly why.
#pragma once

#include <string>
#include <vector>

#include "platform/idxd_sysfs.h"

namespace pasidbench {

struct PasidProbe {
  bool cpu_has_enqcmd = false;
  bool has_dsa_bus = false;
  IdxdInventory inventory;
  std::vector<IdxdWorkQueue> usable_queues;  // enabled, shared, type user
  std::vector<std::string> missing;          // one line per missing prerequisite

  bool ready() const { return missing.empty(); }
  std::string skip_reason() const;  // "; "-joined `missing`
};

// Reads /proc/cpuinfo and /sys/bus/dsa under `root`. On the real machine
// (root "/") it enumerates through libaccel-config and opens the first usable
// queue once, which is an SVA bind: that is how permission and a kernel that
// refuses SVA (EOPNOTSUPP) show up before any test runs.
PasidProbe probe_pasid_path(const std::string& root = "/");

// The exact reason an open() of a work queue failed with `err`.
std::string describe_open_error(const std::string& char_dev, int err);

}  // namespace pasidbench
