from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from omniroute.bridge import trust
from omniroute.bridge.ca import CertificateAuthority
from omniroute.bridge.trust import (
    DEBIAN_ANCHOR,
    SCRIPTS,
    is_trusted,
    nss_databases,
    resolve_platform,
    run_commands,
    trust_commands,
)

CERTS_DIR = Path(__file__).resolve().parents[3] / "certs"


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    ca = CertificateAuthority(tmp_path_factory.mktemp("trust-ca"))
    ca.ensure()
    return ca.cert_path


def test_exact_commands_per_platform(cert: Path) -> None:
    c = str(cert)
    assert trust_commands("debian", "trust", c) == [
        ["sudo", "install", "-m", "0644", c, DEBIAN_ANCHOR], ["sudo", "update-ca-certificates"],
    ]
    assert trust_commands("fedora", "untrust", c) == [
        ["sudo", "rm", "-f", "/etc/pki/ca-trust/source/anchors/omniroute-ca.pem"],
        ["sudo", "update-ca-trust", "extract"],
    ]
    assert trust_commands("darwin", "trust", c) == [[
        "sudo", "security", "add-trusted-cert", "-d", "-r", "trustRoot",
        "-k", "/Library/Keychains/System.keychain", c,
    ]]
    untrust_mac = trust_commands("macos", "untrust", c)
    assert untrust_mac[1][:4] == ["sudo", "security", "delete-certificate", "-Z"]
    assert len(untrust_mac[1][4]) == 40  # SHA-1 hex of this exact certificate
    assert trust_commands("win32", "trust", c) == [["certutil", "-addstore", "-f", "Root", c]]
    assert trust_commands("windows", "untrust", c) == [
        ["certutil", "-delstore", "Root", "OmniRoute CA"],
    ]
    with pytest.raises(ValueError, match="action"):
        trust_commands("debian", "distrust", c)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown platform"):
        trust_commands("beos", "trust", c)


def test_nss_covers_chromium_and_firefox_profiles(tmp_path: Path, cert: Path) -> None:
    profile = tmp_path / ".mozilla/firefox/abcd.default-release"
    profile.mkdir(parents=True)
    (profile / "cert9.db").write_bytes(b"")
    assert nss_databases(tmp_path) == [f"sql:{tmp_path}/.pki/nssdb", f"sql:{profile}"]
    cmds = trust_commands("nss", "trust", cert, home=tmp_path)
    assert cmds[0] == ["mkdir", "-p", f"{tmp_path}/.pki/nssdb"]  # Chromium db not created yet
    assert cmds[-1] == ["certutil", "-d", f"sql:{profile}", "-A", "-t", "C,,", "-n",
                        "OmniRoute CA", "-i", str(cert)]
    assert trust_commands("nss", "untrust", cert, home=tmp_path) == [
        ["certutil", "-d", f"sql:{tmp_path}/.pki/nssdb", "-D", "-n", "OmniRoute CA"],
        ["certutil", "-d", f"sql:{profile}", "-D", "-n", "OmniRoute CA"],
    ]


@pytest.mark.parametrize("platform", ["debian", "fedora", "macos", "nss"])
@pytest.mark.parametrize("action", ["trust", "untrust"])
def test_scripts_run_the_same_commands(
    tmp_path: Path, cert: Path, platform: str, action: str
) -> None:
    if platform == "macos" and not shutil.which("openssl"):
        pytest.skip("the macOS script computes the SHA-1 with openssl")
    profile = tmp_path / ".mozilla/firefox/p1.default"
    profile.mkdir(parents=True)
    (profile / "cert9.db").write_bytes(b"")
    env = {**os.environ, "OMNIROUTE_DRY_RUN": "1", "HOME": str(tmp_path)}
    out = subprocess.run(
        ["sh", str(CERTS_DIR / SCRIPTS[platform]), action, str(cert)],
        capture_output=True, text=True, env=env, check=True,
    ).stdout.splitlines()
    expected = trust_commands(platform, action, cert, home=tmp_path)  # type: ignore[arg-type]
    root = os.geteuid() == 0  # the scripts drop sudo when already root
    assert out == [" ".join(c[1:] if root and c[0] == "sudo" else c) for c in expected]


def test_scripts_reject_bad_usage(cert: Path) -> None:
    for name in ("trust-debian.sh", "trust-fedora.sh", "trust-macos.sh", "trust-nss.sh"):
        bad = subprocess.run(
            ["sh", str(CERTS_DIR / name), "frobnicate", str(cert)],
            capture_output=True, text=True, env={**os.environ, "OMNIROUTE_DRY_RUN": "1"},
        )
        assert bad.returncode == 2 and "usage" in bad.stderr
    assert (CERTS_DIR / "trust-windows.ps1").read_text().count("certutil") >= 2


def test_resolve_platform(monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_platform("darwin") == "macos"
    assert resolve_platform("win32") == "windows"
    fedora_only = {"update-ca-trust": "/usr/bin/update-ca-trust"}
    monkeypatch.setattr(trust.shutil, "which", fedora_only.get)
    monkeypatch.setattr(trust.Path, "exists", lambda self: False)
    assert resolve_platform("linux") == "fedora"
    monkeypatch.setattr(trust.shutil, "which", lambda n: None)
    with pytest.raises(ValueError, match="unknown Linux trust store"):
        resolve_platform("linux")


def test_is_trusted_reads_debian_anchor(tmp_path: Path, cert: Path) -> None:
    assert is_trusted(cert, root=tmp_path) is None  # no known store layout: unknown
    anchors = tmp_path / DEBIAN_ANCHOR.lstrip("/")
    anchors.parent.mkdir(parents=True)
    assert is_trusted(cert, root=tmp_path) is False
    anchors.write_bytes(cert.read_bytes())
    assert is_trusted(cert, root=tmp_path) is True
    other = CertificateAuthority(tmp_path / "other")
    other.ensure()
    anchors.write_bytes(other.pem())  # an older OmniRoute CA is not this one
    assert is_trusted(cert, root=tmp_path) is False


def test_run_commands_stops_at_first_failure(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    results = run_commands([["false"], ["touch", str(marker)]])
    assert results[0][1].startswith("failed") and len(results) == 1 and not marker.exists()
    results = run_commands([["touch", str(marker)], ["definitely-not-a-command-xyz"]])
    assert results[0][1] == "ok" and marker.exists()
    assert results[1][1] == "failed: definitely-not-a-command-xyz is not installed"


def test_run_commands_can_continue_past_failures(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    results = run_commands([["false"], ["touch", str(marker)]], stop_on_error=False)
    assert [o for _, o in results][1] == "ok" and marker.exists()
