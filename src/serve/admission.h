/* Admission control (serve-internal): the checks a new request passes
 * before it joins a replica's queue: a token-bucket rate limit, a cap on
 * waiting requests per replica and per cluster, and a rejection when the
 * predicted time to first token already misses the request's SLO class.
 * sim.c asks; every "no" becomes a rejection with its reason in the
 * metrics. */
#ifndef SV_ADMISSION_H
#define SV_ADMISSION_H

#include "serve/serve-private.h"

G_BEGIN_DECLS

typedef struct SvAdmission SvAdmission;

/* (transfer full) @config is copied. */
SvAdmission *sv__admission_new(const SvAdmissionConfig *config);
void sv__admission_free(SvAdmission *admission);

/* The token bucket at @now_ns (times never go back): TRUE takes a token and
 * admits. FALSE rejects and sets *@retry_ns (may be NULL) to the earliest
 * time a request would be admitted, what an HTTP 429's Retry-After says.
 * Always TRUE without a rate limit. */
gboolean sv__admission_take_token(SvAdmission *admission, SvTimeNs now_ns, SvTimeNs *retry_ns);

/* Whether a request routed to @replica finds its queue full: the replica
 * holds max_queue_length waiting requests, or the cluster (@replicas, @n)
 * holds max_cluster_queue_length. */
gboolean sv__admission_queue_full(const SvAdmission *admission, const SvReplica *replica,
                                  SvReplica *const *replicas, int n);

/* Whether the predicted-SLO-miss rule is on. */
gboolean sv__admission_predicts(const SvAdmission *admission);

/* Iteration time of @shape on @replica (the predictor, or a test's time
 * function). */
typedef SvTimeNs (*SvReplicaTimeFn)(void *ctx, SvReplica *replica, const SvBatchShape *shape);

/* Predicted TTFT (ns) of a request with @input_tokens prompt tokens queued
 * now on @replica: the estimator is documented in admission.c. */
SvTimeNs sv__admission_predict_ttft_ns(SvReplica *replica, int32_t input_tokens, SvTimeNs now_ns,
                                       SvReplicaTimeFn time_fn, void *ctx);

/* Whether there is work ahead of a new request on @replica (an iteration in
 * flight or requests waiting): the predicted-miss rule only rejects then. */
gboolean sv__admission_work_ahead(const SvReplica *replica);

G_END_DECLS

#endif
