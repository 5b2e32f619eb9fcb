/* Table lookups: bracket-and-blend of log utilisation on a curve, GEMM lines
 * chosen by quadrant around the queried (n, k), attention over two axes,
 * collectives by group, host overheads by fit. See table.h for the rules;
 * the comments here say why each choice was made. */
#include "perf/table.h"

#include <math.h>
#include <string.h>

static SvCoverage worse(SvCoverage a, SvCoverage b)
{
    return a > b ? a : b;
}

double sv_table_curve(const SvCurve *c, double x, double tx, double *exact_t, SvCoverage *cov)
{
    int n = c->n;
    *exact_t = -1;
    if (x <= c->x[0] || n == 1) {
        *cov = x == c->x[0] ? SV_COVERAGE_MEASURED : SV_COVERAGE_EXTRAPOLATED;
        if (*cov == SV_COVERAGE_MEASURED)
            *exact_t = c->t_s[0];
        return c->log_u[0];
    }
    if (x >= c->x[n - 1]) {
        *cov = x == c->x[n - 1] ? SV_COVERAGE_MEASURED : SV_COVERAGE_EXTRAPOLATED;
        if (*cov == SV_COVERAGE_MEASURED)
            *exact_t = c->t_s[n - 1];
        return c->log_u[n - 1];
    }
    int lo = 0, hi = n - 1; /* x[lo] < x < x[hi] or x == x[lo] */
    while (hi - lo > 1) {
        int mid = (lo + hi) / 2;
        if (c->x[mid] <= x)
            lo = mid;
        else
            hi = mid;
    }
    if (c->x[lo] == x) {
        *cov = SV_COVERAGE_MEASURED;
        *exact_t = c->t_s[lo];
        return c->log_u[lo];
    }
    /* Inside, the bracketing times are blended (geometrically, weights on
     * the blend axis) and the utilisation taken against the curve's own
     * roofline at x: the time then stays between its neighbours', which a
     * blend of utilisations on a sqrt axis would not guarantee. */
    *cov = SV_COVERAGE_INTERPOLATED;
    double a = (tx - c->tx[lo]) / (c->tx[hi] - c->tx[lo]);
    double log_t = c->log_t[lo] + a * (c->log_t[hi] - c->log_t[lo]);
    return log(MAX(sv_calib_curve_roof(c, x), 1e-30)) - log_t;
}

/* ----------------------------------------------------------------- GEMM -- */

/* Inverse-distance weights with power 1 over the quadrant neighbours: in
 * leave-one-model-out tests on Vidur's A100/H100 profiles this blended
 * utilisation predicted unseen models' GEMMs best among the variants tried
 * (k nearest lines, powers 1-3, size/aspect metrics): the weights follow how
 * close a neighbour's shape is, and bracketing on both sides of n and of k
 * keeps a one-sided cluster of shapes from dominating.
 *
 * Distance counts a step in log n GEMM_N_WEIGHT times a step in log k. The
 * utilisation of a GEMM over M is a sawtooth set by how many output tiles
 * (M/tile x N/tile) fill the SMs, so lines of the same n share their
 * sawtooth whatever k is, while k only scales the work per tile. Weights 1
 * (isotropic), 2, 3 and 5 were tried leave-one-model-out: 3 lowered the
 * error (median / p90) on H100 from 3.5 / 15.1 % to 3.4 / 14.5 %, on A100
 * from 2.8 / 10.2 % to 2.8 / 10.1 % and on A40 from 2.9 / 14.2 % to 2.8 /
 * 13.7 % (validation/ops/RESULTS.md). Tile
 * and wave models of the sawtooth itself (128x128, 128x256 and the best of
 * five tile shapes over 132 SMs) predicted worse than these neighbours:
 * cuBLAS picks its kernel per shape by heuristics no simple rule follows. */
#define GEMM_N_WEIGHT 3.0

/* The sawtooth and the trend. Utilisation along M is a smooth trend (it
 * rises with M until the GEMM is compute-bound) plus a sawtooth whose teeth
 * (steps at 64- and 128-row tile boundaries, kernel switches) cuBLAS sets per
 * shape. Measured on Vidur's profiles, the sawtooth of two lines of the same
 * n is strongly correlated (detrended log utilisation: median correlation
 * 0.85 when their k are within 35 %, 0.58 when further apart, on H100), that
 * of lines of different n hardly (0.2-0.3). So when a line of this very n
 * exists the lookup takes the trend from the quadrant blend and the sawtooth
 * from that line alone (scaled by GEMM_FAR_BETA when its k is far, about
 * the correlation, which is what a least-squares predictor of one sawtooth
 * from the other would use); otherwise the quadrant blend carries both, as
 * before. The trend of a line at log M = x is the mean of its log
 * utilisation over [x - GEMM_TREND_HALF, x + GEMM_TREND_HALF] (the window
 * slides inwards at the ends of the line): +-0.25 in log M spans a tooth or
 * two of 128 rows at M = 512-1024, where the errors were largest. Above a
 * line's largest M the trend of its top end is held, not its last point:
 * Vidur's sweeps end at M = 4096, a multiple of every tile, so the last point
 * is a tooth's peak and holding it overstated the utilisation of larger
 * batches (A100, Llama 3 8B or 70B held out, M >= 8192: median signed error
 * -3.5 %).
 * Leave-one-model-out (validation/ops/RESULTS.md): the held trend took the
 * A100 p90 from 10.1 to 9.6 %, the same-n sawtooth to 9.3 % (H100 14.5 ->
 * 14.0 %, A40 13.7 -> 13.4 %); choosing the variant (held trend alone, or
 * with the same-n sawtooth at a far weight of 0.6, 0.8 or 1) by a nested
 * leave-one-model-out inside the training models gives the same figures
 * (validation/ops/gemm-breakdown.py --nested). */
#define GEMM_TREND_HALF 0.25
#define GEMM_NEAR_K     0.35 /* |log(k / k_line)| below which a same-n line counts as near */
#define GEMM_FAR_BETA   0.6

/* Integral of the piecewise-linear log utilisation of @c over blend
 * coordinate tx from tx[0] to @x (inside the curve's range). */
static double curve_lu_integral(const SvCurve *c, const double *cum, double x)
{
    int lo = 0, hi = c->n - 1;
    while (hi - lo > 1) {
        int mid = (lo + hi) / 2;
        if (c->tx[mid] <= x)
            lo = mid;
        else
            hi = mid;
    }
    double dx = x - c->tx[lo], span = c->tx[hi] - c->tx[lo];
    double y = span > 0 ? c->log_u[lo] + (c->log_u[hi] - c->log_u[lo]) * dx / span : c->log_u[lo];
    return cum[lo] + 0.5 * dx * (c->log_u[lo] + y);
}

/* The trend of curve @c (see above) at the knots x = j x 2 GEMM_TREND_HALF,
 * j < SV_GEMM_KNOTS, scaled by @w and added to @out; returns the trend held
 * past its largest M, unscaled. */
static double curve_trend(const SvCurve *c, double w, double *out)
{
    int n = c->n;
    double lo = c->tx[0], hi = c->tx[n - 1], h = GEMM_TREND_HALF;
    if (n == 1 || hi - lo <= 0) {
        for (int j = 0; out != NULL && j < SV_GEMM_KNOTS; j++)
            out[j] += w * c->log_u[0];
        return c->log_u[0];
    }
    g_autofree double *cum = g_new(double, n);
    cum[0] = 0;
    for (int i = 1; i < n; i++)
        cum[i] = cum[i - 1] + 0.5 * (c->tx[i] - c->tx[i - 1]) * (c->log_u[i] + c->log_u[i - 1]);
    /* A line shorter than the window: its mean over all of it. */
    if (hi - lo <= 2 * h) {
        double mean = cum[n - 1] / (hi - lo);
        for (int j = 0; out != NULL && j < SV_GEMM_KNOTS; j++)
            out[j] += w * mean;
        return mean;
    }
    for (int j = 0; out != NULL && j < SV_GEMM_KNOTS; j++) {
        double x = CLAMP(j * 2 * h, lo + h, hi - h);
        out[j] +=
            w * (curve_lu_integral(c, cum, x + h) - curve_lu_integral(c, cum, x - h)) / (2 * h);
    }
    return (cum[n - 1] - curve_lu_integral(c, cum, hi - 2 * h)) / (2 * h);
}

void sv_table_gemm_bind(const SvCalib *calib, SvDtype dtype, gboolean other_format, double n,
                        double k, SvGemmBind *b)
{
    memset(b, 0, sizeof *b);
    b->same_n = -1;
    if (calib == NULL || calib->num_gemm == 0)
        return;
    SvDtype cls = sv_calib_dtype_class(dtype);
    gboolean any = FALSE;
    for (int i = 0; i < calib->num_gemm && !any; i++)
        any = calib->gemm[i].dtype == cls;
    if (!any) {
        /* No line in this format: the 16-bit lines' utilisation, scaled by
         * this format's roofline, is the best measured guide there is. */
        cls = SV_DTYPE_FP16;
        b->other_dtype = TRUE;
        for (int i = 0; i < calib->num_gemm && !any; i++)
            any = calib->gemm[i].dtype == cls;
        if (!any)
            return;
    }
    if (other_format)
        b->other_dtype = TRUE;
    double best[4] = {-1, -1, -1, -1}, same_d = -1;
    int idx[4] = {-1, -1, -1, -1};
    for (int i = 0; i < calib->num_gemm; i++) {
        const SvGemmLine *g = &calib->gemm[i];
        if (g->dtype != cls)
            continue;
        double dn = log(n / g->n), dk = log(k / g->k);
        if (dn == 0 && dk == 0) {
            b->num = 1;
            b->line[0] = i;
            b->w[0] = 1;
            b->tail_lu[0] = curve_trend(&g->m, 0, NULL);
            b->same_n = -1;
            b->exact = TRUE;
            b->inside = TRUE;
            return;
        }
        if (dn == 0 && (same_d < 0 || fabs(dk) < same_d)) {
            same_d = fabs(dk);
            b->same_n = i;
        }
        int q = (dn >= 0 ? 2 : 0) + (dk >= 0 ? 1 : 0);
        double d = hypot(GEMM_N_WEIGHT * dn, dk);
        if (idx[q] < 0 || d < best[q]) {
            best[q] = d;
            idx[q] = i;
        }
    }
    double sum = 0;
    b->inside = TRUE;
    for (int q = 0; q < 4; q++) {
        if (idx[q] < 0) {
            b->inside = FALSE;
            continue;
        }
        b->line[b->num] = idx[q];
        b->w[b->num] = 1.0 / best[q];
        sum += b->w[b->num];
        b->num++;
    }
    for (int i = 0; i < b->num; i++) {
        b->w[i] /= sum;
        b->tail_lu[i] =
            curve_trend(&calib->gemm[b->line[i]].m, b->w[i], b->same_n >= 0 ? b->trend : NULL);
    }
    if (b->same_n >= 0) {
        b->same_beta = same_d < GEMM_NEAR_K ? 1.0 : GEMM_FAR_BETA;
        b->same_tail_lu = curve_trend(&calib->gemm[b->same_n].m, -b->same_beta, b->trend);
    }
}

/* log(u) of line @c at @m: the curve's own inside it and below it, its held
 * trend @tail_lu above it. */
static double line_lu(const SvCurve *c, double m, double tx, double tail_lu, double *exact_t,
                      SvCoverage *cov)
{
    if (m > c->x[c->n - 1]) {
        *exact_t = -1;
        *cov = SV_COVERAGE_EXTRAPOLATED;
        return tail_lu;
    }
    return sv_table_curve(c, m, tx, exact_t, cov);
}

double sv_table_gemm(const SvCalib *calib, const SvGemmBind *b, double m, double roof_s,
                     SvCoverage *cov)
{
    g_return_val_if_fail(b->num > 0, roof_s);
    double tx = log(MAX(m, 1e-9)), lu = 0, exact_t = -1;
    SvCoverage c = SV_COVERAGE_MEASURED;
    if (b->same_n < 0) {
        for (int i = 0; i < b->num; i++) {
            SvCoverage ci;
            lu +=
                b->w[i] * line_lu(&calib->gemm[b->line[i]].m, m, tx, b->tail_lu[i], &exact_t, &ci);
            c = worse(c, ci);
        }
    } else {
        /* The quadrant lines' trend (knots) and the same-n line's sawtooth;
         * the quadrant lines only say whether m is inside their data. */
        double x = tx / (2 * GEMM_TREND_HALF);
        int j = CLAMP((int)floor(x), 0, SV_GEMM_KNOTS - 2);
        double a = CLAMP(x - j, 0.0, 1.0);
        lu =
            b->trend[j] + a * (b->trend[j + 1] - b->trend[j]) +
            b->same_beta * line_lu(&calib->gemm[b->same_n].m, m, tx, b->same_tail_lu, &exact_t, &c);
        c = worse(c, SV_COVERAGE_INTERPOLATED);
        for (int i = 0; i < b->num; i++) {
            const SvCurve *ci = &calib->gemm[b->line[i]].m;
            if (m < ci->x[0] || m > ci->x[ci->n - 1])
                c = SV_COVERAGE_EXTRAPOLATED;
        }
    }
    if (b->exact && !b->other_dtype && c == SV_COVERAGE_MEASURED) {
        *cov = SV_COVERAGE_MEASURED;
        return exact_t;
    }
    if (!b->exact)
        c = worse(c, b->inside ? SV_COVERAGE_INTERPOLATED : SV_COVERAGE_EXTRAPOLATED);
    if (b->other_dtype)
        c = SV_COVERAGE_EXTRAPOLATED;
    *cov = c;
    return roof_s / exp(lu);
}

/* ------------------------------------------------------------ attention -- */

int sv_table_attn_pick(const SvAttnSet *sets, int num, SvDtype dtype, int q_heads, int kv_heads,
                       int head_dim, gboolean *same, gboolean *fold)
{
    *same = *fold = FALSE;
    int best = -1;
    double best_d = 0;
    SvDtype cls = sv_calib_dtype_class(dtype);
    for (int i = 0; i < num; i++) {
        const SvAttnSet *s = &sets[i];
        double d = fabs(log((double)q_heads / s->q_heads)) +
                   fabs(log((double)kv_heads / s->kv_heads)) +
                   fabs(log((double)head_dim / s->head_dim)) + (s->dtype != cls ? 10.0 : 0.0);
        if (best < 0 || d < best_d) {
            best = i;
            best_d = d;
        }
    }
    if (best >= 0) {
        const SvAttnSet *s = &sets[best];
        gboolean fmt = s->dtype == cls;
        *same = fmt && s->q_heads == q_heads && s->kv_heads == kv_heads && s->head_dim == head_dim;
        *fold = fmt && s->head_dim == head_dim &&
                (int64_t)q_heads * s->kv_heads == (int64_t)s->q_heads * kv_heads;
    }
    return best;
}

double sv_table_attn(const SvAttnSet *s, gboolean prefill, double outer, double ctx,
                     double *exact_t, SvCoverage *cov)
{
    double ctx_tx = sqrt(MAX(ctx, 0.0));
    int n = s->num_lines;
    const SvAttnLine *L = s->lines;
    if (outer <= L[0].outer || n == 1 || outer >= L[n - 1].outer) {
        int i = outer <= L[0].outer || n == 1 ? 0 : n - 1;
        double lu = sv_table_curve(&L[i].ctx, ctx, ctx_tx, exact_t, cov);
        if (outer != L[i].outer) {
            *exact_t = -1;
            *cov = SV_COVERAGE_EXTRAPOLATED;
        }
        return lu;
    }
    int lo = 0, hi = n - 1;
    while (hi - lo > 1) {
        int mid = (lo + hi) / 2;
        if (L[mid].outer <= outer)
            lo = mid;
        else
            hi = mid;
    }
    if (L[lo].outer == outer)
        return sv_table_curve(&L[lo].ctx, ctx, ctx_tx, exact_t, cov);
    SvCoverage c1, c2;
    double e1, e2;
    double u1 = sv_table_curve(&L[lo].ctx, ctx, ctx_tx, &e1, &c1);
    double u2 = sv_table_curve(&L[hi].ctx, ctx, ctx_tx, &e2, &c2);
    double otx = prefill ? sqrt(outer) : log(outer);
    double a = (otx - s->outer_tx[lo]) / (s->outer_tx[hi] - s->outer_tx[lo]);
    *exact_t = -1;
    *cov = worse(SV_COVERAGE_INTERPOLATED, worse(c1, c2));
    return u1 + a * (u2 - u1);
}

/* ------------------------------------------------- elementwise, comms -- */

const SvEltCurve *sv_table_elt(const SvCalib *calib, const char *op)
{
    if (calib == NULL)
        return NULL;
    for (int i = 0; i < calib->num_elt; i++)
        if (strcmp(calib->elt[i].op, op) == 0)
            return &calib->elt[i];
    return NULL;
}

/* Devices per node of a measured group. A scale-out curve is taken to span
 * two nodes evenly, as every scale-out group in Vidur's profiles does
 * ((2, 1), (4, 2), (8, 4), (16, 8) ranks and ranks per node); the table
 * keeps no per-node count. */
static int curve_per_node(const SvCollCurve *c)
{
    return c->link == SV_LINK_SCALEOUT ? MAX(c->group / 2, 1) : c->group;
}

/* The fixed latency of curve @c: its fastest time, which no call of any
 * size beat. (The intercept of a straight line through the curve, weighted
 * by relative error, lies above the fastest time on every Vidur curve: the
 * small-message times wander between 10 and 65 us whatever the size.) */
static double curve_alpha(const SvCurve *c)
{
    double tmin = c->t_s[0];
    for (int i = 1; i < c->n; i++)
        tmin = MIN(tmin, c->t_s[i]);
    return tmin;
}

/* Bus bandwidth (link traffic per second) of curve @c's largest messages:
 * the median over its points of at least an eighth of its largest size (the
 * 64 largest at most). */
static double curve_bus_bw(const SvCollCurve *c)
{
    const SvCurve *v = &c->bytes;
    double bw[64];
    int n = 0;
    for (int i = v->n - 1; i >= 0 && n < 64 && v->x[i] >= v->x[v->n - 1] / 8; i--)
        bw[n++] = sv_calib_coll_traffic(c->op, c->group, v->x[i]) / v->t_s[i];
    for (int i = 1; i < n; i++) /* insertion sort: n is small */
        for (int j = i; j > 0 && bw[j] < bw[j - 1]; j--) {
            double x = bw[j];
            bw[j] = bw[j - 1];
            bw[j - 1] = x;
        }
    return n % 2 ? bw[n / 2] : 0.5 * (bw[n / 2 - 1] + bw[n / 2]);
}

/* NICs a node's devices of a scale-out group can drive together: the K of
 * bus bandwidth = min(devices per node, K) x (one NIC's bandwidth) that fits
 * the largest messages of @calib's curves of @op across nodes best (least
 * squares on log bandwidth; K from 1 in steps of 0.1 up to the most devices
 * per node measured, the smallest of equal fits). */
static double fit_nics(const SvCalib *calib, SvCollOp op)
{
    g_autofree double *bw = g_new(double, MAX(calib->num_coll, 1));
    g_autofree int *per = g_new(int, MAX(calib->num_coll, 1));
    int n = 0, most = 1;
    for (int i = 0; i < calib->num_coll; i++) {
        const SvCollCurve *c = &calib->coll[i];
        if (c->op != op || c->link != SV_LINK_SCALEOUT)
            continue;
        bw[n] = log(curve_bus_bw(c));
        per[n] = curve_per_node(c);
        most = MAX(most, per[n]);
        n++;
    }
    double best_sse = -1, best_k = 1;
    for (int step = 10; step <= 10 * most && n > 0; step++) {
        double k = step / 10.0, mean = 0, sse = 0;
        for (int i = 0; i < n; i++)
            mean += (bw[i] - log(MIN(per[i], k))) / n;
        for (int i = 0; i < n; i++) {
            double d = bw[i] - log(MIN(per[i], k)) - mean;
            sse += d * d;
        }
        if (best_sse < 0 || sse < best_sse - 1e-12) {
            best_sse = sse;
            best_k = k;
        }
    }
    return best_k;
}

void sv_table_coll_bind(const SvCalib *calib, SvCollOp op, int group, int per_node,
                        SvLinkClass link, SvCollBind *b)
{
    memset(b, 0, sizeof *b);
    if (calib == NULL)
        return;
    const SvCollCurve *below = NULL, *above = NULL;
    double alpha = 0;
    int curves = 0;
    for (int i = 0; i < calib->num_coll; i++) {
        const SvCollCurve *c = &calib->coll[i];
        if (c->op != op || c->link != link)
            continue;
        if (c->group <= group && (below == NULL || c->group > below->group))
            below = c;
        if (c->group >= group && (above == NULL || c->group < above->group))
            above = c;
        alpha += curve_alpha(&c->bytes);
        curves++;
    }
    b->per_node = MAX(per_node, 1);
    if (below != NULL && below->group == group) {
        b->lo = below;
        b->exact = TRUE;
    } else if (below != NULL && above != NULL) {
        b->lo = below;
        b->hi = above;
        b->w = log((double)(group - 1) / (below->group - 1)) /
               log((double)(above->group - 1) / (below->group - 1));
        if (link == SV_LINK_SCALEOUT) {
            b->pool = calib;
            b->nics = fit_nics(calib, op);
        }
    } else {
        b->lo = below != NULL ? below : above;
        b->alpha_s = curves > 0 ? alpha / curves : 0;
    }
}

/* Time of @bytes through curve @c for a collective of @group ranks: the
 * curve's utilisation at these bytes, against this group's roofline. */
static double coll_curve_time(const SvCollCurve *c, SvCollOp op, int group, double bytes,
                              SvCoverage *cov)
{
    double exact;
    double lu = sv_table_curve(&c->bytes, bytes, log(bytes), &exact, cov);
    if (c->group == group && *cov == SV_COVERAGE_MEASURED)
        return exact;
    return sv_calib_coll_traffic(op, group, bytes) / c->bytes.peak_bw / exp(lu);
}

/* Across nodes, between two measured groups: every curve of the op across
 * nodes gives a bandwidth per usable NIC at these bytes (its bus bandwidth
 * over min(its devices per node, nics)); their geometric mean times this
 * group's usable NICs is its bus bandwidth. */
static double coll_pooled(const SvCollBind *b, SvCollOp op, int group, double bytes,
                          SvCoverage *cov)
{
    const SvCalib *calib = b->pool;
    double sum = 0;
    int n = 0;
    *cov = SV_COVERAGE_INTERPOLATED;
    for (int i = 0; i < calib->num_coll; i++) {
        const SvCollCurve *c = &calib->coll[i];
        if (c->op != op || c->link != SV_LINK_SCALEOUT)
            continue;
        SvCoverage ci;
        double t = coll_curve_time(c, op, c->group, bytes, &ci);
        *cov = worse(*cov, ci);
        sum +=
            log(sv_calib_coll_traffic(op, c->group, bytes) / t / MIN(curve_per_node(c), b->nics));
        n++;
    }
    double bw = exp(sum / n) * MIN(b->per_node, b->nics);
    return sv_calib_coll_traffic(op, group, bytes) / bw;
}

double sv_table_coll(const SvCollBind *b, SvCollOp op, int group, double bytes, SvCoverage *cov)
{
    if (b->lo == NULL || bytes <= 0)
        return -1;
    if (b->pool != NULL)
        return coll_pooled(b, op, group, bytes, cov);
    if (b->hi == NULL) {
        double t = coll_curve_time(b->lo, op, b->lo->group, bytes, cov);
        if (b->exact)
            return t;
        *cov = SV_COVERAGE_EXTRAPOLATED;
        /* Carried by the ratio of link traffic, the part above the fixed
         * latency only; a time under the latency is held as measured. */
        double ratio = sv_calib_coll_traffic(op, group, bytes) /
                       sv_calib_coll_traffic(op, b->lo->group, bytes);
        return t + MAX(t - b->alpha_s, 0.0) * (ratio - 1.0);
    }
    SvCoverage c1, c2;
    double t1 = coll_curve_time(b->lo, op, b->lo->group, bytes, &c1);
    double t2 = coll_curve_time(b->hi, op, b->hi->group, bytes, &c2);
    *cov = worse(SV_COVERAGE_INTERPOLATED, worse(c1, c2));
    return exp((1.0 - b->w) * log(t1) + b->w * log(t2));
}

/* A fit answers for its own tp; another tp takes the nearest fit below it
 * (the host path of a larger TP group does at least as much), else the
 * smallest above. */
double sv_table_host(const SvCalib *calib, int tp, double requests, double *term_s, SvCoverage *cov)
{
    if (calib == NULL || calib->num_host == 0)
        return -1;
    const SvHostFit *h = &calib->host[0];
    for (int i = 0; i < calib->num_host; i++)
        if (calib->host[i].tp <= tp)
            h = &calib->host[i];
    double total = 0;
    for (int t = 0; t < SV_HOST_TERM_COUNT; t++) {
        double v = h->base_s[t] + h->per_req_s[t] * requests;
        if (term_s != NULL)
            term_s[t] = v;
        total += v;
    }
    *cov = h->tp == tp && requests >= h->batch_min && requests <= h->batch_max
               ? SV_COVERAGE_INTERPOLATED
               : SV_COVERAGE_EXTRAPOLATED;
    return total;
}
