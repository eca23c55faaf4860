#include "runners/lab/kernel_manifest.h"

#include <algorithm>
#include <cctype>
#include <filesystem>

#include "suites/workload/toml_reader.h"

namespace pasidbench::lab {

namespace fs = std::filesystem;

namespace {

std::vector<std::string> strings(const TomlReader& r, const toml::table& t, std::string_view key) {
  std::vector<std::string> out;
  if (const toml::array* a = r.optional_array(t, key))
    for (const auto& n : *a) {
      if (!n.is_string()) throw InputError(r.at(n), "'" + std::string(key) + "' must list strings");
      out.emplace_back(*n.as_string());
    }
  return out;
}

bool is_file_name_like(const std::string& name) {
  return !name.empty() && name.size() <= 128 && std::isalnum(static_cast<unsigned char>(name[0])) &&
         name.find_first_not_of(
             "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._+-") ==
             std::string::npos;
}

std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

int bounded_int(const TomlReader& r, const toml::table& t, std::string_view key, int def, int lo,
                int hi) {
  auto v = r.optional_int(t, key);
  if (!v) return def;
  if (*v < lo || *v > hi)
    throw InputError(r.at(*t.get(key)), std::string(key) + " must be " + std::to_string(lo) + ".." +
                                            std::to_string(hi));
  return static_cast<int>(*v);
}

// A package name with at most one '*' (the ABI number) and nothing a shell
// or apt would read specially.
void check_package_pattern(const TomlReader& r, const toml::table& t, const std::string& p) {
  bool ok = !p.empty() && std::count(p.begin(), p.end(), '*') <= 1 &&
            p.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789.+-*") == std::string::npos;
  if (!ok)
    throw InputError(r.at(*t.get("package")),
                     "package must be a Debian package name, with '*' for the ABI number at most "
                     "once (e.g. linux-image-6.1.0-*-amd64), not '" +
                         p + "'");
}

// Debian policy 5.6.12: [epoch:]upstream_version[-debian_revision], starting
// with a digit. The version names the cache directory the package is
// unpacked into, which is removed when a fetch did not finish: nothing in it
// may lead out of the cache.
void check_debian_version(const TomlReader& r, const toml::table& t, const std::string& v) {
  bool ok =
      v.size() <= 128 && std::isdigit(static_cast<unsigned char>(v[0])) &&
      v.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.+~:-") ==
          std::string::npos;
  if (!ok)
    throw InputError(r.at(*t.get("version")),
                     "version must be a Debian package version (digits first, then letters, "
                     "digits and . + ~ : -, e.g. 6.1.27-1), not '" +
                         v + "'");
}

KernelManifest read_manifest(const TomlReader& r, const toml::table& root, const std::string& dir) {
  r.only_keys(root, {"kernel", "source", "vm"}, "a kernel manifest");
  KernelManifest m;
  m.dir = dir;
  const toml::table& k = r.table(root, "kernel");
  m.where = r.at(k);
  r.only_keys(k, {"name", "description", "policy", "sva", "notes", "cmdline"}, "[kernel]");
  m.name = r.string(k, "name");
  // It names directories (out/kernels/<name>): "." or ".." would be the
  // output root or its parent.
  if (!is_file_name_like(m.name))
    throw InputError(r.at(*k.get("name")),
                     "name must start with a letter or digit and use only letters, digits and "
                     ". _ + - (it names files and ids), not '" +
                         m.name + "'");
  m.description = r.optional_string(k, "description").value_or("");
  m.policy = r.string(k, "policy");
  const auto& policies = known_kernel_policies();
  if (std::find(policies.begin(), policies.end(), m.policy) == policies.end())
    throw InputError(r.at(*k.get("policy")),
                     "unknown policy '" + m.policy + "' (known: " + joined(policies) + ")");
  m.sva = r.optional_string(k, "sva").value_or("unknown");
  if (m.sva != "enabled" && m.sva != "disabled" && m.sva != "unknown")
    throw InputError(r.at(*k.get("sva")), "sva must be enabled | disabled | unknown");
  m.notes = r.optional_string(k, "notes").value_or("");
  m.cmdline = r.optional_string(k, "cmdline").value_or("");

  const toml::table& s = r.table(root, "source");
  std::string type = r.string(s, "type");
  auto path = [&](std::string_view key) -> std::string {
    auto v = r.optional_string(s, key);
    if (!v || v->empty()) return {};
    fs::path p(*v);
    return (p.is_relative() && !dir.empty() ? fs::path(dir) / p : p).lexically_normal().string();
  };
  if (type == "image") {
    r.only_keys(s, {"type", "vmlinuz", "initrd", "modules", "release"}, "[source] of type image");
    m.source = KernelSource::kImage;
    m.vmlinuz = path("vmlinuz");
    if (m.vmlinuz.empty()) throw InputError(r.at(s), "a source of type image needs vmlinuz");
    m.initrd = path("initrd");
    m.modules_dir = path("modules");
    m.release = r.optional_string(s, "release").value_or("");
  } else if (type == "booted") {
    r.only_keys(s, {"type", "release"}, "[source] of type booted");
    m.source = KernelSource::kBooted;
    m.release = r.optional_string(s, "release").value_or("");
  } else if (type == "debian") {
    r.only_keys(s, {"type", "package", "version"}, "[source] of type debian");
    m.source = KernelSource::kDebian;
    m.package = r.string(s, "package");
    check_package_pattern(r, s, m.package);
    m.version = r.optional_string(s, "version").value_or("");
    if (!m.version.empty()) check_debian_version(r, s, m.version);
  } else if (type == "build") {
    r.only_keys(s, {"type", "tree", "ref", "patches", "config", "config_fragments"},
                "[source] of type build");
    m.source = KernelSource::kBuild;
    m.tree = path("tree");
    if (m.tree.empty()) throw InputError(r.at(s), "a source of type build needs tree");
    m.ref = r.string(s, "ref");
    for (const auto& p : strings(r, s, "patches"))
      m.patches.push_back((fs::path(p).is_relative() ? fs::path(dir) / p : fs::path(p)).string());
    if (auto c = r.optional_string(s, "config")) {
      bool is_target = c->find('/') == std::string::npos && c->ends_with("config") &&
                       !fs::exists(fs::path(dir) / *c);
      m.base_config = is_target ? *c : (fs::path(dir) / *c).lexically_normal().string();
    }
    for (const auto& f : strings(r, s, "config_fragments"))
      m.config_fragments.push_back(
          (fs::path(f).is_relative() ? fs::path(dir) / f : fs::path(f)).string());
  } else {
    throw InputError(r.at(*s.get("type")),
                     "source type must be image | debian | build | booted, not '" + type + "'");
  }

  if (const toml::node* vm = root.get("vm")) {
    if (!vm->is_table()) throw InputError(r.at(*vm), "[vm] must be a table");
    const toml::table& v = *vm->as_table();
    r.only_keys(v, {"smp", "memory_mib", "iommu", "boot_timeout_s"}, "[vm]");
    m.smp = bounded_int(r, v, "smp", m.smp, 1, 64);
    m.memory_mib = bounded_int(r, v, "memory_mib", m.memory_mib, 128, 65536);
    m.boot_timeout_s = bounded_int(r, v, "boot_timeout_s", m.boot_timeout_s, 5, 3600);
    m.iommu = r.optional_string(v, "iommu").value_or(m.iommu);
    if (m.iommu != "intel-scalable" && m.iommu != "none")
      throw InputError(r.at(*v.get("iommu")), "iommu must be intel-scalable | none");
  }
  return m;
}

}  // namespace

const char* to_string(KernelSource source) {
  switch (source) {
    case KernelSource::kImage:
      return "image";
    case KernelSource::kDebian:
      return "debian";
    default:
      return "build";
  }
}

const std::vector<std::string>& known_kernel_policies() {
  static const std::vector<std::string> all = {
      "task-refcount", "mm-lifetime", "mm-lifetime-lazy-gp", "resync-ipi", "none", "unknown"};
  return all;
}

KernelManifest load_kernel_manifest(const std::string& path) {
  TomlReader r(path);
  KernelManifest m = read_manifest(r, r.parse(), fs::path(path).parent_path().string());
  m.path = path;
  return m;
}

KernelManifest load_kernel_manifest_text(std::string_view text, const std::string& file) {
  TomlReader r(file);
  KernelManifest m = read_manifest(r, r.parse_text(text), fs::path(file).parent_path().string());
  m.path = file;
  return m;
}

}  // namespace pasidbench::lab
