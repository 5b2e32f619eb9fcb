/* vLLM v1 scheduler (also what vLLM >= 0.8 runs by default): one
 * token budget per step (max_num_batched_tokens) shared by decodes and prefill
 * chunks. Order: running decodes first, then running partial prefills, then
 * waiting requests FCFS while max_num_seqs and KV blocks allow. When a running
 * request needs a block and none is free, the most recently admitted running
 * request is preempted (recompute), as vLLM does (running.pop()); no new
 * request is admitted in a step that preempted.
 * Simplifications: vLLM walks the running list in admission order rather than
 * putting decodes strictly first (the two agree unless a long prefill is in
 * progress); long_prefill_token_threshold and async scheduling are not
 * modelled. With enable_chunked_prefill off a prompt must fit the remaining
 * budget whole. */
#include "serve/serve-private.h"

/* Schedule @n tokens of running @r, preempting from the tail until the blocks
 * fit. Returns FALSE when @r itself had to be preempted. */
static gboolean schedule_running(SvReplica *rep, SvRequest *r, int32_t n, SvTimeNs now_ns)
{
    while (!sv__replica_try_schedule(rep, r, n, 0, now_ns)) {
        SvRequest *victim = rep->running.tail;
        SV_ASSERT(victim != NULL, "running set empty while scheduling request %" G_GINT64_FORMAT,
                  r->id);
        sv__replica_preempt(rep, victim, now_ns);
        if (victim == r)
            return FALSE;
    }
    return TRUE;
}

static int schedule_v1(SvReplica *rep, SvTimeNs now_ns)
{
    const SvEngineConfig *eng = rep->engine;
    rep->budget = eng->max_num_batched_tokens;
    rep->preempted_this_step = FALSE;

    /* Pass 1: decodes (exactly one known token not yet computed). */
    for (SvRequest *r = rep->running.head, *next; r != NULL && rep->budget > 0; r = next) {
        next = r->next;
        if (r->state != SV_RS_RUNNING || r->scheduled > 0)
            continue;
        int32_t remaining = sv_request_known_tokens(r) - r->num_computed;
        if (remaining != 1 || r->generated == 0)
            continue;
        if (!schedule_running(rep, r, 1, now_ns))
            break;
        rep->budget -= 1;
        next = r->next; /* preemption may have removed the old successor */
    }
    /* Pass 2: running requests still prefilling (chunks). */
    for (SvRequest *r = rep->running.head, *next; r != NULL && rep->budget > 0; r = next) {
        next = r->next;
        if (r->scheduled > 0)
            continue;
        int32_t remaining = sv_request_known_tokens(r) - r->num_computed;
        if (remaining <= 0)
            continue;
        int32_t n = (int32_t)MIN((int64_t)remaining, rep->budget);
        if (!eng->enable_chunked_prefill && n < remaining)
            break;
        if (!schedule_running(rep, r, n, now_ns))
            break;
        rep->budget -= n;
        next = r->next;
    }
    /* Pass 3: new (or preempted) requests, FCFS, only if nothing was preempted. */
    while (!rep->preempted_this_step && rep->budget > 0 && rep->waiting.head != NULL &&
           rep->running.len < eng->max_num_seqs) {
        SvRequest *r = rep->waiting.head;
        int32_t remaining = sv_request_known_tokens(r) - r->num_computed;
        int32_t n = (int32_t)MIN((int64_t)remaining, rep->budget);
        if (!eng->enable_chunked_prefill && n < remaining) {
            /* Progress guarantee: a prompt longer than the whole budget runs
             * alone rather than blocking the queue forever. */
            if (!(rep->batch_len == 0 && remaining > eng->max_num_batched_tokens))
                break;
            n = remaining;
        }
        sv__replica_admit(rep, r);
        if (!sv__replica_try_schedule(rep, r, n, 0, now_ns)) {
            /* Not enough blocks: put it back at the head and stop admitting. */
            sv_req_list_remove(&rep->running, r);
            r->state = SV_RS_WAITING;
            sv_req_list_push_head(&rep->waiting, r);
            break;
        }
        rep->budget -= n;
    }
    return rep->batch_len;
}

const SvSchedulerVtable sv__sched_vllm_v1 = {"vllm-v1", schedule_v1};
