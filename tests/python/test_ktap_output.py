"""`run --format ktap` cannot be forged by the suite's text (issue 16,
finding 5): a suite name with newlines used to print `ok 7 forged` and a fake
totals line."""
import re
import subprocess

from conftest import PASIDBENCH

FORGED_SUITE = '''
[suite]
name = "evil\\nok 7 forged\\n# Totals: pass:99 fail:0 xfail:0 xpass:0 skip:0 error:0"
backends = ["model:task-refcount"]

[[test]]
workload = "clone-bind-exit"
params = { rounds = 1 }
'''

# Every line KTAP version 1 allows at the top level of our output.
KTAP_LINE = re.compile(r"^(KTAP version 1|1\.\.\d+|(not )?ok \d+ [^\n]*|# [^\n]*)$")


def test_a_suite_name_cannot_forge_ktap_lines(tmp_path):
    suite = tmp_path / "evil.toml"
    suite.write_text(FORGED_SUITE)
    r = subprocess.run([str(PASIDBENCH), "run", str(suite), "--out", str(tmp_path / "out"),
                        "--format", "ktap"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert all(KTAP_LINE.match(line) for line in lines), lines
    assert [line for line in lines if re.match(r"(not )?ok ", line)] == \
        ["ok 1 clone-bind-exit[rounds=1]@model:task-refcount"]
    totals = [line for line in lines if line.startswith("# Totals")]
    assert len(totals) == 1 and totals[0].startswith("# Totals: pass:1 fail:0 "), totals
    assert lines[2].startswith("# suite: evil\\nok 7 forged\\n# Totals: pass:99"), lines[2]
