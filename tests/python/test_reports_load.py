"""Loading result sets: identity of tests across sets, labels, splitting
model files per policy."""

import numpy as np

import report_fixtures as fx
from pasidbench_reports import load

BASE = np.arange(1000.0, 1015.0)


def test_fixtures_validate_against_the_schema():
    for record in fx.demo_records_model(np.random.default_rng(0)):
        fx.validate(record)


def test_tests_match_across_backends_by_workload_and_params(tmp_path):
    a = fx.write_results(tmp_path / "a", [fx.model_record(
        "task-refcount", "thread-pool", {"threads": 4},
        {"ipis": fx.metric(BASE, "count")}, test_id="model-a/thread-pool")])
    b = fx.write_results(tmp_path / "b", [fx.model_record(
        "mm-lifetime", "thread-pool", {"threads": 4},
        {"ipis": fx.metric(BASE, "count")}, test_id="model-b/thread-pool")])
    [set_a] = load.load_result_sets(str(a))
    [set_b] = load.load_result_sets(str(b))
    assert set(set_a.tests) == set(set_b.tests)
    assert (set_a.label, set_b.label) == ("task-refcount", "mm-lifetime")


def test_true_and_one_are_different_params():
    one = load.TestKey.of({"workload": "w", "params": {"x": 1}})
    true = load.TestKey.of({"workload": "w", "params": {"x": True}})
    assert one != true
    assert true.describe() == "w x=true"


def test_host_set_is_labelled_by_kernel_name(tmp_path):
    path = fx.write_results(tmp_path, [fx.test_record(
        "w", {}, {"m": fx.metric(BASE)}, kernel="6.10.0-vanilla")])
    [result_set] = load.load_result_sets(str(path))
    assert result_set.label == "6.10.0-vanilla"
    assert result_set.path == path


def test_model_file_with_several_policies_is_split(tmp_path):
    records = [fx.environment_record(release="model")] + [
        fx.model_record(policy, "w", {}, {"m": fx.metric(BASE)})
        for policy in ("mm-lifetime", "task-refcount")]
    fx.write_results(tmp_path, records)
    sets = load.load_result_sets(str(tmp_path))
    assert [s.label for s in sets] == ["mm-lifetime", "task-refcount"]
    assert all(s.environment["kernel"]["release"] == "model" for s in sets)


def test_a_file_with_two_kernels_gives_one_set_per_kernel(tmp_path):
    # A lab run writes every kernel's records into one results.jsonl.
    records = [fx.environment_record(release="k2", run_id="run-k2"),
               fx.environment_record(release="k1", run_id="run-k1")]
    for kernel in ("k2", "k1"):
        for i in range(2):
            record = fx.test_record("w", {"i": i}, {"m": fx.metric(BASE)},
                                    kernel=kernel, release=kernel)
            record["run_id"] = f"run-{kernel}"
            records.append(record)
    fx.write_results(tmp_path, records)
    sets = load.load_result_sets(str(tmp_path))
    assert [s.label for s in sets] == ["k2", "k1"]
    assert [len(s.tests) for s in sets] == [2, 2]
    assert [s.environment["kernel"]["release"] for s in sets] == ["k2", "k1"]
    assert not any(s.problems for s in sets)


def test_what_a_set_compares_comes_from_record_fields(tmp_path):
    # The backend's name is not read: a model record is one timed in
    # model time, and its set is its policy field.
    record = fx.model_record("mm-lifetime", "w", {}, {"m": fx.metric(BASE)})
    record["backend"] = "some-other-name"
    mutant = fx.model_record("mm-lifetime/fork-inherits", "w", {},
                             {"m": fx.metric(BASE)})
    mutant["mutant_of"] = "mm-lifetime"
    host = fx.test_record("w", {}, {"m": fx.metric(BASE)},
                          kernel="6.1-pasid", policy="mm-lifetime")
    fx.write_results(tmp_path, [record, mutant, host])
    sets = load.load_result_sets(str(tmp_path))
    assert [(s.compares, s.label, s.mutant_of) for s in sets] == [
        ("policy", "mm-lifetime", None),
        ("policy", "mm-lifetime/fork-inherits", "mm-lifetime"),
        ("kernel", "6.1-pasid/mm-lifetime", None)]
