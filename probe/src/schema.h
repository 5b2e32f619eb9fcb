/* The probe's CSV schema in one place (docs/probe-csv.md; servesim reads it
 * in src/perf/calib-probe.c): the header block every file starts with, the
 * columns of each kind, and the common timing and power columns. The
 * benchmarks write through these functions and the CPU tests write sample
 * files through them too and load those with servesim's own loader, so the
 * two sides cannot drift apart unnoticed. */
#ifndef PROBE_SCHEMA_H
#define PROBE_SCHEMA_H

#include "csv.h"
#include "sampler.h"
#include "stats.h"

G_BEGIN_DECLS

/* The result of timing one point (timer.h fills it). */
typedef struct {
    ProbeStats us;     /* per-launch time, microseconds */
    int reps;          /* launches per sample */
    int samples;       /* samples taken */
    gboolean graph;    /* timed through a CUDA graph */
    double t0_s, t1_s; /* wall-clock window of the samples (probe_now_s) */
    ProbeWindow power; /* sensor readings in that window (samples 0 without NVML) */
} ProbeTiming;

/* What the header block says about the run. Strings may not be NULL. */
typedef struct {
    const char *device;       /* CUDA device name */
    int device_index;         /* CUDA index */
    int device_count;         /* visible devices */
    int cc_major, cc_minor;   /* compute capability */
    int sm_count;             /* multiprocessors */
    int64_t memory_bytes;     /* device memory */
    int l2_bytes;             /* L2 cache */
    const char *driver;       /* NVIDIA driver version (NVML) */
    const char *cuda_runtime; /* e.g. "13.0" */
    const char *cuda_driver;  /* CUDA version the driver supports */
    const char *cublaslt;     /* cublasLtGetVersion() */
    const char *nccl;         /* NCCL version or "none ..." */
    int sm_clock_max_mhz;     /* peak SM clock */
    int mem_clock_max_mhz;    /* peak memory clock */
    const char *clocks;       /* SM and memory clocks, locked or why not */
    double power_limit_w;     /* enforced power limit, W (0 unknown) */
    const char *power_source; /* nvml-instant, nvml-average, none: why */
    double sample_hz;         /* power/clock sampling rate */
    double peak_bf16_tflops;  /* derived peaks (device.h) */
    double peak_fp8_tflops;
    double peak_hbm_gb_s;
    const char *timing;  /* how points are timed */
    const char *command; /* the command line */
} ProbeMetaInfo;

/* The header lines of every file of a run as a NULL-terminated list of
 * alternating keys and values, dated now (UTC). It holds every key servesim
 * requires (device, driver, cuda, clocks, date) and more. (transfer full) */
GPtrArray *probe_schema_meta(const ProbeMetaInfo *info);

/* Kinds and their own columns (before the common ones). */
#define PROBE_KIND_GEMM         "gemm"
#define PROBE_KIND_ATTN_PREFILL "attn_prefill"
#define PROBE_KIND_ATTN_DECODE  "attn_decode"
#define PROBE_KIND_ELEMENTWISE  "elementwise"
#define PROBE_KIND_MEMCPY       "memcpy"
#define PROBE_KIND_COLLECTIVE   "collective"
#define PROBE_KIND_LAYER        "layer"
#define PROBE_KIND_POWER        "power"
extern const char *const probe_cols_gemm[];         /* dtype, m, n, k, model */
extern const char *const probe_cols_attn_prefill[]; /* dtype, chunk, context, q_heads, ... */
extern const char *const probe_cols_attn_decode[];  /* dtype, batch, context, q_heads, ... */
extern const char *const probe_cols_elementwise[];  /* op, bytes, dtype */
extern const char *const probe_cols_memcpy[];       /* direction, bytes */
extern const char *const probe_cols_collective[];   /* op, bytes, ranks, ranks_per_node, ... */
extern const char *const probe_cols_layer[];        /* model, tp, batch, tokens, op, count */
extern const char *const probe_cols_power[];        /* every column of power.csv */

#define PROBE_COL_TFLOPS 1u /* a tflops column */
#define PROBE_COL_GBS    2u /* a gb_s column */

/* Open "<dir>/<file>.csv" of @kind with the header lines @meta and @extra
 * (either NULL), @columns, then the common ones: time_us (the median per
 * launch), time_us_p10, time_us_p90, time_us_min, time_us_mean,
 * time_us_std, samples, the @perf columns, power_w, sm_clock_mhz,
 * mem_clock_mhz. (transfer full) */
ProbeCsv *probe_schema_open(const char *dir, const char *file, const char *kind,
                            const char *const *meta, const char *const *extra,
                            const char *const *columns, unsigned perf, GError **error);
/* Append the common cells for @t; TFLOP/s from @flops and GB/s from @bytes
 * per launch (NaN: an empty cell). */
void probe_schema_timing(ProbeCsv *csv, const ProbeTiming *t, unsigned perf, double flops,
                         double bytes);

G_END_DECLS

#endif /* PROBE_SCHEMA_H */
