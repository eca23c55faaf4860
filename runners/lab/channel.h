// The results channel between the agent on the machine under test and the lab
// runner: JSON lines. Result records (results.jsonl lines) pass as they are;
// the agent's own messages carry "pasidbench_lab": "hello" when the runner
// starts and "done" when it ends. A channel is a virtio-serial port, an ssh
// pipe or a file; never the console.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace pasidbench::lab {

inline constexpr const char* kLabMessageKey = "pasidbench_lab";
// The virtio-serial port name the VM runner gives the channel.
inline constexpr const char* kResultsPortName = "pasidbench.results";

// Splits a byte stream into complete lines; a partial last line waits for
// more bytes.
class LineSplitter {
 public:
  std::vector<std::string> feed(const char* data, size_t size);
  std::vector<std::string> feed(const std::string& data) { return feed(data.data(), data.size()); }
  const std::string& pending() const { return partial_; }

 private:
  std::string partial_;
};

struct ChannelMessage {
  enum class Kind { kHello, kDone, kRecord, kGarbage } kind = Kind::kGarbage;
  nlohmann::json json;  // the parsed line (kGarbage: null)
  std::string line;
};

ChannelMessage classify_line(const std::string& line);

}  // namespace pasidbench::lab
