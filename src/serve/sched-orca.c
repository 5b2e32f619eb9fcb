/* Orca (Yu et al., OSDI 2022): iteration-level scheduling. Every step runs
 * one decode token of each running request together with the whole prompts
 * of newly admitted ones (selective batching mixes them; prompts are never
 * chunked). A request is admitted, FCFS, only when KV slots for the maximum
 * sequence length can be reserved for it, as Orca reserves max_seq_len slots
 * at admission: servesim reserves max_model_len tokens of blocks (capped at
 * the replica's pool), not the request's true length, which the engine cannot
 * know. Since every admitted request holds all it will ever need, Orca never
 * preempts. Simplified: max_num_batched_tokens bounds the prompts admitted in
 * one step (Orca has no token budget, only a max batch size, which is
 * max_num_seqs here); a prompt longer than the whole budget runs alone. */
#include "serve/serve-private.h"

/* Blocks Orca reserves per request: max_model_len tokens. */
static int64_t reservation_blocks(const SvReplica *rep)
{
    return MIN(sv_kv_blocks_for(&rep->kv, rep->max_model_len), rep->kv.total_blocks);
}

static gboolean orca_admit(SvReplica *rep, SvRequest *r, SvTimeNs now_ns)
{
    int64_t need = reservation_blocks(rep) - r->blocks;
    if (need > rep->kv.free_blocks)
        return FALSE;
    if (need > 0) {
        sv_kv_pool_alloc(&rep->kv, need, now_ns);
        r->blocks += need;
    }
    return TRUE;
}

static SvRequest *orca_victim(SvReplica *rep)
{
    SV_ASSERT(FALSE,
              "orca reserved max_model_len blocks at admission yet a running request on replica "
              "%d needs more (free %" G_GINT64_FORMAT ")",
              rep->index, rep->kv.free_blocks);
    return NULL;
}

static int schedule_orca(SvReplica *rep, SvTimeNs now_ns)
{
    static const SvBudgetPolicy orca = {
        .victim = orca_victim, .admit = orca_admit, .never_chunk = TRUE};
    return sv__sched_budget_step(rep, now_ns, &orca);
}

const SvSchedulerVtable sv__sched_orca = {
    .name = "orca",
    .description = "Orca: iteration-level batching, whole prefills mixed with decodes, KV for "
                   "max_model_len reserved at admission (never preempts)",
    .schedule = schedule_orca,
};
