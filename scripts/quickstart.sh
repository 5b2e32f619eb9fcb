#!/usr/bin/env bash
# Install what is missing, build servesim and run the quickstart study.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
./build/servesim run configs/quickstart.yaml -o out/quickstart
