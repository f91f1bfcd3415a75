"""Batch files: the shipped ones load, and every malformed field gets an error that names the
file, the job and the field."""

from __future__ import annotations

import pytest
from conftest import ROOT

from lipviz.batch import BatchError, load_batch, shipped_batches

FIXTURES = ROOT / "tests" / "fixtures" / "batch"


def _write(tmp_path, text):
    path = tmp_path / "b.yaml"
    path.write_text(text)
    return path


def test_shipped_batches_cover_every_chapter_and_the_papers():
    assert set(shipped_batches()) >= {"smoke", "papers"}
    smoke = load_batch("smoke")
    chapters = {p.stem for p in (ROOT / "book").glob("[0-9]*.md")}
    assert {job.chapter.stem for job in smoke.jobs} == chapters
    assert all(job.preset == "smoke" and job.device == "cpu" for job in smoke.jobs)
    papers = load_batch("papers")
    assert all(job.preset.startswith("full") and job.expected is not None for job in papers.jobs)
    lmt = papers.job("lmt-mnist").expected
    assert (lmt.metric, lmt.eps, lmt.value) == ("certified_accuracy", 1.58, 0.4055)


def test_a_path_and_relative_notebooks(tmp_path):
    path = _write(tmp_path, f"jobs:\n  - {{id: a, chapter: {FIXTURES / 'quick.md'}, "
                            "parameters: {accuracy: 0.3}}\n")  # fmt: skip
    spec = load_batch(path)
    assert spec.name == "b" and spec.jobs[0].parameters == {"accuracy": 0.3}
    assert spec.jobs[0].preset == "smoke"


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("jobs: [", "not valid YAML"),
        ("- 1\n- 2\n", "must be a mapping"),
        ("jobs: []\n", "'jobs' must be a non-empty list"),
        ("jobz: [{id: a}]\n", "unknown top-level field 'jobz'"),
        ("jobs:\n  - {id: a, chapter: 00_setup_and_tour, presett: full}\n", "job 'a'.presett"),
        ("jobs:\n  - {chapter: 00_setup_and_tour}\n", "job #1.id: missing"),
        ("jobs:\n  - {id: 'a b', chapter: 00_setup_and_tour}\n", "job #1.id"),
        ("jobs:\n  - {id: a, chapter: 99_nope}\n", "job 'a'.chapter: no notebook"),
        ("jobs:\n  - {id: a, chapter: 00_setup_and_tour, device: tpu}\n", "job 'a'.device"),
        ("jobs:\n  - {id: a, chapter: 00_setup_and_tour, parameters: {x: [1]}}\n",
         "job 'a'.parameters.x"),
        ("jobs:\n  - {id: a, chapter: 00_setup_and_tour, parameters: {preset: full}}\n",
         "job 'a'.parameters.preset"),
        ("jobs:\n  - {id: a, chapter: 00_setup_and_tour}\n  - {id: a, chapter: 01_margins_2d}\n",
         "job 'a': id used twice"),
        ("jobs:\n  - {id: a, chapter: 00_setup_and_tour, expected: {metric: certified_accuracy,"
         " value: 40.55, eps: 1.58, source: x}}\n", "job 'a'.expected.value: accuracies are"),
        ("jobs:\n  - {id: a, chapter: 00_setup_and_tour, expected: {metric: certified_accuracy,"
         " value: 0.4, source: x}}\n", "job 'a'.expected.eps"),
        ("jobs:\n  - {id: a, chapter: 00_setup_and_tour, expected: {metric: acc, value: 0.4,"
         " source: x}}\n", "job 'a'.expected.metric"),
        ("jobs:\n  - {id: a, chapter: 00_setup_and_tour, timeout_s: -1}\n", "job 'a'.timeout_s"),
        ("jobs:\n  - {id: a, chapter: 00_setup_and_tour, priority: high}\n", "job 'a'.priority"),
    ],
)  # fmt: skip
def test_malformed_batch_files_name_file_job_and_field(tmp_path, text, needle):
    path = _write(tmp_path, text)
    with pytest.raises(BatchError) as info:
        load_batch(path)
    assert str(path) in str(info.value) and needle in str(info.value)


def test_unknown_batch_name_lists_the_shipped_ones():
    with pytest.raises(BatchError, match="smoke"):
        load_batch("no-such-batch")
