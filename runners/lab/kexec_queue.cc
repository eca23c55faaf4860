#include "runners/lab/kexec_queue.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "platform/environment.h"
#include "platform/file_io.h"
#include "platform/input_error.h"
#include "platform/process.h"
#include "results/jsonl_store.h"
#include "runners/lab/kernel_fetch.h"
#include "runners/lab/lab_plan.h"
#include "runners/lab/lab_results.h"
#include "runners/lab/pasidlab_build.h"

namespace pasidbench::lab {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr const char* kMarker = "pasidbench.kernel=";

std::string read_cmdline(const std::string& root) {
  std::ifstream in(fs::path(root) / "proc/cmdline");
  std::string s;
  std::getline(in, s);
  return s;
}

// Copies what a kernel's own run recorded into the night's results.jsonl;
// a record already there (an earlier step merged it) is not copied again.
void merge_kernel_results(const std::string& out_dir, const std::string& kernel,
                          LabResults& results) {
  fs::path file = kernel_results_dir(out_dir, kernel) / "results.jsonl";
  JsonlContents own = read_jsonl(file.string());
  std::set<std::string> seen_env;
  JsonlContents all = read_jsonl(results.path());
  for (const auto& r : all.records)
    if (record_type(r) == "environment") seen_env.insert(r.value("run_id", ""));
  for (const auto& r : own.records) {
    if (record_type(r) == "environment") {
      if (seen_env.insert(r.value("run_id", "")).second) results.append(r);
    } else if (r.contains("test_id") && !results.recorded(kernel).count(r["test_id"])) {
      results.append(r);
    }
  }
}

}  // namespace

std::string kexec_queue_path(const std::string& out_dir) {
  return (fs::path(out_dir) / "kexec-queue.json").string();
}

KexecQueue load_kexec_queue(const std::string& out_dir) {
  std::string path = kexec_queue_path(out_dir);
  std::ifstream in(path);
  if (!in)
    throw InputError({path, 0}, "no kexec queue here (start one with `pasidbench kexec start`)");
  json j = json::parse(in, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    throw InputError({path, 0}, "not a kexec queue (bad JSON)");
  try {
    KexecQueue q;
    q.manifests = j.at("manifests").get<std::vector<std::string>>();
    q.suite = j.at("suite").get<std::string>();
    q.filter = j.value("filter", "");
    q.max_attempts = j.value("max_attempts", 2);
    q.attempts = j.value("attempts", json::object()).get<std::map<std::string, int>>();
    q.reached = j.value("reached", json::object()).get<std::map<std::string, bool>>();
    return q;
  } catch (const json::exception& e) {
    throw InputError({path, 0}, std::string("not a kexec queue: ") + e.what());
  }
}

void save_kexec_queue(const std::string& out_dir, const KexecQueue& q) {
  json j = {{"manifests", q.manifests},       {"suite", q.suite},       {"filter", q.filter},
            {"max_attempts", q.max_attempts}, {"attempts", q.attempts}, {"reached", q.reached}};
  // Whole or not at all, and on the disk before a reboot.
  replace_file(kexec_queue_path(out_dir), j.dump(2) + "\n");
}

std::string booted_kernel_name(const std::string& cmdline) {
  std::istringstream words(cmdline);
  for (std::string w; words >> w;)
    if (w.rfind(kMarker, 0) == 0) return w.substr(std::string(kMarker).size());
  return {};
}

std::string next_kernel_cmdline(const std::string& current,
                                const std::string& running_manifest_words,
                                const std::string& kernel_name,
                                const std::string& manifest_cmdline) {
  std::multiset<std::string> added;
  std::istringstream theirs(running_manifest_words);
  for (std::string w; theirs >> w;) added.insert(w);
  std::istringstream words(current);
  std::string out;
  for (std::string w; words >> w;) {
    if (w.rfind(kMarker, 0) == 0 || w.rfind("BOOT_IMAGE=", 0) == 0 || w.rfind("initrd=", 0) == 0)
      continue;
    if (auto it = added.find(w); it != added.end()) {
      added.erase(it);
      continue;
    }
    out += (out.empty() ? "" : " ") + w;
  }
  out += (out.empty() ? "" : " ") + std::string(kMarker) + kernel_name;
  if (!manifest_cmdline.empty()) out += " " + manifest_cmdline;
  return out;
}

KexecEnvironment system_kexec_environment() {
  KexecEnvironment env;
  env.load = [](const std::string& image, const std::string& initrd, const std::string& append) {
    std::vector<std::string> cmd = {"kexec", "-l", image, "--append=" + append};
    if (!initrd.empty()) cmd.push_back("--initrd=" + initrd);
    ProcessResult r = run_process(cmd, ProcessOptions().with_timeout(120));
    return r.ok() ? std::string() : "kexec -l: " + r.describe(120);
  };
  env.reboot = [] {
    // systemd stops services and syncs filesystems before jumping.
    std::vector<std::string> cmd = fs::exists("/run/systemd/system")
                                       ? std::vector<std::string>{"systemctl", "kexec"}
                                       : std::vector<std::string>{"kexec", "-e"};
    ProcessResult r = run_process(cmd, ProcessOptions().with_timeout(300));
    return r.ok() ? std::string() : shell_join(cmd) + ": " + r.describe(300);
  };
  return env;
}

void start_kexec_queue(const std::vector<std::string>& manifests, const std::string& suite,
                       const std::string& filter, int max_attempts, const std::string& out_dir) {
  load_manifests(manifests);  // checked now, not at 3 am
  plan_lab_tests(suite, filter, {});
  if (max_attempts < 1) throw InputError({"--max-attempts", 0}, "must be at least 1");
  if (fs::exists(kexec_queue_path(out_dir)))
    throw InputError(
        {kexec_queue_path(out_dir), 0},
        "a kexec queue exists here already (continue it with `pasidbench kexec step`)");
  fs::create_directories(out_dir);
  KexecQueue q;
  for (const auto& m : manifests)
    q.manifests.push_back(fs::absolute(m).lexically_normal().string());
  q.suite = fs::absolute(suite).lexically_normal().string();
  q.filter = filter;
  q.max_attempts = max_attempts;
  save_kexec_queue(out_dir, q);
}

int kexec_step(const std::string& out_dir, const KexecEnvironment& env, std::ostream& log) {
  KexecQueue q = load_kexec_queue(out_dir);
  std::vector<KernelManifest> kernels = load_manifests(q.manifests);
  std::vector<TestCase> plan = plan_lab_tests(q.suite, q.filter, {});
  LabResults results(out_dir, /*resume=*/true);
  std::string cmdline = read_cmdline(env.root);
  std::string here = booted_kernel_name(cmdline);
  json env_now = collect_environment(env.root);
  std::string release = env_now["kernel"].value("release", "unknown");
  std::string hostname = safe_hostname();
  std::string cache = env.cache_dir.empty() ? default_kernel_cache() : env.cache_dir;
  std::string running_words;
  for (const auto& k : kernels)
    if (k.name == here) running_words = k.cmdline;

  for (const auto& k : kernels) merge_kernel_results(out_dir, k.name, results);

  for (const auto& k : kernels) {
    std::string prefix = "[kexec " + k.name + "]";
    Provenance prov =
        lab_provenance(k, k.name == here ? release : "", "", "", hostname, false, "real");
    KernelSession session(results, plan, prov, new_run_id(), log, prefix);
    if (session.complete() && session.has_record(kBootTestId)) continue;
    int attempts = q.attempts[k.name];

    if (k.name == here) {
      // Our turn: run (or resume) the suite on this kernel.
      log << prefix << " running the suite on " << release << "\n" << std::flush;
      if (env.dry_run) return 0;
      q.reached[k.name] = true;
      save_kexec_queue(out_dir, q);
      PreparedKernel pk;
      try {
        pk = prepare_kernel(k, cache, log);
      } catch (const KernelUnavailable&) {
        // The kernel runs already; only its provenance is missing.
      }
      RunOptions ro;
      ro.suite_path = q.suite;
      // kmod tests load pasidlab.ko built for this kernel (here, from its
      // packages or its modules directory); a suite without any runs on host.
      if (plan_uses_kmod(plan)) {
        PasidlabBuild mb =
            build_pasidlab(pk, (fs::path(out_dir) / "work" / "pasidlab" / k.name).string(), log);
        if (mb.ko.empty()) {
          log << prefix << " pasidlab.ko: " << mb.why_not << " (its tests will SKIP)\n";
          ro.extra_params["module_unavailable"] = {mb.why_not, {"kexec", 0}};
        } else {
          ro.extra_params["module"] = {mb.ko, {"kexec", 0}};
        }
      } else {
        ro.backends = {"host"};
      }
      ro.out_dir = kernel_results_dir(out_dir, k.name).string();
      ro.resume = true;
      ro.filter = q.filter;
      ro.kernel = session.provenance().kernel;
      ro.kernel.build_id = pk.build_id;
      ro.kernel.source = pk.source.empty() ? "kexec" : pk.source + " (kexec)";
      env.run(ro);
      merge_kernel_results(out_dir, k.name, results);
      session.provenance().kernel.build_id = ro.kernel.build_id;
      session.provenance().kernel.source = ro.kernel.source;
      session.record_unrun("not run: the runner ended without recording this test");
      session.record_boot(Outcome::kPass, "",
                          json{{"cmdline", cmdline}, {"kexec_attempts", attempts}},
                          "kexec:" + hostname);
      here.clear();  // on to the next kernel, from this one
      continue;
    }

    if (attempts > 0) {
      // We kexec'd into this kernel before and are not running it: it died,
      // hung or never came up, and the machine fell back to its default.
      std::string fell_back = "the machine came back in " + release + " instead of " + k.name +
                              " (kexec attempt " + std::to_string(attempts) + ")";
      log << prefix << " " << fell_back << "\n";
      if (env.dry_run) return 0;
      bool reached = q.reached[k.name];
      if (reached)
        if (const TestCase* t = session.in_flight())
          session.record(*t, Outcome::kCrashed, "kernel died while this test ran: " + fell_back,
                         json{{"cmdline_after", cmdline}});
      if (attempts >= q.max_attempts) {
        session.record_unrun("not run: " + fell_back + "; " + std::to_string(attempts) +
                             " attempt(s) used");
        session.record_boot(reached ? Outcome::kPass : Outcome::kCrashed,
                            reached ? "" : "kernel never reached the runner: " + fell_back,
                            json{{"kexec_attempts", attempts}}, "kexec:" + hostname);
        continue;
      }
    }

    // Its turn: load it and reboot into it.
    std::string append = next_kernel_cmdline(cmdline, running_words, k.name, k.cmdline);
    log << prefix << " kexec into it (attempt " << attempts + 1 << "): " << append << "\n"
        << std::flush;
    if (env.dry_run) return 0;
    PreparedKernel pk;
    try {
      pk = prepare_kernel(k, cache, log);
    } catch (const KernelUnavailable& e) {
      std::string why = std::string("kernel unavailable: ") + e.what();
      session.record_boot(Outcome::kError, why, nullptr, "kexec:" + hostname);
      session.record_unrun("not run: " + why);
      continue;
    }
    std::string error = env.load(pk.vmlinuz, pk.initrd, append);
    if (!error.empty()) {
      session.record_boot(Outcome::kError, error, nullptr, "kexec:" + hostname);
      session.record_unrun("not run: " + error);
      continue;
    }
    q.attempts[k.name] = attempts + 1;
    q.reached[k.name] = false;
    save_kexec_queue(out_dir, q);
    error = env.reboot();
    if (!error.empty()) {
      log << prefix << " reboot failed: " << error << "\n";
      return 1;
    }
    log << prefix << " rebooting into " << k.name << "\n";
    return 0;
  }
  log << "kexec: every kernel in the queue is recorded; results in " << results.path() << "\n";
  return 0;
}

void print_kexec_status(const std::string& out_dir, std::ostream& out) {
  KexecQueue q = load_kexec_queue(out_dir);
  std::vector<KernelManifest> kernels = load_manifests(q.manifests);
  std::vector<TestCase> plan = plan_lab_tests(q.suite, q.filter, {});
  LabResults results(out_dir, true);
  for (const auto& k : kernels) merge_kernel_results(out_dir, k.name, results);
  for (const auto& k : kernels) {
    size_t recorded = 0;
    for (const auto& t : plan) recorded += results.recorded(k.name).count(t.test_id);
    out << k.name << ": " << recorded << "/" << plan.size() << " tests recorded, "
        << q.attempts[k.name] << " kexec attempt(s)"
        << (results.recorded(k.name).count(kBootTestId) ? ", done" : "") << "\n";
  }
}

}  // namespace pasidbench::lab
