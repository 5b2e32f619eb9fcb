/* Fitting a device's power model to measurements: each point is a
 * measured configuration (mean power per device while serving) with the
 * activity servesim simulates for it (FLOP and bandwidth utilisation and
 * the share of host time, time weighted over its iterations); the fit finds
 * the active, compute, memory and host power of power/power.h by
 * non-negative weighted least squares.
 * `servesim calibrate --power` runs it and writes the result into a
 * hardware profile; validation/power/fit.sh makes the points. */
#ifndef SV_POWER_FIT_H
#define SV_POWER_FIT_H

#include "core/common.h"

G_BEGIN_DECLS

typedef struct {
    double busy;       /* share of the time an iteration runs, 0..1 (1: saturated) */
    double util_flops; /* FLOP / matrix peak over that time, 0..1 (idle counts 0) */
    double util_mem;   /* bytes / memory peak over that time, 0..1 (idle counts 0) */
    double host;       /* share of the time in the iterations' host part, 0..1 */
    double power_w;    /* measured mean power per device, W */
    double weight;     /* > 0: its weight in the least squares */
} SvPowerFitPoint;

typedef struct {
    double active_w;  /* W above idle while iterating */
    double compute_w; /* W at 100 % FLOP utilisation */
    double memory_w;  /* W at 100 % bandwidth utilisation */
    double host_w;    /* W through the iterations' host time */
    double rms_w;     /* weighted RMS residual, W */
    double mape;      /* mean |predicted / measured - 1| over the points */
    int points;
} SvPowerFit;

/* Fit @n points for a device idle at @idle_w whose board limit is @max_w:
 * minimise the weighted sum of
 * (idle + active busy + compute u_c + memory u_m + host s_h - measured)^2
 * with the four terms >= 0 and host <= max_w - idle_w (the best of the unconstrained fits over
 * every subset of terms whose coefficients come out non-negative). Deterministic. Errors
 * (SV_CONFIG_ERROR): fewer than 4 points, a non-positive weight. */
gboolean sv_power_fit(const SvPowerFitPoint *points, int n, double idle_w, double max_w,
                      SvPowerFit *out, GError **error);

/* Read fit points from a CSV with a header naming at least util_flops,
 * util_mem, power_w (and optionally busy and weight, default 1, and
 * util_host, default 0) and a `split` column
 * whose rows other than "train" are skipped when present. (transfer full)
 * GArray of SvPowerFitPoint. Errors: SV_CONFIG_ERROR "FILE:LINE: message". */
GArray *sv_power_fit_read_points(const char *path, GError **error);

/* The comment the fitted keys carry: the command and the fit's quality,
 * naming @points as given. (transfer full) */
char *sv_power_fit_source(const SvPowerFit *fit, const char *points);

/* @base_text (a hardware profile) with its power: section's active_w,
 * compute_w, memory_w and host_w set to @fit's values, each commented with
 * @source; every other line is kept as it is. (transfer full) Errors: no
 * top-level power: section. */
char *sv_power_fit_profile(const char *base_text, const SvPowerFit *fit, const char *source,
                           GError **error);

G_END_DECLS

#endif /* SV_POWER_FIT_H */
