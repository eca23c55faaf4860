#include "platform/file_io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace pasidbench {

namespace fs = std::filesystem;

namespace {

[[noreturn]] void fail(const std::string& path, const char* what, int err) {
  throw WriteError(path + ": " + what + ": " + std::strerror(err));
}

void fsync_directory_of(const fs::path& path) {
  fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);  // best effort: some filesystems refuse fsync on a directory
  ::close(fd);
}

}  // namespace

int write_fully(int fd, const void* data, size_t size) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    ssize_t n = ::write(fd, p, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (n == 0) return EIO;  // a regular file never does this; refuse to spin
    p += n;
    size -= static_cast<size_t>(n);
  }
  return 0;
}

void append_whole(int fd, std::string_view data, const std::string& path) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) fail(path, "cannot stat", errno);
  int err = write_fully(fd, data.data(), data.size());
  const char* what = "write failed";
  if (err == 0 && ::fsync(fd) != 0) {
    err = errno;
    what = "fsync failed";
  }
  if (err == 0) return;
  // Cut the partial line off; if even that fails the reader skips it as a
  // torn line, which it already tolerates after a crash.
  while (::ftruncate(fd, st.st_size) != 0 && errno == EINTR) {
  }
  fail(path, what, err);
}

void replace_file(const std::string& path, std::string_view data) {
  fs::path target(path);
  std::error_code ec;
  if (target.has_parent_path()) fs::create_directories(target.parent_path(), ec);
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) fail(path, "cannot create a temporary file beside it", errno);
  int err = write_fully(fd, data.data(), data.size());
  const char* what = "write failed";
  if (err == 0 && ::fsync(fd) != 0) {
    err = errno;
    what = "fsync failed";
  }
  if (::close(fd) != 0 && err == 0) {
    err = errno;
    what = "close failed";
  }
  if (err == 0 && ::rename(tmp.c_str(), path.c_str()) != 0) {
    err = errno;
    what = "rename failed";
  }
  if (err != 0) {
    ::unlink(tmp.c_str());
    fail(path, what, err);
  }
  fsync_directory_of(target);
}

bool is_plain_file_name(std::string_view name) {
  return !name.empty() && name != "." && name != ".." &&
         name.find_first_of(std::string_view("/\0", 2)) == std::string_view::npos;
}

std::optional<fs::path> path_under(const fs::path& root, const fs::path& relative) {
  if (relative.empty() || relative.has_root_name() || relative.has_root_directory())
    return std::nullopt;
  for (const auto& part : relative)
    if (part == ".." || part.native().find('\0') != std::string::npos) return std::nullopt;
  fs::path normal = relative.lexically_normal();
  // "a/b/" would make the kernel follow a link at b: drop the trailing slash.
  if (!normal.empty() && normal.filename().empty()) normal = normal.parent_path();
  if (normal.empty() || normal == ".") return std::nullopt;
  return root / normal;
}

bool remove_all_under(const fs::path& root, const fs::path& relative, std::error_code& ec) {
  ec.clear();
  std::optional<fs::path> target = path_under(root, relative);
  if (!target) return false;
  // Every directory between root and the target must be a real one: a link
  // there would take the removal somewhere else.
  fs::path walk = root;
  for (const auto& part : target->lexically_relative(root).parent_path()) {
    walk /= part;
    std::error_code status_ec;
    if (fs::is_symlink(fs::symlink_status(walk, status_ec))) return false;
  }
  fs::remove_all(*target, ec);
  return true;
}

}  // namespace pasidbench
