/* The KV block manager of one replica: a pool of fixed-size GPU blocks, an
 * optional prefix cache over them (vLLM's automatic prefix caching: full
 * blocks named by a hash chained over their content, reference counts, an
 * LRU list of cached blocks no request uses, evicted only when free blocks
 * run out) and a CPU tier that swap preemption copies blocks to.
 * Blocks that no cache entry names are only counted, never tracked one by
 * one, so a run without prefix caching pays nothing per block and a run with
 * it pays one hash-table step per cache unit, never per token. A request's
 * own content (no source names it, only the request itself can ever find
 * it again) is not hashed at all: what it releases becomes one LRU entry
 * for the whole run of blocks, so a cache on which nothing is shared costs
 * a few steps per request, not per block. */
#ifndef SV_KV_POOL_H
#define SV_KV_POOL_H

#include "core/common.h"
#include "workload/workload.h"

G_BEGIN_DECLS

typedef struct SvKvCache SvKvCache;

typedef struct {
    int64_t total_blocks; /* blocks in the pool */
    /* Blocks a request can be given now: never used, or cached and not
     * referenced by any request (evicted on demand). vLLM counts both as free. */
    int64_t free_blocks;
    int32_t block_size;       /* tokens per block, a power of 2 */
    int32_t block_shift;      /* log2(block_size) */
    uint64_t allocated_total; /* blocks moved from free to used over the run */
    uint64_t freed_total;     /* blocks moved from used to free over the run */
    /* Time integral of used blocks, for the time-weighted mean utilisation. */
    double used_block_ns;    /* sum of used_blocks x dt (block-ns) */
    SvTimeNs last_change_ns; /* time of the last integration step */
    SvKvCache *cache;        /* (owned) prefix cache; NULL when prefix caching is off */
    /* Prefix-cache accounting, one query per (re)admission of a request. */
    uint64_t queries_tokens; /* known tokens of the requests looked up */
    uint64_t hits_tokens;    /* tokens found cached */
    uint64_t queries_blocks; /* blocks those tokens fill (rounded up) */
    uint64_t hits_blocks;    /* blocks found cached */
    uint64_t evicted_blocks; /* cached blocks evicted to make room */
    /* CPU tier for swap preemption (blocks of the same size, in host memory). */
    int64_t cpu_total_blocks;    /* blocks of the CPU tier; 0 = none */
    int64_t cpu_free_blocks;     /* of those, not holding a swapped request */
    uint64_t swap_outs;          /* requests swapped out */
    uint64_t swap_ins;           /* requests swapped back in */
    uint64_t swapped_out_blocks; /* blocks copied GPU -> CPU */
    uint64_t swapped_in_blocks;  /* blocks copied CPU -> GPU */
    uint64_t swap_fallbacks;     /* swap preemptions recomputed instead: CPU tier full */
} SvKvPool;

/* A request's handle on the prefix cache: where its content comes from, how
 * it is cut into cache units, and how many leading units it references.
 * A cache unit is unit_blocks whole blocks: one block for synthetic content;
 * for trace hash ids, max(block_size, hash_block_tokens) tokens, so a
 * Mooncake id (512 tokens) is one unit of 32 blocks of 16 tokens: the trace
 * names content no finer than that, and caching it whole costs one table
 * step instead of 32. */
typedef struct {
    SvPrefixSource src;   /* copied at init */
    int32_t unit_tokens;  /* tokens per unit; 0 = the request is not cacheable */
    int32_t unit_blocks;  /* blocks per unit */
    int32_t max_units;    /* leading units whose content is named */
    int32_t cached_units; /* leading units this request references in the cache */
    uint64_t chain;       /* chained hash of unit cached_units - 1 */
    gboolean own;         /* content no source names: the request's own */
    /* Own content only: the LRU run holding its lowest unit not referenced
     * (unit cached_units), in the cache own_cache, if that run still exists
     * (own_gen is the entry's generation when linked). */
    const SvKvCache *own_cache; /* (transfer none) cache of own_run, or NULL */
    int32_t own_run;            /* entry index of the run, or -1 */
    uint32_t own_gen;           /* generation of that entry when linked */
} SvKvSeq;

void sv_kv_pool_init(SvKvPool *pool, int64_t total_blocks, int32_t block_size);
/* Turn the prefix cache on (before any allocation). */
void sv_kv_pool_enable_prefix_caching(SvKvPool *pool);
/* Give the pool a CPU tier of @cpu_blocks blocks (swap preemption). */
void sv_kv_pool_set_cpu_blocks(SvKvPool *pool, int64_t cpu_blocks);
/* Release what the pool owns (the prefix cache); the struct itself is the
 * caller's. */
void sv_kv_pool_clear(SvKvPool *pool);

/* Blocks needed to hold @tokens (>= 0) tokens. A shift, not a division: the
 * schedulers ask for every request of every step. */
static inline int64_t sv_kv_blocks_for(const SvKvPool *pool, int64_t tokens)
{
    return (tokens + pool->block_size - 1) >> pool->block_shift;
}
/* Take @n private blocks at @now_ns (evicting unreferenced cached blocks,
 * least recently used first, when no never-used block is left); asserts
 * that @n are free. */
void sv_kv_pool_alloc(SvKvPool *pool, int64_t n, SvTimeNs now_ns);
/* Return @n private blocks at @now_ns. */
void sv_kv_pool_free(SvKvPool *pool, int64_t n, SvTimeNs now_ns);
/* Advance the utilisation integral to @now_ns. */
void sv_kv_pool_advance(SvKvPool *pool, SvTimeNs now_ns);

/* ---- prefix cache ---------------------------------------------------- */

/* Set up @seq for a request whose prompt is @input_tokens long and made of
 * @src, on an engine with @block_size; @caching FALSE (or an empty source)
 * makes it not cacheable. */
void sv_kv_seq_init(SvKvSeq *seq, const SvPrefixSource *src, int32_t input_tokens,
                    int32_t block_size, gboolean caching);
/* With the prefix cache on, a request whose content no source names (@src
 * has no hash ids and no synthetic keys; @seq was just initialised from it)
 * still has content, its own: vLLM hashes every full block of every
 * request, prompt and output alike, so a request preempted by recomputation
 * finds its own blocks on readmission unless they were evicted meanwhile.
 * Such content is never shared, so the pool tracks it without hashing
 * (kv-pool.c: runs): the
 * request finds it again in the cache it last released it to, and only
 * there (servesim never moves a request back to a replica it left). Sources
 * that name content are left as they are. */
void sv_kv_seq_own_content(SvKvSeq *seq, const SvPrefixSource *src, int32_t block_size);
/* Computed tokens at which @seq's next unit fills (INT32_MAX: never), so
 * that callers can skip sv_kv_pool_cache_computed until then. */
static inline int32_t sv_kv_seq_cache_at(const SvKvSeq *seq)
{
    if (seq->unit_tokens == 0 || seq->cached_units >= seq->max_units)
        return INT32_MAX;
    int64_t at = (int64_t)(seq->cached_units + 1) * seq->unit_tokens;
    return at > INT32_MAX ? INT32_MAX : (int32_t)at;
}
/* Leading units of @seq cached in @pool, at most @max_tokens tokens' worth
 * (vLLM recomputes at least a prompt's last token, so callers pass
 * known_tokens - 1). *@evictable_blocks_out (may be NULL): blocks among them
 * that no request references, which taking them removes from free_blocks.
 * No side effect. 0 when the pool has no cache or @seq is not cacheable. */
int32_t sv_kv_pool_match(const SvKvPool *pool, const SvKvSeq *seq, int64_t max_tokens,
                         int64_t *evictable_blocks_out);
/* Reference the first @units units of @seq (just matched, so all cached):
 * sets seq->cached_units. @seq must reference none yet. */
void sv_kv_pool_acquire(SvKvPool *pool, SvKvSeq *seq, int32_t units, SvTimeNs now_ns);
/* The request now has @computed_tokens tokens' KV: put each newly full unit
 * in the cache. A unit another request cached meanwhile is shared instead:
 * its private copy is freed (vLLM keeps the duplicate until the request
 * ends; servesim frees it at once, a slight memory saving). */
void sv_kv_pool_cache_computed(SvKvPool *pool, SvKvSeq *seq, int64_t computed_tokens,
                               SvTimeNs now_ns);
/* Whether caching @seq's next units would only count them, whatever else
 * happens meanwhile: its content is its own and no run of it is left in
 * @pool's cache (only a release makes one), so sv_kv_pool_cache_computed
 * would take nothing back from the LRU list. The decode cohort then counts
 * a member's units when it next looks at it rather than at each fill. */
gboolean sv_kv_seq_own_settled(const SvKvPool *pool, const SvKvSeq *seq);
/* Count the units of settled own content @seq that @computed_tokens fill
 * as cached, as sv_kv_pool_cache_computed would, but without advancing the
 * utilisation integral: the caller advances it at the times the fills
 * happened (an extra break point would change its rounding). */
void sv_kv_pool_own_count(SvKvPool *pool, SvKvSeq *seq, int64_t computed_tokens);
/* Give back everything a request holds: its @blocks blocks, of which the
 * leading seq->cached_units units are cache references (dropped; a unit no
 * one references joins the LRU list, the request's last unit first so that
 * its tail is evicted before its head, as vLLM orders it) and the rest
 * private (freed). Resets seq->cached_units. */
void sv_kv_pool_release(SvKvPool *pool, SvKvSeq *seq, int64_t blocks, SvTimeNs now_ns);

/* Cached blocks (referenced or not) and the unreferenced ones. */
int64_t sv_kv_pool_cached_blocks(const SvKvPool *pool);
int64_t sv_kv_pool_lru_blocks(const SvKvPool *pool);
/* Walk the whole cache and assert every invariant: counts add up, LRU
 * entries are unreferenced and referenced ones are not in it, the hash table
 * finds every entry. O(entries): tests only. */
void sv_kv_pool_check(const SvKvPool *pool);

/* ---- CPU tier -------------------------------------------------------- */

/* Reserve @n CPU blocks for a swapped-out request; FALSE (nothing changed)
 * when the tier has fewer free. Counts the swap. */
gboolean sv_kv_pool_swap_out(SvKvPool *pool, int64_t n);
/* Return @n CPU blocks as their request is swapped back in. */
void sv_kv_pool_swap_in(SvKvPool *pool, int64_t n);

G_END_DECLS

#endif
