/* The CSV reader of the calibration loaders: whole-file, one record at a
 * time, every cell with its line and column. Numbers are decimal only
 * (strtod would also take "nan", "inf" and hex), so a cell such as "n/a"
 * or "1,5" is an error at its place rather than a silent 0 or NaN. */
#include "perf/calib-private.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>

void sv__csv_free(SvCsv *csv)
{
    if (csv == NULL)
        return;
    g_free(csv->text);
    g_strfreev(csv->cols);
    if (csv->meta_keys != NULL)
        g_ptr_array_free(csv->meta_keys, TRUE);
    if (csv->meta_values != NULL)
        g_ptr_array_free(csv->meta_values, TRUE);
    if (csv->cells != NULL)
        g_ptr_array_free(csv->cells, TRUE);
    if (csv->cell_col != NULL)
        g_array_free(csv->cell_col, TRUE);
    g_free(csv);
}

static gboolean verror(const SvCsv *csv, int line, int col, GError **error, const char *fmt,
                       va_list ap)
{
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    if (col > 0)
        g_set_error(error, SV_HW_ERROR, SV_ERROR_INVALID, "%s:%d:%d: %s", csv->path, line, col,
                    msg);
    else
        g_set_error(error, SV_HW_ERROR, SV_ERROR_INVALID, "%s:%d: %s", csv->path, line, msg);
    return FALSE;
}

gboolean sv__csv_error(const SvCsv *csv, int idx, GError **error, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int col =
        idx >= 0 && (guint)idx < csv->cell_col->len ? g_array_index(csv->cell_col, int, idx) : 1;
    verror(csv, csv->line, col, error, fmt, ap);
    va_end(ap);
    return FALSE;
}

gboolean sv__csv_header_error(const SvCsv *csv, GError **error, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    verror(csv, csv->header_line, 1, error, fmt, ap);
    va_end(ap);
    return FALSE;
}

/* Parse one record starting at csv->pos into cells. Returns FALSE at the end
 * of the text (no record) with *error unset. */
static gboolean read_record(SvCsv *csv, GError **error)
{
    g_ptr_array_set_size(csv->cells, 0);
    g_array_set_size(csv->cell_col, 0);
    const char *t = csv->text;
    /* Skip blank lines. */
    for (;;) {
        if (csv->pos >= csv->len)
            return FALSE;
        size_t e = csv->pos;
        while (e < csv->len && (t[e] == ' ' || t[e] == '\t' || t[e] == '\r'))
            e++;
        if (e < csv->len && t[e] != '\n')
            break;
        csv->pos = e + 1;
        csv->next_line++;
    }
    size_t line_start = csv->pos;
    csv->line = csv->next_line;
    GString *cell = g_string_new(NULL);
    for (;;) {
        size_t p = csv->pos;
        while (p < csv->len && t[p] == ' ')
            p++;
        int col = (int)(p - line_start) + 1;
        g_string_truncate(cell, 0);
        if (p < csv->len && t[p] == '"') {
            int qline = csv->next_line, qcol = col;
            p++;
            for (;;) {
                if (p >= csv->len) {
                    g_string_free(cell, TRUE);
                    g_set_error(error, SV_HW_ERROR, SV_ERROR_PARSE,
                                "%s:%d:%d: unterminated quoted field", csv->path, qline, qcol);
                    return FALSE;
                }
                if (t[p] == '"') {
                    if (p + 1 < csv->len && t[p + 1] == '"') {
                        g_string_append_c(cell, '"');
                        p += 2;
                        continue;
                    }
                    p++;
                    break;
                }
                if (t[p] == '\n') {
                    csv->next_line++;
                    line_start = p + 1;
                }
                g_string_append_c(cell, t[p++]);
            }
            while (p < csv->len && (t[p] == ' ' || t[p] == '\r'))
                p++;
            if (p < csv->len && t[p] != ',' && t[p] != '\n') {
                g_string_free(cell, TRUE);
                g_set_error(error, SV_HW_ERROR, SV_ERROR_PARSE,
                            "%s:%d:%d: text after a closing quote", csv->path, csv->next_line,
                            (int)(p - line_start) + 1);
                return FALSE;
            }
        } else {
            size_t b = p;
            while (p < csv->len && t[p] != ',' && t[p] != '\n')
                p++;
            size_t e = p;
            while (e > b && (t[e - 1] == ' ' || t[e - 1] == '\r' || t[e - 1] == '\t'))
                e--;
            g_string_append_len(cell, t + b, (gssize)(e - b));
        }
        g_ptr_array_add(csv->cells, g_strdup(cell->str));
        g_array_append_val(csv->cell_col, col);
        if (p >= csv->len || t[p] == '\n') {
            csv->pos = p + 1;
            csv->next_line++;
            break;
        }
        csv->pos = p + 1; /* past the comma */
    }
    g_string_free(cell, TRUE);
    return TRUE;
}

SvCsv *sv__csv_open(const char *path, gboolean meta, GError **error)
{
    g_autoptr(SvCsv) csv = g_new0(SvCsv, 1);
    csv->path = path;
    g_autoptr(GError) local = NULL;
    if (!g_file_get_contents(path, &csv->text, &csv->len, &local)) {
        g_set_error(error, SV_HW_ERROR, SV_ERROR_IO, "%s: cannot read: %s", path, local->message);
        return NULL;
    }
    if (memchr(csv->text, '\0', csv->len) != NULL) {
        g_set_error(error, SV_HW_ERROR, SV_ERROR_PARSE, "%s: binary file (NUL bytes), not a CSV",
                    path);
        return NULL;
    }
    csv->line = csv->next_line = 1;
    csv->meta_keys = g_ptr_array_new_with_free_func(g_free);
    csv->meta_values = g_ptr_array_new_with_free_func(g_free);
    csv->cells = g_ptr_array_new_with_free_func(g_free);
    csv->cell_col = g_array_new(FALSE, FALSE, sizeof(int));
    /* Metadata lines "# key: value" before the header. */
    while (meta && csv->pos < csv->len && csv->text[csv->pos] == '#') {
        const char *nl = memchr(csv->text + csv->pos, '\n', csv->len - csv->pos);
        size_t end = nl ? (size_t)(nl - csv->text) : csv->len;
        g_autofree char *l = g_strndup(csv->text + csv->pos + 1, end - csv->pos - 1);
        g_strstrip(l);
        char *colon = strchr(l, ':');
        if (colon != NULL) {
            *colon = '\0';
            g_ptr_array_add(csv->meta_keys, g_strstrip(g_strdup(l)));
            g_ptr_array_add(csv->meta_values, g_strstrip(g_strdup(colon + 1)));
        }
        csv->pos = end + 1;
        csv->next_line++;
    }
    if (!read_record(csv, error)) {
        if (error == NULL || *error == NULL)
            g_set_error(error, SV_HW_ERROR, SV_ERROR_PARSE, "%s: empty file (no header row)", path);
        return NULL;
    }
    csv->header_line = csv->line;
    csv->num_cols = (int)csv->cells->len;
    csv->cols = g_new0(char *, csv->num_cols + 1);
    for (int i = 0; i < csv->num_cols; i++) {
        csv->cols[i] = g_strdup(csv->cells->pdata[i]);
        for (int j = 0; j < i; j++)
            if (csv->cols[i][0] != '\0' && strcmp(csv->cols[i], csv->cols[j]) == 0) {
                sv__csv_error(csv, i, error, "duplicate column '%s'", csv->cols[i]);
                return NULL;
            }
    }
    return g_steal_pointer(&csv);
}

gboolean sv__csv_next(SvCsv *csv, GError **error)
{
    if (!read_record(csv, error))
        return FALSE;
    if ((int)csv->cells->len != csv->num_cols) {
        sv__csv_error(csv, -1, error, "%u fields, but the header has %d", csv->cells->len,
                      csv->num_cols);
        return FALSE;
    }
    return TRUE;
}

int sv__csv_col(const SvCsv *csv, const char *name)
{
    for (int i = 0; i < csv->num_cols; i++)
        if (strcmp(csv->cols[i], name) == 0)
            return i;
    return -1;
}

gboolean sv__csv_require(const SvCsv *csv, const char *name, const char *what, int *idx,
                         GError **error)
{
    *idx = sv__csv_col(csv, name);
    if (*idx >= 0)
        return TRUE;
    const char *near = sv_nearest(name, (const char *const *)csv->cols);
    if (near != NULL)
        return sv__csv_header_error(csv, error, "missing column '%s' (%s; found '%s')", name, what,
                                    near);
    return sv__csv_header_error(csv, error, "missing column '%s' (%s)", name, what);
}

const char *sv__csv_meta(const SvCsv *csv, const char *key)
{
    for (guint i = 0; i < csv->meta_keys->len; i++)
        if (g_ascii_strcasecmp(csv->meta_keys->pdata[i], key) == 0)
            return csv->meta_values->pdata[i];
    return NULL;
}

const char *sv__csv_cell(const SvCsv *csv, int idx)
{
    g_return_val_if_fail(idx >= 0 && (guint)idx < csv->cells->len, "");
    return csv->cells->pdata[idx];
}

gboolean sv__csv_number(const SvCsv *csv, int idx, gboolean optional, double *out,
                        gboolean *present, GError **error)
{
    const char *s = sv__csv_cell(csv, idx);
    if (present != NULL)
        *present = *s != '\0';
    if (*s == '\0') {
        if (optional)
            return TRUE;
        return sv__csv_error(csv, idx, error, "empty cell in column '%s'", csv->cols[idx]);
    }
    char *end = NULL;
    errno = 0;
    double v = g_ascii_strtod(s, &end);
    if (strspn(s, "0123456789+-.eE") != strlen(s) || end == s || *end != '\0' || errno == ERANGE ||
        !isfinite(v))
        return sv__csv_error(csv, idx, error, "'%s' is not a number (column '%s')", s,
                             csv->cols[idx]);
    *out = v;
    return TRUE;
}

gboolean sv__csv_time(const SvCsv *csv, int idx, double scale, double *out_s, GError **error)
{
    double v = 0;
    if (!sv__csv_number(csv, idx, FALSE, &v, NULL, error))
        return FALSE;
    if (v < 0)
        return sv__csv_error(csv, idx, error, "negative time %s in column '%s'",
                             sv__csv_cell(csv, idx), csv->cols[idx]);
    if (v == 0)
        return sv__csv_error(csv, idx, error, "zero time in column '%s' (no kernel takes 0)",
                             csv->cols[idx]);
    *out_s = v * scale;
    return TRUE;
}

gboolean sv__csv_count(const SvCsv *csv, int idx, double min, double *out, GError **error)
{
    double v = 0;
    if (!sv__csv_number(csv, idx, FALSE, &v, NULL, error))
        return FALSE;
    if (v != floor(v))
        return sv__csv_error(csv, idx, error, "column '%s' must be a whole number, got %s",
                             csv->cols[idx], sv__csv_cell(csv, idx));
    if (v < min)
        return sv__csv_error(csv, idx, error, "column '%s' must be at least %g, got %s",
                             csv->cols[idx], min, sv__csv_cell(csv, idx));
    *out = v;
    return TRUE;
}
