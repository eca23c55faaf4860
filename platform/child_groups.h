// Children that do not outlive the runner. Every long-lived child (a test's
// isolated process, QEMU, a micro benchmark, apt-get, make) leads its own
// process group, so a timeout can kill what it forked too. That also takes
// it out of the terminal's reach: without the two halves below, Ctrl-C,
// SIGTERM or kill -9 of `pasidbench` would leave model searches, benchmarks
// and VMs running. Self-contained (libc only).
//
// - In the child, right after fork(): start_group_dying_with(parent) for a
//   child that runs our code, or exec_child_dies_with(parent) for one about
//   to exec. The kernel signals the child when the thread that forked
//   it dies (PR_SET_PDEATHSIG), whatever killed it, kill -9 included; a
//   parent that died before the call is caught by comparing getppid().
// - In the parent, after fork(): track_child_group(pid) until the child is
//   reaped. SIGTERM, SIGINT, SIGHUP or SIGQUIT to the runner then SIGKILL
//   every tracked group before the runner dies of the signal (signals the
//   runner ignores, as under nohup, stay ignored).
#pragma once

#include <sys/types.h>

namespace pasidbench {

// For a child that runs our code (no exec): makes it the leader of a new
// process group, and when `parent` dies the whole group is SIGKILLed (the
// death signal's handler kills the group, so what the child forked into its
// group goes too). Also drops the handlers and tracked groups the child
// inherited from the runner. If `parent` is already gone, the group dies now.
void start_group_dying_with(pid_t parent);

// For a child about to exec: SIGKILL when `parent` dies (a handler would not
// survive exec); its process group is the caller's choice. The runner's
// signal forwarding covers the rest of the group while the runner can still
// act; after kill -9 of the runner, what an exec'd tool forked itself is
// left to that tool. If `parent` is already gone, the child exits now.
void exec_child_dies_with(pid_t parent);

// The runner kills these groups when a termination signal stops it.
void track_child_group(pid_t pgid);
void untrack_child_group(pid_t pgid);

// The signal a start_group_dying_with child receives when its parent dies.
int group_death_signal();

}  // namespace pasidbench
