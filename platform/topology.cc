#include "platform/topology.h"

#include <hwloc.h>
#include <sched.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <set>

#include "platform/affinity.h"

namespace pasidbench {

struct CpuTopology::HwlocHandle {
  hwloc_topology_t topo = nullptr;
  bool this_system = false;
  ~HwlocHandle() {
    if (topo) hwloc_topology_destroy(topo);
  }
};

const char* to_string(Placement placement) {
  return placement == Placement::kSameCpu ? "same_cpu" : "cross_cpu";
}

bool parse_placement(const std::string& text, Placement* out) {
  if (text == "same_cpu")
    *out = Placement::kSameCpu;
  else if (text == "cross_cpu")
    *out = Placement::kCrossCpu;
  else
    return false;
  return true;
}

namespace {

// Logical index of the ancestor of `obj` of `type`, or -1.
int ancestor_index(hwloc_topology_t topo, hwloc_obj_t obj, hwloc_obj_type_t type) {
  hwloc_obj_t a = hwloc_get_ancestor_obj_by_type(topo, type, obj);
  return a ? static_cast<int>(a->logical_index) : -1;
}

// `allowed`: only PUs in it (the process's affinity); null for all.
std::vector<ProcessingUnit> pus_from_hwloc(hwloc_topology_t topo, hwloc_const_bitmap_t allowed) {
  std::vector<ProcessingUnit> out;
  int n = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PU);
  for (int i = 0; i < n; ++i) {
    hwloc_obj_t pu = hwloc_get_obj_by_type(topo, HWLOC_OBJ_PU, static_cast<unsigned>(i));
    if (allowed && !hwloc_bitmap_isset(allowed, pu->os_index)) continue;
    ProcessingUnit p;
    p.os_index = static_cast<int>(pu->os_index);
    p.core = ancestor_index(topo, pu, HWLOC_OBJ_CORE);
    if (p.core < 0) p.core = i;  // no core level: each PU its own core
    p.package = std::max(0, ancestor_index(topo, pu, HWLOC_OBJ_PACKAGE));
    out.push_back(p);
  }
  return out;
}

std::vector<ProcessingUnit> pus_from_affinity(std::string* note) {
  std::vector<ProcessingUnit> out;
  const std::vector<int> cpus = allowed_cpus();
  if (cpus.empty()) {
    *note += std::string("; sched_getaffinity: ") + std::strerror(errno);
    return out;
  }
  for (int cpu : cpus) out.push_back({cpu, static_cast<int>(out.size()), 0});
  *note += "; cores and packages unknown (each CPU taken as its own core)";
  return out;
}

std::string cpu_list(std::vector<int> cpus) {
  std::sort(cpus.begin(), cpus.end());
  std::string out;
  for (size_t i = 0; i < cpus.size();) {
    size_t j = i;
    while (j + 1 < cpus.size() && cpus[j + 1] == cpus[j] + 1) ++j;
    out += (out.empty() ? "" : ",") + std::to_string(cpus[i]);
    if (j > i) out += "-" + std::to_string(cpus[j]);
    i = j + 1;
  }
  return out;
}

}  // namespace

CpuTopology CpuTopology::discover() {
  CpuTopology t;
  auto handle = std::make_shared<HwlocHandle>();
  std::string why;
  if (hwloc_topology_init(&handle->topo) != 0) {
    handle->topo = nullptr;
    why = "hwloc_topology_init failed";
  } else if (hwloc_topology_load(handle->topo) != 0) {
    why = std::string("hwloc_topology_load: ") + std::strerror(errno);
  }
  if (why.empty()) {
    handle->this_system = true;
    // hwloc's topology already leaves out what the cgroup cpuset forbids;
    // the affinity mask (taskset, a lab runner's pinning) is ours to honour.
    hwloc_bitmap_t bound = hwloc_bitmap_alloc();
    bool have_binding = hwloc_get_cpubind(handle->topo, bound, HWLOC_CPUBIND_PROCESS) == 0;
    t.pus_ = pus_from_hwloc(handle->topo, have_binding ? bound : nullptr);
    t.machine_pus_ = hwloc_get_nbobjs_by_type(handle->topo, HWLOC_OBJ_PU);
    hwloc_bitmap_free(bound);
    t.hwloc_ = std::move(handle);
    if (!t.pus_.empty()) return t;
    why = "hwloc found no usable PU";
    t.hwloc_.reset();
  }
  t.note_ = why;
  t.pus_ = pus_from_affinity(&t.note_);
  return t;
}

CpuTopology CpuTopology::synthetic(const std::string& description) {
  CpuTopology t;
  auto handle = std::make_shared<HwlocHandle>();
  if (hwloc_topology_init(&handle->topo) != 0) throw PlacementError("hwloc_topology_init failed");
  if (hwloc_topology_set_synthetic(handle->topo, description.c_str()) != 0 ||
      hwloc_topology_load(handle->topo) != 0)
    throw PlacementError("bad synthetic topology '" + description + "'");
  t.pus_ = pus_from_hwloc(handle->topo, nullptr);
  t.machine_pus_ = static_cast<int>(t.pus_.size());
  t.hwloc_ = std::move(handle);
  return t;
}

int CpuTopology::cores() const {
  std::set<int> c;
  for (const auto& p : pus_) c.insert(p.core);
  return static_cast<int>(c.size());
}

int CpuTopology::packages() const {
  std::set<int> c;
  for (const auto& p : pus_) c.insert(p.package);
  return static_cast<int>(c.size());
}

std::string CpuTopology::summary() const {
  auto plural = [](int n, const char* what) {
    return std::to_string(n) + " " + what + (n == 1 ? "" : "s");
  };
  std::vector<int> ids;
  for (const auto& p : pus_) ids.push_back(p.os_index);
  std::string s = plural(packages(), "package") + ", " + plural(cores(), "core") + ", " +
                  plural(static_cast<int>(pus_.size()), "PU") +
                  (smt() ? " (SMT on)" : " (SMT off)") + ": CPUs " + cpu_list(ids);
  if (machine_pus_ > static_cast<int>(pus_.size()))
    s += " (of " + std::to_string(machine_pus_) + " on the machine)";
  if (!note_.empty()) s += " [" + note_ + "]";
  return s;
}

CpuPair CpuTopology::pick_pair(Placement placement) const {
  if (pus_.empty())
    throw PlacementError("no CPU available to this process" +
                         (note_.empty() ? "" : " (" + note_ + ")"));
  const ProcessingUnit& a = pus_.front();
  if (placement == Placement::kSameCpu) return {a.os_index, a.os_index, "same CPU"};
  if (pus_.size() < 2)
    throw PlacementError("cross_cpu needs 2 CPUs; this process may run on 1 (" + summary() + ")");
  // Prefer another core of the same package, then another package, then an
  // SMT sibling: the first two measure a real cross-CPU wakeup.
  const ProcessingUnit* best = nullptr;
  auto rank = [&](const ProcessingUnit& b) {
    if (b.core != a.core && b.package == a.package) return 0;
    if (b.core != a.core) return 1;
    return 2;
  };
  for (size_t i = 1; i < pus_.size(); ++i)
    if (!best || rank(pus_[i]) < rank(*best)) best = &pus_[i];
  static const char* relation[] = {"different cores", "different packages", "SMT siblings"};
  return {a.os_index, best->os_index, relation[rank(*best)]};
}

std::vector<int> CpuTopology::pick_distinct(size_t count, const std::string& purpose) const {
  if (count > pus_.size())
    throw PlacementError(purpose + " needs " + std::to_string(count) +
                         " CPUs; this process may run on " + std::to_string(pus_.size()) + " (" +
                         summary() + ")");
  // Round-robin over cores: the first PU of every core, then the second...
  std::map<int, std::vector<int>> by_core;
  for (const auto& p : pus_) by_core[p.core].push_back(p.os_index);
  std::vector<int> out;
  for (size_t round = 0; out.size() < count; ++round)
    for (const auto& [core, list] : by_core)
      if (round < list.size() && out.size() < count) out.push_back(list[round]);
  return out;
}

void CpuTopology::pin_current_thread(int os_index) const {
  if (hwloc_ && hwloc_->this_system) {
    hwloc_bitmap_t set = hwloc_bitmap_alloc();
    hwloc_bitmap_only(set, static_cast<unsigned>(os_index));
    int rc = hwloc_set_cpubind(hwloc_->topo, set, HWLOC_CPUBIND_THREAD | HWLOC_CPUBIND_STRICT);
    int err = errno;
    hwloc_bitmap_free(set);
    if (rc != 0)
      throw PlacementError("cannot pin to CPU " + std::to_string(os_index) + ": " +
                           std::strerror(err));
    return;
  }
  if (hwloc_) throw PlacementError("cannot pin on a synthetic topology");
  if (os_index < 0 || os_index >= CPU_SETSIZE)
    throw PlacementError("no CPU " + std::to_string(os_index));
  if (int err = pin_calling_thread(os_index); err != 0)
    throw PlacementError("cannot pin to CPU " + std::to_string(os_index) + ": " +
                         std::strerror(err));
}

}  // namespace pasidbench
