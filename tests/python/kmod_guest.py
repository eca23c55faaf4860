"""Build pasidlab.ko for a kernel manifest, pack it with the static test
program into an initramfs, boot it in QEMU (TCG) and parse what the guest
printed. Used by test_kmod.py; runnable by hand:

    /usr/bin/python3 tests/python/kmod_guest.py [--suite] [--icount] kernels/debian-6.12-amd64.toml [POLICY...]

--suite also runs suites/kmod.toml with pasidbench in the guest and prints
the micro benchmarks' figures; --icount runs the guest in virtual time.
"""
import json
import os
import pathlib
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
KMOD = ROOT / "kernels" / "pasidlab"
PASIDBENCH = ROOT / "build" / "runners" / "pasidbench"

REAL_POLICIES = ["task-refcount", "mm-lifetime", "mm-lifetime-lazy-gp", "resync-ipi"]
MUTANTS = ["resync-ipi/free-before-ack", "resync-ipi/no-switch-resync",
           "mm-lifetime/fork-inherits", "task-refcount/unbind-frees"]
# The device executing each descriptor 2 ms after its ENQCMD: the drain at
# release has something to wait for.
DELAYED = ["task-refcount device_delay_us=2000", "resync-ipi device_delay_us=2000"]


def label(entry):
    """'resync-ipi device_delay_us=2000' -> the label the guest prints."""
    policy, _, params = entry.partition(" ")
    return policy + ("@" + params if params else "")

# Kernel log lines that fail a test: oops, BUG, WARN, lockdep, RCU stalls,
# sleeping in atomic context, list corruption, a hung task.
BAD_LOG = re.compile(
    r"Oops|\bBUG[: ]|WARNING:|------------\[ cut here \]|Call Trace|"
    r"sleeping function called|scheduling while atomic|possible circular locking|"
    r"lockdep|inconsistent lock state|rcu_(sched|preempt) self-detected stall|"
    r"rcu: INFO|detected stall|soft lockup|hard LOCKUP|blocked for more than|"
    r"list_(add|del) corruption|general protection fault|Kernel panic|"
    r"refcount_t: |kernel BUG")


class Unavailable(Exception):
    """The kernel or its headers cannot be fetched: the reason, for a SKIP."""


def cache_dir():
    if os.environ.get("PASIDBENCH_CACHE"):
        return pathlib.Path(os.environ["PASIDBENCH_CACHE"])
    if os.environ.get("XDG_CACHE_HOME"):
        return pathlib.Path(os.environ["XDG_CACHE_HOME"]) / "pasidbench"
    return pathlib.Path.home() / ".cache" / "pasidbench"


def fetch_kernel(manifest):
    """(vmlinuz, 'linux-image-...=version') through `pasidbench lab --fetch-only`."""
    r = subprocess.run([str(PASIDBENCH), "lab", "--fetch-only", "--kernels", str(manifest)],
                       capture_output=True, text=True, timeout=900)
    if r.returncode != 0:
        raise Unavailable("kernel package cannot be fetched: " +
                          (r.stderr.strip().splitlines() or ["?"])[-1])
    name, build_id, vmlinuz = r.stdout.split()[:3]
    return vmlinuz, build_id


def build_module(build_id, out_dir):
    """Builds pasidlab.ko against the image's own headers; returns (ko, seconds)."""
    start = time.monotonic()
    r = subprocess.run([str(KMOD / "build.sh"), "--kernel-package", build_id,
                        "--out", str(out_dir)], capture_output=True, text=True, timeout=1200)
    if r.returncode == 3:
        raise Unavailable(r.stderr.strip().splitlines()[-1])
    if r.returncode != 0:
        raise AssertionError(f"build.sh failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
    return pathlib.Path(r.stdout.strip().splitlines()[-1]), time.monotonic() - start


def build_test_program(out_dir):
    exe = pathlib.Path(out_dir) / "pasidlab_test"
    subprocess.run(["gcc", "-static", "-O2", "-pthread", "-Wall", "-Wextra", "-Werror",
                    "-o", str(exe), str(KMOD / "tests" / "pasidlab_test.c")], check=True)
    return exe


def static_busybox():
    for candidate in (shutil.which("busybox"), "/bin/busybox", "/usr/bin/busybox"):
        if candidate and os.path.exists(candidate):
            out = subprocess.run(["ldd", candidate], capture_output=True, text=True)
            if "not a dynamic executable" in out.stdout + out.stderr:
                return candidate
    return None


def _newc(path, mode, data=b"", ino=[0]):
    ino[0] += 1
    name = path.encode() + b"\0"
    fields = [ino[0], mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(name), 0]
    head = b"070701" + b"".join(b"%08X" % f for f in fields)
    out = head + name
    out += b"\0" * (-len(out) % 4) + data
    return out + b"\0" * (-len(out) % 4)


def write_initramfs(path, files, dirs=("dev", "proc", "sys", "tmp", "etc", "etc/pasidlab",
                                       "bin", "sbin")):
    """files: {path in the image: (bytes, mode)}; their directories are
    made too. The root is 0755: an unprivileged process must be able to
    reach /dev."""
    every = list(dirs)
    for name in files:
        parts = name.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            d = "/".join(parts[:i])
            if d not in every:
                every.append(d)
    blob = _newc(".", stat.S_IFDIR | 0o755)
    for d in every:
        blob += _newc(d, stat.S_IFDIR | 0o755)
    for name, (data, mode) in files.items():
        blob += _newc(name, stat.S_IFREG | mode, data)
    blob += _newc("TRAILER!!!", 0)
    pathlib.Path(path).write_bytes(blob)


def pasidbench_files(work_dir):
    """pasidbench (debug info stripped) with the libraries ldd names, at
    the paths it names, the kmod suites and the scenario files."""
    stripped = pathlib.Path(work_dir) / "pasidbench"
    subprocess.run(["objcopy", "--strip-debug", str(PASIDBENCH), str(stripped)], check=True)
    files = {"opt/pasidbench/pasidbench": (stripped.read_bytes(), 0o755)}
    ldd = subprocess.run(["ldd", str(PASIDBENCH)], capture_output=True, text=True, check=True)
    for line in ldd.stdout.splitlines():
        m = re.search(r"(/\S+) \(0x", line)
        if m:
            lib = m.group(1)
            files[lib.lstrip("/")] = (pathlib.Path(lib).read_bytes(), 0o755)
    suites = ROOT / "suites"
    for suite in ("kmod.toml", "kmod-differential.toml", "kmod-differential-nightly.toml"):
        files["opt/pasidbench/suites/" + suite] = ((suites / suite).read_bytes(), 0o644)
    for scenario in sorted((suites / "scenarios").glob("*.toml")):
        files["opt/pasidbench/suites/scenarios/" + scenario.name] = (scenario.read_bytes(), 0o644)
    return files


# One host thread for all vCPUs (PASIDBENCH_TCG=tcg for one per vCPU). With a
# thread per vCPU, 6.1 guests hung now and then in text_poke_bp() while a
# tracepoint was (un)registered: one vCPU looping on the int3 in
# __schedule(), the other waiting for its IPI (twice in about ten boots);
# with one thread, none did, and on a 2-core machine it runs faster.
TCG = "tcg,thread=single"


def boot(vmlinuz, initramfs, console, timeout_s, smp=2, memory_mib=1024, records=None,
         icount=False):
    cmd = ["qemu-system-x86_64", "-accel", os.environ.get("PASIDBENCH_TCG", TCG), "-machine", "q35", "-cpu", "max",
           "-smp", str(smp), "-m", f"{memory_mib}M", "-nodefaults", "-no-user-config",
           "-display", "none", "-no-reboot", "-nic", "none",
           "-kernel", str(vmlinuz), "-initrd", str(initramfs),
           "-append", "console=ttyS0 panic=-1 oops=panic loglevel=4",
           "-serial", f"file:{console}"]
    if records:
        cmd += ["-serial", f"file:{records}"]
    if icount:
        # Virtual time: figures repeat run to run (6.1 with 2 vCPUs hangs
        # under it: shared/reference/kmod-feasibility.md).
        cmd += ["-icount", "shift=0,sleep=off"]
    start = time.monotonic()
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
    return r, time.monotonic() - start


class GuestRun:
    """What one boot printed, parsed."""

    def __init__(self, console_text):
        self.text = console_text
        self.lines = console_text.splitlines()
        self.pl = [l.split("PLTEST ", 1)[1] for l in self.lines if "PLTEST " in l]
        self.results = [self._kv(l) for l in self.pl if l.startswith("RESULT ")]
        self.counters = [self._kv(l) for l in self.pl if l.startswith("COUNTERS ")]

    @staticmethod
    def _kv(line):
        return dict(w.split("=", 1) for w in line.split()[1:] if "=" in w)

    def lines_starting(self, prefix):
        return [l for l in self.pl if l.startswith(prefix)]

    def result(self, workload, policy):
        for r in self.results:
            if r["workload"] == workload and r["policy"] == policy:
                return r
        return None

    def counters_of(self, workload, policy):
        for c in self.counters:
            if c["workload"] == workload and c["policy"] == policy:
                return c
        return None

    def sample(self, kind, policy):
        """The outcome a SLEEPER/FORKCHILD line reports for a policy."""
        for l in self.lines_starting(kind + " "):
            kv = self._kv(l)
            if kv.get("policy") == policy:
                return kv.get("outcome")
        return None

    def dmesg(self):
        try:
            a = self.lines.index(next(l for l in self.lines if "PLTEST DMESG BEGIN" in l))
            b = self.lines.index(next(l for l in self.lines if "PLTEST DMESG END" in l))
        except StopIteration:
            return []
        return self.lines[a + 1:b]

    def bad_log_lines(self):
        return [l for l in self.lines if BAD_LOG.search(l)]


def run_guest(manifest, policies, work_dir, fuzz_policy="resync-ipi", fuzz_calls=10000,
              timeout_s=900, smp=2, suite=False, icount=False, differential=(),
              differential_suite="kmod-differential.toml"):
    """suite: also run suites/kmod.toml with pasidbench in the guest; its
    records are run.records. differential: the policies (and mutants) the
    differential suite runs under after it, one load each; its records are
    in run.records too (suite "kmod-differential...")."""
    work_dir = pathlib.Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    vmlinuz, build_id = fetch_kernel(manifest)
    ko, build_s = build_module(build_id, work_dir / "module")
    exe = build_test_program(work_dir)
    busybox = static_busybox()
    if not busybox:
        raise Unavailable("no static busybox (Debian package busybox-static)")
    files = {
        "init": ((KMOD / "tests" / "guest-init.sh").read_bytes(), 0o755),
        "bin/busybox": (pathlib.Path(busybox).read_bytes(), 0o755),
        "pasidlab.ko": (ko.read_bytes(), 0o644),
        "pasidlab_test": (exe.read_bytes(), 0o755),
        "etc/pasidlab/policies": (("\n".join(policies) + "\n").encode(), 0o644),
        "etc/pasidlab/fuzz-policy": (fuzz_policy.encode() + b"\n", 0o644),
        "etc/pasidlab/fuzz-calls": (b"%d\n" % fuzz_calls, 0o644),
    }
    if suite or differential:
        files.update(pasidbench_files(work_dir))
    if suite:
        files["etc/pasidbench/kmod-policies"] = (("\n".join(REAL_POLICIES) + "\n").encode(),
                                                 0o644)
    if differential:
        files["etc/pasidbench/differential-policies"] = (
            ("\n".join(differential) + "\n").encode(), 0o644)
        files["etc/pasidbench/differential-suite"] = (differential_suite.encode() + b"\n", 0o644)
    initramfs = work_dir / "initramfs.cpio"
    write_initramfs(initramfs, files)
    console = work_dir / "console.log"
    records = work_dir / "records.jsonl" if suite or differential else None
    proc, boot_s = boot(vmlinuz, initramfs, console, timeout_s, smp=smp, records=records,
                        icount=icount)
    run = GuestRun(console.read_text(errors="replace"))
    run.records = []
    if records and records.exists():
        for line in records.read_text(errors="replace").splitlines():
            line = line.strip()
            if line:
                run.records.append(json.loads(line))
    run.build_s, run.boot_s, run.console = build_s, boot_s, console
    run.qemu_stderr = proc.stderr
    return run


def _median(record, metric):
    m = record.get("metrics", {}).get(metric)
    return None if m is None else m.get("value")


def kmod_figures(records):
    """The micro benchmarks' figures per policy, as text: what the policy
    adds to a context switch, what a PASID change costs, a first submit."""
    by = {}
    for r in records:
        if r.get("outcome") == "pass" and r["workload"].startswith("micro:pasidlab-"):
            by.setdefault(r["policy"], []).append(r)
    out = []
    cell = lambda v: "-" if v is None else f"{v:.0f}"
    bindings = ["no_module", "none_bound", "other_bound", "bound"]
    out.append("ctxsw_ns (half a pipe round trip, median of samples)")
    out.append(f"{'policy':22} {'placement':10} " + " ".join(f"{b:>11}" for b in bindings))
    for policy in sorted(by):
        for placement in ("same_cpu", "cross_cpu"):
            vals = []
            for b in bindings:
                rec = next((r for r in by[policy] if r["workload"] == "micro:pasidlab-switch"
                            and r["params"].get("binding") == b
                            and r["params"].get("placement") == placement), None)
                vals.append(cell(rec and _median(rec, "ctxsw_ns")))
            out.append(f"{policy:22} {placement:10} " + " ".join(f"{v:>11}" for v in vals))
    out.append("")
    out.append("PASID change: bind/unbind ns (median), IPIs and task_work per cycle")
    out.append(f"{'policy':22} {'spinning':>8} {'bind_ns':>9} {'unbind_ns':>9} {'ipis':>6} "
               f"{'tw_runs':>7}")
    for policy in sorted(by):
        for r in sorted((r for r in by[policy] if r["workload"] == "micro:pasidlab-pasid-change"),
                        key=lambda r: int(r["params"].get("spinning_cpus", 0))):
            out.append(f"{policy:22} {r['params'].get('spinning_cpus', 0):>8} "
                       f"{cell(_median(r, 'bind_ns')):>9} {cell(_median(r, 'unbind_ns')):>9} "
                       f"{_median(r, 'ipis'):>6.2f} {_median(r, 'task_work_runs'):>7.2f}")
    out.append("")
    out.append("first submission of a new thread: ns (median), #GP fixups")
    for policy in sorted(by):
        for r in by[policy]:
            if r["workload"] == "micro:pasidlab-first-submit":
                d = r.get("details", {})
                out.append(f"{policy:22} first {cell(_median(r, 'first_submit_ns')):>7}  second "
                           f"{cell(_median(r, 'submit_ns')):>7}  fixups "
                           f"{_median(r, 'gp_fixups'):.0f}  #GP unfixed "
                           f"{d.get('first_gp_unfixed', 0)}")
    return "\n".join(out)


if __name__ == "__main__":
    args = sys.argv[1:]
    with_suite = "--suite" in args
    icount = "--icount" in args
    args = [a for a in args if a not in ("--suite", "--icount")]
    manifest = args[0]
    policies = args[1:] or REAL_POLICIES + MUTANTS + DELAYED
    run = run_guest(manifest, policies, tempfile.mkdtemp(prefix="pasidlab-"), suite=with_suite,
                    icount=icount, timeout_s=3000 if icount else 900)
    print(f"module build {run.build_s:.1f} s, guest {run.boot_s:.1f} s, console {run.console}")
    if with_suite:
        print(f"{len(run.records)} records from pasidbench in the guest")
        print(kmod_figures(run.records))
    for line in run.pl:
        if not line.startswith(("COUNTERS", "CHECK ok")):
            print(line)
    bad = run.bad_log_lines()
    print(f"{len(bad)} bad kernel log lines" + "".join("\n  " + l for l in bad))
