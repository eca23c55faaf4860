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


def test_page_is_self_contained_with_embedded_plots(tmp_path):
    out_dir = tmp_path / "out"
    status, _, _ = fx.run_cli(evil_sets(tmp_path) + ["--out", out_dir])
    assert status == 0
    page = (out_dir / "report.html").read_text()
    sources = re.findall(r'(?:src|href)="([^"]*)"', page)
    assert sources, "expected embedded images"
    # Images are inline; the only links are to the SVGs written beside it.
    assert all(s.startswith("data:image/png;base64,") or
               s.startswith("plots/") and s.endswith(".svg") for s in sources)
    for link in (s for s in sources if s.startswith("plots/")):
        assert (out_dir / link).is_file()
    assert "<link" not in page
    assert "&lt;script&gt;" in page


def test_page_holds_the_tables_and_the_mail_table(tmp_path):
    out_dir = tmp_path / "out"
    _, text, _ = fx.run_cli(evil_sets(tmp_path)
                            + ["--out", out_dir, "--no-plots"])
    page = (out_dir / "report.html").read_text()
    for heading in ("Result sets", "Environment", "Benchmarks",
                    "Conformance", "Left out", "Plain-text table"):
        assert f"<h2>{heading}" in page
    assert 'class="num worse"' in page          # the significant change
    # The mail table is in a <pre>, escaped, line for line.
    first_line = text.splitlines()[0]
    assert first_line in page
