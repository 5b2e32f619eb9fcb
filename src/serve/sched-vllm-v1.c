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
 * budget whole.
 * The step is written once, with policy hooks (SvBudgetPolicy), because
 * sarathi, orca, lightllm and edf differ from it only in whom they preempt,
 * what they reserve at admission and whether they chunk. Under vLLM v1's own
 * policy (and trtllm's, whose hooks allow it) the decode pass goes through
 * the replica's decode cohort (cohort.c), which gives the same steps without
 * visiting every decode. */
#include "serve/serve-private.h"

static SvRequest *pick_victim(SvReplica *rep, const SvBudgetPolicy *policy)
{
    return policy->victim != NULL ? policy->victim(rep) : sv__replica_tail_victim(rep);
}

/* Slow path of schedule_running: preempt victims until @r's blocks fit. */
static gboolean make_room(SvReplica *rep, SvRequest *r, int32_t n, const SvBudgetPolicy *policy,
                          SvRequest **next, SvTimeNs now_ns)
{
    do {
        SvRequest *victim = pick_victim(rep, policy);
        SV_ASSERT(victim != NULL, "running set empty while scheduling request %" G_GINT64_FORMAT,
                  r->id);
        if (victim == *next)
            *next = victim->next;
        sv__replica_preempt(rep, victim, now_ns);
        if (victim == r)
            return FALSE;
    } while (!sv__replica_try_schedule(rep, r, n, 0, now_ns));
    *next = r->next;
    return TRUE;
}

/* Schedule @n tokens of running @r, preempting victims until the blocks fit.
 * *@next is the request the caller visits after @r; it is kept valid when
 * victims leave the running list. Returns FALSE when @r itself had to be
 * preempted: the caller goes on with *@next. With vLLM's tail victim that
 * happens only once every later request is gone, so it ends the pass as
 * vLLM's break does; with another victim rule (edf) the requests after @r
 * still get their turn, which matters in a simulator: an empty batch with
 * requests running would leave the replica idle with no event to wake it.
 * Inline, with the preemption loop out of line: this is the engine's hottest
 * path and almost always succeeds at once. */
static inline gboolean schedule_running(SvReplica *rep, SvRequest *r, int32_t n,
                                        const SvBudgetPolicy *policy, SvRequest **next,
                                        SvTimeNs now_ns)
{
    if (G_LIKELY(sv__replica_try_schedule(rep, r, n, 0, now_ns))) {
        *next = r->next;
        return TRUE;
    }
    return make_room(rep, r, n, policy, next, now_ns);
}

/* Undo the admission of @r (not scheduled): back to the head of the waiting
 * queue, returning any blocks the policy reserved for it. */
static void unadmit(SvReplica *rep, SvRequest *r, SvTimeNs now_ns)
{
    sv__cohort_forget(rep, r);
    sv_req_list_remove(&rep->running, r);
    if (r->blocks > 0) {
        sv_kv_pool_free(&rep->kv, r->blocks, now_ns);
        r->blocks = 0;
    }
    r->state = SV_RS_WAITING;
    sv_req_list_push_head(&rep->waiting, r);
}

int sv__sched_budget_step(SvReplica *rep, SvTimeNs now_ns, const SvBudgetPolicy *policy)
{
    const SvEngineConfig *eng = rep->engine;
    gboolean chunk = policy->always_chunk || (eng->enable_chunked_prefill && !policy->never_chunk);
    rep->budget = eng->max_num_batched_tokens;
    rep->preempted_this_step = FALSE;
    /* With data parallelism the budget is the ranks' together, but each rank
     * schedules its own requests: a chunk fits one rank's budget. */
    int64_t cap = chunk && rep->chunk_cap_tokens > 0 ? rep->chunk_cap_tokens : INT64_MAX;

    /* Pass 1, fast: the decode cohort (cohort.c) schedules every decode at
     * once; pass 2 then walks only the running requests outside it. A
     * policy with hooks keeps the plain passes unless they are safe beside
     * the cohort (cohort_ok: trtllm's). */
    gboolean fast = rep->cohort.enabled &&
                    (policy->cohort_ok || (policy->victim == NULL && policy->admit == NULL));
    gboolean prefills = FALSE;
    if (fast) {
        int32_t members = sv__cohort_schedule(rep, now_ns);
        if (members >= 0) {
            rep->budget -= members;
            prefills = rep->cohort.others.len > 0;
        } else {
            fast = FALSE;
        }
    }
    /* Pass 1: decodes (exactly one known token not yet computed). It notes
     * whether it passed a prefill, so that pass 2 is skipped in the common
     * all-decode step (a pass over every running request saved). */
    for (SvRequest *r = fast ? NULL : rep->running.head, *next; r != NULL && rep->budget > 0;
         r = next) {
        next = r->next;
        if (r->state != SV_RS_RUNNING || r->scheduled > 0)
            continue;
        int32_t remaining = sv_request_known_tokens(r) - r->num_computed;
        if (remaining != 1 || r->generated == 0) {
            prefills = TRUE;
            continue;
        }
        if (!schedule_running(rep, r, 1, policy, &next, now_ns))
            continue;
        rep->budget -= 1;
    }
    /* Pass 2: running requests still prefilling (chunks); with the cohort,
     * those outside it (the same requests in the same order). */
    SvRequest *first = !prefills ? NULL : fast ? rep->cohort.others.head : rep->running.head;
    for (SvRequest *r = first, *next; r != NULL && rep->budget > 0; r = next) {
        next = fast ? r->cnext : r->next;
        if (r->scheduled > 0)
            continue;
        int32_t remaining = sv_request_known_tokens(r) - r->num_computed;
        if (remaining <= 0)
            continue;
        int32_t n = (int32_t)MIN(MIN((int64_t)remaining, rep->budget), cap);
        if (!chunk && n < remaining)
            break;
        if (fast && !sv__replica_try_schedule(rep, r, n, 0, now_ns)) {
            /* Blocks are short: preemption picks its victims from the whole
             * running list, so the rest of the step takes the plain path
             * (the requests after @r in running order that pass 2 has not
             * seen are exactly those it would still visit). */
            sv__cohort_dissolve(rep);
            fast = FALSE;
            next = r->next;
            if (!make_room(rep, r, n, policy, &next, now_ns))
                continue;
        } else if (!fast && !schedule_running(rep, r, n, policy, &next, now_ns)) {
            continue;
        }
        rep->budget -= n;
    }
    /* Pass 3: new (or preempted) requests in queue order, only if nothing
     * was preempted. */
    while (!rep->preempted_this_step && rep->budget > 0 && rep->waiting.head != NULL &&
           rep->running.len < eng->max_num_seqs) {
        SvRequest *r = rep->waiting.head;
        int32_t remaining = sv_request_known_tokens(r) - r->num_computed;
        int32_t n = (int32_t)MIN(MIN((int64_t)remaining, rep->budget), cap);
        if (!chunk && n < remaining) {
            /* Progress guarantee: a prompt longer than the whole budget runs
             * alone rather than blocking the queue forever. */
            if (!(rep->batch_len + rep->cohort.scheduled == 0 &&
                  remaining > eng->max_num_batched_tokens))
                break;
            n = remaining;
        }
        if (policy->admit != NULL && !policy->admit(rep, r, now_ns))
            break;
        sv__replica_admit(rep, r);
        if (!sv__replica_try_schedule(rep, r, n, 0, now_ns)) {
            /* Not enough blocks: put it back at the head and stop admitting. */
            unadmit(rep, r, now_ns);
            break;
        }
        rep->budget -= n;
    }
    return rep->batch_len + rep->cohort.scheduled;
}

static int schedule_v1(SvReplica *rep, SvTimeNs now_ns)
{
    static const SvBudgetPolicy v1 = {0};
    return sv__sched_budget_step(rep, now_ns, &v1);
}

const SvSchedulerVtable sv__sched_vllm_v1 = {
    .name = "vllm-v1",
    .description = "vLLM v1: one token budget per step, running decodes first, then partial "
                   "prefills, then new requests (chunked prefill)",
    .schedule = schedule_v1,
};
