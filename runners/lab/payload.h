// What a lab runner ships to the machine under test: the pasidbench binary
// (and the micro-benchmark binary when this build has one), the shared
// libraries they load, and the suite with its scenario files.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace pasidbench::lab {

struct PayloadFile {
  std::string dest;    // path on the target (absolute) or in the bundle (relative)
  std::string source;  // file on this machine; empty when `content` or `link_target` is used
  std::string content;
  std::string link_target;  // non-empty: a symbolic link
  uint32_t mode = 0644;
};

enum class LibraryLayout {
  // Libraries at the paths ldd names, the binary's own ELF interpreter used:
  // an initramfs, where nothing else lives.
  kSystemPaths,
  // Everything under one relative directory and started through the bundled
  // dynamic loader: a machine whose own libraries we must not rely on.
  kBundled,
};

struct PayloadSpec {
  std::string pasidbench_binary;  // usually /proc/self/exe
  std::string micro_binary;       // empty: look beside the build tree, ship when present
  std::string suite_path;
  LibraryLayout layout = LibraryLayout::kSystemPaths;
  std::string home = "/opt/pasidbench";  // kSystemPaths only; kBundled uses the bundle root
  // Debug info is stripped into copies here (34 MB -> a few MB: the
  // initramfs unpacks faster); empty: ship the binaries as they are.
  std::string scratch_dir;
};

struct Payload {
  std::vector<PayloadFile> files;
  std::string home;    // PASIDBENCH_HOME on the target
  std::string binary;  // what to run: the binary (kSystemPaths) or the wrapper (kBundled)
  std::string suite;   // the suite's path on the target
  std::string micro;   // the micro binary's path on the target, or empty
  std::vector<std::string> notes;  // what was left out and why
  uint64_t bytes() const;
};

// Throws std::runtime_error when a binary or library cannot be read, or the
// suite names a scenario file outside what can be shipped.
Payload build_payload(const PayloadSpec& spec);

// The shared libraries `binary` loads, as ldd resolves them (the dynamic
// loader included). Throws std::runtime_error naming a library ldd cannot find.
std::vector<std::string> shared_libraries(const std::string& binary);

// Writes the payload into `dir` (kBundled layout), for tar. Throws
// WriteError when a file cannot be written.
void stage_payload(const Payload& payload, const std::string& dir);

}  // namespace pasidbench::lab
