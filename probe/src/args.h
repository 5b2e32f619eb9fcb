/* Command line of the probe. Parsing is separate from running so that the
 * CPU tests can check every option and its errors without a GPU. */
#ifndef PROBE_ARGS_H
#define PROBE_ARGS_H

#include "probe.h"

G_BEGIN_DECLS

#define PROBE_LOCK_NONE (-1) /* lock_clocks_mhz: leave the clocks alone */
#define PROBE_LOCK_MAX  0    /* lock_clocks_mhz: lock at the maximum SM clock */

typedef struct {
    guint benches;         /* bit mask of (1u << ProbeBench) to run */
    gboolean quick;        /* --quick: the subset that finishes in minutes */
    gboolean dry_run;      /* --dry-run: print the planned points, touch no GPU */
    gboolean check_device; /* --check-device: describe the device and exit */
    gboolean verify;       /* check own kernels against references first */
    gboolean graphs;       /* time repetitions inside a CUDA graph */
    gboolean help;         /* -h/--help */
    gboolean version;      /* --version */
    char *out_dir;         /* output folder */
    int device;            /* CUDA device index */
    char *shapes_dir;      /* folder of model shape files (NULL: <source>/probe/shapes) */
    char **models;         /* model shape files to time (NULL: all, or the quick set) */
    GPtrArray *layers;     /* "MODEL:TP:BATCH" (empty: the default set) */
    int block_sizes[8];    /* KV-cache block sizes of the decode benchmark */
    int n_block_sizes;     /* entries used (default: 16 alone) */
    double min_time_s;     /* s of timed repetitions per point (< 0: mode default) */
    double power_hold_s;   /* s each power workload is held */
    double idle_s;         /* s of idle power sampling */
    double sample_hz;      /* NVML samples per second */
    int lock_clocks_mhz;   /* PROBE_LOCK_NONE, PROBE_LOCK_MAX or a clock in MHz */
    int assume_sm;         /* dry run: compute capability x 10 (90 = Hopper) */
    int assume_gpus;       /* dry run: visible GPUs */
    double assume_mem_gb;  /* dry run: device memory, GB */
    char *command_line;    /* argv joined, for the CSV header */
} ProbeOptions;

/* Defaults: every benchmark, full grid, ./probe-out, device 0, verify and
 * graphs on, power hold 1 s, idle 3 s, 20 Hz sampling, clocks locked at max. */
void probe_options_init(ProbeOptions *options);
void probe_options_clear(ProbeOptions *options);

/* Parse @argv[1..]. Errors (PROBE_ERROR_ARGS) name the option, e.g.
 * "--only: unknown benchmark 'gem' (did you mean 'gemm'?)". */
gboolean probe_options_parse(ProbeOptions *options, int argc, char **argv, GError **error);

/* Seconds of timed repetitions per point: the explicit --min-time, else
 * 0.03 s with --quick and 0.1 s otherwise. */
double probe_options_min_time_s(const ProbeOptions *options);

/* Is @bench selected? */
gboolean probe_options_wants(const ProbeOptions *options, ProbeBench bench);

/* The --help text. (transfer none) */
const char *probe_usage(void);

G_END_DECLS

#endif /* PROBE_ARGS_H */
