"""Locks that keep two processes from working in one folder: OS-level ``flock`` locks through
:mod:`filelock`, released by the operating system when their process dies (a dead process never
blocks a folder, a live one is never robbed of it)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["FolderBusyError", "file_lock", "folder_lock"]


class FolderBusyError(RuntimeError):
    """Another live process holds the lock of a folder this process was asked to write.

    Parameters
    ----------
    message : str
        The folder, its lock file and what to do.
    """


def file_lock(path):
    """An OS-level (``flock``) lock on ``path``, not acquired; its file stays after release.

    Parameters
    ----------
    path : str or Path
        The lock file (created on acquisition).

    Returns
    -------
    filelock.FileLock
        With filelock 4, the soft (marker-file) fallback is off: a marker would outlive a dead
        holder, and unlinking the file on release would let two processes lock two files.
    """
    from filelock import FileLock

    try:
        return FileLock(path, fallback_to_soft=False, preserve_lock_file=True)
    except TypeError:  # filelock 3: flock only, and the file is never unlinked
        return FileLock(path)


def folder_lock(folder):
    """The lock of a folder, acquired without waiting; release it (or use it in ``with``).

    The lock file is the folder's hidden sibling ``.<name>.lock``, so the folder itself is not
    touched (a refused folder stays as it was).

    Parameters
    ----------
    folder : str or Path
        The folder (its parent is created if needed).

    Returns
    -------
    filelock.FileLock
        Acquired.

    Raises
    ------
    FolderBusyError
        If another process holds it.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp, folder_lock(Path(tmp) / "run"):
    ...     pass
    """
    from filelock import Timeout

    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    path = folder.parent / f".{folder.name}.lock"
    lock = file_lock(path)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        msg = (
            f"{folder} is in use by another lipviz process (it holds {path}): wait for it to "
            "finish, or write to another folder"
        )
        raise FolderBusyError(msg) from None
    return lock
