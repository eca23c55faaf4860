#include "runners/environment.h"

#include <sys/utsname.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

namespace pasidbench {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

std::optional<std::string> read_text(const fs::path& p) {
  std::ifstream in(p);
  if (!in) return std::nullopt;
  std::ostringstream s;
  s << in.rdbuf();
  std::string out = s.str();
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

// /proc/cpuinfo fields of the first processor.
std::map<std::string, std::string> first_cpuinfo(const fs::path& root) {
  std::map<std::string, std::string> out;
  std::ifstream in(root / "proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) break;
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string key = line.substr(0, colon);
    while (!key.empty() && (key.back() == ' ' || key.back() == '\t')) key.pop_back();
    std::string value = colon + 1 < line.size() ? line.substr(colon + 2) : "";
    out[key] = value;
  }
  return out;
}

json cpu_block(const fs::path& root) {
  json cpu;
  auto info = first_cpuinfo(root);
  if (info.empty()) {
    cpu["note"] = "cannot read /proc/cpuinfo";
    return cpu;
  }
  cpu["model"] = info["model name"];
  cpu["vendor"] = info["vendor_id"];
  for (const char* k : {"cpu family", "model", "stepping", "microcode"})
    if (info.count(k))
      cpu[std::string(k) == "model"        ? "model_number"
          : std::string(k) == "cpu family" ? "family"
                                           : k] = info[k];
  std::set<std::string> flags;
  std::istringstream fl(info["flags"]);
  for (std::string f; fl >> f;) flags.insert(f);
  // The flags that decide whether the PASID path can run at all.
  json relevant = json::object();
  for (const char* f : {"enqcmd", "movdir64b", "movdiri", "waitpkg", "xsaves", "pasid"})
    relevant[f] = flags.count(f) != 0;
  cpu["flags"] = relevant;
  cpu["online"] = read_text(root / "sys/devices/system/cpu/online").value_or("unknown");
  cpu["count"] = static_cast<int64_t>(sysconf(_SC_NPROCESSORS_ONLN));
  if (auto smt = read_text(root / "sys/devices/system/cpu/smt/control")) cpu["smt"] = *smt;
  if (auto gov = read_text(root / "sys/devices/system/cpu/cpu0/cpufreq/scaling_governor"))
    cpu["governor"] = *gov;
  else
    cpu["governor"] = "none (no cpufreq driver)";
  json mitigations = json::object();
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(root / "sys/devices/system/cpu/vulnerabilities", ec))
    if (auto v = read_text(e.path())) mitigations[e.path().filename().string()] = *v;
  cpu["vulnerabilities"] = mitigations;
  return cpu;
}

json kernel_block(const fs::path& root) {
  json k;
  struct utsname u {};
  if (root == "/" && uname(&u) == 0) {
    k["release"] = u.release;
    k["version"] = u.version;
    k["machine"] = u.machine;
  } else {
    k["release"] = read_text(root / "proc/sys/kernel/osrelease").value_or("unknown");
    k["version"] = read_text(root / "proc/sys/kernel/version").value_or("unknown");
  }
  k["cmdline"] = read_text(root / "proc/cmdline").value_or("");
  std::string release = k["release"];
  if (fs::exists(root / "proc/config.gz"))
    k["config_source"] = "/proc/config.gz";
  else if (fs::exists(root / ("boot/config-" + release)))
    k["config_source"] = "/boot/config-" + release;
  else
    k["config_source"] = "none readable";
  return k;
}

json iommu_block(const fs::path& root) {
  json j;
  std::error_code ec;
  json units = json::array();
  for (const auto& e : fs::directory_iterator(root / "sys/class/iommu", ec))
    units.push_back(e.path().filename().string());
  j["units"] = units;
  if (units.empty()) j["note"] = "no IOMMU in /sys/class/iommu";
  return j;
}

json dsa_block(const fs::path& root) {
  json j;
  fs::path bus = root / "sys/bus/dsa/devices";
  std::error_code ec;
  if (!fs::exists(bus, ec)) {
    j["present"] = false;
    j["note"] = "no /sys/bus/dsa (idxd driver not loaded or no DSA/IAA device)";
    return j;
  }
  j["present"] = true;
  json devices = json::array(), wqs = json::array();
  for (const auto& e : fs::directory_iterator(bus, ec)) {
    std::string name = e.path().filename().string();
    if (name.rfind("wq", 0) == 0) {
      json wq = {{"name", name}};
      for (const char* attr : {"mode", "state", "type", "name", "size", "threshold", "driver_name"})
        if (auto v = read_text(e.path() / attr)) wq[attr] = *v;
      wqs.push_back(wq);
    } else if (name.rfind("dsa", 0) == 0 || name.rfind("iax", 0) == 0) {
      json dev = {{"name", name}};
      for (const char* attr : {"state", "pasid_enabled", "version"})
        if (auto v = read_text(e.path() / attr)) dev[attr] = *v;
      devices.push_back(dev);
    }
  }
  j["devices"] = devices;
  j["work_queues"] = wqs;
  return j;
}

std::string hostname() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0) return "unknown";
  return buf;
}

}  // namespace

std::string pasidbench_revision() { return PASIDBENCH_GIT_REVISION; }

std::string pasidbench_home() {
  if (const char* h = std::getenv("PASIDBENCH_HOME"); h && *h) return h;
  return PASIDBENCH_SOURCE_DIR;
}

json collect_environment(const std::string& root_text) {
  fs::path root(root_text);
  json env;
  env["kernel"] = kernel_block(root);
  env["cpu"] = cpu_block(root);
  env["iommu"] = iommu_block(root);
  env["dsa"] = dsa_block(root);
  env["hostname"] = hostname();
  env["pasidbench"] = {{"revision", pasidbench_revision()}};
  env["collected_at"] = utc_now_rfc3339();
  return env;
}

Provenance provenance_from_environment(const json& env) {
  Provenance p;
  p.kernel.name = "running";
  p.kernel.release = env.at("kernel").value("release", "unknown");
  p.kernel.version = env.at("kernel").value("version", "");
  p.machine.hostname = env.value("hostname", "unknown");
  p.machine.cpu_model = env.at("cpu").value("model", "");
  p.pasidbench_revision = env.at("pasidbench").value("revision", "unknown");
  return p;
}

}  // namespace pasidbench
