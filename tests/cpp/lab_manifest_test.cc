#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "platform/process.h"
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
            "kernels/k.toml:2: name must start with a letter or digit and use only letters, digits "
            "and . _ + - (it names files and ids), not 'a b'");
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

// A name becomes OUT/kernels/<name>; "." and ".." would be the output root
// and its parent (issue 16, finding 1).
TEST(KernelManifest, NamesThatAreNotAFileNameAreRejected) {
  for (const char* name : {".", "..", ".hidden", "-rf", "a/b", "../victim"}) {
    std::string error =
        error_of(std::string("[kernel]\nname = \"") + name + "\"\npolicy = \"none\"\n");
    EXPECT_EQ(error.rfind("kernels/k.toml:2: name must start with a letter or digit", 0), 0u)
        << name << ": " << error;
  }
  EXPECT_EQ(kernel_results_dir("out", "debian-6.1"), fs::path("out/kernels/debian-6.1"));
  EXPECT_THROW(kernel_results_dir("out", ".."), InputError);
  EXPECT_THROW(kernel_results_dir("out", "."), InputError);
}

// The version names the cache directory that a failed fetch removes
// (issue 16, finding 1: "../../../victim" emptied a directory outside it).
TEST(KernelManifest, AVersionThatIsNotADebianVersionIsRejected) {
  auto with_version = [](const std::string& v) {
    return error_of(
        "[kernel]\nname = \"a\"\npolicy = \"none\"\n[source]\ntype = \"debian\"\n"
        "package = \"linux-image-6.1.0-9-amd64\"\nversion = \"" +
        v + "\"\n");
  };
  for (const char* bad : {"../../../victim", "/etc", "6.1/../../x", "", "a1.0", "6.1 2"}) {
    if (!*bad) continue;  // an empty version means "the newest", allowed
    EXPECT_EQ(
        with_version(bad).rfind("kernels/k.toml:7: version must be a Debian package version", 0),
        0u)
        << bad << ": " << with_version(bad);
  }
  for (const char* good : {"6.1.27-1", "1:2.3~rc1+dfsg-4", "6.12.117+deb12u1"})
    EXPECT_EQ(with_version(good), "no error") << good;
}

// Defence behind the manifest check: whatever reaches the fetcher, a
// removal stays in the cache.
TEST(KernelFetch, ACacheEntryOutsideTheCacheIsNeverRemoved) {
  fs::path dir = fs::temp_directory_path() / ("pb-victim-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir / "cache" / "linux-image-x_..");  // as an earlier fetch left it
  fs::create_directories(dir / "victim");
  std::ofstream(dir / "victim" / "keep") << "precious\n";
  KernelManifest m = load_kernel_manifest_text(R"(
[kernel]
name = "k"
policy = "none"
[source]
type = "debian"
package = "linux-image-x"
)",
                                               "/lab/k.toml");
  m.version = "../../../victim";  // past the loader, as a bug elsewhere might let it
  std::ostringstream log;
  EXPECT_THROW(prepare_kernel(m, (dir / "cache").string(), log), KernelUnavailable);
  EXPECT_TRUE(fs::exists(dir / "victim" / "keep"));
  fs::remove_all(dir);
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

namespace pasidbench::lab {
namespace {

// A kernel tree in miniature: a git repository whose Makefile has the
// targets the build path drives, so the whole path runs in a second.
class FakeKernelTree : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("pb-ktree-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "linux/scripts/kconfig");
    std::ofstream(dir_ / "linux/Makefile")
        << "defconfig:\n\techo CONFIG_BASE=y > .config\n"
           "olddefconfig:\n\techo '# olddefconfig' >> .config\n"
           "bzImage:\n\tmkdir -p arch/x86/boot && cat .config sched.c > arch/x86/boot/bzImage\n"
           "modules:\n\t@true\n"
           "modules_install:\n\tmkdir -p $(INSTALL_MOD_PATH)/lib/modules/6.99.0-test/kernel\n"
           "kernelrelease:\n\t@echo 6.99.0-test\n";
    std::ofstream(dir_ / "linux/scripts/kconfig/merge_config.sh")
        << "#!/bin/sh\n# -m BASE FRAGMENT...\nshift; base=$1; shift; cat \"$@\" >> \"$base\"\n";
    fs::permissions(dir_ / "linux/scripts/kconfig/merge_config.sh", fs::perms::owner_all,
                    fs::perm_options::add);
    std::ofstream(dir_ / "linux/sched.c") << "int pasid_policy = 1;\n";
    git({"init", "-q"});
    git({"-c", "user.name=t", "-c", "user.email=t@t", "add", "."});
    git({"-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "base"});
    std::ofstream(dir_ / "good.patch") << "--- a/sched.c\n+++ b/sched.c\n@@ -1 +1 @@\n"
                                          "-int pasid_policy = 1;\n+int pasid_policy = 2;\n";
    std::ofstream(dir_ / "bad.patch") << "--- a/sched.c\n+++ b/sched.c\n@@ -1 +1 @@\n"
                                         "-int pasid_policy = 7;\n+int pasid_policy = 8;\n";
    std::ofstream(dir_ / "pasid.config") << "CONFIG_INTEL_IOMMU_SVM=y\n";
  }
  void TearDown() override { fs::remove_all(dir_); }

  void git(std::vector<std::string> args) {
    args.insert(args.begin(), {"git", "-C", (dir_ / "linux").string()});
    ASSERT_TRUE(run_process(args).ok());
  }
  KernelManifest manifest(const std::string& patch) {
    return load_kernel_manifest_text(
        "[kernel]\nname = \"patched\"\npolicy = \"resync-ipi\"\n"
        "[source]\ntype = \"build\"\ntree = \"linux\"\nref = \"HEAD\"\n"
        "patches = [\"" +
            patch + "\"]\nconfig_fragments = [\"pasid.config\"]\n",
        (dir_ / "patched.toml").string());
  }
  fs::path dir_;
};

TEST_F(FakeKernelTree, BuildsAPatchedTreeWithItsConfigFragment) {
  std::ostringstream log;
  PreparedKernel k = prepare_kernel(manifest("good.patch"), (dir_ / "cache").string(), log);
  std::ifstream image(k.vmlinuz);
  std::string built((std::istreambuf_iterator<char>(image)), std::istreambuf_iterator<char>());
  EXPECT_NE(built.find("CONFIG_BASE=y"), std::string::npos);
  EXPECT_NE(built.find("CONFIG_INTEL_IOMMU_SVM=y"), std::string::npos);  // the fragment
  EXPECT_NE(built.find("pasid_policy = 2"), std::string::npos);          // the patch
  EXPECT_EQ(k.release, "6.99.0-test");
  EXPECT_EQ(fs::path(k.modules_dir).filename(), "6.99.0-test");
  EXPECT_EQ(k.build_id.rfind("git:", 0), 0u);
  EXPECT_EQ(k.build_id.size(), 4 + 40 + 9 + 64) << k.build_id;  // git:<sha1>+patches:<sha256>
  EXPECT_EQ(k.source, "build:" + (dir_ / "linux").string() + "@HEAD");
  // Built once: the second call finds it in the cache.
  std::ostringstream again;
  EXPECT_EQ(prepare_kernel(manifest("good.patch"), (dir_ / "cache").string(), again).vmlinuz,
            k.vmlinuz);
  EXPECT_EQ(again.str().find("make"), std::string::npos);
}

TEST_F(FakeKernelTree, APatchThatDoesNotApplyIsReportedByName) {
  std::ostringstream log;
  try {
    prepare_kernel(manifest("bad.patch"), (dir_ / "cache").string(), log);
    ADD_FAILURE() << "no error";
  } catch (const KernelUnavailable& e) {
    EXPECT_EQ(std::string(e.what()).rfind("patch bad.patch does not apply to HEAD: exit 1: ", 0),
              0u)
        << e.what();
  }
}

}  // namespace
}  // namespace pasidbench::lab
