"""Run every ``benchmarks/bench_*.py`` and append its figures to ``benchmarks/RESULTS.md``.

Each benchmark script prints lines ``RESULT <name> <value> <unit> [note]``; everything it measures
is measured side by side in the same run (ratios, not absolute timings across runs). The runner
records the machine and the commit next to the figures.

Usage: ``python benchmarks/run.py [name-filter]`` (``make bench`` runs them all).
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "RESULTS.md"


def machine() -> str:
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return (
        f"{cpu}, {os.cpu_count()} cores, {gpu}; Python {platform.python_version()}, "
        f"torch {torch.__version__}, {platform.system()}"
    )


def commit() -> str:
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=HERE, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=HERE,
            capture_output=True,
            text=True,
        ).stdout.strip()
        return sha + (" (with uncommitted changes)" if dirty else "")
    except OSError:
        return "unknown"


def main(argv: list[str]) -> int:
    pattern = argv[1] if len(argv) > 1 else ""
    scripts = sorted(p for p in HERE.glob("bench_*.py") if pattern in p.stem)
    if not scripts:
        print(f"no benchmark matches {pattern!r}")
        return 1
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [f"\n## {stamp}, commit {commit()}\n", f"Machine: {machine()}\n"]
    failed = 0
    for script in scripts:
        print(f"== {script.name}", flush=True)
        proc = subprocess.run(
            [sys.executable, str(script)], capture_output=True, text=True, cwd=HERE.parent
        )
        sys.stdout.write(proc.stdout)
        if proc.returncode != 0:
            failed += 1
            sys.stderr.write(proc.stderr)
            lines.append(f"\n### {script.stem}\n\nFAILED (exit {proc.returncode})\n")
            continue
        out = proc.stdout.splitlines()
        rows = [ln.split(maxsplit=4)[1:] for ln in out if ln.startswith("RESULT ")]
        header = "| figure | value | unit | note |\n|---|---|---|---|\n"
        lines.append(f"\n### {script.stem}\n\n{header}")
        for row in rows:
            row += [""] * (4 - len(row))
            lines.append("| " + " | ".join(row) + " |\n")
    if not RESULTS.exists():
        RESULTS.write_text("# Benchmark results\n\nAppended by `make bench` (benchmarks/run.py).\n")
    with RESULTS.open("a") as fh:
        fh.writelines(lines)
    print(f"appended to {RESULTS}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
