// One result record: a line of results.jsonl, valid against
// results/schema/result-v2.schema.json.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "platform/utc_time.h"  // utc_now_rfc3339 for started_at and created_at

namespace pasidbench {

// What this build writes. Readers also take version 1: a version 1 record is
// a version 2 record without `incomplete` and `mutant_of` (docs/results.md).
inline constexpr const char* kResultSchema = "pasidbench-result/2";
bool is_readable_result_schema(const std::string& tag);

// kIncomplete: a search that stopped (time limit, schedules cap) before it
// covered what it promised and found nothing; never a pass.
enum class Outcome { kPass, kFail, kSkip, kError, kCrashed, kTimeout, kIncomplete };
const char* to_string(Outcome outcome);
bool parse_outcome(const std::string& text, Outcome* out);
// Whether a run passes with it is results/verdict.h's to say.

enum class Better { kLower, kHigher, kNone };

struct Metric {
  double value = 0;
  std::string unit;
  Better better = Better::kNone;
  std::vector<double> samples;
  std::string note;
};

struct KernelProvenance {
  std::string name = "running";
  std::string release;
  std::string version;
  std::string build_id;
  std::string policy;
  std::string source;
};

struct MachineProvenance {
  std::string hostname;
  std::string cpu_model;
  bool emulated = false;
  std::string time_base = "real";  // real | virtual-icount | model
};

struct Provenance {
  KernelProvenance kernel;
  MachineProvenance machine;
  std::string pasidbench_revision;
};

struct PasidInterval {
  int64_t pasid = 0;
  std::string mm;
  bool bound = false;  // false: held with no binding ("idle")
  double start_ns = 0;
  double end_ns = 0;
};

struct ResultRecord {
  std::string run_id;
  std::string suite;
  std::string test_id;
  std::string kind = "conformance";  // conformance | benchmark
  std::string backend;
  std::string workload;
  std::string policy;  // empty: none
  std::map<std::string, std::string> params;
  Outcome outcome = Outcome::kError;
  bool expect_fail = false;  // the suite expects this test to fail (seeded mutant)
  std::string mutant_of;     // the policy under test is a seeded mutant of this one
  std::string reason;
  std::map<std::string, Metric> metrics;
  std::map<std::string, int64_t> violations;
  std::map<std::string, int64_t> outcomes;
  nlohmann::json counterexample;  // null or object
  nlohmann::json search;          // null or object
  std::vector<PasidInterval> pasid_timeline;
  nlohmann::json details;  // null or object; reports never read it
  Provenance provenance;
  std::string started_at;
  double duration_s = 0;

  // Adds a metric, taking unit and direction from the metric registry.
  // value = median of samples. Throws std::logic_error for an unregistered name.
  void add_metric(const std::string& name, std::vector<double> samples,
                  const std::string& note = {});
  // A metric that could not be measured here: recorded with its note, no value
  // passed off as data (value is NaN -> not written; see to_json).
  void add_missing_metric(const std::string& name, const std::string& note);
};

nlohmann::json to_json(const ResultRecord& r);
// Throws std::runtime_error with the field at fault.
ResultRecord record_from_json(const nlohmann::json& j);

nlohmann::json environment_record(const std::string& run_id, const nlohmann::json& environment);

// The per-record provenance derived from an environment object
// (platform/environment.h collects it).
Provenance provenance_from_environment(const nlohmann::json& env);

std::string new_run_id();

}  // namespace pasidbench
