/* CSV output in the probe schema (docs/probe-csv.md, read by servesim's
 * src/perf/calib-probe.c): "# probe-csv: 1", "# kind: KIND", then comment
 * lines "# key: value" naming the device, driver, CUDA version, clocks and
 * date, then one header row and one row per measured point. Cells are typed
 * so every file formats numbers the same way; a row must fill exactly the
 * declared columns, which catches a benchmark and its header drifting apart. */
#ifndef PROBE_CSV_H
#define PROBE_CSV_H

#include <glib.h>
#include <stdint.h>
#include <stdio.h>

G_BEGIN_DECLS

/* The schema version written as the first line, "# probe-csv: N". */
#define PROBE_CSV_VERSION 1

typedef struct ProbeCsv ProbeCsv;

/* Create @path (truncating it) and write the comment block and header row:
 * "# probe-csv: 1", "# kind: @kind", then @meta and @extra (NULL-terminated
 * lists of alternating keys and values: the run's device description
 * shared by every file, and this file's own lines; either may be NULL).
 * Keys must be [a-z0-9_-]+; a line break in a value becomes a space.
 * @columns is NULL-terminated. Errors: PROBE_ERROR_IO. (transfer full) */
ProbeCsv *probe_csv_open(const char *path, const char *kind, const char *const *meta,
                         const char *const *extra, const char *const *columns, GError **error);
/* Same, writing to an open stream that stays owned by the caller. */
ProbeCsv *probe_csv_new_for_stream(FILE *stream, const char *kind, const char *const *meta,
                                   const char *const *extra, const char *const *columns);

/* Append one cell to the current row. Strings are quoted (RFC 4180) when they
 * hold a comma, a quote or a line break. A NaN or infinite number is written
 * as an empty cell (not measured, e.g. power without NVML). @decimals is the
 * number of digits after the point (%.*f); probe_csv_g uses %.6g. */
void probe_csv_str(ProbeCsv *csv, const char *value);
void probe_csv_int(ProbeCsv *csv, int64_t value);
void probe_csv_num(ProbeCsv *csv, double value, int decimals);
void probe_csv_g(ProbeCsv *csv, double value);
/* Finish the row; FALSE with PROBE_ERROR_IO if it does not have exactly as
 * many cells as columns (the row is then dropped) or the write failed. */
gboolean probe_csv_end_row(ProbeCsv *csv, GError **error);
/* Rows written so far. */
int64_t probe_csv_rows(const ProbeCsv *csv);
/* Flush and close (a file opened by probe_csv_open). FALSE on a write error.
 * Frees @csv in every case; NULL is a no-op that returns TRUE. */
gboolean probe_csv_close(ProbeCsv *csv, GError **error);
void probe_csv_free(ProbeCsv *csv);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ProbeCsv, probe_csv_free)

/* Quote @value for a CSV cell if it needs it. (transfer full) */
char *probe_csv_escape(const char *value);

G_END_DECLS

#endif /* PROBE_CSV_H */
