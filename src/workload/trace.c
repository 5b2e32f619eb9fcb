/* Trace reader: reads a request trace line by line (never the whole file at
 * once), detects its format from the first non-blank line (servesim CSV,
 * Azure LLM inference 2023 CSV, Mooncake JSON Lines, Vidur processed-trace
 * CSV), converts each row on the fly and rejects bad input with the exact
 * file:line:col of the offending field. A trace is either loaded (every row
 * in memory, random access) or streamed (a validating first pass keeps only
 * counts and names; cursors then read the rows again one at a time), so a
 * 10 M-row trace needs no more memory than a 10-row one. traces/README.md
 * documents the formats. */
#include "workload/trace-private.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

typedef enum {
    COL_ARRIVAL,
    COL_INPUT,
    COL_OUTPUT,
    COL_HASH_IDS,
    COL_SESSION,
    COL_TENANT,
    COL_SLO_CLASS,
    COL_COUNT
} Column;

typedef enum { FORMAT_SERVESIM, FORMAT_AZURE, FORMAT_MOONCAKE, FORMAT_VIDUR } Format;

/* Column names per format, indexed by Column; NULL where the format lacks it.
 */
static const char *const servesim_columns[] = {
    "arrival_s", "input_tokens", "output_tokens", "hash_ids",
    "session",   "tenant",       "slo_class",     NULL};
static const char *const azure_columns[] = {"TIMESTAMP", "ContextTokens", "GeneratedTokens", NULL};
#define REQUIRED_COLUMNS 3 /* arrival, input, output: the first three of each list */

/* Distinct tenant or SLO class names a trace may hold: the tables stay
 * small even when a column holds something else (an id per row). */
#define MAX_NAMES (1 << 20)

struct SvTrace {
    char *path;                /* as given to sv_trace_load / sv_trace_open */
    gboolean streamed;         /* rows are not kept: cursors read them from the file */
    gboolean has_arrivals;     /* FALSE for a Vidur trace without arrived_at */
    gboolean has_hash_ids;     /* a hash_ids column, or Mooncake rows */
    size_t n_rows;             /* request rows */
    SvTimeNs first_arrival_ns; /* row 0's arrival (0 when untimed) */
    int header_line;           /* line of the CSV header (1 for JSON Lines) */
    gint64 file_size;          /* streamed: what the first pass read, to detect changes */
    gint64 file_mtime;         /* streamed: modification time then, ns */
    GArray *rows;              /* loaded: SvRequestSpec, file order; NULL when streamed */
    GArray *hash_offsets;      /* loaded: size_t, rows + 1 entries into hash_ids; empty when
                                  no column */
    GArray *hash_ids;          /* loaded: int64_t, all rows' block hashes back to back */
    GPtrArray *tenant_names;   /* char*, index = tenant; NULL when no column */
    GPtrArray *slo_names;      /* char*, index = slo_class; NULL when no column */
};

/* ---- fields and numbers (shared with trace-vidur.c) ---- */

static int column_of(const SvTraceLine *l, const char *at)
{
    /* Lines are validated as UTF-8 before any field is looked at, so the
     * character count is well defined. */
    return (int)g_utf8_strlen(l->line, at - l->line) + 1;
}

gboolean sv__trace_error(GError **error, const SvTraceLine *l, const char *at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error(error, SV_TRACE_ERROR, SV_ERROR_PARSE, "%s:%d:%d: %s", l->path, l->lineno,
                column_of(l, at), msg);
    return FALSE;
}

static char *field_dup(const SvTraceField *f)
{
    return g_strndup(f->start, (gsize)(f->end - f->start));
}

/* Reject bytes no text trace has (NUL, other control bytes, invalid UTF-8):
 * a binary file fails on its first line with a clear message instead of a
 * confusing "unknown column". @kind names the format for the message. */
static gboolean check_text(const SvTraceLine *l, const char *kind, GError **error)
{
    for (const char *p = l->line; p < l->end; p++) {
        unsigned char c = (unsigned char)*p;
        if (c < 0x20 && c != '\t') {
            /* Column of a control byte: count the valid prefix only. */
            const char *valid_end = NULL;
            g_utf8_validate(l->line, p - l->line, &valid_end);
            return sv__trace_error(error, l, valid_end,
                                   "control byte 0x%02x: this does not look like a text %s trace",
                                   c, kind);
        }
    }
    const char *bad = NULL;
    if (!g_utf8_validate(l->line, l->end - l->line, &bad))
        return sv__trace_error(error, l, bad,
                               "invalid UTF-8: this does not look like a text %s trace", kind);
    return TRUE;
}

int sv__trace_split(const char *line, const char *end, SvTraceField *fields, int max)
{
    int n = 0;
    const char *p = line;
    for (;;) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *fend = comma ? comma : end;
        SvTraceField f = {p, fend};
        while (f.start < f.end && (*f.start == ' ' || *f.start == '\t'))
            f.start++;
        while (f.end > f.start && (f.end[-1] == ' ' || f.end[-1] == '\t'))
            f.end--;
        fields[n++] = f;
        if (n > max)
            return n; /* one too many: the caller reports fields[max] */
        if (comma == NULL)
            return n;
        p = comma + 1;
    }
}

static gboolean field_empty(const SvTraceField *f)
{
    return f->start == f->end;
}

gboolean sv__trace_field_is(const SvTraceField *f, const char *name)
{
    size_t len = strlen(name);
    return (size_t)(f->end - f->start) == len && memcmp(f->start, name, len) == 0;
}

gboolean sv__trace_parse_tokens(const SvTraceLine *l, const SvTraceField *f, const char *what,
                                int32_t *out, GError **error)
{
    if (field_empty(f))
        return sv__trace_error(error, l, f->start, "%s is empty", what);
    const char *p = f->start;
    gboolean negative = FALSE;
    if (*p == '-' || *p == '+') {
        negative = *p == '-';
        p++;
    }
    int64_t v = 0;
    if (p == f->end)
        goto not_int;
    for (; p < f->end; p++) {
        if (*p < '0' || *p > '9')
            goto not_int;
        if (v <= INT32_MAX)
            v = v * 10 + (*p - '0');
    }
    if (negative && v != 0)
        return sv__trace_error(error, l, f->start, "%s is negative (%.*s); lengths are >= 1 token",
                               what, (int)(f->end - f->start), f->start);
    if (v == 0)
        return sv__trace_error(error, l, f->start, "%s is 0; lengths are >= 1 token", what);
    if (v > INT32_MAX)
        return sv__trace_error(error, l, f->start, "%s is too large (%.*s tokens)", what,
                               (int)(f->end - f->start), f->start);
    *out = (int32_t)v;
    return TRUE;
not_int : {
    g_autofree char *text = field_dup(f);
    return sv__trace_error(error, l, f->start, "%s is not an integer: '%s'", what, text);
}
}

gboolean sv__trace_parse_seconds(const SvTraceLine *l, const SvTraceField *f, const char *what,
                                 SvTimeNs *out, GError **error)
{
    if (field_empty(f))
        return sv__trace_error(error, l, f->start, "%s is empty", what);
    /* The field is trimmed and non-empty, so strtod cannot skip blanks into
     * the next line; it stops at the comma or line end. */
    char *end = NULL;
    double v = g_ascii_strtod(f->start, &end);
    g_autofree char *text = field_dup(f);
    if (end != f->end)
        return sv__trace_error(error, l, f->start, "%s is not a number: '%s'", what, text);
    if (!isfinite(v))
        return sv__trace_error(error, l, f->start, "%s is not finite: '%s'", what, text);
    if (v < 0)
        return sv__trace_error(error, l, f->start, "%s is negative (%s s)", what, text);
    if (v > 9.0e9) /* int64 nanoseconds hold 292 years */
        return sv__trace_error(error, l, f->start, "%s is too large (%s s)", what, text);
    *out = sv_s_to_ns(v);
    return TRUE;
}

/* Days from 1970-01-01 to the civil date y-m-d (proleptic Gregorian). Counts
 * whole 400-year eras from year 0 starting in March, so the leap day falls at
 * the end of the counted year. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;                                  /* [0, 399] */
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1; /* [0, 365] */
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;          /* [0, 146096] */
    return era * 146097 + doe - 719468;
}

static int days_in_month(int64_t y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    gboolean leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : days[m - 1];
}

/* Read exactly @n digits at *@p. */
static gboolean digits(const char **p, const char *end, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++, (*p)++) {
        if (*p >= end || **p < '0' || **p > '9')
            return FALSE;
        v = v * 10 + (**p - '0');
    }
    *out = v;
    return TRUE;
}

/* Consume one character of @set at *@p. */
static gboolean separator(const char **p, const char *end, const char *set)
{
    if (*p >= end || strchr(set, **p) == NULL)
        return FALSE;
    (*p)++;
    return TRUE;
}

/* Azure TIMESTAMPs must lie in [1970, 2200) UTC: nanoseconds since the
 * epoch then fit int64, and so does the difference of any two. */
#define AZURE_MAX_EPOCH_S (INT64_C(7258118400)) /* 2200-01-01T00:00:00Z */

/* Azure TIMESTAMP "YYYY-MM-DD HH:MM:SS[.f{1,9}]" (also 'T' for the space and
 * an optional "Z" or "+HH:MM"/"-HH:MM" offset) -> ns since the Unix epoch.
 * Civil-date arithmetic, so spans across midnight, month or year ends work. */
static gboolean parse_timestamp(const SvTraceLine *l, const SvTraceField *f, SvTimeNs *out,
                                GError **error)
{
    const char *p = f->start, *end = f->end;
    int y, mo, d, h, mi, s, frac_ns = 0, offset_s = 0;
    gboolean ok = digits(&p, end, 4, &y) && separator(&p, end, "-") && digits(&p, end, 2, &mo) &&
                  separator(&p, end, "-") && digits(&p, end, 2, &d) && separator(&p, end, " T") &&
                  digits(&p, end, 2, &h) && separator(&p, end, ":") && digits(&p, end, 2, &mi) &&
                  separator(&p, end, ":") && digits(&p, end, 2, &s);
    if (ok && separator(&p, end, ".")) {
        int n = 0, scale = 100000000;
        for (; p < end && *p >= '0' && *p <= '9' && n < 9; p++, n++, scale /= 10)
            frac_ns += (*p - '0') * scale;
        ok = n > 0;
    }
    if (ok && p < end && (*p == '+' || *p == '-')) {
        int sign = *p++ == '-' ? -1 : 1, oh = 0, om = 0;
        ok = digits(&p, end, 2, &oh) && separator(&p, end, ":") && digits(&p, end, 2, &om);
        offset_s = sign * (oh * 3600 + om * 60);
    } else if (ok && p < end && *p == 'Z') {
        p++;
    }
    if (!ok || p != end) {
        g_autofree char *text = field_dup(f);
        return sv__trace_error(error, l, f->start,
                               "TIMESTAMP is not 'YYYY-MM-DD HH:MM:SS.fffffff': '%s'", text);
    }
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || s > 59) {
        g_autofree char *text = field_dup(f);
        return sv__trace_error(error, l, f->start, "TIMESTAMP is not a valid date and time: '%s'",
                               text);
    }
    int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s - offset_s;
    if (secs < 0 || secs >= AZURE_MAX_EPOCH_S) {
        g_autofree char *text = field_dup(f);
        return sv__trace_error(error, l, f->start,
                               "TIMESTAMP is outside the years 1970 to 2199 (UTC): '%s'", text);
    }
    *out = secs * SV_NS_PER_S + frac_ns;
    return TRUE;
}

/* Map a name to its index, numbering new names in first-seen order; -1 when
 * the table is full. */
static int32_t name_index(GPtrArray *names, GHashTable *index, const SvTraceField *f)
{
    g_autofree char *name = field_dup(f);
    gpointer found = NULL;
    if (g_hash_table_lookup_extended(index, name, NULL, &found))
        return GPOINTER_TO_INT(found);
    if (names->len >= MAX_NAMES)
        return -1;
    int32_t i = (int32_t)names->len;
    g_ptr_array_add(names, g_strdup(name));
    g_hash_table_insert(index, g_steal_pointer(&name), GINT_TO_POINTER(i));
    return i;
}

static gboolean parse_hash_ids(const SvTraceLine *l, const SvTraceField *f, GArray *ids,
                               GError **error)
{
    const char *p = f->start;
    while (p < f->end) {
        while (p < f->end && (*p == ' ' || *p == '\t'))
            p++;
        if (p == f->end)
            break;
        const char *tok = p;
        if (*p == '-' || *p == '+')
            p++;
        const char *dstart = p;
        uint64_t v = 0;
        gboolean overflow = FALSE;
        while (p < f->end && *p >= '0' && *p <= '9') {
            if (v > (uint64_t)INT64_MAX / 10)
                overflow = TRUE;
            v = v * 10 + (uint64_t)(*p - '0');
            p++;
        }
        if (p == dstart || (p < f->end && *p != ' ' && *p != '\t') || overflow ||
            v > (uint64_t)INT64_MAX) {
            const char *tend = tok;
            while (tend < f->end && *tend != ' ' && *tend != '\t')
                tend++;
            return sv__trace_error(error, l, tok, "hash_ids entry is not an integer: '%.*s'",
                                   (int)(tend - tok), tok);
        }
        int64_t h = *tok == '-' ? -(int64_t)v : (int64_t)v;
        g_array_append_val(ids, h);
    }
    return TRUE;
}

static gboolean parse_session(const SvTraceLine *l, const SvTraceField *f, int32_t *out,
                              GError **error)
{
    if (field_empty(f)) {
        *out = -1;
        return TRUE;
    }
    int64_t v = 0;
    for (const char *p = f->start; p < f->end; p++) {
        if (*p < '0' || *p > '9') {
            g_autofree char *text = field_dup(f);
            return sv__trace_error(error, l, f->start,
                                   "session is not a non-negative integer: '%s'", text);
        }
        v = v * 10 + (*p - '0');
        if (v > INT32_MAX)
            return sv__trace_error(error, l, f->start, "session id is too large");
    }
    *out = (int32_t)v;
    return TRUE;
}

/* ---- the reader: one pass over a file, row by row ---- */

/* Read buffer: a whole line of SV_TRACE_MAX_LINE_BYTES (plus "\r\n") must
 * fit, with room for the next read. */
#define READ_BUF_BYTES (SV_TRACE_MAX_LINE_BYTES + 16384)

typedef struct {
    const char *path;
    FILE *file;
    char *buf;        /* READ_BUF_BYTES */
    size_t lo, hi;    /* unread bytes: buf[lo, hi) */
    gboolean eof;     /* the file has no more bytes to read */
    gboolean started; /* the byte-order mark check is done */
    int lineno;       /* lines read so far */
    Format format;    /* once have_header (or the first JSON object) */
    gboolean have_header;
    int header_line;        /* line of the CSV header, or of the first JSON object */
    int map[COL_COUNT + 1]; /* servesim/Azure: file column -> Column */
    int ncols;
    gboolean present[COL_COUNT];
    SvVidurHeader vidur;
    SvTimeNs first_ns;                   /* Azure: the first row's wall clock */
    SvTimeNs prev_ns;                    /* the previous row's arrival */
    size_t rows;                         /* rows returned so far */
    GPtrArray *tenant_names, *slo_names; /* NULL unless the column is there */
    GHashTable *tenant_index, *slo_index;
} Reader;

static gboolean reader_open(Reader *r, const char *path, GError **error)
{
    memset(r, 0, sizeof(*r));
    r->path = path;
    r->file = g_fopen(path, "rb");
    if (r->file == NULL) {
        int errsv = errno;
        g_set_error(error, SV_TRACE_ERROR, errsv == ENOENT ? SV_ERROR_NOT_FOUND : SV_ERROR_IO,
                    "%s: cannot read trace: %s", path, g_strerror(errsv));
        return FALSE;
    }
    r->buf = g_malloc(READ_BUF_BYTES);
    return TRUE;
}

static void reader_close(Reader *r)
{
    if (r->file != NULL)
        fclose(r->file);
    g_free(r->buf);
    if (r->tenant_names != NULL)
        g_ptr_array_unref(r->tenant_names);
    if (r->slo_names != NULL)
        g_ptr_array_unref(r->slo_names);
    if (r->tenant_index != NULL)
        g_hash_table_unref(r->tenant_index);
    if (r->slo_index != NULL)
        g_hash_table_unref(r->slo_index);
    memset(r, 0, sizeof(*r));
}

/* The next line of the file into @l; FALSE at the end of the file (no
 * error) or with @error set (unreadable, over-long line). */
static gboolean reader_line(Reader *r, SvTraceLine *l, GError **error)
{
    const char *nl;
    for (;;) {
        nl = memchr(r->buf + r->lo, '\n', r->hi - r->lo);
        if (nl != NULL || r->eof)
            break;
        if (r->hi - r->lo > (size_t)SV_TRACE_MAX_LINE_BYTES + 1)
            break; /* over-long whatever follows: reported below */
        if (r->lo > 0) {
            memmove(r->buf, r->buf + r->lo, r->hi - r->lo);
            r->hi -= r->lo;
            r->lo = 0;
        }
        size_t got = fread(r->buf + r->hi, 1, READ_BUF_BYTES - r->hi, r->file);
        if (got == 0) {
            if (ferror(r->file)) {
                g_set_error(error, SV_TRACE_ERROR, SV_ERROR_IO, "%s: cannot read trace: %s",
                            r->path, g_strerror(errno));
                return FALSE;
            }
            r->eof = TRUE;
        }
        r->hi += got;
        /* A UTF-8 byte-order mark (spreadsheet exports) is not part of the header. */
        if (!r->started && (r->hi >= 3 || r->eof)) {
            r->started = TRUE;
            if (r->hi >= 3 && memcmp(r->buf, "\xEF\xBB\xBF", 3) == 0)
                r->lo = 3;
        }
    }
    if (nl == NULL && r->lo == r->hi)
        return FALSE; /* end of file */
    const char *start = r->buf + r->lo;
    const char *end = nl != NULL ? nl : r->buf + r->hi;
    r->lineno++;
    if (end > start && end[-1] == '\r')
        end--;
    if (end - start > SV_TRACE_MAX_LINE_BYTES) {
        g_set_error(error, SV_TRACE_ERROR, SV_ERROR_PARSE,
                    "%s:%d:1: line is longer than %d bytes: not a trace CSV?", r->path, r->lineno,
                    SV_TRACE_MAX_LINE_BYTES);
        return FALSE;
    }
    r->lo = nl != NULL ? (size_t)(nl + 1 - r->buf) : r->hi;
    *l = (SvTraceLine){r->path, start, end, r->lineno};
    return TRUE;
}

/* Read the CSV header: detect the format and map file columns to Columns. */
static gboolean parse_header(Reader *r, const SvTraceLine *l, GError **error)
{
    SvTraceField fields[COL_COUNT + 1];
    int n = sv__trace_split(l->line, l->end, fields, COL_COUNT);
    if (n > COL_COUNT)
        n = COL_COUNT + 1;

    /* Vidur's processed traces: their own reader (trace-vidur.c). Their
     * files may have more columns than ours, so look at the whole line. */
    {
        SvTraceField all[16];
        int m = sv__trace_split(l->line, l->end, all, 15);
        if (sv__trace_vidur_detect(all, MIN(m, 16))) {
            r->format = FORMAT_VIDUR;
            return sv__trace_vidur_header(l, &r->vidur, error);
        }
    }
    r->format = FORMAT_SERVESIM;
    for (int i = 0; i < n && i < COL_COUNT; i++)
        for (int c = 0; azure_columns[c] != NULL; c++)
            if (sv__trace_field_is(&fields[i], azure_columns[c]))
                r->format = FORMAT_AZURE;
    const char *const *names = r->format == FORMAT_AZURE ? azure_columns : servesim_columns;
    /* No "too many columns" check is needed: with more columns than names,
     * one is unknown or repeated, and both are reported below. */
    int first_at[COL_COUNT];
    for (int c = 0; c < COL_COUNT; c++) {
        r->present[c] = FALSE;
        first_at[c] = 0;
    }
    for (int i = 0; i < n; i++) {
        const SvTraceField *f = &fields[i];
        int col = -1;
        for (int c = 0; names[c] != NULL; c++)
            if (sv__trace_field_is(f, names[c]))
                col = c;
        if (col < 0) {
            g_autofree char *name = field_dup(f);
            const char *near = sv_nearest(name, names);
            g_autofree char *valid = g_strjoinv(",", (char **)names);
            if (field_empty(f))
                return sv__trace_error(error, l, f->start, "empty column name (valid: %s)", valid);
            if (near != NULL)
                return sv__trace_error(error, l, f->start,
                                       "unknown column '%s' (did you mean '%s'?)", name, near);
            return sv__trace_error(error, l, f->start, "unknown column '%s' (valid: %s)", name,
                                   valid);
        }
        if (r->present[col])
            return sv__trace_error(error, l, f->start,
                                   "column '%s' appears twice (first in column %d)", names[col],
                                   first_at[col]);
        r->present[col] = TRUE;
        first_at[col] = column_of(l, f->start);
        r->map[i] = col;
    }
    for (int c = 0; c < REQUIRED_COLUMNS; c++) {
        if (!r->present[c]) {
            g_autofree char *required = g_strjoinv(
                ",", (char *[]){(char *)names[0], (char *)names[1], (char *)names[2], NULL});
            return sv__trace_error(error, l, l->line, "missing column '%s' (required: %s)",
                                   names[c], required);
        }
    }
    r->ncols = n;
    if (r->present[COL_TENANT]) {
        r->tenant_names = g_ptr_array_new_with_free_func(g_free);
        r->tenant_index = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    }
    if (r->present[COL_SLO_CLASS]) {
        r->slo_names = g_ptr_array_new_with_free_func(g_free);
        r->slo_index = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    }
    return TRUE;
}

/* One servesim or Azure data row. @arrival_at receives the arrival field. */
static gboolean parse_csv_row(Reader *r, const SvTraceLine *l, SvRequestSpec *row, GArray *ids,
                              const char **arrival_at, GError **error)
{
    SvTraceField fields[COL_COUNT + 1];
    int n = sv__trace_split(l->line, l->end, fields, r->ncols);
    if (n != r->ncols) {
        if (n > r->ncols)
            return sv__trace_error(error, l, fields[r->ncols].start,
                                   "row has more than the header's %d fields", r->ncols);
        return sv__trace_error(error, l, l->end, "row has %d fields, the header has %d", n,
                               r->ncols);
    }
    gboolean azure = r->format == FORMAT_AZURE;
    for (int i = 0; i < r->ncols; i++) {
        const SvTraceField *f = &fields[i];
        switch ((Column)r->map[i]) {
        case COL_ARRIVAL:
            *arrival_at = f->start;
            if (azure ? !parse_timestamp(l, f, &row->arrival_ns, error)
                      : !sv__trace_parse_seconds(l, f, "arrival_s", &row->arrival_ns, error))
                return FALSE;
            break;
        case COL_INPUT:
            if (!sv__trace_parse_tokens(l, f, azure ? "ContextTokens" : "input_tokens",
                                        &row->input_tokens, error))
                return FALSE;
            break;
        case COL_OUTPUT:
            if (!sv__trace_parse_tokens(l, f, azure ? "GeneratedTokens" : "output_tokens",
                                        &row->output_tokens, error))
                return FALSE;
            break;
        case COL_HASH_IDS:
            if (!parse_hash_ids(l, f, ids, error))
                return FALSE;
            break;
        case COL_SESSION:
            if (!parse_session(l, f, &row->session, error))
                return FALSE;
            break;
        case COL_TENANT:
        case COL_SLO_CLASS: {
            gboolean tenant = r->map[i] == COL_TENANT;
            const char *what = tenant ? "tenant" : "slo_class";
            if (field_empty(f))
                return sv__trace_error(error, l, f->start,
                                       "%s is empty (leave the column out when rows have none)",
                                       what);
            int32_t k = tenant ? name_index(r->tenant_names, r->tenant_index, f)
                               : name_index(r->slo_names, r->slo_index, f);
            if (k < 0)
                return sv__trace_error(error, l, f->start,
                                       "more than %d distinct %s names: is this a %s column?",
                                       MAX_NAMES, what, what);
            if (tenant)
                row->tenant = k;
            else
                row->slo_class = k;
            break;
        }
        case COL_COUNT:
            g_assert_not_reached();
        }
    }
    /* Azure times are wall clock: make them relative to the first row. */
    if (azure) {
        if (r->rows == 0)
            r->first_ns = row->arrival_ns;
        row->arrival_ns -= r->first_ns;
    }
    return TRUE;
}

/* The end of the file: say what is missing when no row came. */
static gboolean reader_finish(Reader *r, GError **error)
{
    if (r->rows > 0)
        return TRUE;
    if (!r->have_header && r->format != FORMAT_MOONCAKE)
        g_set_error(error, SV_TRACE_ERROR, SV_ERROR_PARSE,
                    "%s:1:1: empty trace: no CSV header row "
                    "(arrival_s,input_tokens,output_tokens) and no JSON Lines object",
                    r->path);
    else if (r->format == FORMAT_MOONCAKE)
        g_set_error(error, SV_TRACE_ERROR, SV_ERROR_PARSE, "%s:1:1: empty trace: no request rows",
                    r->path);
    else
        g_set_error(error, SV_TRACE_ERROR, SV_ERROR_PARSE,
                    "%s:%d:1: the trace has a header but no request rows", r->path, r->lineno + 1);
    return FALSE;
}

/* The next request row: TRUE with @row filled (trace_row too) and its hash
 * ids in @ids (cleared first); FALSE at the end of the trace (@error unset)
 * or on bad input (@error set). */
static gboolean reader_next(Reader *r, SvRequestSpec *row, GArray *ids, GError **error)
{
    SvTraceLine l;
    GError *local = NULL;
    for (;;) {
        if (!reader_line(r, &l, &local)) {
            if (local != NULL) {
                g_propagate_error(error, local);
                return FALSE;
            }
            reader_finish(r, error);
            return FALSE;
        }
        /* Blank lines (the usual trailing one included) carry nothing. */
        const char *q = l.line;
        while (q < l.end && (*q == ' ' || *q == '\t'))
            q++;
        gboolean blank = q == l.end;
        if (!r->have_header && !blank && *q == '{' && r->format != FORMAT_MOONCAKE) {
            r->format = FORMAT_MOONCAKE; /* JSON Lines: Mooncake's format */
            r->header_line = l.lineno;
        }
        if (!check_text(&l, r->format == FORMAT_MOONCAKE ? "JSONL" : "CSV", error))
            return FALSE;
        if (blank)
            continue;
        if (!r->have_header && r->format != FORMAT_MOONCAKE) {
            if (*q == '[')
                return sv__trace_error(error, &l, q,
                                       "this looks like a JSON array; servesim reads JSON Lines "
                                       "(one Mooncake request object per line) or CSV "
                                       "(traces/README.md)");
            if (!parse_header(r, &l, error))
                return FALSE;
            r->have_header = TRUE;
            r->header_line = l.lineno;
            continue;
        }
        break;
    }
    if (r->rows >= (size_t)INT32_MAX)
        return sv__trace_error(error, &l, l.line, "too many rows: traces hold up to 2^31 - 1");
    *row = (SvRequestSpec){.session = -1, .trace_row = (int32_t)r->rows};
    g_array_set_size(ids, 0);
    const char *arrival_at = l.line;
    gboolean ok = TRUE;
    switch (r->format) {
    case FORMAT_SERVESIM:
    case FORMAT_AZURE:
        ok = parse_csv_row(r, &l, row, ids, &arrival_at, error);
        break;
    case FORMAT_MOONCAKE: {
        gboolean has_ids = FALSE;
        ok = sv__trace_mooncake_row(&l, row, ids, &has_ids, error);
        arrival_at = l.line;
        while (arrival_at < l.end && (*arrival_at == ' ' || *arrival_at == '\t'))
            arrival_at++;
        break;
    }
    case FORMAT_VIDUR:
        ok = sv__trace_vidur_row(&l, &r->vidur, row, error);
        break;
    }
    if (!ok)
        return FALSE;
    if (r->rows > 0 && row->arrival_ns < r->prev_ns) {
        if (r->format == FORMAT_MOONCAKE)
            return sv__trace_error(error, &l, arrival_at,
                                   "timestamp goes backwards (%.9g s, the row before is at %.9g "
                                   "s): sort the trace by timestamp",
                                   sv_ns_to_s(row->arrival_ns), sv_ns_to_s(r->prev_ns));
        return sv__trace_error(error, &l, arrival_at,
                               "arrival goes backwards (%.9g s, the row before is at %.9g s): "
                               "sort the trace by arrival",
                               sv_ns_to_s(row->arrival_ns), sv_ns_to_s(r->prev_ns));
    }
    r->prev_ns = row->arrival_ns;
    r->rows++;
    return TRUE;
}

/* What a finished first pass learnt about the file. */
static void take_header_info(SvTrace *trace, Reader *r)
{
    trace->has_arrivals = r->format != FORMAT_VIDUR || r->vidur.timed;
    trace->has_hash_ids =
        r->format == FORMAT_MOONCAKE || (r->format != FORMAT_VIDUR && r->present[COL_HASH_IDS]);
    trace->header_line = r->header_line;
    trace->tenant_names = g_steal_pointer(&r->tenant_names);
    trace->slo_names = g_steal_pointer(&r->slo_names);
}

static SvTrace *trace_new(const char *path)
{
    SvTrace *trace = g_new0(SvTrace, 1);
    trace->path = g_strdup(path);
    return trace;
}

SvTrace *sv_trace_load(const char *path, GError **error)
{
    g_return_val_if_fail(path != NULL, NULL);
    Reader r;
    if (!reader_open(&r, path, error))
        return NULL;
    g_autoptr(SvTrace) trace = trace_new(path);
    trace->rows = g_array_new(FALSE, FALSE, sizeof(SvRequestSpec));
    trace->hash_offsets = g_array_new(FALSE, FALSE, sizeof(size_t));
    trace->hash_ids = g_array_new(FALSE, FALSE, sizeof(int64_t));
    g_autoptr(GArray) ids = g_array_new(FALSE, FALSE, sizeof(int64_t));
    SvRequestSpec row;
    GError *local = NULL;
    while (reader_next(&r, &row, ids, &local)) {
        if (trace->rows->len == 0 && (r.format == FORMAT_MOONCAKE ||
                                      (r.format != FORMAT_VIDUR && r.present[COL_HASH_IDS]))) {
            size_t zero = 0;
            g_array_append_val(trace->hash_offsets, zero);
        }
        g_array_append_val(trace->rows, row);
        if (trace->hash_offsets->len > 0) {
            g_array_append_vals(trace->hash_ids, ids->data, ids->len);
            size_t off = trace->hash_ids->len;
            g_array_append_val(trace->hash_offsets, off);
        }
    }
    if (local != NULL) {
        g_propagate_error(error, local);
        reader_close(&r);
        return NULL;
    }
    take_header_info(trace, &r);
    reader_close(&r);
    trace->n_rows = trace->rows->len;
    trace->first_arrival_ns = g_array_index(trace->rows, SvRequestSpec, 0).arrival_ns;
    return g_steal_pointer(&trace);
}

/* Size and modification time of @path, to tell a changed file. */
static gboolean file_identity(const char *path, gint64 *size, gint64 *mtime)
{
    GStatBuf st;
    if (g_stat(path, &st) != 0)
        return FALSE;
    *size = (gint64)st.st_size;
    *mtime = (gint64)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
    return TRUE;
}

SvTrace *sv_trace_open(const char *path, GError **error)
{
    g_return_val_if_fail(path != NULL, NULL);
    Reader r;
    if (!reader_open(&r, path, error))
        return NULL;
    g_autoptr(SvTrace) trace = trace_new(path);
    trace->streamed = TRUE;
    file_identity(path, &trace->file_size, &trace->file_mtime);
    g_autoptr(GArray) ids = g_array_new(FALSE, FALSE, sizeof(int64_t));
    SvRequestSpec row;
    GError *local = NULL;
    while (reader_next(&r, &row, ids, &local)) {
        if (r.rows == 1)
            trace->first_arrival_ns = row.arrival_ns;
    }
    if (local != NULL) {
        g_propagate_error(error, local);
        reader_close(&r);
        return NULL;
    }
    trace->n_rows = r.rows;
    take_header_info(trace, &r);
    reader_close(&r);
    return g_steal_pointer(&trace);
}

SvTrace *sv_trace_load_for(const char *path, const SvWorkloadConfig *config, gboolean need_hash_ids,
                           GError **error)
{
    g_return_val_if_fail(path != NULL && config != NULL, NULL);
    gboolean sampled = config->has_lengths &&
                       (config->input.dist == SV_LEN_TRACE || config->output.dist == SV_LEN_TRACE);
    if (sampled)
        return sv_trace_load(path, error);
    SvTrace *trace = sv_trace_open(path, error);
    if (trace != NULL && need_hash_ids && trace->has_hash_ids) {
        sv_trace_free(trace);
        return sv_trace_load(path, error);
    }
    return trace;
}

void sv_trace_free(SvTrace *trace)
{
    if (trace == NULL)
        return;
    g_free(trace->path);
    if (trace->rows != NULL)
        g_array_unref(trace->rows);
    if (trace->hash_offsets != NULL)
        g_array_unref(trace->hash_offsets);
    if (trace->hash_ids != NULL)
        g_array_unref(trace->hash_ids);
    if (trace->tenant_names != NULL)
        g_ptr_array_unref(trace->tenant_names);
    if (trace->slo_names != NULL)
        g_ptr_array_unref(trace->slo_names);
    g_free(trace);
}

size_t sv_trace_len(const SvTrace *trace)
{
    g_return_val_if_fail(trace != NULL, 0);
    return trace->n_rows;
}

gboolean sv_trace_streamed(const SvTrace *trace)
{
    g_return_val_if_fail(trace != NULL, FALSE);
    return trace->streamed;
}

gboolean sv_trace_has_arrivals(const SvTrace *trace)
{
    g_return_val_if_fail(trace != NULL, FALSE);
    return trace->has_arrivals;
}

gboolean sv_trace_has_hash_ids(const SvTrace *trace)
{
    g_return_val_if_fail(trace != NULL, FALSE);
    return trace->has_hash_ids;
}

SvTimeNs sv_trace_first_arrival_ns(const SvTrace *trace)
{
    g_return_val_if_fail(trace != NULL, 0);
    return trace->first_arrival_ns;
}

int sv_trace_header_line(const SvTrace *trace)
{
    g_return_val_if_fail(trace != NULL, 1);
    return trace->header_line;
}

const SvRequestSpec *sv_trace_row(const SvTrace *trace, size_t i)
{
    g_return_val_if_fail(trace != NULL, NULL);
    SV_ASSERT(!trace->streamed, "random access to row %zu of streamed trace %s", i, trace->path);
    SV_ASSERT(i < trace->rows->len, "row %zu of %u", i, trace->rows->len);
    return &g_array_index(trace->rows, SvRequestSpec, i);
}

const int64_t *sv_trace_hash_ids(const SvTrace *trace, size_t i, size_t *n_out)
{
    g_return_val_if_fail(trace != NULL && n_out != NULL, NULL);
    *n_out = 0;
    if (trace->streamed)
        return NULL; /* a streamed trace keeps no hash ids */
    SV_ASSERT(i < trace->rows->len, "row %zu of %u", i, trace->rows->len);
    if (trace->hash_offsets->len == 0)
        return NULL;
    size_t lo = g_array_index(trace->hash_offsets, size_t, i);
    size_t hi = g_array_index(trace->hash_offsets, size_t, i + 1);
    *n_out = hi - lo;
    return hi > lo ? &g_array_index(trace->hash_ids, int64_t, lo) : NULL;
}

static const char *name_at(const GPtrArray *names, int32_t index)
{
    if (names == NULL || index < 0 || (guint)index >= names->len)
        return NULL;
    return g_ptr_array_index(names, index);
}

const char *sv_trace_tenant_name(const SvTrace *trace, int32_t index)
{
    g_return_val_if_fail(trace != NULL, NULL);
    return name_at(trace->tenant_names, index);
}

const char *sv_trace_slo_class_name(const SvTrace *trace, int32_t index)
{
    g_return_val_if_fail(trace != NULL, NULL);
    return name_at(trace->slo_names, index);
}

int32_t sv_trace_num_tenants(const SvTrace *trace)
{
    g_return_val_if_fail(trace != NULL, 0);
    return trace->tenant_names ? (int32_t)trace->tenant_names->len : 0;
}

int32_t sv_trace_num_slo_classes(const SvTrace *trace)
{
    g_return_val_if_fail(trace != NULL, 0);
    return trace->slo_names ? (int32_t)trace->slo_names->len : 0;
}

const char *sv_trace_path(const SvTrace *trace)
{
    g_return_val_if_fail(trace != NULL, NULL);
    return trace->path;
}

/* ---- cursors ---- */

/* A streamed trace of at most this many bytes of rows (SvRequestSpec, 72
 * bytes: 116 k rows) is read from its file once per cursor: the first pass
 * keeps the rows and later passes (a workload wrapping around the trace)
 * replay them from memory (what later happens to the file no longer
 * matters). Parsing the Azure conversation trace again at each of its 223
 * wraps cost 9 % of bench/cluster-1024.yaml's user CPU time; the cap keeps
 * a streamed trace's memory bounded all the same. */
#define CURSOR_KEEP_BYTES (16 << 20)

struct SvTraceCursor {
    const SvTrace *trace; /* (transfer none) */
    size_t next;          /* loaded, or replaying kept rows: the next row */
    Reader reader;        /* streamed: the open file */
    gboolean open;        /* streamed: reader is open */
    GArray *ids;          /* streamed: the current row's hash ids (read, not handed out) */
    /* streamed, small enough: SvRequestSpec rows of the pass from the file
     * start (no hash ids: a streamed trace hands out none); NULL when not
     * kept */
    GArray *kept;
    gboolean replay; /* kept holds every row and passes read it, not the file */
};

/* (Re)open @c's file for a new pass, checking it is the file the first
 * pass validated. */
static gboolean cursor_open(SvTraceCursor *c, GError **error)
{
    const SvTrace *t = c->trace;
    if (c->open)
        reader_close(&c->reader);
    c->open = FALSE;
    gint64 size = -1, mtime = -1;
    if (!file_identity(t->path, &size, &mtime) || size != t->file_size || mtime != t->file_mtime) {
        g_set_error(error, SV_TRACE_ERROR, SV_ERROR_IO,
                    "%s: the trace changed (or went away) after it was checked; run again",
                    t->path);
        return FALSE;
    }
    if (!reader_open(&c->reader, t->path, error))
        return FALSE;
    c->open = TRUE;
    return TRUE;
}

SvTraceCursor *sv_trace_cursor_new(const SvTrace *trace, GError **error)
{
    g_return_val_if_fail(trace != NULL, NULL);
    g_autoptr(SvTraceCursor) c = g_new0(SvTraceCursor, 1);
    c->trace = trace;
    if (trace->streamed) {
        c->ids = g_array_new(FALSE, FALSE, sizeof(int64_t));
        if (!cursor_open(c, error))
            return NULL;
        if (trace->n_rows <= CURSOR_KEEP_BYTES / sizeof(SvRequestSpec))
            c->kept = g_array_sized_new(FALSE, FALSE, sizeof(SvRequestSpec), (guint)trace->n_rows);
    }
    return g_steal_pointer(&c);
}

void sv_trace_cursor_free(SvTraceCursor *c)
{
    if (c == NULL)
        return;
    if (c->open)
        reader_close(&c->reader);
    if (c->ids != NULL)
        g_array_unref(c->ids);
    if (c->kept != NULL)
        g_array_unref(c->kept);
    g_free(c);
}

gboolean sv_trace_cursor_next(SvTraceCursor *c, SvRequestSpec *row, const int64_t **ids,
                              size_t *n_ids, GError **error)
{
    g_return_val_if_fail(c != NULL && row != NULL, FALSE);
    const SvTrace *t = c->trace;
    const int64_t *hash = NULL;
    size_t n = 0;
    if (!t->streamed) {
        if (c->next >= t->n_rows)
            return FALSE;
        *row = g_array_index(t->rows, SvRequestSpec, c->next);
        hash = sv_trace_hash_ids(t, c->next, &n);
        c->next++;
    } else if (c->replay) {
        if (c->next >= c->kept->len)
            return FALSE;
        *row = g_array_index(c->kept, SvRequestSpec, c->next);
        c->next++;
    } else {
        if (!c->open)
            return FALSE;
        GError *local = NULL;
        if (!reader_next(&c->reader, row, c->ids, &local)) {
            if (local == NULL && c->reader.rows == t->n_rows) {
                /* The whole file read as the first pass checked it: later
                 * passes may replay what this one kept. */
                if (c->kept != NULL && c->kept->len == t->n_rows) {
                    reader_close(&c->reader);
                    c->open = FALSE;
                    c->replay = TRUE;
                    c->next = c->kept->len;
                }
                return FALSE;
            }
            /* The first pass read this file without fault. */
            if (local == NULL)
                g_set_error(&local, SV_TRACE_ERROR, SV_ERROR_IO,
                            "%s: the trace changed after it was checked (%zu rows, then %zu); "
                            "run again",
                            t->path, t->n_rows, c->reader.rows);
            g_propagate_error(error, local);
            return FALSE;
        }
        if (c->kept != NULL)
            g_array_append_val(c->kept, *row);
    }
    if (ids != NULL)
        *ids = hash;
    if (n_ids != NULL)
        *n_ids = n;
    return TRUE;
}

gboolean sv_trace_cursor_rewind(SvTraceCursor *c, GError **error)
{
    g_return_val_if_fail(c != NULL, FALSE);
    c->next = 0;
    if (!c->trace->streamed || c->replay)
        return TRUE;
    /* The file again from its start; what a pass cut short kept goes. */
    if (c->kept != NULL)
        g_array_set_size(c->kept, 0);
    return cursor_open(c, error);
}
