// micro:dsa-submit: bind, first-submit, steady-submit and unbind latency of
// the real PASID path, each repetition in a fresh process (a fresh mm, so
// every bind allocates and every first ENQCMD takes the lazy-MSR fixup).
#pragma once

#include "results/record.h"
#include "runners/backends/host/pasid_probe.h"
#include "suites/workload/params.h"

namespace pasidbench {

ResultRecord run_dsa_submit(const ParamValues& params, int repetitions, const PasidProbe& probe);

}  // namespace pasidbench
