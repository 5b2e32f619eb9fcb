/* Summary statistics of timing samples (see stats.h). */
#include "stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double probe_quantile_sorted(const double *sorted, size_t n, double q)
{
    if (n == 0)
        return NAN;
    if (q <= 0)
        return sorted[0];
    if (q >= 1)
        return sorted[n - 1];
    double pos = q * (double)(n - 1);
    size_t lo = (size_t)pos;
    double frac = pos - (double)lo;
    if (lo + 1 >= n)
        return sorted[n - 1];
    return sorted[lo] + frac * (sorted[lo + 1] - sorted[lo]);
}

void probe_stats_compute(const double *x, size_t n, ProbeStats *out)
{
    memset(out, 0, sizeof *out);
    if (n == 0) {
        out->min = out->max = out->mean = out->median = out->p10 = out->p90 = out->stddev = NAN;
        return;
    }
    double *s = malloc(n * sizeof *s);
    if (s == NULL)
        abort();
    memcpy(s, x, n * sizeof *s);
    qsort(s, n, sizeof *s, cmp_double);
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += s[i];
    double mean = sum / (double)n;
    double ss = 0;
    for (size_t i = 0; i < n; i++)
        ss += (s[i] - mean) * (s[i] - mean);
    out->n = n;
    out->min = s[0];
    out->max = s[n - 1];
    out->mean = mean;
    out->median = probe_quantile_sorted(s, n, 0.5);
    out->p10 = probe_quantile_sorted(s, n, 0.1);
    out->p90 = probe_quantile_sorted(s, n, 0.9);
    out->stddev = n > 1 ? sqrt(ss / (double)(n - 1)) : 0;
    free(s);
}
