/* Plan search: the YAML emitter, the results line format, enumeration, the
 * analytic bound (by hand, and against every simulated plan), pruning that
 * never removes the winner, the best plan re-run on its own, identical
 * outputs whatever the job count, crash-safe resume, and capacity. */
#include <math.h>
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "config/ynode.h"
#include "metrics/metrics.h"
#include "search/search.h"
#include "serve/sim.h"
#include "testutil.h"
#include "workload/workload.h"

/* ---- helpers ---- */

static SvSearch *search_run(const char *path, SvSearchMode mode, int jobs, gboolean prune,
                            const char *dir)
{
    g_autoptr(GError) error = NULL;
    SvSearchSpace *space = sv_search_space_load(path, mode, &error);
    ck_assert_msg(space != NULL, "%s", error ? error->message : "");
    space->prune = prune;
    SvSearch *s = sv_search_new(space, &error);
    ck_assert_msg(s != NULL, "%s", error ? error->message : "");
    if (dir != NULL) {
        ck_assert_msg(sv_search_resume(s, dir, &error), "%s", error ? error->message : "");
        g_autofree char *log = g_build_filename(dir, "plans.log", NULL);
        ck_assert_msg(sv_search_open_log(s, log, &error), "%s", error ? error->message : "");
    }
    g_autoptr(SvRunner) runner = sv_runner_local_new(sv_search_context(s), jobs);
    ck_assert_msg(sv_search_run(s, runner, &error), "%s", error ? error->message : "");
    if (dir != NULL)
        ck_assert_msg(sv_search_write(s, dir, &error), "%s", error ? error->message : "");
    return s;
}

static char *slurp(const char *dir, const char *name)
{
    g_autofree char *path = g_build_filename(dir, name, NULL);
    char *text = NULL;
    ck_assert_msg(g_file_get_contents(path, &text, NULL, NULL), "cannot read %s", path);
    return text;
}

/* The small study with another arrival rate, in a temporary file. */
static char *study_at_rate(const char *name, double rate)
{
    g_autofree char *src = sv_test_path(name);
    g_autofree char *text = NULL;
    ck_assert(g_file_get_contents(src, &text, NULL, NULL));
    g_autofree char *from = g_strdup("rate_per_s: 6}");
    ck_assert(strstr(text, from) != NULL);
    g_autofree char *to = g_strdup_printf("rate_per_s: %g}", rate);
    g_auto(GStrv) parts = g_strsplit(text, from, 2);
    g_autofree char *edited = g_strconcat(parts[0], to, parts[1], NULL);
    /* The trace is named by its data path (traces/...), found from anywhere. */
    g_autofree char *file = g_strdup_printf("sv-search-rate%g-%d.yaml", rate, (int)getpid());
    g_autofree char *path = g_build_filename(g_get_tmp_dir(), file, NULL);
    ck_assert(g_file_set_contents(path, edited, -1, NULL));
    return g_steal_pointer(&path);
}

/* Simulate a study file; returns whether it met its SLO with nothing rejected. */
static gboolean run_study_meets(const char *path)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(SvConfig) config = sv_config_load(path, NULL, &error);
    ck_assert_msg(config != NULL, "%s", error ? error->message : "");
    g_autoptr(SvTrace) trace = NULL;
    if (config->workload.trace_path != NULL) {
        trace = sv_trace_load(config->workload.trace_path, &error);
        ck_assert(trace != NULL);
    }
    g_autoptr(SvSim) sim = sv_sim_new(config, trace, NULL, &error);
    ck_assert_msg(sim != NULL, "%s", error ? error->message : "");
    sv_sim_run(sim);
    SvSummary sum;
    sv_metrics_summarize(sv_sim_metrics(sim), sv_sim_totals(sim), &sum);
    return sum.slo_met && sum.rejected == 0;
}

/* ---- the emitter ---- */

START_TEST(test_emit_roundtrip)
{
    const char *text = "seed: 1\n"
                       "name: \"8\"\n"
                       "odd: 'a: b # c'\n"
                       "empty: {}\n"
                       "none: []\n"
                       "nothing:\n"
                       "neg: -1.5\n"
                       "list: [1, two, \"3\"]\n"
                       "pools:\n"
                       "  - {name: a, hardware: h100-sxm, nested: {x: [1, 2]}}\n"
                       "  - name: b\n"
                       "    sub:\n"
                       "      - [1, 2]\n"
                       "      - {k: v}\n";
    g_autoptr(GError) error = NULL;
    g_autoptr(SvYDoc) doc = sv_ydoc_load_string(text, -1, "t.yaml", SV_CONFIG_ERROR, &error);
    ck_assert(doc != NULL);
    g_autofree char *once = sv_ydoc_emit(doc, NULL);
    g_autoptr(SvYDoc) again = sv_ydoc_load_string(once, -1, "u.yaml", SV_CONFIG_ERROR, &error);
    ck_assert_msg(again != NULL, "%s\n%s", error ? error->message : "", once);
    g_autofree char *twice = sv_ydoc_emit(again, NULL);
    ck_assert_str_eq(once, twice);
    /* Types survive: a quoted 8 is a string, -1.5 a number, null a null. */
    const SvYNode *name = sv_ynode_get(again->root, "name");
    ck_assert(name->quoted);
    ck_assert_str_eq(name->value, "8");
    double neg = 0;
    ck_assert(
        sv_ynode_double(again, sv_ynode_get(again->root, "neg"), "neg", -10, 10, &neg, &error));
    ck_assert(neg == -1.5);
    ck_assert(sv_ynode_get(again->root, "nothing")->is_null);
    ck_assert_str_eq(sv_ynode_get(again->root, "odd")->value, "a: b # c");
    const SvYNode *pools = sv_ynode_get(again->root, "pools");
    ck_assert_int_eq(pools->items->len, 2);
    const SvYNode *sub = sv_ynode_get(g_ptr_array_index(pools->items, 1), "sub");
    ck_assert_int_eq(sub->items->len, 2);
    /* Skipped keys are left out. */
    const char *const skip[] = {"pools", "list", NULL};
    g_autofree char *some = sv_ydoc_emit(doc, skip);
    ck_assert(strstr(some, "pools") == NULL && strstr(some, "list") == NULL);
    ck_assert(strstr(some, "seed: 1\n") != NULL);
}
END_TEST

/* A study written back by the emitter loads into the same config. */
START_TEST(test_emit_study_loads)
{
    g_autofree char *path = sv_test_path("data/search/small.yaml");
    g_autoptr(GError) error = NULL;
    g_autoptr(SvYDoc) doc = sv_ydoc_load_file(path, SV_CONFIG_ERROR, &error);
    ck_assert(doc != NULL);
    ck_assert(sv_ydoc_set(doc, "cluster.pools.0.tensor_parallel_size=8", &error));
    g_autofree char *yaml = sv_ydoc_emit(doc, NULL);
    g_autofree char *dir = g_path_get_dirname(path);
    g_autofree char *out = g_build_filename(dir, "emitted.tmp.yaml", NULL);
    ck_assert(g_file_set_contents(out, yaml, -1, NULL));
    g_autoptr(SvConfig) config = sv_config_load(out, NULL, &error);
    unlink(out);
    ck_assert_msg(config != NULL, "%s", error ? error->message : "");
    const SvPoolConfig *pool = g_ptr_array_index(config->pools, 0);
    ck_assert_int_eq(pool->tensor_parallel_size, 8);
    ck_assert_int_eq(config->workload.num_requests, 300);
    ck_assert(config->slo.ttft_s == 2.0);
}
END_TEST

/* ---- results lines ---- */

START_TEST(test_result_line)
{
    SvPlanResult r = {.id = 42, .status = SV_PLAN_SIMULATED, .meets = TRUE};
    for (int i = 0; i < SV_RF_COUNT; i++)
        r.v[i] = 1.0 / (i + 3) + i * 1e-17;
    r.v[SV_RF_BOUND_RATE] = INFINITY;
    r.v[SV_RF_COMPLETED] = 300;
    r.why = (char *)"ttft p90 2.5 s > 2 s, and \"more\"\nnext 100%";
    g_autofree char *line = sv_plan_result_to_line(&r);
    ck_assert(strchr(line, '\n') == NULL);
    g_autoptr(SvPlanResult) back = sv_plan_result_from_line(line);
    ck_assert(back != NULL);
    ck_assert_int_eq(back->id, 42);
    ck_assert_int_eq(back->status, SV_PLAN_SIMULATED);
    ck_assert(back->meets);
    for (int i = 0; i < SV_RF_COUNT; i++)
        ck_assert_msg(memcmp(&back->v[i], &r.v[i], sizeof(double)) == 0, "field %d", i);
    ck_assert_str_eq(back->why, r.why);
    /* A line cut short, or with one character changed, is refused. */
    for (size_t n = 0; n < strlen(line); n += 7) {
        g_autofree char *cut = g_strndup(line, n);
        ck_assert(sv_plan_result_from_line(cut) == NULL);
    }
    g_autofree char *bad = g_strdup(line);
    bad[5] = bad[5] == '1' ? '2' : '1';
    ck_assert(sv_plan_result_from_line(bad) == NULL);
}
END_TEST

/* ---- enumeration ---- */

START_TEST(test_enumeration)
{
    g_autofree char *path = sv_test_path("data/search/small.yaml");
    g_autoptr(GError) error = NULL;
    g_autoptr(SvSearchSpace) sp = sv_search_space_load(path, SV_SEARCH_PLAN, &error);
    ck_assert_msg(sp != NULL, "%s", error ? error->message : "");
    /* Per hardware and max_num_seqs, (tp, pp) -> replicas within 16
     * devices: (2,1) 3, (2,2) 3, (4,1) 3, (4,2) 2, (8,1) 2, (8,2) 1 = 14;
     * x 2 hardware x 2 max_num_seqs = 56. */
    ck_assert_int_eq(sp->plans->len, 56);
    const SvPlanSpec *p0 = g_ptr_array_index(sp->plans, 0);
    ck_assert_str_eq(p0->key, "hardware=h100-sxm tensor_parallel_size=2 pipeline_parallel_size=1 "
                              "expert_parallel_size=1 replicas=1 scheduler=vllm-v1 "
                              "max_num_seqs=64 max_num_batched_tokens=8192");
    const SvPlanSpec *p1 = g_ptr_array_index(sp->plans, 1); /* the last knob varies fastest */
    ck_assert(strstr(p1->key, "replicas=1 ") && strstr(p1->key, "max_num_seqs=256"));
    int max_dev = 0;
    for (guint i = 0; i < sp->plans->len; i++) {
        const SvPlanSpec *p = g_ptr_array_index(sp->plans, i);
        ck_assert_int_eq(p->id, (int)i);
        ck_assert_int_eq(p->devices, p->tp * p->pp * p->replicas);
        max_dev = MAX(max_dev, p->devices);
    }
    ck_assert_int_eq(max_dev, 16);
    const SvPlanSpec *last = g_ptr_array_index(sp->plans, 55);
    ck_assert(strstr(last->key, "a100-sxm-80g") && last->tp == 8 && last->pp == 2);
}
END_TEST

/* Attention-DP ranks are devices: with data_parallel_size 2 in the pool,
 * (tp, replicas) within 8 devices are (1, 1..4), (2, 1..2), (4, 1) = 7
 * plans (without dp it would be 4 + 4 + 2 = 10); a sweep over the dp
 * itself counts each plan's own value: dp 1 gives 10, dp 2 gives 7. */
START_TEST(test_enumeration_dp)
{
    const char *base =
        "seed: 1\n"
        "model: qwen3-30b-a3b\n"
        "cluster:\n"
        "  pools:\n"
        "    - {hardware: h100-sxm, data_parallel_size: 2, expert_parallel_size: 2}\n"
        "workload:\n"
        "  lengths: {input: {value: 100}, output: {value: 10}}\n"
        "  arrival: {process: poisson, rate_per_s: 1}\n"
        "  num_requests: 10\n"
        "search:\n"
        "  tensor_parallel_size: [1, 2, 4]\n"
        "  replicas: [1, 2, 3, 4]\n"
        "  max_devices: 8\n";
    g_autofree char *dir = g_dir_make_tmp("sv-search-dp-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, "dp.yaml", NULL);
    ck_assert(g_file_set_contents(path, base, -1, NULL));
    g_autoptr(GError) error = NULL;
    g_autoptr(SvSearchSpace) sp = sv_search_space_load(path, SV_SEARCH_PLAN, &error);
    ck_assert_msg(sp != NULL, "%s", error ? error->message : "");
    ck_assert_int_eq(sp->plans->len, 7);
    for (guint i = 0; i < sp->plans->len; i++) {
        const SvPlanSpec *p = g_ptr_array_index(sp->plans, i);
        ck_assert_int_eq(p->devices, p->tp * p->pp * 2 * p->replicas);
    }
    g_autofree char *swept =
        g_strconcat(base, "  sweep: {cluster.pools.0.data_parallel_size: [1, 2]}\n", NULL);
    ck_assert(g_file_set_contents(path, swept, -1, NULL));
    g_autoptr(SvSearchSpace) sp2 = sv_search_space_load(path, SV_SEARCH_PLAN, &error);
    ck_assert_msg(sp2 != NULL, "%s", error ? error->message : "");
    ck_assert_int_eq(sp2->plans->len, 17);
    int with_dp2 = 0;
    for (guint i = 0; i < sp2->plans->len; i++) {
        const SvPlanSpec *p = g_ptr_array_index(sp2->plans, i);
        gboolean dp2 = g_str_has_suffix(p->key, "data_parallel_size=2");
        with_dp2 += dp2;
        ck_assert_int_eq(p->devices, p->tp * p->pp * (dp2 ? 2 : 1) * p->replicas);
    }
    ck_assert_int_eq(with_dp2, 7);
    g_unlink(path);
    g_rmdir(dir);
}
END_TEST

/* ---- the bound ---- */

/* By hand: 10 requests of 100 input and 11 output tokens on one H100
 * replica of Llama 3 8B. */
START_TEST(test_bound_by_hand)
{
    const char *text = "model: llama-3-8b\n"
                       "cluster: {pools: [{name: m, hardware: h100-sxm, replicas: 1}]}\n"
                       "engine: {max_num_seqs: 4}\n"
                       "workload:\n"
                       "  lengths: {input: {dist: fixed, value: 100}, output: {dist: fixed, "
                       "value: 11}}\n"
                       "  arrival: {process: constant, rate_per_s: 2}\n"
                       "  num_requests: 10\n";
    g_autofree char *path = sv_test_write_tmp(text, ".yaml");
    g_autoptr(GError) error = NULL;
    g_autoptr(SvConfig) c = sv_config_load(path, NULL, &error);
    ck_assert_msg(c != NULL, "%s", error ? error->message : "");
    SvWorkloadWork work;
    ck_assert(sv_workload_work(c, NULL, &work, &error));
    ck_assert_int_eq(work.requests->len, 10);
    ck_assert(work.open_loop);
    ck_assert(fabs(work.last_arrival_s - 4.5) < 1e-9); /* 10 arrivals 0.5 s apart */
    SvPlanBound b;
    ck_assert(sv_plan_bound(c, &work, &b, &error));
    sv_workload_work_clear(&work);
    const SvModel *m = c->model;
    double lm = (double)m->vocab_size * m->hidden_size; /* 128256 x 4096 */
    double active = (double)sv_model_active_param_count(m);
    /* FLOPs: 10 x (100 prompt + 10 decode) tokens through the layers, 110
     * emitted tokens through the LM head; H100 bf16 peak 989.4 TFLOP/s. */
    double flops = 2 * (active - lm) * 1100 + 2 * lm * 110;
    const SvHw *hw = ((SvPoolConfig *)g_ptr_array_index(c->pools, 0))->hw;
    double peak = sv_hw_matmul_peak(hw, SV_DTYPE_BF16, SV_DTYPE_BF16);
    ck_assert(fabs(b.compute_s - flops / peak) < 1e-12 * flops / peak + 1e-15);
    /* Bytes: 100 decode steps in batches of at most 4 = 25 iterations of
     * the weights (bf16), and the KV read: per request sum_{j=1..10} (100
     * + j - 1) = 1045 tokens, 128 KiB each (32 layers x 2 x 8 heads x 128 x
     * 2 bytes). */
    double weights = (active - lm) * 2;
    double kv = 10 * 1045.0 * 32 * 2 * 8 * 128 * 2;
    double bytes = 25 * weights + kv;
    ck_assert(fabs(b.memory_s - bytes / hw->mem_bw_bytes_per_s) < 1e-9 * b.memory_s);
    ck_assert(fabs(b.run_min_s - MAX(b.compute_s, b.memory_s)) < 1e-15);
    ck_assert(fabs(b.rate_per_s - 10 / b.run_min_s) < 1e-9 * b.rate_per_s);
    ck_assert_int_eq(b.requests, 10);
    /* Twice the replicas, twice the rate. */
    ((SvPoolConfig *)g_ptr_array_index(c->pools, 0))->replicas = 2;
    SvPlanBound b2;
    ck_assert(sv_workload_work(c, NULL, &work, &error));
    ck_assert(sv_plan_bound(c, &work, &b2, &error));
    sv_workload_work_clear(&work);
    ck_assert(fabs(b2.rate_per_s - 2 * b.rate_per_s) < 1e-9 * b.rate_per_s);
    unlink(path);
}
END_TEST

/* No simulated plan beats its bound, whatever the load: below, at and far
 * above what the plans carry. */
START_TEST(test_bound_holds)
{
    const double rates[] = {6, 40};
    for (size_t k = 0; k < G_N_ELEMENTS(rates); k++) {
        g_autofree char *path = study_at_rate("data/search/small.yaml", rates[k]);
        g_autoptr(SvSearch) s = search_run(path, SV_SEARCH_PLAN, 2, FALSE, NULL);
        unlink(path);
        int checked = 0;
        for (int id = 0; id < (int)sv_search_stats(s)->plans; id++) {
            const SvPlanResult *r = sv_search_result(s, id);
            if (r->status != SV_PLAN_SIMULATED || r->v[SV_RF_REJECTED] > 0)
                continue;
            ck_assert_msg(r->v[SV_RF_THROUGHPUT] <= r->v[SV_RF_BOUND_RATE] * (1 + 1e-9),
                          "plan %d: %g req/s > bound %g", id, r->v[SV_RF_THROUGHPUT],
                          r->v[SV_RF_BOUND_RATE]);
            checked++;
        }
        ck_assert_int_ge(checked, 40);
    }
}
END_TEST

/* ---- pruning ---- */

static int winner_without(SvSearch *s)
{
    const SvPlanResult *b = sv_search_best(s);
    return b != NULL ? b->id : -1;
}

/* The same space searched with pruning and without: the same winner, and
 * every pruned plan, simulated, is no better. At 9 req/s the bound prunes
 * the small A100 plans and dominance most of the large ones. */
START_TEST(test_pruning_safe)
{
    g_autofree char *path = study_at_rate("data/search/small.yaml", 9);
    g_autoptr(SvSearch) pruned = search_run(path, SV_SEARCH_PLAN, 2, TRUE, NULL);
    g_autoptr(SvSearch) full = search_run(path, SV_SEARCH_PLAN, 2, FALSE, NULL);
    unlink(path);
    const SvSearchStats *ps = sv_search_stats(pruned), *fs = sv_search_stats(full);
    ck_assert_int_gt(ps->bound, 0);
    ck_assert_int_gt(ps->dominated, 0);
    ck_assert_int_eq(fs->bound + fs->dominated, 0);
    int best = winner_without(full);
    ck_assert_int_ge(best, 0);
    ck_assert_int_eq(winner_without(pruned), best);
    const SvPlanResult *w = sv_search_result(full, best);
    for (int id = 0; id < (int)ps->plans; id++) {
        const SvPlanResult *p = sv_search_result(pruned, id), *f = sv_search_result(full, id);
        ck_assert_int_eq(p->status == SV_PLAN_INFEASIBLE, f->status == SV_PLAN_INFEASIBLE);
        if (p->status == SV_PLAN_BOUND) {
            /* Simulated, it cannot carry the load. */
            ck_assert_msg(!f->meets, "bound-pruned plan %d meets the SLO", id);
            ck_assert(f->v[SV_RF_BOUND_RATE] < 9);
        }
        if (p->status == SV_PLAN_DOMINATED && f->meets)
            ck_assert_msg(f->v[SV_RF_OBJECTIVE] < w->v[SV_RF_OBJECTIVE],
                          "dominated plan %d: %g vs winner %g", id, f->v[SV_RF_OBJECTIVE],
                          w->v[SV_RF_OBJECTIVE]);
        if (p->status == SV_PLAN_SIMULATED) /* same plan, same numbers */
            ck_assert(memcmp(p->v, f->v, sizeof p->v) == 0);
    }
}
END_TEST

/* best.yaml, run on its own, meets its SLO. */
START_TEST(test_best_meets)
{
    g_autofree char *dir = g_dir_make_tmp("sv-search-XXXXXX", NULL);
    g_autofree char *path = sv_test_path("data/search/small.yaml");
    g_autoptr(SvSearch) s = search_run(path, SV_SEARCH_PLAN, 2, TRUE, dir);
    ck_assert(sv_search_best(s) != NULL);
    g_autofree char *best = g_build_filename(dir, "best.yaml", NULL);
    ck_assert(run_study_meets(best));
    /* The plan's knobs are in it. */
    g_autofree char *text = slurp(dir, "best.yaml");
    ck_assert(strstr(text, "search:") == NULL);
    ck_assert(strstr(text, "tensor_parallel_size:") != NULL);
    g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

/* Outputs identical with 1 and 3 threads. */
START_TEST(test_jobs_identical)
{
    g_autofree char *a = g_dir_make_tmp("sv-search-XXXXXX", NULL);
    g_autofree char *b = g_dir_make_tmp("sv-search-XXXXXX", NULL);
    g_autofree char *path = sv_test_path("data/search/small.yaml");
    g_autoptr(SvSearch) s1 = search_run(path, SV_SEARCH_PLAN, 1, TRUE, a);
    g_autoptr(SvSearch) s3 = search_run(path, SV_SEARCH_PLAN, 3, TRUE, b);
    const char *files[] = {"plans.csv", "pareto.csv", "best.yaml"};
    for (size_t i = 0; i < G_N_ELEMENTS(files); i++) {
        g_autofree char *x = slurp(a, files[i]);
        g_autofree char *y = slurp(b, files[i]);
        ck_assert_msg(strcmp(x, y) == 0, "%s differs", files[i]);
    }
    g_autofree char *cmd = g_strdup_printf("rm -rf '%s' '%s'", a, b);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

/* A crash mid-search: the log keeps 3 whole lines and half of a fourth.
 * The rerun takes the 3, redoes the rest, and writes what a clean run
 * writes; its log then holds only whole lines. */
START_TEST(test_resume)
{
    g_autofree char *a = g_dir_make_tmp("sv-search-XXXXXX", NULL);
    g_autofree char *b = g_dir_make_tmp("sv-search-XXXXXX", NULL);
    g_autofree char *path = sv_test_path("data/search/small.yaml");
    g_autoptr(SvSearch) clean = search_run(path, SV_SEARCH_PLAN, 2, TRUE, a);
    g_autofree char *log = slurp(a, "plans.log");
    g_auto(GStrv) lines = g_strsplit(log, "\n", -1);
    ck_assert_int_ge(g_strv_length(lines), 6);
    g_autofree char *partial = g_strndup(lines[4], strlen(lines[4]) / 2);
    g_autofree char *cut =
        g_strdup_printf("%s\n%s\n%s\n%s\n%s", lines[0], lines[1], lines[2], lines[3], partial);
    g_autofree char *blog = g_build_filename(b, "plans.log", NULL);
    ck_assert(g_file_set_contents(blog, cut, -1, NULL));
    g_autoptr(SvSearch) resumed = search_run(path, SV_SEARCH_PLAN, 2, TRUE, b);
    ck_assert_int_eq(sv_search_stats(resumed)->resumed, 3);
    ck_assert_int_eq(sv_search_stats(resumed)->simulated, sv_search_stats(clean)->simulated);
    const char *files[] = {"plans.csv", "pareto.csv", "best.yaml"};
    for (size_t i = 0; i < G_N_ELEMENTS(files); i++) {
        g_autofree char *x = slurp(a, files[i]);
        g_autofree char *y = slurp(b, files[i]);
        ck_assert_msg(strcmp(x, y) == 0, "%s differs after resume", files[i]);
    }
    g_autofree char *relog = slurp(b, "plans.log");
    g_auto(GStrv) rl = g_strsplit(relog, "\n", -1);
    int n = 0;
    for (int i = 1; rl[i] != NULL && rl[i][0] != '\0'; i++, n++) {
        g_autoptr(SvPlanResult) r = sv_plan_result_from_line(rl[i]);
        ck_assert_msg(r != NULL, "log line %d is broken: %s", i, rl[i]);
    }
    ck_assert_int_eq(n, (int)sv_search_stats(clean)->simulated);
    /* A log of another study is refused. */
    g_autofree char *other = sv_test_path("data/search/capacity.yaml");
    g_autoptr(GError) error = NULL;
    SvSearchSpace *sp = sv_search_space_load(other, SV_SEARCH_PLAN, &error);
    ck_assert(sp != NULL);
    g_autoptr(SvSearch) s = sv_search_new(sp, &error);
    ck_assert(!sv_search_resume(s, b, &error));
    ck_assert(strstr(error->message, "another study") != NULL);
    g_autofree char *cmd = g_strdup_printf("rm -rf '%s' '%s'", a, b);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

/* Capacity: one replica's highest rate never exceeds its bound, the
 * cheapest fleet carries the target and its best.yaml meets the SLO. */
START_TEST(test_capacity)
{
    g_autofree char *dir = g_dir_make_tmp("sv-search-XXXXXX", NULL);
    g_autofree char *path = sv_test_path("data/search/capacity.yaml");
    g_autoptr(SvSearch) s = search_run(path, SV_SEARCH_CAPACITY, 2, TRUE, dir);
    const SvPlanResult *best = sv_search_best(s);
    ck_assert(best != NULL);
    for (int id = 0; id < (int)sv_search_stats(s)->plans; id++) {
        const SvPlanResult *r = sv_search_result(s, id);
        if (r->status != SV_PLAN_SIMULATED)
            continue;
        ck_assert(r->v[SV_RF_MAX_RATE] <= r->v[SV_RF_BOUND_RATE]);
        if (!r->meets)
            continue;
        /* The fleet: enough replicas of max_rate for 30 req/s, and no
         * cheaper fleet than the best. */
        ck_assert(r->v[SV_RF_FLEET_REPLICAS] * r->v[SV_RF_MAX_RATE] >= 30 * (1 - 1e-9));
        ck_assert(r->v[SV_RF_HEADROOM] >= -1e-9);
        ck_assert(best->v[SV_RF_FLEET_DEVICES] <= r->v[SV_RF_FLEET_DEVICES]);
    }
    g_autofree char *yaml = g_build_filename(dir, "best.yaml", NULL);
    ck_assert(run_study_meets(yaml));
    g_autofree char *text = slurp(dir, "best.yaml");
    ck_assert(strstr(text, "rate_per_s: 30") != NULL);
    g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

/* Bad search blocks are refused with their place. */
START_TEST(test_bad_space)
{
    struct {
        const char *search;
        const char *expect;
    } cases[] = {
        {"search: {tensor_parallel_size: [0]}", "between 1 and 4096"},
        {"search: {hardware: [h100-sxx]}", "h100-sxm"},
        {"search: {max_num_seqs: [64, 64]}", "twice"},
        {"search: {objective: fastest}", "goodput_per_device"},
        {"search: {replica: [1]}", "did you mean 'replicas'"},
        {"search: {sweep: {engine.max_num_seqs: [1]}}", "search.max_num_seqs"},
        {"search: {tensor_parallel_size: [8], max_devices: 4}", "no plan"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *text = g_strdup_printf(
            "model: llama-3-8b\n"
            "cluster: {pools: [{name: m, hardware: h100-sxm, replicas: 1}]}\n"
            "workload: {lengths: {input: {dist: fixed, value: 10}, output: {dist: fixed, "
            "value: 10}}, arrival: {process: poisson, rate_per_s: 1}, num_requests: 10}\n"
            "%s\n",
            cases[i].search);
        g_autofree char *path = sv_test_write_tmp(text, ".yaml");
        g_autoptr(GError) error = NULL;
        g_autoptr(SvSearchSpace) sp = sv_search_space_load(path, SV_SEARCH_PLAN, &error);
        ck_assert_msg(sp == NULL, "case %zu accepted", i);
        ck_assert_msg(strstr(error->message, cases[i].expect) != NULL, "case %zu: %s", i,
                      error->message);
        ck_assert_msg(g_str_has_prefix(error->message, path), "case %zu: %s", i, error->message);
        unlink(path);
    }
}
END_TEST

Suite *search_suite(void)
{
    Suite *s = suite_create("search");
    TCase *fast = tcase_create("format");
    tcase_add_test(fast, test_emit_roundtrip);
    tcase_add_test(fast, test_emit_study_loads);
    tcase_add_test(fast, test_result_line);
    tcase_add_test(fast, test_enumeration);
    tcase_add_test(fast, test_enumeration_dp);
    tcase_add_test(fast, test_bound_by_hand);
    tcase_add_test(fast, test_bad_space);
    suite_add_tcase(s, fast);
    TCase *sim = tcase_create("simulated");
    tcase_set_timeout(sim, 600);
    tcase_add_test(sim, test_bound_holds);
    tcase_add_test(sim, test_pruning_safe);
    tcase_add_test(sim, test_best_meets);
    tcase_add_test(sim, test_jobs_identical);
    tcase_add_test(sim, test_resume);
    tcase_add_test(sim, test_capacity);
    suite_add_tcase(s, sim);
    return s;
}
