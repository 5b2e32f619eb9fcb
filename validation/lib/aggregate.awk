# Errors and per-suite statistics of validation results. Input: lines
# "suite|id|metric|measured|predicted|group|ref|status" (lib/case.sh), in
# case-file order. Output, in the same order:
#   C|suite|id|metric|measured|predicted|error_pct|status   one per case metric
#   S|suite|metric|n|failed|median|p90|bias|ratio            one per suite metric
# error_pct = 100 (predicted / measured - 1). In a suite with groups (the
# TensorRT-LLM tables), each row is first divided by its group's reference
# row (ref = 1), measured and predicted alike, and the error is that of the
# ratio; reference rows then carry no error of their own. median and p90
# are of |error_pct| over the rows with status ok (linear interpolation
# between closest ranks); bias is the median signed error; ratio (grouped
# suites only) the median of predicted / measured before normalising, i.e.
# how far servesim's absolute figures are from the measured engine's.
# POSIX awk.

function sortnum(a, n,    i, j, t) { # insertion sort, ascending
    for (i = 2; i <= n; i++) {
        t = a[i]
        for (j = i - 1; j >= 1 && a[j] > t; j--)
            a[j + 1] = a[j]
        a[j + 1] = t
    }
}
function pct(a, n, p,    h, lo) {
    if (n == 0)
        return ""
    h = (n - 1) * p / 100
    lo = int(h)
    if (lo + 1 > n - 1)
        return a[n]
    return a[lo + 1] + (h - lo) * (a[lo + 2] - a[lo + 1])
}
function absv(x) { return x < 0 ? -x : x }

BEGIN { FS = "|" }
{
    k = ++nrow
    su[k] = $1; id[k] = $2; me[k] = $3; meas[k] = $4; pred[k] = $5
    grp[k] = $6; isref[k] = ($7 == "1"); st[k] = $8
    key = $1 "|" $3
    if (!(key in seen)) { seen[key] = 1; order[++nkeys] = key }
    if (isref[k]) {
        refmeas[$1 "|" $3 "|" $6] = meas[k]
        refpred[$1 "|" $3 "|" $6] = (st[k] == "ok" ? pred[k] : "")
    }
}
END {
    for (k = 1; k <= nrow; k++) {
        key = su[k] "|" me[k]
        err = ""
        s = st[k]
        if (s == "ok") {
            if (grp[k] != "") {
                rkey = su[k] "|" me[k] "|" grp[k]
                if (isref[k])
                    s = "reference"
                else if (!(rkey in refpred) || refpred[rkey] == "")
                    s = "error: reference row failed"
                else
                    err = 100 * ((pred[k] / refpred[rkey]) / (meas[k] / refmeas[rkey]) - 1)
                if (pred[k] != "" && meas[k] > 0)
                    ratios[key, ++nratio[key]] = pred[k] / meas[k]
            } else if (meas[k] > 0)
                err = 100 * (pred[k] / meas[k] - 1)
        }
        if (err != "") {
            absl[key, ++nok[key]] = absv(err)
            sgn[key, nok[key]] = err
        } else if (s != "reference")
            nfail[key]++
        printf "C|%s|%s|%s|%s|%s|%s|%s\n", su[k], id[k], me[k], meas[k], pred[k],
            (err == "" ? "" : sprintf("%+.1f", err)), s
    }
    for (i = 1; i <= nkeys; i++) {
        key = order[i]
        n = nok[key] + 0
        delete va; delete vs; delete vr
        for (j = 1; j <= n; j++) { va[j] = absl[key, j]; vs[j] = sgn[key, j] }
        sortnum(va, n); sortnum(vs, n)
        m = nratio[key] + 0
        for (j = 1; j <= m; j++) vr[j] = ratios[key, j]
        sortnum(vr, m)
        split(key, kk, "|")
        printf "S|%s|%s|%d|%d|%s|%s|%s|%s\n", kk[1], kk[2], n, nfail[key] + 0,
            (n ? sprintf("%.1f", pct(va, n, 50)) : ""), (n ? sprintf("%.1f", pct(va, n, 90)) : ""),
            (n ? sprintf("%+.1f", pct(vs, n, 50)) : ""), (m ? sprintf("%.2f", pct(vr, m, 50)) : "")
    }
}
