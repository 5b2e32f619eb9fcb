/* Tests of metrics/: the percentile rule on hand-computed sets, ITL histogram
 * accuracy against exact percentiles, SLO/goodput/throughput on hand-made
 * records, and the writers (exact headers and rows, byte-identical rewrites,
 * no temporary files left, clean failure on an unwritable directory). */
#include "metrics/metrics.h"
#include "testutil.h"

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>

#define S(x) ((SvTimeNs)llround((x)*1e9)) /* seconds -> ns, exact for test values */

static SvRequestRecord completed(int64_t id, double arrival, double sched, double first,
                                 double finish, int input, int output)
{
    SvRequestRecord r = {0};
    r.id = id;
    r.arrival_ns = S(arrival);
    r.first_scheduled_ns = S(sched);
    r.first_token_ns = S(first);
    r.finish_ns = S(finish);
    r.input_tokens = input;
    r.output_tokens = output;
    r.replica = 0;
    r.outcome = SV_REQ_COMPLETED;
    r.reject_reason = SV_REJECT_NONE;
    return r;
}

static SvRequestRecord rejected(int64_t id, double arrival, double at, int input, int output,
                                SvRejectReason reason, int replica)
{
    SvRequestRecord r = {0};
    r.id = id;
    r.arrival_ns = S(arrival);
    r.finish_ns = S(at);
    r.input_tokens = input;
    r.output_tokens = output;
    r.replica = replica;
    r.outcome = SV_REQ_REJECTED;
    r.reject_reason = reason;
    return r;
}

/* The hand-made set used by the SLO and writer tests (times in s):
 *   id  arrival sched first finish  in  out   ttft  tpot   e2e   queue
 *   0   0       0.5   0.5   1.45    100 11    0.5   0.095 1.45  0.5
 *   1   1       1.2   3.0   3.05    200 2     2.0   0.05  2.05  0.2
 *   2   2       2.1   2.4   2.4     300 1     0.4   -     0.4   0.1
 *   3   3       3.0   3.2   4.2     400 5     0.2   0.25  1.2   0.0
 *   4   4       rejected at 4.0, too long (100000 in, 10 out), not routed
 *   5   5       rejected at 5.0, KV capacity (50 in, 20 out), replica 1
 * Added out of id order, as an engine adds them (finish order). */
static void add_hand_set(SvMetrics *m)
{
    SvRequestRecord r[6];
    r[0] = completed(0, 0, 0.5, 0.5, 1.45, 100, 11);
    r[0].max_itl_ns = S(0.2);
    r[1] = completed(1, 1, 1.2, 3.0, 3.05, 200, 2);
    r[1].max_itl_ns = S(0.05);
    r[1].preemptions = 2;
    r[1].replica = 1;
    r[2] = completed(2, 2, 2.1, 2.4, 2.4, 300, 1);
    r[3] = completed(3, 3, 3.0, 3.2, 4.2, 400, 5);
    r[3].max_itl_ns = S(0.4);
    r[4] = rejected(4, 4, 4, 100000, 10, SV_REJECT_TOO_LONG, -1);
    r[5] = rejected(5, 5, 5, 50, 20, SV_REJECT_KV_CAPACITY, 1);
    static const int order[6] = {0, 2, 4, 1, 3, 5};
    for (int i = 0; i < 6; i++)
        sv_metrics_add_request(m, &r[order[i]]);
}

#define ck_assert_close(a, b, tol)                                                                 \
    ck_assert_msg(fabs((double)(a) - (double)(b)) <= (tol), "%s = %.12g, expected %.12g", #a,      \
                  (double)(a), (double)(b))

START_TEST(test_percentile_rule)
{
    const double four[] = {1, 2, 3, 4};
    ck_assert_close(sv_percentile_sorted(four, 4, 50), 2.5, 1e-12);
    ck_assert_close(sv_percentile_sorted(four, 4, 0), 1.0, 1e-12);
    ck_assert_close(sv_percentile_sorted(four, 4, 100), 4.0, 1e-12);
    ck_assert_close(sv_percentile_sorted(four, 4, 25), 1.75, 1e-12); /* h = 0.75 */
    ck_assert_close(sv_percentile_sorted(four, 4, 90), 3.7, 1e-12);  /* h = 2.7 */
    const double five[] = {10, 20, 30, 40, 50};
    ck_assert_close(sv_percentile_sorted(five, 5, 99), 49.6, 1e-9); /* h = 3.96 */
    ck_assert_close(sv_percentile_sorted(five, 5, 50), 30.0, 1e-12);
    const double one[] = {7};
    ck_assert_close(sv_percentile_sorted(one, 1, 99), 7.0, 0);
    ck_assert_close(sv_percentile_sorted(NULL, 0, 50), 0.0, 0);
}
END_TEST

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

START_TEST(test_itl_histogram_accuracy)
{
    g_autoptr(SvMetrics) m = sv_metrics_new(NULL);
    ck_assert_close(sv_metrics_itl_percentile_s(m, 50), 0.0, 0);

    /* Log-uniform gaps from 1 us to 1 h. */
    enum { N = 200000 };
    int64_t *gaps = g_new(int64_t, N);
    GRand *rand = g_rand_new_with_seed(42);
    int64_t sum = 0;
    for (int i = 0; i < N; i++) {
        double e = g_rand_double_range(rand, log(1e3), log(3.6e12));
        gaps[i] = (int64_t)exp(e);
        sum += gaps[i];
        sv_metrics_add_itl(m, gaps[i]);
    }
    g_rand_free(rand);
    qsort(gaps, N, sizeof(int64_t), cmp_i64);
    const double ps[] = {0, 0.1, 1, 10, 25, 50, 75, 90, 95, 99, 99.9, 100};
    for (size_t k = 0; k < G_N_ELEMENTS(ps); k++) {
        int64_t rank = (int64_t)ceil(ps[k] / 100.0 * N);
        rank = CLAMP(rank, 1, N);
        double exact = (double)gaps[rank - 1] * 1e-9;
        double got = sv_metrics_itl_percentile_s(m, ps[k]);
        ck_assert_msg(fabs(got - exact) <= 0.005 * exact, "p%g: %.9g vs exact %.9g", ps[k], got,
                      exact);
    }
    SvRunTotals totals = {0};
    SvSummary s;
    sv_metrics_summarize(m, &totals, &s);
    ck_assert_close(s.itl_s.mean, (double)sum * 1e-9 / N, 1e-9 * s.itl_s.mean);
    ck_assert_close(s.itl_s.max, (double)gaps[N - 1] * 1e-9, 0);
    ck_assert_close(s.itl_s.p50, sv_metrics_itl_percentile_s(m, 50), 0);
    g_free(gaps);

    /* Every single value, alone, comes back within 0.25 % (bucket half-width),
     * and exactly below 512 ns where buckets are 1 ns wide. */
    for (int64_t v = 1; v < (int64_t)1 << 50; v = v + 1 + v / 7) {
        g_autoptr(SvMetrics) one = sv_metrics_new(NULL);
        sv_metrics_add_itl(one, v);
        sv_metrics_add_itl(one, 2 * v); /* so min/max clamping does not hide the bucket */
        sv_metrics_add_itl(one, 3 * v);
        double got = sv_metrics_itl_percentile_s(one, 50) * 1e9;
        double want = 2.0 * (double)v;
        ck_assert_msg(fabs(got - want) <= 0.0025 * want, "v=%" G_GINT64_FORMAT ": %.3f", v, got);
        if (2 * v < 512)
            ck_assert_close(got, want, 1e-6);
    }
}
END_TEST

START_TEST(test_slo_goodput)
{
    SvSloConfig slo = {.ttft_s = 1.0, .tpot_s = 0.1, .e2e_s = 0, .percentile = 50};
    g_autoptr(SvMetrics) m = sv_metrics_new(&slo);
    add_hand_set(m);
    SvRunTotals totals = {0};
    totals.preemptions = 2;
    SvSummary s;
    sv_metrics_summarize(m, &totals, &s);

    ck_assert_int_eq(s.completed, 4);
    ck_assert_int_eq(s.rejected, 2);
    ck_assert_int_eq(s.preemptions, 2);
    ck_assert_close(s.duration_s, 5.0, 1e-12); /* first arrival 0, last finish 5.0 */
    /* Requests 0 (ttft 0.5, tpot 0.095) and 2 (one output token, no TPOT) meet
     * the SLO; 1 misses TTFT, 3 misses TPOT. */
    ck_assert_close(s.slo_attainment, 0.5, 1e-12);
    ck_assert_close(s.goodput_requests_per_s, 0.4, 1e-12);
    ck_assert_close(s.requests_per_s, 0.8, 1e-12);
    ck_assert_close(s.input_tokens_per_s, 200.0, 1e-9);
    ck_assert_close(s.output_tokens_per_s, 19.0 / 5.0, 1e-12);

    /* ttft sorted 0.2 0.4 0.5 2.0 */
    ck_assert_close(s.ttft_s.mean, 0.775, 1e-9);
    ck_assert_close(s.ttft_s.p50, 0.45, 1e-9);
    ck_assert_close(s.ttft_s.p90, 1.55, 1e-9); /* h = 2.7: 0.5 + 0.7 x 1.5 */
    ck_assert_close(s.ttft_s.max, 2.0, 1e-9);
    /* tpot over output > 1: 0.05 0.095 0.25 */
    ck_assert_close(s.tpot_s.p50, 0.095, 1e-9);
    ck_assert_close(s.tpot_s.max, 0.25, 1e-9);
    ck_assert_close(s.tpot_s.mean, 0.395 / 3, 1e-9);
    /* e2e sorted 0.4 1.2 1.45 2.05 */
    ck_assert_close(s.e2e_s.mean, 1.275, 1e-9);
    ck_assert_close(s.e2e_s.p50, 1.325, 1e-9);
    ck_assert_close(s.e2e_s.max, 2.05, 1e-9);
    /* queue sorted 0 0.1 0.2 0.5 */
    ck_assert_close(s.queue_s.p50, 0.15, 1e-9);
    ck_assert_close(s.queue_s.max, 0.5, 1e-9);
    /* p50 ttft 0.45 <= 1, p50 tpot 0.095 <= 0.1 */
    ck_assert(s.slo_met);

    ck_assert_int_eq(sv_metrics_count_rejected(m, SV_REJECT_TOO_LONG), 1);
    ck_assert_int_eq(sv_metrics_count_rejected(m, SV_REJECT_KV_CAPACITY), 1);

    /* At p90, ttft is 1.55 > 1: not met, attainment unchanged. */
    SvSloConfig slo90 = slo;
    slo90.percentile = 90;
    g_autoptr(SvMetrics) m90 = sv_metrics_new(&slo90);
    add_hand_set(m90);
    sv_metrics_summarize(m90, &totals, &s);
    ck_assert(!s.slo_met);
    ck_assert_close(s.slo_attainment, 0.5, 1e-12);

    /* E2E target only: 0.4 and 1.2 meet 1.3; p50 e2e 1.325 > 1.3. */
    SvSloConfig slo_e2e = {.e2e_s = 1.3, .percentile = 50};
    g_autoptr(SvMetrics) me = sv_metrics_new(&slo_e2e);
    add_hand_set(me);
    sv_metrics_summarize(me, &totals, &s);
    ck_assert_close(s.slo_attainment, 0.5, 1e-12);
    ck_assert_close(s.goodput_requests_per_s, 0.4, 1e-12);
    ck_assert(!s.slo_met);

    /* No targets: everyone meets them. */
    SvSloConfig none = {.percentile = 90};
    g_autoptr(SvMetrics) mn = sv_metrics_new(&none);
    add_hand_set(mn);
    sv_metrics_summarize(mn, &totals, &s);
    ck_assert_close(s.slo_attainment, 1.0, 0);
    ck_assert(s.slo_met);
}
END_TEST

START_TEST(test_empty_summary)
{
    SvSloConfig slo = {.ttft_s = 1.0, .percentile = 90};
    g_autoptr(SvMetrics) m = sv_metrics_new(&slo);
    SvRunTotals totals = {0};
    SvSummary s;
    sv_metrics_summarize(m, &totals, &s);
    ck_assert_int_eq(s.completed, 0);
    ck_assert(!s.slo_met);
    const double *v = &s.duration_s;
    ck_assert(v[0] == 0.0 && s.ttft_s.p99 == 0.0 && s.itl_s.mean == 0.0);
    ck_assert(s.requests_per_s == 0.0 && s.slo_attainment == 0.0);

    /* Only rejected requests: duration from them, no NaN anywhere. */
    SvRequestRecord r = rejected(0, 1, 1, 10, 10, SV_REJECT_TOO_LONG, -1);
    sv_metrics_add_request(m, &r);
    sv_metrics_summarize(m, &totals, &s);
    ck_assert_int_eq(s.rejected, 1);
    ck_assert(s.duration_s == 0.0 && s.goodput_requests_per_s == 0.0);
    ck_assert(!isnan(s.tpot_s.mean));
}
END_TEST

START_TEST(test_many_records)
{
    /* Crosses several 16 Ki-record chunks. */
    g_autoptr(SvMetrics) m = sv_metrics_new(NULL);
    enum { N = 70000 };
    for (int i = 0; i < N; i++) {
        SvRequestRecord r =
            completed(N - 1 - i, i * 0.001, i * 0.001, i * 0.001 + 0.01, i * 0.001 + 0.02, 10, 2);
        sv_metrics_add_request(m, &r);
    }
    ck_assert_uint_eq(sv_metrics_num_requests(m), N);
    for (size_t i = 0; i < N; i += 997)
        ck_assert_int_eq(sv_metrics_request(m, i)->id, N - 1 - (int64_t)i);
    ck_assert_int_eq(sv_metrics_request(m, N - 1)->id, 0);
    SvSummary s;
    SvRunTotals totals = {0};
    sv_metrics_summarize(m, &totals, &s);
    ck_assert_int_eq(s.completed, N);
    ck_assert_close(s.ttft_s.p99, 0.01, 1e-9);
}
END_TEST

START_TEST(test_reject_reason_names)
{
    ck_assert_str_eq(sv_reject_reason_name(SV_REJECT_NONE), "none");
    ck_assert_str_eq(sv_reject_reason_name(SV_REJECT_TOO_LONG), "too_long");
    ck_assert_str_eq(sv_reject_reason_name(SV_REJECT_KV_CAPACITY), "kv_capacity");
}
END_TEST

/* A config filled by hand with only what the writers read. */
typedef struct {
    SvConfig config;
    SvPoolConfig pool;
} HandConfig;

static void hand_config(HandConfig *h)
{
    memset(h, 0, sizeof(*h));
    h->pool.name = "main";
    h->pool.hardware_name = "h100-sxm";
    h->pool.replicas = 2;
    h->pool.tensor_parallel_size = 1;
    h->pool.pipeline_parallel_size = 1;
    h->pool.expert_parallel_size = 1;
    h->pool.role = SV_ROLE_MIXED;
    h->config.path = "configs/quickstart.yaml";
    h->config.seed = 7;
    h->config.model_name = "llama-3-8b";
    h->config.router = SV_ROUTER_ROUND_ROBIN;
    h->config.engine.scheduler = SV_SCHED_VLLM_V1;
    h->config.pools = g_ptr_array_new();
    g_ptr_array_add(h->config.pools, &h->pool);
    h->config.slo = (SvSloConfig){.ttft_s = 1.0, .tpot_s = 0.1, .percentile = 50};
}

static SvMetrics *hand_metrics(const HandConfig *h)
{
    SvMetrics *m = sv_metrics_new(&h->config.slo);
    add_hand_set(m);
    SvSample a = {.t_ns = S(0), .arrived = 1};
    SvSample b = {.t_ns = S(1.5),
                  .arrived = 3,
                  .completed = 1,
                  .running = 2,
                  .waiting = 1,
                  .kv_utilization = 0.25,
                  .output_tokens = 40,
                  .iterations = 12,
                  .batch_seqs = 1.5,
                  .batch_tokens = 515.5};
    sv_metrics_add_sample(m, &a);
    sv_metrics_add_sample(m, &b);
    for (int i = 1; i <= 4; i++)
        sv_metrics_add_itl(m, S(0.01 * i));
    return m;
}

static SvRunTotals hand_totals(void)
{
    SvRunTotals t = {0};
    t.end_ns = S(5.5);
    t.arrived = 6;
    t.preemptions = 2;
    t.kv_utilization_mean = 0.234;
    t.mfu_mean = 0.121;
    t.wall_s = 0.41;
    t.events = 1234567;
    t.iterations = 321;
    t.num_replicas = 2;
    t.num_devices = 2;
    return t;
}

static char *read_text(const char *dir, const char *name)
{
    g_autofree char *path = g_build_filename(dir, name, NULL);
    char *text = NULL;
    GError *error = NULL;
    ck_assert_msg(g_file_get_contents(path, &text, NULL, &error), "%s",
                  error ? error->message : "?");
    return text;
}

static int count_tmp_files(const char *dir)
{
    int n = 0;
    GDir *d = g_dir_open(dir, 0, NULL);
    ck_assert(d != NULL);
    const char *name;
    while ((name = g_dir_read_name(d)) != NULL)
        if (g_str_has_suffix(name, ".tmp"))
            n++;
    g_dir_close(d);
    return n;
}

static void remove_tree(const char *dir)
{
    GDir *d = g_dir_open(dir, 0, NULL);
    if (d == NULL)
        return;
    const char *name;
    while ((name = g_dir_read_name(d)) != NULL) {
        g_autofree char *path = g_build_filename(dir, name, NULL);
        if (g_file_test(path, G_FILE_TEST_IS_DIR))
            remove_tree(path);
        else
            g_unlink(path);
    }
    g_dir_close(d);
    g_rmdir(dir);
}

START_TEST(test_writers)
{
    HandConfig h;
    hand_config(&h);
    g_autoptr(SvMetrics) m = hand_metrics(&h);
    SvRunTotals totals = hand_totals();
    /* Request 1 (preempted twice) hit 64 cached tokens and spent 0.25 s preempted. */
    sv_metrics_set_request_kv(m, 1, &(SvRequestKv){64, 250000000});
    /* Request 0 was handed over to decode replica 3 (disaggregation). */
    sv_metrics_set_request_transfer(m, 0, &(SvRequestTransfer){3, 1000000, 2000000, 5000000});
    g_autofree char *base = g_dir_make_tmp("sv-metrics-XXXXXX", NULL);
    ck_assert(base != NULL);
    g_autofree char *dir1 = g_build_filename(base, "a", "b", NULL); /* created on demand */
    g_autofree char *dir2 = g_build_filename(base, "c", NULL);
    GError *error = NULL;
    ck_assert_msg(sv_metrics_write(m, &h.config, &totals, dir1, &error), "%s",
                  error ? error->message : "?");
    ck_assert_msg(sv_metrics_write(m, &h.config, &totals, dir2, &error), "%s",
                  error ? error->message : "?");
    ck_assert_int_eq(count_tmp_files(dir1), 0);
    ck_assert_int_eq(count_tmp_files(dir2), 0);

    const char *names[] = {"summary.json", "requests.csv", "timeseries.csv"};
    for (int i = 0; i < 3; i++) {
        g_autofree char *x = read_text(dir1, names[i]);
        g_autofree char *y = read_text(dir2, names[i]);
        ck_assert_msg(strcmp(x, y) == 0, "%s differs between two writes", names[i]);
    }

    g_autofree char *req = read_text(dir1, "requests.csv");
    const char *want_req =
        "id,arrival_s,input_tokens,output_tokens,outcome,reject_reason,replica,queue_s,ttft_s,"
        "tpot_s,e2e_s,max_itl_s,preemptions,tenant,slo_class,cached_tokens,preempted_s,"
        "energy_j,decode_replica,kv_block_wait_s,kv_link_wait_s,kv_transfer_s\n"
        "0,0.000000000,100,11,completed,,0,0.500000000,0.500000000,0.095000000,1.450000000,"
        "0.200000000,0,default,default,0,0.000000000,0.000000,3,0.001000000,0.002000000,"
        "0.005000000\n"
        "1,1.000000000,200,2,completed,,1,0.200000000,2.000000000,0.050000000,2.050000000,"
        "0.050000000,2,default,default,64,0.250000000,0.000000,,,,\n"
        "2,2.000000000,300,1,completed,,0,0.100000000,0.400000000,,0.400000000,,0,default,"
        "default,0,0.000000000,0.000000,,,,\n"
        "3,3.000000000,400,5,completed,,0,0.000000000,0.200000000,0.250000000,1.200000000,"
        "0.400000000,0,default,default,0,0.000000000,0.000000,,,,\n"
        "4,4.000000000,100000,10,rejected,too_long,,,,,,,0,default,default,0,0.000000000,0.000000,"
        ",,,\n"
        "5,5.000000000,50,20,rejected,kv_capacity,1,,,,,,0,default,default,0,0.000000000,0.000000,"
        ",,,\n";
    ck_assert_str_eq(req, want_req);

    g_autofree char *ts = read_text(dir1, "timeseries.csv");
    ck_assert_str_eq(ts, "t_s,arrived,completed,rejected,running,waiting,kv_utilization,"
                         "output_tokens,iterations,power_w,batch_seqs,batch_tokens\n"
                         "0.000000000,1,0,0,0,0,0.000000,0,0,0.000,0.000,0.0\n"
                         "1.500000000,3,1,0,2,1,0.250000,40,12,0.000,1.500,515.5\n");

    g_autofree char *js = read_text(dir1, "summary.json");
    /* Shortest round-trip numbers, not %.17g. */
    ck_assert_msg(strstr(js, "\"duration_s\": 5.0,") != NULL, "%s", js);
    ck_assert_msg(strstr(js, "\"p50\": 0.45,") != NULL, "%s", js);
    g_autoptr(JsonParser) parser = json_parser_new();
    ck_assert_msg(json_parser_load_from_data(parser, js, -1, &error), "%s",
                  error ? error->message : "?");
    JsonObject *root = json_node_get_object(json_parser_get_root(parser));
    ck_assert_int_eq(json_object_get_int_member(root, "completed"), 4);
    ck_assert_int_eq(json_object_get_int_member(root, "rejected"), 2);
    ck_assert_int_eq(json_object_get_int_member(root, "preemptions"), 2);
    ck_assert(json_object_get_boolean_member(root, "slo_met"));
    ck_assert_close(json_object_get_double_member(root, "goodput_requests_per_s"), 0.4, 1e-12);
    const char *dists[] = {"ttft_s", "tpot_s", "itl_s", "e2e_s", "queue_s"};
    for (int i = 0; i < 5; i++) {
        JsonObject *d = json_object_get_object_member(root, dists[i]);
        ck_assert_msg(d != NULL, "%s", dists[i]);
        const char *keys[] = {"mean", "p50", "p90", "p99", "max"};
        for (int k = 0; k < 5; k++)
            ck_assert_msg(json_object_has_member(d, keys[k]), "%s.%s", dists[i], keys[k]);
    }
    ck_assert_close(
        json_object_get_double_member(json_object_get_object_member(root, "e2e_s"), "p50"), 1.325,
        1e-12);
    ck_assert_close(
        json_object_get_double_member(json_object_get_object_member(root, "itl_s"), "mean"), 0.025,
        1e-12);
    JsonObject *thr = json_object_get_object_member(root, "throughput");
    ck_assert_close(json_object_get_double_member(thr, "requests_per_s"), 0.8, 1e-12);
    ck_assert(json_object_has_member(thr, "input_tokens_per_s"));
    ck_assert(json_object_has_member(thr, "output_tokens_per_s"));
    const char *top[] = {"slo_attainment", "kv_utilization_mean",       "mfu_mean",
                         "energy_j",       "energy_per_output_token_j", "cost_usd"};
    for (size_t i = 0; i < G_N_ELEMENTS(top); i++)
        ck_assert_msg(json_object_has_member(root, top[i]), "%s", top[i]);
    JsonObject *power = json_object_get_object_member(root, "power_w");
    ck_assert(json_object_has_member(power, "mean") && json_object_has_member(power, "peak"));
    JsonObject *sim = json_object_get_object_member(root, "sim");
    ck_assert_close(json_object_get_double_member(sim, "wall_s"), 0.41, 0);
    ck_assert_int_eq(json_object_get_int_member(sim, "events"), 1234567);
    ck_assert_int_eq(json_object_get_int_member(sim, "iterations"), 321);
    JsonObject *why = json_object_get_object_member(root, "rejected_by_reason");
    ck_assert_int_eq(json_object_get_int_member(why, "too_long"), 1);
    ck_assert_int_eq(json_object_get_int_member(why, "kv_capacity"), 1);
    JsonObject *study = json_object_get_object_member(root, "study");
    ck_assert_str_eq(json_object_get_string_member(study, "model"), "llama-3-8b");
    ck_assert_str_eq(json_object_get_string_member(study, "scheduler"), "vllm-v1");
    ck_assert_str_eq(json_object_get_string_member(study, "router"), "round-robin");
    ck_assert_int_eq(json_object_get_int_member(study, "seed"), 7);
    JsonArray *pools = json_object_get_array_member(study, "pools");
    ck_assert_int_eq(json_array_get_length(pools), 1);
    JsonObject *pool = json_array_get_object_element(pools, 0);
    ck_assert_str_eq(json_object_get_string_member(pool, "hardware"), "h100-sxm");
    ck_assert_int_eq(json_object_get_int_member(pool, "replicas"), 2);

    /* Rewriting over existing files replaces them. */
    ck_assert(sv_metrics_write(m, &h.config, &totals, dir1, &error));
    ck_assert_int_eq(count_tmp_files(dir1), 0);

    /* Without a config the study is null and nothing crashes. */
    ck_assert(sv_metrics_write(m, NULL, &totals, dir2, &error));

    g_ptr_array_free(h.config.pools, TRUE);
    remove_tree(base);
}
END_TEST

START_TEST(test_write_failures)
{
    HandConfig h;
    hand_config(&h);
    g_autoptr(SvMetrics) m = hand_metrics(&h);
    SvRunTotals totals = hand_totals();
    g_autofree char *base = g_dir_make_tmp("sv-metrics-XXXXXX", NULL);
    GError *error = NULL;

    /* The output "directory" lies under a regular file. */
    g_autofree char *file = g_build_filename(base, "plain", NULL);
    ck_assert(g_file_set_contents(file, "x", -1, NULL));
    g_autofree char *under = g_build_filename(file, "out", NULL);
    ck_assert(!sv_metrics_write(m, &h.config, &totals, under, &error));
    ck_assert(error != NULL && error->domain == G_FILE_ERROR);
    ck_assert_msg(g_str_has_prefix(error->message, under), "%s", error->message);
    g_clear_error(&error);

    /* A directory where the last temporary file should go: the first two
     * temporaries were written and must be removed, nothing renamed. */
    g_autofree char *out = g_build_filename(base, "out", NULL);
    g_autofree char *blocker = g_build_filename(out, "timeseries.csv.tmp", NULL);
    ck_assert_int_eq(g_mkdir_with_parents(blocker, 0755), 0);
    ck_assert(!sv_metrics_write(m, &h.config, &totals, out, &error));
    ck_assert(error != NULL && error->domain == G_FILE_ERROR);
    g_autofree char *want_prefix = g_build_filename(out, "timeseries.csv: ", NULL);
    ck_assert_msg(g_str_has_prefix(error->message, want_prefix), "%s", error->message);
    g_clear_error(&error);
    g_autofree char *summary = g_build_filename(out, "summary.json", NULL);
    g_autofree char *summary_tmp = g_build_filename(out, "summary.json.tmp", NULL);
    g_autofree char *requests = g_build_filename(out, "requests.csv", NULL);
    g_autofree char *requests_tmp = g_build_filename(out, "requests.csv.tmp", NULL);
    ck_assert(!g_file_test(summary, G_FILE_TEST_EXISTS));
    ck_assert(!g_file_test(summary_tmp, G_FILE_TEST_EXISTS));
    ck_assert(!g_file_test(requests, G_FILE_TEST_EXISTS));
    ck_assert(!g_file_test(requests_tmp, G_FILE_TEST_EXISTS));
    /* The blocking directory is not ours to remove. */
    ck_assert(g_file_test(blocker, G_FILE_TEST_IS_DIR));

    g_ptr_array_free(h.config.pools, TRUE);
    remove_tree(base);
}
END_TEST

START_TEST(test_format_table)
{
    HandConfig h;
    hand_config(&h);
    g_autoptr(SvMetrics) m = hand_metrics(&h);
    SvRunTotals totals = hand_totals();
    g_autofree char *a = sv_metrics_format_table(m, &h.config, &totals);
    g_autofree char *b = sv_metrics_format_table(m, &h.config, &totals);
    ck_assert_str_eq(a, b);
    ck_assert_msg(g_str_has_prefix(a, "servesim run: configs/quickstart.yaml  (llama-3-8b on 2 x "
                                      "h100-sxm TP1, vllm-v1, round-robin)\n"),
                  "%s", a);
    ck_assert_msg(strstr(a, "4 completed, 2 rejected in 5.0 s simulated") != NULL, "%s", a);
    ck_assert_msg(strstr(a, "1.2 M events") != NULL, "%s", a);
    ck_assert_msg(strstr(a, "TTFT (s)") && strstr(a, "queue (s)"), "%s", a);
    ck_assert_msg(strstr(a, "ttft<=1s tpot<=0.1s at p50: met (attainment 50.0 %)") != NULL, "%s",
                  a);
    ck_assert_msg(strstr(a, "KV use       mean 23.4 %") != NULL, "%s", a);
    ck_assert_msg(strstr(a, "energy") == NULL, "%s", a);

    totals.energy_j = 38000;
    g_autofree char *c = sv_metrics_format_table(m, &h.config, &totals);
    /* 19 completed output tokens: 2000 J each. */
    ck_assert_msg(strstr(c, "38.0 kJ   2000.000 J/output tok") != NULL, "%s", c);
    g_ptr_array_free(h.config.pools, TRUE);
}
END_TEST

Suite *metrics_suite(void)
{
    Suite *s = suite_create("metrics");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_percentile_rule);
    tcase_add_test(tc, test_itl_histogram_accuracy);
    tcase_add_test(tc, test_slo_goodput);
    tcase_add_test(tc, test_empty_summary);
    tcase_add_test(tc, test_many_records);
    tcase_add_test(tc, test_reject_reason_names);
    tcase_add_test(tc, test_writers);
    tcase_add_test(tc, test_write_failures);
    tcase_add_test(tc, test_format_table);
    suite_add_tcase(s, tc);
    return s;
}
