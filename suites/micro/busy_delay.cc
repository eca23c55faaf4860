#include "suites/micro/busy_delay.h"

#include <algorithm>
#include <chrono>

namespace pasidbench {

void busy_loop(uint64_t loops) {
  uint64_t x = loops;
  for (uint64_t i = 0; i < loops; ++i) {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    asm volatile("" : "+r"(x));  // keeps the loop from being folded away
  }
}

BusyDelay BusyDelay::calibrate() {
  using clock = std::chrono::steady_clock;
  uint64_t loops = 1 << 12;
  // Grow the trial until it lasts about 2 ms, so clock overhead is noise.
  for (;;) {
    auto t0 = clock::now();
    busy_loop(loops);
    auto ns = std::chrono::duration<double, std::nano>(clock::now() - t0).count();
    if (ns > 2e6 || loops > (1ULL << 40)) break;
    loops *= 2;
  }
  double best = 0;
  for (int trial = 0; trial < 7; ++trial) {
    auto t0 = clock::now();
    busy_loop(loops);
    auto ns = std::chrono::duration<double, std::nano>(clock::now() - t0).count();
    if (ns > 0) best = std::max(best, static_cast<double>(loops) / ns);
  }
  BusyDelay d;
  d.loops_per_ns_ = best;
  return d;
}

void BusyDelay::spin(int64_t ns) const {
  if (ns <= 0) return;
  busy_loop(static_cast<uint64_t>(static_cast<double>(ns) * loops_per_ns_ + 0.5));
}

}  // namespace pasidbench
