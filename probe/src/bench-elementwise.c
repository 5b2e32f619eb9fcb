/* Elementwise benchmarks: RMSNorm, RoPE, SiLU-and-mul, the residual add and
 * the KV-cache store over (tokens, width), after a check of each kernel
 * against cpuref.c (or, for the store, against the scatter it performs).
 * Bytes are the predictor's (plan.h: probe_ew_bytes), so the table's
 * time-over-bytes curve means what the predictor asks. */
#include "bench.h"
#include "cpuref.h"
#include "hostdev.h"
#include "kernels.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define MAX_SETS   128
#define ROPE_THETA 500000.0 /* Llama 3's rope_theta */
#define NORM_EPS   1e-5f

/* ------------------------------------------------------------- verify -- */

static uint16_t *to_bf16(const float *x, int64_t n)
{
    uint16_t *b = g_new(uint16_t, n);
    for (int64_t i = 0; i < n; i++)
        b[i] = probe_bf16_from_float(x[i]);
    return b;
}

static float *rounded(int64_t n, uint64_t seed, float scale)
{
    float *x = g_new(float, n);
    for (int64_t i = 0; i < n; i++)
        x[i] = probe_bf16_round(probe_hash_uniform(seed, (uint64_t)i, scale));
    return x;
}

/* Worst |got - want| relative to max(1, |want|). */
static double worst_err(const void *dev, const float *want, int64_t n, GError **error, gboolean *ok)
{
    g_autofree uint16_t *got = g_new(uint16_t, n);
    /* The kernel ran on the probe's non-blocking stream. */
    cudaError_t e = cudaDeviceSynchronize();
    if (e == cudaSuccess)
        e = cudaMemcpy(got, dev, (size_t)n * 2, cudaMemcpyDeviceToHost);
    if (e != cudaSuccess) {
        *ok = probe_cuda_fail(error, "reading a verification result", e);
        return INFINITY;
    }
    double w = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs(probe_bf16_to_float(got[i]) - want[i]) / fmax(1.0, fabs(want[i]));
        w = isnan(d) ? INFINITY : fmax(w, d);
    }
    return w;
}

static gboolean verify_fail(GError **error, const char *op, double err)
{
    g_set_error(error, PROBE_ERROR, PROBE_ERROR_VERIFY,
                "%s kernel is wrong: relative error %.4g against the CPU reference", op, err);
    return FALSE;
}

gboolean probe_verify_elementwise(ProbeRun *run, GError **error)
{
    /* Bf16 outputs: a relative error of 2^-7 is rounding, not a bug. */
    const double tol = 1.0 / 64;
    const int T = 37, W = 1000 + 24; /* widths a multiple of 8, not of a warp's stride */
    const int heads = 6, hd = 128;
    cudaStream_t s = run->stream;
    gboolean ok = TRUE;
    cudaError_t ce = cudaSuccess;
    g_autofree float *x = rounded((int64_t)T * 2 * W, 71, 2);
    g_autofree float *wt = rounded(W, 72, 1);
    g_autofree float *y = g_new(float, (int64_t)T * 2 * W);
    g_autofree uint16_t *xb = to_bf16(x, (int64_t)T * 2 * W);
    g_autofree uint16_t *wb = to_bf16(wt, W);
    void *dx = NULL, *dw = NULL, *dy = NULL, *dpos = NULL, *dcs = NULL;
    if (!probe_alloc_copy(&dx, xb, (int64_t)T * 2 * W * 2, error) ||
        !probe_alloc_copy(&dw, wb, W * 2, error) ||
        !probe_alloc_zero(&dy, (int64_t)T * 2 * W * 2, error))
        goto out_fail;
    /* RMSNorm over [T][W]. */
    probe_ref_rmsnorm(x, wt, y, T, W, NORM_EPS);
    if ((ce = probe_k_rmsnorm(dx, dw, dy, T, W, 1, W, NORM_EPS, s)) != cudaSuccess)
        goto cuda_fail;
    double e = worst_err(dy, y, (int64_t)T * W, error, &ok);
    if (!ok)
        goto out_fail;
    if (e > tol) {
        verify_fail(error, "rmsnorm", e);
        goto out_fail;
    }
    /* SiLU-and-mul over [T][2W] -> [T][W]. */
    probe_ref_silu_mul(x, y, T, W);
    if ((ce = probe_k_silu_mul(dx, dy, T, W, s)) != cudaSuccess)
        goto cuda_fail;
    e = worst_err(dy, y, (int64_t)T * W, error, &ok);
    if (!ok)
        goto out_fail;
    if (e > tol) {
        verify_fail(error, "silu_mul", e);
        goto out_fail;
    }
    /* Add: the two halves of x. */
    probe_ref_add(x, x + (int64_t)T * W, y, (int64_t)T * W);
    if ((ce = probe_k_add(dx, (uint16_t *)dx + (int64_t)T * W, dy, (int64_t)T * W, s)) !=
        cudaSuccess)
        goto cuda_fail;
    e = worst_err(dy, y, (int64_t)T * W, error, &ok);
    if (!ok)
        goto out_fail;
    if (e > tol) {
        verify_fail(error, "add", e);
        goto out_fail;
    }
    /* RoPE on the first 6 heads of 128 of tokens whose stride is 8 heads
     * (q and k inside a fused QKV tensor), at scattered positions. */
    {
        int stride = 8 * hd, max_pos = 5000;
        int64_t n = (int64_t)T * stride;
        g_autofree int32_t *pos = g_new(int32_t, T);
        for (int t = 0; t < T; t++)
            pos[t] = (t * 131) % max_pos;
        g_autofree float *cs = g_new(float, (int64_t)max_pos *hd);
        probe_rope_cache(cs, max_pos, hd, ROPE_THETA);
        /* The reference works on [T][heads][hd]; gather, rotate, scatter. */
        g_autofree float *ref = g_memdup2(x, n * sizeof(float));
        g_autofree float *tmp = g_new(float, (int64_t)T *heads *hd);
        for (int t = 0; t < T; t++)
            memcpy(tmp + (int64_t)t * heads * hd, ref + (int64_t)t * stride,
                   sizeof(float) * heads * hd);
        probe_ref_rope(tmp, pos, T, heads, hd, cs);
        for (int t = 0; t < T; t++)
            memcpy(ref + (int64_t)t * stride, tmp + (int64_t)t * heads * hd,
                   sizeof(float) * heads * hd);
        if (!probe_alloc_copy(&dpos, pos, T * 4, error) ||
            !probe_alloc_copy(&dcs, cs, (int64_t)max_pos * hd * 4, error))
            goto out_fail;
        if ((ce = cudaMemcpy(dy, xb, n * 2, cudaMemcpyHostToDevice)) != cudaSuccess ||
            (ce = cudaDeviceSynchronize()) != cudaSuccess ||
            (ce = probe_k_rope(dy, T, stride, heads, hd, dpos, dcs, s)) != cudaSuccess)
            goto cuda_fail;
        e = worst_err(dy, ref, n, error, &ok);
        if (!ok)
            goto out_fail;
        if (e > tol) {
            verify_fail(error, "rope", e);
            goto out_fail;
        }
    }
    /* KV store: token t's K and V go to cache slot slots[t] (a shuffled
     * permutation), read back exactly (a copy). */
    {
        const int kvh = 2, hd2 = 64, stride = 3 * kvh * hd2; /* [q | k | v] per token */
        int32_t len = T;
        int max_blocks = (int)probe_paged_blocks(T, 16);
        g_autofree int32_t *table = g_new(int32_t, max_blocks);
        int64_t blocks = probe_paged_table_build(1, &len, 16, max_blocks, 73, table);
        g_autofree int64_t *slots = g_new(int64_t, T);
        for (int t = 0; t < T; t++)
            slots[t] = probe_paged_slot(table, max_blocks, 0, t, 16);
        int64_t cache_elems = blocks * 16 * kvh * hd2;
        void *dslots = NULL, *dk = NULL, *dv = NULL;
        gboolean fine = probe_alloc_copy(&dslots, slots, (int64_t)T * 8, error) &&
                        probe_alloc_zero(&dk, cache_elems * 2, error) &&
                        probe_alloc_zero(&dv, cache_elems * 2, error);
        g_autofree uint16_t *kc = g_new(uint16_t, cache_elems);
        g_autofree uint16_t *vc = g_new(uint16_t, cache_elems);
        if (fine) {
            ce = probe_k_kv_store(dx, stride, kvh * hd2, 2 * kvh * hd2, dk, dv, dslots, T, kvh, hd2,
                                  s);
            if (ce == cudaSuccess)
                ce = cudaDeviceSynchronize();
            if (ce == cudaSuccess)
                ce = cudaMemcpy(kc, dk, cache_elems * 2, cudaMemcpyDeviceToHost);
            if (ce == cudaSuccess)
                ce = cudaMemcpy(vc, dv, cache_elems * 2, cudaMemcpyDeviceToHost);
            if (ce != cudaSuccess)
                fine = probe_cuda_fail(error, "kv_store kernel (verification)", ce);
        }
        int64_t wrong = 0;
        for (int t = 0; fine && t < T; t++)
            for (int e = 0; e < kvh * hd2; e++) {
                int64_t src = (int64_t)t * stride + kvh * hd2 + e;
                wrong += kc[slots[t] * kvh * hd2 + e] != xb[src];
                wrong += vc[slots[t] * kvh * hd2 + e] != xb[src + kvh * hd2];
            }
        cudaFree(dslots);
        cudaFree(dk);
        cudaFree(dv);
        if (!fine)
            goto out_fail;
        if (wrong > 0) {
            g_set_error(error, PROBE_ERROR, PROBE_ERROR_VERIFY,
                        "kv_store kernel is wrong: %" G_GINT64_FORMAT
                        " cache values differ from their source",
                        (gint64)wrong);
            goto out_fail;
        }
    }
    cudaFree(dx);
    cudaFree(dw);
    cudaFree(dy);
    cudaFree(dpos);
    cudaFree(dcs);
    return TRUE;
cuda_fail:
    probe_cuda_fail(error, "elementwise kernel (verification)", ce);
out_fail:
    cudaFree(dx);
    cudaFree(dw);
    cudaFree(dy);
    cudaFree(dpos);
    cudaFree(dcs);
    return FALSE;
}

/* -------------------------------------------------------------- bench -- */

typedef struct {
    ProbeEwPoint p;
    int sets;
    void *in[MAX_SETS], *out[MAX_SETS]; /* kv_store: K/V source, and K cache then V cache */
    void *out2[MAX_SETS];
    void *w, *pos, *cs, *slots;
} EwCtx;

static void ew_free(void *data)
{
    EwCtx *c = data;
    for (int i = 0; i < c->sets; i++) {
        cudaFree(c->in[i]);
        cudaFree(c->out[i]);
        cudaFree(c->out2[i]);
    }
    cudaFree(c->slots);
    cudaFree(c->w);
    cudaFree(c->pos);
    cudaFree(c->cs);
    g_free(c);
}

static gboolean ew_launch(void *data, cudaStream_t s, int rep, GError **error)
{
    EwCtx *c = data;
    const ProbeEwPoint *p = &c->p;
    int i = rep % c->sets;
    cudaError_t e = cudaSuccess;
    switch (p->op) {
    case PROBE_EW_RMSNORM:
        e = probe_k_rmsnorm(c->in[i], c->w, c->out[i], p->tokens, p->width, 1, p->width, NORM_EPS,
                            s);
        break;
    case PROBE_EW_ROPE:
        /* q and k of a fused QKV row (v follows them). */
        e = probe_k_rope(c->in[i], p->tokens, (int64_t)(p->heads + 2 * p->kv_heads) * p->head_dim,
                         p->heads + p->kv_heads, p->head_dim, c->pos, c->cs, s);
        break;
    case PROBE_EW_SILU_MUL:
        e = probe_k_silu_mul(c->in[i], c->out[i], p->tokens, p->width, s);
        break;
    case PROBE_EW_ADD:
        e = probe_k_add(c->in[i], (uint16_t *)c->in[i] + p->tokens * p->width, c->out[i],
                        p->tokens * p->width, s);
        break;
    case PROBE_EW_KV_STORE:
        e = probe_k_kv_store(c->in[i], p->width, 0, p->width / 2, c->out[i], c->out2[i], c->slots,
                             p->tokens, p->kv_heads, p->head_dim, s);
        break;
    }
    PROBE_CUDA(e, error);
    return TRUE;
}

static gboolean ew_work(ProbeRun *run, const ProbeEwPoint *p, ProbeWork *w, GError **error)
{
    EwCtx *c = g_new0(EwCtx, 1);
    c->p = *p;
    w->ctx = c;
    w->free_ctx = ew_free;
    w->launch = ew_launch;
    w->flops = NAN;
    w->bytes = probe_ew_bytes(p);
    int64_t in_elems = 0, out_elems = 0;
    switch (p->op) {
    case PROBE_EW_RMSNORM:
        in_elems = out_elems = p->tokens * p->width;
        break;
    case PROBE_EW_ROPE:
        in_elems = p->tokens * (int64_t)(p->heads + 2 * p->kv_heads) * p->head_dim;
        break;
    case PROBE_EW_SILU_MUL:
        in_elems = 2 * p->tokens * p->width;
        out_elems = p->tokens * p->width;
        break;
    case PROBE_EW_ADD:
        in_elems = 2 * p->tokens * p->width;
        out_elems = p->tokens * p->width;
        break;
    case PROBE_EW_KV_STORE:
        /* K and V of each token, scattered to shuffled cache slots. */
        in_elems = out_elems = p->tokens * p->width;
        break;
    }
    if (p->op == PROBE_EW_RMSNORM && !probe_alloc_bf16(&c->w, p->width, 81, 1, run->stream, error))
        return FALSE;
    if (p->op == PROBE_EW_ROPE) {
        /* Positions spread over a long context, a cache covering them. */
        int max_pos = 32768;
        g_autofree int32_t *pos = g_new(int32_t, p->tokens);
        for (int64_t t = 0; t < p->tokens; t++)
            pos[t] = (int32_t)((t * 7919) % max_pos);
        g_autofree float *cs = g_new(float, (int64_t)max_pos * p->head_dim);
        probe_rope_cache(cs, max_pos, p->head_dim, ROPE_THETA);
        if (!probe_alloc_copy(&c->pos, pos, p->tokens * 4, error) ||
            !probe_alloc_copy(&c->cs, cs, (int64_t)max_pos * p->head_dim * 4, error))
            return FALSE;
    }
    if (p->op == PROBE_EW_KV_STORE) {
        int32_t len = (int32_t)p->tokens;
        int max_blocks = (int)probe_paged_blocks(p->tokens, 16);
        g_autofree int32_t *table = g_new(int32_t, max_blocks);
        probe_paged_table_build(1, &len, 16, max_blocks, 83, table);
        g_autofree int64_t *slots = g_new(int64_t, p->tokens);
        for (int64_t t = 0; t < p->tokens; t++)
            slots[t] = probe_paged_slot(table, max_blocks, 0, t, 16);
        if (!probe_alloc_copy(&c->slots, slots, p->tokens * 8, error))
            return FALSE;
    }
    /* A kv_store cache holds whole blocks: round the tokens up. */
    int64_t out_alloc = p->op == PROBE_EW_KV_STORE
                            ? probe_paged_blocks(p->tokens, 16) * 16 * (int64_t)p->width / 2
                            : out_elems;
    size_t free_b = 0, total_b = 0;
    cudaMemGetInfo(&free_b, &total_b);
    int sets =
        MIN(MAX_SETS, probe_rotation_sets(run, 2.0 * (in_elems + out_elems), 0.5 * (double)free_b));
    for (int i = 0; i < sets; i++) {
        gboolean ok =
            probe_alloc_bf16(&c->in[i], in_elems, 90 + (uint64_t)i, 1, run->stream, error) &&
            (out_elems == 0 || probe_alloc_zero(&c->out[i], out_alloc * 2, error)) &&
            (p->op != PROBE_EW_KV_STORE || probe_alloc_zero(&c->out2[i], out_alloc * 2, error));
        c->sets = i + 1;
        if (!ok)
            return FALSE;
    }
    return TRUE;
}

gboolean probe_bench_elementwise(ProbeRun *run, const ProbePlan *plan, GError **error)
{
    if (plan->ew->len == 0)
        return TRUE;
    if (run->opt->verify) {
        if (!probe_verify_elementwise(run, error))
            return FALSE;
        fprintf(stderr, "probe: elementwise kernels agree with the CPU reference\n");
    }
    const char *extra[] = {"bytes", "read + written, as servesim's predictor counts them", NULL};
    g_autoptr(ProbeCsv) csv = probe_run_csv(run, "elementwise", PROBE_KIND_ELEMENTWISE, extra,
                                            probe_cols_elementwise, PROBE_COL_GBS, error);
    if (csv == NULL)
        return FALSE;
    ProbeTimerConfig cfg;
    probe_run_timer(run, probe_options_min_time_s(run->opt), &cfg);
    double best = 0;
    for (guint i = 0; i < plan->ew->len; i++) {
        const ProbeEwPoint *p = &g_array_index(plan->ew, ProbeEwPoint, i);
        ProbeWork w = {0};
        ProbeTiming t;
        gboolean ok = ew_work(run, p, &w, error) && probe_time(&cfg, w.launch, w.ctx, &t, error);
        probe_work_clear(&w);
        if (!ok)
            return FALSE;
        probe_csv_str(csv, probe_ew_name(p->op));
        probe_csv_int(csv, (int64_t)probe_ew_bytes(p));
        probe_csv_str(csv, "bfloat16");
        probe_schema_timing(csv, &t, PROBE_COL_GBS, NAN, probe_ew_bytes(p));
        if (!probe_csv_end_row(csv, error))
            return FALSE;
        best = MAX(best, probe_ew_bytes(p) / (t.us.median * 1e-6));
        probe_run_progress(run, "elementwise", (int)i + 1, (int)plan->ew->len);
    }
    g_string_append_printf(run->summary, "elementwise best %.0f GB/s = %.0f %% of the HBM peak\n",
                           best / 1e9, 100 * best / run->target.peak_mem_bw);
    return probe_csv_close(g_steal_pointer(&csv), error);
}
