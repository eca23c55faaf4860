// A calibrated busy delay: spins a fixed arithmetic loop for about N ns
// without reading a clock inside the loop (a clock read costs tens of ns in
// a VM, too coarse for the small delays a statistics calibration injects).
#pragma once

#include <cstdint>

namespace pasidbench {

class BusyDelay {
 public:
  // Times the loop on this CPU; the fastest of several trials wins, since a
  // trial can only be slowed down by interference, never sped up.
  static BusyDelay calibrate();

  void spin(int64_t ns) const;
  double loops_per_ns() const { return loops_per_ns_; }

 private:
  double loops_per_ns_ = 0;
};

// The loop itself, exposed so the calibration and the delay run the same code.
void busy_loop(uint64_t loops);

}  // namespace pasidbench
