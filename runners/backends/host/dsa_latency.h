// micro:dsa-submit: bind, first-submit, steady-submit and unbind latency of
// the real PASID path, each repetition in a fresh process (a fresh mm, so
// every bind allocates and every first ENQCMD takes the lazy-MSR fixup).
#pragma once

#include <sys/types.h>

#include <vector>

#include "platform/kprobe_observer.h"
#include "platform/pasid_probe.h"
#include "results/record.h"
#include "suites/workload/params.h"

namespace pasidbench {

// What the kprobes saw: the raw events (of `pids`, or all when empty) for
// details, and one pasid_timeline interval per process from the PASID its
// bind got to its unbind.
nlohmann::json observe_pasids(const PasidKprobes& kprobes, const std::vector<pid_t>& pids,
                              ResultRecord* r);

ResultRecord run_dsa_submit(const ParamValues& params, int repetitions, const PasidProbe& probe);

}  // namespace pasidbench
