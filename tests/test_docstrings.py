"""Every public name is documented as pooch documents it: numpydoc Parameters for anything that
takes arguments, Returns for functions that return something, raw strings for maths."""

import ast
import importlib
import inspect
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "lipviz"

# every module of the package, doors and implementation modules alike
MODULES = sorted(
    ".".join(p.relative_to(ROOT.parent).with_suffix("").parts).removesuffix(".__init__")
    for p in ROOT.rglob("*.py")
    if p.name != "__main__.py"
)


def _public_callables():
    seen = {}
    for name in MODULES:
        mod = importlib.import_module(name)
        for attr in mod.__all__:
            obj = getattr(mod, attr, None)
            if (inspect.isfunction(obj) or inspect.isclass(obj)) and obj.__module__.startswith(
                "lipviz"
            ):
                seen.setdefault(f"{obj.__module__}.{obj.__qualname__}", obj)
    return sorted(seen.items())


PUBLIC = _public_callables()


def _parameters(obj) -> list[str]:
    target = obj.__init__ if inspect.isclass(obj) else obj
    if inspect.isclass(obj) and target is object.__init__:
        return []
    try:
        params = inspect.signature(target).parameters
    except (TypeError, ValueError):
        return []
    return [p for p in params if p not in ("self", "cls")]


def test_the_public_surface_is_not_empty():
    assert len(PUBLIC) > 100


@pytest.mark.parametrize(("qualname", "obj"), PUBLIC, ids=[q for q, _ in PUBLIC])
def test_public_name_has_a_numpydoc_docstring(qualname, obj):
    doc = inspect.getdoc(obj)
    assert doc, f"{qualname} has no docstring"
    if _parameters(obj):
        assert "Parameters\n----------" in doc or "Attributes\n----------" in doc, (
            f"{qualname} takes {_parameters(obj)} but documents no Parameters section"
        )
    if inspect.isfunction(obj):
        returns = inspect.signature(obj).return_annotation
        gives = returns not in (inspect.Signature.empty, None, "None")
        if (
            gives
            and not inspect.isgeneratorfunction(obj)
            and "contextmanager" not in str(getattr(obj, "__wrapped__", ""))
        ):
            assert any(s in doc for s in ("Returns\n-------", "Yields\n------")), (
                f"{qualname} returns {returns} but documents no Returns section"
            )


def test_maths_in_docstrings_is_in_raw_strings():
    """A docstring with a LaTeX backslash must be r\"\"\"...\"\"\" (or escape every backslash)."""
    bad = []
    for path in ROOT.rglob("*.py"):
        source = path.read_text()
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                segment = ast.get_source_segment(source, node) or ""
                raw = segment[:2].lower() in ('r"', "r'") or segment[:4].lower() == 'r"""'
                if not raw and "\\\\" not in segment and "\\math" in segment.replace("\\\\", ""):
                    bad.append(f"{path.relative_to(ROOT.parent)}:{node.lineno}")
    assert not bad, f"LaTeX in non-raw strings: {bad}"
