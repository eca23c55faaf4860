#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "platform/process.h"
#include "runners/lab/cpio.h"
#include "runners/lab/kmod.h"
#include "runners/lab/payload.h"
#include "tests/cpp/lab_temp_dir.h"

namespace pasidbench::lab {
namespace {

namespace fs = std::filesystem;
using namespace std::string_literals;

// A minimal ELF64 relocatable object with a .modinfo section, the way a .ko
// carries it: section headers for null, .modinfo and .shstrtab.
std::string fake_module(const std::string& modinfo) {
  std::string shstrtab = "\0.modinfo\0.shstrtab\0"s;
  std::string elf(64, '\0');
  std::memcpy(elf.data(),
              "\x7f"
              "ELF",
              4);
  elf[4] = 2;  // 64-bit
  elf[5] = 1;  // little endian
  elf[6] = 1;
  uint64_t modinfo_off = elf.size();
  elf += modinfo;
  uint64_t shstr_off = elf.size();
  elf += shstrtab;
  while (elf.size() % 8) elf += '\0';
  uint64_t shoff = elf.size();
  auto put = [&](size_t at, auto v) { std::memcpy(elf.data() + at, &v, sizeof v); };
  put(0x28, shoff);
  put(0x3a, uint16_t{64});
  put(0x3c, uint16_t{3});
  put(0x3e, uint16_t{2});
  auto section = [&](uint32_t name, uint64_t off, uint64_t size) {
    std::string sh(64, '\0');
    std::memcpy(sh.data(), &name, 4);
    std::memcpy(sh.data() + 0x18, &off, 8);
    std::memcpy(sh.data() + 0x20, &size, 8);
    elf += sh;
  };
  section(0, 0, 0);
  section(1, modinfo_off, modinfo.size());
  section(10, shstr_off, shstrtab.size());
  return elf;
}

TEST(Cpio, WritesANewcArchiveThatCpioExtractsAsWritten) {
  if (find_program("cpio").empty()) GTEST_SKIP() << "cpio not installed (Debian package cpio)";
  TempDir dir("cpio");
  {
    std::ofstream out(dir.path / "a.cpio", std::ios::binary);
    CpioWriter w(out);
    w.add_file("/bin/tool", "#!/bin/sh\necho hi\n", 0755);
    w.add_file("/etc/deep/nested/conf", std::string("x\0y", 3));
    w.add_symlink("/usr/bin/tool", "/bin/tool");
    w.add_directory("/results");
    w.add_file("/empty", "");
    w.finish();
    EXPECT_EQ(w.bytes_written() % 4, 0u);
  }
  fs::create_directories(dir.path / "x");
  ProcessResult r = run_process({"cpio", "-idm", "--quiet", "-F", (dir.path / "a.cpio").string()},
                                ProcessOptions().in_dir((dir.path / "x").string()));
  ASSERT_TRUE(r.ok()) << r.describe();
  EXPECT_EQ(read_file(dir.path / "x/bin/tool"), "#!/bin/sh\necho hi\n");
  EXPECT_EQ(fs::status(dir.path / "x/bin/tool").permissions() & fs::perms::owner_exec,
            fs::perms::owner_exec);
  EXPECT_EQ(read_file(dir.path / "x/etc/deep/nested/conf"), std::string("x\0y", 3));
  EXPECT_EQ(fs::read_symlink(dir.path / "x/usr/bin/tool"), "/bin/tool");
  EXPECT_TRUE(fs::is_directory(dir.path / "x/results"));
  EXPECT_EQ(fs::file_size(dir.path / "x/empty"), 0u);
}

TEST(Cpio, RefusesTheSamePathTwice) {
  std::ostringstream out;
  CpioWriter w(out);
  w.add_file("/a", "1");
  EXPECT_THROW(w.add_file("a", "2"), std::logic_error);
}

TEST(Kmod, ReadsDependsFromModinfo) {
  auto info =
      read_modinfo(fake_module("license=GPL\0depends=virtio,virtio_ring\0name=virtio_console\0"s));
  ASSERT_EQ(info.count("depends"), 1u);
  EXPECT_EQ(info.find("depends")->second, "virtio,virtio_ring");
  EXPECT_EQ(info.find("name")->second, "virtio_console");
  EXPECT_THROW(read_modinfo("not an elf file at all, certainly not 64 bytes of header......"),
               std::runtime_error);
}

TEST(Kmod, OrdersDependenciesFirstAndTellsBuiltinFromMissing) {
  TempDir dir("kmod");
  fs::path mods = dir.path / "lib/modules/6.1.0-test";
  fs::create_directories(mods / "kernel/drivers/virtio");
  fs::create_directories(mods / "kernel/drivers/char");
  auto module = [&](const std::string& rel, const std::string& depends) {
    std::string info = "depends=" + depends + "\0"s;
    std::ofstream(mods / rel, std::ios::binary) << fake_module(info);
  };
  module("kernel/drivers/virtio/virtio.ko", "");
  module("kernel/drivers/virtio/virtio_ring.ko", "");
  module("kernel/drivers/virtio/virtio_pci.ko", "virtio_ring,virtio,virtio-pci-modern-dev");
  module("kernel/drivers/virtio/virtio_pci_modern_dev.ko", "");
  module("kernel/drivers/char/virtio_console.ko", "virtio,virtio_ring");
  std::ofstream(mods / "modules.builtin") << "kernel/drivers/iommu/intel/iommu.ko\n";

  ResolvedModules r =
      resolve_modules(mods.string(), {"virtio_pci", "virtio-console", "iommu", "9p"});
  std::vector<std::string> order;
  for (const auto& m : r.load_order) order.push_back(m.name);
  EXPECT_EQ(order, (std::vector<std::string>{"virtio_ring", "virtio", "virtio_pci_modern_dev",
                                             "virtio_pci", "virtio_console"}));
  EXPECT_EQ(r.builtin, std::vector<std::string>{"iommu"});
  EXPECT_EQ(r.missing, std::vector<std::string>{"9p"});
}

TEST(Kmod, DecompressesXzModules) {
  if (find_program("xz").empty()) GTEST_SKIP() << "xz not installed";
  TempDir dir("kmodxz");
  std::string ko = fake_module("depends=\0"s);
  std::ofstream(dir.path / "m.ko", std::ios::binary) << ko;
  ASSERT_TRUE(run_process({"xz", (dir.path / "m.ko").string()}).ok());
  EXPECT_EQ(read_module_file((dir.path / "m.ko.xz").string()), ko);
}

TEST(Payload, ShipsTheBinaryItsLibrariesAndTheSuitesScenarios) {
  TempDir dir("payload");
  fs::create_directories(dir.path / "suite/scenarios");
  std::ofstream(dir.path / "suite/s.toml") << "[suite]\nname = \"s\"\nbackends = [\"host\"]\n"
                                              "[[test]]\nworkload = \"scenarios/x.toml\"\n"
                                              "[[test]]\nworkload = \"thread-pool\"\n";
  std::ofstream(dir.path / "suite/scenarios/x.toml") << "# only its path matters here\n";
  PayloadSpec spec;
  spec.pasidbench_binary = PASIDBENCH_BINARY;
  spec.suite_path = (dir.path / "suite/s.toml").string();
  Payload p = build_payload(spec);
  std::set<std::string> dests;
  for (const auto& f : p.files) dests.insert(f.dest);
  EXPECT_EQ(p.binary, "/opt/pasidbench/build/runners/pasidbench");
  EXPECT_EQ(p.suite, "/opt/pasidbench/suites/s.toml");
  EXPECT_TRUE(dests.count("/opt/pasidbench/suites/scenarios/x.toml"));
  for (const auto& lib : shared_libraries(PASIDBENCH_BINARY)) EXPECT_TRUE(dests.count(lib)) << lib;
  EXPECT_TRUE(std::any_of(dests.begin(), dests.end(), [](const std::string& d) {
    return d.find("libc.so") != std::string::npos;
  }));

  spec.layout = LibraryLayout::kBundled;
  Payload b = build_payload(spec);
  EXPECT_EQ(b.binary, "pasidbench");
  fs::path staged = dir.path / "bundle";
  stage_payload(b, staged.string());
  // The bundled loader runs the binary with the bundled libraries.
  ProcessResult r = run_process({(staged / "pasidbench").string(), "--version"});
  ASSERT_TRUE(r.ok()) << r.describe();
  EXPECT_EQ(r.out.rfind("pasidbench ", 0), 0u) << r.out;
  EXPECT_TRUE(fs::exists(staged / "suites/scenarios/x.toml"));
}

TEST(Payload, ShipsTheMicroBenchmarkBinaryWhereverTheRunnerLooks) {
  TempDir dir("payload3");
  std::ofstream(dir.path / "s.toml") << "[suite]\nname = \"s\"\nbackends = [\"host\"]\n"
                                        "[[test]]\nworkload = \"thread-pool\"\n";
  PayloadSpec spec;
  spec.pasidbench_binary = PASIDBENCH_BINARY;
  spec.micro_binary = "/bin/true";  // any dynamic executable stands in for it
  spec.suite_path = (dir.path / "s.toml").string();
  Payload p = build_payload(spec);
  EXPECT_EQ(p.micro, "/opt/pasidbench/build/suites/micro/pasidbench-micro");
  std::map<std::string, PayloadFile> by_dest;
  for (const auto& f : p.files) by_dest[f.dest] = f;
  ASSERT_TRUE(by_dest.count(p.micro));
  // Also at its path on this machine, for a path compiled into the runner.
  std::string here = fs::canonical("/bin/true").string();
  ASSERT_TRUE(by_dest.count(here));
  EXPECT_EQ(by_dest[here].link_target, p.micro);
  for (const auto& lib : shared_libraries("/bin/true")) EXPECT_TRUE(by_dest.count(lib)) << lib;
}

TEST(Payload, ABundleCannotCarryAScenarioAboveItsRoot) {
  TempDir dir("payload2");
  fs::create_directories(dir.path / "lab/suite");
  std::ofstream(dir.path / "lab/suite/s.toml") << "[suite]\nname = \"s\"\nbackends = [\"host\"]\n"
                                                  "[[test]]\nworkload = \"../x.toml\"\n"
                                                  "[[test]]\nworkload = \"../../y.toml\"\n";
  std::ofstream(dir.path / "lab/x.toml") << "\n";
  std::ofstream(dir.path / "y.toml") << "\n";
  PayloadSpec spec;
  spec.pasidbench_binary = PASIDBENCH_BINARY;
  spec.suite_path = (dir.path / "lab/suite/s.toml").string();
  spec.layout = LibraryLayout::kBundled;
  EXPECT_THROW(build_payload(spec), std::runtime_error);
  // In an initramfs the paths are the guest's own: both fit.
  spec.layout = LibraryLayout::kSystemPaths;
  Payload p = build_payload(spec);
  std::set<std::string> dests;
  for (const auto& f : p.files) dests.insert(f.dest);
  EXPECT_TRUE(dests.count("/opt/pasidbench/x.toml"));
  EXPECT_TRUE(dests.count("/opt/y.toml"));
}

}  // namespace
}  // namespace pasidbench::lab
