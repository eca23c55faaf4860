#include "platform/kprobe_observer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

namespace pasidbench {

namespace fs = std::filesystem;

namespace {

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// tracefs control files take one command per write(); an error comes back
// from that write.
std::string write_control(const fs::path& p, const std::string& text, bool append) {
  int fd = ::open(p.c_str(), O_WRONLY | O_CLOEXEC | (append ? O_APPEND : O_TRUNC));
  if (fd < 0) return p.string() + ": " + std::strerror(errno);
  std::string line = text + "\n";
  ssize_t n = ::write(fd, line.data(), line.size());
  int err = errno;
  ::close(fd);
  if (n != static_cast<ssize_t>(line.size()))
    return "'" + text + "' -> " + p.string() + ": " + std::strerror(n < 0 ? err : EIO);
  return {};
}

}  // namespace

std::string KprobeSpec::definition(const std::string& group) const {
  std::string d = std::string(on_return ? "r" : "p") + ":" + group + "/" + event + " " + function;
  if (!fetch.empty()) d += " " + fetch;
  return d;
}

const std::vector<KprobeSpec>& pasid_kprobe_catalog() {
  static const std::vector<KprobeSpec> all = {
      {"sva_bind", "iommu_sva_bind_device", false, ""},
      {"sva_unbind", "iommu_sva_unbind_device", false, ""},
      // What a bind got: idxd asks for the PASID right after binding.
      {"sva_get_pasid", "iommu_sva_get_pasid", true, "pasid=$retval:u32"},
      {"global_pasid_alloc", "iommu_alloc_global_pasid", true, "pasid=$retval:u32"},  // 6.6+
      {"global_pasid_free", "iommu_free_global_pasid", false, "pasid=$arg1:u32"},     // 6.6+
      {"sva_alloc_pasid", "iommu_sva_alloc_pasid", true, "ret=$retval:s32"},          // 5.18-6.5
      {"ioasid_alloc", "ioasid_alloc", true, "pasid=$retval:u32"},                    // <= 6.3
      {"ioasid_free", "ioasid_free", false, "pasid=$arg1:u32"},                       // <= 6.3
      {"mm_pasid_drop", "mm_pasid_drop", false, ""},  // out of line from 6.4/6.8
      {"idxd_cdev_open", "idxd_cdev_open", false, ""},
      {"idxd_wq_set_pasid", "idxd_wq_set_pasid", false, "pasid=$arg2:s32"},
  };
  return all;
}

std::vector<KprobeSpec> probes_for(const std::set<std::string>& functions) {
  std::vector<KprobeSpec> out;
  for (const auto& spec : pasid_kprobe_catalog())
    if (functions.count(spec.function)) out.push_back(spec);
  return out;
}

std::set<std::string> kernel_functions(const std::string& text,
                                       const std::set<std::string>& wanted) {
  std::set<std::string> found;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string addr, type, name;
    if (!(words >> addr >> type >> name)) continue;
    if (type != "T" && type != "t") continue;
    if (wanted.count(name)) found.insert(name);
  }
  return found;
}

std::string find_tracefs(const std::string& root) {
  std::ifstream in(fs::path(root) / "proc/mounts");
  std::string line, debugfs;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string dev, mountpoint, type;
    if (!(words >> dev >> mountpoint >> type)) continue;
    std::string under_root =
        root == "/" ? mountpoint : (fs::path(root) / mountpoint.substr(1)).string();
    if (type == "tracefs") return under_root;
    if (type == "debugfs" && debugfs.empty()) debugfs = under_root + "/tracing";
  }
  std::error_code ec;
  if (!debugfs.empty() && fs::exists(fs::path(debugfs) / "kprobe_events", ec)) return debugfs;
  return {};
}

std::vector<PasidEvent> parse_trace(const std::string& text) {
  static const std::regex line_re(
      R"(^\s*(.*?)-(\d+)\s+(?:\(\s*[-\d]+\)\s+)?\[(\d+)\]\s+(?:\S+\s+)?(\d+\.\d+):\s+([A-Za-z0-9_]+):\s*(.*)$)");
  static const std::regex pasid_re(R"((?:^|\s)pasid=(0x[0-9a-fA-F]+|-?\d+))");
  std::set<std::string> known;
  for (const auto& spec : pasid_kprobe_catalog()) known.insert(spec.event);
  std::vector<PasidEvent> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::smatch m;
    if (!std::regex_match(line, m, line_re)) continue;
    if (!known.count(m[5].str())) continue;
    PasidEvent e;
    e.comm = m[1].str();
    e.pid = static_cast<pid_t>(std::stol(m[2].str()));
    e.time_s = std::stod(m[4].str());
    e.event = m[5].str();
    e.fields = m[6].str();
    std::smatch pm;
    if (std::regex_search(e.fields, pm, pasid_re)) e.pasid = std::stoll(pm[1].str(), nullptr, 0);
    out.push_back(e);
  }
  return out;
}

PasidKprobes::PasidKprobes(const std::string& root)
    : group_("pasidbench" + std::to_string(::getpid())) {
  if (root == "/" && ::geteuid() != 0) {
    note_ = "kprobes not set up: they need root";
    return;
  }
  tracefs_ = find_tracefs(root);
  if (tracefs_.empty()) {
    note_ =
        "kprobes not set up: tracefs is not mounted (mount -t tracefs nodev /sys/kernel/tracing)";
    return;
  }
  std::error_code ec;
  fs::path events = fs::path(tracefs_) / "kprobe_events";
  if (!fs::exists(events, ec)) {
    note_ =
        "kprobes not set up: " + events.string() + " missing (kernel without CONFIG_KPROBE_EVENTS)";
    return;
  }
  std::set<std::string> wanted;
  for (const auto& spec : pasid_kprobe_catalog()) wanted.insert(spec.function);
  std::set<std::string> present = kernel_functions(slurp(fs::path(root) / "proc/kallsyms"), wanted);
  std::vector<KprobeSpec> specs = probes_for(present);
  if (specs.empty()) {
    note_ = "kprobes not set up: none of the PASID functions is in kallsyms";
    return;
  }
  std::string refused;
  for (const auto& spec : specs) {
    std::string err = write_control(events, spec.definition(group_), true);
    if (err.empty())
      installed_.push_back(spec);
    else
      refused += (refused.empty() ? "" : "; ") + err;
  }
  if (!refused.empty()) note_ = "some kprobes refused: " + refused;
  if (installed_.empty()) return;
  fs::path instance = fs::path(tracefs_) / "instances" / group_;
  if (::mkdir(instance.c_str(), 0755) != 0 && errno != EEXIST) {
    note_ += std::string(note_.empty() ? "" : "; ") + "cannot create trace instance " +
             instance.string() + ": " + std::strerror(errno);
    return;
  }
  instance_ = instance.string();
  std::string err = write_control(instance / "events" / group_ / "enable", "1", false);
  if (!err.empty()) {
    note_ += std::string(note_.empty() ? "" : "; ") + "cannot enable probes: " + err;
    ::rmdir(instance_.c_str());
    instance_.clear();
  }
}

PasidKprobes::~PasidKprobes() {
  if (!instance_.empty()) {
    write_control(fs::path(instance_) / "events" / group_ / "enable", "0", false);
    ::rmdir(instance_.c_str());
  }
  fs::path events = fs::path(tracefs_) / "kprobe_events";
  for (const auto& spec : installed_) write_control(events, "-:" + group_ + "/" + spec.event, true);
}

std::vector<std::string> PasidKprobes::probed() const {
  std::vector<std::string> out;
  for (const auto& s : installed_) out.push_back(s.function);
  return out;
}

std::vector<PasidEvent> PasidKprobes::collect() const {
  if (instance_.empty()) return {};
  return parse_trace(slurp(fs::path(instance_) / "trace"));
}

}  // namespace pasidbench
