#include "runners/backends/model/strategies.h"

#include <algorithm>

namespace pasidbench::model {

bool ExhaustiveChooser::next() {
  if (pos_ != stack_.size())
    throw NondeterminismError("a run made " + std::to_string(pos_) + " decisions, the last made " +
                              std::to_string(stack_.size()));
  while (!stack_.empty()) {
    Frame& f = stack_.back();
    if (f.rank + 1 < f.n && f.deviations_before + 1 <= bound_) {
      ++f.rank;
      return true;
    }
    stack_.pop_back();
  }
  return false;
}

int ExhaustiveChooser::choose(const Option*, int n, int default_index, bool) {
  if (pos_ < stack_.size()) {
    const Frame& f = stack_[pos_++];
    if (f.n != n || f.default_index != default_index)
      throw NondeterminismError("decision " + std::to_string(pos_ - 1) + " offered " +
                                std::to_string(n) + " choices, " + std::to_string(f.n) +
                                " when it was first run");
    if (f.rank == 0) return default_index;
    ++deviations_;
    int other = f.rank - 1;
    return other < default_index ? other : other + 1;
  }
  if (n > UINT16_MAX) throw std::logic_error("too many choices at one decision");
  stack_.push_back({static_cast<uint16_t>(n), 0, static_cast<uint16_t>(default_index),
                    static_cast<uint16_t>(deviations_)});
  ++pos_;
  return default_index;
}

void PctChooser::begin(uint64_t seed, int64_t k) {
  rng_.reseed(seed);
  priorities_.clear();
  change_points_.clear();
  step_ = 0;
  lowered_ = 0;
  k = std::max<int64_t>(k, 1);
  for (int i = 1; i < depth_; ++i)
    change_points_.push_back(1 + static_cast<int64_t>(rng_.below(static_cast<uint64_t>(k))));
  std::sort(change_points_.begin(), change_points_.end());
}

int64_t PctChooser::priority(int32_t agent) {
  auto it = priorities_.find(agent);
  if (it != priorities_.end()) return it->second;
  // Initial priorities are positive; lowered ones count down from -1.
  int64_t p = static_cast<int64_t>(rng_.next() >> 2) + 1;
  priorities_.emplace(agent, p);
  return p;
}

int PctChooser::choose(const Option* opts, int n, int, bool data) {
  if (data) {
    // A late IPI or descriptor: its agent drops below every other, so it
    // runs only once nothing with a higher priority can.
    int pick = static_cast<int>(rng_.below(static_cast<uint64_t>(n)));
    if (pick != 0) priorities_[opts[pick].agent] = --lowered_;
    return pick;
  }
  ++step_;
  auto best = [&] {
    int pick = 0;
    int64_t top = priority(opts[0].agent);
    for (int i = 1; i < n; ++i) {
      int64_t p = priority(opts[i].agent);
      if (p > top) {
        top = p;
        pick = i;
      }
    }
    return pick;
  };
  int pick = best();
  while (!change_points_.empty() && change_points_.front() == step_) {
    change_points_.erase(change_points_.begin());
    // The agent about to run drops below everything else.
    priorities_[opts[pick].agent] = --lowered_;
    pick = best();
  }
  return pick;
}

int ReplayChooser::choose(const Option* opts, int n, int default_index, bool) {
  uint32_t d = decision_++;
  if (next_ < deviations_.size() && deviations_[next_].decision == d) {
    uint32_t key = deviations_[next_++].key;
    for (int i = 0; i < n; ++i)
      if (opts[i].key == key) return i;
    if (strict_ && divergence_.empty())
      divergence_ = "decision " + std::to_string(d) + ": the recorded action '" +
                    describe_key(key) + "' is not enabled";
  }
  return default_index;
}

std::string describe_key(uint32_t key) {
  ActionKind kind = key_kind(key);
  std::string out = to_string(kind);
  switch (kind) {
    case ActionKind::kStep:
    case ActionKind::kSwitch:
    case ActionKind::kPreempt:
      return out + " cpu" + std::to_string(key_cpu(key)) + " task#" + std::to_string(key_id(key));
    case ActionKind::kIpi:
      return out + "#" + std::to_string(key_id(key)) + " cpu" + std::to_string(key_cpu(key));
    case ActionKind::kDevice:
      return out + " desc#" + std::to_string(key_id(key));
    case ActionKind::kWake:
      return out + " task#" + std::to_string(key_id(key));
    case ActionKind::kPrompt:
    case ActionKind::kLate:
      return out + (key_id(key) == 1 ? " ipi" : " descriptor");
  }
  return out;
}

}  // namespace pasidbench::model
