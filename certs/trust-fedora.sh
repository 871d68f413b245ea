#!/bin/sh
# Trust or untrust the OmniRoute CA in the Fedora/RHEL system store (update-ca-trust).
# usage: trust-fedora.sh trust|untrust CERT_PATH
# OMNIROUTE_DRY_RUN=1 prints the commands instead of running them.
set -eu
DEST=/etc/pki/ca-trust/source/anchors/omniroute-ca.pem

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
    as_root update-ca-trust extract
    ;;
  untrust)
    as_root rm -f "$DEST"
    as_root update-ca-trust extract
    ;;
  *) usage ;;
esac
