"""The public API is deliberate: every exported name resolves."""

import ast
import importlib
import inspect
import types
from pathlib import Path

import pytest

import lipviz

ROOT = Path(__file__).resolve().parents[1]

# The doors: every package (its ``__init__``) and the public single-file modules. Everything
# else is reached through a door; implementation modules inside a door's package are private.
DOORS = [
    "lipviz",
    "lipviz.attacks",
    "lipviz.auditing",
    "lipviz.batch",
    "lipviz.bounds",
    "lipviz.bounds.local",
    "lipviz.bounds.propagation",
    "lipviz.certify",
    "lipviz.cli",
    "lipviz.config",
    "lipviz.data",
    "lipviz.exact",
    "lipviz.experiments",
    "lipviz.functional",
    "lipviz.layers",
    "lipviz.layers.soc",
    "lipviz.locks",
    "lipviz.models",
    "lipviz.state",
    "lipviz.train",
    "lipviz.train.objectives",
    "lipviz.viz",
    "lipviz.viz.compute",
    "lipviz.viz.diagrams",
    "lipviz.viz.interactive",
    "lipviz.viz.static",
    "lipviz.viz.widgets",
]


@pytest.mark.parametrize("name", DOORS)
def test_all_names_resolve(name):
    mod = importlib.import_module(name)
    assert mod.__all__, f"{name} has an empty __all__"
    for attr in mod.__all__:
        if name == "lipviz.viz":
            importlib.import_module(f"lipviz.viz.{attr}")
        else:
            assert hasattr(mod, attr), f"{name}.__all__ lists {attr!r}, which does not exist"


def test_every_package_is_a_listed_door():
    packages = {
        ".".join(p.relative_to(ROOT).parent.parts) for p in (ROOT / "lipviz").rglob("__init__.py")
    }
    assert packages <= set(DOORS), sorted(packages - set(DOORS))


def _defined_and_imported(path: Path) -> tuple[set[str], set[str], list[str]]:
    tree = ast.parse(path.read_text())
    defined, imported, exported = set(), set(), []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            defined.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names = {t.id for t in targets if isinstance(t, ast.Name)}
            if "__all__" in names:
                exported = [e.value for e in node.value.elts]
            defined |= names
        elif isinstance(node, ast.ImportFrom) and (
            node.level or (node.module or "").startswith("lipviz")
        ):
            imported |= {a.asname or a.name for a in node.names}
    return defined, imported, exported


def test_every_name_has_one_home():
    """A module that is not a door exports only what it defines: no shim gives a lipviz name a
    second import path."""
    for path in sorted((ROOT / "lipviz").rglob("*.py")):
        if path.name == "__init__.py":
            continue
        defined, imported, exported = _defined_and_imported(path)
        foreign = [n for n in exported if n in imported and n not in defined]
        assert not foreign, f"{path.relative_to(ROOT)} re-exports {foreign}"


def test_the_one_home_rule_can_fail(tmp_path):
    shim = tmp_path / "shim.py"
    shim.write_text('from .walker import walk\n\n__all__ = ["walk"]\n')
    defined, imported, exported = _defined_and_imported(shim)
    assert [n for n in exported if n in imported and n not in defined] == ["walk"]


# The public surface of ``import lipviz``. Adding or removing a name is an API change: update
# this list (and the changelog of the release) in the same commit.
PUBLIC_API = [
    "smoothed_certify",
    "propagate_bounds",
    "propagation_certified",
    "propagation_certified_radius",
    "PropagatedBounds",
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
            ("run_id", inspect.Parameter.KEYWORD_ONLY),
        ], name
        assert params["out_dir"].default is None and params["device"].default is None
        assert params["run_id"].default is None
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
