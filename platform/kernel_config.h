// The running kernel's build configuration, where readable: /proc/config.gz
// (CONFIG_IKCONFIG_PROC) or /boot/config-<release>.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace pasidbench {

struct KernelConfig {
  std::string source;  // "/proc/config.gz", "/boot/config-6.1.0", "" if none
  std::map<std::string, std::string> options;  // CONFIG_X -> "y" | "m" | "n" | value
  std::string digest;                          // FNV-1a 64 of the text: tells two configs apart
  std::string problem;                         // why nothing was read
};

// "CONFIG_X=y" lines and "# CONFIG_X is not set" (as "n").
std::map<std::string, std::string> parse_kernel_config(const std::string& text);

KernelConfig read_kernel_config(const std::string& root, const std::string& release);

// The options that decide PASID, SVA, idxd and measurement behaviour.
const std::vector<std::string>& pasid_relevant_options();

}  // namespace pasidbench
