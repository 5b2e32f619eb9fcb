/* Timing one benchmark point with CUDA events: warm up, estimate one
 * launch, choose how many launches make a sample of about a millisecond
 * (so event resolution and launch gaps vanish), capture them in a CUDA
 * graph (as vLLM replays decode steps), then time samples until --min-time
 * of GPU time and at least five samples are in. The sampler's power and
 * clock readings over the same wall-clock window come with the result. */
#ifndef PROBE_TIMER_H
#define PROBE_TIMER_H

#include "schema.h"

#include <cuda_runtime_api.h>

G_BEGIN_DECLS

/* Enqueue one repetition of the operation on @stream. @rep counts from 0 so
 * the operation can rotate through several copies of its operands (keeping
 * them out of L2, as a real layer's weights are). Must be capturable. */
typedef gboolean (*ProbeLaunchFn)(void *ctx, cudaStream_t stream, int rep, GError **error);

typedef struct {
    cudaStream_t stream;   /* where everything runs */
    gboolean graphs;       /* capture repetitions in a CUDA graph */
    double min_time_s;     /* s of timed GPU work per point */
    int min_samples;       /* at least this many samples */
    double sample_s;       /* target length of one sample */
    ProbeSampler *sampler; /* power/clock readings (may be NULL) */
} ProbeTimerConfig;

/* Defaults: graphs on, 5 samples of 1 ms, no sampler. */
void probe_timer_config_init(ProbeTimerConfig *cfg, cudaStream_t stream, double min_time_s);

/* Time @launch. Errors: PROBE_ERROR_CUDA naming the failing call, or
 * whatever @launch reports. */
gboolean probe_time(const ProbeTimerConfig *cfg, ProbeLaunchFn launch, void *ctx, ProbeTiming *out,
                    GError **error);

/* Set @error from a CUDA error; returns FALSE. */
gboolean probe_cuda_fail(GError **error, const char *what, cudaError_t e);
#define PROBE_CUDA(call, error)                                                                    \
    do {                                                                                           \
        cudaError_t e_ = (call);                                                                   \
        if (e_ != cudaSuccess)                                                                     \
            return probe_cuda_fail(error, #call, e_);                                              \
    } while (0)

G_END_DECLS

#endif /* PROBE_TIMER_H */
