#!/usr/bin/env bash
# One power case: simulate row LINE of validation/power/cases.csv with
# servesim and print "id|dataset|device|split|gpus|power_w|energy_per_token_j|
# itl_p50_ms|tpot_mean_ms|tok_s|status": the simulated mean power per device and
# energy per output token over the dataset's measurement window (ML.ENERGY
# v3: its steady state, window.awk; v2 and Splitwise: the whole run), the
# median inter-token latency, the mean TPOT and the output tokens per second
# over the window. With PROFILE the pool runs
# on that hardware profile instead of the case's (fit.sh's basis profiles);
# with MODEL (a model file) the case's model is replaced by it
# (fit-routing.sh's variants; PROFILE may then be "").
# Usage: case.sh SERVESIM LINE WORKDIR [PROFILE [MODEL]]
set -euo pipefail
bin=$1 line=$2 work=$3 profile=${4:-} model=${5:-}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
csv=$here/cases.csv

header=$(awk '!/^#/ { print; exit }' "$csv")
row=$(sed -n "${line}p" "$csv")
field() { # field NAME: the row's value of column NAME
    awk -F, -v h="$header" -v r="$row" -v want="$1" 'BEGIN {
        n = split(h, hs, ","); split(r, rs, ",")
        for (i = 1; i <= n; i++) if (hs[i] == want) { print rs[i]; exit } }'
}
id=$(field id) dataset=$(field dataset) device=$(field device) split=$(field split)
gpus=$(field gpus) sets=$(field sets) outhist=$(field outhist) study=$(field study)

dir=$work/line$line${profile:+-$(basename "$profile" .yaml)}${model:+-$(basename "$model" .yaml)}
rm -rf "$dir"
mkdir -p "$dir"
args=()
for kv in $sets; do args+=(--set "$kv"); done
[ -z "$profile" ] || args+=(--set "cluster.pools.0.hardware=$profile")
[ -z "$model" ] || args+=(--set "model=$model")
concurrency=""
for kv in $sets; do [ "${kv%%=*}" = workload.arrival.concurrency ] && concurrency=${kv#*=}; done

# ML.ENERGY v3: the run's own output lengths (its histogram's quantiles, in a
# fixed shuffled order), as validation/lib/case.sh makes them.
if [ -n "$outhist" ]; then
    awk -v spec="$outhist" 'BEGIN {
        split(spec, p, ":"); lo = p[1] + 0; hi = p[2] + 0
        nb = split(p[3], c, " "); w = (hi - lo) / nb; n = 0
        for (b = 1; b <= nb; b++) n += c[b]
        print "arrival_s,input_tokens,output_tokens"
        k = 0
        for (b = 1; b <= nb; b++)
            for (j = 0; j < c[b]; j++) {
                v = int(lo + (b - 1) * w + (j + 0.5) / c[b] * w + 0.5)
                if (v < 1) v = 1
                out[k++] = v
            }
        for (i = 0; i < n; i++) print "0,1," out[(i * 7919) % n]
    }' >"$dir/outlen.csv"
    args+=(--set "workload.trace=$dir/outlen.csv")
fi

emit() { printf '%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s\n' "$id" "$dataset" "$device" "$split" \
    "$gpus" "$1" "$2" "$3" "$4" "$5" "$6"; }
if ! "$bin" run "$root/validation/studies/$study" "${args[@]}" \
    --set output.sample_interval_s=0.1 -o "$dir" --quiet >"$dir/stdout" 2>"$dir/stderr"; then
    emit "" "" "" "" "" "error: $(head -c 200 "$dir/stderr" | tr '\n|' '  ')"
    exit 0
fi
get() { awk -v key="$1" -f "$root/tests/json-get.awk" "$dir/summary.json"; }
b=""
case $dataset in mlenergy-v3*) b=$concurrency ;; esac
read -r win energy tokens < <(awk -f "$here/window.awk" -v b="${b:-0}" \
    "$dir/requests.csv" "$dir/timeseries.csv")
awk -v w="$win" -v e="$energy" -v t="$tokens" -v g="$gpus" -v itl="$(get itl_s.p50)" \
    -v tpot="$(get tpot_s.mean)" -v rej="$(get rejected)" 'BEGIN {
    status = (rej > 0) ? "rejected " rej : "ok"
    printf "%.6g|%.6g|%.6g|%.6g|%.6g|%s\n", (w > 0) ? e / w / g : 0, (t > 0) ? e / t : 0,
        itl * 1000, tpot * 1000, (w > 0) ? t / w : 0, status }' |
    while IFS='|' read -r pw ept itl tpot tput st; do
        emit "$pw" "$ept" "$itl" "$tpot" "$tput" "$st"
    done
rm -rf "$dir"
