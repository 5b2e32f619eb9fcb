/* Paged KV-cache block accounting of one replica (vLLM's block manager without
 * prefix sharing): a pool of fixed-size blocks, counted rather than tracked
 * one by one because v0 needs only how many each request holds. Prefix
 * caching (hash-chained blocks) will extend this with real block ids. */
#ifndef SV_KV_POOL_H
#define SV_KV_POOL_H

#include "core/common.h"

G_BEGIN_DECLS

typedef struct {
    int64_t total_blocks;     /* blocks in the pool */
    int64_t free_blocks;      /* blocks not held by any request */
    int32_t block_size;       /* tokens per block */
    uint64_t allocated_total; /* blocks handed out over the run */
    uint64_t freed_total;     /* blocks returned over the run */
    /* Time integral of used blocks, for the time-weighted mean utilisation. */
    double used_block_ns;    /* sum of used_blocks x dt (block-ns) */
    SvTimeNs last_change_ns; /* time of the last integration step */
} SvKvPool;

void sv_kv_pool_init(SvKvPool *pool, int64_t total_blocks, int32_t block_size);
/* Blocks needed to hold @tokens tokens. */
static inline int64_t sv_kv_blocks_for(const SvKvPool *pool, int64_t tokens)
{
    return (tokens + pool->block_size - 1) / pool->block_size;
}
/* Take @n blocks at @now_ns; asserts they are free. */
void sv_kv_pool_alloc(SvKvPool *pool, int64_t n, SvTimeNs now_ns);
/* Return @n blocks at @now_ns. */
void sv_kv_pool_free(SvKvPool *pool, int64_t n, SvTimeNs now_ns);
/* Advance the utilisation integral to @now_ns. */
void sv_kv_pool_advance(SvKvPool *pool, SvTimeNs now_ns);

G_END_DECLS

#endif
