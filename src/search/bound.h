/* An analytic upper bound on the throughput of a plan, used to prune plans
 * that cannot carry the target load before any simulation, and to bracket
 * the capacity bisection. It is a true bound, not an estimate:
 *
 * Every device works within its peaks. Over a run, the devices of all R
 * replicas (d = tp x pp x dp each) together do at least
 *   F = sum over requests of phi x (prefill + decode tokens) + phi_lm x outputs
 * model FLOPs (phi = 2 x the active parameters other than the LM head, per
 * token through the layers; phi_lm = 2 x vocab x hidden, once per emitted
 * token; prefill counts every prompt token, or one per request when the
 * prefix cache may hit) and move at least
 *   B = I x W + K x kvb
 * bytes: I iterations (micro-batches) each reading the weights W (active
 * parameters other than the LM head), and the KV cache read by every decode
 * step (K context tokens over all steps, kvb bytes per token over all
 * devices of a replica). I is at least the decode steps over dp x
 * max_num_seqs (a batch holds at most max_num_seqs sequences per attention
 * data-parallel rank) and at least K over the KV tokens a replica holds
 * (the contexts of one batch fit in its cache). With dp > 1 each rank
 * reads its own copy of the dense weights and the experts are spread over
 * all tp x dp devices of a stage, so the busiest device of an iteration
 * still reads at least W / d and its rank's share (at least 1 / dp) of the
 * KV: counting W once per iteration keeps the bound true. The
 * run cannot end before the busiest device's work is done, so
 *   duration >= max(F / (R d P), B / (R d BW))
 * with P the device's matmul peak and BW its peak memory bandwidth (not the
 * efficiencies the predictor applies: the bound must hold for measured
 * tables too). Attention FLOPs, activations, collectives and host overheads
 * only add time and are left out. With N requests that work, the plan
 * completes at most N / duration requests per second; per request, the
 * same sums give the steady-state rate the plan can never exceed. Tests
 * check it against every simulated plan (tests/check_search.c). */
#ifndef SV_SEARCH_BOUND_H
#define SV_SEARCH_BOUND_H

#include "config/config.h"
#include "workload/workload.h"

G_BEGIN_DECLS

/* A workload's requests, as the bound needs them. */
typedef struct {
    int32_t input_tokens, output_tokens;
} SvRequestSize;

typedef struct {
    GArray *requests;       /* SvRequestSize, every request generated (owned) */
    double first_arrival_s; /* open loop: first arrival, s */
    double last_arrival_s;  /* open loop: last arrival, s */
    gboolean open_loop;     /* arrivals known in advance (no closed-loop stream) */
} SvWorkloadWork;

/* Generate @config's requests (without simulating) and keep their sizes and
 * arrival span. A workload with a closed-loop stream gives no requests (its
 * arrivals depend on the plan): no bound then. Errors: the workload cannot
 * be built. Free with sv_workload_work_clear. */
gboolean sv_workload_work(const SvConfig *config, const SvTrace *trace, SvWorkloadWork *out,
                          GError **error);
void sv_workload_work_clear(SvWorkloadWork *work);

typedef struct {
    int64_t requests;       /* requests counted: those every replica can hold */
    double rate_per_s;      /* requests / run_min_s: the highest rate the plan sustains, and a
                               cap on completed / duration_s of a run of these requests */
    double run_min_s;       /* least time the requests take, s; 0 = no bound (rate infinite) */
    double compute_s;       /* the FLOP part of run_min_s */
    double memory_s;        /* the byte part of run_min_s */
    gboolean compute_bound; /* compute_s >= memory_s */
} SvPlanBound;

/* The bound of @config's cluster (every pool counted, each with its own
 * hardware and plan) on @work. Requests too long for max_model_len or for
 * a replica's whole KV cache are left out: the engine rejects them. Errors:
 * a plan with no KV room. */
gboolean sv_plan_bound(const SvConfig *config, const SvWorkloadWork *work, SvPlanBound *out,
                       GError **error);

G_END_DECLS

#endif /* SV_SEARCH_BOUND_H */
