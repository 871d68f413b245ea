#!/bin/sh
# Trust or untrust the OmniRoute CA in the macOS System keychain.
# usage: trust-macos.sh trust|untrust CERT_PATH
# OMNIROUTE_DRY_RUN=1 prints the commands instead of running them.
set -eu
KEYCHAIN=/Library/Keychains/System.keychain
NAME="OmniRoute CA"

usage() { echo "usage: $0 trust|untrust CERT_PATH" >&2; exit 2; }
run() { if [ -n "${OMNIROUTE_DRY_RUN:-}" ]; then echo "$*"; else "$@"; fi; }
as_root() { if [ "$(id -u)" -eq 0 ]; then run "$@"; else run sudo "$@"; fi; }

[ $# -eq 2 ] || usage
ACTION=$1
CERT=$2
case "$ACTION" in
  trust)
    [ -r "$CERT" ] || { echo "cannot read $CERT: pass mitmproxy-ca-cert.pem from ~/.omniroute/certs/" >&2; exit 1; }
    as_root security add-trusted-cert -d -r trustRoot -k "$KEYCHAIN" "$CERT"
    ;;
  untrust)
    # Delete by SHA-1 so an older OmniRoute CA with the same name is left alone.
    SHA1=$(openssl x509 -in "$CERT" -noout -fingerprint -sha1 2>/dev/null | sed 's/.*=//; s/://g' || true)
    as_root security remove-trusted-cert -d "$CERT"
    if [ -n "$SHA1" ]; then
      as_root security delete-certificate -Z "$SHA1" "$KEYCHAIN"
    else
      as_root security delete-certificate -c "$NAME" "$KEYCHAIN"
    fi
    ;;
  *) usage ;;
esac
