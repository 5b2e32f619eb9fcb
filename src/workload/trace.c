/* Trace reader: loads a request trace CSV into memory, converting the native
 * Azure LLM inference 2023 format on load, and rejects bad input with the
 * exact file:line:col of the offending field. Parsing is a single pass over
 * the file held in memory, so a 20k-row trace loads in a few milliseconds.
 * traces/README.md documents the formats. */
#include "workload/trace-private.h"

#include <math.h>
#include <stdarg.h>
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

typedef enum { FORMAT_SERVESIM, FORMAT_AZURE } Format;

/* Column names per format, indexed by Column; NULL where the format lacks it.
 */
static const char *const servesim_columns[] = {
    "arrival_s", "input_tokens", "output_tokens", "hash_ids",
    "session",   "tenant",       "slo_class",     NULL};
static const char *const azure_columns[] = {"TIMESTAMP", "ContextTokens", "GeneratedTokens", NULL};
#define REQUIRED_COLUMNS 3 /* arrival, input, output: the first three of each list */

struct SvTrace {
    char *path;              /* as given to sv_trace_load */
    GArray *rows;            /* SvRequestSpec, file order */
    GArray *hash_offsets;    /* size_t, rows + 1 entries into hash_ids; empty when no
                                column */
    GArray *hash_ids;        /* int64_t, all rows' block hashes back to back */
    GPtrArray *tenant_names; /* char*, index = tenant; NULL when no column */
    GPtrArray *slo_names;    /* char*, index = slo_class; NULL when no column */
};

/* Where the parser is, for error messages. */
typedef struct {
    const char *path; /* file name for messages */
    const char *line; /* start of the current line */
    int lineno;       /* 1-based */
} Cursor;

/* A field of the current line: [start, end), blanks trimmed. */
typedef struct {
    const char *start;
    const char *end;
} Field;

static int column_of(const Cursor *cur, const char *at)
{
    /* Lines are validated as UTF-8 before any field is looked at, so the
     * character count is well defined. */
    return (int)g_utf8_strlen(cur->line, at - cur->line) + 1;
}

G_GNUC_PRINTF(4, 5)
static void set_error(GError **error, const Cursor *cur, const char *at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error(error, SV_TRACE_ERROR, SV_ERROR_PARSE, "%s:%d:%d: %s", cur->path, cur->lineno,
                column_of(cur, at), msg);
}

static char *field_dup(const Field *f)
{
    return g_strndup(f->start, (gsize)(f->end - f->start));
}

/* Reject bytes no text trace has (NUL, other control bytes, invalid UTF-8):
 * a binary file fails on its first line with a clear message instead of a
 * confusing "unknown column". */
static gboolean check_text(const Cursor *cur, const char *end, GError **error)
{
    for (const char *p = cur->line; p < end; p++) {
        unsigned char c = (unsigned char)*p;
        if (c < 0x20 && c != '\t') {
            /* Column of a control byte: count the valid prefix only. */
            const char *valid_end = NULL;
            g_utf8_validate(cur->line, p - cur->line, &valid_end);
            set_error(error, cur, valid_end,
                      "control byte 0x%02x: this does not look like a text CSV trace", c);
            return FALSE;
        }
    }
    const char *bad = NULL;
    if (!g_utf8_validate(cur->line, end - cur->line, &bad)) {
        set_error(error, cur, bad, "invalid UTF-8: this does not look like a text CSV trace");
        return FALSE;
    }
    return TRUE;
}

/* Split the line [line, end) at commas into @fields (room for @max + 1);
 * returns the number of fields found, or @max + 1 when there are more. */
static int split_fields(const char *line, const char *end, Field *fields, int max)
{
    int n = 0;
    const char *p = line;
    for (;;) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *fend = comma ? comma : end;
        Field f = {p, fend};
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

static gboolean field_empty(const Field *f)
{
    return f->start == f->end;
}

static gboolean field_is(const Field *f, const char *name)
{
    size_t len = strlen(name);
    return (size_t)(f->end - f->start) == len && memcmp(f->start, name, len) == 0;
}

/* A token count: a positive decimal integer that fits int32. */
static gboolean parse_tokens(const Cursor *cur, const Field *f, const char *what, int32_t *out,
                             GError **error)
{
    if (field_empty(f)) {
        set_error(error, cur, f->start, "%s is empty", what);
        return FALSE;
    }
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
    if (negative && v != 0) {
        set_error(error, cur, f->start, "%s is negative (%.*s); lengths are >= 1 token", what,
                  (int)(f->end - f->start), f->start);
        return FALSE;
    }
    if (v == 0) {
        set_error(error, cur, f->start, "%s is 0; lengths are >= 1 token", what);
        return FALSE;
    }
    if (v > INT32_MAX) {
        set_error(error, cur, f->start, "%s is too large (%.*s tokens)", what,
                  (int)(f->end - f->start), f->start);
        return FALSE;
    }
    *out = (int32_t)v;
    return TRUE;
not_int : {
    g_autofree char *text = field_dup(f);
    set_error(error, cur, f->start, "%s is not an integer: '%s'", what, text);
    return FALSE;
}
}

/* servesim arrival_s: a finite, non-negative number of seconds. */
static gboolean parse_seconds(const Cursor *cur, const Field *f, SvTimeNs *out, GError **error)
{
    if (field_empty(f)) {
        set_error(error, cur, f->start, "arrival_s is empty");
        return FALSE;
    }
    /* The field is trimmed and non-empty, so strtod cannot skip blanks into
     * the next line; it stops at the comma or line end. */
    char *end = NULL;
    double v = g_ascii_strtod(f->start, &end);
    g_autofree char *text = field_dup(f);
    if (end != f->end) {
        set_error(error, cur, f->start, "arrival_s is not a number: '%s'", text);
        return FALSE;
    }
    if (!isfinite(v)) {
        set_error(error, cur, f->start, "arrival_s is not finite: '%s'", text);
        return FALSE;
    }
    if (v < 0) {
        set_error(error, cur, f->start, "arrival_s is negative (%s s)", text);
        return FALSE;
    }
    if (v > 9.0e9) { /* int64 nanoseconds hold 292 years */
        set_error(error, cur, f->start, "arrival_s is too large (%s s)", text);
        return FALSE;
    }
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

/* Azure TIMESTAMP "YYYY-MM-DD HH:MM:SS[.f{1,9}]" (also 'T' for the space and
 * an optional "Z" or "+HH:MM"/"-HH:MM" offset) -> ns since the Unix epoch.
 * Civil-date arithmetic, so spans across midnight, month or year ends work. */
static gboolean parse_timestamp(const Cursor *cur, const Field *f, SvTimeNs *out, GError **error)
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
        set_error(error, cur, f->start, "TIMESTAMP is not 'YYYY-MM-DD HH:MM:SS.fffffff': '%s'",
                  text);
        return FALSE;
    }
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || s > 59) {
        g_autofree char *text = field_dup(f);
        set_error(error, cur, f->start, "TIMESTAMP is not a valid date and time: '%s'", text);
        return FALSE;
    }
    int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s - offset_s;
    *out = secs * SV_NS_PER_S + frac_ns;
    return TRUE;
}

/* Map a name to its index, numbering new names in first-seen order. */
static int32_t name_index(GPtrArray *names, GHashTable *index, const Field *f)
{
    g_autofree char *name = field_dup(f);
    gpointer found = NULL;
    if (g_hash_table_lookup_extended(index, name, NULL, &found))
        return GPOINTER_TO_INT(found);
    int32_t i = (int32_t)names->len;
    g_ptr_array_add(names, g_strdup(name));
    g_hash_table_insert(index, g_steal_pointer(&name), GINT_TO_POINTER(i));
    return i;
}

static gboolean parse_hash_ids(const Cursor *cur, const Field *f, GArray *ids, GError **error)
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
            set_error(error, cur, tok, "hash_ids entry is not an integer: '%.*s'",
                      (int)(tend - tok), tok);
            return FALSE;
        }
        int64_t h = *tok == '-' ? -(int64_t)v : (int64_t)v;
        g_array_append_val(ids, h);
    }
    return TRUE;
}

static gboolean parse_session(const Cursor *cur, const Field *f, int32_t *out, GError **error)
{
    if (field_empty(f)) {
        *out = -1;
        return TRUE;
    }
    int64_t v = 0;
    for (const char *p = f->start; p < f->end; p++) {
        if (*p < '0' || *p > '9') {
            g_autofree char *text = field_dup(f);
            set_error(error, cur, f->start, "session is not a non-negative integer: '%s'", text);
            return FALSE;
        }
        v = v * 10 + (*p - '0');
        if (v > INT32_MAX) {
            set_error(error, cur, f->start, "session id is too large");
            return FALSE;
        }
    }
    *out = (int32_t)v;
    return TRUE;
}

/* Read the header: detect the format and map file columns to Columns.
 * @map[i] is the Column of file column i. */
static gboolean parse_header(const Cursor *cur, const char *end, Format *format, int *map,
                             int *ncols, gboolean *present, GError **error)
{
    Field fields[COL_COUNT + 1];
    int n = split_fields(cur->line, end, fields, COL_COUNT);
    if (n > COL_COUNT)
        n = COL_COUNT + 1;

    *format = FORMAT_SERVESIM;
    for (int i = 0; i < n && i < COL_COUNT; i++) {
        for (int c = 0; azure_columns[c] != NULL; c++)
            if (field_is(&fields[i], azure_columns[c]))
                *format = FORMAT_AZURE;
        /* Vidur's processed traces name their columns this way; Mooncake
         * JSONL is caught by the caller. Both are planned, not yet read. */
        if (field_is(&fields[i], "arrived_at") || field_is(&fields[i], "num_prefill_tokens")) {
            set_error(error, cur, fields[i].start,
                      "this looks like a Vidur processed trace, which servesim does not "
                      "read yet; rename the header to arrival_s,input_tokens,output_tokens "
                      "(see traces/README.md)");
            return FALSE;
        }
    }
    const char *const *names = *format == FORMAT_AZURE ? azure_columns : servesim_columns;
    /* No "too many columns" check is needed: with more columns than names,
     * one is unknown or repeated, and both are reported below. */
    int first_at[COL_COUNT];
    for (int c = 0; c < COL_COUNT; c++) {
        present[c] = FALSE;
        first_at[c] = 0;
    }
    for (int i = 0; i < n; i++) {
        const Field *f = &fields[i];
        int col = -1;
        for (int c = 0; names[c] != NULL; c++)
            if (field_is(f, names[c]))
                col = c;
        if (col < 0) {
            g_autofree char *name = field_dup(f);
            const char *near = sv_nearest(name, names);
            g_autofree char *valid = g_strjoinv(",", (char **)names);
            if (field_empty(f))
                set_error(error, cur, f->start, "empty column name (valid: %s)", valid);
            else if (near != NULL)
                set_error(error, cur, f->start, "unknown column '%s' (did you mean '%s'?)", name,
                          near);
            else
                set_error(error, cur, f->start, "unknown column '%s' (valid: %s)", name, valid);
            return FALSE;
        }
        if (present[col]) {
            set_error(error, cur, f->start, "column '%s' appears twice (first in column %d)",
                      names[col], first_at[col]);
            return FALSE;
        }
        present[col] = TRUE;
        first_at[col] = column_of(cur, f->start);
        map[i] = col;
    }
    for (int c = 0; c < REQUIRED_COLUMNS; c++) {
        if (!present[c]) {
            g_autofree char *required = g_strjoinv(
                ",", (char *[]){(char *)names[0], (char *)names[1], (char *)names[2], NULL});
            set_error(error, cur, cur->line, "missing column '%s' (required: %s)", names[c],
                      required);
            return FALSE;
        }
    }
    *ncols = n;
    return TRUE;
}

SvTrace *sv_trace_load(const char *path, GError **error)
{
    g_return_val_if_fail(path != NULL, NULL);
    g_autofree char *data = NULL;
    gsize size = 0;
    GError *io_error = NULL;
    if (!g_file_get_contents(path, &data, &size, &io_error)) {
        int code = g_error_matches(io_error, G_FILE_ERROR, G_FILE_ERROR_NOENT) ? SV_ERROR_NOT_FOUND
                                                                               : SV_ERROR_IO;
        g_set_error(error, SV_TRACE_ERROR, code, "%s: cannot read trace: %s", path,
                    io_error->message);
        g_error_free(io_error);
        return NULL;
    }

    g_autoptr(SvTrace) trace = g_new0(SvTrace, 1);
    trace->path = g_strdup(path);
    trace->rows = g_array_new(FALSE, FALSE, sizeof(SvRequestSpec));
    trace->hash_offsets = g_array_new(FALSE, FALSE, sizeof(size_t));
    trace->hash_ids = g_array_new(FALSE, FALSE, sizeof(int64_t));
    g_autoptr(GHashTable) tenant_index =
        g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    g_autoptr(GHashTable) slo_index = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);

    /* Pre-size the row array: one row per newline is an upper bound. */
    size_t newlines = 0;
    for (const char *p = data; (p = memchr(p, '\n', size - (size_t)(p - data))) != NULL; p++)
        newlines++;
    g_array_set_size(trace->rows, newlines + 1);
    g_array_set_size(trace->rows, 0);

    const char *end_of_data = data + size;
    const char *p = data;
    /* A UTF-8 byte-order mark (spreadsheet exports) is not part of the header. */
    if (size >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
        p += 3;
    Cursor cur = {path, p, 0};

    Format format = FORMAT_SERVESIM;
    int map[COL_COUNT + 1];
    int ncols = 0;
    gboolean present[COL_COUNT];
    gboolean have_header = FALSE;
    SvTimeNs first_ns = 0, prev_ns = 0;

    while (p < end_of_data) {
        const char *nl = memchr(p, '\n', (size_t)(end_of_data - p));
        const char *next = nl ? nl + 1 : end_of_data;
        const char *end = nl ? nl : end_of_data;
        if (end > p && end[-1] == '\r')
            end--;
        cur.line = p;
        cur.lineno++;
        p = next;
        if (end - cur.line > SV_TRACE_MAX_LINE_BYTES) {
            g_set_error(error, SV_TRACE_ERROR, SV_ERROR_PARSE,
                        "%s:%d:1: line is longer than %d bytes: not a trace CSV?", path, cur.lineno,
                        SV_TRACE_MAX_LINE_BYTES);
            return NULL;
        }
        if (!check_text(&cur, end, error))
            return NULL;
        /* Blank lines (the usual trailing one included) carry nothing. */
        const char *q = cur.line;
        while (q < end && (*q == ' ' || *q == '\t'))
            q++;
        if (q == end)
            continue;

        if (!have_header) {
            /* JSON Lines: Mooncake's format (trace-mooncake.c). */
            if (*q == '{')
                return sv__trace_load_mooncake(path, data, size, error);
            if (*q == '[') {
                set_error(error, &cur, q,
                          "this looks like a JSON array; servesim reads JSON Lines (one "
                          "Mooncake request object per line) or CSV (traces/README.md)");
                return NULL;
            }
            if (!parse_header(&cur, end, &format, map, &ncols, present, error))
                return NULL;
            have_header = TRUE;
            if (present[COL_TENANT])
                trace->tenant_names = g_ptr_array_new_with_free_func(g_free);
            if (present[COL_SLO_CLASS])
                trace->slo_names = g_ptr_array_new_with_free_func(g_free);
            if (present[COL_HASH_IDS]) {
                size_t zero = 0;
                g_array_append_val(trace->hash_offsets, zero);
            }
            continue;
        }

        Field fields[COL_COUNT + 1];
        int n = split_fields(cur.line, end, fields, ncols);
        if (n != ncols) {
            if (n > ncols)
                set_error(error, &cur, fields[ncols].start,
                          "row has more than the header's %d fields", ncols);
            else
                set_error(error, &cur, end, "row has %d fields, the header has %d", n, ncols);
            return NULL;
        }
        SvRequestSpec row = {.session = -1, .trace_row = (int32_t)trace->rows->len};
        const Field *arrival_field = NULL;
        for (int i = 0; i < ncols; i++) {
            const Field *f = &fields[i];
            switch ((Column)map[i]) {
            case COL_ARRIVAL:
                arrival_field = f;
                if (format == FORMAT_AZURE) {
                    if (!parse_timestamp(&cur, f, &row.arrival_ns, error))
                        return NULL;
                } else if (!parse_seconds(&cur, f, &row.arrival_ns, error)) {
                    return NULL;
                }
                break;
            case COL_INPUT:
                if (!parse_tokens(&cur, f,
                                  format == FORMAT_AZURE ? "ContextTokens" : "input_tokens",
                                  &row.input_tokens, error))
                    return NULL;
                break;
            case COL_OUTPUT:
                if (!parse_tokens(&cur, f,
                                  format == FORMAT_AZURE ? "GeneratedTokens" : "output_tokens",
                                  &row.output_tokens, error))
                    return NULL;
                break;
            case COL_HASH_IDS:
                if (!parse_hash_ids(&cur, f, trace->hash_ids, error))
                    return NULL;
                break;
            case COL_SESSION:
                if (!parse_session(&cur, f, &row.session, error))
                    return NULL;
                break;
            case COL_TENANT:
            case COL_SLO_CLASS: {
                gboolean tenant = map[i] == COL_TENANT;
                if (field_empty(f)) {
                    set_error(error, &cur, f->start,
                              "%s is empty (leave the column out when rows have none)",
                              tenant ? "tenant" : "slo_class");
                    return NULL;
                }
                if (tenant)
                    row.tenant = name_index(trace->tenant_names, tenant_index, f);
                else
                    row.slo_class = name_index(trace->slo_names, slo_index, f);
                break;
            }
            case COL_COUNT:
                g_assert_not_reached();
            }
        }
        /* Azure times are wall clock: make them relative to the first row. */
        if (format == FORMAT_AZURE) {
            if (trace->rows->len == 0)
                first_ns = row.arrival_ns;
            row.arrival_ns -= first_ns;
        }
        if (trace->rows->len > 0 && row.arrival_ns < prev_ns) {
            set_error(error, &cur, arrival_field->start,
                      "arrival goes backwards (%.9g s, the row before is at %.9g s): sort the "
                      "trace by arrival",
                      sv_ns_to_s(row.arrival_ns), sv_ns_to_s(prev_ns));
            return NULL;
        }
        prev_ns = row.arrival_ns;
        g_array_append_val(trace->rows, row);
        if (present[COL_HASH_IDS]) {
            size_t off = trace->hash_ids->len;
            g_array_append_val(trace->hash_offsets, off);
        }
    }

    if (!have_header) {
        g_set_error(error, SV_TRACE_ERROR, SV_ERROR_PARSE,
                    "%s:1:1: empty trace: expected a header row "
                    "(arrival_s,input_tokens,output_tokens)",
                    path);
        return NULL;
    }
    if (trace->rows->len == 0) {
        g_set_error(error, SV_TRACE_ERROR, SV_ERROR_PARSE,
                    "%s:%d:1: the trace has a header but no request rows", path, cur.lineno + 1);
        return NULL;
    }
    if (trace->rows->len > INT32_MAX) {
        g_set_error(error, SV_TRACE_ERROR, SV_ERROR_INVALID, "%s: too many rows", path);
        return NULL;
    }
    return g_steal_pointer(&trace);
}

void sv_trace_free(SvTrace *trace)
{
    if (trace == NULL)
        return;
    g_free(trace->path);
    g_array_unref(trace->rows);
    g_array_unref(trace->hash_offsets);
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
    return trace->rows->len;
}

const SvRequestSpec *sv_trace_row(const SvTrace *trace, size_t i)
{
    g_return_val_if_fail(trace != NULL, NULL);
    SV_ASSERT(i < trace->rows->len, "row %zu of %u", i, trace->rows->len);
    return &g_array_index(trace->rows, SvRequestSpec, i);
}

const int64_t *sv_trace_hash_ids(const SvTrace *trace, size_t i, size_t *n_out)
{
    g_return_val_if_fail(trace != NULL && n_out != NULL, NULL);
    SV_ASSERT(i < trace->rows->len, "row %zu of %u", i, trace->rows->len);
    *n_out = 0;
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

SvTrace *sv__trace_new(const char *path, gboolean with_hash_ids)
{
    SvTrace *trace = g_new0(SvTrace, 1);
    trace->path = g_strdup(path);
    trace->rows = g_array_new(FALSE, FALSE, sizeof(SvRequestSpec));
    trace->hash_offsets = g_array_new(FALSE, FALSE, sizeof(size_t));
    trace->hash_ids = g_array_new(FALSE, FALSE, sizeof(int64_t));
    if (with_hash_ids) {
        size_t zero = 0;
        g_array_append_val(trace->hash_offsets, zero);
    }
    return trace;
}

void sv__trace_add_row(SvTrace *trace, SvRequestSpec *row, const int64_t *hash_ids, size_t n)
{
    row->trace_row = (int32_t)trace->rows->len;
    g_array_append_val(trace->rows, *row);
    if (trace->hash_offsets->len > 0) {
        g_array_append_vals(trace->hash_ids, hash_ids, (guint)n);
        size_t off = trace->hash_ids->len;
        g_array_append_val(trace->hash_offsets, off);
    }
}

size_t sv__trace_rows(const SvTrace *trace)
{
    return trace->rows->len;
}
