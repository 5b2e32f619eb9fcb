/* Background sampling of power and clocks. A thread reads a source (NVML, or
 * a fake in the tests) at a fixed rate for the whole run; each benchmark
 * point then asks for the statistics of the readings inside its own time
 * window. One long-lived thread keeps the rate steady across points and
 * costs nothing to start per point. */
#ifndef PROBE_SAMPLER_H
#define PROBE_SAMPLER_H

#include "nvml.h"

G_BEGIN_DECLS

/* Fill @out (t_s is set by the sampler); FALSE = no reading this time. */
typedef gboolean (*ProbeReadFn)(void *source, ProbeReading *out);

typedef struct ProbeSampler ProbeSampler;

typedef struct {
    int samples;         /* readings inside the window */
    double rate_hz;      /* samples / window length */
    double power_w_mean; /* NaN when no samples */
    double power_w_median;
    double power_w_p90;
    double power_w_max;
    double sm_clock_mhz_mean;
    double sm_clock_mhz_min;
    double mem_clock_mhz_mean;
    double temperature_c_max;
    double energy_j;           /* energy counter difference over the window (NaN if unknown) */
    uint64_t throttle_reasons; /* OR of the masks seen */
} ProbeWindow;

/* Start sampling @read(@source) every 1/@hz seconds. (transfer full) */
ProbeSampler *probe_sampler_start(ProbeReadFn read, void *source, double hz);
/* Stop the thread and free everything; NULL is a no-op. */
void probe_sampler_stop(ProbeSampler *sampler);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ProbeSampler, probe_sampler_stop)

/* Statistics of the readings with @t0_s <= t <= @t1_s (probe_now_s times). */
void probe_sampler_window(ProbeSampler *sampler, double t0_s, double t1_s, ProbeWindow *out);
/* An empty window: no samples, every statistic NaN (no NVML). */
void probe_sampler_window_empty(ProbeWindow *out);
/* Readings taken so far. */
int probe_sampler_count(ProbeSampler *sampler);
/* Drop readings older than @t_s (keeps memory bounded on long runs). */
void probe_sampler_forget_before(ProbeSampler *sampler, double t_s);

/* A ProbeReadFn over a ProbeNvml. */
gboolean probe_sampler_read_nvml(void *nvml, ProbeReading *out);

G_END_DECLS

#endif /* PROBE_SAMPLER_H */
