/* servesim list: what the installation knows (models, hardware profiles,
 * schedulers, routers), one per line so scripts can use it: models and hw
 * give names; schedulers and routers give "NAME  description", the name
 * first, padded, then one line on what the policy does. */
#include "cli/commands.h"
#include "config/config.h"
#include "serve/sim.h"

#include <string.h>

static const char list_help[] = "List what servesim knows.\n"
                                "\n"
                                "Example:\n"
                                "  servesim list models\n"
                                "  servesim list hw\n"
                                "  servesim list schedulers";

static void print_names(const char *const *names)
{
    for (const char *const *n = names; *n; n++)
        printf("%s\n", *n);
}

/* One line per router policy, by SvRouterKind (a router added to the enum
 * gets its line here). */
static const char *const router_descriptions[SV_ROUTER_COUNT] = {
    [SV_ROUTER_ROUND_ROBIN] = "each request to the next replica in turn",
    [SV_ROUTER_RANDOM] = "each request to a replica drawn uniformly at random",
    [SV_ROUTER_LEAST_OUTSTANDING] = "to the replica with the fewest requests routed and unfinished",
    [SV_ROUTER_LEAST_KV] = "to the replica with the most free KV-cache blocks",
    [SV_ROUTER_POWER_OF_TWO] = "the less loaded of two replicas drawn at random",
    [SV_ROUTER_PREFIX_AFFINITY] = "to the replica caching the longest prefix of the prompt, "
                                  "within a load cap",
};

/* "NAME  description" for each implemented entry, names padded to align. */
static void print_described(const char *const *names, int count, gboolean (*implemented)(int kind),
                            const char *(*describe)(int kind))
{
    int width = 0;
    for (int i = 0; i < count; i++)
        if (implemented(i))
            width = MAX(width, (int)strlen(names[i]));
    for (int i = 0; i < count; i++) {
        if (!implemented(i))
            continue;
        const char *d = describe(i);
        if (d != NULL && *d)
            printf("%-*s  %s\n", width, names[i], d);
        else
            printf("%s\n", names[i]);
    }
}

static gboolean scheduler_runs(int kind)
{
    return sv_scheduler_implemented((SvSchedulerKind)kind);
}

static const char *scheduler_text(int kind)
{
    return sv_scheduler_description((SvSchedulerKind)kind);
}

static gboolean router_runs(int kind)
{
    return sv_router_implemented((SvRouterKind)kind);
}

static const char *router_text(int kind)
{
    return router_descriptions[kind];
}

int sv_cmd_list(int argc, char **argv)
{
    GOptionEntry entries[] = {{NULL, 0, 0, 0, NULL, NULL, NULL}};
    g_autoptr(GOptionContext) ctx = g_option_context_new("models|hw|schedulers|routers");
    g_option_context_set_summary(ctx, list_help);
    g_option_context_add_main_entries(ctx, entries, NULL);
    if (!sv_cli_parse(ctx, &argc, &argv))
        return 2;
    static const char *const what[] = {"models", "hw", "schedulers", "routers", NULL};
    if (argc != 2) {
        fprintf(stderr, "servesim: list needs one of: models, hw, schedulers, routers\n");
        return 2;
    }
    if (strcmp(argv[1], "models") == 0) {
        g_auto(GStrv) names = sv_data_list("models", ".yaml");
        print_names((const char *const *)names);
    } else if (strcmp(argv[1], "hw") == 0 || strcmp(argv[1], "hardware") == 0) {
        g_auto(GStrv) names = sv_data_list("hwprofiles", ".yaml");
        print_names((const char *const *)names);
    } else if (strcmp(argv[1], "schedulers") == 0) {
        /* Only what a study can run today. */
        print_described(sv_scheduler_names, SV_SCHED_COUNT, scheduler_runs, scheduler_text);
    } else if (strcmp(argv[1], "routers") == 0) {
        print_described(sv_router_names, SV_ROUTER_COUNT, router_runs, router_text);
    } else {
        const char *near = sv_nearest(argv[1], what);
        fprintf(stderr,
                "servesim: cannot list '%s'%s%s%s (choose models, hw, schedulers, routers)\n",
                argv[1], near ? " (did you mean '" : "", near ? near : "", near ? "'?)" : "");
        return 2;
    }
    return 0;
}
