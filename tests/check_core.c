/* Event core: ordering by (time, sequence), lazy cancellation, counters that
 * balance, the time-never-goes-backwards assertion, RNG streams. */
#include "core/engine.h"
#include "core/rng.h"
#include "testutil.h"

#include <signal.h>

typedef struct {
    GArray *log;   /* int: event args in handling order */
    GArray *times; /* SvTimeNs at handling */
    uint16_t id;
    int reschedule; /* events of kind 2 reschedule themselves this many times */
    SvEventHandle to_cancel;
    gboolean init_called, finish_called;
} Probe;

static void probe_init(SvEngine *e, void *self)
{
    ((Probe *)self)->init_called = TRUE;
}

static void probe_handle(SvEngine *e, void *self, const SvEvent *ev)
{
    Probe *p = self;
    int arg = ev->arg;
    SvTimeNs now = sv_engine_now(e);
    g_array_append_val(p->log, arg);
    g_array_append_val(p->times, now);
    if (ev->kind == 2 && p->reschedule-- > 0)
        sv_engine_schedule(e, now + 5, p->id, 2, arg + 1, NULL);
    if (ev->kind == 3)
        sv_engine_cancel(e, p->to_cancel);
}

static void probe_finish(SvEngine *e, void *self)
{
    ((Probe *)self)->finish_called = TRUE;
}

static const SvComponentVtable probe_vt = {"probe", probe_init, probe_handle, probe_finish};

static Probe *probe_new(SvEngine *e)
{
    Probe *p = g_new0(Probe, 1);
    p->log = g_array_new(FALSE, FALSE, sizeof(int));
    p->times = g_array_new(FALSE, FALSE, sizeof(SvTimeNs));
    p->id = sv_engine_add_component(e, &probe_vt, p);
    return p;
}

static void probe_free(Probe *p)
{
    g_array_unref(p->log);
    g_array_unref(p->times);
    g_free(p);
}

START_TEST(test_order_time_then_seq)
{
    g_autoptr(SvEngine) e = sv_engine_new(1);
    Probe *p = probe_new(e);
    /* Same time: scheduling order decides; earlier time first. */
    sv_engine_schedule(e, 30, p->id, 1, 0, NULL);
    sv_engine_schedule(e, 10, p->id, 1, 1, NULL);
    sv_engine_schedule(e, 30, p->id, 1, 2, NULL);
    sv_engine_schedule(e, 20, p->id, 1, 3, NULL);
    sv_engine_schedule(e, 10, p->id, 1, 4, NULL);
    sv_engine_run(e, SV_TIME_NEVER);
    int want[] = {1, 4, 3, 0, 2};
    ck_assert_int_eq(p->log->len, 5);
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(g_array_index(p->log, int, i), want[i]);
    ck_assert(p->init_called && p->finish_called);
    ck_assert_int_eq(sv_engine_now(e), 30);
    probe_free(p);
}
END_TEST

START_TEST(test_many_random_events_sorted)
{
    g_autoptr(SvEngine) e = sv_engine_new(1);
    Probe *p = probe_new(e);
    gsl_rng *rng = sv_rng_new(7, 1);
    for (int i = 0; i < 100000; i++)
        sv_engine_schedule(e, (SvTimeNs)gsl_rng_uniform_int(rng, 1000), p->id, 1, i, NULL);
    gsl_rng_free(rng);
    sv_engine_run(e, SV_TIME_NEVER);
    ck_assert_int_eq(p->log->len, 100000);
    for (guint i = 1; i < p->log->len; i++) {
        SvTimeNs a = g_array_index(p->times, SvTimeNs, i - 1);
        SvTimeNs b = g_array_index(p->times, SvTimeNs, i);
        ck_assert(a <= b);
        if (a == b) /* FIFO among equal times */
            ck_assert_int_lt(g_array_index(p->log, int, i - 1), g_array_index(p->log, int, i));
    }
    probe_free(p);
}
END_TEST

START_TEST(test_cancel_and_balance)
{
    g_autoptr(SvEngine) e = sv_engine_new(1);
    Probe *p = probe_new(e);
    SvEventHandle h1 = sv_engine_schedule(e, 10, p->id, 1, 1, NULL);
    sv_engine_schedule(e, 20, p->id, 1, 2, NULL);
    p->to_cancel = sv_engine_schedule(e, 50, p->id, 1, 3, NULL);
    sv_engine_schedule(e, 40, p->id, 3, 4, NULL); /* cancels event 3 when it fires */
    ck_assert(sv_engine_cancel(e, h1));
    ck_assert(!sv_engine_cancel(e, h1)); /* second cancel is a no-op */
    p->reschedule = 3;
    sv_engine_schedule(e, 0, p->id, 2, 100, NULL); /* 100 at 0, 101 at 5, 102 at 10, 103 at 15 */
    sv_engine_run(e, SV_TIME_NEVER);
    int want[] = {100, 101, 102, 103, 2, 4};
    ck_assert_int_eq(p->log->len, G_N_ELEMENTS(want));
    for (guint i = 0; i < G_N_ELEMENTS(want); i++)
        ck_assert_int_eq(g_array_index(p->log, int, i), want[i]);
    SvEngineStats st;
    sv_engine_stats(e, &st);
    ck_assert_uint_eq(st.scheduled, 8);
    ck_assert_uint_eq(st.cancelled, 2);
    ck_assert_uint_eq(st.processed, 6);
    ck_assert_uint_eq(st.pending, 0);
    ck_assert_uint_eq(st.scheduled, st.processed + st.cancelled + st.pending);
    /* A stale handle (slot reused) must not cancel the new occupant. */
    SvEventHandle fresh = sv_engine_schedule(e, 100, p->id, 1, 7, NULL);
    ck_assert(!sv_engine_cancel(e, h1) || fresh.slot != h1.slot);
    probe_free(p);
}
END_TEST

START_TEST(test_run_until)
{
    g_autoptr(SvEngine) e = sv_engine_new(1);
    Probe *p = probe_new(e);
    sv_engine_schedule(e, 10, p->id, 1, 1, NULL);
    sv_engine_schedule(e, 100, p->id, 1, 2, NULL);
    sv_engine_run(e, 50);
    ck_assert_int_eq(p->log->len, 1);
    SvEngineStats st;
    sv_engine_stats(e, &st);
    ck_assert_uint_eq(st.pending, 1);
    probe_free(p);
}
END_TEST

static void past_handle(SvEngine *e, void *self, const SvEvent *ev)
{
    uint16_t id = *(uint16_t *)self;
    sv_engine_schedule(e, sv_engine_now(e) - 1, id, 1, 0, NULL);
}
static const SvComponentVtable past_vt = {"past", NULL, past_handle, NULL};

START_TEST(test_schedule_in_past_aborts)
{
    SvEngine *e = sv_engine_new(1);
    static uint16_t id;
    id = sv_engine_add_component(e, &past_vt, &id);
    sv_engine_schedule(e, 10, id, 1, 0, NULL);
    sv_engine_run(e, SV_TIME_NEVER); /* must abort */
}
END_TEST

START_TEST(test_rng_streams)
{
    gsl_rng *a = sv_rng_new(42, 1), *b = sv_rng_new(42, 1), *c = sv_rng_new(42, 2),
            *d = sv_rng_new(43, 1);
    int same_c = 0, same_d = 0;
    for (int i = 0; i < 1000; i++) {
        unsigned long x = gsl_rng_get(a), y = gsl_rng_get(b);
        ck_assert_uint_eq(x, y);
        same_c += x == gsl_rng_get(c);
        same_d += x == gsl_rng_get(d);
    }
    ck_assert_int_lt(same_c, 3);
    ck_assert_int_lt(same_d, 3);
    gsl_rng_free(a);
    gsl_rng_free(b);
    gsl_rng_free(c);
    gsl_rng_free(d);
}
END_TEST

START_TEST(test_nearest_and_paths)
{
    const char *const names[] = {"max_num_seqs", "max_num_batched_tokens", "block_size", NULL};
    ck_assert_str_eq(sv_nearest("maxnum_seqs", names), "max_num_seqs");
    ck_assert_str_eq(sv_nearest("block_sise", names), "block_size");
    ck_assert_ptr_null(sv_nearest("zzz", names));
    ck_assert_int_eq(sv_edit_distance("kitten", "sitting"), 3);
    ck_assert_double_eq(sv_dtype_bytes(SV_DTYPE_FP4), 0.5);
    ck_assert_int_eq(sv_s_to_ns(1.5), 1500000000LL);
}
END_TEST

Suite *core_suite(void)
{
    Suite *s = suite_create("core");
    TCase *tc = tcase_create("engine");
    tcase_add_test(tc, test_order_time_then_seq);
    tcase_add_test(tc, test_many_random_events_sorted);
    tcase_add_test(tc, test_cancel_and_balance);
    tcase_add_test(tc, test_run_until);
    tcase_add_test_raise_signal(tc, test_schedule_in_past_aborts, SIGABRT);
    tcase_add_test(tc, test_rng_streams);
    tcase_add_test(tc, test_nearest_and_paths);
    suite_add_tcase(s, tc);
    return s;
}
