"""The public API is deliberate: every exported name resolves."""

import importlib

import pytest

import lipviz

MODULES = [
    "lipviz",
    "lipviz.bounds",
    "lipviz.bounds.guards",
    "lipviz.bounds.registry",
    "lipviz.state",
    "lipviz.certify",
    "lipviz.config",
    "lipviz.data",
    "lipviz.attacks",
    "lipviz.auditing",
    "lipviz.regions",
    "lipviz.experiments",
    "lipviz.layers",
    "lipviz.functional",
    "lipviz.models",
    "lipviz.planar",
    "lipviz.train",
    "lipviz.viz",
    "lipviz.viz.compute",
    "lipviz.viz.interactive",
    "lipviz.viz.static",
    "lipviz.viz.explorers",
    "lipviz.viz.widgets",
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
