"""``python -m sgnn``: the command-line interface (see :mod:`sgnn.cli`)."""

import sys

from sgnn.cli import main

if __name__ == "__main__":
    sys.exit(main())
