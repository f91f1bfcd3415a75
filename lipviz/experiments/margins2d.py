"""Chapter 1's experiment: certified balls of a small Lipschitz classifier on a 2-D toy."""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from ..bounds import LipschitzBound, lipschitz_bound
from ..certify import certified_radius
from ..config import Margins2DConfig
from ..data import make_toy
from ..models import create
from ..planar import boundary_distance
from ..train import fit

__all__ = ["Margins2DResult", "run_margins2d"]


@dataclass(eq=False)
class Margins2DResult:
    """The trained model, its data, its sound bound, and a per-point table.

    ``table`` columns: ``x0, x1, label, predicted, margin, certified_radius, true_distance,
    ratio`` (certified / true; 1 would be a perfectly tight certificate).
    """

    config: Margins2DConfig
    model: nn.Module
    train: object
    val: object
    shown: object
    bound: LipschitzBound
    table: object
    history: object


def run_margins2d(cfg: Margins2DConfig, *, progress: bool = True) -> Margins2DResult:
    """Train a toy MLP, certify points with margin/(√2·L), and measure the true distances."""
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
    )
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
    return Margins2DResult(cfg, model, train, val, shown, bound, table, result.history)
