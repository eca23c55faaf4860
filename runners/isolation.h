// Runs a test body in a forked child with a watchdog, the way kselftest's
// harness does: a crash, a hang or a timeout becomes a recorded result and the
// runner goes on.
#pragma once

#include <functional>

#include "results/record.h"

namespace pasidbench {

// `body` runs in a child process (its own process group, which dies with the
// runner: platform/child_groups.h). Its record comes back through a pipe. On
// SIGSEGV and friends the returned record is `skeleton` with outcome crashed
// and reason "crashed: SIGSEGV"; past `timeout_s` the whole group is killed
// and the outcome is timeout.
ResultRecord run_isolated(const std::function<ResultRecord()>& body, int timeout_s,
                          const ResultRecord& skeleton);

}  // namespace pasidbench
