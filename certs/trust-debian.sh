#!/bin/sh
# Trust or untrust the OmniRoute CA in the Debian/Ubuntu system store (update-ca-certificates).
# usage: trust-debian.sh trust|untrust CERT_PATH
# OMNIROUTE_DRY_RUN=1 prints the commands instead of running them.
set -eu
DEST=/usr/local/share/ca-certificates/omniroute-ca.crt  # must end in .crt to be picked up

usage() { echo "usage: $0 trust|untrust CERT_PATH" >&2; exit 2; }
run() { if [ -n "${OMNIROUTE_DRY_RUN:-}" ]; then echo "$*"; else "$@"; fi; }
as_root() { if [ "$(id -u)" -eq 0 ]; then run "$@"; else run sudo "$@"; fi; }

[ $# -eq 2 ] || usage
ACTION=$1
CERT=$2
case "$ACTION" in
  trust)
    [ -r "$CERT" ] || { echo "cannot read $CERT: pass mitmproxy-ca-cert.pem from ~/.omniroute/certs/" >&2; exit 1; }
    as_root install -m 0644 "$CERT" "$DEST"
    as_root update-ca-certificates
    ;;
  untrust)
    as_root rm -f "$DEST"
    as_root update-ca-certificates --fresh
    ;;
  *) usage ;;
esac
