/* Run metrics: request records in fixed-size chunks (so a million-request run
 * never copies its records on growth), an HDR-style log-linear histogram of
 * inter-token gaps (O(1) add, no allocation), time-series rows, and the
 * summary statistics (exact percentiles over requests, histogram ones for ITL).
 * The percentiles sort through metrics/quantile.c, which spills to disk past
 * a limit, so that summarising does not need memory in proportion to the run.
 */
#include "metrics/metrics.h"
#include "metrics/quantile.h"

#include <fcntl.h>
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* Records per chunk: 16 Ki x 64 bytes = 1 MiB, so a 1 M-request run holds 64
 * chunks (64 MiB) and a small run touches only the pages it uses. */
#define CHUNK_BITS    14
#define SIDE_KEEP     8 /* chunks of each spilled side table kept in memory */
#define CHUNK_RECORDS (1u << CHUNK_BITS)
#define CHUNK_BYTES   ((size_t)CHUNK_RECORDS * sizeof(SvRequestRecord)) /* pages: 16 Ki x n */

/* ITL histogram layout (HdrHistogram's log-linear scheme): values below
 * 2^SUB_BITS ns get one bucket each; above, every power-of-two octave
 * [2^k, 2^(k+1)) is split into 2^SUB_BITS equal buckets, so a bucket is at most
 * 1/256 = 0.39 % of its lower bound wide (under the 0.5 % asked for), and its
 * midpoint is within 0.2 % of any value in it. Covering every positive int64
 * costs 14336 buckets (112 KiB); the index is a count-leading-zeros and a
 * shift. */
#define SUB_BITS    8
#define SUB_COUNT   (1 << SUB_BITS)
#define ITL_BUCKETS ((63 - SUB_BITS) * SUB_COUNT + SUB_COUNT)

/* Rows appended one at a time and read back in order at the end (the time
 * series and the per-pool power beside it): on the heap, or, in a spilled
 * run, mapped from a deleted file of their own whose pages leave memory as
 * soon as a row is written and again as a reader passes them, so they do
 * not grow with simulated time. */
typedef struct {
    size_t elem;      /* bytes per row; 0: no rows are kept */
    GArray *heap;     /* the rows when not mapped */
    int fd;           /* mapped: the file, else -1 */
    char *map;        /* cap rows mapped */
    size_t cap;       /* rows the mapping holds */
    size_t len;       /* rows written to the mapping */
    size_t kept_from; /* bytes below this offset are dropped from memory */
    gboolean tried;   /* the file was made (or failed): not again */
} SpillRows;

static void rows_init(SpillRows *r, size_t elem);
static void rows_free(SpillRows *r);

struct SvMetrics {
    SvSloConfig slo;   /* copied at creation */
    GPtrArray *chunks; /* SvRequestRecord[CHUNK_RECORDS] each, owned */
    size_t n_records;  /* records added */
    /* sv_metrics_spill: record chunks mapped from a deleted temporary
     * file. A chunk not in use is dropped from memory (the file keeps it)
     * and read back from the page cache or disk when touched again. */
    int spill_fd;                    /* the file, or -1: chunks on the heap */
    GArray *chunk_mapped;            /* gboolean per chunk: mapped from spill_fd (else g_new) */
    size_t hot_chunk;                /* spilled: the chunk last touched, kept in memory */
    char *spill_dir;                 /* where spilled summaries go (NULL: the system's) */
    size_t quantile_mem;             /* values a summary keeps in memory; 0: no limit */
    SpillRows samples;               /* SvSample rows */
    int64_t itl_count;               /* gaps recorded */
    int64_t itl_sum_ns;              /* exact sum of gaps, ns */
    int64_t itl_min_ns;              /* smallest gap, ns */
    int64_t itl_max_ns;              /* largest gap, ns */
    int64_t itl_counts[ITL_BUCKETS]; /* gaps per bucket */
    SvSloClass *classes;             /* n_classes, names owned; [0] = "default" */
    int n_classes;
    char **tenants; /* n_tenants names, owned */
    int n_tenants;
    /* Per SideTable, chunks of CHUNK_RECORDS elements by request id
     * (SvRequestKv, SvRequestTransfer, double J); NULL until one is set. */
    GPtrArray *side[3];
    /* Spilled: the three tables' chunks above are mapped from a second
     * deleted file, and only the two chunks each table touched last stay
     * in memory (ids finish roughly in order, stragglers a chunk behind). */
    int side_fd;             /* that file, or -1 */
    off_t side_bytes;        /* bytes of it handed out */
    GHashTable *side_mapped; /* chunk pointers mapped from side_fd (a set), or NULL */
    /* Per table (SideTable), the chunks kept in memory, a FIFO ring: the
     * ids in flight at once span several chunks at cluster scale (1,200
     * req/s x tens of seconds in the system is 3-4 chunks of 16 Ki), and
     * keeping fewer than that made every touch drop a chunk that the next
     * one re-read from the file. */
    size_t side_hot[3][SIDE_KEEP];
    int side_hot_next[3]; /* the ring slot the next newcomer replaces */
    char **power_pools;   /* n_power_pools names for power_w_<pool> columns, owned */
    int n_power_pools;
    SpillRows pool_power; /* n_power_pools doubles per sample, W (elem 0: none) */
};

const char *sv_reject_reason_name(SvRejectReason reason)
{
    switch (reason) {
    case SV_REJECT_NONE:
        return "none";
    case SV_REJECT_TOO_LONG:
        return "too_long";
    case SV_REJECT_KV_CAPACITY:
        return "kv_capacity";
    case SV_REJECT_QUEUE_FULL:
        return "queue_full";
    case SV_REJECT_RATE_LIMITED:
        return "rate_limited";
    case SV_REJECT_SLO_PREDICTED_MISS:
        return "slo_predicted_miss";
    }
    return "unknown";
}

SvMetrics *sv_metrics_new(const SvSloConfig *slo)
{
    SvMetrics *metrics = g_new0(SvMetrics, 1);
    if (slo != NULL)
        metrics->slo = *slo;
    metrics->chunks = g_ptr_array_new();
    metrics->chunk_mapped = g_array_new(FALSE, FALSE, sizeof(gboolean));
    metrics->spill_fd = -1;
    metrics->side_fd = -1;
    rows_init(&metrics->samples, sizeof(SvSample));
    rows_init(&metrics->pool_power, 0);
    /* Summaries spill past this many values even without sv_metrics_spill
     * (to the system's temporary folder): a capacity search's fleet checks
     * run up to millions of requests on every thread. */
    metrics->quantile_mem = SV_QUANTILE_MEM_DEFAULT;
    memset(metrics->side_hot, 0xff, sizeof(metrics->side_hot)); /* SIZE_MAX: none */
    metrics->itl_min_ns = INT64_MAX;
    SvSloClass def = {.name = (char *)"default",
                      .ttft_s = metrics->slo.ttft_s,
                      .tpot_s = metrics->slo.tpot_s,
                      .e2e_s = metrics->slo.e2e_s};
    sv_metrics_set_slo_classes(metrics, &def, 1);
    const char *const one[] = {"default"};
    sv_metrics_set_tenants(metrics, one, 1);
    return metrics;
}

static void free_classes(SvMetrics *metrics)
{
    for (int i = 0; i < metrics->n_classes; i++)
        g_free(metrics->classes[i].name);
    g_free(metrics->classes);
    metrics->classes = NULL;
    metrics->n_classes = 0;
}

static void free_tenants(SvMetrics *metrics)
{
    for (int i = 0; i < metrics->n_tenants; i++)
        g_free(metrics->tenants[i]);
    g_free(metrics->tenants);
    metrics->tenants = NULL;
    metrics->n_tenants = 0;
}

void sv_metrics_set_slo_classes(SvMetrics *metrics, const SvSloClass *classes, int n)
{
    g_return_if_fail(metrics != NULL && classes != NULL && n >= 1 && n <= 256);
    free_classes(metrics);
    metrics->classes = g_new0(SvSloClass, n);
    for (int i = 0; i < n; i++) {
        metrics->classes[i] = classes[i];
        metrics->classes[i].name = g_strdup(classes[i].name);
    }
    metrics->n_classes = n;
}

int sv_metrics_num_slo_classes(const SvMetrics *metrics)
{
    g_return_val_if_fail(metrics != NULL, 0);
    return metrics->n_classes;
}

const SvSloClass *sv_metrics_slo_class(const SvMetrics *metrics, int index)
{
    g_return_val_if_fail(metrics != NULL && index >= 0 && index < metrics->n_classes, NULL);
    return &metrics->classes[index];
}

void sv_metrics_set_tenants(SvMetrics *metrics, const char *const *names, int n)
{
    g_return_if_fail(metrics != NULL && names != NULL && n >= 1 && n <= 65536);
    free_tenants(metrics);
    metrics->tenants = g_new0(char *, n);
    for (int i = 0; i < n; i++)
        metrics->tenants[i] = g_strdup(names[i]);
    metrics->n_tenants = n;
}

int sv_metrics_num_tenants(const SvMetrics *metrics)
{
    g_return_val_if_fail(metrics != NULL, 0);
    return metrics->n_tenants;
}

const char *sv_metrics_tenant_name(const SvMetrics *metrics, int index)
{
    g_return_val_if_fail(metrics != NULL && index >= 0 && index < metrics->n_tenants, NULL);
    return metrics->tenants[index];
}

/* ---- per-request tables by id (KV, transfer, energy) ---- */

typedef enum { SIDE_KV, SIDE_XFER, SIDE_ENERGY } SideTable;
static const size_t side_elem[] = {[SIDE_KV] = sizeof(SvRequestKv),
                                   [SIDE_XFER] = sizeof(SvRequestTransfer),
                                   [SIDE_ENERGY] = sizeof(double)};

/* A table chunk of @elem_bytes x CHUNK_RECORDS zero bytes: mapped from the
 * side file when the metrics spill and the disk has room, else on the heap. */
static void *side_chunk_new(SvMetrics *m, size_t elem_bytes)
{
    size_t bytes = elem_bytes * CHUNK_RECORDS;
    if (m->spill_fd >= 0 && m->side_fd < 0) {
        g_autofree char *tmpl = g_build_filename(
            m->spill_dir != NULL ? m->spill_dir : g_get_tmp_dir(), "servesim-side-XXXXXX", NULL);
        m->side_fd = g_mkstemp(tmpl);
        if (m->side_fd >= 0)
            g_unlink(tmpl);
    }
    if (m->side_fd >= 0 && posix_fallocate(m->side_fd, m->side_bytes, (off_t)bytes) == 0) {
        void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, m->side_fd, m->side_bytes);
        if (p != MAP_FAILED) {
            m->side_bytes += (off_t)bytes;
            if (m->side_mapped == NULL)
                m->side_mapped = g_hash_table_new(g_direct_hash, g_direct_equal);
            g_hash_table_add(m->side_mapped, p);
            return p; /* a new file region reads as zeros */
        }
    }
    return g_malloc0(bytes);
}

/* Spilled tables: note that @table's chunk @chunk is in use, and drop from
 * memory (not from the file) the oldest of the SIDE_KEEP kept when it is a
 * newcomer. The kept chunks are a cache, not state: hence the cast. */
static void side_touch(const SvMetrics *metrics, SideTable table, size_t chunk)
{
    SvMetrics *m = (SvMetrics *)metrics;
    if (m->side_mapped == NULL)
        return;
    size_t *hot = m->side_hot[table];
    for (int i = 0; i < SIDE_KEEP; i++)
        if (hot[i] == chunk)
            return;
    int slot = m->side_hot_next[table];
    GPtrArray *chunks = m->side[table];
    if (hot[slot] < chunks->len) {
        void *old = chunks->pdata[hot[slot]];
        if (old != NULL && g_hash_table_contains(m->side_mapped, old))
            madvise(old, side_elem[table] * CHUNK_RECORDS, MADV_DONTNEED);
    }
    hot[slot] = chunk;
    m->side_hot_next[table] = (slot + 1) % SIDE_KEEP;
}

/* Request @id's element of @table, its chunk made (zeroed; a transfer
 * chunk's decode replicas -1: none) and touched. */
static void *side_slot(SvMetrics *m, SideTable table, int64_t id)
{
    if (m->side[table] == NULL)
        m->side[table] = g_ptr_array_new();
    GPtrArray *chunks = m->side[table];
    size_t chunk = (size_t)id >> CHUNK_BITS;
    while (chunks->len <= chunk)
        g_ptr_array_add(chunks, NULL);
    if (chunks->pdata[chunk] == NULL) {
        chunks->pdata[chunk] = side_chunk_new(m, side_elem[table]);
        if (table == SIDE_XFER) {
            SvRequestTransfer *t = chunks->pdata[chunk];
            for (size_t i = 0; i < CHUNK_RECORDS; i++)
                t[i].decode_replica = -1;
        }
    }
    side_touch(m, table, chunk);
    return (char *)chunks->pdata[chunk] + ((size_t)id & (CHUNK_RECORDS - 1)) * side_elem[table];
}

/* Request @id's element of @table, or NULL when none was ever set in its chunk. */
static const void *side_find(const SvMetrics *m, SideTable table, int64_t id)
{
    const GPtrArray *chunks = m->side[table];
    size_t chunk = (size_t)id >> CHUNK_BITS;
    if (id < 0 || chunks == NULL || chunk >= chunks->len || chunks->pdata[chunk] == NULL)
        return NULL;
    side_touch(m, table, chunk);
    return (const char *)chunks->pdata[chunk] +
           ((size_t)id & (CHUNK_RECORDS - 1)) * side_elem[table];
}

static void side_table_free(SvMetrics *m, SideTable table)
{
    GPtrArray *chunks = m->side[table];
    if (chunks == NULL)
        return;
    for (guint i = 0; i < chunks->len; i++) {
        void *p = chunks->pdata[i];
        if (p != NULL && m->side_mapped != NULL && g_hash_table_contains(m->side_mapped, p))
            munmap(p, side_elem[table] * CHUNK_RECORDS);
        else
            g_free(p);
    }
    g_ptr_array_free(chunks, TRUE);
}

void sv_metrics_free(SvMetrics *metrics)
{
    if (metrics == NULL)
        return;
    for (guint i = 0; i < metrics->chunks->len; i++) {
        if (g_array_index(metrics->chunk_mapped, gboolean, i))
            munmap(metrics->chunks->pdata[i], CHUNK_BYTES);
        else
            g_free(metrics->chunks->pdata[i]);
    }
    g_ptr_array_free(metrics->chunks, TRUE);
    g_array_free(metrics->chunk_mapped, TRUE);
    if (metrics->spill_fd >= 0)
        close(metrics->spill_fd);
    g_free(metrics->spill_dir);
    rows_free(&metrics->samples);
    free_classes(metrics);
    free_tenants(metrics);
    side_table_free(metrics, SIDE_KV);
    side_table_free(metrics, SIDE_XFER);
    side_table_free(metrics, SIDE_ENERGY);
    if (metrics->side_mapped != NULL)
        g_hash_table_destroy(metrics->side_mapped);
    if (metrics->side_fd >= 0)
        close(metrics->side_fd);
    g_strfreev(metrics->power_pools);
    rows_free(&metrics->pool_power);
    g_free(metrics);
}

gboolean sv_metrics_spill(SvMetrics *metrics, const char *dir)
{
    g_return_val_if_fail(metrics != NULL, FALSE);
    if (metrics->spill_fd >= 0)
        return TRUE;
    g_autofree char *tmpl =
        g_build_filename(dir != NULL ? dir : g_get_tmp_dir(), "servesim-records-XXXXXX", NULL);
    int fd = g_mkstemp(tmpl);
    if (fd < 0)
        return FALSE;
    g_unlink(tmpl); /* the file lives as long as the descriptor, and goes with it */
    metrics->spill_fd = fd;
    /* The summaries' sorts spill beside the records. */
    g_free(metrics->spill_dir);
    metrics->spill_dir = g_strdup(dir);
    return TRUE;
}

void sv_metrics_set_spill_values(SvMetrics *metrics, size_t values)
{
    g_return_if_fail(metrics != NULL);
    metrics->quantile_mem = values;
}

SvPairSort *sv__metrics_pair_sort_new(const SvMetrics *metrics)
{
    return sv_pair_sort_new(metrics->quantile_mem, metrics->spill_dir);
}

/* A sorter for @groups groups of values, spilling as the metrics do. */
static SvQuantiles *quantiles_new(const SvMetrics *metrics, uint64_t groups)
{
    return sv_quantiles_new(groups, metrics->quantile_mem, metrics->spill_dir);
}

/* A new record chunk: mapped from the spill file when there is one and
 * the disk has room (space is reserved up front, so a full disk means a heap
 * chunk now rather than a SIGBUS at a later write), else on the heap. */
static SvRequestRecord *chunk_new(SvMetrics *m, gboolean *mapped)
{
    *mapped = FALSE;
    if (m->spill_fd >= 0) {
        off_t off = (off_t)m->chunks->len * (off_t)CHUNK_BYTES;
        if (posix_fallocate(m->spill_fd, off, (off_t)CHUNK_BYTES) == 0) {
            void *p = mmap(NULL, CHUNK_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, m->spill_fd, off);
            if (p != MAP_FAILED) {
                *mapped = TRUE;
                return p;
            }
        }
    }
    return g_new(SvRequestRecord, CHUNK_RECORDS);
}

/* Spilled records: make @chunk the one kept in memory, dropping the one
 * before (its pages stay in the file). Loops over the records then hold one
 * chunk at a time. The hot chunk is a cache, not state: hence the cast. */
static void touch_chunk(const SvMetrics *metrics, size_t chunk)
{
    SvMetrics *m = (SvMetrics *)metrics;
    if (chunk == m->hot_chunk)
        return;
    if (m->hot_chunk < m->chunks->len && g_array_index(m->chunk_mapped, gboolean, m->hot_chunk))
        madvise(m->chunks->pdata[m->hot_chunk], CHUNK_BYTES, MADV_DONTNEED);
    m->hot_chunk = chunk;
}

void sv_metrics_add_request(SvMetrics *metrics, const SvRequestRecord *record)
{
    g_return_if_fail(metrics != NULL && record != NULL);
    SV_ASSERT(record->slo_class < metrics->n_classes && record->tenant < metrics->n_tenants,
              "request %d: class %d of %d, tenant %d of %d", (int)record->id,
              (int)record->slo_class, metrics->n_classes, (int)record->tenant, metrics->n_tenants);
    size_t chunk = metrics->n_records >> CHUNK_BITS;
    if (chunk == metrics->chunks->len) {
        gboolean mapped;
        g_ptr_array_add(metrics->chunks, chunk_new(metrics, &mapped));
        g_array_append_val(metrics->chunk_mapped, mapped);
    }
    if (G_UNLIKELY(metrics->spill_fd >= 0))
        touch_chunk(metrics, chunk);
    SvRequestRecord *records = metrics->chunks->pdata[chunk];
    records[metrics->n_records & (CHUNK_RECORDS - 1)] = *record;
    metrics->n_records++;
}

size_t sv_metrics_num_requests(const SvMetrics *metrics)
{
    g_return_val_if_fail(metrics != NULL, 0);
    return metrics->n_records;
}

const SvRequestRecord *sv_metrics_request(const SvMetrics *metrics, size_t index)
{
    g_return_val_if_fail(metrics != NULL && index < metrics->n_records, NULL);
    if (G_UNLIKELY(metrics->spill_fd >= 0))
        touch_chunk(metrics, index >> CHUNK_BITS);
    const SvRequestRecord *records = metrics->chunks->pdata[index >> CHUNK_BITS];
    return &records[index & (CHUNK_RECORDS - 1)];
}

static void rows_init(SpillRows *r, size_t elem)
{
    *r = (SpillRows){.elem = elem, .fd = -1};
    r->heap = g_array_new(FALSE, FALSE, (guint)MAX(elem, 1));
}

static void rows_free(SpillRows *r)
{
    if (r->heap != NULL)
        g_array_free(r->heap, TRUE);
    if (r->map != NULL)
        munmap(r->map, r->cap * r->elem);
    if (r->fd >= 0)
        close(r->fd);
    *r = (SpillRows){.fd = -1};
}

/* Room for twice as many mapped rows. FALSE when the file cannot grow or be
 * mapped; the rows then move to the heap for good. */
static gboolean rows_grow(SpillRows *r)
{
    size_t cap = MAX(r->cap * 2, (size_t)4096);
    size_t old_bytes = r->cap * r->elem, bytes = cap * r->elem;
    void *p = MAP_FAILED;
    if (posix_fallocate(r->fd, 0, (off_t)bytes) == 0)
        p = r->map == NULL ? mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, r->fd, 0)
                           : mremap(r->map, old_bytes, bytes, MREMAP_MAYMOVE);
    if (p != MAP_FAILED) {
        r->map = p;
        r->cap = cap;
        return TRUE;
    }
    if (r->map != NULL) {
        g_array_append_vals(r->heap, r->map, (guint)r->len);
        munmap(r->map, old_bytes);
    }
    r->map = NULL;
    close(r->fd);
    r->fd = -1;
    return FALSE;
}

/* Mapped rows: drop the whole pages from @from_bytes up to row @upto from
 * memory (the file keeps them; a later read faults them back in). */
static void rows_drop(SpillRows *r, size_t from_bytes, size_t upto)
{
    if (r->map == NULL)
        return;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t end = MIN(upto, r->len) * r->elem / page * page;
    if (end > from_bytes) {
        madvise(r->map + from_bytes, end - from_bytes, MADV_DONTNEED);
        r->kept_from = MAX(r->kept_from, end);
    }
}

static void rows_append(SvMetrics *m, SpillRows *r, const void *row)
{
    if (r->elem == 0)
        return;
    if (G_UNLIKELY(!r->tried) && m->spill_fd >= 0) {
        /* The first row of a spilled run: the rows get their own file. */
        r->tried = TRUE;
        g_autofree char *tmpl = g_build_filename(
            m->spill_dir != NULL ? m->spill_dir : g_get_tmp_dir(), "servesim-rows-XXXXXX", NULL);
        r->fd = g_mkstemp(tmpl);
        if (r->fd >= 0)
            g_unlink(tmpl);
    }
    if (r->fd >= 0 && (r->len < r->cap || rows_grow(r))) {
        memcpy(r->map + r->len * r->elem, row, r->elem);
        r->len++;
        rows_drop(r, r->kept_from, r->len - 1);
        return;
    }
    g_array_append_vals(r->heap, row, 1);
}

static const void *rows_data(const SpillRows *r, size_t *n_out)
{
    if (r->map != NULL) {
        *n_out = r->len;
        return r->map;
    }
    *n_out = r->heap->len;
    return r->heap->data;
}

void sv_metrics_add_sample(SvMetrics *metrics, const SvSample *sample)
{
    g_return_if_fail(metrics != NULL && sample != NULL);
    rows_append(metrics, &metrics->samples, sample);
}

const SvSample *sv_metrics_samples(const SvMetrics *metrics, size_t *n_out)
{
    g_return_val_if_fail(metrics != NULL, NULL);
    size_t n;
    const SvSample *rows = rows_data(&metrics->samples, &n);
    if (n_out != NULL)
        *n_out = n;
    return rows;
}

void sv_metrics_samples_read(const SvMetrics *metrics, size_t upto)
{
    g_return_if_fail(metrics != NULL);
    /* From the first row: a reader may have faulted any of them back in.
     * The rows are a cache here, not state: hence the casts. */
    rows_drop((SpillRows *)&metrics->samples, 0, upto);
    rows_drop((SpillRows *)&metrics->pool_power, 0, upto);
}

const SvSloConfig *sv_metrics_slo(const SvMetrics *metrics)
{
    g_return_val_if_fail(metrics != NULL, NULL);
    return &metrics->slo;
}

int64_t sv_metrics_count_rejected(const SvMetrics *metrics, SvRejectReason reason)
{
    g_return_val_if_fail(metrics != NULL, 0);
    int64_t n = 0;
    for (size_t i = 0; i < metrics->n_records; i++) {
        const SvRequestRecord *r = sv_metrics_request(metrics, i);
        if (r->outcome == SV_REQ_REJECTED && r->reject_reason == (uint8_t)reason)
            n++;
    }
    return n;
}

/* ---- ITL histogram ---- */

static int itl_bucket(int64_t v_ns)
{
    if (v_ns < SUB_COUNT)
        return (int)v_ns;
    int msb = 63 - __builtin_clzll((unsigned long long)v_ns);
    int shift = msb - SUB_BITS;
    return shift * SUB_COUNT + (int)(v_ns >> shift);
}

/* Lowest value and width (ns) of bucket @index; the inverse of itl_bucket. */
static void itl_bucket_range(int index, int64_t *lo_ns, int64_t *width_ns)
{
    if (index < 2 * SUB_COUNT) {
        /* The first two octaves share shift 0 (width 1 ns). */
        *lo_ns = index;
        *width_ns = 1;
        return;
    }
    int shift = index / SUB_COUNT - 1;
    int64_t sub = index - shift * SUB_COUNT; /* in [SUB_COUNT, 2 SUB_COUNT) */
    *lo_ns = sub << shift;
    *width_ns = (int64_t)1 << shift;
}

void sv_metrics_add_itl(SvMetrics *metrics, SvTimeNs gap_ns)
{
    /* A gap of 0 or less cannot happen in a sane engine; count it as 0 rather
     * than lose it, so count and sum stay consistent. */
    if (gap_ns < 0)
        gap_ns = 0;
    metrics->itl_counts[itl_bucket(gap_ns)]++;
    metrics->itl_count++;
    metrics->itl_sum_ns += gap_ns;
    if (gap_ns > metrics->itl_max_ns)
        metrics->itl_max_ns = gap_ns;
    if (gap_ns < metrics->itl_min_ns)
        metrics->itl_min_ns = gap_ns;
}

void sv_metrics_add_itl_n(SvMetrics *metrics, SvTimeNs gap_ns, int64_t n)
{
    if (n <= 0)
        return;
    if (gap_ns < 0)
        gap_ns = 0;
    metrics->itl_counts[itl_bucket(gap_ns)] += n;
    metrics->itl_count += n;
    metrics->itl_sum_ns += gap_ns * n;
    if (gap_ns > metrics->itl_max_ns)
        metrics->itl_max_ns = gap_ns;
    if (gap_ns < metrics->itl_min_ns)
        metrics->itl_min_ns = gap_ns;
}

double sv_metrics_itl_percentile_s(const SvMetrics *metrics, double percentile)
{
    g_return_val_if_fail(metrics != NULL, 0.0);
    if (metrics->itl_count == 0)
        return 0.0;
    double p = CLAMP(percentile, 0.0, 100.0);
    /* Nearest rank: the smallest value with at least p % of gaps at or below it.
     */
    int64_t rank = (int64_t)ceil(p / 100.0 * (double)metrics->itl_count);
    rank = CLAMP(rank, 1, metrics->itl_count);
    int64_t seen = 0;
    int index = ITL_BUCKETS - 1;
    for (int i = 0; i < ITL_BUCKETS; i++) {
        seen += metrics->itl_counts[i];
        if (seen >= rank) {
            index = i;
            break;
        }
    }
    int64_t lo_ns, width_ns;
    itl_bucket_range(index, &lo_ns, &width_ns);
    /* Midpoint of the integers the bucket holds: exact for 1-ns buckets. */
    double mid_ns = (double)lo_ns + (double)(width_ns - 1) / 2.0;
    mid_ns = CLAMP(mid_ns, (double)metrics->itl_min_ns, (double)metrics->itl_max_ns);
    return mid_ns * 1e-9;
}

/* ---- summary ---- */

/* ns -> s by division, which is correctly rounded (302030000000 ns prints as
 * 302.03), unlike a multiplication by the inexact 1e-9. */
static double ns_to_s(SvTimeNs t_ns)
{
    return (double)t_ns / 1e9;
}

double sv_percentile_sorted(const double *sorted, size_t n, double percentile)
{
    if (n == 0 || sorted == NULL)
        return 0.0;
    size_t lo;
    double frac;
    gboolean last;
    sv__percentile_rank(n, percentile, &lo, &frac, &last);
    if (last)
        return sorted[n - 1];
    return sorted[lo] + frac * (sorted[lo + 1] - sorted[lo]);
}

typedef enum { M_TTFT, M_TPOT, M_E2E, M_QUEUE } Metric;

static double ttft_s(const SvRequestRecord *r)
{
    return ns_to_s(r->first_token_ns - r->arrival_ns);
}

static double e2e_s(const SvRequestRecord *r)
{
    return ns_to_s(r->finish_ns - r->arrival_ns);
}

/* TPOT needs output > 1 (callers check): the decode time after token 1 over
 * the tokens that followed it. */
static double tpot_s(const SvRequestRecord *r)
{
    return ns_to_s(r->finish_ns - r->first_token_ns) / (double)(r->output_tokens - 1);
}

static double queue_s(const SvRequestRecord *r)
{
    return ns_to_s(r->first_scheduled_ns - r->arrival_ns);
}

/* @metric of completed @r into *@v; FALSE when @r has none (TPOT of a
 * one-token output). */
static gboolean metric_value(Metric metric, const SvRequestRecord *r, double *v)
{
    switch (metric) {
    case M_TTFT:
        *v = ttft_s(r);
        return TRUE;
    case M_TPOT:
        if (r->output_tokens <= 1)
            return FALSE;
        *v = tpot_s(r);
        return TRUE;
    case M_E2E:
        *v = e2e_s(r);
        return TRUE;
    case M_QUEUE:
        *v = queue_s(r);
        return TRUE;
    }
    return FALSE;
}

/* Where sv_quantiles_finish puts each group's summary: @dists[group] and
 * @slo[group] (the SLO percentile). */
typedef struct {
    SvDist **dists;
    double *slo;
} DistSink;

static void store_dist(void *user_data, uint64_t group, int64_t n, const SvDist *dist, double extra)
{
    DistSink *sink = user_data;
    *sink->dists[group] = *dist;
    if (sink->slo != NULL)
        sink->slo[group] = extra;
}

static gboolean meets_slo(const SvSloClass *slo, const SvRequestRecord *r)
{
    if (slo->ttft_s > 0 && ttft_s(r) > slo->ttft_s)
        return FALSE;
    /* One output token has no TPOT: it meets that target trivially. */
    if (slo->tpot_s > 0 && r->output_tokens > 1 && tpot_s(r) > slo->tpot_s)
        return FALSE;
    if (slo->e2e_s > 0 && e2e_s(r) > slo->e2e_s)
        return FALSE;
    return TRUE;
}

void sv_metrics_summarize(SvMetrics *metrics, const SvRunTotals *totals, SvSummary *out)
{
    g_return_if_fail(metrics != NULL && out != NULL);
    memset(out, 0, sizeof(*out));
    const SvSloConfig *slo = &metrics->slo;

    SvTimeNs first_arrival = SV_TIME_NEVER, last_finish = 0;
    int64_t meeting = 0, input_tokens = 0, output_tokens = 0, preemptions = 0;
    /* Exact percentiles of the four metrics (groups M_TTFT..M_QUEUE), in
     * bounded memory however many requests there are. */
    g_autoptr(SvQuantiles) q = quantiles_new(metrics, 4);
    for (size_t i = 0; i < metrics->n_records; i++) {
        const SvRequestRecord *r = sv_metrics_request(metrics, i);
        first_arrival = MIN(first_arrival, r->arrival_ns);
        last_finish = MAX(last_finish, r->finish_ns);
        preemptions += r->preemptions;
        if (r->outcome != SV_REQ_COMPLETED) {
            out->rejected++;
            continue;
        }
        for (Metric m = M_TTFT; m <= M_QUEUE; m++) {
            double v;
            if (metric_value(m, r, &v))
                sv_quantiles_add(q, m, v);
        }
        out->completed++;
        input_tokens += r->input_tokens;
        output_tokens += r->output_tokens;
        if (meets_slo(&metrics->classes[r->slo_class], r)) {
            meeting++;
            out->slo_output_tokens += r->output_tokens;
        }
    }
    out->output_tokens = output_tokens;
    /* Duration spans every record, rejected ones included (their finish is
     * the rejection time): first arrival to last finish. */
    if (metrics->n_records > 0 && last_finish > first_arrival)
        out->duration_s = ns_to_s(last_finish - first_arrival);
    out->preemptions = totals != NULL ? totals->preemptions : preemptions;

    double pct = slo->percentile > 0 ? MIN(slo->percentile, 100.0) : 90.0;
    double slo_values[4] = {0, 0, 0, 0};
    SvDist *dists[4] = {&out->ttft_s, &out->tpot_s, &out->e2e_s, &out->queue_s};
    sv_quantiles_finish(q, pct, store_dist, &(DistSink){dists, slo_values});
    double slo_ttft = slo_values[M_TTFT], slo_tpot = slo_values[M_TPOT],
           slo_e2e = slo_values[M_E2E];

    if (metrics->itl_count > 0) {
        out->itl_s.mean = ns_to_s(metrics->itl_sum_ns) / (double)metrics->itl_count;
        out->itl_s.p50 = sv_metrics_itl_percentile_s(metrics, 50.0);
        out->itl_s.p90 = sv_metrics_itl_percentile_s(metrics, 90.0);
        out->itl_s.p99 = sv_metrics_itl_percentile_s(metrics, 99.0);
        out->itl_s.max = ns_to_s(metrics->itl_max_ns);
    }

    if (out->duration_s > 0) {
        out->requests_per_s = (double)out->completed / out->duration_s;
        out->input_tokens_per_s = (double)input_tokens / out->duration_s;
        out->output_tokens_per_s = (double)output_tokens / out->duration_s;
        out->goodput_requests_per_s = (double)meeting / out->duration_s;
    }
    if (out->completed > 0)
        out->slo_attainment = (double)meeting / (double)out->completed;
    /* With no request with output > 1 there is no TPOT to miss: slo_tpot is 0. */
    const SvSloClass *def = &metrics->classes[0];
    out->slo_met = out->completed > 0 && !(def->ttft_s > 0 && slo_ttft > def->ttft_s) &&
                   !(def->tpot_s > 0 && slo_tpot > def->tpot_s) &&
                   !(def->e2e_s > 0 && slo_e2e > def->e2e_s);
    if (metrics->n_classes > 1) {
        /* Several classes: each is judged at the percentile against its own
         * targets, and the run meets its SLO when every class with requests
         * does. */
        size_t n = 0;
        g_autofree SvGroupSummary *classes =
            sv_metrics_summarize_groups(metrics, SV_GROUP_SLO_CLASS, &n);
        gboolean met = out->completed > 0;
        for (size_t c = 0; c < n; c++)
            if (classes[c].completed + classes[c].rejected > 0)
                met = met && classes[c].slo_met;
        out->slo_met = met;
    }
}

/* ---- per tenant and per SLO class ---- */

static size_t group_of(SvGroupBy by, const SvRequestRecord *r)
{
    return by == SV_GROUP_TENANT ? r->tenant : r->slo_class;
}

/* Metric @m's target in class @c (0: none). */
static double class_target(const SvSloClass *c, int m)
{
    return m == 0 ? c->ttft_s : m == 1 ? c->tpot_s : c->e2e_s;
}

/* Group summaries come back keyed group x 3 + metric (TTFT, TPOT, E2E):
 * the distributions into out[], the SLO percentile into slo[] (NAN where
 * the group has no value of that metric). */
typedef struct {
    SvGroupSummary *out;
    double *slo;
} GroupSink;

static void store_group(void *user_data, uint64_t key, int64_t n, const SvDist *dist, double extra)
{
    GroupSink *sink = user_data;
    SvGroupSummary *g = &sink->out[key / 3];
    SvDist *dists[3] = {&g->ttft_s, &g->tpot_s, &g->e2e_s};
    *dists[key % 3] = *dist;
    sink->slo[key] = extra;
}

/* Tenants under several SLO classes: each (tenant, class) share is judged
 * at the SLO percentile against its class's targets; keys are (tenant x
 * classes + class) x 3 + metric. */
typedef struct {
    const SvMetrics *metrics;
    gboolean *failed; /* per tenant: some share misses its class's targets */
} ShareSink;

static void judge_share(void *user_data, uint64_t key, int64_t n, const SvDist *dist, double extra)
{
    ShareSink *sink = user_data;
    uint64_t share = key / 3, classes = (uint64_t)sink->metrics->n_classes;
    double target = class_target(&sink->metrics->classes[share % classes], (int)(key % 3));
    if (target > 0 && extra > target)
        sink->failed[share / classes] = TRUE;
}

SvGroupSummary *sv_metrics_summarize_groups(SvMetrics *metrics, SvGroupBy by, size_t *n_out)
{
    g_return_val_if_fail(metrics != NULL && n_out != NULL, NULL);
    size_t groups = by == SV_GROUP_TENANT ? (size_t)metrics->n_tenants : (size_t)metrics->n_classes;
    SvGroupSummary *out = g_new0(SvGroupSummary, MAX(groups, 1));
    *n_out = groups;

    /* One pass: counts, the run's span, and every completed request's
     * metrics into exact per-group percentiles (bounded memory). A tenant
     * whose requests span several classes also needs each (tenant, class)
     * share's percentiles. */
    const Metric which[3] = {M_TTFT, M_TPOT, M_E2E};
    gboolean shares = by == SV_GROUP_TENANT && metrics->n_classes > 1;
    g_autoptr(SvQuantiles) q = quantiles_new(metrics, (uint64_t)groups * 3);
    g_autoptr(SvQuantiles) qs =
        shares ? quantiles_new(metrics, (uint64_t)groups * (uint64_t)metrics->n_classes * 3) : NULL;
    int64_t *meeting = g_new0(int64_t, MAX(groups, 1));
    SvTimeNs first_arrival = SV_TIME_NEVER, last_finish = 0;
    for (size_t i = 0; i < metrics->n_records; i++) {
        const SvRequestRecord *r = sv_metrics_request(metrics, i);
        size_t g = group_of(by, r);
        first_arrival = MIN(first_arrival, r->arrival_ns);
        last_finish = MAX(last_finish, r->finish_ns);
        if (r->outcome != SV_REQ_COMPLETED) {
            out[g].rejected++;
            continue;
        }
        out[g].completed++;
        if (meets_slo(&metrics->classes[r->slo_class], r))
            meeting[g]++;
        uint64_t share = (uint64_t)g * (uint64_t)metrics->n_classes + r->slo_class;
        for (int m = 0; m < 3; m++) {
            double v;
            if (!metric_value(which[m], r, &v))
                continue;
            sv_quantiles_add(q, (uint64_t)g * 3 + (uint64_t)m, v);
            if (qs != NULL)
                sv_quantiles_add(qs, share * 3 + (uint64_t)m, v);
        }
    }
    double duration_s = 0;
    if (metrics->n_records > 0 && last_finish > first_arrival)
        duration_s = ns_to_s(last_finish - first_arrival);

    double pct = metrics->slo.percentile > 0 ? MIN(metrics->slo.percentile, 100.0) : 90.0;
    double *slo = g_new(double, MAX(groups * 3, 1));
    for (size_t k = 0; k < groups * 3; k++)
        slo[k] = NAN;
    sv_quantiles_finish(q, pct, store_group, &(GroupSink){out, slo});
    gboolean *failed = g_new0(gboolean, MAX(groups, 1));
    if (qs != NULL)
        sv_quantiles_finish(qs, pct, judge_share, &(ShareSink){metrics, failed});
    for (size_t g = 0; g < groups; g++) {
        SvGroupSummary *s = &out[g];
        if (s->completed > 0)
            s->slo_attainment = (double)meeting[g] / (double)s->completed;
        if (duration_s > 0)
            s->goodput_requests_per_s = (double)meeting[g] / duration_s;
        /* A class, or a tenant of the one class: the group's own
         * percentiles against that class's targets; a metric no request
         * has (TPOT of one-token outputs) holds trivially. */
        const SvSloClass *c = &metrics->classes[by == SV_GROUP_SLO_CLASS ? g : 0];
        s->slo_met = s->completed > 0 && !failed[g];
        for (int m = 0; m < 3 && s->slo_met && !shares; m++) {
            double target = class_target(c, m);
            if (target > 0 && !isnan(slo[g * 3 + (size_t)m]) && slo[g * 3 + (size_t)m] > target)
                s->slo_met = FALSE;
        }
    }
    g_free(failed);
    g_free(slo);
    g_free(meeting);
    return out;
}

/* ---- per-request energy and per-pool power ---- */

void sv_metrics_set_request_energy(SvMetrics *metrics, int64_t id, double energy_j)
{
    g_return_if_fail(metrics != NULL && id >= 0);
    *(double *)side_slot(metrics, SIDE_ENERGY, id) = energy_j;
}

double sv_metrics_request_energy(const SvMetrics *metrics, int64_t id)
{
    g_return_val_if_fail(metrics != NULL, 0);
    const double *e = side_find(metrics, SIDE_ENERGY, id);
    return e != NULL ? *e : 0;
}

void sv_metrics_set_power_pools(SvMetrics *metrics, const char *const *names, int n)
{
    g_return_if_fail(metrics != NULL && n >= 0);
    g_strfreev(metrics->power_pools);
    metrics->power_pools = g_new0(char *, n + 1);
    for (int i = 0; i < n; i++)
        metrics->power_pools[i] = g_strdup(names[i]);
    metrics->n_power_pools = n;
    rows_free(&metrics->pool_power);
    rows_init(&metrics->pool_power, sizeof(double) * (size_t)n);
}

void sv_metrics_add_pool_power(SvMetrics *metrics, const double *pool_w)
{
    g_return_if_fail(metrics != NULL && metrics->pool_power.elem > 0);
    rows_append(metrics, &metrics->pool_power, pool_w);
}

const double *sv_metrics_pool_power(const SvMetrics *metrics, size_t i, int *n)
{
    *n = metrics->n_power_pools;
    size_t rows = 0;
    const double *w = metrics->n_power_pools > 0 ? rows_data(&metrics->pool_power, &rows) : NULL;
    return w != NULL && i < rows ? w + i * (size_t)metrics->n_power_pools : NULL;
}

const char *sv_metrics_power_pool_name(const SvMetrics *metrics, int i)
{
    return metrics->power_pools[i];
}

/* ---- per-request KV figures ---- */

void sv_metrics_set_request_kv(SvMetrics *metrics, int64_t id, const SvRequestKv *kv)
{
    g_return_if_fail(metrics != NULL && id >= 0 && kv != NULL);
    *(SvRequestKv *)side_slot(metrics, SIDE_KV, id) = *kv;
}

void sv_metrics_request_kv(const SvMetrics *metrics, int64_t id, SvRequestKv *out)
{
    g_return_if_fail(metrics != NULL && out != NULL);
    const SvRequestKv *kv = side_find(metrics, SIDE_KV, id);
    *out = kv != NULL ? *kv : (SvRequestKv){0};
}

void sv_metrics_kv_summary(const SvMetrics *metrics, SvKvSummary *out)
{
    g_return_if_fail(metrics != NULL && out != NULL);
    memset(out, 0, sizeof(*out));
    g_autoptr(SvQuantiles) q = quantiles_new(metrics, 1);
    for (size_t i = 0; i < metrics->n_records; i++) {
        const SvRequestRecord *r = sv_metrics_request(metrics, i);
        if (r->outcome != SV_REQ_COMPLETED)
            continue;
        SvRequestKv kv;
        sv_metrics_request_kv(metrics, r->id, &kv);
        sv_quantiles_add(q, 0, sv_ns_to_s(kv.preempted_ns));
        out->requests_preempted += r->preemptions > 0;
        out->requests_with_hits += kv.cached_tokens > 0;
    }
    SvDist *dists[1] = {&out->preempted_s};
    sv_quantiles_finish(q, 50.0, store_dist, &(DistSink){dists, NULL});

    /* Queue growth while requests still arrive: after the last arrival the
     * queue can only drain, which would hide an overload. */
    size_t ns = 0;
    const SvSample *s = sv_metrics_samples(metrics, &ns);
    int64_t last_arrived = ns > 0 ? s[ns - 1].arrived : 0;
    double st = 0, sw = 0, stt = 0, stw = 0;
    size_t m = 0;
    for (size_t i = 0; i < ns; i++) {
        if ((i & 4095) == 4095) /* a spilled run's rows leave memory as they go */
            sv_metrics_samples_read(metrics, i - 1);
        out->waiting_peak = MAX(out->waiting_peak, s[i].waiting);
        if (i > 0 && s[i - 1].arrived >= last_arrived)
            continue; /* only samples up to the one that saw the last arrival */
        double t = sv_ns_to_s(s[i].t_ns), w = s[i].waiting;
        st += t;
        sw += w;
        stt += t * t;
        stw += t * w;
        m++;
    }
    sv_metrics_samples_read(metrics, ns);
    double den = (double)m * stt - st * st;
    out->waiting_growth_per_s = m >= 2 && den > 0 ? ((double)m * stw - st * sw) / den : 0.0;
}

/* ---- disaggregated prefill/decode ---- */

/* A chunk's slots start as "no transfer" (decode_replica -1). */
void sv_metrics_set_request_transfer(SvMetrics *metrics, int64_t id, const SvRequestTransfer *t)
{
    g_return_if_fail(metrics != NULL && id >= 0 && t != NULL);
    *(SvRequestTransfer *)side_slot(metrics, SIDE_XFER, id) = *t;
}

gboolean sv_metrics_request_transfer(const SvMetrics *metrics, int64_t id, SvRequestTransfer *out)
{
    g_return_val_if_fail(metrics != NULL && out != NULL, FALSE);
    const SvRequestTransfer *t = side_find(metrics, SIDE_XFER, id);
    *out = t != NULL ? *t : (SvRequestTransfer){.decode_replica = -1};
    return out->decode_replica >= 0;
}

void sv_metrics_transfer_summary(const SvMetrics *metrics, SvTransferSummary *out)
{
    g_return_if_fail(metrics != NULL && out != NULL);
    memset(out, 0, sizeof(*out));
    if (metrics->side[SIDE_XFER] == NULL)
        return;
    g_autoptr(SvQuantiles) q = quantiles_new(metrics, 4);
    size_t n = 0;
    for (size_t i = 0; i < metrics->n_records; i++) {
        const SvRequestRecord *r = sv_metrics_request(metrics, i);
        SvRequestTransfer t;
        if (r->outcome != SV_REQ_COMPLETED || !sv_metrics_request_transfer(metrics, r->id, &t))
            continue;
        sv_quantiles_add(q, 0, sv_ns_to_s(t.block_wait_ns));
        sv_quantiles_add(q, 1, sv_ns_to_s(t.link_wait_ns));
        sv_quantiles_add(q, 2, sv_ns_to_s(t.transfer_ns));
        sv_quantiles_add(q, 3, sv_ns_to_s(t.block_wait_ns + t.link_wait_ns));
        n++;
    }
    out->requests = (int64_t)n;
    SvDist *dists[4] = {&out->block_wait_s, &out->link_wait_s, &out->transfer_s, &out->queue_s};
    sv_quantiles_finish(q, 50.0, store_dist, &(DistSink){dists, NULL});
}
