#!/usr/bin/env bash
# How many more servers fit under a fixed power budget at <= 5 % p99 latency
# loss? (configs/power-budget.yaml: a row of 8-GPU H100 servers serving
# Llama 3 70B at TP 4, budget = 4 servers at TDP.) For each server count and
# capping policy, the cluster runs twice, unbudgeted and budgeted, with the
# same load per server; the latency loss is the largest relative growth of
# the p99 TTFT, TPOT and E2E. Prints a row per (policy, servers) and the
# largest server count within the loss for each policy; writes the rows to
# DIR/power-budget.csv. Exit 1 when even the provisioned row loses more.
# Usage: configs/power-budget.sh [-b SERVESIM] [-o DIR] [-l LOSS_PCT] [SERVERS...]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
bin="" out="" loss=5
while getopts "b:o:l:" opt; do
  case $opt in
    b) bin=$OPTARG ;;
    o) out=$OPTARG ;;
    l) loss=$OPTARG ;;
    *) echo "usage: $0 [-b SERVESIM] [-o DIR] [-l LOSS_PCT] [SERVERS...]" >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
if [ -z "$bin" ]; then
  for b in "$root"/build/servesim "$root"/build-*/servesim; do
    [ -x "$b" ] && { bin=$b; break; }
  done
fi
[ -n "$bin" ] && [ -x "$bin" ] || { echo "$0: no servesim binary (build it, or pass -b)" >&2; exit 2; }
servers=("$@")
[ ${#servers[@]} -gt 0 ] || servers=(4 5 6 7 8)
out=${out:-$(mktemp -d)}
mkdir -p "$out"
get() { awk -v key="$2" -f "$root/tests/json-get.awk" "$1/summary.json"; }
per_server_rate=5 # requests/s: 2.5 per replica, 2 replicas per server

csv="$out/power-budget.csv"
echo "policy,servers,oversubscription,ttft_p99_s,tpot_p99_s,e2e_p99_s,loss_pct,over_budget_s,capping_events,throttled_iterations,mean_kw,peak_kw,usd_per_m_tok" >"$csv"
printf "%-14s %7s %8s %9s %9s %9s %7s %8s %6s %9s %7s %7s\n" policy servers oversub "TTFT p99" "TPOT p99" \
  "E2E p99" "loss %" "over s" events throttled "mean kW" "peak kW"
for n in "${servers[@]}"; do
  common=(--set "cluster.pools.0.replicas=$((2 * n))"
          --set "workload.arrival.rate_per_s=$((per_server_rate * n))")
  base="$out/none-$n"
  "$bin" run "$here/power-budget.yaml" --quiet -o "$base" "${common[@]}" --set "power.cluster=null"
  for p in uniform prefill-first; do
    d="$out/$p-$n"
    "$bin" run "$here/power-budget.yaml" --quiet -o "$d" "${common[@]}" --set "power.cluster.policy=$p"
    row=$(awk -v p="$p" -v n="$n" \
      -v bt="$(get "$base" ttft_s.p99)" -v bp="$(get "$base" tpot_s.p99)" -v be="$(get "$base" e2e_s.p99)" \
      -v t="$(get "$d" ttft_s.p99)" -v tp="$(get "$d" tpot_s.p99)" -v e="$(get "$d" e2e_s.p99)" \
      -v os="$(get "$d" power.budget.oversubscription)" -v ob="$(get "$d" power.budget.over_budget_s)" \
      -v ev="$(get "$d" power.budget.capping_events)" -v mw="$(get "$d" power_w.mean)" \
      -v pk="$(get "$d" power_w.peak)" -v usd="$(get "$d" usd_per_million_output_tokens)" \
      -v th="$(grep -m1 throttled_iterations "$d/summary.json" | tr -dc 0-9)" 'BEGIN {
        l = t / bt; if (tp / bp > l) l = tp / bp; if (e / be > l) l = e / be
        printf "%s,%d,%.3f,%.4f,%.4f,%.3f,%.1f,%.2f,%d,%d,%.2f,%.2f,%.4f", p, n, os, t, tp, e,
          (l - 1) * 100, ob, ev, th, mw / 1000, pk / 1000, usd }')
    echo "$row" >>"$csv"
    IFS=, read -r -a f <<<"$row"
    printf "%-14s %7s %8s %9s %9s %9s %7s %8s %6s %9s %7s %7s\n" "${f[@]:0:12}"
  done
done
echo "wrote $csv"
awk -F, -v loss="$loss" '
  NR == 1 { next }
  { if ($7 + 0 <= loss && $2 + 0 > best[$1]) best[$1] = $2 + 0; if ($2 + 0 < first || first == "") first = $2 + 0 }
  END {
    bad = 0
    for (p in best) printf "%s: up to %d servers within %s %% p99 latency loss (%d more than the %d provisioned)\n", p, best[p], loss, best[p] - first, first
    if (length(best) == 0) { print "no server count within the loss"; bad = 1 }
    exit bad
  }' "$csv"
