/* Internals shared by the files of serve/: requests with intrusive queue
 * links, replicas, and the scheduler and router interfaces. Schedulers and
 * routers sit side by side behind these vtables (sched-vllm-v1.c,
 * sched-vllm-v0.c, router.c). */
#ifndef SV_SERVE_PRIVATE_H
#define SV_SERVE_PRIVATE_H

#include "config/config.h"
#include "perf/predictor.h"
#include "serve/kv-pool.h"
#include "serve/sim.h"

G_BEGIN_DECLS

typedef enum {
    SV_RS_WAITING, /* in the replica's waiting queue */
    SV_RS_RUNNING, /* in the running set (holds KV blocks) */
    SV_RS_FREE,    /* back in the request pool */
} SvRequestState;

/* One request in flight. Lives in the sim's request pool; moves between the
 * waiting and running lists of its replica through its intrusive links, so
 * moving allocates nothing. Token bookkeeping follows vLLM v1: a step
 * processes tokens [num_computed, num_computed + n) of the request's known
 * tokens (input + generated); when it reaches the end a new token is sampled. */
typedef struct SvRequest SvRequest;
struct SvRequest {
    SvRequest *prev, *next; /* list links (waiting or running) */
    int64_t id;             /* arrival index */
    SvTimeNs arrival_ns;
    SvTimeNs first_scheduled_ns; /* first time in a batch; -1 before */
    SvTimeNs first_token_ns;     /* -1 before the first token */
    SvTimeNs last_token_ns;      /* time of the latest token */
    SvTimeNs max_itl_ns;         /* largest gap between tokens */
    int32_t input_tokens;
    int32_t output_tokens;
    int32_t generated;    /* tokens emitted so far */
    int32_t num_computed; /* tokens whose KV is in the cache */
    int32_t scheduled;    /* tokens in the current iteration (0 = not in batch) */
    int32_t replica;      /* index of the replica serving it */
    int64_t blocks;       /* KV blocks held */
    int16_t preemptions;
    uint8_t state; /* SvRequestState */
};

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

/* A replica scheduler: forms the next batch into replica->batch. It may
 * preempt (sv__replica_preempt) and admit waiting requests
 * (sv__replica_admit). Returns the number of requests in the batch. */
typedef struct {
    const char *name;
    int (*schedule)(SvReplica *replica, SvTimeNs now_ns);
} SvSchedulerVtable;

extern const SvSchedulerVtable sv__sched_vllm_v0;
extern const SvSchedulerVtable sv__sched_vllm_v1;

struct SvReplica {
    int index;                    /* global replica index */
    const SvPoolConfig *pool;     /* its pool (not owned) */
    const SvEngineConfig *engine; /* engine settings (not owned) */
    const SvSchedulerVtable *sched;
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
    gboolean preempted_this_step; /* set by preempt during schedule */
    int64_t budget;               /* tokens left in the step being formed */
    int32_t outstanding;          /* routed and not finished */
    SvTimeNs busy_ns;             /* time spent in iterations */
    int64_t iterations;
    int64_t preemptions;
    double flops;    /* model FLOPs executed */
    int num_devices; /* tp x pp */
};

/* Put @r in the batch with @n tokens, allocating the KV blocks it needs.
 * Returns FALSE (and changes nothing) when the blocks are not free, or when
 * fewer than @reserve blocks would remain free. */
gboolean sv__replica_try_schedule(SvReplica *replica, SvRequest *r, int32_t n, int64_t reserve,
                                  SvTimeNs now_ns);
/* Preempt @r by recomputation: free its blocks, drop it from the batch if it
 * is there (returning its tokens to replica->budget), move it to the head of
 * the waiting queue. */
void sv__replica_preempt(SvReplica *replica, SvRequest *r, SvTimeNs now_ns);
/* Move waiting @r to the tail of the running set. */
void sv__replica_admit(SvReplica *replica, SvRequest *r);

/* Routers pick a replica for a new request. */
typedef struct SvRouter SvRouter;
SvRouter *sv__router_new(SvRouterKind kind, uint64_t seed);
void sv__router_free(SvRouter *router);
int sv__router_pick(SvRouter *router, SvReplica **replicas, int n);

G_END_DECLS

#endif
