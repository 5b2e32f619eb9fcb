/* Whole-layer benchmark: one transformer layer of a dense model's TP shard
 * (what one GPU of a TP group runs, minus the all-reduces, which
 * collectives.csv measures) for a batch in servesim's --batch syntax, timed
 * as a whole and op by op with the predictor's op names, so that
 * `servesim predict` can be checked op by op and in sum.
 * Batch layout: the prefill chunks' tokens first, then one token per decode
 * sequence. Every sequence has paged KV-cache blocks (block size 16); new
 * K/V go there (kv_store). The paged decode kernel reads the cache; the
 * prefill kernel reads each chunk's context + chunk from a contiguous K/V
 * buffer of the same size (the same bytes, a simpler layout than vLLM's
 * paged prefill). */
#include "bench.h"
#include "cpuref.h"
#include "gemm.h"
#include "hostdev.h"
#include "kernels.h"

#include "model/model.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define BLOCK_SIZE 16
#define ROPE_THETA 500000.0
#define NORM_EPS   1e-5f

typedef enum {
    OP_RMSNORM,
    OP_QKV,
    OP_ROPE,
    OP_KV_STORE,
    OP_ATTN_PREFILL,
    OP_ATTN_DECODE,
    OP_O_PROJ,
    OP_ADD,
    OP_MLP_UP,
    OP_MLP_ACT,
    OP_MLP_DOWN,
    OP_COUNT
} LayerOp;

static const char *const op_names[OP_COUNT] = {
    "rmsnorm", "qkv_proj", "rope",   "kv_store", "attn_prefill", "attn_decode",
    "o_proj",  "add",      "mlp_up", "mlp_act",  "mlp_down",
};
/* Occurrences per layer (two norms and two residual adds). */
static const int op_count[OP_COUNT] = {2, 1, 1, 1, 1, 1, 1, 2, 1, 1, 1};

typedef struct {
    int heads, kv_heads, head_dim, hidden, inter; /* per device */
    gboolean qk_norm;
    int64_t T;        /* tokens in the batch = GEMM M */
    int nprefill;     /* prefill chunks */
    int ndecode;      /* decode sequences */
    int max_blocks;   /* block-table row length */
    int dec_max_len;  /* longest decode context */
    int *chunk, *ctx; /* per prefill chunk */
    int64_t *row0;    /* first token row of each chunk */
    /* Device memory. */
    void *x, *xn, *qkv, *attn, *o, *x2, *up, *act, *down;
    void *w_qkv, *w_o, *w_up, *w_down, *w_n1, *w_n2, *w_qk;
    void *k_cache, *v_cache, *table, *lens, *slots, *pos, *cs, *ws;
    void **pk, **pv; /* contiguous K/V of each prefill chunk */
    ProbeGemmOp *g_qkv, *g_o, *g_up, *g_down;
    int num_sms;
} Layer;

static void layer_free(Layer *L)
{
    if (L == NULL)
        return;
    void *bufs[] = {L->x,       L->xn,      L->qkv,   L->attn, L->o,      L->x2,   L->up,   L->act,
                    L->down,    L->w_qkv,   L->w_o,   L->w_up, L->w_down, L->w_n1, L->w_n2, L->w_qk,
                    L->k_cache, L->v_cache, L->table, L->lens, L->slots,  L->pos,  L->cs,   L->ws};
    for (size_t i = 0; i < G_N_ELEMENTS(bufs); i++)
        cudaFree(bufs[i]);
    for (int i = 0; i < L->nprefill; i++) {
        if (L->pk != NULL)
            cudaFree(L->pk[i]);
        if (L->pv != NULL)
            cudaFree(L->pv[i]);
    }
    g_free(L->pk);
    g_free(L->pv);
    g_free(L->chunk);
    g_free(L->ctx);
    g_free(L->row0);
    probe_gemm_op_free(L->g_qkv);
    probe_gemm_op_free(L->g_o);
    probe_gemm_op_free(L->g_up);
    probe_gemm_op_free(L->g_down);
    g_free(L);
}

static gboolean run_op(Layer *L, LayerOp op, int occurrence, cudaStream_t s, GError **error)
{
    int64_t qkv_w = (int64_t)(L->heads + 2 * L->kv_heads) * L->head_dim;
    int64_t q_w = (int64_t)L->heads * L->head_dim;
    cudaError_t e = cudaSuccess;
    switch (op) {
    case OP_RMSNORM:
        /* Before attention on x, before the MLP on x2. */
        e = probe_k_rmsnorm(occurrence ? L->x2 : L->x, occurrence ? L->w_n2 : L->w_n1, L->xn, L->T,
                            L->hidden, 1, L->hidden, NORM_EPS, s);
        break;
    case OP_QKV:
        return probe_gemm_op_run(L->g_qkv, L->w_qkv, L->xn, L->qkv, s, error);
    case OP_ROPE:
        if (L->qk_norm) /* Qwen3's per-head q/k norm: the predictor folds it into rope */
            e = probe_k_rmsnorm(L->qkv, L->w_qk, L->qkv, L->T * (L->heads + L->kv_heads),
                                L->head_dim, L->heads + L->kv_heads, qkv_w, NORM_EPS, s);
        if (e == cudaSuccess)
            e = probe_k_rope(L->qkv, L->T, qkv_w, L->heads + L->kv_heads, L->head_dim, L->pos,
                             L->cs, s);
        break;
    case OP_KV_STORE:
        e = probe_k_kv_store(L->qkv, qkv_w, q_w, q_w + (int64_t)L->kv_heads * L->head_dim,
                             L->k_cache, L->v_cache, L->slots, L->T, L->kv_heads, L->head_dim, s);
        break;
    case OP_ATTN_PREFILL:
        for (int i = 0; i < L->nprefill && e == cudaSuccess; i++) {
            ProbePrefillArgs a = {(uint16_t *)L->qkv + L->row0[i] * qkv_w,
                                  qkv_w,
                                  L->pk[i],
                                  L->pv[i],
                                  (int64_t)L->kv_heads * L->head_dim,
                                  (uint16_t *)L->attn + L->row0[i] * q_w,
                                  q_w,
                                  L->chunk[i],
                                  L->ctx[i],
                                  L->heads,
                                  L->kv_heads,
                                  L->head_dim};
            e = probe_k_prefill(&a, s);
        }
        break;
    case OP_ATTN_DECODE:
        if (L->ndecode > 0) {
            int64_t r0 = L->T - L->ndecode;
            ProbeDecodeArgs a = {(uint16_t *)L->qkv + r0 * qkv_w,
                                 qkv_w,
                                 L->k_cache,
                                 L->v_cache,
                                 (int32_t *)L->table + (int64_t)L->nprefill * L->max_blocks,
                                 L->max_blocks,
                                 (int32_t *)L->lens + L->nprefill,
                                 L->dec_max_len,
                                 (uint16_t *)L->attn + r0 * q_w,
                                 q_w,
                                 L->ndecode,
                                 L->heads,
                                 L->kv_heads,
                                 L->head_dim,
                                 BLOCK_SIZE,
                                 L->num_sms,
                                 L->ws};
            e = probe_k_decode(&a, s);
        }
        break;
    case OP_O_PROJ:
        return probe_gemm_op_run(L->g_o, L->w_o, L->attn, L->o, s, error);
    case OP_ADD:
        /* x2 = x + attention output; then x = x2 + MLP output. */
        e = occurrence ? probe_k_add(L->x2, L->down, L->x, L->T * L->hidden, s)
                       : probe_k_add(L->x, L->o, L->x2, L->T * L->hidden, s);
        break;
    case OP_MLP_UP:
        return probe_gemm_op_run(L->g_up, L->w_up, L->xn, L->up, s, error);
    case OP_MLP_ACT:
        e = probe_k_silu_mul(L->up, L->act, L->T, L->inter, s);
        break;
    case OP_MLP_DOWN:
        return probe_gemm_op_run(L->g_down, L->w_down, L->act, L->down, s, error);
    case OP_COUNT:
        break;
    }
    if (e != cudaSuccess) {
        g_set_error(error, PROBE_ERROR, PROBE_ERROR_CUDA, "layer %s: %s", op_names[op],
                    cudaGetErrorString(e));
        return FALSE;
    }
    return TRUE;
}

/* The layer in execution order. */
static const LayerOp sequence[] = {
    OP_RMSNORM, OP_QKV,     OP_ROPE,   OP_KV_STORE, OP_ATTN_PREFILL, OP_ATTN_DECODE, OP_O_PROJ,
    OP_ADD,     OP_RMSNORM, OP_MLP_UP, OP_MLP_ACT,  OP_MLP_DOWN,     OP_ADD};

static gboolean layer_launch(void *data, cudaStream_t s, int rep, GError **error)
{
    (void)rep;
    Layer *L = data;
    int seen[OP_COUNT] = {0};
    for (size_t i = 0; i < G_N_ELEMENTS(sequence); i++)
        if (!run_op(L, sequence[i], seen[sequence[i]]++, s, error))
            return FALSE;
    return TRUE;
}

typedef struct {
    Layer *L;
    LayerOp op;
} OpCtx;

static gboolean op_launch(void *data, cudaStream_t s, int rep, GError **error)
{
    (void)rep;
    OpCtx *c = data;
    return run_op(c->L, c->op, 0, s, error);
}

#define TRY(x)                                                                                     \
    do {                                                                                           \
        if (!(x)) {                                                                                \
            layer_free(L);                                                                         \
            return NULL;                                                                           \
        }                                                                                          \
    } while (0)

static Layer *layer_new(ProbeRun *run, const ProbeLayerPoint *pt, GError **error)
{
    g_autoptr(GError) local = NULL;
    g_autoptr(SvModel) m = sv_model_load(pt->model, &local);
    if (m == NULL) {
        g_set_error(error, PROBE_ERROR, PROBE_ERROR_INPUT, "layer: %s", local->message);
        return NULL;
    }
    Layer *L = g_new0(Layer, 1);
    cudaStream_t s = run->stream;
    int tp = pt->tp;
    L->heads = m->num_heads / tp;
    L->kv_heads = m->num_kv_heads >= tp ? m->num_kv_heads / tp : 1;
    L->head_dim = m->head_dim;
    L->hidden = m->hidden_size;
    L->inter = m->intermediate_size / tp;
    L->qk_norm = m->qk_norm;
    L->num_sms = run->dev.sm_count;
    const ProbeBatch *b = &pt->batch;
    L->T = b->tokens;
    L->nprefill = (int)b->prefill_chunks;
    L->ndecode = (int)b->decode_seqs;
    int nseq = L->nprefill + L->ndecode;
    L->chunk = g_new0(int, MAX(L->nprefill, 1));
    L->ctx = g_new0(int, MAX(L->nprefill, 1));
    L->row0 = g_new0(int64_t, MAX(L->nprefill, 1));
    g_autofree int32_t *lens = g_new0(int32_t, nseq);
    g_autofree int32_t *pos = g_new0(int32_t, L->T);
    int si = 0, max_pos = 1;
    int64_t row = 0;
    for (int ti = 0; ti < b->nterms; ti++) /* prefill chunks first */
        for (int64_t c = 0; b->terms[ti].prefill && c < b->terms[ti].count; c++) {
            L->chunk[si] = (int)b->terms[ti].tokens;
            L->ctx[si] = (int)b->terms[ti].context;
            L->row0[si] = row;
            lens[si] = L->ctx[si] + L->chunk[si];
            for (int i = 0; i < L->chunk[si]; i++)
                pos[row + i] = L->ctx[si] + i;
            row += L->chunk[si];
            max_pos = MAX(max_pos, lens[si]);
            si++;
        }
    for (int ti = 0; ti < b->nterms; ti++)
        for (int64_t c = 0; !b->terms[ti].prefill && c < b->terms[ti].count; c++) {
            /* The new token is the last of its context (stored, then read). */
            lens[si] = (int)MAX(b->terms[ti].context, 1);
            pos[row++] = lens[si] - 1;
            L->dec_max_len = MAX(L->dec_max_len, lens[si]);
            max_pos = MAX(max_pos, lens[si]);
            si++;
        }
    for (int i = 0; i < nseq; i++)
        L->max_blocks = MAX(L->max_blocks, (int)probe_paged_blocks(lens[i], BLOCK_SIZE));
    g_autofree int32_t *table = g_new(int32_t, (int64_t)nseq * L->max_blocks);
    int64_t blocks = probe_paged_table_build(nseq, lens, BLOCK_SIZE, L->max_blocks, 97, table);
    g_autofree int64_t *slots = g_new(int64_t, L->T);
    row = 0;
    for (int i = 0; i < L->nprefill; i++)
        for (int j = 0; j < L->chunk[i]; j++, row++)
            slots[row] = probe_paged_slot(table, L->max_blocks, i, L->ctx[i] + j, BLOCK_SIZE);
    for (int i = L->nprefill; i < nseq; i++, row++)
        slots[row] = probe_paged_slot(table, L->max_blocks, i, lens[i] - 1, BLOCK_SIZE);
    g_autofree float *cs = g_new(float, (int64_t)max_pos * L->head_dim);
    probe_rope_cache(cs, max_pos, L->head_dim, ROPE_THETA);

    int64_t T = L->T, H = L->heads, KV = L->kv_heads, D = L->head_dim, hid = L->hidden,
            I = L->inter;
    int64_t qkv_w = (H + 2 * KV) * D;
    int64_t cache = blocks * BLOCK_SIZE * KV * D;
    /* Weights scaled by 1/sqrt(K) keep activations of order one. */
    TRY(probe_alloc_bf16(&L->x, T * hid, 1, 1, s, error));
    TRY(probe_alloc_zero(&L->xn, T * hid * 2, error));
    TRY(probe_alloc_zero(&L->qkv, T * qkv_w * 2, error));
    TRY(probe_alloc_zero(&L->attn, T * H * D * 2, error));
    TRY(probe_alloc_zero(&L->o, T * hid * 2, error));
    TRY(probe_alloc_zero(&L->x2, T * hid * 2, error));
    TRY(probe_alloc_zero(&L->up, T * 2 * I * 2, error));
    TRY(probe_alloc_zero(&L->act, T * I * 2, error));
    TRY(probe_alloc_zero(&L->down, T * hid * 2, error));
    TRY(probe_alloc_bf16(&L->w_qkv, qkv_w * hid, 2, 1.0f / sqrtf((float)hid), s, error));
    TRY(probe_alloc_bf16(&L->w_o, hid * H * D, 3, 1.0f / sqrtf((float)(H * D)), s, error));
    TRY(probe_alloc_bf16(&L->w_up, 2 * I * hid, 4, 1.0f / sqrtf((float)hid), s, error));
    TRY(probe_alloc_bf16(&L->w_down, hid * I, 5, 1.0f / sqrtf((float)I), s, error));
    TRY(probe_alloc_bf16(&L->w_n1, hid, 6, 1, s, error));
    TRY(probe_alloc_bf16(&L->w_n2, hid, 7, 1, s, error));
    TRY(probe_alloc_bf16(&L->w_qk, D, 8, 1, s, error));
    TRY(probe_alloc_bf16(&L->k_cache, cache, 9, 1, s, error));
    TRY(probe_alloc_bf16(&L->v_cache, cache, 10, 1, s, error));
    TRY(probe_alloc_copy(&L->table, table, (int64_t)nseq * L->max_blocks * 4, error));
    TRY(probe_alloc_copy(&L->lens, lens, (int64_t)nseq * 4, error));
    TRY(probe_alloc_copy(&L->slots, slots, T * 8, error));
    TRY(probe_alloc_copy(&L->pos, pos, T * 4, error));
    TRY(probe_alloc_copy(&L->cs, cs, (int64_t)max_pos * D * 4, error));
    if (L->ndecode > 0)
        TRY(probe_alloc_zero(&L->ws,
                             probe_decode_workspace_bytes(L->ndecode, (int)H, (int)KV, (int)D,
                                                          L->dec_max_len, L->num_sms),
                             error));
    L->pk = g_new0(void *, MAX(L->nprefill, 1));
    L->pv = g_new0(void *, MAX(L->nprefill, 1));
    for (int i = 0; i < L->nprefill; i++) {
        int64_t n = (int64_t)(L->ctx[i] + L->chunk[i]) * KV * D;
        TRY(probe_alloc_bf16(&L->pk[i], n, 11 + 2 * (uint64_t)i, 1, s, error));
        TRY(probe_alloc_bf16(&L->pv[i], n, 12 + 2 * (uint64_t)i, 1, s, error));
    }
    TRY((L->g_qkv = probe_gemm_op_new(run->gemm, PROBE_DT_BF16, T, qkv_w, hid, error)) != NULL);
    TRY((L->g_o = probe_gemm_op_new(run->gemm, PROBE_DT_BF16, T, hid, H * D, error)) != NULL);
    TRY((L->g_up = probe_gemm_op_new(run->gemm, PROBE_DT_BF16, T, 2 * I, hid, error)) != NULL);
    TRY((L->g_down = probe_gemm_op_new(run->gemm, PROBE_DT_BF16, T, hid, I, error)) != NULL);
    return L;
}

static void layer_free_ctx(void *data)
{
    layer_free(data);
}

gboolean probe_layer_work(ProbeRun *run, const ProbeLayerPoint *p, ProbeWork *w, GError **error)
{
    Layer *L = layer_new(run, p, error);
    if (L == NULL)
        return FALSE;
    w->ctx = L;
    w->free_ctx = layer_free_ctx;
    w->launch = layer_launch;
    w->flops = NAN;
    w->bytes = NAN;
    return TRUE;
}

static gboolean row(ProbeCsv *csv, const ProbeLayerPoint *p, const char *op, int count,
                    const ProbeTiming *t, GError **error)
{
    g_autofree char *label = probe_batch_label(p->spec);
    probe_csv_str(csv, p->model);
    probe_csv_int(csv, p->tp);
    probe_csv_str(csv, label);
    probe_csv_int(csv, p->batch.tokens);
    probe_csv_str(csv, op);
    probe_csv_int(csv, count);
    probe_schema_timing(csv, t, 0, NAN, NAN);
    return probe_csv_end_row(csv, error);
}

gboolean probe_bench_layer(ProbeRun *run, const ProbePlan *plan, GError **error)
{
    if (plan->layer->len == 0)
        return TRUE;
    if (run->opt->verify && !probe_options_wants(run->opt, PROBE_BENCH_ATTENTION)) {
        if (!probe_verify_attention(run, error) || !probe_verify_elementwise(run, error))
            return FALSE;
    }
    const char *extra[] = {"layer",
                           "one GPU's tensor-parallel shard of one dense layer, "
                           "all-reduces excluded; op rows time one occurrence, count is "
                           "occurrences per layer; sum_of_ops = sum of count x time_us",
                           NULL};
    g_autoptr(ProbeCsv) csv =
        probe_run_csv(run, "layer", PROBE_KIND_LAYER, extra, probe_cols_layer, 0, error);
    if (csv == NULL)
        return FALSE;
    ProbeTimerConfig cfg;
    probe_run_timer(run, probe_options_min_time_s(run->opt), &cfg);
    for (guint i = 0; i < plan->layer->len; i++) {
        const ProbeLayerPoint *p = &g_array_index(plan->layer, ProbeLayerPoint, i);
        Layer *L = layer_new(run, p, error);
        if (L == NULL)
            return FALSE;
        ProbeTiming whole;
        if (!probe_time(&cfg, layer_launch, L, &whole, error) ||
            !row(csv, p, "layer", 1, &whole, error)) {
            layer_free(L);
            return FALSE;
        }
        double sum_us = 0;
        for (int op = 0; op < OP_COUNT; op++) {
            if ((op == OP_ATTN_PREFILL && L->nprefill == 0) ||
                (op == OP_ATTN_DECODE && L->ndecode == 0))
                continue;
            OpCtx oc = {L, op};
            ProbeTiming t;
            if (!probe_time(&cfg, op_launch, &oc, &t, error) ||
                !row(csv, p, op_names[op], op_count[op], &t, error)) {
                layer_free(L);
                return FALSE;
            }
            sum_us += op_count[op] * t.us.median;
        }
        layer_free(L);
        /* The sum of the parts, as the predictor adds them up. */
        ProbeTiming sum = {0};
        probe_stats_compute(&sum_us, 1, &sum.us);
        sum.us.p10 = sum.us.p90 = sum.us.min = NAN;
        probe_sampler_window_empty(&sum.power);
        if (!row(csv, p, "sum_of_ops", 1, &sum, error))
            return FALSE;
        g_string_append_printf(run->summary,
                               "layer %s tp%d %s: %.1f us measured, %.1f us as the sum of its ops "
                               "(%+.0f %%)\n",
                               p->model, p->tp, p->spec, whole.us.median, sum_us,
                               100 * (sum_us / whole.us.median - 1));
        probe_run_progress(run, "layer", (int)i + 1, (int)plan->layer->len);
    }
    return probe_csv_close(g_steal_pointer(&csv), error);
}
