#include "kernels/policies/mutation.h"

#include <algorithm>
#include <functional>
#include <map>
#include <set>
#include <stdexcept>
#include <type_traits>

#include "kernels/policies/catalog.h"

namespace pasidbench::model {

namespace {

// Copied from the policies' headers: the hooks each class (with its bases)
// overrides. A test checks every listed policy is a real one of the catalogue.
const std::map<std::string, std::vector<std::string>>& hook_table() {
  static const std::map<std::string, std::vector<std::string>> table = {
      {"mm-lifetime", {"bind", "mm_drop"}},
      {"mm-lifetime-lazy-gp", {"bind", "mm_drop", "gp_fault"}},
      {"resync-ipi", {"bind", "unbind", "acks_done", "context_switch", "ipi", "return_to_user"}},
      {"task-refcount", {"bind", "unbind", "gp_fault", "exit", "exec"}},
  };
  return table;
}

class MutantPolicy;

// Forwards every call to the simulator but sends IA32_PASID writes to
// another task (the wrong-task operator).
class WrongTaskOps final : public KernelOps {
 public:
  WrongTaskOps(KernelOps& k, const std::set<int>& known) : k_(k), known_(known) {}
  Mm& mm(int id) override { return k_.mm(id); }
  Task& task(int id) override { return k_.task(id); }
  int running_task(int cpu) const override { return k_.running_task(cpu); }
  int pasid_alloc(const Mm& owner) override { return k_.pasid_alloc(owner); }
  void pasid_free(int pasid) override { k_.pasid_free(pasid); }
  void set_mm_pasid(Mm& m, int pasid) override { k_.set_mm_pasid(m, pasid); }
  void write_pasid_msr(Task& t, int pasid) override { k_.write_pasid_msr(other_than(t), pasid); }
  void copy_pasid_msr(Task& to, const Task& from) override { k_.copy_pasid_msr(to, from); }
  int send_ipis(const Task& caller, const Mm& m) override { return k_.send_ipis(caller, m); }
  void task_work_add(Task& t) override { k_.task_work_add(t); }
  int mms_with_pasid() const override { return k_.mms_with_pasid(); }
  int tasks_with_valid_msr() const override { return k_.tasks_with_valid_msr(); }

 private:
  // The lowest-numbered live task the policy has seen in another mm, else
  // any other live one, else t itself (then nothing is wrong this time).
  // Only ids seen in hooks: KernelOps cannot enumerate tasks.
  Task& other_than(Task& t) {
    Task* fallback = &t;
    for (int id : known_) {
      Task& o = k_.task(id);
      if (id == t.id || o.mm == kNone) continue;
      if (o.mm != t.mm) return o;
      if (fallback == &t) fallback = &o;
    }
    return *fallback;
  }
  KernelOps& k_;
  const std::set<int>& known_;
};

class MutantPolicy final : public Policy {
 public:
  MutantPolicy(std::unique_ptr<Policy> inner, std::string op, std::string hook)
      : inner_(std::move(inner)), op_(std::move(op)), hook_(std::move(hook)) {}

  // The lambdas copy what a late call needs: the Task and Mm references are
  // the simulator's own objects, alive for the whole schedule.
  HookResult bind(KernelOps& k, Task& t, Mm& mm) override {
    enter(k, t);
    return with_ack("bind", k, t, mm,
                    [this, &t, &mm](KernelOps& o) { return inner_->bind(o, t, mm); });
  }
  HookResult unbind(KernelOps& k, Task& t, Mm& mm, bool last) override {
    enter(k, t);
    free_early("unbind", k, mm);
    return with_ack("unbind", k, t, mm,
                    [this, &t, &mm, last](KernelOps& o) { return inner_->unbind(o, t, mm, last); });
  }
  void acks_done(KernelOps& k, Task& t, Mm& mm, int cookie) override {
    enter(k, t);
    free_early("acks_done", k, mm);
    apply("acks_done", k,
          [this, &t, &mm, cookie](KernelOps& o) { inner_->acks_done(o, t, mm, cookie); });
  }
  void clone_thread(KernelOps& k, Task& parent, Task& child) override {
    enter(k, parent), see(child);
    apply("clone_thread", k,
          [this, &parent, &child](KernelOps& o) { inner_->clone_thread(o, parent, child); });
  }
  void fork(KernelOps& k, Task& parent, Task& child) override {
    enter(k, parent), see(child);
    apply("fork", k, [this, &parent, &child](KernelOps& o) { inner_->fork(o, parent, child); });
  }
  void exec(KernelOps& k, Task& t, Mm& old_mm) override {
    enter(k, t);
    free_early("exec", k, old_mm);
    apply("exec", k, [this, &t, &old_mm](KernelOps& o) { inner_->exec(o, t, old_mm); });
  }
  void exit(KernelOps& k, Task& t, Mm& mm) override {
    enter(k, t);
    free_early("exit", k, mm);
    apply("exit", k, [this, &t, &mm](KernelOps& o) { inner_->exit(o, t, mm); });
  }
  void mm_exit(KernelOps& k, Mm& mm) override {
    run_late(k);
    free_early("mm_exit", k, mm);
    apply("mm_exit", k, [this, &mm](KernelOps& o) { inner_->mm_exit(o, mm); });
  }
  void mm_drop(KernelOps& k, Mm& mm) override {
    run_late(k);
    free_early("mm_drop", k, mm);
    apply("mm_drop", k, [this, &mm](KernelOps& o) { inner_->mm_drop(o, mm); });
  }
  bool context_switch(KernelOps& k, int cpu, Task* prev, Task& next) override {
    if (prev) see(*prev);
    enter(k, next);
    return apply("context_switch", k, [this, cpu, prev, &next](KernelOps& o) {
      return inner_->context_switch(o, cpu, prev, next);
    });
  }
  void ipi(KernelOps& k, int cpu, const Mm& mm) override {
    run_late(k);
    apply("ipi", k, [this, cpu, &mm](KernelOps& o) { inner_->ipi(o, cpu, mm); });
  }
  void return_to_user(KernelOps& k, Task& t) override {
    enter(k, t);
    apply("return_to_user", k, [this, &t](KernelOps& o) { inner_->return_to_user(o, t); });
  }
  bool gp_fault(KernelOps& k, Task& t) override {
    enter(k, t);
    return apply("gp_fault", k, [this, &t](KernelOps& o) { return inner_->gp_fault(o, t); });
  }

 private:
  void see(const Task& t) { known_.insert(t.id); }
  // Every hook starts here: a late call runs first (it was due earlier).
  void enter(KernelOps& k, const Task& t) {
    see(t);
    run_late(k);
  }
  void run_late(KernelOps& k) {
    if (!late_) return;
    auto call = std::move(late_);
    late_ = nullptr;
    call(k);
  }
  void free_early(const char* hook, KernelOps& k, Mm& mm) {
    if (op_ != "free-early" || hook_ != hook || mm.pasid == kInvalidPasid) return;
    k.pasid_free(mm.pasid);
    k.set_mm_pasid(mm, kInvalidPasid);
  }

  template <class Call>
  auto apply(const char* hook, KernelOps& k, Call call) -> decltype(call(k)) {
    using R = decltype(call(k));
    if (hook_ != hook) return call(k);
    if (op_ == "skip") {
      if constexpr (std::is_void_v<R>)
        return;
      else
        return R{};
    }
    if (op_ == "twice") {
      call(k);
      return call(k);
    }
    if (op_ == "wrong-task") {
      WrongTaskOps wrong(k, known_);
      return call(wrong);
    }
    if (op_ == "late") {
      late_ = [call](KernelOps& o) { call(o); };
      if constexpr (std::is_void_v<R>)
        return;
      else
        return R{};
    }
    return call(k);  // no-ack is handled by with_ack, free-early before the call
  }

  template <class Call>
  HookResult with_ack(const char* hook, KernelOps& k, Task& t, Mm& mm, Call call) {
    if (hook_ == hook && op_ == "late") {
      // Nobody waits for a late hook: its acks count as done at once.
      late_ = [this, call, &t, &mm](KernelOps& o) {
        HookResult r = call(o);
        if (r.wait_for_acks) inner_->acks_done(o, t, mm, r.cookie);
      };
      return {};
    }
    if (op_ != "no-ack" || hook_ != hook) return apply(hook, k, call);
    HookResult r = call(k);
    if (r.wait_for_acks) inner_->acks_done(k, t, mm, r.cookie);  // before any IPI was handled
    return {};
  }

  std::unique_ptr<Policy> inner_;
  std::string op_, hook_;
  std::set<int> known_;                   // task ids seen in hooks (wrong-task's candidates)
  std::function<void(KernelOps&)> late_;  // late: the hook call still to run
};

}  // namespace

const std::vector<std::string>& mutated_hooks(const std::string& policy) {
  static const std::vector<std::string> none;
  auto it = hook_table().find(policy);
  return it == hook_table().end() ? none : it->second;
}

const std::vector<std::string>& free_early_hooks(const std::string& policy) {
  static const std::vector<std::string> with_acks = {"unbind", "acks_done", "exec",
                                                     "exit",   "mm_exit",   "mm_drop"};
  static const std::vector<std::string> without = {"unbind", "exec", "exit", "mm_exit", "mm_drop"};
  const auto& hooks = mutated_hooks(policy);
  return std::find(hooks.begin(), hooks.end(), "acks_done") != hooks.end() ? with_acks : without;
}

const std::vector<GeneratedMutant>& generated_mutants() {
  static const std::vector<GeneratedMutant> all = [] {
    std::vector<GeneratedMutant> out;
    auto add = [&](const PolicyInfo& parent, const std::string& op, const std::string& hook) {
      GeneratedMutant m;
      m.op = op;
      m.hook = hook;
      m.info.name = parent.name + "~" + op + ":" + hook;
      m.info.description = "generated mutant: " + parent.name + " with " + op + " on " + hook;
      m.info.parent = parent.name;
      auto make = parent.make;
      m.info.make = [make, op, hook] { return std::make_unique<MutantPolicy>(make(), op, hook); };
      out.push_back(std::move(m));
    };
    for (const auto& [policy, hooks] : hook_table()) {
      const PolicyInfo* parent = find_policy(policy);
      if (!parent || !parent->parent.empty())
        throw std::logic_error("mutation: '" + policy + "' is not a real policy");
      bool waits = false;  // only a policy with acks_done asks to wait
      for (const auto& h : hooks) waits = waits || h == "acks_done";
      for (const auto& hook : hooks)
        for (const std::string op : kMutationOperators) {
          if (op == "no-ack" && (!waits || (hook != "bind" && hook != "unbind"))) continue;
          if (op == "free-early") continue;  // its own list of events, below
          add(*parent, op, hook);
        }
      for (const auto& hook : free_early_hooks(policy)) add(*parent, "free-early", hook);
    }
    return out;
  }();
  return all;
}

const GeneratedMutant* find_generated_mutant(const std::string& name) {
  if (name.find('~') == std::string::npos) return nullptr;
  for (const auto& m : generated_mutants())
    if (m.info.name == name) return &m;
  return nullptr;
}

}  // namespace pasidbench::model
