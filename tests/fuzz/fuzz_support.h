// What every fuzz target shares: the contract that bad input is an
// InputError (exit 2) and nothing else: any other exception escapes and
// libFuzzer reports it as a crash, as ASan and UBSan report memory and
// undefined behaviour.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace pasidbench::fuzz {

inline std::string_view as_text(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// A scratch file per process: parsers that read paths get the input there.
std::string write_scratch(const std::string& name, std::string_view text);

}  // namespace pasidbench::fuzz
