#!/usr/bin/env bash
# Fit a device's eager-step cost (overheads.eager_us_per_layer and
# eager_us_per_moe_layer of hwprofiles/DEVICE.yaml: the time per layer, and
# more per MoE layer, that a step vLLM runs without CUDA graphs takes on top,
# src/perf/predictor.c push_eager_overhead) to the median ITL of the TRAINING
# rows of validation/power/cases.csv, rerunnably:
#   bash validation/tools/fit-eager.sh [--device b200] [--layer "0 50"]
#        [--moe "0 400 500"] [--datasets "mlenergy-v3 mlenergy-v3-moe"]
#        [--bin SERVESIM] [--jobs N]
# The rows are ML.ENERGY v3's (vLLM 0.11, whose graphs cover steps up to
# min(2 x max_num_seqs, 512) tokens), split as validation/power fixed it
# before any fit (README.md there, "The held-out part"); held-out rows never
# enter. Every pair of --layer and --moe values is simulated on every
# training row of the device with the profile's two lines replaced, and the script prints, sorted by
# the median |log(servesim / measured)| of the median ITL over the rows
# whose max_num_seqs is above 512 (the only ones whose decode steps exceed
# the default capture size; the others meet it only in steps that mix in
# prefill chunks): that median, the same over all rows, the median signed
# error (%) of each side, and failures. Then, for the first pair (give 0
# first to check the mechanism), one line per dataset, model and side of
# 512: rows, median signed ITL error and the median missing time per step
# and layer, (measured - servesim ITL) over the model's layers, in us. The chosen value goes into the profile by hand,
# with a comment naming this fit; validation/power/run.sh then checks the
# held-out rows.
set -euo pipefail
cd "$(dirname "$0")/../.."
here=validation/power
bin="" jobs="" device=b200
layers="0"
moes="0 300 400 450 500 600"
datasets="mlenergy-v3 mlenergy-v3-moe"
while [ $# -gt 0 ]; do
    case $1 in
    --bin) bin=$2; shift ;;
    --jobs) jobs=$2; shift ;;
    --device) device=$2; shift ;;
    --layer) layers=$2; shift ;;
    --moe) moes=$2; shift ;;
    --datasets) datasets=$2; shift ;;
    *) echo "fit-eager.sh: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
. validation/lib/servesim-bin.sh
servesim_setup
prof=hwprofiles/$device.yaml
grep -q '^overheads:' "$prof" || {
    echo "fit-eager.sh: $prof has no overheads: section" >&2
    exit 2
}

# One profile per grid point: the two keys replaced (or added), all else kept.
n=0
for el in $layers; do for em in $moes; do
    n=$((n + 1))
    awk -v el="$el" -v em="$em" '
        /^overheads:/ { print; printf "  eager_us_per_layer: %s\n  eager_us_per_moe_layer: %s\n", el, em; sect = 1; next }
        /^[^ #]/ { sect = 0 }
        sect && /^  eager_us_per_(moe_)?layer:/ { next }
        { print }' "$prof" >"$work/g$n.yaml"
    echo "g$n $el $em" >>"$work/grid"
done; done

# Training rows of the device: line, dataset, model, layers, max_num_seqs.
awk -F, -v d="$device" -v ds=" $datasets " '
    function base(s) { sub(/-stall$/, "", s); return s } # stalled sweeps fit with their dataset
    !/^#/ && $1 != "id" && $4 == "train" && $3 == d && index(ds, " " base($2) " ") && $11 != "" {
        model = ""; seqs = 0
        n = split($6, kv, " ")
        for (i = 1; i <= n; i++) {
            split(kv[i], p, "=")
            if (p[1] == "model") model = p[2]
            if (p[1] == "engine.max_num_seqs") seqs = p[2]
        }
        print NR, $2, model, seqs
    }' "$here/cases.csv" >"$work/rows0"
[ -s "$work/rows0" ] || { echo "fit-eager.sh: no training rows for $device" >&2; exit 2; }
while read -r line ds model seqs; do
    layers=$(awk '/^num_layers:/ { print $2; exit }' "models/$model.yaml" 2>/dev/null || true)
    echo "$line $ds $model ${layers:-0} $seqs"
done <"$work/rows0" >"$work/rows"

while read -r g _; do
    while read -r line _; do echo "$line $work/$g.yaml $work/out.$g.$line"; done <"$work/rows"
done <"$work/grid" | xargs -P "$jobs" -n 3 sh -c \
    'bash validation/power/case.sh "$0" "$1" "$(dirname "$3")/runs.$(basename "$3")" "$2" >"$3"; rm -rf "$(dirname "$3")/runs.$(basename "$3")"' \
    "$bin" || true

# measured|sim|status|dataset|model|layers|seqs per row of grid point $1.
joined() {
    while read -r line ds model layers seqs; do
        meas=$(sed -n "${line}p" "$here/cases.csv" | cut -d, -f11)
        sim=$(cut -d'|' -f8,11 "$work/out.$1.$line" 2>/dev/null || echo "|missing")
        echo "$meas|$sim|$ds|$model|$layers|$seqs"
    done <"$work/rows"
}
med='function med(a, n,    i, j, t) {
        if (n == 0) return 0
        for (i = 2; i <= n; i++) { t = a[i]; for (j = i; j > 1 && a[j - 1] > t; j--) a[j] = a[j - 1]; a[j] = t }
        return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }'

echo "# $(wc -l <"$work/rows") training rows of $device ($datasets); sorted by median |log error| of median ITL, max_num_seqs above 512"
echo "eager_us_per_layer eager_us_per_moe_layer abs_log_err_above_512 abs_log_err_all median_err_pct_above_512 median_err_pct_512_or_less rows_above_512 failed"
while read -r g el em; do
    joined "$g" | awk -F'|' -v e="$el $em" "$med"'
        $3 != "ok" || $2 <= 0 { bad++; next }
        { k++; l = log($2 / $1); al[k] = l < 0 ? -l : l; x = ($2 / $1 - 1) * 100
          if ($7 > 512) { hi[++nh] = x; ah[nh] = al[k] } else lo[++nl] = x }
        END { printf "%s %.4f %.4f %.1f %.1f %d %d\n", e, med(ah, nh), med(al, k), med(hi, nh), med(lo, nl), nh, bad }'
done <"$work/grid" | sort -k3,3g

read -r g el em <"$work/grid"
echo
echo "# at eager_us_per_layer $el, eager_us_per_moe_layer $em: per dataset, model and max_num_seqs side of 512"
echo "dataset model layers seqs rows median_err_pct median_missing_us_per_layer"
joined "$g" | awk -F'|' "$med"'
    $3 != "ok" || $2 <= 0 { next }
    { key = $4 " " $5 " " $6 " " ($7 > 512 ? ">512" : "<=512")
      n[key]++; err[key, n[key]] = ($2 / $1 - 1) * 100
      miss[key, n[key]] = $6 > 0 ? ($1 - $2) * 1000 / $6 : 0 }
    END {
        for (key in n) {
            delete a; delete b
            for (i = 1; i <= n[key]; i++) { a[i] = err[key, i]; b[i] = miss[key, i] }
            printf "%s %d %.1f %.0f\n", key, n[key], med(a, n[key]), med(b, n[key])
        }
    }' | sort
