/* One simulation of a study: the cluster (pools of replicas, router), the
 * workload feeding it and the metrics it produces, driven by an SvEngine.
 * Library code: returns data and GErrors; the CLI prints. */
#ifndef SV_SIM_H
#define SV_SIM_H

#include "config/config.h"
#include "metrics/metrics.h"
#include "perf/predictor.h"
#include "workload/workload.h"

G_BEGIN_DECLS

/* Test hook: replace the predictor by a function of the batch shape. */
typedef SvTimeNs (*SvIterTimeFn)(void *ctx, const SvBatchShape *shape);
/* Test hook: the time of pipeline stage @stage (0-based) on @shape. */
typedef SvTimeNs (*SvStageTimeFn)(void *ctx, const SvBatchShape *shape, int stage);

typedef struct {
    SvIterTimeFn iter_time_fn; /* NULL: the roofline/calibrated predictor */
    void *iter_time_ctx;
    int64_t kv_blocks; /* > 0: blocks per replica instead of the memory formula */
    /* Test hooks for swap preemption (0: from the config, model and hwprofile). */
    int64_t cpu_kv_blocks; /* > 0: CPU-tier blocks per replica instead of swap_space */
    double kv_block_bytes; /* > 0: bytes of one KV block on one device */
    /* Pipeline parallelism: per-stage times for pools with
     * pipeline_parallel_size > 1, which then pipeline batches (a pool with
     * only iter_time_fn runs as one stage). Takes precedence over
     * iter_time_fn for such pools. */
    SvStageTimeFn stage_time_fn;
    void *stage_time_ctx;
    /* Per-pool KV blocks (index = pool; > 0 overrides kv_blocks), or NULL. */
    const int64_t *pool_kv_blocks;
    int num_pool_kv_blocks;
    /* > 0: arrivals stop after this many requests (test hook for the
     * limit, 2^31 - 1: a request record's id is 32 bits). */
    int64_t max_requests;
    /* Predictors to reuse, one per pool (index = pool; NULL entries and a
     * NULL array: build one). Not owned; each must be built for its pool's
     * model, hardware and plan. A caller that simulates one config many
     * times (the capacity bisection, search/evaluate.c) keeps their memo
     * warm from run to run; results do not depend on it. Never share one
     * between threads. */
    SvPredictor *const *pool_predictors;
} SvSimOptions;

typedef struct SvSim SvSim;

/* Build the cluster of @config. @trace must be the loaded trace when the
 * workload names one. Errors: a plan that does not fit (no KV blocks left),
 * a scheduler or router the engine does not implement. (transfer full) */
SvSim *sv_sim_new(const SvConfig *config, const SvTrace *trace, const SvSimOptions *options,
                  GError **error);
void sv_sim_free(SvSim *sim);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SvSim, sv_sim_free)

/* One line on what scheduler @kind does (`servesim list schedulers`), or NULL
 * when the engine does not run it. (transfer none) */
const char *sv_scheduler_description(SvSchedulerKind kind);

/* Run to completion: every arrival is served or rejected. */
void sv_sim_run(SvSim *sim);

/* Interruption: sv_sim_run polls @fn every 1,024 events and, when it
 * returns TRUE, stops after the current event (a signal handler sets a
 * flag that @fn reads). The run's results are then incomplete: callers
 * write none. */
typedef gboolean (*SvSimStopFn)(void *user_data);
void sv_sim_set_stop(SvSim *sim, SvSimStopFn fn, void *user_data);
/* Whether the last sv_sim_run was stopped by the stop function. */
gboolean sv_sim_interrupted(const SvSim *sim);
/* Bad input found during the run (a streamed trace that changed after it
 * was checked), or NULL: then the results must not be written. (transfer none) */
const GError *sv_sim_input_error(const SvSim *sim);

/* A closed-loop client gives up after this many requests in a row rejected
 * at one instant for their length: simulated time does not move while it
 * replaces them, so without a limit a workload whose every request is too
 * long would spin for ever. */
#define SV_SIM_MAX_REJECTED_IN_A_ROW 100000
/* Why arrivals ended early (that limit), or NULL. (transfer none) */
const char *sv_sim_arrivals_note(const SvSim *sim);

/* Results. (transfer none) */
SvMetrics *sv_sim_metrics(SvSim *sim);
const SvRunTotals *sv_sim_totals(const SvSim *sim);

/* Balances checked by the tests: at the end of a run every one must hold. */
typedef struct {
    uint64_t blocks_allocated, blocks_freed;
    uint64_t events_scheduled, events_processed, events_cancelled, events_pending;
    int64_t arrived, completed, rejected, in_flight;
    int64_t kv_blocks_per_replica; /* first replica's pool size */
} SvSimBalance;
void sv_sim_balance(const SvSim *sim, SvSimBalance *out);

/* KV blocks a replica of @pool gets under DESIGN.md §3, or an error saying
 * by how much memory falls short. */
gboolean sv_sim_kv_blocks(const SvModel *model, const SvPoolConfig *pool,
                          const SvEngineConfig *engine, int64_t *blocks_out, GError **error);

/* The engine settings one replica of @pool runs under: @engine's, with
 * max_num_seqs and max_num_batched_tokens per attention data-parallel rank
 * as in vLLM, so data_parallel_size times the configured values. */
void sv_sim_pool_engine(const SvEngineConfig *engine, const SvPoolConfig *pool,
                        SvEngineConfig *out);

/* ---- observers: timeline (--trace-events) and progress ----
 * Optional hooks set before sv_sim_run. With none set the engine pays one
 * well-predicted branch per hook site and allocates nothing. */

/* A request's phase on the timeline. */
typedef enum {
    SV_PHASE_NONE,      /* not yet arrived */
    SV_PHASE_QUEUED,    /* routed; waits for its first batch */
    SV_PHASE_PREFILL,   /* its prompt (or the recomputation after a preemption) runs */
    SV_PHASE_DECODE,    /* has emitted a token since its last prefill; generating */
    SV_PHASE_PREEMPTED, /* evicted from the KV cache; waits to be recomputed */
    SV_PHASE_FINISHED,  /* emitted its last token */
    SV_PHASE_REJECTED,  /* refused at arrival (reject_reason says why) */
    SV_PHASE_TRANSFER,  /* prefill done on a prefill replica; its KV waits for or moves to a
                           decode replica */
} SvRequestPhase;

/* A request entering @phase at @t_ns. */
typedef struct {
    int64_t id; /* arrival index, as in requests.csv */
    SvTimeNs t_ns;
    int32_t replica;       /* replica it was routed to */
    int32_t input_tokens;  /* tokens */
    int32_t output_tokens; /* tokens */
    int32_t generated;     /* tokens emitted so far */
    uint8_t phase;         /* SvRequestPhase entered */
    uint8_t prev_phase;    /* SvRequestPhase left */
    uint8_t reject_reason; /* SvRejectReason when phase is REJECTED */
    /* Disaggregation: once a prefill replica has handed the request over,
     * its phases run on two replicas. Valid when handed_over is set. */
    uint8_t handed_over;  /* TRUE: the two fields below are set */
    int32_t prev_replica; /* replica of the phase left */
    int32_t home_replica; /* the replica it arrived at (its prefill replica) */
} SvRequestEvent;

/* One engine iteration, reported when it starts (its duration is known then). */
typedef struct {
    int32_t replica;
    SvTimeNs start_ns;
    SvTimeNs duration_ns;
    SvBatchShape shape;      /* the batch's composition */
    int32_t running;         /* requests in the replica's running set */
    int32_t waiting;         /* requests in its queue */
    int64_t kv_used_blocks;  /* blocks held after scheduling */
    int64_t kv_total_blocks; /* blocks of the replica */
    int64_t swap_blocks;     /* blocks copied to or from the CPU tier by this step */
    /* The batch's path through a pipelined replica's stages (num_stages > 1;
     * 1 and NULL otherwise), valid during the call: it enters stage s at
     * stage_start_ns[s] and leaves it at stage_end_ns[s], after stage s - 1
     * and after the batch before it in stage s. duration_ns runs from
     * start_ns to the last stage's end. */
    int32_t num_stages;
    const SvTimeNs *stage_start_ns;
    const SvTimeNs *stage_end_ns;
} SvIterationEvent;

typedef struct {
    void (*iteration)(void *user_data, const SvIterationEvent *event); /* NULL: not wanted */
    void (*request)(void *user_data, const SvRequestEvent *event);     /* NULL: not wanted */
    void (*sample)(void *user_data, const SvSample *sample); /* each timeseries row; or NULL */
    void *user_data;
} SvSimObserver;

/* Report to @observer (not copied: it must outlive the run) or NULL for none. */
void sv_sim_set_observer(SvSim *sim, const SvSimObserver *observer);

typedef struct {
    SvTimeNs now_ns;   /* simulated time */
    int64_t arrived;   /* requests so far */
    int64_t completed; /* requests so far */
    int64_t rejected;  /* requests so far */
    int64_t iterations;
    uint64_t events; /* processed so far */
} SvSimProgress;
typedef void (*SvSimProgressFn)(void *user_data, const SvSimProgress *progress);

/* Call @fn every 65,536 events during sv_sim_run (about every 10 ms of wall
 * time here); it decides itself whether to draw anything. NULL: none. */
void sv_sim_set_progress(SvSim *sim, SvSimProgressFn fn, void *user_data);

G_END_DECLS

#endif
