/* Run metrics: one compact record per finished (or rejected) request, an
 * inter-token-latency histogram (gaps are summarised, never stored per token),
 * time-series samples, and the writers of summary.json, requests.csv,
 * timeseries.csv and the stdout summary table. Files are written to a
 * temporary name and renamed when complete. */
#ifndef SV_METRICS_H
#define SV_METRICS_H

#include "config/config.h"
#include "core/common.h"

G_BEGIN_DECLS

typedef enum {
    SV_REQ_COMPLETED,
    SV_REQ_REJECTED,
} SvRequestOutcome;

typedef enum {
    SV_REJECT_NONE,
    SV_REJECT_TOO_LONG,    /* input + output above max_model_len */
    SV_REJECT_KV_CAPACITY, /* needs more KV blocks than the replica has */
} SvRejectReason;
const char *sv_reject_reason_name(SvRejectReason reason);

/* One request's outcome (48-64 bytes; a 1 M-request run keeps them all). */
typedef struct {
    int64_t id; /* request index in arrival order, from 0 */
    SvTimeNs arrival_ns;
    SvTimeNs first_scheduled_ns; /* first time it entered a batch (queue delay end) */
    SvTimeNs first_token_ns;     /* end of the iteration that emitted token 1 */
    SvTimeNs finish_ns;          /* last token (or rejection time) */
    SvTimeNs max_itl_ns;         /* largest inter-token gap */
    int32_t input_tokens;
    int32_t output_tokens;
    int32_t replica;       /* global replica index, -1 when rejected before routing */
    int16_t preemptions;   /* times preempted */
    uint8_t outcome;       /* SvRequestOutcome */
    uint8_t reject_reason; /* SvRejectReason */
} SvRequestRecord;

/* One time-series row: cluster totals at time t. */
typedef struct {
    SvTimeNs t_ns;
    int64_t arrived;       /* cumulative */
    int64_t completed;     /* cumulative */
    int64_t rejected;      /* cumulative */
    int32_t running;       /* requests in the running set, all replicas */
    int32_t waiting;       /* requests queued, all replicas */
    double kv_utilization; /* used / total KV blocks, all replicas */
    int64_t output_tokens; /* cumulative tokens generated */
    int64_t iterations;    /* cumulative iterations */
    double power_w;        /* cluster power (0 until the power model lands) */
} SvSample;

/* Whole-run figures that the engine accumulates (not derivable from records). */
typedef struct {
    SvTimeNs end_ns; /* simulated time of the last event */
    int64_t arrived;
    int64_t preemptions;        /* total preemption events */
    double kv_utilization_mean; /* time-weighted, averaged over replicas */
    double mfu_mean;            /* model FLOPs / (devices x peak x duration) */
    double energy_j;            /* 0 until the power model lands */
    double power_mean_w;
    double power_peak_w;
    double cost_usd;
    double wall_s;      /* host seconds spent simulating */
    int64_t events;     /* events processed */
    int64_t iterations; /* iterations, all replicas */
    int num_replicas;
    int num_devices;
} SvRunTotals;

typedef struct SvMetrics SvMetrics;

/* @slo: the study's SLO (copied). (transfer full) */
SvMetrics *sv_metrics_new(const SvSloConfig *slo);
void sv_metrics_free(SvMetrics *metrics);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SvMetrics, sv_metrics_free)

/* Record a finished or rejected request (copied). */
void sv_metrics_add_request(SvMetrics *metrics, const SvRequestRecord *record);
/* Record one inter-token gap (ns) into the ITL histogram. Hot path: O(1), no allocation. */
void sv_metrics_add_itl(SvMetrics *metrics, SvTimeNs gap_ns);
/* Append one time-series row (copied). */
void sv_metrics_add_sample(SvMetrics *metrics, const SvSample *sample);

/* Percentile summary of a quantity, in seconds. */
typedef struct {
    double mean, p50, p90, p99, max;
} SvDist;

/* The summary of a finished run. Percentiles are over completed requests:
 * ttft, tpot ((e2e - ttft)/(output - 1), requests with output > 1), e2e,
 * queue (first_scheduled - arrival); itl over every inter-token gap. A request
 * meets the SLO when each set target holds for it; goodput counts those per
 * second; slo_attainment is their share of completed requests; slo_met says
 * whether the configured percentile of each metric meets its target.
 * Rules: request percentiles are exact, by linear interpolation between the
 * closest ranks (sv_percentile_sorted); ITL percentiles come from the
 * histogram by nearest rank (sv_metrics_itl_percentile_s), within 0.2 %.
 * Empty sets give 0. duration_s runs from the first arrival to the last
 * finish among all records (a rejection's finish is its rejection time);
 * every rate divides by it. A request with one output token has no TPOT and
 * meets a TPOT target trivially; slo_met needs at least one completion. */
typedef struct {
    int64_t completed, rejected;
    double duration_s; /* first arrival to last finish, s */
    SvDist ttft_s, tpot_s, itl_s, e2e_s, queue_s;
    double requests_per_s, input_tokens_per_s, output_tokens_per_s;
    double goodput_requests_per_s;
    double slo_attainment; /* 0..1 */
    gboolean slo_met;
    int64_t preemptions;
} SvSummary;

/* Compute the summary (sorting copies; records keep their order). */
void sv_metrics_summarize(SvMetrics *metrics, const SvRunTotals *totals, SvSummary *out);

/* Write summary.json, requests.csv (rows by request id) and timeseries.csv
 * into @dir (created if missing); each through a temporary file renamed at the
 * end. @config gives the study echo in summary.json. Errors: G_FILE_ERROR. */
gboolean sv_metrics_write(SvMetrics *metrics, const SvConfig *config, const SvRunTotals *totals,
                          const char *dir, GError **error);

/* The human-readable summary table (what `run` prints on stdout). (transfer full) */
char *sv_metrics_format_table(SvMetrics *metrics, const SvConfig *config,
                              const SvRunTotals *totals);

/* Read access, for the writers, tests and other modules. Records come back in
 * the order they were added (finish order), samples likewise. */
size_t sv_metrics_num_requests(const SvMetrics *metrics);
/* (transfer none) valid until the next sv_metrics_add_request. */
const SvRequestRecord *sv_metrics_request(const SvMetrics *metrics, size_t index);
/* (transfer none) @n_out: number of samples. */
const SvSample *sv_metrics_samples(const SvMetrics *metrics, size_t *n_out);
/* (transfer none) the SLO given at creation. */
const SvSloConfig *sv_metrics_slo(const SvMetrics *metrics);

/* Percentile @percentile (0..100) of the ITL histogram, in seconds: the
 * nearest-rank bucket's midpoint, clamped to the exact min and max; 0 when
 * no gap was recorded. */
double sv_metrics_itl_percentile_s(const SvMetrics *metrics, double percentile);

/* Percentile @percentile (0..100) of @sorted (ascending, @n values) by linear
 * interpolation between the closest ranks (numpy's default): with
 * h = (n - 1) p / 100, x[floor h] + (h - floor h)(x[floor h + 1] - x[floor h]).
 * 0 when @n is 0. */
double sv_percentile_sorted(const double *sorted, size_t n, double percentile);

/* Requests rejected for @reason among the records. */
int64_t sv_metrics_count_rejected(const SvMetrics *metrics, SvRejectReason reason);

G_END_DECLS

#endif /* SV_METRICS_H */
