// The results of a lab run: one results.jsonl for every kernel of the night,
// appended record by record (fsync'ed) as they arrive, so a crash of the
// runner, the machine or a kernel loses nothing already received. Records
// are told apart by provenance.kernel.name.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include "results/jsonl_store.h"
#include "results/record.h"
#include "results/verdict.h"
#include "runners/backends/backend.h"

namespace pasidbench::lab {

// The test id of the record the lab writes for each kernel's boot (or
// connection): did the kernel reach the runner, and what did it offer.
inline constexpr const char* kBootTestId = "boot@lab";

class LabResults {
 public:
  // Opens `out_dir`/results.jsonl for appending. With `resume`, what it holds
  // already counts as recorded (a resumed night); without, earlier records
  // stay in the file but every test runs again.
  LabResults(const std::string& out_dir, bool resume);

  const std::string& path() const { return writer_.path(); }
  const std::vector<std::string>& problems() const { return problems_; }
  // test_ids recorded for kernel `name`.
  const std::set<std::string>& recorded(const std::string& kernel) const;
  // The test records of kernel `name`, as lines (to seed a resumed run).
  std::vector<std::string> record_lines(const std::string& kernel) const;
  // Appends one record (test or environment) and fsyncs it.
  void append(const nlohmann::json& record);

 private:
  JsonlWriter writer_;
  std::vector<std::string> problems_;
  std::map<std::string, std::set<std::string>> recorded_;
  std::map<std::string, std::vector<std::string>> lines_;
};

// One kernel's share of a lab run: which planned tests have records, which
// one is in flight, and the records the lab writes itself for what the
// kernel could not run. Records already in the file for this kernel (a
// resumed night) count towards its verdict as they are.
class KernelSession {
 public:
  KernelSession(LabResults& results, std::vector<TestCase> plan, Provenance provenance,
                std::string run_id, std::ostream& log, std::string log_prefix);

  // A record from the machine under test. Returns false (and says why on the
  // log) when it is not a valid result record; it is then not kept.
  bool accept(const nlohmann::json& record);
  // The first planned test without a record: the one running now, when the
  // runner runs the plan in order.
  const TestCase* in_flight() const;
  size_t unrecorded_count() const;
  bool has_record(const std::string& test_id) const;
  bool complete() const { return unrecorded_count() == 0; }

  // Records `test` with the lab's verdict (the kernel died or hung under it).
  void record(const TestCase& test, Outcome outcome, const std::string& reason,
              const nlohmann::json& details = nullptr);
  // Records every test still without a record as an error: `reason` says why
  // none of them ran.
  void record_unrun(const std::string& reason, const nlohmann::json& details = nullptr);
  // The kernel's boot record (kBootTestId), written once per kernel.
  void record_boot(Outcome outcome, const std::string& reason, const nlohmann::json& details,
                   const std::string& backend);

  Provenance& provenance() { return provenance_; }
  const std::vector<TestCase>& plan() const { return plan_; }
  // Failing records (those from an earlier run included) and seeded
  // mutants no test caught.
  int failures() const { return tally_.failures(); }
  const RunTally& tally() const { return tally_; }

 private:
  void progress(const ResultRecord& r);

  LabResults& results_;
  std::vector<TestCase> plan_;
  Provenance provenance_;
  std::string run_id_;
  std::ostream& log_;
  std::string prefix_;
  RunTally tally_;
};

// The last `lines` lines of a console log, carriage returns dropped.
std::vector<std::string> log_tail(const std::string& path, size_t lines);
// The line that says why a kernel died ("Kernel panic - not syncing: ..."),
// or empty.
std::string kernel_death_line(const std::vector<std::string>& console);

}  // namespace pasidbench::lab
