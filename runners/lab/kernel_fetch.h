// Turning a manifest into a bootable kernel on disk: an image as it is, a
// Debian package fetched and unpacked (never installed: installing costs a
// minute and a half of initramfs generation we never use), or a git tree
// patched, configured and built. Everything lands in a cache outside the
// repository and is reused.
#pragma once

#include <ostream>
#include <stdexcept>
#include <string>

#include "runners/lab/kernel_manifest.h"

namespace pasidbench::lab {

struct PreparedKernel {
  std::string vmlinuz;
  std::string initrd;       // kexec on a lab machine; may be empty
  std::string modules_dir;  // lib/modules/<release>; may be empty
  std::string config;       // the kernel's .config when known
  std::string release;      // uname -r, when known before booting
  std::string build_id;     // "linux-image-6.1.0-56-amd64=6.1.192-2", "git:<sha>+patches:<sha256>"
  std::string source;       // "debian:<package>=<version>", "image:<path>", "build:<tree>@<ref>"
};

// The kernel could not be made ready; what() is the exact reason, for the
// recorded result ("apt-get download linux-image-...: E: Unable to locate ...").
class KernelUnavailable : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// $PASIDBENCH_CACHE/kernels, else $XDG_CACHE_HOME/pasidbench/kernels, else
// ~/.cache/pasidbench/kernels.
std::string default_kernel_cache();

// Throws KernelUnavailable. Progress lines go to `log`.
PreparedKernel prepare_kernel(const KernelManifest& manifest, const std::string& cache_dir,
                              std::ostream& log);

// The Debian package a pattern resolves to with the apt lists of this
// machine: the highest ABI number among the names apt knows. Throws
// KernelUnavailable when none matches.
std::string resolve_debian_package(const std::string& pattern);

// "package=version" for a Debian manifest, resolved with apt's lists only
// (nothing is downloaded). Throws KernelUnavailable.
std::string debian_build_id(const KernelManifest& manifest);

// "6.1.0-*-amd64" matching, with '*' standing for one or more digits.
bool package_matches(const std::string& pattern, const std::string& name);

}  // namespace pasidbench::lab
