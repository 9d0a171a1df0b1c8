#!/usr/bin/env bash
# Install the Debian packages the project needs, or print the exact command when not root.
#   espeak-ng: Mandarin speech; sox: audio checks; chromium: browser tests (tests only);
#   psmisc: fuser, used by the resilience tests;
#   haproxy: the load balancer of the scaled-out mode (--scale-out; the tests run that mode too).
set -euo pipefail
want=(espeak-ng sox psmisc)
[ "${1:-}" = "--with-tests" ] && want+=(chromium fonts-noto-cjk haproxy)
[ "${1:-}" = "--scale-out" ] && want+=(haproxy)
missing=()
for pkg in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
  echo "==> installing system packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "ERROR: missing system packages: ${missing[*]}" >&2
  echo "Install them with:  sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
