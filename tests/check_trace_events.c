/* Timeline (run --trace-events): the Chrome / Perfetto JSON must parse, be
 * sorted, and agree with the run's own records. A two-request study with a
 * constant-cost iteration model is checked against a hand-computed timeline;
 * a larger one with preemptions against requests' records; the request
 * limit, the batch-size columns of the time series, and the observer's
 * neutrality (tracing changes no result) are checked too. Pipelined
 * replicas get one track per stage: a two-stage timeline by hand, and a
 * loaded three-stage run for overlaps and stage order. */
#include "metrics/trace-events.h"
#include "testutil.h"

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <string.h>

/* Iteration time: 1 ms + 10 us per scheduled token. */
static SvTimeNs toy_time(void *ctx, const SvBatchShape *s)
{
    return 1000000 + 10000 * (s->prefill_tokens + s->num_decode);
}

typedef struct {
    SvConfig cfg;
    SvModel model;
    SvHw hw;
    SvPoolConfig pool;
    SvTrace *trace;
    char *trace_path;
} Study;

static Study *study_new(const char *trace_csv, int replicas, double sample_interval_s)
{
    Study *st = g_new0(Study, 1);
    st->model.name = "toy";
    st->model.max_position_embeddings = 4096;
    st->hw.name = "toy-hw";
    st->hw.peak_flops[SV_DTYPE_BF16] = 1e15;
    st->pool.name = "main";
    st->pool.hardware_name = "toy-hw";
    st->pool.hw = &st->hw;
    st->pool.replicas = replicas;
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
    st->cfg.engine.max_num_seqs = 256;
    st->cfg.engine.max_num_batched_tokens = 8192;
    st->cfg.engine.enable_chunked_prefill = TRUE;
    st->cfg.engine.block_size = 16;
    st->cfg.engine.gpu_memory_utilization = 0.9;
    st->cfg.engine.dtype = SV_DTYPE_BF16;
    st->cfg.engine.weight_dtype = SV_DTYPE_BF16;
    st->cfg.engine.kv_cache_dtype = SV_DTYPE_BF16;
    st->cfg.slo.percentile = 90;
    st->cfg.output.sample_interval_s = sample_interval_s;
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

/* Run @st with @opt, traced into a temporary file when @limit >= 0; returns
 * the sim and sets *json_path (transfer full). */
static SvSim *run_traced_opt(Study *st, const SvSimOptions *opt, int64_t limit, char **json_path)
{
    GError *error = NULL;
    SvSim *sim = sv_sim_new(&st->cfg, st->trace, opt, &error);
    ck_assert_msg(sim != NULL, "%s", error ? error->message : "");
    SvTraceEvents *te = NULL;
    if (limit >= 0) {
        g_autofree char *dir = g_dir_make_tmp("sv-trace-XXXXXX", NULL);
        *json_path = g_build_filename(dir, "trace.json", NULL);
        te = sv_trace_events_new(*json_path, &st->cfg, limit, &error);
        ck_assert_msg(te != NULL, "%s", error ? error->message : "");
        sv_sim_set_observer(sim, sv_trace_events_observer(te));
    }
    sv_sim_run(sim);
    SvSimBalance b;
    sv_sim_balance(sim, &b);
    ck_assert_uint_eq(b.blocks_allocated, b.blocks_freed);
    ck_assert_int_eq(b.arrived, b.completed + b.rejected);
    if (te != NULL) {
        ck_assert_msg(sv_trace_events_finish(te, &error), "%s", error ? error->message : "");
        g_autofree char *tmp = g_strconcat(*json_path, ".tmp", NULL);
        ck_assert(!g_file_test(tmp, G_FILE_TEST_EXISTS));
        sv_trace_events_free(te);
    }
    return sim;
}

/* The same with the toy iteration time and @kv_blocks per replica. */
static SvSim *run_traced(Study *st, int64_t kv_blocks, int64_t limit, char **json_path)
{
    SvSimOptions opt = {.iter_time_fn = toy_time, .kv_blocks = kv_blocks};
    return run_traced_opt(st, &opt, limit, json_path);
}

static void remove_trace(char *path)
{
    g_unlink(path);
    g_autofree char *dir = g_path_get_dirname(path);
    g_rmdir(dir);
    g_free(path);
}

/* Parse the trace; returns the root object's parser (transfer full). */
static JsonParser *parse(const char *path)
{
    JsonParser *parser = json_parser_new();
    GError *error = NULL;
    ck_assert_msg(json_parser_load_from_file(parser, path, &error), "%s: %s", path,
                  error ? error->message : "?");
    ck_assert(JSON_NODE_HOLDS_OBJECT(json_parser_get_root(parser)));
    return parser;
}

static JsonArray *events_of(JsonParser *parser)
{
    JsonObject *root = json_node_get_object(json_parser_get_root(parser));
    ck_assert(json_object_has_member(root, "traceEvents"));
    return json_object_get_array_member(root, "traceEvents");
}

/* ts / dur are µs with three decimals: back to integer ns exactly. */
static SvTimeNs ns_of(JsonObject *o, const char *member)
{
    return (SvTimeNs)(json_object_get_double_member(o, member) * 1000.0 +
                      (json_object_get_double_member(o, member) >= 0 ? 0.5 : -0.5));
}

/* One event, flattened for comparisons. */
typedef struct {
    char name[32];
    char ph[2];
    int pid;
    SvTimeNs ts_ns;
    SvTimeNs dur_ns; /* X only */
    int64_t id;      /* async only */
} Ev;

static GArray *flatten(JsonArray *events)
{
    GArray *out = g_array_new(FALSE, TRUE, sizeof(Ev));
    for (guint i = 0; i < json_array_get_length(events); i++) {
        JsonObject *o = json_array_get_object_element(events, i);
        Ev e = {0};
        g_strlcpy(e.name, json_object_get_string_member(o, "name"), sizeof(e.name));
        g_strlcpy(e.ph, json_object_get_string_member(o, "ph"), sizeof(e.ph));
        e.pid = (int)json_object_get_int_member(o, "pid");
        if (strcmp(e.ph, "M") != 0)
            e.ts_ns = ns_of(o, "ts");
        if (strcmp(e.ph, "X") == 0)
            e.dur_ns = ns_of(o, "dur");
        e.id = json_object_has_member(o, "id") ? json_object_get_int_member(o, "id") : -1;
        g_array_append_val(out, e);
    }
    return out;
}

#define MS(x) ((SvTimeNs)((x)*1000000.0 + 0.5))

/* Two requests on one replica (see the timeline in the comments). */
START_TEST(test_hand_timeline)
{
    Study *st = study_new("arrival_s,input_tokens,output_tokens\n"
                          "0,100,3\n"
                          "0.0005,50,2\n",
                          1, 1000.0);
    char *path = NULL;
    g_autoptr(SvSim) sim = run_traced(st, 1000, 0, &path);
    g_autoptr(JsonParser) parser = parse(path);
    g_autoptr(GArray) evs = flatten(events_of(parser));

    /* t=0: req 0 prefills 100 tokens: 1 + 1 ms. t=0.5 ms: req 1 queues.
     * t=2: req 0 decodes (token 2) with req 1's 50-token prefill: 1.51 ms.
     * t=3.51: both decode: 1.02 ms. t=4.53: both finish. */
    const Ev want[] = {
        {"request 0", "b", 1, MS(0), 0, 0},
        {"queued", "b", 1, MS(0), 0, 0},
        {"queued", "e", 1, MS(0), 0, 0},
        {"prefill", "b", 1, MS(0), 0, 0},
        {"prefill", "X", 1, MS(0), MS(2), -1},
        {"request 1", "b", 1, MS(0.5), 0, 1},
        {"queued", "b", 1, MS(0.5), 0, 1},
        {"prefill", "e", 1, MS(2), 0, 0},
        {"decode", "b", 1, MS(2), 0, 0},
        {"queued", "e", 1, MS(2), 0, 1},
        {"prefill", "b", 1, MS(2), 0, 1},
        {"mixed", "X", 1, MS(2), MS(1.51), -1},
        {"prefill", "e", 1, MS(3.51), 0, 1},
        {"decode", "b", 1, MS(3.51), 0, 1},
        {"decode", "X", 1, MS(3.51), MS(1.02), -1},
        {"decode", "e", 1, MS(4.53), 0, 0},
        {"request 0", "e", 1, MS(4.53), 0, 0},
        {"decode", "e", 1, MS(4.53), 0, 1},
        {"request 1", "e", 1, MS(4.53), 0, 1},
    };
    /* Keep the iteration and request events (counters are checked elsewhere). */
    GArray *got = g_array_new(FALSE, TRUE, sizeof(Ev));
    for (guint i = 0; i < evs->len; i++) {
        Ev *e = &g_array_index(evs, Ev, i);
        if (e->ph[0] == 'X' || e->ph[0] == 'b' || e->ph[0] == 'e')
            g_array_append_val(got, *e);
    }
    ck_assert_int_eq(got->len, G_N_ELEMENTS(want));
    for (guint i = 0; i < got->len; i++) {
        Ev *g = &g_array_index(got, Ev, i);
        const Ev *w = &want[i];
        ck_assert_msg(
            strcmp(g->name, w->name) == 0 && strcmp(g->ph, w->ph) == 0 && g->pid == w->pid &&
                g->ts_ns == w->ts_ns && g->dur_ns == w->dur_ns && g->id == w->id,
            "event %u: got %s/%s pid %d ts %" G_GINT64_FORMAT " dur %" G_GINT64_FORMAT
            " id %" G_GINT64_FORMAT ", want %s/%s ts %" G_GINT64_FORMAT,
            i, g->name, g->ph, g->pid, g->ts_ns, g->dur_ns, g->id, w->name, w->ph, w->ts_ns);
    }
    g_array_unref(got);

    /* Metadata names the replica; otherData says nothing was cut. */
    ck_assert_str_eq(g_array_index(evs, Ev, 2).name, "process_name");
    JsonObject *root = json_node_get_object(json_parser_get_root(parser));
    JsonObject *other = json_object_get_object_member(root, "otherData");
    ck_assert(!json_object_get_boolean_member(other, "truncated"));
    ck_assert_int_eq(json_object_get_int_member(other, "requests_traced"), 2);

    /* The time series' batch columns: three iterations of 1, 2, 2 requests
     * and 100, 51, 2 tokens; the sample interval is longer than the run, so
     * the final row averages them all. */
    size_t n = 0;
    const SvSample *samples = sv_metrics_samples(sv_sim_metrics(sim), &n);
    ck_assert_uint_eq(n, 2);
    ck_assert_double_eq_tol(samples[1].batch_seqs, 5.0 / 3.0, 1e-12);
    ck_assert_double_eq_tol(samples[1].batch_tokens, 153.0 / 3.0, 1e-12);
    ck_assert_double_eq(samples[0].batch_seqs, 0);

    remove_trace(path);
    study_free(st);
}
END_TEST

/* A loaded run with preemptions: every request's slices agree with its record. */
static char *busy_trace_csv(int n)
{
    GString *s = g_string_new("arrival_s,input_tokens,output_tokens\n");
    for (int i = 0; i < n; i++)
        g_string_append_printf(s, "%.4f,%d,%d\n", 0.0004 * i, 40 + (i * 37) % 200,
                               5 + (i * 13) % 60);
    return g_string_free(s, FALSE);
}

/* Check the trace at @path against @sim's records: sorted; iterations of a
 * replica never overlap and there is one per iteration; every request's
 * slices nest in its envelope and begin and end when its record says; one
 * "preempted" slice per preemption. Returns how many times a request left
 * "preempted" straight into "decode" (a swap-in) rather than "prefill". */
static int check_consistent(SvSim *sim, const char *path)
{
    g_autoptr(JsonParser) parser = parse(path);
    g_autoptr(GArray) evs = flatten(events_of(parser));
    const SvRunTotals *tot = sv_sim_totals(sim);
    int resumed_decoding = 0;

    /* Sorted by ts; iterations of one replica never overlap; one X per iteration. */
    SvTimeNs last_ts = 0, busy_until[3] = {0, 0, 0};
    int64_t xs = 0;
    int64_t n_req = (int64_t)sv_metrics_num_requests(sv_sim_metrics(sim));
    /* Per request: begin times of its phases, ends of its envelope, preempted count. */
    SvTimeNs *arrive = g_new0(SvTimeNs, n_req), *first_prefill = g_new0(SvTimeNs, n_req);
    SvTimeNs *first_decode = g_new0(SvTimeNs, n_req), *end = g_new0(SvTimeNs, n_req);
    int *preempted = g_new0(int, n_req), *depth = g_new0(int, n_req);
    gboolean *after_preempt = g_new0(gboolean, n_req);
    for (int64_t i = 0; i < n_req; i++)
        arrive[i] = first_prefill[i] = first_decode[i] = end[i] = -1;
    for (guint i = 0; i < evs->len; i++) {
        Ev *e = &g_array_index(evs, Ev, i);
        if (e->ph[0] == 'M')
            continue;
        ck_assert_msg(e->ts_ns >= last_ts, "event %u goes back in time", i);
        last_ts = e->ts_ns;
        if (e->ph[0] == 'X') {
            ck_assert(e->pid >= 1 && e->pid <= 2);
            ck_assert_int_gt(e->dur_ns, 0);
            ck_assert_int_ge(e->ts_ns, busy_until[e->pid]);
            busy_until[e->pid] = e->ts_ns + e->dur_ns;
            xs++;
            continue;
        }
        if (e->ph[0] == 'C')
            continue;
        ck_assert(e->id >= 0 && e->id < n_req);
        int64_t id = e->id;
        gboolean envelope = strncmp(e->name, "request ", 8) == 0;
        if (e->ph[0] == 'b') {
            ck_assert_int_eq(depth[id], envelope ? 0 : 1); /* phases nest in the envelope */
            depth[id]++;
            if (after_preempt[id]) {
                ck_assert_msg(!strcmp(e->name, "prefill") || !strcmp(e->name, "decode"),
                              "request %" G_GINT64_FORMAT ": %s after preempted", id, e->name);
                resumed_decoding += !strcmp(e->name, "decode");
                after_preempt[id] = FALSE;
            }
            if (envelope)
                arrive[id] = e->ts_ns;
            else if (!strcmp(e->name, "prefill") && first_prefill[id] < 0)
                first_prefill[id] = e->ts_ns;
            else if (!strcmp(e->name, "decode") && first_decode[id] < 0)
                first_decode[id] = e->ts_ns;
            else if (!strcmp(e->name, "preempted"))
                preempted[id]++;
        } else {
            ck_assert(e->ph[0] == 'e');
            ck_assert_int_eq(depth[id], envelope ? 1 : 2);
            depth[id]--;
            if (envelope)
                end[id] = e->ts_ns;
            after_preempt[id] = !strcmp(e->name, "preempted");
        }
    }
    ck_assert_int_eq(xs, tot->iterations);
    for (size_t k = 0; k < (size_t)n_req; k++) {
        const SvRequestRecord *r = sv_metrics_request(sv_sim_metrics(sim), k);
        int64_t id = r->id;
        ck_assert_int_eq(depth[id], 0);
        ck_assert_int_eq(arrive[id], r->arrival_ns);
        ck_assert_int_eq(end[id], r->finish_ns);
        ck_assert_int_eq(preempted[id], r->preemptions);
        if (r->outcome != SV_REQ_COMPLETED)
            continue;
        ck_assert_int_eq(first_prefill[id], r->first_scheduled_ns);
        /* A one-token request finishes without a decode phase. */
        if (r->output_tokens > 1 && r->preemptions == 0)
            ck_assert_int_eq(first_decode[id], r->first_token_ns);
    }
    g_free(arrive);
    g_free(first_prefill);
    g_free(first_decode);
    g_free(end);
    g_free(preempted);
    g_free(depth);
    g_free(after_preempt);
    return resumed_decoding;
}

/* A loaded run with recompute preemptions. */
START_TEST(test_consistent_with_records)
{
    g_autofree char *csv = busy_trace_csv(200);
    Study *st = study_new(csv, 2, 0.005);
    char *path = NULL;
    /* 40 blocks of 16 tokens per replica: enough for any one request (at
     * most 240 + 64 tokens), far too few for the queue, so it preempts. */
    g_autoptr(SvSim) sim = run_traced(st, 40, 0, &path);
    ck_assert_int_gt(sv_sim_totals(sim)->preemptions, 0);
    /* Recomputation always goes back through a prefill. */
    ck_assert_int_eq(check_consistent(sim, path), 0);
    remove_trace(path);
    study_free(st);
}
END_TEST

/* The same load under vLLM v0 with swap preemption: a request swapped back
 * in while decoding resumes with "decode", not with a prefill. */
START_TEST(test_swap_phases)
{
    g_autofree char *csv = busy_trace_csv(200);
    Study *st = study_new(csv, 2, 0.005);
    st->cfg.engine.scheduler = SV_SCHED_VLLM_V0;
    st->cfg.engine.preemption_mode = SV_PREEMPT_SWAP;
    st->hw.host_bw_bytes_per_s = 25e9;
    SvSimOptions opt = {
        .iter_time_fn = toy_time, .kv_blocks = 40, .cpu_kv_blocks = 100000, .kv_block_bytes = 1e6};
    char *path = NULL;
    g_autoptr(SvSim) sim = run_traced_opt(st, &opt, 0, &path);
    ck_assert_int_gt(sv_sim_totals(sim)->swap_outs, 0);
    ck_assert_int_gt(check_consistent(sim, path), 0);
    /* The steps' swap_blocks add up to every block copied either way. */
    g_autoptr(JsonParser) parser = parse(path);
    JsonArray *events = events_of(parser);
    int64_t swapped = 0;
    for (guint i = 0; i < json_array_get_length(events); i++) {
        JsonObject *o = json_array_get_object_element(events, i);
        if (strcmp(json_object_get_string_member(o, "ph"), "X") == 0)
            swapped +=
                json_object_get_int_member(json_object_get_object_member(o, "args"), "swap_blocks");
    }
    const SvRunTotals *tot = sv_sim_totals(sim);
    ck_assert_int_gt(swapped, 0);
    ck_assert_int_eq(swapped, tot->swap_out_blocks + tot->swap_in_blocks);
    remove_trace(path);
    study_free(st);
}
END_TEST

/* Tracing observes; it changes no result. */
START_TEST(test_observer_is_neutral)
{
    g_autofree char *csv = busy_trace_csv(120);
    Study *st = study_new(csv, 2, 0.005);
    char *path = NULL;
    g_autoptr(SvSim) plain = run_traced(st, 40, -1, NULL);
    g_autoptr(SvSim) traced = run_traced(st, 40, 0, &path);
    SvMetrics *a = sv_sim_metrics(plain), *b = sv_sim_metrics(traced);
    ck_assert_uint_eq(sv_metrics_num_requests(a), sv_metrics_num_requests(b));
    for (size_t i = 0; i < sv_metrics_num_requests(a); i++)
        ck_assert(memcmp(sv_metrics_request(a, i), sv_metrics_request(b, i),
                         sizeof(SvRequestRecord)) == 0);
    ck_assert_int_eq(sv_sim_totals(plain)->events, sv_sim_totals(traced)->events);
    remove_trace(path);
    study_free(st);
}
END_TEST

/* --trace-events-limit 3: the first three requests in full, every iteration
 * until the last of them ends, nothing after. */
START_TEST(test_limit)
{
    g_autofree char *csv = busy_trace_csv(50);
    Study *st = study_new(csv, 1, 0.005);
    char *path = NULL;
    g_autoptr(SvSim) sim = run_traced(st, 1000, 3, &path);
    g_autoptr(JsonParser) parser = parse(path);
    g_autoptr(GArray) evs = flatten(events_of(parser));
    SvTimeNs last_end = 0;
    for (size_t k = 0; k < sv_metrics_num_requests(sv_sim_metrics(sim)); k++) {
        const SvRequestRecord *r = sv_metrics_request(sv_sim_metrics(sim), k);
        if (r->id < 3)
            last_end = MAX(last_end, r->finish_ns);
    }
    int envelopes = 0;
    SvTimeNs last_x = -1;
    for (guint i = 0; i < evs->len; i++) {
        Ev *e = &g_array_index(evs, Ev, i);
        if (e->ph[0] == 'b' || e->ph[0] == 'e')
            ck_assert_int_lt(e->id, 3);
        if (e->ph[0] == 'b' && strncmp(e->name, "request ", 8) == 0)
            envelopes++;
        if (e->ph[0] != 'M')
            ck_assert_int_le(e->ts_ns, last_end);
        if (e->ph[0] == 'X')
            last_x = e->ts_ns;
    }
    ck_assert_int_eq(envelopes, 3);
    ck_assert_int_ge(last_x, 0);
    JsonObject *root = json_node_get_object(json_parser_get_root(parser));
    JsonObject *other = json_object_get_object_member(root, "otherData");
    ck_assert(json_object_get_boolean_member(other, "truncated"));
    ck_assert_int_eq(json_object_get_int_member(other, "limit_requests"), 3);
    ck_assert_int_eq(json_object_get_int_member(other, "requests_traced"), 3);
    remove_trace(path);
    study_free(st);
}
END_TEST

/* ---- pipeline parallelism: one track per stage ---- */

/* Stage 0: 1 ms + 10 us per token; stage 1: 2 ms + 10 us per token (the
 * slower stage, so batches queue for it). */
static SvTimeNs two_stage_time(void *ctx, const SvBatchShape *s, int stage)
{
    (void)ctx;
    return (stage == 0 ? 1000000 : 2000000) + 10000 * (s->prefill_tokens + s->num_decode);
}

/* One stage slice: its thread, times and the batch it belongs to. */
typedef struct {
    int pid, tid, stage;
    int64_t batch;
    SvTimeNs ts_ns, dur_ns;
    char name[16];
} StageSlice;

/* The X events of @path, in file order; checks each names its stage and
 * batch in args and sits on thread stage + 1. */
static GArray *stage_slices(const char *path)
{
    g_autoptr(JsonParser) parser = parse(path);
    JsonArray *events = events_of(parser);
    GArray *out = g_array_new(FALSE, TRUE, sizeof(StageSlice));
    for (guint i = 0; i < json_array_get_length(events); i++) {
        JsonObject *o = json_array_get_object_element(events, i);
        if (strcmp(json_object_get_string_member(o, "ph"), "X") != 0)
            continue;
        JsonObject *args = json_object_get_object_member(o, "args");
        ck_assert(json_object_has_member(args, "stage") && json_object_has_member(args, "batch"));
        StageSlice x = {
            .pid = (int)json_object_get_int_member(o, "pid"),
            .tid = (int)json_object_get_int_member(o, "tid"),
            .stage = (int)json_object_get_int_member(args, "stage"),
            .batch = json_object_get_int_member(args, "batch"),
            .ts_ns = ns_of(o, "ts"),
            .dur_ns = ns_of(o, "dur"),
        };
        g_strlcpy(x.name, json_object_get_string_member(o, "name"), sizeof(x.name));
        ck_assert_int_eq(x.tid, x.stage + 1);
        g_array_append_val(out, x);
    }
    return out;
}

/* Two requests on one replica of two stages:
 * t=0: batch 0 = request 0's 100-token prefill: stage 0 [0, 2], stage 1
 *   [2, 5]. Request 1 arrives at 0.5 ms; stage 0 is busy.
 * t=2: stage 0 free, one batch in flight: batch 1 = request 1's 50-token
 *   prefill: stage 0 [2, 3.5]; stage 1 is busy until 5: [5, 7.5].
 * t=3.5: stage 0 free, but two batches are in flight (pp = 2): wait.
 * t=5: batch 0 leaves (request 0's first token); batch 2 = its decode:
 *   stage 0 [5, 6.01], stage 1 after batch 1: [7.5, 9.51].
 * t=7.5: batch 1 leaves (request 1's first token); batch 3 = its decode:
 *   stage 0 [7.5, 8.51], stage 1 [9.51, 11.52].
 * t=9.51: request 0 finishes; t=11.52: request 1 finishes. */
START_TEST(test_pipeline_stages)
{
    Study *st = study_new("arrival_s,input_tokens,output_tokens\n"
                          "0,100,2\n"
                          "0.0005,50,2\n",
                          1, 1000.0);
    st->pool.pipeline_parallel_size = 2;
    SvSimOptions opt = {.stage_time_fn = two_stage_time, .kv_blocks = 1000};
    char *path = NULL;
    g_autoptr(SvSim) sim = run_traced_opt(st, &opt, 0, &path);

    const struct {
        int stage;
        int64_t batch;
        double start_ms, dur_ms;
        const char *name;
    } want[] = {
        {0, 0, 0, 2, "prefill"},     {1, 0, 2, 3, "prefill"},      {0, 1, 2, 1.5, "prefill"},
        {1, 1, 5, 2.5, "prefill"},   {0, 2, 5, 1.01, "decode"},    {1, 2, 7.5, 2.01, "decode"},
        {0, 3, 7.5, 1.01, "decode"}, {1, 3, 9.51, 2.01, "decode"},
    };
    g_autoptr(GArray) got = stage_slices(path);
    ck_assert_int_eq(got->len, G_N_ELEMENTS(want));
    for (guint i = 0; i < got->len; i++) {
        const StageSlice *g = &g_array_index(got, StageSlice, i);
        ck_assert_msg(g->pid == 1 && g->stage == want[i].stage && g->batch == want[i].batch &&
                          g->ts_ns == MS(want[i].start_ms) && g->dur_ns == MS(want[i].dur_ms) &&
                          strcmp(g->name, want[i].name) == 0,
                      "slice %u: stage %d batch %" G_GINT64_FORMAT " %s at %" G_GINT64_FORMAT
                      " for %" G_GINT64_FORMAT " ns",
                      i, g->stage, g->batch, g->name, g->ts_ns, g->dur_ns);
    }
    ck_assert_int_eq(sv_sim_totals(sim)->iterations, 4);
    for (size_t k = 0; k < 2; k++) {
        const SvRequestRecord *r = sv_metrics_request(sv_sim_metrics(sim), k);
        ck_assert_int_eq(r->first_token_ns, r->id == 0 ? MS(5) : MS(7.5));
        ck_assert_int_eq(r->finish_ns, r->id == 0 ? MS(9.51) : MS(11.52));
    }

    /* The replica's threads are named by stage (and there is no
     * "iterations" thread to hold overlapping batches). */
    g_autoptr(JsonParser) parser = parse(path);
    JsonArray *events = events_of(parser);
    gboolean named[2] = {FALSE, FALSE};
    for (guint i = 0; i < json_array_get_length(events); i++) {
        JsonObject *o = json_array_get_object_element(events, i);
        if (strcmp(json_object_get_string_member(o, "name"), "thread_name") != 0)
            continue;
        const char *n =
            json_object_get_string_member(json_object_get_object_member(o, "args"), "name");
        int tid = (int)json_object_get_int_member(o, "tid");
        ck_assert(tid == 1 || tid == 2);
        ck_assert_str_eq(n, tid == 1 ? "stage 0" : "stage 1");
        named[tid - 1] = TRUE;
    }
    ck_assert(named[0] && named[1]);
    remove_trace(path);
    study_free(st);
}
END_TEST

/* A loaded pipelined run (3 stages, 2 replicas, preemptions): on every
 * stage's track the slices never overlap; each batch has one slice per
 * stage, entering stage k no earlier than it left stage k - 1; and the
 * batches are the run's iterations. */
START_TEST(test_pipeline_consistent)
{
    g_autofree char *csv = busy_trace_csv(200);
    Study *st = study_new(csv, 2, 0.005);
    st->pool.pipeline_parallel_size = 3;
    SvSimOptions opt = {.stage_time_fn = two_stage_time, .kv_blocks = 40};
    char *path = NULL;
    g_autoptr(SvSim) sim = run_traced_opt(st, &opt, 0, &path);
    ck_assert_int_gt(sv_sim_totals(sim)->preemptions, 0);
    g_autoptr(GArray) got = stage_slices(path);
    SvTimeNs busy_until[3][3] = {{0}}; /* [replica pid][stage] */
    int64_t next_batch[3] = {0, 0, 0}; /* per replica pid: batches seen */
    SvTimeNs prev_end = 0;
    int64_t batches = 0;
    for (guint i = 0; i < got->len; i++) {
        const StageSlice *g = &g_array_index(got, StageSlice, i);
        ck_assert(g->pid >= 1 && g->pid <= 2 && g->stage >= 0 && g->stage < 3);
        ck_assert_int_gt(g->dur_ns, 0);
        ck_assert_int_ge(g->ts_ns, busy_until[g->pid][g->stage]);
        busy_until[g->pid][g->stage] = g->ts_ns + g->dur_ns;
        /* A batch's stages are written together, in stage order. */
        if (g->stage == 0) {
            ck_assert_int_eq(g->batch, next_batch[g->pid]++);
            batches++;
        } else {
            const StageSlice *before = &g_array_index(got, StageSlice, i - 1);
            ck_assert(before->pid == g->pid && before->batch == g->batch &&
                      before->stage == g->stage - 1);
            ck_assert_int_ge(g->ts_ns, prev_end);
        }
        prev_end = g->ts_ns + g->dur_ns;
    }
    ck_assert_int_eq(batches, sv_sim_totals(sim)->iterations);
    remove_trace(path);
    study_free(st);
}
END_TEST

/* An unwritable path is a file error naming it; an abandoned trace leaves nothing. */
START_TEST(test_file_errors)
{
    Study *st = study_new("arrival_s,input_tokens,output_tokens\n0,10,2\n", 1, 1.0);
    GError *error = NULL;
    SvTraceEvents *te = sv_trace_events_new("/nonexistent-dir/x/trace.json", &st->cfg, 0, &error);
    ck_assert(te == NULL);
    ck_assert(error != NULL && error->domain == G_FILE_ERROR);
    ck_assert_msg(strstr(error->message, "/nonexistent-dir/x/trace.json: ") == error->message, "%s",
                  error->message);
    g_clear_error(&error);

    g_autofree char *dir = g_dir_make_tmp("sv-trace-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, "t.json", NULL);
    g_autofree char *tmp = g_strconcat(path, ".tmp", NULL);
    te = sv_trace_events_new(path, &st->cfg, 0, &error);
    ck_assert(te != NULL);
    ck_assert(g_file_test(tmp, G_FILE_TEST_EXISTS));
    sv_trace_events_free(te);
    ck_assert(!g_file_test(tmp, G_FILE_TEST_EXISTS));
    ck_assert(!g_file_test(path, G_FILE_TEST_EXISTS));
    g_rmdir(dir);
    study_free(st);
}
END_TEST

Suite *trace_events_suite(void)
{
    Suite *s = suite_create("trace_events");
    TCase *tc = tcase_create("timeline");
    tcase_add_test(tc, test_hand_timeline);
    tcase_add_test(tc, test_consistent_with_records);
    tcase_add_test(tc, test_swap_phases);
    tcase_add_test(tc, test_observer_is_neutral);
    tcase_add_test(tc, test_limit);
    tcase_add_test(tc, test_pipeline_stages);
    tcase_add_test(tc, test_pipeline_consistent);
    tcase_add_test(tc, test_file_errors);
    suite_add_tcase(s, tc);
    return s;
}
