"""Reading pickled array data without running code: the CIFAR-10/100 "python" batches.

A pickle can name any importable callable, and unpickling calls it; ``pickle.load`` on a file
therefore runs whatever the file asks. :func:`load_arrays` accepts only what a pickled NumPy
array and plain containers need (``numpy``'s array reconstructors, ``ndarray`` and ``dtype``,
besides the built-in dicts, lists, strings, bytes and numbers that need no lookup) and refuses
every other global with :class:`pickle.UnpicklingError`, before anything is called.
"""

from __future__ import annotations

import pickle
from typing import IO

__all__ = ["ALLOWED", "load_arrays"]

ALLOWED = frozenset(
    {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.numeric", "_frombuffer"),
        ("numpy._core.numeric", "_frombuffer"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
    }
)
"""The globals a pickled array may name: ``(module, name)``."""


class _ArrayUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) not in ALLOWED:
            msg = (
                f"refused to unpickle {module}.{name}: only NumPy arrays and plain containers "
                "are read from data files (a pickle naming a callable could run code)"
            )
            raise pickle.UnpicklingError(msg)
        return super().find_class(module, name)


def load_arrays(file: IO[bytes], encoding: str = "latin1"):
    """Unpickle a file holding only NumPy arrays and plain containers.

    Parameters
    ----------
    file : binary file object
        The pickle (e.g. a member of the CIFAR-10 "python" archive).
    encoding : str
        How Python 2 strings are decoded (``"latin1"`` for NumPy arrays pickled by Python 2).

    Returns
    -------
    object
        The unpickled dict, list or array.

    Raises
    ------
    pickle.UnpicklingError
        If the pickle names any other global (a class or function to call).

    Examples
    --------
    >>> import io, os, numpy as np
    >>> blob = pickle.dumps({"data": np.arange(3, dtype=np.uint8), "labels": [1, 2, 3]})
    >>> load_arrays(io.BytesIO(blob))["data"].tolist()
    [0, 1, 2]
    >>> load_arrays(io.BytesIO(pickle.dumps(os.getcwd)))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    _pickle.UnpicklingError: refused to unpickle posix.getcwd: ...
    """
    return _ArrayUnpickler(file, encoding=encoding).load()
