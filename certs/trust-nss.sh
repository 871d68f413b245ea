#!/bin/sh
# Trust or untrust the OmniRoute CA in NSS databases: Chromium's shared db on Linux
# ($HOME/.pki/nssdb) and every Firefox profile. Needs certutil from libnss3-tools
# (Debian/Ubuntu), nss-tools (Fedora) or `brew install nss` (macOS).
# usage: trust-nss.sh trust|untrust CERT_PATH
# OMNIROUTE_DRY_RUN=1 prints the commands instead of running them.
set -eu
NAME="OmniRoute CA"

usage() { echo "usage: $0 trust|untrust CERT_PATH" >&2; exit 2; }
run() { if [ -n "${OMNIROUTE_DRY_RUN:-}" ]; then echo "$*"; else "$@"; fi; }

[ $# -eq 2 ] || usage
ACTION=$1
CERT=$2
if [ -z "${OMNIROUTE_DRY_RUN:-}" ] && ! command -v certutil >/dev/null 2>&1; then
  echo "certutil not found: install libnss3-tools (Debian/Ubuntu), nss-tools (Fedora) or nss (Homebrew)" >&2
  exit 1
fi
case "$ACTION" in
  trust) [ -r "$CERT" ] || { echo "cannot read $CERT: pass mitmproxy-ca-cert.pem from ~/.omniroute/certs/" >&2; exit 1; } ;;
  untrust) ;;
  *) usage ;;
esac

handle() {  # $1 = profile directory
  if [ "$ACTION" = trust ]; then
    if [ ! -f "$1/cert9.db" ]; then
      # Chromium creates its db lazily; create it so the CA is there before first launch.
      run mkdir -p "$1"
      run certutil -d "sql:$1" -N --empty-password
    fi
    run certutil -d "sql:$1" -A -t "C,," -n "$NAME" -i "$CERT"
  else
    # Not present is fine: untrust is idempotent.
    run certutil -d "sql:$1" -D -n "$NAME" || true
  fi
}

handle "$HOME/.pki/nssdb"
for db in "$HOME"/.mozilla/firefox/*/cert9.db \
          "$HOME"/snap/firefox/common/.mozilla/firefox/*/cert9.db \
          "$HOME/Library/Application Support/Firefox/Profiles"/*/cert9.db; do
  [ -f "$db" ] || continue
  handle "$(dirname "$db")"
done
