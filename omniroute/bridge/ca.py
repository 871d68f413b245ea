"""OmniRoute's certificate authority, kept in mitmproxy's confdir format.

mitmproxy (``CertStore.from_store(confdir, "mitmproxy", ...)``) reads ``mitmproxy-ca.pem``
(private key followed by the certificate) and signs a leaf per host with that key; it also
creates ``mitmproxy-dhparam.pem`` itself when missing. Writing our CA under those names lets
mitmproxy use it with ``confdir=<this directory>`` and no code of ours in the TLS path.
Besides the key file we write the certificate alone as ``mitmproxy-ca-cert.pem`` (PEM),
``mitmproxy-ca-cert.cer`` (DER, for Windows' certutil) and ``mitmproxy-ca-cert.p12``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from omniroute.files import atomic_write

BASENAME = "mitmproxy"  # mitmproxy's default confdir basename
CA_COMMON_NAME = "OmniRoute CA"
CA_ORGANIZATION = "OmniRoute"
CA_VALIDITY = dt.timedelta(days=3650)
CLOCK_SKEW = dt.timedelta(days=1)  # backdate so clients with slow clocks accept new certs
REGENERATE_HINT = "run `omniroute cert regenerate` (then trust the new CA again)"
MAX_UPSTREAM_CA_BYTES = 5 * 1024 * 1024
KeyType = Literal["rsa", "ec"]
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


class CAError(Exception):
    """The CA files cannot be used; the message names the file and how to fix it."""


class UpstreamCAError(ValueError):
    """An upstream CA path that cannot be used; the message is the API's 400 detail."""


@dataclass(frozen=True)
class CAInfo:
    subject: str
    fingerprint_sha256: str  # colon-separated upper-case hex, as browsers show it
    not_before: dt.datetime
    not_after: dt.datetime
    key_type: str  # "rsa-2048" | "ec-p256"
    cert_path: Path

    def to_dict(self) -> dict[str, str]:
        return {
            "subject": self.subject,
            "fingerprint_sha256": self.fingerprint_sha256,
            "not_before": self.not_before.isoformat(),
            "not_after": self.not_after.isoformat(),
            "key_type": self.key_type,
            "cert_path": str(self.cert_path),
        }


class CertificateAuthority:
    def __init__(self, directory: str | Path, *, key_type: KeyType = "rsa") -> None:
        self.directory = Path(directory).expanduser()
        self.key_type: KeyType = key_type
        self.key_path = self.directory / f"{BASENAME}-ca.pem"  # key + cert, mode 0600
        self.cert_path = self.directory / f"{BASENAME}-ca-cert.pem"
        self.cer_path = self.directory / f"{BASENAME}-ca-cert.cer"
        self.p12_path = self.directory / f"{BASENAME}-ca-cert.p12"
        self.bundle_path = self.directory / "omniroute-ca-bundle.pem"

    # -- lifecycle -------------------------------------------------------------------
    def ensure(self) -> CAInfo:
        """Load the CA, creating it on first use; CAError when files are missing or corrupt."""
        if not self.key_path.exists():
            leftovers = [p for p in (self.cert_path, self.cer_path) if p.exists()]
            if leftovers:
                # The certificate users trusted exists but its key is gone: a silent new CA
                # would break every trusted client, so say so instead.
                raise CAError(
                    f"{self.key_path} is missing (but {leftovers[0]} exists); {REGENERATE_HINT}"
                )
            return self.regenerate()
        _, cert = self._load()
        self._check_derived(cert)
        return _info(cert, self.cert_path)

    def regenerate(self, key_type: KeyType | None = None) -> CAInfo:
        """Create a new CA (replacing any existing one); clients must trust it again."""
        key, cert = _create_ca(key_type or self.key_type)
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        key_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
        atomic_write(self.key_path, key_pem + cert.public_bytes(serialization.Encoding.PEM), 0o600)
        self._write_derived(cert)
        # mitmproxy's own key-bearing PKCS#12, if it ever created one, now holds a stale key.
        with contextlib.suppress(FileNotFoundError):
            (self.directory / f"{BASENAME}-ca.p12").unlink()
        return _info(cert, self.cert_path)

    def pem(self) -> bytes:
        return self._load()[1].public_bytes(serialization.Encoding.PEM)

    def der(self) -> bytes:
        return self._load()[1].public_bytes(serialization.Encoding.DER)

    def info(self) -> CAInfo:
        return _info(self._load()[1], self.cert_path)

    def certificate(self) -> x509.Certificate:
        return self._load()[1]

    def issue_leaf(self, hostnames: Iterable[str], *, days: int = 30) -> tuple[bytes, bytes]:
        """(cert PEM, key PEM) for a server certificate signed by this CA.

        For tests and tools that need a TLS server standing in for a real upstream.
        """
        names = list(hostnames)
        if not names:
            raise ValueError("issue_leaf needs at least one hostname")
        ca_key, ca_cert = self._load()
        key = ec.generate_private_key(ec.SECP256R1())
        sans: list[x509.GeneralName] = []
        for name in names:
            try:
                sans.append(x509.IPAddress(ipaddress.ip_address(name)))
            except ValueError:
                sans.append(x509.DNSName(name))
        now = dt.datetime.now(dt.UTC)
        ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0][:63])]))
            .issuer_name(ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - CLOCK_SKEW)
            .not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False
            )
            .sign(ca_key, hashes.SHA256())
        )
        key_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        return cert.public_bytes(serialization.Encoding.PEM), key_pem

    def write_bundle(self, system_bundle: str | Path | None = None) -> Path:
        """System CA bundle + our CA, for SSL_CERT_FILE / REQUESTS_CA_BUNDLE.

        Those variables *replace* the trust store of OpenSSL-based clients, so pointing them
        at our CA alone would break every host that is bypassed (tunnelled undecrypted).
        """
        source = Path(system_bundle) if system_bundle else find_system_bundle()
        system = source.read_bytes() if source else b""
        if system and not system.endswith(b"\n"):
            system += b"\n"
        atomic_write(self.bundle_path, system + self.pem(), 0o644)
        return self.bundle_path

    # -- internals -------------------------------------------------------------------
    def _load(self) -> tuple[PrivateKey, x509.Certificate]:
        try:
            raw = self.key_path.read_bytes()
        except FileNotFoundError:
            raise CAError(f"{self.key_path} is missing; {REGENERATE_HINT}") from None
        except OSError as exc:
            raise CAError(
                f"{self.key_path} cannot be read ({exc.strerror}); fix its permissions"
            ) from exc
        try:
            # The key is one this class generated (mode 0600), checked against the certificate
            # below; OpenSSL's RSA consistency check would slow every start.
            key = serialization.load_pem_private_key(
                raw, password=None, unsafe_skip_rsa_key_validation=True
            )
            cert = x509.load_pem_x509_certificates(raw)[0]
        except (ValueError, TypeError, IndexError) as exc:
            raise CAError(f"{self.key_path} is corrupt ({exc}); {REGENERATE_HINT}") from exc
        if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
            raise CAError(f"{self.key_path} holds an unsupported key type; {REGENERATE_HINT}")
        if key.public_key() != cert.public_key():
            raise CAError(f"{self.key_path}: key and certificate do not match; {REGENERATE_HINT}")
        try:
            is_ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        except x509.ExtensionNotFound:
            is_ca = False
        if not is_ca:
            raise CAError(f"{self.key_path} is not a CA certificate; {REGENERATE_HINT}")
        if stat.S_IMODE(self.key_path.stat().st_mode) & 0o077:
            self.key_path.chmod(0o600)  # a readable CA key lets anyone forge any site
        return key, cert

    def _check_derived(self, cert: x509.Certificate) -> None:
        expected = cert.public_bytes(serialization.Encoding.DER)
        for path in (self.cert_path, self.cer_path):
            if not path.exists():
                continue  # derived from the key file: rewritten below
            raw = path.read_bytes()
            try:
                found = (
                    x509.load_pem_x509_certificate(raw)
                    if raw.lstrip().startswith(b"-----")  # mitmproxy itself writes PEM .cer
                    else x509.load_der_x509_certificate(raw)
                )
            except ValueError as exc:
                raise CAError(f"{path} is corrupt ({exc}); {REGENERATE_HINT}") from exc
            if found.public_bytes(serialization.Encoding.DER) != expected:
                raise CAError(f"{path} does not match {self.key_path.name}; {REGENERATE_HINT}")
        if not (self.cert_path.exists() and self.cer_path.exists() and self.p12_path.exists()):
            self._write_derived(cert)

    def _write_derived(self, cert: x509.Certificate) -> None:
        atomic_write(self.cert_path, cert.public_bytes(serialization.Encoding.PEM), 0o644)
        atomic_write(self.cer_path, cert.public_bytes(serialization.Encoding.DER), 0o644)
        p12 = pkcs12.serialize_key_and_certificates(
            name=CA_COMMON_NAME.encode(), key=None, cert=cert, cas=None,
            encryption_algorithm=serialization.NoEncryption(),
        )
        atomic_write(self.p12_path, p12, 0o644)


def _create_ca(key_type: KeyType) -> tuple[PrivateKey, x509.Certificate]:
    key: PrivateKey
    if key_type == "rsa":
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    elif key_type == "ec":
        key = ec.generate_private_key(ec.SECP256R1())
    else:
        raise ValueError(f"key type must be 'rsa' or 'ec', not {key_type!r}")
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, CA_COMMON_NAME),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, CA_ORGANIZATION),
        ]
    )
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(now + CA_VALIDITY)
        # path_length=0: this CA signs leaves only, never another CA.
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def _info(cert: x509.Certificate, cert_path: Path) -> CAInfo:
    digest = cert.fingerprint(hashes.SHA256()).hex().upper()
    pub = cert.public_key()
    key_type = f"rsa-{pub.key_size}" if isinstance(pub, rsa.RSAPublicKey) else "ec-p256"
    return CAInfo(
        subject=cert.subject.rfc4514_string(),
        fingerprint_sha256=":".join(digest[i : i + 2] for i in range(0, len(digest), 2)),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        key_type=key_type,
        cert_path=cert_path,
    )


SYSTEM_BUNDLES = (
    "/etc/ssl/certs/ca-certificates.crt",  # Debian, Ubuntu, Alpine, Arch
    "/etc/pki/tls/certs/ca-bundle.crt",  # Fedora, RHEL
    "/etc/ssl/cert.pem",  # macOS, some BSDs
)


def find_system_bundle() -> Path | None:
    for candidate in SYSTEM_BUNDLES:
        if Path(candidate).is_file():
            return Path(candidate)
    try:
        import certifi  # present in most Python environments via httpx
    except ImportError:
        return None
    return Path(certifi.where())


def validate_upstream_ca(path: str | Path) -> None:
    """Raise UpstreamCAError unless ``path`` is a readable regular file of PEM certificates."""
    text = str(path)
    if not text.strip():
        raise UpstreamCAError("upstream CA path is empty")
    if "\x00" in text:
        raise UpstreamCAError("upstream CA path contains a NUL byte")
    p = Path(text)
    if not p.is_absolute():
        raise UpstreamCAError(f"upstream CA path {text!r} must be absolute")
    if ".." in p.parts:
        raise UpstreamCAError(f"upstream CA path {text!r} must not contain '..'")
    try:
        st = p.stat()  # follows symlinks: /etc/ssl/certs entries are links to real files
    except FileNotFoundError:
        raise UpstreamCAError(f"upstream CA file {text} does not exist") from None
    except OSError as exc:
        raise UpstreamCAError(
            f"upstream CA file {text} is not accessible ({exc.strerror})"
        ) from exc
    if not stat.S_ISREG(st.st_mode):
        raise UpstreamCAError(f"upstream CA path {text} is not a regular file")
    if st.st_size > MAX_UPSTREAM_CA_BYTES:
        raise UpstreamCAError(f"upstream CA file {text} is larger than 5 MB; not a CA bundle")
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise UpstreamCAError(f"upstream CA file {text} is not readable ({exc.strerror})") from exc
    if b"PRIVATE KEY-----" in raw:
        raise UpstreamCAError(
            f"upstream CA file {text} contains a private key; give certificates only"
        )
    try:
        x509.load_pem_x509_certificates(raw)
    except ValueError:
        raise UpstreamCAError(
            f"upstream CA file {text} holds no PEM certificates "
            "(expected -----BEGIN CERTIFICATE----- blocks)"
        ) from None
