/* servesim: the command-line front end. A commands[] table maps each verb to
 * its cmd-<verb>.c; global options are --help and --version. */
#include "cli/commands.h"

#include <gsl/gsl_errno.h>
#include <locale.h>
#include <string.h>

typedef struct {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
} SvCommand;

static const SvCommand commands[] = {
    {"run", sv_cmd_run, "simulate a study: latencies, throughput, KV use, request by request"},
    {"predict", sv_cmd_predict, "predict one iteration's time, op by op"},
    {"calibrate", sv_cmd_calibrate, "build a hardware profile's tables from measured kernels"},
    {"list", sv_cmd_list, "list models, hardware profiles, schedulers or routers"},
    {"plot", sv_cmd_plot, "render a run's or a sweep's results as PNG and SVG (gnuplot)"},
    {"plan", sv_cmd_plan, "search the plans of a study's search: block by full simulation"},
    {"capacity", sv_cmd_capacity, "the highest rate per plan, and the cheapest fleet for a load"},
    {"collect", sv_cmd_collect, "merge the shard results of a search emitted for Slurm"},
    {NULL, NULL, NULL},
};

int sv_cli_fail(const GError *error)
{
    /* One line: collapse any newline a library put in the message. */
    g_autofree char *msg = g_strdup(error ? error->message : "unknown error");
    for (char *p = msg; *p; p++)
        if (*p == '\n')
            *p = ' ';
    fprintf(stderr, "servesim: %s\n", msg);
    return sv_error_is_input(error) ? 2 : 1;
}

gboolean sv_cli_parse(GOptionContext *context, int *argc, char ***argv)
{
    g_autoptr(GError) error = NULL;
    if (!g_option_context_parse(context, argc, argv, &error)) {
        fprintf(stderr, "servesim: %s (see --help)\n", error->message);
        return FALSE;
    }
    return TRUE;
}

static void usage(FILE *out)
{
    fprintf(out, "Usage: servesim COMMAND [OPTIONS]\n\n"
                 "A discrete-event simulator of LLM serving clusters.\n\nCommands:\n");
    for (const SvCommand *c = commands; c->name; c++)
        fprintf(out, "  %-10s %s\n", c->name, c->summary);
    fprintf(out, "\nRun 'servesim COMMAND --help' for a command's options and an example.\n"
                 "Example: servesim run configs/quickstart.yaml -o out/\n");
}

int main(int argc, char **argv)
{
    setlocale(LC_ALL, "C");
    gsl_set_error_handler_off();
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
        printf("servesim %s\n", SV_VERSION);
        return 0;
    }
    for (const SvCommand *c = commands; c->name; c++) {
        if (strcmp(argv[1], c->name) == 0) {
            g_autofree char *prog = g_strdup_printf("servesim %s", c->name);
            argv[1] = prog;
            return c->fn(argc - 1, argv + 1);
        }
    }
    const char *names[G_N_ELEMENTS(commands)];
    for (size_t i = 0; i < G_N_ELEMENTS(commands); i++)
        names[i] = commands[i].name;
    const char *near = sv_nearest(argv[1], names);
    if (near)
        fprintf(stderr, "servesim: unknown command '%s' (did you mean '%s'?)\n", argv[1], near);
    else
        fprintf(stderr, "servesim: unknown command '%s' (see servesim --help)\n", argv[1]);
    return 2;
}
