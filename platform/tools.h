// Where pasidbench-micro (the Google Benchmark micro suites) is. One rule for
// the host backend that runs it and the lab runners that ship it; it touches
// nothing but the file system and the environment.
#pragma once

#include <string>

namespace pasidbench {

// $PASIDBENCH_MICRO when set (and then nothing else); otherwise beside
// `executable` in the build or install layout: <dir>/../suites/micro/
// pasidbench-micro, then <dir>/pasidbench-micro. `executable` empty means
// the running one (/proc/self/exe). Returns the path, or empty when none is
// an executable file; `tried` (if given) lists where it looked.
std::string find_micro_binary(std::string* tried, const std::string& executable = "");

// perf: /usr/bin/perf, then Debian's versioned /usr/bin/perf_X.Y, then PATH.
// `tried` lists where it looked.
std::string find_perf(std::string* tried);

}  // namespace pasidbench
