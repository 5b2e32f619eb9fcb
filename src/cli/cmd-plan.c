/* servesim plan (and, through sv_cli_search, servesim capacity): search the
 * study's search: space, print the ranking and write plans.csv, pareto.csv
 * and best.yaml. The back end is chosen here: threads (--jobs), MPI (--mpi,
 * under mpirun), or a Slurm job array (--emit slurm DIR, then each task
 * runs --shard FILE and `servesim collect DIR` merges). */
#include "cli/commands.h"
#include "cli/interrupt.h"
#include "cli/progress.h"
#include "search/search.h"

#include <unistd.h>

static const char plan_help[] =
    "Search the plans of the study's search: block (hardware, TP/PP/EP, replicas,\n"
    "scheduler, batch limits, sweeps) at the study's load and SLO, by full simulation.\n"
    "\n"
    "Example:\n"
    "  servesim plan configs/plan-llama70b.yaml -o out/plan --jobs 2\n"
    "\n"
    "Writes DIR/plans.csv (every plan: knobs, metrics, SLO met, why pruned),\n"
    "DIR/pareto.csv, DIR/best.yaml (a study `servesim run` takes as is) and\n"
    "DIR/plans.log, the results as they finish: after Ctrl-C (or a crash) run\n"
    "the same command again to resume. --mpi runs under mpirun (rank 0 hands out\n"
    "plans); --emit slurm DIR writes a job array and plan shards, merged by\n"
    "`servesim collect DIR`.\n"
    "Exit status: 0 success, 2 bad input, 1 internal error, 130/143 interrupted.";

static const char capacity_help[] =
    "For each plan of the study's search: block, find the highest request rate one\n"
    "replica serves within the SLO (bisection, bracketed by the analytic bound),\n"
    "then the cheapest fleet of it that carries the target rate\n"
    "(search.target_rate_per_s, else the workload's rate), checked by simulation.\n"
    "\n"
    "Example:\n"
    "  servesim capacity configs/capacity-llama70b.yaml -o out/capacity\n"
    "\n"
    "Writes DIR/plans.csv, DIR/pareto.csv, DIR/best.yaml (the fleet) and\n"
    "DIR/plans.log as `plan` does, with the same back ends.\n"
    "Exit status: 0 success, 2 bad input, 1 internal error, 130/143 interrupted.";

typedef struct {
    SvProgressBar *bar;
} Progress;

static void on_progress(void *user_data, const SvSearchStats *st)
{
    Progress *p = user_data;
    g_autofree char *detail =
        g_strdup_printf("%" G_GINT64_FORMAT " simulated, %" G_GINT64_FORMAT
                        " pruned, %" G_GINT64_FORMAT " meet the SLO",
                        st->simulated, st->infeasible + st->bound + st->dominated, st->meets);
    sv_progress_bar_count(p->bar, st->decided, st->plans, "plans", detail);
}

typedef struct {
    char *out_dir;
    gint jobs;
    gboolean mpi;
    char *emit;
    gint shards;
    char *shard;
    gboolean quiet;
    gboolean no_prune;
    gint rows;
} Options;

/* A search that failed: interrupted (a signal here, or a worker rank that
 * got one) -> "servesim: interrupted", 130 or 143; else the error. */
static int search_fail(const GError *error)
{
    if (sv_cli_caught_signal() != 0 || g_error_matches(error, SV_SEARCH_INTERRUPTED, 0))
        return sv_cli_interrupted();
    return sv_cli_fail(error);
}

/* The search itself; MPI is initialised around it by the caller. @rank > 0:
 * an MPI worker, which prints nothing. */
static int search_main(const Options *o, const char *config, const char *prog, SvSearchMode mode,
                       int rank)
{
    g_autoptr(GError) error = NULL;
    SvSearchSpace *space = sv_search_space_load(config, mode, &error);
    if (space == NULL)
        return rank == 0 ? sv_cli_fail(error) : 2;
    if (o->no_prune)
        space->prune = FALSE;
    gboolean say = rank == 0 && !o->quiet;
    if (say)
        for (guint i = 0; i < space->notes->len; i++)
            printf("note: %s\n", (const char *)g_ptr_array_index(space->notes, i));
    g_autoptr(SvSearch) search = sv_search_new(space, &error);
    if (search == NULL)
        return rank == 0 ? sv_cli_fail(error) : 2;
    /* From here on Ctrl-C or a TERM stops the search: no new evaluation
     * starts, running simulations stop after their current event and their
     * results are dropped; what finished before is in the results log, one
     * whole line each, so the same command resumes from it. Output files
     * are written only by a search that completed. */
    sv_cli_catch_signals();
    sv_eval_context_set_stop(sv_search_context(search), sv_cli_stop_requested, NULL);
    if (rank > 0) { /* an MPI worker: serve rank 0 until it says stop */
        gboolean served = sv_mpi_worker_loop(sv_search_context(search), &error);
        if (sv_cli_caught_signal() != 0)
            return 128 + sv_cli_caught_signal(); /* rank 0 says it */
        return served ? 0 : 1;
    }

    g_autoptr(SvRunner) runner = NULL;
    if (o->mpi) {
        runner = sv_runner_mpi_new(sv_search_context(search), &error);
        if (runner == NULL)
            return sv_cli_fail(error);
    } else {
        int jobs = o->jobs > 0 ? o->jobs : (int)g_get_num_processors();
        runner = sv_runner_local_new(sv_search_context(search), jobs);
    }
    gint64 t0 = g_get_monotonic_time();

    if (o->emit != NULL) {
        if (!sv_search_emit_slurm(search, runner, o->out_dir, o->shards, prog, &error))
            return search_fail(error);
        if (!o->quiet) {
            const SvSearchStats *st = sv_search_stats(search);
            printf("wrote %s/servesim.sbatch and %s/shards/: %" G_GINT64_FORMAT
                   " plans to simulate (%" G_GINT64_FORMAT " do not fit, %" G_GINT64_FORMAT
                   " below the bound)\n"
                   "submit: sbatch %s/servesim.sbatch   then: servesim collect %s\n",
                   o->out_dir, o->out_dir, st->plans - st->infeasible - st->bound, st->infeasible,
                   st->bound, o->out_dir, o->out_dir);
        }
        return 0;
    }

    if (o->out_dir != NULL) {
        if (!sv_search_resume(search, o->out_dir, &error))
            return sv_cli_fail(error);
        g_autofree char *log = NULL;
        if (o->shard != NULL) {
            g_autofree char *base = g_path_get_basename(o->shard);
            char *dot = strrchr(base, '.');
            if (dot != NULL)
                *dot = '\0';
            const char *num = g_str_has_prefix(base, "shard-") ? base + 6 : base;
            g_autofree char *name = g_strdup_printf("results-%s.log", num);
            log = g_build_filename(o->out_dir, "shards", name, NULL);
        } else {
            log = g_build_filename(o->out_dir, "plans.log", NULL);
        }
        if (!sv_search_open_log(search, log, &error))
            return sv_cli_fail(error);
    }

    Progress progress = {sv_progress_bar_new_count(stderr, o->quiet, 0)};
    if (progress.bar != NULL)
        sv_search_set_progress(search, on_progress, &progress);
    gboolean ok;
    if (o->shard != NULL)
        ok = sv_search_run_shard(search, runner, o->shard, &error);
    else
        ok = sv_search_run(search, runner, &error);
    g_clear_pointer(&progress.bar, sv_progress_bar_free);
    if (!ok)
        return search_fail(error);
    double wall_s = (double)(g_get_monotonic_time() - t0) * 1e-6;
    const SvSearchStats *st = sv_search_stats(search);
    if (o->shard != NULL) {
        if (!o->quiet)
            printf("shard %s: %" G_GINT64_FORMAT " plans evaluated (%" G_GINT64_FORMAT
                   " already done) in %.1f s\n",
                   o->shard, st->simulated, st->resumed, wall_s);
        return sv_cli_caught_signal() != 0 ? sv_cli_interrupted() : 0;
    }
    if (o->out_dir != NULL && !sv_search_write(search, o->out_dir, &error))
        return sv_cli_fail(error);
    if (!o->quiet) {
        g_autofree char *table = sv_search_format_table(search, o->rows);
        fputs(table, stdout);
        printf("search       %" G_GINT64_FORMAT " simulations in %.1f s wall, %d %s\n",
               st->simulations, wall_s, runner->workers,
               o->mpi ? "MPI workers" : (runner->workers == 1 ? "thread" : "threads"));
        if (o->out_dir != NULL)
            printf("wrote %s/plans.csv, pareto.csv%s\n", o->out_dir,
                   sv_search_best(search) != NULL ? ", best.yaml" : "");
    }
    /* A signal after the last evaluation: the files are complete. */
    if (sv_cli_caught_signal() != 0)
        return sv_cli_interrupted();
    return 0;
}

int sv_cli_search(int argc, char **argv, int mode_int)
{
    SvSearchMode mode = (SvSearchMode)mode_int;
    Options o = {.rows = 10};
    GOptionEntry entries[] = {
        {"output", 'o', 0, G_OPTION_ARG_FILENAME, &o.out_dir,
         "Write plans.csv, pareto.csv, best.yaml and the results log into DIR", "DIR"},
        {"jobs", 'j', 0, G_OPTION_ARG_INT, &o.jobs, "Simulations at once (default: cores)", "N"},
        {"mpi", 0, 0, G_OPTION_ARG_NONE, &o.mpi, "Run as an MPI master/worker farm (mpirun)", NULL},
        {"emit", 0, 0, G_OPTION_ARG_STRING, &o.emit,
         "Write a job array instead of running: --emit slurm DIR", "slurm"},
        {"shards", 0, 0, G_OPTION_ARG_INT, &o.shards, "Shards (array tasks) for --emit", "N"},
        {"shard", 0, 0, G_OPTION_ARG_FILENAME, &o.shard,
         "Evaluate the plans of one shard file (an array task)", "FILE"},
        {"no-prune", 0, 0, G_OPTION_ARG_NONE, &o.no_prune,
         "Simulate every plan that fits (no bound or dominance pruning)", NULL},
        {"rows", 0, 0, G_OPTION_ARG_INT, &o.rows, "Plans shown in the table (default 10)", "N"},
        {"quiet", 'q', 0, G_OPTION_ARG_NONE, &o.quiet, "Print nothing on success", NULL},
        {NULL, 0, 0, 0, NULL, NULL, NULL},
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new("CONFIG.yaml");
    g_option_context_set_summary(ctx, mode == SV_SEARCH_PLAN ? plan_help : capacity_help);
    g_option_context_add_main_entries(ctx, entries, NULL);
    gboolean parsed = sv_cli_parse(ctx, &argc, &argv);
    g_autofree char *out_dir = o.out_dir;
    g_autofree char *emit = o.emit;
    g_autofree char *shard = o.shard;
    if (!parsed)
        return 2;
    const char *verb = mode == SV_SEARCH_PLAN ? "plan" : "capacity";
    /* --emit slurm DIR: the directory may follow the format. */
    if (emit != NULL && argc == 3 && out_dir == NULL) {
        out_dir = g_strdup(argv[2]);
        o.out_dir = out_dir;
        argc = 2;
    }
    if (argc != 2) {
        fprintf(stderr, "servesim: %s needs exactly one CONFIG.yaml (see servesim %s --help)\n",
                verb, verb);
        return 2;
    }
    if (emit != NULL && g_strcmp0(emit, "slurm") != 0) {
        fprintf(stderr, "servesim: --emit: unknown format '%s' (valid: slurm)\n", emit);
        return 2;
    }
    if (emit != NULL && out_dir == NULL) {
        fprintf(stderr, "servesim: --emit slurm needs a directory: --emit slurm DIR\n");
        return 2;
    }
    if (shard != NULL && out_dir == NULL) {
        fprintf(stderr, "servesim: --shard needs -o DIR (where the shard's results go)\n");
        return 2;
    }
    if (o.jobs < 0 || o.shards < 0 || o.rows < 0) {
        fprintf(stderr, "servesim: --jobs, --shards and --rows must be >= 0\n");
        return 2;
    }
    if (o.mpi && (emit != NULL || shard != NULL)) {
        fprintf(stderr, "servesim: --mpi runs the search itself; it does not go with --emit or "
                        "--shard\n");
        return 2;
    }
    if (o.mpi && !sv_mpi_available()) {
        fprintf(stderr, "servesim: --mpi: this servesim was built without MPI (configure with "
                        "-DSERVESIM_WITH_MPI=ON)\n");
        return 2;
    }
    /* The program path, for the job script. */
    g_autofree char *self = g_file_read_link("/proc/self/exe", NULL);
    int rank = o.mpi ? sv_mpi_init() : 0;
    int rc = search_main(&o, argv[1], self != NULL ? self : "servesim", mode, rank);
    if (o.mpi)
        sv_mpi_finalize();
    return rc;
}

int sv_cmd_plan(int argc, char **argv)
{
    return sv_cli_search(argc, argv, SV_SEARCH_PLAN);
}
