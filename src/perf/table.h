/* Lookups in a device's calibrated tables (hw/calib.h), with the semantics of
 * DESIGN.md §6: an exact hit returns the measured time; inside the data the
 * utilisation (roofline time / measured time) is blended between the
 * bracketing points (log axes for sizes, sqrt axes for sequence lengths);
 * outside it the boundary utilisation is held (past a GEMM line's largest
 * M, the trend of its top end rather than its last, sawtooth-peak point) and
 * the time scales with the roofline. Every lookup reports how it got its answer (SvCoverage). The
 * predictor resolves shape-only choices (which GEMM lines, which attention
 * set) once per plan, so that a lookup per iteration costs a binary search or
 * two. */
#ifndef SV_TABLE_H
#define SV_TABLE_H

#include "hw/calib.h"
#include "perf/predictor.h"

G_BEGIN_DECLS

/* Utilisation of curve @c at @x (@tx is x on the curve's blend axis), as
 * log(u), u = roofline / time of the curve's own op at x: inside the data
 * the bracketing points' times blended, outside the boundary point's
 * utilisation. *@exact_t receives the measured time when @x is one of the
 * points, else -1; *@cov measured (a point), interpolated (between two) or
 * extrapolated (outside). @c must have at least one point. */
double sv_table_curve(const SvCurve *c, double x, double tx, double *exact_t, SvCoverage *cov);

/* Which GEMM lines answer for shape (n, k): the line of that very shape, or
 * the nearest line in each quadrant around (log n, log k) blended by inverse
 * distance; when a line of the same n (another k) exists, the blend gives
 * the trend of log utilisation over M and that line its sawtooth (table.c
 * says why). Above a line's largest M its trend is held, not its last
 * point. */
#define SV_GEMM_BIND_MAX 4
#define SV_GEMM_KNOTS    24 /* trend knots, every 0.5 in log M from M = 1 */
typedef struct {
    int num;                          /* lines blended; 0 = no GEMM table */
    int line[SV_GEMM_BIND_MAX];       /* indices into calib->gemm */
    double w[SV_GEMM_BIND_MAX];       /* blend weights, summing to 1 */
    double tail_lu[SV_GEMM_BIND_MAX]; /* each line's log utilisation held above its M */
    int same_n;                       /* line of this n nearest in log k, -1 = none (or exact) */
    double same_beta;                 /* weight of that line's sawtooth */
    double same_tail_lu;              /* its log utilisation held above its M */
    double trend[SV_GEMM_KNOTS];      /* same_n >= 0: blend trend - beta x its trend, log u */
    gboolean exact;                   /* one line of exactly this (n, k) and format */
    gboolean inside;                  /* every quadrant has a line (n, k inside the data) */
    gboolean other_dtype;             /* no line in this format: another format's utilisation */
} SvGemmBind;

/* Bind a GEMM of @n x @k whose operands are in @dtype (weights and
 * activations of one format class; pass other_format=TRUE when they differ,
 * e.g. weight-only quantisation, so no point can count as measured). */
void sv_table_gemm_bind(const SvCalib *calib, SvDtype dtype, gboolean other_format, double n,
                        double k, SvGemmBind *bind);
/* Time of @m rows through the GEMM bound by @bind, whose roofline time (peak
 * rates, hw/calib.h costs) is @roof_s. */
double sv_table_gemm(const SvCalib *calib, const SvGemmBind *bind, double m, double roof_s,
                     SvCoverage *cov);

/* The attention set of @sets closest to a head geometry (log distance over q
 * heads, kv heads and head dim), or -1 when @num is 0. *@same: the geometry and
 * format match exactly; *@fold: the q/kv ratio, head dim and format match, so
 * a decode batch of B sequences over kv heads H reads as B x H / H_set
 * sequences of the set (decode kernels spread work over sequences x KV heads
 * alike). */
int sv_table_attn_pick(const SvAttnSet *sets, int num, SvDtype dtype, int q_heads, int kv_heads,
                       int head_dim, gboolean *same, gboolean *fold);
/* log(u) of @set at (@outer, @ctx): outer = chunk (prefill, sqrt axis) or
 * batch (decode, log axis); ctx = cached tokens (sqrt axis). */
double sv_table_attn(const SvAttnSet *set, gboolean prefill, double outer, double ctx,
                     double *exact_t, SvCoverage *cov);

/* The elementwise curve of @op, or NULL. (transfer none) */
const SvEltCurve *sv_table_elt(const SvCalib *calib, const char *op);
/* The curves that answer for collective @op over @link with @group ranks,
 * @per_node of them in the most crowded node: that group's own curve; else,
 * inside one node, the groups on either side (blended) or the nearest one
 * (carried by the ring's traffic); across nodes, between two measured groups,
 * every curve of the op across nodes (pooled by the NICs each group's
 * devices share); outside them the nearest one. */
typedef struct {
    const SvCollCurve *lo, *hi; /* hi NULL: lo alone answers; both NULL: no table */
    double w;                   /* weight of hi, on the log (ranks - 1) axis */
    gboolean exact;             /* lo is this very group */
    double alpha_s;             /* lo alone: the fixed latency left out of the carry */
    const SvCalib *pool;        /* across nodes, between two groups: the curves pooled */
    double nics;                /* pool: NICs a node's devices can drive together */
    int per_node;               /* devices of the group in its most crowded node */
} SvCollBind;

void sv_table_coll_bind(const SvCalib *calib, SvCollOp op, int group, int per_node,
                        SvLinkClass link, SvCollBind *bind);
/* Time of one collective of @bytes per rank over @group ranks through
 * @bind; -1 when the bind has no curve. Between two groups in a node the
 * two groups' times at these bytes are blended (time grows about as a power
 * of the ring's hops); from the nearest group alone, its time above the
 * fixed latency is scaled by the ratio of link traffic (2 (n-1)/n of the
 * buffer for a ring all-reduce); across nodes between two groups, the bus
 * bandwidth is min(per_node, nics) times the pooled bandwidth per NIC. */
double sv_table_coll(const SvCollBind *bind, SvCollOp op, int group, double bytes, SvCoverage *cov);

/* Host time of one step with @requests requests at tensor parallelism @tp:
 * the sum of the fitted terms (each also in @term_s[SV_HOST_TERM_COUNT] when
 * not NULL), from the fit of this tp or the nearest measured one. Returns -1
 * when the tables have no host fits. */
double sv_table_host(const SvCalib *calib, int tp, double requests, double *term_s,
                     SvCoverage *cov);

G_END_DECLS

#endif /* SV_TABLE_H */
