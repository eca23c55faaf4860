// The `host` backend: the running kernel, measured for real.
#pragma once

#include "runners/backends/backend.h"

namespace pasidbench {

BackendFamily host_backend_family();

}  // namespace pasidbench
