/* The study loader: reads the YAML tree, applies --set overrides, fills
 * vLLM's defaults, validates every key (type, range, unknown names) and the
 * plan (TP divides heads, weights fit), and resolves the model, hardware and
 * trace files. Everything a run could trip over later is caught here, with
 * the file:line:col of the value at fault. */
#include "config/config.h"

#include <math.h>
#include <stdarg.h>
#include <string.h>

#include "config/ynode.h"
#include "perf/plan.h"
#include "power/power.h"

const char *const sv_router_names[] = {"round-robin", "random",       "least-outstanding",
                                       "least-kv",    "power-of-two", "prefix-affinity",
                                       NULL};
const char *const sv_scheduler_names[] = {"vllm-v0",  "vllm-v1", "sarathi", "orca", "static",
                                          "lightllm", "edf",     "trtllm",  NULL};
/* TensorRT-LLM's CapacitySchedulerPolicy names, lower-cased as its Triton
 * backend's batch_scheduler_policy writes them. */
const char *const sv_capacity_policy_names[] = {"guaranteed_no_evict", "max_utilization", NULL};
static const char *const max_tokens_names[] = {"max_model_len", "output", NULL};
const char *const sv_role_names[] = {"mixed", "prefill", "decode", NULL};
const char *const sv_decode_router_names[] = {"least-kv", "least-outstanding", "round-robin", NULL};

/* What the engine implements today. The config accepts every name of the
 * enums above as valid syntax but refuses, at the key's mark, to start a run
 * the engine cannot do; extend these tables as policies land. */
static const gboolean scheduler_implemented[SV_SCHED_COUNT] = {
    [SV_SCHED_VLLM_V0] = TRUE, [SV_SCHED_VLLM_V1] = TRUE, [SV_SCHED_SARATHI] = TRUE,
    [SV_SCHED_ORCA] = TRUE,    [SV_SCHED_STATIC] = TRUE,  [SV_SCHED_LIGHTLLM] = TRUE,
    [SV_SCHED_EDF] = TRUE,     [SV_SCHED_TRTLLM] = TRUE,
};
static const gboolean router_implemented[SV_ROUTER_COUNT] = {
    [SV_ROUTER_ROUND_ROBIN] = TRUE,       [SV_ROUTER_RANDOM] = TRUE,
    [SV_ROUTER_LEAST_OUTSTANDING] = TRUE, [SV_ROUTER_LEAST_KV] = TRUE,
    [SV_ROUTER_POWER_OF_TWO] = TRUE,      [SV_ROUTER_PREFIX_AFFINITY] = TRUE,
};

gboolean sv_scheduler_implemented(SvSchedulerKind kind)
{
    return kind >= 0 && kind < SV_SCHED_COUNT && scheduler_implemented[kind];
}

gboolean sv_router_implemented(SvRouterKind kind)
{
    return kind >= 0 && kind < SV_ROUTER_COUNT && router_implemented[kind];
}

static const char *const preemption_names[] = {"recompute", "swap", NULL};
static const char *const dtype_names[] = {"auto", "bfloat16", "float16", "float32", NULL};
static const char *const quant_names[] = {"none",  "fp8",  "fp4",  "nvfp4",
                                          "mxfp4", "int8", "int4", NULL};
static const SvDtype quant_dtypes[] = {SV_DTYPE_COUNT, SV_DTYPE_FP8,  SV_DTYPE_FP4, SV_DTYPE_FP4,
                                       SV_DTYPE_FP4,   SV_DTYPE_INT8, SV_DTYPE_INT4};
static const char *const kv_dtype_names[] = {"auto",     "fp8",     "fp8_e4m3", "fp8_e5m2",
                                             "bfloat16", "float16", NULL};
static const SvDtype kv_dtypes[] = {SV_DTYPE_COUNT, SV_DTYPE_FP8,  SV_DTYPE_FP8,
                                    SV_DTYPE_FP8,   SV_DTYPE_BF16, SV_DTYPE_FP16};
static const char *const dist_names[] = {"fixed", "uniform", "lognormal", "trace", NULL};
/* Index = SvArrivalProcess. */
static const char *const process_names[] = {"trace",    "poisson",     "gamma",
                                            "constant", "closed-loop", NULL};

/* "search" is the plan-search space (src/search/space.c reads it for
 * `servesim plan` and `capacity`); `run` accepts it and ignores it. */
static const char *const top_keys[] = {"seed",      "model",  "cluster", "engine",
                                       "workload",  "slo",    "output",  "slo_classes",
                                       "admission", "search", "power",   NULL};
static const char *const cluster_keys[] = {
    "router",      "pools", "router_staleness_s", "prefix_affinity_load_factor", "decode_router",
    "kv_transfer", NULL};
static const char *const kv_transfer_keys[] = {"layerwise", "inter_site_bandwidth_gb_s",
                                               "inter_site_latency_us", NULL};
static const char *const pool_keys[] = {"name",
                                        "hardware",
                                        "replicas",
                                        "tensor_parallel_size",
                                        "pipeline_parallel_size",
                                        "expert_parallel_size",
                                        "data_parallel_size",
                                        "placement",
                                        "role",
                                        "node_group",
                                        "site",
                                        NULL};
static const char *const engine_keys[] = {"scheduler",
                                          "max_num_seqs",
                                          "max_num_batched_tokens",
                                          "enable_chunked_prefill",
                                          "enable_prefix_caching",
                                          "block_size",
                                          "gpu_memory_utilization",
                                          "max_model_len",
                                          "dtype",
                                          "quantization",
                                          "kv_cache_dtype",
                                          "preemption_mode",
                                          "swap_space",
                                          "moe_load",
                                          "expert_placement_strategy",
                                          "disable_custom_all_reduce",
                                          "capacity_scheduler_policy",
                                          "max_tokens",
                                          "host_overheads",
                                          "max_cudagraph_capture_size",
                                          "enforce_eager",
                                          "moe_backend",
                                          NULL};
static const char *const workload_keys[] = {
    "trace",   "lengths",           "arrival", "num_requests", "duration_s",
    "tenants", "hash_block_tokens", "prefix",  "sessions",     NULL};
/* Sources of prefix sharing (prefix-gen.c). */
static const char *const prefix_keys[] = {"prompts", "tokens", "probability", NULL};
static const char *const session_keys[] = {"turns", "think_time_s", NULL};
static const char *const lengths_keys[] = {"input", "output", NULL};
static const char *const length_keys[] = {"dist", "value", "min", "max", "mean", "sigma", NULL};
static const char *const arrival_keys[] = {"process", "rate_per_s", "cv", "concurrency", NULL};
static const char *const slo_keys[] = {"ttft_s", "tpot_s", "e2e_s", "percentile", NULL};
static const char *const output_keys[] = {"sample_interval_s", NULL};
static const char *const slo_class_keys[] = {"ttft_s", "tpot_s", "e2e_s", "priority", NULL};
static const char *const admission_keys[] = {"max_queue_length", "max_cluster_queue_length",
                                             "rate_limit", "reject_predicted_slo_miss", NULL};
static const char *const rate_limit_keys[] = {"rate_per_s", "burst", NULL};
/* A tenant is a workload of its own plus who it is. */
static const char *const tenant_keys[] = {
    "name",      "trace",    "lengths",           "arrival", "num_requests", "duration_s",
    "slo_class", "priority", "hash_block_tokens", "prefix",  "sessions",     NULL};

static const char *const key_paths[] = {
    "seed",
    "model",
    "cluster.router",
    "cluster.pools[].name",
    "cluster.pools[].hardware",
    "cluster.pools[].replicas",
    "cluster.pools[].tensor_parallel_size",
    "cluster.pools[].pipeline_parallel_size",
    "cluster.pools[].expert_parallel_size",
    "cluster.pools[].data_parallel_size",
    "cluster.pools[].placement",
    "cluster.pools[].role",
    "cluster.pools[].node_group",
    "cluster.pools[].site",
    "cluster.decode_router",
    "cluster.kv_transfer.layerwise",
    "cluster.kv_transfer.inter_site_bandwidth_gb_s",
    "cluster.kv_transfer.inter_site_latency_us",
    "engine.scheduler",
    "engine.max_num_seqs",
    "engine.max_num_batched_tokens",
    "engine.enable_chunked_prefill",
    "engine.enable_prefix_caching",
    "engine.block_size",
    "engine.gpu_memory_utilization",
    "engine.max_model_len",
    "engine.dtype",
    "engine.quantization",
    "engine.kv_cache_dtype",
    "engine.preemption_mode",
    "engine.capacity_scheduler_policy",
    "engine.max_tokens",
    "engine.host_overheads",
    "engine.max_cudagraph_capture_size",
    "engine.enforce_eager",
    "engine.moe_backend",
    "workload.trace",
    "workload.lengths.input.dist",
    "workload.lengths.input.value",
    "workload.lengths.input.min",
    "workload.lengths.input.max",
    "workload.lengths.input.mean",
    "workload.lengths.input.sigma",
    "workload.lengths.output.dist",
    "workload.lengths.output.value",
    "workload.lengths.output.min",
    "workload.lengths.output.max",
    "workload.lengths.output.mean",
    "workload.lengths.output.sigma",
    "workload.arrival.process",
    "workload.arrival.rate_per_s",
    "workload.arrival.cv",
    "workload.arrival.concurrency",
    "workload.num_requests",
    "workload.duration_s",
    "slo.ttft_s",
    "slo.tpot_s",
    "slo.e2e_s",
    "slo.percentile",
    "output.sample_interval_s",
    "cluster.router_staleness_s",
    "slo_classes.NAME.ttft_s",
    "slo_classes.NAME.tpot_s",
    "slo_classes.NAME.e2e_s",
    "slo_classes.NAME.priority",
    "admission.max_queue_length",
    "admission.max_cluster_queue_length",
    "admission.rate_limit.rate_per_s",
    "admission.rate_limit.burst",
    "admission.reject_predicted_slo_miss",
    "workload.tenants[].name",
    "workload.tenants[].trace",
    "workload.tenants[].lengths",
    "workload.tenants[].arrival",
    "workload.tenants[].num_requests",
    "workload.tenants[].duration_s",
    "workload.tenants[].slo_class",
    "workload.tenants[].priority",
    "engine.swap_space",
    "engine.moe_load.dist",
    "engine.moe_load.skew",
    "engine.moe_load.frequencies",
    "engine.expert_placement_strategy",
    "engine.disable_custom_all_reduce",
    "cluster.prefix_affinity_load_factor",
    "workload.hash_block_tokens",
    "workload.prefix.prompts",
    "workload.prefix.tokens",
    "workload.prefix.probability",
    "workload.sessions.turns",
    "workload.sessions.think_time_s",
    /* power: (power/power-config.c) */
    "power.pools[].name",
    "power.pools[].power_cap_w",
    "power.pools[].sm_clock_mhz",
    "power.pools[].priority",
    "power.pools[].usd_per_device_hour",
    "power.cluster.budget_w",
    "power.cluster.oversubscription",
    "power.cluster.policy",
    "power.cluster.reaction_delay_s",
    "power.cluster.release_fraction",
    "power.cost.usd_per_kwh",
    "power.cost.pue",
    "power.cost.carbon_g_per_kwh",
    NULL,
};

const char *const *sv_config_key_paths(void)
{
    return key_paths;
}

/* Limits that catch typos (an extra zero, 1e12) rather than describe hardware. */
#define MAX_REPLICAS          100000
#define MAX_PARALLEL          4096
#define MAX_TOKENS            (1 << 24)    /* 16 M tokens per iteration or per request */
#define MAX_REQUESTS          1000000000LL /* 1e9 requests */
#define MIN_SAMPLE_INTERVAL_S 1e-3         /* timeseries.csv rows at most every millisecond */
#define MAX_DURATION_S        1e8          /* ~3 years of simulated time */
#define MAX_RATE_PER_S        1e7          /* requests per second */
#define MAX_CONCURRENCY       10000000
#define MAX_SLO_S             1e6

/* vLLM's defaults (vllm/config.py, SchedulerConfig and the V1 engine args):
 * the V1 engine always chunks prefills with an 8192-token budget for the
 * OpenAI server; the V0 scheduler uses 2048 tokens with chunked prefill and,
 * without it, max(max_model_len, 2048) so that any single prompt fits one
 * iteration. */
#define DEFAULT_MAX_NUM_SEQS      256
#define DEFAULT_V1_BATCHED_TOKENS 8192
#define DEFAULT_V0_BATCHED_TOKENS 2048
/* Sarathi's chunk: Vidur's SarathiSchedulerConfig default (chunk_size 512),
 * the strict-latency budget of the Sarathi-Serve paper. */
#define DEFAULT_SARATHI_CHUNK_TOKENS 512

/* ------------------------------------------------------------------------- */

static void pool_free(gpointer data)
{
    SvPoolConfig *pool = data;
    if (pool == NULL)
        return;
    g_free(pool->name);
    g_free(pool->hardware_name);
    g_free(pool->node_group);
    g_free(pool->site);
    sv_hw_free(pool->hw);
    g_free(pool);
}

static void slo_class_free(gpointer data)
{
    SvSloClass *c = data;
    if (c == NULL)
        return;
    g_free(c->name);
    g_free(c);
}

static void tenant_free(gpointer data)
{
    SvTenantConfig *t = data;
    if (t == NULL)
        return;
    g_free(t->name);
    g_free(t->workload.trace_path);
    g_free(t);
}

void sv_config_free(SvConfig *config)
{
    if (config == NULL)
        return;
    g_free(config->path);
    g_free(config->model_name);
    sv_model_free(config->model);
    if (config->pools != NULL)
        g_ptr_array_free(config->pools, TRUE);
    g_free(config->workload.trace_path);
    if (config->slo_classes != NULL)
        g_ptr_array_free(config->slo_classes, TRUE);
    if (config->tenants != NULL)
        g_ptr_array_free(config->tenants, TRUE);
    sv_power_config_clear(&config->power);
    sv_moe_load_clear(&config->engine.moe_load);
    g_free(config->engine.host_overheads);
    g_free(config);
}

/* Marks kept while loading, for checks that need several values at once. */
typedef struct {
    const SvYNode *map;  /* the pool's map */
    const SvYNode *tp;   /* its tensor_parallel_size value, or NULL */
    const SvYNode *pp;   /* pipeline_parallel_size, or NULL */
    const SvYNode *ep;   /* expert_parallel_size, or NULL */
    const SvYNode *dp;   /* data_parallel_size, or NULL */
    const SvYNode *role; /* role, or NULL */
    const SvYNode *hw;   /* hardware value */
} PoolMarks;

typedef struct {
    SvYDoc *doc;
    char *dir; /* directory of the study, for relative paths */
    SvConfig *cfg;
    const SvYNode *model;
    PoolMarks *pools; /* one per cfg->pools entry */
    const SvYNode *chunked, *mnbt, *mml, *gmu;
    const SvYNode *input_value, *trace;
    GPtrArray *tenant_inputs; /* each tenant's lengths.input.value mark (or NULL), owned */
    /* The workload stream being read: the study's workload, or one tenant. */
    SvWorkloadConfig *wl;
    const char *wprefix;        /* its key path: "workload" or "workload.tenants[2]" */
    const SvYNode *staleness;   /* cluster.router_staleness_s, or NULL */
    const SvYNode *slo_miss;    /* admission.reject_predicted_slo_miss, or NULL */
    const SvYNode *moe_backend; /* engine.moe_backend, or NULL */
    const SvConfigHooks *hooks; /* sv_config_load_doc's, or NULL */
} Loader;

/* Read @key of @map with @fn when present; the full key path names it in messages. */
static char *full_key(const char *prefix, const char *key)
{
    return prefix != NULL ? g_strdup_printf("%s.%s", prefix, key) : g_strdup(key);
}

static gboolean opt_int(Loader *l, const SvYNode *map, const char *prefix, const char *key, int min,
                        int max, int *out, GError **error)
{
    const SvYNode *n = sv_ynode_get(map, key);
    if (n == NULL)
        return TRUE;
    g_autofree char *k = full_key(prefix, key);
    return sv_ynode_int(l->doc, n, k, min, max, out, error);
}

static gboolean opt_int64(Loader *l, const SvYNode *map, const char *prefix, const char *key,
                          int64_t min, int64_t max, int64_t *out, GError **error)
{
    const SvYNode *n = sv_ynode_get(map, key);
    if (n == NULL)
        return TRUE;
    g_autofree char *k = full_key(prefix, key);
    return sv_ynode_int64(l->doc, n, k, min, max, out, error);
}

/* A number in (0, max] when @positive, else [0, max]. */
static gboolean opt_double(Loader *l, const SvYNode *map, const char *prefix, const char *key,
                           gboolean positive, double max, double *out, GError **error)
{
    const SvYNode *n = sv_ynode_get(map, key);
    if (n == NULL)
        return TRUE;
    g_autofree char *k = full_key(prefix, key);
    return sv_ynode_bounded(l->doc, n, k, positive, 0, max, out, error);
}

static gboolean opt_bool(Loader *l, const SvYNode *map, const char *prefix, const char *key,
                         gboolean *out, GError **error)
{
    const SvYNode *n = sv_ynode_get(map, key);
    if (n == NULL)
        return TRUE;
    g_autofree char *k = full_key(prefix, key);
    return sv_ynode_bool(l->doc, n, k, out, error);
}

static gboolean opt_enum(Loader *l, const SvYNode *map, const char *prefix, const char *key,
                         const char *const *names, int *out, GError **error)
{
    const SvYNode *n = sv_ynode_get(map, key);
    if (n == NULL)
        return TRUE;
    g_autofree char *k = full_key(prefix, key);
    return sv_ynode_enum(l->doc, n, k, names, out, error);
}

/* The map under @key, checked against @valid; NULL without error when absent. */
static gboolean opt_map(Loader *l, const SvYNode *parent, const char *prefix, const char *key,
                        const char *const *valid, const SvYNode **out, GError **error)
{
    *out = sv_ynode_get(parent, key);
    if (*out == NULL)
        return TRUE;
    g_autofree char *k = full_key(prefix, key);
    return sv_ynode_check_keys(l->doc, *out, k, valid, error);
}

/* The mark to blame for a value that is absent: its key's map, else the file. */
static gboolean missing(Loader *l, const SvYNode *map, GError **error, const char *fmt, ...)
    G_GNUC_PRINTF(4, 5);
static gboolean missing(Loader *l, const SvYNode *map, GError **error, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    return sv_ydoc_error(l->doc, map, error, SV_ERROR_INVALID, "%s", msg);
}

/* A name that the config knows but the engine does not run yet. */
static gboolean not_implemented(Loader *l, const SvYNode *node, const char *what,
                                const char *const *names, const gboolean *implemented, int n,
                                int value, GError **error)
{
    if (implemented[value])
        return TRUE;
    g_autoptr(GString) list = g_string_new(NULL);
    for (int i = 0; i < n; i++)
        if (implemented[i])
            g_string_append_printf(list, "%s%s", list->len ? ", " : "", names[i]);
    return sv_ydoc_error(l->doc, node, error, SV_ERROR_INVALID,
                         "%s '%s' is not implemented yet (implemented: %s)", what, names[value],
                         list->str);
}

/* ------------------------------------------------------------------------- */
/* Sections */

static gboolean read_pool(Loader *l, const SvYNode *node, int index, GError **error)
{
    g_autofree char *where = g_strdup_printf("cluster.pools[%d]", index);
    if (!sv_ynode_check_keys(l->doc, node, where, pool_keys, error))
        return FALSE;
    SvPoolConfig *pool = g_new0(SvPoolConfig, 1);
    g_ptr_array_add(l->cfg->pools, pool);
    PoolMarks *m = &l->pools[index];
    m->map = node;
    pool->replicas = 1;
    pool->tensor_parallel_size = 1;
    pool->pipeline_parallel_size = 1;
    pool->expert_parallel_size = 1;
    pool->data_parallel_size = 1;
    pool->placement = SV_PLACEMENT_PACKED;
    pool->role = SV_ROLE_MIXED;

    const char *s;
    const SvYNode *n = sv_ynode_get(node, "name");
    if (n != NULL) {
        g_autofree char *k = full_key(where, "name");
        if (!sv_ynode_string(l->doc, n, k, &s, error))
            return FALSE;
        pool->name = g_strdup(s);
        for (int i = 0; i < index; i++) {
            const SvPoolConfig *other = g_ptr_array_index(l->cfg->pools, i);
            if (strcmp(other->name, s) == 0)
                return sv_ydoc_error(l->doc, n, error, SV_ERROR_INVALID,
                                     "pool name '%s' is used twice", s);
        }
    } else {
        pool->name = index == 0 ? g_strdup("main") : g_strdup_printf("pool%d", index);
    }
    m->hw = sv_ynode_get(node, "hardware");
    if (m->hw == NULL)
        return missing(l, node, error, "%s needs 'hardware' (e.g. hardware: h100-sxm)", where);
    g_autofree char *hk = full_key(where, "hardware");
    if (!sv_ynode_string(l->doc, m->hw, hk, &s, error))
        return FALSE;
    pool->hardware_name = g_strdup(s);
    m->tp = sv_ynode_get(node, "tensor_parallel_size");
    m->pp = sv_ynode_get(node, "pipeline_parallel_size");
    m->ep = sv_ynode_get(node, "expert_parallel_size");
    m->dp = sv_ynode_get(node, "data_parallel_size");
    m->role = sv_ynode_get(node, "role");
    int role = SV_ROLE_MIXED;
    if (!opt_int(l, node, where, "replicas", 1, MAX_REPLICAS, &pool->replicas, error) ||
        !opt_int(l, node, where, "tensor_parallel_size", 1, MAX_PARALLEL,
                 &pool->tensor_parallel_size, error) ||
        !opt_int(l, node, where, "pipeline_parallel_size", 1, MAX_PARALLEL,
                 &pool->pipeline_parallel_size, error) ||
        !opt_int(l, node, where, "expert_parallel_size", 1, MAX_PARALLEL,
                 &pool->expert_parallel_size, error) ||
        !opt_int(l, node, where, "data_parallel_size", 1, MAX_PARALLEL, &pool->data_parallel_size,
                 error) ||
        !opt_enum(l, node, where, "placement", sv_placement_names, &pool->placement, error) ||
        !opt_enum(l, node, where, "role", sv_role_names, &role, error))
        return FALSE;
    pool->role = (SvPoolRole)role;
    /* Placement labels (serve/disagg.c): checked against each other once
     * every pool is read. */
    const char *const labels[] = {"node_group", "site"};
    char **label_out[] = {&pool->node_group, &pool->site};
    for (int i = 0; i < 2; i++) {
        const SvYNode *ln = sv_ynode_get(node, labels[i]);
        if (ln == NULL)
            continue;
        g_autofree char *k = full_key(where, labels[i]);
        if (!sv_ynode_string(l->doc, ln, k, &s, error))
            return FALSE;
        if (*s == '\0')
            return sv_ydoc_error(l->doc, ln, error, SV_ERROR_INVALID, "%s must not be empty", k);
        *label_out[i] = g_strdup(s);
    }
    return TRUE;
}

/* Placement labels and transfer settings of a disaggregated cluster: they
 * mean something only when prefill pools hand requests to decode pools, and
 * a shared node cannot hold two kinds of accelerator. */
static gboolean check_disaggregation(Loader *l, const SvYNode *cluster, gboolean disaggregated,
                                     GError **error)
{
    GPtrArray *pools = l->cfg->pools;
    const char *const cluster_only[] = {"decode_router", "kv_transfer"};
    for (int i = 0; i < 2; i++) {
        const SvYNode *n = sv_ynode_get(cluster, cluster_only[i]);
        if (n != NULL && !disaggregated)
            return sv_ydoc_error(l->doc, n, error, SV_ERROR_INVALID,
                                 "cluster.%s applies only to a cluster with prefill and decode "
                                 "pools (role: prefill | decode)",
                                 cluster_only[i]);
    }
    for (guint i = 0; i < pools->len; i++) {
        const SvPoolConfig *p = g_ptr_array_index(pools, i);
        const char *const labels[] = {"node_group", "site"};
        for (int k = 0; k < 2; k++) {
            const SvYNode *n = sv_ynode_get(l->pools[i].map, labels[k]);
            if (n != NULL && !disaggregated)
                return sv_ydoc_error(l->doc, n, error, SV_ERROR_INVALID,
                                     "cluster.pools[%u].%s places a pool for the KV transfer of "
                                     "disaggregated serving; it applies only to a cluster with "
                                     "prefill and decode pools",
                                     i, labels[k]);
        }
        if (p->node_group == NULL)
            continue;
        for (guint j = 0; j < i; j++) {
            const SvPoolConfig *q = g_ptr_array_index(pools, j);
            if (q->node_group == NULL || strcmp(q->node_group, p->node_group) != 0)
                continue;
            if (strcmp(q->hardware_name, p->hardware_name) != 0)
                return sv_ydoc_error(
                    l->doc, sv_ynode_get(l->pools[i].map, "node_group"), error, SV_ERROR_INVALID,
                    "pools '%s' (%s) and '%s' (%s) share node_group '%s', but "
                    "one node holds one kind of accelerator",
                    q->name, q->hardware_name, p->name, p->hardware_name, p->node_group);
            if (g_strcmp0(q->site, p->site) != 0)
                return sv_ydoc_error(l->doc, sv_ynode_get(l->pools[i].map, "node_group"), error,
                                     SV_ERROR_INVALID,
                                     "pools '%s' and '%s' share node_group '%s' but name "
                                     "different sites",
                                     q->name, p->name, p->node_group);
        }
    }
    if (!disaggregated)
        return TRUE;
    int router = SV_DECODE_LEAST_KV;
    if (!opt_enum(l, cluster, "cluster", "decode_router", sv_decode_router_names, &router, error))
        return FALSE;
    l->cfg->decode_router = (SvDecodeRouterKind)router;
    const SvYNode *kt;
    SvKvTransferConfig *kv = &l->cfg->kv_transfer;
    kv->inter_site_latency_s = 1e-3; /* assumption: about 100 km of fibre and switching */
    if (!opt_map(l, cluster, "cluster", "kv_transfer", kv_transfer_keys, &kt, error))
        return FALSE;
    double bw_gb_s = 0, lat_us = kv->inter_site_latency_s * 1e6;
    if (kt != NULL &&
        (!opt_bool(l, kt, "cluster.kv_transfer", "layerwise", &kv->layerwise, error) ||
         !opt_double(l, kt, "cluster.kv_transfer", "inter_site_bandwidth_gb_s", TRUE, 1e6, &bw_gb_s,
                     error) ||
         !opt_double(l, kt, "cluster.kv_transfer", "inter_site_latency_us", FALSE, 1e9, &lat_us,
                     error)))
        return FALSE;
    kv->inter_site_bw_bytes_per_s = bw_gb_s * 1e9;
    kv->inter_site_latency_s = lat_us * 1e-6;
    /* Two sites need the link between them. */
    for (guint i = 1; i < pools->len; i++) {
        const SvPoolConfig *p = g_ptr_array_index(pools, i);
        const SvPoolConfig *first = g_ptr_array_index(pools, 0);
        if (g_strcmp0(p->site ? p->site : "default", first->site ? first->site : "default") != 0 &&
            kv->inter_site_bw_bytes_per_s <= 0)
            return sv_ydoc_error(l->doc,
                                 sv_ynode_get(l->pools[i].map, "site")
                                     ? sv_ynode_get(l->pools[i].map, "site")
                                     : l->pools[i].map,
                                 error, SV_ERROR_INVALID,
                                 "pool '%s' is in site '%s' and pool '%s' in '%s': give the link "
                                 "between them as cluster.kv_transfer.inter_site_bandwidth_gb_s",
                                 p->name, p->site ? p->site : "default", first->name,
                                 first->site ? first->site : "default");
    }
    return TRUE;
}
static gboolean read_cluster(Loader *l, const SvYNode *root, GError **error)
{
    const SvYNode *cluster;
    if (!opt_map(l, root, NULL, "cluster", cluster_keys, &cluster, error))
        return FALSE;
    if (cluster == NULL)
        return missing(l, NULL, error,
                       "the study needs 'cluster' with 'pools' (each with its 'hardware')");
    int router = SV_ROUTER_ROUND_ROBIN;
    if (!opt_enum(l, cluster, "cluster", "router", sv_router_names, &router, error))
        return FALSE;
    const SvYNode *rn = sv_ynode_get(cluster, "router");
    if (rn != NULL && !not_implemented(l, rn, "router", sv_router_names, router_implemented,
                                       SV_ROUTER_COUNT, router, error))
        return FALSE;
    l->cfg->router = (SvRouterKind)router;
    if (!opt_double(l, cluster, "cluster", "router_staleness_s", FALSE, MAX_DURATION_S,
                    &l->cfg->router_staleness_s, error))
        return FALSE;
    l->cfg->prefix_affinity_load_factor = 2.0;
    if (!opt_double(l, cluster, "cluster", "prefix_affinity_load_factor", TRUE, 1e6,
                    &l->cfg->prefix_affinity_load_factor, error))
        return FALSE;
    const SvYNode *lf = sv_ynode_get(cluster, "prefix_affinity_load_factor");
    if (lf != NULL && router != SV_ROUTER_PREFIX_AFFINITY)
        return sv_ydoc_error(l->doc, lf, error, SV_ERROR_INVALID,
                             "cluster.prefix_affinity_load_factor applies only to router "
                             "prefix-affinity, not to '%s'",
                             sv_router_names[router]);
    if (lf != NULL && l->cfg->prefix_affinity_load_factor < 1.0)
        return sv_ydoc_error(l->doc, lf, error, SV_ERROR_INVALID,
                             "cluster.prefix_affinity_load_factor must be at least 1 (a factor "
                             "over the least loaded replica), got %s",
                             lf->value);
    /* Round-robin and random never look at replica state, so a staleness
     * there would be a setting that changes nothing. */
    l->staleness = sv_ynode_get(cluster, "router_staleness_s");
    if (l->cfg->router_staleness_s > 0 &&
        (router == SV_ROUTER_ROUND_ROBIN || router == SV_ROUTER_RANDOM))
        return sv_ydoc_error(l->doc, l->staleness, error, SV_ERROR_INVALID,
                             "cluster.router_staleness_s applies only to routers that read "
                             "replica load (least-outstanding, least-kv, power-of-two, "
                             "prefix-affinity), not to '%s'",
                             sv_router_names[router]);

    const SvYNode *pools = sv_ynode_get(cluster, "pools");
    if (pools == NULL)
        return missing(l, cluster, error, "cluster needs 'pools' (a list; each needs 'hardware')");
    if (!sv_ynode_expect_seq(l->doc, pools, "cluster.pools", error))
        return FALSE;
    if (pools->items->len == 0)
        return sv_ydoc_error(l->doc, pools, error, SV_ERROR_INVALID,
                             "cluster.pools must list at least one pool");
    if (pools->items->len > 1024)
        return sv_ydoc_error(l->doc, pools, error, SV_ERROR_INVALID,
                             "cluster.pools lists %u pools; at most 1024", pools->items->len);
    l->pools = g_new0(PoolMarks, pools->items->len);
    for (guint i = 0; i < pools->items->len; i++)
        if (!read_pool(l, g_ptr_array_index(pools->items, i), (int)i, error))
            return FALSE;

    /* Disaggregation needs both halves: prefill pools hand their requests to
     * decode pools. */
    int first_role[3] = {-1, -1, -1};
    for (guint i = 0; i < l->cfg->pools->len; i++) {
        const SvPoolConfig *p = g_ptr_array_index(l->cfg->pools, i);
        if (first_role[p->role] < 0)
            first_role[p->role] = (int)i;
    }
    if ((first_role[SV_ROLE_PREFILL] >= 0) != (first_role[SV_ROLE_DECODE] >= 0)) {
        gboolean has_prefill = first_role[SV_ROLE_PREFILL] >= 0;
        int i = has_prefill ? first_role[SV_ROLE_PREFILL] : first_role[SV_ROLE_DECODE];
        return sv_ydoc_error(l->doc, l->pools[i].role, error, SV_ERROR_INVALID,
                             has_prefill ? "a prefill pool needs a decode pool to hand requests to"
                                         : "a decode pool needs a prefill pool to feed it");
    }
    return check_disaggregation(l, cluster, first_role[SV_ROLE_PREFILL] >= 0, error);
}

/* engine.moe_load and engine.expert_placement_strategy (model/model.h
 * SvMoeLoad): how routed tokens spread over experts. Checked against the
 * model's experts once it is loaded (perf/predictor.c). */
static gboolean read_moe_load(Loader *l, const SvYNode *engine, GError **error)
{
    static const char *const moe_dist_names[] = {"uniform", "zipf", "measured", NULL};
    static const char *const moe_keys[] = {"dist", "skew", "frequencies", NULL};
    static const char *const placement_names[] = {"linear", "round_robin", NULL};
    SvMoeLoad *ml = &l->cfg->engine.moe_load;
    int place = SV_EXPERT_PLACE_LINEAR;
    if (!opt_enum(l, engine, "engine", "expert_placement_strategy", placement_names, &place, error))
        return FALSE;
    ml->placement = (SvExpertPlacement)place;
    const SvYNode *m;
    if (!opt_map(l, engine, "engine", "moe_load", moe_keys, &m, error))
        return FALSE;
    if (m == NULL)
        return TRUE;
    const SvYNode *dn = sv_ynode_get(m, "dist");
    if (dn == NULL)
        return missing(l, m, error, "engine.moe_load needs 'dist' (uniform, zipf or measured)");
    int dist = SV_MOE_UNIFORM;
    if (!sv_ynode_enum(l->doc, dn, "engine.moe_load.dist", moe_dist_names, &dist, error))
        return FALSE;
    ml->dist = (SvMoeDist)dist;
    ml->given = TRUE; /* uniform then overrides the model's routing_skew */
    const SvYNode *sk = sv_ynode_get(m, "skew"), *fq = sv_ynode_get(m, "frequencies");
    if (sk != NULL && dist != SV_MOE_ZIPF)
        return sv_ydoc_error(l->doc, sk, error, SV_ERROR_INVALID,
                             "engine.moe_load.skew applies only to dist: zipf");
    if (fq != NULL && dist != SV_MOE_MEASURED)
        return sv_ydoc_error(l->doc, fq, error, SV_ERROR_INVALID,
                             "engine.moe_load.frequencies applies only to dist: measured");
    if (dist == SV_MOE_ZIPF) {
        if (sk == NULL)
            return missing(l, m, error, "engine.moe_load dist zipf needs 'skew' (e.g. 1.2)");
        if (!opt_double(l, m, "engine.moe_load", "skew", TRUE, 100, &ml->skew, error))
            return FALSE;
    }
    if (dist == SV_MOE_MEASURED) {
        if (fq == NULL)
            return missing(l, m, error,
                           "engine.moe_load dist measured needs 'frequencies' (one weight per "
                           "expert)");
        if (!sv_ynode_expect_seq(l->doc, fq, "engine.moe_load.frequencies", error))
            return FALSE;
        ml->num_frequencies = (int)fq->items->len;
        ml->frequencies = g_new0(double, MAX(ml->num_frequencies, 1));
        double total = 0;
        for (int i = 0; i < ml->num_frequencies; i++) {
            g_autofree char *k = g_strdup_printf("engine.moe_load.frequencies[%d]", i);
            if (!sv_ynode_double(l->doc, g_ptr_array_index(fq->items, i), k, 0, 1e15,
                                 &ml->frequencies[i], error))
                return FALSE;
            total += ml->frequencies[i];
        }
        if (total <= 0)
            return sv_ydoc_error(l->doc, fq, error, SV_ERROR_INVALID,
                                 "engine.moe_load.frequencies must not be empty or all zero");
    }
    return TRUE;
}

/* TensorRT-LLM's knobs (scheduler trtllm, serve/sched-trtllm.c), under
 * TRT-LLM's own names, and what that scheduler does not model. Runs after
 * the rest of engine: and cluster: are read. */
static gboolean read_trtllm(Loader *l, const SvYNode *engine, GError **error)
{
    SvEngineConfig *e = &l->cfg->engine;
    gboolean trt = e->scheduler == SV_SCHED_TRTLLM;
    int policy = SV_CAPACITY_GUARANTEED_NO_EVICT, max_tokens = SV_MAX_TOKENS_MAX_MODEL_LEN;
    if (!opt_enum(l, engine, "engine", "capacity_scheduler_policy", sv_capacity_policy_names,
                  &policy, error) ||
        !opt_enum(l, engine, "engine", "max_tokens", max_tokens_names, &max_tokens, error))
        return FALSE;
    e->capacity_scheduler_policy = (SvCapacityPolicy)policy;
    e->max_tokens = (SvMaxTokens)max_tokens;
    const SvYNode *pn = sv_ynode_get(engine, "capacity_scheduler_policy");
    if (pn != NULL && !trt)
        return sv_ydoc_error(l->doc, pn, error, SV_ERROR_INVALID,
                             "engine.capacity_scheduler_policy applies only to scheduler: trtllm");
    const SvYNode *mn = sv_ynode_get(engine, "max_tokens");
    if (mn != NULL && (!trt || policy != SV_CAPACITY_GUARANTEED_NO_EVICT))
        return sv_ydoc_error(l->doc, mn, error, SV_ERROR_INVALID,
                             "engine.max_tokens applies only to scheduler trtllm with "
                             "capacity_scheduler_policy guaranteed_no_evict, the policy that "
                             "reserves KV for it");
    if (!trt)
        return TRUE;
    if (e->enable_prefix_caching)
        return sv_ydoc_error(l->doc, sv_ynode_get(engine, "enable_prefix_caching"), error,
                             SV_ERROR_INVALID,
                             "engine.enable_prefix_caching with scheduler 'trtllm' (TensorRT-LLM's "
                             "KV cache reuse) is not implemented yet");
    if (e->preemption_mode == SV_PREEMPT_SWAP)
        return sv_ydoc_error(l->doc, sv_ynode_get(engine, "preemption_mode"), error,
                             SV_ERROR_INVALID,
                             "engine.preemption_mode swap with scheduler 'trtllm' is not "
                             "implemented yet (TensorRT-LLM pauses a request by dropping its KV)");
    for (guint i = 0; i < l->cfg->pools->len; i++) {
        const SvPoolConfig *p = g_ptr_array_index(l->cfg->pools, i);
        if (p->role != SV_ROLE_MIXED)
            return sv_ydoc_error(l->doc, l->pools[i].role, error, SV_ERROR_INVALID,
                                 "scheduler 'trtllm' in disaggregated pools (role: %s) is not "
                                 "implemented yet",
                                 sv_role_names[p->role]);
    }
    return TRUE;
}

/* vLLM's CUDA graph switch. vLLM 0.11 (V1 engine, CUDAGraphMode
 * FULL_AND_PIECEWISE) captures steps of up to min(2 x max_num_seqs, 512)
 * tokens by default (VllmConfig's cudagraph sizes: 1, 2, 4, multiples of 8
 * up to 256, then of 16 up to that size); the schedulers other than v0 and
 * trtllm are policies on that engine and take the same default. vLLM v0
 * (0.5.4, ML.ENERGY v2) captured decode batches up to 256
 * (_BATCH_SIZES_TO_CAPTURE) and ran every prefill eagerly; servesim applies
 * its limit to all steps alike, so a v0 prefill of 256 tokens or fewer
 * is taken as graphed. TensorRT-LLM's engines have CUDA graph settings of
 * their own that servesim does not model: no eager cost, and the keys are
 * refused rather than ignored. */
static gboolean read_cudagraphs(Loader *l, const SvYNode *engine, GError **error)
{
    SvEngineConfig *e = &l->cfg->engine;
    const SvYNode *cn = sv_ynode_get(engine, "max_cudagraph_capture_size");
    const SvYNode *en = sv_ynode_get(engine, "enforce_eager");
    if (e->scheduler == SV_SCHED_TRTLLM) {
        e->max_cudagraph_capture_size = -1;
        if (cn != NULL || en != NULL)
            return sv_ydoc_error(l->doc, cn != NULL ? cn : en, error, SV_ERROR_INVALID,
                                 "engine.%s with scheduler 'trtllm' is not implemented yet "
                                 "(vLLM's CUDA graph switch; TensorRT-LLM's own graph settings "
                                 "are not modelled)",
                                 cn != NULL ? "max_cudagraph_capture_size" : "enforce_eager");
        return TRUE;
    }
    e->max_cudagraph_capture_size =
        e->scheduler == SV_SCHED_VLLM_V0 ? 256 : MIN(2 * e->max_num_seqs, 512);
    if (!opt_int(l, engine, "engine", "max_cudagraph_capture_size", 0, MAX_TOKENS,
                 &e->max_cudagraph_capture_size, error) ||
        !opt_bool(l, engine, "engine", "enforce_eager", &e->enforce_eager, error))
        return FALSE;
    if (cn != NULL && e->enforce_eager)
        return sv_ydoc_error(l->doc, cn, error, SV_ERROR_INVALID,
                             "engine.max_cudagraph_capture_size does nothing with "
                             "engine.enforce_eager: true (no graph is captured); remove one");
    return TRUE;
}

/* engine.moe_backend: vLLM's fused MoE kernel family (hw/hw.h
 * SvMoeBackend). ML.ENERGY v3 ran DeepSeek V3.1/R1 and gpt-oss on B200 with
 * FlashInfer's kernels (VLLM_USE_FLASHINFER_MOE_FP8,
 * VLLM_USE_FLASHINFER_MOE_MXFP4_MXFP8 in its run settings) and Qwen3 235B
 * FP8 on vLLM's default path; a profile may hold a streaming efficiency
 * and a grouped-GEMM tile per family (the B200 holds FlashInfer's 8-bit
 * ones: validation/power/README.md).
 * TensorRT-LLM has MoE kernels of its own that this key does not name:
 * refused with trtllm, as a dense model's is (resolve). */
static gboolean read_moe_backend(Loader *l, const SvYNode *engine, GError **error)
{
    SvEngineConfig *e = &l->cfg->engine;
    int backend = SV_MOE_BACKEND_AUTO;
    if (!opt_enum(l, engine, "engine", "moe_backend", sv_moe_backend_names, &backend, error))
        return FALSE;
    e->moe_backend = (SvMoeBackend)backend;
    l->moe_backend = sv_ynode_get(engine, "moe_backend");
    if (l->moe_backend != NULL && e->scheduler == SV_SCHED_TRTLLM &&
        e->moe_backend != SV_MOE_BACKEND_AUTO)
        return sv_ydoc_error(l->doc, l->moe_backend, error, SV_ERROR_INVALID,
                             "engine.moe_backend '%s' with scheduler 'trtllm' is not implemented "
                             "yet (vLLM's MoE kernel choice; TensorRT-LLM's own MoE backends are "
                             "not modelled)",
                             sv_moe_backend_names[backend]);
    return TRUE;
}

static gboolean read_engine(Loader *l, const SvYNode *root, GError **error)
{
    SvEngineConfig *e = &l->cfg->engine;
    e->scheduler = SV_SCHED_VLLM_V1;
    e->max_num_seqs = DEFAULT_MAX_NUM_SEQS;
    e->max_num_batched_tokens = 0; /* resolved once max_model_len is known */
    e->enable_prefix_caching = FALSE;
    e->block_size = 16;
    e->gpu_memory_utilization = 0.9;
    e->preemption_mode = SV_PREEMPT_RECOMPUTE;
    e->swap_space_gib = 4.0; /* vLLM's default */

    const SvYNode *engine;
    if (!opt_map(l, root, NULL, "engine", engine_keys, &engine, error))
        return FALSE;
    int sched = e->scheduler, dtype = 0, quant = 0, kv = 0, preempt = 0;
    if (!opt_enum(l, engine, "engine", "scheduler", sv_scheduler_names, &sched, error))
        return FALSE;
    const SvYNode *sn = sv_ynode_get(engine, "scheduler");
    if (sn != NULL && !not_implemented(l, sn, "scheduler", sv_scheduler_names,
                                       scheduler_implemented, SV_SCHED_COUNT, sched, error))
        return FALSE;
    e->scheduler = (SvSchedulerKind)sched;
    /* vLLM V1 and Sarathi chunk prefills by design, LightLLM by default
     * (chunked_prefill_size) and edf is v1's step; v0, Orca and static
     * batching run whole prompts. trtllm follows trtllm-bench, whose
     * ExecutorSettingsConfig turns chunked context on (TRT-LLM's LLM API
     * alone leaves it off). */
    e->enable_chunked_prefill = sched == SV_SCHED_VLLM_V1 || sched == SV_SCHED_SARATHI ||
                                sched == SV_SCHED_LIGHTLLM || sched == SV_SCHED_EDF ||
                                sched == SV_SCHED_TRTLLM;
    if (!opt_int(l, engine, "engine", "max_num_seqs", 1, 1048576, &e->max_num_seqs, error) ||
        !opt_int(l, engine, "engine", "max_num_batched_tokens", 1, MAX_TOKENS,
                 &e->max_num_batched_tokens, error) ||
        !opt_bool(l, engine, "engine", "enable_chunked_prefill", &e->enable_chunked_prefill,
                  error) ||
        !opt_bool(l, engine, "engine", "enable_prefix_caching", &e->enable_prefix_caching, error) ||
        !opt_int(l, engine, "engine", "block_size", 1, 1024, &e->block_size, error) ||
        !opt_double(l, engine, "engine", "gpu_memory_utilization", TRUE, 1.0,
                    &e->gpu_memory_utilization, error) ||
        !opt_int(l, engine, "engine", "max_model_len", 1, MAX_TOKENS, &e->max_model_len, error) ||
        !opt_enum(l, engine, "engine", "dtype", dtype_names, &dtype, error) ||
        !opt_enum(l, engine, "engine", "quantization", quant_names, &quant, error) ||
        !opt_enum(l, engine, "engine", "kv_cache_dtype", kv_dtype_names, &kv, error) ||
        !opt_enum(l, engine, "engine", "preemption_mode", preemption_names, &preempt, error) ||
        !opt_double(l, engine, "engine", "swap_space", FALSE, 1e6, &e->swap_space_gib, error) ||
        !opt_bool(l, engine, "engine", "disable_custom_all_reduce", &e->disable_custom_all_reduce,
                  error))
        return FALSE;
    l->chunked = sv_ynode_get(engine, "enable_chunked_prefill");
    /* Schedulers whose design fixes chunking refuse the other setting rather
     * than silently ignore it. */
    if (l->chunked != NULL && sched == SV_SCHED_SARATHI && !e->enable_chunked_prefill)
        return sv_ydoc_error(l->doc, l->chunked, error, SV_ERROR_INVALID,
                             "scheduler 'sarathi' always chunks prefills; remove "
                             "engine.enable_chunked_prefill or set it to true");
    if (l->chunked != NULL && (sched == SV_SCHED_ORCA || sched == SV_SCHED_STATIC) &&
        e->enable_chunked_prefill)
        return sv_ydoc_error(l->doc, l->chunked, error, SV_ERROR_INVALID,
                             "scheduler '%s' runs whole prompts, never chunks; remove "
                             "engine.enable_chunked_prefill or set it to false",
                             sv_scheduler_names[sched]);
    l->mnbt = sv_ynode_get(engine, "max_num_batched_tokens");
    l->mml = sv_ynode_get(engine, "max_model_len");
    l->gmu = sv_ynode_get(engine, "gpu_memory_utilization");
    /* A name among each pool's hwprofile overheads.profiles, checked with
     * the pools (check_plan); "default" keeps the profile's own terms,
     * "none" (built in) drops host time, as for an engine that overlaps its
     * host work with the GPU step. */
    const SvYNode *ho = sv_ynode_get(engine, "host_overheads");
    const char *hname = NULL;
    if (ho != NULL && !sv_ynode_string(l->doc, ho, "engine.host_overheads", &hname, error))
        return FALSE;
    if (hname != NULL && strcmp(hname, "default") != 0)
        e->host_overheads = g_strdup(hname);
    /* Resolved against the model in resolve(): park the choices in the
     * fields, SV_DTYPE_COUNT meaning "auto" / "none". */
    static const SvDtype act[] = {SV_DTYPE_COUNT, SV_DTYPE_BF16, SV_DTYPE_FP16, SV_DTYPE_FP32};
    e->dtype = act[dtype];
    e->weight_dtype = quant_dtypes[quant];
    e->kv_cache_dtype = kv_dtypes[kv];
    e->preemption_mode = (SvPreemptionMode)preempt;
    /* Swap needs somewhere to swap to; a CPU tier of 0 would turn every
     * swap into a recomputation while claiming to model swap. */
    const SvYNode *swap = sv_ynode_get(engine, "swap_space");
    if (e->preemption_mode == SV_PREEMPT_SWAP && e->swap_space_gib <= 0)
        return sv_ydoc_error(l->doc, swap, error, SV_ERROR_INVALID,
                             "engine.preemption_mode swap needs engine.swap_space > 0 (GiB of "
                             "CPU memory per device)");
    if (swap != NULL && e->preemption_mode != SV_PREEMPT_SWAP)
        return sv_ydoc_error(l->doc, swap, error, SV_ERROR_INVALID,
                             "engine.swap_space applies only to preemption_mode: swap");
    const SvYNode *router = sv_ynode_get(sv_ynode_get(root, "cluster"), "router");
    if (l->cfg->router == SV_ROUTER_PREFIX_AFFINITY && !e->enable_prefix_caching)
        return sv_ydoc_error(l->doc, router, error, SV_ERROR_INVALID,
                             "router prefix-affinity routes by the prefix cache: set "
                             "engine.enable_prefix_caching: true");
    if (e->block_size & (e->block_size - 1))
        return sv_ydoc_error(l->doc, sv_ynode_get(engine, "block_size"), error, SV_ERROR_INVALID,
                             "engine.block_size must be a power of 2, got %d", e->block_size);
    return read_trtllm(l, engine, error) && read_moe_load(l, engine, error) &&
           read_cudagraphs(l, engine, error) && read_moe_backend(l, engine, error);
}

static gboolean read_length(Loader *l, const SvYNode *lengths, const char *which,
                            SvLengthSpec *spec, GError **error)
{
    g_autofree char *where = g_strdup_printf("%s.lengths.%s", l->wprefix, which);
    const SvYNode *map = sv_ynode_get(lengths, which);
    if (map == NULL)
        return missing(l, lengths, error, "%s.lengths needs '%s'", l->wprefix, which);
    if (!sv_ynode_check_keys(l->doc, map, where, length_keys, error))
        return FALSE;
    const SvYNode *dn = sv_ynode_get(map, "dist");
    int dist = SV_LEN_FIXED;
    if (dn == NULL && sv_ynode_get(map, "value") == NULL)
        return missing(l, map, error, "%s needs 'dist' (fixed, uniform, lognormal or trace)",
                       where);
    if (!opt_enum(l, map, where, "dist", dist_names, &dist, error))
        return FALSE;
    spec->dist = (SvLengthDist)dist;
    /* Keys that the chosen distribution does not read are mistakes, not noise. */
    static const char *const used[][4] = {
        [SV_LEN_FIXED] = {"value", NULL},
        [SV_LEN_UNIFORM] = {"min", "max", NULL},
        [SV_LEN_LOGNORMAL] = {"mean", "sigma", "min", "max"},
        [SV_LEN_TRACE] = {NULL},
    };
    for (guint i = 0; i < map->keys->len; i++) {
        const SvYNode *k = g_ptr_array_index(map->keys, i);
        gboolean ok = strcmp(k->value, "dist") == 0;
        for (int j = 0; j < 4 && used[dist][j] != NULL && !ok; j++)
            ok = strcmp(k->value, used[dist][j]) == 0;
        if (!ok)
            return sv_ydoc_error(l->doc, k, error, SV_ERROR_INVALID,
                                 "%s.%s does not apply to dist: %s", where, k->value,
                                 dist_names[dist]);
    }
    switch (spec->dist) {
    case SV_LEN_FIXED:
        if (sv_ynode_get(map, "value") == NULL)
            return missing(l, map, error, "%s: dist fixed needs 'value'", where);
        if (!opt_int64(l, map, where, "value", 1, MAX_TOKENS, &spec->value, error))
            return FALSE;
        break;
    case SV_LEN_UNIFORM:
        if (sv_ynode_get(map, "min") == NULL || sv_ynode_get(map, "max") == NULL)
            return missing(l, map, error, "%s: dist uniform needs 'min' and 'max'", where);
        if (!opt_int64(l, map, where, "min", 1, MAX_TOKENS, &spec->min, error) ||
            !opt_int64(l, map, where, "max", 1, MAX_TOKENS, &spec->max, error))
            return FALSE;
        break;
    case SV_LEN_LOGNORMAL:
        if (sv_ynode_get(map, "mean") == NULL || sv_ynode_get(map, "sigma") == NULL)
            return missing(l, map, error, "%s: dist lognormal needs 'mean' and 'sigma'", where);
        spec->min = 1;
        spec->max = 0; /* filled with max_model_len in resolve() unless given */
        if (!opt_double(l, map, where, "mean", TRUE, MAX_TOKENS, &spec->mean, error) ||
            !opt_double(l, map, where, "sigma", FALSE, 10.0, &spec->sigma, error) ||
            !opt_int64(l, map, where, "min", 1, MAX_TOKENS, &spec->min, error) ||
            !opt_int64(l, map, where, "max", 1, MAX_TOKENS, &spec->max, error))
            return FALSE;
        break;
    case SV_LEN_TRACE:
        if (l->trace == NULL)
            return sv_ydoc_error(l->doc, dn, error, SV_ERROR_INVALID,
                                 "%s.dist: trace needs %s.trace", where, l->wprefix);
        break;
    }
    if (spec->max != 0 && spec->min > spec->max)
        return sv_ydoc_error(l->doc, sv_ynode_get(map, "min"), error, SV_ERROR_INVALID,
                             "%s.min (%" G_GINT64_FORMAT ") is larger than max (%" G_GINT64_FORMAT
                             ")",
                             where, spec->min, spec->max);
    if (strcmp(which, "input") == 0)
        l->input_value = sv_ynode_get(map, "value") != NULL ? sv_ynode_get(map, "value") : map;
    return TRUE;
}

static gboolean read_arrival(Loader *l, const SvYNode *arrival, GError **error)
{
    SvWorkloadConfig *w = l->wl;
    g_autofree char *where = g_strdup_printf("%s.arrival", l->wprefix);
    const SvYNode *pn = sv_ynode_get(arrival, "process");
    if (pn == NULL)
        return missing(l, arrival, error,
                       "%s needs 'process' (poisson, gamma, constant, "
                       "closed-loop or trace)",
                       where);
    int process = 0;
    g_autofree char *pkey = g_strdup_printf("%s.process", where);
    if (!sv_ynode_enum(l->doc, pn, pkey, process_names, &process, error))
        return FALSE;
    w->process = (SvArrivalProcess)process;
    const SvYNode *rate = sv_ynode_get(arrival, "rate_per_s");
    const SvYNode *cv = sv_ynode_get(arrival, "cv");
    const SvYNode *conc = sv_ynode_get(arrival, "concurrency");
    /* Values first (a bad number is the more precise message), then which
     * keys the process needs or ignores. */
    if (!opt_double(l, arrival, where, "rate_per_s", TRUE, MAX_RATE_PER_S, &w->rate_per_s, error) ||
        !opt_double(l, arrival, where, "cv", TRUE, 100.0, &w->cv, error) ||
        !opt_int(l, arrival, where, "concurrency", 1, MAX_CONCURRENCY, &w->concurrency, error))
        return FALSE;
    gboolean rated = w->process == SV_ARRIVAL_POISSON || w->process == SV_ARRIVAL_GAMMA ||
                     w->process == SV_ARRIVAL_CONSTANT;
    if (rated && rate == NULL)
        return missing(l, arrival, error, "process %s needs 'rate_per_s'", process_names[process]);
    if (!rated && rate != NULL)
        return sv_ydoc_error(l->doc, sv_ynode_key(arrival, "rate_per_s"), error, SV_ERROR_INVALID,
                             "%s.rate_per_s does not apply to process %s", where,
                             process_names[process]);
    if (w->process == SV_ARRIVAL_GAMMA && cv == NULL)
        return missing(l, arrival, error, "process gamma needs 'cv'");
    if (w->process != SV_ARRIVAL_GAMMA && cv != NULL)
        return sv_ydoc_error(l->doc, sv_ynode_key(arrival, "cv"), error, SV_ERROR_INVALID,
                             "%s.cv applies only to process gamma", where);
    if (w->process == SV_ARRIVAL_CLOSED_LOOP && conc == NULL)
        return missing(l, arrival, error, "process closed-loop needs 'concurrency'");
    if (w->process != SV_ARRIVAL_CLOSED_LOOP && conc != NULL)
        return sv_ydoc_error(l->doc, sv_ynode_key(arrival, "concurrency"), error, SV_ERROR_INVALID,
                             "%s.concurrency applies only to process closed-loop", where);
    if (w->process == SV_ARRIVAL_TRACE && l->trace == NULL)
        return sv_ydoc_error(l->doc, pn, error, SV_ERROR_INVALID, "process: trace needs %s.trace",
                             l->wprefix);
    return TRUE;
}

/* The sources of prefix sharing of a stream: hash_block_tokens (what a
 * trace's hash ids cover), prefix (K shared system prompts of L tokens,
 * taken with probability p) and sessions (multi-turn conversations). */
static gboolean read_sharing(Loader *l, const SvYNode *work, GError **error)
{
    SvWorkloadConfig *w = l->wl;
    const char *prefix = l->wprefix;
    w->hash_block_tokens = 512; /* Mooncake's block */
    if (!opt_int(l, work, prefix, "hash_block_tokens", 1, MAX_TOKENS, &w->hash_block_tokens, error))
        return FALSE;
    int block = l->cfg->engine.block_size;
    if (w->hash_block_tokens % block != 0 && block % w->hash_block_tokens != 0)
        return sv_ydoc_error(l->doc, sv_ynode_get(work, "hash_block_tokens"), error,
                             SV_ERROR_INVALID,
                             "%s.hash_block_tokens (%d) and engine.block_size (%d) must divide "
                             "one another, so that trace hash ids map onto whole KV blocks",
                             prefix, w->hash_block_tokens, block);
    g_autofree char *pkey = full_key(prefix, "prefix");
    g_autofree char *skey = full_key(prefix, "sessions");
    const SvYNode *pm, *sm;
    if (!opt_map(l, work, prefix, "prefix", prefix_keys, &pm, error) ||
        !opt_map(l, work, prefix, "sessions", session_keys, &sm, error))
        return FALSE;
    if (pm != NULL) {
        if (sv_ynode_get(pm, "prompts") == NULL || sv_ynode_get(pm, "tokens") == NULL)
            return missing(l, pm, error,
                           "%s needs 'prompts' (how many shared system prompts) and 'tokens' "
                           "(the length of each)",
                           pkey);
        w->prefix.probability = 1.0;
        if (!opt_int(l, pm, pkey, "prompts", 1, 1000000, &w->prefix.num_prompts, error) ||
            !opt_int(l, pm, pkey, "tokens", 1, MAX_TOKENS, &w->prefix.tokens, error) ||
            !opt_double(l, pm, pkey, "probability", FALSE, 1.0, &w->prefix.probability, error))
            return FALSE;
    }
    if (sm != NULL) {
        if (sv_ynode_get(sm, "turns") == NULL || sv_ynode_get(sm, "think_time_s") == NULL)
            return missing(l, sm, error,
                           "%s needs 'turns' (requests per session) and 'think_time_s' (mean "
                           "gap between turns)",
                           skey);
        if (!opt_int(l, sm, skey, "turns", 1, 100000, &w->sessions.turns, error) ||
            !opt_double(l, sm, skey, "think_time_s", TRUE, MAX_DURATION_S,
                        &w->sessions.think_time_s, error))
            return FALSE;
        /* Sessions start at the arrival process's times; a trace replay or a
         * closed loop has no such starts to give. */
        if (w->process != SV_ARRIVAL_POISSON && w->process != SV_ARRIVAL_GAMMA &&
            w->process != SV_ARRIVAL_CONSTANT)
            return sv_ydoc_error(l->doc, sv_ynode_key(work, "sessions"), error, SV_ERROR_INVALID,
                                 "%s needs an arrival process that starts sessions (poisson, "
                                 "gamma or constant), not '%s'",
                                 skey, w->process == SV_ARRIVAL_TRACE ? "trace" : "closed-loop");
    }
    return TRUE;
}

/* One request stream: the study's workload map, or one tenant's map, into
 * l->wl; keys are named under l->wprefix. */
static gboolean read_stream(Loader *l, const SvYNode *work, GError **error)
{
    SvWorkloadConfig *w = l->wl;
    const char *prefix = l->wprefix;
    l->trace = sv_ynode_get(work, "trace");
    if (l->trace != NULL) {
        const char *name;
        g_autofree char *tkey = g_strdup_printf("%s.trace", prefix);
        if (!sv_ynode_string(l->doc, l->trace, tkey, &name, error))
            return FALSE;
        w->trace_path = sv_data_find("traces", name, ".csv", l->dir);
        if (w->trace_path == NULL) /* Mooncake traces keep their JSONL form */
            w->trace_path = sv_data_find("traces", name, ".jsonl", l->dir);
        gboolean pathlike = strchr(name, '/') != NULL || strchr(name, '.') != NULL;
        if (w->trace_path == NULL && pathlike)
            return sv_ydoc_error(l->doc, l->trace, error, SV_ERROR_NOT_FOUND,
                                 "trace '%s' not found (looked in the current directory and in "
                                 "%s)",
                                 name, l->dir);
        if (w->trace_path == NULL)
            return sv_ydoc_error(l->doc, l->trace, error, SV_ERROR_NOT_FOUND,
                                 "trace '%s' not found (no traces/%s.csv or .jsonl)", name, name);
    }

    const SvYNode *lengths, *arrival;
    if (!opt_map(l, work, prefix, "lengths", lengths_keys, &lengths, error) ||
        !opt_map(l, work, prefix, "arrival", arrival_keys, &arrival, error))
        return FALSE;
    w->input.dist = SV_LEN_TRACE;
    w->output.dist = SV_LEN_TRACE;
    if (lengths != NULL) {
        w->has_lengths = TRUE;
        if (!read_length(l, lengths, "input", &w->input, error) ||
            !read_length(l, lengths, "output", &w->output, error))
            return FALSE;
    }
    w->process = SV_ARRIVAL_TRACE;
    if (arrival != NULL && !read_arrival(l, arrival, error))
        return FALSE;
    if (!opt_int64(l, work, prefix, "num_requests", 1, MAX_REQUESTS, &w->num_requests, error) ||
        !opt_double(l, work, prefix, "duration_s", TRUE, MAX_DURATION_S, &w->duration_s, error))
        return FALSE;
    if (!read_sharing(l, work, error))
        return FALSE;

    /* What is missing, once every value present is known to be good. */
    if (lengths == NULL && l->trace == NULL)
        return missing(l, work, error,
                       "%s needs request lengths: 'trace' or 'lengths' (input and output)", prefix);
    if (arrival == NULL && l->trace == NULL)
        return missing(l, work, error,
                       "%s needs 'arrival' (e.g. {process: poisson, rate_per_s: 4}) or a "
                       "trace with its own arrival times",
                       prefix);
    if (w->num_requests == 0 && w->duration_s == 0.0 && w->process != SV_ARRIVAL_TRACE)
        return missing(l, work, error,
                       "%s needs an end: 'num_requests' or 'duration_s' (only a trace's "
                       "own arrivals end by themselves)",
                       prefix);
    /* An open loop ended by duration alone sends about rate x duration
     * requests: past num_requests' limit that is a run that never ends. */
    gboolean open = w->process == SV_ARRIVAL_POISSON || w->process == SV_ARRIVAL_GAMMA ||
                    w->process == SV_ARRIVAL_CONSTANT;
    if (open && w->num_requests == 0 && w->rate_per_s * w->duration_s > (double)MAX_REQUESTS)
        return sv_ydoc_error(l->doc, sv_ynode_get(work, "duration_s"), error, SV_ERROR_INVALID,
                             "%s: rate_per_s %g over duration_s %g is %.3g requests; at most %g "
                             "(set num_requests, or a shorter duration_s)",
                             prefix, w->rate_per_s, w->duration_s, w->rate_per_s * w->duration_s,
                             (double)MAX_REQUESTS);
    return TRUE;
}

/* The run-level index of the SLO class called @name: 0 for "default" (the
 * study's slo:), i + 1 for cfg->slo_classes[i]; an error names the nearest. */
static gboolean find_slo_class(Loader *l, const SvYNode *node, const char *key, int *out,
                               GError **error)
{
    const char *name;
    if (!sv_ynode_string(l->doc, node, key, &name, error))
        return FALSE;
    if (strcmp(name, "default") == 0) {
        *out = 0;
        return TRUE;
    }
    GPtrArray *classes = l->cfg->slo_classes;
    g_autoptr(GPtrArray) names = g_ptr_array_new();
    g_ptr_array_add(names, "default");
    for (guint i = 0; classes != NULL && i < classes->len; i++) {
        const SvSloClass *c = g_ptr_array_index(classes, i);
        if (strcmp(c->name, name) == 0) {
            *out = (int)i + 1;
            return TRUE;
        }
        g_ptr_array_add(names, c->name);
    }
    g_ptr_array_add(names, NULL);
    const char *near = sv_nearest(name, (const char *const *)names->pdata);
    return sv_ydoc_error(l->doc, node, error, SV_ERROR_INVALID,
                         "%s: unknown SLO class '%s'%s%s%s (define it under slo_classes)", key,
                         name, near ? " (did you mean '" : "", near ? near : "", near ? "'?)" : "");
}

#define MAX_TENANTS 1024

/* Tenant and class names are written unquoted in requests.csv. */
static gboolean check_name(Loader *l, const SvYNode *node, const char *what, const char *name,
                           GError **error)
{
    if (strpbrk(name, ",\"\r\n") != NULL)
        return sv_ydoc_error(l->doc, node, error, SV_ERROR_INVALID,
                             "%s name '%s' may not contain commas, quotes or line breaks", what,
                             name);
    return TRUE;
}

static gboolean read_tenants(Loader *l, const SvYNode *work, const SvYNode *tenants, GError **error)
{
    /* With tenants every stream lives in a tenant; a top-level stream key
     * next to them would be ambiguous (a default? a tenant of its own?). */
    for (guint i = 0; i < work->keys->len; i++) {
        const SvYNode *k = g_ptr_array_index(work->keys, i);
        if (strcmp(k->value, "tenants") != 0)
            return sv_ydoc_error(l->doc, k, error, SV_ERROR_INVALID,
                                 "workload.%s cannot sit next to workload.tenants: give it "
                                 "inside each tenant",
                                 k->value);
    }
    if (!sv_ynode_expect_seq(l->doc, tenants, "workload.tenants", error))
        return FALSE;
    if (tenants->items->len == 0)
        return sv_ydoc_error(l->doc, tenants, error, SV_ERROR_INVALID,
                             "workload.tenants must list at least one tenant");
    if (tenants->items->len > MAX_TENANTS)
        return sv_ydoc_error(l->doc, tenants, error, SV_ERROR_INVALID,
                             "workload.tenants lists %u tenants; at most %d", tenants->items->len,
                             MAX_TENANTS);
    l->cfg->tenants = g_ptr_array_new_with_free_func(tenant_free);
    l->tenant_inputs = g_ptr_array_new();
    for (guint i = 0; i < tenants->items->len; i++) {
        const SvYNode *node = g_ptr_array_index(tenants->items, i);
        g_autofree char *where = g_strdup_printf("workload.tenants[%u]", i);
        if (!sv_ynode_check_keys(l->doc, node, where, tenant_keys, error))
            return FALSE;
        SvTenantConfig *t = g_new0(SvTenantConfig, 1);
        g_ptr_array_add(l->cfg->tenants, t);
        t->slo_class = -1;
        const SvYNode *n = sv_ynode_get(node, "name");
        if (n != NULL) {
            const char *name;
            g_autofree char *k = full_key(where, "name");
            if (!sv_ynode_string(l->doc, n, k, &name, error))
                return FALSE;
            for (guint j = 0; j < i; j++)
                if (strcmp(((SvTenantConfig *)g_ptr_array_index(l->cfg->tenants, j))->name, name) ==
                    0)
                    return sv_ydoc_error(l->doc, n, error, SV_ERROR_INVALID,
                                         "tenant name '%s' is used twice", name);
            if (!check_name(l, n, "tenant", name, error))
                return FALSE;
            t->name = g_strdup(name);
        } else {
            t->name = g_strdup_printf("tenant%u", i);
        }
        n = sv_ynode_get(node, "slo_class");
        if (n != NULL) {
            g_autofree char *k = full_key(where, "slo_class");
            if (!find_slo_class(l, n, k, &t->slo_class, error))
                return FALSE;
        }
        t->has_priority = sv_ynode_get(node, "priority") != NULL;
        if (!opt_int(l, node, where, "priority", -1000000, 1000000, &t->priority, error))
            return FALSE;
        l->wl = &t->workload;
        l->wprefix = where;
        l->input_value = NULL;
        if (!read_stream(l, node, error))
            return FALSE;
        g_ptr_array_add(l->tenant_inputs, (gpointer)l->input_value);
    }
    l->input_value = NULL;
    return TRUE;
}

static gboolean read_workload(Loader *l, const SvYNode *root, GError **error)
{
    const SvYNode *work;
    if (!opt_map(l, root, NULL, "workload", workload_keys, &work, error))
        return FALSE;
    if (work == NULL)
        return missing(l, NULL, error,
                       "the study needs 'workload' (a trace or lengths, an arrival process and "
                       "num_requests or duration_s)");
    const SvYNode *tenants = sv_ynode_get(work, "tenants");
    if (tenants != NULL)
        return read_tenants(l, work, tenants, error);
    l->wl = &l->cfg->workload;
    l->wprefix = "workload";
    return read_stream(l, work, error);
}

static gboolean read_slo_output(Loader *l, const SvYNode *root, GError **error)
{
    SvSloConfig *slo = &l->cfg->slo;
    slo->percentile = 90.0;
    l->cfg->output.sample_interval_s = 1.0;
    const SvYNode *map;
    if (!opt_map(l, root, NULL, "slo", slo_keys, &map, error))
        return FALSE;
    if (!opt_double(l, map, "slo", "ttft_s", TRUE, MAX_SLO_S, &slo->ttft_s, error) ||
        !opt_double(l, map, "slo", "tpot_s", TRUE, MAX_SLO_S, &slo->tpot_s, error) ||
        !opt_double(l, map, "slo", "e2e_s", TRUE, MAX_SLO_S, &slo->e2e_s, error) ||
        !opt_double(l, map, "slo", "percentile", TRUE, 100.0, &slo->percentile, error))
        return FALSE;
    if (!opt_map(l, root, NULL, "output", output_keys, &map, error))
        return FALSE;
    if (!opt_double(l, map, "output", "sample_interval_s", TRUE, 1e6,
                    &l->cfg->output.sample_interval_s, error))
        return FALSE;
    /* Finer than an engine iteration says nothing more, and a row per
     * microsecond of a long run would not fit in memory. */
    if (l->cfg->output.sample_interval_s < MIN_SAMPLE_INTERVAL_S)
        return sv_ydoc_error(l->doc, sv_ynode_get(map, "sample_interval_s"), error,
                             SV_ERROR_INVALID,
                             "output.sample_interval_s must be at least %g s (an engine "
                             "iteration lasts milliseconds), got %s",
                             MIN_SAMPLE_INTERVAL_S, sv_ynode_get(map, "sample_interval_s")->value);
    return TRUE;
}

/* Named classes fit the request record's one-byte class index, with class
 * 0 the study's slo:. */
#define MAX_SLO_CLASSES 254

static gboolean read_slo_classes(Loader *l, const SvYNode *root, GError **error)
{
    const SvYNode *map = sv_ynode_get(root, "slo_classes");
    if (map == NULL)
        return TRUE;
    if (!sv_ynode_expect_map(l->doc, map, "slo_classes", error))
        return FALSE;
    if (map->keys->len == 0)
        return sv_ydoc_error(l->doc, map, error, SV_ERROR_INVALID,
                             "slo_classes must define at least one class");
    if (map->keys->len > MAX_SLO_CLASSES)
        return sv_ydoc_error(l->doc, map, error, SV_ERROR_INVALID,
                             "slo_classes defines %u classes; at most %d", map->keys->len,
                             MAX_SLO_CLASSES);
    l->cfg->slo_classes = g_ptr_array_new_with_free_func(slo_class_free);
    for (guint i = 0; i < map->keys->len; i++) {
        const SvYNode *k = g_ptr_array_index(map->keys, i);
        const SvYNode *v = g_ptr_array_index(map->items, i);
        if (k->value == NULL || k->is_null || *k->value == '\0')
            return sv_ydoc_error(l->doc, k, error, SV_ERROR_INVALID,
                                 "an SLO class needs a non-empty name");
        if (strcmp(k->value, "default") == 0)
            return sv_ydoc_error(l->doc, k, error, SV_ERROR_INVALID,
                                 "slo_classes.default: 'default' is the study's slo: section; "
                                 "give this class another name");
        for (guint j = 0; j < i; j++)
            if (strcmp(((const SvYNode *)g_ptr_array_index(map->keys, j))->value, k->value) == 0)
                return sv_ydoc_error(l->doc, k, error, SV_ERROR_INVALID,
                                     "SLO class '%s' is defined twice", k->value);
        if (!check_name(l, k, "SLO class", k->value, error))
            return FALSE;
        g_autofree char *where = g_strdup_printf("slo_classes.%s", k->value);
        if (!sv_ynode_check_keys(l->doc, v, where, slo_class_keys, error))
            return FALSE;
        SvSloClass *c = g_new0(SvSloClass, 1);
        g_ptr_array_add(l->cfg->slo_classes, c);
        c->name = g_strdup(k->value);
        if (!opt_double(l, v, where, "ttft_s", TRUE, MAX_SLO_S, &c->ttft_s, error) ||
            !opt_double(l, v, where, "tpot_s", TRUE, MAX_SLO_S, &c->tpot_s, error) ||
            !opt_double(l, v, where, "e2e_s", TRUE, MAX_SLO_S, &c->e2e_s, error) ||
            !opt_int(l, v, where, "priority", -1000000, 1000000, &c->priority, error))
            return FALSE;
    }
    return TRUE;
}

static gboolean read_admission(Loader *l, const SvYNode *root, GError **error)
{
    SvAdmissionConfig *a = &l->cfg->admission;
    const SvYNode *map, *rate;
    if (!opt_map(l, root, NULL, "admission", admission_keys, &map, error))
        return FALSE;
    if (map == NULL)
        return TRUE;
    if (!opt_int(l, map, "admission", "max_queue_length", 1, MAX_CONCURRENCY, &a->max_queue_length,
                 error) ||
        !opt_int(l, map, "admission", "max_cluster_queue_length", 1, MAX_CONCURRENCY,
                 &a->max_cluster_queue_length, error) ||
        !opt_bool(l, map, "admission", "reject_predicted_slo_miss", &a->reject_predicted_slo_miss,
                  error) ||
        !opt_map(l, map, "admission", "rate_limit", rate_limit_keys, &rate, error))
        return FALSE;
    if (rate != NULL) {
        if (sv_ynode_get(rate, "rate_per_s") == NULL || sv_ynode_get(rate, "burst") == NULL)
            return missing(l, rate, error,
                           "admission.rate_limit needs 'rate_per_s' (tokens added per second) "
                           "and 'burst' (bucket size, requests)");
        if (!opt_double(l, rate, "admission.rate_limit", "rate_per_s", TRUE, MAX_RATE_PER_S,
                        &a->rate_limit_per_s, error) ||
            !opt_int(l, rate, "admission.rate_limit", "burst", 1, MAX_CONCURRENCY,
                     &a->rate_limit_burst, error))
            return FALSE;
    }
    /* The predictor estimates TTFT only: with no TTFT target anywhere the
     * rule could never fire. */
    l->slo_miss = sv_ynode_get(map, "reject_predicted_slo_miss");
    if (a->reject_predicted_slo_miss) {
        gboolean any = l->cfg->slo.ttft_s > 0;
        for (guint i = 0; l->cfg->slo_classes != NULL && i < l->cfg->slo_classes->len; i++)
            any =
                any || ((const SvSloClass *)g_ptr_array_index(l->cfg->slo_classes, i))->ttft_s > 0;
        if (!any)
            return sv_ydoc_error(l->doc, l->slo_miss, error, SV_ERROR_INVALID,
                                 "admission.reject_predicted_slo_miss needs a TTFT target to "
                                 "predict against (slo.ttft_s or a class's ttft_s)");
    }
    return TRUE;
}

/* ------------------------------------------------------------------------- */
/* Resolution against the model and hardware */

/* Point a loader's error at the study's @node, keeping its text and domain:
 * "study.yaml:3:8: unknown model 'llama-3-8' (did you mean 'llama-3-8b'?)". */
static gboolean rewrap(Loader *l, const SvYNode *node, GError *inner, GError **error)
{
    /* An error inside the model or hardware file already names its own
     * file:line:col; only a name or path that was not found points back at
     * the study line that asked for it. */
    if (inner->code != SV_ERROR_NOT_FOUND && sv_error_is_input(inner)) {
        g_propagate_error(error, inner);
        return FALSE;
    }
    sv_ydoc_error(l->doc, node, error, (SvErrorCode)inner->code, "%s", inner->message);
    if (error != NULL && *error != NULL)
        (*error)->domain = sv_error_is_input(inner) ? inner->domain : SV_CONFIG_ERROR;
    g_error_free(inner);
    return FALSE;
}

/* A path-like name is looked up relative to the study first, then as given. */
static char *resolve_path(Loader *l, const char *subdir, const char *name)
{
    gboolean pathlike = strchr(name, '/') != NULL || g_str_has_suffix(name, ".yaml") ||
                        g_str_has_suffix(name, ".yml") || g_str_has_suffix(name, ".json");
    if (!pathlike || g_path_is_absolute(name))
        return g_strdup(name);
    g_autofree char *rel = g_build_filename(l->dir, name, NULL);
    if (g_file_test(rel, G_FILE_TEST_IS_DIR)) /* a Hugging Face snapshot directory */
        return g_steal_pointer(&rel);
    char *found = sv_data_find(subdir, name, ".yaml", l->dir);
    return found != NULL ? found : g_strdup(name);
}

static gboolean read_model(Loader *l, const SvYNode *root, GError **error)
{
    l->model = sv_ynode_get(root, "model");
    if (l->model == NULL)
        return missing(l, NULL, error, "the study needs 'model' (e.g. model: llama-3-8b)");
    const char *name;
    if (!sv_ynode_string(l->doc, l->model, "model", &name, error))
        return FALSE;
    l->cfg->model_name = g_strdup(name);
    g_autofree char *path = resolve_path(l, "models", name);
    GError *inner = NULL;
    l->cfg->model = sv_model_load(path, &inner);
    if (l->cfg->model == NULL)
        return rewrap(l, l->model, inner, error);
    return TRUE;
}

static gboolean load_hardware(Loader *l, GError **error)
{
    for (guint i = 0; i < l->cfg->pools->len; i++) {
        SvPoolConfig *pool = g_ptr_array_index(l->cfg->pools, i);
        g_autofree char *path = resolve_path(l, "hwprofiles", pool->hardware_name);
        GError *inner = NULL;
        if (l->hooks != NULL && l->hooks->load_hw != NULL)
            pool->hw = l->hooks->load_hw(l->hooks->user_data, path, &inner);
        else
            pool->hw = sv_hw_load(path, &inner);
        if (pool->hw == NULL)
            return rewrap(l, l->pools[i].hw, inner, error);
    }
    return TRUE;
}

static gboolean plan_error(Loader *l, const SvYNode *node, GError **error, const char *fmt, ...)
    G_GNUC_PRINTF(4, 5);
static gboolean plan_error(Loader *l, const SvYNode *node, GError **error, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    sv_ydoc_error(l->doc, node, error, SV_ERROR_INFEASIBLE, "%s", msg);
    if (error != NULL && *error != NULL)
        (*error)->domain = SV_PLAN_ERROR;
    return FALSE;
}

/* Shapes of one pool's plan against the model, and whether its weights and
 * one max_model_len sequence fit its devices (perf/plan.h sizes memory as
 * the serving engine does). The predictor's own checks (links, dtypes) run
 * when the simulation is built. */
static gboolean check_plan(Loader *l, int index, GError **error)
{
    const SvPoolConfig *p = g_ptr_array_index(l->cfg->pools, index);
    const PoolMarks *m = &l->pools[index];
    const SvModel *model = l->cfg->model;
    const SvEngineConfig *e = &l->cfg->engine;
    int tp = p->tensor_parallel_size, pp = p->pipeline_parallel_size;
    int ep = p->expert_parallel_size, dp = p->data_parallel_size;

    /* Query heads are split over TP ranks; KV heads may be fewer than the
     * ranks (vLLM replicates them), so only num_heads must divide. */
    if (model->num_heads % tp != 0)
        return plan_error(l, m->tp ? m->tp : m->map, error,
                          "tensor_parallel_size %d does not divide the %d attention heads of %s",
                          tp, model->num_heads, model->name);
    if (model->kv_lora_rank <= 0 && model->num_kv_heads > 0 && model->num_kv_heads % tp != 0 &&
        tp % model->num_kv_heads != 0)
        return plan_error(l, m->tp ? m->tp : m->map, error,
                          "tensor_parallel_size %d and the %d KV heads of %s do not divide one "
                          "another (KV heads can only be split or replicated evenly)",
                          tp, model->num_kv_heads, model->name);
    if (pp > model->num_layers)
        return plan_error(l, m->pp ? m->pp : m->map, error,
                          "pipeline_parallel_size %d exceeds the %d layers of %s", pp,
                          model->num_layers, model->name);
    if (ep > 1 && model->num_experts == 0)
        return plan_error(l, m->ep ? m->ep : m->map, error,
                          "expert_parallel_size %d needs a mixture-of-experts model; %s is dense",
                          ep, model->name);
    if (ep > 1 && model->num_experts % ep != 0)
        return plan_error(l, m->ep ? m->ep : m->map, error,
                          "expert_parallel_size %d does not divide the %d experts of %s", ep,
                          model->num_experts, model->name);
    if (dp > 1 && model->num_experts == 0)
        return plan_error(l, m->dp, error,
                          "data_parallel_size %d splits attention over ranks that share MoE "
                          "layers, but %s is dense: serve more replicas instead",
                          dp, model->name);
    if (dp == 1 && tp % ep != 0)
        return plan_error(l, m->ep ? m->ep : m->map, error,
                          "expert_parallel_size %d must divide tensor_parallel_size %d: the "
                          "experts are spread over the devices of a stage (add "
                          "data_parallel_size for more expert-parallel ranks)",
                          ep, tp);
    if (dp > 1 && ep != tp * dp)
        return plan_error(l, m->ep ? m->ep : m->dp, error,
                          "with data_parallel_size %d, expert_parallel_size must be "
                          "tensor_parallel_size x data_parallel_size = %d (every device of a "
                          "stage holds its own experts), got %d",
                          dp, tp * dp, ep);
    const SvYNode *moe = sv_ynode_get(sv_ynode_get(l->doc->root, "engine"), "moe_load");
    if (moe != NULL && model->num_experts == 0)
        return sv_ydoc_error(l->doc, moe, error, SV_ERROR_INVALID,
                             "engine.moe_load applies to mixture-of-experts models; %s is dense",
                             model->name);
    if (e->moe_load.dist == SV_MOE_MEASURED && e->moe_load.num_frequencies != model->num_experts)
        return sv_ydoc_error(l->doc, sv_ynode_get(moe, "frequencies"), error, SV_ERROR_INVALID,
                             "engine.moe_load.frequencies lists %d experts but %s has %d",
                             e->moe_load.num_frequencies, model->name, model->num_experts);

    if (e->host_overheads != NULL && strcmp(e->host_overheads, "none") != 0 &&
        sv_hw_host_profile(p->hw, e->host_overheads) == NULL) {
        const SvHw *hw = p->hw;
        g_autofree const char **names = g_new0(const char *, hw->num_host_profiles + 1);
        g_autoptr(GString) have = g_string_new("default, none");
        for (int i = 0; i < hw->num_host_profiles; i++) {
            names[i] = hw->host_profiles[i].name;
            g_string_append_printf(have, ", %s", names[i]);
        }
        const char *near = sv_nearest(e->host_overheads, names);
        g_autofree char *hint = near != NULL ? g_strdup_printf("did you mean '%s'?", near)
                                             : g_strdup_printf("it has: %s", have->str);
        return sv_ydoc_error(l->doc,
                             sv_ynode_get(sv_ynode_get(l->doc->root, "engine"), "host_overheads"),
                             error, SV_ERROR_INVALID,
                             "engine.host_overheads '%s': pool '%s' hardware %s has no such "
                             "profile under overheads.profiles (%s)",
                             e->host_overheads, p->name, hw->name, hint);
    }
    SvPlan plan;
    sv_pool_plan(l->cfg, p, &plan);
    g_autoptr(GError) fit = NULL;
    SvPlanFit why = sv_plan_check_fit(model, p->hw, &plan, e->gpu_memory_utilization, e->block_size,
                                      e->max_model_len, NULL, &fit);
    if (why == SV_FIT_OK)
        return TRUE;
    return plan_error(l, why == SV_FIT_MAX_LEN && l->mml ? l->mml : m->map, error, "%s",
                      fit->message);
}

static gboolean resolve(Loader *l, GError **error)
{
    SvConfig *c = l->cfg;
    SvEngineConfig *e = &c->engine;
    const SvModel *model = c->model;

    if (e->dtype == SV_DTYPE_COUNT) /* auto: the model's own 16/32-bit type */
        e->dtype = model->dtype == SV_DTYPE_FP16 || model->dtype == SV_DTYPE_FP32 ? model->dtype
                                                                                  : SV_DTYPE_BF16;
    if (e->weight_dtype == SV_DTYPE_COUNT)
        e->weight_dtype = e->dtype;
    if (e->kv_cache_dtype == SV_DTYPE_COUNT)
        e->kv_cache_dtype = e->dtype;

    if (e->moe_backend != SV_MOE_BACKEND_AUTO && model->num_experts == 0)
        return sv_ydoc_error(l->doc, l->moe_backend, error, SV_ERROR_INVALID,
                             "engine.moe_backend '%s' needs a mixture-of-experts model; %s is "
                             "dense",
                             sv_moe_backend_names[e->moe_backend], model->name);
    if (e->max_model_len == 0)
        e->max_model_len = model->max_position_embeddings;
    else if (model->max_position_embeddings > 0 &&
             e->max_model_len > model->max_position_embeddings)
        return sv_ydoc_error(l->doc, l->mml, error, SV_ERROR_INVALID,
                             "engine.max_model_len %d exceeds the %d tokens %s supports "
                             "(max_position_embeddings)",
                             e->max_model_len, model->max_position_embeddings, model->name);
    if (e->max_num_batched_tokens == 0) {
        if (!e->enable_chunked_prefill)
            e->max_num_batched_tokens = MAX(e->max_model_len, DEFAULT_V0_BATCHED_TOKENS);
        else if (e->scheduler == SV_SCHED_VLLM_V0)
            e->max_num_batched_tokens = DEFAULT_V0_BATCHED_TOKENS;
        else if (e->scheduler == SV_SCHED_SARATHI)
            e->max_num_batched_tokens = MAX(DEFAULT_SARATHI_CHUNK_TOKENS, e->max_num_seqs);
        else
            e->max_num_batched_tokens = DEFAULT_V1_BATCHED_TOKENS;
        e->max_num_batched_tokens = MIN(e->max_num_batched_tokens, MAX_TOKENS);
    } else if (!e->enable_chunked_prefill && e->max_num_batched_tokens < e->max_model_len) {
        /* vLLM's SchedulerConfig refuses this: a prompt of max_model_len
         * tokens could never be scheduled. */
        return sv_ydoc_error(l->doc, l->mnbt, error, SV_ERROR_INVALID,
                             "engine.max_num_batched_tokens (%d) is smaller than max_model_len "
                             "(%d) without chunked prefill, so long prompts could never run; "
                             "raise it, lower engine.max_model_len or enable chunked prefill",
                             e->max_num_batched_tokens, e->max_model_len);
    }
    if (e->max_num_batched_tokens < e->max_num_seqs && l->mnbt != NULL)
        return sv_ydoc_error(l->doc, l->mnbt, error, SV_ERROR_INVALID,
                             "engine.max_num_batched_tokens (%d) must be at least max_num_seqs "
                             "(%d): every running sequence needs a token per iteration",
                             e->max_num_batched_tokens, e->max_num_seqs);

    /* Each request stream: the workload, or every tenant's. */
    guint n_streams = c->tenants != NULL ? c->tenants->len : 1;
    for (guint t = 0; t < n_streams; t++) {
        SvWorkloadConfig *w = &c->workload;
        const SvYNode *input_mark = l->input_value;
        if (c->tenants != NULL) {
            w = &((SvTenantConfig *)g_ptr_array_index(c->tenants, t))->workload;
            input_mark = g_ptr_array_index(l->tenant_inputs, t);
        }
        SvLengthSpec *specs[2] = {&w->input, &w->output};
        for (int i = 0; i < 2; i++)
            if (specs[i]->dist == SV_LEN_LOGNORMAL && specs[i]->max == 0)
                specs[i]->max = e->max_model_len > 0 ? e->max_model_len : MAX_TOKENS;
        /* The shortest request the lengths can draw: when even it is too
         * long, every request would be rejected (and a closed loop would
         * replace them at one instant). Trace lengths are checked later. */
        int64_t shortest[2];
        for (int i = 0; i < 2; i++)
            shortest[i] = specs[i]->dist == SV_LEN_FIXED     ? specs[i]->value
                          : specs[i]->dist == SV_LEN_UNIFORM ? specs[i]->min
                                                             : MAX(specs[i]->min, 1);
        gboolean synthetic =
            w->has_lengths && w->input.dist != SV_LEN_TRACE && w->output.dist != SV_LEN_TRACE;
        if (synthetic && e->max_model_len > 0 && shortest[0] + shortest[1] > e->max_model_len) {
            const char *in_least = w->input.dist == SV_LEN_FIXED ? "" : "at least ";
            const char *out_least = w->output.dist == SV_LEN_FIXED ? "" : "at least ";
            return sv_ydoc_error(l->doc, input_mark, error, SV_ERROR_INVALID,
                                 "input (%s%" G_GINT64_FORMAT ") plus output (%s%" G_GINT64_FORMAT
                                 ") tokens exceed max_model_len %d: every request would be "
                                 "rejected",
                                 in_least, shortest[0], out_least, shortest[1], e->max_model_len);
        }
    }

    for (guint i = 0; i < c->pools->len; i++)
        if (!check_plan(l, (int)i, error))
            return FALSE;
    return TRUE;
}

/* ------------------------------------------------------------------------- */

SvConfig *sv_config_load(const char *path, const char *const *overrides, GError **error)
{
    g_return_val_if_fail(path != NULL, NULL);
    g_autoptr(SvYDoc) doc = sv_ydoc_load_file(path, SV_CONFIG_ERROR, error);
    if (doc == NULL)
        return NULL;
    for (const char *const *o = overrides; o != NULL && *o != NULL; o++)
        if (!sv_ydoc_set(doc, *o, error))
            return NULL;
    return sv_config_load_doc(doc, path, NULL, error);
}

SvConfig *sv_config_load_doc(SvYDoc *doc, const char *path, const SvConfigHooks *hooks,
                             GError **error)
{
    g_return_val_if_fail(doc != NULL && path != NULL, NULL);
    if (doc->root == NULL) {
        g_set_error(error, SV_CONFIG_ERROR, SV_ERROR_INVALID,
                    "%s: the study is empty (it needs model, cluster and workload)", path);
        return NULL;
    }
    if (!sv_ynode_expect_map(doc, doc->root, "the study", error))
        return NULL;

    g_autoptr(SvConfig) cfg = g_new0(SvConfig, 1);
    cfg->path = g_strdup(path);
    cfg->pools = g_ptr_array_new_with_free_func(pool_free);
    cfg->seed = 1;
    cfg->router = SV_ROUTER_ROUND_ROBIN;
    g_autofree char *dir = g_path_get_dirname(path);
    Loader l = {.doc = doc, .dir = dir, .cfg = cfg, .hooks = hooks};
    g_autofree PoolMarks *marks = NULL;

    gboolean ok = sv_ynode_check_keys(doc, doc->root, "the study", top_keys, error);
    /* search: is read by `plan` and `capacity` (search/space.c), not here. */
    const SvYNode *search = sv_ynode_get(doc->root, "search");
    ok = ok && (search == NULL || sv_ynode_expect_map(doc, search, "search", error));
    int64_t seed = 1;
    ok = ok && opt_int64(&l, doc->root, NULL, "seed", 0, G_MAXINT64, &seed, error);
    cfg->seed = (uint64_t)seed;
    ok = ok && read_cluster(&l, doc->root, error);
    marks = l.pools;
    ok = ok && read_engine(&l, doc->root, error) && read_slo_classes(&l, doc->root, error) &&
         read_workload(&l, doc->root, error) && read_slo_output(&l, doc->root, error) &&
         read_admission(&l, doc->root, error);
    /* Names last: a typo in a key is cheaper to report than loading files. */
    ok = ok && read_model(&l, doc->root, error) && load_hardware(&l, error) && resolve(&l, error);
    /* power: checks caps and budgets against the loaded hardware. */
    ok = ok && sv__power_config_read(doc, doc->root, cfg, error);
    if (l.tenant_inputs != NULL)
        g_ptr_array_unref(l.tenant_inputs);
    if (!ok)
        return NULL;
    return g_steal_pointer(&cfg);
}
