# Sourced by the MoE fit scripts (validation/power/fit-moe.sh, fit-tile.sh),
# from the repository root.

# moe_train_rows DEVICE COLUMN: the training rows of the mixture-of-experts
# datasets of validation/power/cases.csv on DEVICE whose column COLUMN (9:
# mean power, 11: median ITL) was measured, one "LINE GROUP" a line. GROUP
# is the expert weights' width (16, 8 or 4 bits) and, when the row names
# one in engine.moe_backend, its kernel family ("8-flashinfer").
moe_train_rows() {
    awk -F, -v d="$1" -v c="$2" '!/^#/ && $1 != "id" && $4 == "train" && ($2 == "mlenergy-v3-moe" || $2 == "mlenergy-v3-moe-stall") && $3 == d && $c != "" {
        bits = 16
        if ($6 ~ /quantization=(fp8|int8)/) bits = 8
        if ($6 ~ /quantization=(fp4|int4)/) bits = 4
        if (match($6, /engine\.moe_backend=[a-z]+/)) {
            b = substr($6, RSTART + 19, RLENGTH - 19)
            if (b != "auto") bits = bits "-" b
        }
        print NR, bits }' validation/power/cases.csv
}

# moe_key_variant KEY VALUE < PROFILE > PROFILE': the profile with
# efficiency.KEY and its width and kernel-family forms (KEY_8bit, KEY_4bit,
# KEY_triton, KEY_8bit_flashinfer, ...) all set to VALUE, all else kept.
moe_key_variant() {
    awk -v k="$1" -v v="$2" '
        /^efficiency:/ { print; sect = "e"
            split("_triton _flashinfer", fam, " "); fam[0] = ""
            for (f = 0; f <= 2; f++)
                printf "  %s%s: %s\n  %s_8bit%s: %s\n  %s_4bit%s: %s\n", k, fam[f], v, k, fam[f], v, k, fam[f], v
            next }
        /^[^ #]/ { sect = "" }
        sect == "e" && $1 ~ ("^" k "(_8bit|_4bit)?(_triton|_flashinfer)?:$") { next }
        { print }'
}
