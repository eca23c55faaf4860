// Fuzzes the replay file reader (check --replay) from the file's bytes.
#include "platform/input_error.h"
#include "runners/backends/model/schedule_file.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string path =
      pasidbench::fuzz::write_scratch("replay.json", pasidbench::fuzz::as_text(data, size));
  try {
    (void)pasidbench::model::load_replay_file(path);
  } catch (const pasidbench::InputError&) {
  }
  return 0;
}
