/* Observations to tables, and back again for validation. Building sorts the
 * observations by their point on the table axes, checks that repeated
 * measurements of one point agree (SV_CALIB_CONFLICT_*), merges them by their
 * mean, groups them into curves, thins curves whose points the neighbours
 * already predict within the tolerance (a dense sweep of 993 message sizes
 * or 456 token counts costs load time and says little more than 60 points
 * do), and fits host overheads by least squares. Validation rebuilds the
 * tables without one model (or one size) and predicts what was left out
 * through the same lookups the predictor uses. */
#include "perf/calib-private.h"
#include "perf/table.h"

#include <math.h>
#include <string.h>

#define KEY_LEN 7

typedef struct {
    double key[KEY_LEN];
    int idx; /* into set->obs */
} Keyed;

/* The observation's point: kind, format and integer coordinates first (they
 * select the curve), then the axes with the curve's own axis last (so a
 * sorted run of one curve is in ascending axis order). */
static void obs_key(const SvObs *o, double *k)
{
    memset(k, 0, sizeof(double) * KEY_LEN);
    k[0] = o->kind;
    k[1] = o->dtype;
    switch (o->kind) {
    case SV_OBS_GEMM:
        k[2] = o->a[1]; /* n */
        k[3] = o->a[2]; /* k */
        k[4] = o->a[0]; /* m */
        break;
    case SV_OBS_PREFILL:
    case SV_OBS_DECODE:
        k[2] = o->h[0];
        k[3] = o->h[1];
        k[4] = o->h[2];
        k[5] = o->a[0]; /* chunk or batch */
        k[6] = o->a[1]; /* context */
        break;
    case SV_OBS_ELT:
        /* Bytes alone do not make a point: two models can move the same
         * bytes in different shapes (and at tiny sizes launch noise differs
         * by 2x). The shape is (bytes, tokens); the curve averages the
         * shapes that share a byte count. */
        k[1] = 0;
        k[2] = o->h[0];
        k[3] = o->a[0]; /* bytes */
        k[4] = o->a[1]; /* tokens */
        break;
    case SV_OBS_COLL:
        k[1] = 0;
        k[2] = o->h[0];
        k[3] = o->h[1];
        k[4] = o->h[2];
        k[5] = o->a[0]; /* bytes */
        break;
    case SV_OBS_HOST:
        k[1] = 0;
        k[2] = o->h[1]; /* tp */
        k[3] = o->h[0]; /* term */
        k[4] = o->h[2]; /* model: each model is its own point */
        k[5] = o->a[0]; /* batch */
        break;
    case SV_OBS_KINDS:
        break;
    }
}

static int cmp_keyed(const void *pa, const void *pb)
{
    const Keyed *a = pa, *b = pb;
    for (int i = 0; i < KEY_LEN; i++)
        if (a->key[i] != b->key[i])
            return a->key[i] < b->key[i] ? -1 : 1;
    return a->idx - b->idx; /* loading order: file, then line */
}

/* One merged point: the mean of a run of equal keys. */
typedef struct {
    double key[KEY_LEN];
    double t_s;
    int idx; /* first observation of the run (for its coordinates) */
} Point;

static const char *kind_name(SvObsKind kind)
{
    static const char *const names[] = {"gemm",        "attn_prefill", "attn_decode",
                                        "elementwise", "collective",   "host"};
    return kind < SV_OBS_KINDS ? names[kind] : "?";
}

static char *describe_point(const SvObs *o)
{
    switch (o->kind) {
    case SV_OBS_GEMM:
        return g_strdup_printf("gemm m=%g n=%g k=%g", o->a[0], o->a[1], o->a[2]);
    case SV_OBS_PREFILL:
        return g_strdup_printf("attn_prefill chunk=%g context=%g", o->a[0], o->a[1]);
    case SV_OBS_DECODE:
        return g_strdup_printf("attn_decode batch=%g context=%g", o->a[0], o->a[1]);
    case SV_OBS_ELT:
        return g_strdup_printf("%s bytes=%g", sv_calib_elt_ops[o->h[0]], o->a[0]);
    case SV_OBS_COLL:
        return g_strdup_printf("%s bytes=%g ranks=%d", sv_coll_op_name(o->h[0]), o->a[0], o->h[1]);
    default:
        return g_strdup_printf("%s batch=%g tp=%d", sv_host_term_name(o->h[0]), o->a[0], o->h[1]);
    }
}

/* Sort the used observations and merge repeats; conflicting repeats are
 * errors naming both places. (transfer full) GArray of Point. */
static GArray *merge_points(const SvCalibSet *set, const gboolean *keep, unsigned kinds,
                            GError **error)
{
    const SvObs *obs = (const SvObs *)set->obs->data;
    guint n = set->obs->len;
    g_autofree Keyed *k = g_new(Keyed, MAX(n, 1));
    guint m = 0;
    for (guint i = 0; i < n; i++) {
        if ((keep != NULL && !keep[i]) || (kinds != 0 && !(kinds & (1u << obs[i].kind))))
            continue;
        obs_key(&obs[i], k[m].key);
        k[m].idx = (int)i;
        m++;
    }
    qsort(k, m, sizeof *k, cmp_keyed);
    GArray *points = g_array_new(FALSE, FALSE, sizeof(Point));
    for (guint i = 0; i < m;) {
        guint j = i;
        double sum = 0;
        while (j < m && memcmp(k[j].key, k[i].key, sizeof k[i].key) == 0)
            sum += obs[k[j++].idx].t_s;
        /* Repeats must agree: one file claims one time for one point of one
         * source row (calib.h). Runs are short, so pairs are compared. */
        for (guint a = i; a < j; a++) {
            for (guint b = a + 1; b < j; b++) {
                const SvObs *x = &obs[k[a].idx], *y = &obs[k[b].idx];
                if (x->file != y->file || x->src != y->src)
                    continue;
                double lo = MIN(x->t_s, y->t_s), hi = MAX(x->t_s, y->t_s);
                if (hi > SV_CALIB_CONFLICT_FACTOR * lo && hi - lo > SV_CALIB_CONFLICT_ABS_S) {
                    g_autofree char *what = describe_point(y);
                    g_set_error(error, SV_HW_ERROR, SV_ERROR_INVALID,
                                "%s:%d: %s measured %.4g us here but %.4g us on line %d (more "
                                "than %.1fx apart: conflicting duplicates)",
                                (const char *)set->files->pdata[y->file], y->line, what,
                                y->t_s * 1e6, x->t_s * 1e6, x->line, SV_CALIB_CONFLICT_FACTOR);
                    g_array_free(points, TRUE);
                    return NULL;
                }
            }
        }
        Point p;
        memcpy(p.key, k[i].key, sizeof p.key);
        p.t_s = sum / (double)(j - i);
        p.idx = k[i].idx;
        g_array_append_val(points, p);
        i = j;
    }
    return points;
}

/* ------------------------------------------------------------ thinning -- */

/* Timers resolve a microsecond (Vidur prints milliseconds to 3 decimals), so
 * a point is also redundant when its neighbours predict it within that. */
#define THIN_ABS_S 1e-6

/* The log-utilisation slack of a point of time @t under tolerance @tol. */
static double slack(double tol, double t)
{
    return log1p(tol + THIN_ABS_S / t);
}

/* Douglas-Peucker on (tx, log t), the lookup's own blend: keep the point
 * farthest (relative to its slack) from the chord between the kept ends
 * while it is outside its slack. */
static void dp_keep(const SvCurve *c, int lo, int hi, double tol, gboolean *keep)
{
    if (hi - lo < 2)
        return;
    const double *x = c->tx, *y = c->log_t;
    int best = -1;
    double worst = 1.0;
    for (int i = lo + 1; i < hi; i++) {
        double a = (x[i] - x[lo]) / (x[hi] - x[lo]);
        double d = fabs(y[i] - (y[lo] + a * (y[hi] - y[lo]))) / slack(tol, c->t_s[i]);
        if (d > worst) {
            worst = d;
            best = i;
        }
    }
    if (best < 0)
        return;
    keep[best] = TRUE;
    dp_keep(c, lo, best, tol, keep);
    dp_keep(c, best, hi, tol, keep);
}

static void curve_thin(SvCurve *c, double tol)
{
    if (c->n < 3 || tol <= 0)
        return;
    g_autofree gboolean *keep = g_new0(gboolean, c->n);
    keep[0] = keep[c->n - 1] = TRUE;
    dp_keep(c, 0, c->n - 1, tol, keep);
    int m = 0;
    for (int i = 0; i < c->n; i++) {
        if (!keep[i])
            continue;
        c->x[m] = c->x[i];
        c->t_s[m] = c->t_s[i];
        c->tx[m] = c->tx[i];
        c->log_t[m] = c->log_t[i];
        c->log_u[m] = c->log_u[i];
        m++;
    }
    c->n = m;
}

/* Largest |log u| difference, over line @j's points, between the line and
 * the blend of lines @lo and @hi at its outer coordinate, in slacks. */
static double line_dev(const SvAttnSet *s, int j, int lo, int hi, double tol)
{
    const SvCurve *c = &s->lines[j].ctx;
    double a = (s->outer_tx[j] - s->outer_tx[lo]) / (s->outer_tx[hi] - s->outer_tx[lo]);
    double worst = 0;
    for (int i = 0; i < c->n; i++) {
        double e;
        SvCoverage cov;
        double u1 = sv_table_curve(&s->lines[lo].ctx, c->x[i], c->tx[i], &e, &cov);
        double u2 = sv_table_curve(&s->lines[hi].ctx, c->x[i], c->tx[i], &e, &cov);
        worst = MAX(worst, fabs(c->log_u[i] - (u1 + a * (u2 - u1))) / slack(tol, c->t_s[i]));
    }
    return worst;
}

static void lines_keep(const SvAttnSet *s, int lo, int hi, double tol, gboolean *keep)
{
    if (hi - lo < 2)
        return;
    int best = -1;
    double worst = 1.0;
    for (int j = lo + 1; j < hi; j++) {
        double d = line_dev(s, j, lo, hi, tol);
        if (d > worst) {
            worst = d;
            best = j;
        }
    }
    if (best < 0)
        return;
    keep[best] = TRUE;
    lines_keep(s, lo, best, tol, keep);
    lines_keep(s, best, hi, tol, keep);
}

static void set_thin(SvAttnSet *s, double tol)
{
    if (tol <= 0)
        return;
    for (int i = 0; i < s->num_lines; i++)
        curve_thin(&s->lines[i].ctx, tol);
    if (s->num_lines < 3)
        return;
    g_autofree gboolean *keep = g_new0(gboolean, s->num_lines);
    keep[0] = keep[s->num_lines - 1] = TRUE;
    lines_keep(s, 0, s->num_lines - 1, tol, keep);
    int m = 0;
    for (int i = 0; i < s->num_lines; i++) {
        if (!keep[i]) {
            g_free(s->lines[i].ctx.x);
            g_free(s->lines[i].ctx.t_s);
            g_free(s->lines[i].ctx.tx);
            g_free(s->lines[i].ctx.log_t);
            g_free(s->lines[i].ctx.log_u);
            continue;
        }
        s->lines[m] = s->lines[i];
        s->outer_tx[m] = s->outer_tx[i];
        m++;
    }
    s->num_lines = m;
}

/* ------------------------------------------------------------- building -- */

/* An elementwise curve pools shapes of many models: neighbouring byte
 * counts from different models zigzag by the models' own kernel
 * differences, which thinning would keep as detail. Points within a factor
 * of 1 + 2 tol of a bin's first point are merged into their mean (x and t). */
static void elt_bin(SvCurve *c, double tol)
{
    int m = 0;
    for (int i = 0; i < c->n;) {
        int j = i;
        double sx = 0, st = 0;
        while (j < c->n && c->x[j] <= c->x[i] * (1.0 + 2.0 * tol)) {
            sx += c->x[j];
            st += c->t_s[j];
            j++;
        }
        c->x[m] = sx / (j - i);
        c->t_s[m] = st / (j - i);
        m++;
        i = j;
    }
    c->n = m;
}

/* Append point @p's axis value and time to @c (arrays grown by doubling). */
static void curve_push(SvCurve *c, int *cap, double x, double t)
{
    if (c->n == *cap) {
        *cap = *cap > 0 ? 2 * *cap : 16;
        c->x = g_renew(double, c->x, *cap);
        c->t_s = g_renew(double, c->t_s, *cap);
    }
    c->x[c->n] = x;
    c->t_s[c->n] = t;
    c->n++;
}

static gboolean same_prefix(const double *a, const double *b, int len)
{
    return memcmp(a, b, sizeof(double) * (size_t)len) == 0;
}

/* Least squares t = a + b x over @n points, with a, b >= 0: a term that
 * falls with batch size, or a negative fixed cost, is noise, so the fit
 * drops to the constant mean or to a line through the origin. */
static void fit_line(const double *x, const double *t, int n, double *a, double *b)
{
    double sx = 0, st = 0, sxx = 0, sxt = 0;
    for (int i = 0; i < n; i++) {
        sx += x[i];
        st += t[i];
        sxx += x[i] * x[i];
        sxt += x[i] * t[i];
    }
    double den = n * sxx - sx * sx;
    *b = den > 0 ? (n * sxt - sx * st) / den : 0;
    *a = (st - *b * sx) / n;
    if (*b < 0) {
        *b = 0;
        *a = st / n;
    } else if (*a < 0) {
        *a = 0;
        *b = sxx > 0 ? sxt / sxx : 0;
    }
}

static void build_host(SvCalib *c, const Point *pts, int n)
{
    /* Points are sorted by tp, then term, model, batch. */
    c->host = g_new0(SvHostFit, MAX(n, 1));
    for (int i = 0; i < n;) {
        int tp = (int)pts[i].key[2], j = i;
        while (j < n && (int)pts[j].key[2] == tp)
            j++;
        SvHostFit *h = &c->host[c->num_host++];
        h->tp = tp;
        h->batch_min = G_MAXDOUBLE;
        for (int term = 0; term < SV_HOST_TERM_COUNT; term++) {
            g_autofree double *x = g_new(double, j - i);
            g_autofree double *t = g_new(double, j - i);
            int m = 0;
            for (int k = i; k < j; k++) {
                if ((int)pts[k].key[3] != term)
                    continue;
                x[m] = pts[k].key[5];
                t[m] = pts[k].t_s;
                h->batch_min = MIN(h->batch_min, x[m]);
                h->batch_max = MAX(h->batch_max, x[m]);
                m++;
            }
            if (m > 0)
                fit_line(x, t, m, &h->base_s[term], &h->per_req_s[term]);
        }
        if (h->batch_min > h->batch_max)
            h->batch_min = h->batch_max = 1;
        i = j;
    }
}

SvCalib *sv_calib_build(const SvCalibSet *set, const SvHw *hw, const SvCalibBuildOptions *options,
                        GError **error)
{
    g_return_val_if_fail(set != NULL && hw != NULL, NULL);
    SvCalibBuildOptions def = {0};
    if (options == NULL)
        options = &def;
    GArray *arr = merge_points(set, options->keep, options->kinds, error);
    if (arr == NULL)
        return NULL;
    const Point *pts = (const Point *)arr->data;
    int n = (int)arr->len;
    g_autoptr(SvCalib) c = sv_calib_new();
    c->tolerance = options->tolerance;
    /* Upper bounds on the number of curves of each kind: one per point. */
    c->gemm = g_new0(SvGemmLine, MAX(n, 1));
    c->elt = g_new0(SvEltCurve, MAX(n, 1));
    c->coll = g_new0(SvCollCurve, MAX(n, 1));
    c->prefill = g_new0(SvAttnSet, MAX(n, 1));
    c->decode = g_new0(SvAttnSet, MAX(n, 1));
    int host_from = -1, host_n = 0;
    for (int i = 0; i < n;) {
        const Point *p = &pts[i];
        SvObsKind kind = (SvObsKind)p->key[0];
        int cap = 0;
        if (kind == SV_OBS_HOST) {
            if (host_from < 0)
                host_from = i;
            host_n++;
            i++;
            continue;
        }
        if (kind == SV_OBS_PREFILL || kind == SV_OBS_DECODE) {
            gboolean prefill = kind == SV_OBS_PREFILL;
            SvAttnSet *s = prefill ? &c->prefill[c->num_prefill++] : &c->decode[c->num_decode++];
            s->dtype = (SvDtype)p->key[1];
            s->q_heads = (int)p->key[2];
            s->kv_heads = (int)p->key[3];
            s->head_dim = (int)p->key[4];
            int j = i, cap_lines = 0;
            while (j < n && same_prefix(pts[j].key, p->key, 5)) {
                if (s->num_lines == cap_lines) {
                    cap_lines = cap_lines > 0 ? 2 * cap_lines : 16;
                    s->lines = g_renew(SvAttnLine, s->lines, cap_lines);
                }
                SvAttnLine *l = &s->lines[s->num_lines++];
                memset(l, 0, sizeof *l);
                l->outer = pts[j].key[5];
                int k = j, lcap = 0;
                while (k < n && same_prefix(pts[k].key, pts[j].key, 6)) {
                    curve_push(&l->ctx, &lcap, pts[k].key[6], pts[k].t_s);
                    k++;
                }
                j = k;
            }
            i = j;
            continue;
        }
        /* One-axis curves: the key up to the axis selects the curve. */
        int prefix = kind == SV_OBS_GEMM ? 4 : kind == SV_OBS_ELT ? 3 : 5;
        SvCurve *curve;
        if (kind == SV_OBS_GEMM) {
            SvGemmLine *g = &c->gemm[c->num_gemm++];
            g->dtype = (SvDtype)p->key[1];
            g->n = p->key[2];
            g->k = p->key[3];
            curve = &g->m;
        } else if (kind == SV_OBS_ELT) {
            SvEltCurve *e = &c->elt[c->num_elt++];
            e->op = g_strdup(sv_calib_elt_ops[(int)p->key[2]]);
            curve = &e->bytes;
        } else {
            SvCollCurve *cc = &c->coll[c->num_coll++];
            cc->op = (SvCollOp)p->key[2];
            cc->group = (int)p->key[3];
            cc->link = (SvLinkClass)p->key[4];
            curve = &cc->bytes;
        }
        int j = i;
        while (j < n && same_prefix(pts[j].key, p->key, prefix)) {
            /* Equal axis values (elementwise shapes of one byte count): their
             * mean time is the point. */
            int k = j;
            double sum = 0;
            while (k < n && same_prefix(pts[k].key, p->key, prefix) &&
                   pts[k].key[prefix] == pts[j].key[prefix])
                sum += pts[k++].t_s;
            curve_push(curve, &cap, pts[j].key[prefix], sum / (k - j));
            j = k;
        }
        i = j;
    }
    if (host_n > 0)
        build_host(c, pts + host_from, host_n);
    g_array_free(arr, TRUE);
    /* The arrays were sized for one curve per point; keep what is used. */
    c->gemm = g_renew(SvGemmLine, c->gemm, MAX(c->num_gemm, 1));
    c->elt = g_renew(SvEltCurve, c->elt, MAX(c->num_elt, 1));
    c->coll = g_renew(SvCollCurve, c->coll, MAX(c->num_coll, 1));
    c->prefill = g_renew(SvAttnSet, c->prefill, MAX(c->num_prefill, 1));
    c->decode = g_renew(SvAttnSet, c->decode, MAX(c->num_decode, 1));

    double tol = options->tolerance;
    if (tol > 0)
        for (int i = 0; i < c->num_elt; i++)
            elt_bin(&c->elt[i].bytes, tol);
    sv_calib_prepare(c, hw);
    for (int i = 0; i < c->num_gemm; i++)
        curve_thin(&c->gemm[i].m, tol);
    for (int i = 0; i < c->num_elt; i++)
        curve_thin(&c->elt[i].bytes, tol);
    for (int i = 0; i < c->num_coll; i++)
        curve_thin(&c->coll[i].bytes, tol);
    for (int i = 0; i < c->num_prefill; i++)
        set_thin(&c->prefill[i], tol);
    for (int i = 0; i < c->num_decode; i++)
        set_thin(&c->decode[i], tol);
    return g_steal_pointer(&c);
}

/* ------------------------------------------------------------ predicting -- */

double sv_calib_predict_obs(const SvCalib *c, const SvHw *hw, const SvObs *o, SvCoverage *cov)
{
    double flops, bytes, exact, lu;
    *cov = SV_COVERAGE_ROOFLINE;
    switch (o->kind) {
    case SV_OBS_GEMM: {
        SvGemmBind b;
        sv_table_gemm_bind(c, o->dtype, FALSE, o->a[1], o->a[2], &b);
        if (b.num == 0)
            return -1;
        double eb = sv_dtype_bytes(o->dtype);
        sv_calib_gemm_cost(o->a[0], o->a[1], o->a[2], eb, eb, &flops, &bytes);
        return sv_table_gemm(c, &b, o->a[0], sv_calib_roofline_s(hw, o->dtype, flops, bytes), cov);
    }
    case SV_OBS_PREFILL:
    case SV_OBS_DECODE: {
        gboolean prefill = o->kind == SV_OBS_PREFILL, same, fold;
        const SvAttnSet *sets = prefill ? c->prefill : c->decode;
        int si = sv_table_attn_pick(sets, prefill ? c->num_prefill : c->num_decode, o->dtype,
                                    o->h[0], o->h[1], o->h[2], &same, &fold);
        if (si < 0)
            return -1;
        const SvAttnSet *s = &sets[si];
        double eb = sv_dtype_bytes(o->dtype), outer = o->a[0];
        if (prefill)
            sv_calib_prefill_cost(o->a[0], o->a[1], o->h[0], o->h[1], o->h[2], eb, &flops, &bytes);
        else
            sv_calib_decode_cost(o->a[0], o->a[1], o->h[0], o->h[1], o->h[2], eb, &flops, &bytes);
        if (!prefill && fold)
            outer = o->a[0] * o->h[1] / s->kv_heads;
        lu = sv_table_attn(s, prefill, outer, o->a[1], &exact, cov);
        if (same && *cov == SV_COVERAGE_MEASURED)
            return exact;
        if (!same)
            *cov =
                (!prefill && fold) ? MAX(*cov, SV_COVERAGE_INTERPOLATED) : SV_COVERAGE_EXTRAPOLATED;
        return sv_calib_roofline_s(hw, o->dtype, flops, bytes) / exp(lu);
    }
    case SV_OBS_ELT: {
        const SvEltCurve *e = sv_table_elt(c, sv_calib_elt_ops[o->h[0]]);
        if (e == NULL)
            return -1;
        lu = sv_table_curve(&e->bytes, o->a[0], log(o->a[0]), &exact, cov);
        return *cov == SV_COVERAGE_MEASURED ? exact : o->a[0] / hw->mem_bw_bytes_per_s / exp(lu);
    }
    case SV_OBS_COLL: {
        /* Across nodes the group spans two, as the curves are taken to
         * (table.c: curve_per_node). */
        SvCollBind b;
        int per_node = o->h[2] == SV_LINK_SCALEOUT ? MAX(o->h[1] / 2, 1) : o->h[1];
        sv_table_coll_bind(c, (SvCollOp)o->h[0], o->h[1], per_node, (SvLinkClass)o->h[2], &b);
        return sv_table_coll(&b, (SvCollOp)o->h[0], o->h[1], o->a[0], cov);
    }
    case SV_OBS_HOST: {
        double terms[SV_HOST_TERM_COUNT];
        if (sv_table_host(c, o->h[1], o->a[0], terms, cov) < 0)
            return -1;
        return terms[o->h[0]];
    }
    case SV_OBS_KINDS:
        break;
    }
    return -1;
}

/* ------------------------------------------------------------ validation -- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Predict every point of @test (merged by key) from tables built on @train;
 * append |pred/meas - 1| to @errs. */
static gboolean score(const SvCalibSet *set, const SvHw *hw, double tol, SvObsKind kind,
                      const gboolean *train, const gboolean *test, GArray *errs, GError **error)
{
    SvCalibBuildOptions o = {.tolerance = tol, .keep = train, .kinds = 1u << kind};
    g_autoptr(SvCalib) c = sv_calib_build(set, hw, &o, error);
    if (c == NULL)
        return FALSE;
    GArray *pts = merge_points(set, test, 1u << kind, error);
    if (pts == NULL)
        return FALSE;
    for (guint i = 0; i < pts->len; i++) {
        const Point *p = &g_array_index(pts, Point, i);
        SvObs o = g_array_index(set->obs, SvObs, p->idx);
        SvCoverage cov;
        double t = sv_calib_predict_obs(c, hw, &o, &cov);
        if (t <= 0)
            continue;
        double e = fabs(t / p->t_s - 1.0);
        g_array_append_val(errs, e);
    }
    g_array_free(pts, TRUE);
    return TRUE;
}

static void row(GString *out, const char *device, const char *cls, const char *method,
                const char *held, GArray *errs)
{
    if (errs->len == 0) {
        g_string_append_printf(out, "| %s | %s | %s | %s | 0 | n/a | n/a |\n", device, cls, method,
                               held);
        return;
    }
    g_array_sort(errs, cmp_double);
    double *e = (double *)errs->data;
    guint n = errs->len;
    /* Nearest-rank percentiles. */
    double med = e[(n - 1) / 2], p90 = e[(guint)ceil(0.9 * n) - 1];
    g_string_append_printf(out, "| %s | %s | %s | %s | %u | %.1f %% | %.1f %% |\n", device, cls,
                           method, held, n, 100 * med, 100 * p90);
}

/* The size axis left out by leave-one-size-out, for @o. */
static double size_of(const SvObs *o, int axis)
{
    switch (o->kind) {
    case SV_OBS_GEMM:
        return o->a[0];
    case SV_OBS_PREFILL:
    case SV_OBS_DECODE:
        return o->a[axis == 0 ? 1 : 0];
    case SV_OBS_ELT:
        return o->a[1] > 0 ? o->a[1] : o->a[0];
    default:
        return o->a[0];
    }
}

static const char *size_name(SvObsKind kind, int axis)
{
    switch (kind) {
    case SV_OBS_GEMM:
        return "each M (tokens)";
    case SV_OBS_PREFILL:
        return axis == 0 ? "each context length" : "each chunk length";
    case SV_OBS_DECODE:
        return axis == 0 ? "each context length" : "each batch size";
    case SV_OBS_ELT:
        return "each token count";
    case SV_OBS_COLL:
        return "each message size";
    default:
        return "each batch size";
    }
}

/* At most this many sizes are left out in turn (evenly spread over the
 * distinct sizes, the smallest and largest excluded: leaving out an end
 * would measure extrapolation, which leave-one-model-out already covers). */
#define MAX_HELD_SIZES 48

static gboolean loso(const SvCalibSet *set, const SvHw *hw, double tol, SvObsKind kind, int axis,
                     const char *device, GString *out, GError **error)
{
    const SvObs *obs = (const SvObs *)set->obs->data;
    guint n = set->obs->len;
    g_autoptr(GArray) sizes = g_array_new(FALSE, FALSE, sizeof(double));
    for (guint i = 0; i < n; i++)
        if (obs[i].kind == kind) {
            double s = size_of(&obs[i], axis);
            g_array_append_val(sizes, s);
        }
    g_array_sort(sizes, cmp_double);
    guint u = 0;
    for (guint i = 0; i < sizes->len; i++)
        if (u == 0 || g_array_index(sizes, double, i) != g_array_index(sizes, double, u - 1))
            g_array_index(sizes, double, u++) = g_array_index(sizes, double, i);
    g_array_set_size(sizes, u);
    g_autoptr(GArray) errs = g_array_new(FALSE, FALSE, sizeof(double));
    g_autofree gboolean *train = g_new(gboolean, MAX(n, 1));
    g_autofree gboolean *test = g_new(gboolean, MAX(n, 1));
    if (u >= 3) {
        guint inner = u - 2, step = (inner + MAX_HELD_SIZES - 1) / MAX_HELD_SIZES, held = 0;
        for (guint s = 1; s + 1 < u; s += step) {
            double v = g_array_index(sizes, double, s);
            for (guint i = 0; i < n; i++) {
                gboolean mine = obs[i].kind == kind;
                gboolean at = mine && size_of(&obs[i], axis) == v;
                train[i] = mine && !at;
                test[i] = at;
            }
            if (!score(set, hw, tol, kind, train, test, errs, error))
                return FALSE;
            held++;
        }
        g_autofree char *h = g_strdup_printf("%s (%u of %u)", size_name(kind, axis), held, u);
        row(out, device, kind_name(kind), "leave-one-size-out", h, errs);
    } else {
        row(out, device, kind_name(kind), "leave-one-size-out", "n/a (fewer than 3 sizes)", errs);
    }
    return TRUE;
}

/* The "model" of @o for leave-one-out: its model, or for collectives its
 * (op, ranks, link) configuration. */
static int lomo_group(const SvObs *o)
{
    if (o->kind == SV_OBS_COLL)
        return o->h[0] * 4096 + o->h[1] * 2 + o->h[2];
    return o->group;
}

/* The distinct lomo_group codes of @set's observations of @kind, in the
 * order first seen (transfer full). */
static GArray *distinct_groups(const SvCalibSet *set, SvObsKind kind)
{
    const SvObs *obs = (const SvObs *)set->obs->data;
    GArray *groups = g_array_new(FALSE, FALSE, sizeof(int));
    for (guint i = 0; i < set->obs->len; i++) {
        int g = lomo_group(&obs[i]);
        if (obs[i].kind != kind || g < 0)
            continue;
        gboolean seen = FALSE;
        for (guint j = 0; j < groups->len && !seen; j++)
            seen = g_array_index(groups, int, j) == g;
        if (!seen)
            g_array_append_val(groups, g);
    }
    return groups;
}

/* Where collective group @g (a lomo_group code) sits among the measured
 * @groups of its op and link: 0 between two of them (leaving it out tests
 * interpolation between group sizes), 1 at an end of their range
 * (extrapolation), -1 alone (nothing can answer for it). */
static int coll_place(const GArray *groups, int g)
{
    int op = g / 4096, ranks = (g % 4096) / 2, link = g % 2;
    gboolean below = FALSE, above = FALSE;
    for (guint j = 0; j < groups->len; j++) {
        int h = g_array_index(groups, int, j);
        if (h / 4096 != op || h % 2 != link)
            continue;
        below = below || (h % 4096) / 2 < ranks;
        above = above || (h % 4096) / 2 > ranks;
    }
    return below && above ? 0 : below || above ? 1 : -1;
}

static gboolean lomo(const SvCalibSet *set, const SvHw *hw, double tol, SvObsKind kind,
                     const char *device, GString *out, GError **error)
{
    const SvObs *obs = (const SvObs *)set->obs->data;
    guint n = set->obs->len;
    g_autoptr(GArray) groups = distinct_groups(set, kind);
    gboolean coll = kind == SV_OBS_COLL;
    const char *method = coll ? "leave-one-group-out" : "leave-one-model-out";
    if (groups->len < 2) {
        g_autoptr(GArray) none = g_array_new(FALSE, FALSE, sizeof(double));
        row(out, device, kind_name(kind), method,
            coll ? "n/a (one rank configuration)" : "n/a (one model or geometry measured)", none);
        return TRUE;
    }
    /* Models: one class. Collectives: a class per link and place (between
     * two measured group sizes, or at an end), so that interpolation is
     * told apart from extrapolation, as leave-one-size-out keeps to inner
     * sizes, and NVLink from the network. */
    GArray *errs[4];
    guint count[4] = {0, 0, 0, 0};
    for (int c = 0; c < 4; c++)
        errs[c] = g_array_new(FALSE, FALSE, sizeof(double));
    g_autofree gboolean *train = g_new(gboolean, MAX(n, 1));
    g_autofree gboolean *test = g_new(gboolean, MAX(n, 1));
    gboolean ok = TRUE;
    for (guint gi = 0; gi < groups->len && ok; gi++) {
        int g = g_array_index(groups, int, gi);
        int place = coll ? coll_place(groups, g) : 0;
        if (place < 0)
            continue;
        int c = coll ? 2 * (g % 2) + place : 0;
        count[c]++;
        for (guint i = 0; i < n; i++) {
            gboolean mine = obs[i].kind == kind;
            test[i] = mine && lomo_group(&obs[i]) == g;
            train[i] = mine && !test[i];
        }
        ok = score(set, hw, tol, kind, train, test, errs[c], error);
    }
    for (int c = 0; c < 4 && ok; c++) {
        if (count[c] == 0)
            continue;
        g_autofree char *h =
            coll
                ? g_strdup_printf(
                      "each of %u %s group%s %s", count[c],
                      c / 2 == SV_LINK_SCALEUP ? "scale-up" : "scale-out", count[c] == 1 ? "" : "s",
                      c % 2 == 0 ? "between two measured sizes" : "at an end (extrapolated)")
                : g_strdup_printf("each of %u models", count[c]);
        row(out, device, kind_name(kind), method, h, errs[c]);
    }
    for (int c = 0; c < 4; c++)
        g_array_free(errs[c], TRUE);
    return ok;
}

/* Messages below this many bytes are latency-bound in every measured
 * collective curve (Vidur's all-reduces take 10-60 us up to about 1 MiB
 * whatever the group), those above bandwidth-bound. */
#define COLL_LATENCY_BOUND_BYTES (1024.0 * 1024.0)

static gint cmp_int(gconstpointer a, gconstpointer b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* The error analysis under the leave-one-group-out rows: each held-out
 * group, in each size regime, with the median signed error (bias: the model
 * is off the same way at most sizes) and the median distance of the errors
 * from it (noise: the measured curve wanders around the prediction). Rows
 * "| device | collective (per group) | group | regime | points | bias |
 * noise | median | p90 |". */
static gboolean coll_groups(const SvCalibSet *set, const SvHw *hw, double tol, const char *device,
                            GString *out, GError **error)
{
    const SvObs *obs = (const SvObs *)set->obs->data;
    guint n = set->obs->len;
    g_autoptr(GArray) groups = distinct_groups(set, SV_OBS_COLL);
    g_array_sort(groups, cmp_int);
    g_autofree gboolean *train = g_new(gboolean, MAX(n, 1));
    g_autofree gboolean *test = g_new(gboolean, MAX(n, 1));
    for (guint gi = 0; gi < groups->len; gi++) {
        int g = g_array_index(groups, int, gi);
        int place = coll_place(groups, g);
        if (place < 0)
            continue;
        for (guint i = 0; i < n; i++) {
            gboolean mine = obs[i].kind == SV_OBS_COLL;
            test[i] = mine && lomo_group(&obs[i]) == g;
            train[i] = mine && !test[i];
        }
        SvCalibBuildOptions o = {.tolerance = tol, .keep = train, .kinds = 1u << SV_OBS_COLL};
        g_autoptr(SvCalib) c = sv_calib_build(set, hw, &o, error);
        if (c == NULL)
            return FALSE;
        GArray *pts = merge_points(set, test, 1u << SV_OBS_COLL, error);
        if (pts == NULL)
            return FALSE;
        GArray *e[2] = {g_array_new(FALSE, FALSE, sizeof(double)),
                        g_array_new(FALSE, FALSE, sizeof(double))};
        for (guint i = 0; i < pts->len; i++) {
            const Point *p = &g_array_index(pts, Point, i);
            SvObs ob = g_array_index(set->obs, SvObs, p->idx);
            SvCoverage cov;
            double t = sv_calib_predict_obs(c, hw, &ob, &cov);
            if (t <= 0)
                continue;
            double err = t / p->t_s - 1.0;
            g_array_append_val(e[ob.a[0] >= COLL_LATENCY_BOUND_BYTES], err);
        }
        g_array_free(pts, TRUE);
        int op = g / 4096, ranks = (g % 4096) / 2, link = g % 2;
        int per_node = link == SV_LINK_SCALEOUT ? MAX(ranks / 2, 1) : ranks;
        for (int r = 0; r < 2; r++) {
            guint m = e[r]->len;
            if (m == 0)
                continue;
            double *v = (double *)e[r]->data;
            g_array_sort(e[r], cmp_double);
            double bias = v[(m - 1) / 2];
            g_autofree double *d = g_new(double, m);
            g_autofree double *a = g_new(double, m);
            for (guint i = 0; i < m; i++) {
                d[i] = fabs(v[i] - bias);
                a[i] = fabs(v[i]);
            }
            qsort(d, m, sizeof *d, cmp_double);
            qsort(a, m, sizeof *a, cmp_double);
            g_string_append_printf(
                out,
                "| %s | collective (per group) | %s %d ranks, %d per node (%s, %s) | %s | %u | "
                "%+.1f %% | %.1f %% | %.1f %% | %.1f %% |\n",
                device, sv_coll_op_name((SvCollOp)op), ranks, per_node,
                link == SV_LINK_SCALEUP ? "scale-up" : "scale-out",
                place == 0 ? "between" : "at an end",
                r == 0 ? "below 1 MiB (latency-bound)" : "1 MiB and above (bandwidth-bound)", m,
                100 * bias, 100 * d[(m - 1) / 2], 100 * a[(m - 1) / 2],
                100 * a[(guint)ceil(0.9 * m) - 1]);
        }
        g_array_free(e[0], TRUE);
        g_array_free(e[1], TRUE);
    }
    return TRUE;
}

/* How far apart two models' measurements of one and the same point are:
 * for every point measured for several models, each model's mean against
 * the mean of the others. No table can predict a model better than its own
 * profile agrees with another's, so this is the floor under the
 * leave-one-model-out error. */
static void spread(const SvCalibSet *set, SvObsKind kind, const char *device, GString *out)
{
    const SvObs *obs = (const SvObs *)set->obs->data;
    guint n = set->obs->len;
    g_autofree Keyed *k = g_new(Keyed, MAX(n, 1));
    guint m = 0;
    for (guint i = 0; i < n; i++) {
        if (obs[i].kind != kind || obs[i].group < 0)
            continue;
        obs_key(&obs[i], k[m].key);
        k[m].idx = (int)i;
        m++;
    }
    qsort(k, m, sizeof *k, cmp_keyed);
    g_autoptr(GArray) errs = g_array_new(FALSE, FALSE, sizeof(double));
    int ng = (int)set->groups->len;
    g_autofree double *sum = g_new(double, MAX(ng, 1));
    g_autofree int *cnt = g_new(int, MAX(ng, 1));
    for (guint i = 0; i < m;) {
        guint j = i;
        memset(sum, 0, sizeof(double) * (size_t)MAX(ng, 1));
        memset(cnt, 0, sizeof(int) * (size_t)MAX(ng, 1));
        while (j < m && memcmp(k[j].key, k[i].key, sizeof k[i].key) == 0) {
            const SvObs *o = &obs[k[j].idx];
            sum[o->group] += o->t_s;
            cnt[o->group]++;
            j++;
        }
        int models = 0;
        for (int g = 0; g < ng; g++)
            models += cnt[g] > 0;
        for (int g = 0; g < ng && models >= 2; g++) {
            if (cnt[g] == 0)
                continue;
            double others = 0;
            for (int h = 0; h < ng; h++)
                if (h != g && cnt[h] > 0)
                    others += sum[h] / cnt[h] / (models - 1);
            double e = fabs(sum[g] / cnt[g] / others - 1.0);
            g_array_append_val(errs, e);
        }
        i = j;
    }
    if (errs->len > 0)
        row(out, device, kind_name(kind), "cross-model spread",
            "one shape measured for several models", errs);
}

gboolean sv_calib_validate(const SvCalibSet *set, const SvHw *hw, double tolerance,
                           const char *device_label, GString *out, GError **error)
{
    g_return_val_if_fail(set != NULL && hw != NULL && out != NULL, FALSE);
    for (int k = 0; k < SV_OBS_KINDS; k++) {
        gboolean any = FALSE;
        for (guint i = 0; i < set->obs->len && !any; i++)
            any = g_array_index(set->obs, SvObs, i).kind == (SvObsKind)k;
        if (!any)
            continue;
        if (k == SV_OBS_GEMM)
            spread(set, (SvObsKind)k, device_label, out);
        if (!lomo(set, hw, tolerance, (SvObsKind)k, device_label, out, error) ||
            !loso(set, hw, tolerance, (SvObsKind)k, 0, device_label, out, error))
            return FALSE;
        if (k == SV_OBS_COLL && !coll_groups(set, hw, tolerance, device_label, out, error))
            return FALSE;
        if ((k == SV_OBS_PREFILL || k == SV_OBS_DECODE) &&
            !loso(set, hw, tolerance, (SvObsKind)k, 1, device_label, out, error))
            return FALSE;
    }
    return TRUE;
}
