/* Pipeline parallelism inside a replica: batches in flight, stage by stage,
 * against hand-computed timelines with constant stage times (a test hook
 * per stage); the analytic steady state 1/max(stage); the bubble fraction
 * (p - 1) / (m + p - 1) of m micro-batches; in-flight requests never
 * rescheduled nor preempted; invariants under every scheduler with
 * preemption and swap; stage times from the real predictor. */
#include "serve/serve-private.h"
#include "serve/sim.h"
#include "testutil.h"

#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#define MS 1000000LL

/* Constant stage times, ns, one per stage. */
typedef struct {
    SvTimeNs stage_ns[8];
} Stages;

static SvTimeNs stage_time(void *ctx, const SvBatchShape *shape, int stage)
{
    (void)shape;
    return ((const Stages *)ctx)->stage_ns[stage];
}

typedef struct {
    SvConfig cfg;
    SvModel model;
    SvHw hw;
    SvPoolConfig pool;
    SvTrace *trace;
    char *trace_path;
    Stages stages;
} Study;

static Study *study_new(const char *trace_csv, SvSchedulerKind sched, int pp)
{
    Study *st = g_new0(Study, 1);
    st->model.name = "toy";
    st->model.num_layers = 8;
    st->model.max_position_embeddings = 4096;
    st->hw.name = "toy-hw";
    st->hw.peak_flops[SV_DTYPE_BF16] = 1e15;
    st->hw.host_bw_bytes_per_s = 1e9;
    st->pool.name = "main";
    st->pool.hw = &st->hw;
    st->pool.replicas = 1;
    st->pool.tensor_parallel_size = 1;
    st->pool.pipeline_parallel_size = pp;
    st->pool.expert_parallel_size = 1;
    st->cfg.path = "toy.yaml";
    st->cfg.seed = 1;
    st->cfg.model = &st->model;
    st->cfg.router = SV_ROUTER_ROUND_ROBIN;
    st->cfg.pools = g_ptr_array_new();
    g_ptr_array_add(st->cfg.pools, &st->pool);
    st->cfg.engine.scheduler = sched;
    st->cfg.engine.max_num_seqs = 256;
    st->cfg.engine.max_num_batched_tokens = 8192;
    st->cfg.engine.enable_chunked_prefill = TRUE;
    st->cfg.engine.block_size = 16;
    st->cfg.engine.gpu_memory_utilization = 0.9;
    st->cfg.engine.dtype = SV_DTYPE_BF16;
    st->cfg.engine.weight_dtype = SV_DTYPE_BF16;
    st->cfg.engine.kv_cache_dtype = SV_DTYPE_BF16;
    st->cfg.engine.swap_space_gib = 1;
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

static void check_balance(SvSim *sim)
{
    SvSimBalance b;
    sv_sim_balance(sim, &b);
    ck_assert_uint_eq(b.blocks_allocated, b.blocks_freed);
    ck_assert_uint_eq(b.events_scheduled, b.events_processed + b.events_cancelled);
    ck_assert_uint_eq(b.events_pending, 0);
    ck_assert_int_eq(b.arrived, b.completed + b.rejected);
    ck_assert_int_eq(b.in_flight, 0);
}

static SvSim *run_study(Study *st, int64_t kv_blocks)
{
    SvSimOptions opt = {
        .stage_time_fn = stage_time,
        .stage_time_ctx = &st->stages,
        .kv_blocks = kv_blocks,
        .kv_block_bytes = 1e6,
        .cpu_kv_blocks = 64,
    };
    GError *error = NULL;
    SvSim *sim = sv_sim_new(&st->cfg, st->trace, &opt, &error);
    ck_assert_msg(sim != NULL, "%s", error ? error->message : "");
    sv_sim_run(sim);
    check_balance(sim);
    return sim;
}

/* The record of request @id. */
static const SvRequestRecord *record_of(SvSim *sim, int64_t id)
{
    SvMetrics *m = sv_sim_metrics(sim);
    for (size_t i = 0; i < sv_metrics_num_requests(m); i++)
        if (sv_metrics_request(m, i)->id == id)
            return sv_metrics_request(m, i);
    ck_abort_msg("no record for request %" G_GINT64_FORMAT, id);
    return NULL;
}

/* @n requests at t = 0 with @input prompt tokens and @output tokens. */
static char *burst_csv(int n, int input, int output)
{
    GString *s = g_string_new("arrival_s,input_tokens,output_tokens\n");
    for (int i = 0; i < n; i++)
        g_string_append_printf(s, "0,%d,%d\n", input, output);
    return g_string_free(s, FALSE);
}

/* Bubble fraction of GPipe's schedule: p = 4 stages of 1 ms, m = 3
 * single-request batches at t = 0 (a 16-token budget takes one 16-token
 * prompt per batch). Batch k enters stage 0 at k ms (stage 0 frees every
 * ms, fewer than 4 batches are in flight) and leaves stage 3 at k + 4 ms:
 * E2E 4, 5, 6 ms; the pipeline holds a batch for (m + p - 1) = 6 ms while
 * each stage works m = 3 ms, so the bubble is (p - 1)/(m + p - 1) = 1/2;
 * batches in flight average 3 x 4 ms / 6 ms = 2. */
START_TEST(test_bubble_fraction)
{
    g_autofree char *csv = burst_csv(3, 16, 1);
    Study *st = study_new(csv, SV_SCHED_VLLM_V1, 4);
    st->cfg.engine.max_num_batched_tokens = 16;
    st->cfg.engine.max_num_seqs = 16;
    for (int s = 0; s < 4; s++)
        st->stages.stage_ns[s] = 1 * MS;
    g_autoptr(SvSim) sim = run_study(st, 100);
    for (int i = 0; i < 3; i++) {
        const SvRequestRecord *r = record_of(sim, i);
        ck_assert_int_eq(r->first_scheduled_ns, i * MS);
        ck_assert_int_eq(r->finish_ns, (i + 4) * MS);
    }
    const SvRunTotals *t = sv_sim_totals(sim);
    ck_assert_int_eq(t->pipelined_replicas, 1);
    ck_assert_int_eq(t->iterations, 3);
    ck_assert_msg(fabs(t->pipeline_bubble_fraction - 3.0 / 6.0) < 1e-12, "bubble %.15f",
                  t->pipeline_bubble_fraction);
    ck_assert_msg(fabs(t->pipeline_batches_in_flight - 2.0) < 1e-12, "in flight %.15f",
                  t->pipeline_batches_in_flight);
    /* Two events per batch (stage 0 free, batch done), one per arrival and
     * the one time-series sample at 10 ms: never one per stage or token. */
    ck_assert_int_eq(t->events, 3 * 2 + 3 + 1);
    study_free(st);
}
END_TEST

/* Steady state with unequal stages 3, 5, 4 ms (p = 3) and a long queue of
 * one-batch requests: stage 1 is the bottleneck, so batches complete every
 * 5 ms. By hand: batch 0 leaves at 12 ms (3 + 5 + 4), batch 1 enters at
 * 3 ms, waits for stage 1 until 8 ms, leaves at 17 ms; batch 3 waits for
 * batch 0 to leave (3 in flight) and enters at 12 ms; from there on batch
 * k leaves at 12 + 5k ms. Throughput: 1/max(stage) = 200 batches/s exactly
 * in steady state, and within 1 % over the whole run. */
START_TEST(test_steady_state_throughput)
{
    const int n = 1000;
    g_autofree char *csv = burst_csv(n, 16, 1);
    Study *st = study_new(csv, SV_SCHED_VLLM_V1, 3);
    st->cfg.engine.max_num_batched_tokens = 16;
    st->cfg.engine.max_num_seqs = 16;
    st->stages.stage_ns[0] = 3 * MS;
    st->stages.stage_ns[1] = 5 * MS;
    st->stages.stage_ns[2] = 4 * MS;
    g_autoptr(SvSim) sim = run_study(st, 100);
    for (int i = 0; i < n; i++)
        ck_assert_int_eq(record_of(sim, i)->finish_ns, (12 + 5 * (SvTimeNs)i) * MS);
    ck_assert_int_eq(record_of(sim, 1)->first_scheduled_ns, 3 * MS);
    ck_assert_int_eq(record_of(sim, 2)->first_scheduled_ns, 6 * MS);
    ck_assert_int_eq(record_of(sim, 3)->first_scheduled_ns, 12 * MS);
    const SvRunTotals *t = sv_sim_totals(sim);
    double throughput = n / sv_ns_to_s(t->end_ns);
    ck_assert_msg(fabs(throughput / 200.0 - 1) < 0.01, "throughput %.3f/s", throughput);
    /* Stage 1 is never idle once the first batch reaches it: busy 5 of
     * every 5 ms; stages 0 and 2 lose 2 and 1 ms of every 5. */
    ck_assert_int_eq(t->iterations, n);
    study_free(st);
}
END_TEST

/* In-flight exclusion: one request generating 5 tokens on 2 stages of
 * 2 and 3 ms. Its next step needs the token of the step in flight, so only
 * one of its batches is ever in the pipeline: a token every 5 ms (the sum),
 * not every 3 (the max). Prefill of 32 tokens: first token at 5 ms, last at
 * 25 ms. */
START_TEST(test_inflight_exclusion)
{
    Study *st = study_new("arrival_s,input_tokens,output_tokens\n0,32,5\n", SV_SCHED_VLLM_V1, 2);
    st->stages.stage_ns[0] = 2 * MS;
    st->stages.stage_ns[1] = 3 * MS;
    g_autoptr(SvSim) sim = run_study(st, 100);
    const SvRequestRecord *r = record_of(sim, 0);
    ck_assert_int_eq(r->first_token_ns, 5 * MS);
    ck_assert_int_eq(r->finish_ns, 25 * MS);
    ck_assert_int_eq(r->max_itl_ns, 5 * MS);
    ck_assert_int_eq(sv_sim_totals(sim)->iterations, 5);
    study_free(st);
}
END_TEST

/* Two requests interleave in the pipeline: R0 and R1 (prompts of 16, one
 * per batch with a 16-token budget, 3 tokens each) on 2 stages of 1 ms.
 *  t=0  [R0 prefill] enters; t=1 [R1 prefill] enters (stage 0 free, R0 in
 *       flight); t=2 R0 leaves (token 1), [R0 decode] enters;
 *  t=3  R1 leaves (token 1), [R1 decode] enters; t=4 R0 token 2 ...
 * so each request gets a token every 2 ms and the two share the pipeline:
 * R0 ends at 6 ms, R1 at 7 ms. */
START_TEST(test_two_requests_interleave)
{
    Study *st =
        study_new("arrival_s,input_tokens,output_tokens\n0,16,3\n0,16,3\n", SV_SCHED_VLLM_V1, 2);
    st->cfg.engine.max_num_batched_tokens = 16;
    st->cfg.engine.max_num_seqs = 16;
    st->stages.stage_ns[0] = 1 * MS;
    st->stages.stage_ns[1] = 1 * MS;
    g_autoptr(SvSim) sim = run_study(st, 100);
    ck_assert_int_eq(record_of(sim, 0)->first_token_ns, 2 * MS);
    ck_assert_int_eq(record_of(sim, 0)->finish_ns, 6 * MS);
    ck_assert_int_eq(record_of(sim, 1)->first_token_ns, 3 * MS);
    ck_assert_int_eq(record_of(sim, 1)->finish_ns, 7 * MS);
    const SvRunTotals *t = sv_sim_totals(sim);
    ck_assert_int_eq(t->iterations, 6);
    /* In flight from 0 to 7 ms; each stage busy 6 ms: bubble 1 - 12/14. */
    ck_assert_msg(fabs(t->pipeline_bubble_fraction - (1 - 12.0 / 14.0)) < 1e-12, "%.15f",
                  t->pipeline_bubble_fraction);
    study_free(st);
}
END_TEST

/* Every scheduler under pipelining, with KV pressure (preemption by
 * recomputation or swap) and a mixed load: everything completes, the
 * balances hold, and a request is never preempted while in flight (the
 * assertions in sv__replica_preempt and the batch-done check would fire). */
START_TEST(test_all_schedulers_balance)
{
    GString *csv = g_string_new("arrival_s,input_tokens,output_tokens\n");
    for (int i = 0; i < 120; i++)
        g_string_append_printf(csv, "%.4f,%d,%d\n", i * 0.0007, 20 + (i * 37) % 200,
                               1 + (i * 13) % 60);
    for (int sched = 0; sched < SV_SCHED_COUNT; sched++) {
        for (int swap = 0; swap < 2; swap++) {
            Study *st = study_new(csv->str, (SvSchedulerKind)sched, 3);
            st->cfg.engine.preemption_mode = swap ? SV_PREEMPT_SWAP : SV_PREEMPT_RECOMPUTE;
            st->cfg.engine.max_num_batched_tokens = 256;
            st->cfg.engine.enable_chunked_prefill =
                sched != SV_SCHED_ORCA && sched != SV_SCHED_STATIC && sched != SV_SCHED_VLLM_V0;
            st->cfg.engine.max_model_len = 280;
            st->stages.stage_ns[0] = 1 * MS;
            st->stages.stage_ns[1] = 2 * MS;
            st->stages.stage_ns[2] = 1 * MS;
            g_autoptr(SvSim) sim = run_study(st, 40);
            SvSimBalance b;
            sv_sim_balance(sim, &b);
            ck_assert_int_eq(b.completed, 120);
            if (sched == SV_SCHED_VLLM_V1)
                ck_assert_int_gt(sv_sim_totals(sim)->preemptions, 0);
            study_free(st);
        }
    }
    g_string_free(csv, TRUE);
}
END_TEST

/* Same seed, same output: two runs of a pipelined study agree request by
 * request. */
START_TEST(test_deterministic)
{
    GString *csv = g_string_new("arrival_s,input_tokens,output_tokens\n");
    for (int i = 0; i < 200; i++)
        g_string_append_printf(csv, "%.4f,%d,%d\n", i * 0.001, 10 + (i * 7) % 90, 1 + i % 17);
    SvTimeNs finish[2][200];
    for (int k = 0; k < 2; k++) {
        Study *st = study_new(csv->str, SV_SCHED_VLLM_V1, 4);
        for (int s = 0; s < 4; s++)
            st->stages.stage_ns[s] = (1 + s % 2) * MS;
        g_autoptr(SvSim) sim = run_study(st, 60);
        for (int i = 0; i < 200; i++)
            finish[k][i] = record_of(sim, i)->finish_ns;
        study_free(st);
    }
    ck_assert(memcmp(finish[0], finish[1], sizeof(finish[0])) == 0);
    g_string_free(csv, TRUE);
}
END_TEST

/* The real predictor's stage split: a Llama 3 70B replica with pp 4 on H100
 * splits each iteration's predicted time into stages that sum to it and
 * follow sv_predictor_stage_times' shares; a single request then emits a
 * token every total (its batches never overlap). */
START_TEST(test_predictor_stage_split)
{
    GError *error = NULL;
    g_autofree char *mpath = sv_test_src_path("models/llama-3-70b.yaml");
    g_autofree char *hpath = sv_test_src_path("hwprofiles/h100-sxm.yaml");
    g_autoptr(SvModel) model = sv_model_load(mpath, &error);
    ck_assert_msg(model != NULL, "%s", error ? error->message : "");
    g_autoptr(SvHw) hw = sv_hw_load(hpath, &error);
    ck_assert_msg(hw != NULL, "%s", error ? error->message : "");
    SvPlan plan = {.tp = 4,
                   .pp = 4,
                   .ep = 1,
                   .act_dtype = SV_DTYPE_BF16,
                   .weight_dtype = SV_DTYPE_BF16,
                   .kv_dtype = SV_DTYPE_BF16};
    g_autoptr(SvPredictor) pred = sv_predictor_new(model, hw, &plan, &error);
    ck_assert_msg(pred != NULL, "%s", error ? error->message : "");
    SvStageMemo *memo = sv__stage_memo_new(4);
    for (int k = 0; k < 3; k++) {
        SvBatchShape shape = {0};
        sv_batch_add_prefill(&shape, 512 * (k + 1), 0);
        sv_batch_add_decode(&shape, 32, 1000 * (k + 1));
        SvTimeNs total = sv_predictor_iteration_ns(pred, &shape, NULL);
        SvTimeNs parts[4], sum = 0;
        /* Twice: the second time from the memo, identically. */
        for (int rep = 0; rep < 2; rep++) {
            sv__stage_split(memo, pred, &shape, total, parts);
            sum = 0;
            for (int s = 0; s < 4; s++)
                sum += parts[s];
            ck_assert_int_eq(sum, total);
        }
        double stage_s[4];
        double all = sv_predictor_stage_times(pred, &shape, stage_s, NULL);
        for (int s = 0; s < 4; s++)
            ck_assert_msg(fabs((double)parts[s] / (double)total - stage_s[s] / all) < 1e-6,
                          "stage %d share %.6f vs %.6f", s, (double)parts[s] / total,
                          stage_s[s] / all);
        /* The slowest stage is what the predictor says it is. */
        SvTimeNs max = 0;
        for (int s = 0; s < 4; s++)
            max = MAX(max, parts[s]);
        SvTimeNs want = sv_predictor_stage_max_ns(pred, &shape);
        ck_assert_msg(llabs(max - want) <= 4 + want / 100000,
                      "max stage %" G_GINT64_FORMAT " vs %" G_GINT64_FORMAT, max, want);
    }
    sv__stage_memo_free(memo);
}
END_TEST

/* A study through the config loader and the real predictor: Llama 3 70B on
 * H100 with pp 2 (TP 4) serves a burst; every request completes, the
 * pipeline reports its bubbles, and it beats one batch at a time (its mean
 * batches in flight is above 1). */
START_TEST(test_config_pp_study)
{
    static const char yaml[] =
        "model: llama-3-70b\n"
        "cluster:\n"
        "  pools:\n"
        "    - {hardware: h100-sxm, replicas: 1, tensor_parallel_size: 4,\n"
        "       pipeline_parallel_size: 2}\n"
        "engine: {max_num_seqs: 64, max_num_batched_tokens: 2048, max_model_len: 8192}\n"
        "workload:\n"
        "  lengths: {input: {dist: fixed, value: 512}, output: {dist: fixed, value: 64}}\n"
        "  arrival: {process: poisson, rate_per_s: 20}\n"
        "  num_requests: 200\n";
    g_autofree char *path = sv_test_write_tmp(yaml, ".yaml");
    GError *error = NULL;
    g_autoptr(SvConfig) cfg = sv_config_load(path, NULL, &error);
    ck_assert_msg(cfg != NULL, "%s", error ? error->message : "");
    g_autoptr(SvSim) sim = sv_sim_new(cfg, NULL, NULL, &error);
    ck_assert_msg(sim != NULL, "%s", error ? error->message : "");
    sv_sim_run(sim);
    check_balance(sim);
    const SvRunTotals *t = sv_sim_totals(sim);
    ck_assert_int_eq(t->pipelined_replicas, 1);
    ck_assert(t->pipeline_bubble_fraction > 0 && t->pipeline_bubble_fraction < 1);
    ck_assert_msg(t->pipeline_batches_in_flight > 1.2, "%.3f", t->pipeline_batches_in_flight);
    SvSimBalance b;
    sv_sim_balance(sim, &b);
    ck_assert_int_eq(b.completed, 200);
    g_unlink(path);
}
END_TEST

Suite *pp_suite(void)
{
    Suite *s = suite_create("pp");
    TCase *tc = tcase_create("pipeline");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_bubble_fraction);
    tcase_add_test(tc, test_steady_state_throughput);
    tcase_add_test(tc, test_inflight_exclusion);
    tcase_add_test(tc, test_two_requests_interleave);
    tcase_add_test(tc, test_all_schedulers_balance);
    tcase_add_test(tc, test_deterministic);
    tcase_add_test(tc, test_predictor_stage_split);
    tcase_add_test(tc, test_config_pp_study);
    suite_add_tcase(s, tc);
    return s;
}
