// Context switch: a token passed back and forth between two parties, over a
// pair of pipes (what perf bench sched pipe does) or a futex word, between
// two threads or two processes, on one CPU or on two.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <optional>
#include <string>

#include "suites/micro/micro_benchmarks.h"
#include "suites/micro/micro_env.h"

namespace pasidbench {

namespace {

void label(benchmark::State& state, const CpuPair& cpus) {
  state.SetLabel("cpus " + std::to_string(cpus.first) + "," + std::to_string(cpus.second) + " (" +
                 cpus.relation + ")");
}

bool read_full(int fd, void* buf, size_t len) {
  auto* p = static_cast<char*>(buf);
  while (len > 0) {
    ssize_t n = ::read(fd, p, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    len -= static_cast<size_t>(n);
  }
  return true;
}

bool write_full(int fd, const void* buf, size_t len) {
  auto* p = static_cast<const char*>(buf);
  while (len > 0) {
    ssize_t n = ::write(fd, p, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    len -= static_cast<size_t>(n);
  }
  return true;
}

// Picks the two CPUs and pins the measuring thread to the first; nullopt
// when the benchmark was skipped for it.
std::optional<CpuPair> pin_pair(benchmark::State& state, Placement placement) {
  CpuPair cpus;
  try {
    cpus = micro_env().topology.pick_pair(placement);
  } catch (const PlacementError& e) {
    skip_placement(state, e);
    return std::nullopt;
  }
  if (!prepare_measuring_thread(state, cpus.first)) return std::nullopt;
  return cpus;
}

void pipe_pingpong(benchmark::State& state, Mode mode, Placement placement) {
  MicroEnv& env = micro_env();
  std::optional<CpuPair> placed = pin_pair(state, placement);
  if (!placed) return;
  const CpuPair cpus = *placed;
  int ping[2], pong[2];
  if (::pipe2(ping, O_CLOEXEC) != 0 || ::pipe2(pong, O_CLOEXEC) != 0) {
    state.SkipWithError((std::string("pipe: ") + std::strerror(errno)).c_str());
    return;
  }
  {
    // The partner echoes each int back; -1 ends it.
    Partner partner(mode, cpus.second, [&] {
      int v;
      while (read_full(ping[0], &v, sizeof v) && v >= 0)
        if (!write_full(pong[1], &v, sizeof v)) break;
    });
    if (partner_ok(state, partner.wait_ready())) {
      const int64_t inject = env.inject_ns;
      CounterScope counters;
      int v = 0;
      for (auto _ : state) {
        write_full(ping[1], &v, sizeof v);
        read_full(pong[0], &v, sizeof v);
        if (inject > 0) env.delay.spin(inject);
      }
      counters.stop(state);
      label(state, cpus);
    }
    int stop = -1;
    write_full(ping[1], &stop, sizeof stop);
    partner_ok(state, partner.join());
  }
  for (int fd : {ping[0], ping[1], pong[0], pong[1]}) ::close(fd);
}

long futex(std::atomic<uint32_t>* word, int op, uint32_t value, bool shared) {
  return ::syscall(SYS_futex, reinterpret_cast<uint32_t*>(word),
                   op | (shared ? 0 : FUTEX_PRIVATE_FLAG), value, nullptr, nullptr, 0);
}

// The turn word: 0 the partner may go, 1 the measuring side waits for it,
// 2 the partner stops. Shared memory so that it works between processes.
struct FutexTurn {
  std::atomic<uint32_t> word{1};
};

void futex_pingpong(benchmark::State& state, Mode mode, Placement placement) {
  MicroEnv& env = micro_env();
  std::optional<CpuPair> placed = pin_pair(state, placement);
  if (!placed) return;
  const CpuPair cpus = *placed;
  void* mem =
      ::mmap(nullptr, sizeof(FutexTurn), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) {
    state.SkipWithError((std::string("mmap: ") + std::strerror(errno)).c_str());
    return;
  }
  auto* turn = new (mem) FutexTurn;
  const bool shared = mode == Mode::kProcesses;
  {
    Partner partner(mode, cpus.second, [=] {
      for (;;) {
        uint32_t w;
        while ((w = turn->word.load(std::memory_order_acquire)) == 1)
          futex(&turn->word, FUTEX_WAIT, 1, shared);
        if (w == 2) return;
        turn->word.store(1, std::memory_order_release);
        futex(&turn->word, FUTEX_WAKE, 1, shared);
      }
    });
    if (partner_ok(state, partner.wait_ready())) {
      const int64_t inject = env.inject_ns;
      CounterScope counters;
      for (auto _ : state) {
        turn->word.store(0, std::memory_order_release);
        futex(&turn->word, FUTEX_WAKE, 1, shared);
        while (turn->word.load(std::memory_order_acquire) == 0)
          futex(&turn->word, FUTEX_WAIT, 0, shared);
        if (inject > 0) env.delay.spin(inject);
      }
      counters.stop(state);
      label(state, cpus);
    }
    turn->word.store(2, std::memory_order_release);
    futex(&turn->word, FUTEX_WAKE, 1, shared);
    partner_ok(state, partner.join());
  }
  ::munmap(mem, sizeof(FutexTurn));
}

}  // namespace

void register_pingpong_benchmarks() {
  for (Mode mode : {Mode::kThreads, Mode::kProcesses})
    for (Placement placement : {Placement::kSameCpu, Placement::kCrossCpu}) {
      std::string suffix = std::string("/") + to_string(mode) + "/" + to_string(placement);
      benchmark::RegisterBenchmark(("pipe_pingpong" + suffix).c_str(), pipe_pingpong, mode,
                                   placement);
      benchmark::RegisterBenchmark(("futex_pingpong" + suffix).c_str(), futex_pingpong, mode,
                                   placement);
    }
}

}  // namespace pasidbench
