// Search strategies: implementations of the one Chooser interface.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

#include "runners/backends/model/machine.h"
#include "runners/backends/model/prng.h"

namespace pasidbench::model {

// Raised when re-running a recorded prefix offers different choices: the
// model is not deterministic (a bug in the simulator or a policy).
class NondeterminismError : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

// Always the timed default: the reference schedule.
class DefaultChooser final : public Chooser {
 public:
  int choose(const Option*, int, int default_index, bool) override { return default_index; }
};

// Depth-first over every schedule with at most `bound` deviations from the
// timed default (preemption bounding in the sense of CHESS, counted against
// the timed order). Stateless: each schedule re-runs from the start,
// replaying the stack's prefix.
class ExhaustiveChooser final : public Chooser {
 public:
  explicit ExhaustiveChooser(int bound) : bound_(bound) {}

  // Call before each run.
  void begin() {
    pos_ = 0;
    deviations_ = 0;
  }
  // Call after each run; moves to the next schedule. False when all were run.
  bool next();
  int choose(const Option* opts, int n, int default_index, bool data) override;
  // Deviations of the schedule just run.
  int deviations() const { return deviations_; }

 private:
  struct Frame {
    uint16_t n;
    uint16_t rank;  // 0: the default; r > 0: the r-th other option in index order
    uint16_t default_index;
    uint16_t deviations_before;
  };
  int bound_;
  std::vector<Frame> stack_;
  size_t pos_ = 0;
  int deviations_ = 0;
};

// Uniform among the enabled choices at every decision.
class RandomChooser final : public Chooser {
 public:
  void begin(uint64_t seed) { rng_.reseed(seed); }
  int choose(const Option*, int n, int, bool) override {
    return static_cast<int>(rng_.below(static_cast<uint64_t>(n)));
  }

 private:
  Prng rng_;
};

// Probabilistic concurrency testing (Burckhardt et al., ASPLOS 2010): random
// distinct priorities per agent, the highest-priority enabled agent runs,
// and at d-1 random change points among the k decisions the running agent
// drops below all others. Latency choices are fair coin flips; a late IPI or
// descriptor's agent drops below all others too.
class PctChooser final : public Chooser {
 public:
  explicit PctChooser(int depth) : depth_(depth) {}
  // `k`: decisions to spread the change points over (the longest run seen).
  void begin(uint64_t seed, int64_t k);
  int choose(const Option* opts, int n, int default_index, bool data) override;
  int64_t decisions() const { return step_; }

 private:
  int64_t priority(int32_t agent);

  int depth_;
  Prng rng_;
  std::unordered_map<int32_t, int64_t> priorities_;
  std::vector<int64_t> change_points_;
  int64_t step_ = 0;
  int64_t lowered_ = 0;
};

// Follows a recorded list of deviations, the default elsewhere. Strict mode
// reports a recorded action that is not enabled (the replay diverged);
// guided mode (shrinking) takes the default instead.
class ReplayChooser final : public Chooser {
 public:
  ReplayChooser(std::vector<Deviation> deviations, bool strict)
      : deviations_(std::move(deviations)), strict_(strict) {}
  int choose(const Option* opts, int n, int default_index, bool data) override;
  bool diverged() const { return !divergence_.empty(); }
  const std::string& divergence() const { return divergence_; }
  // Recorded deviations the run never reached.
  size_t unused() const { return deviations_.size() - next_; }

 private:
  std::vector<Deviation> deviations_;
  bool strict_;
  size_t next_ = 0;
  uint32_t decision_ = 0;
  std::string divergence_;
};

// "switch cpu1 #3": a readable name for an option key.
std::string describe_key(uint32_t key);

}  // namespace pasidbench::model
