// Kernel build manifests (kernels/*.toml): one kernel build under test, where
// it comes from, how to boot it, and which PASID policy it implements. See
// docs/lab.md for the format.
#pragma once

#include <string>
#include <vector>

#include "platform/input_error.h"

namespace pasidbench::lab {

enum class KernelSource {
  kImage,   // a vmlinuz (and modules directory) already on disk
  kDebian,  // a Debian linux-image package, fetched with apt-get download
  kBuild,   // a git tree + ref + patch series + config fragments, built here
  kBooted,  // whatever the machine under test runs now (ssh), checked against `release`
};
const char* to_string(KernelSource source);

struct KernelManifest {
  std::string path;  // the manifest file
  std::string dir;   // relative paths in it are taken from here
  std::string name;
  std::string description;
  std::string policy;  // a PASID policy name, "none" or "unknown"
  std::string sva;     // enabled | disabled | unknown
  std::string notes;
  std::string cmdline;  // appended to the runner's own boot arguments

  KernelSource source = KernelSource::kImage;
  // kImage
  std::string vmlinuz;
  std::string initrd;       // for kexec on a lab machine; the VM builds its own
  std::string modules_dir;  // /lib/modules/<release>; empty: none needed or none exist
  std::string release;      // uname -r, when the manifest knows it (kImage, kBooted)
  // kDebian
  std::string package;  // "linux-image-6.1.0-*-amd64": '*' stands for the ABI number
  std::string version;  // pin an exact package version; empty: the newest apt knows
  // kBuild
  std::string tree;  // git work tree
  std::string ref;   // commit, tag or branch
  std::vector<std::string> patches;
  std::string base_config = "defconfig";  // a make target or a config file
  std::vector<std::string> config_fragments;

  // [vm]
  int smp = 2;
  int memory_mib = 1024;
  std::string iommu = "intel-scalable";  // intel-scalable | none
  int boot_timeout_s = 90;

  SourceLocation where;
};

KernelManifest load_kernel_manifest(const std::string& path);
KernelManifest load_kernel_manifest_text(std::string_view text, const std::string& file);

// The policy names a manifest may declare: the models' (shared/design/policies.md)
// plus "none" (no user ENQCMD support, e.g. 5.13-5.17) and "unknown".
const std::vector<std::string>& known_kernel_policies();

}  // namespace pasidbench::lab
