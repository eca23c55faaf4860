#include "runners/lab/channel.h"

namespace pasidbench::lab {

std::vector<std::string> LineSplitter::feed(const char* data, size_t size) {
  std::vector<std::string> lines;
  partial_.append(data, size);
  size_t start = 0;
  for (size_t nl = partial_.find('\n'); nl != std::string::npos; nl = partial_.find('\n', start)) {
    std::string line = partial_.substr(start, nl - start);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!line.empty()) lines.push_back(std::move(line));
    start = nl + 1;
  }
  partial_.erase(0, start);
  return lines;
}

ChannelMessage classify_line(const std::string& line) {
  ChannelMessage m;
  m.line = line;
  auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return m;
  m.json = std::move(j);
  if (m.json.contains(kLabMessageKey)) {
    const auto& what = m.json[kLabMessageKey];
    if (what == "hello")
      m.kind = ChannelMessage::Kind::kHello;
    else if (what == "done")
      m.kind = ChannelMessage::Kind::kDone;
    return m;
  }
  if (m.json.contains("schema") && m.json.contains("record"))
    m.kind = ChannelMessage::Kind::kRecord;
  return m;
}

}  // namespace pasidbench::lab
