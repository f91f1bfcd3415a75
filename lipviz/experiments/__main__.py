"""Command line: ``python -m lipviz.experiments run NAME [--preset smoke|full] [--out DIR]
[--set key=value ...]``. Runs resume from ``DIR/checkpoint.pt``. Data-parallel on several
processes with ``torchrun --standalone --nproc_per_node=N -m lipviz.experiments run ...``."""

from __future__ import annotations

import argparse
import ast
import json
import sys

from ..config import resolve
from . import RUNNERS


def _value(text: str):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lipviz.experiments")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run an experiment into a run folder")
    run.add_argument("name", choices=sorted(RUNNERS))
    run.add_argument("--preset", default="smoke", help="smoke (CPU, default), full, or another")
    run.add_argument("--out", default=None, help="run folder (default runs/<name>-<preset>)")
    run.add_argument("--device", default=None)
    run.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="config overrides")
    args = parser.parse_args(argv)
    overrides = dict(item.split("=", 1) for item in args.set)
    cfg = resolve(args.name, args.preset, **{k: _value(v) for k, v in overrides.items()})
    out = args.out or f"runs/{args.name}-{args.preset}"
    result = RUNNERS[args.name](cfg, out, device=args.device)
    if result.summary is not None:  # under torchrun: rank 0
        sys.stdout.write(json.dumps(result.summary, indent=2) + "\n")
    from torch import distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()  # the other ranks wait for rank 0's certificate, then all leave together
        dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
