/* The benchmark grid: every point each benchmark will time, worked out from
 * the options and the device before anything runs, so that --dry-run can
 * print it (and estimate the duration) without a GPU and a real run times
 * exactly what the dry run showed. */
#ifndef PROBE_PLAN_H
#define PROBE_PLAN_H

#include "args.h"
#include "batch.h"

#include <stdio.h>

G_BEGIN_DECLS

/* What the plan needs to know about the device (measured, or assumed for a
 * dry run). Peak rates only feed the duration estimate and the achieved-
 * versus-peak summary. */
typedef struct {
    char name[128];         /* device name */
    int sm;                 /* compute capability x 10 */
    int gpus;               /* visible devices */
    double mem_bytes;       /* device memory, bytes */
    double l2_bytes;        /* L2 cache, bytes */
    double peak_bf16_flops; /* dense bf16 tensor FLOP/s */
    double peak_fp8_flops;  /* dense fp8 tensor FLOP/s (0: no fp8) */
    double peak_mem_bw;     /* HBM bytes/s */
    double host_bw;         /* host link bytes/s per direction */
    gboolean has_nccl;      /* built with NCCL */
    gboolean assumed;       /* a dry-run guess, not a measured device */
} ProbeTarget;

/* A dry run's target: an A100 (sm 80), L40S (89) or H100 SXM (90) with the
 * hwprofiles/ peak numbers, @gpus devices of @mem_gb GB. */
void probe_target_assume(ProbeTarget *t, int sm, int gpus, double mem_gb, gboolean has_nccl);

typedef enum { PROBE_DT_BF16, PROBE_DT_FP8 } ProbeGemmDtype;
const char *probe_gemm_dtype_name(ProbeGemmDtype dt);

typedef struct {
    ProbeGemmDtype dtype; /* operand format (fp8: e4m3 in, bf16 out) */
    int64_t m, n, k;      /* Y[M,N] = X[M,K] W[N,K]^T */
    gboolean grid;        /* on the base grid */
    gboolean model;       /* a model-derived shape */
    int models;           /* index into ProbePlan.model_lists (-1: none) */
} ProbeGemmPoint;

typedef struct {
    int chunk;    /* new tokens (queries) */
    int context;  /* tokens already cached before the chunk */
    int heads;    /* query heads on the device */
    int kv_heads; /* KV heads on the device */
    int head_dim; /* per-head width */
} ProbePrefillPoint;

typedef struct {
    int batch;      /* sequences, one new token each */
    int context;    /* tokens each sequence attends to */
    int heads;      /* query heads on the device */
    int kv_heads;   /* KV heads on the device */
    int head_dim;   /* per-head width */
    int block_size; /* tokens per KV-cache block */
} ProbeDecodePoint;

typedef enum {
    PROBE_EW_RMSNORM,
    PROBE_EW_ROPE,
    PROBE_EW_SILU_MUL,
    PROBE_EW_ADD,
    PROBE_EW_KV_STORE,
} ProbeEwOp;
/* servesim's op name: rmsnorm, rope, mlp_act, add, kv_store. (transfer none) */
const char *probe_ew_name(ProbeEwOp op);

typedef struct {
    ProbeEwOp op;
    int64_t tokens; /* rows */
    int width;      /* elements per token: hidden (rmsnorm, add), MLP width
                       (mlp_act output), (heads + kv_heads) x head_dim (rope),
                       2 x kv_heads x head_dim (kv_store: K and V) */
    int heads;      /* rope: query heads */
    int kv_heads;   /* rope, kv_store: KV heads */
    int head_dim;   /* rope, kv_store: head width; 0 otherwise */
} ProbeEwPoint;

/* Bytes an elementwise op moves through memory, with the predictor's
 * definitions: rmsnorm 2 T w + w, rope 2 T w, mlp_act 3 T w, add 3 T w,
 * kv_store 2 T w (read K/V, write them into the cache), in bf16 elements of
 * 2 bytes. */
double probe_ew_bytes(const ProbeEwPoint *p);

/* Copies. The plan times the first three (memcpy.csv); the copy kernel is
 * the power benchmark's memory-bound workload. */
typedef enum {
    PROBE_MEM_D2D,        /* cudaMemcpyAsync device to device */
    PROBE_MEM_H2D,        /* from pinned host memory */
    PROBE_MEM_D2H,        /* to pinned host memory */
    PROBE_MEM_D2D_KERNEL, /* a vectorised copy kernel */
} ProbeMemKind;
/* memcpy.csv's direction: d2d, h2d, d2h (d2d_kernel for the kernel). */
const char *probe_mem_name(ProbeMemKind kind);

typedef struct {
    ProbeMemKind kind;
    int64_t bytes; /* buffer size */
} ProbeMemPoint;

typedef enum {
    PROBE_COLL_ALL_REDUCE,
    PROBE_COLL_ALL_GATHER,
    PROBE_COLL_REDUCE_SCATTER,
    PROBE_COLL_ALL_TO_ALL,
    PROBE_COLL_SEND_RECV,
} ProbeCollOp;
const char *probe_coll_name(ProbeCollOp op);
/* nccl-tests' bus-bandwidth factor for @op over @ranks ranks. */
double probe_coll_bus_factor(ProbeCollOp op, int ranks);

typedef struct {
    ProbeCollOp op;
    int ranks;     /* GPUs in the group */
    int64_t bytes; /* message size as nccl-tests counts it */
} ProbeCollPoint;

typedef struct {
    char model[64];   /* model name or path */
    int tp;           /* tensor-parallel degree of the shard one GPU runs */
    char spec[128];   /* batch, predict --batch syntax */
    ProbeBatch batch; /* parsed */
} ProbeLayerPoint;

typedef enum {
    PROBE_POWER_IDLE,
    PROBE_POWER_GEMM_BF16,
    PROBE_POWER_GEMM_FP8,
    PROBE_POWER_HBM_COPY,
    PROBE_POWER_ATTN_PREFILL,
    PROBE_POWER_ATTN_DECODE,
    PROBE_POWER_LAYER_PREFILL,
    PROBE_POWER_LAYER_DECODE,
} ProbePowerWorkload;
const char *probe_power_name(ProbePowerWorkload w);

typedef struct {
    GArray *gemm;           /* ProbeGemmPoint, sorted by dtype, n, k, m */
    GArray *prefill;        /* ProbePrefillPoint */
    GArray *decode;         /* ProbeDecodePoint */
    GArray *ew;             /* ProbeEwPoint */
    GArray *mem;            /* ProbeMemPoint */
    GArray *coll;           /* ProbeCollPoint */
    GArray *layer;          /* ProbeLayerPoint */
    GArray *power;          /* ProbePowerWorkload */
    GPtrArray *notes;       /* what was skipped and why (char *) */
    GPtrArray *model_lists; /* char *: the models whose shapes include a point's (n, k),
                               ';' separated */
    int model_shapes;       /* distinct model-derived (n, k) */
    int model_files;        /* shape files read */
} ProbePlan;

/* Build the plan for @options on @target. Errors: PROBE_ERROR_ARGS or
 * PROBE_ERROR_INPUT for an unknown --models name, an unreadable shape file,
 * or a --layer that cannot run (unknown model, TP that does not divide it,
 * bad batch, an MoE or MLA layer: "not implemented yet"). (transfer full) */
ProbePlan *probe_plan_new(const ProbeOptions *options, const ProbeTarget *target, GError **error);
void probe_plan_free(ProbePlan *plan);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ProbePlan, probe_plan_free)

/* Points in the plan (power workloads included). */
int64_t probe_plan_points(const ProbePlan *plan);

/* Estimated seconds to run @plan on @target: per point a fixed set-up cost,
 * warm-up, and the longer of --min-time and five repetitions at the
 * roofline time; plus idle and hold times for power. */
double probe_plan_estimate_s(const ProbePlan *plan, const ProbeOptions *options,
                             const ProbeTarget *target);

/* Print the plan, one line per point, then the notes and the estimate. */
void probe_plan_print(FILE *f, const ProbePlan *plan, const ProbeOptions *options,
                      const ProbeTarget *target);

/* The roofline time (s) of a GEMM point on @target at 70 % of peak compute
 * and 80 % of memory bandwidth, plus 5 us of launch: used by the estimate
 * and to pick repetition counts before the first measurement. */
double probe_gemm_roofline_s(const ProbeGemmPoint *p, const ProbeTarget *target);
/* Bytes a GEMM point reads and writes (X, W, Y once each). */
double probe_gemm_bytes(const ProbeGemmPoint *p);

/* FLOPs and bytes of an attention point, the predictor's definitions:
 * prefill 4 d heads (chunk x context + chunk (chunk+1)/2), reading K and V
 * of context + chunk tokens and Q, O of the chunk; decode 4 d heads x batch
 * x context, reading K and V of batch x context tokens. */
double probe_prefill_flops(const ProbePrefillPoint *p);
double probe_prefill_bytes(const ProbePrefillPoint *p);
double probe_decode_flops(const ProbeDecodePoint *p);
double probe_decode_bytes(const ProbeDecodePoint *p);

G_END_DECLS

#endif /* PROBE_PLAN_H */
