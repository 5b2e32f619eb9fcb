/* Tests of metrics/quantile.c: the external sort gives exactly the order of
 * an in-memory sort whatever the memory limit (tiny limits force many
 * spilled runs), per-group summaries equal those computed from a sorted
 * array (ascending sum, sv_percentile_sorted) bit for bit, ties included,
 * and a run's summaries do not change when the metrics spill their values. */
#include "metrics/metrics.h"
#include "metrics/quantile.h"
#include "testutil.h"

#include <math.h>
#include <string.h>

static int cmp_pair(const void *a, const void *b)
{
    const SvSortPair *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return (x->value > y->value) - (x->value < y->value);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

START_TEST(test_order_key)
{
    const double v[] = {-INFINITY, -1e300, -2.5, -1e-300, -0.0,    0.0,
                        1e-300,    0.1,    2.5,  1e300,   INFINITY};
    for (size_t i = 0; i < G_N_ELEMENTS(v); i++) {
        uint64_t k = sv_double_order_key(v[i]);
        double back = sv_double_from_order_key(k);
        ck_assert(memcmp(&back, &v[i], sizeof(double)) == 0);
        if (i > 0)
            ck_assert_msg(sv_double_order_key(v[i - 1]) < k, "%g !< %g", v[i - 1], v[i]);
    }
}
END_TEST

/* The sorter against qsort, for limits from "no limit" to 1 pair. */
START_TEST(test_pair_sort_matches_qsort)
{
    const size_t n = 5000;
    const size_t limits[] = {0, 1, 2, 7, 100, 4999, 5000, 100000};
    g_autoptr(GRand) rng = g_rand_new_with_seed(42);
    SvSortPair *in = g_new(SvSortPair, n), *ref = g_new(SvSortPair, n);
    for (size_t i = 0; i < n; i++) /* few keys and values: many ties */
        in[i] = (SvSortPair){(uint64_t)g_rand_int_range(rng, 0, 5),
                             (uint64_t)g_rand_int_range(rng, 0, 300)};
    memcpy(ref, in, n * sizeof(SvSortPair));
    qsort(ref, n, sizeof(SvSortPair), cmp_pair);
    for (size_t l = 0; l < G_N_ELEMENTS(limits); l++) {
        g_autoptr(SvPairSort) s = sv_pair_sort_new(limits[l], NULL);
        for (size_t i = 0; i < n; i++)
            sv_pair_sort_add(s, in[i].key, in[i].value);
        ck_assert_uint_eq(sv_pair_sort_count(s), n);
        if (limits[l] > 0 && limits[l] < n)
            ck_assert_uint_eq(sv_pair_sort_spilled_runs(s), (n - 1) / limits[l]);
        else
            ck_assert_uint_eq(sv_pair_sort_spilled_runs(s), 0);
        SvSortPair p;
        size_t k = 0;
        while (sv_pair_sort_next(s, &p)) {
            ck_assert_uint_lt(k, n);
            ck_assert_msg(p.key == ref[k].key && p.value == ref[k].value,
                          "limit %zu, pair %zu: (%" G_GUINT64_FORMAT ",%" G_GUINT64_FORMAT
                          ") want (%" G_GUINT64_FORMAT ",%" G_GUINT64_FORMAT ")",
                          limits[l], k, p.key, p.value, ref[k].key, ref[k].value);
            k++;
        }
        ck_assert_uint_eq(k, n);
        ck_assert(!sv_pair_sort_next(s, &p));
        /* The next limit gets the input in another order. */
        for (size_t i = n - 1; i > 0; i--) {
            size_t j = (size_t)g_rand_int_range(rng, 0, (gint32)i + 1);
            SvSortPair t = in[i];
            in[i] = in[j];
            in[j] = t;
        }
    }
    g_free(in);
    g_free(ref);
}
END_TEST

START_TEST(test_pair_sort_empty)
{
    g_autoptr(SvPairSort) s = sv_pair_sort_new(3, NULL);
    SvSortPair p;
    ck_assert(!sv_pair_sort_next(s, &p));
}
END_TEST

typedef struct {
    SvDist dist[8];
    double extra[8];
    int64_t n[8];
    int calls;
} Collected;

static void collect(void *user_data, uint64_t group, int64_t n, const SvDist *d, double extra)
{
    Collected *c = user_data;
    ck_assert_uint_lt(group, 8);
    c->dist[group] = *d;
    c->extra[group] = extra;
    c->n[group] = n;
    c->calls++;
}

/* Bitwise: -0.0 against 0.0 would fail, and so it should. */
static void assert_same_dist(const SvDist *a, const SvDist *b, const char *what)
{
    ck_assert_msg(memcmp(a, b, sizeof(SvDist)) == 0,
                  "%s: mean %.17g/%.17g p50 %.17g/%.17g p90 %.17g/%.17g p99 %.17g/%.17g max "
                  "%.17g/%.17g",
                  what, a->mean, b->mean, a->p50, b->p50, a->p90, b->p90, a->p99, b->p99, a->max,
                  b->max);
}

/* Random values in 6 groups (group 3 left empty), with ties: per-group
 * results equal the array method's exactly at every memory limit. */
START_TEST(test_quantiles_exact)
{
    g_autoptr(GRand) rng = g_rand_new_with_seed(7);
    const int groups = 6;
    const size_t n = 20000;
    GArray *vals[6];
    for (int g = 0; g < groups; g++)
        vals[g] = g_array_new(FALSE, FALSE, sizeof(double));
    double *v = g_new(double, n);
    int *grp = g_new(int, n);
    for (size_t i = 0; i < n; i++) {
        int g = g_rand_int_range(rng, 0, groups);
        if (g == 3)
            g = 4;
        /* Group 0: many exact ties; 1: one value 7 times at most; others
         * spread over magnitudes, like latencies. */
        double x = g == 0 ? (double)g_rand_int_range(rng, 0, 20) / 1000.0
                   : g == 1
                       ? 0.25
                       : g_rand_double_range(rng, 0, 1) * pow(10, g_rand_int_range(rng, -4, 3));
        if (g == 1 && vals[1]->len >= 7)
            g = 2;
        v[i] = x;
        grp[i] = g;
        g_array_append_val(vals[g], x);
    }
    /* Reference: sorted arrays, ascending sums, sv_percentile_sorted. */
    SvDist want[6] = {{0}};
    double want_extra[6] = {0};
    const double extra_pct = 95.5;
    for (int g = 0; g < groups; g++) {
        double *a = (double *)vals[g]->data;
        size_t k = vals[g]->len;
        if (k == 0)
            continue;
        qsort(a, k, sizeof(double), cmp_double);
        double sum = 0;
        for (size_t i = 0; i < k; i++)
            sum += a[i];
        want[g] =
            (SvDist){sum / (double)k, sv_percentile_sorted(a, k, 50),
                     sv_percentile_sorted(a, k, 90), sv_percentile_sorted(a, k, 99), a[k - 1]};
        want_extra[g] = sv_percentile_sorted(a, k, extra_pct);
    }
    const size_t limits[] = {0, 1, 3, 1000, 19999, 20000};
    for (size_t l = 0; l < G_N_ELEMENTS(limits); l++) {
        g_autoptr(SvQuantiles) q = sv_quantiles_new((uint64_t)groups, limits[l], NULL);
        for (size_t i = 0; i < n; i++)
            sv_quantiles_add(q, (uint64_t)grp[i], v[i]);
        Collected c = {0};
        sv_quantiles_finish(q, extra_pct, collect, &c);
        ck_assert_int_eq(c.calls, 5); /* group 3 has no values: no call */
        for (int g = 0; g < groups; g++) {
            ck_assert_int_eq(c.n[g], (int64_t)vals[g]->len);
            g_autofree char *what = g_strdup_printf("limit %zu group %d", limits[l], g);
            assert_same_dist(&c.dist[g], &want[g], what);
            ck_assert(memcmp(&c.extra[g], &want_extra[g], sizeof(double)) == 0);
        }
    }
    /* Hand-checked: group 1 is seven 0.25s. */
    ck_assert(want[1].p99 == 0.25 && want[1].mean == 0.25);
    for (int g = 0; g < groups; g++)
        g_array_unref(vals[g]);
    g_free(v);
    g_free(grp);
}
END_TEST

/* Small hand-computed case: 1..5 -> mean 3, p50 3, p90 4.6, p99 4.96. */
START_TEST(test_quantiles_hand)
{
    g_autoptr(SvQuantiles) q = sv_quantiles_new(1, 2, NULL);
    const double x[] = {5, 3, 1, 4, 2};
    for (int i = 0; i < 5; i++)
        sv_quantiles_add(q, 0, x[i]);
    Collected c = {0};
    sv_quantiles_finish(q, 25, collect, &c);
    ck_assert_int_eq(c.calls, 1);
    ck_assert_double_eq(c.dist[0].mean, 3.0);
    ck_assert_double_eq(c.dist[0].p50, 3.0);
    ck_assert_double_eq_tol(c.dist[0].p90, 4.6, 1e-12);
    ck_assert_double_eq_tol(c.dist[0].p99, 4.96, 1e-12);
    ck_assert_double_eq(c.dist[0].max, 5.0);
    ck_assert_double_eq(c.extra[0], 2.0); /* h = 1 */
}
END_TEST

/* Groups past the dense table (a hash counts them). */
typedef struct {
    int calls;
    uint64_t group[2];
    int64_t n[2];
    SvDist d[2];
} Sparse;

static void collect_sparse(void *user_data, uint64_t group, int64_t n, const SvDist *d,
                           double extra)
{
    Sparse *s = user_data;
    ck_assert_int_lt(s->calls, 2);
    s->group[s->calls] = group;
    s->n[s->calls] = n;
    s->d[s->calls] = *d;
    s->calls++;
}

START_TEST(test_quantiles_sparse_groups)
{
    const uint64_t big = (uint64_t)50 << 20;
    g_autoptr(SvQuantiles) q = sv_quantiles_new(big, 4, NULL);
    for (int i = 0; i < 10; i++) {
        sv_quantiles_add(q, big - 1, i);         /* 0..9 */
        sv_quantiles_add(q, 12345678, 10.0 * i); /* 0..90 */
    }
    Sparse s = {0};
    sv_quantiles_finish(q, 50, collect_sparse, &s);
    ck_assert_int_eq(s.calls, 2);
    ck_assert_uint_eq(s.group[0], 12345678);
    ck_assert_uint_eq(s.group[1], big - 1);
    ck_assert_int_eq(s.n[0], 10);
    ck_assert_int_eq(s.n[1], 10);
    ck_assert_double_eq(s.d[0].max, 90.0);
    ck_assert_double_eq(s.d[1].p50, 4.5); /* h = 4.5: 4 + 0.5 x (5 - 4) */
    ck_assert_double_eq(s.d[1].mean, 4.5);
}
END_TEST

/* A run's worth of random records in 3 tenants and 2 SLO classes, with
 * KV and transfer figures, in @m. Times in whole microseconds give ties. */
static void fill_records(SvMetrics *m, size_t n)
{
    g_autoptr(GRand) rng = g_rand_new_with_seed(11);
    SvSloClass classes[2] = {{.name = (char *)"default", .ttft_s = 0.5, .tpot_s = 0.05},
                             {.name = (char *)"batch", .e2e_s = 30}};
    sv_metrics_set_slo_classes(m, classes, 2);
    const char *const tenants[3] = {"a", "b", "c"};
    sv_metrics_set_tenants(m, tenants, 3);
    for (size_t i = 0; i < n; i++) {
        SvRequestRecord r = {0};
        r.id = (int32_t)(n - 1 - i); /* rows in reverse id order */
        r.arrival_ns = (SvTimeNs)i * 1000000;
        r.first_scheduled_ns = r.arrival_ns + (SvTimeNs)g_rand_int_range(rng, 0, 50) * 1000;
        r.first_token_ns = r.first_scheduled_ns + (SvTimeNs)g_rand_int_range(rng, 1, 900) * 1000;
        r.output_tokens = g_rand_int_range(rng, 1, 40);
        r.input_tokens = g_rand_int_range(rng, 1, 4000);
        r.finish_ns = r.first_token_ns + (SvTimeNs)(r.output_tokens - 1) *
                                             (SvTimeNs)g_rand_int_range(rng, 10, 80) * 1000;
        r.tenant = (uint16_t)g_rand_int_range(rng, 0, 3);
        r.slo_class = (uint8_t)g_rand_int_range(rng, 0, 2);
        r.replica = 0;
        r.outcome = g_rand_int_range(rng, 0, 20) == 0 ? SV_REQ_REJECTED : SV_REQ_COMPLETED;
        sv_metrics_add_request(m, &r);
        if (i % 3 == 0)
            sv_metrics_set_request_kv(
                m, r.id, &(SvRequestKv){16, (SvTimeNs)g_rand_int_range(rng, 0, 5) * 1000000});
        if (i % 2 == 0)
            sv_metrics_set_request_transfer(
                m, r.id,
                &(SvRequestTransfer){1, (SvTimeNs)g_rand_int_range(rng, 0, 9) * 1000,
                                     (SvTimeNs)g_rand_int_range(rng, 0, 9) * 1000, 5000});
    }
}

/* Every summary the writers use is the same, byte for byte, with the
 * values kept in memory and with them spilled 3 at a time. */
START_TEST(test_metrics_spill_same_summaries)
{
    const size_t n = 3000;
    const SvSloConfig slo = {.ttft_s = 0.5, .tpot_s = 0.05, .percentile = 90};
    g_autoptr(SvMetrics) mem = sv_metrics_new(&slo);
    g_autoptr(SvMetrics) disk = sv_metrics_new(&slo);
    ck_assert(sv_metrics_spill(disk, NULL));
    sv_metrics_set_spill_values(disk, 3);
    fill_records(mem, n);
    fill_records(disk, n);
    SvSummary a, b;
    sv_metrics_summarize(mem, NULL, &a);
    sv_metrics_summarize(disk, NULL, &b);
    ck_assert_int_eq(a.completed + a.rejected, (int64_t)n);
    ck_assert(a.completed > 2000 && a.ttft_s.p90 > 0 && a.tpot_s.p99 > 0);
    ck_assert(memcmp(&a, &b, sizeof a) == 0);
    for (int by = 0; by < 2; by++) {
        size_t na = 0, nb = 0;
        g_autofree SvGroupSummary *ga = sv_metrics_summarize_groups(mem, (SvGroupBy)by, &na);
        g_autofree SvGroupSummary *gb = sv_metrics_summarize_groups(disk, (SvGroupBy)by, &nb);
        ck_assert_uint_eq(na, by == SV_GROUP_TENANT ? 3 : 2);
        ck_assert_uint_eq(na, nb);
        ck_assert(memcmp(ga, gb, na * sizeof(SvGroupSummary)) == 0);
    }
    SvKvSummary ka, kb;
    sv_metrics_kv_summary(mem, &ka);
    sv_metrics_kv_summary(disk, &kb);
    ck_assert(ka.preempted_s.max > 0);
    ck_assert(memcmp(&ka, &kb, sizeof ka) == 0);
    SvTransferSummary xa, xb;
    sv_metrics_transfer_summary(mem, &xa);
    sv_metrics_transfer_summary(disk, &xb);
    ck_assert(xa.requests > 1000 && xa.transfer_s.p50 == 5e-6);
    ck_assert(memcmp(&xa, &xb, sizeof xa) == 0);
}
END_TEST

/* Per-request tables of a spilled run span several chunks and are read
 * back intact, stragglers included, though only two chunks per table stay
 * in memory. */
START_TEST(test_metrics_spill_side_tables)
{
    const int64_t n = 70000; /* over 4 chunks of 16 Ki ids */
    g_autoptr(SvMetrics) m = sv_metrics_new(NULL);
    ck_assert(sv_metrics_spill(m, NULL));
    for (int64_t k = 0; k < n; k++) {
        /* Finish order: ids in blocks of 1000, each block reversed, and
         * every 97th id held back to the very end. */
        int64_t id = (k / 1000) * 1000 + (999 - k % 1000);
        if (id >= n || id % 97 == 0)
            continue;
        sv_metrics_set_request_energy(m, id, 0.5 * (double)id);
        sv_metrics_set_request_kv(m, id, &(SvRequestKv){(int32_t)(id % 5), id});
        sv_metrics_set_request_transfer(m, id, &(SvRequestTransfer){(int32_t)(id % 7), id, 1, 2});
    }
    for (int64_t id = 0; id < n; id += 97) {
        sv_metrics_set_request_energy(m, id, 0.5 * (double)id);
        sv_metrics_set_request_kv(m, id, &(SvRequestKv){(int32_t)(id % 5), id});
        sv_metrics_set_request_transfer(m, id, &(SvRequestTransfer){(int32_t)(id % 7), id, 1, 2});
    }
    for (int64_t id = n - 1; id >= 0; id--) {
        ck_assert_double_eq(sv_metrics_request_energy(m, id), 0.5 * (double)id);
        SvRequestKv kv;
        sv_metrics_request_kv(m, id, &kv);
        ck_assert_int_eq(kv.cached_tokens, id % 5);
        ck_assert_int_eq(kv.preempted_ns, id);
        SvRequestTransfer t;
        ck_assert(sv_metrics_request_transfer(m, id, &t));
        ck_assert_int_eq(t.decode_replica, id % 7);
        ck_assert_int_eq(t.block_wait_ns, id);
    }
    ck_assert_double_eq(sv_metrics_request_energy(m, n), 0);
    SvRequestTransfer t;
    ck_assert(!sv_metrics_request_transfer(m, n + 5, &t));
}
END_TEST

/* A spilled run's time series: one array through every growth of its
 * mapping, intact after its memory was given back. */
START_TEST(test_metrics_spill_samples)
{
    const size_t n = 50000; /* 4.4 MB of rows: the mapping grows 4 times */
    g_autoptr(SvMetrics) m = sv_metrics_new(NULL);
    ck_assert(sv_metrics_spill(m, NULL));
    /* Two pools' power beside each row, spilled the same way. */
    const char *const pools[] = {"prefill", "decode"};
    sv_metrics_set_power_pools(m, pools, 2);
    for (size_t i = 0; i < n; i++) {
        SvSample smp = {.t_ns = (SvTimeNs)i * 1000000000,
                        .arrived = (int64_t)i,
                        .waiting = (int32_t)(i % 17),
                        .power_w = 0.5 * (double)i};
        sv_metrics_add_sample(m, &smp);
        const double pw[2] = {(double)i, -(double)i};
        sv_metrics_add_pool_power(m, pw);
        if (i == 100) { /* the pointer is good until the next row */
            size_t k = 0;
            const SvSample *s = sv_metrics_samples(m, &k);
            ck_assert_uint_eq(k, 101);
            ck_assert_int_eq(s[100].arrived, 100);
        }
    }
    for (int pass = 0; pass < 2; pass++) {
        size_t k = 0;
        const SvSample *s = sv_metrics_samples(m, &k);
        ck_assert_uint_eq(k, n);
        for (size_t i = 0; i < n; i++) {
            ck_assert_int_eq(s[i].t_ns, (SvTimeNs)i * 1000000000);
            ck_assert_int_eq(s[i].arrived, (int64_t)i);
            ck_assert_int_eq(s[i].waiting, (int32_t)(i % 17));
            ck_assert_double_eq(s[i].power_w, 0.5 * (double)i);
            int np = 0;
            const double *pw = sv_metrics_pool_power(m, i, &np);
            ck_assert(pw != NULL && np == 2);
            ck_assert_double_eq(pw[0], (double)i);
            ck_assert_double_eq(pw[1], -(double)i);
            if (i % 1000 == 999)
                sv_metrics_samples_read(m, i);
        }
        sv_metrics_samples_read(m, n);
        int np = 0;
        ck_assert(sv_metrics_pool_power(m, n, &np) == NULL); /* past the last row */
    }
    SvKvSummary k;
    sv_metrics_kv_summary(m, &k);
    ck_assert_int_eq(k.waiting_peak, 16);
}
END_TEST

Suite *quantile_suite(void)
{
    Suite *s = suite_create("quantile");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_order_key);
    tcase_add_test(tc, test_pair_sort_matches_qsort);
    tcase_add_test(tc, test_pair_sort_empty);
    tcase_add_test(tc, test_quantiles_exact);
    tcase_add_test(tc, test_quantiles_hand);
    tcase_add_test(tc, test_quantiles_sparse_groups);
    tcase_add_test(tc, test_metrics_spill_same_summaries);
    tcase_add_test(tc, test_metrics_spill_side_tables);
    tcase_add_test(tc, test_metrics_spill_samples);
    suite_add_tcase(s, tc);
    return s;
}
