"""A Sphinx extension of this book: write the build's execution report as JSON.

After a build that executed notebooks, ``results/book-build.json`` (beside the chapters) holds
each chapter's execution time and status as myst-nb measured them, with the build's date,
commit, machine and total time. The introduction prints it, and ``make bench`` records it, so
every time the book states about its own runs is a measured one.
"""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path

_START = time.perf_counter()


def _write(app, exception) -> None:
    if exception is not None:
        return
    from myst_nb.sphinx_ import NbMetadataCollector

    from lipviz.experiments.runs import commit, write_json

    data = NbMetadataCollector.get_doc_data(app.env)
    chapters = {
        doc: {
            "seconds": round(float(meta["exec_data"]["runtime"] or 0.0), 1),
            "succeeded": bool(meta["exec_data"]["succeeded"]),
        }
        for doc, meta in sorted(data.items())
        if meta.get("exec_data") and meta["exec_data"].get("method") != "cache"
    }
    if not chapters or not NbMetadataCollector.new_exec_data(app.env):
        return  # nothing executed in this build: keep the last report
    report = {
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "commit": commit(),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores",
        "build_seconds": round(time.perf_counter() - _START, 1),
        "executed_seconds": round(sum(c["seconds"] for c in chapters.values()), 1),
        "chapters": chapters,
    }
    write_json(Path(app.srcdir) / "results" / "book-build.json", report)


def setup(app):
    app.connect("build-finished", _write)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
