/* Attention data parallelism (data_parallel_size): the engine limits bind
 * per data-parallel rank as in vLLM, so a replica of dp ranks batches dp x
 * max_num_seqs sequences and dp x max_num_batched_tokens tokens (two
 * hand-computed timelines where the limit binds); the analytic throughput
 * bound counts the dp ranks' devices and batch room (by hand), and stays
 * above what simulated DP plans achieve; the power budget derived from the
 * nameplate and the run's device count include every rank. */
#include <math.h>
#include <string.h>

#include "metrics/metrics.h"
#include "search/bound.h"
#include "serve/sim.h"
#include "testutil.h"

#include <glib/gstdio.h>

/* ---- per-rank engine limits, with the toy iteration model ---- */

typedef struct {
    SvConfig cfg;
    SvModel model;
    SvHw hw;
    SvPoolConfig pool;
    SvTrace *trace;
    char *trace_path;
} Study;

/* One replica of @dp attention ranks under vLLM v1 (the test's time
 * function stands in for the predictor, so the toy model needs no
 * experts). */
static Study *study_new(const char *trace_csv, int dp)
{
    Study *st = g_new0(Study, 1);
    st->model.name = "toy";
    st->model.max_position_embeddings = 4096;
    st->hw.name = "toy-hw";
    st->hw.peak_flops[SV_DTYPE_BF16] = 1e15;
    st->pool.name = "main";
    st->pool.hw = &st->hw;
    st->pool.replicas = 1;
    st->pool.tensor_parallel_size = 1;
    st->pool.pipeline_parallel_size = 1;
    st->pool.expert_parallel_size = dp;
    st->pool.data_parallel_size = dp;
    st->cfg.path = "toy.yaml";
    st->cfg.seed = 1;
    st->cfg.model = &st->model;
    st->cfg.router = SV_ROUTER_ROUND_ROBIN;
    st->cfg.pools = g_ptr_array_new();
    g_ptr_array_add(st->cfg.pools, &st->pool);
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
    st->cfg.output.sample_interval_s = 0.001;
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

/* Run @st (1 ms + 10 us per token an iteration, 1,000 KV blocks) and check
 * every request's first token and finish against @want (ms, id order). */
static void expect_timeline(Study *st, const double (*want)[2], int n)
{
    SvSimOptions opt = {.iter_time_fn = sv_test_toy_time, .kv_blocks = 1000};
    GError *error = NULL;
    g_autoptr(SvSim) sim = sv_sim_new(&st->cfg, st->trace, &opt, &error);
    ck_assert_msg(sim != NULL, "%s", error ? error->message : "");
    sv_sim_run(sim);
    sv_test_check_balance(sim);
    ck_assert_uint_eq(sv_metrics_num_requests(sv_sim_metrics(sim)), (size_t)n);
    for (int k = 0; k < n; k++) {
        const SvRequestRecord *r = sv_metrics_request(sv_sim_metrics(sim), (size_t)k);
        int id = r->id;
        ck_assert(id >= 0 && id < n);
        SvTimeNs ttft = (SvTimeNs)llround(want[id][0] * 1e6);
        SvTimeNs fin = (SvTimeNs)llround(want[id][1] * 1e6);
        ck_assert_msg(r->first_token_ns == ttft && r->finish_ns == fin,
                      "dp=%d request %d: first token %" G_GINT64_FORMAT " finish %" G_GINT64_FORMAT
                      " ns, want %" G_GINT64_FORMAT " and %" G_GINT64_FORMAT,
                      st->pool.data_parallel_size, id, r->first_token_ns, r->finish_ns, ttft, fin);
    }
}

/* max_num_seqs 1 per rank, three 100-token prompts (2 output tokens) at 0;
 * the first arrival starts an iteration on its own (2 ms) before the
 * others are queued.
 * dp = 2 (two sequences at a time): at 2 ms request 0's decode runs with
 * request 1's prefill, 101 tokens, 2.01 ms; at 4.01 request 1's decode with
 * request 2's prefill (6.02); request 2's decode ends at 7.03.
 * dp = 1: one at a time, 2 + 1.01 ms each: 2 / 3.01, 5.01 / 6.02, 8.02 / 9.03. */
START_TEST(test_max_num_seqs_per_rank)
{
    const char *csv = "arrival_s,input_tokens,output_tokens\n0,100,2\n0,100,2\n0,100,2\n";
    const double dp2[][2] = {{2, 4.01}, {4.01, 6.02}, {6.02, 7.03}};
    const double dp1[][2] = {{2, 3.01}, {5.01, 6.02}, {8.02, 9.03}};
    Study *st = study_new(csv, 2);
    st->cfg.engine.max_num_seqs = 1;
    expect_timeline(st, dp2, 3);
    st->pool.data_parallel_size = st->pool.expert_parallel_size = 1;
    expect_timeline(st, dp1, 3);
    study_free(st);
}
END_TEST

/* max_num_batched_tokens 100 per rank, two 150-token prompts (2 output
 * tokens) at 0, chunked prefill; request 0 starts alone.
 * dp = 2 (budget 200, but one request's chunk at most one rank's 100, as
 * each vLLM rank schedules its own): 100 of request 0 (2 ms); its last 50
 * with 100 of request 1, 150 tokens, 2.5 ms (4.5: 0's first token); 0's
 * decode with 1's last 50, 51 tokens, 1.51 ms (6.01: 0 finishes, 1 has its
 * first token); 1's decode, 1.01 ms (7.02).
 * dp = 1 (budget 100): 100 of request 0 (2 ms), its last 50 with 50 of 1
 * (2 ms, t=4: 0's first token), 0's decode with 99 of 1 (2 ms, t=6: 0
 * finishes), the last token of 1's prompt (1.01 ms, 7.01: its first
 * token), its decode (1.01 ms, 8.02). */
START_TEST(test_token_budget_per_rank)
{
    const char *csv = "arrival_s,input_tokens,output_tokens\n0,150,2\n0,150,2\n";
    const double dp2[][2] = {{4.5, 6.01}, {6.01, 7.02}};
    const double dp1[][2] = {{4, 6}, {7.01, 8.02}};
    Study *st = study_new(csv, 2);
    st->cfg.engine.max_num_batched_tokens = 100;
    expect_timeline(st, dp2, 2);
    st->pool.data_parallel_size = st->pool.expert_parallel_size = 1;
    expect_timeline(st, dp1, 2);
    study_free(st);
    /* A running prefill is capped too: one 250-token prompt at dp = 2 runs
     * as 100 (2 ms), 100 (2 ms) and 50 tokens (1.5 ms: first token at 5.5),
     * then its decode (1.01 ms), the same steps as at dp = 1. */
    const double one[][2] = {{5.5, 6.51}};
    st = study_new("arrival_s,input_tokens,output_tokens\n0,250,2\n", 2);
    st->cfg.engine.max_num_batched_tokens = 100;
    expect_timeline(st, one, 1);
    st->pool.data_parallel_size = st->pool.expert_parallel_size = 1;
    expect_timeline(st, one, 1);
    study_free(st);
}
END_TEST

/* The helper itself: dp x the per-rank values, everything else as given,
 * and saturation instead of overflow. */
START_TEST(test_pool_engine)
{
    SvEngineConfig e = {.max_num_seqs = 256, .max_num_batched_tokens = 8192, .block_size = 16};
    SvPoolConfig pool = {.data_parallel_size = 16};
    SvEngineConfig out;
    sv_sim_pool_engine(&e, &pool, &out);
    ck_assert_int_eq(out.max_num_seqs, 4096);
    ck_assert_int_eq(out.max_num_batched_tokens, 131072);
    ck_assert_int_eq(out.block_size, 16);
    pool.data_parallel_size = 0; /* unset: one rank */
    sv_sim_pool_engine(&e, &pool, &out);
    ck_assert_int_eq(out.max_num_seqs, 256);
    e.max_num_seqs = 1048576;
    e.max_num_batched_tokens = 1 << 24;
    pool.data_parallel_size = 4096;
    sv_sim_pool_engine(&e, &pool, &out);
    ck_assert_int_eq(out.max_num_seqs, G_MAXINT32);
    ck_assert_int_eq(out.max_num_batched_tokens, G_MAXINT32);
}
END_TEST

/* ---- the bound ---- */

static SvConfig *load_text(const char *text, char **path_out)
{
    *path_out = sv_test_write_tmp(text, ".yaml");
    g_autoptr(GError) error = NULL;
    SvConfig *c = sv_config_load(*path_out, NULL, &error);
    ck_assert_msg(c != NULL, "%s", error ? error->message : "");
    return c;
}

/* By hand: 10 requests of 100 input and 11 output tokens on one Mixtral
 * 8x7B replica of two H100s, as TP 1 x DP 2 (EP 2) and as TP 2 (EP 2).
 * Both have 2 devices, so the same FLOP time; the DP replica batches 2 x 4
 * sequences, so its 100 decode steps need 12.5 iterations of the weights
 * where TP 2 needs 25. */
START_TEST(test_bound_dp_by_hand)
{
    const char *fmt = "model: mixtral-8x7b\n"
                      "cluster: {pools: [{name: m, hardware: h100-sxm, replicas: 1,\n"
                      "  tensor_parallel_size: %d, data_parallel_size: %d, "
                      "expert_parallel_size: 2}]}\n"
                      "engine: {max_num_seqs: 4}\n"
                      "workload:\n"
                      "  lengths: {input: {dist: fixed, value: 100}, output: {dist: fixed, "
                      "value: 11}}\n"
                      "  arrival: {process: constant, rate_per_s: 2}\n"
                      "  num_requests: 10\n";
    SvPlanBound b[2];
    const SvModel *m = NULL;
    double peak = 0, bw = 0, active = 0, lm = 0;
    for (int k = 0; k < 2; k++) {
        int dp = k == 0 ? 2 : 1, tp = 3 - dp;
        g_autofree char *text = g_strdup_printf(fmt, tp, dp);
        g_autofree char *path = NULL;
        g_autoptr(SvConfig) c = load_text(text, &path);
        g_autoptr(GError) error = NULL;
        SvWorkloadWork work;
        ck_assert(sv_workload_work(c, NULL, &work, &error));
        ck_assert_int_eq(work.requests->len, 10);
        ck_assert_msg(sv_plan_bound(c, &work, &b[k], &error), "%s", error ? error->message : "");
        sv_workload_work_clear(&work);
        ck_assert_int_eq(b[k].requests, 10);
        m = c->model;
        const SvHw *hw = ((SvPoolConfig *)g_ptr_array_index(c->pools, 0))->hw;
        peak = sv_hw_matmul_peak(hw, SV_DTYPE_BF16, SV_DTYPE_BF16);
        bw = hw->mem_bw_bytes_per_s;
        lm = (double)m->vocab_size * m->hidden_size; /* 32000 x 4096 */
        active = (double)sv_model_active_param_count(m);
        unlink(path);
    }
    (void)m;
    /* FLOPs: 1,100 tokens through the layers, 110 through the LM head, on
     * 2 devices' peaks. */
    double flops = 2 * (active - lm) * 1100 + 2 * lm * 110;
    for (int k = 0; k < 2; k++)
        ck_assert(fabs(b[k].compute_s - flops / (2 * peak)) < 1e-12 * b[k].compute_s);
    /* Bytes: iterations x the active weights (bf16) + the KV read, per
     * request sum_{j=1..10} (100 + j - 1) = 1045 tokens of 128 KiB (32
     * layers x 2 x 8 KV heads x 128 x 2 bytes; TP 2 holds half the heads
     * on each of its devices, the same bytes in all). */
    double weights = (active - lm) * 2;
    double kv = 10 * 1045.0 * 32 * 2 * 8 * 128 * 2;
    double mem_dp = (12.5 * weights + kv) / (2 * bw);
    double mem_tp = (25 * weights + kv) / (2 * bw);
    ck_assert_msg(fabs(b[0].memory_s - mem_dp) < 1e-9 * mem_dp, "dp: %g s, want %g s",
                  b[0].memory_s, mem_dp);
    ck_assert_msg(fabs(b[1].memory_s - mem_tp) < 1e-9 * mem_tp, "tp: %g s, want %g s",
                  b[1].memory_s, mem_tp);
    for (int k = 0; k < 2; k++) {
        ck_assert(fabs(b[k].run_min_s - MAX(b[k].compute_s, b[k].memory_s)) < 1e-15);
        ck_assert(fabs(b[k].rate_per_s - 10 / b[k].run_min_s) < 1e-9 * b[k].rate_per_s);
    }
    ck_assert(b[0].rate_per_s > b[1].rate_per_s);
}
END_TEST

/* Simulated DP plans never beat their bound: Mixtral on two H100s as
 * TP 1 x DP 2 and on four as TP 2 x DP 2, far above what they carry and
 * with max_num_seqs binding. */
START_TEST(test_bound_holds_dp)
{
    const char *fmt = "model: mixtral-8x7b\n"
                      "cluster: {pools: [{name: m, hardware: h100-sxm, replicas: 1,\n"
                      "  tensor_parallel_size: %d, data_parallel_size: 2, "
                      "expert_parallel_size: %d}]}\n"
                      "engine: {max_num_seqs: %d}\n"
                      "workload:\n"
                      "  lengths: {input: {dist: uniform, min: 50, max: 400}, output: {dist: "
                      "uniform, min: 10, max: 120}}\n"
                      "  arrival: {process: poisson, rate_per_s: 400}\n"
                      "  num_requests: 400\n";
    const int cases[][2] = {{1, 8}, {1, 64}, {2, 16}};
    for (size_t k = 0; k < G_N_ELEMENTS(cases); k++) {
        int tp = cases[k][0], seqs = cases[k][1];
        g_autofree char *text = g_strdup_printf(fmt, tp, 2 * tp, seqs);
        g_autofree char *path = NULL;
        g_autoptr(SvConfig) c = load_text(text, &path);
        g_autoptr(GError) error = NULL;
        SvWorkloadWork work;
        ck_assert(sv_workload_work(c, NULL, &work, &error));
        SvPlanBound b;
        ck_assert_msg(sv_plan_bound(c, &work, &b, &error), "%s", error ? error->message : "");
        sv_workload_work_clear(&work);
        g_autoptr(SvSim) sim = sv_sim_new(c, NULL, NULL, &error);
        ck_assert_msg(sim != NULL, "%s", error ? error->message : "");
        sv_sim_run(sim);
        sv_test_check_balance(sim);
        SvSummary sum;
        sv_metrics_summarize(sv_sim_metrics(sim), sv_sim_totals(sim), &sum);
        ck_assert_int_eq(sum.rejected, 0);
        ck_assert_int_eq(sum.completed, 400);
        ck_assert_msg(sum.requests_per_s <= b.rate_per_s * (1 + 1e-9),
                      "tp %d dp 2 max_num_seqs %d: %g req/s > bound %g", tp, seqs,
                      sum.requests_per_s, b.rate_per_s);
        unlink(path);
    }
}
END_TEST

/* The shipped DeepSeek-V3 study (TP 8 prefill replicas, a DP 16 x EP 16
 * decode replica on two H200 nodes), overloaded: the bound of the whole
 * disaggregated cluster still holds. */
START_TEST(test_bound_holds_deepseek_dp)
{
    g_autofree char *path = sv_test_src_path("configs/deepseek-v3-ep-h200.yaml");
    const char *sets[] = {"workload.num_requests=600", "workload.arrival.rate_per_s=300", NULL};
    g_autoptr(GError) error = NULL;
    g_autoptr(SvConfig) c = sv_config_load(path, sets, &error);
    ck_assert_msg(c != NULL, "%s", error ? error->message : "");
    g_autoptr(SvTrace) trace = sv_trace_load(c->workload.trace_path, &error);
    ck_assert_msg(trace != NULL, "%s", error ? error->message : "");
    SvWorkloadWork work;
    ck_assert(sv_workload_work(c, trace, &work, &error));
    SvPlanBound b;
    ck_assert_msg(sv_plan_bound(c, &work, &b, &error), "%s", error ? error->message : "");
    sv_workload_work_clear(&work);
    g_autoptr(SvSim) sim = sv_sim_new(c, trace, NULL, &error);
    ck_assert_msg(sim != NULL, "%s", error ? error->message : "");
    sv_sim_run(sim);
    sv_test_check_balance(sim);
    SvSummary sum;
    sv_metrics_summarize(sv_sim_metrics(sim), sv_sim_totals(sim), &sum);
    ck_assert_int_gt(sum.completed, 0);
    ck_assert_msg(sum.requests_per_s <= b.rate_per_s * (1 + 1e-9), "%g req/s > bound %g",
                  sum.requests_per_s, b.rate_per_s);
}
END_TEST

/* A DP replica's devices count everywhere a fleet is sized: the power
 * budget that oversubscription derives from the nameplate (TP 1 x DP 2:
 * two H100s of 700 W, budget 1,400 W / 1.25), and the simulated fleet. */
START_TEST(test_dp_devices_counted)
{
    const char *text = "model: mixtral-8x7b\n"
                       "cluster: {pools: [{name: m, hardware: h100-sxm, replicas: 1,\n"
                       "  tensor_parallel_size: 1, data_parallel_size: 2, "
                       "expert_parallel_size: 2}]}\n"
                       "power: {cluster: {oversubscription: 0.25}}\n"
                       "workload:\n"
                       "  lengths: {input: {dist: fixed, value: 100}, output: {dist: fixed, "
                       "value: 11}}\n"
                       "  arrival: {process: constant, rate_per_s: 2}\n"
                       "  num_requests: 10\n";
    g_autofree char *path = NULL;
    g_autoptr(SvConfig) c = load_text(text, &path);
    const SvHw *hw = ((SvPoolConfig *)g_ptr_array_index(c->pools, 0))->hw;
    ck_assert(hw->max_power_w > 0);
    ck_assert_msg(fabs(c->power.budget_w - 2 * hw->max_power_w / 1.25) < 1e-9,
                  "budget %g W, want 2 x %g / 1.25", c->power.budget_w, hw->max_power_w);
    g_autoptr(GError) error = NULL;
    g_autoptr(SvSim) sim = sv_sim_new(c, NULL, NULL, &error);
    ck_assert_msg(sim != NULL, "%s", error ? error->message : "");
    sv_sim_run(sim);
    ck_assert_int_eq(sv_sim_totals(sim)->num_devices, 2);
    unlink(path);
}
END_TEST

Suite *dp_suite(void)
{
    Suite *s = suite_create("dp");
    TCase *tc = tcase_create("dp");
    tcase_add_test(tc, test_max_num_seqs_per_rank);
    tcase_add_test(tc, test_token_budget_per_rank);
    tcase_add_test(tc, test_pool_engine);
    tcase_add_test(tc, test_bound_dp_by_hand);
    tcase_add_test(tc, test_bound_holds_dp);
    tcase_add_test(tc, test_bound_holds_deepseek_dp);
    tcase_add_test(tc, test_dp_devices_counted);
    suite_add_tcase(s, tc);
    return s;
}
