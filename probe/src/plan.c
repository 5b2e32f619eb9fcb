/* The benchmark grid (see plan.h). The grids are written out here, one
 * place, so the README's description, the dry run and the real run agree. */
#include "plan.h"

#include "shapes.h"

#include "core/common.h"
#include "model/model.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define KIB (1024LL)
#define MIB (1024LL * 1024)
#define GIB (1024LL * 1024 * 1024)

/* ----------------------------------------------------------- targets -- */

void probe_target_assume(ProbeTarget *t, int sm, int gpus, double mem_gb, gboolean has_nccl)
{
    memset(t, 0, sizeof *t);
    t->sm = sm;
    t->gpus = gpus;
    t->mem_bytes = mem_gb * 1e9;
    t->has_nccl = has_nccl;
    t->assumed = TRUE;
    /* Peaks from hwprofiles/{a100-sxm-80g,l40s,h100-sxm}.yaml (dense). */
    if (sm >= 90) {
        g_strlcpy(t->name, "assumed H100 SXM (sm_90)", sizeof t->name);
        t->peak_bf16_flops = 989e12;
        t->peak_fp8_flops = 1979e12;
        t->peak_mem_bw = 3350e9;
        t->host_bw = 64e9;
        t->l2_bytes = 50 * MIB;
    } else if (sm >= 89) {
        g_strlcpy(t->name, "assumed L40S (sm_89)", sizeof t->name);
        t->peak_bf16_flops = 362e12;
        t->peak_fp8_flops = 733e12;
        t->peak_mem_bw = 864e9;
        t->host_bw = 32e9;
        t->l2_bytes = 96 * MIB;
    } else {
        g_strlcpy(t->name, "assumed A100 SXM (sm_80)", sizeof t->name);
        t->peak_bf16_flops = 312e12;
        t->peak_mem_bw = 2039e9;
        t->host_bw = 32e9;
        t->l2_bytes = 40 * MIB;
    }
}

/* -------------------------------------------------------------- names -- */

const char *probe_gemm_dtype_name(ProbeGemmDtype dt)
{
    return dt == PROBE_DT_FP8 ? "fp8" : "bf16";
}

const char *probe_ew_name(ProbeEwOp op)
{
    static const char *const names[] = {"rmsnorm", "rope", "mlp_act", "add", "kv_store"};
    return names[op];
}

const char *probe_mem_name(ProbeMemKind kind)
{
    static const char *const names[] = {"d2d", "h2d", "d2h", "d2d_kernel"};
    return names[kind];
}

const char *probe_coll_name(ProbeCollOp op)
{
    static const char *const names[] = {"all_reduce", "all_gather", "reduce_scatter", "all_to_all",
                                        "send_recv"};
    return names[op];
}

const char *probe_power_name(ProbePowerWorkload w)
{
    static const char *const names[] = {"idle",          "gemm_bf16",    "gemm_fp8",
                                        "hbm_copy",      "attn_prefill", "attn_decode",
                                        "layer_prefill", "layer_decode"};
    return names[w];
}

double probe_coll_bus_factor(ProbeCollOp op, int ranks)
{
    double n = ranks;
    switch (op) {
    case PROBE_COLL_ALL_REDUCE:
        return 2.0 * (n - 1) / n;
    case PROBE_COLL_ALL_GATHER:
    case PROBE_COLL_REDUCE_SCATTER:
    case PROBE_COLL_ALL_TO_ALL:
        return (n - 1) / n;
    case PROBE_COLL_SEND_RECV:
        return 1.0;
    }
    return 1.0;
}

/* -------------------------------------------------------- arithmetic -- */

double probe_ew_bytes(const ProbeEwPoint *p)
{
    double tw = (double)p->tokens * p->width;
    switch (p->op) {
    case PROBE_EW_RMSNORM:
        return (2.0 * tw + p->width) * 2.0;
    case PROBE_EW_ROPE:
    case PROBE_EW_KV_STORE:
        return 2.0 * tw * 2.0;
    case PROBE_EW_SILU_MUL:
    case PROBE_EW_ADD:
        return 3.0 * tw * 2.0;
    }
    return 0;
}

double probe_gemm_bytes(const ProbeGemmPoint *p)
{
    double in = p->dtype == PROBE_DT_FP8 ? 1.0 : 2.0;
    return ((double)p->m * p->k + (double)p->n * p->k) * in + (double)p->m * p->n * 2.0;
}

double probe_gemm_roofline_s(const ProbeGemmPoint *p, const ProbeTarget *t)
{
    double peak =
        p->dtype == PROBE_DT_FP8 && t->peak_fp8_flops > 0 ? t->peak_fp8_flops : t->peak_bf16_flops;
    double flops = 2.0 * p->m * p->n * p->k;
    return MAX(flops / (0.7 * peak), probe_gemm_bytes(p) / (0.8 * t->peak_mem_bw)) + 5e-6;
}

static double prefill_pairs(const ProbePrefillPoint *p)
{
    return (double)p->chunk * p->context + (double)p->chunk * (p->chunk + 1) / 2.0;
}

double probe_prefill_flops(const ProbePrefillPoint *p)
{
    return 4.0 * p->head_dim * p->heads * prefill_pairs(p);
}

double probe_prefill_bytes(const ProbePrefillPoint *p)
{
    double kv = 2.0 * (double)(p->context + p->chunk) * p->kv_heads * p->head_dim * 2.0;
    return kv + 2.0 * (double)p->chunk * p->heads * p->head_dim * 2.0;
}

double probe_decode_flops(const ProbeDecodePoint *p)
{
    return 4.0 * p->head_dim * p->heads * (double)p->batch * p->context;
}

double probe_decode_bytes(const ProbeDecodePoint *p)
{
    double kv = 2.0 * (double)p->batch * p->context * p->kv_heads * p->head_dim * 2.0;
    return kv + 2.0 * (double)p->batch * p->heads * p->head_dim * 2.0;
}

/* -------------------------------------------------------------- grids -- */

static const int64_t gemm_grid_m_full[] = {1,   2,   4,    8,    16,   32,   64,   128,
                                           256, 512, 1024, 2048, 4096, 8192, 16384};
static const int64_t gemm_grid_m_quick[] = {1, 16, 128, 1024, 4096};
static const int64_t gemm_grid_nk_full[] = {1024, 2048, 4096, 8192, 16384};
static const int64_t gemm_grid_nk_quick[] = {1024, 4096, 16384};
static const int64_t gemm_model_m_full[] = {1,    2,    4,    8,    16,   32,   48,    64,
                                            96,   128,  192,  256,  384,  512,  768,   1024,
                                            1536, 2048, 3072, 4096, 6144, 8192, 12288, 16384};
static const int64_t gemm_model_m_quick[] = {1, 8, 32, 128, 512, 2048, 8192};
static const char *const quick_models[] = {"llama-3-8b", "llama-3-70b", NULL};

typedef struct {
    int heads, kv_heads, head_dim;
} HeadCfg;
/* Per-device head layouts of the shipped models: Llama 3 8B at TP 1 (32/8),
 * Llama 3 70B at TP 1 (64/8) and TP 8 (8/1), gpt-oss (64/8 of width 64). */
static const HeadCfg attn_heads_full[] = {{32, 8, 128}, {64, 8, 128}, {8, 1, 128}, {64, 8, 64}};
static const HeadCfg attn_heads_quick[] = {{32, 8, 128}};
static const int prefill_chunk_full[] = {64, 128, 256, 512, 1024, 2048, 4096, 8192};
static const int prefill_chunk_quick[] = {128, 512, 2048};
static const int prefill_ctx_full[] = {0, 512, 1024, 2048, 4096, 8192, 16384, 32768};
static const int prefill_ctx_quick[] = {0, 2048, 8192};
static const int decode_batch_full[] = {1, 2, 4, 8, 16, 32, 64, 128, 256};
static const int decode_batch_quick[] = {1, 16, 64, 256};
static const int decode_ctx_full[] = {128, 512, 1024, 2048, 4096, 8192, 16384, 32768};
static const int decode_ctx_quick[] = {512, 2048, 8192};

static const int64_t ew_tokens_full[] = {1, 4, 16, 64, 256, 1024, 4096, 16384};
static const int64_t ew_tokens_quick[] = {1, 256, 4096};
static const int ew_norm_full[] = {2880, 4096, 5120, 8192, 16384};
static const int ew_norm_quick[] = {4096, 8192};
static const int ew_act_full[] = {1792, 3584, 7168, 14336, 28672};
static const int ew_act_quick[] = {3584, 14336};
static const int ew_add_full[] = {4096, 8192, 16384};
static const int ew_add_quick[] = {4096};
/* kv_store: (KV heads, head_dim) on one device. */
static const int ew_kv_full[][2] = {{8, 128}, {1, 128}, {8, 64}};
static const int ew_kv_quick[][2] = {{8, 128}};

static const int64_t mem_d2d_full[] = {1 * MIB,   4 * MIB, 16 * MIB, 64 * MIB,
                                       256 * MIB, 1 * GIB, 4 * GIB};
static const int64_t mem_d2d_quick[] = {16 * MIB, 256 * MIB, 1 * GIB};
static const int64_t mem_host_full[] = {64 * KIB, 1 * MIB, 16 * MIB, 256 * MIB, 1 * GIB};
static const int64_t mem_host_quick[] = {1 * MIB, 64 * MIB, 256 * MIB};

static const char *const layer_models_full[][2] = {
    {"llama-3-8b", "1"}, {"llama-3-70b", "4"}, {"llama-3-70b", "8"}, {"qwen3-32b", "2"}};
static const char *const layer_batches_full[] = {
    "prefill=2048x1", "prefill=512x1@3584", "decode=1@2048",
    "decode=64@2048", "decode=256@1024",    "prefill=512x1,decode=128@2048"};
static const char *const layer_models_quick[][2] = {{"llama-3-8b", "1"}, {"llama-3-70b", "8"}};
static const char *const layer_batches_quick[] = {"prefill=2048x1", "decode=64@2048"};

#define PICK(o, full_, quick_)   ((o)->quick ? (quick_) : (full_))
#define PICK_N(o, full_, quick_) ((o)->quick ? G_N_ELEMENTS(quick_) : G_N_ELEMENTS(full_))

static void note(ProbePlan *p, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static void note(ProbePlan *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_ptr_array_add(p->notes, g_strdup_vprintf(fmt, ap));
    va_end(ap);
}

static gint cmp_gemm(gconstpointer a, gconstpointer b)
{
    const ProbeGemmPoint *x = a, *y = b;
    if (x->dtype != y->dtype)
        return x->dtype < y->dtype ? -1 : 1;
    if (x->n != y->n)
        return x->n < y->n ? -1 : 1;
    if (x->k != y->k)
        return x->k < y->k ? -1 : 1;
    if (x->m != y->m)
        return x->m < y->m ? -1 : 1;
    return 0;
}

static gint cmp_str(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The shape files to read: --models, else the quick pair, else every file. */
static char **shape_files(const ProbeOptions *o, const char *dir, GError **error)
{
    g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    if (d == NULL) {
        g_set_error(error, PROBE_ERROR, PROBE_ERROR_INPUT, "--shapes: cannot open folder %s", dir);
        return NULL;
    }
    const char *e;
    while ((e = g_dir_read_name(d)) != NULL)
        if (g_str_has_suffix(e, ".csv"))
            g_ptr_array_add(names, g_strndup(e, strlen(e) - 4));
    g_ptr_array_sort(names, cmp_str);
    g_ptr_array_add(names, NULL);
    const char *const *avail = (const char *const *)names->pdata;
    const char *const *want =
        o->models ? (const char *const *)o->models : (o->quick ? quick_models : NULL);
    if (want == NULL)
        return g_strdupv((char **)avail);
    for (int i = 0; want[i] != NULL; i++)
        if (!g_strv_contains(avail, want[i])) {
            const char *near = sv_nearest(want[i], avail);
            g_set_error(error, PROBE_ERROR, PROBE_ERROR_ARGS,
                        "--models: no shape file %s/%s.csv%s%s%s", dir, want[i],
                        near ? " (did you mean '" : "", near ? near : "", near ? "'?)" : "");
            return NULL;
        }
    return g_strdupv((char **)want);
}

static void free_lists(GPtrArray *lists)
{
    for (guint i = 0; i < lists->len; i++)
        g_string_free(g_ptr_array_index(lists, i), TRUE);
    g_ptr_array_free(lists, TRUE);
}

static gboolean plan_gemm(ProbePlan *p, const ProbeOptions *o, const ProbeTarget *t, GError **error)
{
    g_autofree char *dir = o->shapes_dir ? g_strdup(o->shapes_dir)
                                         : g_build_filename(SV_SOURCE_DIR, "probe", "shapes", NULL);
    g_auto(GStrv) files = shape_files(o, dir, error);
    if (files == NULL)
        return FALSE;
    /* Distinct (n, k) over every model and TP degree, each with the list of
     * models that have it (index into model_lists, kept by the map). */
    g_autoptr(GHashTable) seen = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
    g_autoptr(GArray) nk = g_array_new(FALSE, FALSE, sizeof(int64_t) * 3);
    GPtrArray *lists = g_ptr_array_new(); /* GString * */
    for (int i = 0; files[i] != NULL; i++) {
        g_autofree char *path = g_strdup_printf("%s/%s.csv", dir, files[i]);
        g_autoptr(GArray) shapes = probe_shapes_read(path, error);
        if (shapes == NULL) {
            free_lists(lists);
            return FALSE;
        }
        p->model_files++;
        for (guint j = 0; j < shapes->len; j++) {
            const ProbeShape *s = &g_array_index(shapes, ProbeShape, j);
            if (s->n >= (1LL << 31) || s->k >= (1LL << 31)) {
                g_set_error(error, PROBE_ERROR, PROBE_ERROR_INPUT,
                            "%s: shape %s n=%" G_GINT64_FORMAT " k=%" G_GINT64_FORMAT
                            " is too large",
                            path, s->op, (gint64)s->n, (gint64)s->k);
                free_lists(lists);
                return FALSE;
            }
            gint64 key = (s->n << 31) | s->k;
            gpointer idx = g_hash_table_lookup(seen, &key);
            if (idx != NULL) {
                GString *list = g_ptr_array_index(lists, GPOINTER_TO_INT(idx) - 1);
                g_autofree char *needle = g_strdup_printf(";%s;", s->model);
                g_autofree char *hay = g_strdup_printf(";%s;", list->str);
                if (strstr(hay, needle) == NULL)
                    g_string_append_printf(list, ";%s", s->model);
                continue;
            }
            g_ptr_array_add(lists, g_string_new(s->model));
            g_hash_table_insert(seen, g_memdup2(&key, sizeof key),
                                GINT_TO_POINTER((int)lists->len));
            int64_t triple[3] = {s->n, s->k, (int64_t)lists->len - 1};
            g_array_append_val(nk, triple);
        }
    }
    p->model_shapes = (int)nk->len;
    for (guint i = 0; i < lists->len; i++)
        g_ptr_array_add(p->model_lists, g_string_free(g_ptr_array_index(lists, i), FALSE));
    g_ptr_array_free(lists, TRUE);
    int ndt = t->sm >= 89 ? 2 : 1;
    if (ndt == 1)
        note(p, "gemm: fp8 skipped: sm_%d has no fp8 tensor cores (needs sm_89 or later)", t->sm);
    size_t ngm = PICK_N(o, gemm_grid_m_full, gemm_grid_m_quick);
    size_t ngnk = PICK_N(o, gemm_grid_nk_full, gemm_grid_nk_quick);
    size_t nmm = PICK_N(o, gemm_model_m_full, gemm_model_m_quick);
    const int64_t *gm = PICK(o, gemm_grid_m_full, gemm_grid_m_quick);
    const int64_t *gnk = PICK(o, gemm_grid_nk_full, gemm_grid_nk_quick);
    const int64_t *mm = PICK(o, gemm_model_m_full, gemm_model_m_quick);
    int64_t too_big = 0;
    for (int dt = 0; dt < ndt; dt++) {
        g_autoptr(GHashTable) have = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        /* Base grid and model shapes may coincide: one point, both flags. */
        GArray *pts = g_array_new(FALSE, TRUE, sizeof(ProbeGemmPoint));
        for (size_t a = 0; a < ngm; a++)
            for (size_t b = 0; b < ngnk; b++)
                for (size_t c = 0; c < ngnk; c++) {
                    ProbeGemmPoint g = {dt, gm[a], gnk[b], gnk[c], TRUE, FALSE, -1};
                    g_array_append_val(pts, g);
                }
        for (guint s = 0; s < nk->len; s++) {
            const int64_t *tr = &g_array_index(nk, int64_t, 3 * s);
            for (size_t a = 0; a < nmm; a++) {
                ProbeGemmPoint g = {dt, mm[a], tr[0], tr[1], FALSE, TRUE, (int)tr[2]};
                g_array_append_val(pts, g);
            }
        }
        for (guint i = 0; i < pts->len; i++) {
            ProbeGemmPoint *g = &g_array_index(pts, ProbeGemmPoint, i);
            if (probe_gemm_bytes(g) > 0.4 * t->mem_bytes) {
                too_big++;
                continue;
            }
            char key[96];
            g_snprintf(key, sizeof key,
                       "%" G_GINT64_FORMAT "/%" G_GINT64_FORMAT "/%" G_GINT64_FORMAT, (gint64)g->m,
                       (gint64)g->n, (gint64)g->k);
            ProbeGemmPoint *prev = g_hash_table_lookup(have, key);
            if (prev != NULL) {
                /* Stored as an index + 1: GArray may move. */
                ProbeGemmPoint *q =
                    &g_array_index(p->gemm, ProbeGemmPoint, GPOINTER_TO_UINT(prev) - 1);
                q->grid |= g->grid;
                q->model |= g->model;
                if (g->models >= 0)
                    q->models = g->models;
                continue;
            }
            g_array_append_val(p->gemm, *g);
            g_hash_table_insert(have, g_strdup(key), GUINT_TO_POINTER(p->gemm->len));
        }
        g_array_free(pts, TRUE);
    }
    if (too_big > 0)
        note(p, "gemm: %" G_GINT64_FORMAT " points skipped: operands exceed 40%% of device memory",
             (gint64)too_big);
    g_array_sort(p->gemm, cmp_gemm);
    return TRUE;
}

static void plan_attention(ProbePlan *p, const ProbeOptions *o, const ProbeTarget *t)
{
    size_t nh = PICK_N(o, attn_heads_full, attn_heads_quick);
    const HeadCfg *hc = PICK(o, attn_heads_full, attn_heads_quick);
    size_t nc = PICK_N(o, prefill_chunk_full, prefill_chunk_quick);
    const int *ch = PICK(o, prefill_chunk_full, prefill_chunk_quick);
    size_t nx = PICK_N(o, prefill_ctx_full, prefill_ctx_quick);
    const int *cx = PICK(o, prefill_ctx_full, prefill_ctx_quick);
    for (size_t h = 0; h < nh; h++)
        for (size_t c = 0; c < nc; c++)
            for (size_t x = 0; x < nx; x++) {
                ProbePrefillPoint pp = {ch[c], cx[x], hc[h].heads, hc[h].kv_heads, hc[h].head_dim};
                if (probe_prefill_bytes(&pp) > 0.3 * t->mem_bytes)
                    continue;
                g_array_append_val(p->prefill, pp);
            }
    size_t nb = PICK_N(o, decode_batch_full, decode_batch_quick);
    const int *bt = PICK(o, decode_batch_full, decode_batch_quick);
    size_t nd = PICK_N(o, decode_ctx_full, decode_ctx_quick);
    const int *dc = PICK(o, decode_ctx_full, decode_ctx_quick);
    int64_t too_big = 0;
    for (int bsi = 0; bsi < o->n_block_sizes; bsi++)
        for (size_t h = 0; h < nh; h++)
            for (size_t b = 0; b < nb; b++)
                for (size_t x = 0; x < nd; x++) {
                    ProbeDecodePoint dp = {bt[b],          dc[x],          hc[h].heads,
                                           hc[h].kv_heads, hc[h].head_dim, o->block_sizes[bsi]};
                    if (probe_decode_bytes(&dp) > 0.4 * t->mem_bytes) {
                        too_big++;
                        continue;
                    }
                    g_array_append_val(p->decode, dp);
                }
    if (too_big > 0)
        note(p,
             "attention: %" G_GINT64_FORMAT
             " decode points skipped: KV cache exceeds 40%% of device memory",
             (gint64)too_big);
}

static void plan_ew(ProbePlan *p, const ProbeOptions *o)
{
    size_t nt = PICK_N(o, ew_tokens_full, ew_tokens_quick);
    const int64_t *tk = PICK(o, ew_tokens_full, ew_tokens_quick);
    size_t nn = PICK_N(o, ew_norm_full, ew_norm_quick);
    const int *nw = PICK(o, ew_norm_full, ew_norm_quick);
    size_t na = PICK_N(o, ew_act_full, ew_act_quick);
    const int *aw = PICK(o, ew_act_full, ew_act_quick);
    size_t nd = PICK_N(o, ew_add_full, ew_add_quick);
    const int *dw = PICK(o, ew_add_full, ew_add_quick);
    size_t nh = PICK_N(o, attn_heads_full, attn_heads_quick);
    const HeadCfg *hc = PICK(o, attn_heads_full, attn_heads_quick);
    for (size_t t = 0; t < nt; t++) {
        for (size_t i = 0; i < nn; i++) {
            ProbeEwPoint e = {PROBE_EW_RMSNORM, tk[t], nw[i], 0, 0, 0};
            g_array_append_val(p->ew, e);
        }
        for (size_t i = 0; i < nh; i++) {
            ProbeEwPoint e = {
                PROBE_EW_ROPE, tk[t],          (hc[i].heads + hc[i].kv_heads) * hc[i].head_dim,
                hc[i].heads,   hc[i].kv_heads, hc[i].head_dim};
            g_array_append_val(p->ew, e);
        }
        for (size_t i = 0; i < na; i++) {
            ProbeEwPoint e = {PROBE_EW_SILU_MUL, tk[t], aw[i], 0, 0, 0};
            g_array_append_val(p->ew, e);
        }
        for (size_t i = 0; i < nd; i++) {
            ProbeEwPoint e = {PROBE_EW_ADD, tk[t], dw[i], 0, 0, 0};
            g_array_append_val(p->ew, e);
        }
        size_t nkv = o->quick ? G_N_ELEMENTS(ew_kv_quick) : G_N_ELEMENTS(ew_kv_full);
        for (size_t i = 0; i < nkv; i++) {
            const int *kv = o->quick ? ew_kv_quick[i] : ew_kv_full[i];
            ProbeEwPoint e = {PROBE_EW_KV_STORE, tk[t], 2 * kv[0] * kv[1], 0, kv[0], kv[1]};
            g_array_append_val(p->ew, e);
        }
    }
}

static void plan_mem(ProbePlan *p, const ProbeOptions *o, const ProbeTarget *t)
{
    size_t nd = PICK_N(o, mem_d2d_full, mem_d2d_quick);
    const int64_t *dd = PICK(o, mem_d2d_full, mem_d2d_quick);
    size_t nh = PICK_N(o, mem_host_full, mem_host_quick);
    const int64_t *hh = PICK(o, mem_host_full, mem_host_quick);
    for (size_t i = 0; i < nd; i++) {
        if (2.0 * dd[i] > 0.5 * t->mem_bytes)
            continue;
        ProbeMemPoint m = {PROBE_MEM_D2D, dd[i]};
        g_array_append_val(p->mem, m);
    }
    for (int kind = PROBE_MEM_H2D; kind <= PROBE_MEM_D2H; kind++)
        for (size_t i = 0; i < nh; i++) {
            ProbeMemPoint m = {kind, hh[i]};
            g_array_append_val(p->mem, m);
        }
}

static void plan_coll(ProbePlan *p, const ProbeOptions *o, const ProbeTarget *t)
{
    if (!t->has_nccl) {
        note(p, "collectives: skipped: probe was built without NCCL");
        return;
    }
    if (t->gpus < 2) {
        note(p, "collectives: skipped: %d GPU visible, need at least 2", t->gpus);
        return;
    }
    for (int ranks = 2; ranks <= t->gpus; ranks *= 2)
        for (int op = PROBE_COLL_ALL_REDUCE; op <= PROBE_COLL_SEND_RECV; op++) {
            if (op == PROBE_COLL_SEND_RECV && ranks != 2)
                continue; /* point to point: one pair */
            int64_t lo = o->quick ? 4 * KIB : 1 * KIB;
            int64_t hi = o->quick ? 256 * MIB : 1 * GIB;
            int64_t step = o->quick ? 64 : 4;
            for (int64_t b = lo; b <= hi; b *= step) {
                ProbeCollPoint c = {op, ranks, b};
                g_array_append_val(p->coll, c);
            }
        }
}

/* Check that a whole-layer point can run and fill it in. */
static gboolean layer_point(const char *model, int tp, const char *spec, ProbeLayerPoint *out,
                            GError **error)
{
    memset(out, 0, sizeof *out);
    g_autoptr(GError) local = NULL;
    g_autoptr(SvModel) m = sv_model_load(model, &local);
    if (m == NULL) {
        g_set_error(error, PROBE_ERROR, PROBE_ERROR_INPUT, "--layer: %s", local->message);
        return FALSE;
    }
    if (m->num_experts > 0 || m->kv_lora_rank > 0) {
        g_set_error(error, PROBE_ERROR, PROBE_ERROR_INPUT,
                    "--layer %s: %s layers are not implemented yet (dense GQA/MHA models only)",
                    model, m->num_experts > 0 ? "MoE" : "MLA");
        return FALSE;
    }
    if (!probe_shapes_tp_ok(m, tp)) {
        g_set_error(error, PROBE_ERROR, PROBE_ERROR_INPUT,
                    "--layer %s: tensor-parallel degree %d does not divide its %d heads / %d KV "
                    "heads / %d MLP width",
                    model, tp, m->num_heads, m->num_kv_heads, m->intermediate_size);
        return FALSE;
    }
    if (!m->gated_mlp || m->norm != SV_NORM_RMS) {
        g_set_error(error, PROBE_ERROR, PROBE_ERROR_INPUT,
                    "--layer %s: %s layers are not implemented yet (gated MLP and RMSNorm only)",
                    model, !m->gated_mlp ? "non-gated MLP" : "LayerNorm");
        return FALSE;
    }
    if (m->head_dim != 64 && m->head_dim != 128) {
        g_set_error(error, PROBE_ERROR, PROBE_ERROR_INPUT,
                    "--layer %s: head_dim %d is not implemented yet (the attention kernels "
                    "take 64 or 128)",
                    model, m->head_dim);
        return FALSE;
    }
    if (strlen(model) >= sizeof out->model || strlen(spec) >= sizeof out->spec) {
        g_set_error(error, PROBE_ERROR, PROBE_ERROR_INPUT, "--layer: name or batch too long");
        return FALSE;
    }
    if (!probe_batch_parse(spec, &out->batch, &local)) {
        g_set_error(error, PROBE_ERROR, PROBE_ERROR_INPUT, "--layer %s: %s", model, local->message);
        return FALSE;
    }
    if (out->batch.tokens > 65536 || out->batch.prefill_chunks > 256 ||
        out->batch.decode_seqs > 4096) {
        g_set_error(error, PROBE_ERROR, PROBE_ERROR_INPUT,
                    "--layer %s: batch '%s' is too large for one layer on one GPU (at most 65536 "
                    "tokens, 256 prefill chunks, 4096 decode sequences)",
                    model, spec);
        return FALSE;
    }
    int group = (m->num_heads / tp) / (m->num_kv_heads >= tp ? m->num_kv_heads / tp : 1);
    if (group > 16) {
        g_set_error(error, PROBE_ERROR, PROBE_ERROR_INPUT,
                    "--layer %s: %d query heads per KV head at TP %d is not implemented yet (the "
                    "decode kernel takes up to 16)",
                    model, group, tp);
        return FALSE;
    }
    g_strlcpy(out->model, model, sizeof out->model);
    g_strlcpy(out->spec, spec, sizeof out->spec);
    out->tp = tp;
    return TRUE;
}

static gboolean plan_layers(ProbePlan *p, const ProbeOptions *o, GError **error)
{
    ProbeLayerPoint lp;
    if (o->layers != NULL && o->layers->len > 0) {
        for (guint i = 0; i < o->layers->len; i++) {
            g_auto(GStrv) parts = g_strsplit(g_ptr_array_index(o->layers, i), ":", 3);
            if (!layer_point(parts[0], atoi(parts[1]), parts[2], &lp, error))
                return FALSE;
            g_array_append_val(p->layer, lp);
        }
        return TRUE;
    }
    size_t nm = o->quick ? G_N_ELEMENTS(layer_models_quick) : G_N_ELEMENTS(layer_models_full);
    size_t nb = PICK_N(o, layer_batches_full, layer_batches_quick);
    const char *const *bs = PICK(o, layer_batches_full, layer_batches_quick);
    for (size_t i = 0; i < nm; i++) {
        const char *const *mt = o->quick ? layer_models_quick[i] : layer_models_full[i];
        for (size_t b = 0; b < nb; b++) {
            if (!layer_point(mt[0], atoi(mt[1]), bs[b], &lp, error))
                return FALSE;
            g_array_append_val(p->layer, lp);
        }
    }
    return TRUE;
}

static void plan_power(ProbePlan *p, const ProbeTarget *t)
{
    for (int w = PROBE_POWER_IDLE; w <= PROBE_POWER_LAYER_DECODE; w++) {
        if (w == PROBE_POWER_GEMM_FP8 && t->sm < 89)
            continue;
        ProbePowerWorkload pw = w;
        g_array_append_val(p->power, pw);
    }
}

ProbePlan *probe_plan_new(const ProbeOptions *o, const ProbeTarget *t, GError **error)
{
    g_autoptr(ProbePlan) p = g_new0(ProbePlan, 1);
    p->gemm = g_array_new(FALSE, TRUE, sizeof(ProbeGemmPoint));
    p->prefill = g_array_new(FALSE, TRUE, sizeof(ProbePrefillPoint));
    p->decode = g_array_new(FALSE, TRUE, sizeof(ProbeDecodePoint));
    p->ew = g_array_new(FALSE, TRUE, sizeof(ProbeEwPoint));
    p->mem = g_array_new(FALSE, TRUE, sizeof(ProbeMemPoint));
    p->coll = g_array_new(FALSE, TRUE, sizeof(ProbeCollPoint));
    p->layer = g_array_new(FALSE, TRUE, sizeof(ProbeLayerPoint));
    p->power = g_array_new(FALSE, TRUE, sizeof(ProbePowerWorkload));
    p->notes = g_ptr_array_new_with_free_func(g_free);
    p->model_lists = g_ptr_array_new_with_free_func(g_free);
    if (probe_options_wants(o, PROBE_BENCH_GEMM) && !plan_gemm(p, o, t, error))
        return NULL;
    if (probe_options_wants(o, PROBE_BENCH_ATTENTION))
        plan_attention(p, o, t);
    if (probe_options_wants(o, PROBE_BENCH_ELEMENTWISE))
        plan_ew(p, o);
    if (probe_options_wants(o, PROBE_BENCH_MEMORY))
        plan_mem(p, o, t);
    if (probe_options_wants(o, PROBE_BENCH_COLLECTIVES))
        plan_coll(p, o, t);
    if (probe_options_wants(o, PROBE_BENCH_LAYER) && !plan_layers(p, o, error))
        return NULL;
    if (probe_options_wants(o, PROBE_BENCH_POWER))
        plan_power(p, t);
    return g_steal_pointer(&p);
}

void probe_plan_free(ProbePlan *p)
{
    if (p == NULL)
        return;
    GArray *arrays[] = {p->gemm, p->prefill, p->decode, p->ew, p->mem, p->coll, p->layer, p->power};
    for (size_t i = 0; i < G_N_ELEMENTS(arrays); i++)
        if (arrays[i] != NULL)
            g_array_free(arrays[i], TRUE);
    if (p->notes != NULL)
        g_ptr_array_free(p->notes, TRUE);
    if (p->model_lists != NULL)
        g_ptr_array_free(p->model_lists, TRUE);
    g_free(p);
}

int64_t probe_plan_points(const ProbePlan *p)
{
    return (int64_t)p->gemm->len + p->prefill->len + p->decode->len + p->ew->len + p->mem->len +
           p->coll->len + p->layer->len + p->power->len;
}

/* ----------------------------------------------------------- estimate -- */

/* Set-up (allocation, filling, graph capture) and warm-up of one point. */
#define POINT_OVERHEAD_S 0.015
/* A layer point times the whole layer and each of its ~12 ops. */
#define LAYER_TIMINGS 13
/* Power workloads settle for a moment before their hold starts. */
#define POWER_SETTLE_S 0.5

static double point_s(double min_time, double t_once)
{
    return POINT_OVERHEAD_S + 3 * t_once + MAX(min_time, 5 * t_once);
}

double probe_plan_estimate_s(const ProbePlan *p, const ProbeOptions *o, const ProbeTarget *t)
{
    double mt = probe_options_min_time_s(o), s = 0;
    for (guint i = 0; i < p->gemm->len; i++)
        s += point_s(mt, probe_gemm_roofline_s(&g_array_index(p->gemm, ProbeGemmPoint, i), t));
    /* Own attention kernels: assume 30 % of the tensor peak, 60 % of HBM. */
    for (guint i = 0; i < p->prefill->len; i++) {
        const ProbePrefillPoint *a = &g_array_index(p->prefill, ProbePrefillPoint, i);
        s += point_s(mt, MAX(probe_prefill_flops(a) / (0.3 * t->peak_bf16_flops),
                             probe_prefill_bytes(a) / (0.6 * t->peak_mem_bw)));
    }
    for (guint i = 0; i < p->decode->len; i++) {
        const ProbeDecodePoint *a = &g_array_index(p->decode, ProbeDecodePoint, i);
        s += point_s(mt, probe_decode_bytes(a) / (0.6 * t->peak_mem_bw));
    }
    for (guint i = 0; i < p->ew->len; i++)
        s += point_s(mt, probe_ew_bytes(&g_array_index(p->ew, ProbeEwPoint, i)) /
                             (0.6 * t->peak_mem_bw));
    for (guint i = 0; i < p->mem->len; i++) {
        const ProbeMemPoint *m = &g_array_index(p->mem, ProbeMemPoint, i);
        gboolean device = m->kind == PROBE_MEM_D2D || m->kind == PROBE_MEM_D2D_KERNEL;
        double bw = device ? 0.4 * t->peak_mem_bw : 0.7 * t->host_bw;
        /* Pinned host buffers are allocated (and touched) per point. */
        double alloc = device ? 0 : (double)m->bytes / 4e9;
        s += alloc + point_s(mt, (double)m->bytes / bw);
    }
    for (guint i = 0; i < p->coll->len; i++) {
        const ProbeCollPoint *c = &g_array_index(p->coll, ProbeCollPoint, i);
        s += point_s(mt, 20e-6 + (double)c->bytes / 100e9);
    }
    s += p->layer->len * (0.2 + LAYER_TIMINGS * point_s(mt, 2e-3));
    for (guint i = 0; i < p->power->len; i++) {
        ProbePowerWorkload w = g_array_index(p->power, ProbePowerWorkload, i);
        s += w == PROBE_POWER_IDLE ? o->idle_s + 1.0 : o->power_hold_s + POWER_SETTLE_S + 0.2;
    }
    return s;
}

/* ------------------------------------------------------------- print -- */

void probe_plan_print(FILE *f, const ProbePlan *p, const ProbeOptions *o, const ProbeTarget *t)
{
    fprintf(f, "# probe %s plan for %s: %d GPU(s), %.0f GB%s\n", o->quick ? "--quick" : "full",
            t->name, t->gpus, t->mem_bytes / 1e9,
            t->assumed ? " (assumed: --assume-sm, --assume-gpus, --assume-mem-gb)" : "");
    fprintf(f, "# gemm: %u points (%d model shapes from %d shape files + base grid)\n",
            p->gemm->len, p->model_shapes, p->model_files);
    for (guint i = 0; i < p->gemm->len; i++) {
        const ProbeGemmPoint *g = &g_array_index(p->gemm, ProbeGemmPoint, i);
        fprintf(f,
                "gemm %s m=%" G_GINT64_FORMAT " n=%" G_GINT64_FORMAT " k=%" G_GINT64_FORMAT " %s\n",
                probe_gemm_dtype_name(g->dtype), (gint64)g->m, (gint64)g->n, (gint64)g->k,
                g->grid && g->model ? "grid+model" : (g->grid ? "grid" : "model"));
    }
    fprintf(f, "# attention: %u prefill + %u decode points\n", p->prefill->len, p->decode->len);
    for (guint i = 0; i < p->prefill->len; i++) {
        const ProbePrefillPoint *a = &g_array_index(p->prefill, ProbePrefillPoint, i);
        fprintf(f, "attention prefill chunk=%d context=%d heads=%d kv_heads=%d head_dim=%d\n",
                a->chunk, a->context, a->heads, a->kv_heads, a->head_dim);
    }
    for (guint i = 0; i < p->decode->len; i++) {
        const ProbeDecodePoint *a = &g_array_index(p->decode, ProbeDecodePoint, i);
        fprintf(f,
                "attention decode batch=%d context=%d heads=%d kv_heads=%d head_dim=%d "
                "block_size=%d\n",
                a->batch, a->context, a->heads, a->kv_heads, a->head_dim, a->block_size);
    }
    fprintf(f, "# elementwise: %u points\n", p->ew->len);
    for (guint i = 0; i < p->ew->len; i++) {
        const ProbeEwPoint *e = &g_array_index(p->ew, ProbeEwPoint, i);
        fprintf(f, "elementwise %s tokens=%" G_GINT64_FORMAT " width=%d", probe_ew_name(e->op),
                (gint64)e->tokens, e->width);
        if (e->op == PROBE_EW_ROPE)
            fprintf(f, " heads=%d kv_heads=%d head_dim=%d", e->heads, e->kv_heads, e->head_dim);
        if (e->op == PROBE_EW_KV_STORE)
            fprintf(f, " kv_heads=%d head_dim=%d", e->kv_heads, e->head_dim);
        fputc('\n', f);
    }
    fprintf(f, "# memory: %u points\n", p->mem->len);
    for (guint i = 0; i < p->mem->len; i++) {
        const ProbeMemPoint *m = &g_array_index(p->mem, ProbeMemPoint, i);
        fprintf(f, "memory %s bytes=%" G_GINT64_FORMAT "\n", probe_mem_name(m->kind),
                (gint64)m->bytes);
    }
    fprintf(f, "# collectives: %u points\n", p->coll->len);
    for (guint i = 0; i < p->coll->len; i++) {
        const ProbeCollPoint *c = &g_array_index(p->coll, ProbeCollPoint, i);
        fprintf(f, "collectives %s ranks=%d bytes=%" G_GINT64_FORMAT "\n", probe_coll_name(c->op),
                c->ranks, (gint64)c->bytes);
    }
    fprintf(f, "# layer: %u points\n", p->layer->len);
    for (guint i = 0; i < p->layer->len; i++) {
        const ProbeLayerPoint *l = &g_array_index(p->layer, ProbeLayerPoint, i);
        fprintf(f, "layer %s tp=%d batch=%s\n", l->model, l->tp, l->spec);
    }
    fprintf(f, "# power: %u workloads (idle %.1f s, each other held %.1f s)\n", p->power->len,
            o->idle_s, o->power_hold_s);
    for (guint i = 0; i < p->power->len; i++)
        fprintf(f, "power %s\n", probe_power_name(g_array_index(p->power, ProbePowerWorkload, i)));
    for (guint i = 0; i < p->notes->len; i++)
        fprintf(f, "# note: %s\n", (const char *)g_ptr_array_index(p->notes, i));
    double est = probe_plan_estimate_s(p, o, t);
    fprintf(f,
            "# total: %" G_GINT64_FORMAT
            " points, estimated %.1f min (%.0f s) at %.3g s per point minimum\n",
            (gint64)probe_plan_points(p), est / 60, est, probe_options_min_time_s(o));
}
