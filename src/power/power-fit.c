/* The power-model fit: a four-term non-negative least squares, solved
 * exactly by trying every subset of terms (fifteen normal-equation systems
 * of at most 4 x 4), and the rewriting of a profile's power: section with the
 * result. Small on purpose: the heavy part, simulating each measured
 * configuration, is done by `servesim run` (validation/power/fit.sh). */
#include "power/power-fit.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define TERMS 4
#define HOST  3 /* the index of the host term */

/* Solve the k x k system a x = b (Gaussian elimination with partial
 * pivoting). FALSE when singular. */
static gboolean solve(double a[TERMS][TERMS], double *b, int k, double *x)
{
    for (int c = 0; c < k; c++) {
        int piv = c;
        for (int r = c + 1; r < k; r++)
            if (fabs(a[r][c]) > fabs(a[piv][c]))
                piv = r;
        if (fabs(a[piv][c]) < 1e-12)
            return FALSE;
        for (int j = 0; j < k; j++) {
            double t = a[c][j];
            a[c][j] = a[piv][j];
            a[piv][j] = t;
        }
        double t = b[c];
        b[c] = b[piv];
        b[piv] = t;
        for (int r = c + 1; r < k; r++) {
            double f = a[r][c] / a[c][c];
            for (int j = c; j < k; j++)
                a[r][j] -= f * a[c][j];
            b[r] -= f * b[c];
        }
    }
    for (int r = k - 1; r >= 0; r--) {
        double s = b[r];
        for (int j = r + 1; j < k; j++)
            s -= a[r][j] * x[j];
        x[r] = s / a[r][r];
    }
    return TRUE;
}

static void features(const SvPowerFitPoint *p, double *f)
{
    f[0] = p->busy;
    f[1] = p->util_flops;
    f[2] = p->util_mem;
    f[3] = p->host;
}

/* The model's power for @f under @coef. */
static double model_w(double idle_w, const double *coef, const double *f)
{
    double w = idle_w;
    for (int t = 0; t < TERMS; t++)
        w += coef[t] * f[t];
    return w;
}

gboolean sv_power_fit(const SvPowerFitPoint *points, int n, double idle_w, double max_w,
                      SvPowerFit *out, GError **error)
{
    g_return_val_if_fail(points != NULL && out != NULL, FALSE);
    memset(out, 0, sizeof *out);
    if (n < TERMS) {
        g_set_error(error, SV_CONFIG_ERROR, SV_ERROR_INVALID,
                    "power fit: %d points; at least %d are needed for the %d terms", n, TERMS,
                    TERMS);
        return FALSE;
    }
    for (int i = 0; i < n; i++)
        if (!(points[i].weight > 0) || !isfinite(points[i].power_w)) {
            g_set_error(error, SV_CONFIG_ERROR, SV_ERROR_INVALID,
                        "power fit: point %d has weight %g and power %g W; weights must be > 0 "
                        "and powers finite",
                        i + 1, points[i].weight, points[i].power_w);
            return FALSE;
        }
    /* The host term may not exceed the board's dynamic range: the host
     * part of a step cannot draw more than a device fully busy. Every
     * subset of free terms is tried with the host term, when not free,
     * either 0 or pinned at that bound (a box-constrained least squares). */
    double host_max = max_w > idle_w ? max_w - idle_w : INFINITY;
    double best_sse = INFINITY, best[TERMS] = {0};
    for (int trial = 1; trial < (2 << TERMS); trial++) {
        int mask = trial & ((1 << TERMS) - 1);
        gboolean pinned = trial >> TERMS;
        if (pinned && ((mask & (1 << HOST)) || !isfinite(host_max)))
            continue;
        double fixed_host = pinned ? host_max : 0;
        int idx[TERMS], k = 0;
        for (int t = 0; t < TERMS; t++)
            if (mask & (1 << t))
                idx[k++] = t;
        double a[TERMS][TERMS] = {{0}}, b[TERMS] = {0}, x[TERMS] = {0};
        for (int i = 0; i < n; i++) {
            double f[TERMS], w = points[i].weight;
            features(&points[i], f);
            double y = points[i].power_w - idle_w - fixed_host * f[HOST];
            for (int r = 0; r < k; r++) {
                b[r] += w * f[idx[r]] * y;
                for (int c = 0; c < k; c++)
                    a[r][c] += w * f[idx[r]] * f[idx[c]];
            }
        }
        if (k > 0 && !solve(a, b, k, x))
            continue;
        double coef[TERMS] = {0};
        coef[HOST] = fixed_host;
        gboolean ok = TRUE;
        for (int r = 0; r < k; r++) {
            if (x[r] < 0 || (idx[r] == HOST && x[r] > host_max))
                ok = FALSE;
            coef[idx[r]] = x[r];
        }
        if (!ok)
            continue;
        double sse = 0;
        for (int i = 0; i < n; i++) {
            double f[TERMS];
            features(&points[i], f);
            double pred = model_w(idle_w, coef, f);
            sse += points[i].weight * (pred - points[i].power_w) * (pred - points[i].power_w);
        }
        /* Ties go to the subset met first (fewer terms are not preferred):
         * the order of the masks is fixed, so the result is reproducible. */
        if (!isfinite(best_sse) || sse < best_sse - 1e-9 * (1 + best_sse)) {
            best_sse = sse;
            memcpy(best, coef, sizeof best);
        }
    }
    if (!isfinite(best_sse)) {
        g_set_error(error, SV_CONFIG_ERROR, SV_ERROR_INVALID,
                    "power fit: the %d points do not determine the model (all alike?)", n);
        return FALSE;
    }
    double wsum = 0, ape = 0;
    for (int i = 0; i < n; i++) {
        wsum += points[i].weight;
        double f[TERMS];
        features(&points[i], f);
        double pred = model_w(idle_w, best, f);
        ape += fabs(pred / points[i].power_w - 1.0);
    }
    out->active_w = best[0];
    out->compute_w = best[1];
    out->memory_w = best[2];
    out->host_w = best[3];
    out->rms_w = sqrt(best_sse / wsum);
    out->mape = ape / n;
    out->points = n;
    return TRUE;
}

GArray *sv_power_fit_read_points(const char *path, GError **error)
{
    g_autofree char *text = NULL;
    GError *io = NULL;
    if (!g_file_get_contents(path, &text, NULL, &io)) {
        g_set_error(error, SV_CONFIG_ERROR, SV_ERROR_NOT_FOUND, "%s: %s", path, io->message);
        g_error_free(io);
        return NULL;
    }
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    int h = 0; /* the header: the first line that is not a # comment */
    while (lines[h] != NULL && lines[h][0] == '#')
        h++;
    if (lines[h] == NULL || *lines[h] == '\0') {
        g_set_error(error, SV_CONFIG_ERROR, SV_ERROR_PARSE, "%s:%d: empty file, want a header",
                    path, h + 1);
        return NULL;
    }
    g_auto(GStrv) head = g_strsplit(g_strchomp(lines[h]), ",", -1);
    /* util_flops, util_mem, power_w, weight, busy, util_host; split */
    int col[7] = {-1, -1, -1, -1, -1, -1, -1};
    const char *names[7] = {"util_flops", "util_mem",  "power_w", "weight",
                            "busy",       "util_host", "split"};
    int ncol = (int)g_strv_length(head);
    for (int i = 0; i < ncol; i++)
        for (int k = 0; k < 7; k++)
            if (strcmp(head[i], names[k]) == 0)
                col[k] = i;
    for (int k = 0; k < 3; k++)
        if (col[k] < 0) {
            g_set_error(error, SV_CONFIG_ERROR, SV_ERROR_PARSE, "%s:%d: no '%s' column", path,
                        h + 1, names[k]);
            return NULL;
        }
    GArray *pts = g_array_new(FALSE, TRUE, sizeof(SvPowerFitPoint));
    for (int l = h + 1; lines[l] != NULL; l++) {
        char *line = g_strchomp(lines[l]);
        if (*line == '\0' || *line == '#')
            continue;
        g_auto(GStrv) f = g_strsplit(line, ",", -1);
        if ((int)g_strv_length(f) != ncol) {
            g_set_error(error, SV_CONFIG_ERROR, SV_ERROR_PARSE, "%s:%d: %u fields, want %d", path,
                        l + 1, g_strv_length(f), ncol);
            g_array_unref(pts);
            return NULL;
        }
        if (col[6] >= 0 && strcmp(f[col[6]], "train") != 0)
            continue;
        double v[6] = {0, 0, 0, 1, 1, 0};
        for (int k = 0; k < 6; k++) {
            if (col[k] < 0)
                continue;
            char *end = NULL;
            v[k] = g_ascii_strtod(f[col[k]], &end);
            if (end == f[col[k]] || *end != '\0' || !isfinite(v[k])) {
                g_set_error(error, SV_CONFIG_ERROR, SV_ERROR_PARSE,
                            "%s:%d: %s '%s' is not a number", path, l + 1, names[k], f[col[k]]);
                g_array_unref(pts);
                return NULL;
            }
        }
        SvPowerFitPoint p = {.util_flops = v[0],
                             .util_mem = v[1],
                             .power_w = v[2],
                             .weight = v[3],
                             .busy = v[4],
                             .host = v[5]};
        g_array_append_val(pts, p);
    }
    return pts;
}

char *sv_power_fit_source(const SvPowerFit *fit, const char *points)
{
    g_return_val_if_fail(fit != NULL && points != NULL, NULL);
    return g_strdup_printf("servesim calibrate --power %s: %d points, rms %.1f W, "
                           "mean |err| %.1f %%",
                           points, fit->points, fit->rms_w, 100 * fit->mape);
}

/* The key of a "  key: value" line, or NULL. (transfer full) */
static char *line_key(const char *line)
{
    const char *s = line;
    while (*s == ' ')
        s++;
    const char *colon = strchr(s, ':');
    if (colon == NULL || s == line)
        return NULL;
    return g_strndup(s, (gsize)(colon - s));
}

char *sv_power_fit_profile(const char *base_text, const SvPowerFit *fit, const char *source,
                           GError **error)
{
    g_return_val_if_fail(base_text != NULL && fit != NULL, NULL);
    g_auto(GStrv) lines = g_strsplit(base_text, "\n", -1);
    GString *out = g_string_new(NULL);
    gboolean in_power = FALSE, seen = FALSE;
    static const char *const keys[] = {"active_w", "compute_w", "memory_w", "host_w"};
    /* The loader wants the first three power figures positive: a term the
     * fit drives to zero is written as 0.1 W, which no prediction can tell
     * apart. host_w may be 0 (points without host time fit nothing). */
    double values[] = {MAX(fit->active_w, 0.1), MAX(fit->compute_w, 0.1), MAX(fit->memory_w, 0.1),
                       MAX(fit->host_w, 0.0)};
    int n = (int)g_strv_length(lines);
    for (int i = 0; i < n; i++) {
        const char *line = lines[i];
        gboolean last = i == n - 1;
        if (!in_power && strcmp(line, "power:") == 0) {
            in_power = seen = TRUE;
        } else if (in_power && (line[0] != ' ' || last)) {
            /* The section ended: the fitted keys go at its end. */
            for (int k = 0; k < 4; k++)
                g_string_append_printf(out, "  %s: %.1f  # %s\n", keys[k], values[k],
                                       source != NULL ? source : "fitted");
            in_power = FALSE;
        } else if (in_power) {
            g_autofree char *key = line_key(line);
            if (key != NULL && (strcmp(key, "active_w") == 0 || strcmp(key, "compute_w") == 0 ||
                                strcmp(key, "memory_w") == 0 || strcmp(key, "host_w") == 0))
                continue;
        }
        g_string_append(out, line);
        if (!last)
            g_string_append_c(out, '\n');
    }
    if (!seen) {
        g_string_free(out, TRUE);
        g_set_error(error, SV_HW_ERROR, SV_ERROR_INVALID,
                    "the hardware profile has no top-level 'power:' section to fit");
        return NULL;
    }
    return g_string_free(out, FALSE);
}
