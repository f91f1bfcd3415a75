"""Batches of chapter notebooks, executed through papermill as dask tasks, resumable, and
reported against the papers' numbers (the ``lipviz batch`` command line).

>>> from lipviz.batch import load_batch
>>> [job.id for job in load_batch("smoke").jobs][:2]
['ch00-tour', 'ch01-margins']
"""

from .landscape import landscape_table, mnist_ladder
from .report import (
    batch_report,
    batch_status,
    batch_table,
    runs_against_papers,
    targets_table,
    verdict,
)
from .runner import job_state, run_batch, run_job
from .spec import BatchError, BatchSpec, Expected, Job, load_batch, published, shipped_batches

__all__ = [
    "BatchError",
    "BatchSpec",
    "Expected",
    "Job",
    "batch_report",
    "batch_status",
    "batch_table",
    "job_state",
    "landscape_table",
    "load_batch",
    "mnist_ladder",
    "published",
    "run_batch",
    "run_job",
    "runs_against_papers",
    "shipped_batches",
    "targets_table",
    "verdict",
]
