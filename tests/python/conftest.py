import os
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "reports"))
BUILD = ROOT / "build"
PASIDBENCH = BUILD / "runners" / "pasidbench"
os.environ.setdefault("PASIDBENCH_HOME", str(ROOT))
