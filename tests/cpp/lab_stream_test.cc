#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "results/jsonl_store.h"
#include "runners/lab/agent.h"
#include "runners/lab/channel.h"
#include "runners/lab/kernel_manifest.h"
#include "runners/lab/lab_plan.h"
#include "runners/lab/lab_results.h"
#include "runners/lab/vm_runner.h"
#include "tests/cpp/lab_temp_dir.h"

namespace pasidbench::lab {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::vector<json> read_lines(const fs::path& p) { return read_jsonl(p.string()).records; }

KernelManifest manifest(const std::string& name) {
  return load_kernel_manifest_text("[kernel]\nname = \"" + name +
                                       "\"\npolicy = \"mm-lifetime-lazy-gp\"\n[source]\n"
                                       "type = \"image\"\nvmlinuz = \"/boot/x\"\n",
                                   "k.toml");
}

std::vector<TestCase> smoke_plan() {
  return plan_lab_tests(std::string(PASIDBENCH_SOURCE_DIR) + "/suites/vm-smoke.toml", "", {});
}

// A record as `pasidbench run` inside the machine under test writes it.
json guest_record(const TestCase& t, const std::string& kernel, Outcome outcome) {
  ResultRecord r;
  r.run_id = "guest-run";
  r.suite = t.suite;
  r.test_id = t.test_id;
  r.backend = t.backend;
  r.workload = t.workload;
  r.params = t.params.all();
  r.outcome = outcome;
  r.provenance.kernel.name = kernel;
  r.provenance.kernel.release = "6.12.0";
  r.provenance.machine.hostname = "tcg-test";
  r.provenance.machine.emulated = true;
  r.provenance.pasidbench_revision = "test";
  r.started_at = utc_now_rfc3339();
  return to_json(r);
}

TEST(Channel, SplitsLinesAcrossChunksAndClassifiesThem) {
  LineSplitter s;
  EXPECT_TRUE(s.feed("{\"pasidbench_lab\":\"hel").empty());
  auto lines = s.feed("lo\"}\n{\"schema\":\"pasidbench-result/1\",\"record\":\"test\"}\r\ngarb");
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(classify_line(lines[0]).kind, ChannelMessage::Kind::kHello);
  EXPECT_EQ(classify_line(lines[1]).kind, ChannelMessage::Kind::kRecord);
  EXPECT_EQ(s.pending(), "garb");
  EXPECT_EQ(classify_line("garb").kind, ChannelMessage::Kind::kGarbage);
  EXPECT_EQ(classify_line("{\"pasidbench_lab\":\"done\",\"exit_code\":0}").kind,
            ChannelMessage::Kind::kDone);
}

TEST(QemuCommand, NoNetworkResultsOnAVirtioPortAndIcountOnlyWhenAsked) {
  VmBoot b;
  b.vmlinuz = "/k/vmlinuz";
  b.initramfs = "/w/i.cpio";
  b.console_log = "/o/console.log";
  b.channel_file = "/o/channel.jsonl";
  b.append = "console=ttyS0";
  auto cmd = qemu_command(b);
  std::string line;
  for (const auto& a : cmd) line += a + " ";
  EXPECT_NE(line.find("-accel tcg "), std::string::npos);
  EXPECT_NE(line.find("-nic none "), std::string::npos);
  EXPECT_NE(line.find("-no-reboot "), std::string::npos);
  EXPECT_NE(line.find("-serial file:/o/console.log "), std::string::npos);
  EXPECT_NE(line.find("-chardev file,id=results,path=/o/channel.jsonl "), std::string::npos);
  EXPECT_NE(line.find("name=pasidbench.results "), std::string::npos);
  EXPECT_NE(line.find("intel-iommu,intremap=on,x-scalable-mode=on"), std::string::npos);
  EXPECT_LT(line.find("intel-iommu"), line.find("virtio-serial-pci"));
  EXPECT_EQ(line.find("-icount"), std::string::npos);
  b.icount = true;
  b.intel_iommu = false;
  line.clear();
  for (const auto& a : qemu_command(b)) line += a + " ";
  EXPECT_NE(line.find("-icount shift=0,sleep=off "), std::string::npos);
  EXPECT_EQ(line.find("intel-iommu"), std::string::npos);
}

TEST(RunArgs, CarryKernelProvenanceAndTheEmulationLabel) {
  RunArgs a;
  a.suite = "/opt/s.toml";
  a.out_dir = "/results";
  a.emulated = true;
  a.time_base = "virtual-icount";
  a.resume = true;
  auto args = run_command_args(manifest("k1"), "pkg=1.0", "debian:pkg=1.0", a);
  std::string line;
  for (const auto& x : args) line += x + " ";
  EXPECT_EQ(line,
            "run /opt/s.toml --backend host --out /results --kernel-name k1 --kernel-policy "
            "mm-lifetime-lazy-gp --time-base virtual-icount --kernel-build-id pkg=1.0 "
            "--kernel-source debian:pkg=1.0 --emulated --resume ");
}

TEST(KernelSession, TracksTheTestInFlightAndRecordsWhatNeverRan) {
  TempDir dir("session");
  std::vector<TestCase> plan = smoke_plan();
  ASSERT_GE(plan.size(), 3u);
  std::ostringstream log;
  LabResults results(dir.path.string(), false);
  Provenance prov =
      lab_provenance(manifest("k1"), "6.12.0", "pkg=1", "debian:pkg=1", "tcg-h", true, "real");
  KernelSession s(results, plan, prov, "lab-run", log, "[k1]");
  EXPECT_EQ(s.in_flight()->test_id, plan[0].test_id);
  EXPECT_TRUE(s.accept(guest_record(plan[0], "k1", Outcome::kSkip)));
  // A record for another kernel is not filed under this one.
  EXPECT_FALSE(s.accept(guest_record(plan[1], "k2", Outcome::kPass)));
  EXPECT_FALSE(s.accept(json{{"schema", "pasidbench-result/1"}, {"record", "test"}}));
  EXPECT_EQ(s.in_flight()->test_id, plan[1].test_id);
  s.record(*s.in_flight(), Outcome::kCrashed, "kernel died");
  s.record_unrun("not run: kernel died earlier");
  EXPECT_TRUE(s.complete());
  s.record_boot(Outcome::kPass, "", json{{"wall_s", 3.5}}, "vm");
  s.record_boot(Outcome::kPass, "", json{{"wall_s", 3.5}}, "vm");  // once per kernel
  EXPECT_EQ(s.failures(), static_cast<int>(plan.size()) - 1);

  auto records = read_lines(dir.path / "results.jsonl");
  ASSERT_EQ(records.size(), plan.size() + 1);
  ResultRecord crashed = record_from_json(records[1]);
  EXPECT_EQ(crashed.test_id, plan[1].test_id);
  EXPECT_EQ(crashed.outcome, Outcome::kCrashed);
  EXPECT_EQ(crashed.provenance.kernel.name, "k1");
  EXPECT_EQ(crashed.provenance.kernel.build_id, "pkg=1");
  EXPECT_TRUE(crashed.provenance.machine.emulated);
  // A host test names no policy (the kernel's is in provenance): the
  // record the lab writes for it joins the host records' set.
  EXPECT_EQ(crashed.policy, "");
  EXPECT_EQ(crashed.provenance.kernel.policy, "mm-lifetime-lazy-gp");
  ResultRecord unrun = record_from_json(records[2]);
  EXPECT_EQ(unrun.outcome, Outcome::kError);
  EXPECT_EQ(unrun.reason, "not run: kernel died earlier");
  ResultRecord boot = record_from_json(records.back());
  EXPECT_EQ(boot.test_id, kBootTestId);
  EXPECT_EQ(boot.duration_s, 3.5);

  // Resuming sees what is recorded, kernel by kernel.
  LabResults again(dir.path.string(), true);
  EXPECT_EQ(again.recorded("k1").size(), plan.size() + 1);
  EXPECT_TRUE(again.recorded("k2").empty());
  EXPECT_EQ(again.record_lines("k1").size(), plan.size() + 1);
  LabResults fresh(dir.path.string(), false);
  EXPECT_TRUE(fresh.recorded("k1").empty());

  // Issue 16 finding 2: a resumed kernel keeps its recorded failures.
  std::ostringstream resumed_log;
  KernelSession resumed(again, plan, prov, "lab-run-2", resumed_log, "[k1]");
  EXPECT_TRUE(resumed.complete());
  EXPECT_EQ(resumed.failures(), static_cast<int>(plan.size()) - 1);
  EXPECT_EQ(resumed.tally().earlier(), static_cast<int>(plan.size()) + 1);
  EXPECT_EQ(resumed.tally().earlier_failed(), static_cast<int>(plan.size()) - 1);
  LabResults none(dir.path.string(), true);
  Provenance k2 = prov;
  k2.kernel.name = "k2";
  EXPECT_EQ(KernelSession(none, plan, k2, "lab-run-2", resumed_log, "[k2]").failures(), 0);
}

TEST(KernelDeath, FindsThePanicLine) {
  EXPECT_EQ(
      kernel_death_line(
          {"[    1.0] foo", "[    2.1] Kernel panic - not syncing: VFS: Unable to mount root fs"}),
      "Kernel panic - not syncing: VFS: Unable to mount root fs");
  EXPECT_EQ(kernel_death_line({"all fine"}), "");
}

TEST(Agent, StreamsEachRecordAsItIsWrittenBetweenHelloAndDone) {
  TempDir dir("agent");
  fs::path results = dir.path / "out/results.jsonl";
  fs::path channel = dir.path / "channel.jsonl";
  fs::create_directories(results.parent_path());
  // A record from an earlier (resumed) run was delivered then: not again.
  std::ofstream(results) << "{\"schema\":\"pasidbench-result/1\",\"record\":\"test\",\"old\":1}\n";
  std::vector<TestCase> plan = smoke_plan();
  AgentOptions o;
  o.channel = channel.string();
  o.results_path = results.string();
  o.run_args = {"run", "x"};
  o.poll_ms = 20;
  o.inject = "";
  int rc = run_agent(o, [&](const std::vector<std::string>& args) {
    // This runs in the agent's child: a wrong argument shows as exit code 3.
    if (args != std::vector<std::string>{"run", "x"}) return 3;
    JsonlWriter w(results.string());
    for (const auto& t : plan) {
      w.append(guest_record(t, "k1", Outcome::kSkip));
      std::this_thread::sleep_for(std::chrono::milliseconds(30));
    }
    std::cerr << "pasidbench: all done\n";
    return 1;
  });
  EXPECT_EQ(rc, 1);
  auto lines = read_lines(channel);
  ASSERT_EQ(lines.size(), plan.size() + 2);
  EXPECT_EQ(classify_line(lines.front().dump()).kind, ChannelMessage::Kind::kHello);
  EXPECT_TRUE(lines.front()["features"].contains("membarrier"));
  for (size_t i = 0; i < plan.size(); ++i) EXPECT_EQ(lines[i + 1]["test_id"], plan[i].test_id);
  const json& done = lines.back();
  EXPECT_EQ(done["pasidbench_lab"], "done");
  EXPECT_EQ(done["exit_code"], 1);
  EXPECT_EQ(done["stderr_tail"].back(), "pasidbench: all done");
}

TEST(Agent, FaultInjectionIsParsedStrictly) {
  EXPECT_EQ(parse_injection("panic-after:2").kind, Injection::Kind::kPanic);
  EXPECT_EQ(parse_injection("panic-after:2").after_records, 2);
  EXPECT_EQ(parse_injection("hang-after:0").kind, Injection::Kind::kHang);
  EXPECT_EQ(parse_injection("").kind, Injection::Kind::kNone);
  EXPECT_THROW(parse_injection("reboot-after:1"), std::runtime_error);
  EXPECT_THROW(parse_injection("panic-after:x"), std::runtime_error);
}

TEST(KernelFeatures, DecodesTheIommuAndFindsSvaSymbols) {
  TempDir dir("features");
  fs::create_directories(dir.path / "sys/class/iommu/dmar0/intel-iommu");
  // QEMU 7.2's intel-iommu with x-scalable-mode and x-pasid-mode: scalable
  // mode and PASID, but no first-level tables and no page requests.
  std::ofstream(dir.path / "sys/class/iommu/dmar0/intel-iommu/ecap") << "490080f00f4a\n";
  fs::create_directories(dir.path / "proc");
  std::ofstream(dir.path / "proc/kallsyms") << "ffffffff81000000 T _stext\n"
                                               "ffffffff81234560 T iommu_sva_bind_device\n";
  std::ofstream(dir.path / "proc/cpuinfo") << "processor\t: 0\nmodel name\t: QEMU TCG CPU\n"
                                              "flags\t\t: fpu sse movdir64b\n\n";
  json f = probe_kernel_features(dir.path.string());
  const json& unit = f["iommu"].at(0)["intel"];
  EXPECT_TRUE(unit["scalable_mode"]);
  EXPECT_TRUE(unit["pasid"]);
  EXPECT_FALSE(unit["first_level"]);
  EXPECT_FALSE(unit["page_requests"]);
  EXPECT_TRUE(f["sva_symbols"]["iommu_sva_bind_device"]);
  EXPECT_FALSE(f["sva_symbols"]["iommu_sva_invalidate_kva_range"]);
  EXPECT_TRUE(f["cpu"]["movdir64b"]);
  EXPECT_FALSE(f["cpu"]["enqcmd"]);
  EXPECT_EQ(f["cpu"]["model"], "QEMU TCG CPU");
  EXPECT_FALSE(f.contains("membarrier"));  // syscalls only on the live system
}

TEST(Agent, FindsTheVirtioPortByName) {
  TempDir dir("vport");
  fs::create_directories(dir.path / "sys/class/virtio-ports/vport1p1");
  fs::create_directories(dir.path / "sys/class/virtio-ports/vport1p2");
  std::ofstream(dir.path / "sys/class/virtio-ports/vport1p1/name") << "org.qemu.guest_agent.0\n";
  std::ofstream(dir.path / "sys/class/virtio-ports/vport1p2/name") << "pasidbench.results\n";
  EXPECT_EQ(find_virtio_port("pasidbench.results", dir.path.string()),
            (dir.path / "dev/vport1p2").string());
  EXPECT_EQ(find_virtio_port("other", dir.path.string()), "");
}

}  // namespace
}  // namespace pasidbench::lab
