/* One simulation of a study: the cluster (pools of replicas, router), the
 * workload feeding it and the metrics it produces, driven by an SvEngine.
 * Library code: returns data and GErrors; the CLI prints. */
#ifndef SV_SIM_H
#define SV_SIM_H

#include "config/config.h"
#include "metrics/metrics.h"
#include "perf/predictor.h"
#include "workload/workload.h"

G_BEGIN_DECLS

/* Test hook: replace the predictor by a function of the batch shape. */
typedef SvTimeNs (*SvIterTimeFn)(void *ctx, const SvBatchShape *shape);

typedef struct {
    SvIterTimeFn iter_time_fn; /* NULL: the roofline/calibrated predictor */
    void *iter_time_ctx;
    int64_t kv_blocks; /* > 0: blocks per replica instead of the memory formula */
} SvSimOptions;

typedef struct SvSim SvSim;

/* Build the cluster of @config. @trace must be the loaded trace when the
 * workload names one. Errors: a plan that does not fit (no KV blocks left),
 * a scheduler or router the engine does not implement. (transfer full) */
SvSim *sv_sim_new(const SvConfig *config, const SvTrace *trace, const SvSimOptions *options,
                  GError **error);
void sv_sim_free(SvSim *sim);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SvSim, sv_sim_free)

/* Run to completion: every arrival is served or rejected. */
void sv_sim_run(SvSim *sim);

/* Results. (transfer none) */
SvMetrics *sv_sim_metrics(SvSim *sim);
const SvRunTotals *sv_sim_totals(const SvSim *sim);

/* Balances checked by the tests: at the end of a run every one must hold. */
typedef struct {
    uint64_t blocks_allocated, blocks_freed;
    uint64_t events_scheduled, events_processed, events_cancelled, events_pending;
    int64_t arrived, completed, rejected, in_flight;
    int64_t kv_blocks_per_replica; /* first replica's pool size */
} SvSimBalance;
void sv_sim_balance(const SvSim *sim, SvSimBalance *out);

/* KV blocks a replica of @pool gets under DESIGN.md §3, or an error saying
 * by how much memory falls short. */
gboolean sv_sim_kv_blocks(const SvModel *model, const SvPoolConfig *pool,
                          const SvEngineConfig *engine, int64_t *blocks_out, GError **error);

G_END_DECLS

#endif
