// Which CPUs this process may run on, discovered with hwloc, and pinning to
// them. Benchmarks never name CPU numbers: they ask for a placement.
#pragma once

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace pasidbench {

// A placement the machine cannot give (too few CPUs, a failed bind). Its text
// is meant for a SKIP reason as it is.
class PlacementError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class Placement { kSameCpu, kCrossCpu };
const char* to_string(Placement placement);  // "same_cpu", "cross_cpu"
bool parse_placement(const std::string& text, Placement* out);

struct ProcessingUnit {
  int os_index = 0;  // the kernel's CPU number
  int core = 0;      // logical index of its core
  int package = 0;   // logical index of its package
};

struct CpuPair {
  int first = 0;  // os indices
  int second = 0;
  std::string relation;  // "same CPU", "SMT siblings", "different cores", "different packages"
};

class CpuTopology {
 public:
  // This machine, restricted to the CPUs this process may use. Falls back to
  // sched_getaffinity when hwloc cannot load a topology (note() says why).
  static CpuTopology discover();
  // An hwloc synthetic description ("package:2 core:2 pu:2"), for tests.
  static CpuTopology synthetic(const std::string& description);

  const std::vector<ProcessingUnit>& pus() const { return pus_; }
  int cores() const;
  int packages() const;
  bool smt() const { return cores() < static_cast<int>(pus_.size()); }
  const std::string& note() const { return note_; }
  bool from_hwloc() const { return hwloc_ != nullptr; }
  // "1 package, 2 cores, 2 PUs (SMT off): CPUs 0-1", plus "(of N on the
  // machine)" when the affinity mask leaves some out
  std::string summary() const;

  // Two CPUs for a placement: the same PU twice, or two PUs on different
  // cores when there are any (SMT siblings otherwise). Throws PlacementError.
  CpuPair pick_pair(Placement placement) const;
  // `count` distinct PUs, spread over cores first. Throws PlacementError
  // naming `purpose` when the machine has fewer.
  std::vector<int> pick_distinct(size_t count, const std::string& purpose) const;

  // Binds the calling thread to one PU. Throws PlacementError.
  void pin_current_thread(int os_index) const;

 private:
  struct HwlocHandle;
  std::shared_ptr<HwlocHandle> hwloc_;
  std::vector<ProcessingUnit> pus_;
  int machine_pus_ = 0;  // all PUs hwloc saw, affinity aside
  std::string note_;
};

}  // namespace pasidbench
