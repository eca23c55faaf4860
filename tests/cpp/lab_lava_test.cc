#include <gtest/gtest.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <fstream>

#include "results/jsonl_store.h"
#include "runners/lab/lab_plan.h"
#include "runners/lab/lava.h"

namespace pasidbench::lab {
namespace {

namespace fs = std::filesystem;

TEST(LavaCases, NamesAreLavaSafeAndMetricsBecomeMeasurements) {
  EXPECT_EQ(lava_case_name("micro:ipi[cpus=2,mode=broadcast]@host"),
            "micro-ipi.cpus-2.mode-broadcast.host");
  ResultRecord r;
  r.test_id = "micro:ipi[cpus=2]@host";
  r.backend = "host";
  r.workload = "micro:ipi";
  r.outcome = Outcome::kPass;
  r.add_metric("membarrier_ns", {1200.0, 1250.5, 1300.0});
  r.add_missing_metric("cycles", "PAPI: no hardware counters");
  r.provenance.kernel.name = "k";
  r.provenance.machine.hostname = "h";
  ResultRecord crashed = r;
  crashed.test_id = "clone-bind-exit@host";
  crashed.metrics.clear();
  crashed.outcome = Outcome::kCrashed;
  std::string script = lava_cases_script({to_json(r), to_json(crashed)});
  EXPECT_NE(script.find("lava-test-case micro-ipi.cpus-2.host --result pass\n"), std::string::npos);
  EXPECT_NE(script.find("lava-test-case micro-ipi.cpus-2.host.membarrier_ns --result pass "
                        "--measurement 1250.5 --units ns\n"),
            std::string::npos);
  EXPECT_EQ(script.find("cycles"), std::string::npos);  // not measured: no number
  EXPECT_NE(script.find("lava-test-case clone-bind-exit.host --result fail\n"), std::string::npos);
}

TEST(LavaImport, MeasurementsComeBackAsMetricsAndMissingTestsAsErrors) {
  fs::path dir = fs::temp_directory_path() / ("pb-lava-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::string suite = std::string(PASIDBENCH_SOURCE_DIR) + "/suites/vm-smoke.toml";
  auto plan = plan_lab_tests(suite, "", {});
  std::string first = lava_case_name(plan[0].test_id);
  std::ofstream(dir / "job.yaml") << "device_type: x86-dsa\nmetadata:\n"
                                     "  pasidbench.kernel.name: patched\n"
                                     "  pasidbench.kernel.build_id: git:abc\n"
                                     "  pasidbench.kernel.policy: resync-ipi\n";
  std::ofstream(dir / "results.yaml")
      << "- {name: " << first
      << ", job: '77', suite: 0_pasidbench, result: pass, measurement: 'None', unit: ''}\n"
      << "- {name: " << first << ".submit_ns, job: '77', suite: 0_pasidbench, result: pass, "
      << "measurement: '812.25', unit: ns}\n"
      << "- {name: " << first << ".bind_ns, job: '77', suite: 0_pasidbench, result: pass, "
      << "measurement: 'None', unit: ns}\n"
      << "- {name: something-else, job: '77', suite: 1_other, result: fail}\n"
      << "- {name: job, job: '77', suite: lava, result: pass}\n";
  LavaImportSpec spec{(dir / "results.yaml").string(), (dir / "job.yaml").string(), suite,
                      (dir / "out").string()};
  LavaImportSummary s = lava_import(spec);
  EXPECT_EQ(s.imported, 1);
  EXPECT_EQ(s.missing, static_cast<int>(plan.size()) - 1);
  EXPECT_EQ(s.unknown, 1);
  auto records = read_jsonl((dir / "out/results.jsonl").string()).records;
  ASSERT_EQ(records.size(), plan.size());
  ResultRecord r = record_from_json(records[0]);
  EXPECT_EQ(r.test_id, plan[0].test_id);
  EXPECT_EQ(r.outcome, Outcome::kPass);
  EXPECT_EQ(r.run_id, "lava-77");
  EXPECT_EQ(r.provenance.kernel.name, "patched");
  EXPECT_EQ(r.provenance.kernel.policy, "resync-ipi");
  EXPECT_EQ(r.provenance.machine.hostname, "lava:x86-dsa");
  ASSERT_TRUE(r.metrics.count("submit_ns"));
  EXPECT_EQ(r.metrics["submit_ns"].value, 812.25);
  EXPECT_EQ(r.metrics["submit_ns"].unit, "ns");
  EXPECT_TRUE(r.metrics["bind_ns"].samples.empty());  // LAVA had no number for it
  ResultRecord missing = record_from_json(records[1]);
  EXPECT_EQ(missing.outcome, Outcome::kError);
  EXPECT_EQ(missing.reason, "not in LAVA's results for job 77");

  std::ofstream(dir / "bad.yaml") << "metadata: {}\n";
  spec.job_yaml = (dir / "bad.yaml").string();
  EXPECT_THROW(lava_import(spec), InputError);
  fs::remove_all(dir);
}

TEST(LavaImport, AFailedSetupAndLavasOwnErrorsBecomeRecords) {
  fs::path dir = fs::temp_directory_path() / ("pb-lava-setup-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::string suite = std::string(PASIDBENCH_SOURCE_DIR) + "/suites/vm-smoke.toml";
  auto plan = plan_lab_tests(suite, "", {});
  std::ofstream(dir / "job.yaml") << "device_type: qemu\nmetadata:\n"
                                     "  pasidbench.kernel.name: k\n";
  std::ofstream(dir / "results.yaml")
      << "- {name: pasidbench-setup, job: '9', suite: 0_pasidbench, result: fail,\n"
      << "   logged: '2026-11-27 02:00:00.5+00:00'}\n"
      << "- {name: lava-test-shell, job: '9', suite: lava, result: fail}\n"
      << "- {name: job, job: '9', suite: lava, result: fail, metadata: {error_type: Test,\n"
      << "   error_msg: 'pasidbench setup: fetching the bundle http://x failed: bad address'}}\n";
  LavaImportSpec spec{(dir / "results.yaml").string(), (dir / "job.yaml").string(), suite,
                      (dir / "out").string()};
  LavaImportSummary s = lava_import(spec);
  EXPECT_EQ(s.missing, static_cast<int>(plan.size()));
  EXPECT_EQ(s.unknown, 0);
  EXPECT_EQ(s.lava_failures, 1);
  auto records = read_jsonl((dir / "out/results.jsonl").string()).records;
  ASSERT_EQ(records.size(), plan.size() + 1);
  ResultRecord setup = record_from_json(records.back());
  EXPECT_EQ(setup.test_id, "setup@lava");
  EXPECT_EQ(setup.outcome, Outcome::kFail);
  EXPECT_EQ(setup.reason,
            "Test: pasidbench setup: fetching the bundle http://x failed: bad address; failed "
            "LAVA action(s): lava-test-shell");
  EXPECT_EQ(setup.started_at, "2026-11-27T02:00:00Z");
  EXPECT_EQ(setup.run_id, "lava-9");
  ResultRecord missing = record_from_json(records[0]);
  EXPECT_EQ(missing.outcome, Outcome::kError);
  EXPECT_NE(missing.reason.find("(LAVA: Test: pasidbench setup: fetching"), std::string::npos);
  EXPECT_EQ(lava_import(spec).lava_failures, 1);  // counted again, written once
  EXPECT_EQ(read_jsonl((dir / "out/results.jsonl").string()).records.size(), plan.size() + 1);

  // A job LAVA itself failed (no set-up step failed): one job@lava error.
  std::ofstream(dir / "results.yaml")
      << "- {name: job, job: '10', suite: lava, result: fail, metadata: {error_type: "
         "Infrastructure, error_msg: 'Connection closed'}}\n";
  s = lava_import(spec);
  EXPECT_EQ(s.lava_failures, 1);
  records = read_jsonl((dir / "out/results.jsonl").string()).records;
  ResultRecord job = record_from_json(records.back());
  EXPECT_EQ(job.test_id, "job@lava");
  EXPECT_EQ(job.outcome, Outcome::kError);
  EXPECT_EQ(job.reason, "LAVA job 10: Infrastructure: Connection closed");
  fs::remove_all(dir);
}

TEST(LavaJob, QemuDeploysTheBundleAsAnOverlayAndNeedsAnInitramfs) {
  LavaJobSpec spec;
  spec.kernel.name = "k";
  spec.kernel.policy = "resync-ipi";
  spec.kernel.cmdline = "mitigations=off";
  spec.device_type = "qemu";
  spec.suite_path = std::string(PASIDBENCH_SOURCE_DIR) + "/suites/vm-smoke.toml";
  spec.bundle_url = "file:///a/pasidbench.tar.gz";
  spec.kernel_url = "file:///a/vmlinuz";
  spec.boot_method = "qemu";
  EXPECT_THROW(lava_job_definition(spec), InputError);  // no --ramdisk-url
  spec.ramdisk_url = "file:///a/rootfs.cpio.gz";
  YAML::Node job = YAML::Load(lava_job_definition(spec));
  YAML::Node deploy = job["actions"][0]["deploy"];
  EXPECT_EQ(deploy["to"].as<std::string>(), "tmpfs");
  EXPECT_EQ(deploy["images"]["kernel"]["image_arg"].as<std::string>(),
            "-kernel {kernel} -append \"console=ttyS0,115200 panic=-1 mitigations=off\"");
  YAML::Node overlay = deploy["images"]["initrd"]["overlays"]["pasidbench"];
  EXPECT_EQ(overlay["url"].as<std::string>(), "file:///a/pasidbench.tar.gz");
  EXPECT_EQ(overlay["path"].as<std::string>(), kQemuBundlePath);
  EXPECT_EQ(job["actions"][1]["boot"]["prompts"][0].as<std::string>(), kGuestPrompt);
  EXPECT_EQ(job["context"]["arch"].as<std::string>(), "amd64");
  bool exported = false;
  for (const auto& step : job["actions"][2]["test"]["definitions"][0]["repository"]["run"]["steps"])
    exported |= step.as<std::string>() == "export BUNDLE_URL=/opt/pasidbench.tar.gz";
  EXPECT_TRUE(exported);
  spec.boot_method = "ipxe";
  spec.kernel_type = "bzimage";
  EXPECT_THROW(lava_job_definition(spec), InputError);  // LAVA knows image, uimage, zimage
}

}  // namespace
}  // namespace pasidbench::lab
