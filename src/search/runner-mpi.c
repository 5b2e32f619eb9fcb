/* The MPI back end: a dynamic master/worker farm. Rank 0 runs the search
 * (ordering, pruning, the results log) and hands out one plan id at a time
 * to whichever worker asks; workers evaluate with the same code as the local
 * pool and send back the result as its text line (evaluate.h), which parses
 * back bit-identical, so the outputs match any other back end. Protocol:
 * worker -> master READY (empty) once, then RESULT (line) or ERROR
 * ("INPUT|CODE|message", INPUT 2: interrupted) per task; master -> worker
 * TASK (kind, id) or STOP. On Ctrl-C (mpirun passes the signal to every
 * rank) the master hands out nothing more and waits for the tasks out;
 * workers cut their simulations short, answer "interrupted", and leave at
 * STOP. Built only with -DSERVESIM_WITH_MPI=ON (SV_HAVE_MPI). */
#include "search/runner.h"

#ifdef SV_HAVE_MPI

#include <mpi.h>
#include <stdio.h>
#include <string.h>

enum { TAG_READY = 1, TAG_RESULT = 2, TAG_ERROR = 3, TAG_TASK = 4, TAG_STOP = 5 };

typedef struct {
    SvRunner base;
    int size;        /* ranks */
    gboolean *seen;  /* per rank: has said READY */
    GQueue idle;     /* ranks waiting for a task (GINT_TO_POINTER) */
    SvRunner *local; /* one rank only: evaluate here */
} MpiRunner;

gboolean sv_mpi_available(void)
{
    return TRUE;
}

int sv_mpi_init(void)
{
    int provided = 0, rank = 0;
    MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    return rank;
}

void sv_mpi_finalize(void)
{
    MPI_Finalize();
}

static char *recv_text(int source, int tag, MPI_Status *st)
{
    int count = 0;
    MPI_Get_count(st, MPI_CHAR, &count);
    char *buf = g_malloc((size_t)count + 1);
    MPI_Recv(buf, count, MPI_CHAR, source, tag, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    buf[count] = '\0';
    return buf;
}

static gboolean mpi_run(SvRunner *base, SvTaskKind kind, const int *ids, int n, SvResultFn done,
                        void *user_data, GError **error)
{
    MpiRunner *r = (MpiRunner *)base;
    if (r->local != NULL)
        return sv_runner_run(r->local, kind, ids, n, done, user_data, error);
    int next = 0, outstanding = 0;
    GError *first = NULL;
    gboolean stopping = FALSE; /* interrupted here or on a worker: hand out nothing more */
    while (next < n || outstanding > 0) {
        stopping = stopping || sv_eval_context_stopped(base->ctx);
        if (stopping && outstanding == 0)
            break;
        while (next < n && !stopping && !g_queue_is_empty(&r->idle)) {
            int rank = GPOINTER_TO_INT(g_queue_pop_head(&r->idle));
            int msg[2] = {(int)kind, ids[next++]};
            MPI_Send(msg, 2, MPI_INT, rank, TAG_TASK, MPI_COMM_WORLD);
            outstanding++;
        }
        MPI_Status st;
        MPI_Probe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &st);
        g_autofree char *text = recv_text(st.MPI_SOURCE, st.MPI_TAG, &st);
        if (st.MPI_TAG == TAG_READY) {
            r->seen[st.MPI_SOURCE] = TRUE;
        } else if (st.MPI_TAG == TAG_RESULT) {
            outstanding--;
            SvPlanResult *res = sv_plan_result_from_line(text);
            if (res != NULL)
                done(user_data, res);
            else if (first == NULL)
                g_set_error(&first, SV_PLAN_ERROR, SV_ERROR_IO,
                            "MPI rank %d sent a result that does not parse", st.MPI_SOURCE);
        } else if (st.MPI_TAG == TAG_ERROR) {
            outstanding--;
            g_auto(GStrv) f = g_strsplit(text, "|", 3);
            gboolean stopped = f[0] != NULL && strcmp(f[0], "2") == 0;
            stopping = stopping || stopped;
            if (first == NULL) {
                /* "INPUT|CODE|message": keep whether it is bad input. */
                gboolean input = f[0] != NULL && strcmp(f[0], "1") == 0;
                int code = f[0] != NULL && f[1] != NULL ? atoi(f[1]) : SV_ERROR_IO;
                g_set_error(&first,
                            stopped ? SV_SEARCH_INTERRUPTED
                            : input ? SV_CONFIG_ERROR
                                    : SV_PLAN_ERROR,
                            stopped ? 0 : code, "%s",
                            f[0] != NULL && f[1] != NULL && f[2] != NULL ? f[2] : text);
            }
        }
        g_queue_push_tail(&r->idle, GINT_TO_POINTER(st.MPI_SOURCE));
    }
    if (stopping && first == NULL)
        g_set_error(&first, SV_SEARCH_INTERRUPTED, 0, "interrupted");
    if (first != NULL) {
        g_propagate_error(error, first);
        return FALSE;
    }
    return TRUE;
}

static void mpi_free(SvRunner *base)
{
    MpiRunner *r = (MpiRunner *)base;
    if (r->local != NULL) {
        sv_runner_free(r->local);
    } else {
        /* Every worker says READY once; wait for those that have not yet
         * (they may still be loading) so that each gets its STOP. */
        for (int rank = 1; rank < r->size; rank++) {
            while (!r->seen[rank]) {
                MPI_Status st;
                MPI_Probe(rank, MPI_ANY_TAG, MPI_COMM_WORLD, &st);
                g_free(recv_text(rank, st.MPI_TAG, &st));
                if (st.MPI_TAG == TAG_READY)
                    r->seen[rank] = TRUE;
            }
            MPI_Send(NULL, 0, MPI_INT, rank, TAG_STOP, MPI_COMM_WORLD);
        }
    }
    g_queue_clear(&r->idle);
    g_free(r->seen);
    g_free(r);
}

static const SvRunnerVtable mpi_vtable = {"mpi", mpi_run, mpi_free};

SvRunner *sv_runner_mpi_new(SvEvalContext *ctx, GError **error)
{
    MpiRunner *r = g_new0(MpiRunner, 1);
    r->base.vtable = &mpi_vtable;
    r->base.ctx = ctx;
    MPI_Comm_size(MPI_COMM_WORLD, &r->size);
    r->seen = g_new0(gboolean, r->size);
    g_queue_init(&r->idle);
    r->base.workers = MAX(r->size - 1, 1);
    if (r->size == 1)
        r->local = sv_runner_local_new(ctx, 1);
    return &r->base;
}

gboolean sv_mpi_worker_loop(SvEvalContext *ctx, GError **error)
{
    MPI_Send("", 0, MPI_CHAR, 0, TAG_READY, MPI_COMM_WORLD);
    for (;;) {
        MPI_Status st;
        int msg[2] = {0, 0};
        MPI_Recv(msg, 2, MPI_INT, 0, MPI_ANY_TAG, MPI_COMM_WORLD, &st);
        if (st.MPI_TAG == TAG_STOP)
            return TRUE;
        GError *err = NULL;
        g_autoptr(SvPlanResult) res = sv_task_run(ctx, (SvTaskKind)msg[0], msg[1], &err);
        if (res != NULL) {
            g_autofree char *line = sv_plan_result_to_line(res);
            MPI_Send(line, (int)strlen(line), MPI_CHAR, 0, TAG_RESULT, MPI_COMM_WORLD);
        } else {
            int kind = err != NULL && g_error_matches(err, SV_SEARCH_INTERRUPTED, 0) ? 2
                       : err != NULL && sv_error_is_input(err)                       ? 1
                                                                                     : 0;
            g_autofree char *text =
                g_strdup_printf("%d|%d|%s", kind, err != NULL ? err->code : SV_ERROR_IO,
                                err != NULL ? err->message : "evaluation failed");
            MPI_Send(text, (int)strlen(text), MPI_CHAR, 0, TAG_ERROR, MPI_COMM_WORLD);
            g_clear_error(&err);
        }
    }
    (void)error;
}

#else /* !SV_HAVE_MPI */

gboolean sv_mpi_available(void)
{
    return FALSE;
}

int sv_mpi_init(void)
{
    return 0;
}

void sv_mpi_finalize(void)
{
}

SvRunner *sv_runner_mpi_new(SvEvalContext *ctx, GError **error)
{
    (void)ctx;
    g_set_error(error, SV_CONFIG_ERROR, SV_ERROR_INVALID,
                "--mpi: this servesim was built without MPI (configure with "
                "-DSERVESIM_WITH_MPI=ON and libopenmpi-dev installed)");
    return NULL;
}

gboolean sv_mpi_worker_loop(SvEvalContext *ctx, GError **error)
{
    return sv_runner_mpi_new(ctx, error) != NULL;
}

#endif
