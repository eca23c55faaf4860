// A writer for the "newc" cpio format, the one the kernel unpacks as an
// initramfs (Documentation/driver-api/early-userspace/buffer-format.rst).
#pragma once

#include <cstdint>
#include <ostream>
#include <set>
#include <string>

namespace pasidbench::lab {

class CpioWriter {
 public:
  explicit CpioWriter(std::ostream& out) : out_(out) {}

  // Paths are absolute ("/bin/busybox") or relative; stored without the
  // leading '/'. Missing parent directories are added first (mode 0755).
  void add_directory(const std::string& path, uint32_t mode = 0755);
  void add_file(const std::string& path, const std::string& data, uint32_t mode = 0644);
  // Copies a file from disk (following symlinks). Throws std::runtime_error
  // when it cannot be read.
  void add_file_from(const std::string& path, const std::string& source, uint32_t mode);
  void add_symlink(const std::string& path, const std::string& target);
  // Writes the TRAILER!!! entry. Nothing may be added afterwards.
  void finish();

  uint64_t bytes_written() const { return written_; }
  bool contains(const std::string& path) const;

 private:
  void entry(const std::string& path, uint32_t mode, const std::string& data);
  void parents(const std::string& path);
  void write(const char* data, size_t size);
  void pad4();

  std::ostream& out_;
  std::set<std::string> names_;
  uint32_t next_inode_ = 1;
  uint64_t written_ = 0;
  bool finished_ = false;
};

}  // namespace pasidbench::lab
