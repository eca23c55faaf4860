// A throw-away directory tree standing in for / (proc, sys, dev) in host
// backend tests.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace pasidbench::testing_support {

class FakeRoot {
 public:
  FakeRoot() {
    char tmpl[] = "/tmp/pasidbench-fakeroot-XXXXXX";
    path_ = ::mkdtemp(tmpl);
  }
  ~FakeRoot() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  FakeRoot(const FakeRoot&) = delete;
  FakeRoot& operator=(const FakeRoot&) = delete;

  const std::string& path() const { return path_; }
  std::string at(const std::string& rel) const { return path_ + "/" + rel; }

  void write(const std::string& rel, const std::string& text) const {
    std::filesystem::path p = at(rel);
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p) << text;
  }
  void mkdir(const std::string& rel) const { std::filesystem::create_directories(at(rel)); }
  void remove(const std::string& rel) const { std::filesystem::remove_all(at(rel)); }

  // A CPU with or without ENQCMD.
  void cpuinfo(bool enqcmd) const {
    write("proc/cpuinfo",
          std::string("processor\t: 0\nvendor_id\t: GenuineIntel\ncpu family\t: 6\n"
                      "model\t\t: 143\nmodel name\t: Test CPU\nstepping\t: 8\n"
                      "microcode\t: 0x2b000461\nflags\t\t: fpu sse2 movdiri movdir64b") +
              (enqcmd ? " enqcmd" : "") + "\n\n");
  }
  // A DSA device and one work queue with the given attributes.
  void dsa_wq(const std::string& wq, const std::string& mode, const std::string& state,
              const std::string& type, const std::string& pasid_enabled = "1") const {
    std::string dev = "dsa" + wq.substr(2, wq.find('.') - 2);
    write("sys/bus/dsa/devices/" + dev + "/state", "enabled\n");
    write("sys/bus/dsa/devices/" + dev + "/pasid_enabled", pasid_enabled + "\n");
    std::string base = "sys/bus/dsa/devices/" + wq + "/";
    write(base + "mode", mode + "\n");
    write(base + "state", state + "\n");
    write(base + "type", type + "\n");
    write(base + "size", "16\n");
    write(base + "threshold", "15\n");
    write(base + "name", "pasidbench\n");
  }

 private:
  std::string path_;
};

}  // namespace pasidbench::testing_support
