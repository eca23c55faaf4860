// The idxd (DSA/IAA) devices and work queues the kernel exposes under
// /sys/bus/dsa/devices, read from a root directory (tests use a fake tree).
// Unreadable attributes are listed, never guessed.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace pasidbench {

struct IdxdDevice {
  std::string name;   // "dsa0", "iax1"
  std::string state;  // "enabled", "disabled", ...
  std::optional<bool> pasid_enabled;
  std::string version;
};

struct IdxdWorkQueue {
  std::string name;     // "wq0.0"
  std::string device;   // "dsa0" (empty if no device with that id is listed)
  std::string mode;     // "shared" | "dedicated"
  std::string state;    // "enabled" | "disabled" | ...
  std::string type;     // "user" | "kernel" | "none"
  std::string wq_name;  // the "name" attribute
  std::string driver_name;
  std::optional<int64_t> size;
  std::optional<int64_t> threshold;
  std::string char_dev;  // "/dev/dsa/wq0.0" (under root), "" for non-user queues

  bool usable_for_enqcmd() const {
    return state == "enabled" && mode == "shared" && type == "user";
  }
  std::string describe() const;  // "wq0.0 (dedicated, enabled, user)"
};

struct IdxdInventory {
  bool bus_present = false;
  std::string enumerator = "sysfs";  // "sysfs" | "libaccel-config"
  std::vector<IdxdDevice> devices;
  std::vector<IdxdWorkQueue> work_queues;
  std::vector<std::string> problems;  // "cannot read .../wq0.0/mode: Permission denied"
};

// Reads root/sys/bus/dsa/devices. Character devices are looked up under
// root/dev/<dsa|iax>/.
IdxdInventory read_idxd_sysfs(const std::string& root = "/");

// On the real machine: the same through libaccel-config (the enumeration the
// idxd tools use), falling back to read_idxd_sysfs when the library is not
// built in or cannot start (problems says so).
IdxdInventory read_idxd_inventory();

// The current state of one queue, re-read: "" if it is still enabled, else
// why it is gone ("wq0.0 vanished: no longer listed under /sys/bus/dsa/devices",
// "wq0.0 is now 'disabled'").
std::string work_queue_lost(const std::string& root, const std::string& wq_name);

}  // namespace pasidbench
