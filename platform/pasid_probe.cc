#include "platform/pasid_probe.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace pasidbench {

namespace fs = std::filesystem;

namespace {

// nullopt when /proc/cpuinfo cannot be read at all.
std::optional<bool> cpuinfo_has_flag(const fs::path& cpuinfo, const std::string& flag) {
  std::ifstream in(cpuinfo);
  if (!in) return std::nullopt;
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("flags", 0) != 0) continue;
    std::istringstream words(line.substr(line.find(':') + 1));
    for (std::string w; words >> w;)
      if (w == flag) return true;
    return false;
  }
  return false;
}

}  // namespace

std::string PasidProbe::skip_reason() const {
  std::string out;
  for (const auto& m : missing) out += (out.empty() ? "" : "; ") + m;
  return out;
}

std::string describe_open_error(const std::string& dev, int err) {
  std::string what = "open " + dev + ": " + std::strerror(err);
  switch (err) {
    case EOPNOTSUPP:
      return what +
             ": the kernel refused the SVA bind; this kernel disables SVA on x86 (a stable "
             "backport of 'iommu: disable SVA when CONFIG_X86 is set', CVE-2025-71089, without "
             "the patches that re-enable it)";
    case EACCES:
    case EPERM:
      return "no permission: " + what + " (run as root or grant access to the device node)";
    case ENOENT:
      return what + " (no device node: udev did not create it, or the queue went away)";
    case ENODEV:
    case ENXIO:
      return what + " (the work queue is not enabled or vanished)";
    case EBUSY:
      return what + " (a dedicated queue already opened elsewhere)";
    default:
      return what;
  }
}

PasidProbe probe_pasid_path(const std::string& root_text) {
  fs::path root(root_text);
  PasidProbe p;
  auto enqcmd = cpuinfo_has_flag(root / "proc/cpuinfo", "enqcmd");
  p.cpu_has_enqcmd = enqcmd.value_or(false);
  if (!enqcmd)
    p.missing.push_back("cannot read " + (root / "proc/cpuinfo").string() + " to check for ENQCMD");
  else if (!*enqcmd)
    p.missing.push_back("CPU lacks ENQCMD (no 'enqcmd' flag in /proc/cpuinfo)");

  p.inventory = root_text == "/" ? read_idxd_inventory() : read_idxd_sysfs(root_text);
  p.has_dsa_bus = p.inventory.bus_present;
  if (!p.has_dsa_bus) {
    p.missing.push_back("no /sys/bus/dsa (idxd driver not loaded or no DSA/IAA device)");
    return p;
  }
  std::string seen;
  for (const auto& q : p.inventory.work_queues) {
    seen += (seen.empty() ? "" : ", ") + q.describe();
    if (q.usable_for_enqcmd()) p.usable_queues.push_back(q);
  }
  if (p.usable_queues.empty()) {
    std::string why = p.inventory.work_queues.empty()
                          ? "no work queues configured under /sys/bus/dsa/devices"
                          : "no enabled shared user work queue (found: " + seen + ")";
    for (const auto& problem : p.inventory.problems) why += "; " + problem;
    p.missing.push_back(why);
    return p;
  }
  // Shared queues are only usable with PASIDs on: a device without them
  // cannot take ENQCMD from user space.
  std::vector<IdxdWorkQueue> with_pasid;
  for (const auto& q : p.usable_queues) {
    bool pasid_off = false;
    for (const auto& d : p.inventory.devices)
      if (d.name == q.device && d.pasid_enabled && !*d.pasid_enabled) pasid_off = true;
    if (!pasid_off) with_pasid.push_back(q);
  }
  if (with_pasid.empty()) {
    p.missing.push_back(p.usable_queues.front().device +
                        ": pasid_enabled is 0 (shared queues need the IOMMU in scalable mode with "
                        "SVA, e.g. intel_iommu=on,sm_on)");
    return p;
  }
  p.usable_queues = with_pasid;
  const std::string& dev = p.usable_queues.front().char_dev;
  std::error_code ec;
  if (dev.empty() || !fs::exists(dev, ec)) {
    p.missing.push_back("work queue " + p.usable_queues.front().name + " has no device node " +
                        (dev.empty() ? std::string("(no user char device)") : dev));
    return p;
  }
  if (root_text == "/") {
    int fd = ::open(dev.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0)
      p.missing.push_back(describe_open_error(dev, errno));
    else
      ::close(fd);
  } else if (::access(dev.c_str(), R_OK | W_OK) != 0) {
    p.missing.push_back(describe_open_error(dev, errno));
  }
  return p;
}

}  // namespace pasidbench
