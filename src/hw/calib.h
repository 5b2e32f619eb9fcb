/* Calibrated kernel-time tables of one device: the `calibration:` section of a
 * hardware profile, written by `servesim calibrate` from measured profiles
 * (Vidur CSVs, probe CSVs). The tables hold raw measured times over shape
 * axes, per device and not per model: GEMM over (M, N, K, dtype), attention
 * prefill over (chunk, context) and decode over (batch, context) for a head
 * geometry, elementwise ops over bytes, collectives over (bytes, group, link),
 * host overheads as per-iteration and per-request terms. perf/table.c looks
 * them up; this file owns the data, its YAML form and the roofline costs that
 * turn a measured time into a utilisation (so that interpolation and
 * extrapolation work on utilisation, not on raw time). */
#ifndef SV_CALIB_H
#define SV_CALIB_H

#include "config/ynode.h"
#include "core/common.h"

G_BEGIN_DECLS

typedef struct SvHw SvHw;

/* Which link a collective's group talks over: inside one scale-up domain
 * (NVLink) or across nodes (the group spans more than one node). */
typedef enum { SV_LINK_SCALEUP, SV_LINK_SCALEOUT, SV_LINK_COUNT } SvLinkClass;

typedef enum {
    SV_COLL_ALL_REDUCE,
    SV_COLL_ALL_GATHER,
    SV_COLL_REDUCE_SCATTER,
    SV_COLL_ALL_TO_ALL,
    SV_COLL_SEND_RECV,
    SV_COLL_COUNT
} SvCollOp;

/* Host-side (CPU) terms of one engine step, Vidur's cpu_overheads names. */
typedef enum {
    SV_HOST_SCHEDULE,
    SV_HOST_PREPARE_INPUTS,
    SV_HOST_SAMPLER,
    SV_HOST_PROCESS_OUTPUTS,
    SV_HOST_TERM_COUNT
} SvHostTerm;

/* How a curve's axis is blended: sizes on a log axis, sequence lengths on a
 * sqrt axis (attention work grows with the square of the sequence). */
typedef enum { SV_AXIS_LOG, SV_AXIS_SQRT } SvAxisKind;

/* Which roofline formula a curve's points follow (hw/calib.c costs). */
typedef enum {
    SV_ROOF_GEMM,    /* x = M; p: n, k, element bytes */
    SV_ROOF_PREFILL, /* x = context; p: chunk, q heads, kv heads, head dim, element bytes */
    SV_ROOF_DECODE,  /* x = context; p: batch, q heads, kv heads, head dim, element bytes */
    SV_ROOF_BYTES,   /* x = bytes; p: traffic per byte (1 for memory, the collective's factor) */
} SvRoofKind;

/* One measured curve: time over one axis. The rest is derived when the
 * table is prepared for a device (sv_calib_prepare): the blend coordinate,
 * and each point's utilisation against the curve's own roofline, which the
 * curve can evaluate at any x (sv_calib_curve_roof). */
typedef struct {
    int n;             /* points */
    double *x;         /* axis values, strictly ascending (unit of the axis) */
    double *t_s;       /* measured time of each point, seconds */
    double *tx;        /* blend coordinate of x (log or sqrt) */
    double *log_t;     /* log(t_s) */
    double *log_u;     /* log(roofline time / measured time) of each point */
    SvRoofKind roof;   /* the curve's roofline formula */
    double rp[5];      /* its parameters (see SvRoofKind) */
    double peak_flops; /* FLOP/s of the device for the curve's format */
    double peak_bw;    /* bytes/s: memory, or the collective's link */
} SvCurve;

/* Roofline time of curve @c's op at axis value @x, seconds. */
double sv_calib_curve_roof(const SvCurve *c, double x);

typedef struct {
    SvDtype dtype; /* operand format (bf16 and fp16 are one class) */
    double n, k;   /* output width and reduction depth of [M x K] x [K x N] */
    SvCurve m;     /* time over M (tokens), log axis */
} SvGemmLine;

typedef struct {
    double outer; /* attn_prefill: chunk tokens; attn_decode: batch (sequences) */
    SvCurve ctx;  /* time over context tokens already in the KV cache, sqrt axis */
} SvAttnLine;

/* Attention of one head geometry (per device) in one KV format. */
typedef struct {
    SvDtype dtype;     /* query/KV format */
    int q_heads;       /* query heads per device */
    int kv_heads;      /* KV heads per device */
    int head_dim;      /* per head */
    int num_lines;     /* lines, ascending in outer */
    SvAttnLine *lines; /* (owned) */
    double *outer_tx;  /* derived: blend coordinate of each line's outer */
} SvAttnSet;

typedef struct {
    char *op;      /* canonical op name (rmsnorm, rope, mlp_act, add, embed, ...) or "copy" */
    SvCurve bytes; /* time over bytes read + written, log axis */
} SvEltCurve;

typedef struct {
    SvCollOp op;
    int group;        /* ranks taking part */
    SvLinkClass link; /* scaleup: the group is inside one node */
    SvCurve bytes;    /* time over the message size per rank, log axis */
} SvCollCurve;

/* Host overhead per engine step for one tensor-parallel degree: each term is
 * base_s + per_req_s x (requests in the batch), fitted over [batch_min,
 * batch_max] requests. */
typedef struct {
    int tp;                               /* tensor-parallel degree it was measured at */
    double batch_min, batch_max;          /* requests per step covered by the fit */
    double base_s[SV_HOST_TERM_COUNT];    /* s per step */
    double per_req_s[SV_HOST_TERM_COUNT]; /* s per request per step */
} SvHostFit;

typedef struct SvCalib SvCalib;
struct SvCalib {
    int ref_count;    /* shared by copies of a hardware profile */
    char *source;     /* what it was calibrated from (free text) */
    double tolerance; /* thinning tolerance it was built with (fraction), for the record */
    int num_gemm;
    SvGemmLine *gemm; /* sorted by (dtype, n, k) */
    int num_prefill;
    SvAttnSet *prefill; /* attn_prefill sets */
    int num_decode;
    SvAttnSet *decode; /* attn_decode sets */
    int num_elt;
    SvEltCurve *elt;
    int num_coll;
    SvCollCurve *coll;
    int num_host;
    SvHostFit *host; /* ascending tp */
};

const char *sv_coll_op_name(SvCollOp op);
const char *sv_link_class_name(SvLinkClass link);
const char *sv_host_term_name(SvHostTerm term);
/* Parse a collective op name; FALSE when unknown. */
gboolean sv_coll_op_parse(const char *name, SvCollOp *out);

/* The format class tables are keyed by: bf16 and fp16 run at one rate on
 * every device here, so they share tables (Vidur measured fp16). */
SvDtype sv_calib_dtype_class(SvDtype dtype);

/* Roofline costs shared by the tables and the predictor, so that a measured
 * point and a query of the same shape get the same roofline time. */
void sv_calib_gemm_cost(double m, double n, double k, double act_bytes, double weight_bytes,
                        double *flops, double *bytes);
void sv_calib_prefill_cost(double chunk, double context, double q_heads, double kv_heads,
                           double head_dim, double dtype_bytes, double *flops, double *bytes);
void sv_calib_decode_cost(double batch, double context, double q_heads, double kv_heads,
                          double head_dim, double dtype_bytes, double *flops, double *bytes);
/* Bytes each rank moves over its link for one collective of @bytes per rank
 * over @group ranks (ring all-reduce: 2 (n-1)/n, all-gather, reduce-scatter
 * and all-to-all: (n-1)/n, send/recv: 1). */
double sv_calib_coll_traffic(SvCollOp op, int group, double bytes);

/* Roofline time on @hw (peak rates, no efficiency factors): the larger of
 * compute at the matrix peak of @dtype and traffic at the memory peak. */
double sv_calib_roofline_s(const SvHw *hw, SvDtype dtype, double flops, double bytes);
/* Peak per-direction bandwidth of @link on @hw, bytes/s (0 when none). */
double sv_calib_link_bw(const SvHw *hw, SvLinkClass link);

/* An empty table set. (transfer full) */
SvCalib *sv_calib_new(void);
SvCalib *sv_calib_ref(SvCalib *calib);
void sv_calib_unref(SvCalib *calib);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SvCalib, sv_calib_unref)

/* Compute the derived fields (blend coordinates, utilisations) for @hw's
 * peaks. Called by the loader and by calibrate; idempotent. */
void sv_calib_prepare(SvCalib *calib, const SvHw *hw);

/* Parse the `calibration:` map @node of @doc strictly (unknown keys, wrong
 * types, axes not strictly ascending, lengths that differ, times <= 0 are
 * errors at their FILE:LINE:COL) and prepare it for @hw, whose peaks and
 * links must already be read. (transfer full) */
SvCalib *sv_calib_parse(const SvYDoc *doc, const SvYNode *node, const SvHw *hw, GError **error);

/* The `calibration:` section as YAML text (starting with "calibration:\n"),
 * deterministic: same tables, same bytes. (transfer full) */
char *sv_calib_to_yaml(const SvCalib *calib);

/* Number of measured points over all tables (for summaries). */
int sv_calib_num_points(const SvCalib *calib);

G_END_DECLS

#endif /* SV_CALIB_H */
