"""report.html in a real browser: Debian's chromium, headless, renders a
smoke-shaped report (policies, a mutant, the running kernel, with plots)
to a screenshot that is not blank, logs no console message, and asks for
nothing outside the page's own files; the page and the plots it loads
stay under 1 MB. SKIPs, saying why, where chromium is not installed
(scripts/debian-packages-test.txt lists it)."""

import json
import os
import re
import shutil
import subprocess

import numpy as np
import pytest
from PIL import Image

import report_fixtures as fx

CHROMIUM = shutil.which("chromium")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="chromium is not installed (apt-get install chromium; listed in "
           "scripts/debian-packages-test.txt)")

POLICIES = ("task-refcount", "mm-lifetime", "mm-lifetime-lazy-gp",
            "resync-ipi")
PAGE_BUDGET = 1_000_000
# What the browser does on its own (update checks, time sync) has no page
# as initiator; what the page asks for has the page's origin, "null" for
# a file:// page.
BROWSER_OWN = "not an origin"


def timeline(k):
    spans = []
    for n in range(2):
        start = n * 3e4
        spans.append({"pasid": 1 + n, "mm": f"mm{n}", "state": "bound",
                      "start_ns": start, "end_ns": start + 1e4})
        spans.append({"pasid": 1 + n, "mm": f"mm{n}", "state": "idle",
                      "start_ns": start + 1e4,
                      "end_ns": start + 1e4 + 1e4 * k})
    return spans


def smoke_shaped(tmp_path):
    """The smoke suite's shape, smaller: policies on two workloads with
    timelines, a caught mutant, context-switch and IPI costs, a SKIP."""
    records = [fx.environment_record(release="6.1.0")]
    for k, policy in enumerate(POLICIES):
        for workload in ("thread-pool", "clone-bind-exit"):
            record = fx.model_record(
                policy, workload, {"cpus": 2},
                {"ipis": fx.metric([k, k, k + 2], "count", "lower"),
                 "pasid_seconds_idle": fx.metric(
                     [1e-5 * (k + 1), 2e-5, 3e-5], "pasid-s", "lower"),
                 "modelled_overhead_ns": fx.metric(
                     [16000 + 1000 * k, 16000, 20000], "ns", "lower")},
                kind="conformance", timeline=timeline(k))
            record["search"] = {"strategy": "exhaustive",
                                "schedules": 1200, "complete": True}
            records.append(record)
    mutant = fx.model_record(
        "task-refcount/unbind-frees", "thread-pool", {"cpus": 2},
        {"ipis": fx.metric([1, 1], "count", "lower")}, kind="conformance",
        outcome="fail", reason="isolation_violation in 3 of 9 schedules",
        counterexample={"violation": "isolation_violation", "events": 12,
                        "trace": ["cpu0 T1(mm0) bind -> pasid 1",
                                  "cpu1 T2(mm1) submit pasid 1"]})
    mutant["mutant_of"] = "task-refcount"
    mutant["expected_outcome"] = "fail"
    records.append(mutant)
    rng = np.random.default_rng(1)
    for placement in ("same_cpu", "cross_cpu"):
        records.append(fx.test_record(
            "micro:context-switch", {"placement": placement},
            {"ctxsw_ns": fx.metric(fx.skewed_samples(rng, 2400, 5))},
            kernel="running", release="6.1.0"))
    for cpus in (0, 1):
        records.append(fx.test_record(
            "micro:ipi", {"spinning_cpus": cpus},
            {"membarrier_ns": fx.metric(
                fx.skewed_samples(rng, 100 + 5000 * cpus, 5))},
            kernel="running", release="6.1.0"))
    records.append(fx.test_record(
        "thread-pool", {}, kind="conformance", outcome="skip",
        reason="CPU lacks ENQCMD", kernel="running", release="6.1.0"))
    fx.write_results(tmp_path / "run", records)
    return tmp_path / "run"


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("browser")
    out = tmp_path / "report"
    status, _, err = fx.run_cli([smoke_shaped(tmp_path), "--out", out])
    assert status == 0, err
    return out


def chromium(tmp_path, page, *extra):
    """Run headless chromium on page; (stderr lines, net-log events)."""
    net_log = tmp_path / "net.json"
    command = [
        CHROMIUM, "--headless", "--disable-gpu", "--no-first-run",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--disable-extensions",
        # Nothing leaves the machine even if the page asked for it; the
        # request is still in the net log.
        "--host-resolver-rules=MAP * ~NOTFOUND",
        "--enable-logging=stderr", "--v=0", f"--log-net-log={net_log}",
        "--window-size=1200,2400", *extra, page.as_uri()]
    if os.geteuid() == 0:
        command.insert(1, "--no-sandbox")   # chromium refuses root otherwise
    done = subprocess.run(command, capture_output=True, text=True,
                          timeout=30, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    log = json.loads(net_log.read_text())
    names = {v: k for k, v in log["constants"]["logEventTypes"].items()}
    requests = [e["params"] for e in log["events"]
                if names.get(e["type"]) == "URL_REQUEST_START_JOB"
                and "url" in e.get("params", {})]
    return done.stderr.splitlines(), requests


def console_lines(stderr):
    return [line for line in stderr if re.search(r":CONSOLE[:(]", line)]


def page_requests(requests):
    return [r["url"] for r in requests if r.get("initiator") != BROWSER_OWN]


def test_report_renders_without_console_messages_or_outside_requests(
        report_dir, tmp_path):
    shot = tmp_path / "shot.png"
    stderr, requests = chromium(tmp_path, report_dir / "report.html",
                                f"--screenshot={shot}")
    assert shot.is_file() and shot.stat().st_size > 0
    with Image.open(shot) as image:
        image.verify()
    with Image.open(shot) as image:
        gray = image.convert("L")
        low, high = gray.getextrema()
        assert image.size == (1200, 2400)
        assert high - low > 100, "the screenshot is blank"
        # Text and plots: many distinct shades, not a flat page.
        assert len(gray.getcolors(maxcolors=256 * 256) or []) > 20
    # The page has no scripts; any console message is an error the page
    # caused (a blocked load, bad markup reported by the browser).
    assert console_lines(stderr) == []
    assert [u for u in page_requests(requests)
            if not u.startswith("file:")] == []


def test_the_checks_see_console_errors_and_outside_requests(tmp_path):
    """The same checks on a page that breaks both rules do fail."""
    bad = tmp_path / "bad.html"
    bad.write_text('<img src="https://example.invalid/x.png">'
                   '<script>console.error("boom")</script>')
    # --dump-dom: headless chromium exits once the page has loaded.
    stderr, requests = chromium(tmp_path, bad, "--dump-dom")
    assert any('"boom"' in line for line in console_lines(stderr))
    assert "https://example.invalid/x.png" in page_requests(requests)


def test_page_and_its_plots_stay_under_a_megabyte(report_dir):
    page = (report_dir / "report.html").read_text()
    images = re.findall(r'<img src="([^"]*)"', page)
    assert images, "expected plots"
    loaded = len(page.encode()) + sum(
        (report_dir / src).stat().st_size for src in images)
    assert loaded < PAGE_BUDGET, (loaded, len(images))
