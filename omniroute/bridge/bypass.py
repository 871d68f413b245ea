"""Hosts that are never decrypted: banks, government, identity providers, plus user patterns.

A pattern without glob characters matches the domain and all its subdomains
(``okta.com`` matches ``acme.okta.com``); a pattern with ``*``, ``?`` or ``[`` is a glob
over the whole host (``*.gov`` matches ``irs.gov`` and ``www.irs.gov``; ``*.bank.*`` matches
``my.bank.example``). Hosts compare case-insensitively and a trailing dot is ignored.
Bypass is decided at TLS ClientHello time from the SNI, so it must be cheap:
``BypassMatcher`` precomputes what it can.
"""

from __future__ import annotations

from collections.abc import Iterable
from fnmatch import fnmatchcase

from .catalog import normalize_host
from .mapping import validate_pattern

IDENTITY_PROVIDERS: tuple[str, ...] = (
    "okta.com", "oktapreview.com", "okta-emea.com", "auth0.com", "onelogin.com",
    "pingidentity.com", "duosecurity.com", "login.microsoftonline.com", "login.microsoft.com",
    "login.windows.net", "login.live.com", "account.live.com", "accounts.google.com",
    "appleid.apple.com", "idmsa.apple.com", "signin.aws.amazon.com", "id.atlassian.com",
)
GOVERNMENT: tuple[str, ...] = (
    "*.gov", "*.gov.*", "*.mil", "*.gouv.fr", "*.gc.ca", "*.gob.*", "*.govt.nz", "*.bund.de",
)
BANKS_AND_PAYMENTS: tuple[str, ...] = (
    "*.bank", "*.bank.*", "chase.com", "bankofamerica.com", "wellsfargo.com", "citi.com",
    "citibank.com", "capitalone.com", "usbank.com", "pnc.com", "truist.com", "schwab.com",
    "fidelity.com", "vanguard.com", "americanexpress.com", "discover.com", "hsbc.com",
    "hsbc.co.uk", "barclays.co.uk", "barclays.com", "lloydsbank.com", "natwest.com",
    "santander.com", "santander.co.uk", "ing.com", "ing.nl", "bnpparibas.com", "db.com",
    "deutsche-bank.de", "commerzbank.de", "ubs.com", "credit-suisse.com", "rbc.com", "td.com",
    "tdbank.com", "scotiabank.com", "commbank.com.au", "westpac.com.au", "anz.com",
    "nab.com.au", "paypal.com", "revolut.com", "wise.com", "monzo.com", "n26.com",
)
DEFAULT_BYPASS: tuple[str, ...] = IDENTITY_PROVIDERS + GOVERNMENT + BANKS_AND_PAYMENTS
BYPASS_KEY = "bridge.bypass_patterns"  # KeyValue row of the user's patterns


def validate_bypass_pattern(pattern: str) -> str:
    """Normalised pattern, or ValueError with a message fit for the API's 400."""
    validate_pattern(pattern)
    norm = pattern.strip().lower().rstrip(".")
    if not norm or norm in ("*", "*.*"):
        raise ValueError(f"bypass pattern {pattern!r} would bypass every host")
    return norm


def combined_patterns(user_patterns: Iterable[str] = ()) -> list[tuple[str, str]]:
    """(pattern, source) rows as the API lists them: defaults first, then the user's."""
    rows = [(p, "default") for p in DEFAULT_BYPASS]
    seen = set(DEFAULT_BYPASS)
    for pattern in user_patterns:
        norm = validate_bypass_pattern(pattern)
        if norm not in seen:
            seen.add(norm)
            rows.append((norm, "user"))
    return rows


class BypassMatcher:
    """Compiled bypass list: suffix set lookups for plain domains, fnmatch for globs."""

    def __init__(self, patterns: Iterable[str]) -> None:
        self._suffixes: set[str] = set()
        self._globs: list[str] = []
        for pattern in patterns:
            norm = pattern.strip().lower().rstrip(".")
            if not norm:
                continue
            if any(c in norm for c in "*?["):
                self._globs.append(norm)
            else:
                self._suffixes.add(norm)

    def __call__(self, host: str) -> bool:
        host = normalize_host(host)
        if not host:
            return False
        # Walk the host's parent domains: acme.okta.com → okta.com → com.
        labels = host.split(".")
        if any(".".join(labels[i:]) in self._suffixes for i in range(len(labels))):
            return True
        return any(fnmatchcase(host, glob) for glob in self._globs)


def should_bypass(host: str, patterns: Iterable[str] | None = None) -> bool:
    """True when ``host`` must be tunnelled without decryption.

    ``patterns`` defaults to ``DEFAULT_BYPASS``; pass ``DEFAULT_BYPASS + user patterns`` to
    apply both (hot paths should keep a ``BypassMatcher`` instead).
    """
    return BypassMatcher(DEFAULT_BYPASS if patterns is None else patterns)(host)
