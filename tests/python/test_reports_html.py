"""The HTML page: self-contained, and every text from results escaped."""

import re

import numpy as np

import report_fixtures as fx

BASE = np.arange(1000.0, 1015.0)
EVIL = '<script>alert("x")</script>'


def evil_sets(tmp_path):
    trace = ["cpu0 bind -> pasid 1", f"cpu1 {EVIL} & <b>bold</b>"]
    records_a = [
        fx.environment_record(release=EVIL, governor="<i>performance</i>"),
        fx.test_record("pipe-pingpong", {"with_pasid": True, "note": "<b>"},
                       {"ctxsw_ns": fx.metric(BASE, unit="<ns>")},
                       kernel=EVIL, release="6.10<0>", build_id='"quoted"'),
        fx.test_record("clone-bind-exit", {"rounds": 3}, kind="conformance",
                       outcome="fail", reason=f"reason {EVIL}",
                       counterexample={"violation": "isolation<violation>",
                                       "events": 2, "trace": trace},
                       kernel=EVIL),
    ]
    records_b = [fx.test_record("pipe-pingpong",
                                {"with_pasid": True, "note": "<b>"},
                                {"ctxsw_ns": fx.metric(BASE * 1.1,
                                                       unit="<ns>")},
                                kernel="6.10.0-b")]
    return [fx.write_results(tmp_path / "a", records_a).parent,
            fx.write_results(tmp_path / "b", records_b).parent]


def test_text_from_results_is_escaped(tmp_path):
    out_dir = tmp_path / "out"
    status, _, _ = fx.run_cli(evil_sets(tmp_path)
                              + ["--out", out_dir, "--no-plots"])
    assert status == 0
    page = (out_dir / "report.html").read_text()
    assert "<script" not in page.lower()       # the page has no scripts
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert "<b>bold</b>" not in page and "&lt;b&gt;bold&lt;/b&gt;" in page
    assert "&amp; &lt;b&gt;" in page            # the trace line
    assert "isolation&lt;violation&gt;" in page
    assert "&lt;i&gt;performance&lt;/i&gt;" in page
    assert "&quot;quoted&quot;" in page
    assert "note=&lt;b&gt;" in page
    assert "<i>performance" not in page


def test_page_links_its_plots_as_files_and_nothing_outside(tmp_path):
    out_dir = tmp_path / "out"
    status, _, _ = fx.run_cli(evil_sets(tmp_path) + ["--out", out_dir])
    assert status == 0
    page = (out_dir / "report.html").read_text()
    sources = re.findall(r'(?:src|href)="([^"]*)"', page)
    images = re.findall(r'<img src="([^"]*)"', page)
    assert images, "expected plots"
    # Plots are files beside the page (no data: URIs to bloat it); every
    # other link is to an anchor of the page itself.
    assert "data:" not in page
    for link in sources:
        if link.startswith("#"):
            assert f'id="{link[1:]}"' in page, link
        else:
            assert link.startswith("plots/"), link
            assert (out_dir / link).is_file(), link
    assert "<link" not in page
    assert "&lt;script&gt;" in page


def test_page_starts_with_the_summary_and_folds_the_details(tmp_path):
    out_dir = tmp_path / "out"
    _, text, _ = fx.run_cli(evil_sets(tmp_path)
                            + ["--out", out_dir, "--no-plots"])
    page = (out_dir / "report.html").read_text()
    summary = (out_dir / "summary.txt").read_text()
    assert page.index('<h2 id="summary">') < page.index("<nav>")
    assert summary.splitlines()[0] in page
    for heading in ("Result sets", "Environment", "Benchmarks",
                    "Conformance", "Left out"):
        assert f"<summary>{heading}" in page, heading
    assert '<h2 id="text">Plain-text report' in page
    assert 'class="num worse"' in page          # the significant change
    # The text report is in a <pre>, escaped, line for line.
    for line in text.splitlines()[:40]:
        assert line.replace("&", "&amp;").replace("<", "&lt;").replace(
            ">", "&gt;").replace('"', "&quot;").replace("'", "&#x27;") \
            in page, line
