"""Batches of chapter notebooks, executed through papermill as dask tasks, resumable, and
reported against the papers' numbers (the ``lipviz batch`` command line). A job is done only when
its result record is intact and names the identity of its current spec (:func:`job_identity`);
a lock per job keeps two drivers from running it twice.

>>> from lipviz.batch import load_batch
>>> [job.id for job in load_batch("smoke").jobs][:2]
['ch00-tour', 'ch01-margins']
"""

from .jobs import (
    STATES,
    CorruptResultWarning,
    job_identity,
    job_state,
    read_record,
    write_record,
)
from .landscape import landscape_table, mnist_ladder
from .report import (
    BOOK_BUILD,
    batch_report,
    batch_status,
    batch_table,
    book_build_times,
    runs_against_papers,
    targets_table,
    verdict,
)
from .runner import run_batch, run_job
from .spec import (
    BOOK_ENV,
    BatchError,
    BatchSpec,
    Expected,
    Job,
    book_root,
    load_batch,
    published,
    shipped_batches,
)

__all__ = [
    "BOOK_BUILD",
    "BOOK_ENV",
    "STATES",
    "BatchError",
    "BatchSpec",
    "CorruptResultWarning",
    "Expected",
    "Job",
    "batch_report",
    "batch_status",
    "batch_table",
    "book_root",
    "book_build_times",
    "job_identity",
    "job_state",
    "landscape_table",
    "load_batch",
    "mnist_ladder",
    "published",
    "read_record",
    "run_batch",
    "run_job",
    "runs_against_papers",
    "shipped_batches",
    "targets_table",
    "verdict",
    "write_record",
]
