// Fuzzes the import of LAVA's results export (lava import / lava submit).
#include <filesystem>

#include "platform/input_error.h"
#include "runners/lab/lava.h"
#include "tests/fuzz/fuzz_support.h"

#ifndef PASIDBENCH_SOURCE_DIR
#error "PASIDBENCH_SOURCE_DIR names the checkout (for the suite the job ran)"
#endif

namespace {

constexpr const char* kJob =
    "device_type: qemu\n"
    "job_name: pasidbench fuzz\n"
    "metadata:\n"
    "  pasidbench.kernel.name: debian-6.1-amd64\n"
    "  pasidbench.kernel.build_id: fuzz\n"
    "  pasidbench.revision: fuzz\n";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace pasidbench;
  lab::LavaImportSpec spec;
  spec.results_yaml = fuzz::write_scratch("results.yaml", fuzz::as_text(data, size));
  spec.job_yaml = fuzz::write_scratch("job.yaml", kJob);
  spec.suite_path = PASIDBENCH_SOURCE_DIR "/suites/lava-smoke.toml";
  spec.out_dir = std::filesystem::path(spec.job_yaml).parent_path() / "out";
  std::filesystem::remove_all(spec.out_dir);
  try {
    (void)lab::lava_import(spec);
  } catch (const InputError&) {
  }
  return 0;
}
