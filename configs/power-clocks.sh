#!/usr/bin/env bash
# Latency and energy of locked SM clocks for prefill-heavy and decode-heavy
# load (configs/power-clocks.yaml): the shape "Towards Greener LLMs"
# (Stojkovic et al., arXiv 2403.20306) and Splitwise (Patel et al., ISCA'24)
# report is that lowering the GPU clock stretches the prompt phase (TTFT)
# almost in proportion, while the token phase (TPOT) barely slows, so
# decode-heavy serving saves energy per token at little latency cost and
# prefill-heavy serving mostly loses latency. Prints one row per (workload,
# clock), writes them to DIR/power-clocks.csv and checks that shape (exit 1
# when it does not hold).
# Usage: configs/power-clocks.sh [-b SERVESIM] [-o DIR] [MHZ...]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
bin="" out=""
while getopts "b:o:" opt; do
  case $opt in
    b) bin=$OPTARG ;;
    o) out=$OPTARG ;;
    *) echo "usage: $0 [-b SERVESIM] [-o DIR] [MHZ...]" >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
if [ -z "$bin" ]; then
  for b in "$root"/build/servesim "$root"/build-*/servesim; do
    [ -x "$b" ] && { bin=$b; break; }
  done
fi
[ -n "$bin" ] && [ -x "$bin" ] || { echo "$0: no servesim binary (build it, or pass -b)" >&2; exit 2; }
clocks=("$@")
[ ${#clocks[@]} -gt 0 ] || clocks=(1980 1755 1530 1305 1080 855)
out=${out:-$(mktemp -d)}
mkdir -p "$out"
get() { awk -v key="$2" -f "$root/tests/json-get.awk" "$1/summary.json"; }

csv="$out/power-clocks.csv"
echo "workload,sm_clock_mhz,ttft_p50_s,ttft_p99_s,tpot_p50_s,e2e_p50_s,energy_per_output_token_j,device_mean_w" >"$csv"
printf "%-8s %6s %9s %9s %9s %9s %10s %8s\n" load MHz "TTFT p50" "TTFT p99" "TPOT p50" "E2E p50" "J/out tok" "W/dev"
for w in decode prefill; do
  set_w=()
  # Prefill-heavy: 4k-token prompts, 64-token answers, at a rate one H100
  # keeps up with at the lowest clock of the sweep.
  [ $w = prefill ] && set_w=(--set "workload.lengths={input: {dist: lognormal, mean: 4096, sigma: 0.3}, output: {dist: lognormal, mean: 64, sigma: 0.3}}" --set workload.arrival.rate_per_s=2)
  for c in "${clocks[@]}"; do
    d="$out/$w-$c"
    "$bin" run "$here/power-clocks.yaml" --quiet -o "$d" "${set_w[@]}" \
      --set "power.pools=[{name: main, sm_clock_mhz: $c}]"
    row=("$w" "$c" "$(get "$d" ttft_s.p50)" "$(get "$d" ttft_s.p99)" "$(get "$d" tpot_s.p50)"
         "$(get "$d" e2e_s.p50)" "$(get "$d" energy_per_output_token_j)" "$(get "$d" power.device_mean_w)")
    (IFS=,; echo "${row[*]}") >>"$csv"
    printf "%-8s %6s %9.4f %9.4f %9.4f %9.3f %10.4f %8.1f\n" "${row[@]}"
  done
done
echo "wrote $csv"

# Shapes, from the highest to the lowest clock of the sweep.
awk -F, '
  NR == 1 { next }
  { k = $1; if (!(k in hi) || $2 > hic[k]) { hic[k] = $2; hi[k] = $0 }
            if (!(k in lo) || $2 < loc[k]) { loc[k] = $2; lo[k] = $0 } }
  END {
    split(hi["prefill"], ph, ","); split(lo["prefill"], pl, ",")
    split(hi["decode"], dh, ","); split(lo["decode"], dl, ",")
    f = hic["prefill"] / loc["prefill"]
    ttft = pl[3] / ph[3]; tpot = dl[5] / dh[5]; edec = dl[7] / dh[7]
    printf "clock %sx lower: prefill-heavy TTFT p50 x%.2f, decode-heavy TPOT p50 x%.2f, decode-heavy J/token x%.2f\n", f, ttft, tpot, edec
    bad = 0
    if (!(ttft > 1 + 0.5 * (f - 1))) { print "FAIL: prefill-heavy TTFT should grow with the clock cut"; bad = 1 }
    if (!(tpot < 1 + 0.25 * (f - 1))) { print "FAIL: decode-heavy TPOT should barely grow"; bad = 1 }
    if (!(edec < 1)) { print "FAIL: decode-heavy energy per token should fall"; bad = 1 }
    if (!bad) print "shapes hold"
    exit bad
  }' "$csv"
