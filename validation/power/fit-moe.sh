#!/usr/bin/env bash
# Fit the fused MoE expert kernels' timing factors of a device to the median
# inter-token latency of the TRAINING rows of validation/power/cases.csv
# (mixture-of-experts rows, dataset mlenergy-v3-moe, only), rerunnably:
#   bash validation/power/fit-moe.sh [--bin SERVESIM] [--jobs N] [--device h100-sxm]
#        [--layer "0 15 30"] [--eff "0.4 0.6 0.8"]
#        [--ctas "1000 2000 4000" --ctas-exp "0.25 0.5 1"]
# The predictor prices a step's experts as one fused kernel per projection:
# the touched experts' weights streamed at efficiency.moe_memory (16-bit
# weights), moe_memory_8bit or moe_memory_4bit of the peak bandwidth, plus
# overheads.moe_layer_us per MoE layer for the small routing, sorting,
# quantizing and summing kernels (src/perf/predictor.c, push_moe). Neither
# has a measurement to come from, so this script simulates every training
# row on each (moe_layer_us, efficiency) pair of the grid, the efficiency
# set for every weight format and kernel family at once, then for each
# moe_layer_us takes the best efficiency of each group of rows (weight
# format, and the row's engine.moe_backend when it names one: "8" is
# vLLM's default path for 8-bit experts, "8-flashinfer" FlashInfer's
# kernels, whose fit goes into efficiency.moe_memory_8bit_flashinfer; median
# |log error| over that group's rows) and prints the candidates sorted by
# the median |log(servesim / measured)| over all the device's rows, with the
# median signed error and each group's row count. The
# held-out rows (split = heldout) never enter; run.sh checks them after the
# chosen factors are written into the profile by hand, with a comment
# naming this fit.
#
# With --ctas (and --ctas-exp), efficiency.moe_triton_full_ctas and
# moe_triton_ctas_exponent join the grid (the thread blocks below which
# vLLM's Triton fused_moe streams 16-bit experts short of its efficiency;
# src/perf/predictor.c, push_moe); each grid line is then one (layer, CTAs,
# exponent) triple, the efficiencies chosen per group as before.
#
# With --power "W1 W2 ...", after the timing factors are in the profile, it
# fits power.moe_active_w instead: the watts a device of an MoE model draws
# while busy beyond the dense model's terms (src/power/power.c), the
# candidates sorted by the median |log error| of the mean power per device
# over the same training rows, the dense and host terms (fit.sh) left as
# they are; then each value's errors per group of rows (weight format and
# kernel family, as above). Choose by grouped cross-validation over the
# training rows too (validation/power/README.md, error analysis): a value
# that only fits the rows it was chosen on is not kept.
set -euo pipefail
cd "$(dirname "$0")/../.."
here=validation/power
bin="" jobs="" device=h100-sxm
layers="0 15 30 45 60"
effs="0.3 0.4 0.5 0.6 0.7 0.8 0.9"
powers=""
ctas="" ctas_exps=""
while [ $# -gt 0 ]; do
    case $1 in
    --bin) bin=$2; shift ;;
    --jobs) jobs=$2; shift ;;
    --device) device=$2; shift ;;
    --layer) layers=$2; shift ;;
    --eff) effs=$2; shift ;;
    --power) powers=$2; shift ;;
    --ctas) ctas=$2; shift ;;
    --ctas-exp) ctas_exps=$2; shift ;;
    *) echo "fit-moe.sh: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
. validation/lib/servesim-bin.sh
. validation/lib/moe-fit.sh
servesim_setup

# One profile per grid point: the MoE keys (generic and per kernel family)
# replaced (or added), all else kept.
variant() { # variant NAME LAYER_US EFF [CTAS EXPONENT]
    moe_key_variant moe_memory "$3" <"hwprofiles/$device.yaml" | awk -v l="$2" -v c="${4:-}" -v x="${5:-}" '
        /^overheads:/ { print; printf "  moe_layer_us: %s\n", l; sect = "o"; next }
        /^efficiency:/ && c != "" { print; printf "  moe_triton_full_ctas: %s\n  moe_triton_ctas_exponent: %s\n", c, x; sect = "e"; next }
        /^[^ #]/ { sect = "" }
        sect == "o" && /^  moe_layer_us:/ { next }
        sect == "e" && /^  moe_triton_(full_ctas|ctas_exponent):/ { next }
        { print }' >"$work/$1.yaml"
}
# Training rows of the device, with their group: weight format (16, 8 or 4
# bits) and, when the row names one, its MoE kernel family ("8-flashinfer").
moe_train_rows "$device" 11 >"$work/rows"

if [ -n "$powers" ]; then
    n=0
    for w in $powers; do
        n=$((n + 1))
        awk -v w="$w" '
            /^power:/ { print; printf "  moe_active_w: %s\n", w; sect = "p"; next }
            /^[^ #]/ { sect = "" }
            sect == "p" && /^  moe_active_w:/ { next }
            { print }' "hwprofiles/$device.yaml" >"$work/p$n.yaml"
        echo "p$n $w" >>"$work/grid"
    done
    while read -r g _; do
        while read -r line _; do echo "$line $work/$g.yaml $work/out.$g.$line"; done <"$work/rows"
    done <"$work/grid" | xargs -P "$jobs" -n 3 sh -c \
        'bash validation/power/case.sh "$0" "$2" "$1/runs" "$3" >"$4"' "$bin" "$work" || true
    # group|measured|simulated|status, one line per value and row.
    while read -r g w; do
        while read -r line grp; do
            meas=$(sed -n "${line}p" "$here/cases.csv" | cut -d, -f9)
            sim=$(cut -d'|' -f6,11 "$work/out.$g.$line" 2>/dev/null || true)
            echo "$grp|$meas|$sim"
        done <"$work/rows" >"$work/pall.$g"
    done <"$work/grid"
    summary() { # summary W FILE [GROUP]: median |log error|, median signed error %, failed
        awk -F'|' -v p="$1" -v want="${3:-}" '
            function med(a, n,    i, j, t) {
                for (i = 2; i <= n; i++) { t = a[i]; for (j = i; j > 1 && a[j - 1] > t; j--) a[j] = a[j - 1]; a[j] = t }
                return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
            }
            want != "" && $1 != want { next }
            $4 != "ok" || $3 <= 0 { bad++; next }
            { k++; l = log($3 / $2); al[k] = l < 0 ? -l : l; e[k] = ($3 / $2 - 1) * 100 }
            END { printf "%s %.4f %.1f %d\n", p, med(al, k), med(e, k), bad }' "$2"
    }
    echo "# $(wc -l <"$work/rows") MoE training rows of $device; sorted by median |log error| of mean power per device"
    echo "moe_active_w median_abs_log_err median_err_pct failed"
    while read -r g w; do summary "$w" "$work/pall.$g"; done <"$work/grid" | sort -k2,2g
    # Per group (weight format and kernel family), in the grid's order: a
    # value that serves one group and not another is not one device term.
    for grp in $(cut -d' ' -f2 "$work/rows" | sort -u); do
        echo "# group $grp ($(awk -v x="$grp" '$2 == x' "$work/rows" | wc -l) rows)"
        while read -r g w; do summary "$w" "$work/pall.$g" "$grp"; done <"$work/grid"
    done
    exit 0
fi

n=0
for l in $layers; do for c in ${ctas:--}; do for x in ${ctas_exps:-0.5}; do for e in $effs; do
    n=$((n + 1))
    if [ "$c" = - ]; then
        variant "g$n" "$l" "$e"
        echo "g$n $l $e" >>"$work/grid"
    else
        variant "g$n" "$l" "$e" "$c" "$x"
        echo "g$n $l/$c/$x $e" >>"$work/grid"
    fi
done; done; done; done

while read -r g _; do
    while read -r line _; do echo "$line $work/$g.yaml $work/out.$g.$line"; done <"$work/rows"
done <"$work/grid" | xargs -P "$jobs" -n 3 sh -c \
    'bash validation/power/case.sh "$0" "$2" "$1/runs" "$3" >"$4"' "$bin" "$work" || true

# grid|bits|measured|simulated|status, one line per point and row.
while read -r g l e; do
    while read -r line bits; do
        meas=$(sed -n "${line}p" "$here/cases.csv" | cut -d, -f11)
        sim=$(cut -d'|' -f8,11 "$work/out.$g.$line" 2>/dev/null || true)
        echo "$l|$e|$bits|$meas|$sim"
    done <"$work/rows"
done <"$work/grid" >"$work/all"

groups=$(cut -d' ' -f2 "$work/rows" | sort -t- -k1,1nr -k2,2 -u | tr '\n' ' ')
echo "# $(wc -l <"$work/rows") MoE training rows of $device; per moe_layer_us, each group's best"
echo "# efficiency; sorted by median |log error| of median ITL over all rows"
echo "# rows per group: $(cut -d' ' -f2 "$work/rows" | sort | uniq -c | awk '{ printf "%s %s; ", $2, $1 }')"
echo "moe_layer_us$([ -z "$ctas" ] || echo /ctas/exponent) $(for g in $groups; do printf 'eff_%s ' "$g"; done)median_abs_log_err median_err_pct failed $(for g in $groups; do printf 'err_%s ' "$g"; done)"
awk -F'|' -v groups="$groups" '
    function med(a, n,    i, j, t) {
        for (i = 2; i <= n; i++) { t = a[i]; for (j = i; j > 1 && a[j - 1] > t; j--) a[j] = a[j - 1]; a[j] = t }
        return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    { key = $1 SUBSEP $2 SUBSEP $3; layer[$1] = 1; eff[$2] = 1; bits[$3] = 1
      if ($6 != "ok" || $5 <= 0) { bad[key]++; next }
      l = log($5 / $4); k = ++cnt[key]; al[key, k] = l < 0 ? -l : l; se[key, k] = ($5 / $4 - 1) * 100 }
    END {
        for (L in layer) {
            n = 0; nb = 0; out = ""; gerr = ""
            ng = split(groups, order, " ")
            for (o = 1; o <= ng; o++) {
                b = order[o]; best = ""; bestm = 1e9
                if (!(b in bits)) { out = out " -"; gerr = gerr " -"; continue }
                for (E in eff) {
                    key = L SUBSEP E SUBSEP b; m = 0
                    for (i = 1; i <= cnt[key]; i++) t[i] = al[key, i]
                    if (cnt[key] > 0) m = med(t, cnt[key]); else m = 1e9
                    if (m < bestm || (m == bestm && E + 0 > best + 0)) { bestm = m; best = E }
                }
                out = out " " best
                gerr = gerr sprintf(" %.4f", bestm)
                key = L SUBSEP best SUBSEP b
                for (i = 1; i <= cnt[key]; i++) { n++; A[n] = al[key, i]; S[n] = se[key, i] }
                nb += bad[key]
            }
            printf "%s%s %.4f %.1f %d%s\n", L, out, med(A, n), med(S, n), nb, gerr
        }
    }' "$work/all" | sort -k"$(($(wc -w <<<"$groups") + 2))",$(($(wc -w <<<"$groups") + 2))g
