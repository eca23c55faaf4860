#include "platform/tools.h"

#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <filesystem>
#include <string_view>
#include <vector>

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

std::string find_perf(std::string* tried) {
  tried->clear();
  std::vector<fs::path> candidates = {"/usr/bin/perf"};
  std::error_code ec;
  std::vector<fs::path> versioned;
  for (const auto& e : fs::directory_iterator("/usr/bin", ec))
    if (e.path().filename().string().rfind("perf_", 0) == 0) versioned.push_back(e.path());
  std::sort(versioned.rbegin(), versioned.rend());  // newest version first
  candidates.insert(candidates.end(), versioned.begin(), versioned.end());
  if (const char* path = std::getenv("PATH"))
    for (std::string_view rest = path; !rest.empty();) {
      auto colon = rest.find(':');
      std::string part(rest.substr(0, colon));
      if (!part.empty()) candidates.push_back(fs::path(part) / "perf");
      rest = colon == std::string_view::npos ? "" : rest.substr(colon + 1);
    }
  for (const auto& c : candidates) {
    if (tried->find(c.string()) != std::string::npos) continue;
    *tried += (tried->empty() ? "" : ", ") + c.string();
    if (executable_file(c)) return c.string();
  }
  return {};
}

}  // namespace pasidbench
