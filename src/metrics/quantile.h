/* Exact order statistics over more values than memory should hold. A run
 * of ten million requests has ten million TTFTs; keeping them all to sort
 * at the end made memory grow with the run. Here values are kept in memory
 * up to a limit, then sorted and spilled as runs to a deleted temporary
 * file, and read back in order by a k-way merge: an external merge sort.
 * The merged stream is the very sequence an in-memory sort gives, so means
 * (summed in ascending order) and percentiles are bit-for-bit those of the
 * all-in-memory path, whatever the limit. */
#ifndef SV_METRICS_QUANTILE_H
#define SV_METRICS_QUANTILE_H

#include "metrics/metrics.h"

G_BEGIN_DECLS

/* Values kept in memory before a spill, by default: 4 MiB of pairs (and as
 * much again while glibc's qsort, a merge sort, sorts them into a run). */
#define SV_QUANTILE_MEM_DEFAULT ((size_t)1 << 18)

/* ---- external sort of (key, value) pairs ---- */

typedef struct {
    uint64_t key;   /* compared first */
    uint64_t value; /* compared second */
} SvSortPair;

typedef struct SvPairSort SvPairSort;

/* A sorter holding at most @mem_pairs pairs in memory (0: no limit, never
 * spills); runs beyond go to a deleted temporary file in @spill_dir (NULL:
 * the system's temporary folder). When the file cannot be made or written
 * (a full disk), pairs stay in memory instead: slower to fail than to lose
 * data. (transfer full) */
SvPairSort *sv_pair_sort_new(size_t mem_pairs, const char *spill_dir);
void sv_pair_sort_free(SvPairSort *sort);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SvPairSort, sv_pair_sort_free)
void sv_pair_sort_add(SvPairSort *sort, uint64_t key, uint64_t value);
/* Pairs added so far. */
size_t sv_pair_sort_count(const SvPairSort *sort);
/* Sorted runs written to the temporary file so far (tests, benchmarks). */
size_t sv_pair_sort_spilled_runs(const SvPairSort *sort);
/* The next pair in ascending (key, value) order, unsigned; FALSE at the
 * end. The first call ends adding: no sv_pair_sort_add after it. */
gboolean sv_pair_sort_next(SvPairSort *sort, SvSortPair *out);

/* A double's bits mapped so that unsigned order is numeric order (-0.0
 * just below +0.0; NaNs past the infinities), and back. */
uint64_t sv_double_order_key(double v);
double sv_double_from_order_key(uint64_t key);

/* ---- per-group summaries ---- */

typedef struct SvQuantiles SvQuantiles;

/* Values in groups 0..@num_groups-1, at most @mem_values in memory (0: no
 * limit), spilling to @spill_dir as sv_pair_sort_new. (transfer full) */
SvQuantiles *sv_quantiles_new(uint64_t num_groups, size_t mem_values, const char *spill_dir);
void sv_quantiles_free(SvQuantiles *q);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SvQuantiles, sv_quantiles_free)
void sv_quantiles_add(SvQuantiles *q, uint64_t group, double value);

/* One group's values summarised as sv_metrics_summarize does: mean of the
 * values summed in ascending order, p50/p90/p99 by linear interpolation
 * between the closest ranks (sv_percentile_sorted), the largest (each 0
 * when not finite), and @extra its percentile @extra_percentile (as
 * computed, finite or not). */
typedef void (*SvQuantileFn)(void *user_data, uint64_t group, int64_t n, const SvDist *dist,
                             double extra);

/* Call @fn once for every group that has values, in ascending group order,
 * then forget the values. */
void sv_quantiles_finish(SvQuantiles *q, double extra_percentile, SvQuantileFn fn, void *user_data);

/* The ranks sv_percentile_sorted interpolates between, for @n values
 * (n >= 1): h = (n - 1) p / 100, *@lo = floor h, *@frac = h - floor h;
 * *@last when lo >= n - 1 (the answer is the largest value). Shared, so
 * that the in-memory and the streamed percentiles are the same doubles. */
void sv__percentile_rank(size_t n, double percentile, size_t *lo, double *frac, gboolean *last);

/* A sorter that spills as @metrics does (sv_metrics_spill,
 * sv_metrics_set_spill_values). (transfer full) */
SvPairSort *sv__metrics_pair_sort_new(const SvMetrics *metrics);

G_END_DECLS

#endif /* SV_METRICS_QUANTILE_H */
