// Whole-or-nothing writes and paths kept under their root (platform/file_io.h).
// A full disk is simulated with RLIMIT_FSIZE: past the limit write() writes
// what fits and then fails with EFBIG, as a disk that fills up mid-line does.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "platform/file_io.h"
#include "results/jsonl_store.h"
#include "tests/cpp/lab_temp_dir.h"

namespace pasidbench {
namespace {

namespace fs = std::filesystem;

using lab::TempDir;

// Files may not grow past `bytes` while this lives.
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) {
    ::getrlimit(RLIMIT_FSIZE, &saved_);
    old_handler_ = ::signal(SIGXFSZ, SIG_IGN);  // EFBIG instead of death
    rlimit limit = saved_;
    limit.rlim_cur = bytes;
    ::setrlimit(RLIMIT_FSIZE, &limit);
  }
  ~FileSizeLimit() {
    ::setrlimit(RLIMIT_FSIZE, &saved_);
    ::signal(SIGXFSZ, old_handler_);
  }

 private:
  rlimit saved_{};
  sighandler_t old_handler_;
};

std::string contents(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(PathUnder, AcceptsNamesBelowTheRootOnly) {
  EXPECT_EQ(path_under("/cache", "linux-image-6.1.0-9-amd64_6.1.27-1"),
            fs::path("/cache/linux-image-6.1.0-9-amd64_6.1.27-1"));
  EXPECT_EQ(path_under("out", "kernels/debian-6.1"), fs::path("out/kernels/debian-6.1"));
  EXPECT_EQ(path_under("out", "./a//b/"), fs::path("out/a/b"));
  for (const char* bad : {"", ".", "./", "..", "../victim", "a/../../victim", "a/..", "/etc",
                          "x_../../../victim", "a/b/../c"})
    EXPECT_FALSE(path_under("/cache", bad)) << bad;
  // ".." inside a longer name is just a name.
  EXPECT_EQ(path_under("/cache", "pkg_1..2"), fs::path("/cache/pkg_1..2"));
}

TEST(PathUnder, PlainFileNames) {
  EXPECT_TRUE(is_plain_file_name("debian-6.1"));
  EXPECT_TRUE(is_plain_file_name("..."));
  for (std::string bad : {std::string(""), std::string("."), std::string(".."), std::string("a/b"),
                          std::string("a\0b", 3)})
    EXPECT_FALSE(is_plain_file_name(bad)) << bad;
}

TEST(RemoveAllUnder, RemovesOnlyBelowTheRootAndNeverThroughALink) {
  TempDir d("fileio-remove");
  fs::path cache = d.path / "cache", victim = d.path / "victim";
  fs::create_directories(cache / "old" / "boot");
  fs::create_directories(victim);
  std::ofstream(victim / "keep") << "precious\n";
  fs::create_directory_symlink(victim, cache / "link");
  fs::create_directory_symlink(victim, cache / "old" / "inner-link");

  std::error_code ec;
  EXPECT_FALSE(remove_all_under(cache, "../victim", ec));
  EXPECT_FALSE(remove_all_under(cache, "x/../../victim", ec));
  EXPECT_FALSE(remove_all_under(cache, "", ec));
  EXPECT_FALSE(remove_all_under(cache, ".", ec));
  // A link on the way would take the removal out of the cache.
  EXPECT_FALSE(remove_all_under(cache, "link/keep", ec));
  EXPECT_TRUE(fs::exists(victim / "keep"));

  // The link itself goes, not what it points to; so does a link inside.
  EXPECT_TRUE(remove_all_under(cache, "link", ec)) << ec.message();
  EXPECT_TRUE(remove_all_under(cache, "old", ec)) << ec.message();
  EXPECT_FALSE(fs::exists(cache / "old"));
  EXPECT_FALSE(fs::is_symlink(fs::symlink_status(cache / "link")));
  EXPECT_EQ(contents(victim / "keep"), "precious\n");
  EXPECT_TRUE(fs::exists(cache));
}

TEST(AppendWhole, AFullDiskLeavesNoTornLine) {
  TempDir d("fileio-append");
  fs::path file = d.path / "results.jsonl";
  JsonlWriter w(file.string());
  w.append({{"record", "environment"}, {"run_id", "r1"}});
  std::string before = contents(file);
  nlohmann::json big = {{"record", "test"}, {"test_id", "t"}, {"reason", std::string(8192, 'x')}};
  try {
    FileSizeLimit limit(before.size() + 100);  // room for part of the line only
    w.append(big);
    ADD_FAILURE() << "append past the file size limit did not throw";
  } catch (const WriteError& e) {
    EXPECT_NE(std::string(e.what()).find(file.string() + ": write failed: File too large"),
              std::string::npos)
        << e.what();
  }
  EXPECT_EQ(contents(file), before);
  // The writer goes on once there is room again, on a line of its own.
  w.append({{"record", "test"}, {"test_id", "t2"}});
  JsonlContents back = read_jsonl(file.string());
  EXPECT_TRUE(back.problems.empty());
  ASSERT_EQ(back.records.size(), 2u);
  EXPECT_EQ(back.records[1]["test_id"], "t2");
}

TEST(ReplaceFile, WritesWholeFilesAndKeepsTheOldOneOnFailure) {
  TempDir d("fileio-replace");
  fs::path file = d.path / "sub" / "report.json";
  replace_file(file.string(), "first\n");
  EXPECT_EQ(contents(file), "first\n");
  replace_file(file.string(), "second\n");
  EXPECT_EQ(contents(file), "second\n");
  try {
    FileSizeLimit limit(64);
    replace_file(file.string(), std::string(4096, 'y'));
    ADD_FAILURE() << "replace past the file size limit did not throw";
  } catch (const WriteError& e) {
    EXPECT_NE(std::string(e.what()).find(file.string() + ": write failed"), std::string::npos)
        << e.what();
  }
  EXPECT_EQ(contents(file), "second\n");
  // No temporary file is left beside it.
  int entries = 0;
  for (const auto& e : fs::directory_iterator(file.parent_path())) {
    (void)e;
    ++entries;
  }
  EXPECT_EQ(entries, 1);
}

TEST(WriteFully, ReportsTheErrnoOfTheFailingWrite) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  ::close(fds[0]);
  auto old = ::signal(SIGPIPE, SIG_IGN);
  EXPECT_EQ(write_fully(fds[1], "x", 1), EPIPE);
  ::signal(SIGPIPE, old);
  ::close(fds[1]);
}

}  // namespace
}  // namespace pasidbench
