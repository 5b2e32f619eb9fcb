/* The cluster simulation: arrivals from the workload are routed to replicas;
 * each replica runs engine iterations (one event per iteration, never per
 * token) formed by its scheduler and timed by the predictor; tokens are
 * emitted at iteration end; metrics record every request. One SvSim owns one
 * SvEngine and everything else of the run. */
#include "core/engine.h"
#include "serve/serve-private.h"

#include <string.h>

enum { EV_ARRIVAL = 1, EV_ITER_END = 2, EV_SAMPLE = 3 };

#define REQ_SLAB 4096

struct SvSim {
    const SvConfig *config; /* (not owned) */
    SvSimOptions options;
    SvEngine *engine;     /* (owned) */
    uint16_t component;   /* our id in the engine */
    SvWorkload *workload; /* (owned) */
    SvMetrics *metrics;   /* (owned) */
    SvRouter *router;     /* (owned) */
    SvReplica **replicas; /* (owned) */
    int num_replicas;
    GPtrArray *slabs;      /* request slabs (owned) */
    GPtrArray *predictors; /* one per pool (owned) */
    SvRequest *free_reqs;  /* free list through ->next */
    SvRequestSpec pending; /* the next arrival, when has_pending */
    gboolean has_pending;
    gboolean arrivals_done; /* the workload is exhausted */
    int concurrency;        /* closed loop: requests kept in flight (0 = open loop) */
    int64_t next_id;
    int64_t arrived, completed, rejected, in_flight;
    int64_t output_tokens; /* emitted, all requests */
    int64_t iterations;
    SvTimeNs first_arrival_ns;
    SvTimeNs last_event_ns;
    SvTimeNs sample_interval_ns;
    SvTimeNs last_sample_ns;
    SvRunTotals totals;
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
    SvRequestRecord rec = {
        .id = r->id,
        .arrival_ns = r->arrival_ns,
        .first_scheduled_ns = r->first_scheduled_ns,
        .first_token_ns = r->first_token_ns,
        .finish_ns = now_ns,
        .max_itl_ns = r->max_itl_ns,
        .input_tokens = r->input_tokens,
        .output_tokens = r->output_tokens,
        .replica = outcome == SV_REQ_REJECTED ? -1 : r->replica,
        .preemptions = r->preemptions,
        .outcome = (uint8_t)outcome,
        .reject_reason = (uint8_t)reason,
    };
    sv_metrics_add_request(sim->metrics, &rec);
}

/* ---- replica mechanics ----------------------------------------------- */

gboolean sv__replica_try_schedule(SvReplica *rep, SvRequest *r, int32_t n, int64_t reserve,
                                  SvTimeNs now_ns)
{
    SV_ASSERT(n > 0 && r->scheduled == 0, "request %" G_GINT64_FORMAT " scheduled twice (n=%d)",
              r->id, n);
    int64_t need = sv_kv_blocks_for(&rep->kv, (int64_t)r->num_computed + n) - r->blocks;
    if (need > 0) {
        if (rep->kv.free_blocks - need < reserve)
            return FALSE;
        sv_kv_pool_alloc(&rep->kv, need, now_ns);
        r->blocks += need;
    }
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
    sv_kv_pool_free(&rep->kv, r->blocks, now_ns);
    r->blocks = 0;
    r->num_computed = 0; /* recompute: the KV of prompt and output is rebuilt */
    r->preemptions++;
    rep->preemptions++;
    rep->preempted_this_step = TRUE;
    sv_req_list_remove(&rep->running, r);
    r->state = SV_RS_WAITING;
    sv_req_list_push_head(&rep->waiting, r);
}

static SvTimeNs iteration_time(SvSim *sim, SvReplica *rep, const SvBatchShape *shape, double *flops)
{
    if (sim->options.iter_time_fn != NULL) {
        *flops = 0;
        return sim->options.iter_time_fn(sim->options.iter_time_ctx, shape);
    }
    return sv_predictor_iteration_ns(rep->predictor, shape, flops);
}

/* Start an iteration on an idle replica if its scheduler finds work. */
static void replica_kick(SvSim *sim, SvReplica *rep)
{
    if (rep->busy)
        return;
    SvTimeNs now = sv_engine_now(sim->engine);
    rep->batch_len = 0;
    if (rep->sched->schedule(rep, now) == 0)
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
    SvTimeNs dt = iteration_time(sim, rep, &shape, &flops);
    SV_ASSERT(dt > 0, "iteration of %d requests predicted to take %" G_GINT64_FORMAT " ns",
              rep->batch_len, dt);
    rep->busy = TRUE;
    rep->busy_ns += dt;
    rep->flops += flops;
    sv_engine_schedule(sim->engine, now + dt, sim->component, EV_ITER_END, rep->index, NULL);
}

static void arrival_next(SvSim *sim);

static void finish_request(SvSim *sim, SvReplica *rep, SvRequest *r, SvTimeNs now)
{
    sv_req_list_remove(&rep->running, r);
    sv_kv_pool_free(&rep->kv, r->blocks, now);
    r->blocks = 0;
    record_request(sim, r, SV_REQ_COMPLETED, SV_REJECT_NONE, now);
    rep->outstanding--;
    sim->completed++;
    sim->in_flight--;
    request_release(sim, r);
    if (sim->concurrency > 0)
        arrival_next(sim);
}

static void on_iteration_end(SvSim *sim, SvReplica *rep, SvTimeNs now)
{
    rep->iterations++;
    sim->iterations++;
    for (int i = 0; i < rep->batch_len; i++) {
        SvRequest *r = rep->batch[i];
        r->num_computed += r->scheduled;
        r->scheduled = 0;
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
    }
    rep->batch_len = 0;
    rep->busy = FALSE;
    replica_kick(sim, rep);
}

/* ---- arrivals -------------------------------------------------------- */

static void reject(SvSim *sim, SvRequest *r, SvRejectReason reason, SvTimeNs now)
{
    record_request(sim, r, SV_REQ_REJECTED, reason, now);
    sim->rejected++;
    request_release(sim, r);
}

static void admit_arrival(SvSim *sim, const SvRequestSpec *spec, SvTimeNs now)
{
    SvRequest *r = request_new(sim);
    r->id = sim->next_id++;
    r->arrival_ns = now;
    r->first_scheduled_ns = -1;
    r->first_token_ns = -1;
    r->input_tokens = spec->input_tokens;
    r->output_tokens = spec->output_tokens;
    if (sim->arrived == 0)
        sim->first_arrival_ns = now;
    sim->arrived++;

    int pick = sv__router_pick(sim->router, sim->replicas, sim->num_replicas);
    SvReplica *rep = sim->replicas[pick];
    r->replica = rep->index;
    int64_t total = (int64_t)r->input_tokens + r->output_tokens;
    if (total > rep->max_model_len) {
        reject(sim, r, SV_REJECT_TOO_LONG, now);
        if (sim->concurrency > 0)
            arrival_next(sim);
        return;
    }
    /* The last output token's KV is never written. */
    if (sv_kv_blocks_for(&rep->kv, total - 1) > rep->kv.total_blocks) {
        reject(sim, r, SV_REJECT_KV_CAPACITY, now);
        if (sim->concurrency > 0)
            arrival_next(sim);
        return;
    }
    r->state = SV_RS_WAITING;
    sv_req_list_push_tail(&rep->waiting, r);
    rep->outstanding++;
    sim->in_flight++;
    replica_kick(sim, rep);
}

/* Draw the next request from the workload: open loop schedules its arrival
 * event; closed loop admits it now (a finished request was just replaced). */
static void arrival_next(SvSim *sim)
{
    if (sim->arrivals_done)
        return;
    SvRequestSpec spec;
    SvTimeNs now = sv_engine_now(sim->engine);
    if (!sv_workload_next_at(sim->workload, now, &spec)) {
        sim->arrivals_done = TRUE;
        return;
    }
    if (sim->concurrency > 0) {
        admit_arrival(sim, &spec, now);
        return;
    }
    sim->pending = spec;
    sim->has_pending = TRUE;
    SV_ASSERT(spec.arrival_ns >= now, "workload went back in time");
    sv_engine_schedule(sim->engine, spec.arrival_ns, sim->component, EV_ARRIVAL, 0, NULL);
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
    sv_metrics_add_sample(sim->metrics, &s);
    sim->last_sample_ns = now;
}

static gboolean work_left(const SvSim *sim)
{
    return !sim->arrivals_done || sim->in_flight > 0;
}

/* ---- component ------------------------------------------------------- */

static void cluster_init(SvEngine *engine, void *self)
{
    SvSim *sim = self;
    if (sim->concurrency > 0) {
        for (int i = 0; i < sim->concurrency && !sim->arrivals_done; i++)
            arrival_next(sim);
    } else {
        arrival_next(sim);
    }
    take_sample(sim, 0);
    if (work_left(sim))
        sv_engine_schedule(engine, sim->sample_interval_ns, sim->component, EV_SAMPLE, 0, NULL);
}

static void cluster_handle(SvEngine *engine, void *self, const SvEvent *ev)
{
    SvSim *sim = self;
    SvTimeNs now = sv_engine_now(engine);
    switch (ev->kind) {
    case EV_ARRIVAL: {
        SV_ASSERT(sim->has_pending, "arrival event without a pending request");
        SvRequestSpec spec = sim->pending;
        sim->has_pending = FALSE;
        admit_arrival(sim, &spec, now);
        arrival_next(sim);
        sim->last_event_ns = now;
        break;
    }
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
    switch (kind) {
    case SV_SCHED_VLLM_V0:
        return &sv__sched_vllm_v0;
    case SV_SCHED_VLLM_V1:
        return &sv__sched_vllm_v1;
    default:
        return NULL;
    }
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
    if (config->router != SV_ROUTER_ROUND_ROBIN && config->router != SV_ROUTER_RANDOM &&
        config->router != SV_ROUTER_LEAST_OUTSTANDING) {
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
    sim->router = sv__router_new(config->router, config->seed);
    sim->sample_interval_ns = MAX(sv_s_to_ns(config->output.sample_interval_s), 1000);
    sim->workload = sv_workload_new(&config->workload, trace, config->seed, error);
    if (sim->workload == NULL)
        return NULL;
    sim->concurrency = sv_workload_concurrency(sim->workload);

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
            rep->watermark_blocks = (int64_t)(0.01 * (double)blocks);
            rep->predictor = predictor;
        }
    }
    sim->component = sv_engine_add_component(sim->engine, &cluster_vtable, sim);
    return g_steal_pointer(&sim);
}

void sv_sim_free(SvSim *sim)
{
    if (sim == NULL)
        return;
    for (int i = 0; i < sim->num_replicas; i++) {
        g_free(sim->replicas[i]->batch);
        g_free(sim->replicas[i]);
    }
    g_free(sim->replicas);
    if (sim->slabs)
        g_ptr_array_unref(sim->slabs);
    if (sim->predictors)
        g_ptr_array_unref(sim->predictors);
    sv_workload_free(sim->workload);
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
        /* Utilisation over the served span (first arrival to last event). */
        if (span_ns > 0 && rep->kv.total_blocks > 0)
            kv_sum += rep->kv.used_block_ns / ((double)rep->kv.total_blocks * span_ns);
        flops += rep->flops;
        peak +=
            rep->num_devices * sv_hw_matmul_peak(rep->pool->hw, sim->config->engine.weight_dtype,
                                                 sim->config->engine.dtype);
    }
    t->kv_utilization_mean = sim->num_replicas > 0 ? kv_sum / sim->num_replicas : 0;
    t->mfu_mean = span_ns > 0 && peak > 0 ? flops / (peak * span_ns * 1e-9) : 0;
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
