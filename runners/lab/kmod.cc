#include "runners/lab/kmod.h"

#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>
#include <stdexcept>

#include "platform/process.h"

namespace pasidbench::lab {

namespace fs = std::filesystem;

namespace {

template <typename T>
T load(const std::string& bytes, uint64_t offset) {
  if (offset + sizeof(T) > bytes.size()) throw std::runtime_error("ELF: truncated");
  T value;
  std::memcpy(&value, bytes.data() + offset, sizeof(T));
  return value;
}

std::string canonical_name(std::string name) {
  for (char& c : name)
    if (c == '-') c = '_';
  return name;
}

// "kernel/drivers/virtio/virtio_pci.ko.xz" -> "virtio_pci"
std::string module_name_of(const fs::path& path) {
  std::string file = path.filename().string();
  return canonical_name(file.substr(0, file.find(".ko")));
}

}  // namespace

std::multimap<std::string, std::string> read_modinfo(const std::string& elf) {
  if (elf.size() < 64 || elf.compare(0, 4,
                                     "\x7f"
                                     "ELF") != 0)
    throw std::runtime_error("not an ELF file");
  if (elf[4] != 2 || elf[5] != 1) throw std::runtime_error("not a 64-bit little-endian ELF file");
  // Elf64_Ehdr: e_shoff at 0x28, e_shentsize at 0x3a, e_shnum at 0x3c, e_shstrndx at 0x3e.
  auto shoff = load<uint64_t>(elf, 0x28);
  auto shentsize = load<uint16_t>(elf, 0x3a);
  auto shnum = load<uint16_t>(elf, 0x3c);
  auto shstrndx = load<uint16_t>(elf, 0x3e);
  if (shentsize < 64 || shstrndx >= shnum) throw std::runtime_error("ELF: bad section table");
  // Elf64_Shdr: sh_name at 0, sh_offset at 0x18, sh_size at 0x20.
  auto section = [&](uint16_t i) { return shoff + uint64_t{i} * shentsize; };
  uint64_t names_off = load<uint64_t>(elf, section(shstrndx) + 0x18);
  for (uint16_t i = 0; i < shnum; ++i) {
    uint64_t name_at = names_off + load<uint32_t>(elf, section(i));
    if (name_at >= elf.size()) continue;
    if (std::strncmp(elf.data() + name_at, ".modinfo", elf.size() - name_at) != 0) continue;
    uint64_t off = load<uint64_t>(elf, section(i) + 0x18);
    uint64_t size = load<uint64_t>(elf, section(i) + 0x20);
    if (off + size > elf.size()) throw std::runtime_error("ELF: .modinfo out of bounds");
    std::multimap<std::string, std::string> info;
    std::string_view body(elf.data() + off, size);
    while (!body.empty()) {
      size_t nul = body.find('\0');
      std::string_view item = body.substr(0, nul);
      size_t eq = item.find('=');
      if (eq != std::string_view::npos)
        info.emplace(std::string(item.substr(0, eq)), std::string(item.substr(eq + 1)));
      if (nul == std::string_view::npos) break;
      body.remove_prefix(nul + 1);
    }
    return info;
  }
  throw std::runtime_error("ELF: no .modinfo section (not a kernel module?)");
}

std::string read_module_file(const std::string& path) {
  auto decompress = [&](const char* tool) {
    ProcessResult r = run_process({tool, "-dc", path}, ProcessOptions().with_timeout(60));
    if (!r.ok()) throw std::runtime_error(path + ": " + tool + " -dc: " + r.describe(60));
    return r.out;
  };
  if (path.ends_with(".xz")) return decompress("xz");
  if (path.ends_with(".zst")) return decompress("zstd");
  if (path.ends_with(".gz")) return decompress("gzip");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

ResolvedModules resolve_modules(const std::string& modules_dir,
                                const std::vector<std::string>& wanted) {
  std::map<std::string, fs::path> files;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(fs::path(modules_dir) / "kernel", ec);
       it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) break;
    if (it->is_regular_file() && it->path().filename().string().find(".ko") != std::string::npos)
      files.emplace(module_name_of(it->path()), it->path());
  }
  std::set<std::string> builtin;
  std::ifstream builtin_list(fs::path(modules_dir) / "modules.builtin");
  for (std::string line; std::getline(builtin_list, line);)
    if (!line.empty()) builtin.insert(module_name_of(line));

  ResolvedModules out;
  std::set<std::string> done, visiting;
  std::function<void(const std::string&)> visit = [&](const std::string& raw) {
    std::string name = canonical_name(raw);
    if (done.count(name) || visiting.count(name)) return;
    visiting.insert(name);
    auto file = files.find(name);
    if (file == files.end()) {
      (builtin.count(name) ? out.builtin : out.missing).push_back(name);
    } else {
      ModuleToLoad m{name, file->second.string(), read_module_file(file->second.string())};
      auto info = read_modinfo(m.data);
      for (auto [it, end] = info.equal_range("depends"); it != end; ++it) {
        std::stringstream deps(it->second);
        for (std::string dep; std::getline(deps, dep, ',');)
          if (!dep.empty()) visit(dep);
      }
      out.load_order.push_back(std::move(m));
    }
    visiting.erase(name);
    done.insert(name);
  };
  for (const auto& w : wanted) visit(w);
  return out;
}

}  // namespace pasidbench::lab
