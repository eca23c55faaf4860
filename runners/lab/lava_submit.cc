#include "runners/lab/lava_submit.h"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "platform/input_error.h"
#include "platform/process.h"
#include "runners/lab/kernel_fetch.h"
#include "runners/lab/lab_plan.h"
#include "runners/lab/lava.h"
#include "runners/lab/ssh_runner.h"

namespace pasidbench::lab {

namespace fs = std::filesystem;

namespace {

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\r')) s.pop_back();
  return s;
}

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

}  // namespace

int lava_submit(const LavaSubmitOptions& o, std::ostream& log) {
  if (o.out_dir.empty()) throw InputError({"--out", 0}, "lava submit needs --out DIR");
  std::vector<KernelManifest> kernels = load_manifests(o.kernel_manifests);
  if (kernels.empty()) throw InputError({"--kernels", 0}, "name at least one kernel manifest");
  plan_lab_tests(o.suite_path, "", {});  // bad input stops here
  if (find_program(o.lavacli).empty())
    throw InputError({"--lavacli", 0}, o.lavacli + " not found (Debian package lavacli)");
  std::string self = o.pasidbench_binary.empty() ? fs::read_symlink("/proc/self/exe").string()
                                                 : o.pasidbench_binary;
  fs::path out = fs::absolute(o.out_dir);
  fs::path artifacts = out / "artifacts";
  fs::path jobs = out / "jobs";
  fs::create_directories(artifacts);
  fs::create_directories(jobs);
  fs::path bundle = artifacts / "pasidbench.tar.gz";
  log << "lava submit: bundling " << o.suite_path << "\n" << std::flush;
  write_bundle(self, o.suite_path, (artifacts / "bundle-work").string(), bundle.string());
  fs::remove_all(artifacts / "bundle-work");
  std::string cache = o.cache_dir.empty() ? default_kernel_cache() : o.cache_dir;

  int rc = 0;
  std::vector<std::string> sets;
  for (size_t i = 0; i < kernels.size(); ++i) {
    const KernelManifest& k = kernels[i];
    std::string prefix =
        "[" + std::to_string(i + 1) + "/" + std::to_string(kernels.size()) + " " + k.name + "] ";
    auto fail = [&](const std::string& why) {
      log << prefix << why << "\n" << std::flush;
      rc = 1;
    };
    LavaGuest guest;
    try {
      guest = lava_guest(k, (artifacts / k.name).string(), cache, log);
    } catch (const InputError&) {
      throw;
    } catch (const std::runtime_error& e) {
      fail(std::string("no guest: ") + e.what());
      continue;
    }
    LavaJobSpec spec;
    spec.kernel = k;
    spec.device_type = o.device_type;
    spec.suite_path = o.suite_path;
    spec.boot_method = "qemu";
    spec.bundle_url = "file://" + bundle.string();
    spec.kernel_url = "file://" + guest.vmlinuz;
    spec.ramdisk_url = "file://" + guest.rootfs;
    spec.build_id = guest.build_id;
    spec.source = guest.source;
    fs::path job_file = jobs / (k.name + ".yaml");
    std::ofstream(job_file) << lava_job_definition(spec);

    auto lavacli = [&](std::vector<std::string> args, int timeout_s) {
      std::vector<std::string> argv = {o.lavacli, "-i", o.identity};
      argv.insert(argv.end(), args.begin(), args.end());
      return run_process(argv, ProcessOptions().with_timeout(timeout_s));
    };
    auto submitted = std::chrono::steady_clock::now();
    ProcessResult sub = lavacli({"jobs", "submit", job_file.string()}, 120);
    std::string job_id = trimmed(sub.out);
    if (!sub.ok() || job_id.empty() ||
        job_id.find_first_not_of("0123456789") != std::string::npos) {
      fail("submitting " + job_file.string() + " failed: " + trimmed(sub.out + sub.err));
      continue;
    }
    log << prefix << "job " << job_id << " submitted; waiting (at most " << o.job_timeout_s
        << " s)\n"
        << std::flush;
    ProcessResult wait = lavacli(
        {"jobs", "wait", job_id, "--polling", "2", "--timeout", std::to_string(o.job_timeout_s)},
        o.job_timeout_s + 60);
    if (!wait.ok()) {
      lavacli({"jobs", "cancel", job_id}, 60);
      fail("job " + job_id + " did not finish: " + trimmed(wait.describe(o.job_timeout_s + 60)));
      continue;
    }
    double job_s = seconds_since(submitted);
    ProcessResult show = lavacli({"jobs", "show", job_id}, 60);
    ProcessResult res = lavacli({"results", job_id, "--yaml"}, 120);
    if (!res.ok()) {
      fail("results of job " + job_id + ": " + trimmed(res.describe(120)));
      continue;
    }
    fs::path results_file = jobs / (k.name + "-results.yaml");
    std::ofstream(results_file) << res.out;
    std::string health;
    for (std::istringstream in(show.out); std::getline(in, health);)
      if (health.rfind("Health", 0) == 0) break;
    LavaImportSpec imp{results_file.string(), job_file.string(), o.suite_path,
                       (out / k.name).string()};
    LavaImportSummary s = lava_import(imp);
    for (const auto& n : s.notes) log << prefix << n << "\n";
    log << prefix << "job " << job_id << " finished in " << static_cast<int>(job_s + 0.5) << " s ("
        << trimmed(health) << "): " << s.imported << " test(s) imported, " << s.missing
        << " missing, " << s.lava_failures << " LAVA/set-up failure(s) -> "
        << (out / k.name / "results.jsonl").string() << "\n"
        << std::flush;
    if (s.missing || s.lava_failures) rc = 1;
    sets.push_back((out / k.name).string());
  }
  if (!sets.empty()) {
    log << "lava submit: compare with: pasidbench report";
    for (const auto& s : sets) log << " " << s;
    log << "\n";
  }
  return rc;
}

}  // namespace pasidbench::lab
