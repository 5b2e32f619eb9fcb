/* Collectives through NCCL over groups of 2, 4, 8... of the visible GPUs
 * (one process drives them all, ncclCommInitAll), with nccl-tests'
 * conventions: `bytes` is the per-rank buffer nccl-tests calls the size,
 * algbw = bytes / time, busbw = algbw x the op's bus factor. Times are
 * wall-clock over back-to-back operations (nccl-tests does the same): the
 * operation spans several devices, so no single device's events bracket it. */
#include "bench.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#ifndef PROBE_HAVE_NCCL

gboolean probe_bench_collectives(ProbeRun *run, const ProbePlan *plan, GError **error)
{
    (void)plan;
    (void)error;
    g_string_append(run->summary, "collectives: skipped (probe was built without NCCL)\n");
    return TRUE;
}

#else

#include <nccl.h>

#define MAX_RANKS 64

typedef struct {
    int n;
    ncclComm_t comm[MAX_RANKS];
    cudaStream_t stream[MAX_RANKS];
    void *send[MAX_RANKS];
    void *recv[MAX_RANKS];
    int64_t cap; /* bytes of each buffer */
} Group;

static gboolean nccl_fail(GError **error, const char *what, ncclResult_t r)
{
    g_set_error(error, PROBE_ERROR, PROBE_ERROR_CUDA, "%s: %s", what, ncclGetErrorString(r));
    return FALSE;
}

static void group_free(Group *g)
{
    for (int r = 0; r < g->n; r++) {
        cudaSetDevice(r);
        if (g->send[r] != NULL)
            cudaFree(g->send[r]);
        if (g->recv[r] != NULL)
            cudaFree(g->recv[r]);
        if (g->stream[r] != NULL)
            cudaStreamDestroy(g->stream[r]);
        if (g->comm[r] != NULL)
            ncclCommDestroy(g->comm[r]);
    }
    memset(g, 0, sizeof *g);
}

static gboolean group_init(Group *g, int n, int64_t cap, GError **error)
{
    memset(g, 0, sizeof *g);
    g->n = n;
    g->cap = cap;
    int devs[MAX_RANKS];
    for (int r = 0; r < n; r++)
        devs[r] = r;
    ncclResult_t nr = ncclCommInitAll(g->comm, n, devs);
    if (nr != ncclSuccess)
        return nccl_fail(error, "ncclCommInitAll", nr);
    for (int r = 0; r < n; r++) {
        cudaSetDevice(r);
        PROBE_CUDA(cudaStreamCreateWithFlags(&g->stream[r], cudaStreamNonBlocking), error);
        PROBE_CUDA(cudaMalloc(&g->send[r], (size_t)cap), error);
        PROBE_CUDA(cudaMalloc(&g->recv[r], (size_t)cap), error);
        PROBE_CUDA(cudaMemset(g->send[r], 0, (size_t)cap), error);
        PROBE_CUDA(cudaMemset(g->recv[r], 0, (size_t)cap), error);
        PROBE_CUDA(cudaDeviceSynchronize(), error);
    }
    return TRUE;
}

/* Enqueue one collective of @bytes on every rank. */
static gboolean issue(Group *g, ProbeCollOp op, int64_t bytes, GError **error)
{
    size_t elems = (size_t)(bytes / 2); /* bf16 */
    size_t part = elems / (size_t)g->n;
    ncclResult_t nr = ncclGroupStart();
    for (int r = 0; r < g->n && nr == ncclSuccess; r++) {
        switch (op) {
        case PROBE_COLL_ALL_REDUCE:
            nr = ncclAllReduce(g->send[r], g->recv[r], elems, ncclBfloat16, ncclSum, g->comm[r],
                               g->stream[r]);
            break;
        case PROBE_COLL_ALL_GATHER: /* bytes = gathered output */
            nr =
                ncclAllGather(g->send[r], g->recv[r], part, ncclBfloat16, g->comm[r], g->stream[r]);
            break;
        case PROBE_COLL_REDUCE_SCATTER: /* bytes = input before scattering */
            nr = ncclReduceScatter(g->send[r], g->recv[r], part, ncclBfloat16, ncclSum, g->comm[r],
                                   g->stream[r]);
            break;
        case PROBE_COLL_ALL_TO_ALL: /* bytes = what each rank sends, part to each peer */
            for (int peer = 0; peer < g->n && nr == ncclSuccess; peer++) {
                nr = ncclSend((char *)g->send[r] + peer * part * 2, part, ncclBfloat16, peer,
                              g->comm[r], g->stream[r]);
                if (nr == ncclSuccess)
                    nr = ncclRecv((char *)g->recv[r] + peer * part * 2, part, ncclBfloat16, peer,
                                  g->comm[r], g->stream[r]);
            }
            break;
        case PROBE_COLL_SEND_RECV: /* a ring: send to the next rank, receive from the previous */
            nr =
                ncclSend(g->send[r], elems, ncclBfloat16, (r + 1) % g->n, g->comm[r], g->stream[r]);
            if (nr == ncclSuccess)
                nr = ncclRecv(g->recv[r], elems, ncclBfloat16, (r + g->n - 1) % g->n, g->comm[r],
                              g->stream[r]);
            break;
        }
    }
    ncclResult_t ne = ncclGroupEnd();
    if (nr != ncclSuccess)
        return nccl_fail(error, probe_coll_name(op), nr);
    if (ne != ncclSuccess)
        return nccl_fail(error, "ncclGroupEnd", ne);
    return TRUE;
}

static gboolean sync_all(Group *g, GError **error)
{
    for (int r = 0; r < g->n; r++) {
        cudaSetDevice(r);
        PROBE_CUDA(cudaStreamSynchronize(g->stream[r]), error);
    }
    return TRUE;
}

/* Time one point: warm up, size a sample at about a millisecond, then
 * samples until --min-time and at least five. */
static gboolean time_coll(ProbeRun *run, Group *g, const ProbeCollPoint *p, ProbeTiming *out,
                          GError **error)
{
    memset(out, 0, sizeof *out);
    for (int i = 0; i < 5; i++)
        if (!issue(g, p->op, p->bytes, error))
            return FALSE;
    if (!sync_all(g, error))
        return FALSE;
    double t = probe_now_s();
    if (!issue(g, p->op, p->bytes, error) || !sync_all(g, error))
        return FALSE;
    double one = MAX(probe_now_s() - t, 1e-6);
    int reps = CLAMP((int)ceil(1e-3 / one), 1, 1000);
    double min_time = probe_options_min_time_s(run->opt), gpu = 0;
    g_autoptr(GArray) us = g_array_new(FALSE, FALSE, sizeof(double));
    out->t0_s = probe_now_s();
    while ((gpu < min_time || us->len < 5) && us->len < 10000) {
        double t0 = probe_now_s();
        for (int i = 0; i < reps; i++)
            if (!issue(g, p->op, p->bytes, error))
                return FALSE;
        if (!sync_all(g, error))
            return FALSE;
        double dt = probe_now_s() - t0;
        double per = dt / reps * 1e6;
        g_array_append_val(us, per);
        gpu += dt;
    }
    out->t1_s = probe_now_s();
    out->reps = reps;
    out->samples = (int)us->len;
    probe_stats_compute((const double *)us->data, us->len, &out->us);
    if (run->sampler != NULL)
        probe_sampler_window(run->sampler, out->t0_s, out->t1_s, &out->power);
    else
        probe_sampler_window_empty(&out->power);
    return TRUE;
}

gboolean probe_bench_collectives(ProbeRun *run, const ProbePlan *plan, GError **error)
{
    if (plan->coll->len == 0) {
        for (guint i = 0; i < plan->notes->len; i++)
            if (g_str_has_prefix(g_ptr_array_index(plan->notes, i), "collectives"))
                g_string_append_printf(run->summary, "%s\n",
                                       (const char *)g_ptr_array_index(plan->notes, i));
        return TRUE;
    }
    const char *extra[] = {"library",
                           "NCCL, one process driving every GPU (ncclCommInitAll)",
                           "bytes",
                           "per-rank buffer, nccl-tests' size",
                           "timing_collective",
                           "wall clock over back-to-back operations",
                           NULL};
    g_autoptr(ProbeCsv) csv = probe_run_csv(run, "collective", PROBE_KIND_COLLECTIVE, extra,
                                            probe_cols_collective, 0, error);
    if (csv == NULL)
        return FALSE;
    gboolean ok = TRUE;
    Group g = {0};
    double best_ar = 0;
    int best_ranks = 0;
    for (guint i = 0; i < plan->coll->len && ok; i++) {
        const ProbeCollPoint *p = &g_array_index(plan->coll, ProbeCollPoint, i);
        if (g.n != p->ranks) {
            group_free(&g);
            /* Buffers for the largest message of this group size. */
            int64_t cap = 0;
            for (guint j = i; j < plan->coll->len; j++) {
                const ProbeCollPoint *q = &g_array_index(plan->coll, ProbeCollPoint, j);
                if (q->ranks == p->ranks)
                    cap = MAX(cap, q->bytes);
            }
            if (!group_init(&g, p->ranks, cap, error)) {
                ok = FALSE;
                break;
            }
        }
        ProbeTiming t;
        if (!time_coll(run, &g, p, &t, error)) {
            ok = FALSE;
            break;
        }
        double algbw = p->bytes / (t.us.median * 1e-6) / 1e9;
        double busbw = algbw * probe_coll_bus_factor(p->op, p->ranks);
        probe_csv_str(csv, probe_coll_name(p->op));
        probe_csv_int(csv, p->bytes);
        probe_csv_int(csv, p->ranks);
        /* One process, one node: every group is inside the scale-up domain. */
        probe_csv_int(csv, run->dev.count);
        probe_csv_str(csv, "bfloat16");
        probe_csv_num(csv, algbw, 3);
        probe_csv_num(csv, busbw, 3);
        probe_schema_timing(csv, &t, 0, NAN, NAN);
        if (!probe_csv_end_row(csv, error)) {
            ok = FALSE;
            break;
        }
        if (p->op == PROBE_COLL_ALL_REDUCE && busbw > best_ar) {
            best_ar = busbw;
            best_ranks = p->ranks;
        }
        probe_run_progress(run, "collectives", (int)i + 1, (int)plan->coll->len);
    }
    group_free(&g);
    cudaSetDevice(run->dev.index);
    if (!ok)
        return FALSE;
    if (best_ar > 0)
        g_string_append_printf(run->summary, "all_reduce best busbw %.1f GB/s (%d GPUs)\n", best_ar,
                               best_ranks);
    return probe_csv_close(g_steal_pointer(&csv), error);
}

#endif /* PROBE_HAVE_NCCL */
