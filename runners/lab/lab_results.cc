#include "runners/lab/lab_results.h"

#include <deque>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>

#include "results/jsonl_store.h"

namespace pasidbench::lab {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string kernel_of(const json& record) {
  if (!record.contains("provenance")) return {};
  const json& p = record["provenance"];
  if (!p.is_object() || !p.contains("kernel") || !p["kernel"].is_object()) return {};
  return p["kernel"].value("name", "");
}

const std::set<std::string> kNone;

}  // namespace

LabResults::LabResults(const std::string& out_dir, bool resume)
    : writer_((fs::path(out_dir) / "results.jsonl").string()) {
  if (!resume) return;
  JsonlContents existing = read_jsonl(writer_.path());
  problems_ = existing.problems;
  for (const auto& r : existing.records)
    if (record_type(r) == "test" && r.contains("test_id")) {
      std::string k = kernel_of(r);
      recorded_[k].insert(r["test_id"].get<std::string>());
      lines_[k].push_back(r.dump());
    }
}

const std::set<std::string>& LabResults::recorded(const std::string& kernel) const {
  auto it = recorded_.find(kernel);
  return it == recorded_.end() ? kNone : it->second;
}

std::vector<std::string> LabResults::record_lines(const std::string& kernel) const {
  auto it = lines_.find(kernel);
  return it == lines_.end() ? std::vector<std::string>{} : it->second;
}

void LabResults::append(const json& record) {
  writer_.append(record);
  if (record_type(record) == "test" && record.contains("test_id")) {
    std::string k = kernel_of(record);
    recorded_[k].insert(record["test_id"].get<std::string>());
    lines_[k].push_back(record.dump());
  }
}

KernelSession::KernelSession(LabResults& results, std::vector<TestCase> plan, Provenance provenance,
                             std::string run_id, std::ostream& log, std::string log_prefix)
    : results_(results),
      plan_(std::move(plan)),
      provenance_(std::move(provenance)),
      run_id_(std::move(run_id)),
      log_(log),
      prefix_(std::move(log_prefix)) {
  std::map<std::string, const TestCase*> planned = {{kBootTestId, nullptr}};
  for (const auto& t : plan_) planned[t.test_id] = &t;
  std::map<std::string, ResultRecord> earlier;
  for (const auto& line : results_.record_lines(provenance_.kernel.name)) {
    json j = json::parse(line);  // LabResults kept it as parsed JSON
    auto it = planned.find(j.value("test_id", ""));
    if (it == planned.end()) continue;
    ResultRecord r;
    try {
      r = record_from_json(j);
    } catch (const std::exception& e) {
      // Recorded, so not run again, but unreadable: no verdict to keep.
      r.test_id = it->first;
      r.outcome = Outcome::kError;
      r.reason = std::string("the recorded result is unreadable: ") + e.what();
    }
    if (const TestCase* t = it->second) {  // what the suite expects is the plan's
      r.expect_fail = t->expect_fail;
      r.mutant_of = t->mutant_of;
    }
    earlier[r.test_id] = std::move(r);
  }
  for (const auto& [id, r] : earlier) tally_.add(r, /*earlier=*/true);
}

bool KernelSession::has_record(const std::string& test_id) const {
  return results_.recorded(provenance_.kernel.name).count(test_id) != 0;
}

const TestCase* KernelSession::in_flight() const {
  for (const auto& t : plan_)
    if (!has_record(t.test_id)) return &t;
  return nullptr;
}

size_t KernelSession::unrecorded_count() const {
  size_t n = 0;
  for (const auto& t : plan_) n += has_record(t.test_id) ? 0 : 1;
  return n;
}

void KernelSession::progress(const ResultRecord& r) {
  tally_.add(r);
  size_t done = plan_.size() - unrecorded_count();
  char secs[32];
  std::snprintf(secs, sizeof secs, "%.2f s", r.duration_s);
  log_ << prefix_ << " [" << done << "/" << plan_.size() << "] " << r.test_id << ": "
       << to_string(r.outcome) << (r.reason.empty() ? "" : " (" + r.reason + ")") << " [" << secs
       << "]\n"
       << std::flush;
}

bool KernelSession::accept(const json& record) {
  if (record_type(record) == "environment") {
    results_.append(record);
    return true;
  }
  ResultRecord r;
  try {
    r = record_from_json(record);
  } catch (const std::exception& e) {
    log_ << prefix_ << " dropped a malformed record from the machine under test: " << e.what()
         << "\n";
    return false;
  }
  // A record that names another kernel would be filed under the wrong build.
  if (r.provenance.kernel.name != provenance_.kernel.name) {
    log_ << prefix_ << " dropped a record for kernel '" << r.provenance.kernel.name
         << "' (expected '" << provenance_.kernel.name << "')\n";
    return false;
  }
  results_.append(record);
  if (r.test_id != kBootTestId) progress(r);
  return true;
}

void KernelSession::record(const TestCase& test, Outcome outcome, const std::string& reason,
                           const json& details) {
  ResultRecord r;
  r.run_id = run_id_;
  r.suite = test.suite;
  r.test_id = test.test_id;
  r.kind = test.kind == WorkloadKind::kMicro ? "benchmark" : "conformance";
  r.backend = test.backend;
  r.workload = test.workload;
  // As the backend in the guest would have written it: a kmod test names
  // its policy, a host test none (the kernel's own is in provenance), so
  // the record joins its set.
  if (test.backend.rfind("kmod:", 0) == 0) r.policy = test.backend.substr(5);
  r.params = test.recorded_params;
  r.outcome = outcome;
  r.expect_fail = test.expect_fail;
  r.mutant_of = test.mutant_of;
  r.reason = reason;
  r.details = details;
  r.provenance = provenance_;
  r.started_at = utc_now_rfc3339();
  results_.append(to_json(r));
  progress(r);
}

void KernelSession::record_unrun(const std::string& reason, const json& details) {
  for (const auto& t : plan_)
    if (!has_record(t.test_id)) record(t, Outcome::kError, reason, details);
}

void KernelSession::record_boot(Outcome outcome, const std::string& reason, const json& details,
                                const std::string& backend) {
  if (has_record(kBootTestId)) return;
  ResultRecord r;
  r.run_id = run_id_;
  r.suite = plan_.empty() ? "" : plan_.front().suite;
  r.test_id = kBootTestId;
  r.kind = "conformance";
  r.backend = backend;
  r.workload = "lab:boot";
  r.outcome = outcome;
  r.reason = reason;
  r.details = details;
  r.provenance = provenance_;
  r.started_at = utc_now_rfc3339();
  if (details.is_object() && details.contains("wall_s") && details["wall_s"].is_number())
    r.duration_s = details["wall_s"].get<double>();
  results_.append(to_json(r));
  tally_.add(r);
  log_ << prefix_ << " " << (backend.rfind("vm", 0) == 0 ? "boot" : "connection") << ": "
       << to_string(outcome) << (reason.empty() ? "" : " (" + reason + ")") << "\n"
       << std::flush;
}

std::vector<std::string> log_tail(const std::string& path, size_t lines) {
  std::ifstream in(path, std::ios::binary);
  std::deque<std::string> tail;
  for (std::string line; std::getline(in, line);) {
    std::erase(line, '\r');
    tail.push_back(line);
    if (tail.size() > lines) tail.pop_front();
  }
  return {tail.begin(), tail.end()};
}

std::string kernel_death_line(const std::vector<std::string>& console) {
  for (const char* marker : {"Kernel panic", "BUG:", "Oops", "general protection fault"})
    for (const auto& line : console)
      if (line.find(marker) != std::string::npos) {
        size_t start = line.find(marker);
        return line.substr(start);
      }
  return {};
}

}  // namespace pasidbench::lab
