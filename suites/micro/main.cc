// pasidbench-micro: the Google Benchmark micro suites. Usable on its own
// (its JSON is Google Benchmark's, so compare.py reads it) and run by the
// host backend. pasidbench's own flags come first and are taken out before
// Google Benchmark sees the rest:
//   --inject-ns=N       add a calibrated busy delay of N ns to every ping-pong
//                       round trip (for calibrating statistics)
//   --with-pasid[=auto|portal|write]
//                       hold a PASID: bind a shared DSA work queue and load
//                       every benchmark thread's PASID MSR with one ENQCMD
//   --no-counters       do not count hardware events
#include <benchmark/benchmark.h>
#include <sys/utsname.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "platform/environment.h"
#include "platform/papi_counters.h"
#include "suites/micro/micro_benchmarks.h"
#include "suites/micro/micro_env.h"

namespace {

constexpr int kBadUsage = 2;
// Exit status when --with-pasid cannot be honoured on this machine; the
// reason is the last line on stderr, after "pasidbench-micro: skip: ".
constexpr int kSkipExit = 4;

bool take_flag(const std::string& arg, const std::string& name, std::string* value) {
  if (arg == name) {
    *value = "";
    return true;
  }
  if (arg.rfind(name + "=", 0) == 0) {
    *value = arg.substr(name.size() + 1);
    return true;
  }
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace pasidbench;
  MicroEnv& env = micro_env();
  bool with_pasid = false;
  SubmitPreference pref = SubmitPreference::kAuto;
  std::vector<char*> rest = {argv[0]};
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i], value;
    if (take_flag(arg, "--inject-ns", &value)) {
      char* end = nullptr;
      errno = 0;
      long long ns = std::strtoll(value.c_str(), &end, 10);
      if (value.empty() || *end != '\0' || errno != 0 || ns < 0 || ns > 1000000000LL) {
        std::cerr << "pasidbench-micro: --inject-ns: want nanoseconds 0..1000000000, got '" << value
                  << "'\n";
        return kBadUsage;
      }
      env.inject_ns = ns;
    } else if (take_flag(arg, "--with-pasid", &value)) {
      with_pasid = true;
      if (!value.empty() && !parse_submit_preference(value, &pref)) {
        std::cerr << "pasidbench-micro: --with-pasid: want auto, portal or write, got '" << value
                  << "'\n";
        return kBadUsage;
      }
    } else if (arg == "--no-counters") {
      env.count_hardware = false;
    } else {
      rest.push_back(argv[i]);
    }
  }
  int rest_argc = static_cast<int>(rest.size());
  rest.push_back(nullptr);

  env.topology = CpuTopology::discover();
  if (env.inject_ns > 0) env.delay = BusyDelay::calibrate();
  if (with_pasid) {
    try {
      env.pasid = PasidHolder::bind(pref);
    } catch (const std::exception& e) {
      std::cerr << "pasidbench-micro: skip: " << e.what() << "\n";
      return kSkipExit;
    }
  }

  benchmark::Initialize(&rest_argc, rest.data());
  if (benchmark::ReportUnrecognizedArguments(rest_argc, rest.data())) return kBadUsage;

  struct utsname u {};
  if (uname(&u) == 0) benchmark::AddCustomContext("kernel_release", u.release);
  benchmark::AddCustomContext("pasidbench_revision", pasidbench::pasidbench_revision());
  benchmark::AddCustomContext("topology", env.topology.summary());
  benchmark::AddCustomContext("inject_ns", std::to_string(env.inject_ns));
  if (env.inject_ns > 0)
    benchmark::AddCustomContext("busy_delay_loops_per_ns",
                                std::to_string(env.delay.loops_per_ns()));
  benchmark::AddCustomContext("pasid", env.pasid ? env.pasid->describe() : "none");
  if (!env.count_hardware) {
    benchmark::AddCustomContext("hardware_counters", "off (--no-counters)");
  } else {
    PapiCounters& papi = PapiCounters::instance();
    std::string names;
    for (const auto& n : papi.names()) names += (names.empty() ? "" : ",") + n;
    benchmark::AddCustomContext("hardware_counters", papi.available() ? names : "none");
    if (!papi.note().empty()) benchmark::AddCustomContext("hardware_counters_note", papi.note());
  }

  register_pingpong_benchmarks();
  register_sched_benchmarks();
  register_ipi_benchmarks(std::max(0, static_cast<int>(env.topology.pus().size()) - 1));
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
