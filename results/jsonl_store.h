// results.jsonl: one JSON object per line, fsync'ed after each, so a crash
// loses at most the test in flight.
#pragma once

#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

namespace pasidbench {

class JsonlWriter {
 public:
  // Opens for append, creating the file and its directory. Throws
  // std::runtime_error with the path and errno text.
  explicit JsonlWriter(const std::string& path);
  ~JsonlWriter();
  JsonlWriter(const JsonlWriter&) = delete;
  JsonlWriter& operator=(const JsonlWriter&) = delete;

  // Writes one line and fsyncs it, whole or not at all: on a full disk the
  // file is cut back and WriteError (platform/file_io.h) names it. A torn last
  // line from an earlier crash is terminated first so the new record starts
  // on its own line.
  void append(const nlohmann::json& record);
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  int fd_ = -1;
};

struct JsonlContents {
  std::vector<nlohmann::json> records;
  std::vector<int> line_numbers;      // of each record in the file, for messages
  std::vector<std::string> problems;  // "results.jsonl:7: truncated line (run crashed?)"
};

// The "record" field of a parsed line, or "" when the line is not an object or
// the field is not a string (json::value() would throw on either).
std::string record_type(const nlohmann::json& line);

// Reads every parsable line; unparsable ones are listed in `problems`.
JsonlContents read_jsonl(const std::string& path);

// test_ids with a final record (any outcome), for --resume.
std::set<std::string> recorded_test_ids(const JsonlContents& contents);

}  // namespace pasidbench
