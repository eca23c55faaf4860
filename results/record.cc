#include "results/record.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <random>
#include <stdexcept>

#include "results/metric_registry.h"

namespace pasidbench {

using nlohmann::json;

namespace {

constexpr std::pair<Outcome, const char*> kOutcomeNames[] = {
    {Outcome::kPass, "pass"},
    {Outcome::kFail, "fail"},
    {Outcome::kSkip, "skip"},
    {Outcome::kError, "error"},
    {Outcome::kCrashed, "crashed"},
    {Outcome::kTimeout, "timeout"},
    {Outcome::kIncomplete, "incomplete"},
};

const char* better_name(Better b) {
  switch (b) {
    case Better::kLower:
      return "lower";
    case Better::kHigher:
      return "higher";
    default:
      return "none";
  }
}

Better parse_better(const std::string& s) {
  if (s == "lower") return Better::kLower;
  if (s == "higher") return Better::kHigher;
  if (s == "none") return Better::kNone;
  throw std::runtime_error("metric 'better' must be lower|higher|none, not '" + s + "'");
}

double median(std::vector<double> v) {
  if (v.empty()) return std::nan("");
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

}  // namespace

const char* to_string(Outcome outcome) {
  for (const auto& [o, name] : kOutcomeNames)
    if (o == outcome) return name;
  return "error";
}

bool parse_outcome(const std::string& text, Outcome* out) {
  for (const auto& [o, name] : kOutcomeNames)
    if (text == name) {
      *out = o;
      return true;
    }
  return false;
}

bool is_readable_result_schema(const std::string& tag) {
  return tag == kResultSchema || tag == "pasidbench-result/1";
}

void ResultRecord::add_metric(const std::string& name, std::vector<double> samples,
                              const std::string& note) {
  const MetricInfo* info = find_metric(name);
  if (!info) throw std::logic_error("metric '" + name + "' is not in results/metric_registry.cc");
  Metric m;
  m.value = median(samples);
  m.unit = info->unit;
  m.better = info->better;
  m.samples = std::move(samples);
  m.note = note;
  metrics[name] = std::move(m);
}

void ResultRecord::add_missing_metric(const std::string& name, const std::string& note) {
  add_metric(name, {}, note);
}

json to_json(const ResultRecord& r) {
  json j;
  j["schema"] = kResultSchema;
  j["record"] = "test";
  j["run_id"] = r.run_id;
  if (!r.suite.empty()) j["suite"] = r.suite;
  j["test_id"] = r.test_id;
  j["kind"] = r.kind;
  j["backend"] = r.backend;
  j["workload"] = r.workload;
  j["policy"] = r.policy.empty() ? json(nullptr) : json(r.policy);
  json params = json::object();
  for (const auto& [k, v] : r.params) {
    // Numbers and booleans keep their JSON type so reports can plot them.
    if (v == "true" || v == "false") {
      params[k] = v == "true";
      continue;
    }
    char* end = nullptr;
    long long n = std::strtoll(v.c_str(), &end, 10);
    if (!v.empty() && end && *end == '\0')
      params[k] = n;
    else
      params[k] = v;
  }
  j["params"] = params;
  j["outcome"] = to_string(r.outcome);
  if (r.expect_fail) j["expected_outcome"] = "fail";
  if (!r.mutant_of.empty()) j["mutant_of"] = r.mutant_of;
  if (!r.reason.empty()) j["reason"] = r.reason;
  json metrics = json::object();
  for (const auto& [name, m] : r.metrics) {
    json jm;
    // A metric without samples is "not measured here"; value 0 would lie, so
    // the schema's required value is NaN-free: we drop the metric's value and
    // keep it only when there is a note explaining why.
    if (m.samples.empty()) {
      if (m.note.empty()) continue;
      jm["value"] = nullptr;
    } else {
      jm["value"] = m.value;
      jm["samples"] = m.samples;
    }
    jm["unit"] = m.unit;
    jm["better"] = better_name(m.better);
    if (!m.note.empty()) jm["note"] = m.note;
    metrics[name] = jm;
  }
  j["metrics"] = metrics;
  if (!r.violations.empty()) j["violations"] = r.violations;
  if (!r.outcomes.empty()) j["outcomes"] = r.outcomes;
  if (!r.counterexample.is_null()) j["counterexample"] = r.counterexample;
  if (!r.search.is_null()) j["search"] = r.search;
  if (!r.pasid_timeline.empty()) {
    json tl = json::array();
    for (const auto& iv : r.pasid_timeline)
      tl.push_back({{"pasid", iv.pasid},
                    {"mm", iv.mm},
                    {"state", iv.bound ? "bound" : "idle"},
                    {"start_ns", iv.start_ns},
                    {"end_ns", iv.end_ns}});
    j["pasid_timeline"] = tl;
  }
  if (!r.details.is_null()) j["details"] = r.details;
  const auto& k = r.provenance.kernel;
  json kernel = {{"name", k.name}, {"release", k.release}};
  if (!k.version.empty()) kernel["version"] = k.version;
  if (!k.build_id.empty()) kernel["build_id"] = k.build_id;
  if (!k.policy.empty()) kernel["policy"] = k.policy;
  if (!k.source.empty()) kernel["source"] = k.source;
  const auto& m = r.provenance.machine;
  json machine = {{"hostname", m.hostname}, {"emulated", m.emulated}, {"time_base", m.time_base}};
  if (!m.cpu_model.empty()) machine["cpu_model"] = m.cpu_model;
  j["provenance"] = {{"kernel", kernel},
                     {"machine", machine},
                     {"pasidbench_revision", r.provenance.pasidbench_revision}};
  j["started_at"] = r.started_at;
  j["duration_s"] = r.duration_s;
  return j;
}

ResultRecord record_from_json(const json& j) {
  auto need = [&](const char* key) -> const json& {
    if (!j.contains(key)) throw std::runtime_error(std::string("missing field '") + key + "'");
    return j.at(key);
  };
  const json& tag = need("schema");
  if (!tag.is_string() || !is_readable_result_schema(tag.get<std::string>()))
    throw std::runtime_error("schema is " + tag.dump() + ", expected " + kResultSchema +
                             " (or pasidbench-result/1)");
  if (need("record") != "test") throw std::runtime_error("not a test record");
  ResultRecord r;
  r.run_id = need("run_id").get<std::string>();
  r.suite = j.value("suite", "");
  r.test_id = need("test_id").get<std::string>();
  r.kind = need("kind").get<std::string>();
  r.backend = need("backend").get<std::string>();
  r.workload = need("workload").get<std::string>();
  if (j.contains("policy") && j["policy"].is_string()) r.policy = j["policy"];
  for (const auto& [k, v] : need("params").items())
    r.params[k] = v.is_string() ? v.get<std::string>() : v.dump();
  if (!parse_outcome(need("outcome").get<std::string>(), &r.outcome))
    throw std::runtime_error("unknown outcome " + j["outcome"].dump());
  r.reason = j.value("reason", "");
  r.expect_fail = j.value("expected_outcome", "pass") == "fail";
  r.mutant_of = j.value("mutant_of", "");
  for (const auto& [name, jm] : need("metrics").items()) {
    Metric m;
    if (jm.at("value").is_number()) m.value = jm["value"];
    m.unit = jm.at("unit");
    m.better = parse_better(jm.at("better"));
    if (jm.contains("samples")) m.samples = jm["samples"].get<std::vector<double>>();
    m.note = jm.value("note", "");
    r.metrics[name] = m;
  }
  if (j.contains("violations"))
    r.violations = j["violations"].get<std::map<std::string, int64_t>>();
  if (j.contains("outcomes")) r.outcomes = j["outcomes"].get<std::map<std::string, int64_t>>();
  if (j.contains("counterexample")) r.counterexample = j["counterexample"];
  if (j.contains("search")) r.search = j["search"];
  if (j.contains("details")) r.details = j["details"];
  if (j.contains("pasid_timeline"))
    for (const auto& iv : j["pasid_timeline"])
      r.pasid_timeline.push_back({iv.at("pasid"), iv.at("mm"), iv.at("state") == "bound",
                                  iv.at("start_ns"), iv.at("end_ns")});
  const json& prov = need("provenance");
  const json& k = prov.at("kernel");
  r.provenance.kernel = {k.at("name"),           k.at("release"),
                         k.value("version", ""), k.value("build_id", ""),
                         k.value("policy", ""),  k.value("source", "")};
  const json& m = prov.at("machine");
  r.provenance.machine = {m.at("hostname"), m.value("cpu_model", ""), m.value("emulated", false),
                          m.value("time_base", "real")};
  r.provenance.pasidbench_revision = prov.at("pasidbench_revision");
  r.started_at = need("started_at");
  r.duration_s = need("duration_s");
  return r;
}

json environment_record(const std::string& run_id, const json& environment) {
  return {{"schema", kResultSchema},
          {"record", "environment"},
          {"run_id", run_id},
          {"created_at", utc_now_rfc3339()},
          {"environment", environment}};
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

std::string new_run_id() {
  // Time for sorting, randomness so two runs in one second differ.
  auto now = std::chrono::system_clock::now();
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  std::random_device rd;
  char suffix[8];
  std::snprintf(suffix, sizeof suffix, "%06x", rd() & 0xffffff);
  return std::string(buf) + "-" + suffix;
}

}  // namespace pasidbench
