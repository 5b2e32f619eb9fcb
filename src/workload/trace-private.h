/* Trace internals shared by the readers of each format: trace.c (CSV:
 * servesim and Azure 2023) builds SvTrace itself; trace-mooncake.c (Mooncake
 * JSON Lines) fills one through these calls. */
#ifndef SV_TRACE_PRIVATE_H
#define SV_TRACE_PRIVATE_H

#include "workload/workload.h"

G_BEGIN_DECLS

/* An empty trace read from @path; @with_hash_ids gives it a hash_ids column.
 * (transfer full) */
SvTrace *sv__trace_new(const char *path, gboolean with_hash_ids);
/* Append @row (its trace_row is set here) and its @n hash ids (copied; only
 * with a hash_ids column). */
void sv__trace_add_row(SvTrace *trace, SvRequestSpec *row, const int64_t *hash_ids, size_t n);
/* Number of rows so far. */
size_t sv__trace_rows(const SvTrace *trace);

/* Read a Mooncake JSONL trace held in @data (@size bytes, from @path): one
 * object per line with "timestamp" (ms), "input_length", "output_length" and
 * optionally "hash_ids". Errors in SV_TRACE_ERROR as "FILE:LINE:COL:
 * message". (transfer full) */
SvTrace *sv__trace_load_mooncake(const char *path, const char *data, size_t size, GError **error);

G_END_DECLS

#endif
