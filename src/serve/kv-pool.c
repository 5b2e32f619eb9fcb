/* KV block manager (see kv-pool.h). The prefix cache keeps one entry per
 * cached unit in a growable array (indices are stable, so the LRU list links
 * by index), and an open-addressing hash table (linear probing, deletion by
 * backward shift, so no tombstones pile up) from the unit's chained hash to
 * its entry. 64-bit hashes stand for content; two different contents
 * colliding would be a false hit, with odds of about n^2 / 2^65 for n
 * distinct units (1e-5 for ten million).
 *
 * A request's own content (sv_kv_seq_own_content) takes another road, with
 * the same outcome block for block. Only that request can ever hit it, and
 * only after it released it (preemption): while it runs, no one looks. So
 * its referenced units are only counted (own_ref_blocks), and a release
 * turns them into one LRU entry, a run: units [lo, lo + blocks) of one
 * request, in the LRU list where per-unit entries pushed last unit first
 * would have stood. Eviction takes a run's blocks from its top, as it would
 * have taken those per-unit entries, and only as many as it needs, as it
 * would have stopped after the last unit it needed. The request finds its
 * runs again through its own link (SvKvSeq.own_run) instead of hashes: the
 * newest run holds its lowest units, and each run links to the older one
 * holding the units right after its own (RunLink), which is evicted whole
 * before the newer one loses a block, so a run that is still there always
 * starts where the one below it ends. Links carry the entry's generation:
 * an entry freed and reused no longer matches them. */
#include "serve/kv-pool.h"

#include <string.h>

#define NONE (-1)

/* A link to a run entry, valid while the entry's generation is unchanged. */
typedef struct {
    int32_t entry; /* entry index, or NONE */
    uint32_t gen;  /* the entry's generation when linked */
} RunLink;

/* A named unit (in the hash table) or a run of own units (not in it). */
typedef struct {
    union {
        uint64_t hash; /* named unit: its chained content hash */
        RunLink up;    /* run: the older run holding the units after its last, or none */
    };
    int32_t refs;   /* requests referencing it; 0 = in the LRU list (a run: always 0) */
    int32_t blocks; /* blocks it holds (a run: one per unit) */
    int32_t prev;   /* LRU neighbour towards the head (older), or NONE */
    int32_t next;   /* LRU neighbour towards the tail, or NONE; free-list link when unused */
    int32_t lo;     /* run: unit index of its first block; NONE for a named unit */
    uint32_t gen;   /* times the entry was freed: stale RunLinks do not match it */
} Entry;

typedef struct {
    uint64_t hash;
    int32_t entry; /* NONE = empty slot */
} Slot;

struct SvKvCache {
    Entry *entries;
    int32_t num_entries;    /* entries ever used (high-water mark) */
    int32_t cap_entries;    /* allocated */
    int32_t free_entry;     /* head of the unused-entry list, or NONE */
    int32_t live;           /* entries in the table */
    int32_t runs;           /* run entries (all in the LRU list) */
    Slot *slots;            /* power-of-two sized */
    uint32_t mask;          /* slots - 1 */
    int32_t lru_head;       /* oldest unreferenced entry (evicted first), or NONE */
    int32_t lru_tail;       /* newest, or NONE */
    int64_t lru_blocks;     /* blocks of the entries in the LRU list */
    int64_t cached_blocks;  /* blocks of all live entries and own_ref_blocks */
    int64_t own_ref_blocks; /* own units referenced by their request: cached, no entry */
    int64_t unused_blocks;  /* free blocks that no entry holds (never used or evicted) */
    int32_t *scratch;       /* entry indices of one release, reused */
    int32_t scratch_cap;
};

/* SplitMix64's finaliser: a cheap mixing function with full avalanche. */
static inline uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

/* Salts that keep the kinds of content apart: a trace id never equals a
 * synthetic prompt by accident. */
#define SALT_TRACE   0x7f4a7c159e3779b9ULL
#define SALT_PREFIX  0x2545f4914f6cdd1dULL
#define SALT_CONTEXT 0x9e3779b97f4a7c15ULL

static inline uint64_t chain_next(uint64_t prev, uint64_t content)
{
    return mix64(prev * 0x9e3779b97f4a7c15ULL + content);
}

/* ---- pool ------------------------------------------------------------- */

void sv_kv_pool_init(SvKvPool *pool, int64_t total_blocks, int32_t block_size)
{
    *pool = (SvKvPool){0};
    pool->total_blocks = total_blocks;
    pool->free_blocks = total_blocks;
    pool->block_size = block_size;
    SV_ASSERT(block_size > 0 && (block_size & (block_size - 1)) == 0,
              "block size %d is not a power of 2", block_size);
    while ((1 << pool->block_shift) < block_size)
        pool->block_shift++;
}

void sv_kv_pool_enable_prefix_caching(SvKvPool *pool)
{
    SV_ASSERT(pool->cache == NULL && pool->free_blocks == pool->total_blocks,
              "prefix caching enabled on a pool in use");
    SvKvCache *c = g_new0(SvKvCache, 1);
    c->free_entry = NONE;
    c->lru_head = c->lru_tail = NONE;
    c->unused_blocks = pool->total_blocks;
    c->mask = 1023;
    c->slots = g_new(Slot, c->mask + 1);
    for (uint32_t i = 0; i <= c->mask; i++)
        c->slots[i].entry = NONE;
    pool->cache = c;
}

void sv_kv_pool_set_cpu_blocks(SvKvPool *pool, int64_t cpu_blocks)
{
    SV_ASSERT(cpu_blocks >= 0 && pool->cpu_free_blocks == pool->cpu_total_blocks,
              "CPU tier of %" G_GINT64_FORMAT " blocks set on a tier in use", cpu_blocks);
    pool->cpu_total_blocks = cpu_blocks;
    pool->cpu_free_blocks = cpu_blocks;
}

void sv_kv_pool_clear(SvKvPool *pool)
{
    if (pool->cache == NULL)
        return;
    g_free(pool->cache->entries);
    g_free(pool->cache->slots);
    g_free(pool->cache->scratch);
    g_free(pool->cache);
    pool->cache = NULL;
}

void sv_kv_pool_advance(SvKvPool *pool, SvTimeNs now_ns)
{
    if (now_ns > pool->last_change_ns) {
        pool->used_block_ns += (double)(pool->total_blocks - pool->free_blocks) *
                               (double)(now_ns - pool->last_change_ns);
        pool->last_change_ns = now_ns;
    }
}

/* ---- hash table ------------------------------------------------------- */

static inline uint32_t slot_of(const SvKvCache *c, uint64_t hash)
{
    /* The hashes are mixed already; the low bits are as good as any. */
    return (uint32_t)hash & c->mask;
}

static int32_t table_find(const SvKvCache *c, uint64_t hash)
{
    for (uint32_t i = slot_of(c, hash);; i = (i + 1) & c->mask) {
        const Slot *s = &c->slots[i];
        if (s->entry == NONE)
            return NONE;
        if (s->hash == hash)
            return s->entry;
    }
}

static void table_put(SvKvCache *c, uint64_t hash, int32_t entry)
{
    uint32_t i = slot_of(c, hash);
    while (c->slots[i].entry != NONE)
        i = (i + 1) & c->mask;
    c->slots[i] = (Slot){hash, entry};
}

static void table_grow(SvKvCache *c)
{
    Slot *old = c->slots;
    uint32_t old_n = c->mask + 1;
    c->mask = old_n * 2 - 1;
    c->slots = g_new(Slot, c->mask + 1);
    for (uint32_t i = 0; i <= c->mask; i++)
        c->slots[i].entry = NONE;
    for (uint32_t i = 0; i < old_n; i++)
        if (old[i].entry != NONE)
            table_put(c, old[i].hash, old[i].entry);
    g_free(old);
}

static void table_insert(SvKvCache *c, uint64_t hash, int32_t entry)
{
    /* Linear probing stays short below half full. */
    if ((uint64_t)(c->live + 1) * 2 > (uint64_t)c->mask + 1)
        table_grow(c);
    table_put(c, hash, entry);
    c->live++;
}

static void table_remove(SvKvCache *c, uint64_t hash)
{
    uint32_t i = slot_of(c, hash);
    while (c->slots[i].hash != hash || c->slots[i].entry == NONE) {
        SV_ASSERT(c->slots[i].entry != NONE, "removing hash %" G_GUINT64_FORMAT " not cached",
                  hash);
        i = (i + 1) & c->mask;
    }
    /* Backward-shift deletion: pull later members of the probe run into the
     * hole whenever their home slot lies at or before it. */
    uint32_t hole = i;
    for (uint32_t j = (hole + 1) & c->mask; c->slots[j].entry != NONE; j = (j + 1) & c->mask) {
        uint32_t home = slot_of(c, c->slots[j].hash);
        if (((j - home) & c->mask) >= ((j - hole) & c->mask)) {
            c->slots[hole] = c->slots[j];
            hole = j;
        }
    }
    c->slots[hole].entry = NONE;
    c->live--;
}

/* ---- entries and the LRU list ----------------------------------------- */

/* An unused entry, its generation kept. */
static int32_t entry_alloc(SvKvCache *c)
{
    int32_t e;
    if (c->free_entry != NONE) {
        e = c->free_entry;
        c->free_entry = c->entries[e].next;
    } else {
        if (c->num_entries == c->cap_entries) {
            c->cap_entries = c->cap_entries ? c->cap_entries * 2 : 1024;
            c->entries = g_renew(Entry, c->entries, c->cap_entries);
        }
        e = c->num_entries++;
        c->entries[e].gen = 0;
    }
    return e;
}

/* Back to the unused list; links to it go stale. */
static void entry_dispose(SvKvCache *c, int32_t e)
{
    c->entries[e].gen++;
    c->entries[e].next = c->free_entry;
    c->free_entry = e;
}

/* A named unit, referenced once. */
static int32_t entry_new(SvKvCache *c, uint64_t hash, int32_t blocks)
{
    int32_t e = entry_alloc(c);
    Entry *x = &c->entries[e];
    x->hash = hash;
    x->refs = 1;
    x->blocks = blocks;
    x->prev = x->next = NONE;
    x->lo = NONE;
    table_insert(c, hash, e);
    c->cached_blocks += blocks;
    return e;
}

static void lru_unlink(SvKvCache *c, int32_t e)
{
    Entry *x = &c->entries[e];
    if (x->prev != NONE)
        c->entries[x->prev].next = x->next;
    else
        c->lru_head = x->next;
    if (x->next != NONE)
        c->entries[x->next].prev = x->prev;
    else
        c->lru_tail = x->prev;
    x->prev = x->next = NONE;
    c->lru_blocks -= x->blocks;
}

static void lru_push_tail(SvKvCache *c, int32_t e)
{
    Entry *x = &c->entries[e];
    x->prev = c->lru_tail;
    x->next = NONE;
    if (c->lru_tail != NONE)
        c->entries[c->lru_tail].next = e;
    else
        c->lru_head = e;
    c->lru_tail = e;
    c->lru_blocks += x->blocks;
}

/* Evict least recently used blocks until @n are unused: whole named units,
 * and from a run only the blocks still missing, its top units first (see
 * the top of the file). */
static void evict_until(SvKvPool *pool, int64_t n)
{
    SvKvCache *c = pool->cache;
    while (c->unused_blocks < n) {
        int32_t e = c->lru_head;
        SV_ASSERT(e != NONE, "eviction with an empty LRU list (%" G_GINT64_FORMAT " unused blocks)",
                  c->unused_blocks);
        Entry *x = &c->entries[e];
        /* The invariant the cache lives by: a referenced block is never freed. */
        SV_ASSERT(x->refs == 0, "evicting a cache entry with %d references", x->refs);
        int64_t take = x->blocks;
        if (x->lo != NONE && take > n - c->unused_blocks) {
            take = n - c->unused_blocks;
            x->blocks -= (int32_t)take;
            c->lru_blocks -= take;
        } else {
            lru_unlink(c, e);
            if (x->lo == NONE) {
                table_remove(c, x->hash);
            } else {
                c->runs--;
            }
            entry_dispose(c, e);
        }
        c->cached_blocks -= take;
        c->unused_blocks += take;
        pool->evicted_blocks += (uint64_t)take;
    }
}

/* A request takes a reference on entry @e. */
static void entry_ref(SvKvPool *pool, int32_t e)
{
    Entry *x = &pool->cache->entries[e];
    if (x->refs == 0) {
        /* Out of the LRU list: its blocks are in use again. */
        lru_unlink(pool->cache, e);
        pool->free_blocks -= x->blocks;
        pool->allocated_total += (uint64_t)x->blocks;
    }
    x->refs++;
}

static void entry_unref(SvKvPool *pool, int32_t e)
{
    Entry *x = &pool->cache->entries[e];
    SV_ASSERT(x->refs > 0, "dropping a reference to an unreferenced cache entry");
    if (--x->refs == 0) {
        lru_push_tail(pool->cache, e);
        pool->free_blocks += x->blocks;
        pool->freed_total += (uint64_t)x->blocks;
    }
}

/* ---- private blocks ----------------------------------------------------- */

void sv_kv_pool_alloc(SvKvPool *pool, int64_t n, SvTimeNs now_ns)
{
    SV_ASSERT(n >= 0 && n <= pool->free_blocks,
              "alloc %" G_GINT64_FORMAT " of %" G_GINT64_FORMAT " free blocks", n,
              pool->free_blocks);
    sv_kv_pool_advance(pool, now_ns);
    if (pool->cache != NULL) {
        SvKvCache *c = pool->cache;
        if (c->unused_blocks < n)
            evict_until(pool, n);
        c->unused_blocks -= n;
    }
    pool->free_blocks -= n;
    pool->allocated_total += (uint64_t)n;
}

void sv_kv_pool_free(SvKvPool *pool, int64_t n, SvTimeNs now_ns)
{
    SV_ASSERT(n >= 0 && pool->free_blocks + n <= pool->total_blocks,
              "free %" G_GINT64_FORMAT " blocks with %" G_GINT64_FORMAT " of %" G_GINT64_FORMAT
              " free",
              n, pool->free_blocks, pool->total_blocks);
    sv_kv_pool_advance(pool, now_ns);
    if (pool->cache != NULL)
        pool->cache->unused_blocks += n;
    pool->free_blocks += n;
    pool->freed_total += (uint64_t)n;
}

/* ---- sequences ---------------------------------------------------------- */

void sv_kv_seq_init(SvKvSeq *seq, const SvPrefixSource *src, int32_t input_tokens,
                    int32_t block_size, gboolean caching)
{
    *seq = (SvKvSeq){0};
    if (src == NULL || !caching)
        return;
    seq->src = *src;
    if (src->prefix_key != 0 || src->context_key != 0) {
        /* Synthetic content is named token by token: vLLM's own unit, one block. */
        seq->unit_tokens = block_size;
        seq->unit_blocks = 1;
        if (src->context_key != 0)
            seq->max_units = INT32_MAX; /* the context owns every later token */
        else
            seq->max_units = src->prefix_tokens / block_size;
    } else if (src->hash_ids != NULL && src->num_hash_ids > 0 && src->hash_block_tokens > 0) {
        int32_t h = src->hash_block_tokens;
        SV_ASSERT(h % block_size == 0 || block_size % h == 0,
                  "hash blocks of %d tokens on KV blocks of %d", h, block_size);
        seq->unit_tokens = MAX(h, block_size);
        seq->unit_blocks = seq->unit_tokens / block_size;
        /* Only the prompt is named, and a partial last id names a partial block. */
        int64_t named = MIN((int64_t)input_tokens, (int64_t)src->num_hash_ids * h);
        seq->max_units = (int32_t)(named / seq->unit_tokens);
    }
    if (seq->max_units == 0)
        seq->unit_tokens = seq->unit_blocks = 0;
}

void sv_kv_seq_own_content(SvKvSeq *seq, const SvPrefixSource *src, int32_t block_size)
{
    g_return_if_fail(seq != NULL && block_size > 0);
    if (src != NULL && ((src->hash_ids != NULL && src->num_hash_ids > 0) || src->prefix_key != 0 ||
                        src->context_key != 0))
        return;
    /* One block per unit, as synthetic content: every token is named. */
    seq->own = TRUE;
    seq->own_cache = NULL;
    seq->own_run = NONE;
    seq->unit_tokens = block_size;
    seq->unit_blocks = 1;
    seq->max_units = INT32_MAX;
}

/* The content of unit @i of @seq, before chaining. */
static uint64_t unit_content(const SvKvSeq *seq, int32_t i)
{
    const SvPrefixSource *s = &seq->src;
    if (s->prefix_key != 0 || s->context_key != 0) {
        if ((int64_t)(i + 1) * seq->unit_tokens <= s->prefix_tokens)
            return mix64(s->prefix_key ^ SALT_PREFIX) + (uint64_t)i;
        return mix64(s->context_key ^ SALT_CONTEXT) + (uint64_t)i;
    }
    int32_t per = seq->unit_tokens / s->hash_block_tokens; /* ids per unit, >= 1 */
    uint64_t c = SALT_TRACE;
    for (int32_t k = i * per; k < (i + 1) * per; k++)
        c = mix64(c + (uint64_t)s->hash_ids[k]);
    return c;
}

/* The chained hash of unit @i given that of unit i - 1 (@prev; 0 for the first). */
static inline uint64_t unit_hash(const SvKvSeq *seq, int32_t i, uint64_t prev)
{
    return chain_next(prev, unit_content(seq, i));
}

/* ---- own content: runs -------------------------------------------------- */

/* The run holding @seq's unit cached_units in @c, or NONE (none left). */
static inline int32_t own_run(const SvKvCache *c, const SvKvSeq *seq)
{
    if (seq->own_cache != c || seq->own_run == NONE || c->entries[seq->own_run].gen != seq->own_gen)
        return NONE;
    return seq->own_run;
}

/* @seq's leading own units in @c, at most @limit: those it references and,
 * after them, those its runs hold. */
static int64_t own_units(const SvKvCache *c, const SvKvSeq *seq, int64_t limit)
{
    int64_t units = seq->cached_units;
    RunLink l = {own_run(c, seq), seq->own_gen};
    while (units < limit && l.entry != NONE && c->entries[l.entry].gen == l.gen) {
        const Entry *x = &c->entries[l.entry];
        SV_ASSERT(x->lo == units, "own run starts at unit %d, expected %" G_GINT64_FORMAT, x->lo,
                  units);
        units += x->blocks;
        l = x->up;
    }
    return MIN(units, limit);
}

/* @seq references its next @k own units, which its runs hold (own_units
 * said so): they leave the LRU list, in use again. Runs emptied are freed
 * and the link moves to the next one up. */
static void own_take(SvKvPool *pool, SvKvSeq *seq, int64_t k)
{
    SvKvCache *c = pool->cache;
    pool->free_blocks -= k;
    pool->allocated_total += (uint64_t)k;
    c->lru_blocks -= k;
    c->own_ref_blocks += k;
    while (k > 0) {
        int32_t e = own_run(c, seq);
        SV_ASSERT(e != NONE && c->entries[e].lo == seq->cached_units,
                  "unit %d of a request's own content is not cached", seq->cached_units);
        Entry *x = &c->entries[e];
        int32_t t = (int32_t)MIN(k, (int64_t)x->blocks);
        x->lo += t;
        x->blocks -= t;
        seq->cached_units += t;
        k -= t;
        if (x->blocks == 0) {
            lru_unlink(c, e); /* its blocks are counted out above */
            c->runs--;
            seq->own_run = x->up.entry;
            seq->own_gen = x->up.gen;
            entry_dispose(c, e);
        }
    }
}

/* The request drops its @seq->cached_units own units: one run at the LRU
 * tail, linked to the run holding the units after them, if any. */
static void own_release(SvKvPool *pool, SvKvSeq *seq)
{
    SvKvCache *c = pool->cache;
    int32_t n = seq->cached_units;
    int32_t up = own_run(c, seq);
    SV_ASSERT(up == NONE || c->entries[up].lo == n,
              "a request drops %d own units but its next run starts at unit %d", n,
              c->entries[up].lo);
    int32_t e = entry_alloc(c);
    Entry *x = &c->entries[e];
    x->up = (RunLink){up, up != NONE ? seq->own_gen : 0};
    x->refs = 0;
    x->blocks = n;
    x->lo = 0;
    lru_push_tail(c, e);
    c->runs++;
    c->own_ref_blocks -= n;
    pool->free_blocks += n;
    pool->freed_total += (uint64_t)n;
    seq->own_cache = c;
    seq->own_run = e;
    seq->own_gen = x->gen;
}

/* ---- lookups ------------------------------------------------------------- */

int32_t sv_kv_pool_match(const SvKvPool *pool, const SvKvSeq *seq, int64_t max_tokens,
                         int64_t *evictable_blocks_out)
{
    int64_t evictable = 0;
    int32_t units = 0;
    const SvKvCache *c = pool->cache;
    if (c != NULL && seq->own) {
        /* Only a request that holds none of its content looks it up. */
        SV_ASSERT(seq->cached_units == 0, "own content matched while %d units are referenced",
                  seq->cached_units);
        units = (int32_t)own_units(c, seq, MAX(max_tokens, 0) / seq->unit_tokens);
        evictable = units;
    } else if (c != NULL && seq->unit_tokens > 0 && c->live > 0) {
        int64_t limit = MIN((int64_t)seq->max_units, max_tokens / seq->unit_tokens);
        uint64_t h = 0;
        for (; units < limit; units++) {
            h = unit_hash(seq, units, h);
            int32_t e = table_find(c, h);
            if (e == NONE)
                break;
            if (c->entries[e].refs == 0)
                evictable += c->entries[e].blocks;
        }
    }
    if (evictable_blocks_out != NULL)
        *evictable_blocks_out = evictable;
    return units;
}

void sv_kv_pool_acquire(SvKvPool *pool, SvKvSeq *seq, int32_t units, SvTimeNs now_ns)
{
    SV_ASSERT(seq->cached_units == 0, "acquiring a prefix for a request that holds %d units",
              seq->cached_units);
    if (units == 0)
        return;
    sv_kv_pool_advance(pool, now_ns);
    if (seq->own) {
        own_take(pool, seq, units);
        return;
    }
    uint64_t h = 0;
    for (int32_t i = 0; i < units; i++) {
        h = unit_hash(seq, i, h);
        int32_t e = table_find(pool->cache, h);
        SV_ASSERT(e != NONE, "unit %d of a matched prefix is not cached", i);
        entry_ref(pool, e);
    }
    seq->cached_units = units;
    seq->chain = h;
}

void sv_kv_pool_cache_computed(SvKvPool *pool, SvKvSeq *seq, int64_t computed_tokens,
                               SvTimeNs now_ns)
{
    if (pool->cache == NULL || seq->unit_tokens == 0)
        return;
    int64_t full = MIN((int64_t)seq->max_units, computed_tokens / seq->unit_tokens);
    if (seq->cached_units >= full)
        return;
    sv_kv_pool_advance(pool, now_ns);
    SvKvCache *c = pool->cache;
    if (seq->own) {
        /* Units its runs still hold are shared again, their private copies
         * freed; the others become cached units by being counted. */
        int64_t found = own_units(c, seq, full) - seq->cached_units;
        if (found > 0) {
            own_take(pool, seq, found);
            sv_kv_pool_free(pool, found, now_ns);
        }
        c->own_ref_blocks += full - seq->cached_units;
        c->cached_blocks += full - seq->cached_units;
        seq->cached_units = (int32_t)full;
        return;
    }
    for (; seq->cached_units < full; seq->cached_units++) {
        uint64_t h = unit_hash(seq, seq->cached_units, seq->chain);
        int32_t e = table_find(c, h);
        if (e == NONE) {
            /* The request's private blocks become the cached unit. */
            entry_new(c, h, seq->unit_blocks);
        } else {
            entry_ref(pool, e);
            sv_kv_pool_free(pool, seq->unit_blocks, now_ns);
        }
        seq->chain = h;
    }
}

gboolean sv_kv_seq_own_settled(const SvKvPool *pool, const SvKvSeq *seq)
{
    return pool->cache != NULL && seq->own && own_run(pool->cache, seq) == NONE;
}

void sv_kv_pool_own_count(SvKvPool *pool, SvKvSeq *seq, int64_t computed_tokens)
{
    SV_ASSERT(sv_kv_seq_own_settled(pool, seq), "own units counted while a run of them is cached");
    int64_t full = computed_tokens / seq->unit_tokens;
    if (seq->cached_units >= full)
        return;
    /* What sv_kv_pool_cache_computed does when own_units finds nothing. */
    pool->cache->own_ref_blocks += full - seq->cached_units;
    pool->cache->cached_blocks += full - seq->cached_units;
    seq->cached_units = (int32_t)full;
}

void sv_kv_pool_release(SvKvPool *pool, SvKvSeq *seq, int64_t blocks, SvTimeNs now_ns)
{
    int64_t shared = (int64_t)seq->cached_units * seq->unit_blocks;
    SV_ASSERT(shared <= blocks,
              "request holds %" G_GINT64_FORMAT " blocks but references %" G_GINT64_FORMAT
              " cached ones",
              blocks, shared);
    sv_kv_pool_free(pool, blocks - shared, now_ns);
    if (seq->cached_units == 0)
        return;
    SvKvCache *c = pool->cache;
    if (seq->own) {
        own_release(pool, seq);
        seq->cached_units = 0;
        return;
    }
    if (c->scratch_cap < seq->cached_units) {
        c->scratch_cap = MAX(seq->cached_units, 2 * c->scratch_cap);
        c->scratch = g_renew(int32_t, c->scratch, c->scratch_cap);
    }
    uint64_t h = 0;
    for (int32_t i = 0; i < seq->cached_units; i++) {
        h = unit_hash(seq, i, h);
        int32_t e = table_find(c, h);
        SV_ASSERT(e != NONE && c->entries[e].refs > 0,
                  "unit %d of a request is not cached while referenced", i);
        c->scratch[i] = e;
    }
    /* The tail first: it joins the LRU list nearer the head, so it is
     * evicted before the prefix that other requests are likelier to share. */
    for (int32_t i = seq->cached_units - 1; i >= 0; i--)
        entry_unref(pool, c->scratch[i]);
    seq->cached_units = 0;
    seq->chain = 0;
}

int64_t sv_kv_pool_cached_blocks(const SvKvPool *pool)
{
    return pool->cache != NULL ? pool->cache->cached_blocks : 0;
}

int64_t sv_kv_pool_lru_blocks(const SvKvPool *pool)
{
    return pool->cache != NULL ? pool->cache->lru_blocks : 0;
}

void sv_kv_pool_check(const SvKvPool *pool)
{
    SV_ASSERT(pool->free_blocks >= 0 && pool->free_blocks <= pool->total_blocks,
              "%" G_GINT64_FORMAT " free of %" G_GINT64_FORMAT, pool->free_blocks,
              pool->total_blocks);
    SV_ASSERT(pool->cpu_free_blocks >= 0 && pool->cpu_free_blocks <= pool->cpu_total_blocks,
              "%" G_GINT64_FORMAT " CPU blocks free of %" G_GINT64_FORMAT, pool->cpu_free_blocks,
              pool->cpu_total_blocks);
    const SvKvCache *c = pool->cache;
    if (c == NULL)
        return;
    SV_ASSERT(pool->free_blocks == c->unused_blocks + c->lru_blocks,
              "free %" G_GINT64_FORMAT " != unused %" G_GINT64_FORMAT " + LRU %" G_GINT64_FORMAT,
              pool->free_blocks, c->unused_blocks, c->lru_blocks);
    SV_ASSERT(c->cached_blocks <= pool->total_blocks - c->unused_blocks,
              "cached %" G_GINT64_FORMAT " blocks with %" G_GINT64_FORMAT " unused",
              c->cached_blocks, c->unused_blocks);
    /* The LRU list: every member unreferenced, linked both ways; named units
     * in the table, runs not empty. pos[e]: the entry's place in the list. */
    int32_t *pos = g_new(int32_t, MAX(c->num_entries, 1));
    for (int32_t e = 0; e < c->num_entries; e++)
        pos[e] = NONE;
    int64_t lru_blocks = 0, run_blocks = 0;
    int32_t lru_len = 0, runs = 0, prev = NONE;
    for (int32_t e = c->lru_head; e != NONE; prev = e, e = c->entries[e].next) {
        const Entry *x = &c->entries[e];
        SV_ASSERT(x->refs == 0, "LRU entry %d has %d references", e, x->refs);
        SV_ASSERT(x->prev == prev, "LRU entry %d has a broken back link", e);
        if (x->lo == NONE) {
            SV_ASSERT(table_find(c, x->hash) == e, "LRU entry %d not in the table", e);
        } else {
            SV_ASSERT(x->blocks > 0 && x->lo >= 0, "run %d holds %d blocks from unit %d", e,
                      x->blocks, x->lo);
            run_blocks += x->blocks;
            runs++;
        }
        pos[e] = lru_len;
        lru_blocks += x->blocks;
        lru_len++;
        SV_ASSERT(lru_len <= c->live + c->runs, "LRU list longer than the cache (a cycle)");
    }
    SV_ASSERT(prev == c->lru_tail, "LRU tail is not the last entry");
    SV_ASSERT(lru_blocks == c->lru_blocks,
              "LRU holds %" G_GINT64_FORMAT " blocks, counted %" G_GINT64_FORMAT, lru_blocks,
              c->lru_blocks);
    SV_ASSERT(runs == c->runs, "LRU holds %d runs, counted %d", runs, c->runs);
    /* A run's live link points at an older run that starts where it ends:
     * the older one goes whole before the newer loses a block. */
    for (int32_t e = c->lru_head; e != NONE; e = c->entries[e].next) {
        const Entry *x = &c->entries[e];
        if (x->lo == NONE || x->up.entry == NONE || c->entries[x->up.entry].gen != x->up.gen)
            continue;
        const Entry *u = &c->entries[x->up.entry];
        SV_ASSERT(u->lo != NONE && pos[x->up.entry] != NONE && pos[x->up.entry] < pos[e],
                  "run %d links to entry %d, not an older run", e, x->up.entry);
        SV_ASSERT(u->lo == x->lo + x->blocks, "run %d ends at unit %d, the next starts at %d", e,
                  x->lo + x->blocks, u->lo);
    }
    g_free(pos);
    /* The table: every slot points at a live named entry with that hash. */
    int64_t cached = 0;
    int32_t live = 0;
    for (uint32_t i = 0; i <= c->mask; i++) {
        if (c->slots[i].entry == NONE)
            continue;
        const Entry *x = &c->entries[c->slots[i].entry];
        SV_ASSERT(x->lo == NONE && x->hash == c->slots[i].hash,
                  "slot %u points at an entry of another hash", i);
        SV_ASSERT(x->refs >= 0, "entry with %d references", x->refs);
        cached += x->blocks;
        live++;
    }
    SV_ASSERT(c->own_ref_blocks >= 0, "%" G_GINT64_FORMAT " own blocks referenced",
              c->own_ref_blocks);
    SV_ASSERT(live == c->live && cached + run_blocks + c->own_ref_blocks == c->cached_blocks,
              "table holds %d entries / %" G_GINT64_FORMAT " blocks, runs %" G_GINT64_FORMAT
              ", own referenced %" G_GINT64_FORMAT ", counted %d / %" G_GINT64_FORMAT,
              live, cached, run_blocks, c->own_ref_blocks, c->live, c->cached_blocks);
}

/* ---- CPU tier ------------------------------------------------------------ */

gboolean sv_kv_pool_swap_out(SvKvPool *pool, int64_t n)
{
    SV_ASSERT(n >= 0, "swap out %" G_GINT64_FORMAT " blocks", n);
    if (n > pool->cpu_free_blocks) {
        pool->swap_fallbacks++;
        return FALSE;
    }
    pool->cpu_free_blocks -= n;
    pool->swap_outs++;
    pool->swapped_out_blocks += (uint64_t)n;
    return TRUE;
}

void sv_kv_pool_swap_in(SvKvPool *pool, int64_t n)
{
    SV_ASSERT(n >= 0 && pool->cpu_free_blocks + n <= pool->cpu_total_blocks,
              "swap in %" G_GINT64_FORMAT " blocks with %" G_GINT64_FORMAT " of %" G_GINT64_FORMAT
              " CPU blocks free",
              n, pool->cpu_free_blocks, pool->cpu_total_blocks);
    pool->cpu_free_blocks += n;
    pool->swap_ins++;
    pool->swapped_in_blocks += (uint64_t)n;
}
