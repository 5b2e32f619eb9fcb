/* Helpers shared by the benchmarks (see bench.h). */
#include "bench.h"

#include "kernels.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

void probe_run_timer(const ProbeRun *run, double min_time_s, ProbeTimerConfig *cfg)
{
    probe_timer_config_init(cfg, run->stream, min_time_s);
    cfg->graphs = run->opt->graphs;
    cfg->sampler = run->sampler;
}

ProbeCsv *probe_run_csv(ProbeRun *run, const char *file, const char *kind, const char *const *extra,
                        const char *const *columns, unsigned perf, GError **error)
{
    return probe_schema_open(run->opt->out_dir, file, kind, (const char *const *)run->meta->pdata,
                             extra, columns, perf, error);
}

ProbeCsv *probe_run_csv_plain(ProbeRun *run, const char *file, const char *kind,
                              const char *const *columns, GError **error)
{
    g_autofree char *name = g_strdup_printf("%s.csv", file);
    g_autofree char *path = g_build_filename(run->opt->out_dir, name, NULL);
    return probe_csv_open(path, kind, (const char *const *)run->meta->pdata, NULL, columns, error);
}

void probe_run_progress(ProbeRun *run, const char *bench, int done, int total)
{
    (void)run;
    /* About twenty lines per benchmark, and the last point. */
    int step = MAX(1, total / 20);
    if (done % step == 0 || done == total)
        fprintf(stderr, "probe: %s %d/%d\n", bench, done, total);
}

int probe_rotation_sets(const ProbeRun *run, double set_bytes, double budget_bytes)
{
    double want = 4.0 * MAX(run->target.l2_bytes, 1 << 20);
    int sets = (int)ceil(want / MAX(set_bytes, 1.0));
    sets = CLAMP(sets, 1, 256);
    while (sets > 1 && sets * set_bytes > budget_bytes)
        sets--;
    return sets;
}

static gboolean alloc(void **ptr, int64_t bytes, GError **error)
{
    cudaError_t e = cudaMalloc(ptr, (size_t)MAX(bytes, 16));
    if (e != cudaSuccess) {
        *ptr = NULL;
        g_set_error(error, PROBE_ERROR, PROBE_ERROR_CUDA,
                    "cudaMalloc(%" G_GINT64_FORMAT " bytes): %s", (gint64)bytes,
                    cudaGetErrorString(e));
        return FALSE;
    }
    return TRUE;
}

gboolean probe_alloc_bf16(void **ptr, int64_t elems, uint64_t seed, float scale, cudaStream_t s,
                          GError **error)
{
    if (!alloc(ptr, elems * 2, error))
        return FALSE;
    PROBE_CUDA(probe_k_fill_bf16(*ptr, elems, seed, scale, s), error);
    return TRUE;
}

gboolean probe_alloc_fp8(void **ptr, int64_t elems, uint64_t seed, float scale, cudaStream_t s,
                         GError **error)
{
    if (!alloc(ptr, elems, error))
        return FALSE;
    PROBE_CUDA(probe_k_fill_fp8(*ptr, elems, seed, scale, s), error);
    return TRUE;
}

gboolean probe_alloc_zero(void **ptr, int64_t bytes, GError **error)
{
    if (!alloc(ptr, bytes, error))
        return FALSE;
    PROBE_CUDA(cudaMemset(*ptr, 0, (size_t)MAX(bytes, 16)), error);
    /* The legacy stream's memset does not order with the probe's
     * non-blocking stream: finish it before anything reads the buffer. */
    PROBE_CUDA(cudaDeviceSynchronize(), error);
    return TRUE;
}

gboolean probe_alloc_copy(void **ptr, const void *host, int64_t bytes, GError **error)
{
    if (!alloc(ptr, bytes, error))
        return FALSE;
    PROBE_CUDA(cudaMemcpy(*ptr, host, (size_t)bytes, cudaMemcpyHostToDevice), error);
    /* From pageable memory cudaMemcpy may return before the DMA lands. */
    PROBE_CUDA(cudaDeviceSynchronize(), error);
    return TRUE;
}

void probe_work_clear(ProbeWork *w)
{
    if (w->free_ctx != NULL && w->ctx != NULL)
        w->free_ctx(w->ctx);
    memset(w, 0, sizeof *w);
}
