#include "runners/lab/payload.h"

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>

#include "platform/file_io.h"
#include "platform/process.h"
#include "platform/tools.h"
#include "suites/workload/suite.h"

namespace pasidbench::lab {

namespace fs = std::filesystem;

namespace {

// The payload's copy of a binary: debug info stripped into `scratch_dir`
// when there is one and `strip` is at hand, else the binary itself.
std::string shippable_binary(const std::string& binary, const std::string& scratch_dir,
                             const std::string& name) {
  if (scratch_dir.empty() || find_program("strip").empty()) return binary;
  fs::path copy = fs::path(scratch_dir) / name;
  std::error_code ec;
  fs::create_directories(scratch_dir, ec);
  ProcessResult r = run_process({"strip", "--strip-debug", "-o", copy.string(), binary});
  return r.ok() ? copy.string() : binary;
}

// Scenario files a suite names (the rule of resolve_workload: "scenario:x"
// or "*.toml", relative to the suite's directory).
std::vector<std::string> scenario_refs(const Suite& suite) {
  std::vector<std::string> out;
  for (const auto& t : suite.tests) {
    std::string path = t.workload.rfind("scenario:", 0) == 0 ? t.workload.substr(9) : t.workload;
    if (path != t.workload || (path.size() > 5 && path.ends_with(".toml"))) out.push_back(path);
  }
  return out;
}

}  // namespace

uint64_t Payload::bytes() const {
  uint64_t total = 0;
  std::error_code ec;
  for (const auto& f : files) {
    if (!f.source.empty()) {
      auto n = fs::file_size(f.source, ec);
      if (!ec) total += n;
    }
    total += f.content.size();
  }
  return total;
}

std::vector<std::string> shared_libraries(const std::string& binary) {
  ProcessResult r = run_process({"ldd", binary}, ProcessOptions().with_timeout(60));
  if (!r.ok() && r.out.find("not a dynamic executable") == std::string::npos &&
      r.err.find("not a dynamic executable") == std::string::npos)
    throw std::runtime_error("ldd " + binary + ": " + r.describe(60));
  std::vector<std::string> libs;
  std::istringstream in(r.out);
  for (std::string line; std::getline(in, line);) {
    // "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" or
    // "/lib64/ld-linux-x86-64.so.2 (0x...)"; the vdso has no file.
    if (line.find("not found") != std::string::npos)
      throw std::runtime_error("ldd " + binary + ": " + line.substr(line.find_first_not_of(" \t")));
    size_t arrow = line.find("=> ");
    size_t start = arrow != std::string::npos ? arrow + 3 : line.find_first_not_of(" \t");
    if (start == std::string::npos || line[start] != '/') continue;
    libs.push_back(line.substr(start, line.find(' ', start) - start));
  }
  return libs;
}

Payload build_payload(const PayloadSpec& spec) {
  Payload p;
  bool bundled = spec.layout == LibraryLayout::kBundled;
  fs::path home = bundled ? fs::path() : fs::path(spec.home);
  p.home = bundled ? "." : spec.home;
  std::set<std::string> shipped;
  auto add = [&](PayloadFile f) {
    if (shipped.insert(f.dest).second) p.files.push_back(std::move(f));
  };

  std::string micro = spec.micro_binary.empty() ? find_micro_binary(nullptr, spec.pasidbench_binary)
                                                : spec.micro_binary;
  // Binaries keep the build tree's layout under home, so whatever way the
  // runner finds its micro-benchmark binary (beside itself, under
  // PASIDBENCH_HOME) finds it there too.
  std::vector<std::pair<std::string, std::string>> binaries = {
      {spec.pasidbench_binary, "build/runners/pasidbench"}};
  if (!micro.empty())
    binaries.push_back({micro, "build/suites/micro/pasidbench-micro"});
  else
    p.notes.push_back(
        "no micro-benchmark binary in this build (build/suites/micro/pasidbench-micro)");

  std::string loader;
  for (const auto& [binary, rel] : binaries) {
    std::string dest = (home / rel).string();
    add({dest, shippable_binary(binary, spec.scratch_dir, fs::path(rel).filename().string()), "",
         "", 0755});
    if (rel.find("micro") != std::string::npos) {
      p.micro = dest;
      // Also where this machine has it, for a path compiled into the runner.
      std::error_code ec;
      fs::path here = fs::canonical(binary, ec);
      if (!bundled && !ec && here.string() != dest) add({here.string(), "", "", dest, 0777});
    } else {
      p.binary = dest;
    }
    for (const auto& lib : shared_libraries(binary)) {
      bool is_loader = fs::path(lib).filename().string().rfind("ld-linux", 0) == 0;
      if (is_loader) loader = fs::path(lib).filename().string();
      std::string lib_dest = bundled ? (fs::path("lib") / fs::path(lib).filename()).string() : lib;
      add({lib_dest, fs::canonical(lib).string(), "", "", 0755});
    }
  }
  if (bundled) {
    if (loader.empty())
      throw std::runtime_error("ldd named no dynamic loader for " + spec.pasidbench_binary);
    // The bundled loader runs the binary with the bundled libraries: the
    // target's own glibc may be older or newer than ours.
    // Started through the loader, the runner's /proc/self/exe is the
    // loader, so it cannot find the micro binary beside itself: the wrapper
    // names it, and the micro binary gets a wrapper of its own.
    auto wrapper = [&loader](const std::string& what, const std::string& rel,
                             const std::string& exports) {
      return "#!/bin/sh\n# " + what +
             " with the libraries it was built against (bundled by pasidbench).\n"
             "here=$(cd \"$(dirname \"$0\")\" && pwd)\n" +
             exports + "exec \"$here/lib/" + loader + "\" --library-path \"$here/lib\" \"$here/" +
             rel + "\" \"$@\"\n";
    };
    std::string exports = "export PASIDBENCH_HOME=\"${PASIDBENCH_HOME:-$here}\"\n";
    if (!p.micro.empty()) {
      add({"pasidbench-micro", "",
           wrapper("pasidbench-micro", "build/suites/micro/pasidbench-micro", ""), "", 0755});
      exports += "export PASIDBENCH_MICRO=\"${PASIDBENCH_MICRO:-$here/pasidbench-micro}\"\n";
      p.micro = "pasidbench-micro";
    }
    add({"pasidbench", "", wrapper("pasidbench", "build/runners/pasidbench", exports), "", 0755});
    p.binary = "pasidbench";
  }

  Suite suite = load_suite_file(spec.suite_path);
  fs::path suite_dir = home / "suites";
  p.suite = (suite_dir / fs::path(spec.suite_path).filename()).string();
  add({p.suite, spec.suite_path, "", "", 0644});
  for (const auto& ref : scenario_refs(suite)) {
    fs::path rel(ref);
    fs::path source = rel.is_relative() ? fs::path(suite.base_dir) / rel : rel;
    if (!fs::exists(source))
      throw std::runtime_error("scenario file not found: " + source.string());
    fs::path dest = rel.is_relative() ? (suite_dir / rel).lexically_normal() : rel;
    if (bundled && (rel.is_absolute() || dest.string().rfind("..", 0) == 0))
      throw std::runtime_error("scenario " + ref +
                               " lies outside the suite's directory: a bundle "
                               "cannot carry it (copy it beside the suite)");
    add({dest.string(), source.string(), "", "", 0644});
  }
  return p;
}

void stage_payload(const Payload& payload, const std::string& dir) {
  for (const auto& f : payload.files) {
    std::optional<fs::path> under = path_under(dir, f.dest);
    if (!under) throw std::runtime_error("payload file " + f.dest + " would land outside " + dir);
    fs::path dest = *under;
    try {
      fs::create_directories(dest.parent_path());
      std::error_code ec;
      fs::remove(dest, ec);
      if (!f.link_target.empty()) {
        fs::create_symlink(f.link_target, dest);
      } else if (!f.source.empty()) {
        fs::copy_file(f.source, dest);
      } else {
        replace_file(dest.string(), f.content);
      }
      if (f.link_target.empty())
        fs::permissions(dest, static_cast<fs::perms>(f.mode), fs::perm_options::replace);
    } catch (const fs::filesystem_error& e) {
      // A full disk while staging is a write failure, not an internal error.
      throw WriteError(dest.string() + ": " + e.code().message());
    }
  }
}

}  // namespace pasidbench::lab
