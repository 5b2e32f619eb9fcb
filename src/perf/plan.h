/* A plan against device memory: what one device of a replica holds
 * (weights, reserves, KV cache), how many KV blocks a replica gets, and
 * whether the plan can run at all, refused with the numbers when it cannot.
 * The study loader (feasibility), the serving engine (KV blocks) and
 * `predict` all size memory here, so they always agree. */
#ifndef SV_PERF_PLAN_H
#define SV_PERF_PLAN_H

#include "config/config.h"
#include "perf/predictor.h"

G_BEGIN_DECLS

/* One device's memory under a plan (DESIGN.md §3): blocks = floor((capacity
 * x gpu_memory_utilization - weights - activation workspace - runtime
 * reserve) / (block_size x KV bytes per token per device)). A device holds
 * the KV of its stage's layers for the sequences of its attention rank;
 * the replica has dp attention ranks, each with that many blocks. */
typedef struct {
    double capacity_bytes;     /* device memory */
    double usable_bytes;       /* capacity x gpu_memory_utilization */
    double weight_bytes;       /* weights on the fullest device (the stage with the most) */
    double activation_bytes;   /* activation workspace */
    double runtime_bytes;      /* CUDA context, NCCL buffers, CUDA graphs */
    double kv_bytes;           /* left for the KV cache (negative: short by that much) */
    double kv_bytes_per_token; /* one token's KV on one device: its stage's full-attention layers */
    double block_bytes;        /* one KV block on one device */
    int64_t blocks_per_rank;   /* KV blocks of one attention rank (0 when none fit) */
    int64_t blocks;            /* of the replica: blocks_per_rank x dp */
    int layers_per_stage;      /* layers of the fullest stage */
    int devices;               /* tp x pp x dp */
} SvPlanMemory;

/* Size @plan's memory on @hw. Never fails; see sv_plan_check_fit. */
void sv_plan_memory(const SvModel *model, const SvHw *hw, const SvPlan *plan,
                    double gpu_memory_utilization, int block_size, SvPlanMemory *out);

typedef enum {
    SV_FIT_OK,
    SV_FIT_WEIGHTS, /* weights and reserves leave no KV block */
    SV_FIT_MAX_LEN, /* the KV cache cannot hold one sequence of max_model_len */
} SvPlanFit;

/* Does @plan run on @hw? Fills @out (may be NULL) as sv_plan_memory. On
 * failure sets @error (SV_PLAN_ERROR, INFEASIBLE) to a message that gives
 * the needed and available GB per device, and returns which check failed.
 * @max_model_len 0 skips the sequence check; so do models with
 * sliding-window layers, whose windowed layers keep less than a full
 * sequence. */
SvPlanFit sv_plan_check_fit(const SvModel *model, const SvHw *hw, const SvPlan *plan,
                            double gpu_memory_utilization, int block_size, int max_model_len,
                            SvPlanMemory *out, GError **error);

/* The plan of @pool of @config (its parallel sizes and placement, the
 * engine's dtypes and MoE load); moe_load points into @config. */
void sv_pool_plan(const SvConfig *config, const SvPoolConfig *pool, SvPlan *out);

G_END_DECLS

#endif /* SV_PERF_PLAN_H */
