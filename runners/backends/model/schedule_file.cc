#include "runners/backends/model/schedule_file.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "platform/file_io.h"
#include "platform/input_error.h"
#include "runners/backends/model/strategies.h"

namespace pasidbench::model {

using nlohmann::json;

std::string hex64(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

json replay_to_json(const ReplaySchedule& s) {
  json choices = json::array();
  for (const auto& d : s.deviations)
    choices.push_back({{"decision", d.decision}, {"key", d.key}, {"action", describe_key(d.key)}});
  json params = json::object();
  for (const auto& [k, v] : s.params) params[k] = v;
  json expect = {{"events", s.events},
                 {"steps", s.steps},
                 {"decisions", s.decisions},
                 {"digest", hex64(s.digest)}};
  expect["violation"] = s.violation.empty() ? json(nullptr) : json(s.violation);
  return {{"format", kReplayFormat},
          {"policy", s.policy},
          {"workload", s.workload},
          {"params", params},
          {"scenario", s.scenario_toml},
          {"choices", choices},
          {"expect", expect},
          {"pasidbench_revision", s.revision}};
}

ReplaySchedule replay_from_json(const json& j, const std::string& where) {
  auto bad = [&](const std::string& what) { return InputError({where, 0}, what); };
  if (!j.is_object()) throw bad("not a replay schedule (expected a JSON object)");
  // value() throws nlohmann's type_error for a key of the wrong type: check first.
  auto optional_str = [&](const char* key) -> std::string {
    if (!j.contains(key) || j[key].is_null()) return "";
    if (!j[key].is_string()) throw bad(std::string("field '") + key + "' is not a string");
    return j[key].get<std::string>();
  };
  if (optional_str("format") != kReplayFormat)
    throw bad("format is " + (j.contains("format") ? j["format"].dump() : std::string("missing")) +
              ", expected \"" + kReplayFormat + "\"");
  auto str = [&](const json& obj, const char* key) -> std::string {
    if (!obj.contains(key) || !obj[key].is_string())
      throw bad(std::string("field '") + key + "' missing or not a string");
    return obj[key].get<std::string>();
  };
  auto integer = [&](const json& obj, const char* key) -> int64_t {
    if (!obj.contains(key) || !obj[key].is_number_integer() || obj[key].get<int64_t>() < 0)
      throw bad(std::string("field '") + key + "' missing or not a non-negative integer");
    return obj[key].get<int64_t>();
  };
  ReplaySchedule s;
  s.policy = str(j, "policy");
  s.workload = str(j, "workload");
  s.scenario_toml = str(j, "scenario");
  s.revision = optional_str("pasidbench_revision");
  if (!j.contains("params") || !j["params"].is_object()) throw bad("field 'params' missing");
  for (const auto& [k, v] : j["params"].items()) {
    if (!v.is_string()) throw bad("params." + k + " is not a string");
    s.params[k] = v.get<std::string>();
  }
  if (!j.contains("choices") || !j["choices"].is_array()) throw bad("field 'choices' missing");
  int64_t last = -1;
  for (const auto& c : j["choices"]) {
    if (!c.is_object()) throw bad("a choice is not an object");
    int64_t decision = integer(c, "decision");
    int64_t key = integer(c, "key");
    if (decision <= last) throw bad("choices are not in increasing decision order");
    if (key > UINT32_MAX || key_kind(static_cast<uint32_t>(key)) < ActionKind::kStep ||
        key_kind(static_cast<uint32_t>(key)) > ActionKind::kLate)
      throw bad("choice at decision " + std::to_string(decision) + " has an invalid key");
    last = decision;
    s.deviations.push_back({static_cast<uint32_t>(decision), static_cast<uint32_t>(key)});
  }
  if (!j.contains("expect") || !j["expect"].is_object()) throw bad("field 'expect' missing");
  const json& e = j["expect"];
  if (e.contains("violation") && e["violation"].is_string()) s.violation = e["violation"];
  s.events = integer(e, "events");
  s.steps = integer(e, "steps");
  s.decisions = integer(e, "decisions");
  std::string digest = str(e, "digest");
  char* end = nullptr;
  s.digest = std::strtoull(digest.c_str(), &end, 16);
  if (digest.empty() || digest.size() > 16 || *end != '\0') throw bad("expect.digest is not hex");
  return s;
}

ReplaySchedule load_replay_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw InputError({"--replay", 0}, "cannot read replay file " + path);
  std::stringstream text;
  text << in.rdbuf();
  json j;
  try {
    j = json::parse(text.str());
  } catch (const json::parse_error& e) {
    // nlohmann counts bytes; a person looks for a line.
    std::string body = text.str();
    size_t upto = std::min<size_t>(e.byte > 0 ? e.byte - 1 : 0, body.size());
    int line = 1 + static_cast<int>(std::count(body.begin(), body.begin() + upto, '\n'));
    throw InputError({path, line}, "not valid JSON (byte " + std::to_string(e.byte) + ")");
  } catch (const json::exception& e) {
    // A number too large for a double (out_of_range 406) is thrown from parse too.
    throw InputError({path, 0}, std::string("not valid JSON: ") + e.what());
  }
  return replay_from_json(j, path);
}

std::string save_replay_file(const ReplaySchedule& s, const std::string& dir) {
  auto safe = [](std::string name) {
    for (char& c : name)
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') c = '_';
    return name;
  };
  std::filesystem::create_directories(dir);
  std::string file = "replay-" + safe(s.policy) + "-" +
                     safe(std::filesystem::path(s.workload).stem().string()) + "-" +
                     hex64(s.digest).substr(0, 8) + ".json";
  std::filesystem::path path = std::filesystem::path(dir) / file;
  replace_file(path.string(), replay_to_json(s).dump(2) + "\n");
  return path.string();
}

std::vector<std::string> render_trace(const std::vector<TraceEvent>& events, int cpus,
                                      int64_t upto) {
  std::vector<std::string> lines;
  for (const auto& e : events) {
    if (upto > 0 && e.step > upto) break;
    std::string label = e.column < 0       ? "     "
                        : e.column >= cpus ? "dev  "
                                           : "cpu" + std::to_string(e.column) + " ";
    // One indentation step per CPU, so each CPU's events line up in a column.
    std::string pad(static_cast<size_t>(std::max(0, std::min(e.column, cpus)) * 2), ' ');
    char time[32];
    std::snprintf(time, sizeof time, "%12.3fus", static_cast<double>(e.time_ns) / 1000.0);
    lines.push_back(std::string(time) + " " + pad + label + (e.violation ? "!! " : "| ") + e.text);
  }
  return lines;
}

}  // namespace pasidbench::model
