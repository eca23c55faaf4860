#include "runners/lab/lab_plan.h"

#include <unistd.h>

#include <algorithm>
#include <set>

#include "platform/environment.h"
#include "platform/file_io.h"
#include "runners/suite_runner.h"
#include "suites/workload/suite.h"

namespace pasidbench::lab {

std::vector<KernelManifest> load_manifests(const std::vector<std::string>& paths) {
  if (paths.empty()) throw InputError({"--kernels", 0}, "name at least one kernel manifest");
  std::vector<KernelManifest> out;
  std::set<std::string> names;
  for (const auto& p : paths) {
    KernelManifest m = load_kernel_manifest(p);
    if (!names.insert(m.name).second)
      throw InputError(m.where, "kernel name '" + m.name + "' is used by another manifest too");
    out.push_back(std::move(m));
  }
  return out;
}

std::filesystem::path kernel_results_dir(const std::string& out_dir,
                                         const std::string& kernel_name) {
  std::filesystem::path kernels = std::filesystem::path(out_dir) / "kernels";
  std::optional<std::filesystem::path> dir = path_under(kernels, kernel_name);
  if (!dir || !is_plain_file_name(kernel_name))
    throw InputError("kernel name '" + kernel_name + "' cannot name a directory in " +
                     kernels.string());
  return *dir;
}

std::vector<TestCase> plan_lab_tests(const std::string& suite_path, const std::string& filter,
                                     const RawParams& extra_params) {
  Suite suite = load_suite_file(suite_path);
  // The machine under test runs what measures it: host and kmod:<policy>.
  // A suite that names neither (the model's) runs on host, as before.
  std::vector<TestCase> plan = plan_suite(suite, {}, extra_params);
  auto on_machine = [](const TestCase& t) {
    return t.backend == "host" || t.backend.rfind("kmod:", 0) == 0;
  };
  if (std::none_of(plan.begin(), plan.end(), on_machine)) {
    plan = plan_suite(suite, {"host"}, extra_params);
  } else {
    for (const auto& t : plan)
      if (!on_machine(t))
        throw InputError(
            SourceLocation{suite.path, 0},
            "a lab suite runs host and kmod:<policy> tests only; " + t.test_id + " is not one");
  }
  if (!filter.empty())
    std::erase_if(plan,
                  [&](const TestCase& t) { return t.test_id.find(filter) == std::string::npos; });
  return plan;
}

std::vector<std::string> run_command_args(const KernelManifest& kernel, const std::string& build_id,
                                          const std::string& source, const RunArgs& a) {
  std::vector<std::string> args = {"run", a.suite};
  if (a.host_only) args.insert(args.end(), {"--backend", "host"});
  args.insert(args.end(), {"--out", a.out_dir, "--kernel-name", kernel.name, "--kernel-policy",
                           kernel.policy, "--time-base", a.time_base});
  if (!build_id.empty()) args.insert(args.end(), {"--kernel-build-id", build_id});
  if (!source.empty()) args.insert(args.end(), {"--kernel-source", source});
  if (a.emulated) args.push_back("--emulated");
  if (a.resume) args.push_back("--resume");
  if (!a.filter.empty()) args.insert(args.end(), {"--filter", a.filter});
  for (const auto& [k, v] : a.extra_params) args.insert(args.end(), {"--param", k + "=" + v.value});
  return args;
}

Provenance lab_provenance(const KernelManifest& kernel, const std::string& release,
                          const std::string& build_id, const std::string& source,
                          const std::string& hostname, bool emulated,
                          const std::string& time_base) {
  Provenance p;
  p.kernel.name = kernel.name;
  p.kernel.release = release.empty() ? "unknown" : release;
  p.kernel.build_id = build_id;
  p.kernel.policy = kernel.policy;
  p.kernel.source = source;
  p.machine.hostname = hostname;
  p.machine.emulated = emulated;
  p.machine.time_base = time_base;
  p.pasidbench_revision = pasidbench_revision();
  return p;
}

std::string safe_hostname() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0 || !buf[0]) return "unknown";
  std::string h = buf;
  for (char& c : h)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.') c = '-';
  return h;
}

}  // namespace pasidbench::lab
