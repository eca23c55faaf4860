#include "runners/lab/ssh_runner.h"

#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "platform/file_io.h"
#include "platform/input_error.h"
#include "platform/process.h"
#include "runners/lab/channel.h"
#include "runners/lab/lab_plan.h"
#include "runners/lab/lab_results.h"
#include "runners/lab/pasidlab_build.h"
#include "runners/lab/payload.h"

namespace pasidbench::lab {

namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {}  // namespace

std::vector<std::string> ssh_command(const SshOptions& ssh, const std::string& remote_command) {
  std::vector<std::string> cmd = {"ssh", "-o", "BatchMode=yes", "-o",
                                  "ConnectTimeout=" + std::to_string(ssh.connect_timeout_s)};
  if (ssh.port > 0) cmd.insert(cmd.end(), {"-p", std::to_string(ssh.port)});
  for (const auto& o : ssh.ssh_options) cmd.insert(cmd.end(), {"-o", o});
  cmd.insert(cmd.end(), {"--", ssh.destination, remote_command});
  return cmd;
}

void write_bundle(const std::string& pasidbench_binary, const std::string& suite,
                  const std::string& work_dir, const std::string& tarball) {
  PayloadSpec spec;
  spec.pasidbench_binary = pasidbench_binary;
  spec.suite_path = suite;
  spec.layout = LibraryLayout::kBundled;
  spec.scratch_dir = (fs::path(work_dir) / "strip").string();
  Payload payload = build_payload(spec);
  fs::path staging = fs::path(work_dir) / "bundle";
  fs::remove_all(staging);
  stage_payload(payload, staging.string());
  // tar writes beside the tarball, renamed when whole: a full disk leaves
  // the old bundle, never half of a new one.
  std::string partial = tarball + ".partial";
  ProcessResult r = run_process({"tar", "-C", staging.string(), "-czf", partial, "."},
                                ProcessOptions().with_timeout(300));
  std::string failed = !r.ok() ? "tar: " + r.describe(300)
                       : std::rename(partial.c_str(), tarball.c_str()) != 0
                           ? std::string("rename failed: ") + std::strerror(errno)
                           : "";
  if (!failed.empty()) {
    std::remove(partial.c_str());
    throw WriteError(tarball + ": " + failed);
  }
}

int run_ssh_lab(const LabOptions& o, const SshOptions& ssh, std::ostream& log) {
  std::vector<KernelManifest> kernels = load_manifests(o.kernel_manifests);
  if (kernels.size() != 1)
    throw InputError({"--kernels", 0},
                     "the ssh runner measures the kernel the machine runs now: name exactly one "
                     "manifest (use kexec to go through several)");
  const KernelManifest& k = kernels.front();
  std::vector<TestCase> plan = plan_lab_tests(o.suite_path, o.filter, o.extra_params);
  if (o.out_dir.empty()) throw InputError({"--out", 0}, "lab needs --out DIR");
  if (ssh.destination.empty())
    throw InputError({"--ssh", 0}, "name the machine: --ssh [user@]host");
  if (find_program("ssh").empty()) throw InputError({"--ssh", 0}, "ssh not found (openssh-client)");
  std::string self = o.pasidbench_binary.empty() ? fs::read_symlink("/proc/self/exe").string()
                                                 : o.pasidbench_binary;

  fs::path out(o.out_dir);
  fs::path kdir = kernel_results_dir(o.out_dir, k.name);
  fs::create_directories(kdir);
  fs::path work = out / "work";
  LabResults results(out.string(), o.resume);
  for (const auto& p : results.problems()) log << "lab: " << p << "\n";
  std::string prefix = "[" + k.name + " @ " + ssh.destination + "]";
  std::string backend = "ssh:" + ssh.destination;
  Provenance prov = lab_provenance(k, k.release, "", "", ssh.destination, false, "real");
  KernelSession session(results, plan, prov, new_run_id(), log, prefix);
  if (session.complete() && session.has_record(kBootTestId)) {
    // Resumed: what was recorded is the verdict, failures included.
    log << prefix << " already recorded (resume): " << session.tally().summary() << "\n";
    return session.failures() ? 1 : 0;
  }
  auto start = Clock::now();
  json details = {{"manifest", k.path}, {"destination", ssh.destination}};
  auto give_up = [&](Outcome outcome, const std::string& why) {
    session.record_boot(outcome, why, details, backend);
    session.record_unrun("not run: " + why);
    return 1;
  };

  // Which kernel is it running? A Debian kernel names its package build.
  log << prefix << " connecting\n" << std::flush;
  ProcessResult who = run_process(
      ssh_command(ssh,
                  "uname -r; uname -v; hostname; dpkg-query -W -f '${Package}=${Version}' "
                  "\"linux-image-$(uname -r)\" 2>/dev/null || true"),
      ProcessOptions().with_timeout(ssh.connect_timeout_s + 30));
  if (!who.ok())
    return give_up(Outcome::kError, "cannot reach " + ssh.destination + ": " +
                                        who.describe(ssh.connect_timeout_s + 30));
  std::istringstream lines(who.out);
  std::string release, version, hostname, package;
  std::getline(lines, release);
  std::getline(lines, version);
  std::getline(lines, hostname);
  std::getline(lines, package);
  details["uname_r"] = release;
  if (!k.release.empty() && k.release != release)
    return give_up(Outcome::kError, ssh.destination + " runs kernel " + release + ", not " +
                                        k.release + " as " + k.path + " says");
  session.provenance().kernel.release = release;
  session.provenance().kernel.version = version;
  session.provenance().machine.hostname = hostname.empty() ? ssh.destination : hostname;
  std::string build_id = package.empty() ? "" : package;
  std::string source = "ssh:" + ssh.destination + (package.empty() ? "" : " debian:" + package);
  session.provenance().kernel.build_id = build_id;
  session.provenance().kernel.source = source;

  log << prefix << " copying the runner bundle\n" << std::flush;
  fs::path tarball = work / "bundle.tar.gz";
  fs::create_directories(work);
  write_bundle(self, o.suite_path, work.string(), tarball.string());
  std::string dir = ssh.remote_dir;
  std::string seed;
  for (const auto& line : results.record_lines(k.name)) seed += line + "\n";
  ProcessResult copy = run_process(
      ssh_command(ssh, "rm -rf " + shell_quote(dir) + " && mkdir -p " + shell_quote(dir + "/out") +
                           " && tar -xzf - -C " + shell_quote(dir)),
      ProcessOptions().with_timeout(600).feeding(read_file(tarball.string())));
  if (!copy.ok())
    return give_up(Outcome::kError, "copying the bundle failed: " + copy.describe(600));
  if (!seed.empty()) {
    ProcessResult s =
        run_process(ssh_command(ssh, "cat > " + shell_quote(dir + "/out/results.jsonl")),
                    ProcessOptions().with_timeout(120).feeding(seed));
    if (!s.ok())
      return give_up(Outcome::kError, "seeding the resumed run failed: " + s.describe(120));
  }

  // kmod tests load pasidlab.ko: built here for the Debian kernel the
  // machine runs (its own header packages, fetched, never installed), copied
  // beside the bundle.
  std::string remote_ko, module_unavailable;
  if (plan_uses_kmod(plan)) {
    PreparedKernel running;
    running.release = release;
    running.build_id = build_id;
    running.source = package.empty() ? "ssh:" + ssh.destination : "debian:" + package;
    PasidlabBuild mb = build_pasidlab(running, (work / "pasidlab").string(), log);
    if (mb.ko.empty()) {
      details["pasidlab"] = {{"error", mb.why_not}};
      module_unavailable = mb.why_not;
      log << prefix << " pasidlab.ko: " << mb.why_not << " (its tests will SKIP)\n";
    } else {
      remote_ko = fs::path(dir).is_absolute() ? dir + "/pasidlab.ko" : "pasidlab.ko";
      ProcessResult put =
          run_process(ssh_command(ssh, "cat > " + shell_quote(dir + "/pasidlab.ko")),
                      ProcessOptions().with_timeout(120).feeding(read_file(mb.ko)));
      if (!put.ok())
        return give_up(Outcome::kError, "copying pasidlab.ko failed: " + put.describe(120));
      details["pasidlab"] = {{"ko", mb.ko}, {"build_s", mb.seconds}, {"remote", remote_ko}};
    }
  }

  RunArgs ra;
  ra.suite = (fs::path("suites") / fs::path(o.suite_path).filename()).string();
  ra.out_dir = "out";
  ra.resume = !seed.empty();
  ra.filter = o.filter;
  ra.extra_params = o.extra_params;
  // Without --backend host: the suite's kmod:<policy> tests run there too
  // (and SKIP with the reason when no module could be built).
  ra.host_only = !plan_uses_kmod(plan);
  if (!remote_ko.empty())
    ra.extra_params["module"] = {remote_ko, {"lab", 0}};
  else if (!module_unavailable.empty())
    ra.extra_params["module_unavailable"] = {module_unavailable, {"lab", 0}};
  std::vector<std::string> agent = {"./pasidbench", "lab-agent",         "--channel", "-",
                                    "--results",    "out/results.jsonl", "--"};
  for (auto& a : run_command_args(k, build_id, source, ra)) agent.push_back(a);
  ChildProcess child;
  std::string error;
  std::string remote_log = (kdir / "ssh-run.stderr").string();
  if (!child.start_piped(ssh_command(ssh, "cd " + shell_quote(dir) + " && " + shell_join(agent)),
                         remote_log, &error))
    return give_up(Outcome::kError, "cannot start ssh: " + error);
  log << prefix << " running " << plan.size() << " test(s)\n" << std::flush;

  LineSplitter splitter;
  bool hello = false, done = false, eof = false;
  json hello_msg, done_msg;
  auto deadline = Clock::now() + std::chrono::seconds(ssh.connect_timeout_s + 60);
  auto extend = [&] {
    const TestCase* t = session.in_flight();
    deadline = Clock::now() + std::chrono::seconds((t ? t->timeout_s : 0) + o.watchdog_grace_s);
  };
  int status = 0;
  bool exited = false, timed_out = false;
  while (!(exited && eof)) {
    if (!eof) {
      pollfd p{child.stdout_fd(), POLLIN, 0};
      if (::poll(&p, 1, 200) > 0) {
        char buf[65536];
        ssize_t n = ::read(child.stdout_fd(), buf, sizeof buf);
        if (n <= 0) {
          eof = true;
        } else {
          for (const auto& line : splitter.feed(buf, static_cast<size_t>(n))) {
            ChannelMessage m = classify_line(line);
            if (m.kind == ChannelMessage::Kind::kHello) {
              hello = true;
              hello_msg = m.json;
              extend();
            } else if (m.kind == ChannelMessage::Kind::kDone) {
              done = true;
              done_msg = m.json;
            } else if (m.kind == ChannelMessage::Kind::kRecord) {
              session.accept(m.json);
              extend();
            }
          }
        }
      }
    } else {
      ::usleep(100 * 1000);
    }
    if (!exited && child.exited(&status)) exited = true;
    if (!exited && Clock::now() > deadline) {
      timed_out = true;
      child.kill_group();
      exited = eof = true;
    }
  }
  details["wall_s"] = std::chrono::duration<double>(Clock::now() - start).count();
  if (hello && hello_msg.contains("features")) details["features"] = hello_msg["features"];
  std::vector<std::string> tail = log_tail(remote_log, 20);
  json crash = {{"remote_log", remote_log}, {"remote_log_tail", tail}};
  std::string last = tail.empty() ? "" : tail.back();
  if (!hello) {
    std::string why =
        timed_out
            ? "the agent did not start within " + std::to_string(ssh.connect_timeout_s + 60) + " s"
            : "the agent did not start (ssh " +
                  std::string(WIFEXITED(status) ? "exit " + std::to_string(WEXITSTATUS(status))
                                                : "killed") +
                  (last.empty() ? "" : ": " + last) + ")";
    session.record_boot(Outcome::kError, why, details, backend);
    session.record_unrun("not run: " + why, crash);
  } else {
    if (!done) {
      // The machine or the connection went away in the middle of a test.
      std::string what = timed_out ? "the machine stopped answering" : "the connection was lost";
      if (const TestCase* t = session.in_flight())
        session.record(*t, timed_out ? Outcome::kTimeout : Outcome::kError,
                       what + " while this test ran" + (last.empty() ? "" : ": " + last), crash);
      session.record_unrun("not run: " + what + " during an earlier test", crash);
    } else if (!session.complete()) {
      json d = crash;
      d["runner_stderr_tail"] = done_msg.value("stderr_tail", json::array());
      session.record_unrun(
          "not run: the runner exited with " + std::to_string(done_msg.value("exit_code", -1)), d);
    }
    session.record_boot(Outcome::kPass, "", details, backend);
  }
  log << prefix << " finished: " << session.failures() << " failure(s); results in "
      << results.path() << "\n";
  return session.failures() ? 1 : 0;
}

}  // namespace pasidbench::lab
