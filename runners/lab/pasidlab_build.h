// pasidlab.ko for a kernel a lab runner boots: built once per kernel build
// with kernels/pasidlab/build.sh (which caches by headers, compiler and
// source hash), shipped with the payload, loaded by the kmod backends in
// the guest (their module= parameter).
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "runners/backends/backend.h"
#include "runners/lab/kernel_fetch.h"

namespace pasidbench::lab {

// Where the module goes on the machine under test.
inline constexpr const char* kGuestPasidlab = "/opt/pasidbench/pasidlab.ko";

// Whether any test of the plan runs on a kmod:<policy> backend.
bool plan_uses_kmod(const std::vector<TestCase>& plan);

struct PasidlabBuild {
  std::string ko;       // the built module; empty when it could not be built
  std::string why_not;  // then: the exact reason
  double seconds = 0;
};

// Builds it for `kernel`: a Debian kernel from its own header packages
// (fetched and unpacked, never installed), any other from its modules
// directory's build tree. Progress lines go to `log`.
PasidlabBuild build_pasidlab(const PreparedKernel& kernel, const std::string& out_dir,
                             std::ostream& log);

}  // namespace pasidbench::lab
