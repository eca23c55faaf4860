// The calling thread's CPU affinity, in one place for the runners that move
// threads about: the pinned no-choice runs, the interpreter's noise, the
// micro benchmarks, the settle waits. Nothing here throws or allocates in
// pin_calling_thread(), so a child may call it between fork() and exec().
#pragma once

#include <vector>

namespace pasidbench {

// The CPUs the calling thread may run on, ascending; empty (errno set) if
// sched_getaffinity() failed.
std::vector<int> allowed_cpus();

// Restricts the calling thread to `cpus`: 0, or the errno (EINVAL for a CPU
// outside cpu_set_t or none given).
int set_allowed_cpus(const std::vector<int>& cpus);

// Restricts the calling thread to one CPU: 0, or the errno.
int pin_calling_thread(int cpu);

}  // namespace pasidbench
