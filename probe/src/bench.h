/* What every benchmark shares while the probe runs: the device, the timer
 * settings, the power sampler, the CSV header block, and the common tail of
 * each CSV row (timing statistics, then power and clock over the row's time
 * window). One ProbeRun per process; the benchmarks write one CSV each. */
#ifndef PROBE_BENCH_H
#define PROBE_BENCH_H

#include "args.h"
#include "csv.h"
#include "device.h"
#include "plan.h"
#include "timer.h"

#include <cuda_runtime_api.h>

G_BEGIN_DECLS

typedef struct ProbeGemm ProbeGemm;

typedef struct {
    const ProbeOptions *opt; /* command line */
    ProbeDevice dev;         /* the measured device */
    ProbeTarget target;      /* its peaks */
    ProbeNvml *nvml;         /* NULL without NVML */
    ProbeSampler *sampler;   /* NULL without NVML */
    cudaStream_t stream;     /* where single-device work runs */
    ProbeGemm *gemm;         /* cuBLASLt handle and workspace */
    GPtrArray *meta;         /* CSV header keys and values, NULL-terminated */
    GString *summary;        /* achieved-versus-peak lines for the end of the run */
    int points_done;         /* progress */
    int points_total;
} ProbeRun;

/* A timer configuration from the run's options with @min_time_s. */
void probe_run_timer(const ProbeRun *run, double min_time_s, ProbeTimerConfig *cfg);

/* probe_schema_open in the run's output folder with the run's header. */
ProbeCsv *probe_run_csv(ProbeRun *run, const char *file, const char *kind, const char *const *extra,
                        const char *const *columns, unsigned perf, GError **error);
/* Open "<out>/<file>.csv" with exactly @columns (no common tail). */
ProbeCsv *probe_run_csv_plain(ProbeRun *run, const char *file, const char *kind,
                              const char *const *columns, GError **error);

/* Progress line on stderr every so often ("gemm 120/1234"). */
void probe_run_progress(ProbeRun *run, const char *bench, int done, int total);

/* Operands that rotate through enough copies to exceed 4x the L2 cache, so
 * a repeated launch reads from HBM as a real layer's does: how many copies
 * of @set_bytes, within @budget_bytes. */
int probe_rotation_sets(const ProbeRun *run, double set_bytes, double budget_bytes);

/* Allocate @bytes on the device and fill them with hash values (bf16 /
 * fp8, on stream @s) or zeros (synchronously). Errors name the allocation. */
gboolean probe_alloc_bf16(void **ptr, int64_t elems, uint64_t seed, float scale, cudaStream_t s,
                          GError **error);
gboolean probe_alloc_fp8(void **ptr, int64_t elems, uint64_t seed, float scale, cudaStream_t s,
                         GError **error);
gboolean probe_alloc_zero(void **ptr, int64_t bytes, GError **error);
/* Copy @bytes from the host to a fresh device buffer (complete on return). */
gboolean probe_alloc_copy(void **ptr, const void *host, int64_t bytes, GError **error);

/* The benchmarks; each writes <out>/<name>.csv for its points in @plan. */
gboolean probe_bench_gemm(ProbeRun *run, const ProbePlan *plan, GError **error);
gboolean probe_bench_attention(ProbeRun *run, const ProbePlan *plan, GError **error);
gboolean probe_bench_elementwise(ProbeRun *run, const ProbePlan *plan, GError **error);
gboolean probe_bench_memory(ProbeRun *run, const ProbePlan *plan, GError **error);
gboolean probe_bench_collectives(ProbeRun *run, const ProbePlan *plan, GError **error);
gboolean probe_bench_layer(ProbeRun *run, const ProbePlan *plan, GError **error);
gboolean probe_bench_power(ProbeRun *run, const ProbePlan *plan, GError **error);

/* Correctness of the own kernels on small sizes against cpuref.c, run
 * before they are timed. Errors: PROBE_ERROR_VERIFY with the worst case. */
gboolean probe_verify_attention(ProbeRun *run, GError **error);
gboolean probe_verify_elementwise(ProbeRun *run, GError **error);

/* One operation packaged for repeated timing (the power benchmark holds
 * the same operations the other benchmarks time). */
typedef struct {
    ProbeLaunchFn launch;     /* one repetition */
    void *ctx;                /* its state */
    void (*free_ctx)(void *); /* frees @ctx and its device memory */
    double flops;             /* per launch */
    double bytes;             /* per launch, through memory */
} ProbeWork;
void probe_work_clear(ProbeWork *w);

gboolean probe_gemm_work(ProbeRun *run, const ProbeGemmPoint *p, ProbeWork *w, GError **error);
gboolean probe_prefill_work(ProbeRun *run, const ProbePrefillPoint *p, ProbeWork *w,
                            GError **error);
gboolean probe_decode_work(ProbeRun *run, const ProbeDecodePoint *p, ProbeWork *w, GError **error);
gboolean probe_copy_work(ProbeRun *run, ProbeMemKind kind, int64_t bytes, ProbeWork *w,
                         GError **error);
gboolean probe_layer_work(ProbeRun *run, const ProbeLayerPoint *p, ProbeWork *w, GError **error);

G_END_DECLS

#endif /* PROBE_BENCH_H */
