/* Tests of the workload module: loading the real Azure traces and the
 * servesim CSV format, every trace error with its exact file:line:col, and the
 * generator's determinism, statistics, cut-offs and trace handling. */
#include "core/rng.h"
#include "testutil.h"
#include "workload/workload.h"

#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

/* ---- trace loading ---------------------------------------------------- */

START_TEST(test_azure_conv)
{
    g_autofree char *path = sv_test_src_path("traces/azure_conv_2023.csv");
    g_autoptr(GError) error = NULL;
    g_autoptr(SvTrace) t = sv_trace_load(path, &error);
    ck_assert_msg(t != NULL, "%s", error ? error->message : "");
    /* wc -l counts 19366 newlines: a header plus 19366 CRLF-terminated rows,
     * the last without a line end. */
    ck_assert_uint_eq(sv_trace_len(t), 19366);
    const SvRequestSpec *r0 = sv_trace_row(t, 0);
    ck_assert_int_eq(r0->arrival_ns, 0);
    ck_assert_int_eq(r0->input_tokens, 374);
    ck_assert_int_eq(r0->output_tokens, 44);
    ck_assert_int_eq(r0->session, -1);
    ck_assert_int_eq(r0->tenant, 0);
    ck_assert_int_eq(r0->trace_row, 0);
    /* 18:15:50.9951690 - 18:15:46.6805900 = 4.3145790 s */
    const SvRequestSpec *r1 = sv_trace_row(t, 1);
    ck_assert_int_eq(r1->arrival_ns, 4314579000LL);
    ck_assert_int_eq(r1->input_tokens, 396);
    ck_assert_int_eq(r1->output_tokens, 109);
    ck_assert_int_eq(r1->trace_row, 1);
    /* Last row 19:14:08.4025270: 3600 s - (18:15:46.6805900 - 18:14:08.4025270)
     * = 3600 - 98.2780630 = 3501.7219370 s; lengths 197, 183. */
    const SvRequestSpec *last = sv_trace_row(t, 19365);
    ck_assert_int_eq(last->arrival_ns, 3501721937000LL);
    ck_assert_int_eq(last->input_tokens, 197);
    ck_assert_int_eq(last->output_tokens, 183);
    size_t n = 99;
    ck_assert_ptr_null(sv_trace_hash_ids(t, 0, &n));
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(sv_trace_num_tenants(t), 0);
    ck_assert_ptr_null(sv_trace_tenant_name(t, 0));
    ck_assert_str_eq(sv_trace_path(t), path);
}
END_TEST

START_TEST(test_azure_code)
{
    g_autofree char *path = sv_test_src_path("traces/azure_code_2023.csv");
    g_autoptr(GError) error = NULL;
    g_autoptr(SvTrace) t = sv_trace_load(path, &error);
    ck_assert_msg(t != NULL, "%s", error ? error->message : "");
    ck_assert_uint_eq(sv_trace_len(t), 8819);
    ck_assert_int_eq(sv_trace_row(t, 0)->input_tokens, 4808);
    ck_assert_int_eq(sv_trace_row(t, 0)->output_tokens, 10);
    /* 18:17:04.0319600 - 18:17:03.9799600 = 0.052 s */
    ck_assert_int_eq(sv_trace_row(t, 1)->arrival_ns, 52000000LL);
    ck_assert_int_eq(sv_trace_row(t, 1)->input_tokens, 3180);
    ck_assert_int_eq(sv_trace_row(t, 1)->output_tokens, 8);
    /* 18:17:04.0781490 - 18:17:03.9799600 = 0.0981890 s */
    ck_assert_int_eq(sv_trace_row(t, 2)->arrival_ns, 98189000LL);
    for (size_t i = 1; i < sv_trace_len(t); i++)
        ck_assert_int_ge(sv_trace_row(t, i)->arrival_ns, sv_trace_row(t, i - 1)->arrival_ns);
}
END_TEST

START_TEST(test_load_speed)
{
    g_autofree char *path = sv_test_src_path("traces/azure_conv_2023.csv");
    double best_s = 1e9;
    for (int rep = 0; rep < 5; rep++) {
        gint64 t0 = g_get_monotonic_time();
        g_autoptr(SvTrace) t = sv_trace_load(path, NULL);
        gint64 t1 = g_get_monotonic_time();
        ck_assert_ptr_nonnull(t);
        best_s = MIN(best_s, (double)(t1 - t0) * 1e-6);
    }
    /* Target is well under 50 ms in a release build (a few ms measured);
     * the bound is loose so Debug + sanitizer builds pass too. */
    ck_assert_msg(best_s < 0.25, "loading 19366 rows took %.3f s", best_s);
}
END_TEST

static SvTrace *load_text(const char *text, char **path_out)
{
    char *path = sv_test_write_tmp(text, ".csv");
    GError *error = NULL;
    SvTrace *t = sv_trace_load(path, &error);
    g_unlink(path);
    ck_assert_msg(t != NULL, "%s", error ? error->message : "");
    *path_out = path;
    return t;
}

START_TEST(test_azure_calendar)
{
    g_autofree char *path = NULL;
    /* Crossing midnight and a year end, a leap day, a time-zone offset, fewer
     * fractional digits and no fraction at all. */
    g_autoptr(SvTrace) t = load_text("TIMESTAMP,ContextTokens,GeneratedTokens\n"
                                     "2023-12-31 23:59:59.5000000,10,1\n"
                                     "2024-01-01 00:00:00.25,10,1\n"
                                     "2024-02-28T23:00:00,10,1\n"
                                     "2024-03-01 01:00:00.000000001,10,1\n",
                                     &path);
    ck_assert_uint_eq(sv_trace_len(t), 4);
    ck_assert_int_eq(sv_trace_row(t, 1)->arrival_ns, 750000000LL);
    /* 2023-12-31 23:59:59.5 -> 2024-02-28 23:00:00: 58 days 23 h 0.5 s */
    SvTimeNs feb28 = (58LL * 86400 + 23 * 3600) * SV_NS_PER_S + 500000000LL;
    ck_assert_int_eq(sv_trace_row(t, 2)->arrival_ns, feb28);
    /* 2024 is a leap year: Feb 28 23:00 -> Mar 1 01:00 is 26 h, plus 1 ns. */
    ck_assert_int_eq(sv_trace_row(t, 3)->arrival_ns - feb28, 26LL * 3600 * SV_NS_PER_S + 1);
    /* A "+00:30" offset is applied (30 minutes earlier in UTC): see the
     * backwards case in test_errors_inline. */
}
END_TEST

START_TEST(test_servesim_format)
{
    g_autofree char *path = NULL;
    /* Columns in any order, blanks around fields, CRLF, a BOM, a trailing
     * blank line; names numbered in first-seen order. */
    g_autoptr(SvTrace) t = load_text("\xEF\xBB\xBFtenant,output_tokens,hash_ids,arrival_s,"
                                     "input_tokens,session,slo_class\r\n"
                                     "acme, 7,1 2 3,1.5,100,4,batch\r\n"
                                     "zeta,8,,1.5,200,,interactive\r\n"
                                     "acme,9,  -5   42 ,2.25,300,0,batch\r\n"
                                     "\r\n",
                                     &path);
    ck_assert_uint_eq(sv_trace_len(t), 3);
    const SvRequestSpec *r = sv_trace_row(t, 0);
    ck_assert_int_eq(r->arrival_ns, 1500000000LL); /* servesim times are kept as written */
    ck_assert_int_eq(r->input_tokens, 100);
    ck_assert_int_eq(r->output_tokens, 7);
    ck_assert_int_eq(r->session, 4);
    ck_assert_int_eq(r->tenant, 0);
    ck_assert_int_eq(r->slo_class, 0);
    r = sv_trace_row(t, 1);
    ck_assert_int_eq(r->session, -1);
    ck_assert_int_eq(r->tenant, 1);
    ck_assert_int_eq(r->slo_class, 1);
    r = sv_trace_row(t, 2);
    ck_assert_int_eq(r->arrival_ns, 2250000000LL);
    ck_assert_int_eq(r->tenant, 0);
    ck_assert_int_eq(r->slo_class, 0);
    ck_assert_int_eq(r->session, 0);
    ck_assert_int_eq(sv_trace_num_tenants(t), 2);
    ck_assert_str_eq(sv_trace_tenant_name(t, 1), "zeta");
    ck_assert_str_eq(sv_trace_slo_class_name(t, 1), "interactive");
    ck_assert_ptr_null(sv_trace_slo_class_name(t, 2));
    size_t n = 0;
    const int64_t *h = sv_trace_hash_ids(t, 0, &n);
    ck_assert_uint_eq(n, 3);
    ck_assert_int_eq(h[0], 1);
    ck_assert_int_eq(h[2], 3);
    ck_assert_ptr_null(sv_trace_hash_ids(t, 1, &n));
    ck_assert_uint_eq(n, 0);
    h = sv_trace_hash_ids(t, 2, &n);
    ck_assert_uint_eq(n, 2);
    ck_assert_int_eq(h[0], -5);
    ck_assert_int_eq(h[1], 42);
}
END_TEST

/* Bad traces under tests/data/bad-traces: file, then the exact text after
 * the path, i.e. ":LINE:COL: message start". The study fixtures under
 * tests/fixtures/trace use the same files through the CLI. */
static const struct {
    const char *file;
    const char *expect;
} bad_traces[] = {
    {"ragged.csv", ":3:8: row has 2 fields, the header has 3"},
    {"extra-field.csv", ":3:12: row has more than the header's 3 fields"},
    {"not-a-number.csv", ":3:5: input_tokens is not an integer: 'abc'"},
    {"nan-time.csv", ":3:1: arrival_s is not finite: 'nan'"},
    {"inf-time.csv", ":3:1: arrival_s is not finite: 'inf'"},
    {"negative-time.csv", ":2:1: arrival_s is negative (-1.5 s)"},
    {"zero-output.csv", ":3:9: output_tokens is 0"},
    {"negative-length.csv", ":3:5: input_tokens is negative (-5)"},
    {"unsorted.csv", ":4:1: arrival goes backwards (1 s, the row before is at 2 s)"},
    {"missing-column.csv", ":1:1: missing column 'output_tokens'"},
    {"unknown-column.csv", ":1:11: unknown column 'input_token' (did you mean 'input_tokens'?)"},
    {"duplicate-column.csv", ":1:38: column 'input_tokens' appears twice (first in column 11)"},
    {"empty.csv", ":1:1: empty trace"},
    {"header-only.csv", ":2:1: the trace has a header but no request rows"},
    {"binary.csv", ":1:5: control byte 0x02"},
    {"bad-utf8.csv", ":3:6: invalid UTF-8"},
    {"long-line.csv", ":3:1: line is longer than 65536 bytes"},
    {"azure-bad-time.csv",
     ":3:1: TIMESTAMP is not a valid date and time: '2023-11-16 25:15:50.9951690'"},
    {"azure-malformed-time.csv", ":3:1: TIMESTAMP is not 'YYYY-MM-DD HH:MM:SS.fffffff'"},
    {"azure-unsorted.csv", ":3:1: arrival goes backwards"},
    {"azure-zero-output.csv", ":2:33: GeneratedTokens is 0"},
    {"mooncake.jsonl", ":2:34: input_length is 0; lengths are >= 1 token"},
    {"vidur.csv", ":2:9: num_decode_tokens is 0; lengths are >= 1 token"},
    {"bad-hash-ids.csv", ":3:14: hash_ids entry is not an integer: 'x'"},
    {"bad-session.csv", ":3:12: session is not a non-negative integer: '-2'"},
    {"empty-tenant.csv", ":3:12: tenant is empty"},
};

START_TEST(test_bad_trace_files)
{
    g_autofree char *rel = g_strconcat("data/bad-traces/", bad_traces[_i].file, NULL);
    g_autofree char *path = sv_test_path(rel);
    g_autoptr(GError) error = NULL;
    g_autoptr(SvTrace) t = sv_trace_load(path, &error);
    ck_assert_msg(t == NULL, "%s loaded", bad_traces[_i].file);
    ck_assert(g_error_matches(error, SV_TRACE_ERROR, SV_ERROR_PARSE));
    ck_assert(sv_error_is_input(error));
    g_autofree char *want = g_strconcat(path, bad_traces[_i].expect, NULL);
    ck_assert_msg(g_str_has_prefix(error->message, want), "got '%s'\nwant '%s...'", error->message,
                  want);
    ck_assert(strchr(error->message, '\n') == NULL); /* one line for the CLI */
}
END_TEST

/* Error cases easier to state inline: text, then expected ":LINE:COL: msg". */
static const struct {
    const char *text;
    const char *expect;
} bad_inline[] = {
    /* Character columns, not bytes: "café," is 5 characters but 6 bytes. */
    {"tenant,arrival_s,input_tokens,output_tokens\ncafé,0.5,abc,10\n",
     ":2:10: input_tokens is not an integer"},
    {"arrival_s,input_tokens,output_tokens\n0,1,2\n1e400,1,1\n", ":3:1: arrival_s is not finite"},
    {"arrival_s,input_tokens,output_tokens\n0x,1,2\n", ":2:1: arrival_s is not a number: '0x'"},
    {"arrival_s,input_tokens,output_tokens\n,1,2\n", ":2:1: arrival_s is empty"},
    {"arrival_s,input_tokens,output_tokens\n1,1.5,2\n", ":2:3: input_tokens is not an integer"},
    {"arrival_s,input_tokens,output_tokens\n1,3000000000,2\n", ":2:3: input_tokens is too large"},
    {"arrival_s,input_tokens,output_tokens\n1,1,\n", ":2:5: output_tokens is empty"},
    {"arrival_s,input_tokens,output_tokens\n1e10,1,1\n", ":2:1: arrival_s is too large"},
    {"arrival_s,,output_tokens\n", ":1:11: empty column name"},
    {"foo,input_tokens,output_tokens\n", ":1:1: unknown column 'foo' (valid: arrival_s,"},
    {"arrival_s,input_tokens,output_tokens,a,b,c,d,e\n", ":1:38: unknown column 'a'"},
    {"TIMESTAMP,ContextTokens,GeneratedTokens,x\n",
     ":1:41: unknown column 'x' (valid: TIMESTAMP,ContextTokens,GeneratedTokens)"},
    {"arrival_s,input_tokens,output_tokens,hash_ids,session,tenant,slo_class,session\n",
     ":1:72: column 'session' appears twice (first in column 47)"},
    {"TIMESTAMP,ContextTokens,GeneratedTokens\n2024-02-30 00:00:00,1,1\n",
     ":2:1: TIMESTAMP is not a valid date and time"},
    {"TIMESTAMP,ContextTokens,GeneratedTokens\n2023-02-29 00:00:00,1,1\n",
     ":2:1: TIMESTAMP is not a valid date and time"},
    {"TIMESTAMP,ContextTokens,GeneratedTokens\n2024-01-01 00:00:00.1234567890,1,1\n",
     ":2:1: TIMESTAMP is not 'YYYY-MM-DD"},
    {"TIMESTAMP,ContextTokens,GeneratedTokens\n"
     "2024-03-01 01:00:00,10,1\n2024-03-01 01:00:00+00:30,10,2\n",
     ":3:1: arrival goes backwards (-1800 s"},
    {"TIMESTAMP,ContextTokens,Generated\n", ":1:25: unknown column 'Generated' (did you mean "
                                            "'GeneratedTokens'?)"},
    {"   \n\n", ":1:1: empty trace"},
};

START_TEST(test_errors_inline)
{
    g_autofree char *path = sv_test_write_tmp(bad_inline[_i].text, ".csv");
    g_autoptr(GError) error = NULL;
    g_autoptr(SvTrace) t = sv_trace_load(path, &error);
    g_unlink(path);
    ck_assert_msg(t == NULL, "case %d loaded", _i);
    g_autofree char *want = g_strconcat(path, bad_inline[_i].expect, NULL);
    ck_assert_msg(g_str_has_prefix(error->message, want), "got '%s'\nwant '%s...'", error->message,
                  want);
}
END_TEST

START_TEST(test_missing_file)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(SvTrace) t = sv_trace_load("/nonexistent/trace.csv", &error);
    ck_assert_ptr_null(t);
    ck_assert(g_error_matches(error, SV_TRACE_ERROR, SV_ERROR_NOT_FOUND));
    ck_assert(g_str_has_prefix(error->message, "/nonexistent/trace.csv: cannot read trace"));
}
END_TEST

/* ---- generator --------------------------------------------------------- */

static SvWorkloadConfig fixed_config(SvArrivalProcess process, double rate, int64_t n)
{
    SvWorkloadConfig c = {0};
    c.has_lengths = TRUE;
    c.input = (SvLengthSpec){.dist = SV_LEN_FIXED, .value = 1024};
    c.output = (SvLengthSpec){.dist = SV_LEN_FIXED, .value = 256};
    c.process = process;
    c.rate_per_s = rate;
    c.cv = 1.0;
    c.num_requests = n;
    return c;
}

static SvWorkload *must_new(const SvWorkloadConfig *c, const SvTrace *t, uint64_t seed)
{
    GError *error = NULL;
    SvWorkload *w = sv_workload_new(c, t, seed, &error);
    ck_assert_msg(w != NULL, "%s", error ? error->message : "");
    return w;
}

static SvTrace *small_trace(void)
{
    g_autofree char *path = NULL;
    return load_text("arrival_s,input_tokens,output_tokens,tenant\n"
                     "10.0,11,21,a\n10.5,12,22,b\n12.0,13,23,a\n",
                     &path);
}

START_TEST(test_rng_streams)
{
    gsl_rng *a1 = sv_rng_new(7, SV_STREAM_ARRIVALS);
    gsl_rng *a2 = sv_rng_new(7, SV_STREAM_ARRIVALS);
    gsl_rng *b = sv_rng_new(7, SV_STREAM_INPUT_LENGTHS);
    gsl_rng *c = sv_rng_new(8, SV_STREAM_ARRIVALS);
    int same_b = 0, same_c = 0;
    for (int i = 0; i < 1000; i++) {
        unsigned long x = gsl_rng_get(a1);
        ck_assert_uint_eq(x, gsl_rng_get(a2));
        same_b += x == gsl_rng_get(b);
        same_c += x == gsl_rng_get(c);
    }
    ck_assert_int_le(same_b, 1);
    ck_assert_int_le(same_c, 1);
    gsl_rng_free(a1);
    gsl_rng_free(a2);
    gsl_rng_free(b);
    gsl_rng_free(c);
}
END_TEST

START_TEST(test_determinism)
{
    SvWorkloadConfig c = fixed_config(SV_ARRIVAL_GAMMA, 5.0, 500);
    c.cv = 2.0;
    c.input = (SvLengthSpec){.dist = SV_LEN_LOGNORMAL, .mean = 800, .sigma = 1.0};
    c.output = (SvLengthSpec){.dist = SV_LEN_UNIFORM, .min = 10, .max = 500};
    g_autoptr(SvWorkload) w1 = must_new(&c, NULL, 42);
    g_autoptr(SvWorkload) w2 = must_new(&c, NULL, 42);
    g_autoptr(SvWorkload) w3 = must_new(&c, NULL, 43);
    /* Same config except the output distribution: arrivals and input lengths
     * come from their own streams, so they must not move. */
    SvWorkloadConfig c4 = c;
    c4.output = (SvLengthSpec){.dist = SV_LEN_LOGNORMAL, .mean = 100, .sigma = 0.5};
    g_autoptr(SvWorkload) w4 = must_new(&c4, NULL, 42);
    SvRequestSpec a, b, d, e;
    int n = 0, differ = 0, out_differ = 0;
    while (sv_workload_next(w1, &a)) {
        ck_assert(sv_workload_next(w2, &b));
        ck_assert(sv_workload_next(w3, &d));
        ck_assert(sv_workload_next(w4, &e));
        ck_assert(memcmp(&a, &b, sizeof a) == 0);
        differ += a.arrival_ns != d.arrival_ns;
        ck_assert_int_eq(a.arrival_ns, e.arrival_ns);
        ck_assert_int_eq(a.input_tokens, e.input_tokens);
        out_differ += a.output_tokens != e.output_tokens;
        n++;
    }
    ck_assert_int_eq(n, 500);
    ck_assert_int_ge(differ, 490);
    ck_assert_int_ge(out_differ, 400);
    ck_assert(!sv_workload_next(w1, &a)); /* stays exhausted */
}
END_TEST

/* Mean and coefficient of variation of the gaps of @n + 1 arrivals. */
static void gap_stats(SvWorkload *w, int n, double *mean_s, double *cv)
{
    SvRequestSpec r;
    ck_assert(sv_workload_next(w, &r));
    ck_assert_int_eq(r.arrival_ns, 0); /* every open-loop process starts at 0 */
    SvTimeNs prev = r.arrival_ns;
    double sum = 0, sum2 = 0;
    for (int i = 0; i < n; i++) {
        ck_assert(sv_workload_next(w, &r));
        ck_assert_int_ge(r.arrival_ns, prev);
        double g = sv_ns_to_s(r.arrival_ns - prev);
        sum += g;
        sum2 += g * g;
        prev = r.arrival_ns;
    }
    *mean_s = sum / n;
    *cv = sqrt(sum2 / n - *mean_s * *mean_s) / *mean_s;
}

START_TEST(test_poisson)
{
    SvWorkloadConfig c = fixed_config(SV_ARRIVAL_POISSON, 4.0, 100001);
    g_autoptr(SvWorkload) w = must_new(&c, NULL, 1);
    ck_assert_int_eq(sv_workload_concurrency(w), 0);
    double mean, cv;
    gap_stats(w, 100000, &mean, &cv);
    ck_assert_double_eq_tol(mean, 0.25, 0.25 * 0.02);
    ck_assert_double_eq_tol(cv, 1.0, 0.03);
}
END_TEST

START_TEST(test_gamma)
{
    const double cvs[] = {0.5, 2.0};
    SvWorkloadConfig c = fixed_config(SV_ARRIVAL_GAMMA, 10.0, 100001);
    c.cv = cvs[_i];
    g_autoptr(SvWorkload) w = must_new(&c, NULL, 3);
    double mean, cv;
    gap_stats(w, 100000, &mean, &cv);
    ck_assert_double_eq_tol(mean, 0.1, 0.1 * 0.02);
    ck_assert_double_eq_tol(cv, cvs[_i], cvs[_i] * 0.03);
}
END_TEST

START_TEST(test_constant_and_duration)
{
    SvWorkloadConfig c = fixed_config(SV_ARRIVAL_CONSTANT, 4.0, 0);
    c.duration_s = 10.0;
    g_autoptr(SvWorkload) w = must_new(&c, NULL, 1);
    SvRequestSpec r;
    int n = 0;
    SvTimeNs last = -1;
    while (sv_workload_next(w, &r)) {
        ck_assert_int_eq(r.arrival_ns, (SvTimeNs)n * 250000000LL);
        ck_assert_int_eq(r.input_tokens, 1024);
        ck_assert_int_eq(r.output_tokens, 256);
        ck_assert_int_eq(r.session, -1);
        ck_assert_int_eq(r.trace_row, -1);
        last = r.arrival_ns;
        n++;
    }
    /* [0, 10 s) at 4/s: 0, 0.25, ..., 9.75 */
    ck_assert_int_eq(n, 40);
    ck_assert_int_eq(last, 9750000000LL);

    SvWorkloadConfig p = fixed_config(SV_ARRIVAL_POISSON, 50.0, 0);
    p.duration_s = 100.0;
    g_autoptr(SvWorkload) wp = must_new(&p, NULL, 9);
    n = 0;
    while (sv_workload_next(wp, &r)) {
        ck_assert_int_lt(r.arrival_ns, 100 * SV_NS_PER_S);
        n++;
    }
    ck_assert_int_gt(n, 4700); /* 5000 expected, sd ~71 */
    ck_assert_int_lt(n, 5300);
    ck_assert(!sv_workload_next(wp, &r));
}
END_TEST

START_TEST(test_lengths)
{
    SvWorkloadConfig c = fixed_config(SV_ARRIVAL_CONSTANT, 1000.0, 100000);
    c.input = (SvLengthSpec){.dist = SV_LEN_LOGNORMAL, .mean = 1000, .sigma = 1.0};
    c.output = (SvLengthSpec){.dist = SV_LEN_UNIFORM, .min = 5, .max = 9};
    g_autoptr(SvWorkload) w = must_new(&c, NULL, 5);
    SvRequestSpec r;
    double sum_in = 0;
    int hist[10] = {0};
    int n = 0;
    while (sv_workload_next(w, &r)) {
        ck_assert_int_ge(r.input_tokens, 1);
        sum_in += r.input_tokens;
        ck_assert_int_ge(r.output_tokens, 5);
        ck_assert_int_le(r.output_tokens, 9);
        hist[r.output_tokens]++;
        n++;
    }
    ck_assert_int_eq(n, 100000);
    ck_assert_double_eq_tol(sum_in / n, 1000.0, 30.0);
    for (int v = 5; v <= 9; v++) /* each bound is reached, ~20000 each */
        ck_assert_int_gt(hist[v], 19000);

    /* Clamped lognormal: wide sigma, every value inside [min, max]. */
    c.input =
        (SvLengthSpec){.dist = SV_LEN_LOGNORMAL, .mean = 50, .sigma = 2.0, .min = 8, .max = 64};
    c.output = (SvLengthSpec){.dist = SV_LEN_LOGNORMAL, .mean = 1.0, .sigma = 3.0};
    g_autoptr(SvWorkload) w2 = must_new(&c, NULL, 5);
    int at_min = 0, at_max = 0;
    while (sv_workload_next(w2, &r)) {
        ck_assert_int_ge(r.input_tokens, 8);
        ck_assert_int_le(r.input_tokens, 64);
        at_min += r.input_tokens == 8;
        at_max += r.input_tokens == 64;
        ck_assert_int_ge(r.output_tokens, 1); /* min defaults to 1 */
    }
    ck_assert_int_gt(at_min, 1000);
    ck_assert_int_gt(at_max, 1000);
}
END_TEST

START_TEST(test_closed_loop)
{
    SvWorkloadConfig c = fixed_config(SV_ARRIVAL_CLOSED_LOOP, 0, 10);
    c.concurrency = 4;
    g_autoptr(SvWorkload) w = must_new(&c, NULL, 1);
    ck_assert_int_eq(sv_workload_concurrency(w), 4);
    SvRequestSpec r;
    int n = 0;
    while (sv_workload_next(w, &r)) {
        ck_assert_int_eq(r.arrival_ns, 0);
        n++;
    }
    ck_assert_int_eq(n, 10);

    /* duration_s ends a closed loop through sv_workload_next_at. */
    c.num_requests = 0;
    c.duration_s = 2.0;
    g_autoptr(SvWorkload) w2 = must_new(&c, NULL, 1);
    ck_assert(sv_workload_next_at(w2, 0, &r));
    ck_assert(sv_workload_next_at(w2, 1500000000LL, &r));
    ck_assert_int_eq(r.arrival_ns, 1500000000LL);
    ck_assert(!sv_workload_next_at(w2, 2 * SV_NS_PER_S, &r));
    ck_assert(!sv_workload_next_at(w2, 0, &r));
}
END_TEST

START_TEST(test_trace_replay)
{
    g_autoptr(SvTrace) t = small_trace();
    SvWorkloadConfig c = {.process = SV_ARRIVAL_TRACE};
    g_autoptr(SvWorkload) w = must_new(&c, t, 1);
    SvRequestSpec r;
    /* Shifted so the first row is t = 0; lengths and tenants from the rows. */
    const SvTimeNs want_ns[] = {0, 500000000LL, 2000000000LL};
    for (int i = 0; i < 3; i++) {
        ck_assert(sv_workload_next(w, &r));
        ck_assert_int_eq(r.arrival_ns, want_ns[i]);
        ck_assert_int_eq(r.input_tokens, 11 + i);
        ck_assert_int_eq(r.output_tokens, 21 + i);
        ck_assert_int_eq(r.tenant, i == 1 ? 1 : 0);
        ck_assert_int_eq(r.trace_row, i);
    }
    ck_assert(!sv_workload_next(w, &r)); /* replayed once */

    /* num_requests and duration_s cut a replay short. */
    c.num_requests = 2;
    g_autoptr(SvWorkload) w2 = must_new(&c, t, 1);
    ck_assert(sv_workload_next(w2, &r));
    ck_assert(sv_workload_next(w2, &r));
    ck_assert(!sv_workload_next(w2, &r));
    c.num_requests = 0;
    c.duration_s = 0.5; /* [0, 0.5): only the first */
    g_autoptr(SvWorkload) w3 = must_new(&c, t, 1);
    ck_assert(sv_workload_next(w3, &r));
    ck_assert(!sv_workload_next(w3, &r));

    /* Trace arrivals with synthetic lengths. */
    SvWorkloadConfig c4 = fixed_config(SV_ARRIVAL_TRACE, 0, 0);
    g_autoptr(SvWorkload) w4 = must_new(&c4, t, 1);
    ck_assert(sv_workload_next(w4, &r));
    ck_assert(sv_workload_next(w4, &r));
    ck_assert_int_eq(r.arrival_ns, 500000000LL);
    ck_assert_int_eq(r.input_tokens, 1024);
    ck_assert_int_eq(r.tenant, 1);
}
END_TEST

START_TEST(test_trace_wrap)
{
    g_autoptr(SvTrace) t = small_trace();
    SvWorkloadConfig c = {.process = SV_ARRIVAL_CONSTANT, .rate_per_s = 2.0, .num_requests = 7};
    g_autoptr(SvWorkload) w = must_new(&c, t, 1);
    SvRequestSpec r;
    for (int i = 0; i < 7; i++) {
        ck_assert(sv_workload_next(w, &r));
        ck_assert_int_eq(r.arrival_ns, (SvTimeNs)i * 500000000LL);
        ck_assert_int_eq(r.input_tokens, 11 + i % 3);
        ck_assert_int_eq(r.output_tokens, 21 + i % 3);
        ck_assert_int_eq(r.trace_row, i % 3);
    }
    ck_assert(!sv_workload_next(w, &r));
}
END_TEST

START_TEST(test_trace_sampling)
{
    g_autofree char *path = sv_test_src_path("traces/azure_code_2023.csv");
    g_autoptr(SvTrace) t = sv_trace_load(path, NULL);
    ck_assert_ptr_nonnull(t);
    g_autoptr(GHashTable) inputs = g_hash_table_new(g_direct_hash, g_direct_equal);
    g_autoptr(GHashTable) pairs = g_hash_table_new(g_int64_hash, g_int64_equal);
    GArray *keys = g_array_sized_new(FALSE, FALSE, sizeof(int64_t), sv_trace_len(t));
    for (size_t i = 0; i < sv_trace_len(t); i++) {
        const SvRequestSpec *row = sv_trace_row(t, i);
        g_hash_table_add(inputs, GINT_TO_POINTER(row->input_tokens));
        int64_t key = (int64_t)row->input_tokens << 32 | row->output_tokens;
        g_array_append_val(keys, key);
    }
    for (size_t i = 0; i < keys->len; i++)
        g_hash_table_add(pairs, &g_array_index(keys, int64_t, i));

    /* Both lengths from the trace: every (input, output) pair is a real row. */
    SvWorkloadConfig c = {
        .has_lengths = TRUE, .process = SV_ARRIVAL_POISSON, .rate_per_s = 1, .num_requests = 20000};
    c.input.dist = SV_LEN_TRACE;
    c.output.dist = SV_LEN_TRACE;
    g_autoptr(SvWorkload) w = must_new(&c, t, 11);
    SvRequestSpec r;
    double sum_in = 0;
    int n = 0;
    while (sv_workload_next(w, &r)) {
        int64_t key = (int64_t)r.input_tokens << 32 | r.output_tokens;
        ck_assert_msg(g_hash_table_contains(pairs, &key), "pair %d,%d not in the trace",
                      r.input_tokens, r.output_tokens);
        ck_assert_int_ge(r.trace_row, 0);
        sum_in += r.input_tokens;
        n++;
    }
    /* Trace mean input is 2048 (shared PROVENANCE.md); sampling keeps it. */
    ck_assert_double_eq_tol(sum_in / n, 2048.0, 2048.0 * 0.03);

    /* Only the input from the trace; output fixed. */
    c.output = (SvLengthSpec){.dist = SV_LEN_FIXED, .value = 3};
    g_autoptr(SvWorkload) w2 = must_new(&c, t, 11);
    while (sv_workload_next(w2, &r)) {
        ck_assert(g_hash_table_contains(inputs, GINT_TO_POINTER(r.input_tokens)));
        ck_assert_int_eq(r.output_tokens, 3);
    }
    g_array_unref(keys);
}
END_TEST

START_TEST(test_bad_configs)
{
    g_autoptr(SvTrace) t = small_trace();
    SvWorkloadConfig c;
    GError *error = NULL;

    c = fixed_config(SV_ARRIVAL_POISSON, 0.0, 10); /* no rate */
    ck_assert_ptr_null(sv_workload_new(&c, NULL, 1, &error));
    ck_assert(strstr(error->message, "rate_per_s") != NULL);
    g_clear_error(&error);

    c = fixed_config(SV_ARRIVAL_POISSON, 1.0, 0); /* never ends */
    ck_assert_ptr_null(sv_workload_new(&c, NULL, 1, &error));
    ck_assert(strstr(error->message, "never ends") != NULL);
    g_clear_error(&error);

    c = fixed_config(SV_ARRIVAL_TRACE, 1.0, 10); /* trace arrivals without a trace */
    ck_assert_ptr_null(sv_workload_new(&c, NULL, 1, &error));
    g_clear_error(&error);

    c = fixed_config(SV_ARRIVAL_POISSON, 1.0, 10);
    c.input = (SvLengthSpec){.dist = SV_LEN_UNIFORM, .min = 10, .max = 5};
    ck_assert_ptr_null(sv_workload_new(&c, NULL, 1, &error));
    ck_assert(strstr(error->message, "lengths.input") != NULL);
    g_clear_error(&error);

    c = fixed_config(SV_ARRIVAL_POISSON, 1.0, 10);
    c.output = (SvLengthSpec){.dist = SV_LEN_FIXED, .value = 0};
    ck_assert_ptr_null(sv_workload_new(&c, NULL, 1, &error));
    ck_assert(strstr(error->message, "lengths.output") != NULL);
    g_clear_error(&error);

    c = fixed_config(SV_ARRIVAL_POISSON, 1.0, 10);
    c.output.dist = SV_LEN_TRACE; /* dist: trace without a trace */
    ck_assert_ptr_null(sv_workload_new(&c, NULL, 1, &error));
    g_clear_error(&error);

    c = fixed_config(SV_ARRIVAL_GAMMA, 1.0, 10);
    c.cv = 0;
    ck_assert_ptr_null(sv_workload_new(&c, NULL, 1, &error));
    g_clear_error(&error);

    c = fixed_config(SV_ARRIVAL_CLOSED_LOOP, 0, 10); /* concurrency 0 */
    ck_assert_ptr_null(sv_workload_new(&c, NULL, 1, &error));
    g_clear_error(&error);

    c = (SvWorkloadConfig){.process = SV_ARRIVAL_POISSON, .rate_per_s = 1, .num_requests = 5};
    ck_assert_ptr_null(sv_workload_new(&c, NULL, 1, &error)); /* no lengths, no trace */
    g_clear_error(&error);
    SvWorkload *ok = sv_workload_new(&c, t, 1, &error); /* the trace gives them */
    ck_assert_ptr_nonnull(ok);
    sv_workload_free(ok);
    sv_workload_free(NULL);
    sv_trace_free(NULL);
}
END_TEST

Suite *workload_suite(void)
{
    Suite *s = suite_create("workload");
    TCase *tc = tcase_create("trace");
    tcase_add_test(tc, test_azure_conv);
    tcase_add_test(tc, test_azure_code);
    tcase_add_test(tc, test_load_speed);
    tcase_add_test(tc, test_azure_calendar);
    tcase_add_test(tc, test_servesim_format);
    tcase_add_loop_test(tc, test_bad_trace_files, 0, G_N_ELEMENTS(bad_traces));
    tcase_add_loop_test(tc, test_errors_inline, 0, G_N_ELEMENTS(bad_inline));
    tcase_add_test(tc, test_missing_file);
    suite_add_tcase(s, tc);
    tc = tcase_create("generator");
    tcase_add_test(tc, test_rng_streams);
    tcase_add_test(tc, test_determinism);
    tcase_add_test(tc, test_poisson);
    tcase_add_loop_test(tc, test_gamma, 0, 2);
    tcase_add_test(tc, test_constant_and_duration);
    tcase_add_test(tc, test_lengths);
    tcase_add_test(tc, test_closed_loop);
    tcase_add_test(tc, test_trace_replay);
    tcase_add_test(tc, test_trace_wrap);
    tcase_add_test(tc, test_trace_sampling);
    tcase_add_test(tc, test_bad_configs);
    suite_add_tcase(s, tc);
    return s;
}
