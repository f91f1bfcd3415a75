"""Chapter 1's experiment: certified balls of a small Lipschitz classifier on a 2-D toy."""

from __future__ import annotations

import contextlib
import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import nn

from ..bounds import LipschitzBound, lipschitz_bound
from ..certify import certified_radius
from ..config import Margins2DConfig
from ..data import make_toy
from ..exact.planar import boundary_distance
from ..locks import folder_lock
from ..models import create
from ..train import fit
from .registry import Experiment, register_experiment
from .runs import refuse_nan, write_json

__all__ = ["Margins2DResult", "run_margins2d", "EXPERIMENT"]


@dataclass(eq=False)
class Margins2DResult:
    """The trained model, its data, its sound bound, and a per-point table.

    ``table`` columns: ``x0, x1, label, predicted, margin, certified_radius, true_distance,
    ratio`` (certified / true; 1 would be a perfectly tight certificate).

    Attributes
    ----------
    config : Margins2DConfig
        The settings of the run.
    model : nn.Module
        The trained toy MLP (on the CPU, eval mode), mapping ``(N, 2)`` to logits ``(N, C)``.
    train, val : ToyDataset
        The training and validation points (``x`` of shape ``(N, 2)``, ``y`` of shape
        ``(N,)``).
    shown : ToyDataset
        The ``cfg.n_show`` points that are certified and measured.
    bound : LipschitzBound
        The sound Lipschitz bound of the whole model.
    table : pandas.DataFrame
        One row per shown point, the columns above.
    history : pandas.DataFrame
        The per-epoch training history (:class:`~lipviz.train.FitResult`).
    """

    config: Margins2DConfig
    model: nn.Module
    train: object
    val: object
    shown: object
    bound: LipschitzBound
    table: Any  # pandas.DataFrame (pandas is imported lazily)
    history: Any

    @property
    def summary(self) -> dict:
        """Points shown, the sound bound, certified fraction and violations (must be 0).

        Returns
        -------
        dict
            ``experiment``, ``n_points``, ``lipschitz``, ``certified_fraction`` (radius > 0),
            ``violations`` (certified radius > true distance) and ``median_ratio``.
        """
        t = self.table
        return {
            "experiment": "margins2d",
            "n_points": len(t),
            "lipschitz": self.bound.value,
            "certified_fraction": float((t["certified_radius"] > 0).mean()),
            "violations": int((t["certified_radius"] > t["true_distance"]).sum()),
            "median_ratio": float(t["ratio"].median()),
        }


def run_margins2d(
    cfg: Margins2DConfig,
    out_dir=None,
    *,
    device=None,
    progress: bool = True,
    run_id: str | None = None,
) -> Margins2DResult:
    r"""Train a toy MLP, certify shown points, and measure their true boundary distances.

    The points are certified with :math:`M_f(x)/(\sqrt2\,L)` (Tsuzuku, Sato and Sugiyama,
    2018), :math:`L` the sound bound of the whole model; their true distances to the decision
    boundary come from :func:`lipviz.exact.planar.boundary_distance` (``cfg.n_directions``
    rays).

    Parameters
    ----------
    cfg : Margins2DConfig
        The preset (``lipviz.resolve("margins2d", "smoke")``).
    out_dir : str or Path, optional
        A run folder for ``config.json``, ``certified.csv`` and ``summary.json``.
    device : str, optional
        Where to train (the certificates and distances are computed on the CPU).
    progress : bool
        Show progress bars.
    run_id : str, optional
        The id written into the run's ``summary.json`` (``run_id``), by which a batch job
        finds it; default the run folder's name.

    Returns
    -------
    Margins2DResult
        The model, its data, its sound bound, the per-point table and the training history.

    Raises
    ------
    FloatingPointError
        If training diverged, or (with ``out_dir``) the summary holds a NaN; nothing is
        written then.
    lipviz.locks.FolderBusyError
        If another process is running in ``out_dir`` (it holds the folder's lock).
    """
    # one process per run folder: a second run on it is refused, never interleaved
    with folder_lock(out_dir) if out_dir is not None else contextlib.nullcontext():
        return _run_margins2d(cfg, out_dir, device=device, progress=progress, run_id=run_id)


def _run_margins2d(
    cfg: Margins2DConfig, out_dir=None, *, device=None, progress: bool = True, run_id=None
) -> Margins2DResult:
    train = make_toy(cfg.toy, n=cfg.n_train, seed=cfg.seed)
    val = make_toy(cfg.toy, n=cfg.n_val, seed=cfg.seed + 1)
    shown = make_toy(cfg.toy, n=cfg.n_show, seed=cfg.seed + 2)
    model = create(
        "toy-mlp", hidden=cfg.hidden, depth=cfg.depth, spectral=cfg.spectral, seed=cfg.seed
    )
    result = fit(
        model,
        train,
        val,
        epochs=cfg.epochs,
        lr=cfg.lr,
        temperature=cfg.temperature,
        batch_size=cfg.batch_size,
        seed=cfg.seed,
        progress=progress,
        device=device,
    )
    model = model.cpu()
    bound = lipschitz_bound(model, (2,), mode="sound")
    cert = certified_radius(model, shown.x, bound=bound)
    r_max = 2.0 * max(shown.x.abs().max().item(), 1.0)
    dist, _ = boundary_distance(model, shown.x, n_directions=cfg.n_directions, r_max=r_max)
    table = cert.to_frame()
    table.insert(0, "x0", shown.x[:, 0].numpy())
    table.insert(1, "x1", shown.x[:, 1].numpy())
    table.insert(2, "label", shown.y.numpy())
    table = table.rename(columns={"radius": "certified_radius"})
    table["true_distance"] = dist.numpy()
    table["ratio"] = table["certified_radius"] / table["true_distance"]
    out = Margins2DResult(cfg, model, train, val, shown, bound, table, result.history)
    if out_dir is not None:
        folder = Path(out_dir)
        refuse_nan(out.summary, str(folder / "summary.json"))
        write_json(folder / "config.json", dataclasses.asdict(cfg))
        table.to_csv(folder / "certified.csv", index=False)
        write_json(folder / "summary.json", {**out.summary, "run_id": run_id or folder.name})
    return out


EXPERIMENT = register_experiment(
    Experiment(name="margins2d", config=Margins2DConfig, run=run_margins2d, chapter="01_margins_2d")
)
