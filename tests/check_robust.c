/* Robustness (issue 10): the Vidur processed-trace reader; streamed traces
 * (a validating first pass, then cursors) agreeing row for row with loaded
 * ones, and the workload and the simulation giving identical results from
 * either; a trace that changes after it was checked; Azure timestamps out
 * of range; the closed-loop guard that ends a workload whose every request
 * is rejected at one instant; the stop callback that interrupts a run. */
#include "serve/sim.h"
#include "testutil.h"
#include "workload/workload.h"

#include <glib/gstdio.h>
#include <string.h>

/* ---- helpers ---- */

static SvTrace *load_text(const char *text, char **path_out, GError **error)
{
    char *path = sv_test_write_tmp(text, ".csv");
    SvTrace *t = sv_trace_load(path, error);
    if (path_out != NULL)
        *path_out = path;
    else {
        g_unlink(path);
        g_free(path);
    }
    return t;
}

static gboolean same_row(const SvRequestSpec *a, const SvRequestSpec *b)
{
    return a->arrival_ns == b->arrival_ns && a->input_tokens == b->input_tokens &&
           a->output_tokens == b->output_tokens && a->session == b->session &&
           a->tenant == b->tenant && a->slo_class == b->slo_class && a->trace_row == b->trace_row;
}

/* Every row of the streamed reading of @path equals the loaded one; returns
 * the row count. */
static size_t check_stream_equals_load(const char *path)
{
    GError *error = NULL;
    g_autoptr(SvTrace) loaded = sv_trace_load(path, &error);
    ck_assert_msg(loaded != NULL, "%s", error ? error->message : "");
    g_autoptr(SvTrace) streamed = sv_trace_open(path, &error);
    ck_assert_msg(streamed != NULL, "%s", error ? error->message : "");
    ck_assert(!sv_trace_streamed(loaded));
    ck_assert(sv_trace_streamed(streamed));
    size_t n = sv_trace_len(loaded);
    ck_assert_uint_eq(sv_trace_len(streamed), n);
    ck_assert_int_eq(sv_trace_first_arrival_ns(streamed), sv_trace_row(loaded, 0)->arrival_ns);
    ck_assert_int_eq(sv_trace_has_hash_ids(streamed), sv_trace_has_hash_ids(loaded));
    g_autoptr(SvTraceCursor) c = sv_trace_cursor_new(streamed, &error);
    ck_assert_msg(c != NULL, "%s", error ? error->message : "");
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < n; i++) {
            SvRequestSpec r;
            const int64_t *ids = (const int64_t *)&r; /* overwritten: NULL for a stream */
            size_t k = 99;
            ck_assert_msg(sv_trace_cursor_next(c, &r, &ids, &k, &error), "row %zu: %s", i,
                          error ? error->message : "end");
            ck_assert_msg(same_row(&r, sv_trace_row(loaded, i)), "%s row %zu differs", path, i);
            ck_assert_ptr_null(ids);
            ck_assert_uint_eq(k, 0);
        }
        SvRequestSpec r;
        ck_assert(!sv_trace_cursor_next(c, &r, NULL, NULL, &error));
        ck_assert_ptr_null(error);
        ck_assert(sv_trace_cursor_rewind(c, &error));
    }
    return n;
}

/* ---- the Vidur reader ---- */

START_TEST(test_vidur_timed)
{
    GError *error = NULL;
    g_autoptr(SvTrace) t = load_text("arrived_at,num_prefill_tokens,num_decode_tokens\n"
                                     "0.0,374,44\n"
                                     "4.314579,396,109\n"
                                     "5.8926549999999995,91,16\n",
                                     NULL, &error);
    ck_assert_msg(t != NULL, "%s", error ? error->message : "");
    ck_assert_uint_eq(sv_trace_len(t), 3);
    ck_assert(sv_trace_has_arrivals(t));
    ck_assert(!sv_trace_has_hash_ids(t));
    ck_assert_int_eq(sv_trace_row(t, 1)->arrival_ns, 4314579000LL);
    /* 5.8926549999999995 s: the nearest nanosecond is 5.892655 s. */
    ck_assert_int_eq(sv_trace_row(t, 2)->arrival_ns, 5892655000LL);
    ck_assert_int_eq(sv_trace_row(t, 1)->input_tokens, 396);
    ck_assert_int_eq(sv_trace_row(t, 1)->output_tokens, 109);
    ck_assert_int_eq(sv_trace_row(t, 2)->trace_row, 2);
}
END_TEST

/* Vidur's splitwise_conv.csv is the Azure 2023 conversation trace: the two
 * readers must give the same requests (lengths exactly, arrivals to the
 * microsecond Vidur rounded them to). */
START_TEST(test_vidur_matches_azure)
{
    g_autofree char *vpath = sv_test_path("data/vidur/splitwise_conv_head.csv");
    g_autofree char *apath = sv_test_src_path("traces/azure_conv_2023.csv");
    GError *error = NULL;
    g_autoptr(SvTrace) v = sv_trace_load(vpath, &error);
    ck_assert_msg(v != NULL, "%s", error ? error->message : "");
    g_autoptr(SvTrace) a = sv_trace_load(apath, &error);
    ck_assert_msg(a != NULL, "%s", error ? error->message : "");
    ck_assert_uint_eq(sv_trace_len(v), 200);
    for (size_t i = 0; i < 200; i++) {
        const SvRequestSpec *x = sv_trace_row(v, i), *y = sv_trace_row(a, i);
        ck_assert_int_eq(x->input_tokens, y->input_tokens);
        ck_assert_int_eq(x->output_tokens, y->output_tokens);
        ck_assert_msg(llabs(x->arrival_ns - y->arrival_ns) <= 1000, "row %zu: %lld vs %lld ns", i,
                      (long long)x->arrival_ns, (long long)y->arrival_ns);
    }
}
END_TEST

START_TEST(test_vidur_untimed)
{
    g_autofree char *path = sv_test_path("data/vidur/arxiv_summarization_head.csv");
    GError *error = NULL;
    g_autoptr(SvTrace) t = sv_trace_load(path, &error);
    ck_assert_msg(t != NULL, "%s", error ? error->message : "");
    ck_assert_uint_eq(sv_trace_len(t), 40);
    ck_assert(!sv_trace_has_arrivals(t));
    ck_assert_int_eq(sv_trace_row(t, 0)->input_tokens, 3772);
    ck_assert_int_eq(sv_trace_row(t, 0)->output_tokens, 54);
    ck_assert_int_eq(sv_trace_row(t, 39)->arrival_ns, 0);

    /* Replaying it has no times to replay. */
    SvWorkloadConfig w = {.process = SV_ARRIVAL_TRACE};
    g_autoptr(SvWorkload) none = sv_workload_new(&w, t, 1, &error);
    ck_assert_ptr_null(none);
    ck_assert(g_str_has_prefix(error->message, path));
    ck_assert_msg(strstr(error->message, ":1:1: this trace has lengths but no arrival times"), "%s",
                  error->message);
    g_clear_error(&error);

    /* With an arrival process the rows give the lengths, in file order. */
    w = (SvWorkloadConfig){.process = SV_ARRIVAL_CONSTANT, .rate_per_s = 2, .num_requests = 41};
    g_autoptr(SvWorkload) gen = sv_workload_new(&w, t, 1, &error);
    ck_assert_msg(gen != NULL, "%s", error ? error->message : "");
    SvRequestSpec r;
    for (int i = 0; i < 41; i++) {
        ck_assert(sv_workload_next(gen, &r));
        ck_assert_int_eq(r.arrival_ns, (SvTimeNs)i * 500000000);
        ck_assert_int_eq(r.input_tokens, sv_trace_row(t, (size_t)i % 40)->input_tokens);
    }
    ck_assert(!sv_workload_next(gen, &r));
}
END_TEST

static const struct {
    const char *text;
    const char *expect; /* after the path */
} bad_vidur[] = {
    {"arrived_at,num_prefill_tokens,num_decode_tokens\n0.0,10,5,1\n",
     ":2:10: row has more than the header's 3 fields"},
    {"arrived_at,num_prefill_tokens,num_decode_tokens\n0.0,10\n",
     ":2:7: row has 2 fields, the header has 3"},
    {"arrived_at,num_prefill_tokens\n0.0,10\n",
     ":1:1: missing column 'num_decode_tokens' (a Vidur processed trace needs "
     "num_prefill_tokens and num_decode_tokens)"},
    {"arrived_at,num_prefill_tokens,num_decode_token\n",
     ":1:31: unknown column 'num_decode_token' in a Vidur processed trace (did you mean "
     "'num_decode_tokens'?)"},
    {"arrived_at,num_prefill_tokens,num_decode_tokens,arrived_at\n",
     ":1:49: column 'arrived_at' appears twice"},
    {"num_prefill_tokens,num_decode_tokens,num_total_tokens,pd_ratio,a,b\n",
     ":1:64: unknown column 'a' in a Vidur processed trace"},
    {"arrived_at,num_prefill_tokens,num_decode_tokens\n1.0,10,5\n0.5,10,5\n",
     ":3:1: arrival goes backwards (0.5 s, the row before is at 1 s)"},
    {"arrived_at,num_prefill_tokens,num_decode_tokens\n-1.0,10,5\n",
     ":2:1: arrived_at is negative (-1.0 s)"},
    {"arrived_at,num_prefill_tokens,num_decode_tokens\nnan,10,5\n",
     ":2:1: arrived_at is not finite: 'nan'"},
    {"arrived_at,num_prefill_tokens,num_decode_tokens\n0,-10,5\n",
     ":2:3: num_prefill_tokens is negative (-10); lengths are >= 1 token"},
    {"arrived_at,num_prefill_tokens,num_decode_tokens\n0,10,5.5\n",
     ":2:6: num_decode_tokens is not an integer: '5.5'"},
    {"num_prefill_tokens,num_decode_tokens,num_total_tokens\n10,5,16\n",
     ":2:6: num_total_tokens is 16 but num_prefill_tokens + num_decode_tokens is 15"},
    {"num_prefill_tokens,num_decode_tokens,pd_ratio\n10,5,2.5\n",
     ":2:6: pd_ratio is 2.5 but num_prefill_tokens / num_decode_tokens is 2"},
    {"num_prefill_tokens,num_decode_tokens,pd_ratio\n10,5,inf\n",
     ":2:6: pd_ratio is not a number: 'inf'"},
    {"num_prefill_tokens,num_decode_tokens\n", ":2:1: the trace has a header but no request rows"},
};

START_TEST(test_vidur_bad)
{
    char *path = NULL;
    GError *error = NULL;
    SvTrace *t = load_text(bad_vidur[_i].text, &path, &error);
    ck_assert_msg(t == NULL, "accepted: %s", bad_vidur[_i].text);
    ck_assert(g_error_matches(error, SV_TRACE_ERROR, SV_ERROR_PARSE));
    g_autofree char *want = g_strconcat(path, bad_vidur[_i].expect, NULL);
    ck_assert_msg(g_str_has_prefix(error->message, want), "got '%s'\nwant '%s...'", error->message,
                  want);
    /* The streamed reading fails the same way. */
    GError *again = NULL;
    ck_assert_ptr_null(sv_trace_open(path, &again));
    ck_assert_str_eq(again->message, error->message);
    g_error_free(again);
    g_error_free(error);
    g_unlink(path);
    g_free(path);
}
END_TEST

/* ---- streaming ---- */

START_TEST(test_stream_equals_load)
{
    const char *files[] = {"traces/azure_conv_2023.csv", "traces/azure_code_2023.csv",
                           "traces/mooncake_conversation.jsonl", "traces/mooncake_synthetic.jsonl"};
    const size_t rows[] = {19366, 8819, 12031, 3993};
    for (size_t i = 0; i < G_N_ELEMENTS(files); i++) {
        g_autofree char *path = sv_test_src_path(files[i]);
        ck_assert_uint_eq(check_stream_equals_load(path), rows[i]);
    }
    g_autofree char *vidur = sv_test_path("data/vidur/splitwise_conv_head.csv");
    ck_assert_uint_eq(check_stream_equals_load(vidur), 200);
    /* All optional columns, blank lines, CRLF and a byte-order mark. */
    char *path = sv_test_write_tmp("\xEF\xBB\xBF"
                                   "arrival_s,input_tokens,output_tokens,session,tenant,slo_class,"
                                   "hash_ids\r\n"
                                   "\r\n"
                                   "0.000,374,44,0,acme,interactive,11 12 13\r\n"
                                   "0.350,1020,129,,globex,batch,\r\n"
                                   "   \n"
                                   "4.314,396,109,0,acme,interactive,11 12 13 14",
                                   ".csv");
    ck_assert_uint_eq(check_stream_equals_load(path), 3);
    GError *error = NULL;
    g_autoptr(SvTrace) s = sv_trace_open(path, &error);
    ck_assert_int_eq(sv_trace_num_tenants(s), 2);
    ck_assert_str_eq(sv_trace_tenant_name(s, 1), "globex");
    ck_assert_str_eq(sv_trace_slo_class_name(s, 0), "interactive");
    size_t n = 5;
    ck_assert_ptr_null(sv_trace_hash_ids(s, 0, &n)); /* a stream keeps none */
    ck_assert_uint_eq(n, 0);
    g_unlink(path);
    g_free(path);
}
END_TEST

/* A line a byte shorter than the read buffer's limit and one a byte over:
 * the streaming reader's buffer edges. */
START_TEST(test_stream_long_lines)
{
    GString *text = g_string_new("arrival_s,input_tokens,output_tokens,tenant\n");
    g_string_append(text, "0,1,1,");
    for (int i = (int)text->len - 44; i < SV_TRACE_MAX_LINE_BYTES; i++)
        g_string_append_c(text, 'a');
    g_string_append(text, "\r\n1,2,2,b\n");
    char *path = sv_test_write_tmp(text->str, ".csv");
    ck_assert_uint_eq(check_stream_equals_load(path), 2);
    g_unlink(path);
    g_free(path);
    /* One byte more: the first line is too long. */
    g_string_insert_c(text, 50, 'a');
    path = sv_test_write_tmp(text->str, ".csv");
    GError *error = NULL;
    ck_assert_ptr_null(sv_trace_open(path, &error));
    ck_assert_msg(strstr(error->message, ":2:1: line is longer than 65536 bytes"), "%s",
                  error->message);
    g_clear_error(&error);
    g_unlink(path);
    g_free(path);
    g_string_free(text, TRUE);
}
END_TEST

START_TEST(test_stream_changed_file)
{
    char *path =
        sv_test_write_tmp("arrival_s,input_tokens,output_tokens\n0,10,5\n1,10,5\n", ".csv");
    GError *error = NULL;
    g_autoptr(SvTrace) t = sv_trace_open(path, &error);
    ck_assert_ptr_nonnull(t);
    ck_assert(
        g_file_set_contents(path, "arrival_s,input_tokens,output_tokens\n0,10,5\n", -1, NULL));
    ck_assert_ptr_null(sv_trace_cursor_new(t, &error));
    ck_assert_msg(strstr(error->message, "the trace changed (or went away) after it was checked"),
                  "%s", error->message);
    g_clear_error(&error);
    g_unlink(path);
    ck_assert_ptr_null(sv_trace_cursor_new(t, &error));
    g_clear_error(&error);
    g_free(path);
}
END_TEST

/* A cursor on a small streamed trace reads the file once: after its first
 * full pass it replays the rows it kept (trace.c CURSOR_KEEP_BYTES), so a
 * rewind no longer reads the file; a pass cut short by a rewind keeps
 * nothing and the next pass reads the file again. */
START_TEST(test_stream_replay)
{
    char *path = sv_test_write_tmp(
        "arrival_s,input_tokens,output_tokens\n0,10,5\n1,20,6\n2.5,30,7\n", ".csv");
    GError *error = NULL;
    g_autoptr(SvTrace) t = sv_trace_open(path, &error);
    ck_assert_ptr_nonnull(t);
    g_autoptr(SvTraceCursor) c = sv_trace_cursor_new(t, &error);
    ck_assert_ptr_nonnull(c);
    SvRequestSpec r;
    /* One row, then back to the start: the file is read again. */
    ck_assert(sv_trace_cursor_next(c, &r, NULL, NULL, &error));
    ck_assert_int_eq(r.input_tokens, 10);
    ck_assert(sv_trace_cursor_rewind(c, &error));
    for (int pass = 0; pass < 3; pass++) {
        for (int i = 0; i < 3; i++) {
            const int64_t *ids = (const int64_t *)&r;
            size_t k = 99;
            ck_assert_msg(sv_trace_cursor_next(c, &r, &ids, &k, &error), "pass %d row %d: %s", pass,
                          i, error ? error->message : "end");
            ck_assert_int_eq(r.trace_row, i);
            ck_assert_int_eq(r.input_tokens, 10 * (i + 1));
            ck_assert_int_eq(r.output_tokens, 5 + i);
            ck_assert_int_eq(r.arrival_ns, i == 2 ? 2500000000 : i * 1000000000);
            ck_assert_ptr_null(ids);
            ck_assert_uint_eq(k, 0);
        }
        ck_assert(!sv_trace_cursor_next(c, &r, NULL, NULL, &error));
        ck_assert_ptr_null(error);
        /* After the first full pass the file is no longer read: gone, the
         * rewind still succeeds and the rows are those checked. */
        if (pass == 0)
            g_unlink(path);
        ck_assert_msg(sv_trace_cursor_rewind(c, &error), "%s", error ? error->message : "");
    }
    g_free(path);
}
END_TEST

START_TEST(test_load_for)
{
    g_autofree char *mc = sv_test_src_path("traces/mooncake_synthetic.jsonl");
    g_autofree char *az = sv_test_src_path("traces/azure_code_2023.csv");
    GError *error = NULL;
    SvWorkloadConfig replay = {.process = SV_ARRIVAL_TRACE};
    SvWorkloadConfig sampled = {.process = SV_ARRIVAL_POISSON,
                                .rate_per_s = 1,
                                .num_requests = 10,
                                .has_lengths = TRUE,
                                .input = {.dist = SV_LEN_TRACE},
                                .output = {.dist = SV_LEN_FIXED, .value = 5}};
    struct {
        const char *path;
        const SvWorkloadConfig *w;
        gboolean caching, streamed;
    } cases[] = {
        {az, &replay, FALSE, TRUE},   {az, &replay, TRUE, TRUE},  /* no hash ids to keep */
        {mc, &replay, FALSE, TRUE},   {mc, &replay, TRUE, FALSE}, /* the cache reads them */
        {az, &sampled, FALSE, FALSE},                             /* random rows */
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(SvTrace) t =
            sv_trace_load_for(cases[i].path, cases[i].w, cases[i].caching, &error);
        ck_assert_msg(t != NULL, "%s", error ? error->message : "");
        ck_assert_msg(sv_trace_streamed(t) == cases[i].streamed, "case %zu", i);
    }
}
END_TEST

/* The workload draws the same requests from a streamed trace as from a
 * loaded one: a replay, and lengths in file order wrapping around. */
START_TEST(test_workload_stream_identical)
{
    g_autofree char *path = sv_test_src_path("traces/azure_code_2023.csv");
    GError *error = NULL;
    g_autoptr(SvTrace) loaded = sv_trace_load(path, &error);
    g_autoptr(SvTrace) streamed = sv_trace_open(path, &error);
    ck_assert(loaded != NULL && streamed != NULL);
    SvWorkloadConfig configs[] = {
        {.process = SV_ARRIVAL_TRACE, .duration_s = 600},
        {.process = SV_ARRIVAL_POISSON, .rate_per_s = 50, .num_requests = 20000},
        {.process = SV_ARRIVAL_CLOSED_LOOP, .concurrency = 4, .num_requests = 9000},
    };
    for (size_t k = 0; k < G_N_ELEMENTS(configs); k++) {
        g_autoptr(SvWorkload) a = sv_workload_new(&configs[k], loaded, 7, &error);
        g_autoptr(SvWorkload) b = sv_workload_new(&configs[k], streamed, 7, &error);
        ck_assert_msg(a != NULL && b != NULL, "%s", error ? error->message : "");
        SvRequestSpec x, y;
        int64_t n = 0;
        for (;;) {
            gboolean more = sv_workload_next(a, &x);
            ck_assert_int_eq(more, sv_workload_next(b, &y));
            if (!more)
                break;
            ck_assert_msg(same_row(&x, &y), "config %zu request %" G_GINT64_FORMAT, k, n);
            n++;
        }
        ck_assert_ptr_null(sv_workload_error(b));
        ck_assert_int_gt(n, 1000);
    }
}
END_TEST

START_TEST(test_azure_year_range)
{
    char *path = NULL;
    GError *error = NULL;
    SvTrace *t = load_text("TIMESTAMP,ContextTokens,GeneratedTokens\n"
                           "4046-11-16 18:15:46.6805900,374,44\n",
                           &path, &error);
    ck_assert_ptr_null(t);
    g_autofree char *want = g_strconcat(
        path, ":2:1: TIMESTAMP is outside the years 1970 to 2199 (UTC): '4046-11-16", NULL);
    ck_assert_msg(g_str_has_prefix(error->message, want), "%s", error->message);
    g_clear_error(&error);
    g_unlink(path);
    g_free(path);
    /* The last instant in range loads. */
    t = load_text("TIMESTAMP,ContextTokens,GeneratedTokens\n"
                  "1970-01-01 00:00:00,1,1\n2199-12-31 23:59:59.999999999,1,1\n",
                  NULL, &error);
    ck_assert_msg(t != NULL, "%s", error ? error->message : "");
    ck_assert_int_eq(sv_trace_row(t, 1)->arrival_ns, INT64_C(7258118399999999999));
    sv_trace_free(t);
}
END_TEST

/* ---- the simulation ---- */

static SvTimeNs toy_time(void *ctx, const SvBatchShape *s)
{
    return 1000000 + 10000 * (s->prefill_tokens + s->num_decode);
}

typedef struct {
    SvConfig cfg;
    SvModel model;
    SvHw hw;
    SvPoolConfig pool;
} Study;

static void study_init(Study *st)
{
    memset(st, 0, sizeof(*st));
    st->model.name = "toy";
    st->model.max_position_embeddings = 4096;
    st->hw.name = "toy-hw";
    st->hw.peak_flops[SV_DTYPE_BF16] = 1e15;
    st->pool.name = "main";
    st->pool.hw = &st->hw;
    st->pool.replicas = 2;
    st->pool.tensor_parallel_size = 1;
    st->pool.pipeline_parallel_size = 1;
    st->pool.expert_parallel_size = 1;
    st->cfg.path = "toy.yaml";
    st->cfg.seed = 1;
    st->cfg.model = &st->model;
    st->cfg.router = SV_ROUTER_ROUND_ROBIN;
    st->cfg.pools = g_ptr_array_new();
    g_ptr_array_add(st->cfg.pools, &st->pool);
    st->cfg.engine.scheduler = SV_SCHED_VLLM_V1;
    st->cfg.engine.max_num_seqs = 64;
    st->cfg.engine.max_num_batched_tokens = 4096;
    st->cfg.engine.enable_chunked_prefill = TRUE;
    st->cfg.engine.block_size = 16;
    st->cfg.engine.gpu_memory_utilization = 0.9;
    st->cfg.engine.dtype = SV_DTYPE_BF16;
    st->cfg.engine.weight_dtype = SV_DTYPE_BF16;
    st->cfg.engine.kv_cache_dtype = SV_DTYPE_BF16;
    st->cfg.slo.percentile = 90;
    st->cfg.output.sample_interval_s = 1;
}

static SvSim *study_sim(Study *st, const SvTrace *trace)
{
    SvSimOptions opt = {.iter_time_fn = toy_time, .kv_blocks = 4096};
    GError *error = NULL;
    SvSim *sim = sv_sim_new(&st->cfg, trace, &opt, &error);
    ck_assert_msg(sim != NULL, "%s", error ? error->message : "");
    return sim;
}

/* A closed loop whose every request is too long (input 5000 + output 10 >
 * 4096) used to spin for ever at t = 0: each rejected request was replaced
 * at the same instant. The client now gives up after a fixed count. */
START_TEST(test_closed_loop_all_rejected)
{
    Study st;
    study_init(&st);
    st.cfg.workload = (SvWorkloadConfig){
        .has_lengths = TRUE,
        .input = {.dist = SV_LEN_UNIFORM, .min = 5000, .max = 6000},
        .output = {.dist = SV_LEN_FIXED, .value = 10},
        .process = SV_ARRIVAL_CLOSED_LOOP,
        .concurrency = 3,
        .duration_s = 10,
    };
    g_autoptr(SvSim) sim = study_sim(&st, NULL);
    sv_sim_run(sim);
    SvSimBalance b;
    sv_sim_balance(sim, &b);
    ck_assert_int_eq(b.rejected, SV_SIM_MAX_REJECTED_IN_A_ROW);
    ck_assert_int_eq(b.completed, 0);
    ck_assert_int_eq(b.in_flight, 0);
    ck_assert_ptr_nonnull(sv_sim_arrivals_note(sim));
    ck_assert_msg(strstr(sv_sim_arrivals_note(sim), "100000 requests in a row were rejected"), "%s",
                  sv_sim_arrivals_note(sim));
    ck_assert(!sv_sim_interrupted(sim));
    g_ptr_array_unref(st.cfg.pools);
}
END_TEST

/* Some requests fit: the loop runs to its duration and the guard stays off. */
START_TEST(test_closed_loop_some_rejected)
{
    Study st;
    study_init(&st);
    st.cfg.workload = (SvWorkloadConfig){
        .has_lengths = TRUE,
        .input = {.dist = SV_LEN_UNIFORM, .min = 100, .max = 8000},
        .output = {.dist = SV_LEN_FIXED, .value = 10},
        .process = SV_ARRIVAL_CLOSED_LOOP,
        .concurrency = 3,
        .duration_s = 5,
    };
    g_autoptr(SvSim) sim = study_sim(&st, NULL);
    sv_sim_run(sim);
    SvSimBalance b;
    sv_sim_balance(sim, &b);
    ck_assert_int_gt(b.completed, 10);
    ck_assert_int_gt(b.rejected, 10);
    ck_assert_int_eq(b.arrived, b.completed + b.rejected);
    ck_assert_ptr_null(sv_sim_arrivals_note(sim));
    g_ptr_array_unref(st.cfg.pools);
}
END_TEST

/* A closed loop ended by duration alone could send more requests than a
 * record can number; arrivals stop at the limit (here lowered to 500). */
START_TEST(test_request_limit)
{
    Study st;
    study_init(&st);
    st.cfg.workload = (SvWorkloadConfig){
        .has_lengths = TRUE,
        .input = {.dist = SV_LEN_FIXED, .value = 10},
        .output = {.dist = SV_LEN_FIXED, .value = 2},
        .process = SV_ARRIVAL_CLOSED_LOOP,
        .concurrency = 8,
        .duration_s = 1e6,
    };
    SvSimOptions opt = {.iter_time_fn = toy_time, .kv_blocks = 4096, .max_requests = 500};
    GError *error = NULL;
    g_autoptr(SvSim) sim = sv_sim_new(&st.cfg, NULL, &opt, &error);
    ck_assert_ptr_nonnull(sim);
    sv_sim_run(sim);
    SvSimBalance b;
    sv_sim_balance(sim, &b);
    ck_assert_int_eq(b.arrived, 500);
    ck_assert_int_eq(b.completed, 500);
    ck_assert_str_eq(sv_sim_arrivals_note(sim),
                     "arrivals stopped after 500 requests, the most one run numbers");
    g_ptr_array_unref(st.cfg.pools);
}
END_TEST

static gboolean stop_after(void *data)
{
    int *polls = data;
    return ++*polls >= 3;
}

START_TEST(test_stop_callback)
{
    Study st;
    study_init(&st);
    st.cfg.workload = (SvWorkloadConfig){
        .has_lengths = TRUE,
        .input = {.dist = SV_LEN_FIXED, .value = 100},
        .output = {.dist = SV_LEN_FIXED, .value = 50},
        .process = SV_ARRIVAL_POISSON,
        .rate_per_s = 100,
        .num_requests = 1000000,
    };
    g_autoptr(SvSim) sim = study_sim(&st, NULL);
    int polls = 0;
    sv_sim_set_stop(sim, stop_after, &polls);
    sv_sim_run(sim);
    ck_assert(sv_sim_interrupted(sim));
    ck_assert_int_eq(polls, 3);
    SvSimBalance b;
    sv_sim_balance(sim, &b);
    /* Stopped after 3 x 1,024 events, far from the end. */
    ck_assert_int_eq(b.events_processed, 3 * 1024);
    ck_assert_int_lt(b.arrived, 1000000);
    g_ptr_array_unref(st.cfg.pools);
}
END_TEST

/* Records spilled to a file read back exactly as heap ones, over several
 * chunks, and give the same summary. */
START_TEST(test_metrics_spill)
{
    SvSummary sums[2];
    GArray *recs[2] = {NULL, NULL};
    for (int k = 0; k < 2; k++) {
        Study st;
        study_init(&st);
        st.cfg.workload = (SvWorkloadConfig){
            .has_lengths = TRUE,
            .input = {.dist = SV_LEN_UNIFORM, .min = 10, .max = 300},
            .output = {.dist = SV_LEN_UNIFORM, .min = 1, .max = 20},
            .process = SV_ARRIVAL_POISSON,
            .rate_per_s = 400,
            .num_requests = 40000, /* 3 chunks of 16 Ki records */
        };
        g_autoptr(SvSim) sim = study_sim(&st, NULL);
        SvMetrics *m = sv_sim_metrics(sim);
        if (k == 1)
            ck_assert(sv_metrics_spill(m, NULL));
        sv_sim_run(sim);
        sv_metrics_summarize(m, sv_sim_totals(sim), &sums[k]);
        recs[k] = g_array_new(FALSE, FALSE, sizeof(SvRequestRecord));
        /* Backwards, then forwards: every chunk is dropped and read again. */
        size_t n = sv_metrics_num_requests(m);
        for (size_t i = n; i-- > 0;)
            ck_assert_int_ge(sv_metrics_request(m, i)->id, 0);
        for (size_t i = 0; i < n; i++)
            g_array_append_vals(recs[k], sv_metrics_request(m, i), 1);
        g_ptr_array_unref(st.cfg.pools);
    }
    ck_assert_uint_eq(recs[0]->len, 40000);
    ck_assert_uint_eq(recs[1]->len, recs[0]->len);
    ck_assert(memcmp(recs[0]->data, recs[1]->data, recs[0]->len * sizeof(SvRequestRecord)) == 0);
    ck_assert(memcmp(&sums[0], &sums[1], sizeof(SvSummary)) == 0);
    g_array_unref(recs[0]);
    g_array_unref(recs[1]);
}
END_TEST

/* A run from a streamed trace gives the same requests as from a loaded one. */
START_TEST(test_sim_stream_identical)
{
    g_autofree char *path = sv_test_src_path("traces/azure_code_2023.csv");
    GError *error = NULL;
    g_autoptr(SvTrace) loaded = sv_trace_load(path, &error);
    g_autoptr(SvTrace) streamed = sv_trace_open(path, &error);
    ck_assert(loaded != NULL && streamed != NULL);
    SvTimeNs sums[2] = {0, 0};
    int64_t done[2] = {0, 0};
    for (int k = 0; k < 2; k++) {
        Study st;
        study_init(&st);
        st.cfg.workload = (SvWorkloadConfig){
            .process = SV_ARRIVAL_POISSON, .rate_per_s = 20, .num_requests = 3000};
        g_autoptr(SvSim) sim = study_sim(&st, k == 0 ? loaded : streamed);
        sv_sim_run(sim);
        SvMetrics *m = sv_sim_metrics(sim);
        for (size_t i = 0; i < sv_metrics_num_requests(m); i++) {
            const SvRequestRecord *r = sv_metrics_request(m, i);
            sums[k] += r->finish_ns * (r->id + 1) + r->input_tokens;
        }
        done[k] = (int64_t)sv_metrics_num_requests(m);
        g_ptr_array_unref(st.cfg.pools);
    }
    ck_assert_int_eq(done[0], 3000);
    ck_assert_int_eq(done[1], done[0]);
    ck_assert_int_eq(sums[1], sums[0]);
}
END_TEST

Suite *robust_suite(void)
{
    Suite *s = suite_create("robust");
    TCase *tc = tcase_create("trace");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_vidur_timed);
    tcase_add_test(tc, test_vidur_matches_azure);
    tcase_add_test(tc, test_vidur_untimed);
    tcase_add_loop_test(tc, test_vidur_bad, 0, G_N_ELEMENTS(bad_vidur));
    tcase_add_test(tc, test_stream_equals_load);
    tcase_add_test(tc, test_stream_long_lines);
    tcase_add_test(tc, test_stream_changed_file);
    tcase_add_test(tc, test_stream_replay);
    tcase_add_test(tc, test_load_for);
    tcase_add_test(tc, test_workload_stream_identical);
    tcase_add_test(tc, test_azure_year_range);
    suite_add_tcase(s, tc);
    TCase *sim = tcase_create("sim");
    tcase_set_timeout(sim, 120);
    tcase_add_test(sim, test_closed_loop_all_rejected);
    tcase_add_test(sim, test_closed_loop_some_rejected);
    tcase_add_test(sim, test_request_limit);
    tcase_add_test(sim, test_stop_callback);
    tcase_add_test(sim, test_sim_stream_identical);
    tcase_add_test(sim, test_metrics_spill);
    suite_add_tcase(s, sim);
    return s;
}
