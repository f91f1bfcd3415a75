"""The ``lipviz`` command line (also ``python -m lipviz``): one door, :func:`main`.

``lipviz run`` (one experiment), ``lipviz batch`` (chapter notebooks on dask), ``lipviz data``
(the data folder), ``lipviz certify`` and ``lipviz audit`` (a published run folder) and
``lipviz --version``; see :mod:`lipviz.cli._main` for each command's arguments and exit status.
"""

from ._main import main

__all__ = ["main"]
