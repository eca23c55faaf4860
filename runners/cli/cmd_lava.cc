#include <stdlib.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iostream>

#include "platform/file_io.h"
#include "platform/input_error.h"
#include "results/jsonl_store.h"
#include "runners/cli/commands.h"
#include "runners/lab/kernel_fetch.h"
#include "runners/lab/lab_plan.h"
#include "runners/lab/lava.h"
#include "runners/lab/lava_submit.h"
#include "runners/lab/ssh_runner.h"

namespace pasidbench::cli {

namespace {

void write_or_print(const std::string& text, const std::string& path) {
  if (path.empty()) {
    std::cout << text;
    return;
  }
  replace_file(path, text);
}

}  // namespace

void add_lava_command(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand(
      "lava",
      "LAVA: job and test definitions, the runner bundle they fetch, and the import of "
      "LAVA's results. See docs/lab.md.");
  cmd->require_subcommand(1);

  static std::string suite, out_path;
  auto* testdef = cmd->add_subcommand("testdef", "the Lava-Test Test Definition 1.0 for a suite");
  testdef->add_option("--suite", suite, "suite manifest")->required();
  testdef->add_option("--out", out_path, "write here instead of stdout");
  testdef->callback([&exit_code] {
    write_or_print(lab::lava_test_definition(suite), out_path);
    exit_code = 0;
  });

  static std::string bundle_suite, bundle_out;
  auto* bundle = cmd->add_subcommand(
      "bundle", "the runner bundle (binary, its loader and libraries, the suite) as .tar.gz");
  bundle->add_option("--suite", bundle_suite, "suite manifest")->required();
  bundle->add_option("--out", bundle_out, "the .tar.gz to write")->required();
  bundle->callback([&exit_code] {
    lab::plan_lab_tests(bundle_suite, "", {});  // bad input stops here
    // A scratch directory of our own: never one of the user's that happens
    // to share the name.
    std::string work = bundle_out + ".work-XXXXXX";
    if (!::mkdtemp(work.data()))
      throw WriteError(work + ": cannot create a scratch directory: " + std::strerror(errno));
    try {
      lab::write_bundle(std::filesystem::read_symlink("/proc/self/exe").string(), bundle_suite,
                        work, bundle_out);
    } catch (...) {
      std::filesystem::remove_all(work);
      throw;
    }
    std::filesystem::remove_all(work);
    std::cerr << "lava: bundle written to " << bundle_out << "\n";
    exit_code = 0;
  });

  static lab::LavaJobSpec job;
  static std::string kernel_manifest, job_out;
  auto* j = cmd->add_subcommand("job", "a LAVA job definition for one (kernel build, device type)");
  j->add_option("--kernel", kernel_manifest, "kernel build manifest")->required();
  j->add_option("--device-type", job.device_type, "LAVA device type")->required();
  j->add_option("--suite", job.suite_path, "suite manifest")->required();
  j->add_option("--bundle-url", job.bundle_url, "URL of the runner bundle")->required();
  j->add_option("--kernel-url", job.kernel_url, "URL of the kernel image the board boots")
      ->required();
  j->add_option("--ramdisk-url", job.ramdisk_url, "URL of an initramfs (gz)");
  j->add_option("--modules-url", job.modules_url, "URL of the modules tarball (xz)");
  j->add_option("--rootfs-url", job.rootfs_url, "URL of an NFS root filesystem tarball (xz)");
  j->add_option("--boot-method", job.boot_method,
                "LAVA boot method (default ipxe); qemu: LAVA's QEMU device, booting the kernel "
                "and initramfs of `lava guest` with the bundle as an overlay");
  j->add_option("--kernel-type", job.kernel_type,
                "tftp deploys that need it: image, uimage or zimage (ipxe needs none)");
  j->add_option("--prompt", job.prompt, "the shell prompt LAVA waits for after boot");
  j->add_option("--build-id", job.build_id, "the kernel build's id, recorded with every result");
  j->add_option("--testdef-repo", job.testdef_repository,
                "git repository holding the test definition (default: inline in the job)");
  j->add_option("--testdef-path", job.testdef_path, "its path in that repository");
  j->add_option("--out", job_out, "write here instead of stdout");
  j->callback([&exit_code] {
    job.kernel = lab::load_kernel_manifest(kernel_manifest);
    if (job.build_id.empty() && job.kernel.source == lab::KernelSource::kDebian) {
      try {
        job.build_id = lab::debian_build_id(job.kernel);
      } catch (const lab::KernelUnavailable& e) {
        std::cerr << "lava: no build id for " << job.kernel.name << ": " << e.what() << "\n";
      }
    }
    if (job.source.empty())
      job.source = job.kernel.source == lab::KernelSource::kDebian ? "debian:" + job.build_id
                                                                   : "lava:" + job.kernel.name;
    write_or_print(lab::lava_job_definition(job), job_out);
    exit_code = 0;
  });

  static std::string guest_kernel, guest_out, guest_cache;
  auto* guest = cmd->add_subcommand(
      "guest",
      "what a QEMU device boots for `lava job --boot-method qemu`: the manifest's kernel and a "
      "busybox initramfs (OUT/vmlinuz, OUT/rootfs.cpio.gz)");
  guest->add_option("--kernel", guest_kernel, "kernel build manifest")->required();
  guest->add_option("--out", guest_out, "directory to write into")->required();
  guest->add_option("--cache", guest_cache, "kernel cache (default: pasidbench lab's)");
  guest->callback([&exit_code] {
    lab::KernelManifest k = lab::load_kernel_manifest(guest_kernel);
    try {
      lab::LavaGuest g = lab::lava_guest(
          k, guest_out, guest_cache.empty() ? lab::default_kernel_cache() : guest_cache, std::cerr);
      std::cout << "vmlinuz=" << g.vmlinuz << "\nrootfs=" << g.rootfs << "\nbuild_id=" << g.build_id
                << "\nsource=" << g.source << "\n";
      exit_code = 0;
    } catch (const InputError&) {
      throw;
    } catch (const std::runtime_error& e) {
      std::cerr << "lava guest: " << k.name << ": " << e.what() << "\n";
      exit_code = 1;
    }
  });

  static std::string results;
  auto* cases = cmd->add_subcommand(
      "cases", "(runs on the board) lava-test-case calls for a results.jsonl, one per line");
  cases->add_option("results", results, "results.jsonl")->required();
  cases->callback([&exit_code] {
    if (!std::filesystem::exists(results)) throw InputError({results, 0}, "no such file");
    JsonlContents contents = read_jsonl(results);
    for (const auto& p : contents.problems) std::cerr << "lava: " << p << "\n";
    // A record that does not read is named at its line before anything is printed.
    for (size_t i = 0; i < contents.records.size(); ++i) {
      const auto& j = contents.records[i];
      if (!j.is_object() || !j.contains("record") || j["record"] != "test") continue;
      try {
        (void)record_from_json(j);
      } catch (const std::exception& e) {
        throw InputError({results, contents.line_numbers[i]},
                         std::string("not a result record: ") + e.what());
      }
    }
    std::cout << lab::lava_cases_script(contents.records);
    exit_code = 0;
  });

  static lab::LavaSubmitOptions submit;
  auto* sub = cmd->add_subcommand(
      "submit",
      "run a suite on each kernel through a LAVA server's QEMU devices (scripts/lava-lab.sh up): "
      "guest, bundle, job, lavacli submit and wait, results imported into OUT/<kernel>/");
  sub->add_option("--kernels", submit.kernel_manifests, "kernel build manifests")->required();
  sub->add_option("--suite", submit.suite_path, "suite manifest")->required();
  sub->add_option("--out", submit.out_dir, "output directory")->required();
  sub->add_option("--identity", submit.identity, "lavacli identity (default pasidbench-lab)");
  sub->add_option("--device-type", submit.device_type, "LAVA device type (default qemu)");
  sub->add_option("--lavacli", submit.lavacli, "the lavacli program");
  sub->add_option("--cache", submit.cache_dir, "kernel cache (default: pasidbench lab's)");
  sub->add_option("--job-timeout", submit.job_timeout_s, "seconds to wait for one job (3600)");
  sub->callback([&exit_code] { exit_code = lab::lava_submit(submit, std::cerr); });

  static lab::LavaImportSpec import;
  auto* imp = cmd->add_subcommand("import",
                                  "LAVA's results (the /results/<job>/yaml export) "
                                  "into result records");
  imp->add_option("results", import.results_yaml, "LAVA results YAML")->required();
  imp->add_option("--job", import.job_yaml, "the job definition `lava job` wrote")->required();
  imp->add_option("--suite", import.suite_path, "the suite the job ran")->required();
  imp->add_option("--out", import.out_dir, "results directory (appended to)")->required();
  imp->callback([&exit_code] {
    lab::LavaImportSummary s = lab::lava_import(import);
    for (const auto& n : s.notes) std::cerr << "lava: " << n << "\n";
    std::cerr << "lava: " << s.imported << " test(s) imported, " << s.missing
              << " missing from LAVA's results, " << s.unknown << " unknown case(s)";
    if (s.lava_failures) std::cerr << ", " << s.lava_failures << " failure(s) of LAVA or set-up";
    std::cerr << "\n";
    exit_code = s.missing || s.lava_failures ? 1 : 0;
  });
}

}  // namespace pasidbench::cli
