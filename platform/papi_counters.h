// Hardware counters per benchmark through PAPI, where the machine has them.
// Where it has none (a VM without a virtual PMU), note() says why in one
// line and no counter is reported: never a zero passed off as a count.
#pragma once

#include <string>
#include <vector>

namespace pasidbench {

class PapiCounters {
 public:
  // Initializes PAPI once and finds which of cycles, instructions and a few
  // cache/TLB/branch events can be counted together on this machine.
  static PapiCounters& instance();

  bool available() const { return !events_.empty(); }
  // "PAPI: no hardware counters (perf_event component disabled: ...)"; may
  // also name events that exist but could not be added.
  const std::string& note() const { return note_; }
  // Counter names, as reported ("cycles", "instructions", ...).
  std::vector<std::string> names() const;

  // Counts on the calling thread between start() and stop().
  class Scope {
   public:
    explicit Scope(const PapiCounters& counters);
    ~Scope();
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;
    // Totals in names() order; empty if counting failed (error() says why).
    std::vector<long long> stop();
    const std::string& error() const { return error_; }

   private:
    int event_set_ = -1;
    bool running_ = false;
    size_t count_ = 0;
    std::string error_;
  };

 private:
  PapiCounters();
  struct Event {
    int code;
    std::string name;
  };
  std::vector<Event> events_;
  std::string note_;
};

}  // namespace pasidbench
