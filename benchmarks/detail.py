"""`--with-detail`: the focused benchmarks run as they are, their tables appended to the report."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from tests.support.harness import REPO_ROOT


def detail_tables(quick: bool, log: Callable[[str], None]) -> list[str]:
    """The report's "Detail" section: each focused benchmark's output, or why it has none."""
    runs = {
        "engine_overhead": ["--requests", "200" if quick else "1000", "--stream-requests", "50" if quick else "200"],
        "capture_overhead": ["--requests", "100" if quick else "400", "--flows", "1000" if quick else "10000",
                             "--ring-size", "10000", "--concurrency", "8"],
    }
    out = ["## Detail: focused benchmarks", ""]
    for module, args in runs.items():
        path = Path(__file__).with_name(f"{module}.py")
        if not path.exists():
            continue
        log(f"detail: python -m benchmarks.{module} {' '.join(args)}")
        try:
            done = subprocess.run([sys.executable, "-m", f"benchmarks.{module}", *args], check=False, capture_output=True,
                                  text=True, timeout=900, cwd=REPO_ROOT)
            text = done.stdout.strip() if done.returncode == 0 else f"failed ({done.returncode}): {done.stderr[-500:]}"
        except subprocess.TimeoutExpired:
            text = "timed out after 900 s"
        out += [f"### {module}", "", text, ""]
    return out
