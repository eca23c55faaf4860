#include "runners/lab/pasidlab_build.h"

#include <chrono>
#include <filesystem>

#include "platform/environment.h"
#include "platform/process.h"

namespace pasidbench::lab {

namespace fs = std::filesystem;

bool plan_uses_kmod(const std::vector<TestCase>& plan) {
  for (const auto& t : plan)
    if (t.backend.rfind("kmod:", 0) == 0) return true;
  return false;
}

PasidlabBuild build_pasidlab(const PreparedKernel& kernel, const std::string& out_dir,
                             std::ostream& log) {
  PasidlabBuild b;
  const std::string script = (fs::path(pasidbench_home()) / "kernels/pasidlab/build.sh").string();
  std::vector<std::string> argv = {script};
  if (kernel.source.rfind("debian:", 0) == 0) {
    argv.insert(argv.end(), {"--kernel-package", kernel.build_id});
  } else if (!kernel.modules_dir.empty() && fs::exists(fs::path(kernel.modules_dir) / "build")) {
    argv.insert(argv.end(), {"--kdir", (fs::path(kernel.modules_dir) / "build").string()});
  } else {
    // A build tree is used only for a kernel on this machine (kexec);
    // over ssh only a Debian kernel's packages can be fetched here.
    b.why_not = "no headers to build pasidlab.ko against (" + kernel.source +
                ": not a Debian kernel" +
                (kernel.modules_dir.empty() ? ")" : ", and no " + kernel.modules_dir + "/build)");
    return b;
  }
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  argv.insert(argv.end(), {"--out", out_dir});
  log << "  pasidlab.ko: " << shell_join(argv) << "\n" << std::flush;
  auto t0 = std::chrono::steady_clock::now();
  ProcessResult r = run_process(argv, ProcessOptions{}.with_timeout(1800));
  b.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!r.ok()) {
    b.why_not = "kernels/pasidlab/build.sh " + r.describe(1800);
    return b;
  }
  std::string last;
  for (size_t i = 0; i < r.out.size();) {
    size_t nl = r.out.find('\n', i);
    std::string line = r.out.substr(i, nl == std::string::npos ? std::string::npos : nl - i);
    if (!line.empty()) last = line;
    if (nl == std::string::npos) break;
    i = nl + 1;
  }
  if (last.empty() || !fs::exists(last)) {
    b.why_not = "kernels/pasidlab/build.sh printed no module path";
    return b;
  }
  b.ko = last;
  return b;
}

}  // namespace pasidbench::lab
