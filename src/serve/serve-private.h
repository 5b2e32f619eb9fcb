/* Internals shared by the files of serve/: requests with intrusive queue
 * links, replicas, and the scheduler and router interfaces. Schedulers and
 * routers sit side by side behind these vtables (sched-vllm-v1.c,
 * sched-vllm-v0.c, router.c). */
#ifndef SV_SERVE_PRIVATE_H
#define SV_SERVE_PRIVATE_H

#include <stddef.h>

#include "config/config.h"
#include "perf/predictor.h"
#include "serve/kv-pool.h"
#include "serve/sim.h"

G_BEGIN_DECLS

typedef enum {
    SV_RS_WAITING, /* in the replica's waiting queue */
    SV_RS_RUNNING, /* in the running set (holds KV blocks) */
    SV_RS_FREE,    /* back in the request pool */
    /* In the running set and in a batch still in the pipeline (pp > 1): not
     * schedulable, and never a preemption victim, until the batch ends. */
    SV_RS_INFLIGHT,
    /* Between a prefill and a decode replica: waiting for decode-side KV
     * blocks (in the decode replica's kv_wait list) or moving its KV. */
    SV_RS_TRANSFER,
} SvRequestState;

/* One request in flight. Lives in the sim's request pool; moves between the
 * waiting and running lists of its replica through its intrusive links, so
 * moving allocates nothing. Token bookkeeping follows vLLM v1: a step
 * processes tokens [num_computed, num_computed + n) of the request's known
 * tokens (input + generated); when it reaches the end a new token is sampled. */
typedef struct SvRequest SvRequest;
struct SvRequest {
    /* Hot: what every step reads or writes for every request in a batch
     * (scheduling, KV growth, token emission), in one 64-byte cache line
     * (the slabs are aligned): the cluster benchmark's cost is these lines. */
    _Alignas(64) SvRequest *prev; /* list links (waiting or running) */
    SvRequest *next;
    SvTimeNs last_token_ns; /* time of the latest token */
    SvTimeNs max_itl_ns;    /* largest gap between tokens */
    int32_t input_tokens;
    int32_t output_tokens;
    int32_t generated;    /* tokens emitted so far */
    int32_t num_computed; /* tokens whose KV is in the cache */
    int32_t scheduled;    /* tokens in the current iteration (0 = not in batch) */
    int32_t kv_cache_at;  /* num_computed at which its next prefix unit fills; INT32_MAX: never */
    int32_t blocks;       /* KV blocks held (a request's blocks fit 32 bits: max_model_len) */
    uint8_t state;        /* SvRequestState */
    uint8_t trace_phase;  /* SvRequestPhase; kept only while an observer is set */
    uint8_t kv_flags;     /* SV_KV_*: what the KV fast paths must not skip */
    uint8_t cohort_role;  /* SvCohortRole: in the decode cohort, its others list, or neither */
    /* Cold: read when a request arrives, is first scheduled, emits its
     * first token, finishes, is preempted or handed over. */
    int64_t id; /* arrival index */
    SvTimeNs arrival_ns;
    SvTimeNs first_scheduled_ns; /* first time in a batch; -1 before */
    SvTimeNs first_token_ns;     /* -1 before the first token */
    int32_t replica;             /* index of the replica serving it */
    int32_t priority;            /* scheduling priority, higher first (edf); 0 by default */
    SvTimeNs deadline_ns;        /* first-token deadline (edf); INT64_MAX when none */
    int16_t preemptions;
    uint16_t tenant;   /* run-level tenant index (workload/tenants.h) */
    uint8_t slo_class; /* run-level SLO class index, 0 = the study's slo: */
    /* Prefix cache and preemption (kv-pool.h), read only when kv_flags or
     * the first scheduling ask for it. */
    SvKvSeq kv;               /* its handle on the prefix cache */
    int64_t swapped_blocks;   /* CPU-tier blocks holding its KV while swapped out, else 0 */
    SvTimeNs preempted_at_ns; /* when it was last preempted (while SV_KV_PREEMPTED) */
    SvTimeNs preempted_ns;    /* total time from preemption to resumption */
    int32_t cached_tokens;    /* prefix-cache hit when first scheduled, tokens */
    double energy_j;          /* its share, by tokens, of its iterations' energy (power.h), J */
    /* Decode cohort (cohort.c): read when a member needs attention (every
     * block_size tokens or so), never per step; next to energy_j, which
     * attention also updates. */
    int64_t cohort_sync;      /* member: replica iteration its token fields are current for */
    int8_t cohort_bucket;     /* member: the context bucket it is counted in */
    uint8_t cohort_counted;   /* member: its cache units are counted at attention (cohort.c) */
    int32_t cohort_slot;      /* member: its entry in the cohort's member_j */
    int64_t admit_seq;        /* admission order on its replica (the running list's order) */
    SvRequest *cprev, *cnext; /* others-list links */
    /* Disaggregation: the hand-over from a prefill replica to a decode one
     * (disagg.c). Read once per request, never per step. */
    int32_t prefill_replica; /* replica that ran its prefill and handed it over; -1: none */
    int32_t xfer_dst;        /* decode replica it goes to; -1 before one is chosen */
    int64_t xfer_blocks;     /* decode-side KV blocks promised to it */
    SvTimeNs handoff_ns;     /* when it asked for a decode replica */
    SvTimeNs reserved_ns;    /* when its decode-side blocks were reserved */
    SvTimeNs xfer_start_ns;  /* when its KV started to move */
    SvTimeNs xfer_end_ns;    /* when its KV had arrived */
};
_Static_assert(offsetof(SvRequest, cohort_role) < 64, "a request's hot fields must share a line");

static inline int32_t sv_request_known_tokens(const SvRequest *r)
{
    return r->input_tokens + r->generated;
}

typedef struct {
    SvRequest *head, *tail;
    int32_t len;
} SvReqList;

static inline void sv_req_list_push_tail(SvReqList *l, SvRequest *r)
{
    r->next = NULL;
    r->prev = l->tail;
    if (l->tail)
        l->tail->next = r;
    else
        l->head = r;
    l->tail = r;
    l->len++;
}

static inline void sv_req_list_push_head(SvReqList *l, SvRequest *r)
{
    r->prev = NULL;
    r->next = l->head;
    if (l->head)
        l->head->prev = r;
    else
        l->tail = r;
    l->head = r;
    l->len++;
}

static inline void sv_req_list_remove(SvReqList *l, SvRequest *r)
{
    if (r->prev)
        r->prev->next = r->next;
    else
        l->head = r->next;
    if (r->next)
        r->next->prev = r->prev;
    else
        l->tail = r->prev;
    r->prev = r->next = NULL;
    l->len--;
}

typedef struct SvReplica SvReplica;

/* One batch in a pipeline (pipeline parallelism). */
typedef struct {
    SvRequest **reqs; /* (owned) its requests; the array is swapped, never copied */
    int32_t len, cap;
    SvTimeNs start_ns; /* entered stage 0 */
    SvTimeNs end_ns;   /* leaves the last stage */
} SvPpBatch;

/* Per-stage shares of a pool's iteration times (pipeline.c), memoised by
 * the predictor's (memoised) total and slowest-stage times of the batch. */
typedef struct SvStageMemo SvStageMemo;
SvStageMemo *sv__stage_memo_new(int num_stages);
void sv__stage_memo_free(SvStageMemo *memo);
/* Split @total_ns, the iteration time of @shape on @predictor's plan (as the
 * sim computes it: maybe at a lowered clock), into @memo's stages, in
 * @stage_ns; the stages' shares come from sv_predictor_stage_times at the
 * first batch of each predictor memo bucket. The parts sum to @total_ns. */
void sv__stage_split(SvStageMemo *memo, SvPredictor *predictor, const SvBatchShape *shape,
                     SvTimeNs total_ns, SvTimeNs *stage_ns);

/* A replica scheduler: forms the next batch into replica->batch. It may
 * preempt (sv__replica_preempt) and admit waiting requests
 * (sv__replica_admit). Returns the number of requests in the batch.
 * The hooks after schedule are optional (NULL: nothing to do / the default). */
typedef struct {
    const char *name;
    const char *description; /* one line for `servesim list schedulers` */
    int (*schedule)(SvReplica *replica, SvTimeNs now_ns);
    /* Set up / tear down replica->sched_state. */
    void (*init)(SvReplica *replica);
    void (*free)(SvReplica *replica);
    /* Queue a new arrival in replica->waiting (default: at the tail). */
    void (*enqueue)(SvReplica *replica, SvRequest *r);
    /* @r has emitted its last token and is about to leave the replica. */
    void (*finished)(SvReplica *replica, const SvRequest *r);
} SvSchedulerVtable;

extern const SvSchedulerVtable sv__sched_vllm_v0;
extern const SvSchedulerVtable sv__sched_vllm_v1;
extern const SvSchedulerVtable sv__sched_sarathi;
extern const SvSchedulerVtable sv__sched_orca;
extern const SvSchedulerVtable sv__sched_static;
extern const SvSchedulerVtable sv__sched_lightllm;
extern const SvSchedulerVtable sv__sched_edf;
extern const SvSchedulerVtable sv__sched_trtllm;
/* trtllm guaranteed_no_evict: KV blocks promised to @rep's running requests
 * to their completion (0 under max_utilization); for tests. */
int64_t sv__sched_trtllm_promised(const SvReplica *rep);

/* Policy hooks of the token-budget step (sched-vllm-v1.c), which vllm-v1,
 * sarathi, orca, lightllm and edf share. NULL hooks give vLLM v1's choices. */
typedef struct {
    /* The running request to preempt when blocks run out (default: the
     * running tail, the most recently admitted). */
    SvRequest *(*victim)(SvReplica *replica);
    /* Called for the waiting head before it is admitted; may reserve KV
     * blocks for it (r->blocks). FALSE keeps it (and everything behind it)
     * waiting this step. */
    gboolean (*admit)(SvReplica *replica, SvRequest *r, SvTimeNs now_ns);
    gboolean always_chunk; /* chunk prefills whatever enable_chunked_prefill says */
    gboolean never_chunk;  /* run whole prompts whatever enable_chunked_prefill says */
    /* The hooks may run beside the decode cohort: admit reads only the
     * waiting request and the pool's counts (exact under the cohort), and
     * victim is only asked once blocks are short, when the cohort has been
     * dissolved. Hook-free policies need not set it. */
    gboolean cohort_ok;
} SvBudgetPolicy;

/* One step of vLLM v1's scheduler under @policy: running decodes first, then
 * running partial prefills, then waiting requests in queue order while
 * max_num_seqs, the token budget, KV blocks and policy->admit allow.
 * Returns the batch size. */
int sv__sched_budget_step(SvReplica *replica, SvTimeNs now_ns, const SvBudgetPolicy *policy);

/* ---- decode cohort (cohort.c) ----
 * The running requests of a replica that are purely decoding advance one
 * token per iteration, all together. The cohort keeps them lazily: their
 * token fields (generated, num_computed, blocks, last_token_ns, max_itl_ns)
 * are brought up to date only when one needs attention (its context enters
 * another bucket, it emits its last token, its token fills a prefix-cache
 * unit, or the gap queue is about to forget its last update), from the
 * replica's recent step gaps; its energy
 * is summed every step in a dense array (member_j). The batch shape's
 * decode part and the step's new KV blocks come from counts kept per bucket
 * and per context offset. A step then costs O(attention + prefills), not
 * O(batch) request visits. Any event the lazy form does not model exactly
 * (a preemption, blocks running short, a decode left out of a step)
 * dissolves the cohort back into the plain path first, so results are
 * byte-identical either way (SERVESIM_NO_FASTPATH=1 turns the cohort off
 * to check that). */
typedef enum {
    SV_COHORT_NONE = 0, /* neither (waiting, or the others list not kept) */
    SV_COHORT_OTHER,    /* running, not a member: in the others list */
    SV_COHORT_MEMBER,   /* a cohort member */
} SvCohortRole;

typedef enum {
    SV_COHORT_IDLE,    /* between iterations: members are due or current at `iter` */
    SV_COHORT_FORMING, /* the members are in the step being formed */
    SV_COHORT_RUNNING, /* ... and that step runs (its energy per token is known) */
} SvCohortPhase;

/* A member and the replica iteration at which it next needs attention:
 * the entries of the cohort's min-heap (a few KiB per replica that stay in
 * cache, where a ring of per-iteration lists would not). */
typedef struct {
    int64_t at;
    SvRequest *r;
} SvCohortDue;

/* A step whose gap is longer than every later step's (cohort.c gaps). */
typedef struct {
    int64_t step;    /* replica iteration */
    SvTimeNs gap_ns; /* its end minus the previous end, ns */
} SvCohortGap;

typedef struct {
    gboolean enabled;     /* this replica uses the cohort (sv_sim_new decides) */
    gboolean rebuild;     /* dissolved: the others list is rebuilt at the next step */
    uint8_t phase;        /* SvCohortPhase */
    int64_t iter;         /* the replica iteration being formed or run (pp = 1) */
    SvTimeNs last_end_ns; /* end of the replica's previous iteration */
    int32_t size;         /* members */
    int32_t scheduled;    /* members in the step being formed or run */
    int32_t count[SV_BATCH_CTX_BUCKETS];      /* members per context bucket */
    int64_t offset_sum[SV_BATCH_CTX_BUCKETS]; /* sum of (context - iter) over them, tokens */
    int32_t *residue;   /* members per (context - iter) mod block_size (owned) */
    int32_t *counted;   /* the same, of the members with cohort_counted (owned) */
    int32_t block_mask; /* block_size - 1 (a power of two) */
    int32_t ring_mask;  /* ring length - 1 (a power of two) */
    int32_t max_ahead;  /* iterations a member may go without attention */
    SvCohortDue *due;   /* min-heap on .at of every member (owned) */
    int32_t due_len, due_cap;
    SvCohortGap *gaps;           /* ring (ring_mask + 1): the steps longer than all later ones */
    int32_t gaps_head, gaps_len; /* gaps: the oldest entry, entries */
    SvTimeNs last_gap_ns;        /* the gap of the step that ended last, ns */
    double *member_j;    /* per member slot: its energy so far (energy_j while a member), J */
    int32_t *free_slots; /* member_j slots that members left, reused first */
    int32_t slots_used, num_free, slots_cap; /* member_j: slots in use or freed, free, allocated */
    /* Members with work at the end of this step: their last token, or (prefix
     * caching) a cache unit their token fills, which is registered then, in
     * running order with the others, as the plain path does. */
    SvRequest **ending;
    int32_t num_ending, ending_cap;
    SvReqList others; /* running non-members in running order (cprev/cnext; only len, head, tail) */
    int64_t admit_seq; /* next admission number */
} SvCohort;

/* Set up / free @replica's cohort (enabled or not). */
void sv__cohort_init(SvReplica *replica, gboolean enabled);
void sv__cohort_clear(SvReplica *replica);
/* Step formation, first pass: bring the members due at this iteration up to
 * date and allocate their blocks, make the running decodes not yet members
 * members, and put them all in the step (replica->shape's decode part).
 * Returns the members scheduled, or -1 when the cohort had to be dissolved
 * (blocks short, a decode it cannot take, more members than the token
 * budget): the caller then runs the plain first pass. */
int32_t sv__cohort_schedule(SvReplica *replica, SvTimeNs now_ns);
/* Turn the members back into plain running requests, current for the step
 * being formed (in it, at the front of replica->batch in running order,
 * when it already holds them). */
void sv__cohort_dissolve(SvReplica *replica);
/* @r, admitted to the running set, or leaving it: keep the others list. */
void sv__cohort_admitted(SvReplica *replica, SvRequest *r);
void sv__cohort_forget(SvReplica *replica, SvRequest *r);
/* The step with the members has started; @token_j is its energy per token. */
void sv__cohort_started(SvReplica *replica, double token_j);
/* The step has ended at @now_ns: record its gap and return it; the members
 * with work at its end (sv__cohort_ending_finishes says which) are in
 * replica->cohort.ending, in running order. */
SvTimeNs sv__cohort_ended(SvReplica *replica, SvTimeNs now_ns);
/* Whether ending member @r emitted its last token in the step that ended
 * (else its token filled a prefix-cache unit). */
static inline gboolean sv__cohort_ending_finishes(const SvRequest *r)
{
    return r->generated + 1 >= r->output_tokens;
}
/* Bring finishing member @r up to date through the step that ended at
 * @now_ns, caching a unit its last token filled, and take it out of the
 * cohort. */
void sv__cohort_leave(SvReplica *replica, SvRequest *r, SvTimeNs now_ns);
/* Ending member @r's token of the step that ended at @now_ns filled a
 * prefix-cache unit: cache it (sv__replica_kv_computed, as the plain path
 * does at that point) and file @r under its next attention. */
void sv__cohort_cache_unit(SvReplica *replica, SvRequest *r, SvTimeNs now_ns);
/* After the step's tokens are emitted: the next iteration. */
void sv__cohort_next(SvReplica *replica, SvTimeNs now_ns);

struct SvReplica {
    int index;                    /* global replica index */
    const SvPoolConfig *pool;     /* its pool (not owned) */
    const SvEngineConfig *engine; /* engine settings (not owned) */
    const SvSchedulerVtable *sched;
    void *sched_state;      /* the scheduler's own state (owned by it), or NULL */
    SvPredictor *predictor; /* (shared by the pool) NULL with a test time function */
    SvReqList waiting;      /* FCFS queue */
    SvReqList running;      /* admission order; tail is the preemption victim */
    SvKvPool kv;
    int64_t watermark_blocks; /* vLLM v0 admission watermark */
    int32_t max_model_len;    /* tokens */
    SvRequest **batch;        /* requests scheduled in the current iteration */
    int32_t batch_len;
    int32_t batch_cap;
    gboolean busy;                /* an iteration is in flight */
    SvTimeNs iter_end_ns;         /* when the in-flight iteration ends (valid while busy) */
    gboolean preempted_this_step; /* set by preempt during schedule */
    /* The shape of the batch being formed, added to as requests are
     * scheduled (one pass over the batch saved); dirty when a preemption
     * took a request back out of it. */
    SvBatchShape shape;
    gboolean shape_dirty;
    int64_t budget; /* tokens left in the step being formed */
    /* tokens: the largest prefill chunk one request may take, one data-
     * parallel rank's max_num_batched_tokens (each rank schedules its own
     * requests in vLLM); 0 = the whole budget */
    int32_t chunk_cap_tokens;
    int32_t outstanding; /* routed and not finished */
    SvTimeNs busy_ns;    /* time spent in iterations */
    int64_t iterations;
    int64_t preemptions;
    double flops;    /* model FLOPs executed */
    int num_devices; /* tp x pp */
    /* Swap preemption: copies over the host link are charged to the step
     * that makes them (vLLM v0 copies before the model runs, on its stream). */
    int64_t swap_blocks_step; /* blocks swapped in or out while forming this step */
    double swap_ns_per_block; /* host-link time to copy one block, ns */
    SvTimeNs swap_copy_ns;    /* total copy time charged, ns */
    /* The sim's timeline hooks (--trace-events), or NULL. Not owned. */
    const SvSimObserver *observer;
    /* Pipeline parallelism (pipeline.c): with num_stages > 1 up to
     * num_stages batches are in flight, oldest first in the ring; a batch
     * enters stage 0 when stage 0 is free and leaves the last stage when its
     * tokens are emitted. num_stages 1 is the one-batch-at-a-time path. */
    int32_t num_stages;
    SvTimeNs *stage_free_ns;    /* per stage: when it finishes the last batch given to it */
    SvTimeNs *stage_ns;         /* scratch: the stage times of the batch being launched */
    SvTimeNs *stage_start_ns;   /* scratch for the timeline: when that batch enters each stage */
    SvPpBatch *inflight;        /* ring of num_stages batches (owned) */
    int32_t inflight_head;      /* oldest batch in flight */
    int32_t inflight_len;       /* batches in flight */
    SvStageMemo *stage_memo;    /* the pool's stage shares (not owned), or NULL */
    SvTimeNs stage_busy_ns;     /* sum over stages of their busy time */
    SvTimeNs inflight_ns;       /* time with at least one batch in flight */
    SvTimeNs inflight_since_ns; /* start of the current such period */
    /* Disaggregated prefill/decode (disagg.c). */
    SvPoolRole role;
    gboolean layerwise;     /* prefill replica: start transfers as the last chunk starts */
    SvReqList kv_wait;      /* decode replica: hand-overs waiting for KV blocks, FIFO */
    int64_t kv_wait_blocks; /* blocks those wait for */
    SvCohort cohort;        /* the lazily kept decoding requests (cohort.c) */
};

/* Put @r in the batch with @n tokens, allocating the KV blocks it needs.
 * Returns FALSE (and changes nothing) when the blocks are not free, or when
 * fewer than @reserve blocks would remain free.
 * With prefix caching, a request that has computed nothing yet first takes
 * the longest cached prefix of its prompt (never its last token): the @n
 * tokens then start after the hit, fewer when the hit leaves fewer to do,
 * and the tokens not needed go back to replica->budget. A swapped-out
 * request is swapped back in. */
gboolean sv__replica_try_schedule(SvReplica *replica, SvRequest *r, int32_t n, int64_t reserve,
                                  SvTimeNs now_ns);
/* Preempt @r: free its blocks, drop it from the batch if it is there
 * (returning its tokens to replica->budget), move it to the head of the
 * waiting queue. With preemption_mode swap its computed KV moves to the CPU
 * tier (falling back to recomputation when the tier is full) and comes back
 * when the request is next scheduled; otherwise it is recomputed, reusing
 * whatever of it the prefix cache still holds. */
void sv__replica_preempt(SvReplica *replica, SvRequest *r, SvTimeNs now_ns);
/* Move waiting @r to the tail of the running set. */
void sv__replica_admit(SvReplica *replica, SvRequest *r);

/* KV mechanics behind the three calls above (kv-replica.c). */
enum {
    SV_KV_SWAPPED = 1,   /* swapped out: swap in when next scheduled */
    SV_KV_PREEMPTED = 2, /* preempted and not yet resumed: count the time */
};
/* The uncommon cases of sv__replica_kv_grow. */
gboolean sv__replica_kv_grow_slow(SvReplica *replica, SvRequest *r, int32_t *n, int64_t reserve,
                                  SvTimeNs now_ns);
/* Give @r the blocks for @*n more tokens (see sv__replica_try_schedule;
 * may lower @*n after a prefix hit); FALSE changes nothing. Inline: a decode
 * step calls it for every request of the batch. */
static inline gboolean sv__replica_kv_grow(SvReplica *replica, SvRequest *r, int32_t *n,
                                           int64_t reserve, SvTimeNs now_ns)
{
    if (G_UNLIKELY(r->kv_flags & (SV_KV_SWAPPED | SV_KV_PREEMPTED)) ||
        (r->num_computed == 0 && replica->kv.cache != NULL))
        return sv__replica_kv_grow_slow(replica, r, n, reserve, now_ns);
    int64_t need = sv_kv_blocks_for(&replica->kv, (int64_t)r->num_computed + *n) - r->blocks;
    if (need > 0) {
        if (replica->kv.free_blocks - need < reserve)
            return FALSE;
        sv_kv_pool_alloc(&replica->kv, need, now_ns);
        r->blocks += need;
    }
    return TRUE;
}
/* Free @r's blocks at preemption: swap out or drop them for recomputation. */
void sv__replica_kv_preempt(SvReplica *replica, SvRequest *r, SvTimeNs now_ns);
/* Free everything @r holds (it finished). */
void sv__replica_kv_release(SvReplica *replica, SvRequest *r, SvTimeNs now_ns);
/* Host-link time of the swaps made while forming this step (added to the
 * step's duration), resetting the step's count. */
SvTimeNs sv__replica_swap_charge(SvReplica *replica);
/* Add @replica's prefix-cache and swap counts to @totals. */
void sv__replica_kv_totals(const SvReplica *replica, SvRunTotals *totals);
/* @r's KV now covers r->num_computed tokens: cache its newly full units. */
static inline void sv__replica_kv_computed(SvReplica *replica, SvRequest *r, SvTimeNs now_ns)
{
    /* One comparison on the request's hot cache line per step. */
    if (G_UNLIKELY(r->num_computed >= r->kv_cache_at)) {
        sv_kv_pool_cache_computed(&replica->kv, &r->kv, r->num_computed, now_ns);
        r->kv_cache_at = sv_kv_seq_cache_at(&r->kv);
    }
}

/* ---- disaggregated prefill/decode (disagg.c) ----
 * The decode placement and the links the KV of a handed-over request
 * crosses. (transfer full) */
typedef struct SvDisagg SvDisagg;
SvDisagg *sv__disagg_new(const SvConfig *config, SvReplica **replicas, int num_replicas,
                         double kv_block_bytes);
void sv__disagg_free(SvDisagg *disagg);
/* The decode replica for a request whose KV will reach @kv_tokens tokens
 * (input + output - 1), by config->decode_router; NULL when no decode
 * replica can hold that many. */
SvReplica *sv__disagg_pick_decode(SvDisagg *disagg, int64_t kv_tokens);
/* Whether some decode replica can hold @kv_tokens tokens. */
gboolean sv__disagg_fits(const SvDisagg *disagg, int64_t kv_tokens);
/* Book the links for moving @blocks KV blocks from @src to @dst, asked at
 * @now_ns; the last layer's KV is computed at @ready_ns (>= now with
 * layer-wise overlap, else = now). Returns when the KV has arrived, and in
 * *@start_ns when it started to move (after the transfers ahead of it on
 * the same links). */
SvTimeNs sv__disagg_book(SvDisagg *disagg, const SvReplica *src, const SvReplica *dst,
                         int64_t blocks, SvTimeNs now_ns, SvTimeNs ready_ns, SvTimeNs *start_ns);
/* Transfers booked and the KV bytes they moved (each block once, not per
 * device copy). */
void sv__disagg_totals(const SvDisagg *disagg, int64_t *transfers, double *bytes);

/* The running request that a most-recently-admitted victim rule preempts:
 * the running tail, passing over requests in a batch still in the pipeline
 * (their tokens are being computed; vLLM never preempts those). With
 * pp = 1 nothing is ever in flight while a batch forms, so this is the tail. */
static inline SvRequest *sv__replica_tail_victim(SvReplica *replica)
{
    SvRequest *r = replica->running.tail;
    while (r != NULL && G_UNLIKELY(r->state == SV_RS_INFLIGHT))
        r = r->prev;
    return r;
}

/* Routers pick a replica for a new request (router.c). The router reads
 * config->router, ->seed (its RNG stream) and ->router_staleness_s.
 * (transfer full) */
typedef struct SvRouter SvRouter;
SvRouter *sv__router_new(const SvConfig *config, int num_replicas);
void sv__router_free(SvRouter *router);
/* @rep's outstanding count has changed: the serving engine calls this
 * after every change, so that least-outstanding need not scan. */
void sv__router_load_changed(SvRouter *router, const SvReplica *rep);
/* The index in @replicas (of @n) where @req, arriving at @now_ns, goes.
 * Live least-outstanding expects the same @replicas at every call. */
int sv__router_pick(SvRouter *router, SvReplica **replicas, int n, const SvRequest *req,
                    SvTimeNs now_ns);

G_END_DECLS

#endif
