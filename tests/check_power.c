/* Power, energy, caps, the cluster budget and cost: hand-computed energy on
 * tiny timelines with a constant-cost iteration model, the attribution of
 * energy to requests, the documented slowdown of a power cap, the budget
 * controller's capping events, cost and carbon arithmetic, the power:
 * section's bad input, and the power-model fit. */
#include "power/power-fit.h"
#include "power/power.h"
#include "serve/sim.h"
#include "testutil.h"

#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

/* Every iteration takes 10 ms, whatever it holds. */
static SvTimeNs ten_ms(void *ctx, const SvBatchShape *s)
{
    return 10000000;
}

typedef struct {
    SvConfig cfg;
    SvModel model;
    SvHw hw[2];
    SvPoolConfig pool[2];
    SvPoolPowerConfig pool_power[2];
    SvTrace *trace;
    char *trace_path;
} Study;

/* @pools pools of @replicas replicas (TP 1) of a device idle at 100 W that
 * draws 150 W in any iteration of the toy model (no modelled work: active
 * power only), fed by @trace_csv. */
static Study *study_new(const char *trace_csv, int pools, int replicas)
{
    Study *st = g_new0(Study, 1);
    st->model.name = "toy";
    st->model.max_position_embeddings = 4096;
    st->cfg.pools = g_ptr_array_new();
    for (int p = 0; p < pools; p++) {
        SvHw *hw = &st->hw[p];
        hw->name = "toy-hw";
        hw->peak_flops[SV_DTYPE_BF16] = 1e15;
        hw->mem_bw_bytes_per_s = 1e12;
        hw->idle_power_w = 100;
        hw->max_power_w = 700;
        hw->active_power_w = 50;
        hw->compute_power_w = 400;
        hw->memory_power_w = 100;
        hw->clock_power_exponent = 1.56;
        hw->clock_memory_sensitivity = 0.05;
        SvPoolConfig *pool = &st->pool[p];
        pool->name = p == 0 ? "a" : "b";
        pool->hw = hw;
        pool->replicas = replicas;
        pool->tensor_parallel_size = 1;
        pool->pipeline_parallel_size = 1;
        pool->expert_parallel_size = 1;
        g_ptr_array_add(st->cfg.pools, pool);
    }
    st->cfg.power.pools = st->pool_power;
    st->cfg.power.num_pools = pools;
    st->cfg.power.pue = 1.0;
    st->cfg.power.reaction_delay_s = 0.005;
    st->cfg.power.release_fraction = 0.9;
    st->cfg.path = "toy.yaml";
    st->cfg.seed = 1;
    st->cfg.model = &st->model;
    st->cfg.router = SV_ROUTER_ROUND_ROBIN;
    st->cfg.engine.scheduler = SV_SCHED_VLLM_V1;
    st->cfg.engine.max_num_seqs = 256;
    st->cfg.engine.max_num_batched_tokens = 8192;
    st->cfg.engine.enable_chunked_prefill = TRUE;
    st->cfg.engine.block_size = 16;
    st->cfg.engine.gpu_memory_utilization = 0.9;
    st->cfg.engine.dtype = SV_DTYPE_BF16;
    st->cfg.engine.weight_dtype = SV_DTYPE_BF16;
    st->cfg.engine.kv_cache_dtype = SV_DTYPE_BF16;
    st->cfg.slo.percentile = 90;
    st->cfg.output.sample_interval_s = 0.01;
    st->trace_path = sv_test_write_tmp(trace_csv, ".csv");
    st->cfg.workload.trace_path = st->trace_path;
    st->cfg.workload.process = SV_ARRIVAL_TRACE;
    GError *error = NULL;
    st->trace = sv_trace_load(st->trace_path, &error);
    ck_assert_msg(st->trace != NULL, "%s", error ? error->message : "");
    return st;
}

static void study_free(Study *st)
{
    sv_trace_free(st->trace);
    g_unlink(st->trace_path);
    g_free(st->trace_path);
    g_ptr_array_unref(st->cfg.pools);
    g_free(st);
}

static SvSim *run_study(Study *st)
{
    SvSimOptions opt = {.iter_time_fn = ten_ms, .kv_blocks = 1000};
    GError *error = NULL;
    SvSim *sim = sv_sim_new(&st->cfg, st->trace, &opt, &error);
    ck_assert_msg(sim != NULL, "%s", error ? error->message : "");
    sv_sim_run(sim);
    SvSimBalance b;
    sv_sim_balance(sim, &b);
    ck_assert_uint_eq(b.events_scheduled, b.events_processed + b.events_cancelled);
    ck_assert_uint_eq(b.events_pending, 0);
    ck_assert_int_eq(b.arrived, b.completed + b.rejected);
    return sim;
}

#define NEAR(a, b)                                                                                 \
    ck_assert_msg(fabs((double)(a) - (double)(b)) <= 1e-9 * MAX(1.0, fabs((double)(b))),           \
                  "%.12g != %.12g", (double)(a), (double)(b))

/* Two replicas. Request 0 (output 3) runs three 10 ms iterations on replica
 * 0 from t = 0; request 1 (output 1) arrives at 50 ms and runs one on
 * replica 1. Busy: 150 W, idle: 100 W. The run ends at 60 ms:
 *   replica 0: 30 ms x 150 + 30 ms x 100 = 4.5 + 3.0 = 7.5 J
 *   replica 1: 50 ms x 100 + 10 ms x 150 = 5.0 + 1.5 = 6.5 J
 * 14 J in all, 8 J of it idle; requests get 4.5 and 1.5 J. */
static const char two_requests[] = "arrival_s,input_tokens,output_tokens\n"
                                   "0,10,3\n"
                                   "0.05,10,1\n";

START_TEST(test_energy_timeline)
{
    Study *st = study_new(two_requests, 1, 2);
    SvSim *sim = run_study(st);
    const SvRunTotals *t = sv_sim_totals(sim);
    ck_assert_int_eq(t->end_ns, 60000000);
    NEAR(t->energy_j, 14.0);
    NEAR(t->power.idle_energy_j, 8.0);
    NEAR(t->power.attributed_j, 6.0);
    NEAR(t->power.unattributed_j, 0.0);
    NEAR(t->power_mean_w, 14.0 / 0.06);
    /* Both replicas busy never overlap: the peak is one busy, one idle. */
    NEAR(t->power_peak_w, 250.0);
    NEAR(t->power.device_peak_w, 150.0);
    NEAR(t->power.device_mean_w, 14.0 / 0.06 / 2);
    ck_assert_int_eq(t->power.num_pools, 1);
    NEAR(t->power.pools[0].busy_s, 0.04);
    NEAR(t->power.pools[0].active_device_w, 150.0);
    /* Per request, by tokens: the whole of each one's iterations. */
    SvMetrics *m = sv_sim_metrics(sim);
    NEAR(sv_metrics_request_energy(m, 0), 4.5);
    NEAR(sv_metrics_request_energy(m, 1), 1.5);
    /* The timeseries: mean cluster power per 10 ms row. Row 1 (0-10 ms):
     * one busy, one idle. Row 4 (30-40 ms): both idle. */
    size_t n = 0;
    const SvSample *s = sv_metrics_samples(m, &n);
    ck_assert_uint_ge(n, 7);
    NEAR(s[1].power_w, 250.0);
    NEAR(s[4].power_w, 200.0);
    NEAR(s[6].power_w, 250.0);
    sv_sim_free(sim);
    study_free(st);
}
END_TEST

/* A mixture-of-experts model draws power.moe_active_w x (1 - moe efficiency
 * / memory efficiency) more while busy: the toy device streams experts at
 * 0.4 against 0.8, so half of 60 W, and busy is 180 W. The run of
 * test_energy_timeline then takes 30 ms x 180 + 30 ms x 100 = 8.4 J on
 * replica 0 and 50 ms x 100 + 10 ms x 180 = 6.8 J on replica 1. With fp8
 * experts streaming at 0.8 (as fast as dense weights) nothing is added,
 * and neither for a dense model. */
START_TEST(test_moe_active_power)
{
    const struct {
        int experts;
        SvDtype weights;
        double energy_j, busy_w;
    } cases[] = {
        {8, SV_DTYPE_BF16, 15.2, 180.0},
        {8, SV_DTYPE_FP8, 14.0, 150.0},
        {0, SV_DTYPE_BF16, 14.0, 150.0},
    };
    for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
        Study *st = study_new(two_requests, 1, 2);
        st->model.num_experts = cases[i].experts;
        st->cfg.engine.weight_dtype = cases[i].weights;
        st->hw[0].eff_mem = 0.8;
        st->hw[0].eff_moe_mem = 0.4;
        st->hw[0].eff_moe_mem_8bit = 0.8;
        st->hw[0].moe_active_power_w = 60;
        SvSim *sim = run_study(st);
        const SvRunTotals *t = sv_sim_totals(sim);
        NEAR(t->energy_j, cases[i].energy_j);
        NEAR(t->power.device_peak_w, cases[i].busy_w);
        NEAR(t->power.idle_energy_j, 8.0);
        sv_sim_free(sim);
        study_free(st);
    }
    /* A profile built in code leaves the MoE efficiencies 0: dense ones. */
    SvHw hw = {0};
    hw.eff_mem = 0.7;
    ck_assert(sv_hw_moe_mem_efficiency(&hw, SV_DTYPE_FP8, SV_MOE_BACKEND_AUTO) == 0.7);
    hw.eff_moe_mem_4bit = 0.3;
    ck_assert(sv_hw_moe_mem_efficiency(&hw, SV_DTYPE_FP4, SV_MOE_BACKEND_AUTO) == 0.3);
    /* A kernel family's own efficiency where the profile has one; the
     * generic one for the other formats and families. */
    hw.eff_moe_mem_8bit = 0.4;
    hw.eff_moe_mem_backend[SV_MOE_BACKEND_FLASHINFER][1] = 0.35;
    ck_assert(sv_hw_moe_mem_efficiency(&hw, SV_DTYPE_FP8, SV_MOE_BACKEND_FLASHINFER) == 0.35);
    ck_assert(sv_hw_moe_mem_efficiency(&hw, SV_DTYPE_INT8, SV_MOE_BACKEND_FLASHINFER) == 0.35);
    ck_assert(sv_hw_moe_mem_efficiency(&hw, SV_DTYPE_FP8, SV_MOE_BACKEND_AUTO) == 0.4);
    ck_assert(sv_hw_moe_mem_efficiency(&hw, SV_DTYPE_FP8, SV_MOE_BACKEND_TRITON) == 0.4);
    ck_assert(sv_hw_moe_mem_efficiency(&hw, SV_DTYPE_FP4, SV_MOE_BACKEND_FLASHINFER) == 0.3);
}
END_TEST

/* Several requests share iterations: the shares add up to the iteration
 * energy, and requests with more tokens in an iteration get more of it. */
START_TEST(test_attribution_sums)
{
    Study *st = study_new("arrival_s,input_tokens,output_tokens\n"
                          "0,100,5\n"
                          "0,300,2\n"
                          "0.002,50,7\n"
                          "0.031,1000,3\n"
                          "0.2,20,1\n",
                          1, 1);
    SvSim *sim = run_study(st);
    const SvRunTotals *t = sv_sim_totals(sim);
    SvMetrics *m = sv_sim_metrics(sim);
    double sum = 0;
    for (int id = 0; id < 5; id++) {
        double e = sv_metrics_request_energy(m, id);
        ck_assert(e > 0);
        sum += e;
    }
    NEAR(sum, t->power.attributed_j);
    NEAR(t->power.attributed_j + t->power.unattributed_j + t->power.idle_energy_j, t->energy_j);
    /* Iterations: 10 ms at 150 W each, idle 100 W the rest of the span. */
    double busy = 0.01 * (double)t->iterations;
    NEAR(t->energy_j, busy * 150 + (sv_ns_to_s(t->end_ns) - busy) * 100);
    /* Request 0 starts iteration 1 alone at its arrival; iteration 2 (1.5
     * J) holds its decode and the 300- and 50-token prompts of requests 1
     * and 2; iteration 3 their three decodes, which ends request 1. */
    NEAR(sv_metrics_request_energy(m, 1), 1.5 * 300 / 351 + 1.5 / 3);
    sv_sim_free(sim);
    study_free(st);
}
END_TEST

/* Pipeline stages of the toy: stage 0 takes 10 ms, stage 1 @ctx ms (an
 * int), whatever the batch. */
static SvTimeNs toy_stage(void *ctx, const SvBatchShape *s, int stage)
{
    return stage == 0 ? 10000000 : (SvTimeNs) * (const int *)ctx * 1000000;
}

static SvSim *run_pipeline(Study *st, int *stage1_ms)
{
    SvSimOptions opt = {.stage_time_fn = toy_stage, .stage_time_ctx = stage1_ms, .kv_blocks = 1000};
    GError *error = NULL;
    SvSim *sim = sv_sim_new(&st->cfg, st->trace, &opt, &error);
    ck_assert_msg(sim != NULL, "%s", error ? error->message : "");
    sv_sim_run(sim);
    SvSimBalance b;
    sv_sim_balance(sim, &b);
    ck_assert_uint_eq(b.events_scheduled, b.events_processed + b.events_cancelled);
    ck_assert_uint_eq(b.events_pending, 0);
    ck_assert_int_eq(b.arrived, b.completed + b.rejected);
    return sim;
}

/* One replica as a pipeline of two stages (TP 1, so one device each):
 * stage 0 takes 10 ms, stage 1 20 ms; 150 W busy, 100 W idle. Request A
 * (output 2) arrives at 0, B (output 2) at 5 ms, when stage 0 is still
 * busy. The batches:
 *   A prefill  s0 [0,10]   s1 [10,30]
 *   B prefill  s0 [10,20]  s1 [30,50]   (stage 1 busy until 30)
 *   A decode   s0 [30,40]  s1 [50,70]   (A's token at 30)
 *   B decode   s0 [50,60]  s1 [70,90]   (B's token at 50)
 * Stage 0 is busy 40 ms and idle 50 ms: 6 + 5 = 11 J; stage 1 busy 80 ms
 * and idle 10 ms: 12 + 1 = 13 J; 24 J over 90 ms. Both stages run only
 * in [10,20]: the peak is 300 W, the mean 24 / 0.09 = 266.7 W. Each batch
 * is 10 ms + 20 ms at 150 W = 4.5 J, so each request gets 9 J. */
START_TEST(test_pipeline_stages)
{
    Study *st = study_new("arrival_s,input_tokens,output_tokens\n"
                          "0,10,2\n"
                          "0.005,10,2\n",
                          1, 1);
    st->pool[0].pipeline_parallel_size = 2;
    int stage1_ms = 20;
    SvSim *sim = run_pipeline(st, &stage1_ms);
    const SvRunTotals *t = sv_sim_totals(sim);
    ck_assert_int_eq(t->end_ns, 90000000);
    NEAR(t->energy_j, 24.0);
    NEAR(t->power.idle_energy_j, 6.0);
    NEAR(t->power.attributed_j, 18.0);
    NEAR(t->power_mean_w, 24.0 / 0.09);
    NEAR(t->power_peak_w, 300.0);
    NEAR(t->power.pools[0].peak_w, 300.0);
    NEAR(t->power.pools[0].mean_w, 24.0 / 0.09);
    NEAR(t->power.device_peak_w, 150.0);
    NEAR(t->power.device_mean_w, 24.0 / 0.09 / 2);
    ck_assert_int_eq(t->power.pools[0].devices, 2);
    ck_assert_int_eq(t->power.pools[0].iterations, 4);
    /* Each device's busy time on average: (40 + 80) / 2 ms. */
    NEAR(t->power.pools[0].busy_s, 0.06);
    NEAR(t->power.pools[0].active_device_w, 150.0);
    SvMetrics *m = sv_sim_metrics(sim);
    NEAR(sv_metrics_request_energy(m, 0), 9.0);
    NEAR(sv_metrics_request_energy(m, 1), 9.0);
    /* 10 ms rows: [0,10] one stage busy; [10,20] both; [20,30] stage 1. */
    size_t n = 0;
    const SvSample *smp = sv_metrics_samples(m, &n);
    ck_assert_uint_ge(n, 10);
    NEAR(smp[1].power_w, 250.0);
    NEAR(smp[2].power_w, 300.0);
    NEAR(smp[3].power_w, 250.0);
    sv_sim_free(sim);
    study_free(st);
}
END_TEST

/* One request alone through a short pipeline, the run far shorter than a
 * timeseries row: the reported bug had the peak (then taken from the rows,
 * which run past the end of the run) below the mean. A (output 1): stage 0
 * [0,10], stage 1 [10,20]: 250 W throughout, so peak = mean = 250 W. */
START_TEST(test_pipeline_peak_not_below_mean)
{
    Study *st = study_new("arrival_s,input_tokens,output_tokens\n0,10,1\n", 1, 1);
    st->pool[0].pipeline_parallel_size = 2;
    st->cfg.output.sample_interval_s = 1.0;
    int stage1_ms = 10;
    SvSim *sim = run_pipeline(st, &stage1_ms);
    const SvRunTotals *t = sv_sim_totals(sim);
    ck_assert_int_eq(t->end_ns, 20000000);
    NEAR(t->energy_j, 5.0);
    NEAR(t->power_mean_w, 250.0);
    NEAR(t->power_peak_w, 250.0);
    ck_assert(t->power_peak_w >= t->power_mean_w);
    ck_assert(t->power.pools[0].peak_w >= t->power.pools[0].mean_w);
    ck_assert(t->power.device_peak_w >= t->power.device_mean_w);
    sv_sim_free(sim);
    study_free(st);
}
END_TEST

/* A budget over a pipeline counts and caps each stage's devices. Stages of
 * 10 ms each, budget 250 W, reaction 5 ms. A (output 4) at 0, B (output
 * 4) at 5 ms: stage 0 runs A, B, A, B... from 0 to 80 ms, stage 1 from 10
 * to 90 ms. Both stages busy from 10 ms (300 W): the controller caps each
 * stage to 125 W at 15 ms, which prices every stage run launched from 20
 * ms on (B's prefill on stage 1, [20,30], was priced at 10 ms: 150 W). So
 * the draw is 300 W in [10,20], 275 W in [20,30] and 250 W after:
 *   stage 0: 20 ms x 150 + 60 ms x 125 + 10 ms idle = 3 + 7.5 + 1 J
 *   stage 1: 10 ms idle + 20 ms x 150 + 60 ms x 125 = 1 + 3 + 7.5 J
 * 23 J; over the budget 20 ms, by 50 x 0.01 + 25 x 0.01 = 0.75 J; twelve
 * stage runs throttled (six batches, two stages each). */
START_TEST(test_pipeline_budget)
{
    Study *st = study_new("arrival_s,input_tokens,output_tokens\n"
                          "0,10,4\n"
                          "0.005,10,4\n",
                          1, 1);
    st->pool[0].pipeline_parallel_size = 2;
    st->cfg.power.budget_w = 250;
    st->cfg.power.policy = SV_CAP_UNIFORM;
    int stage1_ms = 10;
    SvSim *sim = run_pipeline(st, &stage1_ms);
    const SvRunTotals *t = sv_sim_totals(sim);
    ck_assert_int_eq(t->end_ns, 90000000);
    NEAR(t->energy_j, 23.0);
    NEAR(t->power_peak_w, 300.0);
    NEAR(t->power.over_budget_s, 0.02);
    NEAR(t->power.over_budget_j, 0.75);
    ck_assert_int_eq(t->power.pools[0].throttled, 12);
    ck_assert_int_eq(t->power.release_events, 1);
    sv_sim_free(sim);
    study_free(st);
}
END_TEST

/* A power cap on a pipeline slows each stage's compute-bound share, on the
 * power module alone. Two stages of 10 ms, each purely compute-bound at
 * half the peak FLOP rate: at the full clock a device draws 100 + 50 + 400
 * x 0.5 = 350 W. With clock_exp g the power at clock f is 100 + 250 f^g
 * (the utilisation rises as f falls, its power per FLOP falls as
 * f^(g-1)), so a 250 W cap runs at f = 0.6^(1/g) and each stage takes
 * 10 ms / f at 250 W. Launched at 0, stage 0 runs [0, d], stage 1 [d, 2d]:
 * energy 2 x (250 + 100) x d, peak 350 W. */
START_TEST(test_pipeline_cap)
{
    Study *st = study_new("arrival_s,input_tokens,output_tokens\n0,10,1\n", 1, 1);
    st->pool[0].pipeline_parallel_size = 2;
    st->pool_power[0].power_cap_w = 250;
    g_autoptr(SvPower) pw = sv_power_new(&st->cfg, NULL);
    sv_power_add_replica(pw, 0, 2);
    sv_power_replica_stages(pw, 0, 2);
    ck_assert_int_eq(sv_power_num_replicas(pw), 1);
    g_autoptr(SvEngine) engine = sv_engine_new(1);
    sv_power_attach(pw, engine);
    /* The batch's profile: times summed over the stages, work averaged
     * over the devices (each stage's device does 5e12 FLOPs). */
    SvIterProfile prof = {.compute_s = 0.02, .total_s = 0.02, .flops = 0.5 * 1e15 * 0.01};
    SvTimeNs stage_ns[2] = {10000000, 10000000};
    double e = sv_power_pipeline_stages(pw, 0, stage_ns, 0, &prof);
    double f = pow(0.6, 1 / 1.56), d = 0.01 / f;
    ck_assert_int_eq(stage_ns[0], sv_s_to_ns(d));
    ck_assert_int_eq(stage_ns[1], sv_s_to_ns(d));
    ck_assert_msg(fabs(e - 2 * 250 * d) < 1e-6, "batch energy %.9g", e);
    SvTimeNs ends[2] = {stage_ns[0], 2 * stage_ns[0]};
    sv_power_pipeline_launch(pw, 0, 0, ends);
    sv_engine_run(engine, SV_TIME_NEVER);
    SvRunTotals t = {0};
    sv_power_finish(pw, ends[1], &t);
    double span = sv_ns_to_s(ends[1]);
    ck_assert_msg(fabs(t.energy_j - 350 * span) < 1e-6, "energy %.9g", t.energy_j);
    ck_assert_msg(fabs(t.power_peak_w - 350) < 1e-6, "peak %.9g", t.power_peak_w);
    ck_assert_msg(fabs(t.power.device_peak_w - 250) < 1e-6, "device peak %.9g",
                  t.power.device_peak_w);
    ck_assert_int_eq(t.power.pools[0].throttled, 2);
    ck_assert_msg(fabs(t.power.pools[0].throttle_delay_s - 2 * (d - 0.01)) < 1e-9, "delay %.9g",
                  t.power.pools[0].throttle_delay_s);
    study_free(st);
}
END_TEST

/* Cost and carbon: 2 devices for 60 ms at $3.6/device-hour, 14 J at PUE 1.5,
 * $0.2/kWh, 400 gCO2/kWh. */
START_TEST(test_cost_carbon)
{
    Study *st = study_new(two_requests, 1, 2);
    st->pool_power[0].usd_per_device_hour = 3.6;
    st->cfg.power.pue = 1.5;
    st->cfg.power.usd_per_kwh = 0.2;
    st->cfg.power.carbon_g_per_kwh = 400;
    SvSim *sim = run_study(st);
    const SvRunTotals *t = sv_sim_totals(sim);
    double kwh = 14.0 * 1.5 / 3.6e6;
    NEAR(t->power.facility_energy_j, 21.0);
    NEAR(t->power.pools[0].device_hours, 2 * 0.06 / 3600);
    NEAR(t->power.device_cost_usd, 3.6 * 2 * 0.06 / 3600);
    NEAR(t->power.energy_cost_usd, kwh * 0.2);
    NEAR(t->cost_usd, 3.6 * 2 * 0.06 / 3600 + kwh * 0.2);
    NEAR(t->power.carbon_g, kwh * 400);
    /* summary.json: cost per million output tokens (4 tokens). */
    g_autofree char *dir = g_dir_make_tmp("sv-power-XXXXXX", NULL);
    GError *error = NULL;
    ck_assert(sv_metrics_write(sv_sim_metrics(sim), &st->cfg, t, dir, &error));
    g_autofree char *path = g_build_filename(dir, "summary.json", NULL);
    g_autofree char *text = NULL;
    ck_assert(g_file_get_contents(path, &text, NULL, NULL));
    g_autofree char *want = g_strdup_printf("\"usd_per_million_output_tokens\": ");
    const char *at = strstr(text, want);
    ck_assert(at != NULL);
    NEAR(g_ascii_strtod(at + strlen(want), NULL), t->cost_usd / 4 * 1e6);
    ck_assert(strstr(text, "\"energy_j\": 14.0,") != NULL);
    g_autofree char *req = g_build_filename(dir, "requests.csv", NULL);
    g_autofree char *rows = NULL;
    ck_assert(g_file_get_contents(req, &rows, NULL, NULL));
    ck_assert(strstr(rows, ",energy_j,") != NULL);
    ck_assert(strstr(rows, ",4.500000,") != NULL);
    const char *files[] = {"summary.json", "requests.csv", "timeseries.csv"};
    for (int i = 0; i < 3; i++) {
        g_autofree char *f = g_build_filename(dir, files[i], NULL);
        g_unlink(f);
    }
    g_rmdir(dir);
    sv_sim_free(sim);
    study_free(st);
}
END_TEST

/* An H100-like device (idle 75 W, TDP 700 W) running a purely
 * compute-bound iteration that needs all of its 700 W. */
static void h100_like(SvDevicePower *dev)
{
    memset(dev, 0, sizeof *dev);
    dev->idle_w = 75;
    dev->max_w = 700;
    dev->active_w = 170;
    dev->compute_w = 620;
    dev->memory_w = 100;
    dev->peak_flops = 989e12;
    dev->peak_bytes_per_s = 3.35e12;
    dev->clock_exp = 1.56;
    dev->memory_sensitivity = 0.05;
}

/* The documented factor: SplitwiseSim's H100 capped at 70 % of its TDP
 * (490 W) runs prompts 1.30x slower; the model's exponent 1.56 reproduces
 * it for an iteration at the 700 W limit, (415/625)^(-1/1.56) = 1.30. */
START_TEST(test_cap_factor)
{
    SvDevicePower dev;
    h100_like(&dev);
    SvIterProfile prefill = {.compute_s = 0.1, .total_s = 0.1, .flops = 0.8 * 989e12 * 0.1};
    double w = 0;
    gboolean unmet = TRUE;
    ck_assert(sv_device_power_w(&dev, &prefill, 0, 1.0) > 700);
    double f = sv_device_power_clock(&dev, &prefill, 0, 1.0, 0, &w, &unmet);
    ck_assert(f == 1.0 && !unmet);
    NEAR(w, 700.0); /* clamped to the board limit */
    f = sv_device_power_clock(&dev, &prefill, 0, 1.0, 490, &w, &unmet);
    ck_assert(!unmet);
    ck_assert_msg(fabs(w - 490) < 1e-3, "power %g", w);
    double slow = sv_iter_profile_time_s(&prefill, f, dev.memory_sensitivity) / prefill.total_s;
    ck_assert_msg(fabs(slow - pow(415.0 / 625.0, -1 / 1.56)) < 1e-6, "slowdown %g", slow);
    ck_assert_msg(fabs(slow - 1.30) < 0.005, "slowdown %g", slow);

    /* Decode: memory-bound at 40 % of the bandwidth, well under 490 W. */
    SvIterProfile decode = {.memory_s = 0.02,
                            .total_s = 0.02,
                            .flops = 0.02 * 989e12 * 0.02,
                            .bytes = 0.4 * 3.35e12 * 0.02};
    double dw = sv_device_power_w(&dev, &decode, 0, 1.0);
    ck_assert(dw < 490);
    f = sv_device_power_clock(&dev, &decode, 0, 1.0, 490, &w, &unmet);
    ck_assert(f == 1.0);
    NEAR(w, dw);
    /* A cap below the busy floor cannot be met. */
    f = sv_device_power_clock(&dev, &prefill, 0, 1.0, 90, &w, &unmet);
    ck_assert(unmet && f == SV_POWER_MIN_CLOCK);
}
END_TEST

/* A locked clock at half the maximum: compute-bound time doubles,
 * memory-bound time grows by the sensitivity, the rest stays. */
START_TEST(test_clock_time)
{
    SvIterProfile p = {.compute_s = 0.01, .memory_s = 0.02, .comm_s = 0.003, .total_s = 0.034};
    NEAR(sv_iter_profile_time_s(&p, 1.0, 0.05), 0.034);
    NEAR(sv_iter_profile_time_s(&p, 0.5, 0.05), 0.034 + 0.01 + 0.02 * 0.05);
    SvDevicePower dev;
    h100_like(&dev);
    /* Power falls with the clock: the active part as f^1.56. */
    SvIterProfile none = {0};
    NEAR(sv_device_power_w(&dev, &none, 0.01, 0.5), 75 + 170 * pow(0.5, 1.56));
}
END_TEST

/* The budget: two replicas each 150 W busy, 100 W idle, budget 250 W.
 * Both start at 0 (300 W); the controller acts 5 ms later and caps every
 * device to 125 W; the iterations starting at 10 ms draw 125 W each. The
 * draw was over the budget from 0 to 10 ms, 50 W above it. */
START_TEST(test_budget_capping)
{
    Study *st = study_new("arrival_s,input_tokens,output_tokens\n"
                          "0,10,4\n"
                          "0,10,4\n",
                          1, 2);
    st->cfg.power.budget_w = 250;
    st->cfg.power.policy = SV_CAP_UNIFORM;
    SvSim *sim = run_study(st);
    const SvRunTotals *t = sv_sim_totals(sim);
    ck_assert_int_eq(t->power.capping_events, 1);
    ck_assert_int_eq(t->power.release_events, 1);
    NEAR(t->power.over_budget_s, 0.01);
    NEAR(t->power.over_budget_j, 0.5);
    /* Three more iterations each at 125 W: 2 x (10 ms x 150 + 30 ms x 125). */
    NEAR(t->energy_j, 2 * (0.01 * 150 + 0.03 * 125));
    NEAR(t->power_peak_w, 300);
    ck_assert_int_eq(t->power.pools[0].throttled, 6);
    ck_assert(t->power.capped_s > 0.03);
    sv_sim_free(sim);
    study_free(st);
}
END_TEST

/* Lowest priority first: of two pools, only the low-priority one is
 * capped when capping it alone brings the draw under the budget. Uniform
 * caps both. */
START_TEST(test_budget_policies)
{
    const char *trace = "arrival_s,input_tokens,output_tokens\n"
                        "0,10,4\n"
                        "0,10,4\n";
    for (int policy = 0; policy < 2; policy++) {
        Study *st = study_new(trace, 2, 1);
        st->cfg.power.budget_w = 260;
        st->cfg.power.policy = policy == 0 ? SV_CAP_UNIFORM : SV_CAP_LOWEST_PRIORITY_FIRST;
        st->pool_power[0].priority = 1;
        st->pool_power[1].priority = 0;
        SvSim *sim = run_study(st);
        const SvRunTotals *t = sv_sim_totals(sim);
        ck_assert_int_eq(t->power.capping_events, 1);
        if (policy == 0) {
            ck_assert_int_eq(t->power.pools[0].throttled, 3);
            ck_assert_int_eq(t->power.pools[1].throttled, 3);
        } else {
            ck_assert_int_eq(t->power.pools[0].throttled, 0);
            ck_assert_int_eq(t->power.pools[1].throttled, 3);
            /* Pool b alone goes to 260 - 150 = 110 W. */
            NEAR(t->power.pools[1].energy_j, 0.01 * 150 + 0.03 * 110);
        }
        sv_sim_free(sim);
        study_free(st);
    }
}
END_TEST

/* ---- the power: section and its bad input ---- */

static SvConfig *load_study(const char *power_yaml, GError **error)
{
    g_autofree char *text = g_strdup_printf(
        "model: llama-3-8b\n"
        "cluster:\n"
        "  pools:\n"
        "    - {name: main, hardware: h100-sxm, replicas: 2}\n"
        "workload:\n"
        "  lengths: {input: {dist: fixed, value: 512}, output: {dist: fixed, value: 16}}\n"
        "  arrival: {process: poisson, rate_per_s: 2}\n"
        "  num_requests: 20\n"
        "%s",
        power_yaml);
    g_autofree char *path = sv_test_write_tmp(text, ".yaml");
    SvConfig *c = sv_config_load(path, NULL, error);
    g_unlink(path);
    return c;
}

START_TEST(test_config_power)
{
    GError *error = NULL;
    g_autoptr(SvConfig) c =
        load_study("power:\n"
                   "  pools: [{name: main, power_cap_w: 500, priority: 2,\n"
                   "           usd_per_device_hour: 2.5}]\n"
                   "  cluster: {oversubscription: 0.4, policy: prefill-first}\n"
                   "  cost: {usd_per_kwh: 0.1, pue: 1.2, carbon_g_per_kwh: 300}\n",
                   &error);
    ck_assert_msg(c != NULL, "%s", error ? error->message : "");
    ck_assert_int_eq(c->power.num_pools, 1);
    NEAR(c->power.pools[0].power_cap_w, 500);
    ck_assert_int_eq(c->power.pools[0].priority, 2);
    NEAR(c->power.budget_w, 2 * 700 / 1.4);
    ck_assert_int_eq(c->power.policy, SV_CAP_PREFILL_FIRST);
    NEAR(c->power.reaction_delay_s, 1.0);
    NEAR(c->power.pue, 1.2);
    /* No power: section: defaults. */
    g_autoptr(SvConfig) d = load_study("", &error);
    ck_assert(d != NULL && d->power.budget_w == 0 && d->power.pue == 1.0);
}
END_TEST

static void expect_error(const char *power_yaml, const char *text)
{
    GError *error = NULL;
    SvConfig *c = load_study(power_yaml, &error);
    ck_assert_msg(c == NULL, "accepted: %s", power_yaml);
    ck_assert_msg(strstr(error->message, text) != NULL, "'%s' lacks '%s'", error->message, text);
    ck_assert(sv_error_is_input(error));
    g_error_free(error);
}

START_TEST(test_config_errors)
{
    expect_error("power: {pools: [{name: main, power_cap_w: 60}]}\n",
                 "power_cap_w 60 W is not above the idle power of h100-sxm (75 W)");
    expect_error("power: {pools: [{name: main, power_cap_w: -5}]}\n", "must be greater than 0");
    expect_error("power: {pools: [{name: main, power_cap_w: 900}]}\n", "above the board limit");
    expect_error("power: {pools: [{name: mian, power_cap_w: 500}]}\n", "did you mean 'main'");
    expect_error("power: {cluster: {budget_w: 100}}\n",
                 "budget of 100 W is not above the cluster's idle draw of 150 W (2 devices)");
    expect_error("power: {cluster: {budget_w: 1000, oversubscription: 0.2}}\n", "not both");
    expect_error("power: {cluster: {policy: uniform}}\n", "needs budget_w");
    expect_error("power: {cost: {pue: 0.8}}\n", "pue must be at least 1");
    expect_error("power: {pools: [{name: main, sm_clock_mhz: 3000}]}\n", "above the 1980 MHz");
    expect_error("power: {cluster: {budget_w: 1000, policy: random}}\n", "power.cluster.policy");
}
END_TEST

/* What test_cap_prefill_not_decode compares. */
typedef struct {
    double device_peak_w, energy_j, ttft_p50_s, tpot_p50_s;
    int64_t throttled;
} Outcome;

/* Llama 3 8B on one H100 serving 40 requests (2k-token prompts, 2 output
 * tokens, 2 per second, unless @sets say otherwise) under @power_yaml. */
static Outcome run_h100(const char *power_yaml, const char *const *sets)
{
    g_autofree char *text = g_strdup_printf("model: llama-3-8b\n"
                                            "cluster:\n"
                                            "  pools:\n"
                                            "    - {name: main, hardware: h100-sxm}\n"
                                            "workload:\n"
                                            "  lengths: {input: {dist: fixed, value: 2048},\n"
                                            "            output: {dist: fixed, value: 2}}\n"
                                            "  arrival: {process: poisson, rate_per_s: 2}\n"
                                            "  num_requests: 40\n"
                                            "%s",
                                            power_yaml);
    g_autofree char *path = sv_test_write_tmp(text, ".yaml");
    GError *error = NULL;
    g_autoptr(SvConfig) c = sv_config_load(path, sets, &error);
    g_unlink(path);
    ck_assert_msg(c != NULL, "%s", error ? error->message : "");
    g_autoptr(SvSim) sim = sv_sim_new(c, NULL, NULL, &error);
    ck_assert_msg(sim != NULL, "%s", error ? error->message : "");
    sv_sim_run(sim);
    const SvRunTotals *t = sv_sim_totals(sim);
    SvSummary s;
    sv_metrics_summarize(sv_sim_metrics(sim), t, &s);
    return (Outcome){.device_peak_w = t->power.device_peak_w,
                     .energy_j = t->energy_j,
                     .ttft_p50_s = s.ttft_s.p50,
                     .tpot_p50_s = s.tpot_s.p50,
                     .throttled = t->power.pools[0].throttled};
}

/* With the real predictor on an H100: a 600 W cap throttles the
 * compute-bound prefills of 2k-token prompts (their TTFT grows, the energy
 * falls, no device goes above 600 W) and leaves short-prompt decoding, which
 * draws less, untouched. */
START_TEST(test_cap_prefill_not_decode)
{
    const char *const prefill[] = {NULL};
    const char *cap = "power: {pools: [{name: main, power_cap_w: 600}]}\n";
    Outcome free_run = run_h100("", prefill), capped = run_h100(cap, prefill);
    ck_assert_int_eq(free_run.throttled, 0);
    ck_assert_int_gt(capped.throttled, 0);
    ck_assert(free_run.device_peak_w > 600);
    ck_assert(capped.device_peak_w <= 600 + 1e-6);
    ck_assert_msg(capped.ttft_p50_s > 1.02 * free_run.ttft_p50_s, "TTFT %g vs %g",
                  capped.ttft_p50_s, free_run.ttft_p50_s);
    ck_assert(capped.energy_j < free_run.energy_j);

    const char *const decode[] = {"workload.lengths.input.value=16",
                                  "workload.lengths.output.value=256", NULL};
    free_run = run_h100("", decode);
    capped = run_h100(cap, decode);
    ck_assert_int_eq(capped.throttled, 0);
    ck_assert(capped.tpot_p50_s == free_run.tpot_p50_s);
    ck_assert(capped.energy_j == free_run.energy_j);
}
END_TEST

/* ---- the fit ---- */

/* The host term: a device draws host_w through the share of the iteration
 * the predictor spends outside its kernels and collectives. A 10 ms step
 * of 2 ms compute, 3 ms memory and 1 ms collectives has 4 ms of host time;
 * 1e12 FLOPs of a 1e15 FLOP/s peak over 10 ms is u_c 0.1 (400 W x 0.1) and
 * 2e9 bytes of 1e12 B/s u_m 0.2 (100 W x 0.2): 100 + 50 + 40 + 20 = 210 W,
 * plus 200 W x 0.4 = 290 W with host_w 200. A profile whose parts exceed
 * its total (float rounding) has no host time. */
START_TEST(test_host_power)
{
    SvDevicePower dev = {.idle_w = 100,
                         .max_w = 700,
                         .active_w = 50,
                         .compute_w = 400,
                         .memory_w = 100,
                         .peak_flops = 1e15,
                         .peak_bytes_per_s = 1e12,
                         .clock_exp = 1.56};
    SvIterProfile prof = {.compute_s = 0.002,
                          .memory_s = 0.003,
                          .comm_s = 0.001,
                          .total_s = 0.010,
                          .flops = 1e12,
                          .bytes = 2e9};
    NEAR(sv_device_power_w(&dev, &prof, 0, 1.0), 210.0);
    dev.host_w = 200;
    NEAR(sv_device_power_w(&dev, &prof, 0, 1.0), 290.0);
    /* 10 ms more (a copy) halves every share: 100 + 50 + 20 + 10 + 40. */
    NEAR(sv_device_power_w(&dev, &prof, 0.010, 1.0), 220.0);
    prof.comm_s = 0.0051;
    NEAR(sv_device_power_w(&dev, &prof, 0, 1.0), 210.0);
}
END_TEST

/* An eager step's extra time draws what the rest of the step draws: the
 * step of test_host_power (290 W with host_w 200) made 5 ms longer by
 * eager_s still draws 290 W, where counted as host time (the 9 ms of host
 * in 15 ms) it would draw 100 + 50 + 400 x 0.0667 + 100 x 0.1333 + 200 x
 * 0.6 = 310 W, and as idle SMs 100 + 50 + (40 + 20 + 80) x 10 / 15 =
 * 243.3 W. A 10 ms copy on top halves the shares again: 220 W. */
START_TEST(test_eager_power)
{
    SvDevicePower dev = {.idle_w = 100,
                         .max_w = 700,
                         .active_w = 50,
                         .compute_w = 400,
                         .memory_w = 100,
                         .host_w = 200,
                         .peak_flops = 1e15,
                         .peak_bytes_per_s = 1e12,
                         .clock_exp = 1.56};
    SvIterProfile prof = {.compute_s = 0.002,
                          .memory_s = 0.003,
                          .comm_s = 0.001,
                          .total_s = 0.015,
                          .eager_s = 0.005,
                          .flops = 1e12,
                          .bytes = 2e9};
    NEAR(sv_device_power_w(&dev, &prof, 0, 1.0), 290.0);
    NEAR(sv_device_power_w(&dev, &prof, 0.010, 1.0), 220.0);
    /* All of the step eager: nothing to take the activity over, busy only. */
    SvIterProfile only = {.total_s = 0.005, .eager_s = 0.005};
    NEAR(sv_device_power_w(&dev, &only, 0, 1.0), 150.0);
}
END_TEST

/* Points made from known parameters come back exactly; the fit is a
 * deterministic function of its input (same points, same bytes out). */
START_TEST(test_fit_recovers)
{
    SvPowerFitPoint pts[6];
    double idle = 75, a = 180, c = 600, m = 110, h = 90;
    double uc[] = {0.05, 0.2, 0.5, 0.7, 0.1, 0.35}, um[] = {0.6, 0.7, 0.3, 0.1, 0.8, 0.5};
    double sh[] = {0.1, 0.4, 0.0, 0.2, 0.6, 0.3};
    for (int i = 0; i < 6; i++) {
        pts[i] = (SvPowerFitPoint){
            .busy = 1, .util_flops = uc[i], .util_mem = um[i], .host = sh[i], .weight = 1};
        pts[i].power_w = idle + a + c * uc[i] + m * um[i] + h * sh[i];
    }
    SvPowerFit fit;
    GError *error = NULL;
    ck_assert(sv_power_fit(pts, 6, idle, 700, &fit, &error));
    ck_assert_msg(fabs(fit.active_w - a) < 1e-6 && fabs(fit.compute_w - c) < 1e-6 &&
                      fabs(fit.memory_w - m) < 1e-6 && fabs(fit.host_w - h) < 1e-6,
                  "%g %g %g %g", fit.active_w, fit.compute_w, fit.memory_w, fit.host_w);
    ck_assert(fit.rms_w < 1e-6);
    /* Points without host time (no util_host column) fit host_w = 0. */
    for (int i = 0; i < 6; i++) {
        pts[i].host = 0;
        pts[i].power_w = idle + a + c * uc[i] + m * um[i];
    }
    ck_assert(sv_power_fit(pts, 6, idle, 700, &fit, &error));
    ck_assert(fit.host_w == 0 && fabs(fit.active_w - a) < 1e-6);
    /* The host term stops at the board's dynamic range, max - idle: data
     * that want 900 W of a 700 W board idle at 75 W get 625 W. */
    for (int i = 0; i < 6; i++) {
        pts[i].host = sh[i];
        pts[i].power_w = idle + a + c * uc[i] + m * um[i] + 900 * sh[i];
    }
    ck_assert(sv_power_fit(pts, 6, idle, 700, &fit, &error));
    ck_assert_msg(fit.host_w == 625 && fit.active_w >= 0 && fit.compute_w >= 0 &&
                      fit.memory_w >= 0 && fit.rms_w > 0,
                  "%g", fit.host_w);
    SvPowerFit again;
    ck_assert(sv_power_fit(pts, 6, idle, 700, &again, &error));
    ck_assert(memcmp(&fit, &again, sizeof fit) == 0);
    /* Negative slopes are not physical: the fit keeps every term >= 0. */
    for (int i = 0; i < 6; i++)
        pts[i].power_w = idle + 200 - 50 * uc[i] + 80 * um[i];
    ck_assert(sv_power_fit(pts, 6, idle, 700, &fit, &error));
    ck_assert(fit.active_w >= 0 && fit.compute_w >= 0 && fit.memory_w >= 0);
    /* Too few points: four terms want four. */
    ck_assert(!sv_power_fit(pts, 3, idle, 700, &fit, &error));
    g_clear_error(&error);
}
END_TEST

/* The shipped profiles are what the shipped fit points give: rerunning the
 * fit (servesim calibrate --power, as validation/power/fit.sh does) on
 * validation/power/points-<group>.csv reproduces each profile byte for
 * byte. */
START_TEST(test_fit_reproduces_profiles)
{
    const char *const pairs[][2] = {{"h100-sxm", "h100-sxm"},
                                    {"b200", "b200"},
                                    {"a100-sxm-80g", "a100"},
                                    {"a100-sxm-40g", "a100"}};
    for (size_t i = 0; i < G_N_ELEMENTS(pairs); i++) {
        g_autofree char *rel = g_strdup_printf("validation/power/points-%s.csv", pairs[i][1]);
        g_autofree char *points = sv_test_src_path(rel);
        g_autofree char *hwrel = g_strdup_printf("hwprofiles/%s.yaml", pairs[i][0]);
        g_autofree char *hwpath = sv_test_src_path(hwrel);
        GError *error = NULL;
        g_autoptr(SvHw) hw = sv_hw_load(hwpath, &error);
        ck_assert_msg(hw != NULL, "%s", error ? error->message : "");
        g_autoptr(GArray) pts = sv_power_fit_read_points(points, &error);
        ck_assert_msg(pts != NULL, "%s", error ? error->message : "");
        SvPowerFit fit;
        ck_assert(sv_power_fit((const SvPowerFitPoint *)(void *)pts->data, (int)pts->len,
                               hw->idle_power_w, hw->max_power_w, &fit, &error));
        g_autofree char *text = NULL;
        ck_assert(g_file_get_contents(hwpath, &text, NULL, NULL));
        g_autofree char *source = sv_power_fit_source(&fit, rel);
        g_autofree char *again = sv_power_fit_profile(text, &fit, source, &error);
        ck_assert_msg(again != NULL && strcmp(again, text) == 0,
                      "%s: refitting validation/power/points-%s.csv changes the profile",
                      pairs[i][0], pairs[i][1]);
        NEAR(hw->active_power_w, MAX(0.1, round(fit.active_w * 10) / 10));
        NEAR(hw->host_power_w, round(fit.host_w * 10) / 10);
        ck_assert(fit.host_w <= hw->max_power_w - hw->idle_power_w);
    }
}
END_TEST

Suite *power_suite(void)
{
    Suite *s = suite_create("power");
    TCase *tc = tcase_create("energy");
    tcase_add_test(tc, test_energy_timeline);
    tcase_add_test(tc, test_moe_active_power);
    tcase_add_test(tc, test_host_power);
    tcase_add_test(tc, test_eager_power);
    tcase_add_test(tc, test_attribution_sums);
    tcase_add_test(tc, test_cost_carbon);
    tcase_add_test(tc, test_pipeline_stages);
    tcase_add_test(tc, test_pipeline_peak_not_below_mean);
    suite_add_tcase(s, tc);
    tc = tcase_create("caps");
    tcase_add_test(tc, test_cap_factor);
    tcase_add_test(tc, test_clock_time);
    tcase_add_test(tc, test_budget_capping);
    tcase_add_test(tc, test_budget_policies);
    tcase_add_test(tc, test_cap_prefill_not_decode);
    tcase_add_test(tc, test_pipeline_budget);
    tcase_add_test(tc, test_pipeline_cap);
    suite_add_tcase(s, tc);
    tc = tcase_create("config");
    tcase_add_test(tc, test_config_power);
    tcase_add_test(tc, test_config_errors);
    suite_add_tcase(s, tc);
    tc = tcase_create("fit");
    tcase_add_test(tc, test_fit_recovers);
    tcase_add_test(tc, test_fit_reproduces_profiles);
    suite_add_tcase(s, tc);
    return s;
}
