"""The run file: written, read back, stale when its pid no longer runs, removed only by its owner."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from omniroute import runfile


def _info(pid: int) -> runfile.RunInfo:
    return runfile.RunInfo(pid=pid, host="127.0.0.1", api_port=20555, proxy_port=8555, bridge_port=0,
                           started_at=1.0, version="x")


def test_live_stale_and_owner_only_removal(tmp_path: Path) -> None:
    assert runfile.read(tmp_path) == (None, None)
    runfile.write(tmp_path, _info(os.getpid()))
    live, stale = runfile.read(tmp_path)
    assert stale is None and live is not None and live.api_url == "http://127.0.0.1:20555"
    runfile.remove(tmp_path, os.getpid() + 1)  # another instance's: kept
    assert runfile.run_file(tmp_path).exists()
    runfile.remove(tmp_path, os.getpid())
    assert not runfile.run_file(tmp_path).exists()

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    runfile.write(tmp_path, _info(int(gone.stdout)))
    live, stale = runfile.read(tmp_path)
    assert live is None and stale is not None and stale.pid == int(gone.stdout)


def test_an_unreadable_file_is_no_server(tmp_path: Path) -> None:
    runfile.run_file(tmp_path).write_text("{not json")
    assert runfile.read(tmp_path) == (None, None)
