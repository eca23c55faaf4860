// Fuzzes the results.jsonl reader and the record parser behind every
// command that reads results. Callers skip a record that throws with its
// reason, so a std::exception is an accepted answer here; a crash is not.
// A record that reads must write and read back the same.
#include <cstdio>
#include <cstdlib>

#include "results/jsonl_store.h"
#include "results/record.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace pasidbench;
  std::string path = fuzz::write_scratch("results.jsonl", fuzz::as_text(data, size));
  JsonlContents contents = read_jsonl(path);
  (void)recorded_test_ids(contents);
  for (const auto& line : contents.records) {
    (void)record_type(line);
    ResultRecord r;
    try {
      r = record_from_json(line);
    } catch (const std::exception&) {
      continue;
    }
    nlohmann::json once = to_json(r);
    if (to_json(record_from_json(once)) != once) {
      std::fprintf(stderr, "record round trip changed: %s\n", once.dump().c_str());
      std::abort();
    }
  }
  return 0;
}
