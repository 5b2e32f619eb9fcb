/* The local back end: --jobs worker threads, each evaluating whole plans
 * (config, simulation) with nothing shared but read-only data; results come
 * back through a queue to the calling thread, which alone writes the results
 * log and draws progress. Plain pthreads with one mutex and two conditions
 * (not GThreadPool and GAsyncQueue, whose futex locks and spawner thread
 * ThreadSanitizer cannot follow), so that a TSan build of the tests checks
 * every hand-over. */
#include "search/runner.h"

#include <pthread.h>

typedef struct {
    SvPlanResult *result; /* NULL on error */
    GError *error;
} Outcome;

typedef struct {
    SvRunner base;
    pthread_t *threads; /* jobs of them; none with one job */
    int num_threads;
    pthread_mutex_t lock;
    pthread_cond_t work;  /* tasks queued or stop */
    pthread_cond_t ready; /* outcomes queued */
    GQueue tasks;         /* id x 2 + kind, plus one (GINT_TO_POINTER) */
    GQueue done;          /* Outcome* */
    gboolean stop;
} LocalRunner;

/* What G_DEFINE_QUARK expands to (it would spell the name with spaces
 * once clang-format has been through it). */
GQuark sv_search_interrupted_quark(void)
{
    static GQuark quark;
    if (G_UNLIKELY(quark == 0))
        quark = g_quark_from_static_string("sv-search-interrupted");
    return quark;
}

static SvPlanResult *interrupted(int id, GError **error)
{
    g_set_error(error, SV_SEARCH_INTERRUPTED, 0, "plan %d: interrupted", id);
    return NULL;
}

SvPlanResult *sv_task_run(SvEvalContext *ctx, SvTaskKind kind, int id, GError **error)
{
    if (sv_eval_context_stopped(ctx))
        return interrupted(id, error);
    GError *inner = NULL;
    SvPlanResult *r =
        kind == SV_TASK_CHECK ? sv_plan_check(ctx, id, &inner) : sv_plan_evaluate(ctx, id, &inner);
    /* Checked after the evaluation: the stop flag only ever goes up, so a
     * simulation cut short is always followed by this test. */
    if (sv_eval_context_stopped(ctx)) {
        sv_plan_result_free(r);
        g_clear_error(&inner);
        return interrupted(id, error);
    }
    if (inner != NULL)
        g_propagate_error(error, inner);
    return r;
}

static void *worker(void *data)
{
    LocalRunner *r = data;
    pthread_mutex_lock(&r->lock);
    for (;;) {
        while (g_queue_is_empty(&r->tasks) && !r->stop)
            pthread_cond_wait(&r->work, &r->lock);
        if (r->stop)
            break;
        intptr_t task = (intptr_t)g_queue_pop_head(&r->tasks) - 1;
        pthread_mutex_unlock(&r->lock);
        Outcome *o = g_new0(Outcome, 1);
        o->result = sv_task_run(r->base.ctx, (SvTaskKind)(task & 1), (int)(task >> 1), &o->error);
        pthread_mutex_lock(&r->lock);
        g_queue_push_tail(&r->done, o);
        pthread_cond_signal(&r->ready);
    }
    pthread_mutex_unlock(&r->lock);
    return NULL;
}

static gboolean local_run(SvRunner *base, SvTaskKind kind, const int *ids, int n, SvResultFn done,
                          void *user_data, GError **error)
{
    LocalRunner *r = (LocalRunner *)base;
    GError *first = NULL;
    if (r->num_threads == 0) {
        for (int i = 0; i < n && first == NULL; i++) {
            SvPlanResult *res = sv_task_run(base->ctx, kind, ids[i], &first);
            if (res != NULL)
                done(user_data, res);
        }
    } else {
        pthread_mutex_lock(&r->lock);
        for (int i = 0; i < n; i++)
            g_queue_push_tail(&r->tasks, (gpointer)((intptr_t)ids[i] * 2 + (intptr_t)kind + 1));
        pthread_cond_broadcast(&r->work);
        pthread_mutex_unlock(&r->lock);
        for (int i = 0; i < n; i++) {
            pthread_mutex_lock(&r->lock);
            while (g_queue_is_empty(&r->done))
                pthread_cond_wait(&r->ready, &r->lock);
            Outcome *o = g_queue_pop_head(&r->done);
            pthread_mutex_unlock(&r->lock);
            if (o->result != NULL)
                done(user_data, o->result);
            if (o->error != NULL && first == NULL)
                first = o->error;
            else if (o->error != NULL)
                g_error_free(o->error);
            g_free(o);
        }
    }
    if (first != NULL) {
        g_propagate_error(error, first);
        return FALSE;
    }
    return TRUE;
}

static void local_free(SvRunner *base)
{
    LocalRunner *r = (LocalRunner *)base;
    pthread_mutex_lock(&r->lock);
    r->stop = TRUE;
    pthread_cond_broadcast(&r->work);
    pthread_mutex_unlock(&r->lock);
    for (int i = 0; i < r->num_threads; i++)
        pthread_join(r->threads[i], NULL);
    g_free(r->threads);
    g_queue_clear(&r->tasks);
    g_queue_clear(&r->done);
    pthread_mutex_destroy(&r->lock);
    pthread_cond_destroy(&r->work);
    pthread_cond_destroy(&r->ready);
    g_free(r);
}

static const SvRunnerVtable local_vtable = {"local", local_run, local_free};

SvRunner *sv_runner_local_new(SvEvalContext *ctx, int jobs)
{
    /* Made before any worker thread, which then only looks it up. */
    (void)sv_search_interrupted_quark();
    LocalRunner *r = g_new0(LocalRunner, 1);
    r->base.vtable = &local_vtable;
    r->base.ctx = ctx;
    r->base.workers = MAX(jobs, 1);
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->work, NULL);
    pthread_cond_init(&r->ready, NULL);
    g_queue_init(&r->tasks);
    g_queue_init(&r->done);
    if (jobs > 1) {
        r->threads = g_new0(pthread_t, jobs);
        for (int i = 0; i < jobs; i++) {
            /* A thread that cannot start leaves the work to the others. */
            if (pthread_create(&r->threads[r->num_threads], NULL, worker, r) == 0)
                r->num_threads++;
        }
    }
    return &r->base;
}

gboolean sv_runner_run(SvRunner *runner, SvTaskKind kind, const int *ids, int n, SvResultFn done,
                       void *user_data, GError **error)
{
    return runner->vtable->run(runner, kind, ids, n, done, user_data, error);
}

void sv_runner_free(SvRunner *runner)
{
    if (runner != NULL)
        runner->vtable->free(runner);
}
