"""What the LAVA tests share: `pasidbench lava job` for a set of options,
and lava-run's log turned into the shape of the server's
/results/<job>/yaml export (what `pasidbench lava import` reads)."""
import subprocess

import yaml

from conftest import PASIDBENCH, ROOT

DEVICE = ROOT / "tests" / "lava" / "qemu-tcg-device.yaml"


def pasidbench(*args, timeout=300, **kw):
    return subprocess.run([str(PASIDBENCH), *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, **kw)


def lava_run_results(log_text, job_id):
    """lava-run prints one mapping per line (YAML: `! "590"` tags appear);
    the `results` lines are what the server stores as test cases."""
    export = []
    for line in log_text.splitlines():
        if '"lvl": "results"' not in line:
            continue
        entry = yaml.safe_load(line)
        msg = entry["msg"]
        dt = entry["dt"]
        export.append({
            "job": str(job_id), "suite": msg.get("definition", ""), "name": msg.get("case", ""),
            "result": msg.get("result", ""),
            "measurement": str(msg["measurement"]) if "measurement" in msg else "None",
            "unit": msg.get("units", ""),
            "logged": dt.replace("T", " ", 1) + "+00:00", "metadata": msg})
    return export
