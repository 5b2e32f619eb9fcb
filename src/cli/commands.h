/* The subcommands of the servesim CLI, one file each (cmd-<verb>.c). Each
 * takes the arguments after the verb (argv[0] is "servesim VERB") and returns
 * the process exit status: 0 success, 2 bad input (after printing exactly one
 * line "servesim: MESSAGE" on stderr), 1 internal error. Only cli/ prints. */
#ifndef SV_CLI_COMMANDS_H
#define SV_CLI_COMMANDS_H

#include "core/common.h"

int sv_cmd_run(int argc, char **argv);
int sv_cmd_predict(int argc, char **argv);
int sv_cmd_calibrate(int argc, char **argv);
int sv_cmd_list(int argc, char **argv);
int sv_cmd_plot(int argc, char **argv);
int sv_cmd_plan(int argc, char **argv);
int sv_cmd_capacity(int argc, char **argv);
int sv_cmd_collect(int argc, char **argv);

/* plan and capacity share their command line (cmd-plan.c); @mode is an
 * SvSearchMode (search/space.h). */
int sv_cli_search(int argc, char **argv, int mode);

/* Print "servesim: MESSAGE" for @error and return the exit status it maps to
 * (2 for bad input, 1 otherwise). */
int sv_cli_fail(const GError *error);

/* Parse options with @context; on a bad option print one line and return FALSE. */
gboolean sv_cli_parse(GOptionContext *context, int *argc, char ***argv);

#endif
