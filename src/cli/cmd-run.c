/* servesim run: load a study, simulate it, print the summary table and write
 * summary.json / requests.csv / timeseries.csv. All input is validated (the
 * config, the model and hardware, the trace, the plan's memory) before a
 * single file is written, so bad input leaves no partial output. */
#include "cli/commands.h"
#include "config/config.h"
#include "metrics/metrics.h"
#include "serve/sim.h"
#include "workload/workload.h"

static const char run_help[] =
    "Simulate a study and report latencies, throughput and KV use.\n"
    "\n"
    "Example:\n"
    "  servesim run configs/quickstart.yaml -o out/ --set workload.arrival.rate_per_s=8\n"
    "\n"
    "Writes DIR/summary.json, DIR/requests.csv (one row per request) and\n"
    "DIR/timeseries.csv when -o is given. Exit status: 0 success, 2 bad input,\n"
    "1 internal error.";

int sv_cmd_run(int argc, char **argv)
{
    g_autofree char *out_dir = NULL;
    g_auto(GStrv) sets = NULL;
    gint64 seed = -1;
    gboolean quiet = FALSE;
    GOptionEntry entries[] = {
        {"output", 'o', 0, G_OPTION_ARG_FILENAME, &out_dir, "Write result files into DIR", "DIR"},
        {"set", 0, 0, G_OPTION_ARG_STRING_ARRAY, &sets, "Override a config key (repeatable)",
         "KEY.PATH=VALUE"},
        {"seed", 0, 0, G_OPTION_ARG_INT64, &seed, "Override the config's seed", "N"},
        {"quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet, "Print nothing on success", NULL},
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

    g_autoptr(GError) error = NULL;
    g_autoptr(SvConfig) config =
        sv_config_load(argv[1], (const char *const *)overrides->pdata, &error);
    if (config == NULL)
        return sv_cli_fail(error);
    g_autoptr(SvTrace) trace = NULL;
    if (config->workload.trace_path != NULL) {
        trace = sv_trace_load(config->workload.trace_path, &error);
        if (trace == NULL)
            return sv_cli_fail(error);
    }
    g_autoptr(SvSim) sim = sv_sim_new(config, trace, NULL, &error);
    if (sim == NULL)
        return sv_cli_fail(error);
    sv_sim_run(sim);

    SvMetrics *metrics = sv_sim_metrics(sim);
    const SvRunTotals *totals = sv_sim_totals(sim);
    if (out_dir != NULL && !sv_metrics_write(metrics, config, totals, out_dir, &error))
        return sv_cli_fail(error);
    if (!quiet) {
        g_autofree char *table = sv_metrics_format_table(metrics, config, totals);
        fputs(table, stdout);
        if (out_dir != NULL)
            printf("wrote %s/summary.json, requests.csv, timeseries.csv\n", out_dir);
    }
    return 0;
}
