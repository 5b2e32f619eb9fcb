/* The evaluation runner: one interface, several back ends. A runner takes a
 * batch of plan ids, has each evaluated (somewhere) and hands every result
 * back on the calling thread as it arrives. Back ends: a local pool of
 * threads (runner-local.c) and an MPI master/worker farm (runner-mpi.c,
 * built with -DSERVESIM_WITH_MPI=ON). The Slurm back end is not a runner:
 * `--emit slurm` writes shards that array tasks evaluate with the local
 * runner, and `collect` merges their results logs (search.c). Results do not
 * depend on the back end: each plan's evaluation is a pure function of the
 * study and the plan id. */
#ifndef SV_SEARCH_RUNNER_H
#define SV_SEARCH_RUNNER_H

#include "search/evaluate.h"

G_BEGIN_DECLS

/* What a task asks for. */
typedef enum {
    SV_TASK_CHECK,    /* sv_plan_check: load, fit, bound (no simulation) */
    SV_TASK_EVALUATE, /* sv_plan_evaluate: full simulation */
} SvTaskKind;

/* Called on the runner's calling thread for every result (transfer full). */
typedef void (*SvResultFn)(void *user_data, SvPlanResult *result);

typedef struct SvRunner SvRunner;
typedef struct {
    const char *name;
    /* Evaluate @ids (@n of them) as @kind; call @done for each result;
     * return FALSE with the first error (the batch is still drained). */
    gboolean (*run)(SvRunner *runner, SvTaskKind kind, const int *ids, int n, SvResultFn done,
                    void *user_data, GError **error);
    void (*free)(SvRunner *runner);
} SvRunnerVtable;

struct SvRunner {
    const SvRunnerVtable *vtable;
    SvEvalContext *ctx; /* (not owned) */
    int workers;        /* evaluations that can run at once */
};

/* The error of a task not run, or whose result was dropped, because the
 * evaluation context was told to stop (sv_eval_context_set_stop). */
#define SV_SEARCH_INTERRUPTED (sv_search_interrupted_quark())
GQuark sv_search_interrupted_quark(void);

/* Run one task in this process (what every back end ends up calling).
 * Once the context says stop, a task is not started, and a result that
 * finishes after it is dropped (a simulation in it may have been cut
 * short): NULL with an SV_SEARCH_INTERRUPTED error. Back ends drain their
 * batch this way quickly and hand nothing incomplete to the results log.
 * (transfer full) */
SvPlanResult *sv_task_run(SvEvalContext *ctx, SvTaskKind kind, int id, GError **error);

/* A pool of @jobs threads (1: evaluate on the calling thread). (transfer full) */
SvRunner *sv_runner_local_new(SvEvalContext *ctx, int jobs);

/* MPI: on rank 0 the master (hands out ids on demand to ranks 1..N-1, one at
 * a time, and evaluates on its own thread only when there is no other rank);
 * the other ranks call sv_mpi_worker_loop instead. MPI must be initialised.
 * NULL with an error when the build has no MPI. (transfer full) */
SvRunner *sv_runner_mpi_new(SvEvalContext *ctx, GError **error);
/* Worker ranks: evaluate what rank 0 sends until it says stop. */
gboolean sv_mpi_worker_loop(SvEvalContext *ctx, GError **error);
/* Whether this build has the MPI back end. */
gboolean sv_mpi_available(void);
/* MPI_Init (threads funnelled through the main one) and this process's
 * rank; MPI_Finalize. Without MPI: rank 0, no-ops. */
int sv_mpi_init(void);
void sv_mpi_finalize(void);

gboolean sv_runner_run(SvRunner *runner, SvTaskKind kind, const int *ids, int n, SvResultFn done,
                       void *user_data, GError **error);
void sv_runner_free(SvRunner *runner);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SvRunner, sv_runner_free)

G_END_DECLS

#endif /* SV_SEARCH_RUNNER_H */
