#include <iostream>

#include "platform/input_error.h"
#include "runners/cli/commands.h"
#include "runners/lab/agent.h"
#include "runners/lab/kexec_queue.h"
#include "runners/lab/ssh_runner.h"
#include "runners/lab/vm_runner.h"

namespace pasidbench::cli {

namespace {

// `run`'s own parser, so the agent runs exactly what `pasidbench run` would.
int run_cli(const std::vector<std::string>& args) {
  CLI::App app{"pasidbench", "pasidbench"};
  int code = 0;
  add_run_command(app, code);
  std::vector<std::string> reversed(args.rbegin(), args.rend());
  try {
    app.parse(reversed);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;
  } catch (const InputError& e) {
    std::cerr << "pasidbench: " << e.what() << "\n";
    return 2;
  }
  return code;
}

RawParams params_from_flags(const std::vector<std::string>& flags) {
  RawParams out;
  for (const auto& text : flags) {
    auto [k, v] = split_param_flag(text);
    out[k] = {v, {"--param " + text, 0}};
  }
  return out;
}

}  // namespace

void add_lab_command(CLI::App& app, int& exit_code) {
  static lab::LabOptions o;
  static std::vector<std::string> params;
  static bool icount = false;
  static bool fetch_only = false;
  static lab::SshOptions ssh;
  auto* cmd = app.add_subcommand(
      "lab",
      "Run a suite on several kernel builds, one after another: each boots in QEMU (software "
      "emulation, results labelled emulated) and streams its records into --out's "
      "results.jsonl. See docs/lab.md.");
  cmd->add_option("--kernels", o.kernel_manifests, "kernel build manifests (kernels/*.toml)")
      ->required();
  cmd->add_option("--suite", o.suite_path, "suite manifest run on every kernel");
  cmd->add_option("--out", o.out_dir, "results directory");
  cmd->add_flag("--fetch-only", fetch_only,
                "only fetch or build the kernels into the cache; print where they are");
  cmd->add_flag("--resume", o.resume, "skip (kernel, test) pairs already recorded in --out");
  cmd->add_option("--filter", o.filter, "run only tests whose id contains this");
  cmd->add_option("--param", params, "k=v parameter applied to every test (repeatable)");
  cmd->add_flag("--icount", icount,
                "deterministic virtual time (QEMU -icount shift=0,sleep=off): stable "
                "kernel-vs-kernel comparison of code paths, labelled time_base virtual-icount");
  cmd->add_option("--smp", o.smp, "vCPUs for every kernel, overriding the manifests' [vm] smp");
  cmd->add_option("--max-boots", o.max_boots,
                  "boots per kernel when it dies in the middle of the suite (default 2)");
  cmd->add_option("--watchdog-grace", o.watchdog_grace_s,
                  "seconds past the running test's timeout before a silent VM counts as hung "
                  "(default 60)");
  auto* remote = "Lab machine over ssh (instead of VMs)";
  cmd->add_option("--ssh", ssh.destination,
                  "[user@]host already booted into the kernel of the one --kernels manifest")
      ->group(remote);
  cmd->add_option("--ssh-port", ssh.port, "ssh port")->group(remote);
  cmd->add_option("--ssh-option", ssh.ssh_options, "passed to ssh as -o OPTION (repeatable)")
      ->group(remote);
  cmd->add_option("--remote-dir", ssh.remote_dir,
                  "where the runner bundle goes on the machine (default /tmp/pasidbench-lab)")
      ->group(remote);
  cmd->add_option("--cache", o.cache_dir, "where fetched and built kernels are kept");
  cmd->add_option("--qemu", o.qemu, "the QEMU binary");
  cmd->add_option("--busybox", o.busybox, "a static busybox for the initramfs");
  cmd->callback([&exit_code] {
    if (fetch_only) {
      exit_code = lab::fetch_kernels(o.kernel_manifests, o.cache_dir, std::cout, std::cerr);
      return;
    }
    if (o.suite_path.empty()) throw InputError({"--suite", 0}, "lab needs --suite SUITE.toml");
    if (o.out_dir.empty()) throw InputError({"--out", 0}, "lab needs --out DIR");
    o.extra_params = params_from_flags(params);
    o.time_base = icount ? "virtual-icount" : "real";
    if (!ssh.destination.empty()) {
      if (icount) throw InputError({"--icount", 0}, "--icount is a QEMU mode: not with --ssh");
      exit_code = lab::run_ssh_lab(o, ssh, std::cerr);
      return;
    }
    exit_code = lab::run_vm_lab(o, std::cerr);
  });

  static lab::AgentOptions agent;
  auto* a = app.add_subcommand(
      "lab-agent",
      "(runs on the machine under test) run `pasidbench run ARGS` and stream its records over "
      "--channel, framed by hello/done messages");
  a->group("");  // internal: the lab runners start it
  a->add_option("--channel", agent.channel,
                "virtio:NAME (a virtio-serial port), a path, or - for stdout");
  a->add_option("--results", agent.results_path, "the run's results.jsonl")->required();
  a->add_option("run_args", agent.run_args, "run ARGS...")->required();
  a->callback([&exit_code] {
    if (agent.run_args.empty() || agent.run_args.front() != "run")
      throw InputError({"lab-agent", 0}, "expected `-- run SUITE ...` after the options");
    exit_code = lab::run_agent(agent, run_cli);
  });
}

void add_kexec_command(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand(
      "kexec",
      "A lab machine going through a queue of kernels by itself: run the suite, kexec into the "
      "next kernel, resume after a crash. See docs/lab.md.");
  cmd->require_subcommand(1);

  static std::vector<std::string> manifests;
  static std::string suite, filter, out_dir;
  static int max_attempts = 2;
  static bool dry_run = false;
  auto* start = cmd->add_subcommand("start", "create the queue in --out, then take the first step");
  start->add_option("--kernels", manifests, "kernel build manifests, in order")->required();
  start->add_option("--suite", suite, "suite manifest")->required();
  start->add_option("--out", out_dir, "results directory (on a disk that survives reboots)")
      ->required();
  start->add_option("--filter", filter, "run only tests whose id contains this");
  start->add_option("--max-attempts", max_attempts,
                    "kexecs per kernel before giving up (default 2)");
  start->add_flag("--dry-run", dry_run, "print what the first step would do; do nothing");
  start->callback([&exit_code] {
    lab::start_kexec_queue(manifests, suite, filter, max_attempts, out_dir);
    lab::KexecEnvironment env = lab::system_kexec_environment();
    env.dry_run = dry_run;
    exit_code = lab::kexec_step(out_dir, env, std::cerr);
  });

  static std::string step_out;
  static bool step_dry = false;
  auto* step = cmd->add_subcommand(
      "step", "one step of the queue in --out (run at every boot, e.g. by a systemd unit)");
  step->add_option("--out", step_out, "the queue's results directory")->required();
  step->add_flag("--dry-run", step_dry, "print what the step would do; do nothing");
  step->callback([&exit_code] {
    lab::KexecEnvironment env = lab::system_kexec_environment();
    env.dry_run = step_dry;
    exit_code = lab::kexec_step(step_out, env, std::cerr);
  });

  static std::string status_out;
  auto* status = cmd->add_subcommand("status", "what the queue in --out has recorded so far");
  status->add_option("--out", status_out, "the queue's results directory")->required();
  status->callback([&exit_code] {
    lab::print_kexec_status(status_out, std::cout);
    exit_code = 0;
  });
}

}  // namespace pasidbench::cli
