#include "platform/child_groups.h"

#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>

namespace pasidbench {

namespace {

// Slots rather than a container: the signal handler reads them, so no
// allocation and no lock. More children than this at once never happens
// (the runner has one test, or one VM plus a tool, in flight).
constexpr int kSlots = 64;
std::atomic<pid_t> tracked[kSlots];
std::atomic<bool> forwarding_installed{false};

constexpr int kForwarded[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT};

void kill_tracked_then_die(int sig) {
  for (auto& slot : tracked)
    if (pid_t g = slot.load(std::memory_order_relaxed); g > 0) ::kill(-g, SIGKILL);
  // Die of the signal itself, so the shell sees what stopped us.
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  ::sigaction(sig, &dfl, nullptr);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, sig);
  ::sigprocmask(SIG_UNBLOCK, &set, nullptr);
  ::raise(sig);
}

void kill_own_group(int) { ::kill(0, SIGKILL); }

void install_forwarding() {
  if (forwarding_installed.exchange(true)) return;
  for (int sig : kForwarded) {
    struct sigaction old {};
    if (::sigaction(sig, nullptr, &old) != 0) continue;
    // Ignored (nohup) or someone else's handler: leave it.
    if ((old.sa_flags & SA_SIGINFO) || old.sa_handler != SIG_DFL) continue;
    struct sigaction sa {};
    sa.sa_handler = kill_tracked_then_die;
    sigfillset(&sa.sa_mask);  // no second signal interrupts the killing
    ::sigaction(sig, &sa, nullptr);
  }
}

// A forked child starts without the runner's duties: its copy of the
// tracked groups is not its own to kill.
void drop_inherited_forwarding() {
  for (auto& slot : tracked) slot.store(0, std::memory_order_relaxed);
  if (!forwarding_installed.exchange(false)) return;
  for (int sig : kForwarded) {
    struct sigaction old {};
    if (::sigaction(sig, nullptr, &old) != 0 || (old.sa_flags & SA_SIGINFO) ||
        old.sa_handler != kill_tracked_then_die)
      continue;
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    ::sigaction(sig, &dfl, nullptr);
  }
}

}  // namespace

int group_death_signal() { return SIGRTMIN + 4; }

void start_group_dying_with(pid_t parent) {
  ::setpgid(0, 0);
  drop_inherited_forwarding();
  int sig = group_death_signal();
  struct sigaction sa {};
  sa.sa_handler = kill_own_group;
  sigemptyset(&sa.sa_mask);
  ::sigaction(sig, &sa, nullptr);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, sig);
  ::sigprocmask(SIG_UNBLOCK, &set, nullptr);
  ::prctl(PR_SET_PDEATHSIG, sig);
  // The parent may have died between fork() and prctl(): then no signal
  // comes, and we were reparented.
  if (::getppid() != parent) ::kill(0, SIGKILL);
}

void exec_child_dies_with(pid_t parent) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) ::_exit(127);
}

void track_child_group(pid_t pgid) {
  if (pgid <= 0) return;
  install_forwarding();
  for (auto& slot : tracked) {
    pid_t expected = 0;
    if (slot.compare_exchange_strong(expected, pgid)) return;
  }
  // All slots taken: the child still dies with us through its death signal.
}

void untrack_child_group(pid_t pgid) {
  if (pgid <= 0) return;
  for (auto& slot : tracked) {
    pid_t expected = pgid;
    if (slot.compare_exchange_strong(expected, 0)) return;
  }
}

}  // namespace pasidbench
