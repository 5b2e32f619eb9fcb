/* servesim run: load a study, simulate it, print the summary table and write
 * summary.json / requests.csv / timeseries.csv. All input is validated (the
 * config, the model and hardware, the trace, the plan's memory) before a
 * single file is written, so bad input leaves no partial output. */
#include "cli/commands.h"
#include "cli/interrupt.h"
#include "cli/progress.h"
#include "config/config.h"
#include "metrics/metrics.h"
#include "metrics/trace-events.h"
#include "serve/sim.h"
#include "workload/workload.h"

static const char run_help[] =
    "Simulate a study and report latencies, throughput and KV use.\n"
    "\n"
    "Example:\n"
    "  servesim run configs/quickstart.yaml -o out/ --set workload.arrival.rate_per_s=8\n"
    "\n"
    "Writes DIR/summary.json, DIR/requests.csv (one row per request) and\n"
    "DIR/timeseries.csv when -o is given. --trace-events FILE writes the run's\n"
    "timeline (iterations per replica and pipeline stage, request phases,\n"
    "counters) as Chrome / Perfetto trace JSON (open it in ui.perfetto.dev); it\n"
    "keeps the first 10,000 requests unless --trace-events-limit says otherwise\n"
    "(0: all; about 250 bytes per iteration and 800 per request). A progress bar\n"
    "shows on stderr when it is a terminal. Exit status: 0 success, 2 bad input,\n"
    "1 internal error.";

/* Requests a timeline keeps by default: a few MB to a few hundred MB of JSON,
 * which Perfetto's UI still opens. */
#define TRACE_EVENTS_DEFAULT_LIMIT 10000

int sv_cmd_run(int argc, char **argv)
{
    g_autofree char *out_dir = NULL;
    g_auto(GStrv) sets = NULL;
    gint64 seed = -1;
    gboolean quiet = FALSE;
    g_autofree char *trace_events = NULL;
    gint64 trace_limit = -1;
    gint64 spill_values = G_MININT64; /* not given */
    GOptionEntry entries[] = {
        {"output", 'o', 0, G_OPTION_ARG_FILENAME, &out_dir, "Write result files into DIR", "DIR"},
        {"set", 0, 0, G_OPTION_ARG_STRING_ARRAY, &sets, "Override a config key (repeatable)",
         "KEY.PATH=VALUE"},
        {"seed", 0, 0, G_OPTION_ARG_INT64, &seed, "Override the config's seed", "N"},
        {"quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet, "Print nothing on success", NULL},
        {"trace-events", 0, 0, G_OPTION_ARG_FILENAME, &trace_events,
         "Write the timeline as Chrome/Perfetto trace JSON", "FILE"},
        {"trace-events-limit", 0, 0, G_OPTION_ARG_INT64, &trace_limit,
         "Trace only the first N requests (default 10000; 0: all)", "N"},
        /* Hidden, for tests: the summaries' exact percentiles spill their
         * values to disk N at a time (metrics/quantile.h); the results
         * must not change. */
        {"spill-values", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_INT64, &spill_values,
         "Keep at most N summary values in memory", "N"},
        {NULL, 0, 0, 0, NULL, NULL, NULL},
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new("CONFIG.yaml");
    g_option_context_set_summary(ctx, run_help);
    g_option_context_add_main_entries(ctx, entries, NULL);
    if (!sv_cli_parse(ctx, &argc, &argv))
        return 2;
    if (argc != 2) {
        fprintf(stderr, "servesim: run needs exactly one CONFIG.yaml (see servesim run --help)\n");
        return 2;
    }
    if (trace_limit != -1 && trace_events == NULL) {
        fprintf(stderr, "servesim: --trace-events-limit needs --trace-events FILE\n");
        return 2;
    }
    if (trace_limit < -1) {
        fprintf(stderr, "servesim: --trace-events-limit must be >= 0, got %" G_GINT64_FORMAT "\n",
                trace_limit);
        return 2;
    }

    /* --seed is an override like any other; it goes last so it wins. */
    g_autoptr(GPtrArray) overrides = g_ptr_array_new_with_free_func(g_free);
    for (char **s = sets; s && *s; s++)
        g_ptr_array_add(overrides, g_strdup(*s));
    if (seed >= 0)
        g_ptr_array_add(overrides, g_strdup_printf("seed=%" G_GINT64_FORMAT, seed));
    else if (seed < -1) {
        fprintf(stderr, "servesim: --seed must be >= 0, got %" G_GINT64_FORMAT "\n", seed);
        return 2;
    }
    g_ptr_array_add(overrides, NULL);

    if (spill_values != G_MININT64 && spill_values < 1) {
        fprintf(stderr, "servesim: --spill-values must be >= 1, got %" G_GINT64_FORMAT "\n",
                spill_values);
        return 2;
    }

    g_autoptr(GError) error = NULL;
    g_autoptr(SvConfig) config =
        sv_config_load(argv[1], (const char *const *)overrides->pdata, &error);
    if (config == NULL)
        return sv_cli_fail(error);
    g_autoptr(SvTrace) trace = NULL;
    if (config->workload.trace_path != NULL) {
        /* Streamed row by row unless the workload needs the rows at hand. */
        trace = sv_trace_load_for(config->workload.trace_path, &config->workload,
                                  config->engine.enable_prefix_caching, &error);
        if (trace == NULL)
            return sv_cli_fail(error);
    }
    g_autoptr(SvSim) sim = sv_sim_new(config, trace, NULL, &error);
    if (sim == NULL)
        return sv_cli_fail(error);
    /* From here on Ctrl-C or a TERM stops the run after the current event
     * and nothing is written (the timeline's temporary file goes with it);
     * before, nothing exists that could be left half-written. */
    sv_cli_catch_signals();
    g_autoptr(SvTraceEvents) timeline = NULL;
    if (trace_events != NULL) {
        int64_t limit = trace_limit == -1 ? TRACE_EVENTS_DEFAULT_LIMIT : trace_limit;
        timeline = sv_trace_events_new(trace_events, config, limit, &error);
        if (timeline == NULL)
            return sv_cli_fail(error);
        sv_sim_set_observer(sim, sv_trace_events_observer(timeline));
    }
    g_autoptr(SvProgressBar) bar = sv_progress_bar_new(stderr, quiet, config, trace);
    if (bar != NULL)
        sv_sim_set_progress(sim, sv_progress_bar_update, bar);
    sv_sim_set_stop(sim, sv_cli_stop_requested, NULL);
    /* Records go to a temporary file, not memory: long runs stay small. */
    sv_metrics_spill(sv_sim_metrics(sim), NULL);
    if (spill_values > 0)
        sv_metrics_set_spill_values(sv_sim_metrics(sim), (size_t)spill_values);
    sv_sim_run(sim);
    g_clear_pointer(&bar, sv_progress_bar_free); /* erase the bar before printing */
    if (sv_sim_interrupted(sim) || sv_cli_caught_signal() != 0)
        return sv_cli_interrupted();
    if (sv_sim_input_error(sim) != NULL)
        return sv_cli_fail(sv_sim_input_error(sim));
    if (sv_sim_arrivals_note(sim) != NULL)
        fprintf(stderr, "servesim: warning: %s\n", sv_sim_arrivals_note(sim));

    SvMetrics *metrics = sv_sim_metrics(sim);
    const SvRunTotals *totals = sv_sim_totals(sim);
    if (timeline != NULL && !sv_trace_events_finish(timeline, &error))
        return sv_cli_fail(error);
    if (out_dir != NULL && !sv_metrics_write(metrics, config, totals, out_dir, &error))
        return sv_cli_fail(error);
    if (!quiet) {
        g_autofree char *table = sv_metrics_format_table(metrics, config, totals);
        fputs(table, stdout);
        if (out_dir != NULL)
            printf("wrote %s/summary.json, requests.csv, timeseries.csv\n", out_dir);
        if (timeline != NULL) {
            SvTraceEventsStats ts;
            sv_trace_events_stats(timeline, &ts);
            printf("wrote %s: %" G_GINT64_FORMAT " trace events", trace_events, ts.events);
            if (ts.truncated)
                printf(", the first %" G_GINT64_FORMAT " requests up to %.1f s simulated "
                       "(--trace-events-limit 0 traces all)",
                       ts.requests_traced, sv_ns_to_s(ts.end_ns));
            printf("\n");
        }
    }
    /* A signal that came while the files were written: they are complete. */
    if (sv_cli_caught_signal() != 0)
        return sv_cli_interrupted();
    return 0;
}
