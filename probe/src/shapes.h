/* GEMM shapes that servesim's predictor asks about: for each model and
 * tensor-parallel degree, the (N, K) of every weight GEMM one device runs,
 * Y[M, N] = X[M, K] W[N, K]^T with M the tokens of the batch. The probe reads
 * them from probe/shapes/<model>.csv, which `probe-shapes` writes from
 * models/<name>.yaml with the same per-device arithmetic as src/perf/predictor.c
 * (heads split over TP, KV heads replicated past TP = KV heads, experts
 * sliced over TP as vLLM's tensor-parallel MoE does). */
#ifndef PROBE_SHAPES_H
#define PROBE_SHAPES_H

#include "probe.h"

#include "model/model.h"

#include <stdio.h>

G_BEGIN_DECLS

typedef struct {
    char model[64]; /* model name */
    int tp;         /* tensor-parallel degree */
    char op[24];    /* canonical op name (qkv_proj, o_proj, mlp_up, ...) */
    char part[8];   /* sub-GEMM of a multi-GEMM op (MLA q_a/q_b/kv_a/kv_b,
                       expert up/down), "" for a single GEMM */
    int64_t n;      /* output features per device */
    int64_t k;      /* reduction depth per device */
} ProbeShape;

/* Can @model run at tensor-parallel degree @tp (the predictor's rules:
 * heads divide, KV heads split or replicate evenly, MLP widths divide)? */
gboolean probe_shapes_tp_ok(const SvModel *model, int tp);

/* Append the GEMM shapes of @model at @tp to @out (GArray of ProbeShape), in
 * the predictor's op order. */
void probe_shapes_for_model(const SvModel *model, int tp, GArray *out);

/* Write @shapes (all of one model) as a shape file to @f. @source names the
 * model file in the comment block. */
void probe_shapes_write(FILE *f, const char *model, const char *source, const GArray *shapes);

/* Read a shape file. Errors (PROBE_ERROR_INPUT): "FILE:LINE:COL: message" for
 * a missing column, a bad number, a non-positive size. (transfer full) GArray
 * of ProbeShape. */
GArray *probe_shapes_read(const char *path, GError **error);

G_END_DECLS

#endif /* PROBE_SHAPES_H */
