# Energy and output tokens of a servesim run over a measurement window, from
# its requests.csv then its timeseries.csv. With -v b=B (ML.ENERGY v3's
# steady state) the window runs from the time B requests have had their
# first token to the time N - B have finished (N = completed requests);
# without it, or when that window is empty, the whole run. timeseries.csv
# rows hold cumulative output tokens (interpolated linearly between rows) and
# power_w, the mean power since the previous row (so energy is exact at
# rows and linear between them). Prints "window_s energy_j tokens". POSIX awk.

function sort(a, n,    i, j, t) { # insertion sort is too slow for 4096 rows: shell sort
    for (gap = int(n / 2); gap > 0; gap = int(gap / 2))
        for (i = gap + 1; i <= n; i++) {
            t = a[i]
            for (j = i; j > gap && a[j - gap] > t; j -= gap)
                a[j] = a[j - gap]
            a[j] = t
        }
}
function at(t, cum,    i) { # cum[] at time t, linear between rows
    if (t <= ts[1])
        return cum[1]
    for (i = 2; i <= ns; i++)
        if (ts[i] >= t)
            return cum[i - 1] + (cum[i] - cum[i - 1]) * (t - ts[i - 1]) / (ts[i] - ts[i - 1])
    return cum[ns]
}
BEGIN { FS = "," }
FNR == 1 {
    file++
    for (i = 1; i <= NF; i++)
        col[file, $i] = i
    next
}
file == 1 {
    if ($col[1, "outcome"] != "completed")
        next
    nr++
    a = $col[1, "arrival_s"]
    first[nr] = a + $col[1, "ttft_s"]
    done[nr] = a + $col[1, "e2e_s"]
    next
}
file == 2 {
    ns++
    ts[ns] = $col[2, "t_s"] + 0
    tok[ns] = $col[2, "output_tokens"] + 0
    en[ns] = ns == 1 ? 0 : en[ns - 1] + $col[2, "power_w"] * (ts[ns] - ts[ns - 1])
}
END {
    t0 = ts[1]
    t1 = ts[ns]
    if (b > 0 && nr > b) {
        sort(first, nr)
        sort(done, nr)
        if (done[nr - b] > first[b]) {
            t0 = first[b]
            t1 = done[nr - b]
        }
    }
    printf "%.9g %.9g %.9g\n", t1 - t0, at(t1, en) - at(t0, en), at(t1, tok) - at(t0, tok)
}
