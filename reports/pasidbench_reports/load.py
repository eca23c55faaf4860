"""Read pasidbench result files (JSON Lines, schema pasidbench-result/2,
and version 1 files, which are version 2 without its additions).

A result set is what one RESULTS argument names: a directory holding
results.jsonl, or a .jsonl file. Everything that cannot be used is skipped
record by record and described in ResultSet.problems, so that a report can
still be made from what is valid and say what it left out.
"""

from __future__ import annotations

import collections
import json
from dataclasses import dataclass, field
from pathlib import Path

SCHEMA_TAG = "pasidbench-result/2"
_SCHEMA_DIR = Path(__file__).resolve().parents[2] / "results" / "schema"
# Every schema this report reads, by tag.
SCHEMA_PATHS = {
    "pasidbench-result/1": _SCHEMA_DIR / "result-v1.schema.json",
    "pasidbench-result/2": _SCHEMA_DIR / "result-v2.schema.json",
}
SCHEMA_PATH = SCHEMA_PATHS[SCHEMA_TAG]
READ_TAGS = " or ".join(sorted(SCHEMA_PATHS, reverse=True))
RESULTS_FILE_NAME = "results.jsonl"
# provenance.machine.time_base of records the model backend wrote: their
# set compares policies; every other record's set compares kernels.
MODEL_TIME_BASE = "model"

# Outcomes whose metrics are measurements; the others ran partly or not at
# all (an incomplete search's metrics cover only the schedules it reached).
MEASURED_OUTCOMES = ("pass", "fail")

# Per-file cap on repeated messages of one kind; the rest are counted.
MAX_MESSAGES_PER_KIND = 5


class LoadError(Exception):
    """Nothing usable at a path (missing, unreadable, no valid records)."""


@dataclass(frozen=True, order=True)
class TestKey:
    """Identity of a test across result sets: workload plus parameters.

    The backend is deliberately not part of it: the same test runs on
    model:task-refcount and model:mm-lifetime, or on host under kernel A and B.
    """
    workload: str
    params_json: str  # canonical JSON, so that true and 1 stay distinct

    @staticmethod
    def of(record: dict) -> "TestKey":
        return TestKey(record["workload"],
                       json.dumps(record.get("params", {}), sort_keys=True))

    @property
    def params(self) -> dict:
        return json.loads(self.params_json)

    def describe(self) -> str:
        parts = [self.workload]
        for name, value in sorted(self.params.items()):
            if isinstance(value, bool):
                value = "true" if value else "false"
            parts.append(f"{name}={value}")
        return " ".join(parts)


@dataclass
class ResultSet:
    source: str                  # the argument as given
    path: Path                   # the .jsonl file read
    label: str = ""
    tests: dict = field(default_factory=dict)          # TestKey -> record
    environments: list = field(default_factory=list)   # environment objects
    problems: list = field(default_factory=list)       # what was left out
    compares: str = "kernel"     # "policy" (model runs) or "kernel"
    name: str = ""               # the policy, or the kernel name[/policy]
    policy: str | None = None    # the policy of a policy set
    mutant_of: str | None = None # a seeded mutant's parent policy

    @property
    def first_test(self) -> dict | None:
        return next(iter(self.tests.values()), None)

    @property
    def kernel(self) -> dict:
        record = self.first_test
        return record["provenance"]["kernel"] if record else {}

    @property
    def machine(self) -> dict:
        record = self.first_test
        return record["provenance"]["machine"] if record else {}

    @property
    def backends(self) -> list:
        return sorted({r["backend"] for r in self.tests.values()})

    @property
    def is_model(self) -> bool:
        return self.compares == "policy"

    @property
    def is_mutant(self) -> bool:
        return bool(self.mutant_of)

    @property
    def emulated(self) -> bool:
        return any(r["provenance"]["machine"].get("emulated", False)
                   for r in self.tests.values())

    @property
    def time_bases(self) -> list:
        return sorted({r["provenance"]["machine"].get("time_base", "real")
                       for r in self.tests.values()})

    @property
    def environment(self) -> dict:
        """The environment of the last run that appended to the file."""
        return self.environments[-1] if self.environments else {}


def resolve_results_path(source: str) -> Path:
    path = Path(source)
    if path.is_dir():
        path = path / RESULTS_FILE_NAME
    if not path.is_file():
        raise LoadError(f"{source}: no {RESULTS_FILE_NAME} found")
    return path


_validators = {}


def _record_validators(tag: str) -> dict:
    """One validator per record kind: the schema's top-level oneOf only says
    'matches neither', while a kind-specific check names the field at fault."""
    if tag not in _validators:
        import jsonschema  # Debian python3-jsonschema
        schema = json.loads(SCHEMA_PATHS[tag].read_text())
        validators = {}
        for kind in ("environment", "test"):
            sub = {k: v for k, v in schema.items() if k != "oneOf"}
            sub["$ref"] = f"#/$defs/{kind}_record"
            validators[kind] = jsonschema.Draft202012Validator(sub)
        _validators[tag] = validators
    return _validators[tag]


def _first_schema_error(record: dict) -> str | None:
    kind = record.get("record")
    validator = _record_validators(record["schema"]).get(kind)
    if validator is None:
        return f"unknown record kind {kind!r}"
    errors = sorted(validator.iter_errors(record),
                    key=lambda e: (len(e.absolute_path), str(e.absolute_path)))
    if not errors:
        return None
    error = errors[0]
    where = ".".join(str(p) for p in error.absolute_path) or "record"
    return f"{where}: {error.message}"


class _NotJson(ValueError):
    """What json.loads takes and JSON (and the C++ reader) does not."""


def _reject_constant(name: str):
    raise _NotJson(f"{name} is not a JSON number")


def parse_line(line: str):
    """json.loads, strict as the C++ reader: NaN and Infinity are not JSON.
    Raises ValueError with the reason (nesting too deep included)."""
    try:
        return json.loads(line, parse_constant=_reject_constant)
    except _NotJson:
        raise
    except json.JSONDecodeError as err:
        raise ValueError(err.msg) from err
    except RecursionError as err:
        raise ValueError("nested too deeply") from err


class _MessageLog:
    """Collects problems for one file, capping repeats of one kind."""

    def __init__(self, path: Path):
        self.path = path
        self.counts = collections.Counter()
        self.messages = []

    def add(self, kind: str, lineno: int | None, text: str) -> None:
        self.counts[kind] += 1
        if self.counts[kind] <= MAX_MESSAGES_PER_KIND:
            where = f"{self.path}:{lineno}" if lineno else f"{self.path}"
            self.messages.append(f"{where}: {text}")

    def finish(self) -> list:
        for kind, count in sorted(self.counts.items()):
            if count > MAX_MESSAGES_PER_KIND:
                self.messages.append(
                    f"{self.path}: {count - MAX_MESSAGES_PER_KIND} more "
                    f"'{kind}' problems not listed")
        return self.messages


def read_records(path: Path) -> tuple:
    """Return ([(lineno, record)], problems) of the valid records."""
    log = _MessageLog(path)
    other_schemas = collections.Counter()
    records = []
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as err:
        raise LoadError(f"{path}: cannot read: {err.strerror}") from err
    lines = text.split("\n")
    truncated_tail = bool(text) and not text.endswith("\n")
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = parse_line(line)
        except ValueError as err:
            last = lineno == len(lines) and truncated_tail
            why = ("truncated last line (did the run crash?)" if last
                   else f"malformed JSON ({err})")
            log.add("json", lineno, f"{why}; line skipped")
            continue
        if not isinstance(record, dict) or "schema" not in record:
            log.add("not-a-record", lineno,
                    "not a pasidbench result record; skipped")
            continue
        if not isinstance(record["schema"], str) or \
                record["schema"] not in SCHEMA_PATHS:
            other_schemas[str(record["schema"])] += 1
            continue
        error = _first_schema_error(record)
        if error:
            log.add("invalid", lineno,
                    f"{record.get('record', 'record')} record does not match "
                    f"{record['schema']} ({error}); skipped")
            continue
        records.append((lineno, record))
    problems = log.finish()
    for tag, count in sorted(other_schemas.items()):
        problems.append(f"{path}: {count} record(s) of schema {tag!r} skipped "
                        f"(this report reads {READ_TAGS})")
    return records, problems


@dataclass(frozen=True)
class SetIdentity:
    """What a record's set compares, read from the record's own fields
    (never from the backend's name): a policy for model runs (time base
    'model'), otherwise a kernel build, and on a kernel that declares one,
    its policy too. A seeded mutant is a set of its own."""
    compares: str                # "policy" or "kernel"
    name: str
    policy: str | None
    mutant_of: str | None

    @staticmethod
    def of(record: dict) -> "SetIdentity":
        kernel = record["provenance"]["kernel"]
        policy = record.get("policy") or kernel.get("policy") or None
        mutant_of = record.get("mutant_of") or None
        if record["provenance"]["machine"].get("time_base") == MODEL_TIME_BASE:
            return SetIdentity("policy", policy or "model", policy, mutant_of)
        name = kernel["name"]
        if record.get("policy"):
            name += "/" + record["policy"]
        return SetIdentity("kernel", name, policy, mutant_of)


def load_result_sets(source: str) -> list:
    """Load one RESULTS argument: one set per identity (SetIdentity) in the
    file, in order of first appearance. A lab run writes every kernel's
    records into one file, so a lab output gives one set per kernel build,
    the first kernel first."""
    path = resolve_results_path(source)
    records, problems = read_records(path)
    environments = [(r.get("run_id"), r["environment"]) for _, r in records
                    if r["record"] == "environment"]
    tests = [(n, r) for n, r in records if r["record"] == "test"]
    if not tests:
        what = "no valid test records"
        raise LoadError(f"{source}: {what}" + (
            "; " + "; ".join(problems) if problems else ""))

    groups = collections.OrderedDict()
    for lineno, record in tests:
        groups.setdefault(SetIdentity.of(record), []).append((lineno, record))

    sets = []
    for identity, group in groups.items():
        run_ids = {r.get("run_id") for _, r in group}
        own = [e for run_id, e in environments if run_id in run_ids]
        result_set = ResultSet(
            source=source, path=path, compares=identity.compares,
            name=identity.name, policy=identity.policy,
            mutant_of=identity.mutant_of,
            environments=own or [e for _, e in environments],
            problems=list(problems) if not sets else [])
        for lineno, record in group:
            key = TestKey.of(record)
            if key in result_set.tests:
                result_set.problems.append(
                    f"{path}:{lineno}: test {key.describe()!r} of "
                    f"{identity.name} recorded again; the later record "
                    f"replaces the earlier one")
            result_set.tests[key] = record
        result_set.label = identity.name
        sets.append(result_set)
    return sets
