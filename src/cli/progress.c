/* The progress bar of `servesim run`: one line on stderr, redrawn in place
 * with a carriage return, erased at the end so the summary table that
 * follows on stdout reads as if it had never been there. Progress is the
 * share of requests finished (completed or rejected) when the workload says
 * how many there will be, else the share of the arrival window simulated. */
#include "cli/progress.h"

#include <math.h>
#include <unistd.h>

#define BAR_WIDTH     24
#define FIRST_DRAW_US 500000 /* quiet for runs shorter than this (default) */
#define REDRAW_US     250000
#define FRACTION_CAP  0.999 /* never claim 100 % before the run returns */

struct SvProgressBar {
    FILE *out;
    int64_t total_requests; /* 0 = unknown */
    SvTimeNs duration_ns;   /* arrival window; 0 = unknown */
    gint64 start_us;        /* monotonic clock at creation */
    gint64 first_draw_us;   /* no drawing before this much wall time */
    gint64 last_draw_us;    /* 0 = never drawn */
    int last_len;           /* characters of the last line drawn */
};

SvProgressBar *sv_progress_bar_new(FILE *out, gboolean quiet, const SvConfig *config,
                                   const SvTrace *trace)
{
    if (quiet || out == NULL || !isatty(fileno(out)))
        return NULL;
    SvProgressBar *bar = g_new0(SvProgressBar, 1);
    bar->out = out;
    const SvWorkloadConfig *w = &config->workload;
    bar->total_requests = w->num_requests;
    if (w->process == SV_ARRIVAL_TRACE && trace != NULL) {
        int64_t rows = (int64_t)sv_trace_len(trace);
        if (bar->total_requests == 0 || rows < bar->total_requests)
            bar->total_requests = rows;
    }
    bar->duration_ns = w->duration_s > 0 ? sv_s_to_ns(w->duration_s) : 0;
    bar->start_us = g_get_monotonic_time();
    /* Tests shorten the delay so that a short run shows the bar too. */
    const char *delay = g_getenv("SERVESIM_PROGRESS_DELAY_S");
    char *end = NULL;
    double delay_s = delay != NULL ? g_ascii_strtod(delay, &end) : -1;
    bar->first_draw_us =
        delay != NULL && end != delay && *end == '\0' && delay_s >= 0 && delay_s < 3600
            ? (gint64)(delay_s * 1e6)
            : FIRST_DRAW_US;
    return bar;
}

/* 1234567 -> "1.23 M" */
static void append_si(GString *s, double v)
{
    if (v >= 1e9)
        g_string_append_printf(s, "%.2f G", v / 1e9);
    else if (v >= 1e6)
        g_string_append_printf(s, "%.2f M", v / 1e6);
    else if (v >= 1e4)
        g_string_append_printf(s, "%.1f k", v / 1e3);
    else
        g_string_append_printf(s, "%.0f", v);
}

static void append_duration(GString *s, double seconds)
{
    if (!isfinite(seconds) || seconds < 0)
        g_string_append(s, "?");
    else if (seconds < 60)
        g_string_append_printf(s, "%.0f s", ceil(seconds));
    else if (seconds < 3600)
        g_string_append_printf(s, "%d min %02d s", (int)(seconds / 60), (int)fmod(seconds, 60));
    else
        g_string_append_printf(s, "%d h %02d min", (int)(seconds / 3600),
                               (int)fmod(seconds / 60, 60));
}

void sv_progress_bar_update(void *data, const SvSimProgress *p)
{
    SvProgressBar *bar = data;
    gint64 now_us = g_get_monotonic_time();
    gint64 elapsed_us = now_us - bar->start_us;
    if (elapsed_us < bar->first_draw_us || now_us - bar->last_draw_us < REDRAW_US)
        return;
    bar->last_draw_us = now_us;
    double elapsed_s = (double)elapsed_us * 1e-6;

    double fraction = -1;
    int64_t done = p->completed + p->rejected;
    if (bar->total_requests > 0)
        fraction = (double)done / (double)bar->total_requests;
    if (bar->duration_ns > 0)
        fraction = MAX(fraction, (double)p->now_ns / (double)bar->duration_ns);
    fraction = MIN(fraction, FRACTION_CAP);

    g_autoptr(GString) line = g_string_new("\r");
    if (fraction >= 0) {
        int filled = (int)(fraction * BAR_WIDTH);
        g_string_append_c(line, '[');
        for (int i = 0; i < BAR_WIDTH; i++)
            g_string_append_c(line, i < filled ? '#' : '.');
        g_string_append_printf(line, "] %3d %%  ", (int)(fraction * 100));
    }
    append_si(line, (double)done);
    if (bar->total_requests > 0) {
        g_string_append_c(line, '/');
        append_si(line, (double)bar->total_requests);
    }
    g_string_append(line, " requests   ");
    append_si(line, (double)p->iterations / elapsed_s);
    g_string_append(line, " iterations/s   ");
    g_string_append_printf(line, "%.0f s simulated", sv_ns_to_s(p->now_ns));
    if (fraction > 0) {
        g_string_append(line, "   ETA ");
        append_duration(line, elapsed_s * (1 - fraction) / fraction);
    }
    /* Pad over the remains of a longer previous line. */
    int len = (int)line->len - 1;
    for (int i = len; i < bar->last_len; i++)
        g_string_append_c(line, ' ');
    bar->last_len = len;
    fputs(line->str, bar->out);
    fflush(bar->out);
}

void sv_progress_bar_free(SvProgressBar *bar)
{
    if (bar == NULL)
        return;
    if (bar->last_draw_us != 0) {
        fprintf(bar->out, "\r%*s\r", bar->last_len, "");
        fflush(bar->out);
    }
    g_free(bar);
}

/* ---- counting bar (plan search): items done out of a known total ---- */

SvProgressBar *sv_progress_bar_new_count(FILE *out, gboolean quiet, int64_t total)
{
    if (quiet || out == NULL || !isatty(fileno(out)))
        return NULL;
    SvProgressBar *bar = g_new0(SvProgressBar, 1);
    bar->out = out;
    bar->total_requests = total;
    bar->start_us = g_get_monotonic_time();
    const char *delay = g_getenv("SERVESIM_PROGRESS_DELAY_S");
    char *end = NULL;
    double delay_s = delay != NULL ? g_ascii_strtod(delay, &end) : -1;
    bar->first_draw_us =
        delay != NULL && end != delay && *end == '\0' && delay_s >= 0 && delay_s < 3600
            ? (gint64)(delay_s * 1e6)
            : FIRST_DRAW_US;
    return bar;
}

void sv_progress_bar_count(SvProgressBar *bar, int64_t done, int64_t total, const char *unit,
                           const char *detail)
{
    if (bar == NULL)
        return;
    gint64 now_us = g_get_monotonic_time();
    gint64 elapsed_us = now_us - bar->start_us;
    if (elapsed_us < bar->first_draw_us || now_us - bar->last_draw_us < REDRAW_US)
        return;
    bar->last_draw_us = now_us;
    bar->total_requests = total;
    double elapsed_s = (double)elapsed_us * 1e-6;
    double fraction = bar->total_requests > 0 ? (double)done / (double)bar->total_requests : 0;
    fraction = MIN(fraction, FRACTION_CAP);
    g_autoptr(GString) line = g_string_new("\r");
    int filled = (int)(fraction * BAR_WIDTH);
    g_string_append_c(line, '[');
    for (int i = 0; i < BAR_WIDTH; i++)
        g_string_append_c(line, i < filled ? '#' : '.');
    g_string_append_printf(line, "] %3d %%  ", (int)(fraction * 100));
    append_si(line, (double)done);
    g_string_append_c(line, '/');
    append_si(line, (double)bar->total_requests);
    g_string_append_printf(line, " %s", unit);
    if (detail != NULL && *detail != '\0')
        g_string_append_printf(line, "   %s", detail);
    if (fraction > 0) {
        g_string_append(line, "   ETA ");
        append_duration(line, elapsed_s * (1 - fraction) / fraction);
    }
    int len = (int)line->len - 1;
    for (int i = len; i < bar->last_len; i++)
        g_string_append_c(line, ' ');
    bar->last_len = len;
    fputs(line->str, bar->out);
    fflush(bar->out);
}
