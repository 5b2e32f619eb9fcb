/* Execution-time predictor: the time of one engine iteration (one batch of
 * prefill chunks and decode tokens) on one replica of a plan, built op by op
 * from the model's layer shapes. v0 is a roofline per op with the hwprofile's
 * efficiency factors; calibrated tables slot in behind the same interface and
 * report their coverage per op. Results are memoised by bucketed batch shape. */
#ifndef SV_PREDICTOR_H
#define SV_PREDICTOR_H

#include "core/common.h"
#include "hw/hw.h"
#include "model/model.h"

G_BEGIN_DECLS

typedef enum {
    SV_COVERAGE_MEASURED,
    SV_COVERAGE_INTERPOLATED,
    SV_COVERAGE_EXTRAPOLATED,
    SV_COVERAGE_ROOFLINE,
} SvCoverage;
const char *sv_coverage_name(SvCoverage coverage);

/* An execution plan for one replica. */
typedef struct {
    int tp;               /* tensor_parallel_size */
    int pp;               /* pipeline_parallel_size */
    int ep;               /* expert_parallel_size */
    SvDtype act_dtype;    /* activations */
    SvDtype weight_dtype; /* weights (quantization) */
    SvDtype kv_dtype;     /* KV cache */
} SvPlan;

/* The shape of one iteration's batch, as aggregates the ops need. A prefill
 * chunk of c new tokens on top of p tokens already in the KV cache does
 * attention over c x (p + (c+1)/2) query-key pairs and reads p + c KV tokens. */
typedef struct {
    int num_prefill;           /* prefill chunks in the batch */
    int64_t prefill_tokens;    /* sum of chunk lengths (new tokens) */
    double prefill_attn_pairs; /* sum over chunks of c x (p + (c+1)/2) */
    int64_t prefill_kv_tokens; /* sum over chunks of p + c */
    int num_decode;            /* decode sequences (one new token each) */
    int64_t decode_kv_tokens;  /* sum of their context lengths (KV read per layer) */
} SvBatchShape;

/* Add a prefill chunk of @chunk new tokens after @context cached tokens. */
void sv_batch_add_prefill(SvBatchShape *shape, int64_t chunk, int64_t context);
/* Add @count decode sequences, each with @context tokens of context. */
void sv_batch_add_decode(SvBatchShape *shape, int count, int64_t context);

/* One op's prediction, as in `predict --json`: @time_s is one occurrence on one
 * device, @count how often it runs per iteration on the critical path. */
typedef struct {
    const char *name; /* canonical op name (DESIGN.md §4), static string */
    int count;        /* occurrences per iteration (e.g. layers per stage) */
    double time_s;    /* one occurrence */
    double flops;     /* one occurrence, per device */
    double bytes;     /* one occurrence, per device (memory traffic or message size) */
    SvCoverage coverage;
} SvOpTime;

typedef struct SvPredictor SvPredictor;

/* Build a predictor for @model on @hw under @plan. Errors (SV_PLAN_ERROR,
 * INFEASIBLE) when the plan does not divide the model (heads by tp, layers by
 * pp, experts by ep) or the dtype is unsupported. Keeps references to @model
 * and @hw, which must outlive it. (transfer full) */
SvPredictor *sv_predictor_new(const SvModel *model, const SvHw *hw, const SvPlan *plan,
                              GError **error);
void sv_predictor_free(SvPredictor *predictor);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SvPredictor, sv_predictor_free)

/* Iteration time of @shape (memoised by bucketed shape; buckets are fine
 * enough that the error is under 1 %). @flops_out, when not NULL, receives
 * the model FLOPs of the iteration summed over all devices of the replica
 * (for MFU). An empty batch takes 0. */
SvTimeNs sv_predictor_iteration_ns(SvPredictor *predictor, const SvBatchShape *shape,
                                   double *flops_out);

/* The slowest pipeline stage's time of @shape (memoised with the iteration
 * time): the interval at which a full pipeline issues micro-batches. */
SvTimeNs sv_predictor_stage_max_ns(SvPredictor *predictor, const SvBatchShape *shape);

/* Number of pipeline stages (the plan's pp). */
int sv_predictor_num_stages(const SvPredictor *predictor);

/* Per-stage times of @shape in seconds, unmemoised: @stage_s (may be NULL)
 * receives sv_predictor_num_stages() values, @flops_out (may be NULL) the
 * model FLOPs. Returns their sum, v0's iteration time. */
double sv_predictor_stage_times(SvPredictor *predictor, const SvBatchShape *shape, double *stage_s,
                                double *flops_out);

/* The op-by-op breakdown of one iteration, unmemoised. (transfer full) GArray
 * of SvOpTime. *@iteration_s receives the total (sum of count x time plus
 * pipeline effects). */
GArray *sv_predictor_ops(SvPredictor *predictor, const SvBatchShape *shape, double *iteration_s);

/* Parse a --batch SPEC: comma list of prefill=TOKENSxCOUNT[@CONTEXT] and
 * decode=COUNT@CONTEXT terms. Errors: SV_CONFIG_ERROR/PARSE naming the term. */
gboolean sv_batch_parse(const char *spec, SvBatchShape *shape, GError **error);

/* Memo statistics, for benchmarks. */
void sv_predictor_memo_stats(const SvPredictor *predictor, uint64_t *hits, uint64_t *misses);

G_END_DECLS

#endif /* SV_PREDICTOR_H */
