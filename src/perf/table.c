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

void sv_table_gemm_bind(const SvCalib *calib, SvDtype dtype, gboolean other_format, double n,
                        double k, SvGemmBind *b)
{
    memset(b, 0, sizeof *b);
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
    double best[4] = {-1, -1, -1, -1};
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
            b->exact = TRUE;
            b->inside = TRUE;
            return;
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
    for (int i = 0; i < b->num; i++)
        b->w[i] /= sum;
}

double sv_table_gemm(const SvCalib *calib, const SvGemmBind *b, double m, double roof_s,
                     SvCoverage *cov)
{
    g_return_val_if_fail(b->num > 0, roof_s);
    double tx = log(MAX(m, 1e-9)), lu = 0, exact_t;
    SvCoverage c = SV_COVERAGE_MEASURED;
    for (int i = 0; i < b->num; i++) {
        SvCoverage ci;
        lu += b->w[i] * sv_table_curve(&calib->gemm[b->line[i]].m, m, tx, &exact_t, &ci);
        c = worse(c, ci);
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

void sv_table_coll_bind(const SvCalib *calib, SvCollOp op, int group, SvLinkClass link,
                        SvCollBind *b)
{
    memset(b, 0, sizeof *b);
    if (calib == NULL)
        return;
    const SvCollCurve *below = NULL, *above = NULL;
    for (int i = 0; i < calib->num_coll; i++) {
        const SvCollCurve *c = &calib->coll[i];
        if (c->op != op || c->link != link)
            continue;
        if (c->group <= group && (below == NULL || c->group > below->group))
            below = c;
        if (c->group >= group && (above == NULL || c->group < above->group))
            above = c;
    }
    if (below != NULL && below->group == group) {
        b->lo = below;
        b->exact = TRUE;
    } else if (below != NULL && above != NULL) {
        b->lo = below;
        b->hi = above;
        b->w = log((double)(group - 1) / (below->group - 1)) /
               log((double)(above->group - 1) / (below->group - 1));
    } else {
        b->lo = below != NULL ? below : above;
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

double sv_table_coll(const SvCollBind *b, SvCollOp op, int group, double bytes, SvCoverage *cov)
{
    if (b->lo == NULL || bytes <= 0)
        return -1;
    if (b->hi == NULL) {
        double t = coll_curve_time(b->lo, op, group, bytes, cov);
        if (!b->exact)
            *cov = SV_COVERAGE_EXTRAPOLATED;
        return t;
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
