// Every backend this build has. A new backend adds one line here.
#include "runners/backends/backend.h"
#include "runners/backends/host/host_backend.h"
#include "runners/backends/model/model_backend.h"

namespace pasidbench {

const BackendRegistry& backends() {
  static const BackendRegistry registry = [] {
    BackendRegistry r;
    r.add(model_backend_family());
    r.add(host_backend_family());
    return r;
  }();
  return registry;
}

}  // namespace pasidbench
