/* Trace internals shared by the readers of each format. trace.c reads a
 * file line by line (never whole), detects its format from the first
 * non-blank line and parses servesim and Azure 2023 CSV rows itself;
 * trace-mooncake.c (JSON Lines) and trace-vidur.c (Vidur's processed-trace
 * CSV) parse one line at a time through these calls, so that every format
 * streams and reports FILE:LINE:COL alike. */
#ifndef SV_TRACE_PRIVATE_H
#define SV_TRACE_PRIVATE_H

#include "workload/workload.h"

G_BEGIN_DECLS

/* One line of a trace file: [line, end), without its "\n" or "\r\n". Lines
 * reach a format's parser only after they were checked to be UTF-8 text
 * without control bytes (tabs aside), so columns are character counts. */
typedef struct {
    const char *path; /* file name for messages */
    const char *line; /* start of the line */
    const char *end;  /* end of the line */
    int lineno;       /* 1-based */
} SvTraceLine;

/* Set @error (SV_TRACE_ERROR, PARSE) to "PATH:LINE:COL: message" with the
 * column of @at within @l. Returns FALSE. */
gboolean sv__trace_error(GError **error, const SvTraceLine *l, const char *at, const char *fmt, ...)
    G_GNUC_PRINTF(4, 5);

/* A field of a CSV line: [start, end), blanks trimmed. */
typedef struct {
    const char *start;
    const char *end;
} SvTraceField;

/* Split [line, end) at commas into @fields (room for @max + 1); returns the
 * number of fields, or @max + 1 when there are more. */
int sv__trace_split(const char *line, const char *end, SvTraceField *fields, int max);
/* Whether field @f is exactly @name. */
gboolean sv__trace_field_is(const SvTraceField *f, const char *name);
/* A token count named @what: a decimal integer in [1, 2^31). */
gboolean sv__trace_parse_tokens(const SvTraceLine *l, const SvTraceField *f, const char *what,
                                int32_t *out, GError **error);
/* A time in seconds named @what: finite, >= 0, below 9e9 s. */
gboolean sv__trace_parse_seconds(const SvTraceLine *l, const SvTraceField *f, const char *what,
                                 SvTimeNs *out, GError **error);

/* Mooncake JSON Lines: one object per line with "timestamp" (ms),
 * "input_length", "output_length" and optionally "hash_ids". Parses the
 * non-blank line @l into @row (arrival_ns and the lengths) and appends its
 * hash ids to @ids; *@has_ids says whether the line had the key. */
gboolean sv__trace_mooncake_row(const SvTraceLine *l, SvRequestSpec *row, GArray *ids,
                                gboolean *has_ids, GError **error);

/* Vidur's processed-trace CSV (its data/processed_traces folder):
 * [arrived_at,]num_prefill_tokens,num_decode_tokens[,num_total_tokens][,pd_ratio]
 * in any order. A header names it when it has a column of Vidur's names. */
typedef struct {
    int ncols;       /* fields per row */
    int map[8];      /* file column -> Vidur column (trace-vidur.c) */
    gboolean timed;  /* arrived_at is there */
    int header_line; /* for messages */
} SvVidurHeader;
/* Whether a header with these fields is Vidur's (it has arrived_at or
 * num_prefill_tokens). */
gboolean sv__trace_vidur_detect(const SvTraceField *fields, int n);
/* Read the header line @l. */
gboolean sv__trace_vidur_header(const SvTraceLine *l, SvVidurHeader *h, GError **error);
/* Parse data line @l into @row (arrival_ns 0 when the trace is untimed). */
gboolean sv__trace_vidur_row(const SvTraceLine *l, const SvVidurHeader *h, SvRequestSpec *row,
                             GError **error);

G_END_DECLS

#endif
