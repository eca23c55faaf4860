#include "runners/micro_binary.h"

#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <filesystem>

namespace pasidbench {

namespace fs = std::filesystem;

namespace {

bool executable_file(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec) && ::access(p.c_str(), X_OK) == 0;
}

fs::path running_executable() {
  char buf[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return {};
  buf[n] = '\0';
  return buf;
}

}  // namespace

std::string find_micro_binary(std::string* tried, const std::string& executable) {
  std::string looked;
  std::string found;
  if (const char* env = std::getenv("PASIDBENCH_MICRO"); env && *env) {
    looked = std::string("$PASIDBENCH_MICRO=") + env;
    if (executable_file(env)) found = env;
  } else {
    std::error_code ec;
    fs::path self = executable.empty() ? running_executable() : fs::path(executable);
    fs::path resolved = fs::canonical(self, ec);
    fs::path dir = (ec ? self : resolved).parent_path();
    for (const fs::path& candidate :
         {dir / ".." / "suites" / "micro" / "pasidbench-micro", dir / "pasidbench-micro"}) {
      fs::path c = candidate.lexically_normal();
      looked += (looked.empty() ? "" : ", ") + c.string();
      if (executable_file(c)) {
        found = c.string();
        break;
      }
    }
  }
  if (tried) *tried = looked;
  return found;
}

}  // namespace pasidbench
