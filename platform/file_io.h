// Files the suite writes and directories it deletes. Writes are whole or not
// at all, so a crash or a full disk never leaves half a record; names that come
// from input are joined onto a directory only when the result provably stays
// inside it. Self-contained (libc and std::filesystem), so every floor can use it.
#pragma once

#include <cstddef>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace pasidbench {

// A file could not be written: full disk, quota, file size limit, I/O error.
// what() is "<path>: <what failed>: <strerror>". The CLI exits 1 on it.
class WriteError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Writes all `size` bytes to `fd`, retrying short writes and EINTR. Returns 0,
// or the errno of the write that failed (some bytes may have been written).
int write_fully(int fd, const void* data, size_t size);

// Appends `data` to the file open on `fd` and fsyncs it, as one unit: when
// any part fails, the file is cut back to the size it had before and
// WriteError names `path`. A reader never sees part of `data`.
void append_whole(int fd, std::string_view data, const std::string& path);

// Replaces `path` with `data`: written to a temporary file in the same
// directory, fsync'ed, renamed over `path`, and the directory fsync'ed.
// Afterwards `path` holds either its old contents or all of `data`. Creates
// the directory. Throws WriteError naming `path`.
void replace_file(const std::string& path, std::string_view data);

// A single path component a name from input may become: not empty, not "."
// or "..", no '/' and no NUL.
bool is_plain_file_name(std::string_view name);

// `root` / `relative`, when that names something strictly below `root`:
// `relative` is relative, has no ".." component at all (the kernel resolves
// ".." after symbolic links, so a lexical check of "a/../b" proves nothing)
// and is not `root` itself. Nothing on disk is consulted. std::nullopt
// otherwise.
std::optional<std::filesystem::path> path_under(const std::filesystem::path& root,
                                                const std::filesystem::path& relative);

// Removes root/relative and everything in it, only when path_under accepts
// `relative` and no directory between `root` and the target is a symbolic
// link. Links at or below the target are removed, never followed. Returns
// false, touching nothing, when the target would not be below `root`.
// Filesystem errors land in `ec`.
bool remove_all_under(const std::filesystem::path& root, const std::filesystem::path& relative,
                      std::error_code& ec);

}  // namespace pasidbench
