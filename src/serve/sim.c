/* The cluster simulation: arrivals from the workload are routed to replicas;
 * each replica runs engine iterations (one event per iteration, never per
 * token) formed by its scheduler and timed by the predictor; tokens are
 * emitted at iteration end; metrics record every request. Arrivals come
 * from the tenant mix (workload/tenants.h) and pass admission control
 * (admission.c) before they join a replica's queue. One SvSim owns one
 * SvEngine and everything else of the run. */
#include "core/engine.h"
#include "serve/admission.h"
#include "serve/serve-private.h"
#include "workload/tenants.h"

#include <string.h>

/* EV_RETRY: a closed-loop client whose request was rate limited sends its
 * next one when the token bucket will take it (arg = its stream). */
enum { EV_ARRIVAL = 1, EV_ITER_END = 2, EV_SAMPLE = 3, EV_RETRY = 4 };

#define REQ_SLAB 4096

struct SvSim {
    const SvConfig *config; /* (not owned) */
    SvSimOptions options;
    SvEngine *engine;          /* (owned) */
    uint16_t component;        /* our id in the engine */
    SvTenantMix *mix;          /* (owned) the request streams, one per tenant */
    SvMetrics *metrics;        /* (owned) */
    SvAdmission *admission;    /* (owned) */
    const SvSloClass *classes; /* the mix's class table, [0] = "default" */
    SvRouter *router;          /* (owned) */
    SvReplica **replicas;      /* (owned) */
    int num_replicas;
    GPtrArray *slabs;      /* request slabs (owned) */
    GPtrArray *predictors; /* one per pool (owned) */
    SvRequest *free_reqs;  /* free list through ->next */
    SvRequestSpec pending; /* the next arrival, when has_pending */
    gboolean has_pending;
    gboolean arrivals_done; /* every stream is exhausted */
    gboolean open_done;     /* the open-loop streams are exhausted */
    int closed_live;        /* closed-loop streams not exhausted */
    gboolean *closed_done;  /* per stream: a closed loop that has ended */
    /* Closed-loop clients whose request was shed for load (queue full,
     * predicted SLO miss) wait for an iteration to end before they send the
     * next: replacing it at once would find the same queue at the same
     * instant, for ever. Per stream. */
    int *parked;
    int64_t parked_total;
    int wake_cursor;         /* the stream whose parked clients go first next time */
    int64_t retries_pending; /* EV_RETRY events scheduled */
    int64_t next_id;
    int64_t arrived, completed, rejected, in_flight;
    int64_t output_tokens; /* emitted, all requests */
    int64_t iterations;
    SvTimeNs first_arrival_ns;
    SvTimeNs last_event_ns;
    SvTimeNs sample_interval_ns;
    SvTimeNs last_sample_ns;
    SvRunTotals totals;
    /* Batch sizes of the iterations started since the last sample (timeseries). */
    int64_t batch_iters, batch_seqs, batch_tokens;
    const SvSimObserver *observer; /* --trace-events hooks, or NULL (not owned) */
    SvSimProgressFn progress_fn;   /* or NULL */
    void *progress_data;
    uint32_t progress_tick; /* events since the last progress call */
};

/* ---- requests -------------------------------------------------------- */

static SvRequest *request_new(SvSim *sim)
{
    if (sim->free_reqs == NULL) {
        SvRequest *slab = g_new0(SvRequest, REQ_SLAB);
        g_ptr_array_add(sim->slabs, slab);
        for (int i = REQ_SLAB - 1; i >= 0; i--) {
            slab[i].next = sim->free_reqs;
            slab[i].state = SV_RS_FREE;
            sim->free_reqs = &slab[i];
        }
    }
    SvRequest *r = sim->free_reqs;
    sim->free_reqs = r->next;
    memset(r, 0, sizeof(*r));
    return r;
}

static void request_release(SvSim *sim, SvRequest *r)
{
    r->state = SV_RS_FREE;
    r->next = sim->free_reqs;
    sim->free_reqs = r;
}

static void record_request(SvSim *sim, const SvRequest *r, SvRequestOutcome outcome,
                           SvRejectReason reason, SvTimeNs now_ns)
{
    SV_ASSERT(r->id <= INT32_MAX, "request id %" G_GINT64_FORMAT " past the record's 32 bits",
              r->id);
    SvRequestRecord rec = {
        .id = (int32_t)r->id,
        .arrival_ns = r->arrival_ns,
        .first_scheduled_ns = r->first_scheduled_ns,
        .first_token_ns = r->first_token_ns,
        .finish_ns = now_ns,
        .max_itl_ns = r->max_itl_ns,
        .input_tokens = r->input_tokens,
        .output_tokens = r->output_tokens,
        .replica = outcome == SV_REQ_REJECTED ? -1 : r->replica,
        .preemptions = r->preemptions,
        .tenant = r->tenant,
        .slo_class = r->slo_class,
        .outcome = (uint8_t)outcome,
        .reject_reason = (uint8_t)reason,
    };
    sv_metrics_add_request(sim->metrics, &rec);
    if (r->cached_tokens != 0 || r->preempted_ns != 0)
        sv_metrics_set_request_kv(sim->metrics, r->id,
                                  &(SvRequestKv){r->cached_tokens, r->preempted_ns});
}

/* Tell the timeline observer that @r enters @phase (callers test for one). */
static void observe_request(const SvSimObserver *obs, SvRequest *r, SvRequestPhase phase,
                            SvRejectReason reason, SvTimeNs now_ns)
{
    SvRequestEvent ev = {
        .id = r->id,
        .t_ns = now_ns,
        .replica = r->replica,
        .input_tokens = r->input_tokens,
        .output_tokens = r->output_tokens,
        .generated = r->generated,
        .phase = (uint8_t)phase,
        .prev_phase = r->trace_phase,
        .reject_reason = (uint8_t)reason,
    };
    r->trace_phase = (uint8_t)phase;
    if (obs->request != NULL)
        obs->request(obs->user_data, &ev);
}

/* ---- replica mechanics ----------------------------------------------- */

gboolean sv__replica_try_schedule(SvReplica *rep, SvRequest *r, int32_t n, int64_t reserve,
                                  SvTimeNs now_ns)
{
    SV_ASSERT(n > 0 && r->scheduled == 0, "request %" G_GINT64_FORMAT " scheduled twice (n=%d)",
              r->id, n);
    if (!sv__replica_kv_grow(rep, r, &n, reserve, now_ns))
        return FALSE;
    r->scheduled = n;
    if (rep->batch_len == rep->batch_cap) {
        rep->batch_cap = rep->batch_cap ? rep->batch_cap * 2 : 64;
        rep->batch = g_renew(SvRequest *, rep->batch, rep->batch_cap);
    }
    rep->batch[rep->batch_len++] = r;
    if (r->first_scheduled_ns < 0)
        r->first_scheduled_ns = now_ns;
    return TRUE;
}

void sv__replica_admit(SvReplica *rep, SvRequest *r)
{
    SV_ASSERT(r->state == SV_RS_WAITING, "admit request %" G_GINT64_FORMAT " in state %d", r->id,
              r->state);
    sv_req_list_remove(&rep->waiting, r);
    r->state = SV_RS_RUNNING;
    sv_req_list_push_tail(&rep->running, r);
}

void sv__replica_preempt(SvReplica *rep, SvRequest *r, SvTimeNs now_ns)
{
    SV_ASSERT(r->state == SV_RS_RUNNING, "preempt request %" G_GINT64_FORMAT " in state %d", r->id,
              r->state);
    if (r->scheduled > 0) {
        for (int i = 0; i < rep->batch_len; i++) {
            if (rep->batch[i] == r) {
                memmove(&rep->batch[i], &rep->batch[i + 1],
                        (size_t)(rep->batch_len - i - 1) * sizeof(SvRequest *));
                rep->batch_len--;
                break;
            }
        }
        rep->budget += r->scheduled;
        r->scheduled = 0;
    }
    sv__replica_kv_preempt(rep, r, now_ns);
    r->preemptions++;
    rep->preemptions++;
    rep->preempted_this_step = TRUE;
    sv_req_list_remove(&rep->running, r);
    r->state = SV_RS_WAITING;
    sv_req_list_push_head(&rep->waiting, r);
    if (G_UNLIKELY(rep->observer != NULL))
        observe_request(rep->observer, r, SV_PHASE_PREEMPTED, SV_REJECT_NONE, now_ns);
}

static SvTimeNs iteration_time(SvSim *sim, SvReplica *rep, const SvBatchShape *shape, double *flops)
{
    if (sim->options.iter_time_fn != NULL) {
        *flops = 0;
        return sim->options.iter_time_fn(sim->options.iter_time_ctx, shape);
    }
    return sv_predictor_iteration_ns(rep->predictor, shape, flops);
}

/* Report an iteration that starts at @now_ns: its requests that were queued
 * or preempted begin their prefill (or, swapped back in, decode again), then
 * the iteration itself. */
static void observe_iteration(SvSim *sim, SvReplica *rep, const SvBatchShape *shape,
                              SvTimeNs now_ns, SvTimeNs dt_ns)
{
    const SvSimObserver *obs = sim->observer;
    for (int i = 0; i < rep->batch_len; i++) {
        SvRequest *r = rep->batch[i];
        if (r->trace_phase != SV_PHASE_QUEUED && r->trace_phase != SV_PHASE_PREEMPTED)
            continue;
        gboolean decode = r->scheduled == 1 && r->generated > 0 &&
                          r->num_computed + 1 == sv_request_known_tokens(r);
        observe_request(obs, r, decode ? SV_PHASE_DECODE : SV_PHASE_PREFILL, SV_REJECT_NONE,
                        now_ns);
    }
    if (obs->iteration == NULL)
        return;
    SvIterationEvent ev = {
        .replica = rep->index,
        .start_ns = now_ns,
        .duration_ns = dt_ns,
        .shape = *shape,
        .running = rep->running.len,
        .waiting = rep->waiting.len,
        .kv_used_blocks = rep->kv.total_blocks - rep->kv.free_blocks,
        .kv_total_blocks = rep->kv.total_blocks,
        .swap_blocks = rep->swap_blocks_step,
    };
    obs->iteration(obs->user_data, &ev);
}

/* Start an iteration on an idle replica if its scheduler finds work. */
static void replica_kick(SvSim *sim, SvReplica *rep)
{
    if (rep->busy)
        return;
    SvTimeNs now = sv_engine_now(sim->engine);
    rep->batch_len = 0;
    rep->swap_blocks_step = 0;
    /* A step that only swapped (its batch came out empty) still spends the
     * copy time. */
    if (rep->sched->schedule(rep, now) == 0 && rep->swap_blocks_step == 0)
        return;
    SvBatchShape shape = {0};
    for (int i = 0; i < rep->batch_len; i++) {
        const SvRequest *r = rep->batch[i];
        gboolean decode = r->scheduled == 1 && r->generated > 0 &&
                          r->num_computed + 1 == sv_request_known_tokens(r);
        if (decode)
            sv_batch_add_decode(&shape, 1, r->num_computed);
        else
            sv_batch_add_prefill(&shape, r->scheduled, r->num_computed);
    }
    double flops = 0;
    SvTimeNs dt = rep->batch_len > 0 ? iteration_time(sim, rep, &shape, &flops) : 0;
    dt += sv__replica_swap_charge(rep);
    SV_ASSERT(dt > 0, "iteration of %d requests predicted to take %" G_GINT64_FORMAT " ns",
              rep->batch_len, dt);
    rep->busy = TRUE;
    rep->iter_end_ns = now + dt;
    rep->busy_ns += dt;
    rep->flops += flops;
    sim->batch_iters++;
    sim->batch_seqs += rep->batch_len;
    sim->batch_tokens += shape.prefill_tokens + shape.num_decode;
    if (G_UNLIKELY(sim->observer != NULL))
        observe_iteration(sim, rep, &shape, now, dt);
    sv_engine_schedule(sim->engine, now + dt, sim->component, EV_ITER_END, rep->index, NULL);
}

static void closed_next(SvSim *sim, int s);
static void wake_parked(SvSim *sim);

static void finish_request(SvSim *sim, SvReplica *rep, SvRequest *r, SvTimeNs now)
{
    if (rep->sched->finished != NULL)
        rep->sched->finished(rep, r);
    sv_req_list_remove(&rep->running, r);
    sv__replica_kv_release(rep, r, now);
    record_request(sim, r, SV_REQ_COMPLETED, SV_REJECT_NONE, now);
    if (G_UNLIKELY(sim->observer != NULL))
        observe_request(sim->observer, r, SV_PHASE_FINISHED, SV_REJECT_NONE, now);
    rep->outstanding--;
    sim->completed++;
    sim->in_flight--;
    int stream = sv_tenant_mix_stream_of(sim->mix, r->tenant);
    request_release(sim, r);
    if (sv_tenant_mix_concurrency(sim->mix, stream) > 0)
        closed_next(sim, stream);
}

static void on_iteration_end(SvSim *sim, SvReplica *rep, SvTimeNs now)
{
    rep->iterations++;
    sim->iterations++;
    for (int i = 0; i < rep->batch_len; i++) {
        SvRequest *r = rep->batch[i];
        r->num_computed += r->scheduled;
        r->scheduled = 0;
        sv__replica_kv_computed(rep, r, now);
        if (r->num_computed < sv_request_known_tokens(r))
            continue; /* a prefill chunk that did not finish the prompt */
        /* Every known token is in the cache: the step sampled a new token. */
        if (r->generated == 0) {
            r->first_token_ns = now;
        } else {
            SvTimeNs gap = now - r->last_token_ns;
            sv_metrics_add_itl(sim->metrics, gap);
            if (gap > r->max_itl_ns)
                r->max_itl_ns = gap;
        }
        r->last_token_ns = now;
        r->generated++;
        sim->output_tokens++;
        if (r->generated >= r->output_tokens)
            finish_request(sim, rep, r, now);
        else if (G_UNLIKELY(r->trace_phase == SV_PHASE_PREFILL)) /* only set when observed */
            observe_request(sim->observer, r, SV_PHASE_DECODE, SV_REJECT_NONE, now);
    }
    rep->batch_len = 0;
    rep->busy = FALSE;
    replica_kick(sim, rep);
    /* After the kick, which may have moved queued requests into the batch. */
    if (G_UNLIKELY(sim->parked_total > 0))
        wake_parked(sim);
}

/* ---- arrivals -------------------------------------------------------- */

static void reject(SvSim *sim, SvRequest *r, SvRejectReason reason, SvTimeNs now)
{
    record_request(sim, r, SV_REQ_REJECTED, reason, now);
    if (G_UNLIKELY(sim->observer != NULL))
        observe_request(sim->observer, r, SV_PHASE_REJECTED, reason, now);
    sim->rejected++;
    request_release(sim, r);
}

/* What became of an arrival. */
typedef enum {
    ARRIVAL_QUEUED,       /* in a replica's queue */
    ARRIVAL_REJECTED,     /* for what it is (too long for any replica) */
    ARRIVAL_SHED,         /* for the load it met: queue full, predicted SLO miss */
    ARRIVAL_RATE_LIMITED, /* by the token bucket; *retry_ns says when it would pass */
} ArrivalResult;

static SvTimeNs replica_time(void *ctx, SvReplica *rep, const SvBatchShape *shape)
{
    double flops;
    return iteration_time(ctx, rep, shape, &flops);
}

static ArrivalResult admit_arrival(SvSim *sim, const SvRequestSpec *spec, SvTimeNs now,
                                   SvTimeNs *retry_ns)
{
    SvRequest *r = request_new(sim);
    r->id = sim->next_id++;
    r->arrival_ns = now;
    r->first_scheduled_ns = -1;
    r->first_token_ns = -1;
    r->input_tokens = spec->input_tokens;
    r->output_tokens = spec->output_tokens;
    /* Before routing: prefix-affinity looks the prompt up in each cache. */
    sv_kv_seq_init(&r->kv, &spec->prefix, r->input_tokens, sim->config->engine.block_size,
                   sim->config->engine.enable_prefix_caching);
    r->kv_cache_at = sv_kv_seq_cache_at(&r->kv);
    /* Who it is: tenant and SLO class (stamped by the mix), the priority
     * and the first-token deadline that priority-aware schedulers read. */
    r->tenant = (uint16_t)spec->tenant;
    r->slo_class = (uint8_t)spec->slo_class;
    const SvSloClass *cls = &sim->classes[spec->slo_class];
    r->priority = sv_tenant_mix_priority(sim->mix, spec);
    r->deadline_ns = cls->ttft_s > 0 ? now + sv_s_to_ns(cls->ttft_s) : INT64_MAX;
    if (sim->arrived == 0)
        sim->first_arrival_ns = now;
    sim->arrived++;

    /* The gateway's rate limit comes before routing: a limited request
     * never reaches the router. */
    if (!sv__admission_take_token(sim->admission, now, retry_ns)) {
        reject(sim, r, SV_REJECT_RATE_LIMITED, now);
        return ARRIVAL_RATE_LIMITED;
    }
    int pick = sv__router_pick(sim->router, sim->replicas, sim->num_replicas, r, now);
    SvReplica *rep = sim->replicas[pick];
    r->replica = rep->index;
    int64_t total = (int64_t)r->input_tokens + r->output_tokens;
    if (total > rep->max_model_len) {
        reject(sim, r, SV_REJECT_TOO_LONG, now);
        return ARRIVAL_REJECTED;
    }
    /* The last output token's KV is never written. */
    if (sv_kv_blocks_for(&rep->kv, total - 1) > rep->kv.total_blocks) {
        reject(sim, r, SV_REJECT_KV_CAPACITY, now);
        return ARRIVAL_REJECTED;
    }
    if (sv__admission_queue_full(sim->admission, rep, sim->replicas, sim->num_replicas)) {
        reject(sim, r, SV_REJECT_QUEUE_FULL, now);
        return ARRIVAL_SHED;
    }
    if (sv__admission_predicts(sim->admission) && cls->ttft_s > 0 &&
        sv__admission_work_ahead(rep) &&
        sv__admission_predict_ttft_ns(rep, r->input_tokens, now, replica_time, sim) >
            sv_s_to_ns(cls->ttft_s)) {
        reject(sim, r, SV_REJECT_SLO_PREDICTED_MISS, now);
        return ARRIVAL_SHED;
    }
    if (G_UNLIKELY(sim->observer != NULL))
        observe_request(sim->observer, r, SV_PHASE_QUEUED, SV_REJECT_NONE, now);
    r->state = SV_RS_WAITING;
    if (rep->sched->enqueue != NULL)
        rep->sched->enqueue(rep, r);
    else
        sv_req_list_push_tail(&rep->waiting, r);
    rep->outstanding++;
    sim->in_flight++;
    replica_kick(sim, rep);
    return ARRIVAL_QUEUED;
}

static void update_arrivals_done(SvSim *sim)
{
    sim->arrivals_done = sim->open_done && sim->closed_live == 0;
}

/* Schedule the next open-loop arrival (the earliest over the open-loop
 * tenants). */
static void arrival_next(SvSim *sim)
{
    if (sim->open_done)
        return;
    SvRequestSpec spec;
    SvTimeNs now = sv_engine_now(sim->engine);
    if (!sv_tenant_mix_next_open(sim->mix, &spec)) {
        sim->open_done = TRUE;
        update_arrivals_done(sim);
        return;
    }
    sim->pending = spec;
    sim->has_pending = TRUE;
    SV_ASSERT(spec.arrival_ns >= now, "workload went back in time");
    sv_engine_schedule(sim->engine, spec.arrival_ns, sim->component, EV_ARRIVAL, 0, NULL);
}

/* A client of closed-loop stream @s sends its next request now. A request
 * rejected for what it is (too long) is replaced at once, as a benchmark
 * client moves on to its next prompt; one shed for load waits for a
 * request to finish, and one rate limited waits until the bucket takes it. */
static void closed_next(SvSim *sim, int s)
{
    SvTimeNs now = sv_engine_now(sim->engine);
    for (;;) {
        SvRequestSpec spec;
        if (sim->closed_done[s])
            return;
        if (!sv_tenant_mix_next_closed(sim->mix, s, now, &spec)) {
            sim->closed_done[s] = TRUE;
            sim->closed_live--;
            update_arrivals_done(sim);
            return;
        }
        SvTimeNs retry_ns = now;
        switch (admit_arrival(sim, &spec, now, &retry_ns)) {
        case ARRIVAL_QUEUED:
            return;
        case ARRIVAL_REJECTED:
            continue;
        case ARRIVAL_SHED:
            /* Something is queued or running wherever it was shed, so an
             * iteration will end and wake it (admission.c). */
            SV_ASSERT(sim->in_flight > 0, "closed-loop client shed with nothing in flight");
            sim->parked[s]++;
            sim->parked_total++;
            return;
        case ARRIVAL_RATE_LIMITED:
            SV_ASSERT(retry_ns > now, "rate limit retry at %" G_GINT64_FORMAT " ns", retry_ns);
            sim->retries_pending++;
            sv_engine_schedule(sim->engine, retry_ns, sim->component, EV_RETRY, s, NULL);
            return;
        }
    }
}

/* After an iteration end (the only moments queues shrink): parked clients
 * try again one after another, streams in turn, until one is shed again,
 * which says the cluster is still full for the rest. So under sustained
 * overload a closed loop keeps the queues full and adds at most one
 * rejection per iteration end, instead of one per client. */
static void wake_parked(SvSim *sim)
{
    int streams = sv_tenant_mix_num_streams(sim->mix);
    for (int k = 0; k < streams && sim->parked_total > 0; k++) {
        int s = (sim->wake_cursor + k) % streams;
        while (sim->parked[s] > 0) {
            sim->parked[s]--;
            sim->parked_total--;
            int64_t before = sim->parked_total;
            closed_next(sim, s);
            if (sim->parked_total > before) {
                sim->wake_cursor = (s + 1) % streams;
                return;
            }
        }
    }
}

/* ---- sampling -------------------------------------------------------- */

static void take_sample(SvSim *sim, SvTimeNs now)
{
    SvSample s = {.t_ns = now,
                  .arrived = sim->arrived,
                  .completed = sim->completed,
                  .rejected = sim->rejected,
                  .output_tokens = sim->output_tokens,
                  .iterations = sim->iterations};
    int64_t used = 0, total = 0;
    for (int i = 0; i < sim->num_replicas; i++) {
        SvReplica *rep = sim->replicas[i];
        s.running += rep->running.len;
        s.waiting += rep->waiting.len;
        used += rep->kv.total_blocks - rep->kv.free_blocks;
        total += rep->kv.total_blocks;
    }
    s.kv_utilization = total > 0 ? (double)used / (double)total : 0.0;
    if (sim->batch_iters > 0) {
        s.batch_seqs = (double)sim->batch_seqs / (double)sim->batch_iters;
        s.batch_tokens = (double)sim->batch_tokens / (double)sim->batch_iters;
    }
    sim->batch_iters = sim->batch_seqs = sim->batch_tokens = 0;
    sv_metrics_add_sample(sim->metrics, &s);
    if (G_UNLIKELY(sim->observer != NULL) && sim->observer->sample != NULL)
        sim->observer->sample(sim->observer->user_data, &s);
    sim->last_sample_ns = now;
}

static gboolean work_left(const SvSim *sim)
{
    return !sim->arrivals_done || sim->in_flight > 0 || sim->retries_pending > 0;
}

/* ---- component ------------------------------------------------------- */

static void cluster_init(SvEngine *engine, void *self)
{
    SvSim *sim = self;
    /* Closed-loop streams start their clients, in stream order; open-loop
     * ones schedule their first arrival. */
    int streams = sv_tenant_mix_num_streams(sim->mix);
    for (int s = 0; s < streams; s++) {
        int clients = sv_tenant_mix_concurrency(sim->mix, s);
        for (int i = 0; i < clients && !sim->closed_done[s]; i++)
            closed_next(sim, s);
    }
    arrival_next(sim);
    take_sample(sim, 0);
    if (work_left(sim))
        sv_engine_schedule(engine, sim->sample_interval_ns, sim->component, EV_SAMPLE, 0, NULL);
}

static void report_progress(SvSim *sim)
{
    SvEngineStats st;
    sv_engine_stats(sim->engine, &st);
    SvSimProgress p = {.now_ns = sv_engine_now(sim->engine),
                       .arrived = sim->arrived,
                       .completed = sim->completed,
                       .rejected = sim->rejected,
                       .iterations = sim->iterations,
                       .events = st.processed};
    sim->progress_fn(sim->progress_data, &p);
}

static void cluster_handle(SvEngine *engine, void *self, const SvEvent *ev)
{
    SvSim *sim = self;
    SvTimeNs now = sv_engine_now(engine);
    /* A counter and a mask per event; the callee reads the clock. */
    if (G_UNLIKELY(sim->progress_fn != NULL) && (++sim->progress_tick & 0xffff) == 0)
        report_progress(sim);
    switch (ev->kind) {
    case EV_ARRIVAL: {
        SV_ASSERT(sim->has_pending, "arrival event without a pending request");
        SvRequestSpec spec = sim->pending;
        sim->has_pending = FALSE;
        admit_arrival(sim, &spec, now, NULL);
        arrival_next(sim);
        sim->last_event_ns = now;
        break;
    }
    case EV_RETRY:
        sim->retries_pending--;
        closed_next(sim, ev->arg);
        sim->last_event_ns = now;
        break;
    case EV_ITER_END:
        on_iteration_end(sim, sim->replicas[ev->arg], now);
        sim->last_event_ns = now;
        break;
    case EV_SAMPLE:
        take_sample(sim, now);
        if (work_left(sim))
            sv_engine_schedule(engine, now + sim->sample_interval_ns, sim->component, EV_SAMPLE, 0,
                               NULL);
        break;
    default:
        SV_ASSERT(FALSE, "unknown event kind %u", ev->kind);
    }
}

static void cluster_finish(SvEngine *engine, void *self)
{
    SvSim *sim = self;
    /* With no event left every request must have finished or been rejected:
     * anything still in flight is a scheduler that stalled. */
    SV_ASSERT(sim->in_flight == 0,
              "%" G_GINT64_FORMAT " requests stuck at t=%" G_GINT64_FORMAT " ns", sim->in_flight,
              sim->last_event_ns);
    for (int i = 0; i < sim->num_replicas; i++)
        sv_kv_pool_advance(&sim->replicas[i]->kv, sim->last_event_ns);
    if (sim->last_sample_ns < sim->last_event_ns)
        take_sample(sim, sim->last_event_ns);
}

static const SvComponentVtable cluster_vtable = {"cluster", cluster_init, cluster_handle,
                                                 cluster_finish};

/* ---- construction ---------------------------------------------------- */

gboolean sv_sim_kv_blocks(const SvModel *model, const SvPoolConfig *pool,
                          const SvEngineConfig *engine, int64_t *blocks_out, GError **error)
{
    const SvHw *hw = pool->hw;
    int tp = pool->tensor_parallel_size, pp = pool->pipeline_parallel_size;
    int layers = sv_model_layers_per_stage(model, pp);
    double kv_token = layers * sv_model_kv_bytes_per_token_layer(model, tp, engine->kv_cache_dtype);
    double weights = sv_model_weight_bytes_per_device(model, tp, pp, pool->expert_parallel_size,
                                                      engine->weight_dtype);
    double budget = hw->mem_capacity_bytes * engine->gpu_memory_utilization;
    double usable = budget - weights - hw->activation_workspace_bytes - hw->runtime_reserve_bytes;
    double per_block = kv_token * engine->block_size;
    int64_t blocks = usable > 0 && per_block > 0 ? (int64_t)(usable / per_block) : 0;
    if (blocks < 1) {
        g_set_error(error, SV_PLAN_ERROR, SV_ERROR_INFEASIBLE,
                    "pool '%s': no memory left for the KV cache on %s: %.1f GB usable at "
                    "gpu_memory_utilization %.2f, weights take %.1f GB and reserves %.1f GB "
                    "(short by %.1f GB); raise tensor_parallel_size or pipeline_parallel_size",
                    pool->name, hw->name, budget / 1e9, engine->gpu_memory_utilization,
                    weights / 1e9,
                    (hw->activation_workspace_bytes + hw->runtime_reserve_bytes) / 1e9,
                    (per_block - usable) / 1e9);
        return FALSE;
    }
    *blocks_out = blocks;
    return TRUE;
}

static const SvSchedulerVtable *scheduler_for(SvSchedulerKind kind)
{
    static const SvSchedulerVtable *const table[SV_SCHED_COUNT] = {
        [SV_SCHED_VLLM_V0] = &sv__sched_vllm_v0, [SV_SCHED_VLLM_V1] = &sv__sched_vllm_v1,
        [SV_SCHED_SARATHI] = &sv__sched_sarathi, [SV_SCHED_ORCA] = &sv__sched_orca,
        [SV_SCHED_STATIC] = &sv__sched_static,   [SV_SCHED_LIGHTLLM] = &sv__sched_lightllm,
        [SV_SCHED_EDF] = &sv__sched_edf,
    };
    return kind >= 0 && kind < SV_SCHED_COUNT ? table[kind] : NULL;
}

const char *sv_scheduler_description(SvSchedulerKind kind)
{
    const SvSchedulerVtable *sched = scheduler_for(kind);
    return sched != NULL ? sched->description : NULL;
}

/* Swap preemption on @rep: its CPU tier (engine.swap_space GiB per device;
 * each device keeps its own shard of a block, so the tier holds as many
 * blocks as one device's share fits) and the host-link time of one block
 * (the devices copy their shards in parallel, each over its own link). */
static void setup_swap(SvSim *sim, SvReplica *rep)
{
    const SvConfig *config = sim->config;
    const SvEngineConfig *engine = &config->engine;
    if (engine->preemption_mode != SV_PREEMPT_SWAP)
        return;
    const SvPoolConfig *pool = rep->pool;
    double block_bytes = sim->options.kv_block_bytes;
    if (block_bytes <= 0) {
        int layers = sv_model_layers_per_stage(config->model, pool->pipeline_parallel_size);
        block_bytes = layers *
                      sv_model_kv_bytes_per_token_layer(config->model, pool->tensor_parallel_size,
                                                        engine->kv_cache_dtype) *
                      engine->block_size;
    }
    double host_bw = pool->hw->host_bw_bytes_per_s;
    /* The hwprofile loader requires host_link_gb_s > 0 and every model has KV. */
    SV_ASSERT(host_bw > 0 && block_bytes > 0, "swap on pool '%s': host link %g B/s, block %g B",
              pool->name, host_bw, block_bytes);
    int64_t cpu_blocks = sim->options.cpu_kv_blocks;
    if (cpu_blocks <= 0)
        cpu_blocks = (int64_t)(engine->swap_space_gib * 1073741824.0 / block_bytes);
    sv_kv_pool_set_cpu_blocks(&rep->kv, cpu_blocks);
    rep->swap_ns_per_block = block_bytes / host_bw * 1e9;
}

SvSim *sv_sim_new(const SvConfig *config, const SvTrace *trace, const SvSimOptions *options,
                  GError **error)
{
    g_return_val_if_fail(config != NULL && config->pools->len > 0, NULL);
    const SvSchedulerVtable *sched = scheduler_for(config->engine.scheduler);
    if (sched == NULL) {
        g_set_error(error, SV_CONFIG_ERROR, SV_ERROR_INVALID,
                    "%s: scheduler '%s' is not implemented yet", config->path,
                    sv_scheduler_names[config->engine.scheduler]);
        return NULL;
    }
    if (!sv_router_implemented(config->router)) {
        g_set_error(error, SV_CONFIG_ERROR, SV_ERROR_INVALID,
                    "%s: router '%s' is not implemented yet", config->path,
                    sv_router_names[config->router]);
        return NULL;
    }
    g_autoptr(SvSim) sim = g_new0(SvSim, 1);
    sim->config = config;
    if (options)
        sim->options = *options;
    sim->slabs = g_ptr_array_new_with_free_func(g_free);
    sim->predictors = g_ptr_array_new_with_free_func((GDestroyNotify)sv_predictor_free);
    sim->engine = sv_engine_new(config->seed);
    sim->metrics = sv_metrics_new(&config->slo);
    sim->sample_interval_ns = MAX(sv_s_to_ns(config->output.sample_interval_s), 1000);
    sim->mix = sv_tenant_mix_new(config, trace, error);
    if (sim->mix == NULL)
        return NULL;
    int n_classes = 0;
    sim->classes = sv_tenant_mix_classes(sim->mix, &n_classes);
    sv_metrics_set_slo_classes(sim->metrics, sim->classes, n_classes);
    sv_metrics_set_tenants(sim->metrics, sv_tenant_mix_tenant_names(sim->mix),
                           sv_tenant_mix_num_tenants(sim->mix));
    sim->admission = sv__admission_new(&config->admission);
    int streams = sv_tenant_mix_num_streams(sim->mix);
    sim->parked = g_new0(int, streams);
    sim->closed_done = g_new0(gboolean, streams);
    for (int s = 0; s < streams; s++)
        if (sv_tenant_mix_concurrency(sim->mix, s) > 0)
            sim->closed_live++;

    int total = 0;
    for (guint p = 0; p < config->pools->len; p++)
        total += ((SvPoolConfig *)config->pools->pdata[p])->replicas;
    sim->replicas = g_new0(SvReplica *, total);
    int max_model_len = config->engine.max_model_len > 0 ? config->engine.max_model_len
                                                         : config->model->max_position_embeddings;
    for (guint p = 0; p < config->pools->len; p++) {
        const SvPoolConfig *pool = config->pools->pdata[p];
        int64_t blocks = sim->options.kv_blocks;
        if (blocks <= 0 && !sv_sim_kv_blocks(config->model, pool, &config->engine, &blocks, error))
            return NULL;
        SvPlan plan = {pool->tensor_parallel_size,  pool->pipeline_parallel_size,
                       pool->expert_parallel_size,  config->engine.dtype,
                       config->engine.weight_dtype, config->engine.kv_cache_dtype};
        /* Replicas of a pool share one predictor (and so its memo). */
        SvPredictor *predictor = NULL;
        if (sim->options.iter_time_fn == NULL) {
            predictor = sv_predictor_new(config->model, pool->hw, &plan, error);
            if (predictor == NULL)
                return NULL;
            g_ptr_array_add(sim->predictors, predictor);
        }
        for (int i = 0; i < pool->replicas; i++) {
            SvReplica *rep = g_new0(SvReplica, 1);
            sim->replicas[sim->num_replicas] = rep;
            rep->index = sim->num_replicas++;
            rep->pool = pool;
            rep->engine = &config->engine;
            rep->sched = sched;
            rep->max_model_len = max_model_len;
            rep->num_devices = pool->tensor_parallel_size * pool->pipeline_parallel_size;
            sv_kv_pool_init(&rep->kv, blocks, config->engine.block_size);
            if (config->engine.enable_prefix_caching)
                sv_kv_pool_enable_prefix_caching(&rep->kv);
            setup_swap(sim, rep);
            rep->watermark_blocks = (int64_t)(0.01 * (double)blocks);
            rep->predictor = predictor;
            if (sched->init != NULL)
                sched->init(rep);
        }
    }
    sim->router = sv__router_new(config, sim->num_replicas);
    sim->component = sv_engine_add_component(sim->engine, &cluster_vtable, sim);
    return g_steal_pointer(&sim);
}

void sv_sim_free(SvSim *sim)
{
    if (sim == NULL)
        return;
    for (int i = 0; i < sim->num_replicas; i++) {
        if (sim->replicas[i]->sched->free != NULL)
            sim->replicas[i]->sched->free(sim->replicas[i]);
        sv_kv_pool_clear(&sim->replicas[i]->kv);
        g_free(sim->replicas[i]->batch);
        g_free(sim->replicas[i]);
    }
    g_free(sim->replicas);
    if (sim->slabs)
        g_ptr_array_unref(sim->slabs);
    if (sim->predictors)
        g_ptr_array_unref(sim->predictors);
    sv_tenant_mix_free(sim->mix);
    sv__admission_free(sim->admission);
    g_free(sim->parked);
    g_free(sim->closed_done);
    sv_metrics_free(sim->metrics);
    sv__router_free(sim->router);
    sv_engine_free(sim->engine);
    g_free(sim);
}

void sv_sim_run(SvSim *sim)
{
    gint64 t0 = g_get_monotonic_time();
    sv_engine_run(sim->engine, SV_TIME_NEVER);
    gint64 t1 = g_get_monotonic_time();

    SvRunTotals *t = &sim->totals;
    SvEngineStats st;
    sv_engine_stats(sim->engine, &st);
    t->end_ns = sim->last_event_ns;
    t->arrived = sim->arrived;
    t->wall_s = (double)(t1 - t0) * 1e-6;
    t->events = (int64_t)st.processed;
    t->iterations = sim->iterations;
    t->num_replicas = sim->num_replicas;
    double span_ns = (double)(sim->last_event_ns - sim->first_arrival_ns);
    double kv_sum = 0, flops = 0, peak = 0;
    for (int i = 0; i < sim->num_replicas; i++) {
        SvReplica *rep = sim->replicas[i];
        t->preemptions += rep->preemptions;
        t->num_devices += rep->num_devices;
        sv__replica_kv_totals(rep, t);
        /* Utilisation over the served span (first arrival to last event). */
        if (span_ns > 0 && rep->kv.total_blocks > 0)
            kv_sum += rep->kv.used_block_ns / ((double)rep->kv.total_blocks * span_ns);
        flops += rep->flops;
        peak +=
            rep->num_devices * sv_hw_matmul_peak(rep->pool->hw, sim->config->engine.weight_dtype,
                                                 sim->config->engine.dtype);
    }
    t->prefix_caching = sim->config->engine.enable_prefix_caching;
    t->kv_utilization_mean = sim->num_replicas > 0 ? kv_sum / sim->num_replicas : 0;
    t->mfu_mean = span_ns > 0 && peak > 0 ? flops / (peak * span_ns * 1e-9) : 0;
}

void sv_sim_set_observer(SvSim *sim, const SvSimObserver *observer)
{
    sim->observer = observer;
    for (int i = 0; i < sim->num_replicas; i++)
        sim->replicas[i]->observer = observer;
}

void sv_sim_set_progress(SvSim *sim, SvSimProgressFn fn, void *user_data)
{
    sim->progress_fn = fn;
    sim->progress_data = user_data;
}

SvMetrics *sv_sim_metrics(SvSim *sim)
{
    return sim->metrics;
}

const SvRunTotals *sv_sim_totals(const SvSim *sim)
{
    return &sim->totals;
}

void sv_sim_balance(const SvSim *sim, SvSimBalance *out)
{
    memset(out, 0, sizeof(*out));
    for (int i = 0; i < sim->num_replicas; i++) {
        out->blocks_allocated += sim->replicas[i]->kv.allocated_total;
        out->blocks_freed += sim->replicas[i]->kv.freed_total;
    }
    SvEngineStats st;
    sv_engine_stats(sim->engine, &st);
    out->events_scheduled = st.scheduled;
    out->events_processed = st.processed;
    out->events_cancelled = st.cancelled;
    out->events_pending = st.pending;
    out->arrived = sim->arrived;
    out->completed = sim->completed;
    out->rejected = sim->rejected;
    out->in_flight = sim->in_flight;
    out->kv_blocks_per_replica = sim->num_replicas > 0 ? sim->replicas[0]->kv.total_blocks : 0;
}
