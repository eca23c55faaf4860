#include "results/jsonl_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "platform/file_io.h"

namespace pasidbench {

JsonlWriter::JsonlWriter(const std::string& path) : path_(path) {
  std::filesystem::path p(path);
  std::error_code ec;
  if (p.has_parent_path()) std::filesystem::create_directories(p.parent_path(), ec);
  fd_ = ::open(path.c_str(), O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) throw WriteError(path + ": cannot open for writing: " + std::strerror(errno));
}

JsonlWriter::~JsonlWriter() {
  if (fd_ >= 0) ::close(fd_);
}

void JsonlWriter::append(const nlohmann::json& record) {
  std::string line = record.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  line += '\n';
  struct stat st {};
  if (::fstat(fd_, &st) == 0 && st.st_size > 0) {
    char last = 0;
    if (::pread(fd_, &last, 1, st.st_size - 1) == 1 && last != '\n')
      line.insert(line.begin(), '\n');
  }
  append_whole(fd_, line, path_);
}

std::string record_type(const nlohmann::json& line) {
  if (!line.is_object()) return "";
  auto it = line.find("record");
  return it != line.end() && it->is_string() ? it->get<std::string>() : "";
}

JsonlContents read_jsonl(const std::string& path) {
  JsonlContents out;
  std::ifstream in(path);
  if (!in) return out;
  std::string line;
  int lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (line.empty()) continue;
    auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object()) {
      out.problems.push_back(path + ":" + std::to_string(lineno) +
                             ": unparsable line left out (truncated by a crash?)");
      continue;
    }
    out.records.push_back(std::move(j));
    out.line_numbers.push_back(lineno);
  }
  return out;
}

std::set<std::string> recorded_test_ids(const JsonlContents& contents) {
  std::set<std::string> ids;
  for (const auto& r : contents.records)
    if (record_type(r) == "test" && r.contains("test_id") && r["test_id"].is_string())
      ids.insert(r["test_id"].get<std::string>());
  return ids;
}

}  // namespace pasidbench
