"""Other projects' own readers and validators, taken from Debian's archive at
test time and never committed: LAVA's job schemas (lava-common, installed by
`scripts/setup.sh --tests`, and lava-server's submission schema, extracted
from its package), the kernel's `kunit.py` (from linux-source-6.1), Google
Benchmark's `tools/compare.py` (libbenchmark-tools). Packages that are only
read are downloaded with `apt-get download` and the few files needed are
extracted into a cache ($PASIDBENCH_CACHE, else ~/.cache/pasidbench), never
installed. Each helper returns a path or raises Unavailable with the exact
reason, which the tests turn into a SKIP."""
import os
import pathlib
import shutil
import subprocess
import tempfile

CACHE = pathlib.Path(os.environ.get("PASIDBENCH_CACHE")
                     or pathlib.Path.home() / ".cache" / "pasidbench") / "debian-tools"
SETUP_LOG = pathlib.Path(__file__).resolve().parents[2] / "build" / "test-packages.log"


class Unavailable(Exception):
    """The tool cannot be had here; str() is the exact reason."""


def _installed(package):
    r = subprocess.run(["dpkg-query", "-W", "-f=${Status} ${Version}", package],
                       capture_output=True, text=True)
    return r.stdout.split()[-1] if r.returncode == 0 and "install ok installed" in r.stdout else None


def require_installed(package):
    """The installed version of a package from scripts/debian-packages-test.txt."""
    version = _installed(package)
    if version:
        return version
    why = ""
    if SETUP_LOG.exists():
        lines = [l for l in SETUP_LOG.read_text(errors="replace").splitlines() if l.strip()]
        why = f"; scripts/setup.sh --tests said: {lines[-1]}" if lines else ""
    raise Unavailable(f"Debian package {package} is not installed (scripts/setup.sh --tests "
                      f"installs it as root){why}")


def _download(package, workdir):
    r = subprocess.run(["apt-get", "download", package], cwd=workdir, capture_output=True,
                       text=True, timeout=900)
    debs = list(pathlib.Path(workdir).glob(f"{package}_*.deb"))
    if r.returncode != 0 or not debs:
        last = (r.stderr.strip() or r.stdout.strip()).splitlines()
        raise Unavailable(f"apt-get download {package} failed: {last[-1] if last else r.returncode}")
    return debs[0]


def _candidate_version(package):
    r = subprocess.run(["apt-cache", "policy", package], capture_output=True, text=True)
    for line in r.stdout.splitlines():
        if line.strip().startswith("Candidate:"):
            v = line.split(":", 1)[1].strip()
            return None if v == "(none)" else v
    return None


def _extract(package, members, name, pipe=None):
    """Files `members` (tar patterns) of `package` into CACHE/name-<version>."""
    version = _candidate_version(package)
    if not version:
        raise Unavailable(f"apt knows no package {package} (run apt-get update)")
    dest = CACHE / f"{name}-{version.replace(':', '_')}"
    if (dest / ".complete").exists():
        return dest
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=CACHE) as work:
        deb = _download(package, work)
        staging = pathlib.Path(work) / "x"
        staging.mkdir()
        # dpkg-deb streams the data tarball; tar keeps only what is asked for.
        cmd = f"dpkg-deb --fsys-tarfile {deb} | " + (pipe or "") + \
              f"tar -x -C {staging} --wildcards " + " ".join(f"'{m}'" for m in members)
        r = subprocess.run(["bash", "-c", "set -o pipefail; " + cmd],
                           capture_output=True, text=True, timeout=900)
        if r.returncode != 0:
            raise Unavailable(f"extracting {members} from {deb.name} failed: {r.stderr.strip()[-300:]}")
        shutil.rmtree(dest, ignore_errors=True)
        shutil.move(str(staging), dest)
    (dest / ".complete").write_text(version + "\n")
    return dest


def lava_server_python():
    """A directory to put on sys.path holding lava_scheduler_app's schema:
    the installed lava-server's, else its package's files extracted."""
    if _installed("lava-server"):
        return pathlib.Path("/usr/lib/python3/dist-packages")
    root = _extract("lava-server",
                    ["./usr/lib/python3/dist-packages/lava_scheduler_app/__init__.py",
                     "./usr/lib/python3/dist-packages/lava_scheduler_app/schema.py"],
                    "lava-server-schema")
    return root / "usr" / "lib" / "python3" / "dist-packages"


def kunit_py():
    """tools/testing/kunit/kunit.py of Debian's linux-source-6.1."""
    root = _extract("linux-source-6.1", ["linux-source-6.1/tools/testing/kunit/*"], "kunit",
                    pipe="tar -xO ./usr/src/linux-source-6.1.tar.xz | xz -dc | ")
    script = root / "linux-source-6.1" / "tools" / "testing" / "kunit" / "kunit.py"
    if not script.exists():
        raise Unavailable(f"linux-source-6.1 has no {script.relative_to(root)}")
    return script


def compare_py():
    """Google Benchmark's tools/compare.py: Debian's libbenchmark-tools ships
    it as /usr/share/benchmark/compare.py; a lab without that package can
    put a copy of google/benchmark's tools/ in CACHE/gbench-tools."""
    for candidate in (pathlib.Path("/usr/share/benchmark/compare.py"),
                      CACHE / "gbench-tools" / "compare.py"):
        if candidate.exists():
            return candidate
    raise Unavailable("Google Benchmark's compare.py not found: Debian's libbenchmark-tools is "
                      "not installed (scripts/setup.sh --tests installs it) and "
                      f"{CACHE / 'gbench-tools'} holds no copy of google/benchmark's tools/")

