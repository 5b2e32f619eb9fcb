/* The run's power state: per replica (per stage of a pipeline replica), the
 * energy integrated at iteration boundaries; per pool and for the cluster,
 * the instantaneous draw, its peak and the time above the budget; the
 * budget's capping controller (an engine component that wakes a reaction
 * delay after the draw goes over the budget); and, at the end, cost and
 * carbon. Iterations are throttled here, not in the predictor, because a
 * cap bites only on iterations whose power would exceed it: prefill slows,
 * decode does not (SplitwiseSim's capped H100). A pipeline batch's path
 * through the stages is known when it is launched, so each stage's run is
 * priced then and booked; the booked starts and ends are applied in time
 * order whenever the module is next called (flush), which keeps the draw
 * exact without an engine event per stage. */
#include "power/power.h"

#include <math.h>
#include <string.h>

enum { EV_BUDGET_CHECK = 1 };

/* Bisection steps for the clock under a cap: 2^-30 of the clock range. */
#define CLOCK_STEPS 30

/* A pipeline stage's run of one batch, priced when the batch is launched. */
typedef struct {
    double w;          /* per-device power, W */
    double demand_w;   /* the same with no budget cap, W */
    SvTimeNs dur_ns;   /* length; 0 = the stage has nothing to do */
    SvTimeNs start_ns; /* when it starts (booked intervals) */
    gboolean prefilly; /* mostly compute-bound */
} Interval;

/* One accounting unit: a replica's devices, or one pipeline stage's devices
 * of a pipeline-parallel replica (each stage draws power on its own
 * timeline: it idles while the batch is in another stage). */
typedef struct {
    int pool;          /* index into config->pools */
    int devices;       /* accelerators of the unit */
    SvTimeNs acc_ns;   /* energy is accounted up to here (the current iteration's start) */
    double acc_j;      /* energy up to acc_ns, all devices, J */
    SvTimeNs end_ns;   /* end of the current or last iteration */
    double iter_w;     /* per-device power of the current iteration, W */
    double demand_w;   /* the same with no budget cap (what the controller could save), W */
    double cap_w;      /* per-device cap set by the budget controller, W; 0 = none */
    gboolean busy;     /* an iteration runs */
    gboolean prefilly; /* the current iteration is mostly compute-bound (prefill-first) */
    /* Pipeline stages only. */
    int stages;     /* stages of the unit's replica; 1 for a whole replica */
    Interval next;  /* the stage's part of the batch being launched */
    Interval *ring; /* intervals booked to start later (owned), a ring of stages + 1 */
    int ring_head, ring_len;
} Replica;

typedef struct {
    SvDevicePower dev;
    double cap_w;     /* the pool's static per-device cap, W; 0 = none */
    double clock;     /* locked clock factor; 1 = not locked */
    double floor_w;   /* lowest per-device power the budget controller caps to, W */
    int priority;     /* lowest-priority-first order */
    gboolean prefill; /* role prefill */
    double draw_w;    /* instantaneous draw of the pool, W */
    double sample_j;  /* pool energy at the previous sample, J */
    double flops;     /* FLOPs per device over all iterations (utilisation = / peak / busy) */
    double bytes;     /* device-memory bytes per device over all iterations */
    double busy_j;    /* per-device energy while iterating, summed over iterations, J */
    SvPoolPowerTotals t;
} Pool;

struct SvPower {
    const SvConfig *config;  /* (not owned) */
    const SvPowerConfig *pc; /* config->power */
    GArray *reps;            /* Replica: the accounting units */
    GArray *first;           /* int per replica: the index of its first unit in reps */
    GArray *stage_units;     /* int: the units of pipeline stages, in reps */
    SvTimeNs next_ns;        /* earliest booked stage start or end not yet applied */
    Pool *pools;
    int num_pools;
    double draw_w;        /* cluster draw now, W */
    double peak_w;        /* highest cluster draw, W */
    double device_peak_w; /* highest per-device iteration power, W */
    SvTimeNs last_change_ns;
    double over_s, over_j; /* above the budget */
    double iter_j;         /* energy of all iterations, J */
    double attributed_j;   /* of which given to requests, J */
    SvTimeNs sample_ns;    /* previous sample */
    double sample_j;       /* cluster energy then */
    /* Budget controller. */
    SvEngine *engine;
    uint16_t component;
    gboolean check_pending;
    gboolean capping;
    SvTimeNs capping_since;
    double capped_s;
    int64_t capping_events, release_events;
    SvPoolPowerTotals *totals; /* per pool, for SvRunTotals (owned) */
};

static void flush_due(SvPower *pw, SvTimeNs now_ns);

/* Apply the booked pipeline-stage changes due by @now_ns (flush_due); a
 * compare when none is (always, without pipelines). */
static inline void flush(SvPower *pw, SvTimeNs now_ns)
{
    if (G_UNLIKELY(pw->next_ns <= now_ns))
        flush_due(pw, now_ns);
}

/* ---- one device ------------------------------------------------------ */

void sv_device_power_init(SvDevicePower *out, const SvHw *hw, SvDtype wdtype, SvDtype adtype)
{
    g_return_if_fail(out != NULL && hw != NULL);
    memset(out, 0, sizeof *out);
    out->idle_w = hw->idle_power_w;
    out->max_w = hw->max_power_w;
    out->active_w = hw->active_power_w;
    out->compute_w = hw->compute_power_w;
    out->memory_w = hw->memory_power_w;
    out->host_w = hw->host_power_w;
    out->peak_flops = sv_hw_matmul_peak(hw, wdtype, adtype);
    out->peak_bytes_per_s = hw->mem_bw_bytes_per_s;
    out->clock_exp = hw->clock_power_exponent > 0 ? hw->clock_power_exponent : 1.0;
    out->memory_sensitivity = hw->clock_memory_sensitivity;
}

/* f^e, exact at the maximum clock (the common case, without a pow). */
static double clock_pow(double f, double e)
{
    return f >= 1.0 ? 1.0 : pow(f, e);
}

double sv_device_power_w(const SvDevicePower *dev, const SvIterProfile *profile, double extra_s,
                         double f)
{
    g_return_val_if_fail(dev != NULL && profile != NULL, 0);
    /* An eager step's extra time (profile->eager_s) draws what the rest of
     * the step draws, so the activity terms are taken over the rest alone:
     * ML.ENERGY v3's B200 MoE boards hold their draw from batch 512 to the
     * eager steps above it (DeepSeek V3.1 on eight, 673 -> 704 W; bf16 Qwen3
     * 235B on four, 753 -> 752 W) while the step doubles; counted as host
     * time (host_w) or as idle SMs, the draw would fall with the step's
     * eager share (validation/power/README.md, "What the eager time
     * draws"). */
    double d =
        sv_iter_profile_time_s(profile, f, dev->memory_sensitivity) + extra_s - profile->eager_s;
    double w = dev->idle_w + dev->active_w * clock_pow(f, dev->clock_exp);
    if (d <= 0)
        return w;
    double uc = dev->peak_flops > 0 ? MIN(profile->flops / (dev->peak_flops * d), 1.0) : 0;
    double um =
        dev->peak_bytes_per_s > 0 ? MIN(profile->bytes / (dev->peak_bytes_per_s * d), 1.0) : 0;
    w += dev->compute_w * uc * clock_pow(f, dev->clock_exp - 1.0) + dev->memory_w * um;
    if (dev->host_w > 0) {
        /* The predictor's host time is what a measured step takes beyond
         * its modelled kernels (calibration.host, overheads): a fit to
         * measured step times, so it also holds GPU work no op prices
         * (sampling over the vocabulary, logits processing, input
         * preparation), which grows with the batch. ML.ENERGY v3 on H100
         * draws more at large batches than the kernels' FLOPs and bytes
         * give (Qwen3 30B-A3B on two H100 at batch 1024: 562 W against 339
         * W, the host time 60 % of the step), so that time draws host_w
         * (fitted, validation/power/fit.sh) on top of the busy draw. It
         * does not stretch with the clock, and neither does its draw. */
        double host_s = profile->total_s - profile->compute_s - profile->memory_s -
                        profile->comm_s - profile->eager_s;
        w += dev->host_w * CLAMP(host_s / d, 0.0, 1.0);
    }
    return w;
}

/* The power the board draws at clock @f: the model's demand, its dynamic
 * part scaled by @scale so that the maximum clock stays within max_w. */
static double board_w(const SvDevicePower *dev, const SvIterProfile *profile, double extra_s,
                      double f, double scale)
{
    return dev->idle_w + scale * (sv_device_power_w(dev, profile, extra_s, f) - dev->idle_w);
}

double sv_device_power_clock(const SvDevicePower *dev, const SvIterProfile *profile, double extra_s,
                             double f_max, double cap_w, double *power_w, gboolean *unmet)
{
    g_return_val_if_fail(dev != NULL && profile != NULL && power_w != NULL, 1.0);
    *unmet = FALSE;
    /* The predictor's times hold at the board's own limit: demand above
     * max_w at the maximum clock is what the board delivers at max_w. */
    double full = sv_device_power_w(dev, profile, extra_s, 1.0);
    double scale = 1.0;
    if (dev->max_w > 0 && full > dev->max_w && full > dev->idle_w)
        scale = (dev->max_w - dev->idle_w) / (full - dev->idle_w);
    double w = f_max >= 1.0 ? dev->idle_w + scale * (full - dev->idle_w)
                            : board_w(dev, profile, extra_s, f_max, scale);
    if (cap_w <= 0 || w <= cap_w) {
        *power_w = w;
        return f_max;
    }
    double lo = SV_POWER_MIN_CLOCK, hi = f_max;
    double w_lo = board_w(dev, profile, extra_s, lo, scale);
    if (w_lo > cap_w) {
        *unmet = TRUE;
        *power_w = w_lo;
        return lo;
    }
    /* Power rises with the clock (every term does), so bisect. */
    for (int i = 0; i < CLOCK_STEPS; i++) {
        double mid = 0.5 * (lo + hi);
        if (board_w(dev, profile, extra_s, mid, scale) > cap_w)
            hi = mid;
        else
            lo = mid;
    }
    *power_w = board_w(dev, profile, extra_s, lo, scale);
    return lo;
}

/* ---- construction ---------------------------------------------------- */

static void controller_handle(SvEngine *engine, void *self, const SvEvent *event);

static const SvComponentVtable controller_vtable = {"power-budget", NULL, controller_handle, NULL};

/* The busy draw a device of a mixture-of-experts model adds to the dense
 * terms. A fused expert kernel that streams its weights below the dense
 * streaming efficiency spends the rest of its time in SM work the FLOP and
 * byte terms do not see (dequantizing block-fp8 and mxfp4 weights, scaling,
 * padded tiles), and the measured draw follows: ML.ENERGY v3 on H100 has
 * block-fp8 Qwen3 235B at 450-630 W per GPU, 30-45 % above what the dense
 * terms give at its measured speed, and bf16 Qwen3 MoE near them. So the
 * profile's fitted power.moe_active_w is taken in proportion to the
 * kernel's non-streaming share, 1 - moe efficiency / memory efficiency (0
 * when the experts stream as fast as dense weights). */
static double moe_extra_w(const SvHw *hw, SvDtype wdtype, SvMoeBackend backend)
{
    double e = sv_hw_moe_mem_efficiency(hw, wdtype, backend);
    double share = hw->eff_mem > 0 ? CLAMP(1.0 - e / hw->eff_mem, 0.0, 1.0) : 0.0;
    return hw->moe_active_power_w * share;
}

SvPower *sv_power_new(const SvConfig *config, GError **error)
{
    g_return_val_if_fail(config != NULL && config->pools != NULL, NULL);
    SvPower *pw = g_new0(SvPower, 1);
    pw->config = config;
    pw->pc = &config->power;
    pw->reps = g_array_new(FALSE, TRUE, sizeof(Replica));
    pw->first = g_array_new(FALSE, FALSE, sizeof(int));
    pw->stage_units = g_array_new(FALSE, FALSE, sizeof(int));
    pw->next_ns = SV_TIME_NEVER;
    pw->num_pools = (int)config->pools->len;
    pw->pools = g_new0(Pool, pw->num_pools);
    pw->totals = g_new0(SvPoolPowerTotals, pw->num_pools);
    for (int p = 0; p < pw->num_pools; p++) {
        const SvPoolConfig *pool = g_ptr_array_index(config->pools, p);
        Pool *q = &pw->pools[p];
        sv_device_power_init(&q->dev, pool->hw, config->engine.weight_dtype, config->engine.dtype);
        if (config->model != NULL && config->model->num_experts > 0)
            q->dev.active_w +=
                moe_extra_w(pool->hw, config->engine.weight_dtype, config->engine.moe_backend);
        /* A named host overhead profile (engine.host_overheads, e.g.
         * vllm-0.5) models an engine whose steps wait on the CPU: the GPU
         * idles through that time, so it draws no host power. */
        if (config->engine.host_overheads != NULL)
            q->dev.host_w = 0;
        q->clock = 1.0;
        q->prefill = pool->role == SV_ROLE_PREFILL;
        if (pw->pc->pools != NULL && p < pw->pc->num_pools) {
            const SvPoolPowerConfig *c = &pw->pc->pools[p];
            q->cap_w = c->power_cap_w;
            q->priority = c->priority;
            if (c->sm_clock_mhz > 0 && pool->hw->max_sm_clock_mhz > 0)
                q->clock = MIN(1.0, c->sm_clock_mhz / pool->hw->max_sm_clock_mhz);
        }
        /* The busy floor at the lowest clock: no cap goes below it. */
        q->floor_w = q->dev.idle_w + q->dev.active_w * pow(SV_POWER_MIN_CLOCK, q->dev.clock_exp);
        q->t.name = pool->name;
    }
    (void)error;
    return pw;
}

void sv_power_free(SvPower *power)
{
    if (power == NULL)
        return;
    for (guint i = 0; i < power->reps->len; i++)
        g_free(g_array_index(power->reps, Replica, i).ring);
    g_array_unref(power->reps);
    g_array_unref(power->first);
    g_array_unref(power->stage_units);
    g_free(power->pools);
    g_free(power->totals);
    g_free(power);
}

void sv_power_add_replica(SvPower *power, int pool, int devices)
{
    g_return_if_fail(power != NULL && pool >= 0 && pool < power->num_pools && devices > 0);
    Pool *q = &power->pools[pool];
    Replica r = {.pool = pool, .devices = devices, .iter_w = q->dev.idle_w, .stages = 1};
    int unit = (int)power->reps->len;
    g_array_append_val(power->first, unit);
    g_array_append_val(power->reps, r);
    q->t.devices += devices;
    /* A device that never runs peaks at its idle draw. */
    q->t.device_peak_w = MAX(q->t.device_peak_w, q->dev.idle_w);
    power->device_peak_w = MAX(power->device_peak_w, q->dev.idle_w);
    q->draw_w += devices * q->dev.idle_w;
    power->draw_w += devices * q->dev.idle_w;
    power->peak_w = MAX(power->peak_w, power->draw_w);
    q->t.peak_w = MAX(q->t.peak_w, q->draw_w);
}

void sv_power_replica_stages(SvPower *power, int replica, int stages)
{
    g_return_if_fail(power != NULL && replica == (int)power->first->len - 1 && stages > 0);
    Replica *r = &g_array_index(power->reps, Replica, power->reps->len - 1);
    g_return_if_fail(r->stages == 1 && r->devices % stages == 0);
    if (stages == 1)
        return;
    /* Split the replica's devices (already counted, drawing idle) into one
     * unit per stage. */
    Replica stage = *r;
    stage.devices = r->devices / stages;
    stage.stages = stages;
    int base = (int)power->reps->len - 1;
    for (int s = 0; s < stages; s++) {
        stage.ring = g_new0(Interval, stages + 1);
        int unit = base + s;
        g_array_append_val(power->stage_units, unit);
        if (s == 0)
            g_array_index(power->reps, Replica, power->reps->len - 1) = stage;
        else
            g_array_append_val(power->reps, stage);
    }
}

int sv_power_num_replicas(const SvPower *power)
{
    g_return_val_if_fail(power != NULL, 0);
    return (int)power->first->len;
}

/* The first accounting unit of replica @replica. */
static inline Replica *unit_of(SvPower *pw, int replica)
{
    return &g_array_index(pw->reps, Replica, g_array_index(pw->first, int, replica));
}

double sv_power_pool_clock(const SvPower *power, int pool)
{
    g_return_val_if_fail(power != NULL && pool >= 0 && pool < power->num_pools, 1.0);
    return power->pools[pool].clock;
}

void sv_power_attach(SvPower *power, SvEngine *engine)
{
    g_return_if_fail(power != NULL && engine != NULL);
    if (power->pc->budget_w <= 0)
        return;
    power->engine = engine;
    power->component = sv_engine_add_component(engine, &controller_vtable, power);
}

/* ---- the draw and the budget ----------------------------------------- */

/* Integrate the time and energy above the budget up to @now_ns. */
static void advance(SvPower *pw, SvTimeNs now_ns)
{
    double budget = pw->pc->budget_w;
    if (budget > 0 && now_ns > pw->last_change_ns && pw->draw_w > budget) {
        double dt = sv_ns_to_s(now_ns - pw->last_change_ns);
        pw->over_s += dt;
        pw->over_j += (pw->draw_w - budget) * dt;
    }
    if (now_ns > pw->last_change_ns)
        pw->last_change_ns = now_ns;
}

static void schedule_check(SvPower *pw, SvTimeNs now_ns)
{
    if (pw->check_pending || pw->engine == NULL)
        return;
    pw->check_pending = TRUE;
    /* A pipeline stage's draw change is applied when the next entry point
     * comes by (flush), possibly after it happened. */
    SvTimeNs at = MAX(now_ns + sv_s_to_ns(pw->pc->reaction_delay_s), sv_engine_now(pw->engine));
    sv_engine_schedule(pw->engine, at, pw->component, EV_BUDGET_CHECK, 0, NULL);
}

/* Change replica @r's per-device power to @w at @now_ns. */
static void set_draw(SvPower *pw, Replica *r, double w, SvTimeNs now_ns)
{
    advance(pw, now_ns);
    Pool *q = &pw->pools[r->pool];
    double delta = r->devices * (w - r->iter_w);
    q->draw_w += delta;
    pw->draw_w += delta;
    r->iter_w = w;
    if (delta > 0) {
        q->t.peak_w = MAX(q->t.peak_w, q->draw_w);
        pw->peak_w = MAX(pw->peak_w, pw->draw_w);
        if (pw->pc->budget_w > 0 && pw->draw_w > pw->pc->budget_w)
            schedule_check(pw, now_ns);
    }
}

/* Replica @r's energy from time 0 to @t_ns (t at or after its last start). */
static double replica_energy(const SvPower *pw, const Replica *r, SvTimeNs t_ns)
{
    double idle = pw->pools[r->pool].dev.idle_w;
    SvTimeNs busy_to = MIN(t_ns, r->end_ns);
    double e = r->acc_j;
    if (busy_to > r->acc_ns)
        e += r->devices * r->iter_w * sv_ns_to_s(busy_to - r->acc_ns);
    SvTimeNs idle_from = MAX(r->end_ns, r->acc_ns);
    if (t_ns > idle_from)
        e += r->devices * idle * sv_ns_to_s(t_ns - idle_from);
    return e;
}

/* ---- iterations ------------------------------------------------------ */

/* Price a busy interval of unit @r that the predictor timed at @dt_ns (at
 * the pool's locked clock), of which @prof is the model part (the rest,
 * copies and host time, does not stretch with the clock): the clock the
 * pool's cap and the budget's cap on @r allow, the power at it, and the
 * length after throttling, into @out. Counts throttling in the pool. */
static void price(SvPower *pw, const Replica *r, SvTimeNs dt_ns, const SvIterProfile *prof,
                  Interval *out)
{
    Pool *q = &pw->pools[r->pool];
    const SvDevicePower *dev = &q->dev;
    double dt_s = sv_ns_to_s(dt_ns);
    double model_s = sv_iter_profile_time_s(prof, q->clock, dev->memory_sensitivity);
    double extra_s = MAX(0.0, dt_s - model_s);
    double demand, w;
    gboolean unmet = FALSE;
    double f = sv_device_power_clock(dev, prof, extra_s, q->clock, q->cap_w, &demand, &unmet);
    w = demand;
    if (r->cap_w > 0 && demand > r->cap_w) {
        double cap = q->cap_w > 0 ? MIN(q->cap_w, r->cap_w) : r->cap_w;
        f = sv_device_power_clock(dev, prof, extra_s, q->clock, cap, &w, &unmet);
    }
    SvTimeNs out_ns = dt_ns;
    if (f < q->clock) {
        out_ns = sv_s_to_ns(sv_iter_profile_time_s(prof, f, dev->memory_sensitivity) + extra_s);
        out_ns = MAX(out_ns, dt_ns);
        q->t.throttled++;
        q->t.throttle_delay_s += sv_ns_to_s(out_ns - dt_ns);
    }
    q->t.cap_unmet += unmet;
    q->t.device_peak_w = MAX(q->t.device_peak_w, w);
    pw->device_peak_w = MAX(pw->device_peak_w, w);
    *out = (Interval){
        .w = w, .demand_w = demand, .dur_ns = out_ns, .prefilly = prof->compute_s > prof->memory_s};
}

/* Book one iteration (or pipeline batch) of pool @q: @busy_s seconds of
 * each device's time on average, @busy_ws the same weighted by its power
 * (W s per device), and its model work. */
static void pool_busy(Pool *q, double busy_s, double busy_ws, const SvIterProfile *prof)
{
    q->t.iterations++;
    q->t.busy_s += busy_s;
    q->busy_j += busy_ws;
    q->flops += prof->flops;
    q->bytes += prof->bytes;
}

static void unit_end(SvPower *power, Replica *r, SvTimeNs now_ns);

/* Unit @r starts the busy interval @iv at @now_ns. */
static void unit_start(SvPower *pw, Replica *r, SvTimeNs now_ns, const Interval *iv)
{
    /* An end due at this very instant and not applied yet is taken to
     * be this start. */
    if (r->busy && r->end_ns <= now_ns)
        unit_end(pw, r, now_ns);
    SV_ASSERT(!r->busy,
              "power: a unit starts at %" G_GINT64_FORMAT " ns while busy until %" G_GINT64_FORMAT
              " ns",
              now_ns, r->end_ns);
    /* Account the idle gap since the last interval. */
    r->acc_j = replica_energy(pw, r, now_ns);
    r->acc_ns = now_ns;
    r->demand_w = iv->demand_w;
    r->prefilly = iv->prefilly;
    r->busy = TRUE;
    r->end_ns = now_ns + iv->dur_ns;
    set_draw(pw, r, iv->w, now_ns);
}

SvTimeNs sv_power_iteration(SvPower *power, int replica, SvTimeNs start_ns, SvTimeNs dt_ns,
                            const SvIterProfile *profile, double *energy_j)
{
    g_return_val_if_fail(power != NULL && replica >= 0 && replica < (int)power->first->len, dt_ns);
    flush(power, start_ns);
    Replica *r = unit_of(power, replica);
    Pool *q = &power->pools[r->pool];
    /* An end the engine did not report (it cannot happen today) is taken
     * to be this start. */
    if (r->busy)
        unit_end(power, r, start_ns);
    Interval iv;
    static const SvIterProfile none = {0};
    const SvIterProfile *prof = profile != NULL ? profile : &none;
    price(power, r, dt_ns, prof, &iv);
    pool_busy(q, sv_ns_to_s(iv.dur_ns), iv.w * sv_ns_to_s(iv.dur_ns), prof);
    double e = iv.w * r->devices * sv_ns_to_s(iv.dur_ns);
    power->iter_j += e;
    unit_start(power, r, start_ns, &iv);
    if (energy_j != NULL)
        *energy_j = e;
    return iv.dur_ns;
}

/* Unit @r's busy interval ends at @now_ns. */
static void unit_end(SvPower *power, Replica *r, SvTimeNs now_ns)
{
    /* The iteration's energy stays in acc_j's reach through end_ns. */
    r->acc_j = replica_energy(power, r, now_ns);
    r->acc_ns = now_ns;
    r->end_ns = now_ns;
    r->busy = FALSE;
    set_draw(power, r, power->pools[r->pool].dev.idle_w, now_ns);
}

void sv_power_iteration_end(SvPower *power, int replica, SvTimeNs now_ns)
{
    g_return_if_fail(power != NULL && replica >= 0 && replica < (int)power->first->len);
    flush(power, now_ns);
    Replica *r = unit_of(power, replica);
    if (r->busy)
        unit_end(power, r, now_ns);
}

/* Unit @r's next change of draw that was booked ahead: its busy interval's
 * end, else its first booked start; SV_TIME_NEVER when none. An end sorts
 * before a start at the same time (*@is_start FALSE). */
static SvTimeNs unit_next(const Replica *r, gboolean *is_start)
{
    *is_start = FALSE;
    if (r->busy)
        return r->end_ns;
    if (r->ring_len > 0) {
        *is_start = TRUE;
        return r->ring[r->ring_head].start_ns;
    }
    return SV_TIME_NEVER;
}

/* Apply the pipeline stages' booked starts and ends up to @now_ns, in time
 * order across all stages (ends before starts at the same instant), so the
 * draw, its peak and the time over the budget are exact without an engine
 * event per stage. Every entry point calls it before it reads or changes
 * the draw. A linear scan over the stages per change: pipelines are few. */
static void flush_due(SvPower *pw, SvTimeNs now_ns)
{
    while (pw->next_ns <= now_ns) {
        Replica *best = NULL;
        SvTimeNs t_best = SV_TIME_NEVER;
        gboolean start_best = TRUE;
        for (guint i = 0; i < pw->stage_units->len; i++) {
            Replica *r = &g_array_index(pw->reps, Replica, g_array_index(pw->stage_units, int, i));
            gboolean is_start;
            SvTimeNs t = unit_next(r, &is_start);
            if (t < t_best || (t == t_best && start_best && !is_start)) {
                best = r;
                t_best = t;
                start_best = is_start;
            }
        }
        if (best == NULL || t_best > now_ns) {
            pw->next_ns = t_best;
            return;
        }
        if (!start_best) {
            unit_end(pw, best, t_best);
        } else {
            Interval iv = best->ring[best->ring_head];
            best->ring_head = (best->ring_head + 1) % (best->stages + 1);
            best->ring_len--;
            unit_start(pw, best, t_best, &iv);
        }
    }
}

double sv_power_pipeline_stages(SvPower *power, int replica, SvTimeNs *stage_ns, SvTimeNs copy_ns,
                                const SvIterProfile *profile)
{
    g_return_val_if_fail(power != NULL && replica >= 0 && replica < (int)power->first->len, 0);
    g_return_val_if_fail(stage_ns != NULL, 0);
    Replica *u = unit_of(power, replica);
    Pool *q = &power->pools[u->pool];
    int p = u->stages;
    static const SvIterProfile none = {0};
    const SvIterProfile *prof = profile != NULL ? profile : &none;
    SvTimeNs sum_ns = 0;
    for (int s = 0; s < p; s++)
        sum_ns += stage_ns[s];
    /* The profile is the whole batch's (times summed over the stages, work
     * averaged over all the replica's devices). A stage's part is taken in
     * proportion to its time: its times x share, and its devices' work x
     * share x p (each stage's devices do the work of their layers only). */
    double energy = 0, busy_s = 0, busy_ws = 0;
    for (int s = 0; s < p; s++) {
        Replica *r = u + s;
        SvTimeNs dt = stage_ns[s] + copy_ns;
        if (dt <= 0) {
            r->next = (Interval){.w = q->dev.idle_w};
            continue;
        }
        double share = sum_ns > 0 ? (double)stage_ns[s] / (double)sum_ns : 0;
        SvIterProfile part = {.compute_s = prof->compute_s * share,
                              .memory_s = prof->memory_s * share,
                              .comm_s = prof->comm_s * share,
                              .total_s = prof->total_s * share,
                              .eager_s = prof->eager_s * share,
                              .flops = prof->flops * share * p,
                              .bytes = prof->bytes * share * p};
        price(power, r, dt, &part, &r->next);
        SvTimeNs out = r->next.dur_ns;
        stage_ns[s] = out - copy_ns;
        double d_s = sv_ns_to_s(out);
        energy += r->next.w * r->devices * d_s;
        busy_s += d_s;
        busy_ws += r->next.w * d_s;
    }
    /* Per device on average: each device runs one stage. */
    pool_busy(q, busy_s / p, busy_ws / p, prof);
    power->iter_j += energy;
    return energy;
}

void sv_power_pipeline_launch(SvPower *power, int replica, SvTimeNs now_ns,
                              const SvTimeNs *stage_end_ns)
{
    g_return_if_fail(power != NULL && replica >= 0 && replica < (int)power->first->len);
    g_return_if_fail(stage_end_ns != NULL);
    flush(power, now_ns);
    Replica *u = unit_of(power, replica);
    int p = u->stages;
    for (int s = 0; s < p; s++) {
        Replica *r = u + s;
        if (r->next.dur_ns <= 0)
            continue;
        SvTimeNs start = stage_end_ns[s] - r->next.dur_ns;
        SV_ASSERT(start >= now_ns,
                  "power: stage %d starts at %" G_GINT64_FORMAT
                  " ns, before its launch at %" G_GINT64_FORMAT " ns",
                  s, start, now_ns);
        if (start == now_ns) {
            unit_start(power, r, now_ns, &r->next);
            power->next_ns = MIN(power->next_ns, r->end_ns);
            continue;
        }
        SV_ASSERT(r->ring_len <= p, "power: stage %d has %d batches booked", s, r->ring_len);
        r->next.start_ns = start;
        r->ring[(r->ring_head + r->ring_len++) % (p + 1)] = r->next;
        power->next_ns = MIN(power->next_ns, start);
    }
}

void sv_power_attributed(SvPower *power, double attributed_j)
{
    g_return_if_fail(power != NULL);
    power->attributed_j += attributed_j;
}

double sv_power_sample(SvPower *power, SvTimeNs now_ns, double *pool_w)
{
    g_return_val_if_fail(power != NULL, 0);
    flush(power, now_ns);
    double total = 0;
    double *pool_j = g_newa(double, power->num_pools + 1);
    for (int p = 0; p < power->num_pools; p++)
        pool_j[p] = 0;
    for (guint i = 0; i < power->reps->len; i++) {
        const Replica *r = &g_array_index(power->reps, Replica, i);
        double e = replica_energy(power, r, now_ns);
        pool_j[r->pool] += e;
        total += e;
    }
    double dt = sv_ns_to_s(now_ns - power->sample_ns);
    double mean = dt > 0 ? (total - power->sample_j) / dt : power->draw_w;
    for (int p = 0; p < power->num_pools; p++) {
        Pool *q = &power->pools[p];
        double w = dt > 0 ? (pool_j[p] - q->sample_j) / dt : q->draw_w;
        if (pool_w != NULL)
            pool_w[p] = w;
        q->sample_j = pool_j[p];
    }
    power->sample_ns = now_ns;
    power->sample_j = total;
    return mean;
}

/* ---- the budget controller ------------------------------------------- */

/* The draw of replica @r were its devices capped at @cap_w (per device). */
static double capped_draw(const SvPower *pw, const Replica *r, double cap_w)
{
    const Pool *q = &pw->pools[r->pool];
    if (!r->busy)
        return r->devices * q->dev.idle_w;
    return r->devices * MIN(r->demand_w, MAX(cap_w, q->floor_w));
}

/* The group replica @r is capped with under the policy: lower goes first. */
static int cap_group(const SvPower *pw, const Replica *r)
{
    const Pool *q = &pw->pools[r->pool];
    switch (pw->pc->policy) {
    case SV_CAP_PREFILL_FIRST:
        return q->prefill || (r->busy && r->prefilly) ? 0 : 1;
    case SV_CAP_LOWEST_PRIORITY_FIRST:
        return q->priority;
    case SV_CAP_UNIFORM:
    case SV_CAP_COUNT:
        break;
    }
    return 0;
}

/* Tighten the caps until the estimated draw fits the budget: the groups in
 * policy order, each capped to one per-device level (water-filling: the
 * highest level at which the group's draw, with everyone else as they are,
 * fits), down to each pool's floor before the next group is touched. */
static void tighten(SvPower *pw)
{
    guint n = pw->reps->len;
    double budget = pw->pc->budget_w;
    double *est = g_new(double, n);
    double total = 0;
    gboolean *done = g_new0(gboolean, n);
    for (guint i = 0; i < n; i++) {
        const Replica *r = &g_array_index(pw->reps, Replica, i);
        est[i] = r->devices * r->iter_w;
        total += est[i];
    }
    for (;;) {
        /* The next group: the lowest key among replicas not yet capped. */
        int key = G_MAXINT;
        for (guint i = 0; i < n; i++)
            if (!done[i])
                key = MIN(key, cap_group(pw, &g_array_index(pw->reps, Replica, i)));
        if (key == G_MAXINT)
            break;
        double others = total, hi = 0;
        for (guint i = 0; i < n; i++) {
            const Replica *r = &g_array_index(pw->reps, Replica, i);
            if (done[i] || cap_group(pw, r) != key)
                continue;
            others -= est[i];
            hi = MAX(hi, r->demand_w);
        }
        double room = budget - others, lo = 0;
        double at_floor = 0;
        for (guint i = 0; i < n; i++) {
            const Replica *r = &g_array_index(pw->reps, Replica, i);
            if (!done[i] && cap_group(pw, r) == key)
                at_floor += capped_draw(pw, r, 0);
        }
        double level = 0;
        if (at_floor < room) {
            for (int k = 0; k < 50; k++) {
                double mid = 0.5 * (lo + hi), draw = 0;
                for (guint i = 0; i < n; i++) {
                    const Replica *r = &g_array_index(pw->reps, Replica, i);
                    if (!done[i] && cap_group(pw, r) == key)
                        draw += capped_draw(pw, r, mid);
                }
                if (draw > room)
                    hi = mid;
                else
                    lo = mid;
            }
            level = lo;
        }
        for (guint i = 0; i < n; i++) {
            Replica *r = &g_array_index(pw->reps, Replica, i);
            if (done[i] || cap_group(pw, r) != key)
                continue;
            double cap = MAX(level, pw->pools[r->pool].floor_w);
            r->cap_w = r->cap_w > 0 ? MIN(r->cap_w, cap) : cap;
            total += capped_draw(pw, r, cap) - est[i];
            est[i] = capped_draw(pw, r, cap);
            done[i] = TRUE;
        }
        if (at_floor < room)
            break;
    }
    g_free(est);
    g_free(done);
}

static void controller_handle(SvEngine *engine, void *self, const SvEvent *event)
{
    SvPower *pw = self;
    SvTimeNs now = sv_engine_now(engine);
    flush(pw, now);
    SV_ASSERT(event->kind == EV_BUDGET_CHECK, "power controller got event kind %u", event->kind);
    pw->check_pending = FALSE;
    advance(pw, now);
    double budget = pw->pc->budget_w;
    if (pw->draw_w > budget) {
        tighten(pw);
        pw->capping_events++;
        if (!pw->capping) {
            pw->capping = TRUE;
            pw->capping_since = now;
        }
        schedule_check(pw, now);
        return;
    }
    if (!pw->capping)
        return;
    /* Lift the caps once the draw without them would stay well under the
     * budget, or nothing runs (the run is over or idle). */
    double uncapped = 0;
    gboolean any = FALSE;
    for (guint i = 0; i < pw->reps->len; i++) {
        const Replica *r = &g_array_index(pw->reps, Replica, i);
        any = any || r->busy;
        uncapped += r->devices * (r->busy ? r->demand_w : pw->pools[r->pool].dev.idle_w);
    }
    if (!any || uncapped <= pw->pc->release_fraction * budget) {
        for (guint i = 0; i < pw->reps->len; i++)
            g_array_index(pw->reps, Replica, i).cap_w = 0;
        pw->capping = FALSE;
        pw->capped_s += sv_ns_to_s(now - pw->capping_since);
        pw->release_events++;
        return;
    }
    schedule_check(pw, now);
}

/* ---- the end --------------------------------------------------------- */

void sv_power_finish(SvPower *power, SvTimeNs end_ns, SvRunTotals *totals)
{
    g_return_if_fail(power != NULL && totals != NULL);
    SvPower *pw = power;
    const SvPowerConfig *pc = pw->pc;
    flush(pw, end_ns);
    advance(pw, end_ns);
    if (pw->capping) {
        pw->capped_s += sv_ns_to_s(MAX(end_ns, pw->capping_since) - pw->capping_since);
        pw->capping_since = MAX(end_ns, pw->capping_since);
    }
    double span_s = sv_ns_to_s(end_ns);
    double total = 0, devices = 0, device_usd = 0, nameplate = 0;
    for (int p = 0; p < pw->num_pools; p++)
        pw->pools[p].t.energy_j = 0;
    for (guint i = 0; i < pw->reps->len; i++) {
        const Replica *r = &g_array_index(pw->reps, Replica, i);
        double e = replica_energy(pw, r, MAX(end_ns, r->end_ns));
        pw->pools[r->pool].t.energy_j += e;
        total += e;
    }
    gboolean modelled = FALSE;
    for (int p = 0; p < pw->num_pools; p++) {
        Pool *q = &pw->pools[p];
        SvPoolPowerTotals *t = &q->t;
        devices += t->devices;
        nameplate += t->devices * q->dev.max_w;
        modelled = modelled || q->dev.max_w > 0;
        t->mean_w = span_s > 0 ? t->energy_j / span_s : 0;
        /* The peak is the tracked draw's; a mean over a span it never
         * leaves may round a hair above it. */
        t->peak_w = MAX(t->peak_w, t->mean_w);
        t->device_mean_w = t->devices > 0 ? t->mean_w / t->devices : 0;
        t->device_peak_w = MAX(t->device_peak_w, t->device_mean_w);
        /* Time-weighted utilisation over the iterations: work / (peak x time). */
        double peak_c = q->dev.peak_flops * t->busy_s, peak_m = q->dev.peak_bytes_per_s * t->busy_s;
        t->util_flops = peak_c > 0 ? MIN(q->flops / peak_c, 1.0) : 0;
        t->util_mem = peak_m > 0 ? MIN(q->bytes / peak_m, 1.0) : 0;
        t->active_device_w = t->busy_s > 0 ? q->busy_j / t->busy_s : 0;
        t->device_hours = t->devices * span_s / 3600.0;
        double price =
            pc->pools != NULL && p < pc->num_pools ? pc->pools[p].usd_per_device_hour : 0;
        t->cost_usd = t->device_hours * price;
        device_usd += t->cost_usd;
        pw->totals[p] = *t;
    }
    SvPowerTotals *o = &totals->power;
    memset(o, 0, sizeof *o);
    o->modelled = modelled;
    o->span_s = span_s;
    o->idle_energy_j = total - pw->iter_j;
    o->attributed_j = pw->attributed_j;
    o->unattributed_j = pw->iter_j - pw->attributed_j;
    o->device_mean_w = devices > 0 && span_s > 0 ? total / (devices * span_s) : 0;
    o->device_peak_w = MAX(pw->device_peak_w, o->device_mean_w);
    o->budget_w = pc->budget_w;
    o->oversubscription = pc->budget_w > 0 ? nameplate / pc->budget_w - 1.0 : 0;
    o->policy = pc->budget_w > 0 ? sv_cap_policy_names[pc->policy] : NULL;
    o->over_budget_s = pw->over_s;
    o->over_budget_j = pw->over_j;
    o->capping_events = pw->capping_events;
    o->release_events = pw->release_events;
    o->capped_s = pw->capped_s;
    o->pue = pc->pue >= 1 ? pc->pue : 1.0;
    o->facility_energy_j = total * o->pue;
    double kwh = o->facility_energy_j / 3.6e6;
    o->energy_cost_usd = kwh * pc->usd_per_kwh;
    o->device_cost_usd = device_usd;
    o->carbon_g = kwh * pc->carbon_g_per_kwh;
    o->pools = pw->totals;
    o->num_pools = pw->num_pools;
    totals->energy_j = total;
    totals->power_mean_w = span_s > 0 ? total / span_s : 0;
    totals->power_peak_w = MAX(pw->peak_w, totals->power_mean_w);
    totals->cost_usd = o->energy_cost_usd + o->device_cost_usd;
}
