"""Reports: run folders made outside a batch are set against the papers' rows."""

from __future__ import annotations

import pytest

from lipviz.batch import load_batch, runs_against_papers, targets_table
from lipviz.experiments import write_json


def _run(folder, certified):
    write_json(
        folder / "summary.json",
        {
            "dataset": "MNIST",
            "method": "lmt",
            "model": "lmt-c",
            "clean_accuracy": 0.9,
            "certified_accuracy": {"0.0": 0.9, "1.58": certified},
            "wall_time_s": 10.0,
            "device": "CPU",
            "commit": "abc",
        },
    )
    return folder


def test_runs_against_papers_gives_verdicts_and_not_run_rows(tmp_path):
    table = runs_against_papers({"lmt-mnist": _run(tmp_path / "a", 0.30)}).set_index("job")
    row = table.loc["lmt-mnist"]
    assert (row.certified, row.paper, row.verdict) == (0.30, 0.4055, "below")
    assert row.preset == "run folder a" and row.eps == 1.58
    assert (table.drop(index="lmt-mnist").verdict == "not run").all()
    good = runs_against_papers({"lmt-mnist": _run(tmp_path / "b", 0.40)})
    assert good.set_index("job").loc["lmt-mnist", "verdict"] == "reproduced"


def test_an_unknown_job_is_named(tmp_path):
    with pytest.raises(KeyError, match="no-such-job"):
        runs_against_papers({"no-such-job": tmp_path})


def test_the_batch_files_run_id_picks_the_judged_run(tmp_path):
    import json

    from conftest import ROOT

    from lipviz.batch import batch_table

    fixture = ROOT / "tests" / "fixtures" / "batch" / "quick.md"
    (tmp_path / "batch.yaml").write_text(
        f"jobs:\n  - {{id: a, chapter: {fixture}, run: 'lln-cr'}}\n"
    )
    runs = [
        {
            "folder": f"runs/{name}",
            "summary": {
                "run_id": name,
                "method": f"lln+CR({g})",
                "clean_accuracy": c,
                "certified_accuracy": {"1.0": c / 2},
            },
        }
        # the judged run comes second, both have one method, and one id begins the other: only
        # the exact id tells them apart
        for name, g, c in (("lln-cr-long", "0.5", 0.8), ("lln-cr", "0.5", 0.6))
    ]
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "summary.json").write_text(json.dumps({"runs": runs, "result": None}))
    row = batch_table(tmp_path).iloc[0]
    assert (row.method, row.clean, row.certified) == ("lln+CR(0.5)", 0.6, 0.3)
    (tmp_path / "batch.yaml").write_text(f"jobs:\n  - {{id: a, chapter: {fixture}, run: 'lln'}}\n")
    import pandas as pd

    assert pd.isna(batch_table(tmp_path).iloc[0].clean)  # no run has that id: none is judged
    (tmp_path / "batch.yaml").write_text(
        f"jobs:\n  - {{id: a, chapter: {fixture}, run: 'lln-cr'}}\n"
    )
    # a record written before identities and checksums: shown, never counted as done
    assert (row.state, row.verdict) == ("stale", "no paper value")


def test_the_committed_smoke_batch_reads_without_warnings():
    from conftest import ROOT

    from lipviz.batch import batch_table

    table = batch_table(ROOT / "book" / "results" / "batch-smoke")
    assert set(table.state) <= {"done", "stale"} and table.clean.notna().any()


def test_targets_table_lists_every_published_number_of_the_batch():
    spec = load_batch("papers")
    table = targets_table("papers")
    expected = {j.id: j.expected for j in spec.jobs if j.expected is not None}
    assert list(table.index) == list(expected)
    for job_id, e in expected.items():
        row = table.loc[job_id]
        assert (row.paper, row.metric, row.verified) == (e.value, e.metric, e.verified)
    assert set(table.columns) == {
        "chapter",
        "metric",
        "eps",
        "paper",
        "tolerance",
        "verified",
        "source",
    }
