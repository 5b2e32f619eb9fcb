/* One plan's evaluation (evaluate.h): config from the study's tree, the
 * loader's feasibility checks, the bound, and in-process simulations. The
 * capacity bisection reuses between its steps everything that does not
 * depend on the rate: the loaded config (model, hardware, plan), the trace,
 * the workload's request sizes, and the bracket, whose upper end is the
 * analytic bound (no rate above it can be sustained) so the first step
 * already halves a range known to hold the answer; only the arrival rate
 * changes, in the loaded config, between simulations. */
#include "search/evaluate.h"

#include <math.h>
#include <pthread.h>
#include <string.h>

#include "metrics/metrics.h"
#include "metrics/quantile.h"
#include "perf/plan.h"
#include "serve/sim.h"
#include "workload/workload.h"

const char *const sv_plan_status_names[] = {"pending", "simulated", "infeasible", "bound",
                                            "dominated"};

const char *const sv_result_field_names[] = {"bound_rate_per_s",
                                             "offered_rate_per_s",
                                             "completed",
                                             "rejected",
                                             "duration_s",
                                             "throughput_rps",
                                             "output_tokens_per_s",
                                             "goodput_rps",
                                             "slo_attainment",
                                             "ttft_p50_s",
                                             "ttft_p90_s",
                                             "ttft_p99_s",
                                             "tpot_p50_s",
                                             "tpot_p90_s",
                                             "tpot_p99_s",
                                             "e2e_p90_s",
                                             "preemptions",
                                             "kv_utilization_mean",
                                             "mfu_mean",
                                             "energy_j",
                                             "cost_usd",
                                             "power_mean_w",
                                             "output_tokens",
                                             "usd_per_million_tokens",
                                             "joules_per_token",
                                             "max_rate_per_s",
                                             "simulations",
                                             "fleet_replicas",
                                             "fleet_devices",
                                             "usd_per_hour",
                                             "kw_tdp",
                                             "headroom",
                                             "objective"};
_Static_assert(G_N_ELEMENTS(sv_result_field_names) == SV_RF_COUNT, "one name per field");

/* Bisection steps at most: 2^-24 of the bound is far below any tolerance. */
#define MAX_BISECT_STEPS 24
/* Fleet sizing: replicas added past the estimate before giving up. */
#define MAX_FLEET_RETRIES 4
/* Requests of one fleet check, at most. */
#define MAX_FLEET_REQUESTS 2000000

struct SvEvalContext {
    const SvSearchSpace *space;
    char *trace_path;     /* the study's resolved trace, or NULL */
    SvTrace *trace;       /* loaded once, read-only after (owned) */
    pthread_mutex_t lock; /* guards hw (a pthread mutex: visible to ThreadSanitizer) */
    GHashTable *hw;       /* resolved path -> SvHw* (owned), loaded on first use */
    SvSimStopFn stop_fn;  /* polled by every simulation, or NULL */
    void *stop_data;
};

void sv_plan_result_free(SvPlanResult *result)
{
    if (result == NULL)
        return;
    g_free(result->why);
    g_free(result);
}

static SvPlanResult *result_new(int id)
{
    SvPlanResult *r = g_new0(SvPlanResult, 1);
    r->id = id;
    r->v[SV_RF_BOUND_RATE] = INFINITY;
    r->v[SV_RF_OFFERED_RATE] = INFINITY;
    r->why = g_strdup("");
    return r;
}

static SvHw *cached_hw(void *user_data, const char *path, GError **error)
{
    SvEvalContext *ctx = user_data;
    pthread_mutex_lock(&ctx->lock);
    SvHw *hw = g_hash_table_lookup(ctx->hw, path);
    if (hw == NULL) {
        hw = sv_hw_load(path, error);
        if (hw != NULL)
            g_hash_table_insert(ctx->hw, g_strdup(path), hw);
    }
    /* A copy shares the calibration tables (atomically reference counted). */
    SvHw *copy = hw != NULL ? sv_hw_copy(hw) : NULL;
    pthread_mutex_unlock(&ctx->lock);
    return copy;
}

static SvConfig *load_plan(SvEvalContext *ctx, int id, double rate, int replicas, int64_t n,
                           GError **error)
{
    g_autoptr(SvYDoc) doc = sv_search_plan_doc(ctx->space, id, rate, replicas, n, error);
    if (doc == NULL)
        return NULL;
    SvConfigHooks hooks = {cached_hw, ctx};
    return sv_config_load_doc(doc, ctx->space->config_path, &hooks, error);
}

SvEvalContext *sv_eval_context_new(const SvSearchSpace *space, GError **error)
{
    /* The error domains are created on first use (G_DEFINE_QUARK caches
     * each in a static): create them here, before any worker thread, so
     * that the threads only ever read those statics. */
    (void)sv_config_error_quark();
    (void)sv_model_error_quark();
    (void)sv_hw_error_quark();
    (void)sv_trace_error_quark();
    (void)sv_plan_error_quark();
    g_autoptr(SvEvalContext) ctx = g_new0(SvEvalContext, 1);
    ctx->space = space;
    pthread_mutex_init(&ctx->lock, NULL);
    ctx->hw = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)sv_hw_free);
    /* The trace: from the first plans that load (the study itself may be
     * a plan that does not fit). */
    for (guint id = 0; id < space->plans->len && id < 256; id++) {
        g_autoptr(GError) inner = NULL;
        g_autoptr(SvConfig) config = load_plan(ctx, (int)id, 0, 0, 0, &inner);
        if (config == NULL)
            continue;
        if (config->workload.trace_path != NULL) {
            ctx->trace_path = g_strdup(config->workload.trace_path);
            ctx->trace = sv_trace_load(ctx->trace_path, error);
            if (ctx->trace == NULL)
                return NULL;
        }
        break;
    }
    return g_steal_pointer(&ctx);
}

void sv_eval_context_free(SvEvalContext *ctx)
{
    if (ctx == NULL)
        return;
    g_free(ctx->trace_path);
    sv_trace_free(ctx->trace);
    g_hash_table_unref(ctx->hw);
    pthread_mutex_destroy(&ctx->lock);
    g_free(ctx);
}

void sv_eval_context_set_stop(SvEvalContext *ctx, SvSimStopFn fn, void *user_data)
{
    g_return_if_fail(ctx != NULL);
    ctx->stop_fn = fn;
    ctx->stop_data = user_data;
}

gboolean sv_eval_context_stopped(const SvEvalContext *ctx)
{
    return ctx != NULL && ctx->stop_fn != NULL && ctx->stop_fn(ctx->stop_data);
}

/* "FILE:L:C: message" -> "message": plans.csv says what, not where (every
 * plan shares the study's marks). */
static char *strip_location(const char *message, const char *path)
{
    const char *m = message;
    if (g_str_has_prefix(m, path) || g_str_has_prefix(m, "--set ")) {
        const char *sep = strstr(m, ": ");
        if (sep != NULL)
            m = sep + 2;
    }
    return g_strdup(m);
}

/* The trace for @config: the shared one, or (a sweep changed it) its own. */
static gboolean plan_trace(SvEvalContext *ctx, const SvConfig *config, SvTrace **own,
                           const SvTrace **out, GError **error)
{
    *own = NULL;
    *out = NULL;
    if (config->workload.trace_path == NULL)
        return TRUE;
    if (ctx->trace != NULL && g_strcmp0(config->workload.trace_path, ctx->trace_path) == 0) {
        *out = ctx->trace;
        return TRUE;
    }
    *own = sv_trace_load(config->workload.trace_path, error);
    *out = *own;
    return *own != NULL;
}

static int config_devices(const SvConfig *config)
{
    int n = 0;
    for (guint i = 0; i < config->pools->len; i++) {
        const SvPoolConfig *p = g_ptr_array_index(config->pools, i);
        /* tp x pp x dp devices a replica (perf/predictor.h). */
        n += p->replicas * p->tensor_parallel_size * p->pipeline_parallel_size *
             MAX(p->data_parallel_size, 1);
    }
    return n;
}

static double config_kw_tdp(const SvConfig *config)
{
    double w = 0;
    for (guint i = 0; i < config->pools->len; i++) {
        const SvPoolConfig *p = g_ptr_array_index(config->pools, i);
        w += (double)p->replicas * p->tensor_parallel_size * p->pipeline_parallel_size *
             MAX(p->data_parallel_size, 1) * p->hw->max_power_w;
    }
    return w / 1000.0;
}

SvPlanResult *sv_plan_check(SvEvalContext *ctx, int id, GError **error)
{
    g_autoptr(SvPlanResult) r = result_new(id);
    GError *inner = NULL;
    g_autoptr(SvConfig) config = load_plan(ctx, id, 0, 0, 0, &inner);
    if (config == NULL) {
        /* What the engine does not model is refused for the whole search,
         * not hidden as thousands of infeasible plans. */
        if (strstr(inner->message, "not implemented yet") != NULL || !sv_error_is_input(inner)) {
            g_propagate_error(error, inner);
            return NULL;
        }
        r->status = SV_PLAN_INFEASIBLE;
        g_free(r->why);
        r->why = strip_location(inner->message, ctx->space->config_path);
        g_error_free(inner);
        return g_steal_pointer(&r);
    }
    r->v[SV_RF_KW_TDP] = config_kw_tdp(config);
    r->v[SV_RF_FLEET_DEVICES] = config_devices(config);
    g_autoptr(SvTrace) own = NULL;
    const SvTrace *trace = NULL;
    if (!plan_trace(ctx, config, &own, &trace, error))
        return NULL;
    SvWorkloadWork work;
    if (!sv_workload_work(config, trace, &work, error)) {
        sv_workload_work_clear(&work);
        return NULL;
    }
    SvPlanBound bound;
    gboolean ok = sv_plan_bound(config, &work, &bound, &inner);
    if (work.open_loop && work.requests->len > 1 && work.last_arrival_s > work.first_arrival_s)
        r->v[SV_RF_OFFERED_RATE] =
            (double)work.requests->len / (work.last_arrival_s - work.first_arrival_s);
    sv_workload_work_clear(&work);
    if (!ok) {
        r->status = SV_PLAN_INFEASIBLE;
        g_free(r->why);
        r->why = strip_location(inner->message, ctx->space->config_path);
        g_error_free(inner);
        return g_steal_pointer(&r);
    }
    r->v[SV_RF_BOUND_RATE] = bound.run_min_s > 0 ? bound.rate_per_s : INFINITY;
    r->status = SV_PLAN_PENDING;
    return g_steal_pointer(&r);
}

/* ---- simulation ---- */

typedef struct {
    SvSummary sum;
    SvRunTotals totals;
    double slo_pct[3];        /* TTFT, TPOT, E2E at the SLO percentile, s */
    int64_t rejected_by_plan; /* rejections other than "longer than max_model_len" */
    double output_tokens;
} RunOut;

/* sv_quantiles_finish's callback: group g's SLO percentile into slo_pct[g]. */
static void store_slo_pct(void *user_data, uint64_t group, int64_t n, const SvDist *dist,
                          double slo_pct)
{
    ((double *)user_data)[group] = slo_pct;
}

/* @warm: predictors to reuse, one per pool, or NULL. */
static void run_sim(const SvEvalContext *ctx, const SvConfig *config, const SvTrace *trace,
                    SvPredictor *const *warm, RunOut *out)
{
    memset(out, 0, sizeof *out);
    GError *error = NULL;
    SvSimOptions options = {.pool_predictors = warm};
    g_autoptr(SvSim) sim = sv_sim_new(config, trace, &options, &error);
    SV_ASSERT(sim != NULL, "plan config loaded but the simulation refused it: %s",
              error != NULL ? error->message : "?");
    /* Cut short on Ctrl-C; sv_task_run then drops the result. */
    if (ctx->stop_fn != NULL)
        sv_sim_set_stop(sim, ctx->stop_fn, ctx->stop_data);
    sv_sim_run(sim);
    SvMetrics *metrics = sv_sim_metrics(sim);
    out->totals = *sv_sim_totals(sim);
    sv_metrics_summarize(metrics, &out->totals, &out->sum);
    /* A request longer than max_model_len is rejected by every plan: it
     * says nothing about this one. */
    out->rejected_by_plan =
        out->sum.rejected - sv_metrics_count_rejected(metrics, SV_REJECT_TOO_LONG);
    /* The SLO's own percentile of each target, for the reason a plan
     * misses it, and the output tokens of completed requests. */
    /* Exact, in bounded memory (a fleet check runs up to 2 M requests on
     * every thread): sv_percentile_sorted of the sorted values, without
     * holding them all. Groups: TTFT, TPOT, E2E. */
    g_autoptr(SvQuantiles) t = sv_quantiles_new(3, SV_QUANTILE_MEM_DEFAULT, NULL);
    size_t n = sv_metrics_num_requests(metrics);
    for (size_t i = 0; i < n; i++) {
        const SvRequestRecord *rec = sv_metrics_request(metrics, i);
        if (rec->outcome != SV_REQ_COMPLETED)
            continue;
        out->output_tokens += rec->output_tokens;
        double ttft = sv_ns_to_s(rec->first_token_ns - rec->arrival_ns);
        double e2e = sv_ns_to_s(rec->finish_ns - rec->arrival_ns);
        sv_quantiles_add(t, 0, ttft);
        if (rec->output_tokens > 1) {
            double tpot =
                sv_ns_to_s(rec->finish_ns - rec->first_token_ns) / (double)(rec->output_tokens - 1);
            sv_quantiles_add(t, 1, tpot);
        }
        sv_quantiles_add(t, 2, e2e);
    }
    memset(out->slo_pct, 0, sizeof out->slo_pct); /* 0 for a metric without values */
    sv_quantiles_finish(t, config->slo.percentile, store_slo_pct, out->slo_pct);
}

/* Does the run meet the SLO at the target, and if not, why. */
static gboolean judge(const SvConfig *config, const RunOut *run, double bound, double rate,
                      GString *why)
{
    const SvSloConfig *slo = &config->slo;
    g_string_truncate(why, 0);
    if (run->rejected_by_plan > 0)
        g_string_append_printf(why, "%" G_GINT64_FORMAT " requests rejected; ",
                               run->rejected_by_plan);
    if (!run->sum.slo_met) {
        const double targets[3] = {slo->ttft_s, slo->tpot_s, slo->e2e_s};
        const char *names[3] = {"ttft", "tpot", "e2e"};
        gboolean said = FALSE;
        for (int i = 0; i < 3; i++) {
            if (targets[i] > 0 && run->slo_pct[i] > targets[i]) {
                g_string_append_printf(why, "%s p%g %.4g s > %g s; ", names[i], slo->percentile,
                                       run->slo_pct[i], targets[i]);
                said = TRUE;
            }
        }
        if (!said)
            g_string_append_printf(why, "SLO missed (attainment %.1f %%); ",
                                   100 * run->sum.slo_attainment);
    }
    /* A finite run can pass its percentiles while its queue grows: a plan
     * whose bound is below the load cannot carry it, whatever the run says. */
    if (rate > 0 && isfinite(bound) && bound < rate)
        g_string_append_printf(why, "bound %.4g req/s below the load %.4g req/s; ", bound, rate);
    if (why->len >= 2)
        g_string_truncate(why, why->len - 2);
    return why->len == 0;
}

static void fill_metrics(SvPlanResult *r, const RunOut *run, int devices)
{
    const SvSummary *s = &run->sum;
    const SvRunTotals *t = &run->totals;
    r->v[SV_RF_COMPLETED] = (double)s->completed;
    r->v[SV_RF_REJECTED] = (double)s->rejected;
    r->v[SV_RF_DURATION_S] = s->duration_s;
    r->v[SV_RF_THROUGHPUT] = s->requests_per_s;
    r->v[SV_RF_OUTPUT_TPS] = s->output_tokens_per_s;
    r->v[SV_RF_GOODPUT] = s->goodput_requests_per_s;
    r->v[SV_RF_ATTAINMENT] = s->slo_attainment;
    r->v[SV_RF_TTFT_P50] = s->ttft_s.p50;
    r->v[SV_RF_TTFT_P90] = s->ttft_s.p90;
    r->v[SV_RF_TTFT_P99] = s->ttft_s.p99;
    r->v[SV_RF_TPOT_P50] = s->tpot_s.p50;
    r->v[SV_RF_TPOT_P90] = s->tpot_s.p90;
    r->v[SV_RF_TPOT_P99] = s->tpot_s.p99;
    r->v[SV_RF_E2E_P90] = s->e2e_s.p90;
    r->v[SV_RF_PREEMPTIONS] = (double)t->preemptions;
    r->v[SV_RF_KV_UTIL] = t->kv_utilization_mean;
    r->v[SV_RF_MFU] = t->mfu_mean;
    r->v[SV_RF_ENERGY_J] = t->energy_j;
    r->v[SV_RF_COST_USD] = t->cost_usd;
    r->v[SV_RF_POWER_W] = t->power_mean_w;
    r->v[SV_RF_OUTPUT_TOKENS] = run->output_tokens;
    r->v[SV_RF_USD_PER_MTOK] =
        run->output_tokens > 0 ? t->cost_usd / (run->output_tokens / 1e6) : 0;
    r->v[SV_RF_J_PER_TOKEN] = run->output_tokens > 0 ? t->energy_j / run->output_tokens : 0;
    r->v[SV_RF_USD_PER_HOUR] = s->duration_s > 0 ? t->cost_usd / (s->duration_s / 3600.0) : 0;
    r->v[SV_RF_FLEET_DEVICES] = devices;
}

static void set_objective(SvPlanResult *r, SvObjective objective, int devices)
{
    double v = 0;
    switch (objective) {
    case SV_OBJ_GOODPUT_PER_DEVICE:
        v = devices > 0 ? r->v[SV_RF_GOODPUT] / devices : 0;
        break;
    case SV_OBJ_USD_PER_MTOK:
        v = r->v[SV_RF_USD_PER_MTOK];
        break;
    case SV_OBJ_JOULES_PER_TOKEN:
        v = r->v[SV_RF_J_PER_TOKEN];
        break;
    case SV_OBJ_MAX_RATE:
    case SV_OBJ_COUNT:
        v = r->v[SV_RF_MAX_RATE];
        break;
    }
    r->v[SV_RF_OBJECTIVE] = v;
}

/* The highest arrival rate at which @config meets its SLO, to the space's
 * tolerance: bisection in [0, bound]. @best receives the run at that rate
 * (zeros when no rate passed). Returns the rate (0: none). */
static double bisect_rate(SvEvalContext *ctx, SvConfig *config, const SvTrace *trace,
                          SvPredictor *const *warm, double bound, double target, int *sims,
                          RunOut *best)
{
    const SvSearchSpace *space = ctx->space;
    double lo = 0, hi = bound;
    memset(best, 0, sizeof *best);
    if (!isfinite(hi) || hi <= 0) {
        /* No bound (it needs an open-loop workload, which capacity
         * has): grow from the target until a rate fails. */
        hi = MAX(target, 1e-3);
        for (int i = 0; i < MAX_BISECT_STEPS; i++) {
            config->workload.rate_per_s = hi;
            RunOut run;
            run_sim(ctx, config, trace, warm, &run);
            (*sims)++;
            g_autoptr(GString) why = g_string_new(NULL);
            if (!judge(config, &run, INFINITY, hi, why))
                break;
            lo = hi;
            *best = run;
            hi *= 2;
        }
    }
    for (int step = 0; step < MAX_BISECT_STEPS && (hi - lo) > space->rate_tolerance * hi; step++) {
        double mid = 0.5 * (lo + hi);
        config->workload.rate_per_s = mid;
        RunOut run;
        run_sim(ctx, config, trace, warm, &run);
        (*sims)++;
        g_autoptr(GString) why = g_string_new(NULL);
        if (judge(config, &run, bound, mid, why)) {
            lo = mid;
            *best = run;
        } else {
            hi = mid;
        }
    }
    return lo;
}

SvPlanResult *sv_plan_evaluate(SvEvalContext *ctx, int id, GError **error)
{
    const SvSearchSpace *space = ctx->space;
    g_autoptr(SvPlanResult) r = sv_plan_check(ctx, id, error);
    if (r == NULL || r->status != SV_PLAN_PENDING)
        return g_steal_pointer(&r);
    g_autoptr(SvConfig) config = load_plan(ctx, id, 0, 0, 0, error);
    if (config == NULL)
        return NULL;
    g_autoptr(SvTrace) own = NULL;
    const SvTrace *trace = NULL;
    if (!plan_trace(ctx, config, &own, &trace, error))
        return NULL;
    r->status = SV_PLAN_SIMULATED;
    int devices = config_devices(config);
    double bound = r->v[SV_RF_BOUND_RATE];
    double target = space->target_rate_per_s;
    g_autoptr(GString) why = g_string_new(NULL);
    int sims = 0;

    if (space->mode == SV_SEARCH_PLAN && space->objective != SV_OBJ_MAX_RATE) {
        RunOut run;
        run_sim(ctx, config, trace, NULL, &run);
        sims = 1;
        r->meets = judge(config, &run, bound, space->open_loop ? target : 0, why);
        fill_metrics(r, &run, devices);
        r->v[SV_RF_SIMULATIONS] = sims;
        set_objective(r, space->objective, devices);
        g_free(r->why);
        r->why = g_strdup(why->str);
        return g_steal_pointer(&r);
    }

    /* Bisection over the arrival rate, then the fleet: one predictor per
     * pool for all of this plan's simulations, its memo warm from the
     * first step on (results do not depend on it). */
    g_autoptr(GPtrArray) predictors =
        g_ptr_array_new_with_free_func((GDestroyNotify)sv_predictor_free);
    for (guint i = 0; i < config->pools->len; i++) {
        const SvPoolConfig *pool = g_ptr_array_index(config->pools, i);
        SvPlan plan;
        sv_pool_plan(config, pool, &plan);
        SvPredictor *p = sv_predictor_new(config->model, pool->hw, &plan, error);
        if (p == NULL)
            return NULL;
        g_ptr_array_add(predictors, p);
    }
    SvPredictor *const *warm = (SvPredictor *const *)predictors->pdata;
    RunOut best;
    double max_rate = bisect_rate(ctx, config, trace, warm, bound, target, &sims, &best);
    r->v[SV_RF_MAX_RATE] = max_rate;
    if (space->mode == SV_SEARCH_PLAN) {
        fill_metrics(r, &best, devices);
        r->meets = max_rate > 0;
        g_free(r->why);
        r->why = g_strdup(r->meets ? "" : "meets the SLO at no rate tried");
        r->v[SV_RF_SIMULATIONS] = sims;
        set_objective(r, space->objective, devices);
        return g_steal_pointer(&r);
    }

    /* Capacity: the fleet of this replica that carries the target. */
    r->v[SV_RF_SIMULATIONS] = sims;
    if (max_rate <= 0) {
        r->meets = FALSE;
        g_free(r->why);
        r->why = g_strdup_printf("one replica meets the SLO at no rate tried (down to %.3g "
                                 "req/s)",
                                 bound * space->rate_tolerance);
        fill_metrics(r, &best, devices);
        r->v[SV_RF_FLEET_DEVICES] = 0;
        r->v[SV_RF_OBJECTIVE] = 0;
        return g_steal_pointer(&r);
    }
    SvPoolConfig *pool = g_ptr_array_index(config->pools, 0);
    int per_replica = pool->tensor_parallel_size * pool->pipeline_parallel_size *
                      MAX(pool->data_parallel_size, 1);
    int64_t n1 = config->workload.num_requests;
    int replicas = MAX(1, (int)ceil(target * (1.0 + space->headroom) / max_rate - 1e-9));
    RunOut run;
    memset(&run, 0, sizeof run);
    gboolean met = FALSE;
    for (int tries = 0; tries <= MAX_FLEET_RETRIES; tries++, replicas++) {
        if (space->max_devices > 0 && replicas * per_replica > space->max_devices) {
            g_string_printf(why, "the fleet needs more than max_devices %d devices",
                            space->max_devices);
            break;
        }
        pool->replicas = replicas;
        config->workload.rate_per_s = target;
        if (n1 > 0)
            config->workload.num_requests = MIN(n1 * replicas, MAX_FLEET_REQUESTS);
        run_sim(ctx, config, trace, warm, &run);
        sims++;
        double fleet_bound = bound * replicas; /* devices scale the bound linearly */
        met = judge(config, &run, fleet_bound, target, why);
        if (met)
            break;
    }
    r->meets = met;
    fill_metrics(r, &run, replicas * per_replica);
    r->v[SV_RF_SIMULATIONS] = sims;
    r->v[SV_RF_FLEET_REPLICAS] = met ? replicas : 0;
    r->v[SV_RF_FLEET_DEVICES] = met ? replicas * per_replica : 0;
    r->v[SV_RF_KW_TDP] = met ? config_kw_tdp(config) : 0;
    r->v[SV_RF_HEADROOM] = met ? replicas * max_rate / target - 1.0 : 0;
    /* Capacity ranks fleets by cost: dollars per hour when the cost model
     * reports them, else devices. */
    r->v[SV_RF_OBJECTIVE] = !met                           ? 0
                            : r->v[SV_RF_USD_PER_HOUR] > 0 ? r->v[SV_RF_USD_PER_HOUR]
                                                           : r->v[SV_RF_FLEET_DEVICES];
    g_free(r->why);
    r->why = g_strdup(met ? "" : why->str);
    return g_steal_pointer(&r);
}

char *sv_plan_yaml(SvEvalContext *ctx, const SvPlanResult *result, GError **error)
{
    const SvSearchSpace *space = ctx->space;
    double rate = 0;
    int replicas = 0;
    int64_t n = 0;
    if (space->mode == SV_SEARCH_CAPACITY) {
        rate = space->target_rate_per_s;
        replicas = (int)result->v[SV_RF_FLEET_REPLICAS];
        /* The fleet check ran with the per-replica request count times
         * the replicas: best.yaml repeats that run. */
        g_autoptr(SvConfig) one = load_plan(ctx, result->id, 0, 0, 0, error);
        if (one == NULL)
            return NULL;
        if (one->workload.num_requests > 0)
            n = MIN(one->workload.num_requests * MAX(replicas, 1), MAX_FLEET_REQUESTS);
    } else if (space->objective == SV_OBJ_MAX_RATE) {
        rate = result->v[SV_RF_MAX_RATE];
    }
    g_autoptr(SvYDoc) doc = sv_search_plan_doc(space, result->id, rate, replicas, n, error);
    if (doc == NULL)
        return NULL;
    /* best.yaml lives elsewhere than the study: a path the study gives
     * relative to its own folder becomes absolute. */
    g_autofree char *dir = g_path_get_dirname(space->config_path);
    const char *keys[] = {"model", "workload.trace"};
    for (size_t i = 0; i < G_N_ELEMENTS(keys); i++) {
        g_auto(GStrv) parts = g_strsplit(keys[i], ".", -1);
        const SvYNode *node = doc->root;
        for (char **p = parts; *p != NULL && node != NULL; p++)
            node = sv_ynode_get(node, *p);
        if (node == NULL || node->kind != SV_YNODE_SCALAR || node->is_null ||
            g_path_is_absolute(node->value))
            continue;
        g_autofree char *rel = g_build_filename(dir, node->value, NULL);
        if (!g_file_test(rel, G_FILE_TEST_EXISTS))
            continue;
        g_autofree char *abs = g_canonicalize_filename(rel, NULL);
        g_autofree char *set = g_strdup_printf("%s=\"%s\"", keys[i], abs);
        if (!sv_ydoc_set(doc, set, error))
            return NULL;
    }
    static const char *const skip[] = {"search", NULL};
    return sv_ydoc_emit(doc, skip);
}

/* ---- text form ---- */

static uint32_t fnv1a(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 16777619u;
    }
    return h;
}

static void append_escaped(GString *out, const char *s)
{
    for (const char *p = s; *p; p++) {
        if (*p == '%' || *p == ',' || *p == '\n' || *p == '\r' || *p == '"')
            g_string_append_printf(out, "%%%02X", (unsigned char)*p);
        else
            g_string_append_c(out, *p);
    }
}

static char *unescape(const char *s)
{
    GString *out = g_string_new(NULL);
    for (const char *p = s; *p; p++) {
        if (*p == '%' && g_ascii_isxdigit(p[1]) && g_ascii_isxdigit(p[2])) {
            g_string_append_c(out,
                              (char)(g_ascii_xdigit_value(p[1]) * 16 + g_ascii_xdigit_value(p[2])));
            p += 2;
        } else {
            g_string_append_c(out, *p);
        }
    }
    return g_string_free(out, FALSE);
}

char *sv_plan_result_to_line(const SvPlanResult *r)
{
    GString *s = g_string_new(NULL);
    g_string_append_printf(s, "%d,%s,%d", r->id, sv_plan_status_names[r->status], r->meets ? 1 : 0);
    for (int i = 0; i < SV_RF_COUNT; i++) {
        char buf[G_ASCII_DTOSTR_BUF_SIZE];
        if (isinf(r->v[i]))
            g_string_append(s, r->v[i] > 0 ? ",inf" : ",-inf");
        else
            g_string_append_printf(s, ",%s", g_ascii_formatd(buf, sizeof buf, "%.17g", r->v[i]));
    }
    g_string_append_c(s, ',');
    append_escaped(s, r->why != NULL ? r->why : "");
    g_string_append_printf(s, ",%08x", fnv1a(s->str, s->len));
    return g_string_free(s, FALSE);
}

SvPlanResult *sv_plan_result_from_line(const char *line)
{
    const char *last = strrchr(line, ',');
    if (last == NULL || strlen(last + 1) != 8)
        return NULL;
    char *end = NULL;
    uint32_t crc = (uint32_t)strtoul(last + 1, &end, 16);
    if (*end != '\0' || crc != fnv1a(line, (size_t)(last - line)))
        return NULL;
    g_autofree char *body = g_strndup(line, (gsize)(last - line));
    g_auto(GStrv) f = g_strsplit(body, ",", -1);
    if (g_strv_length(f) != (guint)(3 + SV_RF_COUNT + 1))
        return NULL;
    g_autoptr(SvPlanResult) r = g_new0(SvPlanResult, 1);
    r->id = atoi(f[0]);
    int status = -1;
    for (int i = 0; i < (int)G_N_ELEMENTS(sv_plan_status_names); i++)
        if (strcmp(f[1], sv_plan_status_names[i]) == 0)
            status = i;
    if (status < 0)
        return NULL;
    r->status = (SvPlanStatus)status;
    r->meets = strcmp(f[2], "1") == 0;
    for (int i = 0; i < SV_RF_COUNT; i++) {
        const char *t = f[3 + i];
        if (strcmp(t, "inf") == 0)
            r->v[i] = INFINITY;
        else if (strcmp(t, "-inf") == 0)
            r->v[i] = -INFINITY;
        else
            r->v[i] = g_ascii_strtod(t, NULL);
    }
    r->why = unescape(f[3 + SV_RF_COUNT]);
    return g_steal_pointer(&r);
}
