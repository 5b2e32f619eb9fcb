/* Copy benchmarks (memcpy.csv): device-to-device cudaMemcpyAsync for HBM
 * bandwidth, and host<->device copies from and to pinned memory for the
 * PCIe link that KV swapping uses. Device copies rotate through buffer pairs
 * so small sizes are not served from L2. A plain copy kernel is kept for the
 * power benchmark's memory-bound workload. */
#include "bench.h"
#include "kernels.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define MAX_SETS 128

typedef struct {
    ProbeMemKind kind;
    int64_t size;
    int sets;
    void *src[MAX_SETS], *dst[MAX_SETS]; /* device, or host (pinned) for src/dst of h2d/d2h */
} CopyCtx;

static void copy_free(void *data)
{
    CopyCtx *c = data;
    for (int i = 0; i < c->sets; i++) {
        if (c->kind == PROBE_MEM_H2D)
            cudaFreeHost(c->src[i]);
        else
            cudaFree(c->src[i]);
        if (c->kind == PROBE_MEM_D2H)
            cudaFreeHost(c->dst[i]);
        else
            cudaFree(c->dst[i]);
    }
    g_free(c);
}

static gboolean copy_launch(void *data, cudaStream_t s, int rep, GError **error)
{
    CopyCtx *c = data;
    int i = rep % c->sets;
    switch (c->kind) {
    case PROBE_MEM_D2D:
        PROBE_CUDA(
            cudaMemcpyAsync(c->dst[i], c->src[i], (size_t)c->size, cudaMemcpyDeviceToDevice, s),
            error);
        break;
    case PROBE_MEM_D2D_KERNEL:
        PROBE_CUDA(probe_k_copy(c->dst[i], c->src[i], c->size, s), error);
        break;
    case PROBE_MEM_H2D:
        PROBE_CUDA(
            cudaMemcpyAsync(c->dst[i], c->src[i], (size_t)c->size, cudaMemcpyHostToDevice, s),
            error);
        break;
    case PROBE_MEM_D2H:
        PROBE_CUDA(
            cudaMemcpyAsync(c->dst[i], c->src[i], (size_t)c->size, cudaMemcpyDeviceToHost, s),
            error);
        break;
    }
    return TRUE;
}

/* Bytes through memory per copy: a device copy reads and writes each byte
 * (STREAM's convention), a host copy moves it once over the link. */
static gboolean on_device(ProbeMemKind kind)
{
    return kind == PROBE_MEM_D2D || kind == PROBE_MEM_D2D_KERNEL;
}

static double traffic(ProbeMemKind kind, int64_t size)
{
    return on_device(kind) ? 2.0 * size : (double)size;
}

gboolean probe_copy_work(ProbeRun *run, ProbeMemKind kind, int64_t size, ProbeWork *w,
                         GError **error)
{
    CopyCtx *c = g_new0(CopyCtx, 1);
    c->kind = kind;
    c->size = size;
    w->ctx = c;
    w->free_ctx = copy_free;
    w->launch = copy_launch;
    w->flops = NAN;
    w->bytes = traffic(kind, size);
    gboolean device = on_device(kind);
    size_t free_b = 0, total_b = 0;
    cudaMemGetInfo(&free_b, &total_b);
    /* Host links are far slower than any cache: one buffer pair. */
    int sets =
        device ? MIN(MAX_SETS, probe_rotation_sets(run, 2.0 * size, 0.6 * (double)free_b)) : 1;
    for (int i = 0; i < sets; i++) {
        c->sets = i + 1;
        cudaError_t e = cudaSuccess;
        if (kind == PROBE_MEM_H2D) {
            e = cudaMallocHost(&c->src[i], (size_t)size);
            if (e == cudaSuccess)
                memset(c->src[i], 1, (size_t)size); /* touch every page */
            if (e == cudaSuccess)
                e = cudaMalloc(&c->dst[i], (size_t)size);
        } else if (kind == PROBE_MEM_D2H) {
            e = cudaMalloc(&c->src[i], (size_t)size);
            if (e == cudaSuccess)
                e = cudaMallocHost(&c->dst[i], (size_t)size);
            if (e == cudaSuccess)
                memset(c->dst[i], 1, (size_t)size);
        } else {
            e = cudaMalloc(&c->src[i], (size_t)size);
            if (e == cudaSuccess)
                e = cudaMalloc(&c->dst[i], (size_t)size);
        }
        if (e != cudaSuccess) {
            g_set_error(error, PROBE_ERROR, PROBE_ERROR_CUDA,
                        "allocating 2 x %" G_GINT64_FORMAT " bytes for %s: %s", (gint64)size,
                        probe_mem_name(kind), cudaGetErrorString(e));
            return FALSE;
        }
        if (kind != PROBE_MEM_H2D)
            PROBE_CUDA(cudaMemset(c->src[i], 1, (size_t)size), error);
    }
    PROBE_CUDA(cudaDeviceSynchronize(), error); /* the memsets ran on the legacy stream */
    return TRUE;
}

gboolean probe_bench_memory(ProbeRun *run, const ProbePlan *plan, GError **error)
{
    if (plan->mem->len == 0)
        return TRUE;
    g_autofree char *peak_host = g_strdup_printf("%.0f", run->target.host_bw / 1e9);
    const char *extra[] = {"d2d_method",
                           "cudaMemcpyAsync",
                           "host_memory",
                           "pinned (cudaMallocHost)",
                           "gb_s",
                           "d2d: 2 x bytes (read + write) / time; h2d, d2h: "
                           "bytes / time",
                           "peak_host_gb_s",
                           peak_host,
                           NULL};
    g_autoptr(ProbeCsv) csv = probe_run_csv(run, "memcpy", PROBE_KIND_MEMCPY, extra,
                                            probe_cols_memcpy, PROBE_COL_GBS, error);
    if (csv == NULL)
        return FALSE;
    ProbeTimerConfig cfg;
    probe_run_timer(run, probe_options_min_time_s(run->opt), &cfg);
    double best[4] = {0, 0, 0, 0};
    for (guint i = 0; i < plan->mem->len; i++) {
        const ProbeMemPoint *p = &g_array_index(plan->mem, ProbeMemPoint, i);
        ProbeWork w = {0};
        ProbeTiming t;
        gboolean ok = probe_copy_work(run, p->kind, p->bytes, &w, error) &&
                      probe_time(&cfg, w.launch, w.ctx, &t, error);
        probe_work_clear(&w);
        if (!ok)
            return FALSE;
        double bytes = traffic(p->kind, p->bytes);
        probe_csv_str(csv, probe_mem_name(p->kind));
        probe_csv_int(csv, p->bytes);
        probe_schema_timing(csv, &t, PROBE_COL_GBS, NAN, bytes);
        if (!probe_csv_end_row(csv, error))
            return FALSE;
        best[p->kind] = MAX(best[p->kind], bytes / (t.us.median * 1e-6));
        probe_run_progress(run, "memory", (int)i + 1, (int)plan->mem->len);
    }
    for (int k = 0; k < 4; k++)
        if (best[k] > 0) {
            double peak = on_device(k) ? run->target.peak_mem_bw : run->target.host_bw;
            g_string_append_printf(
                run->summary, "memcpy %-3s best %.0f GB/s = %.0f %% of %.0f GB/s\n",
                probe_mem_name(k), best[k] / 1e9, 100 * best[k] / peak, peak / 1e9);
        }
    return probe_csv_close(g_steal_pointer(&csv), error);
}
