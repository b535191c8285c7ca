#!/usr/bin/env bash
# Make sure a program from a Debian package is installed: `ensure_apt.sh PACKAGE PROGRAM WHY`.
# Installs PACKAGE with apt-get when PROGRAM is missing and we are root (package lists fetched
# first when the machine has none yet); otherwise says exactly what is missing and how to get
# it, and exits 1. Quiet when nothing is to do; the apt log only when the install fails.
set -u
pkg="$1"; prog="$2"; why="$3"
have() { if [[ "$prog" == */* ]]; then [ -x "$prog" ]; else command -v "$prog" >/dev/null 2>&1; fi; }
have && exit 0
how="apt-get install -y $pkg"
if [ "$(id -u)" != 0 ]; then
  echo "MISSING: $prog ($why). As root: $how  (or: sudo $how); then run the command again." >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "MISSING: $prog ($why), and this machine has no apt-get: install the package that" \
       "provides $prog with your system's package manager, then run the command again." >&2
  exit 1
fi
echo "$prog is missing ($why): installing Debian's $pkg (apt-get)" >&2
log="$(mktemp)"
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y -qq "$pkg" >"$log" 2>&1; then
  # A fresh machine may have no package lists yet.
  apt-get update -qq >>"$log" 2>&1
  apt-get install -y -qq "$pkg" >>"$log" 2>&1
fi
if ! have; then
  echo "ERROR: could not install $pkg ($how), needed for $prog ($why). apt-get said:" >&2
  tail -n 30 "$log" >&2
  rm -f "$log"
  exit 1
fi
rm -f "$log"
echo "installed $pkg" >&2
