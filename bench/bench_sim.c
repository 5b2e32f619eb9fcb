/* Simulation-speed benchmark: runs a study (default bench/azure-100k.yaml)
 * in-process and prints simulated iterations/s, events/s, wall and CPU time
 * (CPU time is the steadier figure on a shared machine) and peak RSS. Usage: bench_sim [--csv]
 * [--core | CONFIG.yaml [KEY=VALUE overrides...]]
 * --csv prints one machine-readable line instead (bench/run.sh builds its
 * tables from them): requests,replicas,iterations,events,simulated_s,
 * load_s,wall_s,peak_rss_mb, or for --core: core,events,wall_s. */
#include "config/config.h"
#include "core/engine.h"
#include "serve/sim.h"
#include "workload/workload.h"

#include <gsl/gsl_errno.h>
#include <sys/resource.h>

static double peak_rss_mb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0; /* ru_maxrss is KiB on Linux */
}

/* User and system CPU seconds of this process so far. */
static void cpu_s(double *user_s, double *sys_s)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    *user_s = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6;
    *sys_s = (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
}

static void noop_handle(SvEngine *e, void *self, const SvEvent *ev)
{
    /* Keep the heap at a steady size: every event schedules one successor. */
    uint64_t *state = self;
    *state = *state * 6364136223846793005ULL + 1442695040888963407ULL;
    if (*(state + 1) > 0) {
        (*(state + 1))--;
        sv_engine_schedule(e, sv_engine_now(e) + 1 + (SvTimeNs)(*state >> 54), ev->component, 1, 0,
                           NULL);
    }
}

static const SvComponentVtable noop_vt = {"noop", NULL, noop_handle, NULL};

/* Raw event-core throughput with 4,096 events pending. */
static void bench_event_core(gboolean csv)
{
    g_autoptr(SvEngine) e = sv_engine_new(1);
    uint64_t state[2] = {1, 20000000};
    uint16_t id = sv_engine_add_component(e, &noop_vt, state);
    for (int i = 0; i < 4096; i++)
        sv_engine_schedule(e, i, id, 1, 0, NULL);
    gint64 t0 = g_get_monotonic_time();
    sv_engine_run(e, SV_TIME_NEVER);
    double wall = (double)(g_get_monotonic_time() - t0) * 1e-6;
    SvEngineStats st;
    sv_engine_stats(e, &st);
    if (csv)
        printf("core,%" G_GUINT64_FORMAT ",%.6f\n", st.processed, wall);
    else
        printf("event core:  %.0f events in %.3f s = %.2f M events/s (4096 pending)\n",
               (double)st.processed, wall, (double)st.processed / wall / 1e6);
}

int main(int argc, char **argv)
{
    gsl_set_error_handler_off();
    gboolean csv = argc > 1 && g_strcmp0(argv[1], "--csv") == 0;
    if (csv) {
        argv++;
        argc--;
    }
    const char *path = argc > 1 ? argv[1] : SV_SOURCE_DIR "/bench/azure-100k.yaml";
    const char **overrides = g_new0(const char *, argc + 1);
    for (int i = 2; i < argc; i++)
        overrides[i - 2] = argv[i];
    if (argc <= 1 || g_strcmp0(argv[1], "--core") == 0) {
        bench_event_core(csv);
        if (argc > 1 || csv) {
            g_free(overrides);
            return 0;
        }
    }
    GError *error = NULL;
    gint64 t0 = g_get_monotonic_time();
    SvConfig *config = sv_config_load(path, overrides, &error);
    if (config == NULL) {
        fprintf(stderr, "bench_sim: %s\n", error->message);
        return 2;
    }
    SvTrace *trace = NULL;
    /* As `servesim run` does: the trace streamed, the records in a file. */
    if (config->workload.trace_path &&
        (trace = sv_trace_load_for(config->workload.trace_path, &config->workload,
                                   config->engine.enable_prefix_caching, &error)) == NULL) {
        fprintf(stderr, "bench_sim: %s\n", error->message);
        return 2;
    }
    SvSim *sim = sv_sim_new(config, trace, NULL, &error);
    if (sim == NULL) {
        fprintf(stderr, "bench_sim: %s\n", error->message);
        return 2;
    }
    sv_metrics_spill(sv_sim_metrics(sim), NULL);
    gint64 t1 = g_get_monotonic_time();
    double user0, sys0, user1, sys1;
    cpu_s(&user0, &sys0);
    sv_sim_run(sim);
    cpu_s(&user1, &sys1);
    const SvRunTotals *t = sv_sim_totals(sim);
    SvSimBalance b;
    sv_sim_balance(sim, &b);
    if (csv) {
        printf("%" G_GINT64_FORMAT ",%d,%" G_GINT64_FORMAT ",%" G_GINT64_FORMAT
               ",%.3f,%.6f,%.6f,%.1f\n",
               b.arrived, t->num_replicas, t->iterations, t->events, (double)t->end_ns * 1e-9,
               (double)(t1 - t0) * 1e-6, t->wall_s, peak_rss_mb());
        goto done;
    }
    printf("study:       %s\n", path);
    printf("requests:    %" G_GINT64_FORMAT " arrived, %" G_GINT64_FORMAT
           " completed, %" G_GINT64_FORMAT " rejected on %d replicas\n",
           b.arrived, b.completed, b.rejected, t->num_replicas);
    printf("simulated:   %.1f s, %" G_GINT64_FORMAT " iterations, %" G_GINT64_FORMAT
           " events, %" G_GINT64_FORMAT " preemptions\n",
           (double)t->end_ns * 1e-9, t->iterations, t->events, t->preemptions);
    printf("wall:        %.3f s simulate (+%.3f s load)\n", t->wall_s, (double)(t1 - t0) * 1e-6);
    printf("cpu:         %.3f s user, %.3f s system (simulate)\n", user1 - user0, sys1 - sys0);
    printf("speed:       %.2f M iterations/s, %.2f M events/s\n",
           (double)t->iterations / t->wall_s / 1e6, (double)t->events / t->wall_s / 1e6);
    printf("peak RSS:    %.1f MB\n", peak_rss_mb());
done:
    sv_sim_free(sim);
    sv_trace_free(trace);
    sv_config_free(config);
    g_free(overrides);
    return 0;
}
