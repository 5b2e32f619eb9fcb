/* A what-if study as loaded from its YAML: cluster pools, engine settings
 * (vLLM's names and meanings), workload, SLO. Loading validates everything it
 * can before a simulation starts (types, ranges, unknown keys, model and
 * hardware names, trace files), so a run never starts on bad input. */
#ifndef SV_CONFIG_H
#define SV_CONFIG_H

#include "core/common.h"
#include "hw/hw.h"
#include "model/model.h"
#include "power/power-config.h"

G_BEGIN_DECLS

typedef enum {
    SV_ROUTER_ROUND_ROBIN,
    SV_ROUTER_RANDOM,
    SV_ROUTER_LEAST_OUTSTANDING,
    SV_ROUTER_LEAST_KV,
    SV_ROUTER_POWER_OF_TWO,
    SV_ROUTER_PREFIX_AFFINITY,
    SV_ROUTER_COUNT
} SvRouterKind;
extern const char *const sv_router_names[]; /* NULL-terminated, index = SvRouterKind */

typedef enum {
    SV_SCHED_VLLM_V0,
    SV_SCHED_VLLM_V1,
    SV_SCHED_SARATHI,
    SV_SCHED_ORCA,
    SV_SCHED_STATIC,
    SV_SCHED_LIGHTLLM,
    SV_SCHED_EDF,
    SV_SCHED_TRTLLM,
    SV_SCHED_COUNT
} SvSchedulerKind;
extern const char *const sv_scheduler_names[]; /* NULL-terminated, index = SvSchedulerKind */

typedef enum { SV_ROLE_MIXED, SV_ROLE_PREFILL, SV_ROLE_DECODE } SvPoolRole;
extern const char *const sv_role_names[];

/* Disaggregated prefill/decode: how a request whose prompt ran on a prefill
 * replica picks its decode replica (serve/disagg.c says what each reads). */
typedef enum {
    SV_DECODE_LEAST_KV,          /* lowest share of KV blocks in use or promised */
    SV_DECODE_LEAST_OUTSTANDING, /* fewest requests handed to it and not finished */
    SV_DECODE_ROUND_ROBIN,
    SV_DECODE_COUNT
} SvDecodeRouterKind;
extern const char *const sv_decode_router_names[]; /* NULL-terminated, index = kind */

/* The KV transfer from prefill to decode replicas (cluster.kv_transfer). The
 * links inside a site come from the pools' hwprofiles; only the link between
 * sites is the study's to give. */
typedef struct {
    gboolean layerwise;               /* send each layer's KV as the prefill computes it */
    double inter_site_bw_bytes_per_s; /* B/s per direction between two sites; 0 = not given */
    double inter_site_latency_s;      /* s, one message between two sites */
} SvKvTransferConfig;

typedef enum { SV_PREEMPT_RECOMPUTE, SV_PREEMPT_SWAP } SvPreemptionMode;

/* TensorRT-LLM's capacity scheduler policy (engine.capacity_scheduler_policy,
 * scheduler trtllm only; serve/sched-trtllm.c). */
typedef enum {
    SV_CAPACITY_GUARANTEED_NO_EVICT, /* start only what fits to its max tokens (TRT-LLM default) */
    SV_CAPACITY_MAX_UTILIZATION,     /* admit while blocks are free, pause the newest when out */
} SvCapacityPolicy;
extern const char *const sv_capacity_policy_names[]; /* NULL-terminated, index = SvCapacityPolicy */

/* What the engine takes as each request's output limit (engine.max_tokens),
 * which guaranteed_no_evict reserves KV for: none sent (the engine's
 * max_model_len), or the request's own output length, as a benchmark client
 * that sends max_tokens = its target length does (trtllm-bench). */
typedef enum { SV_MAX_TOKENS_MAX_MODEL_LEN, SV_MAX_TOKENS_OUTPUT } SvMaxTokens;

typedef struct {
    char *name;                 /* pool name */
    char *hardware_name;        /* as written in the config */
    SvHw *hw;                   /* (owned) loaded hwprofile */
    int replicas;               /* model instances in the pool */
    int tensor_parallel_size;   /* devices per stage */
    int pipeline_parallel_size; /* stages */
    int expert_parallel_size;   /* expert-parallel group size */
    int data_parallel_size; /* attention data-parallel ranks per stage (MoE; perf/predictor.h) */
    int placement;          /* SvPlacementKind (perf/topology.h): devices on nodes */
    SvPoolRole role;
    /* Placement labels for the KV transfer of disaggregated pools: pools with
     * the same node_group share nodes (KV moves over the scale-up fabric),
     * pools in one site share a scale-out network, and sites are joined by
     * cluster.kv_transfer's link. NULL: the pool's own name / "default". */
    char *node_group; /* (owned) or NULL */
    char *site;       /* (owned) or NULL */
} SvPoolConfig;

typedef struct {
    SvSchedulerKind scheduler;
    int max_num_seqs;           /* sequences per iteration */
    int max_num_batched_tokens; /* tokens per iteration */
    gboolean enable_chunked_prefill;
    gboolean enable_prefix_caching;
    int block_size;                /* tokens per KV block */
    double gpu_memory_utilization; /* fraction of device memory servesim may use */
    int max_model_len;             /* tokens; 0 = the model's max_position_embeddings */
    SvDtype dtype;                 /* activations (auto resolves to the model's, else bf16) */
    SvDtype weight_dtype;          /* from quantization: none = dtype */
    SvDtype kv_cache_dtype;        /* auto = dtype */
    SvPreemptionMode preemption_mode;
    double swap_space_gib; /* CPU swap space per device, GiB (vLLM's swap_space; default 4) */
    gboolean disable_custom_all_reduce; /* vLLM's: NCCL for every all-reduce (default false) */
    SvMoeLoad moe_load; /* expert popularity and placement (moe_load, expert_placement_strategy) */
    SvCapacityPolicy capacity_scheduler_policy; /* trtllm: capacity scheduler policy */
    SvMaxTokens max_tokens; /* trtllm guaranteed_no_evict: the output limit it reserves for */
    /* engine.host_overheads: a host overhead profile every pool's hwprofile
     * names under overheads.profiles (e.g. vllm-0.5) or "none" (no host time
     * on the critical path), NULL = "default" (the profile's calibrated or
     * default host terms). (owned) */
    char *host_overheads;
    /* vLLM's CUDA graphs: the largest step (new tokens per attention rank)
     * replayed from a captured graph (compilation_config.
     * max_cudagraph_capture_size; default per scheduler, read_engine) and
     * enforce_eager (no graphs at all). Larger steps run eagerly and pay
     * the hwprofile's overheads.eager_us_per_layer (perf/predictor.h).
     * -1: the engine has no such switch (trtllm), no eager cost. */
    int max_cudagraph_capture_size; /* tokens */
    gboolean enforce_eager;
    /* engine.moe_backend: the fused MoE kernels (hw/hw.h SvMoeBackend), whose
     * expert streaming efficiency the hwprofile gives per family; auto =
     * what vLLM 0.11 picks by default. */
    SvMoeBackend moe_backend;
} SvEngineConfig;

typedef enum { SV_LEN_FIXED, SV_LEN_UNIFORM, SV_LEN_LOGNORMAL, SV_LEN_TRACE } SvLengthDist;

typedef struct {
    SvLengthDist dist;
    int64_t value;      /* fixed: tokens */
    int64_t min, max;   /* uniform: inclusive bounds; lognormal: clamp bounds (tokens) */
    double mean, sigma; /* lognormal: mean of the length in tokens and sigma of log-length */
} SvLengthSpec;

/* Synthetic shared system prompts (workload.prefix). */
typedef struct {
    int num_prompts;    /* K distinct system prompts; 0 = the generator is off */
    int tokens;         /* L: tokens in each, put before the drawn input length */
    double probability; /* p: chance that a request (or session) starts with one */
} SvPrefixConfig;

/* Synthetic multi-turn sessions (workload.sessions). */
typedef struct {
    int turns;           /* requests per session; 0 = no sessions */
    double think_time_s; /* mean (exponential) gap from one turn's arrival to the next's, s */
} SvSessionConfig;

typedef enum {
    SV_ARRIVAL_TRACE, /* the trace's own arrival times */
    SV_ARRIVAL_POISSON,
    SV_ARRIVAL_GAMMA,
    SV_ARRIVAL_CONSTANT,
    SV_ARRIVAL_CLOSED_LOOP,
} SvArrivalProcess;

typedef struct {
    char *trace_path;     /* resolved trace file, or NULL */
    gboolean has_lengths; /* lengths: given (else the trace gives them) */
    SvLengthSpec input;   /* input (prompt) tokens */
    SvLengthSpec output;  /* output (generated) tokens */
    SvArrivalProcess process;
    double rate_per_s;    /* poisson/gamma/constant: mean requests per second */
    double cv;            /* gamma: coefficient of variation of inter-arrival times */
    int concurrency;      /* closed-loop: requests kept in flight */
    int64_t num_requests; /* stop after this many arrivals; 0 = unbounded */
    double duration_s;    /* stop arrivals after this simulated time; 0 = unbounded */

    /* Sources of prefix sharing (workload/prefix-gen.c). */
    int hash_block_tokens;    /* tokens per trace hash id (Mooncake: 512) */
    SvPrefixConfig prefix;    /* shared system prompts; num_prompts 0 = off */
    SvSessionConfig sessions; /* multi-turn sessions; turns 0 = off */
} SvWorkloadConfig;

typedef struct {
    double ttft_s;     /* 0 = no TTFT target */
    double tpot_s;     /* 0 = no TPOT target */
    double e2e_s;      /* 0 = no E2E target */
    double percentile; /* the run meets its SLO when this percentile meets every target */
} SvSloConfig;

typedef struct {
    double sample_interval_s; /* timeseries.csv row spacing, simulated seconds */
} SvOutputConfig;

/* A named SLO class (slo_classes:). Class 0 of a run is always "default",
 * the study's slo: section; requests get a class from their tenant, their
 * trace row's slo_class column, or else the default. */
typedef struct {
    char *name;    /* as written */
    double ttft_s; /* 0 = no TTFT target */
    double tpot_s; /* 0 = no TPOT target */
    double e2e_s;  /* 0 = no E2E target */
    int priority;  /* scheduling priority, higher first (edf); 0 by default */
} SvSloClass;

/* Admission control at arrival (admission:), before a request joins a
 * replica's queue. Zero disables each rule. */
typedef struct {
    int max_queue_length;               /* waiting requests on the routed replica */
    int max_cluster_queue_length;       /* waiting requests on all replicas together */
    double rate_limit_per_s;            /* token bucket refill, requests per second; 0 = none */
    int rate_limit_burst;               /* token bucket capacity, requests */
    gboolean reject_predicted_slo_miss; /* reject when the predicted TTFT misses the target */
} SvAdmissionConfig;

/* One tenant of workload.tenants: its own request stream and SLO class. */
typedef struct {
    char *name;                /* as written */
    SvWorkloadConfig workload; /* its arrivals and lengths (owns trace_path) */
    int slo_class;             /* 0 = "default" (slo:), i + 1 = slo_classes[i]; -1 = none given */
    int priority;              /* overrides the class priority when has_priority */
    gboolean has_priority;
} SvTenantConfig;

typedef struct SvConfig SvConfig;
struct SvConfig {
    char *path; /* the study file */
    uint64_t seed;
    char *model_name; /* as written */
    SvModel *model;   /* (owned) */
    SvRouterKind router;
    GPtrArray *pools; /* SvPoolConfig*, owned, at least one */
    SvEngineConfig engine;
    SvWorkloadConfig workload;
    SvSloConfig slo;
    SvOutputConfig output;
    double router_staleness_s; /* the router sees replica load as of this long ago; 0 = live */
    /* prefix-affinity: leave the replica with the longest cached prefix for
     * the least loaded one when its outstanding requests exceed
     * factor x max(1, the least loaded replica's). */
    double prefix_affinity_load_factor;
    SvDecodeRouterKind decode_router; /* disaggregation: picks the decode replica */
    SvKvTransferConfig kv_transfer;   /* disaggregation: prefill-to-decode KV moves */
    SvAdmissionConfig admission;
    GPtrArray *slo_classes; /* SvSloClass*, owned, the named classes; NULL when none */
    GPtrArray *tenants;     /* SvTenantConfig*, owned; NULL = workload is one implicit tenant */
    SvPowerConfig power;    /* power: caps, clocks, cluster budget, prices (power/power.h) */
};

/* Load and validate a study. @overrides: NULL-terminated "a.b=value" strings
 * applied (in order) before validation. Resolves the model (models/, a path, or a
 * Hugging Face config.json), each pool's hwprofile and the trace path, and
 * checks that the weights fit each pool's plan. Errors are bad input (see
 * sv_error_is_input) with "FILE:LINE:COL: message". (transfer full) */
SvConfig *sv_config_load(const char *path, const char *const *overrides, GError **error);
/* Ways for a caller that loads many configs to share work (the plan search).
 * load_hw: return a hardware profile for a resolved path or name, as
 * sv_hw_load does (transfer full; e.g. an sv_hw_copy of a cached one);
 * NULL: sv_hw_load. It may be called from several threads at once. */
typedef struct {
    SvHw *(*load_hw)(void *user_data, const char *name_or_path, GError **error);
    void *user_data;
} SvConfigHooks;

/* Same from a YAML tree already loaded (and possibly edited with
 * sv_ydoc_set); @path names the study for relative paths (traces, models)
 * and for SvConfig.path. The plan search builds one config per plan this
 * way. @doc is only read; it is not kept. @hooks may be NULL. (transfer full) */
struct SvYDoc;
SvConfig *sv_config_load_doc(struct SvYDoc *doc, const char *path, const SvConfigHooks *hooks,
                             GError **error);
void sv_config_free(SvConfig *config);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SvConfig, sv_config_free)

/* Whether the engine runs this scheduler / router today (the config accepts
 * every name but refuses the others with "not implemented yet"). */
gboolean sv_scheduler_implemented(SvSchedulerKind kind);
gboolean sv_router_implemented(SvRouterKind kind);

/* The valid keys of the config, as "a.b" paths, for --help. (transfer none) */
const char *const *sv_config_key_paths(void);

G_END_DECLS

#endif /* SV_CONFIG_H */
