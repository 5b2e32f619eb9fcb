/* probe: the companion CUDA tool that times the operations servesim's
 * predictor models (GEMMs, attention, elementwise ops, copies, collectives,
 * whole layers) and writes them as CSV for `servesim calibrate`. This header
 * holds what every part shares: the error domain, the benchmark kinds and
 * version strings. Host code is C; only kernels live in .cu files. */
#ifndef PROBE_H
#define PROBE_H

#include <glib.h>
#include <stdint.h>

G_BEGIN_DECLS

#define PROBE_VERSION "0.1.0"
#ifndef PROBE_GIT_REV
#define PROBE_GIT_REV "unknown"
#endif

/* Errors of the probe. The CLI prints "probe: MESSAGE" and exits 2 for
 * ARGS, INPUT and NO_DEVICE (bad command line, bad shape file, no GPU), 1 for
 * the others (a CUDA/cuBLASLt/NCCL call failed, a kernel gave a wrong answer). */
#define PROBE_ERROR (probe_error_quark())
GQuark probe_error_quark(void);
typedef enum {
    PROBE_ERROR_ARGS,        /* command line */
    PROBE_ERROR_INPUT,       /* a shape file or model that cannot be used */
    PROBE_ERROR_NO_DEVICE,   /* no CUDA device or driver */
    PROBE_ERROR_CUDA,        /* a CUDA, cuBLASLt or NCCL call failed */
    PROBE_ERROR_VERIFY,      /* a kernel disagreed with its reference */
    PROBE_ERROR_IO,          /* writing the output */
    PROBE_ERROR_NVML,        /* NVML could not be loaded or queried */
    PROBE_ERROR_UNSUPPORTED, /* a library declines this case (a point is skipped) */
} ProbeErrorCode;

/* The benchmark families, in the order a full run executes them (power
 * last, so that the idle reading follows a warm device as in service). */
typedef enum {
    PROBE_BENCH_GEMM,
    PROBE_BENCH_ATTENTION,
    PROBE_BENCH_ELEMENTWISE,
    PROBE_BENCH_MEMORY,
    PROBE_BENCH_COLLECTIVES,
    PROBE_BENCH_LAYER,
    PROBE_BENCH_POWER,
    PROBE_BENCH_COUNT
} ProbeBench;

/* Name used by --only/--skip ("gemm", "attention", ...). (transfer none) */
const char *probe_bench_name(ProbeBench bench);
/* NULL-terminated list of every benchmark name. (transfer none) */
const char *const *probe_bench_names(void);

/* Monotonic wall clock in seconds (for power windows and time budgets). */
double probe_now_s(void);

G_END_DECLS

#endif /* PROBE_H */
