/* KV block accounting (see kv-pool.h). */
#include "serve/kv-pool.h"

void sv_kv_pool_init(SvKvPool *pool, int64_t total_blocks, int32_t block_size)
{
    *pool = (SvKvPool){0};
    pool->total_blocks = total_blocks;
    pool->free_blocks = total_blocks;
    pool->block_size = block_size;
}

void sv_kv_pool_advance(SvKvPool *pool, SvTimeNs now_ns)
{
    if (now_ns > pool->last_change_ns) {
        pool->used_block_ns += (double)(pool->total_blocks - pool->free_blocks) *
                               (double)(now_ns - pool->last_change_ns);
        pool->last_change_ns = now_ns;
    }
}

void sv_kv_pool_alloc(SvKvPool *pool, int64_t n, SvTimeNs now_ns)
{
    SV_ASSERT(n >= 0 && n <= pool->free_blocks,
              "alloc %" G_GINT64_FORMAT " of %" G_GINT64_FORMAT " free blocks", n,
              pool->free_blocks);
    sv_kv_pool_advance(pool, now_ns);
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
    pool->free_blocks += n;
    pool->freed_total += (uint64_t)n;
}
