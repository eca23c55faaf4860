#include "runners/lab/vm_runner.h"

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "platform/environment.h"
#include "platform/input_error.h"
#include "platform/process.h"
#include "runners/lab/channel.h"
#include "runners/lab/cpio.h"
#include "runners/lab/kernel_fetch.h"
#include "runners/lab/kmod.h"
#include "runners/lab/lab_plan.h"
#include "runners/lab/lab_results.h"
#include "runners/lab/pasidlab_build.h"
#include "runners/lab/payload.h"

namespace pasidbench::lab {

namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

constexpr const char* kGuestHome = "/opt/pasidbench";
constexpr const char* kGuestResults = "/results";
// The drivers the results channel needs; on 6.1 they are modules, on 6.12
// built in. modinfo's depends= pulls in virtio, virtio_ring and the rest.
const std::vector<std::string> kChannelModules = {"virtio_pci", "virtio_console"};

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// "CONFIG_VIRTIO_CONSOLE=m" -> "m"; "" when unset or the config is unknown.
std::string kconfig_value(const std::string& config_path, const std::string& option) {
  if (config_path.empty()) return {};
  std::ifstream in(config_path);
  std::string prefix = option + "=";
  for (std::string line; std::getline(in, line);)
    if (line.rfind(prefix, 0) == 0) return line.substr(prefix.size());
  return {};
}

// Everything one kernel's initramfs holds apart from the per-boot files.
struct GuestImage {
  const Payload* payload = nullptr;
  std::string busybox;
  std::string init_script;
  std::vector<ModuleToLoad> modules;
  std::string pasidlab_ko;       // built for this kernel when the suite has kmod tests
  std::string pasidlab_why_not;  // or why it could not be
};

// Writes the initramfs for one boot; returns its size in bytes.
uint64_t write_initramfs(const std::string& path, const GuestImage& image,
                         const std::vector<std::string>& agent_args,
                         const std::vector<std::string>& seed_records) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw std::runtime_error("cannot write " + path);
  CpioWriter cpio(out);
  for (const char* dir : {"/dev", "/proc", "/sys", "/tmp", "/root", "/results", "/sbin"})
    cpio.add_directory(dir);
  cpio.add_file_from("/bin/busybox", image.busybox, 0755);
  cpio.add_file("/init", image.init_script, 0755);
  std::string module_list;
  for (const auto& m : image.modules) {
    cpio.add_file("/lib/modules/pasidbench/" + m.name + ".ko", m.data, 0644);
    module_list += m.name + "\n";
  }
  cpio.add_file("/etc/pasidbench/modules", module_list);
  std::string args;
  for (const auto& a : agent_args) args += a + "\n";
  cpio.add_file("/etc/pasidbench/agent.args", args);
  std::string seed;
  for (const auto& line : seed_records) seed += line + "\n";
  if (!seed.empty()) cpio.add_file(std::string(kGuestResults) + "/results.jsonl", seed);
  if (!image.pasidlab_ko.empty()) cpio.add_file_from(kGuestPasidlab, image.pasidlab_ko, 0644);
  for (const auto& f : image.payload->files) {
    if (!f.link_target.empty())
      cpio.add_symlink(f.dest, f.link_target);
    else if (!f.source.empty())
      cpio.add_file_from(f.dest, f.source, f.mode);
    else
      cpio.add_file(f.dest, f.content, f.mode);
  }
  cpio.finish();
  if (!out) throw std::runtime_error("writing " + path + " failed");
  return cpio.bytes_written();
}

struct BootResult {
  bool started = false;  // QEMU ran
  std::string start_error;
  bool hello = false;
  bool done = false;
  bool timed_out = false;
  std::string timeout_what;
  json hello_message;
  json done_message;
  int qemu_status = 0;
  double wall_s = 0;
  double hello_after_s = -1;
  int records = 0;
};

// Boots once and streams whatever the agent sends into `session` until QEMU
// exits or the watchdog gives up on it.
BootResult boot_and_stream(const VmBoot& boot, const KernelManifest& kernel, int grace_s,
                           KernelSession& session, const std::string& qemu_stderr,
                           std::ostream& log, const std::string& prefix) {
  BootResult result;
  std::error_code ec;
  fs::remove(boot.channel_file, ec);
  std::ofstream(boot.channel_file).close();
  ChildProcess qemu;
  auto start = Clock::now();
  if (!qemu.start(qemu_command(boot), "", qemu_stderr, &result.start_error)) return result;
  result.started = true;

  // Under -icount guest time runs slower than ours while the guest computes:
  // the watchdog allows for it.
  double slack = boot.icount ? 10.0 : 1.0;
  auto deadline = start + std::chrono::seconds(kernel.boot_timeout_s);
  auto extend = [&] {
    const TestCase* t = session.in_flight();
    int allow = (t ? t->timeout_s : 0) + grace_s;
    deadline = Clock::now() + std::chrono::milliseconds(static_cast<long>(allow * slack * 1000));
  };
  LineSplitter splitter;
  uint64_t offset = 0;
  auto drain = [&] {
    std::ifstream in(boot.channel_file, std::ios::binary);
    in.seekg(static_cast<std::streamoff>(offset));
    std::string chunk((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    offset += chunk.size();
    for (const auto& line : splitter.feed(chunk)) {
      ChannelMessage m = classify_line(line);
      switch (m.kind) {
        case ChannelMessage::Kind::kHello:
          result.hello = true;
          result.hello_message = m.json;
          result.hello_after_s = seconds_since(start);
          log << prefix << " runner up after " << static_cast<int>(result.hello_after_s * 10) / 10.0
              << " s (kernel " << m.json.value("release", "?") << ")\n"
              << std::flush;
          extend();
          break;
        case ChannelMessage::Kind::kDone:
          result.done = true;
          result.done_message = m.json;
          deadline = Clock::now() + std::chrono::seconds(30);  // time to power off
          break;
        case ChannelMessage::Kind::kRecord:
          if (session.accept(m.json)) ++result.records;
          extend();
          break;
        default:
          log << prefix << " ignored a line on the results channel: " << line.substr(0, 120)
              << "\n";
      }
    }
  };
  while (true) {
    drain();
    if (qemu.exited(&result.qemu_status)) break;
    if (Clock::now() > deadline) {
      result.timed_out = true;
      qemu.kill_group();
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  drain();
  result.wall_s = seconds_since(start);
  return result;
}

std::string qemu_version(const std::string& qemu) {
  ProcessResult r = run_process({qemu, "--version"}, ProcessOptions().with_timeout(30));
  std::string first = r.out.substr(0, r.out.find('\n'));
  return r.ok() ? first : "unknown";
}

}  // namespace

std::vector<std::string> qemu_command(const VmBoot& b) {
  std::vector<std::string> cmd = {b.qemu,
                                  "-accel",
                                  "tcg",
                                  "-machine",
                                  "q35",
                                  "-cpu",
                                  "max",
                                  "-smp",
                                  std::to_string(b.smp),
                                  "-m",
                                  std::to_string(b.memory_mib) + "M",
                                  "-nodefaults",
                                  "-no-user-config",
                                  "-display",
                                  "none",
                                  "-no-reboot",
                                  "-nic",
                                  "none"};
  // intel-iommu has to come before the devices it translates for.
  if (b.intel_iommu)
    cmd.insert(cmd.end(),
               {"-device", "intel-iommu,intremap=on,x-scalable-mode=on,x-pasid-mode=on"});
  if (b.icount) cmd.insert(cmd.end(), {"-icount", "shift=0,sleep=off"});
  cmd.insert(cmd.end(),
             {"-kernel", b.vmlinuz, "-initrd", b.initramfs, "-append", b.append, "-serial",
              "file:" + b.console_log, "-device", "virtio-serial-pci,id=vser0", "-chardev",
              "file,id=results,path=" + b.channel_file, "-device",
              std::string("virtserialport,bus=vser0.0,chardev=results,name=") + kResultsPortName});
  return cmd;
}

std::string find_static_busybox() {
  for (const std::string& candidate :
       {find_program("busybox"), std::string("/bin/busybox"), std::string("/usr/bin/busybox")}) {
    if (candidate.empty() || !fs::exists(candidate)) continue;
    // A static binary has no PT_INTERP: ldd says so.
    ProcessResult r = run_process({"ldd", candidate}, ProcessOptions().with_timeout(30));
    if ((r.out + r.err).find("not a dynamic executable") != std::string::npos) return candidate;
  }
  return {};
}

namespace {

// What every kernel of one lab run shares.
struct VmLab {
  const LabOptions& options;
  std::ostream& log;
  LabResults& results;
  const Payload& payload;
  std::string busybox;
  std::string init_script;
  std::string guest_hostname;
  std::string qemu_version;
  std::string cache;
  std::string run_id;
  fs::path out;
  fs::path work;
  bool icount = false;
};

// The results channel's drivers: built in, or modules to carry (returned in
// load order). Returns what is missing, or "" when the channel will work.
std::string channel_drivers(const PreparedKernel& pk, std::vector<ModuleToLoad>* modules) {
  if (!pk.modules_dir.empty()) {
    try {
      ResolvedModules mods = resolve_modules(pk.modules_dir, kChannelModules);
      *modules = std::move(mods.load_order);
      if (mods.missing.empty()) return {};
      std::string names;
      for (const auto& m : mods.missing) names += (names.empty() ? "" : ", ") + m;
      return "kernel has no " + names + " (neither a module in " + pk.modules_dir +
             " nor built in): no virtio-serial results channel";
    } catch (const std::exception& e) {
      return std::string("cannot read the kernel's modules: ") + e.what();
    }
  }
  for (const char* opt : {"CONFIG_VIRTIO_PCI", "CONFIG_VIRTIO_CONSOLE"}) {
    std::string v = kconfig_value(pk.config, opt);
    if (v == "m" || (!pk.config.empty() && v.empty()))
      return std::string(opt) +
             (v == "m" ? " is a module and the manifest names no modules directory"
                       : " is not set in " + pk.config) +
             ": no virtio-serial results channel";
  }
  return {};
}

// The verdict on one boot that ended, written into `session` (the test in
// flight, the tests that cannot run) and `boot` (how it ended). Returns false
// when the kernel never reached the runner: booting it again would end the
// same way.
bool settle_boot(const BootResult& br, int attempt, int max_boots, const std::string& console_log,
                 const std::string& qemu_stderr, int boot_timeout_s, KernelSession& session,
                 json& boot, Outcome* kernel_outcome, std::string* kernel_reason) {
  std::vector<std::string> console = log_tail(console_log, 400);
  std::vector<std::string> tail(console.size() > 40 ? console.end() - 40 : console.begin(),
                                console.end());
  std::string death = kernel_death_line(console);
  json crash = {{"console_log", console_log}, {"console_tail", tail}, {"boot", attempt}};

  if (!br.started) {
    boot["end"] = "qemu did not start";
    *kernel_outcome = Outcome::kError;
    *kernel_reason = "qemu did not start: " + br.start_error;
    session.record_unrun("not run: " + *kernel_reason);
    return false;
  }
  if (!br.hello) {
    if (br.timed_out) {
      std::string last;
      for (auto it = console.rbegin(); it != console.rend() && last.empty(); ++it)
        if (it->find_first_not_of(" \t") != std::string::npos) last = it->substr(0, 160);
      *kernel_outcome = Outcome::kTimeout;
      *kernel_reason = "kernel did not reach the runner within " + std::to_string(boot_timeout_s) +
                       " s" +
                       (!death.empty() ? " (" + death + ")"
                        : last.empty() ? " (console empty)"
                                       : "; console ends with: " + last);
      boot["end"] = "watchdog";
    } else if (!death.empty()) {
      *kernel_outcome = Outcome::kCrashed;
      *kernel_reason = "kernel died before the runner started: " + death;
      boot["end"] = "panic";
    } else {
      std::vector<std::string> qerr = log_tail(qemu_stderr, 5);
      *kernel_outcome = Outcome::kError;
      *kernel_reason = "VM stopped before the runner started (qemu " +
                       std::string(WIFEXITED(br.qemu_status)
                                       ? "exit " + std::to_string(WEXITSTATUS(br.qemu_status))
                                       : "killed") +
                       (qerr.empty() ? "" : ": " + qerr.back()) + ")";
      boot["end"] = "stopped";
    }
    session.record_unrun("not run: " + *kernel_reason, crash);
    return false;
  }
  if (br.done) {
    int rc = br.done_message.value("exit_code", -1);
    boot["end"] = "done";
    boot["runner_exit_code"] = rc;
    if (!session.complete()) {
      // The runner ended without recording everything: bad input on the
      // guest side (rc 2) or a runner crash; its stderr says which.
      json d = crash;
      d["runner_stderr_tail"] = br.done_message.value("stderr_tail", json::array());
      std::string last = d["runner_stderr_tail"].empty() ? "" : d["runner_stderr_tail"].back();
      session.record_unrun("not run: the runner in the VM exited with " + std::to_string(rc) +
                               (last.empty() ? "" : ": " + last),
                           d);
    }
    return true;
  }
  // The kernel died or hung in the middle of the suite: the test that was
  // running takes the blame, the rest get another boot.
  std::string what = br.timed_out ? "VM stopped responding" : "kernel died";
  if (!death.empty()) what += " (" + death + ")";
  boot["end"] = br.timed_out ? "watchdog" : (death.empty() ? "stopped" : "panic");
  if (const TestCase* t = session.in_flight())
    session.record(*t, br.timed_out ? Outcome::kTimeout : Outcome::kCrashed,
                   what + " while this test ran in the VM", crash);
  if (attempt == max_boots && !session.complete())
    session.record_unrun("not run: " + what + " during an earlier test and " +
                             std::to_string(max_boots) + " boot(s) were used",
                         crash);
  return true;
}

// Prepares, boots (as often as allowed) and records one kernel. Returns
// its failures.
int run_kernel(const VmLab& lab, const KernelManifest& k, const std::vector<TestCase>& plan,
               const std::string& prefix) {
  const LabOptions& o = lab.options;
  fs::path kdir = kernel_results_dir(lab.out.string(), k.name);
  fs::create_directories(kdir);
  auto kernel_start = Clock::now();
  Provenance prov = lab_provenance(k, k.release, "", "", lab.guest_hostname, true, o.time_base);
  KernelSession session(lab.results, plan, prov, lab.run_id, lab.log, prefix);
  if (session.complete() && session.has_record(kBootTestId)) {
    // Resumed: what was recorded is the verdict, failures included.
    lab.log << prefix << " already recorded (resume): " << session.tally().summary() << "\n";
    return session.failures();
  }
  lab.log << prefix << " preparing kernel (" << to_string(k.source) << ")\n" << std::flush;
  json details = {{"manifest", k.path},
                  {"qemu", lab.qemu_version},
                  {"sva_declared", k.sva},
                  {"emulated", "QEMU TCG: emulator numbers, not hardware numbers"}};
  if (!k.notes.empty()) details["notes"] = k.notes;
  auto give_up = [&](const std::string& why) {
    session.record_boot(Outcome::kError, why, details, "vm");
    session.record_unrun("not run: " + why);
    return session.failures();
  };
  PreparedKernel pk;
  try {
    pk = prepare_kernel(k, lab.cache, lab.log);
  } catch (const KernelUnavailable& e) {
    return give_up(std::string("kernel unavailable: ") + e.what());
  }
  session.provenance().kernel.release = pk.release.empty() ? "unknown" : pk.release;
  session.provenance().kernel.build_id = pk.build_id;
  session.provenance().kernel.source = pk.source;
  details["vmlinuz"] = pk.vmlinuz;

  GuestImage image;
  image.payload = &lab.payload;
  image.busybox = lab.busybox;
  image.init_script = lab.init_script;
  std::string channel_problem = channel_drivers(pk, &image.modules);
  json module_names = json::array();
  for (const auto& m : image.modules) module_names.push_back(m.name);
  details["modules"] = module_names;
  if (!channel_problem.empty()) return give_up(channel_problem);
  // The kmod backends load pasidlab.ko with each policy: build it for this
  // kernel (cached by build.sh) and ship it.
  const bool kmod = plan_uses_kmod(plan);
  if (kmod) {
    PasidlabBuild mb = build_pasidlab(pk, (lab.work / "pasidlab" / k.name).string(), lab.log);
    if (mb.ko.empty()) {
      details["pasidlab"] = {{"error", mb.why_not}};
      image.pasidlab_why_not = mb.why_not;
      lab.log << prefix << " pasidlab.ko: " << mb.why_not << " (its tests will SKIP)\n";
    } else {
      details["pasidlab"] = {{"ko", mb.ko}, {"build_s", mb.seconds}};
      image.pasidlab_ko = mb.ko;
    }
  }
  bool iommu = k.iommu == "intel-scalable";
  if (iommu && !pk.config.empty() && kconfig_value(pk.config, "CONFIG_INTEL_IOMMU") != "y") {
    iommu = false;
    details["iommu_note"] = "CONFIG_INTEL_IOMMU is not built in: booted without intel-iommu";
  }

  json boots = json::array();
  Outcome kernel_outcome = Outcome::kPass;
  std::string kernel_reason;
  for (int attempt = 1; attempt <= o.max_boots && !session.complete(); ++attempt) {
    std::string tag = "boot" + std::to_string(attempt);
    VmBoot vb;
    vb.qemu = o.qemu;
    vb.vmlinuz = pk.vmlinuz;
    vb.initramfs = (lab.work / (k.name + ".cpio")).string();
    vb.console_log = (kdir / ("console-" + tag + ".log")).string();
    vb.channel_file = (kdir / ("channel-" + tag + ".jsonl")).string();
    vb.smp = o.smp > 0 ? o.smp : k.smp;
    vb.memory_mib = k.memory_mib;
    vb.intel_iommu = iommu;
    vb.icount = lab.icount;
    vb.append =
        "console=ttyS0 panic=-1 oops=panic loglevel=4 pasidbench.hostname=" + lab.guest_hostname +
        (iommu ? " intel_iommu=on,sm_on" : "") + (k.cmdline.empty() ? "" : " " + k.cmdline);

    // What this kernel recorded so far goes in, so the runner resumes after it.
    std::vector<std::string> seed = lab.results.record_lines(k.name);
    RunArgs ra;
    ra.suite = lab.payload.suite;
    ra.out_dir = kGuestResults;
    ra.resume = !seed.empty();
    ra.filter = o.filter;
    ra.extra_params = o.extra_params;
    ra.emulated = true;
    ra.time_base = o.time_base;
    ra.host_only = !kmod;
    if (!image.pasidlab_ko.empty())
      ra.extra_params["module"] = {kGuestPasidlab, {"lab", 0}};
    else if (!image.pasidlab_why_not.empty())
      ra.extra_params["module_unavailable"] = {image.pasidlab_why_not, {"lab", 0}};
    std::vector<std::string> agent = {lab.payload.binary,
                                      "lab-agent",
                                      "--channel",
                                      std::string("virtio:") + kResultsPortName,
                                      "--results",
                                      std::string(kGuestResults) + "/results.jsonl",
                                      "--"};
    for (auto& a : run_command_args(k, pk.build_id, pk.source, ra)) agent.push_back(a);

    uint64_t size = write_initramfs(vb.initramfs, image, agent, seed);
    // The kernel holds the archive and its unpacked copy at once.
    uint64_t needed_mib = 2 * size / (1 << 20) + 256;
    if (needed_mib > static_cast<uint64_t>(k.memory_mib)) {
      kernel_outcome = Outcome::kError;
      kernel_reason = "initramfs is " + std::to_string(size >> 20) + " MiB: it does not fit in " +
                      std::to_string(k.memory_mib) + " MiB of guest memory (needs about " +
                      std::to_string(needed_mib) + "; raise [vm] memory_mib in " + k.path + ")";
      session.record_unrun("not run: " + kernel_reason);
      break;
    }
    lab.log << prefix << " booting (" << tag << ", initramfs " << (size >> 20) << " MiB"
            << (lab.icount ? ", -icount virtual time" : "") << ")\n"
            << std::flush;
    details["qemu_command"] = shell_join(qemu_command(vb));
    details["initramfs_bytes"] = size;
    std::string qemu_stderr = (kdir / ("qemu-" + tag + ".stderr")).string();
    BootResult br =
        boot_and_stream(vb, k, o.watchdog_grace_s, session, qemu_stderr, lab.log, prefix);
    json boot = {{"boot", attempt},
                 {"wall_s", br.wall_s},
                 {"records", br.records},
                 {"console_log", vb.console_log}};
    if (br.hello) {
      boot["runner_after_s"] = br.hello_after_s;
      boot["guest_uptime_at_runner_s"] = br.hello_message.value("uptime_s", -1.0);
      session.provenance().kernel.release = br.hello_message.value("release", pk.release);
      session.provenance().kernel.version = br.hello_message.value("version", "");
      if (br.hello_message.contains("features")) {
        details["features"] = br.hello_message["features"];
        session.provenance().machine.cpu_model =
            br.hello_message["features"]["cpu"].value("model", "");
      }
    }
    bool reached = settle_boot(br, attempt, o.max_boots, vb.console_log, qemu_stderr,
                               k.boot_timeout_s, session, boot, &kernel_outcome, &kernel_reason);
    boots.push_back(boot);
    if (!reached) break;
  }
  details["boots"] = boots;
  details["wall_s"] = seconds_since(kernel_start);
  session.record_boot(kernel_outcome, kernel_reason, details, "vm");
  lab.log << prefix << " finished in " << static_cast<int>(seconds_since(kernel_start))
          << " s: " << session.tally().summary() << "\n"
          << std::flush;
  return session.failures();
}

}  // namespace

int run_vm_lab(const LabOptions& o, std::ostream& log) {
  // All input is checked before anything boots.
  std::vector<KernelManifest> kernels = load_manifests(o.kernel_manifests);
  std::vector<TestCase> plan = plan_lab_tests(o.suite_path, o.filter, o.extra_params);
  if (o.out_dir.empty()) throw InputError({"--out", 0}, "lab needs --out DIR");
  if (o.time_base != "real" && o.time_base != "virtual-icount")
    throw InputError({"--time-base", 0}, "time base must be real | virtual-icount");
  if (o.max_boots < 1) throw InputError({"--max-boots", 0}, "must be at least 1");
  if (o.smp < 0 || o.smp > 64) throw InputError({"--smp", 0}, "must be 1..64");
  if (o.watchdog_grace_s < 1) throw InputError({"--watchdog-grace", 0}, "must be at least 1 s");
  if (find_program(o.qemu).empty())
    throw InputError({"--qemu", 0}, o.qemu + " not found (install qemu-system-x86)");
  std::string busybox = o.busybox.empty() ? find_static_busybox() : o.busybox;
  if (busybox.empty() || !fs::exists(busybox))
    throw InputError({"--busybox", 0}, "no static busybox found (install busybox-static)");
  std::string init_script_path =
      (fs::path(pasidbench_home()) / "runners" / "lab" / "guest" / "init.sh").string();
  if (!fs::exists(init_script_path))
    throw InputError("lab: " + init_script_path + " not found (set PASIDBENCH_HOME?)");
  std::string self = o.pasidbench_binary.empty() ? fs::read_symlink("/proc/self/exe").string()
                                                 : o.pasidbench_binary;

  fs::path out(o.out_dir);
  fs::create_directories(out / "work");
  if (!o.resume && fs::exists(out / "results.jsonl") && fs::file_size(out / "results.jsonl") > 0)
    log << "lab: " << (out / "results.jsonl").string()
        << " already holds records; appending a new run (use --resume to continue it)\n";
  LabResults results(out.string(), o.resume);
  for (const auto& p : results.problems()) log << "lab: " << p << "\n";

  PayloadSpec spec;
  spec.pasidbench_binary = self;
  spec.suite_path = o.suite_path;
  spec.home = kGuestHome;
  spec.scratch_dir = (out / "work" / "payload").string();
  Payload payload = build_payload(spec);
  for (const auto& n : payload.notes) log << "lab: " << n << "\n";

  VmLab lab{o,
            log,
            results,
            payload,
            busybox,
            read_file(init_script_path),
            "tcg-" + safe_hostname(),
            qemu_version(o.qemu),
            o.cache_dir.empty() ? default_kernel_cache() : o.cache_dir,
            new_run_id(),
            out,
            out / "work",
            o.time_base == "virtual-icount"};

  auto lab_start = Clock::now();
  int failures = 0;
  for (size_t i = 0; i < kernels.size(); ++i) {
    std::string prefix = "[" + std::to_string(i + 1) + "/" + std::to_string(kernels.size()) + " " +
                         kernels[i].name + "]";
    failures += run_kernel(lab, kernels[i], plan, prefix);
  }
  log << "lab: " << kernels.size() << " kernel(s) in " << static_cast<int>(seconds_since(lab_start))
      << " s; " << failures << " failure(s); results in " << results.path() << "\n";
  return failures ? 1 : 0;
}

int fetch_kernels(const std::vector<std::string>& manifests, const std::string& cache_dir,
                  std::ostream& out, std::ostream& log) {
  std::vector<KernelManifest> kernels = load_manifests(manifests);
  std::string cache = cache_dir.empty() ? default_kernel_cache() : cache_dir;
  int rc = 0;
  for (const auto& k : kernels) {
    try {
      PreparedKernel pk = prepare_kernel(k, cache, log);
      out << k.name << ": " << pk.build_id << " " << pk.vmlinuz << "\n";
    } catch (const KernelUnavailable& e) {
      log << k.name << ": kernel unavailable: " << e.what() << "\n";
      rc = 1;
    }
  }
  return rc;
}

}  // namespace pasidbench::lab
