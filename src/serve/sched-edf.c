/* SLO-aware earliest-deadline-first scheduling with priority levels. The
 * waiting queue is kept ordered by priority (higher first), then first-token
 * deadline (earlier first), then arrival; each step is vLLM v1's (running
 * decodes first, then partial prefills, then waiting requests in that order
 * under one token budget). When blocks run out, the victim is the running
 * request that matters least: lowest priority, then latest deadline, then
 * latest arrival; it goes back into the queue at its ordered place.
 * A request's deadline is its arrival plus its SLO class's TTFT target (the
 * study's slo.ttft_s by default; no target: +inf). With one class for all
 * the queue is FCFS and edf differs from vllm-v1 only in its victim (the
 * latest arrival rather than the latest admitted).
 * Follows vLLM's `--scheduling-policy priority` (waiting queue ordered by
 * priority then arrival; lowest-priority running request preempted) with a
 * deadline inserted between the two keys. Simplified: a waiting request
 * never preempts a running one to get in (vLLM v0's priority policy does), and
 * running partial prefills proceed in admission order. */
#include "serve/serve-private.h"

#define MAX_VICTIMS_PER_STEP 64

typedef struct {
    SvRequest *victims[MAX_VICTIMS_PER_STEP]; /* preempted this step, to re-queue */
    int32_t num_victims;
    gboolean overflow; /* more victims than slots: re-queue by a full scan */
} EdfState;

/* <0 when @a goes before @b. */
static int edf_order(const SvRequest *a, const SvRequest *b)
{
    if (a->priority != b->priority)
        return a->priority > b->priority ? -1 : 1;
    if (a->deadline_ns != b->deadline_ns)
        return a->deadline_ns < b->deadline_ns ? -1 : 1;
    if (a->arrival_ns != b->arrival_ns)
        return a->arrival_ns < b->arrival_ns ? -1 : 1;
    return a->id < b->id ? -1 : a->id > b->id ? 1 : 0;
}

/* Insert @r in the waiting list at its ordered place. Searching from the tail
 * makes the common case (deadlines growing with arrival) O(1). */
static void insert_ordered(SvReqList *l, SvRequest *r)
{
    SvRequest *after = l->tail;
    while (after != NULL && edf_order(after, r) > 0)
        after = after->prev;
    if (after == NULL) {
        sv_req_list_push_head(l, r);
        return;
    }
    r->prev = after;
    r->next = after->next;
    if (after->next != NULL)
        after->next->prev = r;
    else
        l->tail = r;
    after->next = r;
    l->len++;
}

static void edf_enqueue(SvReplica *rep, SvRequest *r)
{
    insert_ordered(&rep->waiting, r);
}

static SvRequest *edf_victim(SvReplica *rep)
{
    EdfState *st = rep->sched_state;
    SvRequest *worst = NULL;
    for (SvRequest *r = rep->running.head; r != NULL; r = r->next)
        if (r->state != SV_RS_INFLIGHT && (worst == NULL || edf_order(r, worst) > 0))
            worst = r; /* never one whose batch is still in the pipeline */
    if (st->num_victims < MAX_VICTIMS_PER_STEP)
        st->victims[st->num_victims++] = worst;
    else
        st->overflow = TRUE;
    return worst;
}

/* Move a request that preemption put at the head of the queue to its place. */
static void requeue(SvReplica *rep, SvRequest *r)
{
    if (r->state != SV_RS_WAITING)
        return; /* e.g. swapped out rather than queued */
    sv_req_list_remove(&rep->waiting, r);
    insert_ordered(&rep->waiting, r);
}

static int schedule_edf(SvReplica *rep, SvTimeNs now_ns)
{
    static const SvBudgetPolicy edf = {.victim = edf_victim};
    EdfState *st = rep->sched_state;
    st->num_victims = 0;
    st->overflow = FALSE;
    int n = sv__sched_budget_step(rep, now_ns, &edf);
    /* No request is admitted in a step that preempted, so the victims are
     * still queued: restore the order. */
    for (int32_t i = 0; i < st->num_victims; i++)
        requeue(rep, st->victims[i]);
    if (st->overflow) {
        /* Rare: re-insert every queued request (stable, O(n^2) worst case). */
        SvReqList all = rep->waiting;
        rep->waiting = (SvReqList){0};
        for (SvRequest *r = all.head, *next; r != NULL; r = next) {
            next = r->next;
            insert_ordered(&rep->waiting, r);
        }
    }
    return n;
}

static void edf_init(SvReplica *rep)
{
    rep->sched_state = g_new0(EdfState, 1);
}

static void edf_free(SvReplica *rep)
{
    g_free(rep->sched_state);
    rep->sched_state = NULL;
}

const SvSchedulerVtable sv__sched_edf = {
    .name = "edf",
    .description = "SLO-aware EDF: queue by priority then TTFT deadline; preempts the "
                   "lowest-priority, latest-deadline request first",
    .schedule = schedule_edf,
    .init = edf_init,
    .free = edf_free,
    .enqueue = edf_enqueue,
};
