/* GEMM benchmark: every (dtype, M, N, K) of the plan through cuBLASLt, with
 * operands rotated through enough copies that W comes from HBM each time
 * (a served model's layers each have their own weights). */
#include "bench.h"
#include "gemm.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define MAX_SETS 64

typedef struct {
    ProbeGemmOp *op;
    int sets;          /* operand copies */
    void *w[MAX_SETS]; /* W [n][k] */
    void *x[MAX_SETS]; /* X [m][k] */
    void *y[MAX_SETS]; /* Y [m][n] */
} GemmCtx;

static void gemm_ctx_free(void *data)
{
    GemmCtx *c = data;
    for (int i = 0; i < c->sets; i++) {
        cudaFree(c->w[i]);
        cudaFree(c->x[i]);
        cudaFree(c->y[i]);
    }
    probe_gemm_op_free(c->op);
    g_free(c);
}

static gboolean gemm_launch(void *data, cudaStream_t s, int rep, GError **error)
{
    GemmCtx *c = data;
    int i = rep % c->sets;
    return probe_gemm_op_run(c->op, c->w[i], c->x[i], c->y[i], s, error);
}

gboolean probe_gemm_work(ProbeRun *run, const ProbeGemmPoint *p, ProbeWork *w, GError **error)
{
    GemmCtx *c = g_new0(GemmCtx, 1);
    w->ctx = c;
    w->free_ctx = gemm_ctx_free;
    w->launch = gemm_launch;
    w->flops = 2.0 * p->m * p->n * p->k;
    w->bytes = probe_gemm_bytes(p);
    c->op = probe_gemm_op_new(run->gemm, p->dtype, p->m, p->n, p->k, error);
    if (c->op == NULL)
        return FALSE;
    size_t free_b = 0, total_b = 0;
    cudaMemGetInfo(&free_b, &total_b);
    int sets = probe_rotation_sets(run, w->bytes, 0.5 * (double)free_b);
    sets = MIN(sets, MAX_SETS);
    gboolean fp8 = p->dtype == PROBE_DT_FP8;
    for (int i = 0; i < sets; i++) {
        uint64_t seed = 1000 + 3 * (uint64_t)i;
        gboolean ok =
            fp8 ? probe_alloc_fp8(&c->w[i], p->n * p->k, seed, 1.0f, run->stream, error) &&
                      probe_alloc_fp8(&c->x[i], p->m * p->k, seed + 1, 1.0f, run->stream, error)
                : probe_alloc_bf16(&c->w[i], p->n * p->k, seed, 1.0f, run->stream, error) &&
                      probe_alloc_bf16(&c->x[i], p->m * p->k, seed + 1, 1.0f, run->stream, error);
        if (ok)
            ok = probe_alloc_zero(&c->y[i], p->m * p->n * 2, error);
        c->sets = i + 1; /* free what was allocated, even on failure */
        if (!ok)
            return FALSE;
    }
    return TRUE;
}

gboolean probe_bench_gemm(ProbeRun *run, const ProbePlan *plan, GError **error)
{
    if (plan->gemm->len == 0)
        return TRUE;
    const char *extra[] = {"gemm_library", "cuBLASLt, first heuristic algorithm, TN layout", NULL};
    g_autoptr(ProbeCsv) csv = probe_run_csv(run, "gemm", PROBE_KIND_GEMM, extra, probe_cols_gemm,
                                            PROBE_COL_TFLOPS | PROBE_COL_GBS, error);
    if (csv == NULL)
        return FALSE;
    ProbeTimerConfig cfg;
    probe_run_timer(run, probe_options_min_time_s(run->opt), &cfg);
    double best[2] = {0, 0};
    int skipped = 0;
    for (guint i = 0; i < plan->gemm->len; i++) {
        const ProbeGemmPoint *p = &g_array_index(plan->gemm, ProbeGemmPoint, i);
        ProbeWork w = {0};
        g_autoptr(GError) local = NULL;
        ProbeTiming t;
        if (!probe_gemm_work(run, p, &w, &local) ||
            !probe_time(&cfg, w.launch, w.ctx, &t, &local)) {
            probe_work_clear(&w);
            /* cuBLASLt declines some shapes (fp8 wants K a multiple of 16):
             * skip them; anything else is a real failure. */
            if (g_error_matches(local, PROBE_ERROR, PROBE_ERROR_UNSUPPORTED)) {
                fprintf(stderr, "probe: gemm: skipped: %s\n", local->message);
                skipped++;
                continue;
            }
            g_propagate_prefixed_error(error, g_steal_pointer(&local), "gemm: ");
            return FALSE;
        }
        probe_work_clear(&w);
        /* `model` groups rows for servesim's leave-one-model-out check: the
         * one model whose shape this is; empty for grid points and shapes
         * that several models share. */
        const char *models =
            p->models >= 0 ? (const char *)g_ptr_array_index(plan->model_lists, p->models) : "";
        probe_csv_str(csv, p->dtype == PROBE_DT_FP8 ? "fp8" : "bfloat16");
        probe_csv_int(csv, p->m);
        probe_csv_int(csv, p->n);
        probe_csv_int(csv, p->k);
        probe_csv_str(csv, strchr(models, ';') == NULL ? models : "");
        probe_schema_timing(csv, &t, PROBE_COL_TFLOPS | PROBE_COL_GBS, 2.0 * p->m * p->n * p->k,
                            probe_gemm_bytes(p));
        if (!probe_csv_end_row(csv, error))
            return FALSE;
        best[p->dtype] = MAX(best[p->dtype], 2.0 * p->m * p->n * p->k / (t.us.median * 1e-6));
        probe_run_progress(run, "gemm", (int)i + 1, (int)plan->gemm->len);
    }
    for (int dt = 0; dt < 2; dt++)
        if (best[dt] > 0) {
            double peak = dt ? run->target.peak_fp8_flops : run->target.peak_bf16_flops;
            g_string_append_printf(run->summary,
                                   "gemm %-8s best %.1f TFLOP/s = %.0f %% of the derived peak "
                                   "%.1f TFLOP/s\n",
                                   dt ? "fp8" : "bfloat16", best[dt] / 1e12, 100 * best[dt] / peak,
                                   peak / 1e12);
        }
    if (skipped > 0)
        g_string_append_printf(run->summary, "gemm: %d points skipped (no cuBLASLt algorithm)\n",
                               skipped);
    return probe_csv_close(g_steal_pointer(&csv), error);
}
