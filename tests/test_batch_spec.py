"""Batch files: the shipped ones load, and every malformed field gets an error that names the
file, the job and the field: ids that are not safe folder names, and parameters that the
notebook's parameters cell does not assign, included."""

from __future__ import annotations

import json

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


def test_the_cifar10_cpu_batch_runs_the_cpu_presets_against_a_paper_row():
    from lipviz import resolve

    spec = load_batch("cifar10-cpu")
    assert [job.preset for job in spec.jobs] == ["cpu-cifar10", "cpu-cifar10-hh-cr"]
    for job in spec.jobs:
        cfg = resolve("soc", job.preset)  # the chapter's run is lipviz.resolve("soc", preset)
        assert (cfg.dataset, cfg.init_channels, job.device) == ("cifar10-jpeg", 16, "cpu")
        assert job.chapter.stem == "05_orthogonal_convolutions_soc"
        assert job.run == f"chapter-soc/{job.preset}"
        assert job.expected is not None and job.expected.eps == 36 / 255
        assert "init_channels 16" in job.note


def test_a_path_and_relative_notebooks(tmp_path):
    path = _write(
        tmp_path,
        f"jobs:\n  - {{id: a, chapter: {FIXTURES / 'quick.md'}, parameters: {{accuracy: 0.3}}}}\n",
    )
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
        (
            "jobs:\n  - {id: a, chapter: 00_setup_and_tour, parameters: {x: [1]}}\n",
            "job 'a'.parameters.x",
        ),
        (
            "jobs:\n  - {id: a, chapter: 00_setup_and_tour, parameters: {preset: full}}\n",
            "job 'a'.parameters.preset",
        ),
        (
            "jobs:\n  - {id: a, chapter: 00_setup_and_tour}\n  - {id: a, chapter: 01_margins_2d}\n",
            "job 'a': id used twice",
        ),
        (
            "jobs:\n  - {id: a, chapter: 00_setup_and_tour, expected: {metric: certified_accuracy,"
            " value: 40.55, eps: 1.58, source: x}}\n",
            "job 'a'.expected.value: accuracies are",
        ),
        (
            "jobs:\n  - {id: a, chapter: 00_setup_and_tour, expected: {metric: certified_accuracy,"
            " value: 0.4, source: x}}\n",
            "job 'a'.expected.eps",
        ),
        (
            "jobs:\n  - {id: a, chapter: 00_setup_and_tour, expected: {metric: acc, value: 0.4,"
            " source: x}}\n",
            "job 'a'.expected.metric",
        ),
        ("jobs:\n  - {id: a, chapter: 00_setup_and_tour, timeout_s: -1}\n", "job 'a'.timeout_s"),
        ("jobs:\n  - {id: a, chapter: 00_setup_and_tour, priority: high}\n", "job 'a'.priority"),
        (
            "jobs:\n  - {id: A, chapter: 00_setup_and_tour}\n  - {id: a, chapter: 01_margins_2d}\n",
            "job 'a': id used twice (as 'A': ids are compared ignoring case)",
        ),
        (
            "jobs:\n  - {id: a, chapter: 01_margins_2d, parameters: {epoch: 3}}\n",
            "job 'a'.parameters.epoch: not a parameter of 01_margins_2d.md (did you mean 'epochs'?",
        ),
    ],
)
def test_malformed_batch_files_name_file_job_and_field(tmp_path, text, needle):
    path = _write(tmp_path, text)
    with pytest.raises(BatchError) as info:
        load_batch(path)
    assert str(path) in str(info.value) and needle in str(info.value)


def test_unknown_batch_name_lists_the_shipped_ones():
    with pytest.raises(BatchError, match="smoke"):
        load_batch("no-such-batch")


@pytest.mark.parametrize(
    "job_id",
    [
        "batch.yaml",
        "manifest.json",
        "report.csv",
        "report.md",
        "report.png",
        "Report.CSV",
        ".hidden",
        "..",
        "../up",
        "a/b",
        "a\\b",
        "a@b",
        "x" * 101,
    ],
)
def test_ids_that_are_not_safe_folder_names_are_refused(tmp_path, job_id):
    path = _write(
        tmp_path, f"jobs:\n  - {{id: {json.dumps(job_id)}, chapter: 00_setup_and_tour}}\n"
    )
    with pytest.raises(BatchError) as info:
        load_batch(path)
    message = str(info.value)
    assert str(path) in message and ".id: " in message and "\n" not in message


def _notebook_ipynb(path, parameters_cell: str | None):
    import nbformat

    cells = [nbformat.v4.new_code_cell("print(epochs)")]
    if parameters_cell is not None:
        cells.insert(
            0, nbformat.v4.new_code_cell(parameters_cell, metadata={"tags": ["parameters"]})
        )
    nbformat.write(nbformat.v4.new_notebook(cells=cells), path)
    return path


def test_parameters_are_checked_against_the_notebooks_parameters_cell(tmp_path):
    nb = _notebook_ipynb(
        tmp_path / "nb.ipynb", "preset = 'smoke'\nepochs: int = 2\nlr, seed = 0.1, 0"
    )
    ok = _write(
        tmp_path, "jobs:\n  - {id: a, chapter: nb.ipynb, parameters: {epochs: 3, seed: 1}}\n"
    )
    assert load_batch(ok).jobs[0].parameters == {"epochs": 3, "seed": 1}
    bad = _write(tmp_path, "jobs:\n  - {id: a, chapter: nb.ipynb, parameters: {lrr: 0.5}}\n")
    with pytest.raises(BatchError) as info:
        load_batch(bad)
    message = str(info.value)
    assert "job 'a'.parameters.lrr: not a parameter of nb.ipynb (did you mean 'lr'?" in message
    assert "epochs, lr, preset, seed" in message and "\n" not in message
    _notebook_ipynb(nb, None)  # no parameters cell: papermill would inject blindly
    with pytest.raises(BatchError, match="nb.ipynb has no cell tagged 'parameters'"):
        load_batch(ok)
