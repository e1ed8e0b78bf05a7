#!/usr/bin/env bash
# Installs the Debian packages ember's build and tests need. Idempotent: does
# nothing when everything is present; otherwise runs `apt-get update` once and
# installs the missing packages without prompting. Must run as root (or via sudo).
# The CUDA toolkit is expected at /usr/local/cuda (optional: without it the
# build is CPU + emulator only).
set -euo pipefail
pkgs=(cmake ninja-build g++ libeigen3-dev catch2 nlohmann-json3-dev libhnswlib-dev libcli11-dev libomp-dev libxxhash-dev libcpp-httplib-dev pkg-config pybind11-dev python3-dev python3-numpy python3-pytest libopenmpi-dev openmpi-bin libmetis-dev)
if [ "${EMBER_SETUP_FUZZ:-0}" = "1" ]; then
  # clang + libFuzzer for tests/fuzz (tests/fuzz/run_fuzz.sh); CI does not need them
  pkgs+=(clang libclang-rt-14-dev)
fi
if [ "${EMBER_SETUP_EXTRA:-}" != "" ]; then
  # e.g. EMBER_SETUP_EXTRA="python3-torch libopenblas0-pthread" for the PyTorch baselines
  read -r -a extra <<<"$EMBER_SETUP_EXTRA"
  pkgs+=("${extra[@]}")
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all packages present"
  exit 0
fi
echo "setup: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup: done"
