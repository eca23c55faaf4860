// Replayable schedules: everything `check --replay FILE` needs to run a
// counterexample again bit for bit (docs/replay.md).
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "runners/backends/model/machine.h"
#include "runners/backends/model/search.h"

namespace pasidbench::model {

inline constexpr const char* kReplayFormat = "pasidbench-replay/1";

struct ReplaySchedule {
  std::string policy;
  std::string workload;                       // where the scenario came from (informative)
  std::map<std::string, std::string> params;  // the model parameters that shape a run
  std::string scenario_toml;                  // the (shrunk) scenario
  std::vector<Deviation> deviations;
  // What the recorded run showed; a replay must show the same.
  std::string violation;  // empty: none
  int64_t events = 0;
  int64_t steps = 0;
  int64_t decisions = 0;
  uint64_t digest = 0;
  std::string revision;  // pasidbench that recorded it
};

nlohmann::json replay_to_json(const ReplaySchedule& schedule);
// Throws InputError naming `where` and the field at fault.
ReplaySchedule replay_from_json(const nlohmann::json& j, const std::string& where);
ReplaySchedule load_replay_file(const std::string& path);
// Writes <dir>/replay-<policy>-<workload>-<digest>.json; returns its path.
// Throws std::runtime_error when it cannot be written.
std::string save_replay_file(const ReplaySchedule& schedule, const std::string& dir);

// The per-CPU timeline of a recorded run, up to event `upto` (0: all).
std::vector<std::string> render_trace(const std::vector<TraceEvent>& events, int cpus,
                                      int64_t upto);

std::string hex64(uint64_t v);

}  // namespace pasidbench::model
