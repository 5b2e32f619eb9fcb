/* Model-derived GEMM shapes (hand-computed from the published configs),
 * shape files, whole-layer batch specs and the benchmark grid: point
 * counts, skips with their notes, and the --quick time budget. */
#include "plan.h"
#include "shapes.h"

#include <glib/gstdio.h>

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static GArray *shapes_of(const char *model, int tp)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(SvModel) m = sv_model_load(model, &error);
    ck_assert_msg(m != NULL, "%s", error ? error->message : "");
    ck_assert(probe_shapes_tp_ok(m, tp));
    GArray *out = g_array_new(FALSE, TRUE, sizeof(ProbeShape));
    probe_shapes_for_model(m, tp, out);
    return out;
}

static void expect(GArray *a, guint i, const char *op, const char *part, int64_t n, int64_t k)
{
    ck_assert_uint_lt(i, a->len);
    const ProbeShape *s = &g_array_index(a, ProbeShape, i);
    ck_assert_str_eq(s->op, op);
    ck_assert_str_eq(s->part, part);
    ck_assert_msg(s->n == n && s->k == k,
                  "%s/%s: got n=%" G_GINT64_FORMAT " k=%" G_GINT64_FORMAT
                  ", want n=%" G_GINT64_FORMAT " k=%" G_GINT64_FORMAT,
                  op, part, (gint64)s->n, (gint64)s->k, (gint64)n, (gint64)k);
}

START_TEST(test_llama3_8b)
{
    /* 32 heads, 8 KV heads of 128, hidden 4096, MLP 14336 (gated), vocab 128256. */
    g_autoptr(GArray) t1 = shapes_of("llama-3-8b", 1);
    ck_assert_uint_eq(t1->len, 5);
    expect(t1, 0, "qkv_proj", "", (32 + 2 * 8) * 128, 4096);
    expect(t1, 1, "o_proj", "", 4096, 4096);
    expect(t1, 2, "mlp_up", "", 2 * 14336, 4096);
    expect(t1, 3, "mlp_down", "", 4096, 14336);
    expect(t1, 4, "lm_head", "", 128256, 4096);
    /* TP 8: 4 query heads and 1 KV head per device. */
    g_autoptr(GArray) t8 = shapes_of("llama-3-8b", 8);
    expect(t8, 0, "qkv_proj", "", (4 + 2) * 128, 4096);
    expect(t8, 1, "o_proj", "", 4096, 512);
    expect(t8, 2, "mlp_up", "", 3584, 4096);
    expect(t8, 3, "mlp_down", "", 4096, 1792);
    expect(t8, 4, "lm_head", "", 16032, 4096);
}
END_TEST

START_TEST(test_kv_replication)
{
    /* Llama 3 70B at TP 16: 64/16 = 4 query heads; its 8 KV heads cannot
     * split 16 ways, so each device holds one (replicated), as vLLM does. */
    g_autoptr(GArray) t16 = shapes_of("llama-3-70b", 16);
    expect(t16, 0, "qkv_proj", "", (4 + 2 * 1) * 128, 8192);
    g_autoptr(GError) error = NULL;
    g_autoptr(SvModel) m = sv_model_load("llama-3-70b", &error);
    ck_assert(!probe_shapes_tp_ok(m, 3));
    ck_assert(!probe_shapes_tp_ok(m, 0));
}
END_TEST

START_TEST(test_deepseek_v3_mla_moe)
{
    /* TP 8: 16 heads per device; qk head 128+64, v head 128; q_lora 1536,
     * kv_lora 512; dense MLP 18432 (first 3 layers); 256 experts of 2048
     * and 1 shared expert; vocab 129280. */
    g_autoptr(GArray) a = shapes_of("deepseek-v3", 8);
    ck_assert_uint_eq(a->len, 13);
    expect(a, 0, "qkv_proj", "q_a", 1536, 7168);
    expect(a, 1, "qkv_proj", "q_b", 16 * 192, 1536);
    expect(a, 2, "qkv_proj", "kv_a", 512 + 64, 7168);
    expect(a, 3, "qkv_proj", "kv_b", 16 * (128 + 128), 512);
    expect(a, 4, "o_proj", "", 7168, 16 * 128);
    expect(a, 5, "mlp_up", "", 2 * 18432 / 8, 7168);
    expect(a, 6, "mlp_down", "", 7168, 18432 / 8);
    expect(a, 7, "moe_router", "", 256, 7168);
    expect(a, 8, "moe_experts", "up", 2 * 2048 / 8, 7168);
    expect(a, 9, "moe_experts", "down", 7168, 2048 / 8);
    expect(a, 10, "mlp_up", "shared", 2 * 2048 / 8, 7168);
    expect(a, 11, "mlp_down", "shared", 7168, 2048 / 8);
    expect(a, 12, "lm_head", "", 16160, 7168);
}
END_TEST

START_TEST(test_mixtral_no_dense_mlp)
{
    g_autoptr(GArray) a = shapes_of("mixtral-8x7b", 2);
    ck_assert_uint_eq(a->len, 6);
    expect(a, 2, "moe_router", "", 8, 4096);
    expect(a, 3, "moe_experts", "up", 14336, 4096);
    expect(a, 4, "moe_experts", "down", 4096, 7168);
    expect(a, 5, "lm_head", "", 16000, 4096);
}
END_TEST

/* A temporary folder holding one shape file with @text. (transfer full) */
static char *shape_dir(const char *name, const char *text)
{
    char *dir = g_dir_make_tmp("probe-shapes-XXXXXX", NULL);
    g_autofree char *path = g_strdup_printf("%s/%s.csv", dir, name);
    ck_assert(g_file_set_contents(path, text, -1, NULL));
    return dir;
}

static void rm_dir(const char *dir)
{
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    const char *e;
    while (d != NULL && (e = g_dir_read_name(d)) != NULL) {
        g_autofree char *p = g_build_filename(dir, e, NULL);
        g_unlink(p);
    }
    g_rmdir(dir);
}

START_TEST(test_shape_file_round_trip)
{
    g_autoptr(GArray) a = shapes_of("qwen3-8b", 2);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    probe_shapes_write(f, "qwen3-8b", "models/qwen3-8b.yaml", a);
    fclose(f);
    g_autofree char *dir = shape_dir("qwen3-8b", buf);
    free(buf);
    g_autofree char *path = g_strdup_printf("%s/qwen3-8b.csv", dir);
    g_autoptr(GError) error = NULL;
    g_autoptr(GArray) b = probe_shapes_read(path, &error);
    ck_assert_msg(b != NULL, "%s", error ? error->message : "");
    ck_assert_uint_eq(a->len, b->len);
    ck_assert(memcmp(a->data, b->data, a->len * sizeof(ProbeShape)) == 0);
    rm_dir(dir);
}
END_TEST

static void expect_read_error(const char *text, const char *suffix)
{
    g_autofree char *dir = shape_dir("bad", text);
    g_autofree char *path = g_strdup_printf("%s/bad.csv", dir);
    g_autoptr(GError) error = NULL;
    g_autoptr(GArray) b = probe_shapes_read(path, &error);
    ck_assert_ptr_null(b);
    ck_assert(g_error_matches(error, PROBE_ERROR, PROBE_ERROR_INPUT));
    g_autofree char *want = g_strdup_printf("%s%s", path, suffix);
    ck_assert_str_eq(error->message, want);
    rm_dir(dir);
}

START_TEST(test_shape_file_errors)
{
    expect_read_error("# c\nmodel,tp,op,part,n,k\nm,1,qkv_proj,,4096,x1\n",
                      ":3:20: k must be a positive integer, got 'x1'");
    expect_read_error("model,tp,op,part,n,k\nm,0,o_proj,,1,1\n",
                      ":2:3: tp must be an integer in [1, 1024], got '0'");
    expect_read_error("model,tp,op,part,n,k\nm,1,o_proj,,-5,1\n",
                      ":2:13: n must be a positive integer, got '-5'");
    expect_read_error("model,tp,op,part,n,k\nm,1,o_proj,1,1\n",
                      ":2:1: expected 6 cells (model,tp,op,part,n,k) in 'm,1,o_proj,1,1'");
    expect_read_error("model,tp,n,k\n",
                      ":1:1: expected the header 'model,tp,op,part,n,k', got 'model,tp,n,k'");
    expect_read_error("# only comments\n", ": no header row");
}
END_TEST

START_TEST(test_committed_shape_files_read)
{
    /* Every committed file parses and holds TP 1 rows. */
    g_autofree char *dir = g_build_filename(SV_SOURCE_DIR, "probe", "shapes", NULL);
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    ck_assert_ptr_nonnull(d);
    int files = 0;
    const char *e;
    while ((e = g_dir_read_name(d)) != NULL) {
        if (!g_str_has_suffix(e, ".csv"))
            continue;
        g_autofree char *path = g_build_filename(dir, e, NULL);
        g_autoptr(GError) error = NULL;
        g_autoptr(GArray) a = probe_shapes_read(path, &error);
        ck_assert_msg(a != NULL, "%s", error ? error->message : "");
        ck_assert_uint_gt(a->len, 0);
        ck_assert_int_eq(g_array_index(a, ProbeShape, 0).tp, 1);
        files++;
    }
    ck_assert_int_ge(files, 13);
}
END_TEST

START_TEST(test_batch_spec)
{
    ProbeBatch b;
    g_autoptr(GError) error = NULL;
    ck_assert(probe_batch_parse("prefill=512x2@100, decode=64@2048", &b, &error));
    ck_assert_int_eq(b.nterms, 2);
    ck_assert(b.terms[0].prefill);
    ck_assert_int_eq(b.terms[0].tokens, 512);
    ck_assert_int_eq(b.terms[0].count, 2);
    ck_assert_int_eq(b.terms[0].context, 100);
    ck_assert(!b.terms[1].prefill);
    ck_assert_int_eq(b.terms[1].count, 64);
    ck_assert_int_eq(b.terms[1].context, 2048);
    ck_assert_int_eq(b.tokens, 2 * 512 + 64);
    ck_assert_int_eq(b.prefill_chunks, 2);
    ck_assert_int_eq(b.decode_seqs, 64);
    /* The same aggregates as servesim's own parser. */
    SvBatchShape s;
    ck_assert(sv_batch_parse("prefill=512x2@100, decode=64@2048", &s, NULL));
    ck_assert(memcmp(&s, &b.shape, sizeof s) == 0);
    ck_assert(!probe_batch_parse("prefill=0x1", &b, &error));
    ck_assert(strstr(error->message, "prefill=0x1") != NULL);
    g_autofree char *label = probe_batch_label("prefill=512x1,decode=8@64");
    ck_assert_str_eq(label, "prefill=512x1;decode=8@64");
}
END_TEST

START_TEST(test_arithmetic)
{
    /* chunk 2 after 3 cached tokens: 2 x 3 + 2 x 3 / 2 = 9 pairs. */
    ProbePrefillPoint pp = {2, 3, 1, 1, 1};
    ck_assert_double_eq(probe_prefill_flops(&pp), 36);
    /* K, V of 5 tokens + Q, O of 2, all bf16. */
    ck_assert_double_eq(probe_prefill_bytes(&pp), 2 * 5 * 2 + 2 * 2 * 2);
    ProbeDecodePoint dp = {4, 100, 8, 2, 64, 16};
    ck_assert_double_eq(probe_decode_flops(&dp), 4.0 * 64 * 8 * 4 * 100);
    ck_assert_double_eq(probe_decode_bytes(&dp), 2.0 * 4 * 100 * 2 * 64 * 2 + 2.0 * 4 * 8 * 64 * 2);
    ProbeEwPoint ew = {PROBE_EW_RMSNORM, 10, 4096, 0, 0, 0};
    ck_assert_double_eq(probe_ew_bytes(&ew), (2.0 * 10 * 4096 + 4096) * 2);
    ew.op = PROBE_EW_SILU_MUL;
    ck_assert_double_eq(probe_ew_bytes(&ew), 3.0 * 10 * 4096 * 2);
    ProbeGemmPoint g = {PROBE_DT_FP8, 2, 3, 4, TRUE, FALSE, -1};
    ck_assert_double_eq(probe_gemm_bytes(&g), (2 * 4 + 3 * 4) * 1 + 2 * 3 * 2);
    ck_assert_double_eq(probe_coll_bus_factor(PROBE_COLL_ALL_REDUCE, 8), 2.0 * 7 / 8);
    ck_assert_double_eq(probe_coll_bus_factor(PROBE_COLL_ALL_GATHER, 4), 0.75);
    ck_assert_double_eq(probe_coll_bus_factor(PROBE_COLL_SEND_RECV, 2), 1);
}
END_TEST

static ProbePlan *plan_for(const char *line, int sm, int gpus, char **error_out)
{
    g_auto(GStrv) words = g_strsplit(line, " ", -1);
    ProbeOptions o;
    probe_options_init(&o);
    ck_assert(probe_options_parse(&o, (int)g_strv_length(words), words, NULL));
    ProbeTarget t;
    probe_target_assume(&t, sm, gpus, 80, TRUE);
    g_autoptr(GError) error = NULL;
    ProbePlan *p = probe_plan_new(&o, &t, &error);
    if (error_out != NULL)
        *error_out = error ? g_strdup(error->message) : NULL;
    probe_options_clear(&o);
    return p;
}

static gboolean has_note(const ProbePlan *p, const char *text)
{
    for (guint i = 0; i < p->notes->len; i++)
        if (strstr(g_ptr_array_index(p->notes, i), text) != NULL)
            return TRUE;
    return FALSE;
}

START_TEST(test_gemm_grid_counts)
{
    /* One model file with (4096, 4096), which is also on the quick base grid
     * (N, K in {1024, 4096, 16384}), and (6144, 4096). Quick base grid: 5 M
     * x 3 N x 3 K = 45 per dtype; model: 2 shapes x 7 M = 14, of which
     * (4096, 4096) at M = 1 and 128 coincide with grid points: 57 per dtype. */
    g_autofree char *dir = shape_dir("tiny", "model,tp,op,part,n,k\n"
                                             "tiny,1,o_proj,,4096,4096\n"
                                             "tiny,1,qkv_proj,,6144,4096\n");
    g_autofree char *line =
        g_strdup_printf("probe --quick --only gemm --shapes %s --models tiny", dir);
    g_autoptr(ProbePlan) h100 = plan_for(line, 90, 1, NULL);
    ck_assert_uint_eq(h100->gemm->len, 2 * 57);
    ck_assert_int_eq(h100->model_shapes, 2);
    int both = 0, fp8 = 0;
    for (guint i = 0; i < h100->gemm->len; i++) {
        const ProbeGemmPoint *g = &g_array_index(h100->gemm, ProbeGemmPoint, i);
        both += g->grid && g->model;
        fp8 += g->dtype == PROBE_DT_FP8;
        /* Model points name the models that have the shape; grid-only none. */
        if (g->model)
            ck_assert_str_eq(g_ptr_array_index(h100->model_lists, g->models), "tiny");
        else
            ck_assert_int_eq(g->models, -1);
        if (i > 0) { /* sorted by dtype, n, k, m */
            const ProbeGemmPoint *q = g - 1;
            ck_assert(q->dtype < g->dtype ||
                      (q->dtype == g->dtype &&
                       (q->n < g->n ||
                        (q->n == g->n && (q->k < g->k || (q->k == g->k && q->m < g->m))))));
        }
    }
    ck_assert_int_eq(both, 2 * 2);
    ck_assert_int_eq(fp8, 57);
    /* An A100 has no fp8: one dtype and a note saying why. */
    g_autoptr(ProbePlan) a100 = plan_for(line, 80, 1, NULL);
    ck_assert_uint_eq(a100->gemm->len, 57);
    ck_assert(has_note(a100, "fp8 skipped"));
    rm_dir(dir);
}
END_TEST

START_TEST(test_model_lists)
{
    /* (6144, 4096) is the QKV projection of both Llama 3 8B and Qwen3 8B
     * at TP 1 (32 + 2 x 8 heads of 128, hidden 4096): one point per M,
     * both models named. */
    g_autoptr(ProbePlan) p =
        plan_for("probe --quick --only gemm --models llama-3-8b,qwen3-8b", 90, 1, NULL);
    gboolean found = FALSE;
    for (guint i = 0; i < p->gemm->len; i++) {
        const ProbeGemmPoint *g = &g_array_index(p->gemm, ProbeGemmPoint, i);
        if (g->n == 6144 && g->k == 4096) {
            ck_assert_str_eq(g_ptr_array_index(p->model_lists, g->models), "llama-3-8b;qwen3-8b");
            found = TRUE;
        }
    }
    ck_assert(found);
}
END_TEST

START_TEST(test_plan_errors)
{
    char *msg = NULL;
    ProbePlan *p = plan_for("probe --only gemm --models llama-3-8x", 90, 1, &msg);
    ck_assert_ptr_null(p);
    ck_assert(strstr(msg, "--models: no shape file") != NULL);
    ck_assert(strstr(msg, "(did you mean 'llama-3-8b'?)") != NULL);
    g_free(msg);
    p = plan_for("probe --only layer --layer deepseek-v3:8:decode=1@10", 90, 1, &msg);
    ck_assert_ptr_null(p);
    ck_assert_str_eq(msg, "--layer deepseek-v3: MoE layers are not implemented yet (dense "
                          "GQA/MHA models only)");
    g_free(msg);
    p = plan_for("probe --only layer --layer llama-3-8b:3:decode=1@10", 90, 1, &msg);
    ck_assert_ptr_null(p);
    ck_assert(strstr(msg, "tensor-parallel degree 3 does not divide") != NULL);
    g_free(msg);
    p = plan_for("probe --only layer --layer llama-3-8b:1:decode=1", 90, 1, &msg);
    ck_assert_ptr_null(p);
    ck_assert(strstr(msg, "--layer llama-3-8b: --batch: bad term 'decode=1'") != NULL);
    g_free(msg);
    p = plan_for("probe --only layer --layer no-such-model:1:decode=1@1", 90, 1, &msg);
    ck_assert_ptr_null(p);
    ck_assert(g_str_has_prefix(msg, "--layer: "));
    g_free(msg);
}
END_TEST

START_TEST(test_collectives_need_gpus)
{
    g_autoptr(ProbePlan) one = plan_for("probe --quick --only collectives", 90, 1, NULL);
    ck_assert_uint_eq(one->coll->len, 0);
    ck_assert(has_note(one, "collectives: skipped: 1 GPU visible, need at least 2"));
    /* 8 GPUs: groups of 2, 4, 8; 5 ops for the pair (send/recv only there),
     * 4 for the others; quick sizes 4 KiB, 256 KiB, 16 MiB. */
    g_autoptr(ProbePlan) eight = plan_for("probe --quick --only collectives", 90, 8, NULL);
    ck_assert_uint_eq(eight->coll->len, (5 + 4 + 4) * 3);
    ck_assert_int_eq(g_array_index(eight->coll, ProbeCollPoint, 2).bytes, 16 * 1024 * 1024);
}
END_TEST

START_TEST(test_quick_fits_five_minutes)
{
    /* The budget: --quick finishes in <= 5 minutes on an H100. */
    for (int gpus = 1; gpus <= 8; gpus *= 8) {
        g_autoptr(ProbePlan) p = plan_for("probe --quick", 90, gpus, NULL);
        ProbeOptions o;
        probe_options_init(&o);
        o.quick = TRUE;
        ProbeTarget t;
        probe_target_assume(&t, 90, gpus, 80, TRUE);
        double est = probe_plan_estimate_s(p, &o, &t);
        ck_assert_msg(est <= 300, "--quick estimated %.0f s on %d GPU(s)", est, gpus);
        ck_assert_uint_gt(p->gemm->len, 100);
        ck_assert_uint_gt(p->prefill->len, 0);
        ck_assert_uint_gt(p->decode->len, 0);
        ck_assert_uint_gt(p->layer->len, 0);
        ck_assert_uint_eq(p->power->len, 8); /* idle + 7 workloads, fp8 included */
        probe_options_clear(&o);
    }
}
END_TEST

START_TEST(test_full_plan_and_print)
{
    g_autoptr(ProbePlan) p = plan_for("probe", 90, 1, NULL);
    /* Every shipped model at TP 1..8 and the 15 x 5 x 5 grid, two dtypes. */
    ck_assert_uint_gt(p->gemm->len, 2 * 375);
    ck_assert_int_ge(p->model_files, 13);
    ck_assert_uint_eq(p->layer->len, 4 * 6);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ProbeOptions o;
    probe_options_init(&o);
    ProbeTarget t;
    probe_target_assume(&t, 90, 1, 80, TRUE);
    probe_plan_print(f, p, &o, &t);
    fclose(f);
    ck_assert(strstr(buf, "\ngemm bf16 m=1 n=1024 k=1024 grid\n") != NULL);
    ck_assert(strstr(buf, "\nattention decode batch=1 context=128 heads=32 kv_heads=8 "
                          "head_dim=128 block_size=16\n") != NULL);
    ck_assert(strstr(buf, "\nlayer llama-3-8b tp=1 batch=prefill=2048x1\n") != NULL);
    ck_assert(strstr(buf, "\npower idle\n") != NULL);
    ck_assert(strstr(buf, "# note: collectives: skipped") != NULL);
    ck_assert(strstr(buf, "# total: ") != NULL);
    free(buf);
    probe_options_clear(&o);
}
END_TEST

Suite *probe_plan_suite(void)
{
    Suite *s = suite_create("probe_plan");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_llama3_8b);
    tcase_add_test(tc, test_kv_replication);
    tcase_add_test(tc, test_deepseek_v3_mla_moe);
    tcase_add_test(tc, test_mixtral_no_dense_mlp);
    tcase_add_test(tc, test_shape_file_round_trip);
    tcase_add_test(tc, test_shape_file_errors);
    tcase_add_test(tc, test_committed_shape_files_read);
    tcase_add_test(tc, test_batch_spec);
    tcase_add_test(tc, test_arithmetic);
    tcase_add_test(tc, test_gemm_grid_counts);
    tcase_add_test(tc, test_model_lists);
    tcase_add_test(tc, test_plan_errors);
    tcase_add_test(tc, test_collectives_need_gpus);
    tcase_add_test(tc, test_quick_fits_five_minutes);
    tcase_add_test(tc, test_full_plan_and_print);
    suite_add_tcase(s, tc);
    return s;
}
