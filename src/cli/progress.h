/* A one-line progress bar with rate and ETA for long runs, drawn on stderr
 * only when stderr is a terminal (and the user did not ask for --quiet).
 * It is fed by the simulation's progress hook (sv_sim_set_progress). */
#ifndef SV_CLI_PROGRESS_H
#define SV_CLI_PROGRESS_H

#include "config/config.h"
#include "serve/sim.h"
#include "workload/workload.h"

typedef struct SvProgressBar SvProgressBar;

/* A bar for a run of @config (with @trace when the workload names one)
 * drawn on @out, or NULL when @out is not a terminal or @quiet is set: the
 * caller then installs no hook. The total comes from workload.num_requests,
 * else from the trace's length, else from workload.duration_s (simulated
 * time); with none of them the line shows counts and rate only.
 * (transfer full) */
SvProgressBar *sv_progress_bar_new(FILE *out, gboolean quiet, const SvConfig *config,
                                   const SvTrace *trace);
/* The SvSimProgressFn to install, with the bar as user data. Redraws at most
 * four times a second and not at all in the first half second (the
 * environment variable SERVESIM_PROGRESS_DELAY_S changes that delay; the
 * tests set it to 0). */
void sv_progress_bar_update(void *bar, const SvSimProgress *progress);
/* A bar that counts items (the plans of a search) towards a total, with the
 * same drawing rules; feed it with sv_progress_bar_count. NULL when @out is
 * not a terminal or @quiet is set. (transfer full) */
SvProgressBar *sv_progress_bar_new_count(FILE *out, gboolean quiet, int64_t total);
/* @done of @total, then @unit ("plans") and an optional @detail text.
 * A NULL bar is a no-op. */
void sv_progress_bar_count(SvProgressBar *bar, int64_t done, int64_t total, const char *unit,
                           const char *detail);
/* Erase the line (if anything was drawn) and free. NULL is a no-op. */
void sv_progress_bar_free(SvProgressBar *bar);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SvProgressBar, sv_progress_bar_free)

#endif
