#include "runners/lab/cpio.h"

#include <sys/stat.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace pasidbench::lab {

namespace {

std::string normalise(const std::string& path) {
  size_t start = path.find_first_not_of('/');
  std::string p = start == std::string::npos ? "" : path.substr(start);
  while (!p.empty() && p.back() == '/') p.pop_back();
  if (p.empty()) throw std::logic_error("cpio: empty path");
  return p;
}

}  // namespace

void CpioWriter::write(const char* data, size_t size) {
  out_.write(data, static_cast<std::streamsize>(size));
  written_ += size;
}

void CpioWriter::pad4() {
  static const char zeros[4] = {};
  if (written_ % 4) write(zeros, 4 - written_ % 4);
}

void CpioWriter::entry(const std::string& name, uint32_t mode, const std::string& data) {
  if (finished_) throw std::logic_error("cpio: entry after finish()");
  bool is_dir = S_ISDIR(mode);
  // The header is 13 eight-digit hex fields after the magic; the name
  // (NUL-terminated) and the data are each padded to 4 bytes.
  char header[111];
  std::snprintf(header, sizeof header, "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
                next_inode_++, mode, 0u, 0u, is_dir ? 2u : 1u, 0u,
                static_cast<unsigned>(data.size()), 0u, 0u, 0u, 0u,
                static_cast<unsigned>(name.size() + 1), 0u);
  write(header, 110);
  write(name.c_str(), name.size() + 1);
  pad4();
  if (!data.empty()) write(data.data(), data.size());
  pad4();
  if (!out_) throw std::runtime_error("cpio: write failed");
}

void CpioWriter::parents(const std::string& name) {
  for (size_t slash = name.find('/'); slash != std::string::npos;
       slash = name.find('/', slash + 1)) {
    std::string dir = name.substr(0, slash);
    if (names_.insert(dir).second) entry(dir, S_IFDIR | 0755, {});
  }
}

bool CpioWriter::contains(const std::string& path) const {
  return names_.count(normalise(path)) != 0;
}

void CpioWriter::add_directory(const std::string& path, uint32_t mode) {
  std::string name = normalise(path);
  parents(name);
  if (names_.insert(name).second) entry(name, S_IFDIR | (mode & 07777), {});
}

void CpioWriter::add_file(const std::string& path, const std::string& data, uint32_t mode) {
  std::string name = normalise(path);
  parents(name);
  if (!names_.insert(name).second) throw std::logic_error("cpio: " + name + " added twice");
  if (data.size() > 0xffffffffu) throw std::runtime_error("cpio: " + name + " is over 4 GiB");
  entry(name, S_IFREG | (mode & 07777), data);
}

void CpioWriter::add_file_from(const std::string& path, const std::string& source, uint32_t mode) {
  std::ifstream in(source, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + source);
  std::ostringstream data;
  data << in.rdbuf();
  add_file(path, data.str(), mode);
}

void CpioWriter::add_symlink(const std::string& path, const std::string& target) {
  std::string name = normalise(path);
  parents(name);
  if (!names_.insert(name).second) throw std::logic_error("cpio: " + name + " added twice");
  entry(name, S_IFLNK | 0777, target);
}

void CpioWriter::finish() {
  entry("TRAILER!!!", 0, {});
  finished_ = true;
  out_.flush();
}

}  // namespace pasidbench::lab
