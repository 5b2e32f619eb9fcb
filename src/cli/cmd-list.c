/* servesim list: what the installation knows (models, hardware profiles,
 * schedulers, routers), one name per line so scripts can use it. */
#include "cli/commands.h"
#include "config/config.h"

#include <string.h>

static const char list_help[] = "List what servesim knows.\n"
                                "\n"
                                "Example:\n"
                                "  servesim list models\n"
                                "  servesim list hw";

static void print_names(const char *const *names)
{
    for (const char *const *n = names; *n; n++)
        printf("%s\n", *n);
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
        for (int i = 0; i < SV_SCHED_COUNT; i++)
            if (sv_scheduler_implemented((SvSchedulerKind)i))
                printf("%s\n", sv_scheduler_names[i]);
    } else if (strcmp(argv[1], "routers") == 0) {
        for (int i = 0; i < SV_ROUTER_COUNT; i++)
            if (sv_router_implemented((SvRouterKind)i))
                printf("%s\n", sv_router_names[i]);
    } else {
        const char *near = sv_nearest(argv[1], what);
        fprintf(stderr,
                "servesim: cannot list '%s'%s%s%s (choose models, hw, schedulers, routers)\n",
                argv[1], near ? " (did you mean '" : "", near ? near : "", near ? "'?)" : "");
        return 2;
    }
    return 0;
}
