// The `host` backend: the running kernel, measured for real. Micro workloads
// run as Google Benchmark suites (pasidbench-micro), perf bench or the DSA
// latency measurement; scenarios run with real threads and processes against
// a shared DSA work queue where the machine has one, and SKIP with the exact
// reasons where it does not.
#pragma once

#include "runners/backends/backend.h"

namespace pasidbench {

// Also registers the micro workloads (micro:context-switch, ...), so they
// exist whenever the backend registry does.
BackendFamily host_backend_family();

}  // namespace pasidbench
