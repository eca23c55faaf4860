#include "platform/kernel_config.h"

#include <zlib.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

namespace pasidbench {

namespace fs = std::filesystem;

namespace {

std::string fnv1a64(const std::string& text) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

// Empty with `problem` set when the file cannot be read.
std::string read_gz(const fs::path& p, std::string* problem) {
  gzFile f = gzopen(p.c_str(), "rb");
  if (!f) {
    *problem = "cannot open " + p.string() + ": " + std::strerror(errno);
    return {};
  }
  std::string out;
  char buf[65536];
  int n;
  while ((n = gzread(f, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  if (n < 0) {
    int err = 0;
    *problem = "cannot decompress " + p.string() + ": " + gzerror(f, &err);
    out.clear();
  }
  gzclose(f);
  return out;
}

}  // namespace

std::map<std::string, std::string> parse_kernel_config(const std::string& text) {
  std::map<std::string, std::string> out;
  std::istringstream in(text);
  std::string line;
  static const std::string not_set = " is not set";
  while (std::getline(in, line)) {
    if (line.rfind("CONFIG_", 0) == 0) {
      auto eq = line.find('=');
      if (eq == std::string::npos) continue;
      std::string value = line.substr(eq + 1);
      if (value.size() >= 2 && value.front() == '"' && value.back() == '"')
        value = value.substr(1, value.size() - 2);
      out[line.substr(0, eq)] = value;
    } else if (line.rfind("# CONFIG_", 0) == 0 && line.size() > not_set.size() &&
               line.compare(line.size() - not_set.size(), not_set.size(), not_set) == 0) {
      out[line.substr(2, line.size() - 2 - not_set.size())] = "n";
    }
  }
  return out;
}

KernelConfig read_kernel_config(const std::string& root_text, const std::string& release) {
  fs::path root(root_text);
  KernelConfig c;
  std::error_code ec;
  std::string text;
  std::vector<std::string> problems;
  fs::path proc = root / "proc/config.gz";
  if (fs::exists(proc, ec)) {
    std::string problem;
    text = read_gz(proc, &problem);
    if (!text.empty())
      c.source = "/proc/config.gz";
    else
      problems.push_back(problem);
  }
  fs::path boot = root / "boot" / ("config-" + release);
  if (text.empty() && fs::exists(boot, ec)) {
    std::ifstream in(boot);
    std::ostringstream s;
    s << in.rdbuf();
    text = s.str();
    if (!text.empty())
      c.source = "/boot/config-" + release;
    else
      problems.push_back("cannot read " + boot.string() + ": " + std::strerror(errno));
  }
  if (text.empty()) {
    if (problems.empty()) problems.push_back("no /proc/config.gz and no /boot/config-" + release);
    for (const auto& p : problems) c.problem += (c.problem.empty() ? "" : "; ") + p;
    return c;
  }
  c.options = parse_kernel_config(text);
  c.digest = fnv1a64(text);
  return c;
}

const std::vector<std::string>& pasid_relevant_options() {
  static const std::vector<std::string> all = {
      "CONFIG_IOMMU_SVA",
      "CONFIG_INTEL_IOMMU",
      "CONFIG_INTEL_IOMMU_SVM",
      "CONFIG_AMD_IOMMU",
      "CONFIG_IOMMU_MM_DATA",
      "CONFIG_ARCH_HAS_CPU_PASID",
      "CONFIG_INTEL_IDXD",
      "CONFIG_INTEL_IDXD_SVM",
      "CONFIG_INTEL_IDXD_BUS",
      "CONFIG_X86_DISABLED_FEATURE_ENQCMD",
      "CONFIG_KPROBES",
      "CONFIG_KPROBE_EVENTS",
      "CONFIG_MEMBARRIER",
      "CONFIG_PERF_EVENTS",
      "CONFIG_PREEMPT",
      "CONFIG_PREEMPT_VOLUNTARY",
      "CONFIG_PREEMPT_DYNAMIC",
      "CONFIG_HZ",
      "CONFIG_NO_HZ_FULL",
      "CONFIG_SCHED_CORE",
      "CONFIG_PAGE_TABLE_ISOLATION",
      "CONFIG_MITIGATION_PAGE_TABLE_ISOLATION",
  };
  return all;
}

}  // namespace pasidbench
