#include "runners/backends/backend.h"

#include <algorithm>
#include <tuple>

namespace pasidbench {

namespace {

struct PendingFamily {
  BackendFamily (*make)();
  int rank;
};

std::vector<PendingFamily>& pending_families() {
  static std::vector<PendingFamily> pending;
  return pending;
}

}  // namespace

BackendRegistration::BackendRegistration(BackendFamily (*make)(), int rank) {
  pending_families().push_back({make, rank});
}

const BackendRegistry& backends() {
  static const BackendRegistry registry = [] {
    std::vector<std::pair<int, BackendFamily>> made;
    for (const auto& p : pending_families()) made.emplace_back(p.rank, p.make());
    std::sort(made.begin(), made.end(), [](const auto& a, const auto& b) {
      return std::tie(a.first, a.second.prefix) < std::tie(b.first, b.second.prefix);
    });
    BackendRegistry r;
    for (auto& [rank, family] : made) r.add(std::move(family));
    return r;
  }();
  return registry;
}

void BackendRegistry::add(BackendFamily family) { families_.push_back(std::move(family)); }

const BackendFamily* BackendRegistry::family(const std::string& prefix) const {
  for (const auto& f : families_)
    if (f.prefix == prefix) return &f;
  return nullptr;
}

std::vector<std::string> BackendRegistry::all_names() const {
  std::vector<std::string> names;
  for (const auto& f : families_) {
    if (f.variants.empty()) names.push_back(f.prefix);
    for (const auto& v : f.variants) names.push_back(f.prefix + ":" + v.name);
  }
  return names;
}

std::unique_ptr<Backend> BackendRegistry::create(const std::string& name,
                                                 const SourceLocation& where) const {
  auto colon = name.find(':');
  std::string prefix = name.substr(0, colon);
  std::string variant = colon == std::string::npos ? "" : name.substr(colon + 1);
  auto unknown = [&](const std::string& what) {
    std::string known;
    for (const auto& n : all_names()) known += (known.empty() ? "" : ", ") + n;
    return InputError(where, what + " (known: " + known + ")");
  };
  const BackendFamily* f = family(prefix);
  if (!f) throw unknown("unknown backend '" + name + "'");
  if (f->variants.empty()) {
    if (!variant.empty()) throw unknown("backend '" + prefix + "' takes no ':" + variant + "'");
    return f->create("");
  }
  for (const auto& v : f->variants)
    if (v.name == variant) return f->create(variant);
  if (!variant.empty() && f->knows_unlisted && f->knows_unlisted(variant))
    return f->create(variant);
  if (variant.empty())
    throw unknown("backend '" + prefix + "' needs a variant, e.g. '" + prefix + ":" +
                  f->variants.front().name + "'");
  throw unknown("unknown " + prefix + " variant '" + variant + "'");
}

std::vector<std::string> BackendRegistry::expand(const std::string& pattern,
                                                 const SourceLocation& where) const {
  const bool with_mutants = pattern.ends_with(":**");
  if (pattern.size() > 2 && (with_mutants || pattern.ends_with(":*"))) {
    std::string prefix = pattern.substr(0, pattern.size() - (with_mutants ? 3 : 2));
    const BackendFamily* f = family(prefix);
    if (!f) throw InputError(where, "unknown backend family '" + prefix + "'");
    std::vector<std::string> out;
    // Seeded mutants are there to fail; "*" means the real policies, "**"
    // every variant, mutants included (the conformance suite).
    for (const auto& v : f->variants)
      if (with_mutants || v.parent.empty()) out.push_back(prefix + ":" + v.name);
    return out;
  }
  create(pattern, where);  // validates the name
  return {pattern};
}

}  // namespace pasidbench
