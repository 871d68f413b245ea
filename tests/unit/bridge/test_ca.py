from __future__ import annotations

import datetime as dt
import os
import socket
import ssl
import stat
import threading
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID
from mitmproxy.certs import CertStore

from omniroute.bridge.ca import (
    CAError,
    CertificateAuthority,
    UpstreamCAError,
    validate_upstream_ca,
)


def _verify_signed_by(leaf: x509.Certificate, ca: x509.Certificate) -> None:
    """Raise unless ``leaf``'s signature verifies with ``ca``'s public key."""
    key = ca.public_key()
    assert leaf.issuer == ca.subject
    if isinstance(key, rsa.RSAPublicKey):
        assert leaf.signature_hash_algorithm is not None
        key.verify(leaf.signature, leaf.tbs_certificate_bytes, padding.PKCS1v15(),
                   leaf.signature_hash_algorithm)
    else:
        assert isinstance(key, ec.EllipticCurvePublicKey) and leaf.signature_hash_algorithm
        key.verify(
            leaf.signature, leaf.tbs_certificate_bytes, ec.ECDSA(leaf.signature_hash_algorithm)
        )


@pytest.fixture(scope="module")
def ca_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("ca")
    CertificateAuthority(directory).ensure()
    return directory


def test_files_names_and_modes(ca_dir: Path) -> None:
    ca = CertificateAuthority(ca_dir)
    assert stat.S_IMODE(ca.key_path.stat().st_mode) == 0o600
    for path in (ca.cert_path, ca.cer_path, ca.p12_path):
        assert path.is_file()
    assert ca.key_path.name == "mitmproxy-ca.pem"
    raw = ca.key_path.read_bytes()
    assert b"PRIVATE KEY-----" in raw and b"BEGIN CERTIFICATE" in raw
    assert ca.cert_path.read_bytes() == ca.pem() and b"PRIVATE" not in ca.pem()
    assert ca.cer_path.read_bytes() == ca.der()
    assert x509.load_der_x509_certificate(ca.der()) == x509.load_pem_x509_certificate(ca.pem())


def test_certificate_profile(ca_dir: Path) -> None:
    ca = CertificateAuthority(ca_dir)
    cert = ca.certificate()
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "OmniRoute CA"
    basic = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert basic.critical and basic.value.ca
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.key_cert_sign and usage.crl_sign
    cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    life = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert dt.timedelta(days=3650) <= life <= dt.timedelta(days=3652)
    info = ca.info()
    assert info.fingerprint_sha256 == cert.fingerprint(hashes.SHA256()).hex(":").upper()
    assert info.key_type == "rsa-2048" and "CN=OmniRoute CA" in info.subject
    assert info.to_dict()["not_after"] == cert.not_valid_after_utc.isoformat()


def test_ensure_is_stable(ca_dir: Path) -> None:
    ca = CertificateAuthority(ca_dir)
    assert ca.ensure() == ca.ensure() == ca.info()


@pytest.mark.parametrize("key_type", ["rsa", "ec"])
def test_mitmproxy_loads_our_ca_and_issues_verifiable_leaves(tmp_path: Path, key_type: str) -> None:
    ca = CertificateAuthority(tmp_path, key_type=key_type)  # type: ignore[arg-type]
    ca.ensure()
    store = CertStore.from_store(tmp_path, "mitmproxy", 2048)
    assert store.default_ca._cert == ca.certificate()
    entry = store.get_cert("api.anthropic.com", [x509.DNSName("api.anthropic.com")])
    leaf = entry.cert._cert
    _verify_signed_by(leaf, ca.certificate())
    sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "api.anthropic.com" in sans.get_values_for_type(x509.DNSName)


def test_regenerate_replaces_everything(tmp_path: Path) -> None:
    ca = CertificateAuthority(tmp_path)
    first = ca.ensure()
    (tmp_path / "mitmproxy-ca.p12").write_bytes(b"stale key-bearing p12 from mitmproxy")
    second = ca.regenerate(key_type="ec")
    assert second.fingerprint_sha256 != first.fingerprint_sha256
    assert second.key_type == "ec-p256"
    assert ca.ensure() == second
    assert not (tmp_path / "mitmproxy-ca.p12").exists()
    assert stat.S_IMODE(ca.key_path.stat().st_mode) == 0o600


def test_leaf_for_a_local_tls_server(tmp_path: Path) -> None:
    ca = CertificateAuthority(tmp_path)
    ca.ensure()
    cert_pem, key_pem = ca.issue_leaf(["upstream.test", "127.0.0.1"])
    leaf = x509.load_pem_x509_certificate(cert_pem)
    _verify_signed_by(leaf, ca.certificate())
    (tmp_path / "leaf.pem").write_bytes(cert_pem + key_pem)

    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(tmp_path / "leaf.pem")
    client_ctx = ssl.create_default_context(cadata=ca.pem().decode())
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]

        def serve() -> None:
            conn, _ = listener.accept()
            with server_ctx.wrap_socket(conn, server_side=True) as tls:
                tls.sendall(b"hello from upstream")

        thread = threading.Thread(target=serve)
        thread.start()
        with socket.create_connection(("127.0.0.1", port)) as raw:
            with client_ctx.wrap_socket(raw, server_hostname="upstream.test") as tls:
                assert tls.recv(100) == b"hello from upstream"
        thread.join(10)


def test_corrupt_key_file_is_a_clear_error(tmp_path: Path) -> None:
    ca = CertificateAuthority(tmp_path)
    ca.ensure()
    ca.key_path.write_bytes(b"-----BEGIN RSA PRIVATE KEY-----\ngarbage\n")
    with pytest.raises(CAError, match=r"mitmproxy-ca\.pem is corrupt.*omniroute cert regenerate"):
        ca.ensure()
    ca.regenerate()
    assert ca.ensure().subject


def test_corrupt_or_mismatched_derived_file(tmp_path: Path) -> None:
    ca = CertificateAuthority(tmp_path)
    ca.ensure()
    ca.cer_path.write_bytes(b"\x30\x03garbage")
    with pytest.raises(CAError, match=r"mitmproxy-ca-cert\.cer is corrupt"):
        ca.ensure()
    other = CertificateAuthority(tmp_path / "other")
    other.ensure()
    ca.cer_path.write_bytes(other.der())
    with pytest.raises(CAError, match="does not match"):
        ca.ensure()


def test_missing_derived_files_are_rewritten_but_missing_key_is_an_error(tmp_path: Path) -> None:
    ca = CertificateAuthority(tmp_path)
    info = ca.ensure()
    ca.cert_path.unlink()
    ca.cer_path.unlink()
    assert ca.ensure() == info and ca.cert_path.exists() and ca.cer_path.exists()
    ca.key_path.unlink()
    with pytest.raises(CAError, match=r"mitmproxy-ca\.pem is missing"):
        ca.ensure()


def test_loose_key_permissions_are_tightened(tmp_path: Path) -> None:
    ca = CertificateAuthority(tmp_path)
    ca.ensure()
    ca.key_path.chmod(0o644)
    ca.ensure()
    assert stat.S_IMODE(ca.key_path.stat().st_mode) == 0o600


def test_bundle_is_system_plus_ours(tmp_path: Path) -> None:
    ca = CertificateAuthority(tmp_path / "ca")
    ca.ensure()
    system = tmp_path / "system.pem"
    other = CertificateAuthority(tmp_path / "sys")
    other.ensure()
    system.write_bytes(other.pem())
    bundle = ca.write_bundle(system)
    certs = x509.load_pem_x509_certificates(bundle.read_bytes())
    assert certs == [other.certificate(), ca.certificate()]


def test_validate_upstream_ca(tmp_path: Path) -> None:
    ca = CertificateAuthority(tmp_path / "ca")
    ca.ensure()
    good = tmp_path / "corp.pem"
    good.write_bytes(ca.pem() + ca.pem())
    validate_upstream_ca(good)
    link = tmp_path / "link.pem"
    link.symlink_to(good)
    validate_upstream_ca(str(link))

    def rejects(path: str | Path, message: str) -> None:
        with pytest.raises(UpstreamCAError, match=message):
            validate_upstream_ca(path)

    rejects("", "empty")
    rejects("relative/ca.pem", "must be absolute")
    rejects(f"{tmp_path}/../{tmp_path.name}/corp.pem", r"must not contain '\.\.'")
    rejects(tmp_path / "nope.pem", "does not exist")
    rejects(tmp_path, "not a regular file")
    rejects("/dev/null", "not a regular file")
    der = tmp_path / "ca.der"
    der.write_bytes(ca.der())
    rejects(der, "no PEM certificates")
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    rejects(text, "no PEM certificates")
    with_key = tmp_path / "with-key.pem"
    with_key.write_bytes(ca.key_path.read_bytes())
    rejects(with_key, "private key")
    if os.geteuid() != 0:  # root reads anything
        unreadable = tmp_path / "unreadable.pem"
        unreadable.write_bytes(ca.pem())
        unreadable.chmod(0)
        rejects(unreadable, "not readable")


def test_key_file_is_traditional_pem_mitmproxy_can_parse(ca_dir: Path) -> None:
    raw = (ca_dir / "mitmproxy-ca.pem").read_bytes()
    key = serialization.load_pem_private_key(raw, password=None)
    assert isinstance(key, rsa.RSAPrivateKey) and key.key_size == 2048
