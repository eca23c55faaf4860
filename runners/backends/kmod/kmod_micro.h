// pasidlab.ko's micro benchmarks: what a policy adds to a context switch
// (the sched_switch probe; off when no mm needs it), what a PASID change
// costs with threads of the mm running elsewhere (IPIs, task_work), and a
// thread's first submission (the #GP path).
#pragma once

#include <string>

#include "results/record.h"
#include "runners/backends/backend.h"

namespace pasidbench {

// micro:pasidlab-switch, micro:pasidlab-pasid-change, micro:pasidlab-first-submit.
void register_kmod_micro_workloads();
bool is_kmod_micro_workload(const std::string& workload);

// Runs one with the module loaded with `policy` (micro:pasidlab-switch
// binding=no_module unloads it first, so it needs the module= parameter).
ResultRecord run_kmod_micro(const TestCase& test, const std::string& policy);

}  // namespace pasidbench
