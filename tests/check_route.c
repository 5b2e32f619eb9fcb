/* Routing, admission control, tenants and SLO classes: hand-computed router
 * choices (least-kv, power-of-two, a stale load snapshot), token-bucket and
 * queue-length rejections, the predicted-TTFT rule, the deterministic merge
 * of tenant streams, per-tenant and per-class metrics, and the study keys
 * that configure them. Iteration time is the toy 1 ms + 10 us per scheduled
 * token, so every timeline below can be worked out by hand. */
#include "core/rng.h"
#include "serve/sim.h"
#include "testutil.h"
#include "workload/tenants.h"

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>

typedef struct {
    SvConfig cfg;
    SvModel model;
    SvHw hw;
    SvPoolConfig pool;
    SvTrace *trace;
    char *trace_path;
    GPtrArray *tenants;     /* SvTenantConfig*, owned by the test */
    GPtrArray *slo_classes; /* SvSloClass*, owned by the test */
} Study;

/* A toy cluster of @replicas behind @router; requests from @trace_csv
 * (replayed with its own times) or, when NULL, from cfg.workload as the test
 * sets it. */
static Study *study_new(const char *trace_csv, int replicas, SvRouterKind router)
{
    Study *st = g_new0(Study, 1);
    st->model.name = "toy";
    st->model.max_position_embeddings = 8192;
    st->hw.name = "toy-hw";
    st->hw.peak_flops[SV_DTYPE_BF16] = 1e15;
    st->pool.name = "main";
    st->pool.hw = &st->hw;
    st->pool.replicas = replicas;
    st->pool.tensor_parallel_size = 1;
    st->pool.pipeline_parallel_size = 1;
    st->pool.expert_parallel_size = 1;
    st->cfg.path = "toy.yaml";
    st->cfg.seed = 1;
    st->cfg.model = &st->model;
    st->cfg.router = router;
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
    st->cfg.output.sample_interval_s = 0.01;
    st->tenants = g_ptr_array_new_with_free_func(g_free);
    st->slo_classes = g_ptr_array_new_with_free_func(g_free);
    if (trace_csv != NULL) {
        st->trace_path = sv_test_write_tmp(trace_csv, ".csv");
        st->cfg.workload.trace_path = st->trace_path;
        st->cfg.workload.process = SV_ARRIVAL_TRACE;
        GError *error = NULL;
        st->trace = sv_trace_load(st->trace_path, &error);
        ck_assert_msg(st->trace != NULL, "%s", error ? error->message : "");
    }
    return st;
}

static void study_free(Study *st)
{
    sv_trace_free(st->trace);
    if (st->trace_path != NULL)
        g_unlink(st->trace_path);
    g_free(st->trace_path);
    g_ptr_array_unref(st->cfg.pools);
    g_ptr_array_unref(st->tenants);
    g_ptr_array_unref(st->slo_classes);
    g_free(st);
}

static SvLengthSpec fixed(int64_t tokens)
{
    return (SvLengthSpec){.dist = SV_LEN_FIXED, .value = tokens};
}

/* A workload with fixed lengths and constant (or closed-loop) arrivals. */
static SvWorkloadConfig fixed_workload(SvArrivalProcess process, double rate, int concurrency,
                                       int64_t n, int64_t input, int64_t output)
{
    return (SvWorkloadConfig){.has_lengths = TRUE,
                              .input = fixed(input),
                              .output = fixed(output),
                              .process = process,
                              .rate_per_s = rate,
                              .concurrency = concurrency,
                              .num_requests = n};
}

static SvTenantConfig *add_tenant(Study *st, const char *name, SvWorkloadConfig w, int slo_class)
{
    SvTenantConfig *t = g_new0(SvTenantConfig, 1);
    t->name = (char *)name;
    t->workload = w;
    t->slo_class = slo_class;
    g_ptr_array_add(st->tenants, t);
    st->cfg.tenants = st->tenants;
    return t;
}

static SvSloClass *add_class(Study *st, const char *name, double ttft_s, int priority)
{
    SvSloClass *c = g_new0(SvSloClass, 1);
    c->name = (char *)name;
    c->ttft_s = ttft_s;
    c->priority = priority;
    g_ptr_array_add(st->slo_classes, c);
    st->cfg.slo_classes = st->slo_classes;
    return c;
}

/* Run to the end and check the balances every run must keep. */
static SvSim *run_study(Study *st, int64_t kv_blocks)
{
    SvSimOptions opt = {.iter_time_fn = sv_test_toy_time, .kv_blocks = kv_blocks};
    GError *error = NULL;
    SvSim *sim = sv_sim_new(&st->cfg, st->trace, &opt, &error);
    ck_assert_msg(sim != NULL, "%s", error ? error->message : "");
    sv_sim_run(sim);
    sv_test_check_balance(sim);
    SvSimBalance b;
    sv_sim_balance(sim, &b);
    ck_assert_int_eq((int64_t)sv_metrics_num_requests(sv_sim_metrics(sim)), b.arrived);
    return sim;
}

/* The record of request @id. */
static const SvRequestRecord *rec(SvSim *sim, int64_t id)
{
    SvMetrics *m = sv_sim_metrics(sim);
    for (size_t i = 0; i < sv_metrics_num_requests(m); i++)
        if (sv_metrics_request(m, i)->id == id)
            return sv_metrics_request(m, i);
    ck_abort_msg("no record for request %" G_GINT64_FORMAT, id);
    return NULL;
}

static int64_t count_records(SvSim *sim)
{
    return (int64_t)sv_metrics_num_requests(sv_sim_metrics(sim));
}

/* ---- routers --------------------------------------------------------- */

/* Five long requests in the first 0.4 ms on three replicas of 200 blocks
 * (16 tokens each). A replica allocates a prompt's blocks when it starts the
 * iteration, which it does at once only when idle:
 *   R0 t=0     free (200,200,200) -> 0 (tie: lowest); 320 tokens = 20 blocks -> 180
 *   R1 0.1 ms  (180,200,200)      -> 1; 160 tokens = 10 blocks            -> 190
 *   R2 0.2 ms  (180,190,200)      -> 2; 480 tokens = 30 blocks            -> 170
 *   R3 0.3 ms  (180,190,170)      -> 1, which is busy: R3 waits without blocks
 *   R4 0.4 ms  (180,190,170)      -> 1 again.
 * least-outstanding sees (1,1,1) at R3 -> 0 and (2,1,1) at R4 -> 1. */
static const char five_long[] = "arrival_s,input_tokens,output_tokens\n"
                                "0,320,400\n"
                                "0.0001,160,400\n"
                                "0.0002,480,400\n"
                                "0.0003,16,400\n"
                                "0.0004,16,400\n";

START_TEST(test_least_kv)
{
    const int want_kv[] = {0, 1, 2, 1, 1};
    const int want_lor[] = {0, 1, 2, 0, 1};
    for (int pass = 0; pass < 2; pass++) {
        Study *st =
            study_new(five_long, 3, pass == 0 ? SV_ROUTER_LEAST_KV : SV_ROUTER_LEAST_OUTSTANDING);
        g_autoptr(SvSim) sim = run_study(st, 200);
        for (int i = 0; i < 5; i++) {
            ck_assert_int_eq(rec(sim, i)->outcome, SV_REQ_COMPLETED);
            ck_assert_int_eq(rec(sim, i)->replica, pass == 0 ? want_kv[i] : want_lor[i]);
        }
        study_free(st);
    }
}
END_TEST

/* Power of two choices over two replicas samples both, so it always takes
 * the less loaded one, and a tie (even load) goes to the first sampled:
 * with requests that never finish during the arrivals, each pair of
 * arrivals is split over the two replicas. Over four replicas the choices
 * follow the router's stream (SV_STREAM_ROUTER of the seed): replayed here
 * with the rule written out, against outstanding counts kept by hand. */
START_TEST(test_power_of_two)
{
    g_autoptr(GString) csv = g_string_new("arrival_s,input_tokens,output_tokens\n");
    for (int i = 0; i < 12; i++)
        g_string_append_printf(csv, "%.4f,16,300\n", 0.0001 * i);

    Study *st = study_new(csv->str, 2, SV_ROUTER_POWER_OF_TWO);
    g_autoptr(SvSim) sim = run_study(st, 1000);
    for (int i = 0; i < 12; i += 2)
        ck_assert_int_ne(rec(sim, i)->replica, rec(sim, i + 1)->replica);
    study_free(st);

    for (uint64_t seed = 1; seed <= 3; seed++) {
        Study *st4 = study_new(csv->str, 4, SV_ROUTER_POWER_OF_TWO);
        st4->cfg.seed = seed;
        g_autoptr(SvSim) sim4 = run_study(st4, 1000);
        gsl_rng *rng = sv_rng_new(seed, SV_STREAM_ROUTER);
        int load[4] = {0};
        gboolean spread = FALSE;
        for (int i = 0; i < 12; i++) {
            int a = (int)gsl_rng_uniform_int(rng, 4);
            int b = (int)gsl_rng_uniform_int(rng, 3);
            if (b >= a)
                b++;
            ck_assert_int_ne(a, b);
            int want = load[b] < load[a] ? b : a;
            load[want]++;
            ck_assert_int_eq(rec(sim4, i)->replica, want);
            spread = spread || want != rec(sim4, 0)->replica;
        }
        ck_assert(spread);
        gsl_rng_free(rng);
        study_free(st4);
    }
}
END_TEST

/* least-outstanding with a 1 s stale view over two replicas. Requests are
 * long (5000 output tokens, about 5 s), so none finishes before 2.1 s.
 *   t=0       first pick: snapshot (0,0); R0-R3 (up to 3 ms) all see it -> 0,0,0,0
 *   t=1.0     refresh: (4,0); R4, R5 (1.001), R6 (1.5) -> 1,1,1
 *   t=2.0     refresh: (4,3); R7, R8 (2.1) -> 1,1
 * With a live view the same arrivals alternate 0,1,0,1,... */
START_TEST(test_staleness_burst)
{
    static const char csv[] = "arrival_s,input_tokens,output_tokens\n"
                              "0,16,5000\n0.001,16,5000\n0.002,16,5000\n0.003,16,5000\n"
                              "1.0,16,5000\n1.001,16,5000\n1.5,16,5000\n"
                              "2.0,16,5000\n2.1,16,5000\n";
    const int stale[] = {0, 0, 0, 0, 1, 1, 1, 1, 1};
    const int live[] = {0, 1, 0, 1, 0, 1, 0, 1, 0};
    for (int pass = 0; pass < 2; pass++) {
        Study *st = study_new(csv, 2, SV_ROUTER_LEAST_OUTSTANDING);
        st->cfg.router_staleness_s = pass == 0 ? 1.0 : 0.0;
        g_autoptr(SvSim) sim = run_study(st, 10000);
        for (int i = 0; i < 9; i++)
            ck_assert_msg(rec(sim, i)->replica == (pass == 0 ? stale[i] : live[i]),
                          "pass %d request %d on replica %d", pass, i, rec(sim, i)->replica);
        /* Nobody finished before the last arrival: the counts above hold. */
        for (int i = 0; i < 9; i++)
            ck_assert_int_gt(rec(sim, i)->finish_ns, 2100000000LL);
        study_free(st);
    }
}
END_TEST

/* Live least-outstanding picks from a tournament tree kept up to date as
 * counts change; the stale path scans a snapshot. With a 1 ns staleness
 * every pick (arrivals 0.1 ms or more apart) refreshes the snapshot, so it
 * scans the live counts: both must send every request to the same replica,
 * over 5 replicas (a tree with padding leaves) and lengths that make
 * requests finish between arrivals, ties broken the same way. */
START_TEST(test_least_outstanding_tree)
{
    g_autoptr(GString) csv = g_string_new("arrival_s,input_tokens,output_tokens\n");
    for (int i = 0; i < 400; i++)
        g_string_append_printf(csv, "%.4f,%d,%d\n", 0.0001 * (i * 13 + (i * i) % 7),
                               16 + (i * 37) % 300, 1 + (i * 53) % 97);
    int replica[2][400];
    int spread[5] = {0};
    for (int pass = 0; pass < 2; pass++) {
        Study *st = study_new(csv->str, 5, SV_ROUTER_LEAST_OUTSTANDING);
        st->cfg.router_staleness_s = pass == 0 ? 1e-9 : 0.0;
        g_autoptr(SvSim) sim = run_study(st, 10000);
        for (int i = 0; i < 400; i++) {
            ck_assert_int_eq(rec(sim, i)->outcome, SV_REQ_COMPLETED);
            replica[pass][i] = rec(sim, i)->replica;
        }
        study_free(st);
    }
    for (int i = 0; i < 400; i++) {
        ck_assert_msg(replica[0][i] == replica[1][i], "request %d: scan %d, tree %d", i,
                      replica[0][i], replica[1][i]);
        spread[replica[1][i]]++;
    }
    for (int r = 0; r < 5; r++)
        ck_assert_int_gt(spread[r], 0);
}
END_TEST

/* least-kv with a stale view: R0 (t=0) takes 20 blocks on replica 0, but
 * until the refresh at 1 s every request still sees (100,100) and goes to
 * replica 0; after it, replica 1 has more free blocks. */
START_TEST(test_staleness_least_kv)
{
    static const char csv[] = "arrival_s,input_tokens,output_tokens\n"
                              "0,320,3000\n0.5,16,3000\n1.0,16,3000\n";
    Study *st = study_new(csv, 2, SV_ROUTER_LEAST_KV);
    st->cfg.router_staleness_s = 1.0;
    g_autoptr(SvSim) sim = run_study(st, 1000);
    ck_assert_int_eq(rec(sim, 0)->replica, 0);
    ck_assert_int_eq(rec(sim, 1)->replica, 0);
    ck_assert_int_eq(rec(sim, 2)->replica, 1);
    study_free(st);
}
END_TEST

/* ---- admission --------------------------------------------------------- */

/* Token bucket of 2 tokens refilled at 2/s (one per 500 ms), full at t=0;
 * arrivals every 200 ms. Tokens before each arrival (then after it):
 *   0.0: 2 -> 1    0.2: 1.4 -> 0.4   0.4: 0.8 no   0.6: 1.2 -> 0.2
 *   0.8: 0.6 no    1.0: 1.0 -> 0     1.2: 0.4 no   1.4: 0.8 no
 *   1.6: 1.2 -> 0.2  1.8: 0.6 no     2.0: 1.0 -> 0 2.2: 0.4 no
 *   2.4: 0.8 no    2.6: 1.2 -> 0.2   2.8: 0.6 no
 * so requests 0,1,3,5,8,10,13 pass. A limited request never reaches the
 * router: round-robin hands the admitted ones 0,1,0,1,... */
START_TEST(test_token_bucket_open_loop)
{
    g_autoptr(GString) csv = g_string_new("arrival_s,input_tokens,output_tokens\n");
    for (int i = 0; i < 15; i++)
        g_string_append_printf(csv, "%.1f,16,1\n", 0.2 * i);
    Study *st = study_new(csv->str, 2, SV_ROUTER_ROUND_ROBIN);
    st->cfg.admission.rate_limit_per_s = 2;
    st->cfg.admission.rate_limit_burst = 2;
    g_autoptr(SvSim) sim = run_study(st, 1000);
    const gboolean pass[15] = {1, 1, 0, 1, 0, 1, 0, 0, 1, 0, 1, 0, 0, 1, 0};
    int admitted = 0;
    for (int i = 0; i < 15; i++) {
        const SvRequestRecord *r = rec(sim, i);
        if (pass[i]) {
            ck_assert_int_eq(r->outcome, SV_REQ_COMPLETED);
            ck_assert_int_eq(r->replica, admitted++ % 2);
        } else {
            ck_assert_int_eq(r->outcome, SV_REQ_REJECTED);
            ck_assert_int_eq(r->reject_reason, SV_REJECT_RATE_LIMITED);
            ck_assert_int_eq(r->replica, -1);
            ck_assert_int_eq(r->finish_ns, r->arrival_ns); /* rejected on arrival */
        }
    }
    ck_assert_int_eq(sv_metrics_count_rejected(sv_sim_metrics(sim), SV_REJECT_RATE_LIMITED), 8);
    study_free(st);
}
END_TEST

/* A closed loop of one client, 10 requests (100 in, 1 out: 2 ms each), under
 * a bucket of 1 token at 10/s. Request 0 passes at 0 and ends at 2 ms; the
 * client's next (1) is limited at 2 ms, and the client waits for the bucket
 * (100 ms, its Retry-After) to send request 2, which passes; and so on:
 * even ids pass at 0, 0.1, ..., 0.4 s, odd ids are rejected 2 ms later. */
START_TEST(test_token_bucket_closed_loop)
{
    Study *st = study_new(NULL, 1, SV_ROUTER_ROUND_ROBIN);
    st->cfg.workload = fixed_workload(SV_ARRIVAL_CLOSED_LOOP, 0, 1, 10, 100, 1);
    st->cfg.admission.rate_limit_per_s = 10;
    st->cfg.admission.rate_limit_burst = 1;
    g_autoptr(SvSim) sim = run_study(st, 1000);
    ck_assert_int_eq(count_records(sim), 10);
    for (int i = 0; i < 10; i++) {
        const SvRequestRecord *r = rec(sim, i);
        SvTimeNs slot = (SvTimeNs)(i / 2) * 100000000;
        if (i % 2 == 0) {
            ck_assert_int_eq(r->outcome, SV_REQ_COMPLETED);
            ck_assert_int_eq(r->arrival_ns, slot);
            ck_assert_int_eq(r->finish_ns, slot + 2000000);
        } else {
            ck_assert_int_eq(r->reject_reason, SV_REJECT_RATE_LIMITED);
            ck_assert_int_eq(r->arrival_ns, slot + 2000000);
        }
    }
    study_free(st);
}
END_TEST

/* One replica, at most 2 waiting. R0 (t=0) starts at once (2 ms step);
 * R1, R2 wait (1, then 2 waiting); R3, R4 find 2 waiting: queue_full. At 2
 * ms R1 and R2 leave the queue for the batch, so R5 (3 ms) is taken. With
 * two replicas behind round-robin and a cluster-wide cap of 1: R0, R1 start
 * at once, R2 waits on replica 0, R3 (replica 1) and R4 (replica 0) see 1
 * waiting in the cluster and are rejected; R5 (3 ms) finds none. */
START_TEST(test_queue_length)
{
    static const char csv[] = "arrival_s,input_tokens,output_tokens\n"
                              "0,100,1\n0.0001,100,1\n0.0002,100,1\n0.0003,100,1\n"
                              "0.0004,100,1\n0.003,100,1\n";
    for (int pass = 0; pass < 2; pass++) {
        Study *st = study_new(csv, pass == 0 ? 1 : 2, SV_ROUTER_ROUND_ROBIN);
        if (pass == 0)
            st->cfg.admission.max_queue_length = 2;
        else
            st->cfg.admission.max_cluster_queue_length = 1;
        g_autoptr(SvSim) sim = run_study(st, 1000);
        for (int i = 0; i < 6; i++) {
            gboolean shed = i == 3 || i == 4;
            ck_assert_int_eq(rec(sim, i)->outcome, shed ? SV_REQ_REJECTED : SV_REQ_COMPLETED);
            if (shed)
                ck_assert_int_eq(rec(sim, i)->reject_reason, SV_REJECT_QUEUE_FULL);
        }
        if (pass == 0) {
            /* R1 and R2 share the step at 2 ms: 1 + 200 x 0.01 = 3 ms. */
            ck_assert_int_eq(rec(sim, 1)->finish_ns, 5000000);
            ck_assert_int_eq(rec(sim, 2)->finish_ns, 5000000);
        }
        study_free(st);
    }
}
END_TEST

/* TTFT target 5 ms, reject on predicted miss.
 *  R0 t=0 (300 in): idle replica, admitted; its prefill runs 0-4 ms.
 *  R1 t=1 ms (100 in): 3 ms left of R0's step, then one step of R1's
 *     prefill beside R0's first decode: 1 + 101 x 0.01 = 2.01 ms; predicted
 *     5.01 ms > 5: rejected (and it would indeed have taken 5.01 ms).
 *  R2 t=1.5 ms (50 in): 2.5 + 1.51 = 4.01 ms: admitted, and its TTFT is
 *     exactly that (R0 decode + R2 prefill from 4 to 5.51 ms).
 *  R3 t=0.2 s (1000 in): alone it takes 11 ms, but the replica is idle:
 *     admitted (nothing to shed for). */
START_TEST(test_predicted_slo_miss)
{
    static const char csv[] = "arrival_s,input_tokens,output_tokens\n"
                              "0,300,50\n0.001,100,5\n0.0015,50,5\n0.2,1000,2\n";
    Study *st = study_new(csv, 1, SV_ROUTER_ROUND_ROBIN);
    st->cfg.slo.ttft_s = 0.005;
    st->cfg.admission.reject_predicted_slo_miss = TRUE;
    g_autoptr(SvSim) sim = run_study(st, 1000);
    ck_assert_int_eq(rec(sim, 0)->outcome, SV_REQ_COMPLETED);
    ck_assert_int_eq(rec(sim, 0)->first_token_ns, 4000000);
    ck_assert_int_eq(rec(sim, 1)->outcome, SV_REQ_REJECTED);
    ck_assert_int_eq(rec(sim, 1)->reject_reason, SV_REJECT_SLO_PREDICTED_MISS);
    ck_assert_int_eq(rec(sim, 2)->outcome, SV_REQ_COMPLETED);
    ck_assert_int_eq(rec(sim, 2)->first_token_ns - rec(sim, 2)->arrival_ns, 4010000);
    ck_assert_int_eq(rec(sim, 3)->outcome, SV_REQ_COMPLETED);
    ck_assert_int_eq(rec(sim, 3)->first_token_ns - rec(sim, 3)->arrival_ns, 11000000);
    study_free(st);

    /* Without the rule (and without R2, which would share R1's step) R1 is
     * served with the TTFT the estimator foresaw. */
    Study *st2 = study_new("arrival_s,input_tokens,output_tokens\n0,300,50\n0.001,100,5\n", 1,
                           SV_ROUTER_ROUND_ROBIN);
    st2->cfg.slo.ttft_s = 0.005;
    g_autoptr(SvSim) sim2 = run_study(st2, 1000);
    ck_assert_int_eq(rec(sim2, 1)->outcome, SV_REQ_COMPLETED);
    ck_assert_int_eq(rec(sim2, 1)->first_token_ns - rec(sim2, 1)->arrival_ns, 5010000);
    study_free(st2);
}
END_TEST

/* Overload in a closed loop: 50 clients, a queue cap of 2 and a predicted
 * miss rule. The run must end, shed with reasons, and keep every balance;
 * shed clients wait for the queues to move rather than spin at one instant. */
START_TEST(test_closed_loop_overload)
{
    Study *st = study_new(NULL, 2, SV_ROUTER_LEAST_OUTSTANDING);
    st->cfg.workload = fixed_workload(SV_ARRIVAL_CLOSED_LOOP, 0, 50, 2000, 500, 20);
    st->cfg.engine.max_num_seqs = 4;
    st->cfg.admission.max_queue_length = 2;
    st->cfg.slo.ttft_s = 0.05;
    st->cfg.admission.reject_predicted_slo_miss = TRUE;
    g_autoptr(SvSim) sim = run_study(st, 1000);
    SvMetrics *m = sv_sim_metrics(sim);
    int64_t full = sv_metrics_count_rejected(m, SV_REJECT_QUEUE_FULL);
    int64_t miss = sv_metrics_count_rejected(m, SV_REJECT_SLO_PREDICTED_MISS);
    ck_assert_int_eq(count_records(sim), 2000);
    ck_assert_int_gt(full + miss, 0);
    SvSummary s;
    sv_metrics_summarize(m, sv_sim_totals(sim), &s);
    ck_assert_int_eq(s.rejected, full + miss);
    ck_assert_int_gt(s.completed, 0);
    /* Shed clients do not spin: at most one shed per iteration end for the
     * parked, one per completion for the replacement, one per client at the
     * start. */
    ck_assert_int_le(s.rejected, sv_sim_totals(sim)->iterations + s.completed + 50);
    study_free(st);
}
END_TEST

/* ---- tenants ------------------------------------------------------------- */

/* Tenant a at 2/s (0, 0.5, 1, 1.5 s), tenant b at 3/s (0, 1/3, 2/3, 1 s):
 * merged by time, ties to the lower tenant index. */
START_TEST(test_tenant_merge)
{
    Study *st = study_new(NULL, 1, SV_ROUTER_ROUND_ROBIN);
    add_tenant(st, "a", fixed_workload(SV_ARRIVAL_CONSTANT, 2, 0, 4, 10, 1), -1);
    add_tenant(st, "b", fixed_workload(SV_ARRIVAL_CONSTANT, 3, 0, 4, 20, 1), -1);
    const int tenant[8] = {0, 1, 1, 0, 1, 0, 1, 0};
    const SvTimeNs at[8] = {
        0,           0,           sv_s_to_ns(1.0 / 3.0), sv_s_to_ns(0.5), sv_s_to_ns(2.0 / 3.0),
        SV_NS_PER_S, SV_NS_PER_S, sv_s_to_ns(1.5)};
    for (int pass = 0; pass < 2; pass++) {
        GError *error = NULL;
        g_autoptr(SvTenantMix) mix = sv_tenant_mix_new(&st->cfg, NULL, &error);
        ck_assert_msg(mix != NULL, "%s", error ? error->message : "");
        ck_assert_int_eq(sv_tenant_mix_num_tenants(mix), 2);
        ck_assert_str_eq(sv_tenant_mix_tenant_names(mix)[1], "b");
        SvRequestSpec r;
        for (int i = 0; i < 8; i++) {
            ck_assert(sv_tenant_mix_next_open(mix, &r));
            ck_assert_int_eq(r.tenant, tenant[i]);
            ck_assert_int_eq(r.arrival_ns, at[i]);
            ck_assert_int_eq(r.input_tokens, tenant[i] == 0 ? 10 : 20);
            ck_assert_int_eq(r.slo_class, 0);
        }
        ck_assert(!sv_tenant_mix_next_open(mix, &r));
        ck_assert(!sv_tenant_mix_next_open(mix, &r));
    }
    /* The same through the engine: ids in that order, tenants recorded. */
    g_autoptr(SvSim) sim = run_study(st, 1000);
    for (int i = 0; i < 8; i++) {
        ck_assert_int_eq(rec(sim, i)->tenant, tenant[i]);
        ck_assert_int_eq(rec(sim, i)->arrival_ns, at[i]);
    }
    study_free(st);
}
END_TEST

/* An open-loop tenant beside a closed-loop one (2 clients, 6 requests): the
 * closed loop replaces only its own requests, so each tenant gets exactly
 * its requests, whatever the interleaving. */
START_TEST(test_tenant_open_and_closed)
{
    Study *st = study_new(NULL, 2, SV_ROUTER_LEAST_OUTSTANDING);
    add_tenant(st, "web", fixed_workload(SV_ARRIVAL_CONSTANT, 100, 0, 5, 50, 3), -1);
    add_tenant(st, "batch", fixed_workload(SV_ARRIVAL_CLOSED_LOOP, 0, 2, 6, 200, 10), -1);
    g_autoptr(SvSim) sim = run_study(st, 1000);
    int per[2] = {0, 0};
    for (int i = 0; i < 11; i++)
        per[rec(sim, i)->tenant]++;
    ck_assert_int_eq(per[0], 5);
    ck_assert_int_eq(per[1], 6);
    /* The two clients start at t=0 before the first open arrival (stream
     * order), and a client's next request starts when its last finished. */
    ck_assert_int_eq(rec(sim, 0)->tenant, 1);
    ck_assert_int_eq(rec(sim, 1)->tenant, 1);
    ck_assert_int_eq(rec(sim, 2)->tenant, 0);
    study_free(st);
}
END_TEST

/* Priority: a tenant's own beats its class's; deadline-bearing classes. */
START_TEST(test_tenant_priority)
{
    Study *st = study_new(NULL, 1, SV_ROUTER_ROUND_ROBIN);
    add_class(st, "gold", 0.1, 7);
    add_tenant(st, "a", fixed_workload(SV_ARRIVAL_CONSTANT, 1, 0, 1, 10, 1), 1);
    SvTenantConfig *b = add_tenant(st, "b", fixed_workload(SV_ARRIVAL_CONSTANT, 1, 0, 1, 10, 1), 1);
    b->has_priority = TRUE;
    b->priority = -3;
    add_tenant(st, "c", fixed_workload(SV_ARRIVAL_CONSTANT, 1, 0, 1, 10, 1), -1);
    GError *error = NULL;
    g_autoptr(SvTenantMix) mix = sv_tenant_mix_new(&st->cfg, NULL, &error);
    ck_assert(mix != NULL);
    const int want_priority[3] = {7, -3, 0};
    const int want_class[3] = {1, 1, 0};
    SvRequestSpec r;
    for (int i = 0; i < 3; i++) {
        ck_assert(sv_tenant_mix_next_open(mix, &r));
        ck_assert_int_eq(r.tenant, i);
        ck_assert_int_eq(r.slo_class, want_class[i]);
        ck_assert_int_eq(sv_tenant_mix_priority(mix, &r), want_priority[i]);
    }
    int n = 0;
    const SvSloClass *classes = sv_tenant_mix_classes(mix, &n);
    ck_assert_int_eq(n, 2);
    ck_assert_str_eq(classes[0].name, "default");
    ck_assert_str_eq(classes[1].name, "gold");
    study_free(st);
}
END_TEST

/* Read summary.json of @sim into a parser. */
static JsonParser *summary_json(SvSim *sim, Study *st, char **requests_csv)
{
    g_autofree char *dir = g_dir_make_tmp("sv-route-XXXXXX", NULL);
    GError *error = NULL;
    ck_assert(sv_metrics_write(sv_sim_metrics(sim), &st->cfg, sv_sim_totals(sim), dir, &error));
    const char *names[] = {"summary.json", "requests.csv", "timeseries.csv"};
    JsonParser *parser = json_parser_new();
    for (int i = 0; i < 3; i++) {
        g_autofree char *path = g_build_filename(dir, names[i], NULL);
        if (i == 0)
            ck_assert(json_parser_load_from_file(parser, path, &error));
        if (i == 1 && requests_csv != NULL)
            ck_assert(g_file_get_contents(path, requests_csv, NULL, NULL));
        g_unlink(path);
    }
    g_rmdir(dir);
    return parser;
}

static JsonObject *member(JsonObject *o, const char *a, const char *b)
{
    JsonObject *x = json_object_get_object_member(o, a);
    ck_assert_msg(x != NULL, "no %s", a);
    if (b == NULL)
        return x;
    JsonObject *y = json_object_get_object_member(x, b);
    ck_assert_msg(y != NULL, "no %s.%s", a, b);
    return y;
}

#define NEAR(x, y)                                                                                 \
    ck_assert_msg(fabs((x) - (y)) < 1e-12, "%.15g != %.15g", (double)(x), (double)(y))
/* summary.json keeps 12 significant digits. */
#define NEAR_JSON(x, y)                                                                            \
    ck_assert_msg(fabs((x) - (y)) <= 1e-11 * fabs(y), "%.15g != %.15g", (double)(x), (double)(y))

/* Two tenants on one replica, each sending one request at t=0 and one at
 * t=1 s, all with one output token:
 *   a (class fast, TTFT <= 3 ms): 100 tokens, goes first on the tie: 0-2 ms
 *   b (class slow, TTFT <= 5 ms): 300 tokens, waits for a: 2-6 ms
 * and the same from 1 s. So a: TTFT 2, 2 ms, all within; b: TTFT 6, 6 ms,
 * none within. The run spans 0 to 1.006 s. Per tenant: a completed 2,
 * attainment 1, goodput 2/1.006; b attainment 0, goodput 0; class fast met,
 * class slow not, so the run's SLO is not met; attainment 2/4. */
START_TEST(test_per_tenant_metrics)
{
    Study *st = study_new(NULL, 1, SV_ROUTER_ROUND_ROBIN);
    add_class(st, "fast", 0.003, 1);
    add_class(st, "slow", 0.005, 0);
    add_tenant(st, "a", fixed_workload(SV_ARRIVAL_CONSTANT, 1, 0, 2, 100, 1), 1);
    add_tenant(st, "b", fixed_workload(SV_ARRIVAL_CONSTANT, 1, 0, 2, 300, 1), 2);
    g_autoptr(SvSim) sim = run_study(st, 1000);
    g_autofree char *csv = NULL;
    g_autoptr(JsonParser) parser = summary_json(sim, st, &csv);
    JsonObject *root = json_node_get_object(json_parser_get_root(parser));

    ck_assert_int_eq(json_object_get_int_member(root, "completed"), 4);
    NEAR(json_object_get_double_member(root, "slo_attainment"), 0.5);
    NEAR(json_object_get_double_member(root, "duration_s"), 1.006);
    ck_assert(!json_object_get_boolean_member(root, "slo_met"));
    NEAR_JSON(json_object_get_double_member(root, "goodput_requests_per_s"), 2 / 1.006);

    JsonObject *a = member(root, "tenants", "a");
    ck_assert_int_eq(json_object_get_int_member(a, "completed"), 2);
    ck_assert_int_eq(json_object_get_int_member(a, "rejected"), 0);
    NEAR(json_object_get_double_member(member(a, "ttft_s", NULL), "p50"), 0.002);
    NEAR(json_object_get_double_member(member(a, "e2e_s", NULL), "max"), 0.002);
    NEAR(json_object_get_double_member(a, "slo_attainment"), 1.0);
    NEAR_JSON(json_object_get_double_member(a, "goodput_requests_per_s"), 2 / 1.006);
    ck_assert(json_object_get_boolean_member(a, "slo_met"));
    JsonObject *b = member(root, "tenants", "b");
    NEAR(json_object_get_double_member(member(b, "ttft_s", NULL), "mean"), 0.006);
    NEAR(json_object_get_double_member(b, "slo_attainment"), 0.0);
    NEAR(json_object_get_double_member(b, "goodput_requests_per_s"), 0.0);
    ck_assert(!json_object_get_boolean_member(b, "slo_met"));

    JsonObject *fast = member(root, "slo_classes", "fast");
    ck_assert_int_eq(json_object_get_int_member(fast, "completed"), 2);
    NEAR(json_object_get_double_member(fast, "target_ttft_s"), 0.003);
    ck_assert(json_object_get_boolean_member(fast, "slo_met"));
    ck_assert(!json_object_get_boolean_member(member(root, "slo_classes", "slow"), "slo_met"));
    ck_assert_int_eq(
        json_object_get_int_member(member(root, "slo_classes", "default"), "completed"), 0);
    JsonObject *why = member(root, "rejected_by_reason", NULL);
    ck_assert(json_object_has_member(why, "queue_full"));
    ck_assert(json_object_has_member(why, "rate_limited"));
    ck_assert(json_object_has_member(why, "slo_predicted_miss"));

    /* requests.csv names each row's tenant and class (rows by id: a, b, a, b). */
    g_auto(GStrv) lines = g_strsplit(csv, "\n", -1);
    g_auto(GStrv) head = g_strsplit(lines[0], ",", -1);
    int col_tenant = -1, col_class = -1;
    for (int i = 0; head[i] != NULL; i++) {
        if (strcmp(head[i], "tenant") == 0)
            col_tenant = i;
        if (strcmp(head[i], "slo_class") == 0)
            col_class = i;
    }
    ck_assert_int_eq(col_class, col_tenant + 1);
    for (int row = 1; row <= 4; row++) {
        g_auto(GStrv) f = g_strsplit(lines[row], ",", -1);
        ck_assert_str_eq(f[col_tenant], row % 2 ? "a" : "b");
        ck_assert_str_eq(f[col_class], row % 2 ? "fast" : "slow");
    }
    study_free(st);
}
END_TEST

/* Per-class attainment and slo_met from hand-made records: class 0 targets
 * TTFT 1 s, class 1 TTFT 0.1 s; SLO percentile 50. */
static SvRequestRecord done(int id, double ttft_s, int cls, int tenant)
{
    SvRequestRecord r = {0};
    r.id = id;
    r.arrival_ns = (SvTimeNs)id * SV_NS_PER_S;
    r.first_scheduled_ns = r.arrival_ns;
    r.first_token_ns = r.arrival_ns + sv_s_to_ns(ttft_s);
    r.finish_ns = r.first_token_ns;
    r.input_tokens = 10;
    r.output_tokens = 1;
    r.slo_class = (uint8_t)cls;
    r.tenant = (uint16_t)tenant;
    r.outcome = SV_REQ_COMPLETED;
    return r;
}

START_TEST(test_per_class_attainment)
{
    SvSloConfig slo = {.ttft_s = 1.0, .percentile = 50};
    g_autoptr(SvMetrics) m = sv_metrics_new(&slo);
    SvSloClass classes[2] = {{.name = "default", .ttft_s = 1.0}, {.name = "tight", .ttft_s = 0.1}};
    sv_metrics_set_slo_classes(m, classes, 2);
    const char *const tenants[] = {"x", "y"};
    sv_metrics_set_tenants(m, tenants, 2);
    /* Class 0: 0.5, 0.8, 2.0 s (2 of 3 within; median 0.8 meets 1 s).
     * Class 1: 0.05, 0.2, 0.3 s (1 of 3 within; median 0.2 misses 0.1 s).
     * Tenant x: ids 0-2 and 3; tenant y: ids 4, 5 and a rejection. */
    const double ttft[6] = {0.5, 0.8, 2.0, 0.05, 0.2, 0.3};
    for (int i = 0; i < 6; i++) {
        SvRequestRecord r = done(i, ttft[i], i < 3 ? 0 : 1, i < 4 ? 0 : 1);
        sv_metrics_add_request(m, &r);
    }
    SvRequestRecord rej = done(6, 0, 1, 1);
    rej.outcome = SV_REQ_REJECTED;
    rej.reject_reason = SV_REJECT_QUEUE_FULL;
    rej.finish_ns = rej.arrival_ns;
    sv_metrics_add_request(m, &rej);

    SvSummary s;
    sv_metrics_summarize(m, NULL, &s);
    ck_assert_int_eq(s.completed, 6);
    NEAR(s.slo_attainment, 3.0 / 6.0);
    ck_assert(!s.slo_met); /* class 1 misses at its median */
    /* duration 0 .. 6 s (the rejection at 6 s ends it). */
    NEAR(s.goodput_requests_per_s, 3.0 / 6.0);

    size_t n = 0;
    g_autofree SvGroupSummary *by_class = sv_metrics_summarize_groups(m, SV_GROUP_SLO_CLASS, &n);
    ck_assert_int_eq(n, 2);
    NEAR(by_class[0].slo_attainment, 2.0 / 3.0);
    NEAR(by_class[1].slo_attainment, 1.0 / 3.0);
    ck_assert(by_class[0].slo_met);
    ck_assert(!by_class[1].slo_met);
    ck_assert_int_eq(by_class[1].rejected, 1);
    NEAR(by_class[0].ttft_s.p50, 0.8);
    NEAR(by_class[1].ttft_s.max, 0.3);
    NEAR(by_class[0].goodput_requests_per_s + by_class[1].goodput_requests_per_s,
         s.goodput_requests_per_s);

    g_autofree SvGroupSummary *by_tenant = sv_metrics_summarize_groups(m, SV_GROUP_TENANT, &n);
    ck_assert_int_eq(n, 2);
    ck_assert_int_eq(by_tenant[0].completed, 4);
    ck_assert_int_eq(by_tenant[1].completed, 2);
    ck_assert_int_eq(by_tenant[1].rejected, 1);
    /* x: 0.5, 0.8 within class 0, 0.05 within class 1; 2.0 misses: 3/4.
     * Its class-0 part meets at the median (0.8), its class-1 part (0.05)
     * too: met. y: 0.2, 0.3 both miss class 1: attainment 0, not met. */
    NEAR(by_tenant[0].slo_attainment, 0.75);
    ck_assert(by_tenant[0].slo_met);
    NEAR(by_tenant[1].slo_attainment, 0.0);
    ck_assert(!by_tenant[1].slo_met);
    NEAR(by_tenant[0].ttft_s.p50, 0.65); /* 0.05 0.5 0.8 2.0 -> (0.5+0.8)/2 */
}
END_TEST

/* A trace's tenant and slo_class columns: tenants named by the trace,
 * classes matched by name ("default" is the study's slo:); an unknown class
 * name is an error that names the trace. */
START_TEST(test_trace_columns)
{
    static const char csv[] = "arrival_s,input_tokens,output_tokens,tenant,slo_class\n"
                              "0,100,1,acme,fast\n"
                              "0.1,100,1,globex,default\n"
                              "0.2,100,1,acme,default\n";
    Study *st = study_new(csv, 1, SV_ROUTER_ROUND_ROBIN);
    add_class(st, "fast", 0.5, 3);
    g_autoptr(SvSim) sim = run_study(st, 1000);
    SvMetrics *m = sv_sim_metrics(sim);
    ck_assert_int_eq(sv_metrics_num_tenants(m), 2);
    ck_assert_str_eq(sv_metrics_tenant_name(m, 0), "acme");
    ck_assert_str_eq(sv_metrics_tenant_name(m, 1), "globex");
    ck_assert_int_eq(rec(sim, 0)->tenant, 0);
    ck_assert_int_eq(rec(sim, 0)->slo_class, 1);
    ck_assert_int_eq(rec(sim, 1)->tenant, 1);
    ck_assert_int_eq(rec(sim, 1)->slo_class, 0);
    ck_assert_int_eq(rec(sim, 2)->tenant, 0);
    study_free(st);

    static const char bad[] = "arrival_s,input_tokens,output_tokens,slo_class\n0,100,1,gold\n";
    Study *st2 = study_new(bad, 1, SV_ROUTER_ROUND_ROBIN);
    add_class(st2, "fast", 0.5, 3);
    SvSimOptions opt = {.iter_time_fn = sv_test_toy_time, .kv_blocks = 1000};
    GError *error = NULL;
    SvSim *none = sv_sim_new(&st2->cfg, st2->trace, &opt, &error);
    ck_assert_ptr_null(none);
    ck_assert_msg(strstr(error->message, "slo_class 'gold' is not a class") != NULL, "%s",
                  error->message);
    ck_assert(strstr(error->message, st2->trace_path) != NULL);
    g_error_free(error);
    study_free(st2);
}
END_TEST

/* The same study twice gives the same records, byte for byte. */
START_TEST(test_deterministic)
{
    g_autofree char *first = NULL;
    for (int pass = 0; pass < 2; pass++) {
        Study *st = study_new(NULL, 3, SV_ROUTER_POWER_OF_TWO);
        st->cfg.router_staleness_s = 0.05;
        SvWorkloadConfig w = fixed_workload(SV_ARRIVAL_POISSON, 400, 0, 300, 200, 20);
        w.input = (SvLengthSpec){.dist = SV_LEN_UNIFORM, .min = 10, .max = 900};
        add_class(st, "fast", 0.02, 1);
        add_tenant(st, "a", w, 1);
        add_tenant(st, "b", fixed_workload(SV_ARRIVAL_CLOSED_LOOP, 0, 5, 200, 300, 30), -1);
        st->cfg.admission.max_queue_length = 3;
        st->cfg.admission.rate_limit_per_s = 300;
        st->cfg.admission.rate_limit_burst = 10;
        st->cfg.admission.reject_predicted_slo_miss = TRUE;
        st->cfg.slo.ttft_s = 0.05;
        g_autoptr(SvSim) sim = run_study(st, 400);
        g_autofree char *csv = NULL;
        g_autoptr(JsonParser) parser = summary_json(sim, st, &csv);
        if (pass == 0)
            first = g_steal_pointer(&csv);
        else
            ck_assert_str_eq(first, csv);
        study_free(st);
    }
}
END_TEST

/* ---- study keys ------------------------------------------------------------ */

static SvConfig *load_text(const char *yaml, GError **error)
{
    g_autofree char *path = sv_test_write_tmp(yaml, ".yaml");
    SvConfig *c = sv_config_load(path, NULL, error);
    g_unlink(path);
    return c;
}

START_TEST(test_config_keys)
{
    static const char yaml[] =
        "model: llama-3-8b\n"
        "cluster:\n"
        "  router: least-kv\n"
        "  router_staleness_s: 0.25\n"
        "  pools: [{hardware: h100-sxm, replicas: 2}]\n"
        "slo: {ttft_s: 2}\n"
        "slo_classes:\n"
        "  interactive: {ttft_s: 0.5, tpot_s: 0.05, priority: 2}\n"
        "  batch: {e2e_s: 600}\n"
        "admission:\n"
        "  max_queue_length: 16\n"
        "  max_cluster_queue_length: 40\n"
        "  rate_limit: {rate_per_s: 12.5, burst: 4}\n"
        "  reject_predicted_slo_miss: true\n"
        "workload:\n"
        "  tenants:\n"
        "    - name: chat\n"
        "      lengths: {input: {dist: fixed, value: 100}, output: {dist: fixed, value: 10}}\n"
        "      arrival: {process: poisson, rate_per_s: 4}\n"
        "      num_requests: 10\n"
        "      slo_class: interactive\n"
        "    - lengths: {input: {dist: lognormal, mean: 800, sigma: 1}, output: {dist: fixed, "
        "value: 10}}\n"
        "      arrival: {process: closed-loop, concurrency: 3}\n"
        "      duration_s: 5\n"
        "      slo_class: default\n"
        "      priority: -1\n";
    GError *error = NULL;
    g_autoptr(SvConfig) c = load_text(yaml, &error);
    ck_assert_msg(c != NULL, "%s", error ? error->message : "");
    ck_assert_int_eq(c->router, SV_ROUTER_LEAST_KV);
    NEAR(c->router_staleness_s, 0.25);
    ck_assert_int_eq(c->slo_classes->len, 2);
    const SvSloClass *ia = g_ptr_array_index(c->slo_classes, 0);
    ck_assert_str_eq(ia->name, "interactive");
    NEAR(ia->tpot_s, 0.05);
    ck_assert_int_eq(ia->priority, 2);
    NEAR(((const SvSloClass *)g_ptr_array_index(c->slo_classes, 1))->e2e_s, 600);
    ck_assert_int_eq(c->admission.max_queue_length, 16);
    ck_assert_int_eq(c->admission.max_cluster_queue_length, 40);
    NEAR(c->admission.rate_limit_per_s, 12.5);
    ck_assert_int_eq(c->admission.rate_limit_burst, 4);
    ck_assert(c->admission.reject_predicted_slo_miss);
    ck_assert_int_eq(c->tenants->len, 2);
    const SvTenantConfig *t0 = g_ptr_array_index(c->tenants, 0);
    const SvTenantConfig *t1 = g_ptr_array_index(c->tenants, 1);
    ck_assert_str_eq(t0->name, "chat");
    ck_assert_int_eq(t0->slo_class, 1);
    ck_assert(!t0->has_priority);
    ck_assert_int_eq(t0->workload.process, SV_ARRIVAL_POISSON);
    ck_assert_str_eq(t1->name, "tenant1");
    ck_assert_int_eq(t1->slo_class, 0);
    ck_assert(t1->has_priority);
    ck_assert_int_eq(t1->priority, -1);
    ck_assert_int_eq(t1->workload.concurrency, 3);
    /* lognormal max resolved per tenant, as for the single workload. */
    ck_assert_int_eq(t1->workload.input.max, c->engine.max_model_len);

    /* --set reaches into a tenant; the single form still loads. */
    g_autofree char *path = sv_test_write_tmp(yaml, ".yaml");
    const char *const sets[] = {"workload.tenants.0.arrival.rate_per_s=9",
                                "cluster.router=power-of-two", NULL};
    g_autoptr(SvConfig) c2 = sv_config_load(path, sets, &error);
    g_unlink(path);
    ck_assert_msg(c2 != NULL, "%s", error ? error->message : "");
    NEAR(((const SvTenantConfig *)g_ptr_array_index(c2->tenants, 0))->workload.rate_per_s, 9);
    ck_assert_int_eq(c2->router, SV_ROUTER_POWER_OF_TWO);
}
END_TEST

Suite *route_suite(void)
{
    Suite *s = suite_create("route");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_least_kv);
    tcase_add_test(tc, test_power_of_two);
    tcase_add_test(tc, test_staleness_burst);
    tcase_add_test(tc, test_least_outstanding_tree);
    tcase_add_test(tc, test_staleness_least_kv);
    tcase_add_test(tc, test_token_bucket_open_loop);
    tcase_add_test(tc, test_token_bucket_closed_loop);
    tcase_add_test(tc, test_queue_length);
    tcase_add_test(tc, test_predicted_slo_miss);
    tcase_add_test(tc, test_closed_loop_overload);
    tcase_add_test(tc, test_tenant_merge);
    tcase_add_test(tc, test_tenant_open_and_closed);
    tcase_add_test(tc, test_tenant_priority);
    tcase_add_test(tc, test_per_tenant_metrics);
    tcase_add_test(tc, test_per_class_attainment);
    tcase_add_test(tc, test_trace_columns);
    tcase_add_test(tc, test_deterministic);
    tcase_add_test(tc, test_config_keys);
    suite_add_tcase(s, tc);
    return s;
}
