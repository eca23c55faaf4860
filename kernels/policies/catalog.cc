#include "kernels/policies/catalog.h"

#include <algorithm>
#include <stdexcept>

#include "kernels/policies/mutation.h"

namespace pasidbench::model {

namespace {

// Filled during static initialisation; a function-local static so that a
// registration in any file finds it constructed.
std::vector<PolicyInfo>& registered() {
  static std::vector<PolicyInfo> all;
  return all;
}

}  // namespace

PolicyRegistration::PolicyRegistration(PolicyInfo info) {
  for (const auto& p : registered())
    if (p.name == info.name) throw std::logic_error("policy '" + info.name + "' registered twice");
  registered().push_back(std::move(info));
}

// Catalogue order does not depend on link order: the real policies by name,
// then each parent's mutants by name.
const std::vector<PolicyInfo>& policy_catalog() {
  static const std::vector<PolicyInfo> all = [] {
    std::vector<PolicyInfo> out = registered();
    std::sort(out.begin(), out.end(), [](const PolicyInfo& a, const PolicyInfo& b) {
      if (a.parent.empty() != b.parent.empty()) return a.parent.empty();
      if (a.parent != b.parent) return a.parent < b.parent;
      return a.name < b.name;
    });
    for (const auto& p : out)
      if (!p.parent.empty() && std::none_of(out.begin(), out.end(), [&](const PolicyInfo& q) {
            return q.name == p.parent;
          }))
        throw std::logic_error("mutant '" + p.name + "' of unknown policy '" + p.parent + "'");
    return out;
  }();
  return all;
}

const PolicyInfo* find_policy(const std::string& name) {
  for (const auto& p : policy_catalog())
    if (p.name == name) return &p;
  // Generated mutants are not in the catalogue, but their replays must run.
  if (const GeneratedMutant* m = find_generated_mutant(name)) return &m->info;
  return nullptr;
}

}  // namespace pasidbench::model
