/* TensorRT-LLM's in-flight batching (its batch manager; the PyTorch
 * executor keeps the same two stages): each step a capacity scheduler picks
 * the requests that may hold KV, then a micro-batch scheduler fills
 * max_batch_size (servesim's max_num_seqs) and max_num_tokens
 * (max_num_batched_tokens) with generation tokens first and context chunks
 * after (docs/source/features/paged-attention-ifb-scheduler.md), which is
 * vLLM v1's step (sv__sched_budget_step); what TRT-LLM adds is the capacity
 * policy (engine.capacity_scheduler_policy, TRT-LLM's CapacitySchedulerPolicy):
 *
 * guaranteed_no_evict (TRT-LLM's default in SchedulerConfig): a waiting
 * request starts only if the blocks it needs to run to completion fit beside
 * what every running request still needs to complete, so nothing is ever
 * evicted. The need is ceil((prompt + max_new_tokens) / block_size) blocks
 * (KVCacheManager::getRemainingBlocksToCompletion), checked in queue order
 * until one does not fit (GuaranteedNoEvictScheduler stops there, head-of-line).
 * max_new_tokens is what the client sent: engine.max_tokens output means the
 * request's own output length (trtllm-bench sends each request's target
 * length), max_model_len that none was sent, and TRT-LLM then takes
 * max_seq_len - prompt, so every request promises max_model_len tokens.
 * servesim keeps the sum of the running requests' promises rather than
 * reserving the blocks, so the blocks in use (and KV utilisation) are the
 * ones really written, as in TRT-LLM; a promise larger than the pool is cut
 * to the pool, so a request the pool can hold (the arrival check makes sure
 * of that) still starts once the replica is empty.
 *
 * max_utilization (trtllm-bench's default): admit while the blocks of the
 * request's next step are free; when a running request needs a block and
 * none is free, pause the most recently started request in its generation
 * phase, dropping its KV; it is recomputed, prompt and generated tokens
 * alike, when it starts again (MaxUtilizationScheduler, LlmRequest::pause).
 * Two things set this apart from vLLM v1's recompute preemption, and both
 * matter when long prompts fill the cache: TRT-LLM's KV cache manager
 * allocates the blocks of a request's whole prompt when it starts, even
 * with chunked context (addSequence with the prompt length;
 * getNeededBlocksOneStep counts the whole prompt for a first chunk), so a
 * paused request starts again only once its whole KV fits, rather than
 * chunk by chunk as vLLM's does; and it pauses only requests that are
 * generating, never one still in its context phase.
 *
 * Simplified: TRT-LLM's max_utilization also pauses a running request to
 * start a waiting one whose first chunk does not fit (servesim keeps the
 * waiting one waiting); its first-come-first-served context chunking rounds
 * a cut chunk down to a whole number of blocks (servesim fills the token
 * budget exactly); the runtime batch-size tuning (DynamicBatchConfig) and
 * KV cache reuse are not modelled (the config refuses prefix caching).
 * Decodes go through the replica's decode cohort (cohort.c) as under
 * vllm-v1: on bench/cluster-1024-trtllm.yaml that halves the step's cost
 * (user CPU, best of 3: 2.94 s before, 1.38 s after, 2.9 M iterations). */
#include "serve/serve-private.h"

typedef struct {
    int64_t promised_blocks; /* sum over running requests of their completion need, blocks */
} TrtState;

/* Blocks @r needs to run to completion under guaranteed_no_evict, cut to
 * the pool. */
static int64_t completion_blocks(const SvReplica *rep, const SvRequest *r)
{
    int64_t tokens =
        rep->engine->max_tokens == SV_MAX_TOKENS_OUTPUT
            ? (int64_t)r->input_tokens + r->output_tokens
            : MAX((int64_t)rep->max_model_len, (int64_t)r->input_tokens + r->output_tokens);
    return MIN(sv_kv_blocks_for(&rep->kv, tokens), rep->kv.total_blocks);
}

/* Whether @rep runs guaranteed_no_evict. Only mixed replicas do: requests
 * handed between prefill and decode replicas never pass admission on the
 * decode side, so the promises could not be kept. The config refuses trtllm
 * in such pools; a simulation built without it (tests) gets max_utilization
 * there. */
static gboolean no_evict(const SvReplica *rep)
{
    return rep->engine->capacity_scheduler_policy == SV_CAPACITY_GUARANTEED_NO_EVICT &&
           rep->role == SV_ROLE_MIXED;
}

static gboolean no_evict_admit(SvReplica *rep, SvRequest *r, SvTimeNs now_ns)
{
    (void)now_ns;
    TrtState *st = rep->sched_state;
    int64_t need = completion_blocks(rep, r);
    if (st->promised_blocks + need > rep->kv.total_blocks)
        return FALSE;
    st->promised_blocks += need;
    return TRUE;
}

/* Every running request's blocks were promised, so blocks never run short:
 * a victim being asked for means the accounting is broken. */
static SvRequest *no_evict_victim(SvReplica *rep)
{
    const TrtState *st = rep->sched_state;
    SV_ASSERT(FALSE,
              "guaranteed_no_evict ran out of KV blocks on replica %d: %" G_GINT64_FORMAT
              " of %" G_GINT64_FORMAT " promised, %" G_GINT64_FORMAT " free",
              rep->index, st->promised_blocks, rep->kv.total_blocks, rep->kv.free_blocks);
    return NULL;
}

/* max_utilization: start @r only if the blocks of its whole known KV
 * (prompt, plus what it generated before a pause) are free, and take them. */
static gboolean max_util_admit(SvReplica *rep, SvRequest *r, SvTimeNs now_ns)
{
    int64_t need = sv_kv_blocks_for(&rep->kv, sv_request_known_tokens(r)) - r->blocks;
    if (need <= 0)
        return TRUE;
    if (need > rep->kv.free_blocks)
        return FALSE;
    sv_kv_pool_alloc(&rep->kv, need, now_ns);
    r->blocks += need;
    return TRUE;
}

/* max_utilization's victim: the most recently started request that is
 * generating (not in a batch still in the pipeline); the running tail when
 * none is. */
static SvRequest *max_util_victim(SvReplica *rep)
{
    for (SvRequest *r = rep->running.tail; r != NULL; r = r->prev)
        if (r->state != SV_RS_INFLIGHT && r->generated > 0)
            return r;
    return sv__replica_tail_victim(rep);
}

static int schedule_trtllm(SvReplica *rep, SvTimeNs now_ns)
{
    /* Both admit hooks read only the waiting request, the promises and the
     * pool's free count, and the victims are asked only once blocks run
     * short, when the decode cohort has handed its members back: the
     * cohort's lazy token fields are never read, so the step may use it. */
    static const SvBudgetPolicy guaranteed = {
        .admit = no_evict_admit, .victim = no_evict_victim, .cohort_ok = TRUE};
    static const SvBudgetPolicy max_util = {
        .admit = max_util_admit, .victim = max_util_victim, .cohort_ok = TRUE};
    return sv__sched_budget_step(rep, now_ns, no_evict(rep) ? &guaranteed : &max_util);
}

static void trtllm_finished(SvReplica *rep, const SvRequest *r)
{
    if (!no_evict(rep))
        return;
    TrtState *st = rep->sched_state;
    st->promised_blocks -= completion_blocks(rep, r);
    SV_ASSERT(st->promised_blocks >= 0, "replica %d promised %" G_GINT64_FORMAT " blocks",
              rep->index, st->promised_blocks);
}

static void trtllm_init(SvReplica *rep)
{
    rep->sched_state = g_new0(TrtState, 1);
}

static void trtllm_free(SvReplica *rep)
{
    g_free(rep->sched_state);
    rep->sched_state = NULL;
}

int64_t sv__sched_trtllm_promised(const SvReplica *rep)
{
    const TrtState *st = rep->sched_state;
    return st != NULL ? st->promised_blocks : 0;
}

const SvSchedulerVtable sv__sched_trtllm = {
    .name = "trtllm",
    .description = "TensorRT-LLM in-flight batching: starts a request only if its KV to "
                   "max_tokens fits (guaranteed_no_evict) or pauses the newest "
                   "(max_utilization)",
    .schedule = schedule_trtllm,
    .init = trtllm_init,
    .free = trtllm_free,
    .finished = trtllm_finished,
};
