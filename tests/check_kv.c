/* KV block manager: the prefix cache (hash-chained units, reference counts,
 * LRU eviction, hit accounting), the CPU tier, and what they do to a run:
 * hand-computed timelines with prefix hits and with swap preemption, the
 * fallback to recomputation, prefix-affinity routing, the Mooncake reader
 * and the shared-prefix and session generator. */
#include "serve/kv-pool.h"
#include "serve/sim.h"
#include "testutil.h"

#include <glib/gstdio.h>
#include <math.h>
#include <signal.h>
#include <string.h>

/* ---- the pool alone ---------------------------------------------------- */

/* A request whose content is @n trace ids (one per @id_tokens tokens). */
static SvKvSeq trace_seq(const int64_t *ids, int n, int id_tokens, int input, int block)
{
    SvPrefixSource src = {.hash_ids = ids, .num_hash_ids = n, .hash_block_tokens = id_tokens};
    SvKvSeq seq;
    sv_kv_seq_init(&seq, &src, input, block, TRUE);
    return seq;
}

/* Compute @tokens of @seq from scratch: allocate its blocks, cache its units. */
static int64_t compute(SvKvPool *pool, SvKvSeq *seq, int64_t tokens)
{
    int64_t blocks = sv_kv_blocks_for(pool, tokens);
    sv_kv_pool_alloc(pool, blocks, 0);
    sv_kv_pool_cache_computed(pool, seq, tokens, 0);
    sv_kv_pool_check(pool);
    return blocks;
}

/* How a trace's ids become units: with 512-token ids on 16-token blocks a
 * unit is one id (32 blocks); only whole ids inside the prompt count. */
START_TEST(test_units)
{
    static const int64_t ids[] = {5, 6, 7};
    SvKvSeq s = trace_seq(ids, 3, 512, 1100, 16); /* ids cover 1536 tokens, prompt 1100 */
    ck_assert_int_eq(s.unit_tokens, 512);
    ck_assert_int_eq(s.unit_blocks, 32);
    ck_assert_int_eq(s.max_units, 2); /* floor(1100 / 512): the third id is partial */
    /* Blocks larger than an id: one unit = one block = two ids. */
    s = trace_seq(ids, 3, 512, 1536, 1024);
    ck_assert_int_eq(s.unit_tokens, 1024);
    ck_assert_int_eq(s.unit_blocks, 1);
    ck_assert_int_eq(s.max_units, 1);
    /* No ids, or caching off: not cacheable. */
    s = trace_seq(NULL, 0, 512, 1100, 16);
    ck_assert_int_eq(s.unit_tokens, 0);
    SvPrefixSource src = {.hash_ids = ids, .num_hash_ids = 3, .hash_block_tokens = 16};
    sv_kv_seq_init(&s, &src, 48, 16, FALSE);
    ck_assert_int_eq(s.unit_tokens, 0);
    /* Synthetic: one block per unit; a prompt of 40 tokens fills 2 blocks,
     * block 2 straddles prompt and context. Without a context key only
     * the prompt's whole blocks are named. */
    SvPrefixSource syn = {.prefix_key = 3, .prefix_tokens = 40};
    sv_kv_seq_init(&s, &syn, 100, 16, TRUE);
    ck_assert_int_eq(s.unit_blocks, 1);
    ck_assert_int_eq(s.max_units, 2);
    syn.context_key = 9;
    sv_kv_seq_init(&s, &syn, 100, 16, TRUE);
    ck_assert_int_eq(s.max_units, INT32_MAX);
}
END_TEST

/* Insert, match, share, release: counts and references by hand. Blocks of
 * 16 tokens, ids of 16 tokens (one block per unit), 10 blocks. */
START_TEST(test_cache_basics)
{
    SvKvPool pool;
    sv_kv_pool_init(&pool, 10, 16);
    sv_kv_pool_enable_prefix_caching(&pool);
    static const int64_t a_ids[] = {1, 2, 3}, b_ids[] = {1, 2, 4};
    SvKvSeq a = trace_seq(a_ids, 3, 16, 40, 16); /* 2 full units in the prompt */
    SvKvSeq b = trace_seq(b_ids, 3, 16, 48, 16); /* 3 */
    ck_assert_int_eq(a.max_units, 2);
    ck_assert_int_eq(b.max_units, 3);

    /* A computes 40 tokens: 3 blocks, units 0 and 1 cached. */
    int64_t a_blocks = compute(&pool, &a, 40);
    ck_assert_int_eq(a_blocks, 3);
    ck_assert_int_eq(a.cached_units, 2);
    ck_assert_int_eq(pool.free_blocks, 7);
    ck_assert_int_eq(sv_kv_pool_cached_blocks(&pool), 2);
    ck_assert_int_eq(sv_kv_pool_lru_blocks(&pool), 0);

    /* B shares units 0 and 1 (ids 1, 2 chained); id 4 differs from 3. Both
     * referenced, so taking them costs no free block. */
    int64_t evictable = -1;
    ck_assert_int_eq(sv_kv_pool_match(&pool, &b, 47, &evictable), 2);
    ck_assert_int_eq(evictable, 0);
    /* The hit never covers the last token: 32 tokens allow only one unit. */
    ck_assert_int_eq(sv_kv_pool_match(&pool, &b, 31, NULL), 1);
    sv_kv_pool_acquire(&pool, &b, 2, 0);
    ck_assert_int_eq(pool.free_blocks, 7);
    sv_kv_pool_alloc(&pool, 1, 0); /* B's third block */
    sv_kv_pool_cache_computed(&pool, &b, 48, 0);
    ck_assert_int_eq(b.cached_units, 3);
    ck_assert_int_eq(sv_kv_pool_cached_blocks(&pool), 3);
    sv_kv_pool_check(&pool);

    /* A ends: unit 0 and 1 stay referenced by B; A's private block is free. */
    sv_kv_pool_release(&pool, &a, a_blocks, 0);
    ck_assert_int_eq(pool.free_blocks, 7);
    ck_assert_int_eq(sv_kv_pool_lru_blocks(&pool), 0);
    /* B ends: its 3 units join the LRU list, still cached and counted free. */
    sv_kv_pool_release(&pool, &b, 3, 0);
    ck_assert_int_eq(pool.free_blocks, 10);
    ck_assert_int_eq(sv_kv_pool_lru_blocks(&pool), 3);
    ck_assert_int_eq(sv_kv_pool_cached_blocks(&pool), 3);
    sv_kv_pool_check(&pool);

    /* A again: its 2 units are cached but unreferenced, so evictable. */
    ck_assert_int_eq(sv_kv_pool_match(&pool, &a, 39, &evictable), 2);
    ck_assert_int_eq(evictable, 2);
    sv_kv_pool_acquire(&pool, &a, 2, 0);
    ck_assert_int_eq(pool.free_blocks, 8);
    ck_assert_int_eq(sv_kv_pool_lru_blocks(&pool), 1);
    sv_kv_pool_release(&pool, &a, 2, 0);
    ck_assert_uint_eq(pool.allocated_total, pool.freed_total);
    sv_kv_pool_check(&pool);
    sv_kv_pool_clear(&pool);
}
END_TEST

/* LRU order: units freed earlier are evicted first, and within one request
 * its tail before its head. Pool of 6 blocks, one block per unit. */
START_TEST(test_lru_eviction_order)
{
    SvKvPool pool;
    sv_kv_pool_init(&pool, 6, 16);
    sv_kv_pool_enable_prefix_caching(&pool);
    static const int64_t x_ids[] = {10, 11, 12}, y_ids[] = {20, 21, 22};
    SvKvSeq x = trace_seq(x_ids, 3, 16, 48, 16), y = trace_seq(y_ids, 3, 16, 48, 16);
    int64_t xb = compute(&pool, &x, 48), yb = compute(&pool, &y, 48);
    ck_assert_int_eq(pool.free_blocks, 0);
    /* Free X first, then Y: LRU (oldest first) = x2 x1 x0 y2 y1 y0. */
    sv_kv_pool_release(&pool, &x, xb, 0);
    sv_kv_pool_release(&pool, &y, yb, 0);
    ck_assert_int_eq(pool.free_blocks, 6);
    ck_assert_int_eq(sv_kv_pool_lru_blocks(&pool), 6);
    /* Two blocks: x2 and x1 go; X keeps its head. */
    sv_kv_pool_alloc(&pool, 2, 0);
    ck_assert_uint_eq(pool.evicted_blocks, 2);
    ck_assert_int_eq(sv_kv_pool_match(&pool, &x, 47, NULL), 1);
    ck_assert_int_eq(sv_kv_pool_match(&pool, &y, 47, NULL), 2); /* 2 units: the last token rule */
    /* Touching Y's head makes it recent; two more blocks take x0, then y2. */
    sv_kv_pool_acquire(&pool, &y, 1, 0);
    sv_kv_pool_release(&pool, &y, 1, 0); /* y0 to the tail: LRU = x0 y2 y1 y0 */
    sv_kv_pool_alloc(&pool, 2, 0);
    ck_assert_uint_eq(pool.evicted_blocks, 4);
    ck_assert_int_eq(sv_kv_pool_match(&pool, &x, 47, NULL), 0);
    /* y2 is gone but y0 and y1 remain: the chain still matches 2 units. */
    ck_assert_int_eq(sv_kv_pool_match(&pool, &y, 47, NULL), 2);
    sv_kv_pool_free(&pool, 4, 0);
    ck_assert_uint_eq(pool.allocated_total, pool.freed_total);
    sv_kv_pool_check(&pool);
    sv_kv_pool_clear(&pool);
}
END_TEST

/* Referenced units are never evicted: with every cached unit referenced,
 * free_blocks does not count them, and allocation beyond the free count
 * aborts instead of stealing them. */
START_TEST(test_referenced_never_evicted)
{
    SvKvPool pool;
    sv_kv_pool_init(&pool, 4, 16);
    sv_kv_pool_enable_prefix_caching(&pool);
    static const int64_t ids[] = {1, 2, 3};
    SvKvSeq s = trace_seq(ids, 3, 16, 48, 16);
    compute(&pool, &s, 48);
    ck_assert_int_eq(pool.free_blocks, 1);
    sv_kv_pool_alloc(&pool, 1, 0);
    ck_assert_uint_eq(pool.evicted_blocks, 0);
    ck_assert_int_eq(sv_kv_pool_match(&pool, &s, 47, NULL), 2);
    sv_kv_pool_alloc(&pool, 1, 0); /* aborts: nothing free, all cached blocks referenced */
}
END_TEST

/* Two requests compute the same unit at once: the second shares the first's
 * and frees its own copy. */
START_TEST(test_duplicate_shared)
{
    SvKvPool pool;
    sv_kv_pool_init(&pool, 8, 16);
    sv_kv_pool_enable_prefix_caching(&pool);
    static const int64_t ids[] = {7, 8};
    SvKvSeq a = trace_seq(ids, 2, 16, 32, 16), b = trace_seq(ids, 2, 16, 32, 16);
    sv_kv_pool_alloc(&pool, 2, 0);
    sv_kv_pool_alloc(&pool, 2, 0);
    ck_assert_int_eq(pool.free_blocks, 4);
    sv_kv_pool_cache_computed(&pool, &a, 32, 0);
    sv_kv_pool_cache_computed(&pool, &b, 32, 0);
    ck_assert_int_eq(pool.free_blocks, 6); /* B's two copies freed */
    ck_assert_int_eq(sv_kv_pool_cached_blocks(&pool), 2);
    sv_kv_pool_release(&pool, &a, 2, 0);
    ck_assert_int_eq(pool.free_blocks, 6); /* still referenced by B */
    sv_kv_pool_release(&pool, &b, 2, 0);
    ck_assert_int_eq(pool.free_blocks, 8);
    ck_assert_uint_eq(pool.allocated_total, pool.freed_total);
    sv_kv_pool_check(&pool);
    sv_kv_pool_clear(&pool);
}
END_TEST

/* A random mix of requests (shared and private content, partial hits,
 * releases) keeps every invariant after each step, and everything comes
 * back at the end. */
START_TEST(test_random_invariants)
{
    enum { N = 24, POOL = 200 };
    SvKvPool pool;
    sv_kv_pool_init(&pool, POOL, 16);
    sv_kv_pool_enable_prefix_caching(&pool);
    int64_t ids[N][12];
    SvKvSeq seq[N];
    int64_t held[N] = {0};
    GRand *rng = g_rand_new_with_seed(7);
    for (int round = 0; round < 400; round++) {
        int i = g_rand_int_range(rng, 0, N);
        if (held[i] > 0) {
            sv_kv_pool_release(&pool, &seq[i], held[i], 0);
            held[i] = 0;
        } else {
            /* A prompt of 1..12 ids from a small alphabet per position, so
             * prefixes collide often. */
            int n = g_rand_int_range(rng, 1, 13);
            for (int k = 0; k < n; k++)
                ids[i][k] = g_rand_int_range(rng, 0, 3);
            int input = n * 16 - g_rand_int_range(rng, 0, 16);
            seq[i] = trace_seq(ids[i], n, 16, input, 16);
            int64_t ev = 0;
            int32_t units = sv_kv_pool_match(&pool, &seq[i], input - 1, &ev);
            int64_t need = sv_kv_blocks_for(&pool, input) - units;
            if (need + ev > pool.free_blocks)
                continue;
            sv_kv_pool_acquire(&pool, &seq[i], units, 0);
            sv_kv_pool_alloc(&pool, need, 0);
            held[i] = units + need;
            sv_kv_pool_cache_computed(&pool, &seq[i], input, 0);
        }
        sv_kv_pool_check(&pool);
    }
    for (int i = 0; i < N; i++)
        if (held[i] > 0)
            sv_kv_pool_release(&pool, &seq[i], held[i], 0);
    sv_kv_pool_check(&pool);
    ck_assert_int_eq(pool.free_blocks, POOL);
    ck_assert_uint_eq(pool.allocated_total, pool.freed_total);
    ck_assert_uint_gt(pool.evicted_blocks, 0);
    g_rand_free(rng);
    sv_kv_pool_clear(&pool);
}
END_TEST

/* The CPU tier: out then in restores the count; a full tier refuses. */
START_TEST(test_cpu_tier)
{
    SvKvPool pool;
    sv_kv_pool_init(&pool, 10, 16);
    sv_kv_pool_set_cpu_blocks(&pool, 5);
    ck_assert(sv_kv_pool_swap_out(&pool, 3));
    ck_assert_int_eq(pool.cpu_free_blocks, 2);
    ck_assert(!sv_kv_pool_swap_out(&pool, 3)); /* full: the caller recomputes */
    ck_assert_uint_eq(pool.swap_fallbacks, 1);
    sv_kv_pool_swap_in(&pool, 3);
    ck_assert_int_eq(pool.cpu_free_blocks, 5);
    ck_assert_uint_eq(pool.swap_outs, 1);
    ck_assert_uint_eq(pool.swap_ins, 1);
    ck_assert_uint_eq(pool.swapped_out_blocks, pool.swapped_in_blocks);
    sv_kv_pool_check(&pool);
}
END_TEST

/* A request's own content (no source names it): sv_kv_seq_own_content. */
static SvKvSeq own_seq(void)
{
    SvKvSeq seq;
    sv_kv_seq_init(&seq, NULL, 0, 16, TRUE);
    sv_kv_seq_own_content(&seq, NULL, 16);
    return seq;
}

/* Own content is kept as runs, one LRU entry per release; every count must
 * come out as one entry per block would give. Pool of 8 blocks of 16. */
START_TEST(test_own_runs)
{
    SvKvPool pool;
    sv_kv_pool_init(&pool, 8, 16);
    sv_kv_pool_enable_prefix_caching(&pool);
    SvKvSeq a = own_seq(), b = own_seq();
    ck_assert_int_eq(a.unit_blocks, 1);
    ck_assert_int_eq(a.max_units, INT32_MAX);
    ck_assert_int_eq(sv_kv_pool_match(&pool, &a, 1000, NULL), 0);
    compute(&pool, &a, 64); /* 4 units, referenced */
    ck_assert_int_eq(sv_kv_pool_cached_blocks(&pool), 4);
    ck_assert_int_eq(sv_kv_pool_lru_blocks(&pool), 0);
    sv_kv_pool_release(&pool, &a, 4, 0); /* run A0 = units 0-3 */
    ck_assert_int_eq(pool.free_blocks, 8);
    ck_assert_int_eq(sv_kv_pool_lru_blocks(&pool), 4);
    int64_t ev = -1;
    ck_assert_int_eq(sv_kv_pool_match(&pool, &a, 63, &ev), 3); /* the last-token rule */
    ck_assert_int_eq(ev, 3);
    ck_assert_int_eq(sv_kv_pool_match(&pool, &a, 64, NULL), 4);
    ck_assert_int_eq(sv_kv_pool_match(&pool, &b, 64, NULL), 0); /* never anyone else's */
    /* Readmitted with a shorter hit: units 0-1 referenced, A0 keeps 2-3.
     * Preempted again: A1 = units 0-1, newer, linked to A0. */
    sv_kv_pool_acquire(&pool, &a, 2, 0);
    ck_assert_int_eq(pool.free_blocks, 6);
    ck_assert_int_eq(sv_kv_pool_lru_blocks(&pool), 2);
    sv_kv_pool_check(&pool);
    sv_kv_pool_release(&pool, &a, 2, 0);
    ck_assert_int_eq(sv_kv_pool_match(&pool, &a, 1000, NULL), 4);
    sv_kv_pool_check(&pool);
    /* B takes the 4 never-used blocks (3 cached units, 1 private), then
     * one block at a time from the LRU: A0's unit 3, A0's unit 2 (A0 is
     * gone: the link goes stale), A1's unit 1. */
    compute(&pool, &b, 48);
    sv_kv_pool_alloc(&pool, 1, 0);
    ck_assert_uint_eq(pool.evicted_blocks, 0);
    static const int32_t left[] = {3, 2, 1};
    for (int i = 0; i < 3; i++) {
        sv_kv_pool_alloc(&pool, 1, 0);
        ck_assert_uint_eq(pool.evicted_blocks, (uint64_t)i + 1);
        ck_assert_int_eq(sv_kv_pool_match(&pool, &a, 1000, NULL), left[i]);
        ck_assert_int_eq(sv_kv_pool_cached_blocks(&pool), 3 + left[i]);
        sv_kv_pool_check(&pool);
    }
    ck_assert_int_eq(pool.free_blocks, 1);
    /* A takes its last cached unit back; B finishes: run B0 = units 0-2,
     * its 4 private blocks unused. */
    sv_kv_pool_acquire(&pool, &a, 1, 0);
    ck_assert_int_eq(pool.free_blocks, 0);
    sv_kv_pool_release(&pool, &b, 7, 0);
    ck_assert_int_eq(pool.free_blocks, 7);
    ck_assert_int_eq(sv_kv_pool_lru_blocks(&pool), 3);
    /* A grows to 48 tokens: units 1 and 2 are new (counted, not hashed). */
    sv_kv_pool_alloc(&pool, 2, 0);
    sv_kv_pool_cache_computed(&pool, &a, 48, 0);
    ck_assert_int_eq(a.cached_units, 3);
    ck_assert_int_eq(sv_kv_pool_cached_blocks(&pool), 6);
    ck_assert_uint_eq(pool.evicted_blocks, 3);
    /* Swapped out and straight back in (its KV kept, num_computed 48): the
     * 3 blocks it is given evict B0's unit 2 (the 2 never-used come first),
     * and at the next step end it shares its run again, freeing the copies. */
    sv_kv_pool_release(&pool, &a, 3, 0);
    sv_kv_pool_alloc(&pool, 3, 0);
    ck_assert_uint_eq(pool.evicted_blocks, 4);
    ck_assert_int_eq(sv_kv_pool_match(&pool, &b, 1000, NULL), 2);
    sv_kv_pool_cache_computed(&pool, &a, 48, 0);
    ck_assert_int_eq(pool.free_blocks, 5);
    ck_assert_int_eq(sv_kv_pool_lru_blocks(&pool), 2);
    ck_assert_int_eq(sv_kv_pool_cached_blocks(&pool), 5);
    sv_kv_pool_check(&pool);
    /* Another pool never sees A's runs here: its units there are new. */
    SvKvPool other;
    sv_kv_pool_init(&other, 4, 16);
    sv_kv_pool_enable_prefix_caching(&other);
    SvKvSeq a2 = a;
    a2.cached_units = 0;
    sv_kv_pool_alloc(&other, 2, 0);
    sv_kv_pool_cache_computed(&other, &a2, 32, 0);
    ck_assert_int_eq(other.free_blocks, 2);
    sv_kv_pool_release(&other, &a2, 2, 0);
    ck_assert_int_eq(sv_kv_pool_match(&other, &a2, 1000, NULL), 2);
    sv_kv_pool_check(&other);
    sv_kv_pool_clear(&other);
    sv_kv_pool_release(&pool, &a, 3, 0);
    ck_assert_int_eq(pool.free_blocks, 8);
    ck_assert_uint_eq(pool.allocated_total, pool.freed_total);
    sv_kv_pool_check(&pool);
    sv_kv_pool_clear(&pool);
}
END_TEST

/* ---- a reference model: one entry per unit ---------------------------------
 * Units named by strings, a stamp for LRU order, linear scans: slow and
 * plain, for checking the pool's counts and lookups step by step. */
typedef struct {
    int32_t refs, blocks;
    int64_t stamp; /* release order; the smallest unreferenced is evicted first */
} RefUnit;

typedef struct {
    GHashTable *units; /* key -> RefUnit */
    int64_t unused, free, evicted, lru, cached, clock;
} RefPool;

typedef struct {
    SvKvSeq seq;
    gboolean own;
    uint64_t key;
    int64_t ids[16];
    int n_ids;
    int32_t ref_cached; /* units the reference says it references */
    int64_t held;       /* blocks */
    int64_t computed;   /* tokens */
    int64_t known;      /* tokens it wants computed */
} RefSeq;

static char *ref_key(const RefSeq *s, int32_t unit)
{
    if (s->own)
        return g_strdup_printf("o%" G_GUINT64_FORMAT ":%d", s->key, unit);
    GString *k = g_string_new("n");
    int per = s->seq.unit_tokens / s->seq.src.hash_block_tokens; /* ids per unit */
    for (int i = 0; i < (unit + 1) * per; i++)
        g_string_append_printf(k, "%" G_GINT64_FORMAT ",", s->ids[i]);
    return g_string_free(k, FALSE);
}

static int32_t ref_match(RefPool *p, const RefSeq *s, int64_t max_tokens, int64_t *ev)
{
    int64_t limit = MIN((int64_t)s->seq.max_units, MAX(max_tokens, 0) / s->seq.unit_tokens);
    int32_t u = 0;
    *ev = 0;
    for (; u < limit; u++) {
        g_autofree char *k = ref_key(s, u);
        RefUnit *x = g_hash_table_lookup(p->units, k);
        if (x == NULL)
            break;
        if (x->refs == 0)
            *ev += x->blocks;
    }
    return u;
}

static void ref_ref(RefPool *p, RefUnit *x)
{
    if (x->refs++ == 0) {
        p->lru -= x->blocks;
        p->free -= x->blocks;
    }
}

static void ref_alloc(RefPool *p, int64_t n)
{
    while (p->unused < n) {
        GHashTableIter it;
        gpointer k, v;
        gpointer oldest = NULL;
        int64_t stamp = INT64_MAX;
        g_hash_table_iter_init(&it, p->units);
        while (g_hash_table_iter_next(&it, &k, &v))
            if (((RefUnit *)v)->refs == 0 && ((RefUnit *)v)->stamp < stamp) {
                stamp = ((RefUnit *)v)->stamp;
                oldest = k;
            }
        ck_assert_ptr_nonnull(oldest);
        RefUnit *x = g_hash_table_lookup(p->units, oldest);
        p->unused += x->blocks;
        p->evicted += x->blocks;
        p->cached -= x->blocks;
        p->lru -= x->blocks;
        g_hash_table_remove(p->units, oldest);
    }
    p->unused -= n;
    p->free -= n;
}

static void ref_cache_computed(RefPool *p, RefSeq *s, int64_t tokens)
{
    int64_t full = MIN((int64_t)s->seq.max_units, tokens / s->seq.unit_tokens);
    int32_t ub = s->seq.unit_blocks;
    for (; s->ref_cached < full; s->ref_cached++) {
        char *k = ref_key(s, s->ref_cached);
        RefUnit *x = g_hash_table_lookup(p->units, k);
        if (x != NULL) {
            ref_ref(p, x);
            p->unused += ub;
            p->free += ub;
            g_free(k);
        } else {
            x = g_new0(RefUnit, 1);
            x->refs = 1;
            x->blocks = ub;
            g_hash_table_insert(p->units, k, x);
            p->cached += ub;
        }
    }
}

static void ref_release(RefPool *p, RefSeq *s)
{
    int64_t private = s->held - (int64_t)s->ref_cached * s->seq.unit_blocks;
    p->unused += private;
    p->free += private;
    for (int32_t u = s->ref_cached - 1; u >= 0; u--) {
        g_autofree char *k = ref_key(s, u);
        RefUnit *x = g_hash_table_lookup(p->units, k);
        ck_assert_ptr_nonnull(x);
        if (--x->refs == 0) {
            x->stamp = ++p->clock;
            p->lru += x->blocks;
            p->free += x->blocks;
        }
    }
    s->ref_cached = 0;
}

/* Both the pool and the model: give @s @n more blocks, then its KV covers
 * @tokens. */
static void both_grow(SvKvPool *pool, RefPool *ref, RefSeq *s, int64_t n, int64_t tokens)
{
    sv_kv_pool_alloc(pool, n, 0);
    ref_alloc(ref, n);
    s->held += n;
    s->computed = tokens;
    sv_kv_pool_cache_computed(pool, &s->seq, tokens, 0);
    ref_cache_computed(ref, s, tokens);
    ck_assert_int_eq(s->seq.cached_units, s->ref_cached);
}

static void both_release(SvKvPool *pool, RefPool *ref, RefSeq *s)
{
    sv_kv_pool_release(pool, &s->seq, s->held, 0);
    ref_release(ref, s);
    s->held = 0;
}

/* A fresh request in slot @s: own content (key @key) or trace ids over a
 * small alphabet, of 16 or 32 tokens (units of 1 or 2 blocks). */
static void ref_seq_new(RefSeq *s, GRand *rng, uint64_t key)
{
    memset(s, 0, sizeof *s);
    s->own = g_rand_int_range(rng, 0, 3) > 0;
    s->known = g_rand_int_range(rng, 1, 160);
    if (s->own) {
        s->key = key;
        s->seq = own_seq();
    } else {
        int id_tokens = g_rand_boolean(rng) ? 16 : 32;
        s->n_ids = g_rand_int_range(rng, 1, 160 / id_tokens + 1);
        for (int k = 0; k < s->n_ids; k++)
            s->ids[k] = g_rand_int_range(rng, 0, 2);
        s->known = MIN(s->known, (int64_t)s->n_ids * id_tokens);
        s->seq = trace_seq(s->ids, s->n_ids, id_tokens, (int)s->known, 16);
        if (s->seq.unit_tokens == 0) { /* prompt shorter than one id: make it one */
            s->known = id_tokens;
            s->seq = trace_seq(s->ids, s->n_ids, id_tokens, (int)s->known, 16);
        }
    }
}

/* The pool against the reference model through thousands of random steps
 * (admissions with partial hits, growth, recompute and swap preemptions,
 * finishes) with own and shared content mixed: after every step the free,
 * LRU, cached and evicted counts agree, and so does every waiting request's
 * lookup. */
START_TEST(test_own_runs_vs_reference)
{
    enum { N = 10, POOL = 60 };
    SvKvPool pool;
    sv_kv_pool_init(&pool, POOL, 16);
    sv_kv_pool_enable_prefix_caching(&pool);
    RefPool ref = {.units = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free),
                   .unused = POOL,
                   .free = POOL};
    GRand *rng = g_rand_new_with_seed(11);
    RefSeq s[N];
    uint64_t next_key = 1;
    for (int i = 0; i < N; i++)
        ref_seq_new(&s[i], rng, next_key++);
    int64_t hits = 0, preempted = 0;
    for (int step = 0; step < 6000; step++) {
        RefSeq *q = &s[g_rand_int_range(rng, 0, N)];
        int op = g_rand_int_range(rng, 0, 4);
        if (q->held == 0) {
            /* Admission: the longest cached prefix, then blocks for more.
             * Half the time the lookup is cut short (as the last-token rule
             * cuts it), so that some units stay behind in the LRU list. */
            int64_t ev = 0, ref_ev = 0;
            int64_t limit =
                g_rand_boolean(rng) ? q->known - 1 : g_rand_int_range(rng, 0, (int)q->known);
            int32_t units = sv_kv_pool_match(&pool, &q->seq, limit, &ev);
            ck_assert_int_eq(units, ref_match(&ref, q, limit, &ref_ev));
            ck_assert_int_eq(ev, ref_ev);
            int64_t hit = (int64_t)units * q->seq.unit_tokens;
            int64_t target = g_rand_int_range(rng, (int)hit + 1, (int)q->known + 1);
            int64_t shared = (int64_t)units * q->seq.unit_blocks;
            int64_t need = sv_kv_blocks_for(&pool, target) - shared;
            if (pool.free_blocks - ev - need < 0)
                continue;
            sv_kv_pool_acquire(&pool, &q->seq, units, 0);
            for (int32_t u = 0; u < units; u++) {
                g_autofree char *k = ref_key(q, u);
                ref_ref(&ref, g_hash_table_lookup(ref.units, k));
            }
            q->ref_cached = units;
            q->held = shared;
            hits += units;
            both_grow(&pool, &ref, q, need, target);
        } else if (op == 0) {
            /* A step: up to 40 more tokens (own content grows past its
             * prompt; a trace request stops being cached at its last id). */
            int64_t target = q->computed + g_rand_int_range(rng, 1, 41);
            int64_t need = sv_kv_blocks_for(&pool, target) - q->held;
            if (need > pool.free_blocks)
                continue;
            both_grow(&pool, &ref, q, MAX(need, 0), target);
            q->known = MAX(q->known, target + 1);
        } else if (op == 1) {
            /* Recompute preemption. */
            both_release(&pool, &ref, q);
            preempted++;
        } else if (op == 2) {
            /* Swap preemption, back in at once when the blocks are free. */
            int64_t computed = q->computed;
            both_release(&pool, &ref, q);
            int64_t need = sv_kv_blocks_for(&pool, computed);
            if (need > 0 && need <= pool.free_blocks)
                both_grow(&pool, &ref, q, need, computed);
        } else {
            /* Finished: its slot gets a new request. */
            both_release(&pool, &ref, q);
            ref_seq_new(q, rng, next_key++);
        }
        ck_assert_int_eq(pool.free_blocks, ref.free);
        ck_assert_int_eq(sv_kv_pool_lru_blocks(&pool), ref.lru);
        ck_assert_int_eq(sv_kv_pool_cached_blocks(&pool), ref.cached);
        ck_assert_int_eq((int64_t)pool.evicted_blocks, ref.evicted);
        for (int i = 0; i < N; i++) {
            if (s[i].held > 0)
                continue;
            int64_t ev = 0, ref_ev = 0;
            ck_assert_int_eq(sv_kv_pool_match(&pool, &s[i].seq, s[i].known - 1, &ev),
                             ref_match(&ref, &s[i], s[i].known - 1, &ref_ev));
            ck_assert_int_eq(ev, ref_ev);
        }
        sv_kv_pool_check(&pool);
    }
    for (int i = 0; i < N; i++)
        if (s[i].held > 0)
            both_release(&pool, &ref, &s[i]);
    sv_kv_pool_check(&pool);
    ck_assert_int_eq(pool.free_blocks, POOL);
    ck_assert_uint_eq(pool.allocated_total, pool.freed_total);
    /* The mix did what it is for: hits, preemptions and evictions. */
    ck_assert_int_gt(hits, 100);
    ck_assert_int_gt(preempted, 100);
    ck_assert_uint_gt(pool.evicted_blocks, 1000);
    g_rand_free(rng);
    g_hash_table_destroy(ref.units);
    sv_kv_pool_clear(&pool);
}
END_TEST

/* ---- runs ----------------------------------------------------------------- */

/* Iteration time: 1 ms + 10 us per scheduled token (as tests/check_serve.c). */
static SvTimeNs toy_time(void *ctx, const SvBatchShape *s)
{
    return 1000000 + 10000 * (s->prefill_tokens + s->num_decode);
}

typedef struct {
    SvConfig cfg;
    SvModel model;
    SvHw hw;
    SvPoolConfig pool;
    SvTrace *trace;
    char *trace_path;
    SvSimOptions opt;
} Study;

static Study *study_new(const char *trace_text, const char *suffix, int replicas)
{
    Study *st = g_new0(Study, 1);
    st->model.name = "toy";
    st->model.max_position_embeddings = 4096;
    st->hw.name = "toy-hw";
    st->hw.peak_flops[SV_DTYPE_BF16] = 1e15;
    st->hw.host_bw_bytes_per_s = 1e9; /* with 1e6-byte blocks: 1 ms per block */
    st->pool.name = "main";
    st->pool.hw = &st->hw;
    st->pool.replicas = replicas;
    st->pool.tensor_parallel_size = 1;
    st->pool.pipeline_parallel_size = 1;
    st->pool.expert_parallel_size = 1;
    st->cfg.path = "toy.yaml";
    st->cfg.seed = 1;
    st->cfg.model = &st->model;
    st->cfg.router = SV_ROUTER_ROUND_ROBIN;
    st->cfg.prefix_affinity_load_factor = 2.0;
    st->cfg.pools = g_ptr_array_new();
    g_ptr_array_add(st->cfg.pools, &st->pool);
    st->cfg.engine.scheduler = SV_SCHED_VLLM_V1;
    st->cfg.engine.max_num_seqs = 256;
    st->cfg.engine.max_num_batched_tokens = 8192;
    st->cfg.engine.enable_chunked_prefill = TRUE;
    st->cfg.engine.block_size = 16;
    st->cfg.engine.gpu_memory_utilization = 0.9;
    st->cfg.engine.dtype = SV_DTYPE_BF16;
    st->cfg.engine.weight_dtype = SV_DTYPE_BF16;
    st->cfg.engine.kv_cache_dtype = SV_DTYPE_BF16;
    st->cfg.engine.swap_space_gib = 4;
    st->cfg.slo.percentile = 90;
    st->cfg.output.sample_interval_s = 0.001;
    st->cfg.workload.process = SV_ARRIVAL_TRACE;
    st->cfg.workload.hash_block_tokens = 16;
    st->trace_path = sv_test_write_tmp(trace_text, suffix);
    st->cfg.workload.trace_path = st->trace_path;
    GError *error = NULL;
    st->trace = sv_trace_load(st->trace_path, &error);
    ck_assert_msg(st->trace != NULL, "%s", error ? error->message : "");
    st->opt = (SvSimOptions){.iter_time_fn = toy_time, .kv_blocks = 1000, .kv_block_bytes = 1e6};
    return st;
}

static void study_free(Study *st)
{
    sv_trace_free(st->trace);
    g_unlink(st->trace_path);
    g_free(st->trace_path);
    g_ptr_array_unref(st->cfg.pools);
    g_free(st);
}

/* Run to the end and check the balances every run must keep. */
static SvSim *run(Study *st)
{
    GError *error = NULL;
    SvSim *sim = sv_sim_new(&st->cfg, st->trace, &st->opt, &error);
    ck_assert_msg(sim != NULL, "%s", error ? error->message : "");
    sv_sim_run(sim);
    SvSimBalance b;
    sv_sim_balance(sim, &b);
    ck_assert_uint_eq(b.blocks_allocated, b.blocks_freed);
    ck_assert_uint_eq(b.events_scheduled, b.events_processed + b.events_cancelled);
    ck_assert_uint_eq(b.events_pending, 0);
    ck_assert_int_eq(b.arrived, b.completed + b.rejected);
    ck_assert_int_eq(b.in_flight, 0);
    return sim;
}

/* The record of request @id (records are in finish order). */
static const SvRequestRecord *record(SvSim *sim, int64_t id)
{
    SvMetrics *m = sv_sim_metrics(sim);
    for (size_t i = 0; i < sv_metrics_num_requests(m); i++)
        if (sv_metrics_request(m, i)->id == id)
            return sv_metrics_request(m, i);
    ck_abort_msg("no record for request %" G_GINT64_FORMAT, id);
    return NULL;
}

#define TTFT_NS(rec) ((rec)->first_token_ns - (rec)->arrival_ns)
#define E2E_NS(rec)  ((rec)->finish_ns - (rec)->arrival_ns)

static SvRequestKv request_kv(SvSim *sim, int64_t id)
{
    SvRequestKv kv;
    sv_metrics_request_kv(sv_sim_metrics(sim), id, &kv);
    return kv;
}

/* Two requests share their first two blocks (ids 1 2; 16-token blocks and
 * ids). R0 (40 tokens) runs alone: prefill 40 = 1.40 ms, decode 1.01 ms.
 * It caches units 0 and 1 (tokens 0..31; the third block is partial).
 * R1 arrives at 10 ms, prompt 40 with ids 1 2 9: 32 tokens hit, its
 * prefill covers the other 8: 1.08 ms, then decode 1.01 ms.
 * Without prefix caching R1 would take R0's 1.40 + 1.01. */
START_TEST(test_prefix_hit_timeline)
{
    static const char csv[] = "arrival_s,input_tokens,output_tokens,hash_ids\n"
                              "0,40,2,1 2 3\n"
                              "0.010,40,2,1 2 9\n";
    for (int caching = 0; caching < 2; caching++) {
        Study *st = study_new(csv, ".csv", 1);
        st->cfg.engine.enable_prefix_caching = caching;
        g_autoptr(SvSim) sim = run(st);
        const SvRequestRecord *r0 = record(sim, 0), *r1 = record(sim, 1);
        ck_assert_int_eq(TTFT_NS(r0), 1400000);
        ck_assert_int_eq(E2E_NS(r0), 2410000);
        ck_assert_int_eq(TTFT_NS(r1), caching ? 1080000 : 1400000);
        ck_assert_int_eq(E2E_NS(r1), caching ? 2090000 : 2410000);
        ck_assert_int_eq(request_kv(sim, 0).cached_tokens, 0);
        ck_assert_int_eq(request_kv(sim, 1).cached_tokens, caching ? 32 : 0);
        const SvRunTotals *t = sv_sim_totals(sim);
        ck_assert_int_eq(t->prefix_queries_tokens, caching ? 80 : 0);
        ck_assert_int_eq(t->prefix_hits_tokens, caching ? 32 : 0);
        ck_assert_int_eq(t->prefix_queries_blocks, caching ? 6 : 0);
        ck_assert_int_eq(t->prefix_hits_blocks, caching ? 2 : 0);
        study_free(st);
    }
}
END_TEST

/* The cache is filled at the end of the iteration that computes a block, in
 * time for the next one. R1 (same first two ids) arrives at 0.5 ms while R0's
 * prefill runs (0 to 1.40 ms). At 1.40 ms R1 is scheduled with R0's decode
 * and hits 32 tokens: [R0 decode + R1 prefill 8] = 1 + 0.09 = 1.09 ms ->
 * 2.49 ms (R0 done, R1 token 1: TTFT 1.99 ms), then R1 decodes to 3.50 ms. */
START_TEST(test_prefix_hit_while_running)
{
    Study *st = study_new("arrival_s,input_tokens,output_tokens,hash_ids\n"
                          "0,40,2,1 2 3\n"
                          "0.0005,40,2,1 2 9\n",
                          ".csv", 1);
    st->cfg.engine.enable_prefix_caching = TRUE;
    g_autoptr(SvSim) sim = run(st);
    const SvRequestRecord *r0 = record(sim, 0), *r1 = record(sim, 1);
    ck_assert_int_eq(E2E_NS(r0), 2490000);
    ck_assert_int_eq(r1->first_scheduled_ns, 1400000);
    ck_assert_int_eq(TTFT_NS(r1), 1990000);
    ck_assert_int_eq(r1->finish_ns, 3500000);
    ck_assert_int_eq(request_kv(sim, 1).cached_tokens, 32);
    study_free(st);
}
END_TEST

/* A prompt entirely in the cache still recomputes its last token: R1 repeats
 * R0's 32-token prompt (ids 1 2, two full blocks) but may take only one
 * block (16 tokens), so its prefill is 16 tokens: 1.16 ms. */
START_TEST(test_prefix_last_token_recomputed)
{
    Study *st = study_new("arrival_s,input_tokens,output_tokens,hash_ids\n"
                          "0,32,1,1 2\n"
                          "0.010,32,1,1 2\n",
                          ".csv", 1);
    st->cfg.engine.enable_prefix_caching = TRUE;
    g_autoptr(SvSim) sim = run(st);
    ck_assert_int_eq(TTFT_NS(record(sim, 0)), 1320000);
    ck_assert_int_eq(TTFT_NS(record(sim, 1)), 1160000);
    ck_assert_int_eq(request_kv(sim, 1).cached_tokens, 16);
    study_free(st);
}
END_TEST

/* Mooncake-style ids of 512 tokens on 16-token blocks: one id is a unit of
 * 32 blocks. R1 shares R0's first id (512 tokens) and nothing else; R0's
 * second id is partial (prompt 600), so it is not cached. R1 (prompt 1100)
 * computes 1100 - 512 = 588 tokens: 1 + 5.88 = 6.88 ms. */
START_TEST(test_prefix_hash_blocks_512)
{
    Study *st = study_new("arrival_s,input_tokens,output_tokens,hash_ids\n"
                          "0,600,1,4 5\n"
                          "1,1100,1,4 6 7\n",
                          ".csv", 1);
    st->cfg.workload.hash_block_tokens = 512;
    st->cfg.engine.enable_prefix_caching = TRUE;
    g_autoptr(SvSim) sim = run(st);
    ck_assert_int_eq(TTFT_NS(record(sim, 0)), 7000000);
    ck_assert_int_eq(TTFT_NS(record(sim, 1)), 6880000);
    ck_assert_int_eq(request_kv(sim, 1).cached_tokens, 512);
    ck_assert_int_eq(sv_sim_totals(sim)->prefix_hits_blocks, 32);
    study_free(st);
}
END_TEST

/* Swap preemption, by hand. Blocks of 4 tokens, 4 blocks; each block copies
 * in 1 ms (1e6 B over 1e9 B/s). R0 and R1 (prompt 4, 8 tokens out) arrive at
 * 0; together they outgrow the pool.
 *  A 0      [R0 p4]            1.04  -> 1.04  R0 t1
 *  B 1.04   [R0 d, R1 p4]      1.05  -> 2.09  R0 t2, R1 t1
 *  C 2.09   [R0 d, R1 d]       1.02  -> 3.11
 *  D 3.11   [R0 d, R1 d]       1.02  -> 4.13
 *  E 4.13   [R0 d, R1 d]       1.02  -> 5.15  R0 t5 (9 tokens known), R1 t4
 *  F 5.15   R0 needs a third block: R1 (the newest) is swapped out, its 7
 *           computed tokens = 2 blocks: [R0 d] 1.01 + 2 ms copy -> 8.16
 *  G 8.16   R1 needs 2 blocks, 1 free: waits. [R0 d] -> 9.17
 *  H 9.17   [R0 d] -> 10.18  R0 t8, done
 *  I 10.18  R1 swapped in (2 blocks): [R1 d] 1.01 + 2 ms -> 13.19  R1 t5
 *  J..L     [R1 d] x 3 -> 14.20, 15.21, 16.22  R1 t8, done
 * R1 was preempted from 5.15 to 10.18: 5.03 ms. */
START_TEST(test_swap_timeline)
{
    Study *st = study_new("arrival_s,input_tokens,output_tokens\n0,4,8\n0,4,8\n", ".csv", 1);
    st->cfg.engine.block_size = 4;
    st->cfg.engine.preemption_mode = SV_PREEMPT_SWAP;
    st->opt.kv_blocks = 4;
    st->opt.cpu_kv_blocks = 10;
    g_autoptr(SvSim) sim = run(st);
    const SvRequestRecord *r0 = record(sim, 0), *r1 = record(sim, 1);
    ck_assert_int_eq(TTFT_NS(r0), 1040000);
    ck_assert_int_eq(E2E_NS(r0), 10180000);
    ck_assert_int_eq(r0->preemptions, 0);
    ck_assert_int_eq(TTFT_NS(r1), 2090000);
    ck_assert_int_eq(E2E_NS(r1), 16220000);
    ck_assert_int_eq(r1->preemptions, 1);
    ck_assert_int_eq(r1->max_itl_ns, 13190000 - 5150000);
    ck_assert_int_eq(request_kv(sim, 1).preempted_ns, 5030000);
    const SvRunTotals *t = sv_sim_totals(sim);
    ck_assert_int_eq(t->iterations, 12);
    ck_assert_int_eq(t->swap_outs, 1);
    ck_assert_int_eq(t->swap_ins, 1);
    ck_assert_int_eq(t->swap_out_blocks, 2);
    ck_assert_int_eq(t->swap_in_blocks, 2); /* out then in: the same blocks */
    ck_assert_int_eq(t->swap_fallbacks, 0);
    ck_assert(fabs(t->swap_copy_s - 0.004) < 1e-12);
    study_free(st);
}
END_TEST

/* The same run with a CPU tier of 1 block: R1's 2 blocks do not fit, so it
 * is recomputed instead (as with preemption_mode recompute).
 *  F 5.15   R1 preempted, KV dropped: [R0 d] 1.01 -> 6.16
 *  G 6.16   R1 (8 tokens to recompute) needs 2 blocks, 1 free: [R0 d] -> 7.17
 *  H 7.17   [R0 d] -> 8.18 R0 done
 *  I 8.18   [R1 p8] 1.08 -> 9.26 R1 t5; then 3 decodes -> 12.29 done.
 * R1 preempted from 5.15 to 8.18: 3.03 ms. */
START_TEST(test_swap_falls_back_to_recompute)
{
    for (int mode = 0; mode < 2; mode++) {
        Study *st = study_new("arrival_s,input_tokens,output_tokens\n0,4,8\n0,4,8\n", ".csv", 1);
        st->cfg.engine.block_size = 4;
        st->cfg.engine.preemption_mode = mode == 0 ? SV_PREEMPT_SWAP : SV_PREEMPT_RECOMPUTE;
        st->opt.kv_blocks = 4;
        st->opt.cpu_kv_blocks = 1;
        g_autoptr(SvSim) sim = run(st);
        ck_assert_int_eq(E2E_NS(record(sim, 0)), 8180000);
        ck_assert_int_eq(E2E_NS(record(sim, 1)), 12290000);
        ck_assert_int_eq(request_kv(sim, 1).preempted_ns, 3030000);
        const SvRunTotals *t = sv_sim_totals(sim);
        ck_assert_int_eq(t->swap_outs, 0);
        ck_assert_int_eq(t->swap_fallbacks, mode == 0 ? 1 : 0);
        ck_assert_int_eq(t->preemptions, 1);
        ck_assert(t->swap_copy_s == 0);
        study_free(st);
    }
}
END_TEST

/* Recompute preemption with prefix caching: the preempted request finds its
 * own blocks still cached and recomputes only the rest. Same shape as the
 * swap test but 16-token blocks, ids for the prompt; the first recompute
 * step is shorter than the 8-token prefill of the plain run. */
START_TEST(test_recompute_reuses_cache)
{
    static const char csv[] = "arrival_s,input_tokens,output_tokens,hash_ids\n"
                              "0,32,40,1 2\n"
                              "0,32,40,3 4\n";
    SvTimeNs e2e[2];
    for (int caching = 0; caching < 2; caching++) {
        Study *st = study_new(csv, ".csv", 1);
        st->cfg.engine.enable_prefix_caching = caching;
        st->opt.kv_blocks = 8; /* each needs blocks_for(71) = 5 at the end */
        g_autoptr(SvSim) sim = run(st);
        ck_assert_int_ge(record(sim, 1)->preemptions, 1);
        e2e[caching] = E2E_NS(record(sim, 1));
        if (caching)
            ck_assert_int_gt(sv_sim_totals(sim)->prefix_hits_tokens, 0);
        study_free(st);
    }
    ck_assert_int_lt(e2e[1], e2e[0]);
}
END_TEST

/* prefix-affinity: R0 (ids 1 2) goes to replica 0 (all idle: least loaded,
 * lowest index); R1 (ids 5 6) finds no cached prefix: least loaded, replica
 * 1. R2 (ids 1 2 again, after R0 is done) goes back to replica 0, where its
 * prefix is cached. With a load cap of 1, R3 (ids 1 2, while R2 and R4 keep
 * replica 0 busy) falls back to the least loaded replica. */
START_TEST(test_prefix_affinity)
{
    static const char csv[] = "arrival_s,input_tokens,output_tokens,hash_ids\n"
                              "0,40,2,1 2\n"
                              "0,40,2,5 6\n"
                              "0.1,40,50,1 2\n"
                              "0.1,40,50,1 2\n"
                              "0.1,40,50,1 2\n";
    Study *st = study_new(csv, ".csv", 2);
    st->cfg.engine.enable_prefix_caching = TRUE;
    st->cfg.router = SV_ROUTER_PREFIX_AFFINITY;
    st->cfg.prefix_affinity_load_factor = 2.0;
    g_autoptr(SvSim) sim = run(st);
    ck_assert_int_eq(record(sim, 0)->replica, 0);
    ck_assert_int_eq(record(sim, 1)->replica, 1);
    ck_assert_int_eq(record(sim, 2)->replica, 0);
    ck_assert_int_eq(request_kv(sim, 2).cached_tokens, 32);
    /* R3: replica 0 has 1 outstanding, replica 1 none: 1 <= 2 x max(1, 0). */
    ck_assert_int_eq(record(sim, 3)->replica, 0);
    /* R4: 2 outstanding on replica 0 <= 2: still replica 0. */
    ck_assert_int_eq(record(sim, 4)->replica, 0);
    study_free(st);

    st = study_new(csv, ".csv", 2);
    st->cfg.engine.enable_prefix_caching = TRUE;
    st->cfg.router = SV_ROUTER_PREFIX_AFFINITY;
    st->cfg.prefix_affinity_load_factor = 1.0;
    g_autoptr(SvSim) sim2 = run(st);
    ck_assert_int_eq(record(sim2, 2)->replica, 0);
    ck_assert_int_eq(record(sim2, 3)->replica, 0); /* 1 <= 1 x max(1, 0) */
    ck_assert_int_eq(record(sim2, 4)->replica, 1); /* 2 > 1: least loaded */
    study_free(st);
}
END_TEST

/* Overload with everything on: shared prompts, swap, a small pool and far
 * more requests than the replicas can serve. Every request ends, the
 * balances hold (run() checks them), the queue is seen to grow. */
START_TEST(test_overload_stable)
{
    GString *csv = g_string_new("arrival_s,input_tokens,output_tokens,hash_ids\n");
    for (int i = 0; i < 3000; i++) {
        int n = 1 + i % 7;
        g_string_append_printf(csv, "%.6f,%d,%d,", i * 0.0002, n * 16 - i % 5, 1 + (i * 53) % 200);
        for (int k = 0; k < n; k++)
            g_string_append_printf(csv, "%s%d", k ? " " : "", k < 3 ? k : i * 10 + k);
        g_string_append_c(csv, '\n');
    }
    for (int mode = 0; mode < 2; mode++) {
        Study *st = study_new(csv->str, ".csv", 2);
        st->cfg.engine.enable_prefix_caching = TRUE;
        st->cfg.engine.preemption_mode = mode ? SV_PREEMPT_SWAP : SV_PREEMPT_RECOMPUTE;
        st->cfg.router = SV_ROUTER_PREFIX_AFFINITY;
        st->opt.kv_blocks = 60;
        st->opt.cpu_kv_blocks = 40;
        g_autoptr(SvSim) sim = run(st);
        const SvRunTotals *t = sv_sim_totals(sim);
        ck_assert_int_gt(t->preemptions, 0);
        ck_assert_int_gt(t->prefix_hits_tokens, 0);
        if (mode)
            ck_assert_int_gt(t->swap_outs, 0);
        ck_assert_int_eq(t->swap_outs, t->swap_ins);
        ck_assert_int_eq(t->swap_out_blocks, t->swap_in_blocks);
        SvKvSummary k;
        sv_metrics_kv_summary(sv_sim_metrics(sim), &k);
        ck_assert_int_gt(k.waiting_peak, 100);
        ck_assert(k.waiting_growth_per_s > 100);
        study_free(st);
    }
    g_string_free(csv, TRUE);
}
END_TEST

/* Prefix caching on a trace without hash ids: each request's content is
 * its own (sv_kv_seq_own_content), so no request finds anything cached when
 * it is first scheduled, and every hit is a request readmitted after a
 * recompute preemption finding its own blocks (whole blocks of 16 tokens). */
START_TEST(test_no_hash_ids_own_content)
{
    GString *csv = g_string_new("arrival_s,input_tokens,output_tokens\n");
    for (int i = 0; i < 400; i++)
        g_string_append_printf(csv, "%.6f,%d,%d\n", i * 0.0005, 20 + (i * 37) % 300,
                               1 + (i * 53) % 120);
    for (int caching = 0; caching < 2; caching++) {
        Study *st = study_new(csv->str, ".csv", 2);
        st->cfg.engine.enable_prefix_caching = caching;
        st->opt.kv_blocks = 80;
        g_autoptr(SvSim) sim = run(st);
        const SvRunTotals *t = sv_sim_totals(sim);
        ck_assert_int_gt(t->preemptions, 0);
        SvMetrics *m = sv_sim_metrics(sim);
        ck_assert_uint_eq(sv_metrics_num_requests(m), 400);
        int64_t readmitted_hits = 0;
        for (int64_t id = 0; id < 400; id++)
            ck_assert_int_eq(request_kv(sim, id).cached_tokens, 0);
        if (caching) {
            readmitted_hits = t->prefix_hits_tokens;
            ck_assert_int_gt(t->prefix_queries_tokens, 0);
            ck_assert_int_gt(readmitted_hits, 0);
            ck_assert_int_eq(readmitted_hits % 16, 0);
            ck_assert_int_eq(t->prefix_hits_tokens, 16 * t->prefix_hits_blocks);
        } else {
            ck_assert_int_eq(t->prefix_queries_tokens, 0);
        }
        study_free(st);
    }
    g_string_free(csv, TRUE);
}
END_TEST

/* Recompute preemption with the prefix cache and no hash ids (the recompute
 * run of test_swap_falls_back_to_recompute, blocks of 4 tokens, 4 blocks):
 * R1's own first block (its 4 prompt tokens) stays cached while it waits.
 *  F 5.15   R1 preempted with 7 tokens computed: unit 0 (tokens 0-3) goes
 *           to the LRU list, its second block is freed; R0 takes the free
 *           block, not the cached one. [R0 d] -> 6.16
 *  G 6.16   R1 (8 known tokens) hits 4 but needs 1 more block besides its
 *           cached one, and only that one is free: waits. [R0 d] -> 7.17
 *  H 7.17   [R0 d] -> 8.18 R0 done
 *  I 8.18   R1 recomputes tokens 4-7 only: [R1 p4] 1.04 -> 9.22 (1.08
 *           without the cache); then 3 decodes -> 12.25 done (12.29).
 * Lookups: R0 and R1 first (4 tokens each, no hit), R1 again (8, hit 4). */
START_TEST(test_recompute_own_blocks)
{
    for (int caching = 0; caching < 2; caching++) {
        Study *st = study_new("arrival_s,input_tokens,output_tokens\n0,4,8\n0,4,8\n", ".csv", 1);
        st->cfg.engine.block_size = 4;
        st->cfg.engine.preemption_mode = SV_PREEMPT_RECOMPUTE;
        st->cfg.engine.enable_prefix_caching = caching;
        st->opt.kv_blocks = 4;
        g_autoptr(SvSim) sim = run(st);
        ck_assert_int_eq(E2E_NS(record(sim, 0)), 8180000);
        ck_assert_int_eq(E2E_NS(record(sim, 1)), caching ? 12250000 : 12290000);
        ck_assert_int_eq(record(sim, 1)->preemptions, 1);
        ck_assert_int_eq(request_kv(sim, 1).preempted_ns, 3030000);
        ck_assert_int_eq(request_kv(sim, 1).cached_tokens, 0);
        const SvRunTotals *t = sv_sim_totals(sim);
        ck_assert_int_eq(t->iterations, 12);
        ck_assert_int_eq(t->prefix_queries_tokens, caching ? 16 : 0);
        ck_assert_int_eq(t->prefix_hits_tokens, caching ? 4 : 0);
        ck_assert_int_eq(t->prefix_queries_blocks, caching ? 4 : 0);
        ck_assert_int_eq(t->prefix_hits_blocks, caching ? 1 : 0);
        study_free(st);
    }
}
END_TEST

/* The engine against an independent model (tests/kv-lru-model.py, plain
 * Python dicts): the first 6,000 requests of the Mooncake conversation trace,
 * one at a time (5 s apart; none takes 2.5 s), on one replica with 4,000 or
 * 30,000 blocks of 16 tokens. Every counter must agree exactly:
 *   python3 tests/kv-lru-model.py traces/mooncake_conversation.jsonl 6000 4000 */
START_TEST(test_mooncake_lru_model)
{
    static const struct {
        int64_t blocks;
        int64_t hits_tokens, hits_blocks, evicted_blocks;
    } want[] = {
        {4000, 2911744, 181984, 3156096},
        {30000, 3284992, 205312, 3106784},
    };
    g_autofree char *path = sv_test_src_path("traces/mooncake_conversation.jsonl");
    for (size_t i = 0; i < G_N_ELEMENTS(want); i++) {
        Study *st = study_new("arrival_s,input_tokens,output_tokens\n0,1,1\n", ".csv", 1);
        GError *error = NULL;
        sv_trace_free(st->trace);
        st->trace = sv_trace_load(path, &error);
        ck_assert_msg(st->trace != NULL, "%s", error ? error->message : "");
        st->model.max_position_embeddings = 40960;
        st->cfg.workload.trace_path = path;
        st->cfg.workload.process = SV_ARRIVAL_CONSTANT;
        st->cfg.workload.rate_per_s = 0.2;
        st->cfg.workload.num_requests = 6000;
        st->cfg.workload.hash_block_tokens = 512;
        st->cfg.engine.enable_prefix_caching = TRUE;
        st->opt.kv_blocks = want[i].blocks;
        st->cfg.output.sample_interval_s = 60; /* 8 simulated hours */
        g_autoptr(SvSim) sim = run(st);
        const SvRunTotals *t = sv_sim_totals(sim);
        ck_assert_int_eq(t->prefix_queries_tokens, 55004132);
        ck_assert_int_eq(t->prefix_queries_blocks, 3440433);
        ck_assert_int_eq(t->prefix_hits_tokens, want[i].hits_tokens);
        ck_assert_int_eq(t->prefix_hits_blocks, want[i].hits_blocks);
        ck_assert_int_eq(t->prefix_evicted_blocks, want[i].evicted_blocks);
        ck_assert_int_eq(t->preemptions, 0); /* one request at a time */
        st->cfg.workload.trace_path = st->trace_path;
        study_free(st);
    }
}
END_TEST

/* ---- Mooncake reader ----------------------------------------------------- */

START_TEST(test_mooncake_reader)
{
    g_autofree char *path = sv_test_path("data/mooncake/good.jsonl");
    GError *error = NULL;
    g_autoptr(SvTrace) t = sv_trace_load(path, &error);
    ck_assert_msg(t != NULL, "%s", error ? error->message : "");
    ck_assert_uint_eq(sv_trace_len(t), 3); /* a blank line, CRLF ends */
    ck_assert_int_eq(sv_trace_row(t, 0)->arrival_ns, 0);
    ck_assert_int_eq(sv_trace_row(t, 0)->input_tokens, 1100);
    ck_assert_int_eq(sv_trace_row(t, 0)->output_tokens, 5);
    ck_assert_int_eq(sv_trace_row(t, 1)->arrival_ns, 1500000000); /* ms -> ns */
    ck_assert_int_eq(sv_trace_row(t, 2)->arrival_ns, 1500500000);
    ck_assert_int_eq(sv_trace_row(t, 2)->trace_row, 2);
    size_t n = 0;
    const int64_t *h = sv_trace_hash_ids(t, 0, &n);
    ck_assert_uint_eq(n, 3);
    ck_assert_int_eq(h[0], 7);
    ck_assert_int_eq(h[2], 9);
    h = sv_trace_hash_ids(t, 1, &n);
    ck_assert_uint_eq(n, 2);
    ck_assert_int_eq(h[1], 10);
    ck_assert_ptr_null(sv_trace_hash_ids(t, 2, &n));
    ck_assert_uint_eq(n, 0);
}
END_TEST

/* The shipped copies read whole (12,031 and 3,993 rows, PROVENANCE.md). */
START_TEST(test_mooncake_shipped)
{
    g_autofree char *conv = sv_test_src_path("traces/mooncake_conversation.jsonl");
    GError *error = NULL;
    g_autoptr(SvTrace) t = sv_trace_load(conv, &error);
    ck_assert_msg(t != NULL, "%s", error ? error->message : "");
    ck_assert_uint_eq(sv_trace_len(t), 12031);
    ck_assert_int_eq(sv_trace_row(t, 0)->input_tokens, 6758);
    ck_assert_int_eq(sv_trace_row(t, 0)->output_tokens, 500);
    size_t n = 0;
    const int64_t *h = sv_trace_hash_ids(t, 0, &n);
    ck_assert_uint_eq(n, 14); /* ceil(6758 / 512) */
    ck_assert_int_eq(h[13], 13);
    h = sv_trace_hash_ids(t, 1, &n);
    ck_assert_int_eq(h[0], 0); /* shared with row 0 */
    ck_assert_int_eq(h[1], 14);
    ck_assert_int_eq(sv_trace_row(t, 12030)->arrival_ns, 3536999LL * 1000000);
    g_autofree char *syn = sv_test_src_path("traces/mooncake_synthetic.jsonl");
    g_autoptr(SvTrace) s = sv_trace_load(syn, &error);
    ck_assert_msg(s != NULL, "%s", error ? error->message : "");
    ck_assert_uint_eq(sv_trace_len(s), 3993);
}
END_TEST

static const struct {
    const char *file;
    const char *expect; /* after the path */
} bad_mooncake[] = {
    {"zero-output.jsonl", ":2:56: output_length is 0"},
    {"unknown-key.jsonl", ":2:18: unknown key 'input_lenght' (did you mean 'input_length'?)"},
    {"missing-key.jsonl", ":1:1: missing key 'input_length'"},
    {"unsorted.jsonl", ":2:1: timestamp goes backwards"},
    {"negative-time.jsonl", ":1:15: timestamp is negative (-3 ms)"},
    {"bad-hash-id.jsonl", ":1:76: hash_ids entry is not a 64-bit integer: '2.5'"},
    {"unclosed-list.jsonl", ":1:77: expected ',' or ']' in hash_ids, found '}'"},
    {"duplicate-key.jsonl", ":1:60: key 'timestamp' appears twice"},
    {"trailing-text.jsonl", ":1:60: text after the object's closing '}'"},
    {"fractional-length.jsonl", ":1:34: input_length is not an integer: '100.5'"},
    {"missing-comma.jsonl", ":1:17: expected ',' or '}' after a value, found '\"'"},
    {"array.jsonl", ":1:1: this looks like a JSON array"},
    {"not-json.jsonl", ":2:1: expected '{' (each line is one JSON object), found 'n'"},
    {"string-length.jsonl", ":1:34: input_length is not a number: '\"100\"'"},
};

START_TEST(test_mooncake_errors)
{
    g_autofree char *rel = g_strconcat("data/mooncake/", bad_mooncake[_i].file, NULL);
    g_autofree char *path = sv_test_path(rel);
    g_autoptr(GError) error = NULL;
    g_autoptr(SvTrace) t = sv_trace_load(path, &error);
    ck_assert_msg(t == NULL, "%s loaded", bad_mooncake[_i].file);
    ck_assert(g_error_matches(error, SV_TRACE_ERROR, SV_ERROR_PARSE));
    g_autofree char *want = g_strconcat(path, bad_mooncake[_i].expect, NULL);
    ck_assert_msg(g_str_has_prefix(error->message, want), "got '%s'\nwant '%s...'", error->message,
                  want);
    ck_assert(strchr(error->message, '\n') == NULL);
}
END_TEST

/* Inline cases: odd but valid JSON spacing, and more errors. */
START_TEST(test_mooncake_inline)
{
    GError *error = NULL;
    g_autofree char *ok = sv_test_write_tmp(
        "  {\"hash_ids\":[ -1 ,2],\"output_length\" :3,\"input_length\":9 , \"timestamp\":2.5}  \n",
        ".jsonl");
    g_autoptr(SvTrace) t = sv_trace_load(ok, &error);
    ck_assert_msg(t != NULL, "%s", error ? error->message : "");
    ck_assert_int_eq(sv_trace_row(t, 0)->arrival_ns, 2500000);
    size_t n = 0;
    ck_assert_int_eq(sv_trace_hash_ids(t, 0, &n)[0], -1);
    g_unlink(ok);
    static const struct {
        const char *text, *expect;
    } cases[] = {
        {"{\"timestamp\": 0, \"input_length\": 1, \"output_length\": 1, \"x\": 1}\n",
         ":1:57: unknown key 'x' (valid: timestamp, input_length, output_length, hash_ids)"},
        {"{}\n", ":1:1: empty object"},
        {"{\"timestamp\": 1e99, \"input_length\": 1, \"output_length\": 1}\n",
         ":1:15: timestamp is too large"},
        {"{\"timestamp\": 0, \"input_length\": 3000000000, \"output_length\": 1}\n",
         ":1:34: input_length is too large"},
        {"{\"timestamp\": 0, \"input_length\": 1, \"output_length\": 1\n",
         ":1:55: expected ',' or '}' after a value, found the end of the line"},
        {"{\"timestamp\": 0, \"input_length\": 1, \"output_length\": 1, \"hash_ids\": "
         "[99999999999999999999]}\n",
         ":1:70: hash_ids entry is not a 64-bit integer"},
        {"{\"timestamp\": 0, \"input_length\": 01, \"output_length\": 1}\n",
         ":1:34: input_length is not a number: '01'"},
        {"{\"timestamp\": 0, \"input_length\": 1, \"output_length\": 1}\n\x01\n",
         ":2:1: control byte 0x01"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *path = sv_test_write_tmp(cases[i].text, ".jsonl");
        SvTrace *bad = sv_trace_load(path, &error);
        ck_assert_msg(bad == NULL, "accepted %s", cases[i].text);
        g_autofree char *want = g_strconcat(path, cases[i].expect, NULL);
        ck_assert_msg(g_str_has_prefix(error->message, want), "got '%s'\nwant '%s...'",
                      error->message, want);
        g_clear_error(&error);
        g_unlink(path);
    }
}
END_TEST

/* ---- the synthetic generator ----------------------------------------------- */

static SvWorkloadConfig synthetic(void)
{
    SvWorkloadConfig c = {0};
    c.has_lengths = TRUE;
    c.input = (SvLengthSpec){.dist = SV_LEN_FIXED, .value = 50};
    c.output = (SvLengthSpec){.dist = SV_LEN_FIXED, .value = 10};
    c.process = SV_ARRIVAL_CONSTANT;
    c.rate_per_s = 10;
    c.num_requests = 400;
    c.hash_block_tokens = 512;
    return c;
}

/* K prompts of L tokens with probability p: the prompt goes before the
 * drawn input; about p of the requests get one; each key is one of K; the
 * arrivals and lengths are those of the generator without the layer. */
START_TEST(test_generator_prefix)
{
    SvWorkloadConfig c = synthetic();
    c.prefix = (SvPrefixConfig){.num_prompts = 3, .tokens = 100, .probability = 0.25};
    GError *error = NULL;
    g_autoptr(SvWorkload) w = sv_workload_new(&c, NULL, 1, &error);
    ck_assert_msg(w != NULL, "%s", error ? error->message : "");
    int with = 0;
    uint64_t keys[4] = {0};
    int nkeys = 0;
    for (int i = 0; i < 400; i++) {
        SvRequestSpec r;
        ck_assert(sv_workload_next(w, &r));
        ck_assert_int_eq(r.arrival_ns, sv_s_to_ns(i / 10.0));
        ck_assert_int_ne(r.prefix.context_key, 0);
        if (r.prefix.prefix_key != 0) {
            with++;
            ck_assert_int_eq(r.input_tokens, 150);
            ck_assert_int_eq(r.prefix.prefix_tokens, 100);
            gboolean seen = FALSE;
            for (int k = 0; k < nkeys; k++)
                seen = seen || keys[k] == r.prefix.prefix_key;
            if (!seen) {
                ck_assert_int_lt(nkeys, 3);
                keys[nkeys++] = r.prefix.prefix_key;
            }
        } else {
            ck_assert_int_eq(r.input_tokens, 50);
        }
    }
    SvRequestSpec r;
    ck_assert(!sv_workload_next(w, &r));
    ck_assert_int_eq(nkeys, 3);
    ck_assert_int_gt(with, 60); /* 100 expected; 5 sigma is 43 */
    ck_assert_int_lt(with, 140);
}
END_TEST

/* Sessions: every arrival starts a session of 3 turns; turn k + 1 arrives
 * after turn k and carries its prompt and answer plus 50 new tokens, under
 * the same keys. */
START_TEST(test_generator_sessions)
{
    SvWorkloadConfig c = synthetic();
    c.prefix = (SvPrefixConfig){.num_prompts = 1, .tokens = 64, .probability = 1.0};
    c.sessions = (SvSessionConfig){.turns = 3, .think_time_s = 2.0};
    c.num_requests = 300;
    GError *error = NULL;
    g_autoptr(SvWorkload) w = sv_workload_new(&c, NULL, 1, &error);
    ck_assert_msg(w != NULL, "%s", error ? error->message : "");
    GHashTable *last = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, g_free);
    SvTimeNs prev = 0;
    int n = 0, first_turns = 0;
    SvRequestSpec r;
    while (sv_workload_next(w, &r)) {
        n++;
        ck_assert_int_ge(r.arrival_ns, prev); /* arrivals stay in order */
        prev = r.arrival_ns;
        ck_assert_int_ne(r.prefix.prefix_key, 0);
        int64_t key = (int64_t)r.prefix.context_key;
        SvRequestSpec *before = g_hash_table_lookup(last, &key);
        if (before == NULL) {
            first_turns++;
            ck_assert_int_eq(r.input_tokens, 64 + 50);
        } else {
            ck_assert_int_eq(r.input_tokens, before->input_tokens + before->output_tokens + 50);
            ck_assert_int_gt(r.arrival_ns, before->arrival_ns);
            ck_assert_int_eq(r.prefix.prefix_key, before->prefix.prefix_key);
        }
        int64_t *k = g_new(int64_t, 1);
        *k = key;
        g_hash_table_replace(last, k, g_memdup2(&r, sizeof(r)));
    }
    ck_assert_int_eq(n, 300);
    /* About a third of the requests start a session (fewer: the last
     * sessions are cut by num_requests). */
    ck_assert_int_ge(first_turns, 100);
    ck_assert_int_lt(first_turns, 150);
    g_hash_table_unref(last);
}
END_TEST

/* Sessions through the engine: later turns hit the earlier turns' cache
 * (prompt and answer), so the hit rate is high and TTFT falls with it. */
START_TEST(test_sessions_hit)
{
    Study *st = study_new("arrival_s,input_tokens,output_tokens\n0,1,1\n", ".csv", 1);
    st->cfg.workload = synthetic();
    st->cfg.workload.rate_per_s = 2;
    st->cfg.workload.num_requests = 200;
    st->cfg.workload.trace_path = NULL;
    st->cfg.workload.sessions = (SvSessionConfig){.turns = 4, .think_time_s = 1.0};
    st->cfg.engine.enable_prefix_caching = TRUE;
    g_autoptr(SvSim) sim = run(st);
    const SvRunTotals *t = sv_sim_totals(sim);
    double rate = (double)t->prefix_hits_tokens / (double)t->prefix_queries_tokens;
    /* Turn k's prompt is 50 + 60 (k - 1) tokens. The previous turn computed
     * its prompt and 9 of its 10 answer tokens, and its full blocks hit:
     * 0, 48, 112 and 176 tokens of 50, 110, 170 and 230: 60 % per session
     * (sessions cut short by num_requests lower it a little). */
    ck_assert(rate > 0.45 && rate < 0.65);
    study_free(st);
}
END_TEST

/* Same seed, same everything: two runs with caching, sessions and swap give
 * byte-identical records. */
START_TEST(test_deterministic)
{
    SvRequestRecord first[64];
    for (int pass = 0; pass < 2; pass++) {
        Study *st = study_new("arrival_s,input_tokens,output_tokens\n0,1,1\n", ".csv", 2);
        st->cfg.workload = synthetic();
        st->cfg.workload.rate_per_s = 200;
        st->cfg.workload.num_requests = 64;
        st->cfg.workload.trace_path = NULL;
        st->cfg.workload.prefix = (SvPrefixConfig){2, 40, 0.5};
        st->cfg.workload.sessions = (SvSessionConfig){.turns = 3, .think_time_s = 0.01};
        st->cfg.engine.enable_prefix_caching = TRUE;
        st->cfg.engine.preemption_mode = SV_PREEMPT_SWAP;
        st->cfg.router = SV_ROUTER_PREFIX_AFFINITY;
        st->opt.kv_blocks = 40;
        st->opt.cpu_kv_blocks = 20;
        g_autoptr(SvSim) sim = run(st);
        SvMetrics *m = sv_sim_metrics(sim);
        ck_assert_uint_eq(sv_metrics_num_requests(m), 64);
        for (size_t i = 0; i < 64; i++) {
            const SvRequestRecord *r = sv_metrics_request(m, i);
            if (pass == 0) {
                first[i] = *r;
                continue;
            }
            ck_assert_int_eq(first[i].id, r->id);
            ck_assert_int_eq(first[i].arrival_ns, r->arrival_ns);
            ck_assert_int_eq(first[i].first_token_ns, r->first_token_ns);
            ck_assert_int_eq(first[i].finish_ns, r->finish_ns);
            ck_assert_int_eq(first[i].input_tokens, r->input_tokens);
            ck_assert_int_eq(first[i].replica, r->replica);
            ck_assert_int_eq(first[i].preemptions, r->preemptions);
        }
        study_free(st);
    }
}
END_TEST

/* The decode cohort (cohort.c) caches the units its members fill at the
 * ends of the steps that fill them, in running order with the releases of
 * the members that finish there: with prefix caching on, a run with it and
 * one without (SERVESIM_NO_FASTPATH) give the same records, the same block
 * counts (which a release and a unit caching of one hash in the other order
 * would change) and the same cache totals. Sessions whose turns overlap the
 * answers they extend share units while both run; 160 blocks for two
 * replicas force evictions and preemptions by recomputation and by swap. */
START_TEST(test_cohort_same_as_plain)
{
    for (int swap = 0; swap < 2; swap++) {
        SvRequestRecord *first = NULL;
        SvRunTotals first_t;
        SvSimBalance first_b;
        size_t n = 0;
        for (int plain = 0; plain < 2; plain++) {
            if (plain)
                g_setenv("SERVESIM_NO_FASTPATH", "1", TRUE);
            else
                g_unsetenv("SERVESIM_NO_FASTPATH");
            Study *st = study_new("arrival_s,input_tokens,output_tokens\n0,1,1\n", ".csv", 2);
            st->cfg.workload = synthetic();
            st->cfg.workload.output = (SvLengthSpec){.dist = SV_LEN_FIXED, .value = 70};
            st->cfg.workload.rate_per_s = 40;
            st->cfg.workload.num_requests = 300;
            st->cfg.workload.trace_path = NULL;
            st->cfg.workload.prefix = (SvPrefixConfig){3, 64, 0.7};
            st->cfg.workload.sessions = (SvSessionConfig){.turns = 3, .think_time_s = 0.05};
            st->cfg.engine.enable_prefix_caching = TRUE;
            st->cfg.engine.preemption_mode = swap ? SV_PREEMPT_SWAP : SV_PREEMPT_RECOMPUTE;
            st->opt.kv_blocks = 80;
            st->opt.cpu_kv_blocks = 30;
            g_autoptr(SvSim) sim = run(st);
            SvMetrics *m = sv_sim_metrics(sim);
            const SvRunTotals *t = sv_sim_totals(sim);
            SvSimBalance b;
            sv_sim_balance(sim, &b);
            ck_assert_int_gt(t->preemptions, 10);
            ck_assert_int_gt(t->prefix_hits_blocks, 100);
            ck_assert_int_gt(t->prefix_evicted_blocks, 100);
            if (!plain) {
                n = sv_metrics_num_requests(m);
                first = g_new(SvRequestRecord, n);
                for (size_t i = 0; i < n; i++)
                    first[i] = *sv_metrics_request(m, i);
                first_t = *t;
                first_b = b;
                study_free(st);
                continue;
            }
            ck_assert_uint_eq(sv_metrics_num_requests(m), n);
            for (size_t i = 0; i < n; i++) {
                const SvRequestRecord *r = sv_metrics_request(m, i);
                ck_assert_int_eq(first[i].id, r->id);
                ck_assert_int_eq(first[i].first_token_ns, r->first_token_ns);
                ck_assert_int_eq(first[i].finish_ns, r->finish_ns);
                ck_assert_int_eq(first[i].replica, r->replica);
                ck_assert_int_eq(first[i].preemptions, r->preemptions);
            }
            ck_assert_uint_eq(first_b.blocks_allocated, b.blocks_allocated);
            ck_assert_uint_eq(first_b.blocks_freed, b.blocks_freed);
            ck_assert_int_eq(first_t.preemptions, t->preemptions);
            ck_assert_int_eq(first_t.prefix_hits_tokens, t->prefix_hits_tokens);
            ck_assert_int_eq(first_t.prefix_queries_tokens, t->prefix_queries_tokens);
            ck_assert_int_eq(first_t.prefix_evicted_blocks, t->prefix_evicted_blocks);
            ck_assert_int_eq(first_t.swap_outs, t->swap_outs);
            ck_assert(first_t.kv_utilization_mean == t->kv_utilization_mean);
            g_free(first);
            study_free(st);
        }
        g_unsetenv("SERVESIM_NO_FASTPATH");
    }
}
END_TEST

Suite *kv_suite(void)
{
    Suite *s = suite_create("kv");
    TCase *pool = tcase_create("pool");
    tcase_add_test(pool, test_units);
    tcase_add_test(pool, test_cache_basics);
    tcase_add_test(pool, test_lru_eviction_order);
    tcase_add_test_raise_signal(pool, test_referenced_never_evicted, SIGABRT);
    tcase_add_test(pool, test_duplicate_shared);
    tcase_add_test(pool, test_random_invariants);
    tcase_add_test(pool, test_cpu_tier);
    tcase_add_test(pool, test_own_runs);
    tcase_add_test(pool, test_own_runs_vs_reference);
    suite_add_tcase(s, pool);
    TCase *runs = tcase_create("runs");
    tcase_add_test(runs, test_prefix_hit_timeline);
    tcase_add_test(runs, test_prefix_hit_while_running);
    tcase_add_test(runs, test_prefix_last_token_recomputed);
    tcase_add_test(runs, test_prefix_hash_blocks_512);
    tcase_add_test(runs, test_swap_timeline);
    tcase_add_test(runs, test_swap_falls_back_to_recompute);
    tcase_add_test(runs, test_recompute_reuses_cache);
    tcase_add_test(runs, test_prefix_affinity);
    tcase_add_test(runs, test_overload_stable);
    tcase_add_test(runs, test_no_hash_ids_own_content);
    tcase_add_test(runs, test_cohort_same_as_plain);
    tcase_add_test(runs, test_recompute_own_blocks);
    tcase_add_test(runs, test_mooncake_lru_model);
    tcase_add_test(runs, test_sessions_hit);
    tcase_add_test(runs, test_deterministic);
    suite_add_tcase(s, runs);
    TCase *mooncake = tcase_create("mooncake");
    tcase_add_test(mooncake, test_mooncake_reader);
    tcase_add_test(mooncake, test_mooncake_shipped);
    tcase_add_loop_test(mooncake, test_mooncake_errors, 0, (int)G_N_ELEMENTS(bad_mooncake));
    tcase_add_test(mooncake, test_mooncake_inline);
    suite_add_tcase(s, mooncake);
    TCase *gen = tcase_create("generator");
    tcase_add_test(gen, test_generator_prefix);
    tcase_add_test(gen, test_generator_sessions);
    suite_add_tcase(s, gen);
    return s;
}
