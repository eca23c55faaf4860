#include "platform/idxd_sysfs.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#ifdef PASIDBENCH_HAVE_ACCEL_CONFIG
#include <accel-config/libaccel_config.h>
#endif

namespace pasidbench {

namespace fs = std::filesystem;

namespace {

// One attribute; missing files are normal (older kernels), unreadable ones
// are problems worth reporting.
std::optional<std::string> attr(const fs::path& dir, const char* name,
                                std::vector<std::string>* problems) {
  fs::path p = dir / name;
  std::error_code ec;
  if (!fs::exists(p, ec)) return std::nullopt;
  // POSIX reads, so that an unreadable attribute says why (EACCES, EISDIR,
  // EIO from a driver) instead of looking empty.
  int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    problems->push_back("cannot read " + p.string() + ": " + std::strerror(errno));
    return std::nullopt;
  }
  std::string s;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      problems->push_back("cannot read " + p.string() + ": " + std::strerror(errno));
      ::close(fd);
      return std::nullopt;
    }
    if (n == 0) break;
    s.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  if (auto nl = s.find('\n'); nl != std::string::npos) s.resize(nl);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\r')) s.pop_back();
  return s;
}

std::optional<int64_t> int_attr(const fs::path& dir, const char* name,
                                std::vector<std::string>* problems) {
  auto v = attr(dir, name, problems);
  if (!v) return std::nullopt;
  try {
    size_t used = 0;
    int64_t n = std::stoll(*v, &used);
    if (used == v->size()) return n;
  } catch (const std::exception&) {
  }
  problems->push_back((dir / name).string() + ": not a number: '" + *v + "'");
  return std::nullopt;
}

// "wq3.1" -> 3; -1 if the name is not a work queue.
int wq_device_id(const std::string& wq) {
  if (wq.rfind("wq", 0) != 0) return -1;
  auto dot = wq.find('.');
  if (dot == std::string::npos || dot == 2) return -1;
  try {
    return std::stoi(wq.substr(2, dot - 2));
  } catch (const std::exception&) {
    return -1;
  }
}

int device_id(const std::string& dev) {
  size_t i = dev.find_first_of("0123456789");
  if (i == std::string::npos) return -1;
  try {
    return std::stoi(dev.substr(i));
  } catch (const std::exception&) {
    return -1;
  }
}

}  // namespace

std::string IdxdWorkQueue::describe() const {
  return name + " (" + (mode.empty() ? "mode ?" : mode) + ", " +
         (state.empty() ? "state ?" : state) + ", " + (type.empty() ? "type ?" : type) + ")";
}

IdxdInventory read_idxd_sysfs(const std::string& root_text) {
  fs::path root(root_text);
  IdxdInventory inv;
  fs::path bus = root / "sys/bus/dsa/devices";
  std::error_code ec;
  if (!fs::is_directory(bus, ec)) return inv;
  inv.bus_present = true;
  std::vector<fs::path> entries;
  fs::directory_iterator it(bus, ec);
  if (ec) {
    inv.problems.push_back("cannot list " + bus.string() + ": " + ec.message());
    return inv;
  }
  for (const auto& e : it) entries.push_back(e.path());
  std::sort(entries.begin(), entries.end());
  for (const auto& p : entries) {
    std::string name = p.filename().string();
    if (name.rfind("dsa", 0) == 0 || name.rfind("iax", 0) == 0) {
      IdxdDevice d;
      d.name = name;
      d.state = attr(p, "state", &inv.problems).value_or("");
      if (auto v = attr(p, "pasid_enabled", &inv.problems)) d.pasid_enabled = (*v == "1");
      d.version = attr(p, "version", &inv.problems).value_or("");
      inv.devices.push_back(d);
    }
  }
  for (const auto& p : entries) {
    std::string name = p.filename().string();
    int id = wq_device_id(name);
    if (id < 0) continue;
    IdxdWorkQueue q;
    q.name = name;
    for (const auto& d : inv.devices)
      if (device_id(d.name) == id) q.device = d.name;
    q.mode = attr(p, "mode", &inv.problems).value_or("");
    q.state = attr(p, "state", &inv.problems).value_or("");
    q.type = attr(p, "type", &inv.problems).value_or("");
    q.wq_name = attr(p, "name", &inv.problems).value_or("");
    q.driver_name = attr(p, "driver_name", &inv.problems).value_or("");
    q.size = int_attr(p, "size", &inv.problems);
    q.threshold = int_attr(p, "threshold", &inv.problems);
    if (q.type == "user") {
      std::string cls = q.device.rfind("iax", 0) == 0 ? "iax" : "dsa";
      q.char_dev = (root / "dev" / cls / name).string();
    }
    inv.work_queues.push_back(q);
  }
  return inv;
}

IdxdInventory read_idxd_inventory() {
  IdxdInventory sysfs = read_idxd_sysfs("/");
#ifdef PASIDBENCH_HAVE_ACCEL_CONFIG
  if (!sysfs.bus_present) return sysfs;  // libaccel-config has nothing to add then
  struct accfg_ctx* ctx = nullptr;
  int rc = accfg_new(&ctx);
  if (rc < 0 || !ctx) {
    sysfs.problems.push_back("libaccel-config: accfg_new failed (" +
                             std::string(std::strerror(-rc)) + "); read sysfs directly");
    return sysfs;
  }
  IdxdInventory inv;
  inv.bus_present = true;
  inv.enumerator = "libaccel-config";
  inv.problems = sysfs.problems;
  struct accfg_device* dev;
  accfg_device_foreach(ctx, dev) {
    IdxdDevice d;
    d.name = accfg_device_get_devname(dev);
    d.state = accfg_device_get_state(dev) == ACCFG_DEVICE_ENABLED ? "enabled" : "disabled";
    d.pasid_enabled = accfg_device_get_pasid_enabled(dev);
    d.version = "0x" + [](unsigned v) {
      char b[16];
      std::snprintf(b, sizeof b, "%x", v);
      return std::string(b);
    }(accfg_device_get_version(dev));
    inv.devices.push_back(d);
    struct accfg_wq* wq;
    accfg_wq_foreach(dev, wq) {
      IdxdWorkQueue q;
      q.name = accfg_wq_get_devname(wq);
      q.device = d.name;
      switch (accfg_wq_get_mode(wq)) {
        case ACCFG_WQ_SHARED:
          q.mode = "shared";
          break;
        case ACCFG_WQ_DEDICATED:
          q.mode = "dedicated";
          break;
        default:
          q.mode = "unknown";
          break;
      }
      switch (accfg_wq_get_state(wq)) {
        case ACCFG_WQ_ENABLED:
          q.state = "enabled";
          break;
        case ACCFG_WQ_DISABLED:
          q.state = "disabled";
          break;
        case ACCFG_WQ_QUIESCING:
          q.state = "quiescing";
          break;
        case ACCFG_WQ_LOCKED:
          q.state = "locked";
          break;
        default:
          q.state = "unknown";
          break;
      }
      switch (accfg_wq_get_type(wq)) {
        case ACCFG_WQT_USER:
          q.type = "user";
          break;
        case ACCFG_WQT_KERNEL:
          q.type = "kernel";
          break;
        default:
          q.type = "none";
          break;
      }
      if (const char* n = accfg_wq_get_type_name(wq)) q.wq_name = n;
      if (const char* n = accfg_wq_get_driver_name(wq)) q.driver_name = n;
      q.size = static_cast<int64_t>(accfg_wq_get_size(wq));
      q.threshold = accfg_wq_get_threshold(wq);
      if (q.type == "user") {
        char path[PATH_MAX] = {};
        if (accfg_wq_get_user_dev_path(wq, path, sizeof path) == 0) q.char_dev = path;
      }
      inv.work_queues.push_back(q);
    }
  }
  accfg_unref(ctx);
  return inv;
#else
  sysfs.problems.push_back("built without libaccel-config: read sysfs directly");
  return sysfs;
#endif
}

std::string work_queue_lost(const std::string& root, const std::string& wq_name) {
  IdxdInventory inv = read_idxd_sysfs(root);
  if (!inv.bus_present) return wq_name + " vanished: /sys/bus/dsa is gone (idxd unloaded?)";
  for (const auto& q : inv.work_queues)
    if (q.name == wq_name) return q.state == "enabled" ? "" : wq_name + " is now '" + q.state + "'";
  return wq_name + " vanished: no longer listed under /sys/bus/dsa/devices";
}

}  // namespace pasidbench
