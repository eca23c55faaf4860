// Fuzzes the kernel build manifest reader (names and versions become paths).
#include "platform/input_error.h"
#include "runners/lab/kernel_manifest.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    (void)pasidbench::lab::load_kernel_manifest_text(pasidbench::fuzz::as_text(data, size),
                                                     "fuzz.toml");
  } catch (const pasidbench::InputError&) {
  }
  return 0;
}
