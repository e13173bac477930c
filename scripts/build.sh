#!/usr/bin/env bash
# build.sh - installs what is missing, then builds alertq into build/ (or $1).
# Warnings are errors here (ALERTQ_WERROR=ON): the demo and CI build with
# this script, so CI enforces it. Extra arguments go to cmake's configure step.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-$top/build}
shift || true
"$top/scripts/deps.sh"
cmake -S "$top" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DALERTQ_WERROR=ON "$@" >/dev/null
cmake --build "$dir" -j"$(nproc)" >/dev/null
