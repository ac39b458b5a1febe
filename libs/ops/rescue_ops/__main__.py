"""``python -m rescue_ops``; the console script ``rescue-ops`` calls ``main`` too."""

import sys

from rescue_ops.cli import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
