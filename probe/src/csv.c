/* CSV writer of the probe schema (see csv.h and docs/probe-csv.md). */
#include "csv.h"

#include "probe.h"

#include <errno.h>
#include <math.h>
#include <string.h>

struct ProbeCsv {
    FILE *f;         /* output stream */
    gboolean owns;   /* close @f when done */
    char *path;      /* for messages */
    int ncols;       /* declared columns */
    int cells;       /* cells in the current row */
    GString *row;    /* the row being built */
    int64_t rows;    /* rows written */
    gboolean failed; /* a write failed */
};

char *probe_csv_escape(const char *value)
{
    if (value == NULL)
        return g_strdup("");
    if (strpbrk(value, ",\"\r\n") == NULL)
        return g_strdup(value);
    GString *s = g_string_new("\"");
    for (const char *p = value; *p; p++) {
        if (*p == '"')
            g_string_append_c(s, '"');
        g_string_append_c(s, *p);
    }
    g_string_append_c(s, '"');
    return g_string_free(s, FALSE);
}

static gboolean valid_key(const char *key)
{
    if (key == NULL || *key == '\0')
        return FALSE;
    for (const char *p = key; *p; p++)
        if (!(g_ascii_islower(*p) || g_ascii_isdigit(*p) || *p == '_' || *p == '-'))
            return FALSE;
    return TRUE;
}

static void put_meta(FILE *f, const char *key, const char *value)
{
    /* A value is one line: a stray newline would start a data row. */
    fprintf(f, "# %s: ", key);
    for (const char *p = value ? value : ""; *p; p++)
        fputc(*p == '\n' || *p == '\r' ? ' ' : *p, f);
    fputc('\n', f);
}

static void put_list(FILE *f, const char *const *kv)
{
    for (int i = 0; kv != NULL && kv[i] != NULL && kv[i + 1] != NULL; i += 2) {
        g_return_if_fail(valid_key(kv[i]));
        put_meta(f, kv[i], kv[i + 1]);
    }
}

ProbeCsv *probe_csv_new_for_stream(FILE *stream, const char *kind, const char *const *meta,
                                   const char *const *extra, const char *const *columns)
{
    g_return_val_if_fail(stream != NULL && kind != NULL && columns != NULL, NULL);
    ProbeCsv *csv = g_new0(ProbeCsv, 1);
    csv->f = stream;
    csv->row = g_string_new(NULL);
    char version[16];
    g_snprintf(version, sizeof version, "%d", PROBE_CSV_VERSION);
    /* servesim recognises a probe CSV by its first line. */
    put_meta(stream, "probe-csv", version);
    put_meta(stream, "kind", kind);
    put_list(stream, meta);
    put_list(stream, extra);
    for (int i = 0; columns[i] != NULL; i++) {
        fputs(i ? "," : "", stream);
        fputs(columns[i], stream);
        csv->ncols++;
    }
    fputc('\n', stream);
    return csv;
}

ProbeCsv *probe_csv_open(const char *path, const char *kind, const char *const *meta,
                         const char *const *extra, const char *const *columns, GError **error)
{
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        g_set_error(error, PROBE_ERROR, PROBE_ERROR_IO, "%s: cannot create: %s", path,
                    g_strerror(errno));
        return NULL;
    }
    ProbeCsv *csv = probe_csv_new_for_stream(f, kind, meta, extra, columns);
    csv->owns = TRUE;
    csv->path = g_strdup(path);
    return csv;
}

static void cell_sep(ProbeCsv *csv)
{
    if (csv->cells++ > 0)
        g_string_append_c(csv->row, ',');
}

void probe_csv_str(ProbeCsv *csv, const char *value)
{
    cell_sep(csv);
    g_autofree char *esc = probe_csv_escape(value);
    g_string_append(csv->row, esc);
}

void probe_csv_int(ProbeCsv *csv, int64_t value)
{
    cell_sep(csv);
    g_string_append_printf(csv->row, "%" G_GINT64_FORMAT, (gint64)value);
}

void probe_csv_num(ProbeCsv *csv, double value, int decimals)
{
    cell_sep(csv);
    if (isfinite(value)) {
        /* "-0.000" reads oddly and sorts apart from 0: print 0. */
        char buf[64];
        g_snprintf(buf, sizeof buf, "%.*f", decimals, value);
        if (buf[0] == '-' && strspn(buf + 1, "0.") == strlen(buf + 1))
            g_string_append(csv->row, buf + 1);
        else
            g_string_append(csv->row, buf);
    }
}

void probe_csv_g(ProbeCsv *csv, double value)
{
    cell_sep(csv);
    if (isfinite(value))
        g_string_append_printf(csv->row, "%.6g", value);
}

gboolean probe_csv_end_row(ProbeCsv *csv, GError **error)
{
    int cells = csv->cells;
    csv->cells = 0;
    if (cells != csv->ncols) {
        g_set_error(error, PROBE_ERROR, PROBE_ERROR_IO,
                    "%s: internal error: a row has %d cells for %d columns",
                    csv->path ? csv->path : "csv", cells, csv->ncols);
        g_string_truncate(csv->row, 0);
        return FALSE;
    }
    g_string_append_c(csv->row, '\n');
    if (fwrite(csv->row->str, 1, csv->row->len, csv->f) != csv->row->len)
        csv->failed = TRUE;
    g_string_truncate(csv->row, 0);
    if (csv->failed) {
        g_set_error(error, PROBE_ERROR, PROBE_ERROR_IO, "%s: write failed",
                    csv->path ? csv->path : "csv");
        return FALSE;
    }
    csv->rows++;
    return TRUE;
}

int64_t probe_csv_rows(const ProbeCsv *csv)
{
    return csv->rows;
}

gboolean probe_csv_close(ProbeCsv *csv, GError **error)
{
    if (csv == NULL)
        return TRUE;
    gboolean ok = !csv->failed && fflush(csv->f) == 0 && !ferror(csv->f);
    if (csv->owns && fclose(csv->f) != 0)
        ok = FALSE;
    if (!ok)
        g_set_error(error, PROBE_ERROR, PROBE_ERROR_IO, "%s: write failed",
                    csv->path ? csv->path : "csv");
    g_string_free(csv->row, TRUE);
    g_free(csv->path);
    g_free(csv);
    return ok;
}

void probe_csv_free(ProbeCsv *csv)
{
    (void)probe_csv_close(csv, NULL);
}
