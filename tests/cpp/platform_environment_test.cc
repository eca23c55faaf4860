// The environment record from fake trees: the keys every result file relies
// on, kernel config, IOMMU capability decoding, DSA inventory, and notes for
// what could not be read.
#include <gtest/gtest.h>
#include <zlib.h>

#include "platform/environment.h"
#include "platform/kernel_config.h"
#include "results/record.h"
#include "tests/cpp/host_test_support.h"

namespace pasidbench {
namespace {

using testing_support::FakeRoot;

void fake_kernel(const FakeRoot& root) {
  root.write("proc/sys/kernel/osrelease", "6.9.1-test\n");
  root.write("proc/sys/kernel/version", "#1 SMP PREEMPT_DYNAMIC\n");
  root.write("proc/sys/kernel/hostname", "labbox\n");
  root.write("proc/cmdline", "root=/dev/sda1 intel_iommu=on,sm_on iommu.strict=1\n");
  root.cpuinfo(true);
  root.write("sys/devices/system/cpu/online", "0-3\n");
  root.write("sys/devices/system/cpu/smt/control", "on\n");
  root.write("sys/devices/system/cpu/smt/active", "1\n");
  root.write("sys/devices/system/cpu/cpu0/cpufreq/scaling_governor", "performance\n");
  root.write("sys/devices/system/cpu/vulnerabilities/meltdown", "Not affected\n");
  // ecap with PRS (29), PASID (40) and SMTS (43) set.
  root.write("sys/class/iommu/dmar0/intel-iommu/ecap", "9002000000a\n");
}

TEST(HostEnvironment, FakeTreeGivesEveryKey) {
  FakeRoot root;
  fake_kernel(root);
  root.write("boot/config-6.9.1-test",
             "CONFIG_IOMMU_SVA=y\nCONFIG_INTEL_IOMMU_SVM=y\n# CONFIG_KPROBE_EVENTS is not "
             "set\nCONFIG_HZ=1000\n");
  root.dsa_wq("wq0.0", "shared", "enabled", "user");
  nlohmann::json env = collect_environment(root.path());
  // The keys other parts of pasidbench read.
  EXPECT_EQ(env["kernel"]["release"], "6.9.1-test");
  EXPECT_EQ(env["cpu"]["model"], "Test CPU");
  EXPECT_TRUE(env["pasidbench"]["revision"].is_string());
  EXPECT_EQ(env["hostname"], "labbox");
  EXPECT_TRUE(env["collected_at"].is_string());

  EXPECT_EQ(env["cpu"]["family"], "6");
  EXPECT_EQ(env["cpu"]["stepping"], "8");
  EXPECT_EQ(env["cpu"]["microcode"], "0x2b000461");
  EXPECT_EQ(env["cpu"]["flags"]["enqcmd"], true);
  EXPECT_EQ(env["cpu"]["smt"]["active"], true);
  EXPECT_EQ(env["cpu"]["governor"], "performance");
  EXPECT_EQ(env["cpu"]["vulnerabilities"]["meltdown"], "Not affected");
  EXPECT_EQ(env["kernel"]["config_source"], "/boot/config-6.9.1-test");
  EXPECT_EQ(env["kernel"]["config"]["CONFIG_IOMMU_SVA"], "y");
  EXPECT_EQ(env["kernel"]["config"]["CONFIG_KPROBE_EVENTS"], "n");
  EXPECT_EQ(env["kernel"]["config"]["CONFIG_ARCH_HAS_CPU_PASID"], "absent");
  EXPECT_EQ(env["iommu"]["cmdline"]["intel_iommu"], "on,sm_on");
  ASSERT_EQ(env["iommu"]["units"].size(), 1u);
  EXPECT_EQ(env["iommu"]["units"][0]["pasid"], true);
  EXPECT_EQ(env["iommu"]["units"][0]["scalable_mode"], true);
  EXPECT_EQ(env["iommu"]["units"][0]["page_requests"], true);
  EXPECT_EQ(env["iommu"]["sva"]["iommu_pasid_capable"], true);
  EXPECT_EQ(env["dsa"]["present"], true);
  ASSERT_EQ(env["dsa"]["work_queues"].size(), 1u);
  EXPECT_EQ(env["dsa"]["work_queues"][0]["mode"], "shared");
  EXPECT_EQ(env["dsa"]["devices"][0]["pasid_enabled"], true);
  EXPECT_FALSE(env.contains("notes")) << env["notes"].dump();

  Provenance p = provenance_from_environment(env);
  EXPECT_EQ(p.kernel.release, "6.9.1-test");
  EXPECT_EQ(p.machine.hostname, "labbox");
}

TEST(HostEnvironment, CompressedProcConfigWins) {
  FakeRoot root;
  fake_kernel(root);
  root.mkdir("proc");
  gzFile f = gzopen(root.at("proc/config.gz").c_str(), "wb");
  ASSERT_NE(f, nullptr);
  std::string text = "CONFIG_IOMMU_SVA=y\nCONFIG_LOCALVERSION=\"-lab\"\n";
  gzwrite(f, text.data(), static_cast<unsigned>(text.size()));
  gzclose(f);
  root.write("boot/config-6.9.1-test", "CONFIG_IOMMU_SVA=n\n");
  KernelConfig c = read_kernel_config(root.path(), "6.9.1-test");
  EXPECT_EQ(c.source, "/proc/config.gz");
  EXPECT_EQ(c.options["CONFIG_IOMMU_SVA"], "y");
  EXPECT_EQ(c.options["CONFIG_LOCALVERSION"], "-lab");
  EXPECT_EQ(c.digest.size(), 16u);
  KernelConfig other = read_kernel_config(root.path(), "no-such-release");
  EXPECT_NE(other.digest, "");  // still /proc/config.gz
}

TEST(HostEnvironment, MissingFilesBecomeNotesNotCrashes) {
  FakeRoot root;
  root.mkdir("proc");
  nlohmann::json env = collect_environment(root.path());
  EXPECT_EQ(env["kernel"]["release"], "unknown");
  EXPECT_EQ(env["kernel"]["config_source"], "none readable");
  EXPECT_EQ(env["cpu"]["note"], "cannot read /proc/cpuinfo");
  EXPECT_EQ(env["dsa"]["present"], false);
  ASSERT_TRUE(env.contains("notes"));
  std::string notes = env["notes"].dump();
  EXPECT_NE(notes.find("proc/sys/kernel/osrelease"), std::string::npos) << notes;
  EXPECT_NE(notes.find("proc/cpuinfo"), std::string::npos) << notes;
}

TEST(HostEnvironment, LiveMachineRecordsTopologyAndTools) {
  nlohmann::json env = collect_environment();
  EXPECT_TRUE(env["kernel"]["release"].is_string());
  EXPECT_TRUE(env["cpu"]["topology"].is_string());
  EXPECT_NE(env["cpu"]["topology"].get<std::string>().find("PU"), std::string::npos);
  EXPECT_TRUE(env["tools"]["perf"].is_string());
  EXPECT_TRUE(env["tools"]["pasidbench_micro"].is_string());
}

TEST(HostEnvironment, ParsesConfigLines) {
  auto m = parse_kernel_config(
      "# comment\nCONFIG_A=y\nCONFIG_B=m\n# CONFIG_C is not set\nCONFIG_D=\"x y\"\nnoise\n");
  EXPECT_EQ(m, (std::map<std::string, std::string>{
                   {"CONFIG_A", "y"}, {"CONFIG_B", "m"}, {"CONFIG_C", "n"}, {"CONFIG_D", "x y"}}));
}

}  // namespace
}  // namespace pasidbench
