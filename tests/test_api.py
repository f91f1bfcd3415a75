"""The public API is deliberate: every exported name resolves."""

import importlib
import inspect
import types
from pathlib import Path

import pytest

import lipviz

ROOT = Path(__file__).resolve().parents[1]

MODULES = [
    "lipviz",
    "lipviz.bounds",
    "lipviz.bounds.guards",
    "lipviz.bounds.registry",
    "lipviz.bounds.network",
    "lipviz.bounds.walker",
    "lipviz.bounds.context",
    "lipviz.state",
    "lipviz.certify",
    "lipviz.bounds.local",
    "lipviz.bounds.local_norms",
    "lipviz.bounds.local_kernels",
    "lipviz.bounds.local_state",
    "lipviz.config",
    "lipviz.data",
    "lipviz.attacks",
    "lipviz.auditing",
    "lipviz.exact",
    "lipviz.exact.jacobian",
    "lipviz.exact.planar",
    "lipviz.exact.regions",
    "lipviz.experiments",
    "lipviz.experiments.runs",
    "lipviz.layers",
    "lipviz.layers.soc",
    "lipviz.layers.soc_exp",
    "lipviz.certify.accuracy",
    "lipviz.certify.radii",
    "lipviz.certify.last_layer",
    "lipviz.config.lmt",
    "lipviz.config.locallip",
    "lipviz.config.margins2d",
    "lipviz.config.soc",
    "lipviz.functional",
    "lipviz.functional.certificates",
    "lipviz.functional.conv",
    "lipviz.functional.spectral",
    "lipviz.models",
    "lipviz.train",
    "lipviz.train.distributed",
    "lipviz.train.objectives",
    "lipviz.train.objectives_local",
    "lipviz.train.settings",
    "lipviz.viz",
    "lipviz.viz.compute",
    "lipviz.viz.compute_layers",
    "lipviz.viz.compute_models",
    "lipviz.viz.compute_local",
    "lipviz.viz.interactive",
    "lipviz.viz.axes",
    "lipviz.viz.static",
    "lipviz.viz.static_results",
    "lipviz.viz.static_local",
    "lipviz.viz.static_landscape",
    "lipviz.viz.diagrams_convolution",
    "lipviz.viz.diagrams_lln",
    "lipviz.viz.diagrams_local",
    "lipviz.viz.diagrams_margins",
    "lipviz.viz.diagrams_soc",
    "lipviz.batch.landscape",
    "lipviz.viz.widgets",
    "lipviz.viz.widgets_core",
    "lipviz.viz.widgets_layers",
    "lipviz.viz.widgets_models",
    "lipviz.viz.static_reproduction",
    "lipviz.batch",
    "lipviz.batch.spec",
    "lipviz.batch.runner",
    "lipviz.batch.report",
    "lipviz.cli",
]


@pytest.mark.parametrize("name", MODULES)
def test_all_names_resolve(name):
    mod = importlib.import_module(name)
    assert mod.__all__, f"{name} has an empty __all__"
    for attr in mod.__all__:
        if name == "lipviz.viz":
            importlib.import_module(f"lipviz.viz.{attr}")
        else:
            assert hasattr(mod, attr), f"{name}.__all__ lists {attr!r}, which does not exist"


# The public surface of ``import lipviz``. Adding or removing a name is an API change: update
# this list (and the changelog of the release) in the same commit.
PUBLIC_API = [
    "local_lipschitz_bound",
    "local_certified_radius",
    "local_certified",
    "LocalBound",
    "ClippedReLU",
    "ClippedMaxMin",
    "AttackResult",
    "AuditReport",
    "BoundContext",
    "CertifiedRadii",
    "Certifier",
    "Concat",
    "GroupSort",
    "Householder",
    "LLN",
    "LayerBound",
    "LipschitzBound",
    "MaxMin",
    "Normalize",
    "OrthogonalLinear",
    "PowerIterationBound",
    "EXPERIMENTS",
    "Experiment",
    "register_experiment",
    "Residual",
    "SOC",
    "TrainConfig",
    "Trainer",
    "__version__",
    "audit",
    "available_datasets",
    "available_models",
    "certified_accuracy",
    "certified_radius",
    "create_model",
    "eval_mode",
    "layer_bound",
    "lipschitz_bound",
    "load_dataset",
    "make_toy",
    "margins",
    "minimal_l2",
    "pgd_l2",
    "register_bound",
    "register_composite",
    "register_fusion",
    "resolve",
    "seeded",
    "to_plain",
]


def test_the_public_surface_is_the_reviewed_list():
    assert sorted(lipviz.__all__) == sorted(PUBLIC_API)
    # nothing public leaks in besides the submodules: every other public attribute is listed
    leaked = {
        name
        for name, value in vars(lipviz).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    } - set(lipviz.__all__)
    assert not leaked, f"public names not in lipviz.__all__: {sorted(leaked)}"


def test_every_experiment_runner_has_the_same_signature():
    from lipviz.experiments import EXPERIMENTS

    assert set(EXPERIMENTS) == {"lmt", "locallip", "margins2d", "soc"}
    for name, experiment in EXPERIMENTS.items():
        assert experiment.name == name
        params = inspect.signature(experiment.run).parameters
        kinds = [(p.name, p.kind) for p in params.values()]
        assert kinds == [
            ("cfg", inspect.Parameter.POSITIONAL_OR_KEYWORD),
            ("out_dir", inspect.Parameter.POSITIONAL_OR_KEYWORD),
            ("device", inspect.Parameter.KEYWORD_ONLY),
            ("progress", inspect.Parameter.KEYWORD_ONLY),
        ], name
        assert params["out_dir"].default is None and params["device"].default is None
        assert type(lipviz.resolve(name, "smoke")) is experiment.config
        assert (ROOT / "book" / f"{experiment.chapter}.md").exists(), experiment.chapter


def test_top_level_api():
    for attr in (
        "lipschitz_bound",
        "certified_radius",
        "certified_accuracy",
        "load_dataset",
        "Normalize",
    ):
        assert attr in lipviz.__all__
    assert lipviz.__version__ != "0+unknown"
    assert callable(lipviz.audit) and callable(lipviz.to_plain)


def test_core_import_is_light():
    """``import lipviz`` must not pull the notebook/plotting stack (GPU machines lack it)."""
    import subprocess
    import sys

    code = (
        "import sys, lipviz; heavy = {'matplotlib', 'plotly', 'ipywidgets', 'papermill', 'pooch',"
        " 'sklearn', 'mlxtend'} & set(sys.modules); assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
