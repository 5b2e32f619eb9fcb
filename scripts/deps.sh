#!/usr/bin/env bash
# Install the Debian 12 packages servesim needs, skipping what is present.
set -euo pipefail
pkgs=(build-essential cmake pkg-config libglib2.0-dev libgsl-dev libyaml-dev libjson-glib-dev
      check valgrind gnuplot-nox libopenmpi-dev openmpi-bin
      clang libclang-rt-14-dev)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo=sudo
  echo "installing: ${missing[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
