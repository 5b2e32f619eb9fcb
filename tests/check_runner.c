/* Tests of stopping a plan search (issue 10): once the evaluation context's
 * stop function says stop, sv_task_run starts nothing and drops what
 * finishes, the thread pool drains its batch and joins, the search fails
 * with SV_SEARCH_INTERRUPTED leaving a results log of whole lines, and a
 * search resumed from that log reaches the uninterrupted search's answer. */
#include "search/runner.h"
#include "search/search.h"
#include "testutil.h"

#include <glib/gstdio.h>
#include <string.h>

typedef struct {
    gint stop;      /* the flag the stop function reads (atomic) */
    gint polls;     /* calls of the stop function still answered "go on" (atomic) */
    int results;    /* results handed back */
    int stop_after; /* raise the flag once this many simulated (progress) */
} StopCtl;

static gboolean stop_requested(void *user_data)
{
    StopCtl *c = user_data;
    return g_atomic_int_get(&c->stop) != 0;
}

/* Says "go on" to the first c->polls calls, then "stop" for good: which
 * tasks are dropped does not depend on timing. */
static gboolean stop_after_polls(void *user_data)
{
    StopCtl *c = user_data;
    return g_atomic_int_add(&c->polls, -1) <= 0;
}

static void on_result(void *user_data, SvPlanResult *r)
{
    StopCtl *c = user_data;
    sv_plan_result_free(r);
    c->results++;
}

static SvSearchSpace *small_space(void)
{
    g_autofree char *path = sv_test_path("data/search/small.yaml");
    g_autoptr(GError) error = NULL;
    SvSearchSpace *space = sv_search_space_load(path, SV_SEARCH_PLAN, &error);
    ck_assert_msg(space != NULL, "%s", error ? error->message : "");
    return space;
}

START_TEST(test_task_not_started_after_stop)
{
    g_autoptr(SvSearch) s = sv_search_new(small_space(), NULL);
    ck_assert(s != NULL);
    StopCtl c = {.stop = 1};
    sv_eval_context_set_stop(sv_search_context(s), stop_requested, &c);
    ck_assert(sv_eval_context_stopped(sv_search_context(s)));
    g_autoptr(GError) error = NULL;
    SvPlanResult *r = sv_task_run(sv_search_context(s), SV_TASK_EVALUATE, 0, &error);
    ck_assert(r == NULL);
    ck_assert(g_error_matches(error, SV_SEARCH_INTERRUPTED, 0));
    /* Without a stop function nothing is ever stopped. */
    sv_eval_context_set_stop(sv_search_context(s), NULL, NULL);
    ck_assert(!sv_eval_context_stopped(sv_search_context(s)));
}
END_TEST

/* A batch of checks on 1 and 3 threads whose stop function says stop from
 * its third call on: sv_task_run polls it before and after each task, so
 * at most the first task's result comes back (exactly it on one thread),
 * every other task is dropped, the run fails as interrupted, and the pool
 * still drains and joins. */
START_TEST(test_pool_drains_after_stop)
{
    const int jobs[2] = {1, 3};
    for (int k = 0; k < 2; k++) {
        g_autoptr(SvSearch) s = sv_search_new(small_space(), NULL);
        ck_assert(s != NULL);
        int n = (int)sv_search_space(s)->plans->len;
        ck_assert_int_gt(n, 20);
        g_autofree int *ids = g_new(int, n);
        for (int i = 0; i < n; i++)
            ids[i] = i;
        StopCtl c = {.polls = 2};
        sv_eval_context_set_stop(sv_search_context(s), stop_after_polls, &c);
        g_autoptr(SvRunner) runner = sv_runner_local_new(sv_search_context(s), jobs[k]);
        g_autoptr(GError) error = NULL;
        ck_assert(!sv_runner_run(runner, SV_TASK_CHECK, ids, n, on_result, &c, &error));
        ck_assert_msg(g_error_matches(error, SV_SEARCH_INTERRUPTED, 0), "%s",
                      error ? error->message : "no error");
        if (jobs[k] == 1)
            ck_assert_int_eq(c.results, 1);
        else
            ck_assert_int_le(c.results, 1);
    }
}
END_TEST

static void stop_on_progress(void *user_data, const SvSearchStats *st)
{
    StopCtl *c = user_data;
    if (st->simulated >= c->stop_after)
        g_atomic_int_set(&c->stop, 1);
}

/* Whole lines of results in @path (the header's '#' lines aside); fails
 * unless the file ends with a newline. */
static int log_results(const char *path)
{
    g_autofree char *text = NULL;
    gsize len = 0;
    ck_assert(g_file_get_contents(path, &text, &len, NULL));
    ck_assert(len > 0 && text[len - 1] == '\n');
    int n = 0;
    for (char *line = text; *line != '\0';) {
        char *end = strchr(line, '\n');
        if (*line != '#')
            n++;
        line = end + 1;
    }
    return n;
}

/* plan on the calling thread, stopped once 2 plans are simulated (the
 * next task sees the flag), then resumed on 2 threads. */
START_TEST(test_search_interrupted_then_resumed)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *dir = g_dir_make_tmp("sv-runner-XXXXXX", NULL);
    g_autofree char *log = g_build_filename(dir, "plans.log", NULL);
    int logged = 0;
    {
        SvSearchSpace *space = small_space();
        space->prune = FALSE;
        g_autoptr(SvSearch) s = sv_search_new(space, &error);
        ck_assert(s != NULL);
        ck_assert(sv_search_resume(s, dir, &error));
        ck_assert(sv_search_open_log(s, log, &error));
        StopCtl c = {.stop_after = 2};
        sv_eval_context_set_stop(sv_search_context(s), stop_requested, &c);
        sv_search_set_progress(s, stop_on_progress, &c);
        g_autoptr(SvRunner) runner = sv_runner_local_new(sv_search_context(s), 1);
        ck_assert(!sv_search_run(s, runner, &error));
        ck_assert_msg(g_error_matches(error, SV_SEARCH_INTERRUPTED, 0), "%s", error->message);
        g_clear_error(&error);
        const SvSearchStats *st = sv_search_stats(s);
        ck_assert_int_eq(st->simulated, 2);
        logged = log_results(log);
        ck_assert_int_eq(logged, st->simulated);
    }
    /* Resumed: every logged result is taken, the rest simulated. */
    int best_resumed, best_full;
    int64_t simulated;
    {
        SvSearchSpace *space = small_space();
        space->prune = FALSE;
        g_autoptr(SvSearch) s = sv_search_new(space, &error);
        ck_assert(sv_search_resume(s, dir, &error));
        g_autoptr(SvRunner) runner = sv_runner_local_new(sv_search_context(s), 2);
        ck_assert_msg(sv_search_run(s, runner, &error), "%s", error ? error->message : "");
        ck_assert_int_eq(sv_search_stats(s)->resumed, logged);
        simulated = sv_search_stats(s)->simulated;
        ck_assert(sv_search_best(s) != NULL);
        best_resumed = sv_search_best(s)->id;
    }
    {
        SvSearchSpace *space = small_space();
        space->prune = FALSE;
        g_autoptr(SvSearch) s = sv_search_new(space, &error);
        g_autoptr(SvRunner) runner = sv_runner_local_new(sv_search_context(s), 1);
        ck_assert(sv_search_run(s, runner, &error));
        ck_assert_int_eq(sv_search_stats(s)->simulated, simulated);
        best_full = sv_search_best(s)->id;
    }
    ck_assert_int_eq(best_resumed, best_full);
    g_unlink(log);
    g_rmdir(dir);
}
END_TEST

Suite *runner_suite(void)
{
    Suite *s = suite_create("runner");
    TCase *tc = tcase_create("stop");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_task_not_started_after_stop);
    tcase_add_test(tc, test_pool_drains_after_stop);
    tcase_add_test(tc, test_search_interrupted_then_resumed);
    suite_add_tcase(s, tc);
    return s;
}
