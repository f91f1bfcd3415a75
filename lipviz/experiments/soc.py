"""LipConvnet (SOC + HH/MaxMin + LLN) trained with certificate regularisation; a run folder."""

from __future__ import annotations

from ..config import SOCConfig
from ..models import create
from ..train import CertificateRegularized, TrainConfig
from .registry import Experiment, register_experiment
from .runs import RunResult, load_splits, train_and_certify

__all__ = ["build_model", "run_soc", "EXPERIMENT"]


def build_model(cfg: SOCConfig, input_shape):
    """The LipConvnet of ``cfg`` for inputs of ``input_shape`` (its initial weights), as the run
    builds it; :func:`lipviz.experiments.load_run` rebuilds a published model with it.

    Parameters
    ----------
    cfg : SOCConfig
        The run's settings.
    input_shape : tuple of int
        ``(C, H, W)`` of the dataset.

    Returns
    -------
    nn.Module
        The untrained model.
    """
    return create(
        "lipconvnet",
        depth=cfg.depth,
        in_channels=input_shape[0],
        input_size=input_shape[-1],
        init_channels=cfg.init_channels,
        activation=cfg.activation,
        last_layer=cfg.last_layer,
        seed=cfg.seed,
    )


def run_soc(
    cfg: SOCConfig, out_dir=None, *, device=None, progress: bool = True, run_id: str | None = None
) -> RunResult:
    r"""Train a LipConvnet with certificate regularisation and certify the test split once.

    Train LipConvnet-``depth`` with CE - gamma * ReLU(cert), select on validation certified
    accuracy, and certify the test split once with sound bounds (SOC truncation included).

    The objective is certificate regularisation (Singla, Singla and Feizi, ICLR 2022;
    :class:`~lipviz.train.objectives.CertificateRegularized`),

    .. math:: \mathrm{CE}(f(x), y) - \gamma\, \mathrm{ReLU}\big(\mathrm{cert}(x, y)\big),

    with the declared constant :math:`L` of everything before the last layer taken as the
    input normalisation's bound (the layers after it are 1-Lipschitz up to SOC truncation).
    The final certificate uses the sound bound instead. Training uses SGD with momentum,
    weight decay, learning-rate milestones and augmentation from ``cfg``.

    Parameters
    ----------
    cfg : SOCConfig
        The run's settings (``lipviz.resolve("soc", "smoke")``).
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
        The config, the selected model, the training history, the certified-accuracy table,
        the summary and the run folder.
    """
    train, val, test = load_splits(cfg)
    model = build_model(cfg, train.input_shape)
    # every layer before the last is orthogonal up to truncation: the declared constant is the
    # normalisation's (the certificate at the end uses the sound product instead)
    lipschitz = model[0].lipschitz_bound()
    objective = CertificateRegularized(gamma=cfg.gamma, lipschitz=lipschitz)
    tcfg = TrainConfig.from_config(cfg, optimizer="sgd", select_on="val_cert_acc")
    method = f"LipConvnet-{cfg.depth} {cfg.activation}+{cfg.last_layer}+CR({cfg.gamma})"
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
        run_id=run_id,
    )


EXPERIMENT = register_experiment(
    Experiment(
        name="soc",
        config=SOCConfig,
        run=run_soc,
        chapter="05_orthogonal_convolutions_soc",
        build_model=build_model,
    )
)
