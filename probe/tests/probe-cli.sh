#!/usr/bin/env bash
# The probe executable without a GPU: help and version, option errors
# (exit 2, one "probe: " line), the dry run (the planned grid and a duration
# estimate within the --quick budget), and "no CUDA device" (exit 2, no
# output files) -- or, on a machine with a GPU, a device description.
set -u
probe=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
check() { # NAME CONDITION...
  local name=$1
  shift
  if "$@"; then echo "ok   $name"; else echo "FAIL $name"; fail=1; fi
}

"$probe" --help >"$tmp/out" 2>"$tmp/err"
check "help exits 0" test $? = 0
check "help prints usage" grep -q '^usage: probe' "$tmp/out"

"$probe" --version >"$tmp/out" 2>&1
check "version" grep -q '^probe [0-9]' "$tmp/out"

"$probe" --only gem >"$tmp/out" 2>"$tmp/err"
check "bad option exits 2" test $? = 2
check "bad option: one stderr line" test "$(wc -l <"$tmp/err")" = 1
check "bad option message" grep -qF "probe: --only: unknown benchmark 'gem' (did you mean 'gemm'?)" "$tmp/err"
check "bad option: nothing on stdout" test ! -s "$tmp/out"

"$probe" --dry-run --quick >"$tmp/out" 2>"$tmp/err"
check "dry run exits 0" test $? = 0
check "dry run lists bf16 GEMMs" grep -q '^gemm bf16 m=1 ' "$tmp/out"
check "dry run lists fp8 GEMMs on sm_90" grep -q '^gemm fp8 ' "$tmp/out"
check "dry run lists attention" grep -q '^attention decode batch=' "$tmp/out"
check "dry run lists layers" grep -q '^layer llama-3-8b tp=1 batch=' "$tmp/out"
check "dry run notes the missing collectives" grep -q '^# note: collectives: skipped' "$tmp/out"
minutes=$(sed -n 's/^# total: .* estimated \([0-9.]*\) min.*/\1/p' "$tmp/out")
check "dry run --quick estimate <= 5 min (got ${minutes:-none})" \
  awk -v m="${minutes:-99}" 'BEGIN { exit !(m <= 5) }'

"$probe" --dry-run --quick --assume-sm 80 >"$tmp/out" 2>&1
check "A100 dry run has no fp8" bash -c "! grep -q '^gemm fp8 ' '$tmp/out'"
check "A100 dry run says why" grep -q 'fp8 skipped' "$tmp/out"

"$probe" --dry-run --only layer --layer deepseek-v3:8:decode=1@64 >"$tmp/out" 2>"$tmp/err"
check "MoE layer refused with exit 2" test $? = 2
check "MoE layer: not implemented yet" grep -q 'not implemented yet' "$tmp/err"

"$probe" --check-device >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ "$rc" = 2 ]; then
  check "no device: message" grep -q '^probe: no CUDA device' "$tmp/err"
  "$probe" --quick -o "$tmp/run" >"$tmp/out" 2>"$tmp/err"
  check "no device: a run exits 2" test $? = 2
  check "no device: no output folder" test ! -e "$tmp/run"
else
  # A GPU is here: describe it, then check the own kernels against the CPU
  # references and time a few points (seconds, not the whole --quick run).
  check "check-device exits 0 (got $rc)" test "$rc" = 0
  check "check-device names the device" grep -q '^device 0 of ' "$tmp/out"
  "$probe" --quick --only attention,elementwise --min-time 0.001 -o "$tmp/run" >"$tmp/out" 2>"$tmp/err"
  check "short GPU run exits 0 (got $?)" test $? = 0
  check "short GPU run wrote attention_decode.csv" test -s "$tmp/run/attention_decode.csv"
  check "short GPU run wrote elementwise.csv" test -s "$tmp/run/elementwise.csv"
fi
exit $fail
