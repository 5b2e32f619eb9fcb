/* How a replica's requests use its KV block manager (kv-pool.h): prefix-cache
 * hits when a request is (re)admitted, swap-out and swap-in at preemption,
 * and the time the swap copies add to the step that makes them. Kept apart
 * from sim.c so that the scheduler-facing calls there stay three lines. */
#include "serve/serve-private.h"

#include <math.h>

/* First scheduling after arrival or after a recompute preemption, with the
 * prefix cache on: take the longest cached prefix, then the blocks for the
 * tokens after it. A policy that reserved blocks at admission (r->blocks > 0)
 * keeps the extent of its reservation, less the blocks the hit shares. */
static gboolean grow_with_prefix(SvReplica *rep, SvRequest *r, int32_t *n, int64_t reserve,
                                 SvTimeNs now_ns)
{
    SvKvPool *kv = &rep->kv;
    int64_t known = sv_request_known_tokens(r);
    int64_t evictable = 0;
    /* vLLM recomputes at least the last token, whose logits it needs. */
    int32_t units = sv_kv_pool_match(kv, &r->kv, known - 1, &evictable);
    int64_t hit = (int64_t)units * r->kv.unit_tokens;
    int32_t todo = (int32_t)MIN((int64_t)*n, known - hit);
    int64_t shared = (int64_t)units * r->kv.unit_blocks;
    int64_t held = r->blocks;
    int64_t want = MAX(sv_kv_blocks_for(kv, hit + todo) - shared, held - shared);
    int64_t extra = want - held;
    /* Unreferenced cached blocks count as free until taken; taking the hit's
     * leaves fewer for everyone else, as vLLM's allocate_slots counts them. */
    if (extra + evictable > 0 && kv->free_blocks - evictable - extra < reserve)
        return FALSE;
    sv_kv_pool_acquire(kv, &r->kv, units, now_ns);
    r->kv_cache_at = sv_kv_seq_cache_at(&r->kv);
    if (extra > 0)
        sv_kv_pool_alloc(kv, extra, now_ns);
    else if (extra < 0)
        sv_kv_pool_free(kv, -extra, now_ns);
    r->blocks = shared + want;
    r->num_computed = (int32_t)hit;
    kv->queries_tokens += (uint64_t)known;
    kv->hits_tokens += (uint64_t)hit;
    kv->queries_blocks += (uint64_t)sv_kv_blocks_for(kv, known);
    kv->hits_blocks += (uint64_t)shared;
    if (r->first_scheduled_ns < 0)
        r->cached_tokens = (int32_t)hit;
    /* The scheduler sized @n from num_computed = 0 and will charge it to
     * its budget; hand back what the hit saved. */
    rep->budget += *n - todo;
    *n = todo;
    return TRUE;
}

gboolean sv__replica_kv_grow_slow(SvReplica *rep, SvRequest *r, int32_t *n, int64_t reserve,
                                  SvTimeNs now_ns)
{
    SvKvPool *kv = &rep->kv;
    if (kv->cache != NULL && r->num_computed == 0 && r->swapped_blocks == 0) {
        if (!grow_with_prefix(rep, r, n, reserve, now_ns))
            return FALSE;
    } else {
        int64_t need = sv_kv_blocks_for(kv, (int64_t)r->num_computed + *n) - r->blocks;
        if (need > 0) {
            if (kv->free_blocks - need < reserve)
                return FALSE;
            sv_kv_pool_alloc(kv, need, now_ns);
            r->blocks += need;
        }
        if (r->swapped_blocks > 0) {
            /* Swap in: the blocks just allocated receive the copy. Its prefix
             * units are private now; the next iteration end shares them again
             * with the cache (sv_kv_pool_cache_computed). */
            sv_kv_pool_swap_in(kv, r->swapped_blocks);
            rep->swap_blocks_step += r->swapped_blocks;
            r->swapped_blocks = 0;
            r->kv_flags &= (uint8_t)~SV_KV_SWAPPED;
        }
    }
    if (r->kv_flags & SV_KV_PREEMPTED) {
        r->preempted_ns += now_ns - r->preempted_at_ns;
        r->kv_flags &= (uint8_t)~SV_KV_PREEMPTED;
    }
    return TRUE;
}

void sv__replica_kv_preempt(SvReplica *rep, SvRequest *r, SvTimeNs now_ns)
{
    SvKvPool *kv = &rep->kv;
    int64_t keep = 0;
    /* Only computed KV is copied; blocks allocated for this step's tokens
     * hold nothing yet. vLLM v0 aborts when the CPU tier is full; servesim
     * recomputes instead, and counts it (swap_fallbacks). */
    if (rep->engine->preemption_mode == SV_PREEMPT_SWAP && r->num_computed > 0) {
        int64_t computed = sv_kv_blocks_for(kv, r->num_computed);
        if (sv_kv_pool_swap_out(kv, computed))
            keep = computed;
    }
    sv_kv_pool_release(kv, &r->kv, r->blocks, now_ns);
    r->blocks = 0;
    r->kv_cache_at = sv_kv_seq_cache_at(&r->kv);
    if (keep > 0) {
        r->swapped_blocks = keep;
        rep->swap_blocks_step += keep;
        r->kv_flags |= SV_KV_SWAPPED;
    } else {
        r->num_computed = 0; /* recompute: the KV of prompt and output is rebuilt */
    }
    r->preempted_at_ns = now_ns;
    r->kv_flags |= SV_KV_PREEMPTED;
}

void sv__replica_kv_release(SvReplica *rep, SvRequest *r, SvTimeNs now_ns)
{
    SV_ASSERT(r->swapped_blocks == 0, "request %" G_GINT64_FORMAT " released while swapped out",
              r->id);
    sv_kv_pool_release(&rep->kv, &r->kv, r->blocks, now_ns);
    r->blocks = 0;
}

SvTimeNs sv__replica_swap_charge(SvReplica *rep)
{
    if (rep->swap_blocks_step == 0)
        return 0;
    double ns = ceil((double)rep->swap_blocks_step * rep->swap_ns_per_block);
    SvTimeNs copy_ns = MAX((SvTimeNs)ns, 1);
    rep->swap_copy_ns += copy_ns;
    rep->swap_blocks_step = 0;
    return copy_ns;
}

void sv__replica_kv_totals(const SvReplica *rep, SvRunTotals *t)
{
    const SvKvPool *kv = &rep->kv;
    t->prefix_queries_tokens += (int64_t)kv->queries_tokens;
    t->prefix_hits_tokens += (int64_t)kv->hits_tokens;
    t->prefix_queries_blocks += (int64_t)kv->queries_blocks;
    t->prefix_hits_blocks += (int64_t)kv->hits_blocks;
    t->prefix_evicted_blocks += (int64_t)kv->evicted_blocks;
    t->swap_outs += (int64_t)kv->swap_outs;
    t->swap_ins += (int64_t)kv->swap_ins;
    t->swap_out_blocks += (int64_t)kv->swapped_out_blocks;
    t->swap_in_blocks += (int64_t)kv->swapped_in_blocks;
    t->swap_fallbacks += (int64_t)kv->swap_fallbacks;
    t->swap_copy_s += sv_ns_to_s(rep->swap_copy_ns);
    if (rep->index == 0)
        t->cpu_kv_blocks = kv->cpu_total_blocks;
}
