#!/usr/bin/env bash
# Throughput-latency sweep of vllm-v0, vllm-v1 and sarathi on
# configs/sweep-schedulers.yaml (Llama 3 8B, one H100 SXM, Azure conversation
# lengths, Poisson arrivals) at rising request rates. Prints one row per
# (scheduler, rate) and writes the same rows to DIR/sweep.csv, then checks the
# shapes the literature reports (Sarathi-Serve, OSDI 2024; vLLM's chunked
# prefill notes): at low load prefill-first vllm-v0 has the lowest TTFT; under
# load chunked prefill cuts p99 TPOT (sarathi < vllm-v1 < vllm-v0). Exit 1
# when a shape does not hold.
# Usage: configs/sweep-schedulers.sh [-b SERVESIM] [-o DIR] [RATE...]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
bin=""
out=""
while getopts "b:o:" opt; do
  case $opt in
    b) bin=$OPTARG ;;
    o) out=$OPTARG ;;
    *) echo "usage: $0 [-b SERVESIM] [-o DIR] [RATE...]" >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
if [ -z "$bin" ]; then
  for b in "$root"/build/servesim "$root"/build-*/servesim; do
    [ -x "$b" ] && { bin=$b; break; }
  done
fi
[ -n "$bin" ] && [ -x "$bin" ] || { echo "$0: no servesim binary (build it, or pass -b)" >&2; exit 2; }
rates=("$@")
[ ${#rates[@]} -gt 0 ] || rates=(1 2 4 8 10 12 14 16 18)
out=${out:-$(mktemp -d)}
mkdir -p "$out"
get() { awk -v key="$2" -f "$root/tests/json-get.awk" "$1/summary.json"; }

csv="$out/sweep.csv"
echo "scheduler,rate_per_s,throughput_req_s,ttft_p50_s,ttft_p99_s,tpot_p50_s,tpot_p99_s,itl_p99_s,preemptions" >"$csv"
printf "%-9s %6s %9s %10s %10s %10s %10s %10s %7s\n" scheduler rate "req/s" "TTFT p50" "TTFT p99" \
  "TPOT p50" "TPOT p99" "ITL p99" preempt
for s in vllm-v0 vllm-v1 sarathi; do
  for r in "${rates[@]}"; do
    d="$out/$s-$r"
    "$bin" run "$here/sweep-schedulers.yaml" --quiet -o "$d" \
      --set engine.scheduler="$s" --set workload.arrival.rate_per_s="$r"
    row=("$s" "$r" "$(get "$d" throughput.requests_per_s)" "$(get "$d" ttft_s.p50)"
         "$(get "$d" ttft_s.p99)" "$(get "$d" tpot_s.p50)" "$(get "$d" tpot_s.p99)"
         "$(get "$d" itl_s.p99)" "$(get "$d" preemptions)")
    (IFS=,; echo "${row[*]}") >>"$csv"
    printf "%-9s %6s %9.2f %10.4f %10.4f %10.4f %10.4f %10.4f %7s\n" "${row[@]}"
  done
done
echo "wrote $csv"

# Shapes. Low load: the lowest rate. Under load: the highest rate at which
# every scheduler still keeps up (throughput within 5 % of the offered rate).
awk -F, -v lo="${rates[0]}" '
  NR == 1 { next }
  { ttft[$1, $2] = $4; tpot[$1, $2] = $7; keep[$1, $2] = ($3 >= 0.95 * $2); r[$2] = 1 }
  END {
    hi = ""
    for (x in r) if (keep["vllm-v0", x] && keep["vllm-v1", x] && keep["sarathi", x] &&
                     (hi == "" || x + 0 > hi + 0)) hi = x
    ok = 1
    low = (ttft["vllm-v0", lo] < ttft["vllm-v1", lo] && ttft["vllm-v0", lo] < ttft["sarathi", lo])
    printf "low load (%s req/s): vllm-v0 has the lowest TTFT p50: %s\n", lo, low ? "yes" : "NO"
    if (!low) ok = 0
    if (hi == "") { print "no rate that every scheduler sustains"; exit 1 }
    load = (tpot["sarathi", hi] < tpot["vllm-v1", hi] && tpot["vllm-v1", hi] < tpot["vllm-v0", hi])
    printf "under load (%s req/s): p99 TPOT sarathi < vllm-v1 < vllm-v0: %s\n", hi, load ? "yes" : "NO"
    if (!load) ok = 0
    exit ok ? 0 : 1
  }' "$csv"
