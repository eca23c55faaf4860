#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "results/jsonl_store.h"
#include "runners/lab/kexec_queue.h"
#include "runners/lab/lab_plan.h"
#include "runners/lab/lab_results.h"

namespace pasidbench::lab {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct PowerLost : std::runtime_error {
  PowerLost() : std::runtime_error("power lost") {}
};

// A lab machine without the machine: /proc under `root`, kexec calls
// written down, the suite run by a stand-in that records as run_suite would
// (resuming from the kernel's own results.jsonl) and can "crash" after N
// records.
class FakeMachine {
 public:
  explicit FakeMachine(std::string suite_file = "vm-smoke.toml") : suite_file_(suite_file) {
    dir_ = fs::temp_directory_path() / ("pb-kexec-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "root/proc/sys/kernel");
    std::ofstream(dir_ / "root/proc/sys/kernel/osrelease") << "6.1.0-default\n";
    for (const char* k : {"a", "b"}) {
      std::ofstream(dir_ / (std::string(k) + ".vmlinuz")) << "image\n";
      std::ofstream(dir_ / (std::string(k) + ".toml"))
          << "[kernel]\nname = \"" << k << "\"\npolicy = \"mm-lifetime-lazy-gp\"\ncmdline = \"k"
          << k << "=1\"\n[source]\ntype = \"image\"\nvmlinuz = \"" << k << ".vmlinuz\"\n";
    }
    plan_ = plan_lab_tests(suite(), "", {});
    env.root = (dir_ / "root").string();
    env.cache_dir = (dir_ / "cache").string();
    env.load = [this](const std::string& image, const std::string& initrd,
                      const std::string& append) {
      loads.push_back(fs::path(image).filename().string() + "|" + initrd + "|" + append);
      return std::string();
    };
    env.reboot = [this] {
      ++reboots;
      return std::string();
    };
    env.run = [this](const RunOptions& o) {
      runs.push_back(o);
      fs::path file = fs::path(o.out_dir) / "results.jsonl";
      auto done = recorded_test_ids(read_jsonl(file.string()));
      JsonlWriter w(file.string());
      int written = 0;
      for (const auto& t : plan_) {
        if (done.count(t.test_id)) continue;
        if (crash_after >= 0 && written == crash_after) throw PowerLost();
        ResultRecord r;
        r.run_id = "run";
        r.suite = t.suite;
        r.test_id = t.test_id;
        r.backend = t.backend;
        r.workload = t.workload;
        r.outcome = Outcome::kSkip;
        r.provenance.kernel = o.kernel;
        r.provenance.kernel.release = "6.x-" + o.kernel.name;
        r.provenance.machine.hostname = "lab1";
        r.provenance.pasidbench_revision = "test";
        w.append(to_json(r));
        ++written;
      }
      return 0;
    };
  }
  ~FakeMachine() { fs::remove_all(dir_); }

  std::string suite() const {
    return std::string(PASIDBENCH_SOURCE_DIR) + "/suites/" + suite_file_;
  }
  std::string out() const { return (dir_ / "out").string(); }
  std::vector<std::string> manifests() const {
    return {(dir_ / "a.toml").string(), (dir_ / "b.toml").string()};
  }
  size_t planned() const { return plan_.size(); }
  void boot(const std::string& cmdline) {
    std::ofstream(dir_ / "root/proc/cmdline") << cmdline << "\n";
  }
  int step() { return kexec_step(out(), env, log); }

  std::vector<ResultRecord> records_of(const std::string& kernel) {
    std::vector<ResultRecord> out_records;
    for (const auto& j : read_jsonl(out() + "/results.jsonl").records)
      if (record_type(j) == "test" && j["provenance"]["kernel"]["name"] == kernel)
        out_records.push_back(record_from_json(j));
    return out_records;
  }

  KexecEnvironment env;
  std::vector<std::string> loads;
  int reboots = 0;
  std::vector<RunOptions> runs;
  int crash_after = -1;
  std::ostringstream log;

 private:
  std::string suite_file_;
  fs::path dir_;
  std::vector<TestCase> plan_;
};

TEST(KexecCmdline, ReplacesTheMarkerAndDropsTheBootloadersOwnWords) {
  EXPECT_EQ(next_kernel_cmdline(
                "BOOT_IMAGE=/vmlinuz root=/dev/sda1 ro pasidbench.kernel=a quiet nosmt=force",
                "nosmt=force", "b", "mitigations=off"),
            "root=/dev/sda1 ro quiet pasidbench.kernel=b mitigations=off");
  EXPECT_EQ(next_kernel_cmdline("", "", "b", ""), "pasidbench.kernel=b");
  EXPECT_EQ(booted_kernel_name("root=/dev/sda1 pasidbench.kernel=debian-6.1 quiet"), "debian-6.1");
  EXPECT_EQ(booted_kernel_name("root=/dev/sda1 quiet"), "");
}

TEST(KexecQueue, GoesThroughEveryKernelAndResumesAfterACrash) {
  FakeMachine m;
  start_kexec_queue(m.manifests(), m.suite(), "", 2, m.out());
  EXPECT_THROW(start_kexec_queue(m.manifests(), m.suite(), "", 2, m.out()), InputError);

  // The default kernel: kexec into the first of the queue.
  m.boot("BOOT_IMAGE=/boot/vmlinuz root=/dev/vda1 quiet");
  EXPECT_EQ(m.step(), 0);
  ASSERT_EQ(m.loads.size(), 1u);
  EXPECT_EQ(m.loads[0], "a.vmlinuz||root=/dev/vda1 quiet pasidbench.kernel=a ka=1");
  EXPECT_EQ(m.reboots, 1);
  EXPECT_TRUE(m.runs.empty());

  // In a: run the suite, then kexec into b.
  m.boot("root=/dev/vda1 quiet pasidbench.kernel=a ka=1");
  EXPECT_EQ(m.step(), 0);
  ASSERT_EQ(m.runs.size(), 1u);
  EXPECT_EQ(m.runs[0].kernel.name, "a");
  EXPECT_EQ(m.runs[0].kernel.policy, "mm-lifetime-lazy-gp");
  EXPECT_TRUE(m.runs[0].resume);
  EXPECT_EQ(m.runs[0].backends, std::vector<std::string>{"host"});
  ASSERT_EQ(m.loads.size(), 2u);
  EXPECT_EQ(m.loads[1], "b.vmlinuz||root=/dev/vda1 quiet pasidbench.kernel=b kb=1");
  EXPECT_EQ(m.records_of("a").size(), m.planned() + 1);

  // In b the machine dies after one test...
  m.boot("root=/dev/vda1 quiet pasidbench.kernel=b kb=1");
  m.crash_after = 1;
  EXPECT_THROW(m.step(), PowerLost);
  // ...and comes back in its default kernel: the test it died in is
  // recorded, and b gets another go.
  m.crash_after = -1;
  m.boot("root=/dev/vda1 quiet");
  EXPECT_EQ(m.step(), 0);
  EXPECT_EQ(m.loads.size(), 3u);
  EXPECT_EQ(load_kexec_queue(m.out()).attempts["b"], 2);
  auto b = m.records_of("b");
  ASSERT_EQ(b.size(), 2u);
  EXPECT_EQ(b[1].outcome, Outcome::kCrashed);
  EXPECT_EQ(b[1].reason,
            "kernel died while this test ran: the machine came back in 6.1.0-default instead of b "
            "(kexec attempt 1)");

  // Second go: only the rest runs; then the queue is done.
  m.boot("root=/dev/vda1 quiet pasidbench.kernel=b kb=1");
  EXPECT_EQ(m.step(), 0);
  EXPECT_EQ(m.loads.size(), 3u);  // nothing left to kexec into
  b = m.records_of("b");
  ASSERT_EQ(b.size(), m.planned() + 1);
  std::set<std::string> ids;
  for (const auto& r : b) EXPECT_TRUE(ids.insert(r.test_id).second) << r.test_id;
  EXPECT_EQ(b.back().test_id, kBootTestId);
  EXPECT_EQ(b.back().outcome, Outcome::kPass);
  EXPECT_NE(m.log.str().find("every kernel in the queue is recorded"), std::string::npos);

  std::ostringstream status;
  print_kexec_status(m.out(), status);
  EXPECT_EQ(status.str(),
            "a: 3/3 tests recorded, 1 kexec attempt(s), done\n"
            "b: 3/3 tests recorded, 2 kexec attempt(s), done\n");
}

TEST(KexecQueue, AKernelThatNeverComesUpIsRecordedAndSkipped) {
  FakeMachine m;
  start_kexec_queue(m.manifests(), m.suite(), "", 1, m.out());
  m.boot("root=/dev/vda1");
  EXPECT_EQ(m.step(), 0);    // kexec into a
  m.boot("root=/dev/vda1");  // a never came up
  EXPECT_EQ(m.step(), 0);    // recorded; on to b
  ASSERT_EQ(m.loads.size(), 2u);
  EXPECT_EQ(m.loads[1].substr(0, 9), "b.vmlinuz");
  auto a = m.records_of("a");
  ASSERT_EQ(a.size(), m.planned() + 1);
  for (size_t i = 0; i < m.planned(); ++i) {
    EXPECT_EQ(a[i].outcome, Outcome::kError);
    EXPECT_EQ(a[i].reason.rfind("not run: the machine came back in 6.1.0-default instead of a", 0),
              0u)
        << a[i].reason;
  }
  EXPECT_EQ(a.back().outcome, Outcome::kCrashed);
  EXPECT_EQ(a.back().reason.rfind("kernel never reached the runner", 0), 0u);
}

TEST(KexecQueue, KmodTestsRunAndKnowWhyNoModuleCouldBeBuilt) {
  // The kernels are bare images: no Debian packages, no build tree.
  FakeMachine m("vm-policies.toml");
  start_kexec_queue(m.manifests(), m.suite(), "", 1, m.out());
  m.boot("root=/dev/vda1");
  EXPECT_EQ(m.step(), 0);
  m.boot("root=/dev/vda1 pasidbench.kernel=a ka=1");
  EXPECT_EQ(m.step(), 0);
  ASSERT_EQ(m.runs.size(), 1u);
  EXPECT_TRUE(m.runs[0].backends.empty()) << "the suite's own host and kmod backends";
  EXPECT_FALSE(m.runs[0].extra_params.count("module"));
  ASSERT_TRUE(m.runs[0].extra_params.count("module_unavailable"));
  EXPECT_NE(m.runs[0]
                .extra_params.at("module_unavailable")
                .value.find("no headers to build pasidlab.ko against"),
            std::string::npos)
      << m.runs[0].extra_params.at("module_unavailable").value;
}

TEST(KexecQueue, DryRunChangesNothing) {
  FakeMachine m;
  m.env.dry_run = true;
  start_kexec_queue(m.manifests(), m.suite(), "", 2, m.out());
  m.boot("root=/dev/vda1");
  EXPECT_EQ(m.step(), 0);
  EXPECT_TRUE(m.loads.empty());
  EXPECT_EQ(m.reboots, 0);
  EXPECT_EQ(load_kexec_queue(m.out()).attempts["a"], 0);
  EXPECT_NE(m.log.str().find("kexec into it (attempt 1): root=/dev/vda1 pasidbench.kernel=a ka=1"),
            std::string::npos);
}

}  // namespace
}  // namespace pasidbench::lab
