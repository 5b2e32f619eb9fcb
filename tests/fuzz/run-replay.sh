#!/usr/bin/env bash
# Replay every fuzz harness on its seed corpus and its crash regressions:
#   run-replay.sh BUILD_DIR FUZZ_DIR
# BUILD_DIR holds the fuzz_<name> executables (replay builds or libFuzzer
# builds: both take input files as arguments), FUZZ_DIR is tests/fuzz.
# Every tests/fuzz/fuzz_<name>.c must have a built executable and a
# non-empty corpus/<name>/; regressions/<name>/ holds the inputs that once
# crashed it (one file each, named after what they found).
set -u
bin=$1
dir=$2
fail=0
total=0
for src in "$dir"/fuzz_*.c; do
  name=$(basename "$src" .c)
  harness=${name#fuzz_}
  exe="$bin/$name"
  if [ ! -x "$exe" ]; then
    echo "FAIL $harness: $exe not built"; fail=$((fail+1)); continue
  fi
  files=()
  for d in "$dir/corpus/$harness" "$dir/regressions/$harness"; do
    [ -d "$d" ] || continue
    while IFS= read -r f; do files+=("$f"); done < <(find "$d" -type f | sort)
  done
  if [ ! -d "$dir/corpus/$harness" ] || [ ${#files[@]} = 0 ]; then
    echo "FAIL $harness: no seed corpus in $dir/corpus/$harness"; fail=$((fail+1)); continue
  fi
  # libFuzzer binaries run files given as arguments once each, like replay-main.c.
  if ! out=$("$exe" "${files[@]}" 2>&1); then
    echo "FAIL $harness:"; echo "$out" | tail -30; fail=$((fail+1)); continue
  fi
  total=$((total + ${#files[@]}))
done
echo "fuzz replay: $total inputs, $fail harnesses failed"
[ "$fail" = 0 ]
