// Kernel modules the initramfs must carry, found and ordered without kmod:
// dependencies come from each module's own .modinfo section (Debian's image
// packages ship no modules.dep; depmod runs at install time, which we skip).
#pragma once

#include <map>
#include <string>
#include <vector>

namespace pasidbench::lab {

// The key=value strings of an ELF object's .modinfo section ("depends",
// "name", "vermagic", ...). Throws std::runtime_error for a file that is not
// a 64-bit little-endian ELF object or has no .modinfo.
std::multimap<std::string, std::string> read_modinfo(const std::string& elf_bytes);

// A module file's contents, decompressed (.ko, .ko.xz via xz, .ko.zst via
// zstd). Throws std::runtime_error naming the file and the tool's complaint.
std::string read_module_file(const std::string& path);

struct ModuleToLoad {
  std::string name;  // "virtio_console"
  std::string path;  // on disk, possibly compressed
  std::string data;  // decompressed .ko
};

struct ResolvedModules {
  std::vector<ModuleToLoad> load_order;  // dependencies first
  std::vector<std::string> builtin;      // wanted or needed, but built into the kernel
  std::vector<std::string> missing;      // neither a module file nor built in
};

// Finds `wanted` (and, recursively, what they depend on) under
// `modules_dir` (/lib/modules/<release>), using modules.builtin for the
// built-in ones. '-' and '_' in names are the same, as for modprobe.
ResolvedModules resolve_modules(const std::string& modules_dir,
                                const std::vector<std::string>& wanted);

}  // namespace pasidbench::lab
