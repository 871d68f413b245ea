"""Trusting and untrusting our CA, per OS and for NSS (Firefox, Chromium on Linux).

``trust_commands`` returns the exact commands, as a normal user would type them (with
``sudo`` where the system store needs it); this is what ``omniroute cert trust --dry-run``
prints and what the scripts in ``certs/`` run. ``run_commands`` executes them, dropping
``sudo`` when already root. ``is_trusted`` is a best-effort check: True/False where the
answer can be read from the filesystem, None (unknown) elsewhere.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

Action = Literal["trust", "untrust"]
NICKNAME = "OmniRoute CA"  # NSS nickname and the CA's common name (Windows/macOS lookups)
MACOS_KEYCHAIN = "/Library/Keychains/System.keychain"
DEBIAN_ANCHOR = "/usr/local/share/ca-certificates/omniroute-ca.crt"
FEDORA_ANCHOR = "/etc/pki/ca-trust/source/anchors/omniroute-ca.pem"
PLATFORMS = ("macos", "windows", "debian", "fedora", "nss")
_ALIASES = {"darwin": "macos", "win32": "windows", "cygwin": "windows"}
SCRIPTS = {
    "macos": "trust-macos.sh", "windows": "trust-windows.ps1", "debian": "trust-debian.sh",
    "fedora": "trust-fedora.sh", "nss": "trust-nss.sh",
}


def resolve_platform(platform: str | None = None) -> str:
    """Map ``sys.platform``-style names (and ``linux``) to one of PLATFORMS."""
    name = _ALIASES.get(platform or sys.platform, platform or sys.platform)
    if name.startswith("linux"):
        # Debian-family ships update-ca-certificates; Fedora/RHEL ship update-ca-trust.
        if shutil.which("update-ca-certificates") or Path("/etc/debian_version").exists():
            return "debian"
        if shutil.which("update-ca-trust") or Path("/etc/redhat-release").exists():
            return "fedora"
        raise ValueError("unknown Linux trust store: use platform 'debian', 'fedora' or 'nss'")
    if name not in PLATFORMS:
        raise ValueError(f"unknown platform {platform!r}; one of {', '.join(PLATFORMS)}")
    return name


def nss_databases(home: Path | None = None) -> list[str]:
    """Chromium's shared NSS db first, then every Firefox profile (sorted)."""
    home = home or Path.home()
    dbs = [f"sql:{home}/.pki/nssdb"]
    patterns = (
        ".mozilla/firefox/*/cert9.db",
        "snap/firefox/common/.mozilla/firefox/*/cert9.db",
        "Library/Application Support/Firefox/Profiles/*/cert9.db",
    )
    for pattern in patterns:
        dbs.extend(f"sql:{p.parent}" for p in sorted(home.glob(pattern)))
    return dbs


def _sha1(cert_path: str) -> str | None:
    try:
        cert = x509.load_pem_x509_certificate(Path(cert_path).read_bytes())
    except (OSError, ValueError):
        return None
    return cert.fingerprint(hashes.SHA1()).hex().upper()  # noqa: S303 - macOS's -Z wants SHA-1


def trust_commands(
    platform: str | None, action: Action, cert_path: str | Path, *, home: Path | None = None
) -> list[list[str]]:
    """The exact commands that trust or untrust ``cert_path`` on ``platform``."""
    if action not in ("trust", "untrust"):
        raise ValueError(f"action must be 'trust' or 'untrust', not {action!r}")
    cert = str(cert_path)
    match resolve_platform(platform):
        case "macos":
            if action == "trust":
                return [["sudo", "security", "add-trusted-cert", "-d", "-r", "trustRoot",
                         "-k", MACOS_KEYCHAIN, cert]]
            sha1 = _sha1(cert)
            which = ["-Z", sha1] if sha1 else ["-c", NICKNAME]
            return [["sudo", "security", "remove-trusted-cert", "-d", cert],
                    ["sudo", "security", "delete-certificate", *which, MACOS_KEYCHAIN]]
        case "windows":  # from an elevated prompt: the machine Root store
            if action == "trust":
                return [["certutil", "-addstore", "-f", "Root", cert]]
            return [["certutil", "-delstore", "Root", NICKNAME]]
        case "debian":
            if action == "trust":
                return [["sudo", "install", "-m", "0644", cert, DEBIAN_ANCHOR],
                        ["sudo", "update-ca-certificates"]]
            return [["sudo", "rm", "-f", DEBIAN_ANCHOR],
                    ["sudo", "update-ca-certificates", "--fresh"]]
        case "fedora":
            if action == "trust":
                return [["sudo", "install", "-m", "0644", cert, FEDORA_ANCHOR],
                        ["sudo", "update-ca-trust", "extract"]]
            return [["sudo", "rm", "-f", FEDORA_ANCHOR], ["sudo", "update-ca-trust", "extract"]]
        case _:
            return _nss_commands(action, cert, home or Path.home())


def _nss_commands(action: Action, cert: str, home: Path) -> list[list[str]]:
    commands: list[list[str]] = []
    for db in nss_databases(home):
        if action == "untrust":
            commands.append(["certutil", "-d", db, "-D", "-n", NICKNAME])
            continue
        directory = db.removeprefix("sql:")
        if not (Path(directory) / "cert9.db").exists():
            # Chromium creates its db lazily; make it so the CA can be added before first run.
            commands.append(["mkdir", "-p", directory])
            commands.append(["certutil", "-d", db, "-N", "--empty-password"])
        commands.append(["certutil", "-d", db, "-A", "-t", "C,,", "-n", NICKNAME, "-i", cert])
    return commands


def run_commands(
    commands: list[list[str]], timeout: float = 60.0, *, stop_on_error: bool = True
) -> list[tuple[list[str], str]]:
    """Run in order; returns (command, outcome) pairs, outcome "ok" or "failed: ...".

    Stops at the first failure unless ``stop_on_error`` is False (NSS untrust: a profile
    that never had the CA fails its delete, the others must still run). ``sudo`` is dropped
    when already root (containers often have no sudo at all).
    """
    is_root = hasattr(os, "geteuid") and os.geteuid() == 0
    results: list[tuple[list[str], str]] = []
    for cmd in commands:
        argv = cmd[1:] if is_root and cmd[:1] == ["sudo"] else cmd
        outcome = _run_one(argv, timeout)
        results.append((cmd, outcome))
        if outcome != "ok" and stop_on_error:
            break
    return results


def _run_one(argv: list[str], timeout: float) -> str:
    if shutil.which(argv[0]) is None:
        return f"failed: {argv[0]} is not installed"
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"failed: {exc}"
    if proc.returncode != 0:
        return f"failed: {(proc.stderr or proc.stdout).strip() or proc.returncode}"
    return "ok"


def is_trusted(cert_path: str | Path, *, root: str | Path = "/") -> bool | None:
    """Is this exact certificate in the system trust anchors? None when we cannot tell.

    Reads the Debian and Fedora anchor files (``root`` lets tests use a fake tree); the
    macOS keychain, Windows store and NSS dbs need their own tools, so they are unknown.
    """
    base = Path(root)
    for anchor in (DEBIAN_ANCHOR, FEDORA_ANCHOR):
        path = base / anchor.lstrip("/")
        if not path.parent.is_dir():
            continue
        return path.is_file() and _same_cert(path, Path(cert_path))
    return None


def _same_cert(a: Path, b: Path) -> bool:
    try:
        first = x509.load_pem_x509_certificate(a.read_bytes())
        second = x509.load_pem_x509_certificate(b.read_bytes())
    except (OSError, ValueError):
        return False
    der = serialization.Encoding.DER
    return first.public_bytes(der) == second.public_bytes(der)
