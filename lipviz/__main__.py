"""``python -m lipviz``: the ``lipviz`` command line (:mod:`lipviz.cli`)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
