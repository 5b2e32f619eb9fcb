/* Vidur processed-trace rows: the CSVs of microsoft/vidur's
 * data/processed_traces (../shared/data/vidur/PROVENANCE.md), read a line
 * at a time for trace.c's reader. Two shapes exist there:
 *   arrived_at,num_prefill_tokens,num_decode_tokens   (splitwise_conv.csv:
 *       arrival in seconds from the first request, prompt and output lengths)
 *   num_prefill_tokens,num_decode_tokens,num_total_tokens,pd_ratio
 *       (arxiv_summarization_...csv: lengths only, no arrival times)
 * Columns may come in any order; num_total_tokens and pd_ratio are derived
 * by Vidur's scripts and are checked against the lengths, since a file whose
 * columns were shifted or mislabelled shows there first. A trace without
 * arrived_at gives lengths only: replaying it needs an arrival process. */
#include "workload/trace-private.h"

#include <math.h>
#include <string.h>

typedef enum { V_ARRIVED, V_PREFILL, V_DECODE, V_TOTAL, V_RATIO, V_COUNT } VidurColumn;

static const char *const vidur_columns[] = {
    "arrived_at", "num_prefill_tokens", "num_decode_tokens", "num_total_tokens", "pd_ratio", NULL};

/* pd_ratio is written as Python's repr of prefill / decode, which reads back
 * exactly; allow for a writer that rounded to a few digits. */
#define RATIO_REL_TOL 1e-6

gboolean sv__trace_vidur_detect(const SvTraceField *fields, int n)
{
    for (int i = 0; i < n; i++)
        if (sv__trace_field_is(&fields[i], "arrived_at") ||
            sv__trace_field_is(&fields[i], "num_prefill_tokens"))
            return TRUE;
    return FALSE;
}

gboolean sv__trace_vidur_header(const SvTraceLine *l, SvVidurHeader *h, GError **error)
{
    SvTraceField fields[V_COUNT + 1];
    int n = sv__trace_split(l->line, l->end, fields, V_COUNT);
    G_STATIC_ASSERT(V_COUNT + 1 <= G_N_ELEMENTS(h->map));
    *h = (SvVidurHeader){.header_line = l->lineno};
    gboolean present[V_COUNT] = {FALSE};
    for (int i = 0; i < n; i++) {
        const SvTraceField *f = &fields[i];
        if (i == V_COUNT)
            return sv__trace_error(error, l, f->start,
                                   "more columns than a Vidur processed trace has (%s)",
                                   "arrived_at,num_prefill_tokens,num_decode_tokens,"
                                   "num_total_tokens,pd_ratio");
        int col = -1;
        for (int c = 0; c < V_COUNT; c++)
            if (sv__trace_field_is(f, vidur_columns[c]))
                col = c;
        if (col < 0) {
            g_autofree char *name = g_strndup(f->start, (gsize)(f->end - f->start));
            const char *near = sv_nearest(name, vidur_columns);
            if (near != NULL)
                return sv__trace_error(error, l, f->start,
                                       "unknown column '%s' in a Vidur processed trace (did you "
                                       "mean '%s'?)",
                                       name, near);
            return sv__trace_error(error, l, f->start,
                                   "unknown column '%s' in a Vidur processed trace (valid: "
                                   "arrived_at,num_prefill_tokens,num_decode_tokens,"
                                   "num_total_tokens,pd_ratio)",
                                   name);
        }
        if (present[col])
            return sv__trace_error(error, l, f->start, "column '%s' appears twice",
                                   vidur_columns[col]);
        present[col] = TRUE;
        h->map[i] = col;
    }
    for (int c = V_PREFILL; c <= V_DECODE; c++)
        if (!present[c])
            return sv__trace_error(error, l, l->line,
                                   "missing column '%s' (a Vidur processed trace needs "
                                   "num_prefill_tokens and num_decode_tokens)",
                                   vidur_columns[c]);
    h->ncols = n;
    h->timed = present[V_ARRIVED];
    return TRUE;
}

gboolean sv__trace_vidur_row(const SvTraceLine *l, const SvVidurHeader *h, SvRequestSpec *row,
                             GError **error)
{
    SvTraceField fields[V_COUNT + 1];
    int n = sv__trace_split(l->line, l->end, fields, h->ncols);
    if (n != h->ncols) {
        if (n > h->ncols)
            return sv__trace_error(error, l, fields[h->ncols].start,
                                   "row has more than the header's %d fields", h->ncols);
        return sv__trace_error(error, l, l->end, "row has %d fields, the header has %d", n,
                               h->ncols);
    }
    const SvTraceField *total = NULL, *ratio = NULL;
    row->arrival_ns = 0;
    for (int i = 0; i < n; i++) {
        const SvTraceField *f = &fields[i];
        switch ((VidurColumn)h->map[i]) {
        case V_ARRIVED:
            if (!sv__trace_parse_seconds(l, f, "arrived_at", &row->arrival_ns, error))
                return FALSE;
            break;
        case V_PREFILL:
            if (!sv__trace_parse_tokens(l, f, "num_prefill_tokens", &row->input_tokens, error))
                return FALSE;
            break;
        case V_DECODE:
            if (!sv__trace_parse_tokens(l, f, "num_decode_tokens", &row->output_tokens, error))
                return FALSE;
            break;
        case V_TOTAL:
            total = f;
            break;
        case V_RATIO:
            ratio = f;
            break;
        case V_COUNT:
            g_assert_not_reached();
        }
    }
    /* The derived columns, once both lengths are known. */
    if (total != NULL) {
        int32_t t = 0;
        if (!sv__trace_parse_tokens(l, total, "num_total_tokens", &t, error))
            return FALSE;
        int64_t want = (int64_t)row->input_tokens + row->output_tokens;
        if (t != want)
            return sv__trace_error(error, l, total->start,
                                   "num_total_tokens is %d but num_prefill_tokens + "
                                   "num_decode_tokens is %" G_GINT64_FORMAT,
                                   (int)t, want);
    }
    if (ratio != NULL) {
        g_autofree char *text = g_strndup(ratio->start, (gsize)(ratio->end - ratio->start));
        char *end = NULL;
        double v = g_ascii_strtod(text, &end);
        if (*text == '\0' || end == NULL || *end != '\0' || !isfinite(v))
            return sv__trace_error(error, l, ratio->start, "pd_ratio is not a number: '%s'", text);
        double want = (double)row->input_tokens / (double)row->output_tokens;
        if (fabs(v - want) > RATIO_REL_TOL * want)
            return sv__trace_error(error, l, ratio->start,
                                   "pd_ratio is %s but num_prefill_tokens / num_decode_tokens "
                                   "is %.9g",
                                   text, want);
    }
    return TRUE;
}
