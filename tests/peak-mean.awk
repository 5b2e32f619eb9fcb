# An invariant of every run's summary.json: a peak power is never below the
# mean it bounds. Checks each JSON object (as servesim pretty-prints it: one
# "key": value per line, objects opening at a line's end) that holds a pair
# mean/peak (power_w, the cluster), mean_w/peak_w (each power pool) or
# device_mean_w/device_peak_w (per device, cluster and pool). Prints one
# line per violation, naming the object's key path; prints nothing if all
# hold. Usage: awk -f peak-mean.awk summary.json
function check(d,    i, where) {
    where = ""
    for (i = 1; i <= d; i++) where = where "/" name[i]
    if (("mean", d) in val && ("peak", d) in val && val["peak", d] + 0 < val["mean", d] + 0)
        printf "%s: peak %s < mean %s\n", where, val["peak", d], val["mean", d]
    if (("mean_w", d) in val && ("peak_w", d) in val && val["peak_w", d] + 0 < val["mean_w", d] + 0)
        printf "%s: peak_w %s < mean_w %s\n", where, val["peak_w", d], val["mean_w", d]
    if (("device_mean_w", d) in val && ("device_peak_w", d) in val &&
        val["device_peak_w", d] + 0 < val["device_mean_w", d] + 0)
        printf "%s: device_peak_w %s < device_mean_w %s\n", where, val["device_peak_w", d],
            val["device_mean_w", d]
    split("mean peak mean_w peak_w device_mean_w device_peak_w", ks, " ")
    for (i in ks) delete val[ks[i], d]
}
BEGIN { depth = 0 }
{
    line = $0
    key = ""
    if (match(line, /^[ \t]*"[^"]*"[ \t]*:/)) {
        key = substr(line, RSTART, RLENGTH); sub(/^[ \t]*"/, "", key); sub(/"[ \t]*:$/, "", key)
        line = substr(line, RSTART + RLENGTH)
    }
    if (line ~ /[\{\[][ \t]*$/) {
        depth++
        name[depth] = key != "" ? key : "#"
        next
    }
    if (line ~ /^[ \t]*[\]\}]/) {
        check(depth)
        depth--
        next
    }
    if (key != "") {
        v = line; gsub(/[ \t,"]/, "", v)
        val[key, depth] = v
    }
}
