# ML.ENERGY v3's steady-state output throughput of a servesim run: output
# tokens generated between the time B requests have had their first token
# and the time N - B have, over that span (the benchmark's steady-state
# window; ml-energy/benchmark, docs). B = -v b (max_num_seqs), N = completed
# requests. Where N <= 2B that window is empty (some published GPQA runs
# have N = 198 requests for B up to 128, some chat runs N = 2B); the span
# then ends when N - B requests have completed instead, the last moment
# the batch is still full. Reads requests.csv then timeseries.csv
# (cumulative output_tokens, interpolated linearly between samples).
# POSIX awk.

function heapsort(a, n,    i, end, t) {
    for (i = int(n / 2); i >= 1; i--)
        sift(a, i, n)
    for (end = n; end > 1; end--) {
        t = a[1]; a[1] = a[end]; a[end] = t
        sift(a, 1, end - 1)
    }
}
function sift(a, root, n,    child, t) {
    while ((child = 2 * root) <= n) {
        if (child < n && a[child + 1] > a[child])
            child++
        if (a[root] >= a[child])
            return
        t = a[root]; a[root] = a[child]; a[child] = t
        root = child
    }
}
# Cumulative output tokens at time t, linear between samples.
function tokens_at(t,    i) {
    if (t <= ts[1])
        return tok[1]
    for (i = 2; i <= ns; i++)
        if (ts[i] >= t)
            return tok[i - 1] + (tok[i] - tok[i - 1]) * (t - ts[i - 1]) / (ts[i] - ts[i - 1])
    return tok[ns]
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
    first[++n] = $col[1, "arrival_s"] + $col[1, "ttft_s"]
    done[n] = $col[1, "arrival_s"] + $col[1, "e2e_s"]
    next
}
file == 2 {
    ts[++ns] = $col[2, "t_s"] + 0
    tok[ns] = $col[2, "output_tokens"] + 0
}
END {
    if (n == 0 || ns < 2 || b < 1)
        exit 1
    heapsort(first, n)
    heapsort(done, n)
    lo = b; hi = n - b
    if (lo > n) lo = n
    t0 = first[lo]
    if (hi > lo)
        t1 = first[hi]
    else if (hi >= 1 && done[hi] > t0)
        t1 = done[hi]
    else { # no span with a full batch at all: the whole run
        t0 = 0; t1 = ts[ns]
    }
    if (t1 <= t0)
        exit 1
    printf "%.6g\n", (tokens_at(t1) - tokens_at(t0)) / (t1 - t0)
}
