#!/usr/bin/env bash
# Splitwise-style comparison (Patel et al., ISCA 2024) of mixed against
# phase-split pools of Llama 3 70B (TP 8 per machine) on the Azure 2023
# code and conversation traces, at rising Poisson rates:
#   mixed-8H     configs/splitwise-mixed.yaml: 8 DGX-H100, every machine mixed
#   split-5H3H   configs/splitwise-hh.yaml: the same 64 H100s, 5 prefill + 3 decode
#   split-6H2H   the same, 6 prefill + 2 decode (prompt-heavy, for code)
#   split-4H8A   configs/splitwise-ha.yaml: 4 DGX-H100 prefill + 8 DGX-A100 decode
# The first three are iso-device-count (64 GPUs); split-4H8A is iso-cost with
# the baseline under the per-device prices ASSUMED below (an assumption in
# the ratio of Splitwise's Table 3, not a quote; change them here):
#   H100 SXM $4.75 per device-hour, A100 80GB $2.20 per device-hour.
# Iso-power, Splitwise's third comparison, awaits the power model (issue 6):
# with it, the same runs report energy and power in summary.json.
# Prints one row per (trace, layout, rate): throughput, goodput (requests
# meeting TTFT <= 2 s and TPOT <= 0.1 s), TTFT and TPOT p90, the mean KV
# transfer and its queueing, and goodput per $100/h; then, per trace and
# layout, the highest rate whose SLO attainment stays >= 90 %.
# Usage: configs/splitwise.sh [-b SERVESIM] [-o DIR] [RATE...]
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
[ ${#rates[@]} -gt 0 ] || rates=(20 40 60 80 100)
out=${out:-$(mktemp -d)}
mkdir -p "$out"
get() { awk -v key="$2" -f "$root/tests/json-get.awk" "$1/summary.json"; }

# Assumed prices, $ per device-hour (see the header).
h100=4.75
a100=2.20
# layout|config|extra --set arguments|$ per hour
layouts=(
  "mixed-8H|splitwise-mixed.yaml||$(awk -v h=$h100 'BEGIN { print 64 * h }')"
  "split-5H3H|splitwise-hh.yaml||$(awk -v h=$h100 'BEGIN { print 64 * h }')"
  "split-6H2H|splitwise-hh.yaml|--set cluster.pools.0.replicas=6 --set cluster.pools.1.replicas=2|$(awk -v h=$h100 'BEGIN { print 64 * h }')"
  "split-4H8A|splitwise-ha.yaml||$(awk -v h=$h100 -v a=$a100 'BEGIN { print 32 * h + 64 * a }')"
)
csv="$out/splitwise.csv"
echo "trace,layout,usd_per_h,rate_per_s,throughput_req_s,goodput_req_s,slo_attainment,ttft_p90_s,tpot_p90_s,kv_transfer_mean_s,kv_queue_mean_s,goodput_per_100usd_h" >"$csv"
printf "%-5s %-11s %7s %5s %8s %8s %6s %9s %9s %9s %9s %9s\n" trace layout '$/h' rate 'req/s' goodput 'SLO%' \
  'TTFT p90' 'TPOT p90' 'KV xfer' 'KV queue' 'gp/$100h'
for trace in code conv; do
  for l in "${layouts[@]}"; do
    IFS='|' read -r name config extra usd <<<"$l"
    for r in "${rates[@]}"; do
      d="$out/$trace-$name-$r"
      # shellcheck disable=SC2086
      "$bin" run "$here/$config" --quiet -o "$d" $extra \
        --set workload.trace="../traces/azure_${trace}_2023.csv" --set workload.arrival.rate_per_s="$r"
      gp=$(get "$d" goodput_requests_per_s)
      row=("$trace" "$name" "$usd" "$r" "$(get "$d" throughput.requests_per_s)" "$gp"
           "$(get "$d" slo_attainment)" "$(get "$d" ttft_s.p90)" "$(get "$d" tpot_s.p90)"
           "$(get "$d" kv_transfer.transfer_s.mean)" "$(get "$d" kv_transfer.queue_s.mean)"
           "$(awk -v g="$gp" -v u="$usd" 'BEGIN { printf "%.3f", g / u * 100 }')")
      (IFS=,; echo "${row[*]}") >>"$csv"
      printf "%-5s %-11s %7.1f %5s %8.2f %8.2f %6.1f %9.3f %9.4f %9.4f %9.4f %9.2f\n" "${row[0]}" "${row[1]}" \
        "${row[2]}" "${row[3]}" "${row[4]}" "${row[5]}" "$(awk -v a="${row[6]}" 'BEGIN { print a * 100 }')" \
        "${row[7]}" "${row[8]}" "${row[9]}" "${row[10]}" "${row[11]}"
    done
  done
done
echo "wrote $csv"
echo
echo "Highest rate with SLO attainment >= 90 % (iso-device-count: the three 64-H100 layouts; iso-cost: split-4H8A against mixed-8H):"
awk -F, 'NR > 1 && $7 >= 0.9 { if ($4 + 0 > best[$1 "," $2] + 0) best[$1 "," $2] = $4; usd[$1 "," $2] = $3 }
  END { for (k in best) { split(k, a, ","); printf "  %-5s %-11s %5s req/s at $%s/h\n", a[1], a[2], best[k], usd[k] } }' "$csv" | sort
