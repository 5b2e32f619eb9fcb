#!/usr/bin/env bash
# Speed benchmarks: builds a Release servesim and prints the event-core rate,
# then the 100k- and 1M-request replays of bench/azure-100k.yaml (simulated
# iterations/s, events/s, wall time, peak RSS). Not part of the tests: timing
# belongs here, not in a unit test.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-bench -j"$(nproc)" --target bench_sim >/dev/null
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
./build-bench/bench_sim --core
echo
./build-bench/bench_sim bench/azure-100k.yaml
echo
./build-bench/bench_sim bench/azure-100k.yaml workload.num_requests=1000000
