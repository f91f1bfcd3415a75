"""Local-Lip training and sound local certificates on MNIST-like data; a run folder."""

from __future__ import annotations

from ..config import LocalLipConfig
from ..models import create
from ..train import LocalLip, TrainConfig
from .registry import Experiment, register_experiment
from .runs import RunResult, load_splits, train_and_certify

__all__ = ["build_model", "run_locallip", "EXPERIMENT"]


def build_model(cfg: LocalLipConfig, input_shape):
    """The model of ``cfg`` for inputs of ``input_shape`` (its initial weights), as the run
    builds it; :func:`lipviz.experiments.load_run` rebuilds a published model with it. No
    normalisation layer, as in the reference code: inputs in [0, 1], radii in those units.

    Parameters
    ----------
    cfg : LocalLipConfig
        The run's settings.
    input_shape : tuple of int
        ``(C, H, W)`` of the dataset.

    Returns
    -------
    nn.Module
        The untrained model.
    """
    return create(
        cfg.model,
        activation=cfg.activation,
        in_channels=input_shape[0],
        input_size=input_shape[-1],
        normalize=None,
        seed=cfg.seed,
        init=cfg.init,
        threshold=cfg.threshold_init,
    )


def run_locallip(
    cfg: LocalLipConfig,
    out_dir=None,
    *,
    device=None,
    progress: bool = True,
    run_id: str | None = None,
) -> RunResult:
    r"""Train with Local-Lip's objective, select on validation, certify the test split once.

    The objective (:class:`~lipviz.train.objectives.LocalLip`; Huang, Zhang, Shi, Kolter and
    Anandkumar, NeurIPS 2021) is

    .. math:: \kappa\,\mathrm{CE}(f(x), y) + (1 - \kappa)\big(\mathrm{robust}(\tilde z)
        + s \cdot \mathrm{sparsity}\big),

    with :math:`\tilde z` the worst-case logits over the ball of radius :math:`\varepsilon`
    (power-iteration factors in training) and :math:`\varepsilon, \kappa` ramped. The model is
    selected on validation *sound* local certified accuracy at ``cfg.select_eps``; the test
    split is certified once with sound local bounds, and the summary sets the estimate (power
    iteration, not a certificate), the global certificate and PGD's empirical accuracy beside
    them.

    Parameters
    ----------
    cfg : LocalLipConfig
        The run's settings (``lipviz.resolve("locallip", "smoke")``).
    out_dir : str or Path, optional
        The run folder; a run already there is resumed from its checkpoint.
    device : str, optional
        Default: ``"cuda"`` when available, else ``"cpu"``.
    progress : bool, default True
        Show progress bars.
    run_id : str, optional
        The id written into the run's ``summary.json`` (``run_id``), by which a batch job
        finds it; default the run folder's name.

    Returns
    -------
    RunResult
        The config, the selected model, the training history, the certified-accuracy table
        (sound local certificates), the summary and the run folder.
    """
    train, val, test = load_splits(cfg)
    model = build_model(cfg, train.input_shape)
    objective = LocalLip(
        eps=cfg.train_eps,
        warmup_epochs=cfg.warmup_epochs,
        rampup_epochs=cfg.rampup_epochs,
        gloro=cfg.gloro,
        sparsity=cfg.sparsity,
        sp_thres=cfg.sp_thres,
        n_iter=cfg.n_iter,
        ramp=cfg.ramp,
        eval_eps=cfg.select_eps,
    )
    tcfg = TrainConfig.from_config(cfg, select_on="val_cert_acc", select_certificate="local")
    loss = "GloRo" if cfg.gloro else "BCP"
    method = f"Local-Lip {cfg.model} {cfg.activation} ({loss} loss, train eps {cfg.train_eps})"
    return train_and_certify(
        cfg,
        model,
        objective,
        tcfg,
        (train, val, test),
        method=method,
        out_dir=out_dir,
        device=device,
        progress=progress,
        certificate="local",
        run_id=run_id,
    )


EXPERIMENT = register_experiment(
    Experiment(
        name="locallip",
        config=LocalLipConfig,
        run=run_locallip,
        chapter="08_local_lipschitz_bounds",
        build_model=build_model,
    )
)
