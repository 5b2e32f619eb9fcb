/* Event-based timing of one benchmark point (see timer.h). */
#include "timer.h"

#include <math.h>
#include <string.h>

#define BATCH       32    /* samples enqueued between synchronisations */
#define MAX_SAMPLES 10000 /* hard cap per point */
#define MAX_REPS    1000  /* launches per sample */

gboolean probe_cuda_fail(GError **error, const char *what, cudaError_t e)
{
    g_set_error(error, PROBE_ERROR, PROBE_ERROR_CUDA, "%s: %s", what, cudaGetErrorString(e));
    return FALSE;
}

void probe_timer_config_init(ProbeTimerConfig *cfg, cudaStream_t stream, double min_time_s)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->stream = stream;
    cfg->graphs = TRUE;
    cfg->min_time_s = min_time_s;
    cfg->min_samples = 5;
    cfg->sample_s = 1e-3;
}

typedef struct {
    cudaEvent_t ev[2 * BATCH];
    cudaGraph_t graph;
    cudaGraphExec_t exec;
    GArray *us;
} State;

static void state_clear(State *st)
{
    for (int i = 0; i < 2 * BATCH; i++)
        if (st->ev[i] != NULL)
            cudaEventDestroy(st->ev[i]);
    if (st->exec != NULL)
        cudaGraphExecDestroy(st->exec);
    if (st->graph != NULL)
        cudaGraphDestroy(st->graph);
    if (st->us != NULL)
        g_array_free(st->us, TRUE);
}

/* Capture @reps launches into a graph; FALSE (and no error) when the
 * operation cannot be captured, so the caller falls back to direct launches. */
static gboolean capture(const ProbeTimerConfig *cfg, ProbeLaunchFn launch, void *ctx, int reps,
                        int rep0, State *st, GError **error)
{
    cudaStream_t s = cfg->stream;
    if (cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal) != cudaSuccess) {
        (void)cudaGetLastError();
        return FALSE;
    }
    gboolean ok = TRUE;
    for (int r = 0; r < reps && ok; r++)
        ok = launch(ctx, s, rep0 + r, error);
    cudaGraph_t graph = NULL;
    cudaError_t e = cudaStreamEndCapture(s, &graph);
    if (!ok) {
        if (graph != NULL)
            cudaGraphDestroy(graph);
        return FALSE;
    }
    if (e != cudaSuccess || graph == NULL) {
        (void)cudaGetLastError();
        return FALSE;
    }
    st->graph = graph;
    if (cudaGraphInstantiate(&st->exec, graph, 0) != cudaSuccess) {
        (void)cudaGetLastError();
        st->exec = NULL;
        return FALSE;
    }
    return TRUE;
}

static gboolean run_sample(const ProbeTimerConfig *cfg, ProbeLaunchFn launch, void *ctx, int reps,
                           State *st, int *rep, GError **error)
{
    if (st->exec != NULL) {
        PROBE_CUDA(cudaGraphLaunch(st->exec, cfg->stream), error);
        return TRUE;
    }
    for (int r = 0; r < reps; r++)
        if (!launch(ctx, cfg->stream, (*rep)++, error))
            return FALSE;
    return TRUE;
}

gboolean probe_time(const ProbeTimerConfig *cfg, ProbeLaunchFn launch, void *ctx, ProbeTiming *out,
                    GError **error)
{
    memset(out, 0, sizeof *out);
    State st = {0};
    cudaStream_t s = cfg->stream;
    gboolean ok = FALSE;
    int rep = 0;
    for (int i = 0; i < 2 * BATCH; i++)
        if (cudaEventCreate(&st.ev[i]) != cudaSuccess) {
            probe_cuda_fail(error, "cudaEventCreate", cudaGetLastError());
            goto done;
        }
    st.us = g_array_new(FALSE, FALSE, sizeof(double));
    /* Set-up work (fills, copies) may sit on other streams. */
    if (cudaDeviceSynchronize() != cudaSuccess) {
        probe_cuda_fail(error, "finishing the set-up", cudaGetLastError());
        goto done;
    }

    /* Warm-up: first-launch costs, clocks ramping up, caches. */
    for (int i = 0; i < 3; i++)
        if (!launch(ctx, s, rep++, error))
            goto done;
    if (cudaStreamSynchronize(s) != cudaSuccess) {
        probe_cuda_fail(error, "warm-up", cudaGetLastError());
        goto done;
    }
    /* One launch, best of three, to size the samples. */
    float one_ms = INFINITY;
    for (int i = 0; i < 3; i++) {
        float ms;
        cudaEventRecord(st.ev[0], s);
        if (!launch(ctx, s, rep++, error))
            goto done;
        cudaEventRecord(st.ev[1], s);
        if (cudaEventSynchronize(st.ev[1]) != cudaSuccess ||
            cudaEventElapsedTime(&ms, st.ev[0], st.ev[1]) != cudaSuccess) {
            probe_cuda_fail(error, "timing one launch", cudaGetLastError());
            goto done;
        }
        one_ms = fminf(one_ms, ms);
    }
    double one_s = MAX(one_ms * 1e-3, 1e-7);
    int reps = (int)ceil(cfg->sample_s / one_s);
    reps = CLAMP(reps, 1, MAX_REPS);
    out->reps = reps;

    if (cfg->graphs && capture(cfg, launch, ctx, reps, rep, &st, error)) {
        out->graph = TRUE;
        /* One untimed replay: the first launch of a graph uploads it. */
        if (cudaGraphLaunch(st.exec, s) != cudaSuccess || cudaStreamSynchronize(s) != cudaSuccess) {
            probe_cuda_fail(error, "cudaGraphLaunch", cudaGetLastError());
            goto done;
        }
    } else if (error != NULL && *error != NULL) {
        goto done; /* the launch itself failed during capture */
    }

    double gpu_s = 0, sample_est_s = one_s * reps;
    out->t0_s = probe_now_s();
    double deadline = out->t0_s + MAX(20 * cfg->min_time_s, 5.0) + 50 * sample_est_s;
    while ((gpu_s < cfg->min_time_s || (int)st.us->len < cfg->min_samples) &&
           st.us->len < MAX_SAMPLES && probe_now_s() < deadline) {
        int want = (int)ceil((cfg->min_time_s - gpu_s) / sample_est_s);
        want = MAX(want, cfg->min_samples - (int)st.us->len);
        int nb = CLAMP(want, 1, BATCH);
        for (int i = 0; i < nb; i++) {
            cudaEventRecord(st.ev[2 * i], s);
            if (!run_sample(cfg, launch, ctx, reps, &st, &rep, error))
                goto done;
            cudaEventRecord(st.ev[2 * i + 1], s);
        }
        if (cudaStreamSynchronize(s) != cudaSuccess) {
            probe_cuda_fail(error, "timed samples", cudaGetLastError());
            goto done;
        }
        for (int i = 0; i < nb; i++) {
            float ms;
            if (cudaEventElapsedTime(&ms, st.ev[2 * i], st.ev[2 * i + 1]) != cudaSuccess) {
                probe_cuda_fail(error, "cudaEventElapsedTime", cudaGetLastError());
                goto done;
            }
            double us = ms * 1e3 / reps;
            g_array_append_val(st.us, us);
            gpu_s += ms * 1e-3;
        }
        sample_est_s = MAX(gpu_s / st.us->len, 1e-7);
    }
    out->t1_s = probe_now_s();
    out->samples = (int)st.us->len;
    probe_stats_compute((const double *)st.us->data, st.us->len, &out->us);
    if (cfg->sampler != NULL)
        probe_sampler_window(cfg->sampler, out->t0_s, out->t1_s, &out->power);
    else
        probe_sampler_window_empty(&out->power);
    ok = TRUE;
done:
    if (!ok)
        (void)cudaStreamSynchronize(s);
    state_clear(&st);
    return ok;
}
