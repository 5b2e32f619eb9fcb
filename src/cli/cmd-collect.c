/* servesim collect DIR: merge the results logs that the array tasks of
 * `servesim plan|capacity --emit slurm DIR` wrote, and write plans.csv,
 * pareto.csv and best.yaml as the search run in one place would have: the
 * same pruning rounds are replayed over the logged results, so the outputs
 * are identical. Plans no log holds are an error that says how many. */
#include "cli/commands.h"
#include "search/search.h"

static const char collect_help[] =
    "Merge the shard results of a search emitted with --emit slurm DIR and write\n"
    "DIR/plans.csv, DIR/pareto.csv and DIR/best.yaml.\n"
    "\n"
    "Example:\n"
    "  servesim plan configs/plan-llama70b.yaml --emit slurm out/p && sbatch "
    "out/p/servesim.sbatch\n"
    "  servesim collect out/p\n"
    "\n"
    "Exit status: 0 success, 2 bad input (or results missing), 1 internal error.";

int sv_cmd_collect(int argc, char **argv)
{
    gboolean quiet = FALSE;
    gint rows = 10;
    GOptionEntry entries[] = {
        {"rows", 0, 0, G_OPTION_ARG_INT, &rows, "Plans shown in the table (default 10)", "N"},
        {"quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet, "Print nothing on success", NULL},
        {NULL, 0, 0, 0, NULL, NULL, NULL},
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new("DIR");
    g_option_context_set_summary(ctx, collect_help);
    g_option_context_add_main_entries(ctx, entries, NULL);
    if (!sv_cli_parse(ctx, &argc, &argv))
        return 2;
    if (argc != 2) {
        fprintf(stderr, "servesim: collect needs exactly one DIR (see servesim collect --help)\n");
        return 2;
    }
    const char *dir = argv[1];
    g_autoptr(GError) error = NULL;
    g_autofree char *config = NULL;
    SvSearchMode mode;
    if (!sv_search_read_emit(dir, &config, &mode, &error))
        return sv_cli_fail(error);
    SvSearchSpace *space = sv_search_space_load(config, mode, &error);
    if (space == NULL)
        return sv_cli_fail(error);
    g_autoptr(SvSearch) search = sv_search_new(space, &error);
    if (search == NULL || !sv_search_resume(search, dir, &error) ||
        !sv_search_run(search, NULL, &error) || !sv_search_write(search, dir, &error))
        return sv_cli_fail(error);
    if (!quiet) {
        g_autofree char *table = sv_search_format_table(search, rows);
        fputs(table, stdout);
        printf("wrote %s/plans.csv, pareto.csv%s\n", dir,
               sv_search_best(search) != NULL ? ", best.yaml" : "");
    }
    return 0;
}
