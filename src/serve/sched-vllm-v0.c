/* vLLM v0 default scheduler (chunked prefill off): prefill-first. If waiting
 * requests can be admitted (whole prompts within max_num_batched_tokens and
 * max_num_seqs, KV blocks free above a 1 % watermark), the step is a
 * prefill-only batch of them; otherwise it is a decode-only step of every
 * running request, preempting the most recently admitted request by
 * recomputation when blocks run out. A prompt longer than the whole token
 * budget runs alone (vLLM would refuse it; servesim rejects prompts above
 * max_model_len instead). With preemption_mode swap the victim's KV goes to
 * the CPU tier (kv-replica.c) and it waits at the head of the queue, which
 * holds back new prompts as v0's swapped queue does; it is swapped back in
 * when this loop admits it, so it rejoins in a prefill-type step where vLLM
 * v0 swaps in during a decode step (a simplification). The v0
 * chunked-prefill mode is not modelled here. */
#include "serve/serve-private.h"

static int schedule_v0(SvReplica *rep, SvTimeNs now_ns)
{
    const SvEngineConfig *eng = rep->engine;
    rep->budget = eng->max_num_batched_tokens;
    rep->preempted_this_step = FALSE;

    while (rep->waiting.head != NULL && rep->running.len < eng->max_num_seqs) {
        SvRequest *r = rep->waiting.head;
        int32_t n = sv_request_known_tokens(r) - r->num_computed;
        if (n > rep->budget && !(rep->batch_len == 0 && n > eng->max_num_batched_tokens))
            break;
        sv__replica_admit(rep, r);
        /* The watermark keeps room for running requests to grow; with none
         * running it would only stall a prompt that fits. */
        int64_t reserve = rep->running.len > 1 ? rep->watermark_blocks : 0;
        if (!sv__replica_try_schedule(rep, r, n, reserve, now_ns)) {
            sv_req_list_remove(&rep->running, r);
            r->state = SV_RS_WAITING;
            sv_req_list_push_head(&rep->waiting, r);
            break;
        }
        rep->budget -= n;
    }
    if (rep->batch_len > 0)
        return rep->batch_len;

    for (SvRequest *r = rep->running.head, *next; r != NULL; r = next) {
        next = r->next;
        if (r->state == SV_RS_INFLIGHT)
            continue; /* its batch is still in the pipeline */
        int32_t remaining = sv_request_known_tokens(r) - r->num_computed;
        SV_ASSERT(remaining == 1,
                  "v0 decode step with %d tokens pending for request %" G_GINT64_FORMAT, remaining,
                  r->id);
        gboolean self_preempted = FALSE;
        while (!sv__replica_try_schedule(rep, r, 1, 0, now_ns)) {
            SvRequest *victim = sv__replica_tail_victim(rep);
            sv__replica_preempt(rep, victim, now_ns);
            if (victim == r) {
                self_preempted = TRUE;
                break;
            }
        }
        if (self_preempted)
            break;
        next = r->next;
    }
    return rep->batch_len;
}

const SvSchedulerVtable sv__sched_vllm_v0 = {
    .name = "vllm-v0",
    .description = "vLLM v0 default: prefill-first; whole prompts in prefill-only steps, "
                   "decode-only steps otherwise, 1 % KV watermark",
    .schedule = schedule_v0,
};
