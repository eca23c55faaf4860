#include "runners/backends/host/pasid_probe.h"

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

std::string read_line(const fs::path& p) {
  std::ifstream in(p);
  std::string s;
  std::getline(in, s);
  return s;
}

bool cpuinfo_has_flag(const fs::path& cpuinfo, const std::string& flag) {
  std::ifstream in(cpuinfo);
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

PasidProbe probe_pasid_path(const std::string& root_text) {
  fs::path root(root_text);
  PasidProbe p;
  p.cpu_has_enqcmd = cpuinfo_has_flag(root / "proc/cpuinfo", "enqcmd");
  if (!p.cpu_has_enqcmd)
    p.missing.push_back("CPU lacks ENQCMD (no 'enqcmd' flag in /proc/cpuinfo)");

  fs::path bus = root / "sys/bus/dsa/devices";
  std::error_code ec;
  p.has_dsa_bus = fs::is_directory(bus, ec);
  if (!p.has_dsa_bus) {
    p.missing.push_back("no /sys/bus/dsa (idxd driver not loaded or no DSA/IAA device)");
    return p;
  }
  bool any_wq = false;
  for (const auto& e : fs::directory_iterator(bus, ec)) {
    std::string name = e.path().filename().string();
    if (name.rfind("wq", 0) != 0) continue;
    any_wq = true;
    if (read_line(e.path() / "state") != "enabled") continue;
    if (read_line(e.path() / "mode") != "shared") continue;
    if (read_line(e.path() / "type") != "user") continue;
    SharedWorkQueue q;
    q.name = name;
    q.device = "dsa" + name.substr(2, name.find('.') - 2);
    q.char_dev = "/dev/dsa/" + name;
    p.usable_queues.push_back(q);
  }
  if (p.usable_queues.empty()) {
    p.missing.push_back(any_wq ? "no enabled shared user work queue under /sys/bus/dsa/devices"
                               : "no work queues configured under /sys/bus/dsa/devices");
    return p;
  }
  if (root_text == "/") {
    const std::string& dev = p.usable_queues.front().char_dev;
    int fd = ::open(dev.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0)
      p.missing.push_back("cannot open " + dev + ": " + std::strerror(errno));
    else
      ::close(fd);
  }
  return p;
}

}  // namespace pasidbench
