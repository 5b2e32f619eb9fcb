/* Signal handling of the CLI (interrupt.h). The one piece of process-wide
 * mutable state in servesim: a signal handler can only talk through a
 * global, and it only stores the signal number (async-signal-safe); every
 * decision is taken outside the handler, by code that polls it. */
#include "cli/interrupt.h"

#include <signal.h>
#include <string.h>

static volatile sig_atomic_t caught_signal;

static void on_signal(int sig)
{
    caught_signal = sig;
}

void sv_cli_catch_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    /* SA_RESETHAND: the second signal is not caught; SA_RESTART: reads and
     * writes in progress are not cut short by the first. */
    sa.sa_flags = SA_RESETHAND | SA_RESTART;
    const int sigs[] = {SIGINT, SIGTERM};
    for (size_t i = 0; i < G_N_ELEMENTS(sigs); i++) {
        /* A signal the parent set to be ignored (nohup, a background job
         * of a non-interactive shell) stays ignored. */
        struct sigaction old;
        if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN)
            continue;
        sigaction(sigs[i], &sa, NULL);
    }
}

int sv_cli_caught_signal(void)
{
    return caught_signal;
}

gboolean sv_cli_stop_requested(void *user_data)
{
    return caught_signal != 0;
}

int sv_cli_interrupted(void)
{
    fprintf(stderr, "servesim: interrupted\n");
    return 128 + (caught_signal != 0 ? caught_signal : SIGINT);
}
