/* SIGINT and SIGTERM during a long command: the handler only records the
 * signal; the simulation polls it (sv_sim_set_stop) and stops after the
 * current event, and the command then writes nothing, removes what it had
 * started, prints "servesim: interrupted" and exits 128 + the signal (130,
 * 143), as a shell reports a process killed by that signal. */
#ifndef SV_CLI_INTERRUPT_H
#define SV_CLI_INTERRUPT_H

#include "core/common.h"

/* Install the handlers (once per process). A second signal of the same
 * kind, once the first was caught, takes its default action (kills the
 * process), so an impatient second Ctrl-C still works. */
void sv_cli_catch_signals(void);
/* The signal caught so far, or 0. */
int sv_cli_caught_signal(void);
/* An SvSimStopFn: TRUE once a signal was caught. @user_data is unused. */
gboolean sv_cli_stop_requested(void *user_data);
/* Print "servesim: interrupted" and return the exit status for the caught
 * signal (128 + its number). */
int sv_cli_interrupted(void);

#endif
