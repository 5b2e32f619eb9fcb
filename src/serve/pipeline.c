/* Per-stage times for pipeline parallelism. The predictor memoises an
 * iteration's total and slowest-stage times by bucketed batch shape, but not
 * the time of every stage; computing those afresh for every batch would cost
 * an op list per stage per step. The shares of the stages in a batch's time
 * depend on the batch only through what the predictor's memo already
 * buckets, so this memo keys them by the pair (total, slowest stage) that the
 * predictor's memo returns for the batch, and takes them from
 * sv_predictor_stage_times at the first batch of each bucket. Two buckets
 * with the same pair to the nanosecond would share their shares: harmless,
 * and never seen. The shares then split whatever total the engine charges
 * for the batch (a power cap may have stretched it), so pipelining composes
 * with everything else that shapes an iteration's time. */
#include "serve/serve-private.h"

#include <math.h>
#include <string.h>

typedef struct {
    SvTimeNs total_ns; /* the predictor's memoised total; 0 = empty slot */
    SvTimeNs max_ns;   /* and its slowest stage */
    uint32_t shares;   /* index of the entry's first share in memo->shares */
} Entry;

struct SvStageMemo {
    int num_stages;
    Entry *slots;      /* open addressing, linear probing */
    size_t mask;       /* slots - 1, a power of two minus one */
    size_t used;       /* occupied slots */
    GArray *shares;    /* double, num_stages per entry: each stage's share of the total */
    double *scratch_s; /* num_stages stage times of one batch */
};

SvStageMemo *sv__stage_memo_new(int num_stages)
{
    g_return_val_if_fail(num_stages > 1, NULL);
    SvStageMemo *m = g_new0(SvStageMemo, 1);
    m->num_stages = num_stages;
    m->mask = 255;
    m->slots = g_new0(Entry, m->mask + 1);
    m->shares = g_array_new(FALSE, FALSE, sizeof(double));
    m->scratch_s = g_new0(double, num_stages);
    return m;
}

void sv__stage_memo_free(SvStageMemo *memo)
{
    if (memo == NULL)
        return;
    g_free(memo->slots);
    g_array_unref(memo->shares);
    g_free(memo->scratch_s);
    g_free(memo);
}

static size_t slot_of(const SvStageMemo *m, SvTimeNs total_ns, SvTimeNs max_ns)
{
    uint64_t h =
        (uint64_t)total_ns * 0x9E3779B97F4A7C15ULL ^ (uint64_t)max_ns * 0xC2B2AE3D27D4EB4FULL;
    h ^= h >> 29;
    return (size_t)h & m->mask;
}

static void grow(SvStageMemo *m)
{
    Entry *old = m->slots;
    size_t old_n = m->mask + 1;
    m->mask = old_n * 2 - 1;
    m->slots = g_new0(Entry, m->mask + 1);
    for (size_t i = 0; i < old_n; i++) {
        if (old[i].total_ns == 0)
            continue;
        size_t j = slot_of(m, old[i].total_ns, old[i].max_ns);
        while (m->slots[j].total_ns != 0)
            j = (j + 1) & m->mask;
        m->slots[j] = old[i];
    }
    g_free(old);
}

/* The shares of @shape's bucket: found, or computed and kept. */
static const double *shares_of(SvStageMemo *m, SvPredictor *predictor, const SvBatchShape *shape)
{
    SvTimeNs total_ns = sv_predictor_iteration_ns(predictor, shape, NULL);
    SvTimeNs max_ns = sv_predictor_stage_max_ns(predictor, shape);
    SV_ASSERT(total_ns > 0, "pipeline batch with a predicted time of %" G_GINT64_FORMAT " ns",
              total_ns);
    size_t j = slot_of(m, total_ns, max_ns);
    for (; m->slots[j].total_ns != 0; j = (j + 1) & m->mask)
        if (m->slots[j].total_ns == total_ns && m->slots[j].max_ns == max_ns)
            return &g_array_index(m->shares, double, m->slots[j].shares);
    double sum = sv_predictor_stage_times(predictor, shape, m->scratch_s, NULL);
    SV_ASSERT(sum > 0, "pipeline stages of a batch sum to %g s", sum);
    uint32_t at = m->shares->len;
    for (int s = 0; s < m->num_stages; s++) {
        double share = m->scratch_s[s] / sum;
        g_array_append_val(m->shares, share);
    }
    m->slots[j] = (Entry){total_ns, max_ns, at};
    if (++m->used * 2 > m->mask + 1)
        grow(m);
    return &g_array_index(m->shares, double, at);
}

void sv__stage_split(SvStageMemo *memo, SvPredictor *predictor, const SvBatchShape *shape,
                     SvTimeNs total_ns, SvTimeNs *stage_ns)
{
    const double *share = shares_of(memo, predictor, shape);
    /* Cumulative rounding: the parts sum to the total exactly. */
    double cum = 0;
    SvTimeNs given = 0;
    for (int s = 0; s < memo->num_stages; s++) {
        cum += share[s];
        SvTimeNs upto = s == memo->num_stages - 1 ? total_ns : (SvTimeNs)llround(cum * total_ns);
        stage_ns[s] = MAX(upto - given, 0);
        given += stage_ns[s];
    }
}
