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
    /* Admission control (admission:), decided at arrival. */
    SV_REJECT_QUEUE_FULL,         /* the replica's or the cluster's waiting queue is full */
    SV_REJECT_RATE_LIMITED,       /* the token bucket had no token */
    SV_REJECT_SLO_PREDICTED_MISS, /* predicted TTFT above the request's class target */
} SvRejectReason;
const char *sv_reject_reason_name(SvRejectReason reason);

/* One request's outcome (64 bytes; a 1 M-request run keeps them all). */
typedef struct {
    SvTimeNs arrival_ns;
    SvTimeNs first_scheduled_ns; /* first time it entered a batch (queue delay end) */
    SvTimeNs first_token_ns;     /* end of the iteration that emitted token 1 */
    SvTimeNs finish_ns;          /* last token (or rejection time) */
    SvTimeNs max_itl_ns;         /* largest inter-token gap */
    /* Request index in arrival order, from 0. 32 bits: 2^31 records would
     * take 128 GiB, so no run gets near it. */
    int32_t id;
    int32_t input_tokens;
    int32_t output_tokens;
    int32_t replica;       /* global replica index, -1 when rejected before routing */
    int16_t preemptions;   /* times preempted */
    uint16_t tenant;       /* tenant index (sv_metrics_set_tenants), 0 with one tenant */
    uint8_t slo_class;     /* SLO class index (sv_metrics_set_slo_classes), 0 = the study's slo: */
    uint8_t outcome;       /* SvRequestOutcome */
    uint8_t reject_reason; /* SvRejectReason */
} SvRequestRecord;
_Static_assert(sizeof(SvRequestRecord) <= 64, "request records must stay within 64 bytes");

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
    double power_w;        /* cluster power, mean since the previous row, W */
    double batch_seqs;     /* mean requests per iteration started since the last row */
    double batch_tokens;   /* mean tokens (prefill + decode) per such iteration */
} SvSample;

/* Power, energy and cost of one pool (power/power.h fills them). */
typedef struct {
    const char *name;        /* pool name (not owned) */
    int devices;             /* accelerators in the pool */
    double energy_j;         /* accelerator energy, idle included */
    double mean_w, peak_w;   /* pool draw over the run and its instantaneous peak, W */
    double device_mean_w;    /* mean per device, W */
    double device_peak_w;    /* highest per-device power of any iteration, W */
    int64_t iterations;      /* iterations of the pool's replicas */
    int64_t throttled;       /* iterations a power cap slowed */
    int64_t cap_unmet;       /* iterations over their cap even at the lowest clock */
    double throttle_delay_s; /* time caps added to iterations, summed, s */
    double busy_s;           /* replica-seconds in iterations */
    double util_flops;       /* FLOP / matrix peak, iteration-time weighted, 0..1 */
    double util_mem;         /* memory bandwidth / peak, iteration-time weighted, 0..1 */
    double active_device_w;  /* mean per-device power while iterating, W */
    double device_hours;     /* devices x run span, h */
    double cost_usd;         /* device-hours x the pool's price */
} SvPoolPowerTotals;

/* The run's power section (summary.json "power"). */
typedef struct {
    gboolean modelled;        /* FALSE: no device has power figures */
    double span_s;            /* energy is integrated over [0, span_s] of simulated time */
    double idle_energy_j;     /* between iterations (idle gaps and idle replicas) */
    double attributed_j;      /* iteration energy given to requests by their tokens */
    double unattributed_j;    /* iteration energy of steps without tokens (swaps only) */
    double device_mean_w;     /* cluster energy / (devices x span) */
    double device_peak_w;     /* highest per-device power of any iteration */
    double budget_w;          /* cluster budget; 0 = none */
    double oversubscription;  /* nameplate / budget - 1 */
    const char *policy;       /* capping policy name, or NULL without a budget (static) */
    double over_budget_s;     /* time the draw was above the budget, s */
    double over_budget_j;     /* energy above the budget, J */
    int64_t capping_events;   /* times the controller tightened caps */
    int64_t release_events;   /* times it lifted them */
    double capped_s;          /* time with budget caps in force, s */
    double facility_energy_j; /* energy x PUE */
    double pue;
    double energy_cost_usd;         /* facility kWh x $/kWh */
    double device_cost_usd;         /* device-hours x $/device-hour, all pools */
    double carbon_g;                /* facility kWh x gCO2/kWh */
    const SvPoolPowerTotals *pools; /* num_pools entries (not owned) */
    int num_pools;
} SvPowerTotals;

/* Whole-run figures that the engine accumulates (not derivable from records). */
typedef struct {
    SvTimeNs end_ns; /* simulated time of the last event */
    int64_t arrived;
    int64_t preemptions;        /* total preemption events */
    double kv_utilization_mean; /* time-weighted, averaged over replicas */
    double mfu_mean;            /* model FLOPs / (devices x peak x duration) */
    double energy_j;            /* accelerator energy over the run, idle included, J */
    double power_mean_w;        /* cluster, energy / span, W */
    double power_peak_w;        /* cluster, instantaneous peak, W */
    double cost_usd;            /* devices and energy (power.cost), $ */
    SvPowerTotals power;        /* the details (power/power.h) */
    double wall_s;              /* host seconds spent simulating */
    int64_t events;             /* events processed */
    int64_t iterations;         /* iterations, all replicas */
    int num_replicas;
    int num_devices;
    /* Prefix cache, all replicas (zeros when engine.enable_prefix_caching is off). */
    gboolean prefix_caching;       /* engine.enable_prefix_caching */
    int64_t prefix_queries_tokens; /* known tokens of the requests looked up, per (re)admission */
    int64_t prefix_hits_tokens;    /* of those, found cached */
    int64_t prefix_queries_blocks; /* blocks those tokens fill */
    int64_t prefix_hits_blocks;    /* blocks found cached */
    int64_t prefix_evicted_blocks; /* cached blocks evicted to make room */
    /* Swap preemption (engine.preemption_mode swap). */
    int64_t swap_outs;       /* requests swapped out to the CPU tier */
    int64_t swap_ins;        /* requests swapped back in */
    int64_t swap_out_blocks; /* blocks copied GPU -> CPU */
    int64_t swap_in_blocks;  /* blocks copied CPU -> GPU */
    int64_t swap_fallbacks;  /* swap preemptions recomputed: CPU tier full */
    double swap_copy_s;      /* host-link copy time charged to iterations, s */
    int64_t cpu_kv_blocks;   /* CPU-tier blocks per replica (first replica) */
    /* Pipeline parallelism: replicas with more than one stage. */
    int pipelined_replicas;
    double pipeline_bubble_fraction;   /* 1 - stage busy time / (stages x time with a batch in
                                          flight), over those replicas; 0 without */
    double pipeline_batches_in_flight; /* mean batches in flight while any is */
    /* Disaggregated prefill/decode: KV moved from prefill to decode replicas. */
    int64_t kv_transfers;     /* transfers booked */
    double kv_transfer_bytes; /* KV bytes moved, each block once */
} SvRunTotals;

typedef struct SvMetrics SvMetrics;

/* @slo: the study's SLO (copied). (transfer full) */
SvMetrics *sv_metrics_new(const SvSloConfig *slo);
void sv_metrics_free(SvMetrics *metrics);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SvMetrics, sv_metrics_free)

/* Keep the request records in a deleted temporary file in @dir (NULL: the
 * system's temporary folder) instead of the heap: 64 bytes a request on
 * disk, and in memory only the 1 MiB chunk in use, so a 10 M-request run
 * does not hold 640 MB of records. The per-request KV, transfer and energy
 * tables go to a second such file (two chunks each in memory), the
 * time-series rows to a third (the page being written in memory), and the
 * summaries' exact percentiles and requests.csv's id order sort through
 * bounded memory (sv_metrics_set_spill_values). Call before the first
 * record. FALSE
 * (records stay on the heap) when the file cannot be made; a chunk that
 * does not fit on the disk stays on the heap too. Pointers from
 * sv_metrics_request stay valid, but reading records is then not
 * thread-safe (it drops chunks behind it). */
gboolean sv_metrics_spill(SvMetrics *metrics, const char *dir);
/* Values (16 bytes each) that a summary's exact percentiles keep in memory
 * before sorting them into runs in a deleted temporary file (see
 * metrics/quantile.h), in sv_metrics_spill's folder or the system's
 * temporary one: 256 Ki (4 MiB) unless set; 0: no limit. The results do not
 * depend on it: tests force it low. */
void sv_metrics_set_spill_values(SvMetrics *metrics, size_t values);
/* Record a finished or rejected request (copied). */
void sv_metrics_add_request(SvMetrics *metrics, const SvRequestRecord *record);
/* Record one inter-token gap (ns) into the ITL histogram. Hot path: O(1), no allocation. */
void sv_metrics_add_itl(SvMetrics *metrics, SvTimeNs gap_ns);
/* Record @n gaps of @gap_ns each: the same as @n calls of
 * sv_metrics_add_itl (a step's decodes mostly share one gap). */
void sv_metrics_add_itl_n(SvMetrics *metrics, SvTimeNs gap_ns, int64_t n);
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
    int64_t output_tokens;     /* of completed requests */
    int64_t slo_output_tokens; /* of completed requests that met their class's SLO */
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
/* (transfer none) @n_out: number of samples; valid until the next
 * sv_metrics_add_sample. */
const SvSample *sv_metrics_samples(const SvMetrics *metrics, size_t *n_out);
/* A reader of a spilled run's samples is done with rows below @upto: their
 * memory is given back (they stay readable). A no-op when not spilled. */
void sv_metrics_samples_read(const SvMetrics *metrics, size_t upto);
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

/* Per-request energy (J, its share of each iteration's energy by tokens),
 * kept beside the records by request id like the KV figures below; 0 when
 * none was set. */
void sv_metrics_set_request_energy(SvMetrics *metrics, int64_t id, double energy_j);
double sv_metrics_request_energy(const SvMetrics *metrics, int64_t id);

/* Per-pool power columns of timeseries.csv (power_w_<pool>): @names (copied)
 * once, then one row of @n values per sample, in sample order. Without the
 * call timeseries.csv has the cluster's power_w only. */
void sv_metrics_set_power_pools(SvMetrics *metrics, const char *const *names, int n);
void sv_metrics_add_pool_power(SvMetrics *metrics, const double *pool_w);
/* Sample @i's per-pool power (*@n values), or NULL without pool columns.
 * (transfer none) */
const double *sv_metrics_pool_power(const SvMetrics *metrics, size_t i, int *n);
/* The name of power column @i. (transfer none) */
const char *sv_metrics_power_pool_name(const SvMetrics *metrics, int i);

/* Per-request KV figures, kept beside the 64-byte records and indexed by
 * request id: most requests have none, and a run that sets none allocates
 * nothing. */
typedef struct {
    int32_t cached_tokens; /* prefix-cache hit when first scheduled, tokens */
    SvTimeNs preempted_ns; /* total time from preemption to resumption */
} SvRequestKv;
/* Set request @id's figures (copied). */
void sv_metrics_set_request_kv(SvMetrics *metrics, int64_t id, const SvRequestKv *kv);
/* Request @id's figures; zeros when none were set. */
void sv_metrics_request_kv(const SvMetrics *metrics, int64_t id, SvRequestKv *out);

/* Preemption, prefix-hit and queue-growth figures of a run. */
typedef struct {
    int64_t requests_preempted;  /* completed requests preempted at least once */
    int64_t requests_with_hits;  /* completed requests with a prefix-cache hit */
    SvDist preempted_s;          /* time preempted per completed request, s (zeros included) */
    int32_t waiting_peak;        /* most requests waiting in one sample, all replicas */
    double waiting_growth_per_s; /* least-squares slope of the waiting count over the
                                    samples up to the last arrival, requests/s: > 0
                                    under sustained overload */
} SvKvSummary;
void sv_metrics_kv_summary(const SvMetrics *metrics, SvKvSummary *out);

/* ---- disaggregated prefill/decode ---- */

/* A request a prefill replica handed over to a decode replica: where it went
 * and what its KV transfer took. Kept beside the records by request id,
 * like SvRequestKv. */
typedef struct {
    int32_t decode_replica; /* global replica index; -1 when not handed over */
    SvTimeNs block_wait_ns; /* from the hand-over to the decode-side blocks being reserved */
    SvTimeNs link_wait_ns;  /* from then to the transfer's start (the links were busy) */
    SvTimeNs transfer_ns;   /* from its start to the KV's arrival */
} SvRequestTransfer;
/* Set request @id's transfer (copied). */
void sv_metrics_set_request_transfer(SvMetrics *metrics, int64_t id, const SvRequestTransfer *t);
/* Request @id's transfer; FALSE (decode_replica -1, zeros) when it had none. */
gboolean sv_metrics_request_transfer(const SvMetrics *metrics, int64_t id, SvRequestTransfer *out);

/* The transfers of the completed requests that had one. */
typedef struct {
    int64_t requests; /* completed requests handed over */
    SvDist block_wait_s, link_wait_s, transfer_s;
    SvDist queue_s; /* block wait + link wait */
} SvTransferSummary;
void sv_metrics_transfer_summary(const SvMetrics *metrics, SvTransferSummary *out);

/* ---- SLO classes and tenants ---- */

/* The run's SLO classes, @n of them (copied, names too): a record's
 * slo_class indexes this table, and each request is judged against its own
 * class's targets (attainment, goodput, slo_met). Entry 0 is the study's
 * slo: under the name "default". Without this call the table is that one
 * class, built from the SLO given at creation. */
void sv_metrics_set_slo_classes(SvMetrics *metrics, const SvSloClass *classes, int n);
int sv_metrics_num_slo_classes(const SvMetrics *metrics);
/* (transfer none) */
const SvSloClass *sv_metrics_slo_class(const SvMetrics *metrics, int index);

/* The run's tenant names, @n of them (copied): a record's tenant indexes
 * them. Without this call there is one tenant, "default". */
void sv_metrics_set_tenants(SvMetrics *metrics, const char *const *names, int n);
int sv_metrics_num_tenants(const SvMetrics *metrics);
/* (transfer none) */
const char *sv_metrics_tenant_name(const SvMetrics *metrics, int index);

/* The summary of one tenant's or one SLO class's records, by the rules of
 * SvSummary; goodput divides by the whole run's duration_s, so the groups'
 * goodputs add up to the run's. slo_met: the SLO percentile of each metric
 * meets the class's targets; a tenant's requests may span several classes,
 * each judged against its own (met when every class's share is). */
typedef struct {
    int64_t completed, rejected;
    SvDist ttft_s, tpot_s, e2e_s;
    double slo_attainment;         /* 0..1, over the group's completed requests */
    double goodput_requests_per_s; /* requests meeting their class's SLO per second of the run */
    gboolean slo_met;
} SvGroupSummary;

typedef enum { SV_GROUP_TENANT, SV_GROUP_SLO_CLASS } SvGroupBy;

/* One SvGroupSummary per tenant (index = tenant) or per SLO class (index =
 * class), *@n_out of them. O(records log records). (transfer full) g_free */
SvGroupSummary *sv_metrics_summarize_groups(SvMetrics *metrics, SvGroupBy by, size_t *n_out);

G_END_DECLS

#endif /* SV_METRICS_H */
