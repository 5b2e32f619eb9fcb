/* Execution-time predictor: the time of one engine iteration (one batch of
 * prefill chunks and decode tokens) on one replica of a plan, built op by op
 * from the model's layer shapes. Each op's time comes from the hwprofile's
 * calibrated tables where it has them (perf/table.h: measured, interpolated
 * or extrapolated) and from a roofline with the profile's efficiency factors
 * otherwise, and says which (coverage). Results are memoised by bucketed
 * batch shape. */
#ifndef SV_PREDICTOR_H
#define SV_PREDICTOR_H

#include "core/common.h"
#include "hw/hw.h"
#include "model/model.h"
#include "perf/topology.h"

G_BEGIN_DECLS

typedef enum {
    SV_COVERAGE_MEASURED,
    SV_COVERAGE_INTERPOLATED,
    SV_COVERAGE_EXTRAPOLATED,
    SV_COVERAGE_ROOFLINE,
} SvCoverage;
const char *sv_coverage_name(SvCoverage coverage);

/* An execution plan for one replica: pp pipeline stages, each of dp
 * attention ranks of tp devices, so tp x pp x dp devices. Attention, dense
 * MLPs, shared experts, embedding and LM head run on each attention rank,
 * split over its tp devices (tensor parallel), on its own share of the
 * replica's sequences (attention data parallelism, as vLLM's
 * data_parallel_size with expert parallelism and SGLang's DP attention);
 * the routed experts are spread over all tp x dp devices of a stage as ep
 * expert-parallel ranks. With dp = 1, ep must divide tp (ep = 1: every expert
 * sliced over the TP group; ep = tp: vLLM's enable_expert_parallel), tokens
 * stay replicated over the TP group and the MoE output is all-reduced as a
 * dense MLP's; with dp > 1, ep must be tp x dp (vLLM: EP = TP x DP) and each
 * MoE layer dispatches tokens to the experts' devices and combines them back
 * with two all-to-alls. The fields after kv_dtype may be left 0 (dp 1,
 * packed placement, uniform expert load, vLLM's custom all-reduce on). */
typedef struct {
    int tp;                    /* tensor_parallel_size (per attention rank) */
    int pp;                    /* pipeline_parallel_size */
    int ep;                    /* expert_parallel_size */
    SvDtype act_dtype;         /* activations */
    SvDtype weight_dtype;      /* weights (quantization) */
    SvDtype kv_dtype;          /* KV cache */
    int dp;                    /* data_parallel_size: attention ranks per stage (0 = 1) */
    SvPlacementKind placement; /* how the devices fill nodes */
    const SvMoeLoad *moe_load; /* expert popularity and placement (NULL = uniform, linear);
                                  copied by sv_predictor_new */
    /* vLLM's engine key: every all-reduce through NCCL (FALSE: vLLM's custom
     * all-reduce where vLLM would run it, perf/topology.h). */
    gboolean disable_custom_all_reduce;
    /* engine.host_overheads: the name of one of the hwprofile's
     * overheads.profiles, whose terms replace its calibrated or default host
     * overhead (sv_predictor_new refuses a name the profile lacks), or
     * "none" (built in: no host time on the critical path); NULL = those.
     * Resolved at construction, not kept. */
    const char *host_overheads;
    /* vLLM's CUDA graphs (engine.max_cudagraph_capture_size, enforce_eager):
     * with cudagraph_limit set, a step of more new tokens than
     * cudagraph_max_tokens on an attention rank (0: every step, as
     * enforce_eager) runs its kernels eagerly and pays the hwprofile's
     * overheads.eager_us_per_layer on every layer and eager_us_per_moe_layer
     * on every MoE layer (op eager_overhead). FALSE
     * (zeroed plans, engines without the switch): no such cost. */
    gboolean cudagraph_limit;
    int64_t cudagraph_max_tokens; /* tokens */
    /* The fused MoE kernels (engine.moe_backend): which of the hwprofile's
     * expert streaming efficiencies applies (sv_hw_moe_mem_efficiency). */
    SvMoeBackend moe_backend;
} SvPlan;

/* The devices of one replica of @plan: tp x pp x dp. */
int sv_plan_devices(const SvPlan *plan);

/* Decode contexts are kept as a histogram of power-of-two buckets: bucket 0
 * holds contexts below 64 tokens, bucket b (1..14) [2^(b+5), 2^(b+6)), and
 * bucket 15 everything from 2^20 tokens on. */
#define SV_BATCH_CTX_BUCKETS 16

/* The shape of one iteration's batch, as aggregates the ops need. A prefill
 * chunk of c new tokens on top of p tokens already in the KV cache does
 * attention over c x (p + (c+1)/2) query-key pairs and reads p + c KV tokens.
 * Decode attention needs more than the mean context: a decode kernel's time
 * on contexts [100, 4000] is set by the long sequence, not by the 2050 of
 * their mean, so the contexts are also kept per bucket (counts and sums).
 * Build shapes with sv_batch_add_prefill/sv_batch_add_decode only. */
typedef struct {
    int num_prefill;           /* prefill chunks in the batch */
    int64_t prefill_tokens;    /* sum of chunk lengths (new tokens) */
    double prefill_attn_pairs; /* sum over chunks of c x (p + (c+1)/2) */
    int64_t prefill_kv_tokens; /* sum over chunks of p + c */
    int num_decode;            /* decode sequences (one new token each) */
    int64_t decode_kv_tokens;  /* sum of their context lengths (KV read per layer) */
    int32_t decode_ctx_count[SV_BATCH_CTX_BUCKETS]; /* decode sequences per context bucket */
    int64_t decode_ctx_sum[SV_BATCH_CTX_BUCKETS];   /* sum of their contexts, tokens */
} SvBatchShape;

/* Add a prefill chunk of @chunk new tokens after @context cached tokens. */
void sv_batch_add_prefill(SvBatchShape *shape, int64_t chunk, int64_t context);
/* The context bucket of @context tokens, and the range [lo, hi) of bucket @b. */
static inline int sv_batch_ctx_bucket(int64_t context)
{
    if (context < 64)
        return 0;
    int e = 63 - __builtin_clzll((unsigned long long)context); /* floor(log2), >= 6 */
    return e - 5 < SV_BATCH_CTX_BUCKETS - 1 ? e - 5 : SV_BATCH_CTX_BUCKETS - 1;
}
void sv_batch_ctx_range(int b, double *lo, double *hi);

/* Add @count decode sequences, each with @context tokens of context. Inline:
 * the serving engine calls it for every running sequence every iteration. */
static inline void sv_batch_add_decode(SvBatchShape *shape, int count, int64_t context)
{
    g_return_if_fail(shape != NULL && count > 0 && context >= 0);
    shape->num_decode += count;
    shape->decode_kv_tokens += (int64_t)count * context;
    int b = sv_batch_ctx_bucket(context);
    shape->decode_ctx_count[b] += count;
    shape->decode_ctx_sum[b] += (int64_t)count * context;
}

/* One op's prediction, as in `predict --json`: @time_s is one occurrence on one
 * device, @count how often it runs per iteration on the critical path. */
typedef struct {
    const char *name; /* canonical op name (DESIGN.md §4), static string */
    int count;        /* occurrences per iteration (e.g. layers per stage) */
    double time_s;    /* one occurrence */
    double flops;     /* one occurrence, per device */
    double bytes;     /* one occurrence, per device (memory traffic or message size) */
    SvCoverage coverage;
    /* Collectives only (group 0 otherwise). */
    int group;        /* devices taking part */
    int domains;      /* scale-up domains (nodes) they span */
    const char *link; /* "nvlink", "pcie", ... (the fabric's kind) or "scaleout", static */
    const char *algo; /* "ring/LL", "tree/Simple", "nvls", "direct", "table"..., static */
} SvOpTime;

typedef struct SvPredictor SvPredictor;

/* Build a predictor for @model on @hw under @plan. Errors (SV_PLAN_ERROR,
 * INFEASIBLE) when the plan does not divide the model (heads by tp, layers by
 * pp, experts by ep), breaks the EP rules above (ep | tp with dp = 1, ep = tp
 * x dp otherwise, dp > 1 only for MoE), gives measured expert frequencies of
 * the wrong length, has no link between its devices or an unsupported
 * dtype. Memory is not checked here (perf/plan.h). Keeps references to
 * @model and @hw, which must outlive it. (transfer full) */
SvPredictor *sv_predictor_new(const SvModel *model, const SvHw *hw, const SvPlan *plan,
                              GError **error);
void sv_predictor_free(SvPredictor *predictor);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SvPredictor, sv_predictor_free)

/* Iteration time of @shape, memoised by bucketed shape: token totals to
 * 1/128, decode contexts by a digest of their histogram. Against the exact
 * breakdown (sv_predictor_ops) the error is under 1 % on a roofline and a
 * tenth of a percent on average with tables, but up to several percent for
 * a token count just past a measured GEMM tile step that its bucket's start
 * does not share (bench/bench_predict.c prints both). @flops_out, when not
 * NULL, receives the model FLOPs of the iteration summed over all devices of
 * the replica (for MFU). An empty batch takes 0. */
SvTimeNs sv_predictor_iteration_ns(SvPredictor *predictor, const SvBatchShape *shape,
                                   double *flops_out);

/* Where an iteration's time goes, at the maximum clock: the power model
 * (power/power.h) reads its activity from it, and a lower SM clock stretches
 * its parts differently. Times are sums over the pipeline stages, like the
 * iteration time; FLOPs and bytes are per device (averaged over the stages'
 * devices). An op counts as compute-bound when its roofline FLOP time
 * (FLOPs / matrix peak) exceeds its memory time (bytes / memory peak),
 * whether its time came from a table or the roofline. */
typedef struct {
    double compute_s; /* compute-bound ops (GEMMs, attention), s */
    double memory_s;  /* memory-bound ops (decode GEMMs and attention, elementwise), s */
    double comm_s;    /* collectives (all-reduce, all-to-all, send/recv), s */
    double total_s;   /* the iteration; total - compute - memory - comm - eager is host time, s */
    /* An eager step's extra time (op eager_overhead; 0 when the step replays
     * a CUDA graph). It is GPU-busy time at the rest of the step's draw, not
     * host time: ML.ENERGY v3's B200 MoE boards draw as much in the longer
     * eager steps as just below the capture size. It does not stretch with
     * the clock. */
    double eager_s; /* s */
    double flops;   /* FLOPs executed per device */
    double bytes;   /* device-memory bytes moved per device (collective messages excluded) */
} SvIterProfile;

/* Lock the SM clock at @clock_factor of the profile's maximum
 * (power.sm_clock_mhz); 1 (the default) is the maximum. Iteration and stage
 * times scale as sv_iter_profile_time_s says; the memo is cleared. */
void sv_predictor_set_clock(SvPredictor *predictor, double clock_factor);

/* The iteration time of @shape at the predictor's clock (as
 * sv_predictor_iteration_ns) and, in @profile, its breakdown at the maximum
 * clock; memoised with it. @flops_out as in sv_predictor_iteration_ns. */
SvTimeNs sv_predictor_iteration_profile(SvPredictor *predictor, const SvBatchShape *shape,
                                        SvIterProfile *profile, double *flops_out);

/* The time of @profile's iteration at SM clock @clock_factor (fraction of
 * the maximum, 0 < f <= 1), in s. Compute-bound time scales as 1/f; memory-
 * bound time much less: by 1 + @memory_sensitivity (1/f - 1), the share of a
 * memory-bound kernel that is issue- and latency-bound on the SM clock (HBM
 * has its own clock); collectives and host time do not change. The sources
 * of the form and of the sensitivities are in hwprofiles/README.md. */
double sv_iter_profile_time_s(const SvIterProfile *profile, double clock_factor,
                              double memory_sensitivity);

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
/* The ops of pipeline stage @stage alone, and its time in *@stage_s (may be
 * NULL). (transfer full) GArray of SvOpTime. */
GArray *sv_predictor_stage_ops(SvPredictor *predictor, const SvBatchShape *shape, int stage,
                               double *stage_s);
/* The layers [*@first_layer, *@first_layer + *@num_layers) of stage @stage. */
void sv_predictor_stage_layers(const SvPredictor *predictor, int stage, int *first_layer,
                               int *num_layers);
/* Nodes one replica occupies, and its devices. */
int sv_predictor_nodes(const SvPredictor *predictor);
/* Of a MoE model: the expected token slots the busiest expert-parallel rank
 * gets when @tokens tokens (the whole replica's) each pick top-k experts, its
 * expected experts with at least one token, and its share of the slots on
 * average (the popularity of its experts). Returns FALSE for a dense model. */
gboolean sv_predictor_moe_load(const SvPredictor *predictor, double tokens, double *max_slots,
                               double *touched_experts, double *hot_share);

/* Parse a --batch SPEC: comma list of prefill=TOKENSxCOUNT[@CONTEXT] and
 * decode=COUNT@CONTEXT terms. Errors: SV_CONFIG_ERROR/PARSE naming the term. */
gboolean sv_batch_parse(const char *spec, SvBatchShape *shape, GError **error);

/* A memo miss is put together from caches of the ops' times by what each
 * depends on (token count, batch size, prefill and decode attention); with
 * @enabled FALSE it times every op again instead. The results are the same
 * to the last bit either way (tests and SERVESIM_NO_FASTPATH compare them);
 * only the speed differs. On by default. */
void sv_predictor_set_memo_split(SvPredictor *predictor, gboolean enabled);

/* Memo statistics, for benchmarks. */
void sv_predictor_memo_stats(const SvPredictor *predictor, uint64_t *hits, uint64_t *misses);

G_END_DECLS

#endif /* SV_PREDICTOR_H */
