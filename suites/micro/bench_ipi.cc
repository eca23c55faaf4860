// IPI costs seen from user space. membarrier(PRIVATE_EXPEDITED) interrupts
// every CPU currently running a thread of this mm: exactly the "IPI every CPU
// running the mm" a PASID change costs under resync-ipi. A TLB shootdown
// (mprotect to read-only, or munmap, of a touched page) interrupts them too.
// N other threads of the mm spin on N other CPUs to be interrupted.
#include <linux/membarrier.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <list>

#include "suites/micro/micro_benchmarks.h"
#include "suites/micro/micro_env.h"

namespace pasidbench {

namespace {

using Clock = std::chrono::steady_clock;

long membarrier(int cmd) { return ::syscall(__NR_membarrier, cmd, 0, 0); }

// N spinning threads of this mm, each on its own CPU, reading `watched`
// so the page is in their TLBs.
class Spinners {
 public:
  Spinners(benchmark::State& state, const std::vector<int>& cpus, const volatile int* watched) {
    for (int cpu : cpus)
      partners_.emplace_back(Mode::kThreads, cpu, [this, watched] {
        int sink = 0;
        while (!stop_.load(std::memory_order_relaxed)) sink += *watched;
        sink_.fetch_add(sink, std::memory_order_relaxed);
      });
    for (auto& p : partners_)
      if (!partner_ok(state, p.wait_ready())) ok_ = false;
  }
  ~Spinners() {
    stop_ = true;
    for (auto& p : partners_) p.join();
  }
  bool ok() const { return ok_; }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<int> sink_{0};
  std::list<Partner> partners_;  // a list: Partner does not move
  bool ok_ = true;
};

// CPUs for the measuring thread (first) and `remote` spinners; false after
// skipping when the machine has too few.
bool pick_cpus(benchmark::State& state, int64_t remote, const char* what, std::vector<int>* cpus) {
  try {
    *cpus = micro_env().topology.pick_distinct(
        static_cast<size_t>(remote) + 1,
        std::string(what) + " with " + std::to_string(remote) + " spinning thread(s)");
  } catch (const PlacementError& e) {
    skip_placement(state, e);
    return false;
  }
  return true;
}

std::string cpu_label(const std::vector<int>& cpus) {
  std::string s = "measuring on cpu " + std::to_string(cpus.front());
  if (cpus.size() > 1) {
    s += ", spinning on";
    for (size_t i = 1; i < cpus.size(); ++i) s += " " + std::to_string(cpus[i]);
  }
  return s;
}

void membarrier_expedited(benchmark::State& state) {
  const int64_t remote = state.range(0);
  std::vector<int> cpus;
  if (!pick_cpus(state, remote, "membarrier", &cpus)) return;
  static const int register_errno =
      membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) == 0 ? 0 : errno;
  if (register_errno != 0) {
    state.SkipWithError((std::string("skip: membarrier(REGISTER_PRIVATE_EXPEDITED): ") +
                         std::strerror(register_errno))
                            .c_str());
    return;
  }
  if (!prepare_measuring_thread(state, cpus.front())) return;
  static volatile int watched = 0;
  Spinners spinners(state, {cpus.begin() + 1, cpus.end()}, &watched);
  if (!spinners.ok()) return;
  CounterScope counters;
  for (auto _ : state) {
    if (membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) != 0) {
      state.SkipWithError((std::string("membarrier: ") + std::strerror(errno)).c_str());
      break;
    }
  }
  counters.stop(state);
  state.SetLabel(cpu_label(cpus));
}

enum class Shootdown { kMprotect, kMunmap };

void tlb_shootdown(benchmark::State& state, Shootdown how) {
  const int64_t remote = state.range(0);
  std::vector<int> cpus;
  if (!pick_cpus(state, remote, "tlb_shootdown", &cpus)) return;
  if (!prepare_measuring_thread(state, cpus.front())) return;
  const long page_size = ::sysconf(_SC_PAGESIZE);
  void* mem = ::mmap(nullptr, static_cast<size_t>(page_size), PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
  if (mem == MAP_FAILED) {
    state.SkipWithError((std::string("mmap: ") + std::strerror(errno)).c_str());
    return;
  }
  auto* page = static_cast<volatile int*>(mem);
  {
    // For munmap the spinners watch the long-lived page: the one unmapped
    // each round cannot be read after it is gone.
    Spinners spinners(state, {cpus.begin() + 1, cpus.end()}, page);
    if (spinners.ok()) {
      CounterScope counters;
      int round = 0;
      double shootdown_s = 0;
      for (auto _ : state) {
        if (how == Shootdown::kMprotect) {
          page[0] = ++round;  // a writable TLB entry here too
          auto t0 = Clock::now();
          int rc = ::mprotect(mem, static_cast<size_t>(page_size), PROT_READ);
          auto t1 = Clock::now();
          rc |= ::mprotect(mem, static_cast<size_t>(page_size), PROT_READ | PROT_WRITE);
          if (rc != 0) {
            state.SkipWithError((std::string("mprotect: ") + std::strerror(errno)).c_str());
            break;
          }
          shootdown_s += std::chrono::duration<double>(t1 - t0).count();
        } else {
          void* victim = ::mmap(nullptr, static_cast<size_t>(page_size), PROT_READ | PROT_WRITE,
                                MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
          if (victim == MAP_FAILED) {
            state.SkipWithError((std::string("mmap: ") + std::strerror(errno)).c_str());
            break;
          }
          static_cast<volatile int*>(victim)[0] = ++round;
          auto t0 = Clock::now();
          int rc = ::munmap(victim, static_cast<size_t>(page_size));
          auto t1 = Clock::now();
          if (rc != 0) {
            state.SkipWithError((std::string("munmap: ") + std::strerror(errno)).c_str());
            break;
          }
          shootdown_s += std::chrono::duration<double>(t1 - t0).count();
        }
      }
      counters.stop(state);
      // The iteration also maps, touches or restores the page; this is the
      // shootdown call alone (two clock reads included).
      state.counters["shootdown_ns"] =
          benchmark::Counter(shootdown_s * 1e9, benchmark::Counter::kAvgIterations);
      state.SetLabel(cpu_label(cpus));
    }
  }
  ::munmap(mem, static_cast<size_t>(page_size));
}

}  // namespace

void register_ipi_benchmarks(int max_remote) {
  benchmark::RegisterBenchmark("membarrier", membarrier_expedited)
      ->ArgName("spinning")
      ->DenseRange(0, max_remote);
  benchmark::RegisterBenchmark("tlb_shootdown/mprotect", tlb_shootdown, Shootdown::kMprotect)
      ->ArgName("remote")
      ->DenseRange(0, max_remote);
  benchmark::RegisterBenchmark("tlb_shootdown/munmap", tlb_shootdown, Shootdown::kMunmap)
      ->ArgName("remote")
      ->DenseRange(0, max_remote);
}

}  // namespace pasidbench
