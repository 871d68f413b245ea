"""`scripts/system-deps`, the first step of `./scripts/test`, on a system where redis-server,
PostgreSQL, Chromium and Node.js are absent from PATH (and from Debian's PostgreSQL folder).

Not as root it must stop with one line naming the exact command; as root it must run
`apt-get update` once, then install exactly the missing packages. apt-get there is a recorder
that "installs" by creating the binaries, since really reinstalling packages would contend for
dpkg's lock with anything else on the machine; `.ci/run` exercises the real install on a fresh
machine.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.harness import REPO_ROOT

SCRIPT = REPO_ROOT / "scripts" / "system-deps"
PACKAGES = ["nodejs", "npm", "chromium", "postgresql", "redis-server", "iproute2"]
# What each package puts on PATH, as far as the script checks.
PROVIDES = {"nodejs": "node", "npm": "npm", "chromium": "chromium",
            "postgresql": "initdb", "redis-server": "redis-server", "iproute2": "ip"}

RECORDING_APT_GET = """#!/bin/bash
echo "$*" >> "{log}"
if [[ "$1" == install ]]; then
  for arg in "$@"; do
    case "$arg" in {cases} esac
  done
fi
"""


@pytest.fixture()
def bare_system() -> Iterator[Path]:
    """A folder holding the script and the only commands on PATH: bash, env and id (readable
    by nobody)."""
    root = Path(tempfile.mkdtemp(prefix="omniroute-system-deps-"))
    try:
        (root / "bin").mkdir()
        (root / "pg").mkdir()  # an empty stand-in for /usr/lib/postgresql
        for tool in ("bash", "env", "id"):
            found = shutil.which(tool)
            assert found, f"{tool} is needed to run scripts/system-deps"
            (root / "bin" / tool).symlink_to(found)
        # A copy nobody can read, wherever the checkout lives (/root is 0700).
        shutil.copy2(SCRIPT, root / "system-deps")
        for path in (root, root / "bin", root / "pg", root / "system-deps"):
            path.chmod(0o755)
        yield root
    finally:
        shutil.rmtree(root)


def _env(root: Path) -> dict[str, str]:
    return {"PATH": str(root / "bin"), "OMNIROUTE_PG_LIBDIR": str(root / "pg"), "HOME": str(root)}


def _tool(name: str) -> str:
    found = shutil.which(name)
    assert found, f"{name} (util-linux) is needed to run scripts/system-deps as another user"
    return found


def _as_nobody() -> list[str]:
    if os.geteuid() != 0:
        return []
    return [_tool("setpriv"), "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"]


def _as_root() -> list[str]:
    # Not root: a user namespace where we are uid 0 (what a container's root looks like).
    return [] if os.geteuid() == 0 else [_tool("unshare"), "--map-root-user", "--"]


def test_not_root_names_the_command_in_one_line_and_fails(bare_system: Path) -> None:
    done = subprocess.run([*_as_nobody(), str(bare_system / "system-deps")], env=_env(bare_system),
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 1
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    command = f"sudo apt-get install -y --no-install-recommends {' '.join(PACKAGES)}"
    assert lines[0].endswith(f"install them with: sudo apt-get update && {command}")


def test_root_runs_apt_get_update_once_then_installs_what_is_missing(bare_system: Path) -> None:
    log = bare_system / "apt-get.log"
    cases = " ".join(f'{pkg}) : > "{bare_system}/bin/{cmd}"; chmod +x "{bare_system}/bin/{cmd}";;'
                     for pkg, cmd in PROVIDES.items())
    apt_get = bare_system / "bin" / "apt-get"
    apt_get.write_text(RECORDING_APT_GET.format(log=log, cases=cases))
    apt_get.chmod(apt_get.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)

    done = subprocess.run([*_as_root(), str(bare_system / "system-deps")], env=_env(bare_system),
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert log.read_text().splitlines() == [
        "update -qq",
        f"install -y --no-install-recommends {' '.join(PACKAGES)} -qq",
    ]
    # Installed: a second run has nothing to do and calls apt-get no more.
    again = subprocess.run([*_as_root(), str(bare_system / "system-deps")], env=_env(bare_system),
                           capture_output=True, text=True, timeout=60, check=False)
    assert (again.returncode, again.stderr) == (0, "")
    assert len(log.read_text().splitlines()) == 2


def test_root_reports_a_package_apt_get_did_not_provide(bare_system: Path) -> None:
    apt_get = bare_system / "bin" / "apt-get"
    apt_get.write_text("#!/bin/bash\nexit 0\n")  # "succeeds" without installing anything
    apt_get.chmod(0o755)
    done = subprocess.run([*_as_root(), str(bare_system / "system-deps")], env=_env(bare_system),
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1].endswith(f"still missing after 'apt-get install -y "
                                                 f"--no-install-recommends {' '.join(PACKAGES)}': "
                                                 f"{' '.join(PACKAGES)}")


def test_the_test_command_and_ci_entry_point_install_first() -> None:
    test = (REPO_ROOT / "scripts" / "test").read_text()
    assert test.index('scripts/system-deps"') < test.index("-m pytest")
    ci = (REPO_ROOT / ".ci" / "run").read_text()
    assert "exec ./scripts/test" in ci and "apt-get" not in ci
