#!/usr/bin/python3
"""Compare pasidbench result sets: a plain-text table for mail on stdout,
and with --out an HTML page and plots. The first RESULTS is the baseline.

Run with Debian's /usr/bin/python3 (it needs python3-matplotlib, -numpy,
-scipy and -jsonschema). `pasidbench report ARGS...` execs this script.
"""

import sys
from pathlib import Path

# Run as a script, not installed: make the package beside it importable.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from pasidbench_reports.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
