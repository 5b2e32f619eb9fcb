/* The predictor: the time of one engine iteration on one replica, built as
 * an op list per pipeline stage (DESIGN.md §4 names). Each op is timed from
 * the hwprofile's calibrated tables when they cover its kind (perf/table.h),
 * else by a roofline with the profile's efficiency factors. The three steps
 * (build the op list for a batch shape, time each op, sum) are kept apart.
 *
 * Collectives run over groups placed on nodes (perf/topology.h): a measured
 * curve of the hwprofile answers when it has one for the op, the group size
 * and the link class, else the alpha-beta model of topology.c.
 *
 * Approximations, each explained where it is made: the iteration is the sum
 * of the stage times (one micro-batch through the pipeline); MLA prefill in
 * the naive form and decode absorbed; sliding windows capped per context
 * bucket; under attention data parallelism every rank is taken to run the
 * busiest rank's share of the batch; the busiest expert-parallel rank's load
 * is an expectation (a normal approximation of the multinomial routing);
 * launch latency added per roofline kernel (a measured time already
 * contains its own). */
#include "perf/predictor.h"

#include "perf/table.h"

#include <stdarg.h>
#include <math.h>
#include <string.h>

/* ------------------------------------------------------------------ ops -- */

typedef enum {
    OP_GEMM,        /* weight x activation matmul (one or more kernels) */
    OP_ATTENTION,   /* QK^T, softmax, PV over the KV cache */
    OP_ELEMENTWISE, /* norms, activations, rope, adds, gathers: memory-bound */
    OP_COLLECTIVE,  /* all-reduce, all-to-all, send/recv over a link */
    OP_HOST,        /* CPU-side time on the critical path */
} OpKind;

/* A collective of this plan: its op, the group it runs over as placed, and
 * the measured curves that answer for it (resolved once). */
typedef struct {
    SvCollOp op;
    SvCommGroup group;
    SvCollBind bind; /* no curve: the alpha-beta model */
} CommSlot;

/* Elementwise ops, by the canonical names calibrated tables use. */
typedef enum {
    ELT_EMBED,
    ELT_RMSNORM,
    ELT_ROPE,
    ELT_KV_STORE,
    ELT_MLP_ACT,
    ELT_ADD,
    ELT_SAMPLER,
    ELT_MOE_DISPATCH,
    ELT_COUNT
} EltKind;
static const char *const elt_names[ELT_COUNT] = {"embed",   "rmsnorm", "rope",    "kv_store",
                                                 "mlp_act", "add",     "sampler", "moe_dispatch"};

/* One GEMM kernel of an op. Kept as its shape (for the calibrated tables that
 * will be keyed by M, N, K) and as the roofline's inputs. */
typedef struct {
    double m, n, k;       /* per group: rows (tokens), output width, reduction depth */
    double groups;        /* grouped GEMM (MoE experts): number of groups */
    double flops;         /* whole kernel, FLOPs */
    double bytes;         /* whole kernel, weights + activations in/out, bytes */
    gboolean act_weights; /* weights kept in the activation dtype (router, LM head) */
    gboolean grouped;     /* a fused MoE expert kernel (time_gemm says how it is priced) */
    gboolean tail;        /* more tiles of the previous part's kernel: no launch of its own */
    double mem_share;     /* grouped: share of the MoE streaming rate it reaches (1: all) */
} GemmPart;

#define MAX_GEMM_PARTS 4

/* What an op's time depends on, besides the plan (with dp = 1): the new
 * tokens T (most ops), the sequences in the batch (LM head, sampler, host),
 * the prefill chunks' attention aggregates, or the decode contexts. The memo
 * times each part apart (memo_compose). */
typedef enum { PART_TOKENS, PART_ROWS, PART_PREFILL, PART_DECODE, PART_COUNT } OpPart;

typedef struct {
    const char *name; /* canonical op name, static */
    OpKind kind;
    OpPart part;        /* the inputs its time depends on */
    int count;          /* occurrences per iteration on this stage */
    double flops;       /* one occurrence, per device, FLOPs */
    double bytes;       /* one occurrence, per device: memory traffic or message size */
    double model_flops; /* one occurrence, useful FLOPs summed over the replica's devices */
    int launches;       /* kernels per occurrence */
    GemmPart parts[MAX_GEMM_PARTS];
    int num_parts;
    const CommSlot *comm;   /* OP_COLLECTIVE: which one, over which group */
    gboolean replica_flops; /* model_flops already counts every attention rank */
    double fixed_s;         /* OP_HOST, and moe_experts' per-layer kernels: seconds */
    EltKind elt;            /* OP_ELEMENTWISE: which one */
    double rows;            /* OP_HOST: requests in the batch */
    /* OP_ATTENTION. */
    gboolean prefill;          /* prefill chunks (else decode sequences) */
    double window;             /* sliding window, tokens (0 = full attention) */
    double chunk_eq, ctx_eq;   /* prefill: the one chunk with the batch's work, tokens */
    const SvBatchShape *shape; /* decode: the batch, for its context histogram */
} OpDesc;

/* A stage has about 30 distinct ops; 48 leaves room for later additions. */
#define MAX_STAGE_OPS 48

typedef struct {
    OpDesc ops[MAX_STAGE_OPS];
    int n;
    SvBatchShape rank; /* the busiest attention rank's share (dp > 1); ops may point here */
} OpList;

typedef struct {
    int first_layer; /* index of the stage's first layer */
    int num_layers;  /* layers on this stage */
    int num_moe;     /* of which MoE layers */
    int num_window;  /* of which sliding-window attention layers */
    CommSlot send;   /* activations to the next stage (not on the last) */
} StageInfo;

/* ----------------------------------------------------------------- memo -- */

/* A memo key: six aggregates packed into two words, and a digest of the
 * decode context histogram in 28 bits (memo_key). */
typedef struct {
    uint64_t w0, w1; /* counts and bucket indices, 51 bits each */
    uint32_t hist;   /* histogram digest */
} MemoKey;
#define MEMO_EMPTY UINT64_MAX  /* w0 of a free slot (a packed key never has it) */
#define MEMO_WIDE  0x80000000u /* hist flag: the values did not fit the entry */
_Static_assert(SV_BATCH_CTX_BUCKETS <= 16, "memo key keeps the rest bucket in 4 bits");
/* Past this many entries (2^18 slots, 16 MB) the table is not grown but
 * starts a new generation, the old one kept for lookups (memo_grow): values
 * are computed at bucket representatives, so dropping entries never changes
 * a result, and a long run's working set of shapes is far smaller. */
#define MEMO_MAX_ENTRIES   (1u << 17)
#define MEMO_INITIAL_SLOTS 4096u
/* The hot table in front of it when every key is stored (the memo's parts
 * off, memo_lookup): direct-mapped, 512 KiB, so it stays in cache. On
 * bench/cluster-1024.yaml the replicas come back to recent shapes (their
 * own or another replica's): 68 % of lookups hit it (63 % at 128 KiB, 72 %
 * at 2 MiB), and would otherwise wait for memory. */
#define MEMO_HOT_SLOTS 8192u

/* What the memo answers for one key. */
typedef struct {
    SvTimeNs total_ns;      /* iteration time (sum of stages) */
    SvTimeNs max_stage_ns;  /* slowest stage */
    SvTimeNs full_clock_ns; /* iteration at the maximum clock */
    double flops;           /* model FLOPs of the iteration, whole replica */
    /* SvIterProfile at the maximum clock, in floats to keep entries small
     * (total_s is full_clock_ns, flops here above). */
    float compute_s, memory_s, comm_s; /* s */
    float dev_flops, dev_bytes;        /* per device */
} MemoValue;

/* One table entry is one 64-byte cache line (the tables are allocated on
 * line boundaries). On bench/cluster-1024.yaml 82 % of lookups hit, spread
 * over a table far larger than the caches, so nearly every hit is a cache
 * miss: 88-byte entries straddled two lines, and took 17 % of the run. The
 * stage maximum and the full-clock time are kept as differences from
 * total_ns; when one does not fit 32 bits (stages more than 2.1 s apart)
 * the entry is marked MEMO_WIDE and its values are computed again at each
 * hit, from the same representative shape, so they are the same values. */
typedef struct {
    uint64_t w0, w1;                   /* MemoKey; w0 == MEMO_EMPTY: a free slot */
    uint32_t hist;                     /* MemoKey.hist | MEMO_WIDE */
    int32_t stage_minus_total_ns;      /* ns: max_stage_ns - total_ns */
    SvTimeNs total_ns;                 /* ns */
    double flops;                      /* FLOPs */
    int32_t full_minus_total_ns;       /* ns: full_clock_ns - total_ns */
    float compute_s, memory_s, comm_s; /* s */
    float dev_flops, dev_bytes;        /* per device: FLOPs, bytes */
} MemoEntry;
_Static_assert(sizeof(MemoEntry) == 64, "a memo entry is one cache line");

/* A table of @n free slots, on cache-line boundaries (g_aligned_free). */
static MemoEntry *memo_table_new(uint32_t n)
{
    MemoEntry *t = g_aligned_alloc(n, sizeof(MemoEntry), 64);
    for (uint32_t i = 0; i < n; i++)
        t[i].w0 = MEMO_EMPTY;
    return t;
}

/* The op times of one part (OpPart) of the iteration for one value of that
 * part's inputs: a two-way cache (memo_compose). An entry is its key
 * (PartKey) followed by the shares of the part's ops over every stage in
 * execution order (OpShare, defined with the timing code below), on cache
 * line boundaries: a lookup is then one miss, not one for the key and one
 * for the values. */
typedef struct {
    uint64_t k0, k1; /* the part's key, k1 plus 1 (0: an empty entry) */
} PartKey;
typedef struct PartCache {
    void *alloc;    /* what entries lies in (owned) */
    char *entries;  /* stride bytes each */
    size_t stride;  /* bytes: the key and width shares, a multiple of 64 */
    uint32_t mask;  /* entries - 1 */
    int width;      /* ops of this part over all stages */
    uint64_t fills; /* entries computed */
} PartCache;

/* Where an op's share is found when an iteration is put together from its
 * parts: the part and the index in its entries. */
typedef struct {
    uint8_t part;   /* OpPart */
    uint16_t index; /* in the part's entry */
} PartSlot;

static void memo_split_init(SvPredictor *p);
static void memo_split_free(SvPredictor *p);

/* A GEMM shape of this plan and the table lines that answer for it. */
typedef struct {
    double n, k;          /* shape */
    gboolean act_weights; /* weights in the activation format */
    SvGemmBind bind;
} GemmSlot;
#define MAX_GEMM_SLOTS 16

struct SvPredictor {
    const SvModel *model; /* (not owned) */
    const SvHw *hw;       /* (not owned) */
    SvPlan plan;
    int num_stages;    /* pp */
    StageInfo *stages; /* num_stages entries */

    /* Per-device shapes, derived once. */
    double act_bytes;    /* bytes per activation element */
    double weight_bytes; /* bytes per weight of the attention, dense MLP and shared experts */
    gboolean dense_act_weights; /* those weights stay in the activation dtype (quant_scope) */
    double expert_weight_bytes; /* bytes per routed expert weight, block scales included */
    double kv_bytes_layer;      /* KV bytes per token per layer on one device */
    double q_heads;             /* query heads per device */
    double kv_heads;            /* KV heads per device (replicated when tp > kv heads) */
    double attn_dqk_prefill;    /* q.k dot-product width per head, prefill form */
    double attn_dv_prefill;     /* value width per head, prefill form */
    double attn_dqk_decode;     /* same for decode (MLA: absorbed, latent width) */
    double attn_dv_decode;      /* bytes */
    double o_in;                /* o_proj reduction depth per device */
    double mlp_inter;           /* dense MLP width per device */
    double expert_inter;        /* one routed expert's width per device */
    double shared_inter;        /* shared experts' total width per device */
    double gate_mult;           /* 2 for gated MLPs (gate+up fused), else 1 */

    /* Rates. */
    double gemm_rate;     /* FLOP/s for quantized-weight GEMMs (peak x eff) */
    double act_gemm_rate; /* FLOP/s for activation-dtype GEMMs and attention */
    double mem_rate;      /* bytes/s achievable from device memory */
    double moe_gemm_rate; /* FLOP/s of the fused MoE expert kernels */
    double moe_mem_rate;  /* bytes/s of the fused MoE expert kernels */
    double moe_tile_rows; /* rows of a grouped GEMM tile (sv_hw_moe_tile_rows) */
    /* The grouped GEMMs run a worst-case workspace (sv_hw_moe_workspace_grid). */
    gboolean moe_workspace;
    /* vLLM's Triton fused_moe at its default tiles (16-bit experts, auto or
     * triton backend, a profile with moe_triton_full_ctas): streaming falls
     * short below that many thread blocks (push_moe). */
    gboolean moe_triton_ctas;

    /* Placement and collectives (perf/topology.h). */
    int dp;             /* attention ranks per stage */
    int nodes;          /* nodes one replica occupies */
    CommSlot tp_reduce; /* all-reduce over a TP group */
    CommSlot tp_gather; /* all-gather over a TP group (received stage inputs) */
    CommSlot ep_a2a;    /* all-to-all over a stage's tp x dp devices (dp > 1) */

    /* MoE routing: the expert-parallel ranks' shares of the routed token
     * slots, and the popularity of each expert of the busiest one. */
    double *ep_share;    /* plan.ep entries, descending */
    double *hot_experts; /* experts_per_rank entries: p_e of the busiest rank's experts */
    int experts_per_rank;

    /* Calibrated tables (NULL: every op is a roofline) and what answers for
     * this plan's shapes, resolved once at construction. */
    const SvCalib *calib;
    /* engine.host_overheads' terms (in hw); NULL: calib's host fit or hw's. */
    const SvHostProfile *host;
    /* s per layer and more per MoE layer of an eager step (plan.cudagraph_limit
     * and the profile's eager terms; both 0: no eager_overhead op,
     * push_eager_overhead), and their sum over the stages: an eager step's
     * SvIterProfile.eager_s. */
    double eager_layer_s, eager_moe_layer_s, eager_step_s;
    double peak_w;    /* FLOP/s, matrix peak of weight x activation GEMMs */
    double peak_act;  /* FLOP/s, matrix peak in the activation format */
    double bw_peak;   /* bytes/s, device memory peak */
    double attn_rate; /* FLOP/s of roofline attention: peak x eff_attention */
    GemmSlot gemm_slots[MAX_GEMM_SLOTS];
    int num_gemm_slots;
    int prefill_set;       /* index in calib->prefill, -1 = none */
    gboolean prefill_same; /* the set has this very head geometry */
    int decode_set;        /* index in calib->decode, -1 = none */
    gboolean decode_same;  /* the set has this very head geometry */
    gboolean decode_fold;  /* batches fold into KV heads (same q/kv ratio and dim) */
    gboolean hist_matters; /* decode times read the context histogram (tables or windows) */
    const SvEltCurve *elt[ELT_COUNT];

    /* Memo. */
    MemoEntry *slots;       /* open addressing, linear probing */
    uint32_t num_slots;     /* power of two */
    uint32_t used;          /* occupied slots */
    MemoEntry *old_slots;   /* the previous generation (read-only), or NULL */
    MemoEntry *hot;         /* MEMO_HOT_SLOTS: copies of recent answers; NULL until the memo
                             * stores every key (its parts off: memo_lookup) */
    uint32_t old_num_slots; /* its size, a power of two */
    uint64_t hits;          /* lookups answered from the table */
    uint64_t misses;        /* lookups that computed a value */
    /* Misses put together from the parts' caches (memo_compose); NULL
     * layout: computed whole (dp > 1, or turned off). */
    PartSlot *layout; /* every op of the op lists, stage after stage */
    int *stage_start; /* num_stages + 1 offsets into layout */
    PartCache parts[PART_COUNT];

    double clock_factor; /* locked SM clock, fraction of the maximum; 0 = the maximum */
};

const char *sv_coverage_name(SvCoverage coverage)
{
    switch (coverage) {
    case SV_COVERAGE_MEASURED:
        return "measured";
    case SV_COVERAGE_INTERPOLATED:
        return "interpolated";
    case SV_COVERAGE_EXTRAPOLATED:
        return "extrapolated";
    case SV_COVERAGE_ROOFLINE:
        return "roofline";
    }
    return "unknown";
}

/* ---------------------------------------------------------- batch shape -- */

void sv_batch_add_prefill(SvBatchShape *shape, int64_t chunk, int64_t context)
{
    g_return_if_fail(shape != NULL && chunk > 0 && context >= 0);
    shape->num_prefill++;
    shape->prefill_tokens += chunk;
    /* Causal: token i of the chunk sees the context plus i+1 chunk tokens. */
    shape->prefill_attn_pairs +=
        (double)chunk * (double)context + (double)chunk * (chunk + 1) / 2.0;
    shape->prefill_kv_tokens += context + chunk;
}

void sv_batch_ctx_range(int b, double *lo, double *hi)
{
    *lo = b == 0 ? 0.0 : ldexp(1.0, b + 5);
    /* The last bucket runs to the largest context a batch spec accepts. */
    *hi = b == SV_BATCH_CTX_BUCKETS - 1 ? ldexp(1.0, 31) : ldexp(1.0, b + 6);
}

/* Limits that keep every aggregate far from int64/int overflow. */
#define BATCH_MAX_TOKENS (1LL << 31)
#define BATCH_MAX_COUNT  (1LL << 24)
#define BATCH_MAX_TOTAL  (1LL << 60)

static gboolean parse_count(const char *s, const char *end, int64_t max, int64_t *out)
{
    if (s == end || !g_ascii_isdigit(*s))
        return FALSE;
    int64_t v = 0;
    for (const char *p = s; p < end; p++) {
        if (!g_ascii_isdigit(*p))
            return FALSE;
        v = v * 10 + (*p - '0');
        if (v > max)
            return FALSE;
    }
    *out = v;
    return TRUE;
}

static gboolean bad_term(const char *term, const char *why, GError **error)
{
    g_set_error(error, SV_CONFIG_ERROR, SV_ERROR_PARSE,
                "--batch: bad term '%s' (%s; expected prefill=TOKENSxCOUNT[@CONTEXT] or "
                "decode=COUNT@CONTEXT)",
                term, why);
    return FALSE;
}

static gboolean parse_term(const char *term, SvBatchShape *shape, GError **error)
{
    const char *eq = strchr(term, '=');
    if (eq == NULL)
        return bad_term(term, "no '='", error);
    size_t klen = (size_t)(eq - term);
    const char *val = eq + 1;
    const char *end = val + strlen(val);
    const char *at = strchr(val, '@');
    if (klen == 7 && strncmp(term, "prefill", 7) == 0) {
        const char *x = memchr(val, 'x', (size_t)((at ? at : end) - val));
        int64_t tokens, count, context = 0;
        if (x == NULL)
            return bad_term(term, "no 'x' between TOKENS and COUNT", error);
        if (!parse_count(val, x, BATCH_MAX_TOKENS, &tokens) || tokens == 0)
            return bad_term(term, "TOKENS must be a whole number from 1 to 2^31", error);
        if (!parse_count(x + 1, at ? at : end, BATCH_MAX_COUNT, &count) || count == 0)
            return bad_term(term, "COUNT must be a whole number from 1 to 2^24", error);
        if (at != NULL && !parse_count(at + 1, end, BATCH_MAX_TOKENS, &context))
            return bad_term(term, "CONTEXT must be a whole number from 0 to 2^31", error);
        if (shape->num_prefill + count > BATCH_MAX_COUNT ||
            shape->prefill_tokens + tokens * count > BATCH_MAX_TOTAL ||
            shape->prefill_kv_tokens + (tokens + context) * count > BATCH_MAX_TOTAL)
            return bad_term(term, "batch too large", error);
        /* COUNT identical chunks, as COUNT calls of sv_batch_add_prefill(). */
        shape->num_prefill += (int)count;
        shape->prefill_tokens += tokens * count;
        shape->prefill_attn_pairs +=
            (double)count * ((double)tokens * context + (double)tokens * (tokens + 1) / 2.0);
        shape->prefill_kv_tokens += (context + tokens) * count;
        return TRUE;
    }
    if (klen == 6 && strncmp(term, "decode", 6) == 0) {
        int64_t count, context;
        if (at == NULL)
            return bad_term(term, "no '@CONTEXT'", error);
        if (!parse_count(val, at, BATCH_MAX_COUNT, &count) || count == 0)
            return bad_term(term, "COUNT must be a whole number from 1 to 2^24", error);
        if (!parse_count(at + 1, end, BATCH_MAX_TOKENS, &context))
            return bad_term(term, "CONTEXT must be a whole number from 0 to 2^31", error);
        if (shape->num_decode + count > BATCH_MAX_COUNT ||
            shape->decode_kv_tokens + context * count > BATCH_MAX_TOTAL)
            return bad_term(term, "batch too large", error);
        sv_batch_add_decode(shape, (int)count, context);
        return TRUE;
    }
    return bad_term(term, "unknown kind", error);
}

gboolean sv_batch_parse(const char *spec, SvBatchShape *shape, GError **error)
{
    g_return_val_if_fail(spec != NULL && shape != NULL, FALSE);
    SvBatchShape result = {0};
    g_auto(GStrv) terms = g_strsplit(spec, ",", -1);
    int n = 0;
    for (char **t = terms; *t != NULL; t++) {
        g_autofree char *term = g_strstrip(g_strdup(*t));
        if (*term == '\0') {
            if (terms[1] == NULL)
                break; /* the whole spec is empty: reported below */
            return bad_term(term, "empty term", error);
        }
        if (!parse_term(term, &result, error))
            return FALSE;
        n++;
    }
    if (n == 0) {
        g_set_error(error, SV_CONFIG_ERROR, SV_ERROR_PARSE,
                    "--batch: empty (expected e.g. prefill=512x2,decode=64@2048)");
        return FALSE;
    }
    *shape = result;
    return TRUE;
}

/* ------------------------------------------------------------ the plan -- */

static gboolean layer_is_window(const SvModel *m, int layer)
{
    if (m->sliding_window <= 0)
        return FALSE;
    if (m->sliding_window_every <= 0)
        return TRUE;
    /* gpt-oss starts with a windowed layer and alternates (every = 2). */
    return layer % m->sliding_window_every == 0;
}

static gboolean plan_error(GError **error, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static gboolean plan_error(GError **error, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error_literal(error, SV_PLAN_ERROR, SV_ERROR_INFEASIBLE, msg);
    return FALSE;
}

int sv_plan_devices(const SvPlan *plan)
{
    g_return_val_if_fail(plan != NULL, 0);
    return plan->tp * plan->pp * MAX(plan->dp, 1);
}

/* Can the devices of @group talk? Inside a domain over the fabric, else over
 * the network (or the host, staged through memory). */
static gboolean group_has_link(const SvHw *hw, const SvCommGroup *group)
{
    if (group->ranks <= 1)
        return TRUE;
    if (group->domains <= 1 && hw->scaleup_bw_bytes_per_s > 0)
        return TRUE;
    return sv_topo_nic_bw(hw, group->per_node) > 0;
}

static gboolean check_plan(const SvModel *m, const SvHw *hw, const SvPlan *p, GError **error)
{
    const char *name = m->name ? m->name : "model";
    int dp = p->dp > 0 ? p->dp : 1;
    if (p->tp < 1 || p->pp < 1 || p->ep < 1 || p->dp < 0)
        return plan_error(error,
                          "tensor, pipeline, expert and data parallel sizes must be >= 1 "
                          "(got tp=%d pp=%d ep=%d dp=%d)",
                          p->tp, p->pp, p->ep, p->dp);
    if (p->placement < 0 || p->placement >= SV_PLACEMENT_COUNT)
        return plan_error(error, "unknown placement %d", (int)p->placement);
    if (m->num_heads % p->tp != 0)
        return plan_error(error,
                          "tensor_parallel_size %d does not divide the %d attention heads of %s",
                          p->tp, m->num_heads, name);
    if (m->kv_lora_rank <= 0 && m->num_kv_heads > 0 && m->num_kv_heads % p->tp != 0 &&
        p->tp % m->num_kv_heads != 0)
        return plan_error(error,
                          "tensor_parallel_size %d and the %d KV heads of %s do not divide one "
                          "another (KV heads can only be split or replicated evenly)",
                          p->tp, m->num_kv_heads, name);
    if (p->pp > m->num_layers)
        return plan_error(error, "pipeline_parallel_size %d exceeds the %d layers of %s", p->pp,
                          m->num_layers, name);
    if (p->ep > 1 && m->num_experts <= 0)
        return plan_error(error, "expert_parallel_size %d needs an MoE model; %s is dense", p->ep,
                          name);
    if (dp > 1 && m->num_experts <= 0)
        return plan_error(error,
                          "data_parallel_size %d splits attention over ranks that share MoE "
                          "layers, but %s is dense: serve more replicas instead",
                          dp, name);
    if (m->num_experts > 0 && m->num_experts % p->ep != 0)
        return plan_error(error, "expert_parallel_size %d does not divide the %d experts of %s",
                          p->ep, m->num_experts, name);
    if (dp == 1 && p->tp % p->ep != 0)
        return plan_error(error,
                          "expert_parallel_size %d must divide tensor_parallel_size %d: the "
                          "experts are spread over the devices of a stage (use "
                          "data_parallel_size for more expert-parallel ranks)",
                          p->ep, p->tp);
    if (dp > 1 && p->ep != p->tp * dp)
        return plan_error(error,
                          "with data_parallel_size %d, expert_parallel_size must be "
                          "tensor_parallel_size x data_parallel_size = %d (every device of a "
                          "stage holds its own experts), got %d",
                          dp, p->tp * dp, p->ep);
    if (p->moe_load != NULL && p->moe_load->dist == SV_MOE_MEASURED && m->num_experts > 0 &&
        p->moe_load->num_frequencies != m->num_experts)
        return plan_error(error, "moe_load lists %d expert frequencies but %s has %d experts",
                          p->moe_load->num_frequencies, name, m->num_experts);
    if (hw->mem_bw_bytes_per_s <= 0 || hw->eff_mem <= 0 || hw->eff_matmul <= 0)
        return plan_error(error, "%s: memory bandwidth and efficiency factors must be > 0",
                          hw->name ? hw->name : "hardware profile");
    if (sv_hw_matmul_peak(hw, p->weight_dtype, p->act_dtype) <= 0 ||
        sv_hw_matmul_peak(hw, p->act_dtype, p->act_dtype) <= 0)
        return plan_error(error, "%s runs no matmul with %s weights and %s activations",
                          hw->name ? hw->name : "hardware", sv_dtype_name(p->weight_dtype),
                          sv_dtype_name(p->act_dtype));
    SvCommGroup tpg, stage, link = {0};
    sv_topo_tp_group(hw, p->tp, p->pp, dp, p->placement, &tpg);
    sv_topo_stage_group(hw, p->tp, p->pp, dp, p->placement, &stage);
    gboolean ok = group_has_link(hw, &tpg) && group_has_link(hw, &stage);
    for (int b = 0; ok && b + 1 < p->pp; b++) {
        sv_topo_pp_link(hw, p->tp, p->pp, dp, p->placement, b, &link);
        ok = group_has_link(hw, &link);
    }
    if (!ok)
        return plan_error(error,
                          "%s has no link between devices (scale-up, scale-out or host "
                          "bandwidth), so tp=%d pp=%d ep=%d dp=%d cannot run",
                          hw->name ? hw->name : "hardware", p->tp, p->pp, p->ep, dp);
    return TRUE;
}

static void build_stage_ops(const SvPredictor *p, const SvBatchShape *s, int si, OpList *list);

/* The measured curves that answer for @slot, if any. */
static void comm_bind(const SvCalib *c, CommSlot *slot)
{
    if (slot->group.ranks > 1)
        sv_table_coll_bind(c, slot->op, slot->group.ranks, slot->group.per_node,
                           sv_topo_link_class(&slot->group), &slot->bind);
}

static void comm_init(CommSlot *slot, SvCollOp op, const SvCommGroup *group)
{
    memset(slot, 0, sizeof *slot);
    slot->op = op;
    slot->group = *group;
}

/* Resolve which tables answer for this plan: the GEMM lines of every GEMM
 * shape the plan runs (the shapes do not depend on the batch, only M does,
 * so they are found by building the op lists of a one-token batch), the
 * attention sets of its head geometry, the elementwise and collective
 * curves. Done once, so a lookup per iteration is a search along M. */
static void bind_tables(SvPredictor *p)
{
    const SvCalib *c = p->hw->calib;
    p->calib = c;
    SvBatchShape probe = {0};
    sv_batch_add_prefill(&probe, 1, 0);
    sv_batch_add_decode(&probe, 1, 1);
    OpList list;
    for (int si = 0; si < p->num_stages; si++) {
        build_stage_ops(p, &probe, si, &list);
        for (int i = 0; i < list.n; i++) {
            const OpDesc *op = &list.ops[i];
            for (int j = 0; j < op->num_parts; j++) {
                const GemmPart *g = &op->parts[j];
                gboolean known = FALSE;
                for (int s = 0; s < p->num_gemm_slots && !known; s++)
                    known = p->gemm_slots[s].n == g->n && p->gemm_slots[s].k == g->k &&
                            p->gemm_slots[s].act_weights == g->act_weights;
                if (known)
                    continue;
                SV_ASSERT(p->num_gemm_slots < MAX_GEMM_SLOTS, "too many GEMM shapes in %s",
                          p->model->name ? p->model->name : "model");
                GemmSlot *slot = &p->gemm_slots[p->num_gemm_slots++];
                slot->n = g->n;
                slot->k = g->k;
                slot->act_weights = g->act_weights;
                /* Weight-only quantisation runs another kernel than the
                 * 16-bit one measured: never "measured", and at the
                 * format's roofline. */
                SvDtype act = p->plan.act_dtype;
                SvDtype w = g->act_weights ? act : p->plan.weight_dtype;
                gboolean other = sv_calib_dtype_class(w) != sv_calib_dtype_class(act);
                SvDtype compute = sv_dtype_bytes(w) > sv_dtype_bytes(act) ? w : act;
                sv_table_gemm_bind(c, other ? compute : act, other, g->n, g->k, &slot->bind);
            }
        }
    }
    gboolean fold;
    p->prefill_set =
        sv_table_attn_pick(c->prefill, c->num_prefill, p->plan.kv_dtype, (int)p->q_heads,
                           (int)p->kv_heads, (int)p->attn_dqk_prefill, &p->prefill_same, &fold);
    if (p->attn_dqk_prefill != p->attn_dv_prefill)
        p->prefill_same = FALSE; /* MLA: the sets have one head dim for q.k and v */
    p->decode_set = sv_table_attn_pick(c->decode, c->num_decode, p->plan.kv_dtype, (int)p->q_heads,
                                       (int)p->kv_heads, (int)p->attn_dqk_decode, &p->decode_same,
                                       &p->decode_fold);
    if (p->attn_dqk_decode != p->attn_dv_decode)
        p->decode_same = p->decode_fold = FALSE;
    for (int e = 0; e < ELT_COUNT; e++)
        p->elt[e] = sv_table_elt(c, elt_names[e]);
    comm_bind(c, &p->tp_reduce);
    comm_bind(c, &p->tp_gather);
    comm_bind(c, &p->ep_a2a);
    for (int si = 0; si + 1 < p->num_stages; si++)
        comm_bind(c, &p->stages[si].send);
}

/* ------------------------------------------------------ MoE routing -- */

static int cmp_desc(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* The expert-parallel ranks' shares of the routed token slots under @load,
 * and the popularity of the experts of the busiest rank (ties: the lowest). */
static void moe_balance(SvPredictor *p, const SvMoeLoad *load)
{
    const SvModel *m = p->model;
    int E = m->num_experts, ep = p->plan.ep, per = E / ep;
    gboolean rr = load != NULL && load->placement == SV_EXPERT_PLACE_ROUND_ROBIN;
    g_autofree double *w = g_new(double, E);
    sv_moe_load_weights(load, m, w);
    p->ep_share = g_new0(double, ep);
    for (int e = 0; e < E; e++)
        p->ep_share[rr ? e % ep : e / per] += w[e];
    int hot = 0;
    for (int g = 1; g < ep; g++)
        if (p->ep_share[g] > p->ep_share[hot])
            hot = g;
    p->experts_per_rank = per;
    p->hot_experts = g_new(double, per);
    for (int i = 0; i < per; i++)
        p->hot_experts[i] = w[rr ? hot + i * ep : hot * per + i];
    qsort(p->ep_share, (size_t)ep, sizeof(double), cmp_desc);
}

static double norm_cdf(double x)
{
    return 0.5 * erfc(-x / M_SQRT2);
}

/* Expected token slots of the busiest expert-parallel rank when @slots
 * slots are routed. Rank g gets a binomial count of mean slots x s_g and
 * variance slots x s_g (1 - s_g), taken as independent normals; the
 * expected maximum of those is Clark's (1961) moment matching, folding the
 * ranks in one at a time from the largest share. Against a Monte Carlo of
 * the multinomial it is 1-2 % low for 8 ranks of 64 slots or 32 ranks of
 * 128 (the ranks' counts are slightly anti-correlated, which it ignores),
 * and up to 15 % low when a rank expects only 2 slots (256 ranks, 512
 * slots: 6.0 against 7.0; counts are whole). A skewed load is dominated by
 * its hottest rank (the maximum tends to its mean); a uniform one still has
 * a busiest rank, about 1.4 standard deviations above the mean with eight
 * ranks. */
static double moe_max_slots(const SvPredictor *p, double slots)
{
    int ep = p->plan.ep;
    double mean = slots * p->ep_share[0], var = slots * p->ep_share[0] * (1.0 - p->ep_share[0]);
    for (int g = 1; g < ep; g++) {
        double mu = slots * p->ep_share[g], v2 = slots * p->ep_share[g] * (1.0 - p->ep_share[g]);
        double theta = sqrt(MAX(var + v2, 0.0));
        if (theta <= 0) {
            mean = MAX(mean, mu);
            continue;
        }
        double a = (mean - mu) / theta, pa = norm_cdf(a), pb = norm_cdf(-a);
        double phi = exp(-0.5 * a * a) / sqrt(2.0 * G_PI);
        double m1 = mean * pa + mu * pb + theta * phi;
        double m2 = (mean * mean + var) * pa + (mu * mu + v2) * pb + (mean + mu) * theta * phi;
        mean = m1;
        var = MAX(m2 - m1 * m1, 0.0);
    }
    return MIN(mean, slots);
}

/* Expected largest number of experts that get at least one of @slots slots
 * on any one expert-parallel rank: the rank whose weights take longest to
 * stream, which every rank waits for. Each slot picks expert e with
 * probability p_e (independent picks; top-k picks are without replacement,
 * which this slightly undercounts for tiny expert counts), so an expert is
 * touched with probability q_e = 1 - (1 - p_e)^slots and a rank's count has
 * mean sum q_e and variance sum q_e (1 - q_e). Every rank is taken to look
 * like the busiest one (exact under a uniform load; the hot rank dominates a
 * skewed one) and the maximum of @ep such counts is Clark's fold, as in
 * moe_max_slots. At batch 16 of Qwen3 235B (128 experts, top 8) over 8
 * ranks of 16 experts a rank expects 10.1 touched experts, the slowest
 * 12.8: the mean alone would stream 21 % too few weight bytes. */
static double moe_touched(const SvPredictor *p, double slots)
{
    double touched = 0, var = 0;
    for (int i = 0; i < p->experts_per_rank; i++) {
        double pe = p->hot_experts[i];
        double q = pe >= 1.0 ? 1.0 : -expm1(slots * log1p(-pe));
        touched += q;
        var += q * (1.0 - q);
    }
    double mean = touched, v = var;
    for (int g = 1; g < p->plan.ep && var > 0; g++) {
        double theta = sqrt(v + var);
        double a = (mean - touched) / theta, pa = norm_cdf(a), pb = norm_cdf(-a);
        double phi = exp(-0.5 * a * a) / sqrt(2.0 * G_PI);
        double m1 = mean * pa + touched * pb + theta * phi;
        double m2 = (mean * mean + v) * pa + (touched * touched + var) * pb +
                    (mean + touched) * theta * phi;
        mean = m1;
        v = MAX(m2 - m1 * m1, 0.0);
    }
    return MIN(mean, (double)p->experts_per_rank);
}

gboolean sv_predictor_moe_load(const SvPredictor *predictor, double tokens, double *max_slots,
                               double *touched_experts, double *hot_share)
{
    g_return_val_if_fail(predictor != NULL && tokens >= 0, FALSE);
    const SvModel *m = predictor->model;
    if (m->num_experts <= 0)
        return FALSE;
    double slots = tokens * m->experts_per_token;
    if (max_slots != NULL)
        *max_slots = moe_max_slots(predictor, slots);
    if (touched_experts != NULL)
        *touched_experts = moe_touched(predictor, slots);
    if (hot_share != NULL)
        *hot_share = predictor->ep_share[0];
    return TRUE;
}

SvPredictor *sv_predictor_new(const SvModel *model, const SvHw *hw, const SvPlan *plan,
                              GError **error)
{
    g_return_val_if_fail(model != NULL && hw != NULL && plan != NULL, NULL);
    g_return_val_if_fail(error == NULL || *error == NULL, NULL);
    if (!check_plan(model, hw, plan, error))
        return NULL;
    /* "none": an engine whose host work never holds the GPU up (built in). */
    static const SvHostProfile no_host = {.name = (char *)"none"};
    const SvHostProfile *host = NULL;
    if (plan->host_overheads != NULL && strcmp(plan->host_overheads, "none") == 0)
        host = &no_host;
    else if (plan->host_overheads != NULL &&
             (host = sv_hw_host_profile(hw, plan->host_overheads)) == NULL) {
        g_set_error(error, SV_PLAN_ERROR, SV_ERROR_INVALID,
                    "hardware %s has no host overhead profile '%s' (overheads.profiles)", hw->name,
                    plan->host_overheads);
        return NULL;
    }

    SvPredictor *p = g_new0(SvPredictor, 1);
    const SvModel *m = model;
    p->model = model;
    p->hw = hw;
    p->plan = *plan;
    p->plan.moe_load = NULL; /* copied below: the caller's may go */
    p->plan.host_overheads = NULL;
    p->host = host;
    /* A named host profile was fitted to whole measured steps of its engine,
     * eager ones included: it takes no eager term on top. */
    gboolean eager_terms = plan->cudagraph_limit && host == NULL;
    p->eager_layer_s = eager_terms ? hw->eager_layer_s : 0;
    p->eager_moe_layer_s = eager_terms && model->num_experts > 0 ? hw->eager_moe_layer_s : 0;
    p->dp = p->plan.dp = MAX(plan->dp, 1);
    int tp = plan->tp, dp = p->dp;

    /* Layers split over stages as vLLM's get_pp_indices (and
     * sv_model_weight_bytes_per_device) do: an even share each, the remainder
     * one apiece to the stages just before the last. */
    p->num_stages = plan->pp;
    p->stages = g_new0(StageInfo, p->num_stages);
    int base = m->num_layers / plan->pp, extra = m->num_layers % plan->pp, lo = 0;
    for (int s = 0; s < p->num_stages; s++) {
        StageInfo *st = &p->stages[s];
        int n = base + ((s >= plan->pp - 1 - extra && s < plan->pp - 1) ? 1 : 0);
        int hi = lo + n;
        st->first_layer = lo;
        st->num_layers = n;
        for (int l = lo; l < hi; l++) {
            st->num_moe += sv_model_layer_is_moe(m, l) ? 1 : 0;
            st->num_window += layer_is_window(m, l) ? 1 : 0;
        }
        p->eager_step_s += p->eager_layer_s * n + p->eager_moe_layer_s * st->num_moe;
        lo = hi;
        if (s + 1 < p->num_stages) {
            SvCommGroup link;
            sv_topo_pp_link(hw, tp, plan->pp, dp, plan->placement, s, &link);
            comm_init(&st->send, SV_COLL_SEND_RECV, &link);
        }
    }
    SvCommGroup tpg, stage;
    sv_topo_tp_group(hw, tp, plan->pp, dp, plan->placement, &tpg);
    sv_topo_stage_group(hw, tp, plan->pp, dp, plan->placement, &stage);
    comm_init(&p->tp_reduce, SV_COLL_ALL_REDUCE, &tpg);
    comm_init(&p->tp_gather, SV_COLL_ALL_GATHER, &tpg);
    comm_init(&p->ep_a2a, SV_COLL_ALL_TO_ALL, &stage);
    p->nodes = sv_topo_nodes(hw, tp, plan->pp, dp, plan->placement);

    p->act_bytes = sv_dtype_bytes(plan->act_dtype);
    /* The quantized format covers the model's quant_scope (model.h): with
     * experts only (gpt-oss's MXFP4), attention and dense GEMMs read 16-bit
     * weights and run as activation-dtype GEMMs; quantized weights carry
     * their block scales (sv_weight_bytes_per_param), as
     * sv_model_weight_bytes_per_device_dp() counts them. */
    p->dense_act_weights = sv_model_quantizes_experts_only(m, plan->weight_dtype, plan->act_dtype);
    p->weight_bytes =
        p->dense_act_weights ? p->act_bytes : sv_weight_bytes_per_param(plan->weight_dtype);
    p->expert_weight_bytes = sv_weight_bytes_per_param(plan->weight_dtype);
    p->kv_bytes_layer = sv_model_kv_bytes_per_token_layer(m, tp, plan->kv_dtype);
    p->q_heads = (double)m->num_heads / tp;
    p->gate_mult = m->gated_mlp ? 2.0 : 1.0;
    if (m->kv_lora_rank > 0) {
        /* MLA. Prefill in the naive form (q.k over nope+rope dims, v of
         * v_head_dim); decode absorbed into the latent (q.k over
         * kv_lora_rank + rope, values are the latent itself). */
        p->kv_heads = 1;
        p->attn_dqk_prefill = m->qk_nope_head_dim + m->qk_rope_head_dim;
        p->attn_dv_prefill = m->v_head_dim;
        p->attn_dqk_decode = m->kv_lora_rank + m->qk_rope_head_dim;
        p->attn_dv_decode = m->kv_lora_rank;
        p->o_in = p->q_heads * m->v_head_dim;
    } else {
        p->kv_heads = MAX(1.0, (double)m->num_kv_heads / tp);
        p->attn_dqk_prefill = p->attn_dv_prefill = m->head_dim;
        p->attn_dqk_decode = p->attn_dv_decode = m->head_dim;
        p->o_in = p->q_heads * m->head_dim;
    }
    p->mlp_inter = (double)m->intermediate_size / tp;
    if (m->num_experts > 0) {
        /* Experts are spread over the EP ranks and, when they are fewer
         * than the tp x dp devices of a stage, each is also sliced over the
         * remaining devices (ep == 1: vLLM's tensor-parallel MoE; ep == tp:
         * vLLM's expert parallelism), as
         * sv_model_weight_bytes_per_device_dp() counts them. */
        double etp = plan->ep >= tp * dp ? 1.0 : (double)tp * dp / plan->ep;
        p->expert_inter = (double)m->moe_intermediate_size / etp;
        int shared_w = m->shared_expert_intermediate_size > 0 ? m->shared_expert_intermediate_size
                                                              : m->moe_intermediate_size;
        p->shared_inter = (double)m->num_shared_experts * shared_w / tp;
        moe_balance(p, plan->moe_load);
    }

    p->gemm_rate = sv_hw_matmul_peak(hw, plan->weight_dtype, plan->act_dtype) * hw->eff_matmul;
    p->act_gemm_rate = sv_hw_matmul_peak(hw, plan->act_dtype, plan->act_dtype) * hw->eff_matmul;
    p->mem_rate = hw->mem_bw_bytes_per_s * hw->eff_mem;
    /* A profile built in code rather than read (0: unset) runs them as dense. */
    p->moe_gemm_rate = sv_hw_matmul_peak(hw, plan->weight_dtype, plan->act_dtype) *
                       (hw->eff_moe_matmul > 0 ? hw->eff_moe_matmul : hw->eff_matmul);
    /* The fused kernels differ by weight format (vLLM: unquantized and
     * block-fp8 Triton fused_moe, mxfp4 through Marlin, Triton or
     * FlashInfer), so each format has its own streaming efficiency. */
    p->moe_mem_rate = hw->mem_bw_bytes_per_s *
                      sv_hw_moe_mem_efficiency(hw, plan->weight_dtype, plan->moe_backend);
    p->moe_tile_rows = sv_hw_moe_tile_rows(hw, plan->weight_dtype, plan->moe_backend);
    p->moe_workspace = sv_hw_moe_workspace_grid(hw, plan->weight_dtype, plan->moe_backend);
    p->moe_triton_ctas = hw->moe_triton_full_ctas > 0 && sv_dtype_bytes(plan->weight_dtype) >= 2 &&
                         plan->moe_backend != SV_MOE_BACKEND_FLASHINFER && !p->moe_workspace;

    p->peak_w = sv_hw_matmul_peak(hw, plan->weight_dtype, plan->act_dtype);
    p->peak_act = sv_hw_matmul_peak(hw, plan->act_dtype, plan->act_dtype);
    p->bw_peak = hw->mem_bw_bytes_per_s;
    /* Profiles built in code may leave eff_attention 0: a GEMM's factor then. */
    p->attn_rate = p->peak_act * (hw->eff_attention > 0 ? hw->eff_attention : hw->eff_matmul);
    p->prefill_set = p->decode_set = -1;
    if (hw->calib != NULL)
        bind_tables(p);
    /* Without a decode table or windowed layers, decode time depends on the
     * total context only, and the memo need not tell histograms apart. */
    p->hist_matters = p->decode_set >= 0 || m->sliding_window > 0;

    p->num_slots = MEMO_INITIAL_SLOTS;
    p->slots = memo_table_new(p->num_slots);
    memo_split_init(p);
    if (p->layout == NULL)
        p->hot = memo_table_new(MEMO_HOT_SLOTS);
    return p;
}

void sv_predictor_free(SvPredictor *predictor)
{
    if (predictor == NULL)
        return;
    g_free(predictor->stages);
    g_aligned_free(predictor->slots);
    g_aligned_free(predictor->old_slots);
    g_aligned_free(predictor->hot);
    memo_split_free(predictor);
    g_free(predictor->ep_share);
    g_free(predictor->hot_experts);
    g_free(predictor);
}

/* ------------------------------------------------------- building ops -- */

static OpDesc *push_op(OpList *list, const char *name, OpKind kind, int count)
{
    SV_ASSERT(list->n < MAX_STAGE_OPS, "op list full at %s", name);
    OpDesc *op = &list->ops[list->n++];
    memset(op, 0, sizeof *op);
    op->name = name;
    op->kind = kind;
    op->count = count;
    op->launches = kind == OP_COLLECTIVE || kind == OP_HOST ? 0 : 1;
    return op;
}

/* Add one GEMM kernel: @groups groups of [m x k] x [k x n]; @weight_groups of
 * the weight matrices are read (fewer than @groups when some MoE experts get
 * no token). @wbytes bytes per weight element. */
static void add_gemm(OpDesc *op, double m, double n, double k, double groups, double weight_groups,
                     double act_bytes, double wbytes, gboolean act_weights)
{
    SV_ASSERT(op->num_parts < MAX_GEMM_PARTS, "too many GEMM parts in %s", op->name);
    GemmPart *g = &op->parts[op->num_parts++];
    g->m = m;
    g->n = n;
    g->k = k;
    g->groups = groups;
    g->flops = 2.0 * m * n * k * groups;
    g->bytes = weight_groups * k * n * wbytes + groups * m * (k + n) * act_bytes;
    g->act_weights = act_weights;
    g->mem_share = 1.0;
    op->flops += g->flops;
    op->bytes += g->bytes;
    op->launches = op->num_parts;
}

static OpDesc *push_gemm(OpList *list, const SvPredictor *p, const char *name, int count, double m,
                         double n, double k, double shards)
{
    OpDesc *op = push_op(list, name, OP_GEMM, count);
    add_gemm(op, m, n, k, 1, 1, p->act_bytes, p->weight_bytes, p->dense_act_weights);
    op->model_flops = op->flops * shards;
    return op;
}

static void push_elementwise(OpList *list, EltKind kind, int count, double bytes)
{
    OpDesc *op = push_op(list, elt_names[kind], OP_ELEMENTWISE, count);
    op->elt = kind;
    op->bytes = bytes;
}

static void push_collective(OpList *list, const char *name, int count, const CommSlot *comm,
                            double bytes)
{
    if (count <= 0 || comm->group.ranks <= 1)
        return;
    OpDesc *op = push_op(list, name, OP_COLLECTIVE, count);
    op->comm = comm;
    op->bytes = bytes;
}

/* Attention of one layer kind (full or sliding window @window, 0 = full).
 * Windowed layers cap each query's keys at the window; from the aggregates
 * alone that is min(pairs, tokens x window) for prefill, and per decode
 * context bucket min(sum, sequences x window) for KV reads: exact when every
 * sequence is either inside or past the window, an upper bound otherwise. */
static void push_attention(OpList *list, const SvPredictor *p, const SvBatchShape *s, int count,
                           double window)
{
    if (count <= 0)
        return;
    double heads_total = p->q_heads * p->plan.tp;
    if (s->num_prefill > 0 && s->prefill_tokens > 0) {
        double pt = (double)s->prefill_tokens;
        double pairs = s->prefill_attn_pairs;
        double kv = (double)s->prefill_kv_tokens;
        if (window > 0) {
            pairs = MIN(pairs, pt * window);
            kv = MIN(kv, s->num_prefill * window + pt);
        }
        OpDesc *op = push_op(list, "attn_prefill", OP_ATTENTION, count);
        op->part = PART_PREFILL;
        double per_pair = 2.0 * (p->attn_dqk_prefill + p->attn_dv_prefill);
        op->flops = pairs * per_pair * p->q_heads;
        op->model_flops = pairs * per_pair * heads_total;
        op->bytes = kv * p->kv_bytes_layer +
                    pt * p->q_heads * (p->attn_dqk_prefill + p->attn_dv_prefill) * p->act_bytes;
        op->prefill = TRUE;
        op->window = window;
        /* The tables hold one chunk at a time. Several chunks run as one
         * varlen kernel, which is taken to run like the one chunk with the
         * same work (pairs) and the same ratio r of context to chunk tokens:
         * pairs = c (r c + (c + 1) / 2) solved for c. One chunk maps onto
         * itself exactly; n equal chunks onto one sqrt(n) times longer (the
         * sqrt rule Vidur uses for batched prefill). */
        if (s->num_prefill == 1 && window <= 0) {
            op->chunk_eq = pt;
            op->ctx_eq = kv - pt;
        } else {
            double r = MAX(kv - pt, 0.0) / pt, a = r + 0.5;
            op->chunk_eq = (-0.5 + sqrt(0.25 + 4.0 * a * pairs)) / (2.0 * a);
            op->ctx_eq = r * op->chunk_eq;
        }
    }
    if (s->num_decode > 0) {
        double kv = (double)s->decode_kv_tokens;
        if (window > 0) {
            kv = 0;
            for (int b = 0; b < SV_BATCH_CTX_BUCKETS; b++)
                kv += MIN((double)s->decode_ctx_sum[b], s->decode_ctx_count[b] * window);
        }
        OpDesc *op = push_op(list, "attn_decode", OP_ATTENTION, count);
        op->part = PART_DECODE;
        double per_pair = 2.0 * (p->attn_dqk_decode + p->attn_dv_decode);
        op->flops = kv * per_pair * p->q_heads;
        op->model_flops = kv * per_pair * heads_total;
        op->bytes = kv * p->kv_bytes_layer + s->num_decode * p->q_heads *
                                                 (p->attn_dqk_decode + p->attn_dv_decode) *
                                                 p->act_bytes;
        op->window = window;
        op->shape = s;
    }
}

static void push_qkv(OpList *list, const SvPredictor *p, double T, int count)
{
    const SvModel *m = p->model;
    double hidden = m->hidden_size;
    int tp = p->plan.tp;
    if (m->kv_lora_rank <= 0) {
        double n = (p->q_heads + 2.0 * p->kv_heads) * m->head_dim;
        OpDesc *op = push_gemm(list, p, "qkv_proj", count, T, n, hidden, tp);
        /* Replicated KV heads are not extra model work. */
        op->model_flops =
            2.0 * T * hidden * ((double)m->num_heads + 2.0 * m->num_kv_heads) * m->head_dim;
        return;
    }
    /* MLA: q_a (or q), q_b, kv_a and kv_b as one op. q_a and kv_a are
     * replicated on every TP rank (as vLLM's fused_qkv_a_proj); q_b and kv_b
     * are column-split. kv_b is counted on the new tokens only: in the
     * absorbed decode form its two halves are applied to q and to the
     * attention output instead, which reads the same weights, so the
     * weight-bound decode time is the same. The small latent norms are left
     * out. */
    OpDesc *op = push_op(list, "qkv_proj", OP_GEMM, count);
    double qk_head = (double)m->qk_nope_head_dim + m->qk_rope_head_dim;
    double model_flops = 0;
    if (m->q_lora_rank > 0) {
        add_gemm(op, T, m->q_lora_rank, hidden, 1, 1, p->act_bytes, p->weight_bytes,
                 p->dense_act_weights);
        add_gemm(op, T, p->q_heads * qk_head, m->q_lora_rank, 1, 1, p->act_bytes, p->weight_bytes,
                 p->dense_act_weights);
        model_flops += 2.0 * T * hidden * m->q_lora_rank;
        model_flops += 2.0 * T * m->q_lora_rank * m->num_heads * qk_head;
    } else {
        add_gemm(op, T, p->q_heads * qk_head, hidden, 1, 1, p->act_bytes, p->weight_bytes,
                 p->dense_act_weights);
        model_flops += 2.0 * T * hidden * m->num_heads * qk_head;
    }
    double kv_a = (double)m->kv_lora_rank + m->qk_rope_head_dim;
    double kv_b = (double)m->qk_nope_head_dim + m->v_head_dim;
    add_gemm(op, T, kv_a, hidden, 1, 1, p->act_bytes, p->weight_bytes, p->dense_act_weights);
    add_gemm(op, T, p->q_heads * kv_b, m->kv_lora_rank, 1, 1, p->act_bytes, p->weight_bytes,
             p->dense_act_weights);
    model_flops += 2.0 * T * hidden * kv_a + 2.0 * T * m->kv_lora_rank * m->num_heads * kv_b;
    op->model_flops = model_flops;
}

static void push_mlp(OpList *list, const SvPredictor *p, double T, int count, double inter)
{
    if (count <= 0 || inter <= 0)
        return;
    double hidden = p->model->hidden_size;
    int tp = p->plan.tp;
    push_gemm(list, p, "mlp_up", count, T, p->gate_mult * inter, hidden, tp);
    /* Gated: read gate and up, write the product; else read and write. */
    push_elementwise(list, ELT_MLP_ACT, count, T * inter * (p->gate_mult + 1.0) * p->act_bytes);
    push_gemm(list, p, "mlp_down", count, T, hidden, inter, tp);
}

/* One MoE layer on the busiest device. The router is a small GEMM on the
 * attention rank's @T tokens; the routed experts see the token slots of the
 * whole replica's @T_all tokens (each picks top-k): the busiest
 * expert-parallel rank gets moe_max_slots() of them, over the experts of
 * its rank that at least one slot picks (their weights are read once
 * each), and the critical path waits for it. Tokens are permuted into
 * expert order and back (moe_dispatch: read and write them twice). With
 * attention data parallelism (dp > 1) each device first sends its share of
 * its rank's tokens (sequence-split over the rank's TP devices, as vLLM's
 * all2all backends do) to the experts' devices and gets the results back,
 * two all-to-alls whose message is the larger of what a device sends and
 * what the busiest one receives; with dp = 1 every TP device holds every
 * token and the output is all-reduced with the layer's second all-reduce,
 * as a dense MLP's. Shared experts run as a dense MLP on the rank.
 *
 * The experts run as one fused kernel per projection (vLLM's Triton
 * fused_moe, CUTLASS, DeepGEMM or FlashInfer grouped GEMMs), priced in
 * time_gemm. Its matrix units work on tiles of a fixed number of rows, and
 * each touched expert's rows are padded up to a whole tile, so the executed
 * FLOPs are those of one tile per expert while it has fewer rows, and about
 * half a tile more than its rows after that (the remainder is spread evenly
 * over a tile). The tile is the kernel's: 16 rows for vLLM's Triton
 * fused_moe at small batches (tl.dot's minimum, vLLM PR #2913), more for
 * kernels built on Blackwell's 128-row MMA (sv_hw_moe_tile_rows, fitted per
 * kernel family to measured power). Its routing, sorting, activation
 * quantizing and summing kernels cost the profile's moe_layer_s per layer. */
static void push_moe(OpList *list, const SvPredictor *p, double T, double T_all, int count)
{
    const SvModel *m = p->model;
    if (count <= 0)
        return;
    double hidden = m->hidden_size, ab = p->act_bytes;
    double E = m->num_experts, k = m->experts_per_token;
    OpDesc *router = push_op(list, "moe_router", OP_GEMM, count);
    add_gemm(router, T, E, hidden, 1, 1, ab, ab, TRUE);
    router->model_flops = router->flops;

    double slots = T_all * k;
    double hot = moe_max_slots(p, slots);
    double touched = MAX(moe_touched(p, slots), hot > 0 ? 1e-9 : 0.0);
    double per_expert = touched > 0 ? hot / touched : 0;
    push_elementwise(list, ELT_MOE_DISPATCH, count, 4.0 * hot * hidden * ab);
    OpDesc *ex = push_op(list, "moe_experts", OP_GEMM, count);
    add_gemm(ex, per_expert, p->gate_mult * p->expert_inter, hidden, touched, touched, ab,
             p->expert_weight_bytes, FALSE);
    add_gemm(ex, per_expert, hidden, p->expert_inter, touched, touched, ab, p->expert_weight_bytes,
             FALSE);
    double tile = p->moe_tile_rows;
    double padded = MAX(tile, per_expert + 0.5 * (tile - 1.0));
    ex->flops = 0;
    for (int i = 0; i < ex->num_parts; i++) {
        GemmPart *g = &ex->parts[i];
        g->grouped = TRUE;
        g->flops = per_expert > 0 ? g->flops * padded / per_expert : 0;
        ex->flops += g->flops;
    }
    double local = E / p->plan.ep; /* experts on a rank */
    if (p->moe_triton_ctas && per_expert > 0) {
        /* vLLM's Triton fused_moe streams each touched expert's weights with
         * one thread block (CTA) per tile of rows and output columns; its
         * default tiles (get_default_config, 16-bit weights) are 16 x 32 while
         * the tokens M are at most the rank's experts, else 64 x 64. A
         * streaming kernel needs enough blocks in flight to keep HBM busy:
         * with fewer than the profile's moe_triton_full_ctas, each of its two
         * kernels reaches (CTAs / full)^exponent of the MoE streaming rate
         * (Little's law: bandwidth = bytes in flight / latency). Blocks of
         * other ranks' experts only write zeros and are not counted. */
        gboolean small = T_all <= local;
        double bm = small ? 16 : 64, bn = small ? 32 : 64;
        double mblocks = touched * ceil(per_expert / bm);
        double width[2] = {p->gate_mult * p->expert_inter, hidden};
        for (int i = 0; i < 2; i++) {
            double ctas = mblocks * ceil(width[i] / bn);
            ex->parts[i].mem_share =
                pow(MIN(1.0, ctas / p->hw->moe_triton_full_ctas), p->hw->moe_triton_ctas_exponent);
        }
    }
    if (p->moe_workspace && slots > 0) {
        /* A kernel that runs its whole worst-case workspace (hw.h,
         * SV_MOE_GRID_WORKSPACE) computes slots + local experts x (tile - 1)
         * rows rounded up to a tile: the touched experts' tiles above, and
         * padding tiles against one expert's weights, which stay in L2 (no
         * weight bytes; their rows are still read and written). They run
         * after the real tiles in the kernel's sweep, as parts of the same
         * launch, so their time adds to the streaming time. */
        double ws = ceil((slots + local * (tile - 1.0)) / tile) * tile;
        double pad = MAX(0.0, ws - touched * padded);
        add_gemm(ex, pad, p->gate_mult * p->expert_inter, hidden, 1, 0, ab, 0, FALSE);
        add_gemm(ex, pad, hidden, p->expert_inter, 1, 0, ab, 0, FALSE);
        for (int i = ex->num_parts - 2; i < ex->num_parts; i++)
            ex->parts[i].grouped = ex->parts[i].tail = TRUE;
        ex->launches -= 2;
    }
    ex->fixed_s = p->hw->moe_layer_s;
    /* Useful work of the whole replica: k experts per token. */
    ex->model_flops = 2.0 * slots * hidden * m->moe_intermediate_size * (p->gate_mult + 1.0);
    ex->replica_flops = TRUE;
    if (p->dp > 1) {
        double sent = T / p->plan.tp * k;
        push_collective(list, "all_to_all", 2 * count, &p->ep_a2a, MAX(sent, hot) * hidden * ab);
    }
    push_mlp(list, p, T, count, p->shared_inter);
}

/* The prefill tokens of the busiest of @dp attention ranks: ceil(n / dp) of
 * the batch's n chunks at their mean length, at least a token each. */
static int64_t rank_prefill_tokens(const SvBatchShape *s, int dp)
{
    if (s->num_prefill == 0)
        return 0;
    int n = (s->num_prefill + dp - 1) / dp;
    return MAX(llround(s->prefill_tokens * ((double)n / s->num_prefill)), (int64_t)n);
}

/* The new tokens of @s on one of @dp attention ranks, as rank_shape gives
 * them (the T of build_stage_ops). */
static int64_t rank_tokens(const SvBatchShape *s, int dp)
{
    if (dp <= 1)
        return s->prefill_tokens + s->num_decode;
    return rank_prefill_tokens(s, dp) + (s->num_decode + dp - 1) / dp;
}

/* The busiest attention rank's share of @s under data parallelism @dp: the
 * engine spreads sequences evenly, so it holds ceil(n / dp) of the prefill
 * chunks and of the decode sequences, each group at the batch's mean (per
 * context bucket for decodes). Every rank waits for it at the MoE layers. */
static void rank_shape(const SvBatchShape *s, int dp, SvBatchShape *r)
{
    memset(r, 0, sizeof *r);
    if (s->num_prefill > 0) {
        int n = (s->num_prefill + dp - 1) / dp;
        double f = (double)n / s->num_prefill;
        r->num_prefill = n;
        r->prefill_tokens = rank_prefill_tokens(s, dp);
        r->prefill_attn_pairs = s->prefill_attn_pairs * f;
        r->prefill_kv_tokens = MAX(llround(s->prefill_kv_tokens * f), r->prefill_tokens);
    }
    if (s->num_decode > 0) {
        int n = (s->num_decode + dp - 1) / dp, given = 0;
        double f = (double)n / s->num_decode, best_rem = -1;
        int best = 0;
        /* Largest remainder, so the bucket counts sum to n. */
        for (int b = 0; b < SV_BATCH_CTX_BUCKETS; b++) {
            double want = s->decode_ctx_count[b] * f;
            r->decode_ctx_count[b] = (int32_t)floor(want);
            given += r->decode_ctx_count[b];
        }
        while (given < n) {
            best_rem = -1;
            for (int b = 0; b < SV_BATCH_CTX_BUCKETS; b++) {
                double rem = s->decode_ctx_count[b] * f - r->decode_ctx_count[b];
                if (s->decode_ctx_count[b] > r->decode_ctx_count[b] && rem > best_rem) {
                    best_rem = rem;
                    best = b;
                }
            }
            r->decode_ctx_count[best]++;
            given++;
        }
        r->num_decode = n;
        for (int b = 0; b < SV_BATCH_CTX_BUCKETS; b++) {
            if (r->decode_ctx_count[b] == 0)
                continue;
            double mean = (double)s->decode_ctx_sum[b] / s->decode_ctx_count[b];
            r->decode_ctx_sum[b] = llround(mean * r->decode_ctx_count[b]);
            r->decode_kv_tokens += r->decode_ctx_sum[b];
        }
    }
}

/* vLLM replays a step from a captured CUDA graph when its new tokens T (on
 * one attention rank, padded up to the next captured size) are at most the
 * largest captured size (compilation_config.max_cudagraph_capture_size),
 * else, or always under enforce_eager, it runs the model eagerly. ML.ENERGY
 * v3's dense B200 steps above 512 show no extra time, its MoE steps 0.5-0.9
 * ms per MoE layer (validation/power/README.md, "CUDA graphs"), hence a term
 * per layer and one per MoE layer of the stage. What takes that time is not
 * known; launch gaps it is not, since the boards draw as much through it as
 * through graphed steps, so the power model counts it as busy time
 * (SvIterProfile.eager_s), not host time. One op per stage and step, count 0
 * when the step replays a graph; no FLOPs, no bytes, no clock stretch (an
 * OP_HOST kind). It depends on T only (PART_TOKENS), so the memo's parts
 * stay exact. */
static inline gboolean runs_eager(const SvPredictor *p, double rank_tokens)
{
    return rank_tokens > (double)p->plan.cudagraph_max_tokens;
}

static void push_eager_overhead(OpList *list, const SvPredictor *p, double T, const StageInfo *st)
{
    if (p->eager_layer_s <= 0 && p->eager_moe_layer_s <= 0)
        return;
    OpDesc *op = push_op(list, "eager_overhead", OP_HOST, runs_eager(p, T) ? 1 : 0);
    op->part = PART_TOKENS;
    op->fixed_s = p->eager_layer_s * st->num_layers + p->eager_moe_layer_s * st->num_moe;
}

/* The ops stage @si runs for @full, in execution order. */
static void build_stage_ops(const SvPredictor *p, const SvBatchShape *full, int si, OpList *list)
{
    const SvModel *m = p->model;
    const StageInfo *st = &p->stages[si];
    gboolean first = si == 0, last = si == p->num_stages - 1;
    const SvBatchShape *s = full;
    if (p->dp > 1) {
        rank_shape(full, p->dp, &list->rank);
        s = &list->rank;
    }
    double T = (double)s->prefill_tokens + s->num_decode;
    double T_all = (double)full->prefill_tokens + full->num_decode;
    double rows = (double)s->num_prefill + s->num_decode;
    double hidden = m->hidden_size, ab = p->act_bytes;
    int L = st->num_layers;
    int tp = p->plan.tp;
    list->n = 0;

    if (first) /* read the embedding rows, write the hidden states */
        push_elementwise(list, ELT_EMBED, 1, 2.0 * T * hidden * ab);
    else /* gather the slices of the activations sent from the stage before */
        push_collective(list, "all_gather", 1, &p->tp_gather, 2.0 * T * hidden * ab);
    /* A norm reads and writes the hidden states and reads its weight. */
    double norm_bytes = 2.0 * T * hidden * ab + hidden * ab;
    push_elementwise(list, ELT_RMSNORM, 2 * L, norm_bytes);
    push_qkv(list, p, T, L);
    /* RoPE reads and writes q and k (MLA: the rope part only); Qwen3's
     * per-head q/k norm is the same traffic again and is folded in here. */
    double rope_width = m->kv_lora_rank > 0 ? (p->q_heads + 1.0) * m->qk_rope_head_dim
                                            : (p->q_heads + p->kv_heads) * m->head_dim;
    push_elementwise(list, ELT_ROPE, L, 2.0 * T * rope_width * ab * (m->qk_norm ? 2.0 : 1.0));
    push_attention(list, p, s, L - st->num_window, 0);
    push_attention(list, p, s, st->num_window, m->sliding_window);
    /* The new K/V come in the activation dtype and are written in the KV one. */
    double kv_elems = p->kv_bytes_layer / sv_dtype_bytes(p->plan.kv_dtype);
    push_elementwise(list, ELT_KV_STORE, L, T * (kv_elems * ab + p->kv_bytes_layer));
    push_gemm(list, p, "o_proj", L, T, hidden, p->o_in, tp);
    /* After attention and after the MLP (or MoE) of every layer. */
    push_collective(list, "all_reduce", 2 * L, &p->tp_reduce, T * hidden * ab);
    push_mlp(list, p, T, L - st->num_moe, p->mlp_inter);
    push_moe(list, p, T, T_all, st->num_moe);
    push_elementwise(list, ELT_ADD, 2 * L, 3.0 * T * hidden * ab);
    if (last) {
        push_elementwise(list, ELT_RMSNORM, 1, norm_bytes);
        /* vLLM keeps the LM head unquantized, like the embedding. */
        double vocab = (double)m->vocab_size / tp;
        OpDesc *lm = push_op(list, "lm_head", OP_GEMM, 1);
        lm->part = PART_ROWS;
        add_gemm(lm, rows, vocab, hidden, 1, 1, ab, ab, TRUE);
        lm->model_flops = lm->flops * tp;
        /* Softmax/top-p over fp32 logits of the whole vocabulary: two passes. */
        push_elementwise(list, ELT_SAMPLER, 1, 2.0 * rows * m->vocab_size * 4.0);
        list->ops[list->n - 1].part = PART_ROWS;
    } else {
        /* vLLM sends the hidden states and the residual, each TP device its
         * 1/tp slice; the next stage all-gathers them (all_gather above). */
        push_collective(list, "send_recv", 1, &st->send, 2.0 * T * hidden * ab / tp);
    }
    push_eager_overhead(list, p, T, st);
    if (first) {
        OpDesc *host = push_op(list, "host_overhead", OP_HOST, 1);
        host->part = PART_ROWS;
        if (p->host != NULL) /* a named profile: the whole host step, on the first stage */
            host->fixed_s = p->host->iteration_s + p->host->per_request_s * rows +
                            p->host->per_device_s * sv_plan_devices(&p->plan);
        else
            host->fixed_s = p->hw->host_overhead_iter_s + p->hw->host_overhead_req_s * rows;
        host->rows = rows;
    }
    /* Useful FLOPs: the busiest rank's ops stand for every rank's. */
    if (p->dp > 1 && T > 0) {
        double scale = T_all / T;
        for (int i = 0; i < list->n; i++)
            if (!list->ops[i].replica_flops)
                list->ops[i].model_flops *= scale;
    }
}

/* ------------------------------------------------------------ timing -- */

static SvCoverage worse(SvCoverage a, SvCoverage b)
{
    return a > b ? a : b;
}

static const GemmSlot *find_slot(const SvPredictor *p, const GemmPart *g)
{
    for (int i = 0; i < p->num_gemm_slots; i++) {
        const GemmSlot *s = &p->gemm_slots[i];
        if (s->n == g->n && s->k == g->k && s->act_weights == g->act_weights)
            return s;
    }
    return NULL;
}

/* The time of one GEMM kernel: from the GEMM tables when they have lines for
 * it (by M, with the lines bound to its (n, k) at construction), else the
 * roofline at the profile's efficiency. A fused MoE expert kernel is a
 * roofline at the profile's MoE efficiencies, tables or not: the dense
 * tables measure one expert's shape as a kernel of its own, whose launch
 * and tail at a few rows held over the whole grouped kernel made small
 * decode batches several times slower than the weights' streaming time
 * (Qwen3 30B-A3B on one H100: 490 us a layer at batch 16 against about 260
 * us measured end to end), while the fused kernel streams the touched
 * experts' weights in one launch. */
static double time_gemm(const SvPredictor *p, const GemmPart *g, SvCoverage *coverage)
{
    if (g->grouped) {
        *coverage = SV_COVERAGE_ROOFLINE;
        return MAX(g->flops / p->moe_gemm_rate, g->bytes / (p->moe_mem_rate * g->mem_share)) +
               (g->tail ? 0.0 : p->hw->kernel_launch_s);
    }
    const GemmSlot *slot = p->calib != NULL ? find_slot(p, g) : NULL;
    if (slot != NULL && slot->bind.num > 0) {
        double peak = g->act_weights ? p->peak_act : p->peak_w;
        double roof = MAX(g->flops / peak, g->bytes / p->bw_peak);
        return sv_table_gemm(p->calib, &slot->bind, g->m, roof, coverage);
    }
    double rate = g->act_weights ? p->act_gemm_rate : p->gemm_rate;
    *coverage = SV_COVERAGE_ROOFLINE;
    return MAX(g->flops / rate, g->bytes / p->mem_rate) + p->hw->kernel_launch_s;
}

/* Decode attention cost of @batch sequences of @ctx tokens each, per device. */
static void decode_cost(const SvPredictor *p, double batch, double ctx, double *flops,
                        double *bytes)
{
    double width = p->attn_dqk_decode + p->attn_dv_decode;
    *flops = batch * ctx * 2.0 * width * p->q_heads;
    *bytes = batch * ctx * p->kv_bytes_layer + batch * p->q_heads * width * p->act_bytes;
}

/* Table time of a uniform decode batch: @batch sequences of @ctx tokens. */
static double decode_table(const SvPredictor *p, double batch, double ctx, SvCoverage *cov)
{
    const SvAttnSet *set = &p->calib->decode[p->decode_set];
    double flops, bytes, exact;
    decode_cost(p, batch, ctx, &flops, &bytes);
    double roof = MAX(flops / p->peak_act, bytes / p->bw_peak);
    double eq = p->decode_fold ? batch * p->kv_heads / set->kv_heads : batch;
    double lu = sv_table_attn(set, FALSE, eq, ctx, &exact, cov);
    if (p->decode_same && *cov == SV_COVERAGE_MEASURED)
        return exact;
    if (!p->decode_same)
        *cov = worse(*cov, p->decode_fold ? SV_COVERAGE_INTERPOLATED : SV_COVERAGE_EXTRAPOLATED);
    return roof / exp(lu);
}

/* Decode attention of a batch of mixed contexts. Each context bucket is a
 * group of sequences at the bucket's mean context. A decode kernel spreads
 * (sequence, KV head) work items over the SMs: when there are many, time
 * follows the total work, each sequence taking its share of a full batch at
 * its own context (the first term, which for a time linear in context is the
 * mean-context time); when there are few, the longest group sets the time,
 * and no group can finish faster than it would alone (the second term). So
 * [100, 4000] costs at least what the 4000-token sequence takes alone,
 * whatever two sequences at their mean of 2050 take, and 64 sequences at
 * 4000 with 64 at 100 cost at least the 64 long ones alone (on the A100
 * table 16 % more than 128 at 2050); a batch spread evenly converges to the
 * mean. */
static double time_decode(const SvPredictor *p, const OpDesc *op, SvCoverage *cov)
{
    const SvBatchShape *s = op->shape;
    double batch = s->num_decode, share = 0, longest = 0;
    *cov = SV_COVERAGE_MEASURED;
    for (int b = 0; b < SV_BATCH_CTX_BUCKETS; b++) {
        double n = s->decode_ctx_count[b];
        if (n <= 0)
            continue;
        /* A mixed batch is a model over measured uniform batches. */
        if (n < batch)
            *cov = worse(*cov, SV_COVERAGE_INTERPOLATED);
        double ctx = (double)s->decode_ctx_sum[b] / n;
        if (op->window > 0)
            ctx = MIN(ctx, op->window);
        SvCoverage c;
        share += n / batch * decode_table(p, batch, ctx, &c);
        *cov = worse(*cov, c);
        if (n < batch) {
            double alone = decode_table(p, n, ctx, &c);
            longest = MAX(longest, alone);
            *cov = worse(*cov, c);
        }
    }
    return MAX(share, longest);
}

static double time_prefill(const SvPredictor *p, const OpDesc *op, SvCoverage *cov)
{
    const SvAttnSet *set = &p->calib->prefill[p->prefill_set];
    double roof = MAX(op->flops / p->peak_act, op->bytes / p->bw_peak), exact;
    double lu = sv_table_attn(set, TRUE, op->chunk_eq, op->ctx_eq, &exact, cov);
    if (p->prefill_same && *cov == SV_COVERAGE_MEASURED)
        return exact;
    if (!p->prefill_same)
        *cov = SV_COVERAGE_EXTRAPOLATED;
    return roof / exp(lu);
}

/* A collective: vLLM's custom all-reduce where vLLM would run it (unless the
 * plan disables it; perf/topology.h), else the hwprofile's measured curve
 * for its op, group size and link class when there is one (perf/table.h:
 * the group's own, a blend of the groups around it, or the nearest group's
 * utilisation), else the alpha-beta model of perf/topology.c. The measured
 * curves are NCCL's, so they cannot answer for the custom kernel. @cost (may
 * be NULL) says how. */
static double time_collective(const SvPredictor *p, const OpDesc *op, SvCoverage *cov,
                              SvCollCost *cost)
{
    const CommSlot *c = op->comm;
    SvCollCost local;
    if (cost == NULL)
        cost = &local;
    if (c->op == SV_COLL_ALL_REDUCE && !p->plan.disable_custom_all_reduce) {
        double t = sv_topo_custom_ar_time(p->hw, &c->group, op->bytes, cost);
        if (t >= 0) {
            *cov = SV_COVERAGE_ROOFLINE;
            return t;
        }
    }
    if (p->calib != NULL) {
        double t = sv_table_coll(&c->bind, c->op, c->group.ranks, op->bytes, cov);
        if (t >= 0) {
            cost->time_s = t;
            cost->algo = SV_ALGO_TABLE;
            cost->proto = SV_PROTO_SIMPLE;
            cost->link = sv_topo_link_class(&c->group);
            cost->latency_s = 0;
            return t;
        }
    }
    *cov = SV_COVERAGE_ROOFLINE;
    return sv_topo_coll_time(p->hw, c->op, &c->group, op->bytes, cost);
}

/* The time of one occurrence of @op. Roofline kernels add the launch
 * latency once per kernel (not a floor): in eager mode it is on the critical
 * path, and with CUDA graphs the hwprofile's kernel_launch_s is the smaller
 * replay cost. Measured times already contain it. */
static double time_op(const SvPredictor *p, const OpDesc *op, SvCoverage *coverage)
{
    double t = 0, exact;
    const SvEltCurve *ec;
    *coverage = SV_COVERAGE_ROOFLINE;
    switch (op->kind) {
    case OP_GEMM:
        *coverage = SV_COVERAGE_MEASURED;
        for (int i = 0; i < op->num_parts; i++) {
            SvCoverage c;
            t += time_gemm(p, &op->parts[i], &c);
            *coverage = worse(*coverage, c);
        }
        return t + op->fixed_s;
    case OP_ATTENTION:
        if (op->prefill && p->prefill_set >= 0)
            return time_prefill(p, op, coverage);
        if (!op->prefill && p->decode_set >= 0)
            return time_decode(p, op, coverage);
        t = MAX(op->flops / p->attn_rate, op->bytes / p->mem_rate);
        break;
    case OP_ELEMENTWISE:
        ec = p->calib != NULL ? p->elt[op->elt] : NULL;
        if (ec != NULL && op->bytes > 0) {
            double lu = sv_table_curve(&ec->bytes, op->bytes, log(op->bytes), &exact, coverage);
            return *coverage == SV_COVERAGE_MEASURED ? exact : op->bytes / p->bw_peak / exp(lu);
        }
        t = op->bytes / p->mem_rate;
        break;
    case OP_COLLECTIVE:
        return time_collective(p, op, coverage, NULL);
    case OP_HOST: /* the calibrated host fit answers for host_overhead (PART_ROWS) only */
        if (p->calib != NULL && p->host == NULL && op->part == PART_ROWS) {
            double h = sv_table_host(p->calib, p->plan.tp, op->rows, NULL, coverage);
            if (h >= 0)
                return h;
        }
        return op->fixed_s;
    }
    return t + op->launches * p->hw->kernel_launch_s;
}

/* What bounds an op, for the profile. */
typedef enum { BOUND_COMPUTE, BOUND_MEMORY, BOUND_COMM, BOUND_HOST } OpBound;

/* One op's share of an iteration, all its occurrences together: what
 * stage_time adds to the stage time, the model FLOPs and the profile. The
 * memo keeps these per op (memo_compose), so that replaying the additions
 * gives the very sums stage_time makes. */
typedef struct OpShare {
    double t_s;         /* count x one occurrence's time, s */
    double model_flops; /* count x useful FLOPs over the replica */
    double flops;       /* count x FLOPs per device (compute and memory bound only) */
    double bytes;       /* count x bytes per device (compute and memory bound only) */
    OpBound bound;
} OpShare;

static void op_share(const SvPredictor *p, const OpDesc *op, OpShare *sh)
{
    SvCoverage c;
    sh->t_s = op->count * time_op(p, op, &c);
    sh->model_flops = op->count * op->model_flops;
    sh->flops = sh->bytes = 0;
    switch (op->kind) {
    case OP_COLLECTIVE:
        sh->bound = BOUND_COMM;
        return;
    case OP_HOST:
        sh->bound = BOUND_HOST;
        return;
    case OP_GEMM:
    case OP_ATTENTION:
    case OP_ELEMENTWISE:
        break;
    }
    double peak = op->kind == OP_GEMM ? p->peak_w : p->peak_act;
    sh->bound = op->flops / peak > op->bytes / p->bw_peak ? BOUND_COMPUTE : BOUND_MEMORY;
    sh->flops = op->count * op->flops;
    sh->bytes = op->count * op->bytes;
}

/* Add @sh to the stage time *@total, the model FLOPs *@flops and, when not
 * NULL, @prof (by what bounds the op). */
static inline void add_share(const OpShare *sh, double *total, double *flops, SvIterProfile *prof)
{
    *total += sh->t_s;
    *flops += sh->model_flops;
    if (prof == NULL)
        return;
    switch (sh->bound) {
    case BOUND_COMM:
        prof->comm_s += sh->t_s;
        return;
    case BOUND_HOST:
        return;
    case BOUND_COMPUTE:
        prof->compute_s += sh->t_s;
        break;
    case BOUND_MEMORY:
        prof->memory_s += sh->t_s;
        break;
    }
    prof->flops += sh->flops;
    prof->bytes += sh->bytes;
}

/* Time of stage @si on @s; also adds its model FLOPs into *@flops and, when
 * @prof is not NULL, its breakdown (flops and bytes summed, not averaged). */
static double stage_time(const SvPredictor *p, const SvBatchShape *s, int si, double *flops,
                         SvIterProfile *prof)
{
    OpList list;
    build_stage_ops(p, s, si, &list);
    double total = 0;
    for (int i = 0; i < list.n; i++) {
        OpShare sh;
        op_share(p, &list.ops[i], &sh);
        add_share(&sh, &total, flops, prof);
    }
    return total;
}

static gboolean shape_empty(const SvBatchShape *s)
{
    return s->prefill_tokens <= 0 && s->num_decode <= 0;
}

static gboolean shape_valid(const SvBatchShape *s)
{
    int64_t n = 0;
    for (int b = 0; b < SV_BATCH_CTX_BUCKETS; b++) {
        if (s->decode_ctx_count[b] < 0 || s->decode_ctx_sum[b] < 0)
            return FALSE;
        n += s->decode_ctx_count[b];
    }
    /* The histogram must account for every decode sequence: a shape built
     * by hand without sv_batch_add_decode would leave it empty. */
    return s->num_prefill >= 0 && s->prefill_tokens >= 0 && s->prefill_attn_pairs >= 0 &&
           s->prefill_kv_tokens >= 0 && s->num_decode >= 0 && s->decode_kv_tokens >= 0 &&
           n == s->num_decode;
}

/* Close @prof over all stages, which took @total_s: a device runs one
 * stage, so its share of the work. */
static void profile_finish(const SvPredictor *p, SvIterProfile *prof, double total_s)
{
    prof->flops /= p->num_stages;
    prof->bytes /= p->num_stages;
    prof->total_s = total_s;
}

/* Sum of the stage times: v0 treats the iteration as one micro-batch going
 * through every stage in turn (the latency of the batch); pipelining of
 * several micro-batches is the engine's business, using the stage times. */
static void compute(const SvPredictor *p, const SvBatchShape *s, double *total_s, double *max_s,
                    double *flops, SvIterProfile *prof)
{
    *total_s = *max_s = *flops = 0;
    memset(prof, 0, sizeof *prof);
    for (int si = 0; si < p->num_stages; si++) {
        double t = stage_time(p, s, si, flops, prof);
        *total_s += t;
        *max_s = MAX(*max_s, t);
    }
    profile_finish(p, prof, *total_s);
}

double sv_iter_profile_time_s(const SvIterProfile *profile, double clock_factor,
                              double memory_sensitivity)
{
    g_return_val_if_fail(profile != NULL, 0);
    if (!(clock_factor > 0) || clock_factor >= 1)
        return profile->total_s;
    double slow = 1.0 / clock_factor - 1.0;
    return profile->total_s + profile->compute_s * slow +
           profile->memory_s * memory_sensitivity * slow;
}

/* The locked clock's factor, 1 when unset. */
static double plan_clock(const SvPredictor *p)
{
    double f = p->clock_factor;
    return f > 0 && f < 1 ? f : 1.0;
}

/* -------------------------------------------------------------- memo -- */

/* Geometric buckets: exact below 256, then 128 buckets per power of two (the
 * top 8 bits are kept), so a bucket's midpoint is within 1/256 (0.4 %) of
 * every value in it. The index is monotone in the value. */
static int64_t bucket_index(int64_t x)
{
    if (x < 256)
        return x;
    int e = 63 - __builtin_clzll((unsigned long long)x); /* floor(log2 x) >= 8 */
    int64_t mant = x >> (e - 7);                         /* 128 .. 255 */
    return 256 + (int64_t)(e - 8) * 128 + (mant - 128);
}

static double bucket_value(int64_t index)
{
    if (index < 256)
        return (double)index;
    int64_t r = index - 256;
    int e = 8 + (int)(r / 128);
    double mant = 128.0 + (double)(r % 128);
    return ldexp(mant + 0.5, e - 7);
}

/* The smallest member of a bucket. New-token counts are evaluated there
 * rather than at the midpoint: measured GEMM times step where M crosses a
 * tile boundary (on H100, 512 to 513 tokens costs 5 %), and token budgets
 * and chunk sizes are round numbers, which are bucket starts; they are
 * then exact, and the rest of a bucket within 1/128 below. */
static double bucket_start(int64_t index)
{
    if (index < 256)
        return (double)index;
    int64_t r = index - 256;
    int e = 8 + (int)(r / 128);
    return ldexp(128.0 + (double)(r % 128), e - 7);
}

static int64_t pairs_to_int(double pairs)
{
    /* Pairs are whole numbers; 2^62 pairs is far beyond any real batch. */
    return pairs >= 4.6e18 ? (INT64_C(1) << 62) : (int64_t)llround(pairs);
}

static uint64_t memo_hash(const MemoKey *key)
{
    uint64_t h = 0x9e3779b97f4a7c15ULL;
    const uint64_t w[3] = {key->w0, key->w1, key->hist};
    for (int i = 0; i < 3; i++) {
        h ^= w[i] + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
        h *= 0xbf58476d1ce4e5b9ULL;
        h ^= h >> 31;
    }
    return h;
}

static inline gboolean memo_same(const MemoEntry *e, const MemoKey *key)
{
    return e->w0 == key->w0 && e->w1 == key->w1 && (e->hist & ~MEMO_WIDE) == key->hist;
}

/* The slot of @key (hash @h) in the table: its entry, or the free slot
 * where it goes. */
static MemoEntry *memo_slot(SvPredictor *p, const MemoKey *key, uint64_t h)
{
    uint32_t mask = p->num_slots - 1;
    for (uint32_t i = (uint32_t)h & mask;; i = (i + 1) & mask) {
        MemoEntry *e = &p->slots[i];
        if (e->w0 == MEMO_EMPTY || memo_same(e, key))
            return e;
    }
}

static void memo_reset(SvPredictor *p, uint32_t num_slots)
{
    g_aligned_free(p->slots);
    p->num_slots = num_slots;
    p->slots = memo_table_new(num_slots);
    p->used = 0;
}

/* The previous generation's entry for @key, or NULL. */
static const MemoEntry *memo_old(const SvPredictor *p, const MemoKey *key, uint64_t h)
{
    uint32_t mask = p->old_num_slots - 1;
    for (uint32_t i = (uint32_t)h & mask;; i = (i + 1) & mask) {
        const MemoEntry *e = &p->old_slots[i];
        if (e->w0 == MEMO_EMPTY)
            return NULL;
        if (memo_same(e, key))
            return e;
    }
}

static void memo_grow(SvPredictor *p)
{
    if (p->used >= MEMO_MAX_ENTRIES) {
        /* Full: the table becomes the previous generation, whose entries
         * move back as they are asked for, so the shapes in use survive
         * (the last generation's rest is dropped). A clear made a burst
         * of recomputations each time; a long run's shapes drift slowly. */
        MemoEntry *spare = p->old_slots;
        uint32_t spare_n = p->old_num_slots;
        p->old_slots = p->slots;
        p->old_num_slots = p->num_slots;
        if (spare != NULL && spare_n == p->num_slots) {
            /* The dropped generation's table, cleared, is the new one:
             * fresh 16 MB tables cost a page fault per 4 KiB. */
            for (uint32_t i = 0; i < spare_n; i++)
                spare[i].w0 = MEMO_EMPTY;
            p->slots = spare;
            p->used = 0;
        } else {
            g_aligned_free(spare);
            p->slots = NULL;
            memo_reset(p, p->num_slots);
        }
        return;
    }
    MemoEntry *old = p->slots;
    uint32_t old_n = p->num_slots;
    p->slots = NULL;
    memo_reset(p, old_n * 2);
    for (uint32_t i = 0; i < old_n; i++) {
        if (old[i].w0 == MEMO_EMPTY)
            continue;
        MemoKey key = {old[i].w0, old[i].w1, old[i].hist & ~MEMO_WIDE};
        *memo_slot(p, &key, memo_hash(&key)) = old[i];
        p->used++;
    }
    g_aligned_free(old);
}

/* The decode contexts of the memo's representative shape: the exact counts
 * per bucket, and contexts placed at one common fraction alpha of each
 * bucket's range, chosen so that they sum to the bucketed total. A batch
 * whose contexts all sit in one bucket gets its exact mean back. */
static void memo_rep_contexts(const int32_t *count, double total, SvBatchShape *rep)
{
    double lo_sum = 0, width_sum = 0, lo[SV_BATCH_CTX_BUCKETS], hi[SV_BATCH_CTX_BUCKETS];
    for (int b = 0; b < SV_BATCH_CTX_BUCKETS; b++) {
        sv_batch_ctx_range(b, &lo[b], &hi[b]);
        lo_sum += count[b] * lo[b];
        width_sum += count[b] * (hi[b] - lo[b]);
    }
    double alpha = width_sum > 0 ? (total - lo_sum) / width_sum : 0;
    alpha = CLAMP(alpha, 0.0, 1.0);
    int64_t sum = 0;
    for (int b = 0; b < SV_BATCH_CTX_BUCKETS; b++) {
        rep->decode_ctx_count[b] = count[b];
        rep->decode_ctx_sum[b] = llround(count[b] * (lo[b] + alpha * (hi[b] - lo[b])));
        sum += rep->decode_ctx_sum[b];
    }
    rep->decode_kv_tokens = sum;
}

/* The histogram in the key is a digest: the highest non-empty context
 * bucket, how many sequences sit in it and in the bucket below (counts
 * exact up to 15, then in steps of 1/8 of a power of two), and the bucket of
 * the mean context of all the others. The decode
 * model (time_decode) is driven by the longest contexts (its second term)
 * and otherwise by the total, which the key has exactly; the spread of the
 * shorter contexts moves it little. Exact counts of every bucket would make
 * nearly every large batch a new key, since some sequence crosses a bucket
 * edge every few steps. */
static int count_digest(int64_t n)
{
    if (n < 16)
        return (int)n;
    int e = 63 - __builtin_clzll((unsigned long long)n); /* >= 4 */
    return 16 + (e - 4) * 8 + (int)((n >> (e - 3)) - 8);
}

static int64_t count_value(int d)
{
    if (d < 16)
        return d;
    int e = 4 + (d - 16) / 8, mant = 8 + (d - 16) % 8;
    return (int64_t)((mant + 0.5) * (double)(1LL << (e - 3)));
}

/* Fill @key for @s: counts up to 2^24 take 25 bits, bucket indices (below
 * 7168 for any int64) 13. The digest: the top bucket (4 bits, in 8), the
 * two counts' digests (below 240 for any int32: 8 bits each) and the rest's
 * bucket (4 bits). */
static void memo_key(const SvPredictor *p, const SvBatchShape *s, MemoKey *key)
{
    key->w0 = (uint64_t)s->num_prefill | (uint64_t)bucket_index(s->prefill_tokens) << 25 |
              (uint64_t)bucket_index(pairs_to_int(s->prefill_attn_pairs)) << 38;
    key->w1 = (uint64_t)s->num_decode | (uint64_t)bucket_index(s->decode_kv_tokens) << 25 |
              (uint64_t)bucket_index(s->prefill_kv_tokens) << 38;
    key->hist = 0;
    if (!p->hist_matters || s->num_decode == 0)
        return;
    int top = SV_BATCH_CTX_BUCKETS - 1;
    while (top > 0 && s->decode_ctx_count[top] == 0)
        top--;
    int below = top > 0 ? s->decode_ctx_count[top - 1] : 0;
    int64_t rest_n = 0, rest_sum = 0;
    for (int b = 0; b + 1 < top; b++) {
        rest_n += s->decode_ctx_count[b];
        rest_sum += s->decode_ctx_sum[b];
    }
    int rest = rest_n > 0 ? sv_batch_ctx_bucket(rest_sum / rest_n) : 0;
    key->hist = (uint32_t)top | (uint32_t)count_digest(s->decode_ctx_count[top]) << 8 |
                (uint32_t)count_digest(below) << 16 | (uint32_t)rest << 24;
}

/* The representative shape of @key's bucket: the value is computed there,
 * not at the shape that came first, so it never depends on call order. The
 * digest's top two buckets keep their counts; the other sequences share the
 * bucket of their mean context. */
static void memo_rep(const SvPredictor *p, const MemoKey *key, SvBatchShape *rep)
{
    memset(rep, 0, sizeof *rep);
    const uint64_t m25 = (1u << 25) - 1, m13 = (1u << 13) - 1;
    rep->num_prefill = (int)(key->w0 & m25);
    rep->prefill_tokens = (int64_t)bucket_start((int64_t)(key->w0 >> 25 & m13));
    rep->prefill_attn_pairs = bucket_value((int64_t)(key->w0 >> 38 & m13));
    rep->num_decode = (int)(key->w1 & m25);
    rep->prefill_kv_tokens = (int64_t)bucket_value((int64_t)(key->w1 >> 38 & m13));
    double total = bucket_value((int64_t)(key->w1 >> 25 & m13));
    int64_t batch = rep->num_decode;
    int32_t count[SV_BATCH_CTX_BUCKETS] = {0};
    if (batch == 0) {
        /* no decodes */
    } else if (p->hist_matters) {
        int top = (int)(key->hist & 0xff);
        int64_t n_top = MAX(1, MIN(count_value((int)(key->hist >> 8 & 0xff)), batch));
        int64_t n_below =
            top > 0 ? MIN(count_value((int)(key->hist >> 16 & 0xff)), batch - n_top) : 0;
        int64_t rest = batch - n_top - n_below;
        count[top] = (int32_t)n_top;
        if (top > 0)
            count[top - 1] += (int32_t)n_below;
        if (rest > 0)
            count[MIN((int)(key->hist >> 24 & 0xf), MAX(top - 2, 0))] += (int32_t)rest;
    } else {
        /* Nothing reads the histogram: all at the mean context. */
        count[sv_batch_ctx_bucket((int64_t)(total / batch))] = (int32_t)batch;
    }
    memo_rep_contexts(count, total, rep);
}

/* ---- the memo's parts ----
 * A memo miss used to time every op again at the key's representative
 * shape. On 15 simulated minutes of bench/cluster-1024.yaml (2.9 M
 * lookups) one lookup in five missed: the 2.0 M decode-only steps have 10 k
 * distinct keys, but the 0.9 M steps with a prefill chunk 452 k (their
 * chunk tokens, attention pairs and decode contexts together), while the
 * inputs each op depends on repeat (OpPart): 6.7 k token counts, 92 batch
 * sizes, 32 k prefill and 10 k decode attention aggregates. So each part's
 * ops are timed once per value of its own inputs and kept in a cache
 * (PartCache, two-way: on that run 42 k prefill and 11 k decode entries
 * are timed, evictions included, against 450 k whole keys before),
 * and a miss replays the shares of the key's ops in execution order
 * (memo_compose): the same additions in the same order as compute() makes,
 * so the same sums to the last bit, which tests/check_perf.c checks
 * against the whole computation. With
 * attention data parallelism (dp > 1) every op's model FLOPs depend on the
 * whole batch (the busiest rank stands for all), so it computes whole.
 * Measured on the whole hour: 10.4 s of user CPU before, 7.6 s after. */
static const uint32_t part_entries[PART_COUNT] = {
    [PART_TOKENS] = 16384, [PART_ROWS] = 1024, [PART_PREFILL] = 32768, [PART_DECODE] = 16384};

static void memo_split_init(SvPredictor *p)
{
    if (p->dp > 1)
        return;
    /* The layout: every op a batch with both prefill chunks and decodes
     * runs. A batch without one of them runs the same ops less that part's. */
    SvBatchShape probe = {0};
    sv_batch_add_prefill(&probe, 1, 0);
    sv_batch_add_decode(&probe, 1, 1);
    int width[PART_COUNT] = {0}, n = 0;
    p->layout = g_new(PartSlot, (size_t)p->num_stages * MAX_STAGE_OPS);
    p->stage_start = g_new(int, p->num_stages + 1);
    for (int si = 0; si < p->num_stages; si++) {
        OpList list;
        build_stage_ops(p, &probe, si, &list);
        p->stage_start[si] = n;
        for (int i = 0; i < list.n; i++) {
            OpPart part = list.ops[i].part;
            SV_ASSERT(width[part] < UINT16_MAX, "%d ops in one memo part", width[part]);
            p->layout[n++] = (PartSlot){(uint8_t)part, (uint16_t)width[part]++};
        }
    }
    p->stage_start[p->num_stages] = n;
    for (int part = 0; part < PART_COUNT; part++) {
        PartCache *c = &p->parts[part];
        uint32_t entries = part_entries[part];
        c->mask = entries - 1;
        c->width = width[part];
        c->stride = (sizeof(PartKey) + (size_t)c->width * sizeof(OpShare) + 63) & ~(size_t)63;
        /* Zeroed (all entries empty) and untouched: a large calloc maps
         * fresh pages, so a predictor that is never asked (plan search)
         * costs no memory. Aligned by hand (g_aligned_alloc0 writes it). */
        c->alloc = g_malloc0((size_t)entries * c->stride + 63);
        c->entries = (char *)(((uintptr_t)c->alloc + 63) & ~(uintptr_t)63);
    }
}

static void memo_split_free(SvPredictor *p)
{
    g_clear_pointer(&p->layout, g_free);
    g_clear_pointer(&p->stage_start, g_free);
    for (int part = 0; part < PART_COUNT; part++)
        g_free(p->parts[part].alloc);
    memset(p->parts, 0, sizeof p->parts);
}

/* The key of @part of the iteration @key into @k; FALSE when the iteration
 * has no op of that part (no prefill chunk, no decode). The token count is
 * the representative shape's (memo_rep), the only input of those ops. */
static gboolean part_key(int part, const MemoKey *key, uint64_t k[2])
{
    const uint64_t m25 = (1u << 25) - 1, m13 = (1u << 13) - 1;
    uint64_t num_prefill = key->w0 & m25, tokens_index = key->w0 >> 25 & m13;
    uint64_t num_decode = key->w1 & m25;
    switch (part) {
    case PART_TOKENS:
        k[0] = (uint64_t)bucket_start((int64_t)tokens_index) + num_decode;
        k[1] = 0;
        return TRUE;
    case PART_ROWS:
        k[0] = num_prefill + num_decode;
        k[1] = 0;
        return TRUE;
    case PART_PREFILL: /* chunks, tokens and pairs; KV tokens */
        k[0] = key->w0;
        k[1] = key->w1 >> 38;
        return num_prefill > 0 && tokens_index > 0;
    default: /* PART_DECODE: sequences, KV tokens; the histogram digest */
        k[0] = key->w1 & ((UINT64_C(1) << 38) - 1);
        k[1] = key->hist;
        return num_decode > 0;
    }
}

/* The entry of key @k of @part. Token counts and batch sizes are small
 * integers, all distinct modulo the cache's size: they index it as they
 * are. */
static inline uint32_t part_hash(int part, const uint64_t k[2])
{
    if (part == PART_TOKENS || part == PART_ROWS)
        return (uint32_t)k[0];
    uint64_t h = k[0] * 0x9e3779b97f4a7c15ULL ^ k[1];
    h ^= h >> 31;
    h *= 0xbf58476d1ce4e5b9ULL;
    return (uint32_t)(h ^ h >> 29);
}

/* Time the ops of the parts whose @fill is not NULL at @key's
 * representative shape, into @fill. */
static void memo_fill(SvPredictor *p, const MemoKey *key, OpShare *const fill[PART_COUNT])
{
    SvBatchShape rep;
    memo_rep(p, key, &rep);
    int next[PART_COUNT] = {0};
    for (int si = 0; si < p->num_stages; si++) {
        OpList list;
        build_stage_ops(p, &rep, si, &list);
        for (int i = 0; i < list.n; i++) {
            OpPart part = list.ops[i].part;
            int j = next[part]++;
            if (fill[part] != NULL)
                op_share(p, &list.ops[i], &fill[part][j]);
        }
    }
    for (int part = 0; part < PART_COUNT; part++)
        SV_ASSERT(fill[part] == NULL || next[part] == p->parts[part].width,
                  "memo part %d has %d ops, its layout %d", part, next[part], p->parts[part].width);
}

/* compute() at @key's representative shape, from the parts' caches. */
static void memo_compose(SvPredictor *p, const MemoKey *key, double *total_s, double *max_s,
                         double *flops, SvIterProfile *prof)
{
    const OpShare *have[PART_COUNT];
    OpShare *fill[PART_COUNT];
    PartKey *entry[PART_COUNT];
    uint64_t k[PART_COUNT][2];
    /* Every part's entries are fetched before any is read: their misses
     * overlap instead of coming one after the other. A key has two ways,
     * an even entry and the odd one after it (two keys taking turns on one
     * entry made most of the refills). */
    for (int part = 0; part < PART_COUNT; part++) {
        PartCache *c = &p->parts[part];
        entry[part] = NULL;
        if (!part_key(part, key, k[part]))
            continue;
        uint32_t i = part_hash(part, k[part]) & c->mask & ~1u;
        entry[part] = (PartKey *)(c->entries + (size_t)i * c->stride);
        for (size_t line = 0; line < c->stride + 64; line += 64)
            __builtin_prefetch((char *)entry[part] + line, 1);
    }
    gboolean missing = FALSE;
    for (int part = 0; part < PART_COUNT; part++) {
        PartKey *e = entry[part];
        have[part] = fill[part] = NULL;
        if (e == NULL)
            continue;
        PartKey *second = (PartKey *)((char *)e + p->parts[part].stride);
        if (e->k0 == k[part][0] && e->k1 == k[part][1] + 1) {
            have[part] = (OpShare *)(e + 1);
        } else if (second->k0 == k[part][0] && second->k1 == k[part][1] + 1) {
            have[part] = (OpShare *)(second + 1);
        } else {
            /* The newer of the two entries stays, in the second way. */
            memcpy(second, e, p->parts[part].stride);
            e->k0 = k[part][0];
            e->k1 = k[part][1] + 1;
            p->parts[part].fills++;
            have[part] = fill[part] = (OpShare *)(e + 1);
            missing = TRUE;
        }
    }
    if (missing)
        memo_fill(p, key, fill);
    *total_s = *max_s = *flops = 0;
    memset(prof, 0, sizeof *prof);
    for (int si = 0; si < p->num_stages; si++) {
        double t = 0;
        for (int j = p->stage_start[si]; j < p->stage_start[si + 1]; j++) {
            const PartSlot *slot = &p->layout[j];
            if (have[slot->part] != NULL)
                add_share(&have[slot->part][slot->index], &t, flops, prof);
        }
        *total_s += t;
        *max_s = MAX(*max_s, t);
    }
    profile_finish(p, prof, *total_s);
}

/* The values at @key's representative shape, computed afresh. */
static void memo_compute(SvPredictor *p, const MemoKey *key, MemoValue *v)
{
    double total_s, max_s, flops;
    SvIterProfile prof;
    if (p->layout != NULL) {
        memo_compose(p, key, &total_s, &max_s, &flops, &prof);
    } else {
        SvBatchShape rep;
        memo_rep(p, key, &rep);
        compute(p, &rep, &total_s, &max_s, &flops, &prof);
    }
    /* A locked clock stretches the stages alike (their mix of compute- and
     * memory-bound ops differs little). */
    double clocked = sv_iter_profile_time_s(&prof, plan_clock(p), p->hw->clock_memory_sensitivity);
    double stretch = total_s > 0 ? clocked / total_s : 1.0;
    v->total_ns = sv_s_to_ns(clocked);
    v->max_stage_ns = sv_s_to_ns(max_s * stretch);
    v->flops = flops;
    v->full_clock_ns = sv_s_to_ns(total_s);
    v->compute_s = (float)prof.compute_s;
    v->memory_s = (float)prof.memory_s;
    v->comm_s = (float)prof.comm_s;
    v->dev_flops = (float)prof.flops;
    v->dev_bytes = (float)prof.bytes;
}

static inline gboolean fits_int32(int64_t x)
{
    return x >= INT32_MIN && x <= INT32_MAX;
}

/* Pack @v under @key into @e. */
static void memo_store(MemoEntry *e, const MemoKey *key, const MemoValue *v)
{
    int64_t stage = v->max_stage_ns - v->total_ns, full = v->full_clock_ns - v->total_ns;
    gboolean wide = !fits_int32(stage) || !fits_int32(full);
    e->w0 = key->w0;
    e->w1 = key->w1;
    e->hist = key->hist | (wide ? MEMO_WIDE : 0);
    e->stage_minus_total_ns = wide ? 0 : (int32_t)stage;
    e->full_minus_total_ns = wide ? 0 : (int32_t)full;
    e->total_ns = v->total_ns;
    e->flops = v->flops;
    e->compute_s = v->compute_s;
    e->memory_s = v->memory_s;
    e->comm_s = v->comm_s;
    e->dev_flops = v->dev_flops;
    e->dev_bytes = v->dev_bytes;
}

/* Unpack entry @e (of @key) into @v. */
static void memo_load(SvPredictor *p, const MemoEntry *e, const MemoKey *key, MemoValue *v)
{
    if (G_UNLIKELY(e->hist & MEMO_WIDE)) {
        memo_compute(p, key, v);
        return;
    }
    v->total_ns = e->total_ns;
    v->max_stage_ns = e->total_ns + e->stage_minus_total_ns;
    v->full_clock_ns = e->total_ns + e->full_minus_total_ns;
    v->flops = e->flops;
    v->compute_s = e->compute_s;
    v->memory_s = e->memory_s;
    v->comm_s = e->comm_s;
    v->dev_flops = e->dev_flops;
    v->dev_bytes = e->dev_bytes;
}

/* The slot for @key (hash @h) in a table with room for one more entry. */
static MemoEntry *memo_claim(SvPredictor *p, const MemoKey *key, uint64_t h, MemoEntry *e)
{
    if ((p->used + 1) * 2 > p->num_slots) {
        memo_grow(p);
        e = memo_slot(p, key, h);
    }
    p->used++;
    return e;
}

static void memo_lookup(SvPredictor *p, const SvBatchShape *s, MemoValue *v)
{
    MemoKey key;
    memo_key(p, s, &key);
    /* A step with a prefill chunk is nearly always a new key (memo_compose
     * says why), and putting it together from the parts' caches costs less
     * than keeping it: stored, those keys made the table 16 MB, so that
     * every lookup waited for memory; without them it holds the decode-only
     * keys (10 k on bench/cluster-1024.yaml), 2 MB, and the hot table in
     * front of it only costs a second line. */
    if (p->layout != NULL && s->num_prefill > 0) {
        p->misses++;
        memo_compute(p, &key, v);
        return;
    }
    uint64_t h = memo_hash(&key);
    /* The hot table takes the hash's high bits, the table its low ones. */
    MemoEntry *hot = p->layout == NULL ? &p->hot[(h >> 32) & (MEMO_HOT_SLOTS - 1)] : NULL;
    if (hot != NULL && hot->w0 != MEMO_EMPTY && memo_same(hot, &key)) {
        p->hits++;
        memo_load(p, hot, &key, v);
        return;
    }
    MemoEntry *e = memo_slot(p, &key, h);
    if (e->w0 != MEMO_EMPTY) {
        p->hits++;
        if (hot != NULL)
            *hot = *e;
        memo_load(p, e, &key, v);
        return;
    }
    const MemoEntry *old = p->old_slots != NULL ? memo_old(p, &key, h) : NULL;
    if (old != NULL) {
        p->hits++;
        MemoEntry moved = *old; /* growing may free the old generation */
        *memo_claim(p, &key, h, e) = moved;
        if (hot != NULL)
            *hot = moved;
        memo_load(p, &moved, &key, v);
        return;
    }
    p->misses++;
    memo_compute(p, &key, v);
    e = memo_claim(p, &key, h, e);
    memo_store(e, &key, v);
    if (hot != NULL)
        *hot = *e;
}

SvTimeNs sv_predictor_iteration_ns(SvPredictor *predictor, const SvBatchShape *shape,
                                   double *flops_out)
{
    g_return_val_if_fail(predictor != NULL && shape != NULL && shape_valid(shape), 0);
    if (shape_empty(shape)) {
        if (flops_out != NULL)
            *flops_out = 0;
        return 0;
    }
    MemoValue v;
    memo_lookup(predictor, shape, &v);
    if (flops_out != NULL)
        *flops_out = v.flops;
    return v.total_ns;
}

SvTimeNs sv_predictor_iteration_profile(SvPredictor *predictor, const SvBatchShape *shape,
                                        SvIterProfile *profile, double *flops_out)
{
    g_return_val_if_fail(predictor != NULL && shape != NULL && shape_valid(shape), 0);
    g_return_val_if_fail(profile != NULL, 0);
    memset(profile, 0, sizeof *profile);
    if (shape_empty(shape)) {
        if (flops_out != NULL)
            *flops_out = 0;
        return 0;
    }
    MemoValue v;
    memo_lookup(predictor, shape, &v);
    if (flops_out != NULL)
        *flops_out = v.flops;
    profile->compute_s = v.compute_s;
    profile->memory_s = v.memory_s;
    profile->comm_s = v.comm_s;
    profile->total_s = sv_ns_to_s(v.full_clock_ns);
    profile->flops = v.dev_flops;
    profile->bytes = v.dev_bytes;
    /* The eager op's count follows the exact token count (PART_TOKENS), so
     * its time is known without keeping it in the memo entry. */
    if (predictor->eager_step_s > 0 && runs_eager(predictor, rank_tokens(shape, predictor->dp)))
        profile->eager_s = predictor->eager_step_s;
    return v.total_ns;
}

SvTimeNs sv_predictor_stage_max_ns(SvPredictor *predictor, const SvBatchShape *shape)
{
    g_return_val_if_fail(predictor != NULL && shape != NULL && shape_valid(shape), 0);
    if (shape_empty(shape))
        return 0;
    MemoValue v;
    memo_lookup(predictor, shape, &v);
    return v.max_stage_ns;
}

int sv_predictor_num_stages(const SvPredictor *predictor)
{
    g_return_val_if_fail(predictor != NULL, 0);
    return predictor->num_stages;
}

double sv_predictor_stage_times(SvPredictor *predictor, const SvBatchShape *shape, double *stage_s,
                                double *flops_out)
{
    g_return_val_if_fail(predictor != NULL && shape != NULL && shape_valid(shape), 0);
    double total = 0, flops = 0;
    for (int si = 0; si < predictor->num_stages; si++) {
        double t = shape_empty(shape) ? 0 : stage_time(predictor, shape, si, &flops, NULL);
        if (stage_s != NULL)
            stage_s[si] = t;
        total += t;
    }
    if (flops_out != NULL)
        *flops_out = flops;
    return total;
}

/* The public view of @op: its time, and for a collective how it was costed. */
static void describe_op(const SvPredictor *p, const OpDesc *op, SvOpTime *t)
{
    static const char *const algo_names[SV_ALGO_COUNT][SV_PROTO_COUNT] = {
        {"ring/LL", "ring/LL128", "ring/Simple"},
        {"tree/LL", "tree/LL128", "tree/Simple"},
        {"nvls", "nvls", "nvls"},
        {"direct", "direct", "direct"},
        {"table", "table", "table"},
        {"custom", "custom", "custom"},
    };
    memset(t, 0, sizeof *t);
    t->name = op->name;
    t->count = op->count;
    t->flops = op->flops;
    t->bytes = op->bytes;
    if (op->kind != OP_COLLECTIVE) {
        t->time_s = time_op(p, op, &t->coverage);
        return;
    }
    SvCollCost cost;
    t->time_s = time_collective(p, op, &t->coverage, &cost);
    t->group = op->comm->group.ranks;
    t->domains = op->comm->group.domains;
    t->algo = algo_names[cost.algo][cost.proto];
    t->link = cost.link == SV_LINK_SCALEOUT ? "scaleout"
              : p->hw->scaleup_kind != NULL ? p->hw->scaleup_kind
                                            : "nvlink";
}

static gboolean same_row(const SvOpTime *a, const SvOpTime *b)
{
    return strcmp(a->name, b->name) == 0 && a->time_s == b->time_s && a->bytes == b->bytes &&
           a->flops == b->flops && a->coverage == b->coverage && a->group == b->group &&
           a->domains == b->domains && g_strcmp0(a->algo, b->algo) == 0 &&
           g_strcmp0(a->link, b->link) == 0;
}

/* Append the ops of stage @si to @out, identical occurrences merged into one
 * row; returns the stage's time. */
static double stage_rows(SvPredictor *p, const SvBatchShape *shape, int si, GArray *out)
{
    OpList list;
    double total = 0;
    build_stage_ops(p, shape, si, &list);
    for (int i = 0; i < list.n; i++) {
        SvOpTime t;
        describe_op(p, &list.ops[i], &t);
        total += t.count * t.time_s;
        gboolean merged = FALSE;
        for (guint j = 0; j < out->len && !merged; j++) {
            SvOpTime *o = &g_array_index(out, SvOpTime, j);
            if (same_row(o, &t)) {
                o->count += t.count;
                merged = TRUE;
            }
        }
        if (!merged)
            g_array_append_val(out, t);
    }
    return total;
}

GArray *sv_predictor_ops(SvPredictor *predictor, const SvBatchShape *shape, double *iteration_s)
{
    g_return_val_if_fail(predictor != NULL && shape != NULL && shape_valid(shape), NULL);
    GArray *out = g_array_new(FALSE, TRUE, sizeof(SvOpTime));
    double total = 0;
    /* Identical occurrences (the same layer op on every stage, the final
     * norm and the layers' norms) become one row. */
    if (!shape_empty(shape))
        for (int si = 0; si < predictor->num_stages; si++)
            total += stage_rows(predictor, shape, si, out);
    if (iteration_s != NULL)
        *iteration_s = total;
    return out;
}

GArray *sv_predictor_stage_ops(SvPredictor *predictor, const SvBatchShape *shape, int stage,
                               double *stage_s)
{
    g_return_val_if_fail(predictor != NULL && shape != NULL && shape_valid(shape), NULL);
    g_return_val_if_fail(stage >= 0 && stage < predictor->num_stages, NULL);
    GArray *out = g_array_new(FALSE, TRUE, sizeof(SvOpTime));
    double t = shape_empty(shape) ? 0 : stage_rows(predictor, shape, stage, out);
    if (stage_s != NULL)
        *stage_s = t;
    return out;
}

void sv_predictor_stage_layers(const SvPredictor *predictor, int stage, int *first_layer,
                               int *num_layers)
{
    g_return_if_fail(predictor != NULL && stage >= 0 && stage < predictor->num_stages);
    if (first_layer != NULL)
        *first_layer = predictor->stages[stage].first_layer;
    if (num_layers != NULL)
        *num_layers = predictor->stages[stage].num_layers;
}

int sv_predictor_nodes(const SvPredictor *predictor)
{
    g_return_val_if_fail(predictor != NULL, 0);
    return predictor->nodes;
}

void sv_predictor_set_clock(SvPredictor *predictor, double clock_factor)
{
    g_return_if_fail(predictor != NULL && clock_factor > 0 && clock_factor <= 1);
    predictor->clock_factor = clock_factor;
    memo_reset(predictor, predictor->num_slots);
    g_clear_pointer(&predictor->old_slots, g_aligned_free);
    for (uint32_t i = 0; predictor->hot != NULL && i < MEMO_HOT_SLOTS; i++)
        predictor->hot[i].w0 = MEMO_EMPTY;
}

void sv_predictor_set_memo_split(SvPredictor *predictor, gboolean enabled)
{
    g_return_if_fail(predictor != NULL);
    if (!enabled) {
        memo_split_free(predictor);
        if (predictor->hot == NULL)
            predictor->hot = memo_table_new(MEMO_HOT_SLOTS);
    } else if (predictor->layout == NULL) {
        memo_split_init(predictor);
    }
}

void sv_predictor_memo_stats(const SvPredictor *predictor, uint64_t *hits, uint64_t *misses)
{
    g_return_if_fail(predictor != NULL);
    if (hits != NULL)
        *hits = predictor->hits;
    if (misses != NULL)
        *misses = predictor->misses;
}
