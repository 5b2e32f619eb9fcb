/* Summary statistics of timing samples: the probe reports the median and the
 * 10th/90th percentiles of per-launch times rather than the mean, because a
 * single preempted or throttled sample would drag a mean but not a median. */
#ifndef PROBE_STATS_H
#define PROBE_STATS_H

#include <stddef.h>

typedef struct {
    size_t n;      /* samples */
    double min;    /* smallest sample */
    double max;    /* largest sample */
    double mean;   /* arithmetic mean */
    double median; /* 50th percentile */
    double p10;    /* 10th percentile */
    double p90;    /* 90th percentile */
    double stddev; /* sample standard deviation (n - 1); 0 when n < 2 */
} ProbeStats;

/* The @q-quantile (0 <= q <= 1) of @sorted (ascending, @n > 0), linear
 * interpolation between closest ranks (numpy's default, "type 7"). */
double probe_quantile_sorted(const double *sorted, size_t n, double q);

/* Sort a copy of @x and fill @out. With @n == 0 every field is NaN and n = 0. */
void probe_stats_compute(const double *x, size_t n, ProbeStats *out);

#endif /* PROBE_STATS_H */
