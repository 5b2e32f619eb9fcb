/* Admission control: the checks a request passes at arrival, before it joins
 * a replica's waiting queue (admission: in the study). What a serving
 * gateway does in front of vLLM or TGI: a token-bucket rate limit (the
 * gateway's 429), a bound on queued requests (vLLM's server has none; TGI's
 * router caps concurrent requests), and shedding requests that would miss
 * their time-to-first-token target anyway, so that they do not delay the
 * ones that can still make theirs.
 *
 * The rate limit is a token bucket of `burst` tokens refilled at
 * `rate_per_s`, full at t = 0; a request takes one token or is rejected.
 * It is run as the equivalent GCRA (the ATM "virtual scheduling"
 * algorithm): one theoretical arrival time in integer nanoseconds instead of
 * a fractional token count, so a constant arrival stream is admitted exactly
 * as a hand computation says, with no floating-point drift. The emission
 * interval 1e9 / rate_per_s is rounded to the nanosecond.
 *
 * The TTFT estimator (reject_predicted_slo_miss) works from the routed
 * replica's queue state, with the replica's own iteration-time predictor:
 *   - R: what is left of the iteration in flight (0 when idle);
 *   - W: prompt tokens still to prefill ahead of the request (every waiting
 *     request's uncomputed tokens, every running request's prefill tokens not
 *     yet computed nor in the iteration in flight) plus the request's prompt;
 *   - D: running requests in their decode phase, each spending one token of
 *     every step's budget B = max_num_batched_tokens, so prefill gets
 *     P = max(1, B - D) tokens a step, and W takes k = ceil(W / P) steps;
 *   - each step is predicted as one prefill chunk (P tokens, or what is left
 *     in the last step, at context 0) plus the D decodes at their mean
 *     context: TTFT = R + (k - 1) x t(P) + t(last chunk).
 * It assumes first-come-first-served prefill at a full token budget, and
 * that the running decodes keep running; it ignores requests that arrive
 * later, finishing decodes that free budget, preemptions, max_num_seqs and
 * the prefix cache. Under vLLM v1 (decodes first, then prefill chunks) it is
 * exact for a lone request and close under load; for prefill-first v0 it
 * overestimates a little (v0 does not spend budget on decodes during
 * prefill). A request is rejected only when this misses its class's TTFT
 * target and there is work ahead of it: a request that would miss on an
 * idle replica is admitted, since shedding it frees nothing for anyone (and
 * a closed-loop client would otherwise be rejected for ever). */
#include "serve/admission.h"

#include <math.h>

struct SvAdmission {
    SvAdmissionConfig config; /* copy */
    SvTimeNs interval_ns;     /* token bucket: ns per token (GCRA emission interval) */
    SvTimeNs tolerance_ns;    /* (burst - 1) x interval: how far ahead tat may run */
    SvTimeNs tat_ns;          /* theoretical arrival time of the next conforming request */
};

/* Saturating: a limit of 1e-9 tokens per second must not overflow. */
static SvTimeNs clamp_ns(double ns)
{
    const double cap = (double)(INT64_MAX / 4);
    return ns >= cap ? (SvTimeNs)cap : (SvTimeNs)llround(ns);
}

SvAdmission *sv__admission_new(const SvAdmissionConfig *config)
{
    g_return_val_if_fail(config != NULL, NULL);
    SvAdmission *a = g_new0(SvAdmission, 1);
    a->config = *config;
    if (config->rate_limit_per_s > 0) {
        a->interval_ns = MAX(clamp_ns(1e9 / config->rate_limit_per_s), 1);
        a->tolerance_ns =
            clamp_ns((double)a->interval_ns * (double)MAX(config->rate_limit_burst - 1, 0));
    }
    return a;
}

void sv__admission_free(SvAdmission *admission)
{
    g_free(admission);
}

gboolean sv__admission_take_token(SvAdmission *a, SvTimeNs now_ns, SvTimeNs *retry_ns)
{
    if (a->interval_ns == 0)
        return TRUE;
    /* A bucket that has been idle is full: tat never lags behind now. */
    SvTimeNs tat = MAX(a->tat_ns, now_ns);
    if (tat - now_ns > a->tolerance_ns) {
        if (retry_ns != NULL)
            *retry_ns = tat - a->tolerance_ns;
        return FALSE;
    }
    a->tat_ns = tat + a->interval_ns;
    return TRUE;
}

gboolean sv__admission_queue_full(const SvAdmission *a, const SvReplica *replica,
                                  SvReplica *const *replicas, int n)
{
    if (a->config.max_queue_length > 0 && replica->waiting.len >= a->config.max_queue_length)
        return TRUE;
    if (a->config.max_cluster_queue_length > 0) {
        /* O(replicas) per arrival, only when the rule is on. */
        int64_t waiting = 0;
        for (int i = 0; i < n; i++)
            waiting += replicas[i]->waiting.len;
        if (waiting >= a->config.max_cluster_queue_length)
            return TRUE;
    }
    return FALSE;
}

gboolean sv__admission_predicts(const SvAdmission *a)
{
    return a->config.reject_predicted_slo_miss;
}

gboolean sv__admission_work_ahead(const SvReplica *replica)
{
    return replica->busy || replica->waiting.len > 0;
}

/* Prompt tokens of @r still to prefill after the iteration in flight. */
static int64_t prefill_left(const SvRequest *r)
{
    int64_t left = (int64_t)sv_request_known_tokens(r) - r->num_computed - r->scheduled;
    /* A decoding request has one known token not in the cache: its next
     * decode step, not prefill work. */
    if (r->generated > 0 && left <= 1)
        return 0;
    return MAX(left, 0);
}

SvTimeNs sv__admission_predict_ttft_ns(SvReplica *rep, int32_t input_tokens, SvTimeNs now_ns,
                                       SvReplicaTimeFn time_fn, void *ctx)
{
    SvTimeNs residual = rep->busy ? MAX(rep->iter_end_ns - now_ns, 0) : 0;
    int64_t work = input_tokens;
    int decodes = 0;
    int64_t decode_context = 0;
    for (const SvRequest *r = rep->waiting.head; r != NULL; r = r->next)
        work += prefill_left(r);
    for (const SvRequest *r = rep->running.head; r != NULL; r = r->next) {
        int64_t left = prefill_left(r);
        if (left > 0) {
            work += left;
        } else {
            decodes++;
            decode_context += sv_request_known_tokens(r);
        }
    }
    int64_t budget = rep->engine->max_num_batched_tokens;
    int64_t per_step = MAX(budget - decodes, 1);
    int64_t steps = (work + per_step - 1) / per_step;
    int64_t last = work - (steps - 1) * per_step;
    int64_t mean_context = decodes > 0 ? decode_context / decodes : 0;

    SvBatchShape full = {0}, tail = {0};
    sv_batch_add_prefill(&tail, last, 0);
    if (decodes > 0)
        sv_batch_add_decode(&tail, decodes, mean_context);
    double total = (double)residual + (double)time_fn(ctx, rep, &tail);
    if (steps > 1) {
        sv_batch_add_prefill(&full, per_step, 0);
        if (decodes > 0)
            sv_batch_add_decode(&full, decodes, mean_context);
        total += (double)(steps - 1) * (double)time_fn(ctx, rep, &full);
    }
    return clamp_ns(total);
}
