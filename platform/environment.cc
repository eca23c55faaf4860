#include "platform/environment.h"

#include <sys/utsname.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "platform/idxd_sysfs.h"
#include "platform/kernel_config.h"
#include "platform/tools.h"
#include "platform/topology.h"
#include "platform/utc_time.h"

namespace pasidbench {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

// Problems met while collecting: unreadable files are listed, not hidden.
struct Notes {
  json list = json::array();
  void add(const std::string& s) { list.push_back(s); }
};

std::optional<std::string> read_text(const fs::path& p) {
  std::ifstream in(p);
  if (!in) return std::nullopt;
  std::ostringstream s;
  s << in.rdbuf();
  std::string out = s.str();
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

// A file that should be there on any Linux: absence or unreadability is noted.
std::optional<std::string> read_expected(const fs::path& p, Notes* notes) {
  auto v = read_text(p);
  if (!v) {
    std::error_code ec;
    notes->add((fs::exists(p, ec) ? "cannot read " : "no ") + p.string());
  }
  return v;
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

json cpu_block(const fs::path& root, bool live, Notes* notes) {
  json cpu;
  auto info = first_cpuinfo(root);
  if (info.empty()) {
    cpu["note"] = "cannot read /proc/cpuinfo";
    notes->add("cannot read " + (root / "proc/cpuinfo").string());
  } else {
    cpu["model"] = info["model name"];
    cpu["vendor"] = info["vendor_id"];
    const std::pair<const char*, const char*> fields[] = {{"cpu family", "family"},
                                                          {"model", "model_number"},
                                                          {"stepping", "stepping"},
                                                          {"microcode", "microcode"}};
    for (const auto& [from, to] : fields)
      cpu[to] = info.count(from) ? info[from] : "not in /proc/cpuinfo";
    std::set<std::string> flags;
    std::istringstream fl(info["flags"]);
    for (std::string f; fl >> f;) flags.insert(f);
    // The flags that decide whether the PASID path can run at all.
    json relevant = json::object();
    for (const char* f :
         {"enqcmd", "movdir64b", "movdiri", "waitpkg", "xsaves", "pasid", "hypervisor"})
      relevant[f] = flags.count(f) != 0;
    cpu["flags"] = relevant;
  }
  fs::path sys = root / "sys/devices/system/cpu";
  cpu["online"] = read_expected(sys / "online", notes).value_or("unknown");
  if (live) cpu["count"] = static_cast<int64_t>(sysconf(_SC_NPROCESSORS_ONLN));
  json smt;
  if (auto v = read_text(sys / "smt/control")) smt["control"] = *v;
  if (auto v = read_text(sys / "smt/active")) smt["active"] = *v == "1";
  if (smt.empty()) smt = "unknown (no /sys/devices/system/cpu/smt)";
  cpu["smt"] = smt;
  if (auto gov = read_text(sys / "cpu0/cpufreq/scaling_governor")) {
    cpu["governor"] = *gov;
    if (auto drv = read_text(sys / "cpu0/cpufreq/scaling_driver")) cpu["cpufreq_driver"] = *drv;
  } else {
    cpu["governor"] = "none (no cpufreq driver)";
  }
  if (auto boost = read_text(sys / "cpufreq/boost")) cpu["boost"] = *boost;
  if (auto no_turbo = read_text(sys / "intel_pstate/no_turbo"))
    cpu["intel_pstate_no_turbo"] = *no_turbo;
  json mitigations = json::object();
  std::error_code ec;
  fs::path vuln = sys / "vulnerabilities";
  for (const auto& e : fs::directory_iterator(vuln, ec)) {
    if (auto v = read_text(e.path()))
      mitigations[e.path().filename().string()] = *v;
    else
      notes->add("cannot read " + e.path().string());
  }
  if (ec) notes->add("cannot list " + vuln.string());
  cpu["vulnerabilities"] = mitigations;
  if (live) {
    CpuTopology topo = CpuTopology::discover();
    cpu["topology"] = topo.summary();
    cpu["topology_source"] = topo.from_hwloc() ? "hwloc" : "sched_getaffinity";
  } else {
    cpu["topology"] = "not collected under --root (hwloc reads the live machine)";
  }
  return cpu;
}

json kernel_block(const fs::path& root, bool live, Notes* notes) {
  json k;
  struct utsname u {};
  if (live && uname(&u) == 0) {
    k["release"] = u.release;
    k["version"] = u.version;
    k["machine"] = u.machine;
  } else {
    k["release"] = read_expected(root / "proc/sys/kernel/osrelease", notes).value_or("unknown");
    k["version"] = read_expected(root / "proc/sys/kernel/version", notes).value_or("unknown");
  }
  k["cmdline"] = read_expected(root / "proc/cmdline", notes).value_or("");
  KernelConfig config = read_kernel_config(root.string(), k["release"].get<std::string>());
  if (config.source.empty()) {
    k["config_source"] = "none readable";
    k["config_note"] = config.problem;
  } else {
    k["config_source"] = config.source;
    k["config_digest"] = config.digest;
    json relevant = json::object();
    for (const auto& name : pasid_relevant_options()) {
      auto it = config.options.find(name);
      relevant[name] = it == config.options.end() ? "absent" : it->second;
    }
    k["config"] = relevant;
  }
  return k;
}

// Intel VT-d extended capability bits (the kernel's ecap_* macros):
// PRS 29, PASID 40, SMTS 43.
json decode_vtd_ecap(const std::string& hex) {
  json j = {{"ecap", hex}};
  try {
    uint64_t e = std::stoull(hex, nullptr, 16);
    j["page_requests"] = ((e >> 29) & 1) != 0;
    j["pasid"] = ((e >> 40) & 1) != 0;
    j["scalable_mode"] = ((e >> 43) & 1) != 0;
  } catch (const std::exception&) {
    j["note"] = "unparsable ecap";
  }
  return j;
}

json iommu_block(const fs::path& root, const json& kernel, Notes* notes) {
  json j;
  std::error_code ec;
  json units = json::array();
  fs::path cls = root / "sys/class/iommu";
  for (const auto& e : fs::directory_iterator(cls, ec)) {
    json unit = {{"name", e.path().filename().string()}};
    if (auto ecap = read_text(e.path() / "intel-iommu/ecap")) unit.update(decode_vtd_ecap(*ecap));
    if (auto cap = read_text(e.path() / "intel-iommu/cap")) unit["cap"] = *cap;
    if (auto feat = read_text(e.path() / "amd-iommu/features")) unit["amd_features"] = *feat;
    units.push_back(unit);
  }
  j["units"] = units;
  if (units.empty()) j["note"] = "no IOMMU in /sys/class/iommu";
  // What the command line asked for: SVA needs scalable mode (sm_on).
  json cmdline_opts = json::object();
  std::istringstream words(kernel.value("cmdline", ""));
  for (std::string w; words >> w;)
    for (const char* opt :
         {"intel_iommu=", "amd_iommu=", "iommu=", "iommu.passthrough=", "iommu.strict="})
      if (w.rfind(opt, 0) == 0)
        cmdline_opts[std::string(opt, std::strlen(opt) - 1)] = w.substr(std::strlen(opt));
  j["cmdline"] = cmdline_opts;
  json sva;
  if (kernel.contains("config")) {
    const json& c = kernel["config"];
    sva["config_iommu_sva"] = c.value("CONFIG_IOMMU_SVA", "absent");
    sva["config_intel_iommu_svm"] = c.value("CONFIG_INTEL_IOMMU_SVM", "absent");
  } else {
    sva["config"] = "unknown (no readable kernel config)";
  }
  bool any_pasid = false;
  for (const auto& u : units) any_pasid = any_pasid || u.value("pasid", false);
  sva["iommu_pasid_capable"] = any_pasid;
  j["sva"] = sva;
  (void)notes;
  return j;
}

json dsa_block(const fs::path& root, bool live) {
  IdxdInventory inv = live ? read_idxd_inventory() : read_idxd_sysfs(root.string());
  json j;
  j["present"] = inv.bus_present;
  if (!inv.bus_present) {
    j["note"] = "no /sys/bus/dsa (idxd driver not loaded or no DSA/IAA device)";
    return j;
  }
  j["enumerator"] = inv.enumerator;
  json devices = json::array(), wqs = json::array();
  for (const auto& d : inv.devices) {
    json dev = {{"name", d.name}, {"state", d.state}, {"version", d.version}};
    if (d.pasid_enabled) dev["pasid_enabled"] = *d.pasid_enabled;
    devices.push_back(dev);
  }
  for (const auto& q : inv.work_queues) {
    json wq = {{"name", q.name},
               {"device", q.device},
               {"mode", q.mode},
               {"state", q.state},
               {"type", q.type},
               {"wq_name", q.wq_name},
               {"driver_name", q.driver_name}};
    if (q.size) wq["size"] = *q.size;
    if (q.threshold) wq["threshold"] = *q.threshold;
    if (!q.char_dev.empty()) wq["char_dev"] = q.char_dev;
    wqs.push_back(wq);
  }
  j["devices"] = devices;
  j["work_queues"] = wqs;
  if (!inv.problems.empty()) j["problems"] = inv.problems;
  return j;
}

json tools_block() {
  json t;
  std::string tried;
  std::string micro = find_micro_binary(&tried);
  t["pasidbench_micro"] = micro.empty() ? "not found (looked at " + tried + ")" : micro;
  std::string perf = find_perf(&tried);
  t["perf"] = perf.empty() ? "not found (looked at " + tried + ")" : perf;
  return t;
}

std::string hostname(const fs::path& root, bool live) {
  if (!live)
    if (auto h = read_text(root / "proc/sys/kernel/hostname")) return *h;
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0) return "unknown";
  return buf;
}

}  // namespace

const char* build_revision();  // cmake/revision.cmake, written at build time

std::string pasidbench_revision() { return build_revision(); }

std::string pasidbench_home() {
  if (const char* h = std::getenv("PASIDBENCH_HOME"); h && *h) return h;
  return PASIDBENCH_SOURCE_DIR;
}

json collect_environment(const std::string& root_text) {
  fs::path root(root_text);
  const bool live = fs::path(root_text).lexically_normal() == "/";
  Notes notes;
  json env;
  env["kernel"] = kernel_block(root, live, &notes);
  env["cpu"] = cpu_block(root, live, &notes);
  env["iommu"] = iommu_block(root, env["kernel"], &notes);
  env["dsa"] = dsa_block(root, live);
  env["hostname"] = hostname(root, live);
  env["pasidbench"] = {{"revision", pasidbench_revision()}};
  if (live) env["tools"] = tools_block();
  env["collected_at"] = utc_now_rfc3339();
  if (!live) env["root"] = root_text;
  if (!notes.list.empty()) env["notes"] = notes.list;
  return env;
}

}  // namespace pasidbench
