#!/usr/bin/env bash
# Fetches the Debian dev packages ember needs (headers and CMake package
# files only) and unpacks them into .deps/ (git-ignored), for a machine
# without a package registry, such as a lent GPU machine: carry `.deps`
# with the command and build with scripts/gpu_checks.sh, which points CMake
# at it. Run here, on a machine with apt.
set -euo pipefail
cd "$(dirname "$0")/.."
pkgs=(libeigen3-dev catch2 nlohmann-json3-dev libhnswlib-dev libcli11-dev)
rm -rf .deps
mkdir -p .deps/debs
(cd .deps/debs && apt-get download "${pkgs[@]}")
for deb in .deps/debs/*.deb; do dpkg -x "$deb" .deps/root; done
rm -rf .deps/debs
echo "unpacked ${pkgs[*]} into .deps/root ($(du -sh .deps | cut -f1))"
