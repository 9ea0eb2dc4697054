#!/usr/bin/env bash
# Installs the Debian packages the kit needs, if missing.
#   scripts/system-packages.sh          grading: bubblewrap (the grading sandbox)
#   scripts/system-packages.sh --tests  also chromium (report test) and postgresql (gradebook test)
set -euo pipefail
need=()
command -v bwrap >/dev/null || need+=(bubblewrap)
if [ "${1:-}" = "--tests" ]; then
  command -v chromium >/dev/null || need+=(chromium)
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
fi
[ ${#need[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "Installing Debian packages: ${need[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
