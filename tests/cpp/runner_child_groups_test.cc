// A runner's children die with it (platform/child_groups.h; issue 16,
// finding 4). Each test forks a stand-in runner that starts a long-lived
// child the way the suite does, kills the runner, and checks that nothing the
// runner started is left.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "platform/child_groups.h"
#include "platform/process.h"
#include "runners/isolation.h"

namespace pasidbench {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct ProcStat {
  pid_t pid, ppid, pgrp;
};

// Live processes; a zombie has finished and counts as gone.
std::vector<ProcStat> live_processes() {
  std::vector<ProcStat> out;
  for (const auto& e : fs::directory_iterator("/proc")) {
    std::string name = e.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(e.path() / "stat");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    size_t paren = text.rfind(')');
    if (paren == std::string::npos) continue;
    std::istringstream rest(text.substr(paren + 2));
    char state;
    ProcStat p{std::stoi(name), 0, 0};
    rest >> state >> p.ppid >> p.pgrp;
    if (state != 'Z') out.push_back(p);
  }
  return out;
}

pid_t child_of(pid_t parent) {
  auto deadline = Clock::now() + std::chrono::seconds(30);
  while (Clock::now() < deadline) {
    for (const auto& p : live_processes())
      if (p.ppid == parent) return p.pid;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return 0;
}

int members_of_group(pid_t pgrp) {
  int n = 0;
  for (const auto& p : live_processes()) n += p.pgrp == pgrp;
  return n;
}

// Waits up to 10 s for the group to empty; returns who is left.
int group_left_after_wait(pid_t pgrp) {
  auto deadline = Clock::now() + std::chrono::seconds(10);
  while (members_of_group(pgrp) > 0 && Clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  return members_of_group(pgrp);
}

void kill_runner(pid_t runner, int sig) {
  ::kill(runner, sig);
  int status = 0;
  ::waitpid(runner, &status, 0);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == sig) << "runner status " << status;
}

class ChildGroups : public ::testing::TestWithParam<int> {};

// A test body that forks a worker into its group and waits forever, as a
// host workload does; the runner runs it isolated.
TEST_P(ChildGroups, AnIsolatedTestAndWhatItForkedDieWithTheRunner) {
  pid_t runner = ::fork();
  ASSERT_GE(runner, 0);
  if (runner == 0) {
    ResultRecord skeleton;
    run_isolated(
        [] {
          if (::fork() == 0) ::pause();  // the worker
          ::pause();
          return ResultRecord{};
        },
        600, skeleton);
    ::_exit(0);
  }
  pid_t test = child_of(runner);
  ASSERT_GT(test, 0);
  auto deadline = Clock::now() + std::chrono::seconds(30);
  while (members_of_group(test) < 2 && Clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_EQ(members_of_group(test), 2) << "the test and its worker";
  kill_runner(runner, GetParam());
  EXPECT_EQ(group_left_after_wait(test), 0) << "left running after the runner died";
  ::kill(-test, SIGKILL);
}

// An exec'd tool (apt-get, make, QEMU) started by run_process.
TEST_P(ChildGroups, AToolRunByTheLabDiesWithTheRunner) {
  pid_t runner = ::fork();
  ASSERT_GE(runner, 0);
  if (runner == 0) {
    run_process({"sleep", "600"});
    ::_exit(0);
  }
  pid_t tool = child_of(runner);
  ASSERT_GT(tool, 0);
  kill_runner(runner, GetParam());
  EXPECT_EQ(group_left_after_wait(tool), 0) << "left running after the runner died";
  ::kill(-tool, SIGKILL);
}

INSTANTIATE_TEST_SUITE_P(Signals, ChildGroups, ::testing::Values(SIGKILL, SIGTERM, SIGINT),
                         [](const auto& info) { return std::string(sigabbrev_np(info.param)); });

// The parent may die between fork() and prctl(): the child must notice.
TEST(ChildGroupsRace, AChildWhoseParentIsAlreadyGoneDiesAtOnce) {
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  pid_t middle = ::fork();
  ASSERT_GE(middle, 0);
  if (middle == 0) {
    pid_t parent = ::getpid();
    pid_t child = ::fork();
    if (child == 0) {
      ::close(ready[0]);
      // Wait until the parent is gone, then arm as if we had raced it.
      while (::getppid() == parent) ::usleep(1000);
      start_group_dying_with(parent);
      pid_t me = ::getpid();  // only reached if the check failed to kill us
      (void)!::write(ready[1], &me, sizeof me);
      ::pause();
    }
    ::_exit(0);
  }
  ::close(ready[1]);
  ::waitpid(middle, nullptr, 0);
  pid_t survivor = 0;
  EXPECT_EQ(::read(ready[0], &survivor, sizeof survivor), 0) << "the orphan went on running";
  if (survivor > 0) ::kill(survivor, SIGKILL);
  ::close(ready[0]);
}

}  // namespace
}  // namespace pasidbench
