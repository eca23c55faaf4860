"""--mail: one plain-text message with its sections in order, every line
within 72 columns, only the changed metrics, and commands that rerun what
the records name."""

import numpy as np

import report_fixtures as fx

SECTIONS = ("Environment", "Summary", "Changed metrics", "How to reproduce")


def kernel_run(tmp_path, name, ctxsw_center, revision="1a2b3c4d5e6f",
               seed=1):
    """A lab-like set: ctxsw_ns moved by the caller, membarrier_ns the
    same distribution in every run."""
    rng = np.random.default_rng(seed)
    records = [fx.environment_record(release=name)]
    for placement in ("same_cpu", "cross_cpu"):
        records.append(fx.test_record(
            "micro:context-switch", {"placement": placement},
            {"ctxsw_ns": fx.metric(
                fx.skewed_samples(rng, ctxsw_center, 15))},
            kernel=name, release=name))
    records.append(fx.test_record(
        "micro:ipi", {"spinning_cpus": 1},
        {"membarrier_ns": fx.metric(fx.skewed_samples(rng, 5000, 15))},
        kernel=name, release=name))
    for record in records[1:]:
        record["suite"] = "smoke"
        record["provenance"]["pasidbench_revision"] = revision
    fx.write_results(tmp_path / name, records)
    return tmp_path / name


def model_run(tmp_path):
    records = [fx.environment_record(release="model")]
    for policy, ipis in (("task-refcount", 0), ("resync-ipi", 4)):
        record = fx.model_record(
            policy, "thread-pool", {"binder": "stays"},
            {"ipis": fx.metric([ipis, ipis, ipis + 2], "count", "lower"),
             "pasid_allocs": fx.metric([2, 2, 2], "count", "none")},
            kind="conformance")
        record["suite"] = "smoke"
        record["search"] = {"strategy": "exhaustive", "schedules": 900,
                            "complete": True}
        records.append(record)
    fx.write_results(tmp_path / "model", records)
    return tmp_path / "model"


def sections(text: str) -> dict:
    """Section title -> its lines, from the underlined headings."""
    lines = text.splitlines()
    found, current = {}, None
    for k, line in enumerate(lines):
        if k + 1 < len(lines) and lines[k + 1] == "-" * len(line) and line:
            current = line
            found[current] = []
        elif current and line != "-" * len(current):
            found[current].append(line)
    return found


def shell_text(lines) -> str:
    """The commands as the shell reads them: backslash-newlines removed,
    blanks collapsed."""
    return " ".join("\n".join(lines).replace("\\\n", "").split())


def mail_of(args):
    status, out, _ = fx.run_cli(list(args) + ["--mail"])
    assert status == 0
    return out


def test_mail_has_its_sections_in_order_within_72_columns(tmp_path):
    base = kernel_run(tmp_path, "debian-6.1-amd64", 2400)
    new = kernel_run(tmp_path, "debian-6.12-amd64", 2700, seed=2)
    out = mail_of([base, new])
    lines = out.splitlines()
    assert lines[0].startswith("Subject: [pasidbench] smoke: ")
    assert lines[1] == ""
    found = sections(out)
    assert list(found) == list(SECTIONS)
    too_wide = [line for line in lines if len(line) > 72]
    assert not too_wide
    assert not any("\t" in line or line != line.rstrip() for line in lines)
    # The summary is the one --summary prints, whole.
    _, summary, _ = fx.run_cli([base, new, "--summary"])
    assert "\n".join(found["Summary"]).strip() == summary.strip()
    environment = "\n".join(found["Environment"])
    assert "debian-6.1-amd64: 6.1" not in environment   # labels, not letters
    assert "kernel" in environment and "6.12" in environment


def test_mail_shows_only_the_changed_metrics(tmp_path):
    base = kernel_run(tmp_path, "debian-6.1-amd64", 2400)
    new = kernel_run(tmp_path, "debian-6.12-amd64", 2700, seed=2)
    out = mail_of([base, new])
    changed = "\n".join(sections(out)["Changed metrics"])
    # ctxsw_ns moved by 12 % in both tests; membarrier_ns did not move.
    assert changed.count("ctxsw_ns [ns, lower is better]") == 2
    assert "membarrier_ns" not in changed
    assert "2 of 3 metrics differ from A; the others are not shown" in \
        " ".join(changed.split())
    assert "*worse*" in changed
    # The subject says what changed, per set.
    assert "B 2 worse" in out.splitlines()[0]


def test_mail_without_change_says_so(tmp_path):
    base = kernel_run(tmp_path, "debian-6.1-amd64", 2400)
    same = kernel_run(tmp_path, "debian-6.12-amd64", 2400, seed=1)
    changed = sections(mail_of([base, same]))["Changed metrics"]
    assert "No metric differs from its A." in changed
    assert not any("[ns," in line for line in changed)


def test_mail_model_counts_one_line_per_changed_metric(tmp_path):
    out = mail_of([model_run(tmp_path)])
    changed = sections(out)["Changed metrics"]
    text = "\n".join(changed)
    # ipis differs (0 against 4), pasid_allocs is the same: not shown.
    assert "1 of 2 metrics differ from A" in " ".join(text.split())
    row = next(line for line in changed if line.startswith(" ipis"))
    assert row.split() == ["ipis", "0", "4", "worse"]
    assert "pasid_allocs" not in text
    assert "U-test" not in text   # counts over schedules: no tests


def test_mail_reproduce_names_revision_and_commands(tmp_path):
    base = kernel_run(tmp_path, "debian-6.1-amd64", 2400,
                      revision="0123456789ab-dirty")
    new = kernel_run(tmp_path, "debian-6.12-amd64", 2700, seed=2,
                     revision="0123456789ab-dirty")
    out = mail_of([base, new, "--baseline", "debian-6.1-amd64"])
    how = shell_text(sections(out)["How to reproduce"])
    assert "git checkout 0123456789ab " in how
    assert "uncommitted changes" in how
    assert "cmake --preset default && cmake --build --preset default" in how
    for run in (base, new):
        name = run.name
        assert (f"build/runners/pasidbench lab --kernels kernels/{name}.toml"
                f" --suite suites/smoke.toml --out {run}") in how
    assert (f"build/runners/pasidbench report --mail --baseline "
            f"debian-6.1-amd64 {base} {new}") in how


def test_mail_reproduce_model_run_uses_run(tmp_path):
    run = model_run(tmp_path)
    how = shell_text(sections(mail_of([run]))["How to reproduce"])
    assert f"build/runners/pasidbench run suites/smoke.toml --out {run}" in how
    assert "git checkout 1a2b3c4d5e6f" in how
    assert "lab --kernels" not in how


def test_long_command_words_still_paste_whole():
    from pasidbench_reports import mail
    path = "/srv/results/" + "k" * 100 + "/smoke"
    lines = mail.command_lines(["build/runners/pasidbench", "run",
                                "suites/smoke.toml", "--out", path])
    assert all(len(line) <= 72 for line in lines)
    assert shell_text(lines) == \
        f"build/runners/pasidbench run suites/smoke.toml --out {path}"


def test_mail_of_seeded_mutants_alone(tmp_path):
    records = [fx.environment_record(release="model")]
    mutant = fx.model_record(
        "task-refcount/unbind-frees", "thread-pool", {"binder": "unbinds"},
        {"ipis": fx.metric([1, 1], "count", "lower")}, kind="conformance",
        outcome="fail", reason="isolation_violation in 3 of 9 schedules",
        counterexample={"violation": "isolation_violation", "events": 12,
                        "trace": ["cpu0 bind"]})
    mutant["mutant_of"] = "task-refcount"
    mutant["expected_outcome"] = "fail"
    mutant["suite"] = "smoke"
    records.append(mutant)
    fx.write_results(tmp_path / "m", records)
    out = mail_of([tmp_path / "m"])
    assert list(sections(out)) == list(SECTIONS)
    assert "1/1 mutants caught" in out.splitlines()[0]
    assert "(all) model" in "\n".join(sections(out)["Environment"])
