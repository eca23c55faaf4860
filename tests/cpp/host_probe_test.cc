// Detection of the real PASID path from fake /proc and /sys trees: every
// missing piece is reported as the exact SKIP reason.
#include <gtest/gtest.h>

#include <cerrno>

#include "platform/idxd_sysfs.h"
#include "platform/pasid_probe.h"
#include "runners/backends/host/host_backend.h"
#include "tests/cpp/host_test_support.h"

namespace pasidbench {
namespace {

using testing_support::FakeRoot;

TEST(HostProbe, NoEnqcmdAndNoDsaBusAreBothNamed) {
  FakeRoot root;
  root.cpuinfo(false);
  PasidProbe p = probe_pasid_path(root.path());
  EXPECT_FALSE(p.ready());
  ASSERT_EQ(p.missing.size(), 2u);
  EXPECT_EQ(p.missing[0], "CPU lacks ENQCMD (no 'enqcmd' flag in /proc/cpuinfo)");
  EXPECT_EQ(p.missing[1], "no /sys/bus/dsa (idxd driver not loaded or no DSA/IAA device)");
  EXPECT_EQ(p.skip_reason(), p.missing[0] + "; " + p.missing[1]);
}

TEST(HostProbe, UnreadableCpuinfoIsSaidSo) {
  FakeRoot root;
  root.mkdir("sys/bus/dsa/devices");
  PasidProbe p = probe_pasid_path(root.path());
  ASSERT_FALSE(p.missing.empty());
  EXPECT_NE(p.missing[0].find("cannot read"), std::string::npos) << p.missing[0];
}

TEST(HostProbe, BusWithoutQueues) {
  FakeRoot root;
  root.cpuinfo(true);
  root.mkdir("sys/bus/dsa/devices");
  PasidProbe p = probe_pasid_path(root.path());
  ASSERT_EQ(p.missing.size(), 1u);
  EXPECT_EQ(p.missing[0], "no work queues configured under /sys/bus/dsa/devices");
}

TEST(HostProbe, OnlyDedicatedOrDisabledOrKernelQueuesListsWhatItFound) {
  FakeRoot root;
  root.cpuinfo(true);
  root.dsa_wq("wq0.0", "dedicated", "enabled", "user");
  root.dsa_wq("wq0.1", "shared", "disabled", "user");
  root.dsa_wq("wq0.2", "shared", "enabled", "kernel");
  PasidProbe p = probe_pasid_path(root.path());
  ASSERT_EQ(p.missing.size(), 1u);
  EXPECT_EQ(p.missing[0],
            "no enabled shared user work queue (found: wq0.0 (dedicated, enabled, user), wq0.1 "
            "(shared, disabled, user), wq0.2 (shared, enabled, kernel))");
}

TEST(HostProbe, PasidDisabledDeviceIsNamed) {
  FakeRoot root;
  root.cpuinfo(true);
  root.dsa_wq("wq1.0", "shared", "enabled", "user", "0");
  PasidProbe p = probe_pasid_path(root.path());
  ASSERT_EQ(p.missing.size(), 1u);
  EXPECT_EQ(p.missing[0].rfind("dsa1: pasid_enabled is 0", 0), 0u) << p.missing[0];
}

TEST(HostProbe, MissingDeviceNodeThenReady) {
  FakeRoot root;
  root.cpuinfo(true);
  root.dsa_wq("wq0.0", "shared", "enabled", "user");
  PasidProbe p = probe_pasid_path(root.path());
  ASSERT_EQ(p.missing.size(), 1u);
  EXPECT_EQ(p.missing[0], "work queue wq0.0 has no device node " + root.at("dev/dsa/wq0.0"));

  root.write("dev/dsa/wq0.0", "");
  p = probe_pasid_path(root.path());
  EXPECT_TRUE(p.ready()) << p.skip_reason();
  ASSERT_EQ(p.usable_queues.size(), 1u);
  EXPECT_EQ(p.usable_queues[0].name, "wq0.0");
  EXPECT_EQ(p.usable_queues[0].device, "dsa0");
  EXPECT_EQ(p.usable_queues[0].char_dev, root.at("dev/dsa/wq0.0"));
}

TEST(HostProbe, UnreadableAttributeIsAProblemNotAnEmptyValue) {
  FakeRoot root;
  root.cpuinfo(true);
  root.dsa_wq("wq0.0", "shared", "enabled", "user");
  root.remove("sys/bus/dsa/devices/wq0.0/mode");
  root.mkdir("sys/bus/dsa/devices/wq0.0/mode");  // read() fails with EISDIR
  IdxdInventory inv = read_idxd_sysfs(root.path());
  ASSERT_EQ(inv.problems.size(), 1u);
  EXPECT_NE(inv.problems[0].find("wq0.0/mode: Is a directory"), std::string::npos)
      << inv.problems[0];
  PasidProbe p = probe_pasid_path(root.path());
  ASSERT_EQ(p.missing.size(), 1u);
  EXPECT_NE(p.missing[0].find("Is a directory"), std::string::npos) << p.missing[0];
}

TEST(HostProbe, InventoryReadsAttributes) {
  FakeRoot root;
  root.dsa_wq("wq2.1", "shared", "enabled", "user");
  root.write("sys/bus/dsa/devices/wq2.1/size", "not-a-number\n");
  IdxdInventory inv = read_idxd_sysfs(root.path());
  ASSERT_TRUE(inv.bus_present);
  ASSERT_EQ(inv.devices.size(), 1u);
  EXPECT_EQ(inv.devices[0].name, "dsa2");
  EXPECT_TRUE(inv.devices[0].pasid_enabled.value_or(false));
  ASSERT_EQ(inv.work_queues.size(), 1u);
  const IdxdWorkQueue& q = inv.work_queues[0];
  EXPECT_TRUE(q.usable_for_enqcmd());
  EXPECT_EQ(q.threshold.value_or(-1), 15);
  EXPECT_FALSE(q.size.has_value());
  ASSERT_EQ(inv.problems.size(), 1u);
  EXPECT_NE(inv.problems[0].find("not a number"), std::string::npos);
}

TEST(HostProbe, QueueVanishingMidRunIsDescribed) {
  FakeRoot root;
  root.dsa_wq("wq0.0", "shared", "enabled", "user");
  EXPECT_EQ(work_queue_lost(root.path(), "wq0.0"), "");
  root.write("sys/bus/dsa/devices/wq0.0/state", "disabled\n");
  EXPECT_EQ(work_queue_lost(root.path(), "wq0.0"), "wq0.0 is now 'disabled'");
  root.remove("sys/bus/dsa/devices/wq0.0");
  EXPECT_EQ(work_queue_lost(root.path(), "wq0.0"),
            "wq0.0 vanished: no longer listed under /sys/bus/dsa/devices");
  root.remove("sys/bus/dsa");
  EXPECT_EQ(work_queue_lost(root.path(), "wq0.0"),
            "wq0.0 vanished: /sys/bus/dsa is gone (idxd unloaded?)");
}

TEST(HostProbe, OpenErrorsNameTheirCause) {
  std::string sva = describe_open_error("/dev/dsa/wq0.0", EOPNOTSUPP);
  EXPECT_NE(sva.find("disables SVA on x86"), std::string::npos) << sva;
  EXPECT_NE(sva.find("CVE-2025-71089"), std::string::npos);
  EXPECT_EQ(
      describe_open_error("/dev/dsa/wq0.0", EACCES).rfind("no permission: open /dev/dsa/wq0.0", 0),
      0u);
  EXPECT_NE(describe_open_error("/dev/dsa/wq0.0", ENODEV).find("not enabled or vanished"),
            std::string::npos);
}

TEST(HostBackend, ScenarioWorkloadsSkipWithTheProbeReasonsHere) {
  // The real machine: without ENQCMD and a shared work queue the host
  // backend must say why, never run or pass.
  PasidProbe probe = probe_pasid_path();
  std::unique_ptr<Backend> host = host_backend_family().create("");
  std::string why;
  if (probe.ready()) {
    EXPECT_TRUE(host->supports(WorkloadKind::kCanonical, &why));
  } else {
    EXPECT_FALSE(host->supports(WorkloadKind::kCanonical, &why));
    EXPECT_EQ(why, probe.skip_reason());
  }
  EXPECT_TRUE(host->supports(WorkloadKind::kMicro, &why));
}

}  // namespace
}  // namespace pasidbench
