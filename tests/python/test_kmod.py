"""pasidlab.ko: built against Debian 6.1's headers and run in a TCG guest.

One boot loads the module under each policy and mutant in turn (insmod,
the workloads, rmmod), then runs the bad-input checks, an unload while
bound and an unprivileged ioctl fuzz, then pasidbench itself with the
kmod:<policy> backends (suites/kmod.toml: the canonical workloads, an exec
scenario and the module's micro benchmarks under the four policies), and
prints the kernel log; the tests below read what it printed and the
records pasidbench wrote. About a minute on a quiet 2-core machine, plus
the first download of the headers and of checkpatch.pl. SKIPs name the exact
reason when a package cannot be fetched or a tool is missing.

PASIDBENCH_KMOD_KERNELS="debian-6.1-amd64 debian-6.12-amd64 debian-6.1-rt-amd64"
boots more kernels (one boot each).
"""
import json
import os
import re
import shutil
import subprocess

import pytest

import kmod_guest as kg
from conftest import PASIDBENCH, ROOT

KERNELS = os.environ.get("PASIDBENCH_KMOD_KERNELS", "debian-6.1-amd64").split()
OUTCOMES = ["ok", "gp_sigsegv", "fault_unbound", "isolation_violation", "use_after_free"]
VIOLATIONS = ["isolation_violation", "use_after_free", "stale_pasid_held",
              "pasid_freed_while_installed", "pasid_double_free"]
WORKLOADS = ["clone-bind-exit", "thread-pool[binder=stays]", "thread-pool[binder=unbinds]",
             "thread-pool[binder=exits]", "long-lived-binders", "stale-holder", "fork-child",
             "exec-rebind"]
FUZZ_CALLS = 10000


@pytest.fixture(scope="module", params=KERNELS)
def guest(request, tmp_path_factory):
    if not PASIDBENCH.exists():
        pytest.skip(f"{PASIDBENCH} not built")
    for tool, package in (("qemu-system-x86_64", "qemu-system-x86"), ("gcc", "gcc"),
                          ("make", "make"), ("dpkg-deb", "dpkg")):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} not installed (Debian package {package})")
    manifest = ROOT / "kernels" / f"{request.param}.toml"
    work = tmp_path_factory.mktemp(request.param)
    try:
        run = kg.run_guest(manifest, kg.REAL_POLICIES + kg.MUTANTS + kg.DELAYED, work,
                           fuzz_policy="resync-ipi", fuzz_calls=FUZZ_CALLS, timeout_s=1200,
                           suite=True, differential=kg.REAL_POLICIES + kg.MUTANTS)
    except kg.Unavailable as e:
        pytest.skip(str(e))
    run.kernel = request.param
    run.work = work
    return run


def result(run, workload, policy):
    r = run.result(workload, policy)
    assert r is not None, f"{policy}: no RESULT for {workload} (console: {run.console})"
    return {k: int(v) for k, v in r.items() if k not in ("workload", "policy")}


def counters(run, workload, policy):
    c = run.counters_of(workload, policy)
    assert c is not None, f"{policy}: no COUNTERS for {workload} (console: {run.console})"
    return {k: int(v) for k, v in c.items() if k not in ("workload", "policy")}


def test_module_builds_warning_free_with_its_kernels_vermagic(guest):
    ko = guest.work / "module" / "pasidlab.ko"
    log = (guest.work / "module" / "build.log").read_text()
    assert "warning" not in log.lower()
    release = (guest.work / "module" / "pasidlab.release").read_text().split()[0]
    info = subprocess.run(["modinfo", "-F", "vermagic", str(ko)], capture_output=True, text=True)
    if info.returncode == 0:
        assert info.stdout.startswith(release + " ")
    booted = guest.lines_starting("BOOT ")
    assert booted and booted[0].split()[1] == release


def test_task_work_callback_leaves_module_text_by_a_tail_call(guest):
    """pl_twork_fn() drops the module reference it holds as its last act, by
    jumping to module_put(): no instruction of the module runs after it, so
    rmmod cannot free the text under a returning callback."""
    if shutil.which("objdump") is None:
        pytest.skip("objdump not installed (Debian package binutils)")
    dis = subprocess.run(["objdump", "-dr", "--no-show-raw-insn",
                          str(guest.work / "module" / "pasidlab.ko")],
                         capture_output=True, text=True, check=True).stdout
    body = dis.split("<pl_twork_fn>:", 1)[1].split("\n\n", 1)[0].splitlines()
    insns = [l for l in body if re.match(r"\s+[0-9a-f]+:\s", l) and "R_X86_64" not in l
             and not re.search(r"\s(nop|xchg\s+%ax,%ax|int3|data16|cs nopw)", l)]
    relocs = [l for l in body if "R_X86_64" in l]
    assert insns[-1].split()[1] == "jmp", insns[-3:]
    assert relocs and "module_put" in relocs[-1], relocs[-2:]


def test_an_unknown_policy_fails_the_load_naming_the_policies(guest):
    assert guest.lines_starting("BADPARAM ") == ["BADPARAM refused"]
    log = "\n".join(guest.dmesg())
    assert 'unknown policy "no-such-policy"' in log
    for name in kg.REAL_POLICIES + kg.MUTANTS:
        assert re.search(r"pasidlab:\s+" + re.escape(name) + r"\b", log), name


ALL = kg.REAL_POLICIES + kg.MUTANTS + [kg.label(e) for e in kg.DELAYED]
SAFE = kg.REAL_POLICIES + [kg.label(e) for e in kg.DELAYED]


@pytest.mark.parametrize("policy", ALL)
def test_each_policy_loads_runs_every_workload_and_unloads(guest, policy):
    assert f"POLICY {policy}" in guest.pl, guest.lines_starting("INSMOD")
    for w in WORKLOADS:
        r = result(guest, w, policy)
        assert r["timeouts"] == 0, (w, r)
    assert any(l.startswith(f"RMMOD ok {policy} ") for l in guest.pl)


@pytest.mark.parametrize("policy", SAFE)
def test_real_policies_show_no_violation(guest, policy):
    for w in WORKLOADS:
        r = result(guest, w, policy)
        c = counters(guest, w, policy)
        assert r["isolation_violation"] == 0 and r["use_after_free"] == 0, (w, r)
        for v in VIOLATIONS:
            assert c[f"violations.{v}"] == 0, (w, v, c)
        assert c["task_table_full"] == 0
        assert c["mmdrop_kprobe_missed"] == 0


@pytest.mark.parametrize("policy", ALL)
def test_kernel_counters_agree_with_what_the_submitters_saw(guest, policy):
    """Every submission's outcome, as its completion record (or ENQCMD's
    result) told the process, is the one the module counted."""
    for w in WORKLOADS:
        r, c = result(guest, w, policy), counters(guest, w, policy)
        for o in OUTCOMES:
            assert r[o] == c[f"outcomes.{o}"], (w, o, r, c)
        assert c["submits"] == sum(r[o] for o in OUTCOMES) + c["enqcmd_retries"], (w, r, c)
        # A #GP the policy did not fix up is a SIGSEGV, as the kernel sends it.
        assert r["sigsegv"] == r["gp_sigsegv"] == c["gp_sigsegvs"], (w, r, c)
        # Every record the device wrote reached the submitter's memory.
        assert c["completion_faults"] == 0, (w, c)


@pytest.mark.parametrize("policy,mutant_witness,outcome", [
    ("resync-ipi/no-switch-resync", "SLEEPER", "isolation_violation"),
    ("task-refcount/unbind-frees", "SLEEPER", "isolation_violation"),
    ("mm-lifetime/fork-inherits", "FORKCHILD", "isolation_violation"),
])
def test_mutants_show_their_violation(guest, policy, mutant_witness, outcome):
    assert guest.sample(mutant_witness, policy) == outcome
    workload = "stale-holder" if mutant_witness == "SLEEPER" else "fork-child"
    assert counters(guest, workload, policy)["violations.isolation_violation"] >= 1


@pytest.mark.parametrize("policy", kg.REAL_POLICIES)
def test_real_policies_keep_the_sleeper_and_the_fork_child_safe(guest, policy):
    # A thread asleep through its mm's unbind/rebind submits with the mm's
    # PASID (task-refcount: still referenced; mm-lifetime: the mm's for
    # life; resync-ipi: resynced at switch-in).
    assert guest.sample("SLEEPER", policy) == "ok"
    # A fork child never carries its parent's PASID: plain mm-lifetime loads
    # only the binding thread (the child takes a #GP it cannot fix up), the
    # others load or resync the child's own.
    want = "gp_sigsegv" if policy == "mm-lifetime" else "ok"
    assert guest.sample("FORKCHILD", policy) == want


@pytest.mark.parametrize("policy", kg.REAL_POLICIES)
def test_a_thread_that_execs_into_a_binding_program(guest, policy):
    """Mainline clears pasid_activated only in dup_task_struct(): a thread
    whose #GP fixup ran keeps it across exec, so when the new program binds,
    its first ENQCMD takes a #GP that try_fixup_enqcmd_gp() declines. The
    v1 refcount dropped it in deactivate_mm() at exec; the others load or
    resync the MSR without a #GP."""
    want = "gp_sigsegv" if policy == "mm-lifetime-lazy-gp" else "ok"
    assert guest.sample("EXECCHILD", policy) == want


def test_policy_mechanisms_ran_in_the_kernel_paths(guest):
    def total(policy, name):
        return sum(counters(guest, w, policy)[name] for w in WORKLOADS)

    # task-refcount and mainline fill the MSR from the #GP path.
    for p in ("task-refcount", "mm-lifetime-lazy-gp"):
        assert total(p, "gp_fixups") > 0
    # Plain mm-lifetime loads the binder only: pool workers take #GPs.
    assert result(guest, "thread-pool[binder=stays]", "mm-lifetime")["gp_sigsegv"] > 0
    # resync-ipi: the context-switch probe, IPIs and task_work all ran.
    for name in ("context_switches_pasid_work", "ipis", "ipis_handled", "task_work_runs",
                 "switch_probe_registrations"):
        assert total("resync-ipi", name) > 0, name
    assert total("resync-ipi", "ipis") == total("resync-ipi", "ipis_handled")
    # Without the switch resync there is no probe at all.
    assert total("resync-ipi/no-switch-resync", "context_switches") == 0
    # Processes exiting with the queue open: exit_mmap's notifier, then the
    # release from exit_files().
    for p in kg.REAL_POLICIES:
        c = counters(guest, "long-lived-binders", p)
        assert c["mm_exits"] == 3 and c["unbinds"] == 3, (p, c)
    # mm-lifetime frees at __mmdrop (the kprobe), which lazy TLB may defer.
    assert total("mm-lifetime", "mm_drops") > 0


def test_bad_input_is_refused_for_root_and_an_unprivileged_user(guest):
    lines = guest.lines_starting("BADINPUT ")
    assert len(lines) == 2, lines
    assert all(l.endswith("failed=0") for l in lines), lines
    assert any("uid=65534" in l for l in lines)
    assert not guest.lines_starting("CHECK FAIL")


def test_unprivileged_fuzz_leaves_the_kernel_clean(guest):
    fuzz = guest.lines_starting("FUZZ ")
    assert f"FUZZ uid=65534 euid=65534 calls={FUZZ_CALLS} seed=1" in fuzz
    done = [l for l in fuzz if l.startswith("FUZZ done")]
    assert done and f"calls={FUZZ_CALLS}" in done[0]
    assert "FUZZ exit 0" in fuzz
    assert "RMMOD ok after-fuzz" in guest.pl


def test_unload_is_refused_while_bound(guest):
    assert guest.lines_starting("UNLOAD refused while bound")


def test_kernel_log_has_no_oops_warn_bug_or_stall(guest):
    assert "DONE" in guest.pl, f"the guest did not finish (console: {guest.console})"
    assert guest.dmesg(), "no kernel log printed"
    assert not guest.lines_starting("ERROR"), guest.lines_starting("ERROR")
    assert guest.bad_log_lines() == []


def test_checkpatch_strict_is_clean():
    r = subprocess.run([str(ROOT / "kernels" / "pasidlab" / "checkpatch.sh")],
                       capture_output=True, text=True, timeout=1200)
    if r.returncode == 3:
        pytest.skip(r.stderr.strip().splitlines()[-1])
    assert r.returncode == 0, r.stdout + r.stderr


# ---- pasidbench in the guest: suites/kmod.toml on the kmod:<policy> backends

SUITE_WORKLOADS = ["clone-bind-exit", "thread-pool[binder=stays]", "thread-pool[binder=unbinds]",
                   "thread-pool[binder=exits]", "long-lived-binders", "scenarios/exec-rebind.toml",
                   "scenarios/stale-holder.toml", "scenarios/fork-child.toml",
                   "scenarios/inherited-fd.toml"]


def suite_records(run, suite="kmod"):
    return [r for r in run.records if "test_id" in r and r.get("suite") == suite]


def suite_record(run, workload, policy):
    """workload as the test id shows it, without the module parameter."""
    for r in suite_records(run):
        name = re.sub(r"module=/pasidlab\.ko,?", "", r["test_id"].split("@")[0])
        name = name.replace(",]", "]").replace("[]", "")
        if name == workload and r["backend"] == "kmod:" + policy:
            return r
    raise AssertionError(f"no record of {workload} on kmod:{policy} "
                         f"({len(suite_records(run))} records)")


def metric(r, name):
    return r["metrics"][name]["value"]


def test_pasidbench_runs_the_kmod_suite_in_the_guest(guest):
    end = guest.lines_starting("SUITE END")
    assert end, "pasidbench did not finish in the guest: " + "\n".join(
        guest.lines_starting("SUITELOG"))
    assert end[0].startswith("SUITE END rc=0"), "\n".join(guest.lines_starting("SUITELOG"))
    records = suite_records(guest)
    assert len(records) == 4 * (len(SUITE_WORKLOADS) + 8 + 2 + 1)
    assert {r["outcome"] for r in records} == {"pass"}, [
        (r["test_id"], r["outcome"], r.get("reason")) for r in records if r["outcome"] != "pass"]


@pytest.mark.parametrize("policy", kg.REAL_POLICIES)
@pytest.mark.parametrize("workload", SUITE_WORKLOADS)
def test_kmod_backend_records_carry_the_modules_counters(guest, policy, workload):
    r = suite_record(guest, workload, policy)
    assert r["policy"] == policy
    assert not r.get("violations"), r.get("violations")
    allocs, frees = metric(r, "pasid_allocs"), metric(r, "pasid_frees")
    assert allocs >= 1 and frees <= allocs
    assert metric(r, "pasid_peak_live") >= 1
    assert sum(r["outcomes"].values()) == metric(r, "submits")
    module = r["details"]["module_counters"]
    assert r["details"]["module_counters_reset"] is True
    for kind, n in module["outcomes"].items():
        assert r["outcomes"].get(kind, 0) == n, (kind, r["outcomes"], module["outcomes"])
    # The mechanisms each policy has, and only those.
    # (IPIs go only to other CPUs running the mm: a run may send none; the
    # pasid-change benchmark below counts them.)
    if policy == "resync-ipi":
        assert metric(r, "context_switches") >= 1 and metric(r, "task_work_runs") >= 1
    else:
        assert metric(r, "ipis") == 0 and metric(r, "context_switches") == 0
    if policy == "mm-lifetime" or policy == "resync-ipi":
        assert metric(r, "gp_fixups") == 0
    elif workload.startswith(("thread-pool", "clone-bind-exit", "long-lived")):
        assert metric(r, "gp_fixups") >= 1


@pytest.mark.parametrize("policy", kg.REAL_POLICIES)
@pytest.mark.parametrize("scenario", ["exec-rebind", "stale-holder", "fork-child",
                                      "inherited-fd"])
def test_scenario_files_in_the_guest_give_the_models_outcomes(guest, policy, scenario):
    """The kinds of outcome the module shows for a scenario file must be
    kinds the model shows for it (exec is a real execve of pasidbench)."""
    r = suite_record(guest, f"scenarios/{scenario}.toml", policy)
    model = subprocess.run(
        [str(PASIDBENCH), "check", "--workload", str(ROOT / f"suites/scenarios/{scenario}.toml"),
         "--backend", "model:" + policy], capture_output=True, text=True, timeout=120)
    assert model.returncode == 0, model.stdout + model.stderr
    block = model.stdout.split("submission outcomes:")[1].split("metrics:")[0]
    model_kinds = {line.split(":")[0].strip() for line in block.strip().splitlines()}
    assert set(r["outcomes"]) <= model_kinds, (r["outcomes"], model_kinds)
    if scenario == "exec-rebind":
        # Mainline keeps pasid_activated across exec: the fixup declines.
        # (mm-lifetime's helper thread, never loaded, takes its #GP too.)
        assert ("gp_sigsegv" in r["outcomes"]) == (
            policy in ("mm-lifetime-lazy-gp", "mm-lifetime"))


@pytest.mark.parametrize("policy", kg.REAL_POLICIES)
def test_kmod_micro_benchmarks_measure_each_policy(guest, policy):
    switch = [r for r in suite_records(guest) if r["workload"] == "micro:pasidlab-switch"
              and r["backend"] == "kmod:" + policy]
    assert len(switch) == 8
    for r in switch:
        assert metric(r, "ctxsw_ns") > 0 and len(r["metrics"]["ctxsw_ns"]["samples"]) == 3
        binding = r["params"]["binding"]
        # The probe (a static key) is on only while some mm needs the resync.
        probe = policy == "resync-ipi" and binding in ("bound", "other_bound")
        assert r["details"]["switch_probe_registered"] is probe, (binding, r["details"])
        assert r["details"]["module_loaded"] is (binding != "no_module")
    change = {int(r["params"]["spinning_cpus"]): r for r in suite_records(guest)
              if r["workload"] == "micro:pasidlab-pasid-change" and r["backend"] == "kmod:" + policy}
    assert set(change) == {0, 1}
    for spinning, r in change.items():
        assert metric(r, "bind_ns") > 0 and metric(r, "unbind_ns") > 0
        if policy != "resync-ipi":
            assert metric(r, "ipis") == 0
        elif spinning > 0:
            # A thread of the mm runs on the other CPU: each PASID change
            # interrupts it. (With none, IPIs go only where mm_cpumask is
            # stale: some runs send them, some do not.)
            assert metric(r, "ipis") >= 1
    first = next(r for r in suite_records(guest) if r["workload"] == "micro:pasidlab-first-submit"
                 and r["backend"] == "kmod:" + policy)
    d = first["details"]
    if policy in ("task-refcount", "mm-lifetime-lazy-gp"):
        assert d["first_gp_fixed"] == 100 and metric(first, "gp_fixups") == 100
    elif policy == "mm-lifetime":
        assert d["first_gp_unfixed"] == 100
    else:
        assert d["first_queued"] == 100
    (guest.work / f"kmod-figures-{guest.kernel}.txt").write_text(kg.kmod_figures(guest.records))


# ---- the differential test: suites/kmod-differential.toml in the guest
# under every policy and mutant, against the model on this machine

def diff_records(run):
    return suite_records(run, "kmod-differential")


@pytest.fixture(scope="module")
def diff_model(guest):
    """pasidbench diff-model over the guest's differential records: its
    exit code, its output, and the records it read."""
    records = guest.work / "differential.jsonl"
    records.write_text("".join(json.dumps(r) + "\n" for r in diff_records(guest)))
    out = subprocess.run([str(PASIDBENCH), "diff-model", str(records), "--out",
                          str(guest.work / "diff-model")],
                         capture_output=True, text=True, timeout=600)
    return out


def test_the_differential_suite_ran_under_every_policy_and_mutant(guest):
    end = guest.lines_starting("DIFF END")
    assert end, "the differential suite did not finish in the guest: " + "\n".join(
        guest.lines_starting("DIFFLOG"))
    records = diff_records(guest)
    tests_per_policy = 3 + 1 + 1 + 1 + 4 + 2
    assert len(records) == len(kg.REAL_POLICIES + kg.MUTANTS) * tests_per_policy, len(records)
    for r in records:
        assert r["outcome"] in ("pass", "fail"), (r["test_id"], r["outcome"], r.get("reason"))
        d = r["details"]["differential"]
        pinned = d["pin_cpu"] >= 0
        assert d["runs"] == r["params"].get("runs", 1), (r["test_id"], d["runs"])
        assert d["runs"] >= (1 if pinned else 10), (r["test_id"], d["runs"])
        if not pinned:
            # The noise ran: a schedule the kernel alone would not pick.
            assert sum(d["noise"].values()) > 0, (r["test_id"], d["noise"])


def test_the_module_shows_only_outcomes_the_model_produces(diff_model):
    """Every outcome the module showed at each submit step is one the
    model's complete search (preemption bound 2) produced there, for the
    real policies and the mutants; where the workload leaves no choice the
    counters equal the model's reference schedule."""
    text = diff_model.stdout + diff_model.stderr
    assert "mismatch" in text, text  # the summary line names the counts
    summary = [l for l in text.splitlines() if l.startswith("diff-model:")]
    assert summary, text
    assert diff_model.returncode == 0, text
    assert " 0 mismatch, 0 incomplete, 0 not compared" in summary[-1], text
    counters = [l for l in text.splitlines() if l.startswith("    ") and ": module " in l]
    assert counters, text  # the pinned tests compared counters
    assert not [l for l in counters if l.endswith("different")], text


@pytest.mark.parametrize("policy", kg.REAL_POLICIES)
def test_real_policies_show_no_violation_in_any_differential_run(guest, policy):
    for r in diff_records(guest):
        if r["backend"] == "kmod:" + policy:
            assert r["outcome"] == "pass", (r["test_id"], r.get("violations"), r.get("reason"))
            assert not r["details"]["differential"].get("runs_with_violation"), r["test_id"]


# free-before-ack shows no bad submission on these workloads (the model
# finds none either), only the state: threads running with the PASID it
# freed before the IPIs went out (stale_pasid_held, checked at the free).
@pytest.mark.parametrize("mutant", kg.MUTANTS)
def test_each_mutant_shows_its_violation_in_some_differential_run(guest, mutant):
    runs = {r["test_id"]: r["details"]["differential"].get("runs_with_violation", {})
            for r in diff_records(guest) if r["backend"] == "kmod:" + mutant}
    assert runs and any(runs.values()), runs
