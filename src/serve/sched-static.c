/* Static (request-level) batching, as FasterTransformer / Triton without
 * in-flight batching: when the replica is empty it takes up to max_num_seqs
 * waiting requests FCFS (their prompts together within max_num_batched_tokens,
 * a longer first prompt alone), runs all their prompts in one step, then
 * decodes the batch step after step until every request in it has finished.
 * Nothing joins a batch in flight: a request that finishes early leaves its
 * slot idle (its KV is freed) until the last one ends. KV for max_model_len
 * tokens is reserved per request at batch formation, as FasterTransformer
 * sizes its cache as batch x max_seq_len, so nothing is ever preempted.
 * Simplified: finished slots and prompt padding cost no compute (FT's
 * early-stop masking and padding removal), so a step's time is that of the
 * requests still generating. */
#include "serve/serve-private.h"

static int schedule_static(SvReplica *rep, SvTimeNs now_ns)
{
    const SvEngineConfig *eng = rep->engine;
    rep->budget = eng->max_num_batched_tokens;
    rep->preempted_this_step = FALSE;

    if (rep->running.len > 0) {
        /* A batch is in flight: one decode token for each unfinished member. */
        for (SvRequest *r = rep->running.head; r != NULL; r = r->next) {
            if (r->state == SV_RS_INFLIGHT)
                continue; /* pipeline parallelism: its last step has not ended */
            int32_t remaining = sv_request_known_tokens(r) - r->num_computed;
            SV_ASSERT(remaining == 1 && r->generated > 0,
                      "static batch member %" G_GINT64_FORMAT " has %d tokens pending", r->id,
                      remaining);
            gboolean ok = sv__replica_try_schedule(rep, r, 1, 0, now_ns);
            SV_ASSERT(ok, "static batch member %" G_GINT64_FORMAT " outgrew its reservation",
                      r->id);
            rep->budget -= 1;
        }
        return rep->batch_len;
    }

    /* Form a new batch. */
    int64_t reserve = MIN(sv_kv_blocks_for(&rep->kv, rep->max_model_len), rep->kv.total_blocks);
    while (rep->waiting.head != NULL && rep->running.len < eng->max_num_seqs) {
        SvRequest *r = rep->waiting.head;
        int32_t n = sv_request_known_tokens(r) - r->num_computed;
        if (n > rep->budget && rep->batch_len > 0)
            break;
        /* A request handed over by a prefill replica already holds the
         * blocks of its prompt. */
        int64_t need = MAX(reserve - r->blocks, 0);
        if (rep->kv.free_blocks < need)
            break;
        if (need > 0)
            sv_kv_pool_alloc(&rep->kv, need, now_ns);
        r->blocks += need;
        sv__replica_admit(rep, r);
        gboolean ok = sv__replica_try_schedule(rep, r, n, 0, now_ns);
        SV_ASSERT(ok, "request %" G_GINT64_FORMAT " does not fit its reservation", r->id);
        rep->budget -= n;
    }
    return rep->batch_len;
}

const SvSchedulerVtable sv__sched_static = {
    .name = "static",
    .description = "static batching (FasterTransformer): a batch runs from prefill until its "
                   "last request ends, no joins in flight",
    .schedule = schedule_static,
};
