/* Sarathi-Serve (Agrawal et al., OSDI 2024): stall-free batching under a
 * fixed token budget per step, the chunk size (max_num_batched_tokens;
 * servesim's default 512 is Vidur's sarathi chunk_size). Each step takes the
 * running decodes first, then continues partial prefills, then starts new
 * prompts, chunking them into whatever budget remains; decodes are never
 * paused for a prefill, so a long prompt cannot stall the generating
 * requests, it just takes several steps. Chunked prefill is always on.
 * Follows the engine (and Vidur's SarathiReplicaScheduler) in admitting a
 * prompt only when KV blocks for the whole prompt can be reserved at once,
 * keeping vLLM v0's 1 % watermark free while others run (so a half-prefilled
 * request is never preempted for lack of prompt blocks), and in preempting
 * the most recently admitted request by recomputation when a decode needs a
 * block. Simplified: one micro-batch per step (no pipeline-parallel
 * micro-batching), no dynamic chunk sizing. */
#include "serve/serve-private.h"

/* Reserve blocks for every known token of @r (its prompt, or prompt plus
 * output after a recompute preemption) before its first chunk runs. */
static gboolean sarathi_admit(SvReplica *rep, SvRequest *r, SvTimeNs now_ns)
{
    int64_t need = sv_kv_blocks_for(&rep->kv, sv_request_known_tokens(r)) - r->blocks;
    /* The watermark keeps room for running requests to grow; with none
     * running it would only stall a prompt that fits. */
    int64_t reserve = rep->running.len > 0 ? rep->watermark_blocks : 0;
    if (need <= 0)
        return TRUE;
    if (rep->kv.free_blocks - need < reserve)
        return FALSE;
    sv_kv_pool_alloc(&rep->kv, need, now_ns);
    r->blocks += need;
    return TRUE;
}

static int schedule_sarathi(SvReplica *rep, SvTimeNs now_ns)
{
    static const SvBudgetPolicy sarathi = {.admit = sarathi_admit, .always_chunk = TRUE};
    return sv__sched_budget_step(rep, now_ns, &sarathi);
}

const SvSchedulerVtable sv__sched_sarathi = {
    .name = "sarathi",
    .description = "Sarathi-Serve: stall-free batching, fixed chunk per step "
                   "(max_num_batched_tokens), decodes never paused for prefills",
    .schedule = schedule_sarathi,
};
