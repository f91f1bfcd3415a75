r"""The published landscape of deterministic :math:`\ell_2` certified accuracy: the leaderboard
that places lipviz's three methods among the others (``files/landscape.csv``, from
``../shared/reference/peers.md`` with each row's source), and the MNIST ladder at
:math:`\varepsilon = 1.58` (``files/mnist_ladder.csv``).

Rows trained with extra generated images (diffusion samples) are flagged ``extra_data`` and kept
apart from the rest: they are not comparable. Rows whose numbers come from a secondary summary
(a leaderboard, a rebuttal) rather than the paper are flagged ``secondary``.

>>> from lipviz.batch import landscape_table
>>> table = landscape_table("CIFAR-10", extra_data=False)
>>> bool(table["extra_data"].any())
False
"""

from __future__ import annotations

from importlib import resources

__all__ = ["landscape_table", "mnist_ladder"]

_NUMERIC = ["clean", "cra_36", "cra_72", "cra_108"]


def _read(name: str):
    import pandas as pd

    with resources.files("lipviz.batch").joinpath("files", name).open() as fh:
        return pd.read_csv(fh)


def landscape_table(dataset: str | None = None, *, extra_data: bool | None = None):
    r"""Published clean and certified accuracies (%) of Lipschitz networks on CIFAR.

    Parameters
    ----------
    dataset : {"CIFAR-10", "CIFAR-100"}, optional
        Keep one dataset; all rows when omitted.
    extra_data : bool, optional
        ``False`` keeps the rows trained on the standard training set only, ``True`` those that
        add generated images; both when omitted.

    Returns
    -------
    pandas.DataFrame
        One row per published model, sorted by certified accuracy at :math:`36/255`:
        ``dataset, method, venue, year, family, clean, cra_36, cra_72, cra_108`` (certified
        accuracy at :math:`\varepsilon = k/255`; NaN where not reported), ``params_m``
        (millions), ``extra_data``, ``cite`` (the book's BibTeX key), ``source``,
        ``secondary`` and ``note``.

    Raises
    ------
    ValueError
        For a dataset the table does not hold.

    Examples
    --------
    >>> landscape_table("CIFAR-10", extra_data=True)["method"].tolist()[0]
    'LiResNet++ recipe + DDPM data'
    """
    table = _read("landscape.csv")
    if dataset is not None:
        known = sorted(table["dataset"].unique())
        if dataset not in known:
            msg = f"No landscape rows for dataset {dataset!r}; available: {known}"
            raise ValueError(msg)
        table = table[table["dataset"] == dataset]
    if extra_data is not None:
        table = table[table["extra_data"] == bool(extra_data)]
    table = table.assign(note=table["note"].fillna(""))
    return table.sort_values("cra_36", ascending=False).reset_index(drop=True)


def mnist_ladder():
    r"""Published MNIST results at :math:`\varepsilon = 1.58` (clean, certified and PGD
    accuracy, %), the targets lipviz's MNIST runs are set against.

    Returns
    -------
    pandas.DataFrame
        ``method, family, clean, certified, pgd, cite, source``, sorted by certified accuracy.

    Examples
    --------
    >>> mnist_ladder()["method"].tolist()
    ['GloRo 4C3F', 'BCP', 'CAP', 'LMT']
    """
    table = _read("mnist_ladder.csv")
    return table.sort_values("certified", ascending=False).reset_index(drop=True)
