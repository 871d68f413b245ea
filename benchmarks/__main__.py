"""`python -m benchmarks [--quick] [--requests N] [--concurrency N] [--with-litellm] [--workers N]`."""

from __future__ import annotations

import sys

from benchmarks.run import main

if __name__ == "__main__":
    sys.exit(main())
