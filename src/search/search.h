/* The plan search and capacity planner: enumerate the space (space.h), prune,
 * evaluate through a runner (runner.h), keep a crash-safe results log, and
 * write plans.csv, pareto.csv and best.yaml.
 *
 * Pruning, in order: plans that do not fit (the config loader's checks:
 * weights, KV room, TP/PP/EP shapes); plans whose analytic bound (bound.h)
 * is below the target load (`plan`), or whose smallest possible fleet
 * exceeds max_devices (`capacity`); then, between rounds of round_size
 * evaluations, plans dominated on every objective by a plan already
 * evaluated: one that meets the SLO with no more devices and a better
 * objective than the pruned plan's best possible (its bound). Rounds are
 * fixed by the study, not by the back end, and the decisions are taken
 * only between rounds, so the same plans are pruned and evaluated whatever
 * the job count or back end, and the outputs are identical.
 *
 * The results log (DIR/plans.log, DIR/shards/results-K.log) gets one line
 * per evaluated plan as it finishes, each with a checksum: a line cut short
 * by a crash is ignored and overwritten. A rerun with the same -o DIR reads
 * the logs of the same study (a fingerprint of its text) and evaluates only
 * what is missing. */
#ifndef SV_SEARCH_SEARCH_H
#define SV_SEARCH_SEARCH_H

#include "search/runner.h"

G_BEGIN_DECLS

typedef struct {
    int64_t plans;       /* in the space */
    int64_t decided;     /* evaluated or pruned so far */
    int64_t simulated;   /* evaluated by simulation (including resumed) */
    int64_t resumed;     /* taken from an earlier run's log */
    int64_t infeasible;  /* pruned: does not fit */
    int64_t bound;       /* pruned: bound below the target */
    int64_t dominated;   /* pruned: dominated */
    int64_t meets;       /* simulated and met the SLO */
    int64_t simulations; /* simulations run by this process (bisection steps count) */
} SvSearchStats;

typedef void (*SvSearchProgressFn)(void *user_data, const SvSearchStats *stats);

typedef struct SvSearch SvSearch;

/* A search of @space (owned from now on) with its evaluation context.
 * Errors: the study's trace does not load. (transfer full) */
SvSearch *sv_search_new(SvSearchSpace *space, GError **error);
void sv_search_free(SvSearch *search);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SvSearch, sv_search_free)

SvEvalContext *sv_search_context(SvSearch *search);
const SvSearchSpace *sv_search_space(const SvSearch *search);

/* Take the results of earlier runs from @dir: plans.log and
 * shards/results-*.log. Errors: a log of another study or version. */
gboolean sv_search_resume(SvSearch *search, const char *dir, GError **error);
/* Append every new result to @path (created with its header if missing; a
 * partial last line is cut off first). */
gboolean sv_search_open_log(SvSearch *search, const char *path, GError **error);

void sv_search_set_progress(SvSearch *search, SvSearchProgressFn fn, void *user_data);

/* Check, prune and evaluate. @runner NULL: evaluate nothing, take every
 * result from the logs (collect); a plan the rounds need that no log has is
 * an error naming how many are missing. Errors: an objective this build
 * cannot measure ("not implemented yet"), a failed evaluation. */
gboolean sv_search_run(SvSearch *search, SvRunner *runner, GError **error);

/* Evaluate exactly the ids in @shard_file (one per line, '#' comments):
 * a Slurm array task. */
gboolean sv_search_run_shard(SvSearch *search, SvRunner *runner, const char *shard_file,
                             GError **error);

/* --emit slurm: check and bound-prune every plan, split the rest into
 * @shards shard files under @dir/shards, and write @dir/servesim.sbatch (a
 * job array, one task per shard, each `servesim VERB CONFIG -o DIR
 * --shard FILE`) and @dir/search.txt (what `collect` reads). @servesim is
 * the executable's path. */
gboolean sv_search_emit_slurm(SvSearch *search, SvRunner *runner, const char *dir, int shards,
                              const char *servesim, GError **error);

/* Read @dir/search.txt: the study path and mode an --emit wrote.
 * (transfer full: g_free *config_path) */
gboolean sv_search_read_emit(const char *dir, char **config_path, SvSearchMode *mode,
                             GError **error);

const SvSearchStats *sv_search_stats(const SvSearch *search);
/* The winner, or NULL when no plan met the SLO. (transfer none) */
const SvPlanResult *sv_search_best(const SvSearch *search);
/* Every plan's result by id (NULL before sv_search_run). (transfer none) */
const SvPlanResult *sv_search_result(const SvSearch *search, int id);

/* plans.csv (every plan, by id), pareto.csv (the front of the plans that
 * meet the SLO) and best.yaml (when one does) into @dir, each written to a
 * temporary name and renamed. */
gboolean sv_search_write(SvSearch *search, const char *dir, GError **error);

/* The stdout table: the search in numbers and the best @rows plans.
 * (transfer full) */
char *sv_search_format_table(SvSearch *search, int rows);

G_END_DECLS

#endif /* SV_SEARCH_SEARCH_H */
