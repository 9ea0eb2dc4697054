#!/usr/bin/env bash
# Installs the Debian packages the kit needs, if missing.
#   scripts/system-packages.sh          grading: bubblewrap (the grading sandbox)
#   scripts/system-packages.sh --tests  also chromium (report and hub tests), postgresql
#                                       (gradebook test) and a Hangul font
#   scripts/system-packages.sh --hub    the hub: Debian's python3 with venv, the proxy
#                                       (node-configurable-http-proxy), a Hangul font
set -euo pipefail
need=()
command -v bwrap >/dev/null || need+=(bubblewrap)
if [ "${1:-}" = "--tests" ]; then
  command -v chromium >/dev/null || need+=(chromium)
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
fi
if [ "${1:-}" = "--hub" ]; then
  /usr/bin/python3 -c 'import ensurepip, venv' 2>/dev/null || need+=(python3-venv)
  [ -x /usr/bin/configurable-http-proxy ] || need+=(node-configurable-http-proxy)
fi
if [ "${1:-}" = "--tests" ] || [ "${1:-}" = "--hub" ]; then
  # Hangul: Chromium (report, screenshots) and the notebooks' plots; without it, boxes.
  [ -d /usr/share/fonts/opentype/noto ] && fc-list | grep -q "Noto Sans CJK KR" || need+=(fonts-noto-cjk)
fi
[ ${#need[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "Installing Debian packages: ${need[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
