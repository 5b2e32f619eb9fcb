/* Internals shared by the calibration loaders: a small CSV reader that keeps
 * line and column of every cell so that each complaint names FILE:LINE:COL.
 * Quoted fields ("a,b") are read as RFC 4180 has them; '#' lines before the
 * header are metadata ("# key: value"). */
#ifndef SV_CALIB_PRIVATE_H
#define SV_CALIB_PRIVATE_H

#include "perf/calib.h"

G_BEGIN_DECLS

typedef struct {
    const char *path;                   /* for messages (not owned) */
    char *text;                         /* whole file (owned) */
    size_t len, pos;                    /* bytes, read position */
    int line;                           /* 1-based line of the current record */
    int next_line;                      /* 1-based line at pos */
    GPtrArray *meta_keys, *meta_values; /* "# key: value" lines before the header */
    int header_line;                    /* line of the header row */
    int num_cols;
    char **cols;      /* header names (owned) */
    GPtrArray *cells; /* current record: char* (owned by the array) */
    GArray *cell_col; /* int: 1-based column of each cell */
} SvCsv;

/* Read @path whole and its header row (after any '#' metadata lines when
 * @meta is TRUE). Errors: unreadable, empty, binary (NUL bytes), no header,
 * duplicate column names. (transfer full) */
SvCsv *sv__csv_open(const char *path, gboolean meta, GError **error);
void sv__csv_free(SvCsv *csv);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SvCsv, sv__csv_free)

/* Next record: TRUE with the cells filled, FALSE at the end (*@error unset)
 * or on a ragged row or bad quoting (*@error set). Blank lines are skipped. */
gboolean sv__csv_next(SvCsv *csv, GError **error);

/* Index of column @name, or -1. */
int sv__csv_col(const SvCsv *csv, const char *name);
/* Index of required column @name; error at the header line when missing,
 * naming @what (the format) and the nearest column. */
gboolean sv__csv_require(const SvCsv *csv, const char *name, const char *what, int *idx,
                         GError **error);
/* The value of metadata key @key, or NULL. (transfer none) */
const char *sv__csv_meta(const SvCsv *csv, const char *key);

/* Cell @idx of the current record. (transfer none) */
const char *sv__csv_cell(const SvCsv *csv, int idx);
/* Cell @idx as a finite number; an empty cell is an error unless @optional
 * (then *@present is FALSE). */
gboolean sv__csv_number(const SvCsv *csv, int idx, gboolean optional, double *out,
                        gboolean *present, GError **error);
/* Set @error at cell @idx of the current record (idx -1: the record). */
gboolean sv__csv_error(const SvCsv *csv, int idx, GError **error, const char *fmt, ...)
    G_GNUC_PRINTF(4, 5);
/* Set @error at the header row. */
gboolean sv__csv_header_error(const SvCsv *csv, GError **error, const char *fmt, ...)
    G_GNUC_PRINTF(3, 4);

/* A time that must be > 0 and finite, given in @scale seconds per unit (1e-3
 * for ms columns, 1e-6 for us). */
gboolean sv__csv_time(const SvCsv *csv, int idx, double scale, double *out_s, GError **error);
/* A positive whole number (token counts, heads, bytes). */
gboolean sv__csv_count(const SvCsv *csv, int idx, double min, double *out, GError **error);

G_END_DECLS

#endif /* SV_CALIB_PRIVATE_H */
