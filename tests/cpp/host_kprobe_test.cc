// The PASID-lifecycle kprobes: which probes a kernel gets, what is written to
// tracefs, and how trace lines are read back.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "platform/kprobe_observer.h"
#include "tests/cpp/host_test_support.h"

namespace pasidbench {
namespace {

using testing_support::FakeRoot;

std::string slurp(const std::string& p) {
  std::ifstream in(p);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(HostKprobes, ProbesOnlyWhatTheKernelHas) {
  std::string kallsyms =
      "ffffffff81d88190 T iommu_alloc_global_pasid\n"
      "ffffffff81d88200 T iommu_free_global_pasid\n"
      "ffffffff81d88300 t iommu_sva_bind_device\n"
      "ffffffffc0100000 t idxd_cdev_open\t[idxd]\n"
      "ffffffff81000000 D iommu_sva_get_pasid\n";  // data, not a function
  std::set<std::string> wanted;
  for (const auto& s : pasid_kprobe_catalog()) wanted.insert(s.function);
  std::set<std::string> found = kernel_functions(kallsyms, wanted);
  EXPECT_EQ(found, (std::set<std::string>{"iommu_alloc_global_pasid", "iommu_free_global_pasid",
                                          "iommu_sva_bind_device", "idxd_cdev_open"}));
  std::vector<KprobeSpec> specs = probes_for(found);
  ASSERT_EQ(specs.size(), 4u);
  bool saw_alloc = false;
  for (const auto& s : specs)
    if (s.function == "iommu_alloc_global_pasid") {
      saw_alloc = true;
      EXPECT_EQ(s.definition("g"),
                "r:g/global_pasid_alloc iommu_alloc_global_pasid pasid=$retval:u32");
    }
  EXPECT_TRUE(saw_alloc);
}

TEST(HostKprobes, ParsesTraceLines) {
  std::string trace =
      "# tracer: nop\n"
      "#\n"
      "  pasidbench-4242  [001] ..... 1234.500001: sva_bind: (iommu_sva_bind_device+0x0/0x1c0)\n"
      "  pasidbench-4242  [001] d..1. 1234.500100: sva_get_pasid: (idxd_cdev_open+0x1a4/0x3d0 "
      "[idxd] "
      "<- iommu_sva_get_pasid) pasid=5\n"
      "     kworker/1:2-77 (     77) [000] ..... 1235.000000: global_pasid_free: "
      "(iommu_free_global_pasid+0x0/0x40) pasid=0x5\n"
      "  bash-1  [000] ..... 1.0: sched_switch: unrelated\n";
  std::vector<PasidEvent> events = parse_trace(trace);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].pid, 4242);
  EXPECT_EQ(events[0].comm, "pasidbench");
  EXPECT_EQ(events[0].event, "sva_bind");
  EXPECT_FALSE(events[0].pasid.has_value());
  EXPECT_EQ(events[1].pasid.value_or(-1), 5);
  EXPECT_DOUBLE_EQ(events[1].time_s, 1234.5001);
  EXPECT_EQ(events[2].comm, "kworker/1:2");
  EXPECT_EQ(events[2].pid, 77);
  EXPECT_EQ(events[2].pasid.value_or(-1), 5);
}

TEST(HostKprobes, FindsTracefsFromMounts) {
  FakeRoot root;
  root.write("proc/mounts",
             "sysfs /sys sysfs rw 0 0\ntracefs /sys/kernel/tracing tracefs rw 0 0\n");
  EXPECT_EQ(find_tracefs(root.path()), root.at("sys/kernel/tracing"));
  root.write("proc/mounts", "sysfs /sys sysfs rw 0 0\n");
  EXPECT_EQ(find_tracefs(root.path()), "");
}

TEST(HostKprobes, EachMissingPieceIsANote) {
  FakeRoot root;
  root.write("proc/mounts", "sysfs /sys sysfs rw 0 0\n");
  {
    PasidKprobes k(root.path());
    EXPECT_FALSE(k.active());
    EXPECT_NE(k.note().find("tracefs is not mounted"), std::string::npos) << k.note();
  }
  root.write("proc/mounts", "tracefs /sys/kernel/tracing tracefs rw 0 0\n");
  root.mkdir("sys/kernel/tracing");
  {
    PasidKprobes k(root.path());
    EXPECT_NE(k.note().find("CONFIG_KPROBE_EVENTS"), std::string::npos) << k.note();
  }
  root.write("sys/kernel/tracing/kprobe_events", "");
  root.write("proc/kallsyms", "ffffffff81000000 T schedule\n");
  {
    PasidKprobes k(root.path());
    EXPECT_NE(k.note().find("none of the PASID functions"), std::string::npos) << k.note();
  }
}

TEST(HostKprobes, DefinesProbesAndRemovesThemAgain) {
  // A plain directory is not tracefs: the definitions land in the file, the
  // instance cannot be enabled, and everything defined is removed again.
  FakeRoot root;
  root.write("proc/mounts", "tracefs /sys/kernel/tracing tracefs rw 0 0\n");
  root.write("sys/kernel/tracing/kprobe_events", "");
  root.mkdir("sys/kernel/tracing/instances");
  root.write(
      "proc/kallsyms",
      "ffffffff81d88190 T iommu_alloc_global_pasid\nffffffff81d88300 T iommu_sva_bind_device\n");
  std::string group = "pasidbench" + std::to_string(::getpid());
  {
    PasidKprobes k(root.path());
    EXPECT_FALSE(k.active());
    EXPECT_EQ(k.probed(),
              (std::vector<std::string>{"iommu_sva_bind_device", "iommu_alloc_global_pasid"}));
    EXPECT_NE(k.note().find("cannot enable probes"), std::string::npos) << k.note();
  }
  std::string written = slurp(root.at("sys/kernel/tracing/kprobe_events"));
  EXPECT_EQ(written, "p:" + group + "/sva_bind iommu_sva_bind_device\n" + "r:" + group +
                         "/global_pasid_alloc iommu_alloc_global_pasid pasid=$retval:u32\n" +
                         "-:" + group + "/sva_bind\n" + "-:" + group + "/global_pasid_alloc\n");
}

}  // namespace
}  // namespace pasidbench
