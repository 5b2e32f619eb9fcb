#!/usr/bin/env bash
# Fit the rows of the matrix tile the fused MoE expert kernels compute per
# touched expert (efficiency.moe_tile_rows[_8bit|_4bit][_<backend>] of
# hwprofiles/DEVICE.yaml) to the mean power per device of the TRAINING rows
# of validation/power/cases.csv (datasets mlenergy-v3-moe and
# mlenergy-v3-moe-stall, the population fit-moe.sh takes), rerunnably:
#   bash validation/power/fit-tile.sh [--device b200] [--tile "16 32 64 128 256"]
#        [--bin SERVESIM] [--jobs N]
# A grouped GEMM pads each touched expert's rows up to whole tiles
# (src/perf/predictor.c, push_moe): at small batches an expert with a few
# rows still runs a whole tile on the tensor cores. That work draws power
# (the compute term) but seldom sets the time, as the kernel streams the
# expert's weights for longer, so the tile is fitted to measured power.
# Every training row of the device is simulated with every tile key set to
# each grid value, and each group of rows (weight format, and the kernel
# family the row names in engine.moe_backend: "8-flashinfer") is scored by
# the median |log(servesim / measured)| of mean power per device. Rule,
# fixed before this script's first run: per group, the smallest tile within
# 0.5 points of the group's best; 16 (vLLM's Triton default, what servesim
# assumed before) unless the data say otherwise. The held-out rows never
# enter; run.sh checks them after the chosen tiles are written into the
# profile by hand, with a comment naming this fit.
set -euo pipefail
cd "$(dirname "$0")/../.."
here=validation/power
bin="" jobs="" device=b200 tiles="16 32 64 128 256"
while [ $# -gt 0 ]; do
    case $1 in
    --bin) bin=$2; shift ;;
    --jobs) jobs=$2; shift ;;
    --device) device=$2; shift ;;
    --tile) tiles=$2; shift ;;
    *) echo "fit-tile.sh: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
. validation/lib/servesim-bin.sh
. validation/lib/moe-fit.sh
servesim_setup

# One profile per tile: every moe_tile_rows key replaced by it.
for t in $tiles; do
    moe_key_variant moe_tile_rows "$t" <"hwprofiles/$device.yaml" >"$work/t$t.yaml"
done
# Training rows of the device and their group, as fit-moe.sh forms them.
moe_train_rows "$device" 9 >"$work/rows"

for t in $tiles; do
    while read -r line _; do echo "$line $work/t$t.yaml $work/out.$t.$line"; done <"$work/rows"
done | xargs -P "$jobs" -n 3 sh -c \
    'bash validation/power/case.sh "$0" "$2" "$1/runs" "$3" >"$4"' "$bin" "$work" || true

# tile|group|measured|simulated|status, one line per tile and row.
for t in $tiles; do
    while read -r line grp; do
        meas=$(sed -n "${line}p" "$here/cases.csv" | cut -d, -f9)
        sim=$(cut -d'|' -f6,11 "$work/out.$t.$line" 2>/dev/null || echo "|failed")
        echo "$t|$grp|$meas|$sim"
    done <"$work/rows"
done >"$work/all"

echo "# $(wc -l <"$work/rows") MoE training rows of $device: median |log err| of mean power per device"
awk -F'|' '
    function med(a, n,    i, j, t) {
        if (n == 0) return -1
        for (i = 2; i <= n; i++) { t = a[i]; for (j = i; j > 1 && a[j - 1] > t; j--) a[j] = a[j - 1]; a[j] = t }
        return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    { if (!($1 in tseen)) { tseen[$1] = 1; tord[++nt] = $1 }
      if (!($2 in gseen)) { gseen[$2] = 1; gord[++ng] = $2 }
      if ($5 != "ok" || $4 <= 0 || $3 <= 0) { bad[$1]++; next }
      l = log($4 / $3); l = l < 0 ? -l : l
      v[$1, $2, ++n[$1, $2]] = l; v[$1, "all", ++n[$1, "all"]] = l }
    END {
        gord[++ng] = "all"
        printf "%-14s %5s", "group", "rows"
        for (i = 1; i <= nt; i++) printf " %7s", tord[i]
        printf "  %s\n", "chosen"
        for (g = 1; g <= ng; g++) {
            G = gord[g]; best = -1
            printf "%-14s %5d", G, n[tord[1], G]
            for (i = 1; i <= nt; i++) {
                k = 0; delete a
                for (j = 1; j <= n[tord[i], G]; j++) a[++k] = v[tord[i], G, j]
                s[i] = med(a, k); printf " %6.1f%%", 100 * s[i]
                if (best < 0 || s[i] < best) best = s[i]
            }
            pick = ""
            for (i = 1; i <= nt; i++)
                if (s[i] <= best + 0.005 && (pick == "" || tord[i] + 0 < pick + 0)) pick = tord[i]
            printf "  %s\n", G == "all" ? "-" : pick
        }
        for (i = 1; i <= nt; i++) if (bad[tord[i]]) printf "tile %s: %d failed\n", tord[i], bad[tord[i]]
    }' "$work/all"
