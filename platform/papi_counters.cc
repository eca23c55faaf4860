#include "platform/papi_counters.h"

#include <papi.h>
#include <pthread.h>

namespace pasidbench {

namespace {

unsigned long thread_id() { return static_cast<unsigned long>(pthread_self()); }

std::string papi_error(int rc) {
  const char* text = PAPI_strerror(rc);
  return text ? text : "error " + std::to_string(rc);
}

// Why the perf_event component (the one that counts CPU events on Linux) is off.
std::string perf_event_component_state() {
  int cid = PAPI_get_component_index("perf_event");
  if (cid < 0) return "no perf_event component in this PAPI build";
  const PAPI_component_info_t* info = PAPI_get_component_info(cid);
  if (!info) return "perf_event component: no information";
  if (info->disabled) return std::string("perf_event component disabled: ") + info->disabled_reason;
  return "perf_event component enabled, " + std::to_string(info->num_cntrs) + " counters";
}

}  // namespace

PapiCounters& PapiCounters::instance() {
  static PapiCounters counters;
  return counters;
}

PapiCounters::PapiCounters() {
  int rc = PAPI_library_init(PAPI_VER_CURRENT);
  if (rc != PAPI_VER_CURRENT) {
    note_ = "PAPI: library init failed (" +
            (rc > 0 ? std::string("version mismatch") : papi_error(rc)) + ")";
    return;
  }
  if ((rc = PAPI_thread_init(thread_id)) != PAPI_OK) {
    note_ = "PAPI: thread init failed (" + papi_error(rc) + ")";
    return;
  }
  struct Candidate {
    int code;
    const char* name;
  };
  const Candidate candidates[] = {{PAPI_TOT_CYC, "cycles"},
                                  {PAPI_TOT_INS, "instructions"},
                                  {PAPI_L1_DCM, "l1d_misses"},
                                  {PAPI_TLB_DM, "dtlb_misses"},
                                  {PAPI_BR_MSP, "branch_misses"}};
  int probe = PAPI_NULL;
  if ((rc = PAPI_create_eventset(&probe)) != PAPI_OK) {
    note_ = "PAPI: cannot create an event set (" + papi_error(rc) + ")";
    return;
  }
  std::string refused;
  for (const auto& c : candidates) {
    if (PAPI_query_event(c.code) != PAPI_OK) continue;  // not on this machine at all
    if ((rc = PAPI_add_event(probe, c.code)) == PAPI_OK)
      events_.push_back({c.code, c.name});
    else
      refused += std::string(refused.empty() ? "" : ", ") + c.name + " (" + papi_error(rc) + ")";
  }
  PAPI_cleanup_eventset(probe);
  PAPI_destroy_eventset(&probe);
  if (events_.empty()) {
    note_ = "PAPI: no hardware counters (" + perf_event_component_state() + ")";
    if (!refused.empty()) note_ += "; refused: " + refused;
  } else if (!refused.empty()) {
    note_ = "PAPI: could not count " + refused;
  }
}

std::vector<std::string> PapiCounters::names() const {
  std::vector<std::string> out;
  for (const auto& e : events_) out.push_back(e.name);
  return out;
}

PapiCounters::Scope::Scope(const PapiCounters& counters) {
  if (!counters.available()) return;
  int rc = PAPI_create_eventset(&event_set_);
  if (rc != PAPI_OK) {
    error_ = "PAPI_create_eventset: " + papi_error(rc);
    event_set_ = -1;
    return;
  }
  for (const auto& e : counters.events_) {
    if ((rc = PAPI_add_event(event_set_, e.code)) != PAPI_OK) {
      error_ = "PAPI_add_event(" + e.name + "): " + papi_error(rc);
      return;
    }
  }
  count_ = counters.events_.size();
  if ((rc = PAPI_start(event_set_)) != PAPI_OK) {
    error_ = "PAPI_start: " + papi_error(rc);
    return;
  }
  running_ = true;
}

std::vector<long long> PapiCounters::Scope::stop() {
  std::vector<long long> values(count_, 0);
  if (!running_) return {};
  running_ = false;
  int rc = PAPI_stop(event_set_, values.data());
  if (rc != PAPI_OK) {
    error_ = "PAPI_stop: " + papi_error(rc);
    return {};
  }
  return values;
}

PapiCounters::Scope::~Scope() {
  if (event_set_ < 0) return;
  if (running_) {
    std::vector<long long> discard(count_, 0);
    PAPI_stop(event_set_, discard.data());
  }
  PAPI_cleanup_eventset(event_set_);
  PAPI_destroy_eventset(&event_set_);
}

}  // namespace pasidbench
