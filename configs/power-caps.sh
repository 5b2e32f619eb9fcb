#!/usr/bin/env bash
# Latency and energy of per-GPU power caps for prefill-heavy and
# decode-heavy load (configs/power-clocks.yaml, Llama 3 8B on one H100 SXM;
# the clock sweep is configs/power-clocks.sh). Splitwise (Patel et al.,
# ISCA'24) capped an H100 at 70 % of its 700 W: the prompt phase ran 1.3x
# slower, the token phase not at all, because a cap binds only while the GPU
# would draw more than it, which compute-bound prefill does and memory-bound
# decode mostly does not. Prints one row per (workload, cap), writes them to
# DIR/power-caps.csv and checks that shape at the 490 W (70 %) cap: the
# prefill-heavy TTFT grows by at least 15 %, the decode-heavy TPOT by at most
# 5 % (exit 1 when it does not hold). Caps below a decode step's draw cannot
# be met by the SM clock (HBM power does not fall with it): summary.json
# counts those steps as cap_unmet_iterations.
# Usage: configs/power-caps.sh [-b SERVESIM] [-o DIR] [WATTS...]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
bin="" out=""
while getopts "b:o:" opt; do
  case $opt in
    b) bin=$OPTARG ;;
    o) out=$OPTARG ;;
    *) echo "usage: $0 [-b SERVESIM] [-o DIR] [WATTS...]" >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
if [ -z "$bin" ]; then
  for b in "$root"/build/servesim "$root"/build-*/servesim; do
    [ -x "$b" ] && { bin=$b; break; }
  done
fi
[ -n "$bin" ] && [ -x "$bin" ] || { echo "$0: no servesim binary (build it, or pass -b)" >&2; exit 2; }
caps=("$@")
[ ${#caps[@]} -gt 0 ] || caps=(700 600 490 400)
printf '%s\n' "${caps[@]}" | grep -qx 700 || caps=(700 "${caps[@]}")
printf '%s\n' "${caps[@]}" | grep -qx 490 || caps+=(490)
out=${out:-$(mktemp -d)}
mkdir -p "$out"
get() { awk -v key="$2" -f "$root/tests/json-get.awk" "$1/summary.json"; }

csv="$out/power-caps.csv"
echo "workload,power_cap_w,ttft_p50_s,tpot_p50_s,e2e_p50_s,energy_per_output_token_j,device_mean_w,throttled_iterations,cap_unmet_iterations" >"$csv"
printf "%-8s %5s %9s %9s %9s %10s %8s %9s %6s\n" load W "TTFT p50" "TPOT p50" "E2E p50" "J/out tok" "W/dev" throttled unmet
for w in decode prefill; do
  set_w=()
  # Prefill-heavy: 4k-token prompts, 64-token answers (as power-clocks.sh).
  [ $w = prefill ] && set_w=(--set "workload.lengths={input: {dist: lognormal, mean: 4096, sigma: 0.3}, output: {dist: lognormal, mean: 64, sigma: 0.3}}" --set workload.arrival.rate_per_s=2)
  for c in "${caps[@]}"; do
    d="$out/$w-$c"
    "$bin" run "$here/power-clocks.yaml" --quiet -o "$d" "${set_w[@]}" \
      --set "power.pools=[{name: main, power_cap_w: $c}]"
    row=("$w" "$c" "$(get "$d" ttft_s.p50)" "$(get "$d" tpot_s.p50)" "$(get "$d" e2e_s.p50)"
         "$(get "$d" energy_per_output_token_j)" "$(get "$d" power.device_mean_w)"
         "$(get "$d" "power.pools.#.throttled_iterations")" "$(get "$d" "power.pools.#.cap_unmet_iterations")")
    (IFS=,; echo "${row[*]}") >>"$csv"
    printf "%-8s %5s %9.4f %9.4f %9.3f %10.4f %8.1f %9s %6s\n" "${row[@]}"
  done
done
echo "wrote $csv"

awk -F, '
  NR == 1 { next }
  { v[$1 "," $2] = $0 }
  END {
    split(v["prefill,700"], p0, ","); split(v["prefill,490"], p1, ",")
    split(v["decode,700"], d0, ","); split(v["decode,490"], d1, ",")
    ttft = p1[3] / p0[3]; tpot = d1[4] / d0[4]
    printf "490 W cap (70 %% of 700 W): prefill-heavy TTFT p50 x%.2f, decode-heavy TPOT p50 x%.2f\n", ttft, tpot
    bad = 0
    if (!(ttft >= 1.15)) { print "FAIL: prefill-heavy TTFT should grow under the cap"; bad = 1 }
    if (!(tpot <= 1.05)) { print "FAIL: decode-heavy TPOT should barely change"; bad = 1 }
    if (!bad) print "shape holds"
    exit bad
  }' "$csv"
