#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "runners/lab/kernel_fetch.h"
#include "runners/lab/kernel_manifest.h"
#include "runners/lab/lab_plan.h"

namespace pasidbench::lab {
namespace {

namespace fs = std::filesystem;

std::string error_of(const std::string& text) {
  try {
    load_kernel_manifest_text(text, "kernels/k.toml");
  } catch (const InputError& e) {
    return e.what();
  }
  return "no error";
}

constexpr const char* kDebian = R"(
[kernel]
name = "debian-6.1"
policy = "mm-lifetime-lazy-gp"
sva = "disabled"
cmdline = "mitigations=off"

[source]
type = "debian"
package = "linux-image-6.1.0-*-amd64"

[vm]
smp = 4
memory_mib = 2048
iommu = "none"
)";

TEST(KernelManifest, LoadsADebianKernel) {
  KernelManifest m = load_kernel_manifest_text(kDebian, "kernels/k.toml");
  EXPECT_EQ(m.name, "debian-6.1");
  EXPECT_EQ(m.source, KernelSource::kDebian);
  EXPECT_EQ(m.package, "linux-image-6.1.0-*-amd64");
  EXPECT_EQ(m.policy, "mm-lifetime-lazy-gp");
  EXPECT_EQ(m.sva, "disabled");
  EXPECT_EQ(m.cmdline, "mitigations=off");
  EXPECT_EQ(m.smp, 4);
  EXPECT_EQ(m.memory_mib, 2048);
  EXPECT_EQ(m.iommu, "none");
}

TEST(KernelManifest, ImagePathsAreTakenFromTheManifestsDirectory) {
  KernelManifest m = load_kernel_manifest_text(R"(
[kernel]
name = "mine"
policy = "unknown"
[source]
type = "image"
vmlinuz = "../images/bzImage"
modules = "/lib/modules/6.9.0"
)",
                                               "/lab/kernels/mine.toml");
  EXPECT_EQ(m.vmlinuz, "/lab/images/bzImage");
  EXPECT_EQ(m.modules_dir, "/lib/modules/6.9.0");
  EXPECT_EQ(m.smp, 2);  // the [vm] defaults
  EXPECT_EQ(m.iommu, "intel-scalable");
}

TEST(KernelManifest, BuildSourceKeepsThePatchSeriesInOrder) {
  KernelManifest m = load_kernel_manifest_text(R"(
[kernel]
name = "patched"
policy = "resync-ipi"
[source]
type = "build"
tree = "/src/linux"
ref = "v6.12"
patches = ["p/0001-a.patch", "p/0002-b.patch"]
config = "defconfig"
config_fragments = ["pasid.config"]
)",
                                               "/lab/kernels/patched.toml");
  EXPECT_EQ(m.source, KernelSource::kBuild);
  ASSERT_EQ(m.patches.size(), 2u);
  EXPECT_EQ(m.patches[0], "/lab/kernels/p/0001-a.patch");
  EXPECT_EQ(m.patches[1], "/lab/kernels/p/0002-b.patch");
  EXPECT_EQ(m.base_config, "defconfig");  // a make target, not a file
  EXPECT_EQ(m.config_fragments.at(0), "/lab/kernels/pasid.config");
}

TEST(KernelManifest, BadInputNamesFileLineAndWhatIsAllowed) {
  EXPECT_EQ(error_of("[kernel]\nname = \"a\"\npolicy = \"lazy\"\n[source]\ntype = \"image\"\n"
                     "vmlinuz = \"x\"\n"),
            "kernels/k.toml:3: unknown policy 'lazy' (known: task-refcount, mm-lifetime, "
            "mm-lifetime-lazy-gp, resync-ipi, none, unknown)");
  EXPECT_EQ(error_of("[kernel]\nname = \"a\"\npolicy = \"none\"\n[source]\ntype = \"rpm\"\n"),
            "kernels/k.toml:5: source type must be image | debian | build | booted, not 'rpm'");
  EXPECT_EQ(error_of("[kernel]\nname = \"a b\"\npolicy = \"none\"\n"),
            "kernels/k.toml:2: name may only use letters, digits and . _ + - (it names files and "
            "ids)");
  EXPECT_EQ(error_of("[kernel]\nname = \"a\"\npolicy = \"none\"\n[source]\ntype = \"debian\"\n"
                     "package = \"linux-image-*-*\"\n"),
            "kernels/k.toml:6: package must be a Debian package name, with '*' for the ABI number "
            "at most once (e.g. linux-image-6.1.0-*-amd64), not 'linux-image-*-*'");
  EXPECT_EQ(error_of("[kernel]\nname = \"a\"\npolicy = \"none\"\n[source]\ntype = \"image\"\n"
                     "vmlinuz = \"x\"\n[vm]\nsmp = 0\n"),
            "kernels/k.toml:8: smp must be 1..64");
  EXPECT_EQ(error_of("[kernel]\nname = \"a\"\npolicy = \"none\"\n[source]\ntype = \"image\"\n"
                     "vmlinuz = \"x\"\nkernel = \"y\"\n"),
            "kernels/k.toml:7: unknown key 'kernel' in [source] of type image (allowed: type, "
            "vmlinuz, initrd, modules, release)");
}

TEST(KernelManifest, TwoManifestsMayNotShareAName) {
  fs::path dir = fs::temp_directory_path() / ("pb-manifests-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  for (const char* f : {"a.toml", "b.toml"}) std::ofstream(dir / f) << kDebian;
  try {
    load_manifests({(dir / "a.toml").string(), (dir / "b.toml").string()});
    ADD_FAILURE() << "duplicate names accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("kernel name 'debian-6.1' is used by another manifest"),
              std::string::npos)
        << e.what();
  }
  fs::remove_all(dir);
}

TEST(KernelManifest, ShippedManifestsLoadAndDeclareTheirPolicy) {
  int seen = 0;
  for (const auto& e : fs::directory_iterator(fs::path(PASIDBENCH_SOURCE_DIR) / "kernels")) {
    if (e.path().extension() != ".toml") continue;
    KernelManifest m = load_kernel_manifest(e.path().string());
    EXPECT_EQ(m.source, KernelSource::kDebian) << e.path();
    EXPECT_EQ(m.policy, "mm-lifetime-lazy-gp") << e.path();
    ++seen;
  }
  EXPECT_GE(seen, 2);
}

TEST(DebianPackage, StarStandsForTheAbiNumberOnly) {
  EXPECT_TRUE(package_matches("linux-image-6.1.0-*-amd64", "linux-image-6.1.0-56-amd64"));
  EXPECT_FALSE(package_matches("linux-image-6.1.0-*-amd64", "linux-image-6.1.0-56-cloud-amd64"));
  EXPECT_FALSE(package_matches("linux-image-6.1.0-*-amd64", "linux-image-6.1.0-56-amd64-dbg"));
  EXPECT_FALSE(package_matches("linux-image-6.1.0-*-amd64", "linux-image-6.1.0--amd64"));
  EXPECT_TRUE(
      package_matches("linux-image-6.12.*+deb12-amd64", "linux-image-6.12.117+deb12-amd64"));
  EXPECT_FALSE(
      package_matches("linux-image-6.12.*+deb12-amd64", "linux-image-6.12.117+deb12-rt-amd64"));
  EXPECT_TRUE(package_matches("linux-image-amd64", "linux-image-amd64"));
}

TEST(KernelFetch, AMissingImageIsReportedNotThrownAsInputError) {
  KernelManifest m = load_kernel_manifest_text(R"(
[kernel]
name = "gone"
policy = "unknown"
[source]
type = "image"
vmlinuz = "/nonexistent/bzImage"
)",
                                               "/lab/gone.toml");
  std::ostringstream log;
  try {
    prepare_kernel(m, "/tmp", log);
    ADD_FAILURE() << "no error";
  } catch (const KernelUnavailable& e) {
    EXPECT_STREQ(e.what(), "kernel image /nonexistent/bzImage does not exist (/lab/gone.toml)");
  }
}

}  // namespace
}  // namespace pasidbench::lab
