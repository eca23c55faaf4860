#include "runners/lab/lava.h"

#include <yaml-cpp/yaml.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "platform/environment.h"
#include "platform/process.h"
#include "results/jsonl_store.h"
#include "results/metric_registry.h"
#include "results/record.h"
#include "runners/lab/cpio.h"
#include "runners/lab/kernel_fetch.h"
#include "runners/lab/lab_plan.h"
#include "runners/lab/vm_runner.h"
#include "suites/workload/suite.h"

namespace pasidbench::lab {

namespace fs = std::filesystem;
using nlohmann::json;
using nlohmann::ordered_json;

namespace {

void emit(YAML::Emitter& out, const ordered_json& j) {
  if (j.is_object()) {
    out << YAML::BeginMap;
    for (const auto& [k, v] : j.items()) {
      out << YAML::Key << k << YAML::Value;
      emit(out, v);
    }
    out << YAML::EndMap;
  } else if (j.is_array()) {
    out << YAML::BeginSeq;
    for (const auto& v : j) emit(out, v);
    out << YAML::EndSeq;
  } else if (j.is_string()) {
    // Quoted, so that "6.1" or "yes" stay strings for LAVA's YAML loader.
    out << YAML::DoubleQuoted << j.get<std::string>();
  } else if (j.is_boolean()) {
    out << j.get<bool>();
  } else if (j.is_number_integer()) {
    out << j.get<int64_t>();
  } else if (j.is_number()) {
    out << j.get<double>();
  } else {
    out << YAML::Null;
  }
}

std::string to_yaml(const ordered_json& j) {
  YAML::Emitter out;
  out.SetIndent(2);
  emit(out, j);
  return std::string(out.c_str()) + "\n";
}

const char* lava_result(Outcome o) {
  switch (o) {
    case Outcome::kPass:
      return "pass";
    case Outcome::kSkip:
      return "skip";
    case Outcome::kError:
      return "unknown";  // the test could not say
    default:
      return "fail";
  }
}

Outcome from_lava_result(const std::string& r) {
  if (r == "pass") return Outcome::kPass;
  if (r == "skip") return Outcome::kSkip;
  if (r == "fail") return Outcome::kFail;
  return Outcome::kError;
}

YAML::Node load_yaml(const std::string& path) {
  if (!fs::exists(path)) throw InputError({path, 0}, "no such file");
  try {
    return YAML::LoadFile(path);
  } catch (const YAML::Exception& e) {
    throw InputError({path, static_cast<int>(e.mark.line) + 1}, "YAML: " + e.msg);
  }
}

std::string scalar(const YAML::Node& map, const char* key) {
  const YAML::Node n = map[key];
  return n && n.IsScalar() ? n.as<std::string>() : "";
}

}  // namespace

std::string lava_case_name(const std::string& test_id) {
  std::string out;
  for (char c : test_id) {
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-')
      out += c;
    else if (c == '[' || c == ',' || c == '@')
      out += '.';
    else if (c == ']')
      continue;
    else
      out += '-';
  }
  return out;
}

namespace {

// Values the definition's steps read. A definition from git declares them as
// `params` with defaults and the job sets them as definition-level
// `parameters`; an inline one carries neither (LAVA's submission schema
// allows only metadata/install/run/parse in an inline repository, and
// lava-common's strict schema no `parameters` beside it), so the job's
// values open its steps as exports.
using ParamList = std::vector<std::pair<std::string, std::string>>;

ParamList default_params(const std::string& suite_path) {
  return {
      {"BUNDLE_URL", ""},           {"SUITE", "suites/" + fs::path(suite_path).filename().string()},
      {"KERNEL_NAME", ""},          {"KERNEL_BUILD_ID", ""},
      {"KERNEL_POLICY", "unknown"}, {"KERNEL_SOURCE", "lava"}};
}

// `inline_values` empty: the git form (params); otherwise the inline form.
ordered_json test_definition(const std::string& suite_path, const ParamList& inline_values = {}) {
  Suite suite = load_suite_file(suite_path);
  ordered_json def;
  def["metadata"] = {
      {"format", "Lava-Test Test Definition 1.0"},
      {"name", "pasidbench-" + lava_case_name(suite.name)},
      {"description", "pasidbench suite " + suite.name +
                          " on the host backend of the booted kernel: each test reported with "
                          "lava-test-case, metrics as measurements"},
      {"os", {"debian", "ubuntu", "fedora", "centos", "oe"}},
      {"scope", {"functional", "performance"}},
      {"devices", {"x86_64"}}};
  std::vector<std::string> steps;
  if (inline_values.empty()) {
    def["params"] = ordered_json::object();
    for (const auto& [k, v] : default_params(suite_path)) def["params"][k] = v;
  } else {
    for (const auto& [k, v] : inline_values) steps.push_back("export " + k + "=" + shell_quote(v));
  }
  // LAVA runs the steps as one shell script with `set -e`. A set-up step
  // that fails (fetch, unpack, the runner not starting) is a failed case
  // `pasidbench-setup` (`pasidbench-report` when no results can be
  // reported) and ends the job with LAVA's TestError carrying the reason
  // (lava-test-raise), so the job is not Complete with no cases. A
  // failing test must not stop the reporting, hence `|| true` on the run.
  std::vector<std::string> body = {
      "pb_failed() { step=$1; shift; why=$(printf '%s' \"$*\" | tr '\\n<>' '   ' | cut -c1-400); "
      "echo \"pasidbench $step failed: $why\"; lava-test-case \"pasidbench-$step\" --result fail; "
      "lava-test-raise \"pasidbench $step: $why\"; exit 1; }",
      "WORK=$(mktemp -d)",
      "case \"$BUNDLE_URL\" in http*|ftp*) got=$( (wget -q -O \"$WORK/bundle.tar.gz\" "
      "\"$BUNDLE_URL\" || curl -fsSL -o \"$WORK/bundle.tar.gz\" \"$BUNDLE_URL\") 2>&1) || "
      "pb_failed setup \"fetching the bundle $BUNDLE_URL failed: $got\" ;; *) got=$(cp "
      "\"$BUNDLE_URL\" \"$WORK/bundle.tar.gz\" 2>&1) || pb_failed setup \"copying the bundle "
      "$BUNDLE_URL failed: $got\" ;; esac",
      "got=$(tar -xzf \"$WORK/bundle.tar.gz\" -C \"$WORK\" 2>&1) || pb_failed setup \"unpacking "
      "the bundle failed: $got\"",
      "cd \"$WORK\"",
      "got=$(./pasidbench list backends 2>&1) || pb_failed setup \"the bundled pasidbench does "
      "not start: $got\"",
      "lava-test-case pasidbench-setup --result pass",
      "./pasidbench run \"$SUITE\" --backend host --out out --kernel-name \"$KERNEL_NAME\" "
      "--kernel-build-id \"$KERNEL_BUILD_ID\" --kernel-policy \"$KERNEL_POLICY\" "
      "--kernel-source \"$KERNEL_SOURCE\" || true",
      "got=$(./pasidbench lava cases out/results.jsonl 2>&1 > cases.sh) || pb_failed report "
      "\"no results to report: $got\"",
      "sh -e cases.sh"};
  steps.insert(steps.end(), body.begin(), body.end());
  def["run"]["steps"] = steps;
  return def;
}

}  // namespace

std::string lava_test_definition(const std::string& suite_path) {
  return to_yaml(test_definition(suite_path));
}

std::string lava_job_definition(const LavaJobSpec& s) {
  if (s.device_type.empty()) throw InputError({"--device-type", 0}, "name the LAVA device type");
  if (s.kernel_url.empty())
    throw InputError({"--kernel-url", 0}, "name the URL the board fetches the kernel image from");
  if (s.bundle_url.empty())
    throw InputError({"--bundle-url", 0},
                     "name the URL of the runner bundle (pasidbench lava bundle)");
  std::vector<TestCase> plan = plan_lab_tests(s.suite_path, "", {});
  Suite suite = load_suite_file(s.suite_path);
  int test_seconds = 0;
  for (const auto& t : plan) test_seconds += t.timeout_s;
  int test_minutes = test_seconds / 60 + 10;

  ordered_json job;
  job["job_name"] =
      "pasidbench " + suite.name + " on " + s.kernel.name + " (" + s.device_type + ")";
  job["device_type"] = s.device_type;
  job["priority"] = "medium";
  job["visibility"] = "public";
  job["timeouts"] = {{"job", {{"minutes", test_minutes + 30}}},
                     {"action", {{"minutes", 10}}},
                     {"connection", {{"minutes", 5}}}};
  // `lava import` reads the kernel's provenance back from here.
  job["metadata"] = {{"pasidbench.kernel.name", s.kernel.name},
                     {"pasidbench.kernel.build_id", s.build_id},
                     {"pasidbench.kernel.policy", s.kernel.policy},
                     {"pasidbench.kernel.source", s.source},
                     {"pasidbench.suite", suite.name},
                     {"pasidbench.revision", pasidbench_revision()}};
  // A QEMU device is software emulation: its numbers are emulator numbers.
  if (s.boot_method == "qemu") job["metadata"]["pasidbench.machine.emulated"] = "true";
  std::string cmdline = s.kernel.cmdline;
  bool qemu = s.boot_method == "qemu";
  // What the board's steps read BUNDLE_URL from: on a QEMU device the bundle
  // rides into the initramfs as an overlay file.
  std::string guest_bundle = qemu ? kQemuBundlePath : s.bundle_url;
  ordered_json deploy, boot;
  if (qemu) {
    if (s.ramdisk_url.empty())
      throw InputError({"--ramdisk-url", 0},
                       "a qemu job boots an initramfs: name its URL (pasidbench lava guest)");
    std::string append = "console=ttyS0,115200 panic=-1";
    if (!cmdline.empty()) append += " " + cmdline;
    deploy = {
        {"to", "tmpfs"},
        {"os", "oe"},
        {"timeout", {{"minutes", 10}}},
        {"images",
         {{"kernel",
           {{"image_arg", "-kernel {kernel} -append \"" + append + "\""}, {"url", s.kernel_url}}},
          {"initrd",
           {{"image_arg", "-initrd {initrd}"},
            {"url", s.ramdisk_url},
            {"compression", "gz"},
            {"format", "cpio.newc"},
            {"overlays",
             {{"lava", true},
              {"pasidbench",
               {{"url", s.bundle_url}, {"format", "file"}, {"path", kQemuBundlePath}}}}}}}}}};
    boot = {{"method", "qemu"},
            {"media", "tmpfs"},
            {"timeout", {{"minutes", 10}}},
            {"prompts", {s.prompt.empty() ? kGuestPrompt : s.prompt}}};
  } else {
    ordered_json kernel = {{"url", s.kernel_url}};
    // lava-common allows image|uimage|zimage; ipxe needs none.
    if (!s.kernel_type.empty()) {
      if (s.kernel_type != "image" && s.kernel_type != "uimage" && s.kernel_type != "zimage")
        throw InputError({"--kernel-type", 0},
                         "'" + s.kernel_type + "': LAVA knows image, uimage and zimage");
      kernel["type"] = s.kernel_type;
    }
    deploy = {{"to", "tftp"}, {"timeout", {{"minutes", 10}}}, {"kernel", kernel}};
    if (!s.ramdisk_url.empty()) deploy["ramdisk"] = {{"url", s.ramdisk_url}, {"compression", "gz"}};
    if (!s.modules_url.empty()) deploy["modules"] = {{"url", s.modules_url}, {"compression", "xz"}};
    if (!s.rootfs_url.empty()) deploy["nfsrootfs"] = {{"url", s.rootfs_url}, {"compression", "xz"}};
    deploy["os"] = "debian";
    boot = {{"method", s.boot_method},
            {"commands", "nfs"},
            {"prompts", {s.prompt.empty() ? "root@(.*):~#" : s.prompt}},
            {"auto_login", {{"login_prompt", "login:"}, {"username", "root"}}},
            {"timeout", {{"minutes", 10}}}};
  }
  ParamList values = {{"BUNDLE_URL", guest_bundle},
                      {"SUITE", "suites/" + fs::path(s.suite_path).filename().string()},
                      {"KERNEL_NAME", s.kernel.name},
                      {"KERNEL_BUILD_ID", s.build_id},
                      {"KERNEL_POLICY", s.kernel.policy},
                      {"KERNEL_SOURCE", s.source.empty() ? "lava" : s.source}};
  ordered_json definition = {{"name", "pasidbench"}};
  if (s.testdef_repository.empty()) {
    definition["from"] = "inline";
    definition["path"] = "inline/pasidbench.yaml";
    definition["repository"] = test_definition(s.suite_path, values);
  } else {
    definition["from"] = "git";
    definition["repository"] = s.testdef_repository;
    definition["path"] = s.testdef_path;
    definition["parameters"] = ordered_json::object();
    for (const auto& [k, v] : values) definition["parameters"][k] = v;
  }
  ordered_json test = {{"timeout", {{"minutes", test_minutes}}}, {"definitions", {definition}}};
  job["actions"] = {{{"deploy", deploy}}, {{"boot", boot}}, {{"test", test}}};
  if (qemu)
    job["context"] = {{"arch", "amd64"}};
  else if (!cmdline.empty())
    job["context"] = {{"extra_kernel_args", cmdline}};
  return to_yaml(job);
}

LavaGuest lava_guest(const KernelManifest& kernel, const std::string& out_dir,
                     const std::string& cache_dir, std::ostream& log) {
  std::string busybox = find_static_busybox();
  if (busybox.empty()) throw std::runtime_error("no static busybox found (install busybox-static)");
  PreparedKernel k = prepare_kernel(kernel, cache_dir, log);
  fs::create_directories(out_dir);
  LavaGuest g;
  g.vmlinuz = (fs::path(out_dir) / "vmlinuz").string();
  g.rootfs = (fs::path(out_dir) / "rootfs.cpio.gz").string();
  g.build_id = k.build_id;
  g.source = k.source;
  fs::copy_file(k.vmlinuz, g.vmlinuz, fs::copy_options::overwrite_existing);
  std::string cpio_path = (fs::path(out_dir) / "rootfs.cpio").string();
  {
    std::ofstream out(cpio_path, std::ios::binary);
    CpioWriter cpio(out);
    for (const char* d : {"/dev", "/proc", "/sys", "/tmp", "/root", "/opt", "/etc"})
      cpio.add_directory(d);
    cpio.add_file_from("/bin/busybox", busybox, 0755);
    // A shell on the console, job control included (cttyhack), again after
    // every exit: LAVA types its test shell into it.
    cpio.add_file("/init",
                  "#!/bin/busybox sh\n"
                  "/bin/busybox --install -s\n"
                  "export PATH=/bin:/sbin:/usr/bin:/usr/sbin HOME=/root\n"
                  "mount -t devtmpfs devtmpfs /dev\n"
                  "exec 0</dev/console 1>/dev/console 2>&1\n"
                  "mount -t proc proc /proc; mount -t sysfs sysfs /sys; mount -t tmpfs tmpfs /tmp\n"
                  "hostname pasidbench-guest\n"
                  "cd /root\n"
                  "while :; do setsid cttyhack /bin/sh -l; done\n",
                  0755);
    cpio.add_file("/etc/profile", std::string("PS1='") + kGuestPrompt + "'\n", 0644);
    cpio.finish();
    if (!out.flush()) throw std::runtime_error("cannot write " + cpio_path);
  }
  ProcessResult gz =
      run_process({"gzip", "-f", "-9", cpio_path}, ProcessOptions().with_timeout(120));
  if (!gz.ok()) throw std::runtime_error("gzip " + cpio_path + ": " + gz.describe(120));
  log << "lava: guest for " << kernel.name << ": " << g.vmlinuz << ", " << g.rootfs << "\n";
  return g;
}

std::string lava_cases_script(const std::vector<json>& records) {
  std::ostringstream out;
  out << "# lava-test-case calls for " << records.size() << " record(s), written by pasidbench\n";
  for (const auto& j : records) {
    if (!j.is_object() || !j.contains("record") || j["record"] != "test") continue;
    ResultRecord r = record_from_json(j);
    std::string name = lava_case_name(r.test_id);
    out << "lava-test-case " << shell_quote(name) << " --result " << lava_result(r.outcome) << "\n";
    for (const auto& [metric, m] : r.metrics) {
      if (m.samples.empty() || !std::isfinite(m.value)) continue;
      char value[64];
      std::snprintf(value, sizeof value, "%.17g", m.value);
      out << "lava-test-case " << shell_quote(name + "." + metric)
          << " --result pass --measurement " << value << " --units "
          << shell_quote(lava_case_name(m.unit)) << "\n";
    }
  }
  return out.str();
}

namespace {

// What LAVA itself says about a job, beyond the definition's test cases:
// the `lava` suite's verdicts (the `job` case carries the error that ended
// the job) and the definition's own set-up steps (pasidbench-setup,
// pasidbench-report), which no planned test accounts for.
struct LavaJobVerdict {
  std::string job_error;                    // lava/job's error_type: error_msg
  std::vector<std::string> failed_actions;  // other failed cases of the `lava` suite
  std::vector<std::pair<std::string, std::string>> failed_steps;  // (case, logged)

  void note_lava_case(const YAML::Node& c) {
    std::string result = scalar(c, "result");
    if (result == "pass" || result == "skip") return;
    std::string name = scalar(c, "name");
    if (name != "job") {
      failed_actions.push_back(name);
      return;
    }
    YAML::Node meta = c["metadata"];
    std::string msg = meta && meta.IsMap() ? scalar(meta, "error_msg") : "";
    std::string type = meta && meta.IsMap() ? scalar(meta, "error_type") : "";
    job_error = (type.empty() || type == "None" ? "" : type + ": ") +
                (msg.empty() || msg == "None" ? "job failed" : msg);
  }
  bool is_step(const std::string& name) const {
    return name == "pasidbench-setup" || name == "pasidbench-report";
  }
  // The job's error, else the failed actions; empty when LAVA saw nothing wrong.
  std::string why() const {
    std::string w = job_error;
    if (!failed_actions.empty()) {
      w += std::string(w.empty() ? "" : "; ") + "failed LAVA action(s):";
      for (const auto& a : failed_actions) w += " " + a;
    }
    return w;
  }
};

// A failed set-up step is a failed test of its own ("setup@lava"), with the
// reason LAVA's job error carries (lava-test-raise put it there); a job
// LAVA failed for its own reasons (boot, timeout, infrastructure) is an
// error record "job@lava".
std::vector<ResultRecord> lava_verdict_records(const LavaJobVerdict& v,
                                               const std::vector<TestCase>& plan,
                                               const Provenance& prov, const std::string& run_id,
                                               const std::string& job_id) {
  std::vector<ResultRecord> out;
  auto record = [&](const std::string& test_id, Outcome outcome, const std::string& reason,
                    const std::string& logged) {
    ResultRecord r;
    r.suite = plan.empty() ? "" : plan.front().suite;
    r.test_id = test_id;
    r.kind = "conformance";
    r.backend = "lava";
    r.workload = "lava:" + test_id.substr(0, test_id.find('@'));
    r.policy = prov.kernel.policy;
    r.outcome = outcome;
    r.reason = reason;
    r.run_id = run_id;
    r.provenance = prov;
    r.started_at = logged.size() >= 19 ? logged.substr(0, 10) + "T" + logged.substr(11, 8) + "Z"
                                       : utc_now_rfc3339();
    out.push_back(r);
  };
  std::string job = "job " + (job_id.empty() ? "?" : job_id);
  for (const auto& [name, logged] : v.failed_steps)
    record(name.substr(std::string("pasidbench-").size()) + "@lava", Outcome::kFail,
           v.why().empty() ? "LAVA case " + name + " failed (" + job + "; the reason is in its log)"
                           : v.why(),
           logged);
  if (v.failed_steps.empty() && !v.why().empty())
    record("job@lava", Outcome::kError, "LAVA " + job + ": " + v.why(), "");
  return out;
}

}  // namespace

LavaImportSummary lava_import(const LavaImportSpec& spec) {
  YAML::Node results = load_yaml(spec.results_yaml);
  YAML::Node job = load_yaml(spec.job_yaml);
  if (!results.IsSequence())
    throw InputError({spec.results_yaml, 0},
                     "expected LAVA's results export: a list of test cases");
  YAML::Node meta = job["metadata"];
  if (!meta || !meta.IsMap() || !meta["pasidbench.kernel.name"])
    throw InputError({spec.job_yaml, 0},
                     "the job's metadata names no pasidbench.kernel.name (not a `pasidbench lava "
                     "job` definition?)");
  std::vector<TestCase> plan = plan_lab_tests(spec.suite_path, "", {});
  std::map<std::string, const TestCase*> by_case;
  for (const auto& t : plan) by_case[lava_case_name(t.test_id)] = &t;

  Provenance prov;
  prov.kernel.name = scalar(meta, "pasidbench.kernel.name");
  prov.kernel.release = "unknown";
  prov.kernel.build_id = scalar(meta, "pasidbench.kernel.build_id");
  prov.kernel.policy = scalar(meta, "pasidbench.kernel.policy");
  prov.kernel.source = scalar(meta, "pasidbench.kernel.source");
  prov.machine.hostname = "lava:" + scalar(job, "device_type");
  prov.machine.emulated = scalar(meta, "pasidbench.machine.emulated") == "true";
  prov.pasidbench_revision = scalar(meta, "pasidbench.revision");
  if (prov.pasidbench_revision.empty()) prov.pasidbench_revision = "unknown";

  LavaImportSummary summary;
  std::map<std::string, ResultRecord> records;  // by test id, in plan order later
  std::string job_id;
  LavaJobVerdict verdict;
  for (const auto& c : results) {
    if (!c.IsMap()) continue;
    std::string suite = scalar(c, "suite");
    std::string name = scalar(c, "name");
    job_id = scalar(c, "job");
    if (suite == "lava") {  // LAVA's own job actions
      verdict.note_lava_case(c);
      continue;
    }
    if (verdict.is_step(name)) {
      if (scalar(c, "result") != "pass")
        verdict.failed_steps.push_back({name, scalar(c, "logged")});
      continue;
    }
    const TestCase* test = nullptr;
    std::string metric;
    if (auto it = by_case.find(name); it != by_case.end()) {
      test = it->second;
    } else {
      // "<case>.<metric>": the longest planned case name that prefixes it.
      for (const auto& [case_name, t] : by_case)
        if (name.size() > case_name.size() + 1 &&
            name.compare(0, case_name.size(), case_name) == 0 && name[case_name.size()] == '.' &&
            find_metric(name.substr(case_name.size() + 1)) &&
            (!test || case_name.size() > lava_case_name(test->test_id).size())) {
          test = t;
          metric = name.substr(case_name.size() + 1);
        }
    }
    if (!test) {
      ++summary.unknown;
      summary.notes.push_back("case '" + name + "' (suite " + suite +
                              ") matches no test of the suite");
      continue;
    }
    auto [it, fresh] = records.try_emplace(test->test_id);
    ResultRecord& r = it->second;
    if (fresh) {
      r.suite = test->suite;
      r.test_id = test->test_id;
      r.kind = test->kind == WorkloadKind::kMicro ? "benchmark" : "conformance";
      r.backend = test->backend;
      r.workload = test->workload;
      r.params = test->recorded_params;
      r.policy = prov.kernel.policy;
      // LAVA's result is the check's outcome; what the suite expects of it
      // comes from the plan, as in a direct run.
      r.expect_fail = test->expect_fail;
      r.mutant_of = test->mutant_of;
      r.outcome = Outcome::kError;
      r.reason = "LAVA reported measurements but no verdict";
      std::string logged = scalar(c, "logged");
      if (logged.size() >= 19)
        r.started_at = logged.substr(0, 10) + "T" + logged.substr(11, 8) + "Z";
    }
    if (metric.empty()) {
      r.outcome = from_lava_result(scalar(c, "result"));
      r.reason = r.outcome == Outcome::kPass || r.outcome == Outcome::kSkip
                     ? ""
                     : "LAVA result '" + scalar(c, "result") + "' (job " + job_id +
                           "; the reason is in the job log)";
    } else {
      std::string text = scalar(c, "measurement");
      char* end = nullptr;
      double v = std::strtod(text.c_str(), &end);
      if (text.empty() || text == "None" || *end != '\0') {
        r.add_missing_metric(metric, "LAVA case '" + name + "' has no measurement");
      } else {
        r.add_metric(metric, {v},
                     "imported from LAVA: one number per case (the run's median); the samples stay "
                     "in the job's own results.jsonl");
      }
    }
  }

  fs::create_directories(spec.out_dir);
  std::string path = (fs::path(spec.out_dir) / "results.jsonl").string();
  std::set<std::pair<std::string, std::string>> done;  // (run id, test id) imported before
  for (const auto& j : read_jsonl(path).records)
    if (record_type(j) == "test") done.insert({j.value("run_id", ""), j.value("test_id", "")});
  JsonlWriter w(path);
  std::string run_id = "lava-" + (job_id.empty() ? new_run_id() : job_id);
  for (const auto& t : plan) {
    ResultRecord r;
    if (auto it = records.find(t.test_id); it != records.end()) {
      r = it->second;
      ++summary.imported;
    } else {
      r.suite = t.suite;
      r.test_id = t.test_id;
      r.kind = t.kind == WorkloadKind::kMicro ? "benchmark" : "conformance";
      r.backend = t.backend;
      r.workload = t.workload;
      r.params = t.recorded_params;
      r.policy = prov.kernel.policy;
      r.expect_fail = t.expect_fail;
      r.mutant_of = t.mutant_of;
      r.outcome = Outcome::kError;
      r.reason = "not in LAVA's results for job " + (job_id.empty() ? "?" : job_id);
      if (!verdict.why().empty()) r.reason += " (LAVA: " + verdict.why() + ")";
      ++summary.missing;
    }
    r.run_id = run_id;
    if (done.count({r.run_id, r.test_id})) continue;
    r.provenance = prov;
    if (r.started_at.empty()) r.started_at = utc_now_rfc3339();
    w.append(to_json(r));
  }
  for (const auto& r : lava_verdict_records(verdict, plan, prov, run_id, job_id)) {
    ++summary.lava_failures;
    summary.notes.push_back(r.test_id + ": " + r.reason);
    if (!done.count({r.run_id, r.test_id})) w.append(to_json(r));
  }
  return summary;
}

}  // namespace pasidbench::lab
