"""Setup files agree: requirements.txt vs environment.yml, the torch pin, pytest markers."""

import re

import tomllib
import yaml
from conftest import ROOT


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirements() -> dict[str, str]:
    out = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, _, version = line.partition("==")
            out[_norm(name)] = version
    return out


def _environment() -> dict[str, str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    out = {}
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            for line in dep["pip"]:
                if not line.startswith("-"):
                    name, _, version = line.partition("==")
                    out[_norm(name)] = version
        else:
            name, _, version = dep.partition("=")
            if _norm(name) not in ("python", "pip"):
                out[_norm(name)] = version
    return out


def test_requirements_and_environment_list_the_same_packages_and_versions():
    assert _requirements() == _environment()


def test_every_requirement_is_pinned_and_torch_is_2_13():
    reqs = _requirements()
    assert all(reqs.values()), [k for k, v in reqs.items() if not v]
    assert reqs["torch"] == "2.13.0"
    assert "torchvision" not in reqs


def test_pyproject_declares_markers_and_light_core():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    markers = " ".join(meta["tool"]["pytest"]["ini_options"]["markers"])
    for marker in ("slow", "gpu", "browser"):
        assert f"{marker}:" in markers
    core = {_norm(re.split(r"[<>=!\[ ]", d)[0]) for d in meta["project"]["dependencies"]}
    assert core == {"torch", "numpy", "pandas", "tqdm"}


def test_ruff_format_owns_the_layout():
    """No layout pragmas (ruff's skip or off comments): ruff format decides every line."""
    pragma = "# fmt" + ":"  # split so that this file does not count itself
    found = [
        f"{path.relative_to(ROOT)}:{n}"
        for folder in ("lipviz", "tests", "benchmarks")
        for path in sorted((ROOT / folder).rglob("*.py"))
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if pragma in line
    ]
    assert not found, f"layout pragmas: {found[:10]}"


def test_make_lint_runs_the_type_checker_over_the_core():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]
    assert {"lipviz/functional", "lipviz/bounds", "lipviz/certify"} <= set(config["files"])
    lint = (ROOT / "Makefile").read_text().split("\nlint:")[1].split("\n\n")[0]
    assert "$(BIN)/mypy" in lint
    assert _norm("mypy") in _requirements()


def test_every_recorded_test_over_30_s_is_marked_slow():
    """tests/SLOWEST.md, the committed durations record: each test call over 30 s in it is one
    of the injected-parameter chapter runs that tests/test_book.py marks slow."""
    import re

    from test_book import SLOW_CHAPTERS

    rows = re.findall(
        r"^\| ([\d.]+) \| (\w+) \| `([^`]+)`", (ROOT / "tests" / "SLOWEST.md").read_text(), re.M
    )
    assert len(rows) >= 20
    over = [test for seconds, phase, test in rows if phase == "call" and float(seconds) > 30]
    assert over, "the record has no test over 30 s: then the slow marks are stale"
    for test in over:
        chapter = re.fullmatch(
            r"test_book\.py::test_chapter_runs_with_injected_parameters\[(\w+)\]", test
        )
        assert chapter and chapter.group(1) in SLOW_CHAPTERS, test
