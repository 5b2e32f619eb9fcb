/* Exact order statistics with bounded memory (quantile.h): an external merge
 * sort of 16-byte (key, value) pairs, and per-group summaries read off its
 * sorted stream. Runs are sorted in memory and written whole; the merge
 * reads each through a 16 KiB buffer, so summarising N values holds
 * min(N, limit) pairs plus 16 KiB per run. */
#include "metrics/quantile.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

/* Pairs read from a spilled run at a time: 16 KiB (a 10 M-request summary
 * merges some 160 runs). */
#define RUN_BUF_PAIRS 1024
/* Pairs a sorter starts with before it grows towards its limit. */
#define FIRST_CAP 4096
/* Groups counted in a dense array; more go to a hash table (tenants x
 * classes x metrics can reach 50 M, and only a few of them are used). */
#define DENSE_GROUPS ((uint64_t)1 << 20)

typedef struct {
    off_t start;     /* offset of the run's first pair in the file, bytes */
    size_t len;      /* pairs in the run */
    size_t read;     /* pairs read into the buffer so far */
    SvSortPair *buf; /* the pairs at hand (the memory run: the sorter's own array) */
    size_t buf_len;  /* pairs in buf */
    size_t buf_pos;  /* next pair of buf */
    gboolean owned;  /* buf is this run's read buffer (g_free) */
} Run;

struct SvPairSort {
    size_t mem_pairs;  /* limit before a spill; 0: none */
    char *dir;         /* where the temporary file goes, or NULL */
    SvSortPair *mem;   /* pairs not yet spilled */
    size_t len, cap;   /* pairs in mem, and its room */
    size_t count;      /* pairs added */
    int fd;            /* the deleted temporary file, or -1 */
    off_t file_bytes;  /* bytes written to it */
    gboolean no_spill; /* the file failed once: keep everything in memory */
    GArray *runs;      /* Run */
    gboolean reading;  /* sv_pair_sort_next was called */
    int *heap;         /* run indices, a min-heap on their next pair */
    int heap_len;      /* runs not exhausted */
    size_t spilled;    /* runs written to the file */
};

static inline int pair_cmp(const SvSortPair *a, const SvSortPair *b)
{
    if (a->key != b->key)
        return a->key < b->key ? -1 : 1;
    return (a->value > b->value) - (a->value < b->value);
}

static int pair_qsort_cmp(const void *a, const void *b)
{
    return pair_cmp(a, b);
}

uint64_t sv_double_order_key(double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    /* Negative numbers: all bits flipped (larger magnitude, smaller key);
     * positive: the sign bit set, so they sort above every negative. */
    return (bits >> 63) != 0 ? ~bits : bits | ((uint64_t)1 << 63);
}

double sv_double_from_order_key(uint64_t key)
{
    uint64_t bits = (key >> 63) != 0 ? key & ~((uint64_t)1 << 63) : ~key;
    double v;
    memcpy(&v, &bits, sizeof v);
    return v;
}

SvPairSort *sv_pair_sort_new(size_t mem_pairs, const char *spill_dir)
{
    SvPairSort *s = g_new0(SvPairSort, 1);
    s->mem_pairs = mem_pairs;
    s->dir = g_strdup(spill_dir);
    s->fd = -1;
    s->runs = g_array_new(FALSE, TRUE, sizeof(Run));
    return s;
}

void sv_pair_sort_free(SvPairSort *s)
{
    if (s == NULL)
        return;
    for (guint i = 0; i < s->runs->len; i++) {
        Run *r = &g_array_index(s->runs, Run, i);
        if (r->owned)
            g_free(r->buf);
    }
    g_array_free(s->runs, TRUE);
    if (s->fd >= 0)
        close(s->fd);
    g_free(s->mem);
    g_free(s->heap);
    g_free(s->dir);
    g_free(s);
}

size_t sv_pair_sort_count(const SvPairSort *s)
{
    return s->count;
}

size_t sv_pair_sort_spilled_runs(const SvPairSort *s)
{
    return s->spilled;
}

/* Sort the pairs in memory and append them to the file as one run. FALSE
 * when the file cannot be made or written; the pairs are then still in
 * memory. */
static gboolean spill(SvPairSort *s)
{
    if (s->fd < 0) {
        g_autofree char *tmpl = g_build_filename(s->dir != NULL ? s->dir : g_get_tmp_dir(),
                                                 "servesim-values-XXXXXX", NULL);
        s->fd = g_mkstemp(tmpl);
        if (s->fd < 0)
            return FALSE;
        g_unlink(tmpl); /* gone with the descriptor, even after a crash */
    }
    qsort(s->mem, s->len, sizeof(SvSortPair), pair_qsort_cmp);
    const char *p = (const char *)s->mem;
    size_t left = s->len * sizeof(SvSortPair);
    off_t at = s->file_bytes;
    while (left > 0) {
        ssize_t w = pwrite(s->fd, p, left, at);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return FALSE; /* the bytes written are simply never read */
        p += w;
        left -= (size_t)w;
        at += w;
    }
    Run run = {.start = s->file_bytes, .len = s->len};
    g_array_append_val(s->runs, run);
    s->file_bytes = at;
    s->len = 0;
    s->spilled++;
    return TRUE;
}

void sv_pair_sort_add(SvPairSort *s, uint64_t key, uint64_t value)
{
    g_return_if_fail(s != NULL && !s->reading);
    if (G_UNLIKELY(s->len == s->cap)) {
        gboolean at_limit = s->mem_pairs > 0 && s->cap >= s->mem_pairs;
        if (!(at_limit && !s->no_spill && spill(s))) {
            if (at_limit)
                s->no_spill = TRUE;
            size_t cap = MAX(s->cap * 2, (size_t)FIRST_CAP);
            if (s->mem_pairs > 0 && !s->no_spill)
                cap = MIN(cap, s->mem_pairs);
            if (cap > s->cap) {
                s->mem = g_renew(SvSortPair, s->mem, cap);
                s->cap = cap;
            }
        }
    }
    s->mem[s->len++] = (SvSortPair){key, value};
    s->count++;
}

/* Fill @r's buffer with its next pairs from the file; FALSE when the run
 * is exhausted. */
static gboolean refill(SvPairSort *s, Run *r)
{
    if (!r->owned || r->read >= r->len)
        return FALSE;
    size_t want = MIN((size_t)RUN_BUF_PAIRS, r->len - r->read);
    char *p = (char *)r->buf;
    size_t left = want * sizeof(SvSortPair);
    off_t at = r->start + (off_t)(r->read * sizeof(SvSortPair));
    while (left > 0) {
        ssize_t got = pread(s->fd, p, left, at);
        if (got < 0 && errno == EINTR)
            continue;
        /* The file is ours and was written whole: a failure here is the
         * disk's, not the input's. */
        SV_ASSERT(got > 0, "reading back spilled values: %s",
                  got < 0 ? g_strerror(errno) : "unexpected end of file");
        p += got;
        left -= (size_t)got;
        at += got;
    }
    r->read += want;
    r->buf_len = want;
    r->buf_pos = 0;
    return TRUE;
}

static gboolean heap_less(const SvPairSort *s, int a, int b)
{
    const Run *x = &g_array_index(s->runs, Run, a), *y = &g_array_index(s->runs, Run, b);
    int c = pair_cmp(&x->buf[x->buf_pos], &y->buf[y->buf_pos]);
    return c < 0 || (c == 0 && a < b);
}

static void sift_down(SvPairSort *s, int i)
{
    for (;;) {
        int l = 2 * i + 1, m = i;
        if (l < s->heap_len && heap_less(s, s->heap[l], s->heap[m]))
            m = l;
        if (l + 1 < s->heap_len && heap_less(s, s->heap[l + 1], s->heap[m]))
            m = l + 1;
        if (m == i)
            return;
        int t = s->heap[i];
        s->heap[i] = s->heap[m];
        s->heap[m] = t;
        i = m;
    }
}

/* End adding: the pairs still in memory become the last run, sorted in
 * place; each spilled run gets its read buffer; the heap is built. */
static void start_reading(SvPairSort *s)
{
    s->reading = TRUE;
    if (s->len > 0) {
        qsort(s->mem, s->len, sizeof(SvSortPair), pair_qsort_cmp);
        Run mem = {.len = s->len, .read = s->len, .buf = s->mem, .buf_len = s->len};
        g_array_append_val(s->runs, mem);
    }
    s->heap = g_new(int, MAX(s->runs->len, 1));
    for (guint i = 0; i < s->runs->len; i++) {
        Run *r = &g_array_index(s->runs, Run, i);
        if (r->buf == NULL) {
            r->buf = g_new(SvSortPair, RUN_BUF_PAIRS);
            r->owned = TRUE;
            if (!refill(s, r))
                continue;
        }
        s->heap[s->heap_len++] = (int)i;
    }
    for (int i = s->heap_len / 2 - 1; i >= 0; i--)
        sift_down(s, i);
}

gboolean sv_pair_sort_next(SvPairSort *s, SvSortPair *out)
{
    g_return_val_if_fail(s != NULL && out != NULL, FALSE);
    if (G_UNLIKELY(!s->reading))
        start_reading(s);
    if (s->heap_len == 0)
        return FALSE;
    Run *r = &g_array_index(s->runs, Run, s->heap[0]);
    *out = r->buf[r->buf_pos++];
    if (r->buf_pos == r->buf_len && !refill(s, r))
        s->heap[0] = s->heap[--s->heap_len];
    if (s->heap_len > 1)
        sift_down(s, 0);
    return TRUE;
}

/* ---- per-group summaries ---- */

void sv__percentile_rank(size_t n, double percentile, size_t *lo, double *frac, gboolean *last)
{
    double p = CLAMP(percentile, 0.0, 100.0);
    double h = (double)(n - 1) * p / 100.0;
    *lo = (size_t)floor(h);
    *last = *lo >= n - 1;
    *frac = h - (double)*lo;
}

struct SvQuantiles {
    SvPairSort *sort;
    uint64_t num_groups;
    int64_t *dense;     /* values per group, when num_groups <= DENSE_GROUPS */
    GHashTable *sparse; /* group + 1 -> values (as pointers), otherwise */
};

SvQuantiles *sv_quantiles_new(uint64_t num_groups, size_t mem_values, const char *spill_dir)
{
    SvQuantiles *q = g_new0(SvQuantiles, 1);
    q->sort = sv_pair_sort_new(mem_values, spill_dir);
    q->num_groups = num_groups;
    if (num_groups <= DENSE_GROUPS)
        q->dense = g_new0(int64_t, MAX(num_groups, 1));
    else
        q->sparse = g_hash_table_new(g_direct_hash, g_direct_equal);
    return q;
}

void sv_quantiles_free(SvQuantiles *q)
{
    if (q == NULL)
        return;
    sv_pair_sort_free(q->sort);
    g_free(q->dense);
    if (q->sparse != NULL)
        g_hash_table_destroy(q->sparse);
    g_free(q);
}

void sv_quantiles_add(SvQuantiles *q, uint64_t group, double value)
{
    g_return_if_fail(q != NULL && group < q->num_groups);
    if (q->dense != NULL) {
        q->dense[group]++;
    } else {
        gpointer k = GSIZE_TO_POINTER((gsize)group + 1);
        gsize n = GPOINTER_TO_SIZE(g_hash_table_lookup(q->sparse, k));
        g_hash_table_insert(q->sparse, k, GSIZE_TO_POINTER(n + 1));
    }
    sv_pair_sort_add(q->sort, group, sv_double_order_key(value));
}

static int64_t group_count(const SvQuantiles *q, uint64_t group)
{
    if (q->dense != NULL)
        return q->dense[group];
    return (int64_t)GPOINTER_TO_SIZE(
        g_hash_table_lookup(q->sparse, GSIZE_TO_POINTER((gsize)group + 1)));
}

static double finite_or_zero(double x)
{
    return isfinite(x) ? x : 0.0;
}

/* One percentile being picked off the stream. */
typedef struct {
    size_t lo;     /* rank of the lower neighbour, from 0 */
    double frac;   /* weight of the upper one */
    gboolean last; /* the largest value (lo >= n - 1) */
    double a, b;   /* values at ranks lo and lo + 1 */
} Pick;

void sv_quantiles_finish(SvQuantiles *q, double extra_percentile, SvQuantileFn fn, void *user_data)
{
    g_return_if_fail(q != NULL && fn != NULL);
    const double pcts[4] = {50.0, 90.0, 99.0, extra_percentile};
    SvSortPair p;
    gboolean more = sv_pair_sort_next(q->sort, &p);
    while (more) {
        uint64_t group = p.key;
        int64_t n = group_count(q, group);
        SV_ASSERT(n > 0, "group %" G_GUINT64_FORMAT " has values but no count", group);
        Pick pick[4];
        for (int k = 0; k < 4; k++) {
            pick[k] = (Pick){0};
            sv__percentile_rank((size_t)n, pcts[k], &pick[k].lo, &pick[k].frac, &pick[k].last);
        }
        /* Summed in ascending order, as the in-memory path does. */
        double sum = 0.0, x = 0.0;
        int64_t i = 0;
        for (; more && p.key == group; i++) {
            x = sv_double_from_order_key(p.value);
            sum += x;
            for (int k = 0; k < 4; k++) {
                if ((size_t)i == pick[k].lo)
                    pick[k].a = x;
                else if ((size_t)i == pick[k].lo + 1)
                    pick[k].b = x;
            }
            more = sv_pair_sort_next(q->sort, &p);
        }
        SV_ASSERT(i == n,
                  "group %" G_GUINT64_FORMAT ": %" G_GINT64_FORMAT
                  " values read back of %" G_GINT64_FORMAT,
                  group, i, n);
        double v[4];
        for (int k = 0; k < 4; k++)
            v[k] = pick[k].last ? x : pick[k].a + pick[k].frac * (pick[k].b - pick[k].a);
        SvDist d = {
            .mean = finite_or_zero(sum / (double)n),
            .p50 = finite_or_zero(v[0]),
            .p90 = finite_or_zero(v[1]),
            .p99 = finite_or_zero(v[2]),
            .max = finite_or_zero(x),
        };
        fn(user_data, group, n, &d, v[3]);
    }
}
