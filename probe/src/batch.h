/* The batch of a whole-layer benchmark, in servesim's `predict --batch`
 * syntax (prefill=TOKENSxCOUNT[@CONTEXT], decode=COUNT@CONTEXT, comma
 * separated), kept term by term: the layer launches one prefill attention
 * per chunk and one paged decode over all decode sequences. */
#ifndef PROBE_BATCH_H
#define PROBE_BATCH_H

#include "probe.h"

#include "perf/predictor.h"

G_BEGIN_DECLS

#define PROBE_BATCH_MAX_TERMS 16

typedef struct {
    gboolean prefill; /* prefill chunk(s) or decode sequences */
    int64_t tokens;   /* prefill: new tokens per chunk; decode: 1 */
    int64_t count;    /* chunks or sequences */
    int64_t context;  /* tokens already in the KV cache */
} ProbeBatchTerm;

typedef struct {
    int nterms;                                  /* terms used */
    ProbeBatchTerm terms[PROBE_BATCH_MAX_TERMS]; /* in spec order */
    SvBatchShape shape;                          /* servesim's aggregates of the same spec */
    int64_t tokens;                              /* new tokens = GEMM M */
    int64_t prefill_chunks;                      /* prefill sequences */
    int64_t decode_seqs;                         /* decode sequences */
} ProbeBatch;

/* Parse @spec. Errors are servesim's own (the same parser validates it) or
 * PROBE_ERROR_INPUT for more than PROBE_BATCH_MAX_TERMS terms. */
gboolean probe_batch_parse(const char *spec, ProbeBatch *batch, GError **error);

/* @spec with ';' instead of ',' so it fits a CSV cell unquoted. (transfer full) */
char *probe_batch_label(const char *spec);

G_END_DECLS

#endif /* PROBE_BATCH_H */
