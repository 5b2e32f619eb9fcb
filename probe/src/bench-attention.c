/* Attention benchmarks: the flash-style prefill kernel over (chunk,
 * context, heads) and the paged decode kernel over (batch, context, heads,
 * block size), each first checked against the CPU reference on small cases.
 * FLOPs and bytes follow the predictor's definitions (plan.h). */
#include "bench.h"
#include "cpuref.h"
#include "hostdev.h"
#include "kernels.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define MAX_SETS 64

/* ------------------------------------------------------------ helpers -- */

/* Float tensor of hash values, rounded to bf16, and its bf16 bits. */
static float *host_tensor(int64_t n, uint64_t seed, float scale, uint16_t **bits)
{
    float *x = g_new(float, n);
    *bits = g_new(uint16_t, n);
    for (int64_t i = 0; i < n; i++) {
        (*bits)[i] = probe_bf16_from_float(probe_hash_uniform(seed, (uint64_t)i, scale));
        x[i] = probe_bf16_to_float((*bits)[i]);
    }
    return x;
}

static double compare(const uint16_t *got, const float *want, int64_t n, int64_t *where)
{
    double worst = 0;
    for (int64_t i = 0; i < n; i++) {
        double e = fabs((double)probe_bf16_to_float(got[i]) - want[i]);
        if (!(e <= worst)) { /* NaN counts as worst */
            worst = isnan(e) ? INFINITY : e;
            *where = i;
        }
    }
    return worst;
}

/* bf16 output + bf16 attention weights against a float reference of values
 * in [-1, 1]: indexing or masking mistakes are off by 0.1 or more. */
#define VERIFY_TOL 2e-2

/* ------------------------------------------------------------- verify -- */

typedef struct {
    int chunk, ctx, heads, kv_heads, d;
    float qscale;
} PrefillCase;

static gboolean verify_prefill(const PrefillCase *c, cudaStream_t s, GError **error)
{
    int keys = c->ctx + c->chunk;
    int64_t nq = (int64_t)c->chunk * c->heads * c->d, nk = (int64_t)keys * c->kv_heads * c->d;
    g_autofree uint16_t *qb = NULL, *kb = NULL, *vb = NULL;
    g_autofree float *q = host_tensor(nq, 11, c->qscale, &qb);
    g_autofree float *k = host_tensor(nk, 12, 1, &kb);
    g_autofree float *v = host_tensor(nk, 13, 1, &vb);
    g_autofree float *ref = g_new(float, nq);
    probe_ref_attention_naive(q, k, v, ref, c->chunk, c->ctx, c->heads, c->kv_heads, c->d);
    void *dq = NULL, *dk = NULL, *dv = NULL, *dout = NULL;
    gboolean ok =
        probe_alloc_copy(&dq, qb, nq * 2, error) && probe_alloc_copy(&dk, kb, nk * 2, error) &&
        probe_alloc_copy(&dv, vb, nk * 2, error) && probe_alloc_zero(&dout, nq * 2, error);
    g_autofree uint16_t *got = g_new(uint16_t, nq);
    if (ok) {
        ProbePrefillArgs a = {dq,
                              (int64_t)c->heads * c->d,
                              dk,
                              dv,
                              (int64_t)c->kv_heads * c->d,
                              dout,
                              (int64_t)c->heads * c->d,
                              c->chunk,
                              c->ctx,
                              c->heads,
                              c->kv_heads,
                              c->d};
        cudaError_t e = probe_k_prefill(&a, s);
        if (e == cudaSuccess)
            e = cudaStreamSynchronize(s);
        if (e == cudaSuccess)
            e = cudaMemcpy(got, dout, nq * 2, cudaMemcpyDeviceToHost);
        if (e != cudaSuccess)
            ok = probe_cuda_fail(error, "prefill kernel (verification)", e);
    }
    cudaFree(dq);
    cudaFree(dk);
    cudaFree(dv);
    cudaFree(dout);
    if (!ok)
        return FALSE;
    int64_t at = 0;
    double err = compare(got, ref, nq, &at);
    if (err > VERIFY_TOL) {
        g_set_error(error, PROBE_ERROR, PROBE_ERROR_VERIFY,
                    "prefill kernel is wrong: chunk=%d context=%d heads=%d kv_heads=%d "
                    "head_dim=%d: |error| %.4g at token %d head %d element %d (tolerance %g)",
                    c->chunk, c->ctx, c->heads, c->kv_heads, c->d, err,
                    (int)(at / ((int64_t)c->heads * c->d)), (int)(at / c->d % c->heads),
                    (int)(at % c->d), VERIFY_TOL);
        return FALSE;
    }
    return TRUE;
}

typedef struct {
    int batch;
    int lens[6];
    int heads, kv_heads, d, block_size;
} DecodeCase;

static gboolean verify_decode(const DecodeCase *c, int num_sms, cudaStream_t s, GError **error)
{
    int max_len = 0;
    for (int b = 0; b < c->batch; b++)
        max_len = MAX(max_len, c->lens[b]);
    int max_blocks = (int)probe_paged_blocks(max_len, c->block_size);
    g_autofree int32_t *table = g_new(int32_t, (int64_t)c->batch * max_blocks);
    int64_t blocks =
        probe_paged_table_build(c->batch, c->lens, c->block_size, max_blocks, 21, table);
    int64_t ncache = blocks * c->block_size * c->kv_heads * c->d;
    int64_t nq = (int64_t)c->batch * c->heads * c->d;
    g_autofree uint16_t *qb = NULL, *kb = NULL, *vb = NULL;
    g_autofree float *q = host_tensor(nq, 31, 3, &qb);
    g_autofree float *k = host_tensor(ncache, 32, 1, &kb);
    g_autofree float *v = host_tensor(ncache, 33, 1, &vb);
    g_autofree float *ref = g_new(float, nq);
    probe_ref_paged_decode(q, k, v, table, max_blocks, c->lens, c->batch, c->heads, c->kv_heads,
                           c->d, c->block_size, 0, ref);
    int64_t ws =
        probe_decode_workspace_bytes(c->batch, c->heads, c->kv_heads, c->d, max_len, num_sms);
    void *dq = NULL, *dk = NULL, *dv = NULL, *dt = NULL, *dl = NULL, *dout = NULL, *dws = NULL;
    gboolean ok = probe_alloc_copy(&dq, qb, nq * 2, error) &&
                  probe_alloc_copy(&dk, kb, ncache * 2, error) &&
                  probe_alloc_copy(&dv, vb, ncache * 2, error) &&
                  probe_alloc_copy(&dt, table, (int64_t)c->batch * max_blocks * 4, error) &&
                  probe_alloc_copy(&dl, c->lens, (int64_t)c->batch * 4, error) &&
                  probe_alloc_zero(&dout, nq * 2, error) && probe_alloc_zero(&dws, ws, error);
    g_autofree uint16_t *got = g_new(uint16_t, nq);
    if (ok) {
        ProbeDecodeArgs a = {dq,
                             (int64_t)c->heads * c->d,
                             dk,
                             dv,
                             dt,
                             max_blocks,
                             dl,
                             max_len,
                             dout,
                             (int64_t)c->heads * c->d,
                             c->batch,
                             c->heads,
                             c->kv_heads,
                             c->d,
                             c->block_size,
                             num_sms,
                             dws};
        cudaError_t e = probe_k_decode(&a, s);
        if (e == cudaSuccess)
            e = cudaStreamSynchronize(s);
        if (e == cudaSuccess)
            e = cudaMemcpy(got, dout, nq * 2, cudaMemcpyDeviceToHost);
        if (e != cudaSuccess)
            ok = probe_cuda_fail(error, "decode kernel (verification)", e);
    }
    void *bufs[] = {dq, dk, dv, dt, dl, dout, dws};
    for (size_t i = 0; i < G_N_ELEMENTS(bufs); i++)
        cudaFree(bufs[i]);
    if (!ok)
        return FALSE;
    int64_t at = 0;
    double err = compare(got, ref, nq, &at);
    if (err > VERIFY_TOL) {
        g_set_error(error, PROBE_ERROR, PROBE_ERROR_VERIFY,
                    "decode kernel is wrong: batch=%d heads=%d kv_heads=%d head_dim=%d "
                    "block_size=%d: |error| %.4g at sequence %d (length %d) head %d (tolerance %g)",
                    c->batch, c->heads, c->kv_heads, c->d, c->block_size, err,
                    (int)(at / ((int64_t)c->heads * c->d)),
                    c->lens[at / ((int64_t)c->heads * c->d)], (int)(at / c->d % c->heads),
                    VERIFY_TOL);
        return FALSE;
    }
    return TRUE;
}

gboolean probe_verify_attention(ProbeRun *run, GError **error)
{
    /* Partial query and key tiles, GQA, several query blocks, a long
     * context behind one token, MHA, very peaked scores. */
    const PrefillCase pc[] = {
        {70, 33, 4, 2, 128, 1.0f}, {130, 0, 2, 1, 64, 1.0f},    {1, 200, 8, 8, 128, 2.0f},
        {64, 64, 2, 2, 64, 40.0f}, {200, 300, 8, 1, 128, 1.0f},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(pc); i++)
        if (!verify_prefill(&pc[i], run->stream, error))
            return FALSE;
    /* Sequences shorter than a block, several partitions, groups of 4 and
     * 16, both head widths and block sizes. */
    const DecodeCase dc[] = {
        {5, {1, 17, 600, 1100, 33}, 8, 2, 128, 16},
        {3, {2000, 5, 64}, 16, 1, 64, 32},
        {1, {4096}, 8, 8, 128, 16},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(dc); i++)
        if (!verify_decode(&dc[i], run->dev.sm_count, run->stream, error))
            return FALSE;
    return TRUE;
}

/* ------------------------------------------------------------ prefill -- */

typedef struct {
    ProbePrefillArgs a;
    int sets;
    void *q[MAX_SETS], *k[MAX_SETS], *v[MAX_SETS], *o[MAX_SETS];
} PrefillCtx;

static void prefill_free(void *data)
{
    PrefillCtx *c = data;
    for (int i = 0; i < c->sets; i++) {
        cudaFree(c->q[i]);
        cudaFree(c->k[i]);
        cudaFree(c->v[i]);
        cudaFree(c->o[i]);
    }
    g_free(c);
}

static gboolean prefill_launch(void *data, cudaStream_t s, int rep, GError **error)
{
    PrefillCtx *c = data;
    int i = rep % c->sets;
    ProbePrefillArgs a = c->a;
    a.q = c->q[i];
    a.k = c->k[i];
    a.v = c->v[i];
    a.o = c->o[i];
    PROBE_CUDA(probe_k_prefill(&a, s), error);
    return TRUE;
}

gboolean probe_prefill_work(ProbeRun *run, const ProbePrefillPoint *p, ProbeWork *w, GError **error)
{
    PrefillCtx *c = g_new0(PrefillCtx, 1);
    w->ctx = c;
    w->free_ctx = prefill_free;
    w->launch = prefill_launch;
    w->flops = probe_prefill_flops(p);
    w->bytes = probe_prefill_bytes(p);
    int64_t nq = (int64_t)p->chunk * p->heads * p->head_dim;
    int64_t nk = (int64_t)(p->context + p->chunk) * p->kv_heads * p->head_dim;
    c->a = (ProbePrefillArgs){NULL,
                              (int64_t)p->heads * p->head_dim,
                              NULL,
                              NULL,
                              (int64_t)p->kv_heads * p->head_dim,
                              NULL,
                              (int64_t)p->heads * p->head_dim,
                              p->chunk,
                              p->context,
                              p->heads,
                              p->kv_heads,
                              p->head_dim};
    size_t free_b = 0, total_b = 0;
    cudaMemGetInfo(&free_b, &total_b);
    int sets = MIN(MAX_SETS, probe_rotation_sets(run, w->bytes, 0.5 * (double)free_b));
    for (int i = 0; i < sets; i++) {
        uint64_t seed = 2000 + 4 * (uint64_t)i;
        gboolean ok = probe_alloc_bf16(&c->q[i], nq, seed, 1, run->stream, error) &&
                      probe_alloc_bf16(&c->k[i], nk, seed + 1, 1, run->stream, error) &&
                      probe_alloc_bf16(&c->v[i], nk, seed + 2, 1, run->stream, error) &&
                      probe_alloc_zero(&c->o[i], nq * 2, error);
        c->sets = i + 1;
        if (!ok)
            return FALSE;
    }
    return TRUE;
}

/* ------------------------------------------------------------- decode -- */

typedef struct {
    ProbeDecodeArgs a;
    int sets;
    void *kc[MAX_SETS], *vc[MAX_SETS];
    void *q, *o, *table, *lens, *ws;
} DecodeCtx;

static void decode_free(void *data)
{
    DecodeCtx *c = data;
    for (int i = 0; i < c->sets; i++) {
        cudaFree(c->kc[i]);
        cudaFree(c->vc[i]);
    }
    cudaFree(c->q);
    cudaFree(c->o);
    cudaFree(c->table);
    cudaFree(c->lens);
    cudaFree(c->ws);
    g_free(c);
}

static gboolean decode_launch(void *data, cudaStream_t s, int rep, GError **error)
{
    DecodeCtx *c = data;
    int i = rep % c->sets;
    ProbeDecodeArgs a = c->a;
    a.k_cache = c->kc[i];
    a.v_cache = c->vc[i];
    PROBE_CUDA(probe_k_decode(&a, s), error);
    return TRUE;
}

gboolean probe_decode_work(ProbeRun *run, const ProbeDecodePoint *p, ProbeWork *w, GError **error)
{
    DecodeCtx *c = g_new0(DecodeCtx, 1);
    w->ctx = c;
    w->free_ctx = decode_free;
    w->launch = decode_launch;
    w->flops = probe_decode_flops(p);
    w->bytes = probe_decode_bytes(p);
    int max_blocks = (int)probe_paged_blocks(p->context, p->block_size);
    g_autofree int32_t *lens = g_new(int32_t, p->batch);
    for (int b = 0; b < p->batch; b++)
        lens[b] = p->context;
    g_autofree int32_t *table = g_new(int32_t, (int64_t)p->batch * max_blocks);
    int64_t blocks = probe_paged_table_build(p->batch, lens, p->block_size, max_blocks, 41, table);
    int64_t ncache = blocks * p->block_size * p->kv_heads * p->head_dim;
    int64_t nq = (int64_t)p->batch * p->heads * p->head_dim;
    int64_t ws = probe_decode_workspace_bytes(p->batch, p->heads, p->kv_heads, p->head_dim,
                                              p->context, run->dev.sm_count);
    if (!probe_alloc_bf16(&c->q, nq, 51, 1, run->stream, error) ||
        !probe_alloc_zero(&c->o, nq * 2, error) ||
        !probe_alloc_copy(&c->table, table, (int64_t)p->batch * max_blocks * 4, error) ||
        !probe_alloc_copy(&c->lens, lens, (int64_t)p->batch * 4, error) ||
        !probe_alloc_zero(&c->ws, ws, error))
        return FALSE;
    size_t free_b = 0, total_b = 0;
    cudaMemGetInfo(&free_b, &total_b);
    int sets = MIN(MAX_SETS, probe_rotation_sets(run, 4.0 * ncache, 0.5 * (double)free_b));
    for (int i = 0; i < sets; i++) {
        gboolean ok =
            probe_alloc_bf16(&c->kc[i], ncache, 60 + 2 * (uint64_t)i, 1, run->stream, error) &&
            probe_alloc_bf16(&c->vc[i], ncache, 61 + 2 * (uint64_t)i, 1, run->stream, error);
        c->sets = i + 1;
        if (!ok)
            return FALSE;
    }
    c->a = (ProbeDecodeArgs){c->q,          (int64_t)p->heads * p->head_dim,
                             NULL,          NULL,
                             c->table,      max_blocks,
                             c->lens,       p->context,
                             c->o,          (int64_t)p->heads * p->head_dim,
                             p->batch,      p->heads,
                             p->kv_heads,   p->head_dim,
                             p->block_size, run->dev.sm_count,
                             c->ws};
    return TRUE;
}

/* -------------------------------------------------------------- bench -- */

/* The kernels' names, in the files' headers: a table is only as good as the
 * kernel it measured (vLLM's FlashAttention is faster than these). */
#define PREFILL_KERNEL "probe flash-style WMMA kernel v1 (64x64 tiles, lazy rescaling)"
#define DECODE_KERNEL  "probe paged split-context kernel v1 (vLLM v2 style)"

static gboolean bench_prefill(ProbeRun *run, const ProbePlan *plan, const ProbeTimerConfig *cfg,
                              int *done, int total, double *best, GError **error)
{
    const char *extra[] = {"kernel", PREFILL_KERNEL, "kv_layout",
                           "contiguous [tokens][kv_heads][head_dim]", NULL};
    g_autoptr(ProbeCsv) csv =
        probe_run_csv(run, "attn_prefill", PROBE_KIND_ATTN_PREFILL, extra, probe_cols_attn_prefill,
                      PROBE_COL_TFLOPS | PROBE_COL_GBS, error);
    if (csv == NULL)
        return FALSE;
    for (guint i = 0; i < plan->prefill->len; i++) {
        const ProbePrefillPoint *p = &g_array_index(plan->prefill, ProbePrefillPoint, i);
        ProbeWork w = {0};
        ProbeTiming t;
        gboolean ok =
            probe_prefill_work(run, p, &w, error) && probe_time(cfg, w.launch, w.ctx, &t, error);
        probe_work_clear(&w);
        if (!ok)
            return FALSE;
        probe_csv_str(csv, "bfloat16");
        probe_csv_int(csv, p->chunk);
        probe_csv_int(csv, p->context);
        probe_csv_int(csv, p->heads);
        probe_csv_int(csv, p->kv_heads);
        probe_csv_int(csv, p->head_dim);
        probe_schema_timing(csv, &t, PROBE_COL_TFLOPS | PROBE_COL_GBS, probe_prefill_flops(p),
                            probe_prefill_bytes(p));
        if (!probe_csv_end_row(csv, error))
            return FALSE;
        *best = MAX(*best, probe_prefill_flops(p) / (t.us.median * 1e-6));
        probe_run_progress(run, "attention", ++*done, total);
    }
    return probe_csv_close(g_steal_pointer(&csv), error);
}

/* One file per KV-cache block size: attn_decode.csv for vLLM's default 16,
 * attn_decode_block<N>.csv for the others (servesim's tables have no
 * block-size axis, so calibrate merges every attn_decode file it is given). */
static gboolean bench_decode(ProbeRun *run, const ProbePlan *plan, const ProbeTimerConfig *cfg,
                             int block_size, int *done, int total, double *best, GError **error)
{
    g_autofree char *file = block_size == 16 ? g_strdup("attn_decode")
                                             : g_strdup_printf("attn_decode_block%d", block_size);
    g_autofree char *bs = g_strdup_printf("%d", block_size);
    const char *extra[] = {"kernel", DECODE_KERNEL, "block_size", bs, NULL};
    g_autoptr(ProbeCsv) csv =
        probe_run_csv(run, file, PROBE_KIND_ATTN_DECODE, extra, probe_cols_attn_decode,
                      PROBE_COL_TFLOPS | PROBE_COL_GBS, error);
    if (csv == NULL)
        return FALSE;
    for (guint i = 0; i < plan->decode->len; i++) {
        const ProbeDecodePoint *p = &g_array_index(plan->decode, ProbeDecodePoint, i);
        if (p->block_size != block_size)
            continue;
        ProbeWork w = {0};
        ProbeTiming t;
        gboolean ok =
            probe_decode_work(run, p, &w, error) && probe_time(cfg, w.launch, w.ctx, &t, error);
        probe_work_clear(&w);
        if (!ok)
            return FALSE;
        probe_csv_str(csv, "bfloat16");
        probe_csv_int(csv, p->batch);
        probe_csv_int(csv, p->context);
        probe_csv_int(csv, p->heads);
        probe_csv_int(csv, p->kv_heads);
        probe_csv_int(csv, p->head_dim);
        probe_schema_timing(csv, &t, PROBE_COL_TFLOPS | PROBE_COL_GBS, probe_decode_flops(p),
                            probe_decode_bytes(p));
        if (!probe_csv_end_row(csv, error))
            return FALSE;
        *best = MAX(*best, probe_decode_bytes(p) / (t.us.median * 1e-6));
        probe_run_progress(run, "attention", ++*done, total);
    }
    return probe_csv_close(g_steal_pointer(&csv), error);
}

gboolean probe_bench_attention(ProbeRun *run, const ProbePlan *plan, GError **error)
{
    if (plan->prefill->len == 0 && plan->decode->len == 0)
        return TRUE;
    if (run->opt->verify) {
        if (!probe_verify_attention(run, error))
            return FALSE;
        fprintf(stderr, "probe: attention kernels agree with the CPU reference\n");
    }
    ProbeTimerConfig cfg;
    probe_run_timer(run, probe_options_min_time_s(run->opt), &cfg);
    int total = (int)(plan->prefill->len + plan->decode->len), done = 0;
    double best_tf = 0, best_bw = 0;
    if (plan->prefill->len > 0 && !bench_prefill(run, plan, &cfg, &done, total, &best_tf, error))
        return FALSE;
    for (int i = 0; i < run->opt->n_block_sizes && plan->decode->len > 0; i++)
        if (!bench_decode(run, plan, &cfg, run->opt->block_sizes[i], &done, total, &best_bw, error))
            return FALSE;
    if (best_tf > 0)
        g_string_append_printf(run->summary,
                               "attention prefill best %.1f TFLOP/s = %.0f %% of the bf16 peak\n",
                               best_tf / 1e12, 100 * best_tf / run->target.peak_bf16_flops);
    if (best_bw > 0)
        g_string_append_printf(run->summary,
                               "attention decode best %.0f GB/s = %.0f %% of the HBM peak\n",
                               best_bw / 1e9, 100 * best_bw / run->target.peak_mem_bw);
    return TRUE;
}
