// The wall clock as the text results and environment blocks carry.
#pragma once

#include <string>

namespace pasidbench {

// Now, UTC, to the second: "2026-12-07T03:41:10Z".
std::string utc_now_rfc3339();

}  // namespace pasidbench
