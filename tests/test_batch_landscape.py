"""The published landscape tables: sources on every row, generated data kept apart, numbers in
range, and the MNIST ladder consistent (certified <= PGD <= clean)."""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib
import pytest

from lipviz.batch import landscape_table, mnist_ladder

matplotlib.use("Agg")

BIB = Path(__file__).resolve().parents[1] / "book" / "references.bib"


def test_every_row_has_a_source_and_a_bibliography_key():
    keys = set(re.findall(r"@\w+\{(\w+),", BIB.read_text()))
    for table in (landscape_table(), mnist_ladder()):
        assert table["source"].str.len().gt(5).all()
        assert set(table["cite"]) <= keys


def test_extra_data_rows_are_kept_apart():
    clean = landscape_table("CIFAR-10", extra_data=False)
    extra = landscape_table("CIFAR-10", extra_data=True)
    assert not clean["extra_data"].any() and extra["extra_data"].all()
    assert len(clean) + len(extra) == len(landscape_table("CIFAR-10"))
    assert "DDPM" in " ".join(extra["method"])  # the generated-data rows say so in their name


def test_numbers_are_percentages_and_certified_never_exceeds_clean():
    table = landscape_table()
    numbers = table[["clean", "cra_36", "cra_72", "cra_108"]]
    assert ((numbers.isna()) | ((numbers > 0) & (numbers < 100))).all().all()
    both = table.dropna(subset=["clean"])
    assert (both["cra_36"] <= both["clean"]).all()
    radii = table.dropna(subset=["cra_72", "cra_108"])
    assert ((radii["cra_108"] <= radii["cra_72"]) & (radii["cra_72"] <= radii["cra_36"])).all()


def test_sorted_by_certified_accuracy_and_unknown_dataset():
    table = landscape_table("CIFAR-10")
    assert table["cra_36"].is_monotonic_decreasing
    with pytest.raises(ValueError, match="available"):
        landscape_table("MNIST")


def test_mnist_ladder_matches_the_bcp_readme():
    ladder = mnist_ladder().set_index("method")
    assert ladder.loc["LMT", ["clean", "certified", "pgd"]].tolist() == [86.48, 40.55, 53.56]
    assert ladder.loc["BCP", ["clean", "certified"]].tolist() == [92.54, 48.20]
    rows = ladder.dropna(subset=["clean", "pgd"])
    assert ((rows["certified"] <= rows["pgd"]) & (rows["pgd"] <= rows["clean"])).all()


def test_plots_draw_every_placeable_row_and_label_it():
    from lipviz.viz.static import plot_landscape, plot_mnist_ladder

    table = landscape_table("CIFAR-10")
    fig = plot_landscape(table)
    placeable = table.dropna(subset=["clean", "cra_36"])
    assert sum(len(c.get_offsets()) for c in fig.axes[0].collections) == len(placeable)
    assert {t.get_text() for t in fig.axes[0].texts} == set(placeable["method"])
    fig = plot_mnist_ladder(mnist_ladder(), {"a": 10.0, "b": 20.0})
    assert len(fig.axes[0].patches) == len(mnist_ladder()) + 2
