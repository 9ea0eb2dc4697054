#!/usr/bin/env bash
# Installs the Debian packages the kit needs, if missing.
#   scripts/system-packages.sh          grading: bubblewrap (the grading sandbox)
#   scripts/system-packages.sh --tests  also chromium (report and hub tests), postgresql
#                                       (gradebook test), Hangul and emoji fonts, MathJax
#   scripts/system-packages.sh --hub    the hub: Debian's python3 with venv, the proxy
#                                       (node-configurable-http-proxy), Hangul and emoji fonts,
#                                       MathJax 2.7 for the formgrader (libjs-mathjax: served by
#                                       the instructor's own server, no CDN)
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
  [ -f /usr/share/javascript/mathjax/MathJax.js ] || need+=(libjs-mathjax)
  # Hangul (Chromium: report, hub pages; the notebooks' plots) and the feedback's ✅/❌:
  # without these fonts both show as boxes.
  fonts=$(fc-list 2>/dev/null || true)
  grep -q "Noto Sans CJK KR" <<<"$fonts" || need+=(fonts-noto-cjk)
  grep -q "Noto Color Emoji" <<<"$fonts" || need+=(fonts-noto-color-emoji)
fi
[ ${#need[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "Installing Debian packages: ${need[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
