/* The cluster simulation: arrivals from the workload are routed to replicas;
 * each replica runs engine iterations (one event per iteration, never per
 * token) formed by its scheduler and timed by the predictor; tokens are
 * emitted at iteration end; metrics record every request. Arrivals come
 * from the tenant mix (workload/tenants.h) and pass admission control
 * (admission.c) before they join a replica's queue. One SvSim owns one
 * SvEngine and everything else of the run. A replica with pipeline stages
 * keeps several batches in flight (two events per batch: stage 0 free,
 * batch done); a prefill replica hands its requests over to decode
 * replicas (disagg.c: one event per KV transfer). */
#include "core/engine.h"
#include "perf/plan.h"
#include "power/power.h"
#include "serve/admission.h"
#include "serve/serve-private.h"
#include "workload/tenants.h"

#include <string.h>

/* EV_RETRY: a closed-loop client whose request was rate limited sends its
 * next one when the token bucket will take it (arg = its stream). */
/* EV_STAGE_FREE: stage 0 of a pipelined replica can take a batch (arg =
 * replica); EV_PP_DONE: its oldest batch leaves the last stage (arg =
 * replica); EV_XFER_DONE: a request's KV has reached its decode replica
 * (data = the request). */
enum {
    EV_ARRIVAL = 1,
    EV_ITER_END = 2,
    EV_SAMPLE = 3,
    EV_RETRY = 4,
    EV_STAGE_FREE = 5,
    EV_PP_DONE = 6,
    EV_XFER_DONE = 7,
};

#define REQ_SLAB 4096

struct SvSim {
    gboolean hold_kicks;    /* admitting the clients of a closed loop at start */
    const SvConfig *config; /* (not owned) */
    SvSimOptions options;
    SvEngine *engine;          /* (owned) */
    uint16_t component;        /* our id in the engine */
    SvTenantMix *mix;          /* (owned) the request streams, one per tenant */
    SvMetrics *metrics;        /* (owned) */
    SvAdmission *admission;    /* (owned) */
    const SvSloClass *classes; /* the mix's class table, [0] = "default" */
    SvRouter *router;          /* (owned) routes arrivals over the entry replicas */
    SvReplica **replicas;      /* (owned) */
    int num_replicas;
    /* Per pool: the engine limits its replicas run under (owned). */
    SvEngineConfig *pool_engines;
    /* Where arrivals go: the mixed and prefill replicas (all of them unless
     * the cluster is disaggregated). (owned array; the replicas are not) */
    SvReplica **entry;
    int num_entry;
    SvDisagg *disagg;       /* (owned) when some pool has role prefill, else NULL */
    GPtrArray *stage_memos; /* (owned) one per pipelined pool */
    GPtrArray *slabs;       /* request slabs (owned) */
    GPtrArray *predictors;  /* one per pool (owned) */
    SvPower *power;         /* (owned) energy, caps and the power budget (power/power.h) */
    SvRequest *free_reqs;   /* free list through ->next */
    SvRequestSpec pending;  /* the next arrival, when has_pending */
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
    SvSimStopFn stop_fn;    /* polled every 1,024 events, or NULL */
    void *stop_data;
    uint32_t stop_tick;   /* events since the last poll */
    gboolean interrupted; /* stop_fn asked to stop: the run ended early */
    char *arrivals_note;  /* why arrivals stopped early, or NULL (owned) */
};

/* ---- requests -------------------------------------------------------- */

static SvRequest *request_new(SvSim *sim)
{
    if (sim->free_reqs == NULL) {
        /* Aligned, so that each request's hot fields take one cache line. */
        SvRequest *slab = g_aligned_alloc0(REQ_SLAB, sizeof(SvRequest), _Alignof(SvRequest));
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
        /* A handed-over request's row names the replica it was routed to. */
        .replica = outcome == SV_REQ_REJECTED ? -1
                   : r->prefill_replica >= 0  ? r->prefill_replica
                                              : r->replica,
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
    if (r->prefill_replica >= 0)
        sv_metrics_set_request_transfer(sim->metrics, r->id,
                                        &(SvRequestTransfer){
                                            .decode_replica = r->xfer_dst,
                                            .block_wait_ns = r->reserved_ns - r->handoff_ns,
                                            .link_wait_ns = r->xfer_start_ns - r->reserved_ns,
                                            .transfer_ns = r->xfer_end_ns - r->xfer_start_ns,
                                        });
    if (r->energy_j != 0)
        sv_metrics_set_request_energy(sim->metrics, r->id, r->energy_j);
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
    if (r->prefill_replica >= 0) {
        ev.handed_over = TRUE;
        ev.home_replica = r->prefill_replica;
        /* The transfer's slice was opened on the prefill replica. */
        ev.prev_replica = r->trace_phase == SV_PHASE_TRANSFER ? r->prefill_replica : r->replica;
    }
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
    if (n == 1 && r->generated > 0 && r->num_computed + 1 == sv_request_known_tokens(r))
        sv_batch_add_decode(&rep->shape, 1, r->num_computed);
    else
        sv_batch_add_prefill(&rep->shape, n, r->num_computed);
    /* Only a request that has emitted nothing can be scheduled for the
     * first time (a test that keeps decodes off the request's cold line). */
    if (G_UNLIKELY(r->generated == 0) && r->first_scheduled_ns < 0)
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
    sv__cohort_admitted(rep, r);
}

void sv__replica_preempt(SvReplica *rep, SvRequest *r, SvTimeNs now_ns)
{
    SV_ASSERT(r->state == SV_RS_RUNNING, "preempt request %" G_GINT64_FORMAT " in state %d", r->id,
              r->state);
    /* The victim rule reads the running list in full: no lazy members. */
    sv__cohort_dissolve(rep);
    if (r->scheduled > 0) {
        for (int i = 0; i < rep->batch_len; i++) {
            if (rep->batch[i] == r) {
                memmove(&rep->batch[i], &rep->batch[i + 1],
                        (size_t)(rep->batch_len - i - 1) * sizeof(SvRequest *));
                rep->batch_len--;
                rep->shape_dirty = TRUE;
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

/* @prof, when not NULL, receives the predictor's breakdown for the power
 * model (zeros under a test time function: no modelled work). */
static SvTimeNs iteration_time(SvSim *sim, SvReplica *rep, const SvBatchShape *shape, double *flops,
                               SvIterProfile *prof)
{
    if (prof != NULL)
        memset(prof, 0, sizeof *prof);
    if (sim->options.iter_time_fn != NULL) {
        *flops = 0;
        return sim->options.iter_time_fn(sim->options.iter_time_ctx, shape);
    }
    if (G_UNLIKELY(rep->predictor == NULL)) { /* a one-stage pool under stage_time_fn */
        *flops = 0;
        return sim->options.stage_time_fn(sim->options.stage_time_ctx, shape, 0);
    }
    if (prof != NULL)
        return sv_predictor_iteration_profile(rep->predictor, shape, prof, flops);
    return sv_predictor_iteration_ns(rep->predictor, shape, flops);
}

/* Give each of the @n requests of @batch its share of @energy_j by its
 * tokens (@tokens in all); a step without tokens stays unattributed.
 * Returns the energy per token (0 when unattributed), which the decode
 * cohort's members receive lazily. */
static double attribute_energy(SvSim *sim, SvRequest **batch, int n, int64_t tokens,
                               double energy_j)
{
    if (tokens <= 0 || energy_j <= 0)
        return 0;
    double per_token = energy_j / (double)tokens;
    for (int i = 0; i < n; i++)
        batch[i]->energy_j += per_token * batch[i]->scheduled;
    sv_power_attributed(sim->power, energy_j);
    return per_token;
}

/* Report an iteration that starts at @now_ns: its requests that were queued
 * or preempted begin their prefill (or, swapped back in, decode again), then
 * the iteration itself. */
static void observe_iteration(SvSim *sim, SvReplica *rep, const SvBatchShape *shape,
                              SvTimeNs now_ns, SvTimeNs dt_ns, SvTimeNs stage_copy_ns,
                              int64_t swap_blocks)
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
        .swap_blocks = swap_blocks,
        .num_stages = 1,
    };
    /* A pipelined batch (pp_kick has just booked its stages): each stage
     * ends when stage_free_ns says and lasts its time plus the copies. */
    if (rep->num_stages > 1) {
        for (int s = 0; s < rep->num_stages; s++)
            rep->stage_start_ns[s] = rep->stage_free_ns[s] - rep->stage_ns[s] - stage_copy_ns;
        ev.num_stages = rep->num_stages;
        ev.stage_start_ns = rep->stage_start_ns;
        ev.stage_end_ns = rep->stage_free_ns;
    }
    obs->iteration(obs->user_data, &ev);
}

static void pp_kick(SvSim *sim, SvReplica *rep);
static gboolean unstick(SvReplica *rep, SvTimeNs now);
static void start_layerwise(SvSim *sim, SvReplica *src, SvRequest **batch, int n, SvTimeNs now,
                            SvTimeNs ready);

/* Start forming a batch on @rep. */
static inline void batch_begin(SvReplica *rep)
{
    rep->batch_len = 0;
    rep->swap_blocks_step = 0;
    memset(&rep->shape, 0, sizeof(rep->shape));
    rep->shape_dirty = FALSE;
}

/* The shape of the batch the scheduler has just formed in rep->batch: as
 * sv__replica_try_schedule built it, or counted afresh after a preemption
 * took a request back out. */
static inline void batch_shape(const SvReplica *rep, SvBatchShape *shape)
{
    if (G_LIKELY(!rep->shape_dirty)) {
        *shape = rep->shape;
        return;
    }
    memset(shape, 0, sizeof(*shape));
    for (int i = 0; i < rep->batch_len; i++) {
        const SvRequest *r = rep->batch[i];
        gboolean decode = r->scheduled == 1 && r->generated > 0 &&
                          r->num_computed + 1 == sv_request_known_tokens(r);
        if (decode)
            sv_batch_add_decode(shape, 1, r->num_computed);
        else
            sv_batch_add_prefill(shape, r->scheduled, r->num_computed);
    }
}

/* Start an iteration on an idle replica if its scheduler finds work. */
static void replica_kick(SvSim *sim, SvReplica *rep)
{
    if (G_UNLIKELY(sim->hold_kicks))
        return;
    if (G_UNLIKELY(rep->num_stages > 1)) {
        pp_kick(sim, rep);
        return;
    }
    if (rep->busy)
        return;
    SvTimeNs now = sv_engine_now(sim->engine);
    batch_begin(rep);
    /* A step that only swapped (its batch came out empty) still spends the
     * copy time. */
    /* The step's requests: rep->batch and the decode cohort's members. */
    int n = rep->sched->schedule(rep, now);
    if (n == 0 && rep->swap_blocks_step == 0) {
        if (G_UNLIKELY(rep->role == SV_ROLE_DECODE && rep->running.len == 0) && unstick(rep, now))
            replica_kick(sim, rep);
        return;
    }
    SvBatchShape shape;
    batch_shape(rep, &shape);
    double flops = 0, energy = 0;
    SvIterProfile prof;
    SvTimeNs dt = n > 0 ? iteration_time(sim, rep, &shape, &flops, &prof) : 0;
    int64_t swapped = rep->swap_blocks_step; /* the charge resets it */
    dt += sv__replica_swap_charge(rep);
    SV_ASSERT(dt > 0, "iteration of %d requests predicted to take %" G_GINT64_FORMAT " ns",
              rep->batch_len, dt);
    /* Power: a cap may slow the iteration; its energy goes to its requests. */
    dt = sv_power_iteration(sim->power, rep->index, now, dt, n > 0 ? &prof : NULL, &energy);
    double token_j = attribute_energy(sim, rep->batch, rep->batch_len,
                                      shape.prefill_tokens + shape.num_decode, energy);
    if (rep->cohort.scheduled > 0)
        sv__cohort_started(rep, token_j);
    rep->busy = TRUE;
    rep->iter_end_ns = now + dt;
    rep->busy_ns += dt;
    rep->flops += flops;
    sim->batch_iters++;
    sim->batch_seqs += n;
    sim->batch_tokens += shape.prefill_tokens + shape.num_decode;
    if (G_UNLIKELY(sim->observer != NULL))
        observe_iteration(sim, rep, &shape, now, dt, 0, swapped);
    sv_engine_schedule(sim->engine, now + dt, sim->component, EV_ITER_END, rep->index, NULL);
    if (G_UNLIKELY(rep->layerwise))
        start_layerwise(sim, rep, rep->batch, rep->batch_len, now, now + dt);
}

static void closed_next(SvSim *sim, int s);
static void wake_parked(SvSim *sim);

static void finish_request(SvSim *sim, SvReplica *rep, SvRequest *r, SvTimeNs now)
{
    if (rep->sched->finished != NULL)
        rep->sched->finished(rep, r);
    sv__cohort_forget(rep, r);
    sv_req_list_remove(&rep->running, r);
    sv__replica_kv_release(rep, r, now);
    record_request(sim, r, SV_REQ_COMPLETED, SV_REJECT_NONE, now);
    if (G_UNLIKELY(sim->observer != NULL))
        observe_request(sim->observer, r, SV_PHASE_FINISHED, SV_REJECT_NONE, now);
    rep->outstanding--;
    sv__router_load_changed(sim->router, rep);
    sim->completed++;
    sim->in_flight--;
    int stream = sv_tenant_mix_stream_of(sim->mix, r->tenant);
    request_release(sim, r);
    if (sv_tenant_mix_concurrency(sim->mix, stream) > 0)
        closed_next(sim, stream);
}

static void hand_over(SvSim *sim, SvReplica *src, SvRequest *r, SvTimeNs now);

/* The batch @batch (@n requests) of @rep has run: advance each request, emit
 * the tokens it sampled, finish or hand over the requests that are done
 * here. Kicks that this causes (a closed-loop client's next request) find
 * the replica still busy, so @batch does not change under the loop. */
static inline void emit_tokens(SvSim *sim, SvReplica *rep, SvRequest **batch, int n, SvTimeNs now)
{
    /* The batch's decodes mostly share one gap (the step's length): runs of
     * equal gaps go to the histogram at once. */
    SvTimeNs run_gap = 0;
    int64_t run_len = 0;
    for (int i = 0; i < n; i++) {
        /* The requests' lines have left the cache since they were
         * scheduled; fetch a few ahead (this loop is memory-bound). */
        if (i + 6 < n)
            __builtin_prefetch(batch[i + 6], 1);
        SvRequest *r = batch[i];
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
            if (gap != run_gap) {
                sv_metrics_add_itl_n(sim->metrics, run_gap, run_len);
                run_gap = gap;
                run_len = 0;
            }
            run_len++;
            if (gap > r->max_itl_ns)
                r->max_itl_ns = gap;
        }
        r->last_token_ns = now;
        r->generated++;
        sim->output_tokens++;
        if (r->generated >= r->output_tokens)
            finish_request(sim, rep, r, now);
        else if (G_UNLIKELY(rep->role == SV_ROLE_PREFILL))
            hand_over(sim, rep, r, now);
        else if (G_UNLIKELY(r->trace_phase == SV_PHASE_PREFILL)) /* only set when observed */
            observe_request(sim->observer, r, SV_PHASE_DECODE, SV_REJECT_NONE, now);
    }
    sv_metrics_add_itl_n(sim->metrics, run_gap, run_len);
}

/* The decode cohort's members have each emitted a token (cohort.c): count
 * them, and finish those whose last token it was and cache the prefix units
 * the others filled, in running order and before the rest of the batch,
 * where the plain first pass puts decodes: the prefix cache sees the plain
 * path's changes in the plain path's order. */
static void emit_cohort(SvSim *sim, SvReplica *rep, SvTimeNs now)
{
    int32_t n = rep->cohort.scheduled;
    SvTimeNs gap = sv__cohort_ended(rep, now);
    sv_metrics_add_itl_n(sim->metrics, gap, n);
    sim->output_tokens += n;
    for (int32_t i = 0; i < rep->cohort.num_ending; i++) {
        SvRequest *r = rep->cohort.ending[i];
        if (sv__cohort_ending_finishes(r)) {
            sv__cohort_leave(rep, r, now);
            finish_request(sim, rep, r, now);
        } else {
            sv__cohort_cache_unit(rep, r, now);
        }
    }
}

static void pump_transfers(SvSim *sim, SvReplica *dst, SvTimeNs now);

static void on_iteration_end(SvSim *sim, SvReplica *rep, SvTimeNs now)
{
    sv_power_iteration_end(sim->power, rep->index, now);
    rep->iterations++;
    sim->iterations++;
    if (rep->cohort.scheduled > 0)
        emit_cohort(sim, rep, now);
    emit_tokens(sim, rep, rep->batch, rep->batch_len, now);
    rep->batch_len = 0;
    if (rep->cohort.enabled)
        sv__cohort_next(rep, now);
    rep->busy = FALSE;
    replica_kick(sim, rep);
    /* After the kick, which may have moved queued requests into the batch. */
    if (G_UNLIKELY(sim->parked_total > 0))
        wake_parked(sim);
    /* Blocks freed here go to the running requests first (the kick), then
     * to hand-overs waiting for them. */
    if (G_UNLIKELY(rep->kv_wait.head != NULL))
        pump_transfers(sim, rep, now);
}

/* ---- pipeline parallelism -------------------------------------------- */

/* Launch a batch into @rep's pipeline if stage 0 is free, fewer than
 * num_stages batches are in flight (vLLM runs pp virtual engines, one batch
 * each) and the scheduler finds work among the requests not in flight. The
 * batch's path through the stages is known at once: stages take batches in
 * order, one at a time, so it enters stage s when it has left stage s - 1
 * and stage s has finished the batch before it. Its tokens are emitted when
 * it leaves the last stage (EV_PP_DONE); stage 0 takes the next batch when
 * it is done with this one (EV_STAGE_FREE). */
static void pp_kick(SvSim *sim, SvReplica *rep)
{
    SvTimeNs now = sv_engine_now(sim->engine);
    int p = rep->num_stages;
    if (rep->inflight_len == p || rep->stage_free_ns[0] > now)
        return;
    batch_begin(rep);
    if (rep->sched->schedule(rep, now) == 0 && rep->swap_blocks_step == 0) {
        if (G_UNLIKELY(rep->role == SV_ROLE_DECODE && rep->running.len == 0) && unstick(rep, now))
            pp_kick(sim, rep);
        return;
    }
    SvBatchShape shape;
    batch_shape(rep, &shape);
    double flops = 0;
    SvIterProfile prof = {0};
    if (rep->batch_len == 0) {
        memset(rep->stage_ns, 0, (size_t)p * sizeof(SvTimeNs));
    } else if (sim->options.stage_time_fn != NULL) {
        for (int s = 0; s < p; s++)
            rep->stage_ns[s] = sim->options.stage_time_fn(sim->options.stage_time_ctx, &shape, s);
    } else {
        SvTimeNs total = iteration_time(sim, rep, &shape, &flops, &prof);
        sv__stage_split(rep->stage_memo, rep->predictor, &shape, total, rep->stage_ns);
    }
    /* Every stage's devices copy their own layers' swapped blocks before
     * they run it. */
    int64_t swapped = rep->swap_blocks_step; /* the charge resets it */
    SvTimeNs copy_ns = sv__replica_swap_charge(rep);
    /* Power: a cap may slow each stage; its energy goes to the requests. */
    double energy = sv_power_pipeline_stages(sim->power, rep->index, rep->stage_ns, copy_ns,
                                             rep->batch_len > 0 ? &prof : NULL);
    SvTimeNs t = now, sum = 0;
    for (int s = 0; s < p; s++) {
        SvTimeNs dt = rep->stage_ns[s] + copy_ns;
        SV_ASSERT(dt >= 0, "stage %d of replica %d predicted to take %" G_GINT64_FORMAT " ns", s,
                  rep->index, dt);
        t = MAX(t, rep->stage_free_ns[s]) + dt;
        rep->stage_free_ns[s] = t;
        sum += dt;
    }
    SV_ASSERT(t > now, "batch of %d requests on replica %d predicted to take no time",
              rep->batch_len, rep->index);
    /* Each stage's devices draw its power while it runs the batch. */
    sv_power_pipeline_launch(sim->power, rep->index, now, rep->stage_free_ns);
    attribute_energy(sim, rep->batch, rep->batch_len, shape.prefill_tokens + shape.num_decode,
                     energy);
    rep->stage_busy_ns += sum;
    rep->busy_ns += t - now;
    rep->flops += flops;
    sim->batch_iters++;
    sim->batch_seqs += rep->batch_len;
    sim->batch_tokens += shape.prefill_tokens + shape.num_decode;
    if (G_UNLIKELY(sim->observer != NULL))
        observe_iteration(sim, rep, &shape, now, t - now, copy_ns, swapped);
    /* Into the ring: swap the arrays, so nothing is copied or allocated. */
    SvPpBatch *b = &rep->inflight[(rep->inflight_head + rep->inflight_len) % p];
    SvRequest **reqs = b->reqs;
    int32_t cap = b->cap;
    b->reqs = rep->batch;
    b->cap = rep->batch_cap;
    b->len = rep->batch_len;
    b->start_ns = now;
    b->end_ns = t;
    rep->batch = reqs;
    rep->batch_cap = cap;
    rep->batch_len = 0;
    for (int i = 0; i < b->len; i++)
        b->reqs[i]->state = SV_RS_INFLIGHT;
    if (rep->inflight_len++ == 0)
        rep->inflight_since_ns = now;
    rep->busy = TRUE;
    rep->iter_end_ns = rep->inflight[rep->inflight_head].end_ns;
    sv_engine_schedule(sim->engine, t, sim->component, EV_PP_DONE, rep->index, NULL);
    sv_engine_schedule(sim->engine, rep->stage_free_ns[0], sim->component, EV_STAGE_FREE,
                       rep->index, NULL);
    if (G_UNLIKELY(rep->layerwise))
        start_layerwise(sim, rep, b->reqs, b->len, now, t);
}

/* The oldest batch of @rep leaves the last stage. */
static void on_pp_done(SvSim *sim, SvReplica *rep, SvTimeNs now)
{
    int p = rep->num_stages;
    SvPpBatch *b = &rep->inflight[rep->inflight_head];
    SV_ASSERT(rep->inflight_len > 0 && b->end_ns == now,
              "replica %d: batch done at %" G_GINT64_FORMAT " ns, expected %" G_GINT64_FORMAT,
              rep->index, now, b->end_ns);
    rep->iterations++;
    sim->iterations++;
    for (int i = 0; i < b->len; i++)
        b->reqs[i]->state = SV_RS_RUNNING;
    /* The batch keeps its slot while its tokens are emitted, so that a kick
     * from inside (a closed-loop client's next request) cannot take it. */
    emit_tokens(sim, rep, b->reqs, b->len, now);
    b->len = 0;
    rep->inflight_head = (rep->inflight_head + 1) % p;
    if (--rep->inflight_len == 0) {
        rep->inflight_ns += now - rep->inflight_since_ns;
        rep->busy = FALSE;
    } else {
        rep->iter_end_ns = rep->inflight[rep->inflight_head].end_ns;
    }
    pp_kick(sim, rep);
    if (G_UNLIKELY(sim->parked_total > 0))
        wake_parked(sim);
    if (G_UNLIKELY(rep->kv_wait.head != NULL))
        pump_transfers(sim, rep, now);
}

/* ---- disaggregated prefill/decode (disagg.c) -------------------------- */

/* Blocks a decode replica keeps for a handed-over request: its prompt and
 * first token, so that its first decode step needs no more. */
static int64_t handover_blocks(const SvReplica *dst, const SvRequest *r)
{
    return sv_kv_blocks_for(&dst->kv, (int64_t)r->input_tokens + 1);
}

/* Whether @dst can reserve @need blocks now, keeping vLLM's watermark free
 * while it runs anything. */
static gboolean can_reserve(const SvReplica *dst, int64_t need)
{
    int64_t keep = dst->running.len > 0 ? dst->watermark_blocks : 0;
    return dst->kv.free_blocks - need >= keep;
}

/* Choose @r's decode replica (its prefill replica and hand-over time set). */
static SvReplica *place(SvSim *sim, SvRequest *r)
{
    int64_t kv_tokens = (int64_t)r->input_tokens + r->output_tokens - 1;
    SvReplica *dst = sv__disagg_pick_decode(sim->disagg, kv_tokens);
    SV_ASSERT(dst != NULL,
              "request %" G_GINT64_FORMAT " (%" G_GINT64_FORMAT " tokens) fits no decode replica",
              r->id, kv_tokens);
    r->xfer_dst = dst->index;
    dst->outstanding++;
    sv__router_load_changed(sim->router, dst);
    return dst;
}

/* @r's decode blocks are reserved: book its transfer. */
static void start_transfer(SvSim *sim, SvRequest *r, SvReplica *dst, SvTimeNs now, SvTimeNs ready)
{
    r->reserved_ns = now;
    const SvReplica *src = sim->replicas[r->prefill_replica];
    int64_t blocks = sv_kv_blocks_for(&src->kv, r->input_tokens);
    r->xfer_end_ns = sv__disagg_book(sim->disagg, src, dst, blocks, now, ready, &r->xfer_start_ns);
    sv_engine_schedule(sim->engine, r->xfer_end_ns, sim->component, EV_XFER_DONE, dst->index, r);
}

/* Reserve blocks for the hand-overs queued on @dst, first come first
 * served, while they fit; each one that gets them starts its transfer. */
static void pump_transfers(SvSim *sim, SvReplica *dst, SvTimeNs now)
{
    SvRequest *r;
    while ((r = dst->kv_wait.head) != NULL) {
        int64_t need = handover_blocks(dst, r);
        if (!can_reserve(dst, need))
            return;
        sv_req_list_remove(&dst->kv_wait, r);
        dst->kv_wait_blocks -= need;
        sv_kv_pool_alloc(&dst->kv, need, now);
        r->xfer_blocks = need;
        start_transfer(sim, r, dst, now, now);
    }
}

/* Progress guarantee of a decode replica: nothing runs and the scheduler
 * took nothing, yet waiting requests hold KV blocks (hand-overs that landed
 * and then found requests preempted meanwhile ahead of them, needing those
 * very blocks). First the holders move to the head of the queue, in their
 * order; if the scheduler still takes nothing (a policy such as orca's that
 * reserves more at admission than is free), they give their blocks up and
 * will be recomputed here, counted as preemptions. Returns TRUE when it
 * changed something worth another pass; FALSE once no waiting request holds
 * blocks, so the caller's retry ends. Never on the hot path. */
static gboolean unstick(SvReplica *rep, SvTimeNs now)
{
    gboolean holders = FALSE, out_of_order = FALSE, free_seen = FALSE;
    for (SvRequest *q = rep->waiting.head; q != NULL; q = q->next) {
        if (q->blocks > 0) {
            holders = TRUE;
            out_of_order |= free_seen;
        } else {
            free_seen = TRUE;
        }
    }
    if (!holders)
        return FALSE;
    if (out_of_order) {
        SvReqList held = {0}, rest = {0};
        for (SvRequest *q = rep->waiting.head, *next; q != NULL; q = next) {
            next = q->next;
            sv_req_list_push_tail(q->blocks > 0 ? &held : &rest, q);
        }
        for (SvRequest *q = rest.head, *next; q != NULL; q = next) {
            next = q->next;
            sv_req_list_push_tail(&held, q);
        }
        rep->waiting = held;
        return TRUE;
    }
    for (SvRequest *q = rep->waiting.head; q != NULL && q->blocks > 0; q = q->next) {
        sv_kv_pool_release(&rep->kv, &q->kv, q->blocks, now);
        q->blocks = 0;
        q->num_computed = 0;
        q->kv_cache_at = sv_kv_seq_cache_at(&q->kv);
        q->preempted_at_ns = now;
        q->kv_flags |= SV_KV_PREEMPTED;
        q->preemptions++;
        rep->preemptions++;
    }
    return TRUE;
}

/* Layer-wise overlap: the batch just launched on prefill replica @src
 * finishes the prompts of some requests at @ready; each whose decode
 * replica can reserve its blocks at once (with no hand-over queued ahead)
 * starts its transfer now. The others hand over when the prompt ends. */
static void start_layerwise(SvSim *sim, SvReplica *src, SvRequest **batch, int n, SvTimeNs now,
                            SvTimeNs ready)
{
    for (int i = 0; i < n; i++) {
        SvRequest *r = batch[i];
        if (r->generated != 0 || r->output_tokens <= 1 ||
            r->num_computed + r->scheduled < r->input_tokens)
            continue;
        r->prefill_replica = src->index;
        r->handoff_ns = now;
        SvReplica *dst = place(sim, r);
        int64_t need = handover_blocks(dst, r);
        if (dst->kv_wait.head != NULL || !can_reserve(dst, need))
            continue;
        sv_kv_pool_alloc(&dst->kv, need, now);
        r->xfer_blocks = need;
        start_transfer(sim, r, dst, now, ready);
    }
}

/* Prefill replica @src has emitted @r's first token: @r leaves it (its KV
 * stays there until copied) and queues for a decode replica's blocks. */
static void hand_over(SvSim *sim, SvReplica *src, SvRequest *r, SvTimeNs now)
{
    sv__cohort_forget(src, r);
    sv_req_list_remove(&src->running, r);
    r->state = SV_RS_TRANSFER;
    src->outstanding--;
    sv__router_load_changed(sim->router, src);
    if (r->prefill_replica < 0) {
        r->prefill_replica = src->index;
        r->handoff_ns = now;
    }
    if (G_UNLIKELY(sim->observer != NULL))
        observe_request(sim->observer, r, SV_PHASE_TRANSFER, SV_REJECT_NONE, now);
    if (r->xfer_blocks > 0)
        return; /* layer-wise: already on its way */
    SvReplica *dst = r->xfer_dst >= 0 ? sim->replicas[r->xfer_dst] : place(sim, r);
    sv_req_list_push_tail(&dst->kv_wait, r);
    dst->kv_wait_blocks += handover_blocks(dst, r);
    pump_transfers(sim, dst, now);
}

/* @r's KV has reached its decode replica: the prefill side frees its copy
 * and @r queues on the decode replica, holding the blocks it received. It
 * queues ahead of every waiting request that holds no blocks (behind the
 * hand-overs already there, first come first served), whatever the
 * scheduler's queue order: a request that holds blocks and waits behind one
 * that needs them could otherwise hold them for ever once nothing runs. */
static void on_transfer_done(SvSim *sim, SvRequest *r, SvTimeNs now)
{
    SV_ASSERT(r->state == SV_RS_TRANSFER && r->xfer_end_ns == now,
              "request %" G_GINT64_FORMAT " transfer ends in state %d", r->id, r->state);
    SvReplica *src = sim->replicas[r->prefill_replica], *dst = sim->replicas[r->xfer_dst];
    sv__replica_kv_release(src, r, now);
    r->blocks = r->xfer_blocks;
    r->kv_cache_at = sv_kv_seq_cache_at(&r->kv);
    r->replica = dst->index;
    r->state = SV_RS_WAITING;
    if (G_UNLIKELY(sim->observer != NULL))
        observe_request(sim->observer, r, SV_PHASE_QUEUED, SV_REJECT_NONE, now);
    SvRequest *after = NULL;
    for (SvRequest *q = dst->waiting.head; q != NULL && q->blocks > 0; q = q->next)
        after = q;
    if (after == NULL) {
        sv_req_list_push_head(&dst->waiting, r);
    } else {
        r->prev = after;
        r->next = after->next;
        if (after->next != NULL)
            after->next->prev = r;
        else
            dst->waiting.tail = r;
        after->next = r;
        dst->waiting.len++;
    }
    replica_kick(sim, dst);
    /* The kick may have preempted (freeing blocks) and launched nothing. */
    if (dst->kv_wait.head != NULL)
        pump_transfers(sim, dst, now);
    replica_kick(sim, src); /* it has blocks back */
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
    return iteration_time(ctx, rep, shape, &flops, NULL);
}

static ArrivalResult admit_arrival(SvSim *sim, const SvRequestSpec *spec, SvTimeNs now,
                                   SvTimeNs *retry_ns)
{
    SvRequest *r = request_new(sim);
    r->id = sim->next_id++;
    r->arrival_ns = now;
    r->first_scheduled_ns = -1;
    r->first_token_ns = -1;
    r->prefill_replica = -1;
    r->xfer_dst = -1;
    r->input_tokens = spec->input_tokens;
    r->output_tokens = spec->output_tokens;
    /* Before routing: prefix-affinity looks the prompt up in each cache. */
    sv_kv_seq_init(&r->kv, &spec->prefix, r->input_tokens, sim->config->engine.block_size,
                   sim->config->engine.enable_prefix_caching);
    if (sim->config->engine.enable_prefix_caching) /* content no source names: its own */
        sv_kv_seq_own_content(&r->kv, &spec->prefix, sim->config->engine.block_size);
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
    /* Arrivals go to mixed and prefill replicas only. */
    int pick = sv__router_pick(sim->router, sim->entry, sim->num_entry, r, now);
    SvReplica *rep = sim->entry[pick];
    r->replica = rep->index;
    int64_t total = (int64_t)r->input_tokens + r->output_tokens;
    if (total > rep->max_model_len) {
        reject(sim, r, SV_REJECT_TOO_LONG, now);
        return ARRIVAL_REJECTED;
    }
    /* The last output token's KV is never written. A prefill replica holds
     * the prompt only; a decode replica must then hold the rest. */
    gboolean split = rep->role == SV_ROLE_PREFILL && r->output_tokens > 1;
    if (sv_kv_blocks_for(&rep->kv, split ? r->input_tokens : total - 1) > rep->kv.total_blocks ||
        (split && !sv__disagg_fits(sim->disagg, total - 1))) {
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
    sv__router_load_changed(sim->router, rep);
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
/* Whether a run has sent as many requests as records can number (2^31 - 1;
 * the config's limits keep open loops below it, but closed loops ended by
 * duration alone are not). Arrivals then stop, with a note. */
static gboolean requests_exhausted(SvSim *sim)
{
    int64_t limit = sim->options.max_requests > 0 ? sim->options.max_requests : INT32_MAX;
    if (sim->next_id < limit)
        return FALSE;
    if (sim->arrivals_note == NULL)
        sim->arrivals_note = g_strdup_printf("arrivals stopped after %" G_GINT64_FORMAT
                                             " requests, the most one run numbers",
                                             limit);
    return TRUE;
}

static void arrival_next(SvSim *sim)
{
    if (sim->open_done)
        return;
    SvRequestSpec spec;
    SvTimeNs now = sv_engine_now(sim->engine);
    if (requests_exhausted(sim) || !sv_tenant_mix_next_open(sim->mix, &spec)) {
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
    int64_t rejected_in_a_row = 0;
    for (;;) {
        SvRequestSpec spec;
        if (sim->closed_done[s])
            return;
        if (requests_exhausted(sim) || !sv_tenant_mix_next_closed(sim->mix, s, now, &spec)) {
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
            /* Simulated time stands still while a client replaces rejected
             * requests: when (nearly) every request is too long, only a
             * count ends the loop. The client's stream stops sending. */
            if (++rejected_in_a_row < SV_SIM_MAX_REJECTED_IN_A_ROW)
                continue;
            if (sim->arrivals_note == NULL)
                sim->arrivals_note = g_strdup_printf(
                    "closed-loop clients stopped sending at t = %.6f s: %" G_GINT64_FORMAT
                    " requests in a row were rejected at that instant for their length (too "
                    "long for max_model_len or the KV cache)",
                    sv_ns_to_s(now), rejected_in_a_row);
            sim->closed_done[s] = TRUE;
            sim->closed_live--;
            update_arrivals_done(sim);
            return;
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
    /* Mean power since the previous row, the cluster's and each pool's. */
    int pools = (int)sim->config->pools->len;
    double *pool_w = g_newa(double, pools);
    s.power_w = sv_power_sample(sim->power, now, pool_w);
    sv_metrics_add_sample(sim->metrics, &s);
    if (pools > 1)
        sv_metrics_add_pool_power(sim->metrics, pool_w);
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
    /* All clients arrive at t = 0: queue them all before any replica forms
     * its first batch, as an engine would find them together at its first
     * step (kicking on each arrival would run the first client alone). */
    sim->hold_kicks = TRUE;
    for (int s = 0; s < streams; s++) {
        int clients = sv_tenant_mix_concurrency(sim->mix, s);
        for (int i = 0; i < clients && !sim->closed_done[s]; i++)
            closed_next(sim, s);
    }
    sim->hold_kicks = FALSE;
    for (int i = 0; i < sim->num_replicas; i++)
        replica_kick(sim, sim->replicas[i]);
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
    if (G_UNLIKELY(sim->stop_fn != NULL) && (++sim->stop_tick & 0x3ff) == 0 &&
        sim->stop_fn(sim->stop_data)) {
        sim->interrupted = TRUE;
        sv_engine_stop(engine); /* after this event */
    }
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
    case EV_STAGE_FREE:
        pp_kick(sim, sim->replicas[ev->arg]);
        sim->last_event_ns = now;
        break;
    case EV_PP_DONE:
        on_pp_done(sim, sim->replicas[ev->arg], now);
        sim->last_event_ns = now;
        break;
    case EV_XFER_DONE:
        on_transfer_done(sim, ev->data, now);
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
    SV_ASSERT(sim->interrupted || sim->in_flight == 0,
              "%" G_GINT64_FORMAT " requests stuck at t=%" G_GINT64_FORMAT " ns", sim->in_flight,
              sim->last_event_ns);
    for (int i = 0; i < sim->num_replicas; i++) {
        SV_ASSERT(sim->interrupted ||
                      (sim->replicas[i]->kv_wait.len == 0 && sim->replicas[i]->inflight_len == 0),
                  "replica %d ends with hand-overs or batches in flight", i);
        sv_kv_pool_advance(&sim->replicas[i]->kv, sim->last_event_ns);
    }
    if (sim->last_sample_ns < sim->last_event_ns)
        take_sample(sim, sim->last_event_ns);
}

static const SvComponentVtable cluster_vtable = {"cluster", cluster_init, cluster_handle,
                                                 cluster_finish};

/* ---- construction ---------------------------------------------------- */

gboolean sv_sim_kv_blocks(const SvModel *model, const SvPoolConfig *pool,
                          const SvEngineConfig *engine, int64_t *blocks_out, GError **error)
{
    /* perf/plan.c sizes memory for the loader's checks too: one formula.
     * A replica's attention ranks (data_parallel_size) each hold a KV
     * cache of blocks_per_rank; the replica's pool has all of them. */
    SvPlan plan;
    SvPlanMemory mem;
    SvConfig cfg = {.engine = *engine};
    sv_pool_plan(&cfg, pool, &plan);
    if (sv_plan_check_fit(model, pool->hw, &plan, engine->gpu_memory_utilization,
                          engine->block_size, 0, &mem, error) != SV_FIT_OK) {
        g_prefix_error(error, "pool '%s': ", pool->name);
        return FALSE;
    }
    *blocks_out = mem.blocks;
    return TRUE;
}

void sv_sim_pool_engine(const SvEngineConfig *engine, const SvPoolConfig *pool, SvEngineConfig *out)
{
    /* vLLM runs each data-parallel rank as its own engine core
     * (vllm/v1/engine/core.py: DPEngineCoreProc is an EngineCoreProc, and
     * each builds its own Scheduler from the one scheduler config; docs
     * serving/data_parallel_deployment.md: "each DP rank is deployed as a
     * separate core engine process"), so max_num_seqs and
     * max_num_batched_tokens bind per rank and a group of dp ranks runs up
     * to dp x max_num_seqs sequences per forward pass. (SGLang's
     * --max-running-requests is the group's total instead; the keys here
     * have vLLM's meaning.) A replica schedules its ranks as one pool of
     * sequences (the predictor times the busiest rank, holding ceil(n / dp)
     * of them), so it gets the group's limits; one request's prefill chunk
     * still takes at most one rank's token budget (SvReplica.chunk_cap_tokens,
     * under the token-budget schedulers with chunked prefill).
     * Simplification: the ranks share one queue where vLLM balances arrivals
     * over per-rank queues. */
    *out = *engine;
    int64_t dp = MAX(pool->data_parallel_size, 1);
    out->max_num_seqs = (int)MIN((int64_t)engine->max_num_seqs * dp, (int64_t)G_MAXINT32);
    out->max_num_batched_tokens =
        (int)MIN((int64_t)engine->max_num_batched_tokens * dp, (int64_t)G_MAXINT32);
}

static const SvSchedulerVtable *scheduler_for(SvSchedulerKind kind)
{
    static const SvSchedulerVtable *const table[SV_SCHED_COUNT] = {
        [SV_SCHED_VLLM_V0] = &sv__sched_vllm_v0, [SV_SCHED_VLLM_V1] = &sv__sched_vllm_v1,
        [SV_SCHED_SARATHI] = &sv__sched_sarathi, [SV_SCHED_ORCA] = &sv__sched_orca,
        [SV_SCHED_STATIC] = &sv__sched_static,   [SV_SCHED_LIGHTLLM] = &sv__sched_lightllm,
        [SV_SCHED_EDF] = &sv__sched_edf,         [SV_SCHED_TRTLLM] = &sv__sched_trtllm,
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
    sim->slabs = g_ptr_array_new_with_free_func(g_aligned_free);
    sim->predictors = g_ptr_array_new_with_free_func((GDestroyNotify)sv_predictor_free);
    sim->stage_memos = g_ptr_array_new_with_free_func((GDestroyNotify)sv__stage_memo_free);
    sim->pool_engines = g_new0(SvEngineConfig, config->pools->len);
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
    sim->power = sv_power_new(config, error);
    if (sim->power == NULL)
        return NULL;
    if (config->pools->len > 1) {
        const char **names = g_newa(const char *, config->pools->len);
        for (guint p = 0; p < config->pools->len; p++)
            names[p] = ((const SvPoolConfig *)config->pools->pdata[p])->name;
        sv_metrics_set_power_pools(sim->metrics, names, (int)config->pools->len);
    }
    int max_model_len = config->engine.max_model_len > 0 ? config->engine.max_model_len
                                                         : config->model->max_position_embeddings;
    /* The decode cohort (cohort.c) serves vllm-v1 and trtllm replicas of
     * one stage (the schedulers whose budget-step hooks never read a
     * running request's token fields) unless something else reads them
     * between steps (TTFT-predicting admission). Prefix caching's unit
     * filling is the cohort's to do: a member whose token fills a unit gets
     * attention at that step. SERVESIM_NO_FASTPATH=1 turns it off: the
     * results must not change (tests/run-fastpath.sh compares the two). */
    gboolean cohort = (config->engine.scheduler == SV_SCHED_VLLM_V1 ||
                       config->engine.scheduler == SV_SCHED_TRTLLM) &&
                      !config->admission.reject_predicted_slo_miss &&
                      g_getenv("SERVESIM_NO_FASTPATH") == NULL;
    for (guint p = 0; p < config->pools->len; p++) {
        const SvPoolConfig *pool = config->pools->pdata[p];
        sv_sim_pool_engine(&config->engine, pool, &sim->pool_engines[p]);
        int64_t blocks = sim->options.kv_blocks;
        if (sim->options.pool_kv_blocks != NULL && (int)p < sim->options.num_pool_kv_blocks &&
            sim->options.pool_kv_blocks[p] > 0)
            blocks = sim->options.pool_kv_blocks[p];
        if (blocks <= 0 && !sv_sim_kv_blocks(config->model, pool, &config->engine, &blocks, error))
            return NULL;
        SvPlan plan;
        sv_pool_plan(config, pool, &plan);
        /* Replicas of a pool share one predictor (and so its memo). */
        SvPredictor *predictor = NULL;
        if (sim->options.iter_time_fn == NULL && sim->options.stage_time_fn == NULL) {
            if (sim->options.pool_predictors != NULL && sim->options.pool_predictors[p] != NULL) {
                predictor = sim->options.pool_predictors[p]; /* the caller's, warm */
            } else {
                predictor = sv_predictor_new(config->model, pool->hw, &plan, error);
                if (predictor == NULL)
                    return NULL;
                g_ptr_array_add(sim->predictors, predictor);
                /* Its memo's misses put together from parts, or timed whole:
                 * the same values (SERVESIM_NO_FASTPATH compares them too). */
                if (g_getenv("SERVESIM_NO_FASTPATH") != NULL)
                    sv_predictor_set_memo_split(predictor, FALSE);
            }
            /* A locked SM clock (power.pools[].sm_clock_mhz). */
            if (sv_power_pool_clock(sim->power, (int)p) < 1.0)
                sv_predictor_set_clock(predictor, sv_power_pool_clock(sim->power, (int)p));
        }
        /* Pipelining needs a time per stage: the predictor's, or the test
         * hook's (a pool timed by iter_time_fn alone runs as one stage). */
        int stages = pool->pipeline_parallel_size;
        if (stages > 1 && predictor == NULL && sim->options.stage_time_fn == NULL)
            stages = 1;
        SvStageMemo *stage_memo = NULL;
        if (stages > 1 && predictor != NULL) {
            stage_memo = sv__stage_memo_new(stages);
            g_ptr_array_add(sim->stage_memos, stage_memo);
        }
        for (int i = 0; i < pool->replicas; i++) {
            SvReplica *rep = g_new0(SvReplica, 1);
            sim->replicas[sim->num_replicas] = rep;
            rep->index = sim->num_replicas++;
            rep->pool = pool;
            rep->engine = &sim->pool_engines[p];
            rep->chunk_cap_tokens = config->engine.max_num_batched_tokens; /* one rank's */
            rep->sched = sched;
            rep->max_model_len = max_model_len;
            rep->num_devices = sv_plan_devices(&plan);
            sv_power_add_replica(sim->power, (int)p, rep->num_devices);
            sv_kv_pool_init(&rep->kv, blocks, config->engine.block_size);
            if (config->engine.enable_prefix_caching)
                sv_kv_pool_enable_prefix_caching(&rep->kv);
            setup_swap(sim, rep);
            rep->watermark_blocks = (int64_t)(0.01 * (double)blocks);
            rep->predictor = predictor;
            rep->role = pool->role;
            rep->layerwise = pool->role == SV_ROLE_PREFILL && config->kv_transfer.layerwise;
            rep->num_stages = stages;
            if (stages > 1) {
                sv_power_replica_stages(sim->power, rep->index, stages);
                rep->stage_free_ns = g_new0(SvTimeNs, stages);
                rep->stage_ns = g_new0(SvTimeNs, stages);
                rep->stage_start_ns = g_new0(SvTimeNs, stages);
                rep->inflight = g_new0(SvPpBatch, stages);
                rep->stage_memo = stage_memo;
            }
            sv__cohort_init(rep, cohort && stages == 1);
            if (sched->init != NULL)
                sched->init(rep);
        }
    }
    /* Arrivals go to the mixed and prefill replicas; prefill replicas hand
     * their requests to the decode ones. */
    gboolean roles[3] = {FALSE, FALSE, FALSE};
    sim->entry = g_new0(SvReplica *, sim->num_replicas);
    for (int i = 0; i < sim->num_replicas; i++) {
        roles[sim->replicas[i]->role] = TRUE;
        if (sim->replicas[i]->role != SV_ROLE_DECODE)
            sim->entry[sim->num_entry++] = sim->replicas[i];
    }
    if (roles[SV_ROLE_PREFILL] != roles[SV_ROLE_DECODE]) {
        g_set_error(error, SV_CONFIG_ERROR, SV_ERROR_INVALID,
                    "%s: a cluster with %s pools needs %s pools too", config->path,
                    roles[SV_ROLE_PREFILL] ? "prefill" : "decode",
                    roles[SV_ROLE_PREFILL] ? "decode" : "prefill");
        return NULL;
    }
    if (roles[SV_ROLE_PREFILL])
        sim->disagg =
            sv__disagg_new(config, sim->replicas, sim->num_replicas, sim->options.kv_block_bytes);
    sim->router = sv__router_new(config, sim->num_entry);
    sim->component = sv_engine_add_component(sim->engine, &cluster_vtable, sim);
    sv_power_attach(sim->power, sim->engine);
    return g_steal_pointer(&sim);
}

void sv_sim_free(SvSim *sim)
{
    if (sim == NULL)
        return;
    g_free(sim->arrivals_note);
    for (int i = 0; i < sim->num_replicas; i++) {
        if (sim->replicas[i]->sched->free != NULL)
            sim->replicas[i]->sched->free(sim->replicas[i]);
        SvReplica *rep = sim->replicas[i];
        sv_kv_pool_clear(&rep->kv);
        sv__cohort_clear(rep);
        g_free(rep->batch);
        for (int s = 0; rep->inflight != NULL && s < rep->num_stages; s++)
            g_free(rep->inflight[s].reqs);
        g_free(rep->inflight);
        g_free(rep->stage_free_ns);
        g_free(rep->stage_ns);
        g_free(rep->stage_start_ns);
        g_free(rep);
    }
    g_free(sim->replicas);
    g_free(sim->entry);
    sv__disagg_free(sim->disagg);
    if (sim->stage_memos)
        g_ptr_array_unref(sim->stage_memos);
    if (sim->slabs)
        g_ptr_array_unref(sim->slabs);
    if (sim->predictors)
        g_ptr_array_unref(sim->predictors);
    g_free(sim->pool_engines);
    sv_tenant_mix_free(sim->mix);
    sv__admission_free(sim->admission);
    sv_power_free(sim->power);
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
    /* Pipelines: stage time lost to bubbles while a batch was in flight. */
    double stage_busy = 0, stage_span = 0, batch_span = 0, inflight = 0;
    for (int i = 0; i < sim->num_replicas; i++) {
        const SvReplica *rep = sim->replicas[i];
        if (rep->num_stages <= 1)
            continue;
        t->pipelined_replicas++;
        stage_busy += (double)rep->stage_busy_ns;
        stage_span += (double)rep->num_stages * (double)rep->inflight_ns;
        batch_span += (double)rep->busy_ns;
        inflight += (double)rep->inflight_ns;
    }
    t->pipeline_bubble_fraction = stage_span > 0 ? 1.0 - stage_busy / stage_span : 0;
    t->pipeline_batches_in_flight = inflight > 0 ? batch_span / inflight : 0;
    sv__disagg_totals(sim->disagg, &t->kv_transfers, &t->kv_transfer_bytes);
    t->prefix_caching = sim->config->engine.enable_prefix_caching;
    t->kv_utilization_mean = sim->num_replicas > 0 ? kv_sum / sim->num_replicas : 0;
    t->mfu_mean = span_ns > 0 && peak > 0 ? flops / (peak * span_ns * 1e-9) : 0;
    /* Energy over [0, last event], idle replicas included; cost, carbon. */
    sv_power_finish(sim->power, sim->last_event_ns, t);
}

void sv_sim_set_observer(SvSim *sim, const SvSimObserver *observer)
{
    sim->observer = observer;
    for (int i = 0; i < sim->num_replicas; i++) {
        sim->replicas[i]->observer = observer;
        /* The timeline follows every request through every step. */
        if (observer != NULL) {
            sv__cohort_dissolve(sim->replicas[i]);
            sim->replicas[i]->cohort.enabled = FALSE;
        }
    }
}

void sv_sim_set_progress(SvSim *sim, SvSimProgressFn fn, void *user_data)
{
    sim->progress_fn = fn;
    sim->progress_data = user_data;
}

void sv_sim_set_stop(SvSim *sim, SvSimStopFn fn, void *user_data)
{
    sim->stop_fn = fn;
    sim->stop_data = user_data;
}

gboolean sv_sim_interrupted(const SvSim *sim)
{
    return sim->interrupted;
}

const GError *sv_sim_input_error(const SvSim *sim)
{
    return sim->mix != NULL ? sv_tenant_mix_error(sim->mix) : NULL;
}

const char *sv_sim_arrivals_note(const SvSim *sim)
{
    return sim->arrivals_note;
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
