#!/usr/bin/env bash
# Install what is missing, build servesim with -Werror and run every test
# (Check suites, CLI bad-input fixtures, golden scenarios, valgrind) through
# CTest, then again under ASan + UBSan.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
cmake -S . -B build-test -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSERVESIM_WERROR=ON -DSERVESIM_WITH_MPI=ON >/dev/null
cmake --build build-test -j"$(nproc)"
ctest --test-dir build-test --output-on-failure -j"$(nproc)"
# The same suite once more under AddressSanitizer + UndefinedBehaviorSanitizer.
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DSERVESIM_SANITIZE=ON -DSERVESIM_WERROR=ON >/dev/null
cmake --build build-asan -j"$(nproc)"
ctest --test-dir build-asan --output-on-failure -j"$(nproc)"
# Fuzzing (tests/fuzz/): every harness for 30 s from its seed corpus, in a
# clang build with libFuzzer, ASan and UBSan (8 harnesses: 4 minutes of CPU).
# Skipped, with a note, where clang's fuzzer runtime is missing.
if command -v clang >/dev/null 2>&1 &&
  echo 'int LLVMFuzzerTestOneInput(const char *d, long n) { return 0; }' |
  clang -x c -fsanitize=fuzzer -o /dev/null - >/dev/null 2>&1; then
  cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DSERVESIM_SANITIZE=ON -DSERVESIM_FUZZ=ON -DSERVESIM_FUZZ_SECONDS=30 >/dev/null
  cmake --build build-fuzz -j"$(nproc)" --target fuzz_all
  ctest --test-dir build-fuzz -L fuzz --output-on-failure -j"$(nproc)"
else
  echo "fuzz: skipped (needs clang and its libFuzzer runtime: apt-get install clang libclang-rt-14-dev)"
fi
