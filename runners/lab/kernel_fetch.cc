#include "runners/lab/kernel_fetch.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "platform/file_io.h"
#include "platform/process.h"

namespace pasidbench::lab {

namespace fs = std::filesystem;

namespace {

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\r')) s.pop_back();
  size_t start = s.find_first_not_of(" \n");
  return start == std::string::npos ? "" : s.substr(start);
}

// The digits '*' stood for in `name`, as a number (for picking the newest).
long long abi_number(const std::string& pattern, const std::string& name) {
  size_t star = pattern.find('*');
  if (star == std::string::npos) return 0;
  size_t end = name.size() - (pattern.size() - star - 1);
  return std::stoll(name.substr(star, end - star));
}

std::string sha256_of_files(const std::vector<std::string>& paths) {
  // The KCIDB patchset_hash recipe: sha256 over the newline-terminated sha256
  // of each patch, in order.
  std::string each;
  for (const auto& p : paths) {
    ProcessResult r = run_process({"sha256sum", p});
    if (!r.ok()) throw KernelUnavailable("sha256sum " + p + ": " + r.describe());
    each += r.out.substr(0, 64) + "\n";
  }
  ProcessResult r = run_process({"sha256sum"}, ProcessOptions().feeding(each));
  if (!r.ok()) throw KernelUnavailable("sha256sum: " + r.describe());
  return r.out.substr(0, 64);
}

// lib/modules/<release> under `root`, when there is exactly one.
std::string single_modules_dir(const fs::path& root, std::string* release) {
  std::error_code ec;
  std::string found;
  for (const auto& e : fs::directory_iterator(root / "lib/modules", ec))
    if (e.is_directory()) {
      if (!found.empty()) return {};
      found = e.path().string();
      *release = e.path().filename().string();
    }
  return found;
}

PreparedKernel prepare_image(const KernelManifest& m) {
  if (!fs::exists(m.vmlinuz))
    throw KernelUnavailable("kernel image " + m.vmlinuz + " does not exist (" + m.path + ")");
  if (!m.initrd.empty() && !fs::exists(m.initrd))
    throw KernelUnavailable("initrd " + m.initrd + " does not exist (" + m.path + ")");
  if (!m.modules_dir.empty() && !fs::is_directory(m.modules_dir))
    throw KernelUnavailable("modules directory " + m.modules_dir + " does not exist (" + m.path +
                            ")");
  PreparedKernel k;
  k.vmlinuz = m.vmlinuz;
  k.initrd = m.initrd;
  k.modules_dir = m.modules_dir;
  k.release = m.release.empty() && !m.modules_dir.empty()
                  ? fs::path(m.modules_dir).filename().string()
                  : m.release;
  if (!k.release.empty()) {
    fs::path config = fs::path(m.vmlinuz).parent_path() / ("config-" + k.release);
    if (fs::exists(config)) k.config = config.string();
  }
  ProcessResult sum = run_process({"sha256sum", m.vmlinuz});
  k.build_id = sum.ok() ? "sha256:" + sum.out.substr(0, 16) : "";
  k.source = "image:" + m.vmlinuz;
  return k;
}

// The marker that says a cache entry is complete, written whole.
void write_marker(const fs::path& path, const std::string& text) {
  try {
    replace_file(path.string(), text);
  } catch (const WriteError& e) {
    throw KernelUnavailable(e.what());
  }
}

std::string candidate_version(const std::string& package) {
  ProcessResult r = run_process({"apt-cache", "show", "--no-all-versions", package},
                                ProcessOptions().with_timeout(60));
  if (!r.ok()) throw KernelUnavailable("apt-cache show " + package + ": " + r.describe(60));
  std::istringstream in(r.out);
  for (std::string line; std::getline(in, line);)
    if (line.rfind("Version: ", 0) == 0) return trim(line.substr(9));
  throw KernelUnavailable("apt-cache show " + package + ": no Version field");
}

// The cache directory of one kernel: `name` (from a manifest, or from apt)
// must be one plain name, so that removing the directory stays in the cache.
fs::path cache_entry(const fs::path& cache, const std::string& name) {
  if (!is_plain_file_name(name) || !path_under(cache, name))
    throw KernelUnavailable("'" + name + "' cannot name a directory in the kernel cache " +
                            cache.string());
  return *path_under(cache, name);
}

// Removes a cache entry left half made by an earlier fetch or build.
void remove_cache_entry(const fs::path& cache, const fs::path& dir) {
  std::error_code ec;
  if (!remove_all_under(cache, dir.filename(), ec))
    throw KernelUnavailable("refusing to remove " + dir.string() + ": not a directory in " +
                            cache.string());
  if (ec) throw KernelUnavailable("cannot remove " + dir.string() + ": " + ec.message());
}

PreparedKernel prepare_debian(const KernelManifest& m, const fs::path& cache, std::ostream& log) {
  std::string package = resolve_debian_package(m.package);
  std::string version = m.version.empty() ? candidate_version(package) : m.version;
  fs::path dir = cache_entry(cache, package + "_" + version);
  fs::path done = dir / ".unpacked";
  if (!fs::exists(done)) {
    log << "  fetching " << package << "=" << version << " (apt-get download + dpkg-deb)\n"
        << std::flush;
    std::error_code ec;
    remove_cache_entry(cache, dir);
    fs::create_directories(dir / "download", ec);
    if (ec) throw KernelUnavailable("cannot create " + dir.string() + ": " + ec.message());
    ProcessResult dl =
        run_process({"apt-get", "download", "-q", package + "=" + version},
                    ProcessOptions().with_timeout(600).in_dir((dir / "download").string()));
    if (!dl.ok())
      throw KernelUnavailable("apt-get download " + package + "=" + version + ": " +
                              dl.describe(600));
    std::string deb;
    for (const auto& e : fs::directory_iterator(dir / "download"))
      if (e.path().extension() == ".deb") deb = e.path().string();
    if (deb.empty()) throw KernelUnavailable("apt-get download " + package + ": no .deb appeared");
    // dpkg-deb writes the data tarball; tar keeps only the kernel and modules.
    ProcessResult unpack = run_process({"sh", "-c",
                                        "dpkg-deb --fsys-tarfile \"$1\" | tar -x -C \"$2\" "
                                        "--wildcards './boot/*' './lib/modules/*'",
                                        "sh", deb, dir.string()},
                                       ProcessOptions().with_timeout(600));
    if (!unpack.ok()) throw KernelUnavailable("unpacking " + deb + ": " + unpack.describe(600));
    remove_all_under(dir, "download", ec);
    write_marker(done, package + "=" + version + "\n");
  }
  PreparedKernel k;
  std::string release;
  k.modules_dir = single_modules_dir(dir, &release);
  k.release = release;
  k.vmlinuz = (dir / "boot" / ("vmlinuz-" + release)).string();
  if (release.empty() || !fs::exists(k.vmlinuz))
    throw KernelUnavailable(package + "=" + version + " holds no boot/vmlinuz-<release> (" +
                            dir.string() + ")");
  fs::path config = dir / "boot" / ("config-" + release);
  if (fs::exists(config)) k.config = config.string();
  // A lab machine that installed the same package has Debian's initrd for it.
  if (fs::exists("/boot/initrd.img-" + release)) k.initrd = "/boot/initrd.img-" + release;
  k.build_id = package + "=" + version;
  k.source = "debian:" + package + "=" + version;
  return k;
}

PreparedKernel prepare_build(const KernelManifest& m, const fs::path& cache, std::ostream& log) {
  auto git = [&](std::vector<std::string> args, const std::string& cwd) {
    args.insert(args.begin(), "git");
    ProcessResult r = run_process(args, ProcessOptions().with_timeout(600).in_dir(cwd));
    if (!r.ok()) throw KernelUnavailable(shell_join(args) + ": " + r.describe(600));
    return trim(r.out);
  };
  if (!fs::is_directory(m.tree))
    throw KernelUnavailable("kernel tree " + m.tree + " does not exist");
  std::string commit = git({"rev-parse", "--verify", m.ref + "^{commit}"}, m.tree);
  for (const auto& p : m.patches)
    if (!fs::exists(p)) throw KernelUnavailable("patch " + p + " does not exist (" + m.path + ")");
  for (const auto& f : m.config_fragments)
    if (!fs::exists(f)) throw KernelUnavailable("config fragment " + f + " does not exist");
  std::vector<std::string> inputs = m.patches;
  inputs.insert(inputs.end(), m.config_fragments.begin(), m.config_fragments.end());
  if (fs::exists(m.base_config)) inputs.push_back(m.base_config);
  std::string patch_hash = m.patches.empty() ? "" : sha256_of_files(m.patches);
  std::string input_hash = sha256_of_files(inputs).substr(0, 16);
  fs::path dir =
      cache_entry(cache, "build-" + m.name + "-" + commit.substr(0, 12) + "-" + input_hash);
  fs::path src = dir / "src", install = dir / "install";
  fs::path done = dir / ".built";

  PreparedKernel k;
  k.build_id = "git:" + commit + (patch_hash.empty() ? "" : "+patches:" + patch_hash);
  k.source = "build:" + m.tree + "@" + m.ref;
  if (!fs::exists(done)) {
    std::error_code ec;
    if (fs::exists(src)) git({"worktree", "remove", "--force", src.string()}, m.tree);
    remove_cache_entry(cache, dir);
    fs::create_directories(dir, ec);
    log << "  checking out " << m.ref << " (" << commit.substr(0, 12) << ") into " << src << "\n";
    git({"worktree", "add", "--detach", src.string(), commit}, m.tree);
    for (const auto& p : m.patches) {
      ProcessResult check =
          run_process({"git", "apply", "--check", p}, ProcessOptions().in_dir(src.string()));
      if (!check.ok())
        throw KernelUnavailable("patch " + fs::path(p).filename().string() + " does not apply to " +
                                m.ref + ": " + check.describe());
      git({"apply", "--index", p}, src.string());
    }
    auto make = [&](std::vector<std::string> args) {
      args.insert(args.begin(),
                  {"make", "-j" + std::to_string(std::max(1L, sysconf(_SC_NPROCESSORS_ONLN)))});
      log << "  " << shell_join(args) << "\n" << std::flush;
      ProcessResult r = run_process(args, ProcessOptions().in_dir(src.string()));
      if (!r.ok())
        throw KernelUnavailable("kernel build: " + shell_join(args) + ": " + r.describe());
    };
    if (fs::exists(m.base_config))
      fs::copy_file(m.base_config, src / ".config", fs::copy_options::overwrite_existing);
    else
      make({m.base_config});
    if (!m.config_fragments.empty()) {
      std::vector<std::string> merge = {"scripts/kconfig/merge_config.sh", "-m", ".config"};
      merge.insert(merge.end(), m.config_fragments.begin(), m.config_fragments.end());
      ProcessResult r = run_process(merge, ProcessOptions().in_dir(src.string()));
      if (!r.ok()) throw KernelUnavailable("merge_config.sh: " + r.describe());
    }
    make({"olddefconfig"});
    make({"bzImage", "modules"});
    make({"modules_install", "INSTALL_MOD_PATH=" + install.string()});
    write_marker(done, k.build_id + "\n");
  }
  ProcessResult rel =
      run_process({"make", "-s", "kernelrelease"}, ProcessOptions().in_dir(src.string()));
  k.release = rel.ok() ? trim(rel.out) : "";
  k.vmlinuz = (src / "arch/x86/boot/bzImage").string();
  if (!fs::exists(k.vmlinuz)) throw KernelUnavailable("the build left no " + k.vmlinuz);
  std::string release;
  k.modules_dir = single_modules_dir(install, &release);
  if (k.release.empty()) k.release = release;
  k.config = (src / ".config").string();
  return k;
}

}  // namespace

std::string default_kernel_cache() {
  if (const char* c = std::getenv("PASIDBENCH_CACHE"); c && *c) return std::string(c) + "/kernels";
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x)
    return std::string(x) + "/pasidbench/kernels";
  const char* home = std::getenv("HOME");
  return std::string(home && *home ? home : "/tmp") + "/.cache/pasidbench/kernels";
}

bool package_matches(const std::string& pattern, const std::string& name) {
  size_t star = pattern.find('*');
  if (star == std::string::npos) return pattern == name;
  std::string head = pattern.substr(0, star), tail = pattern.substr(star + 1);
  if (name.size() <= head.size() + tail.size()) return false;
  if (name.compare(0, head.size(), head) != 0) return false;
  if (name.compare(name.size() - tail.size(), tail.size(), tail) != 0) return false;
  std::string middle = name.substr(head.size(), name.size() - head.size() - tail.size());
  return middle.find_first_not_of("0123456789") == std::string::npos;
}

std::string resolve_debian_package(const std::string& pattern) {
  if (pattern.find('*') == std::string::npos) return pattern;
  std::string prefix = pattern.substr(0, pattern.find('*'));
  ProcessResult r =
      run_process({"apt-cache", "pkgnames", prefix}, ProcessOptions().with_timeout(60));
  if (!r.ok()) throw KernelUnavailable("apt-cache pkgnames " + prefix + ": " + r.describe(60));
  std::string best;
  std::istringstream names(r.out);
  for (std::string name; std::getline(names, name);)
    if (package_matches(pattern, name) &&
        (best.empty() || abi_number(pattern, name) > abi_number(pattern, best)))
      best = name;
  if (best.empty())
    throw KernelUnavailable("no Debian package matches " + pattern +
                            " in this machine's apt lists (apt-get update? is the suite in "
                            "sources.list?)");
  return best;
}

std::string debian_build_id(const KernelManifest& m) {
  std::string package = resolve_debian_package(m.package);
  return package + "=" + (m.version.empty() ? candidate_version(package) : m.version);
}

PreparedKernel prepare_kernel(const KernelManifest& manifest, const std::string& cache_dir,
                              std::ostream& log) {
  switch (manifest.source) {
    case KernelSource::kImage:
      return prepare_image(manifest);
    case KernelSource::kDebian:
      return prepare_debian(manifest, cache_dir, log);
    default:
      return prepare_build(manifest, cache_dir, log);
  }
}

}  // namespace pasidbench::lab
