/* Shared basics for every servesim module: simulated time, the error domains
 * that the CLI maps to exit status 2, the checked-assert macro, numeric types
 * (dtypes) and locating the data folders (models/, hwprofiles/, traces/).
 * Everything here is free of state so many simulations can share a process. */
#ifndef SV_COMMON_H
#define SV_COMMON_H

#include <glib.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

G_BEGIN_DECLS

/* Simulated time: signed 64-bit nanoseconds (292 years of range). */
typedef int64_t SvTimeNs;
#define SV_NS_PER_S   1000000000LL
#define SV_TIME_NEVER INT64_MAX

static inline double sv_ns_to_s(SvTimeNs t_ns)
{
    return (double)t_ns * 1e-9;
}
/* Saturates outside +-9.2e9 s (converting an out-of-range double is
 * undefined behaviour); NaN gives 0. */
static inline SvTimeNs sv_s_to_ns(double t_s)
{
    if (!(t_s > -9.2e9 && t_s < 9.2e9))
        return t_s >= 9.2e9 ? SV_TIME_NEVER : t_s <= -9.2e9 ? -SV_TIME_NEVER : 0;
    return (SvTimeNs)(t_s * 1e9 + (t_s >= 0 ? 0.5 : -0.5));
}

/* Error domains. Every error in these domains is bad input or I/O: the CLI
 * prints "servesim: MESSAGE" and exits 2. Messages already carry their
 * location ("FILE:LINE:COL: what is wrong" or "FILE: what is wrong"). */
#define SV_CONFIG_ERROR (sv_config_error_quark())
#define SV_MODEL_ERROR  (sv_model_error_quark())
#define SV_HW_ERROR     (sv_hw_error_quark())
#define SV_TRACE_ERROR  (sv_trace_error_quark())
#define SV_PLAN_ERROR   (sv_plan_error_quark())
GQuark sv_config_error_quark(void);
GQuark sv_model_error_quark(void);
GQuark sv_hw_error_quark(void);
GQuark sv_trace_error_quark(void);
GQuark sv_plan_error_quark(void);

typedef enum {
    SV_ERROR_PARSE,      /* syntax: YAML, JSON, CSV, a --set or --batch term */
    SV_ERROR_INVALID,    /* wrong type, out of range, unknown key or name */
    SV_ERROR_NOT_FOUND,  /* a file, model or hardware profile that is not there */
    SV_ERROR_IO,         /* read or write failure */
    SV_ERROR_INFEASIBLE, /* a plan that cannot run (weights do not fit, TP does not divide) */
} SvErrorCode;

/* TRUE when @error belongs to one of the bad-input domains above. */
gboolean sv_error_is_input(const GError *error);

/* SV_ASSERT(expr, fmt, ...): a cheap invariant check that stays on in release
 * builds; on failure prints the expression, location and the formatted values,
 * then aborts (Redis serverAssert). */
#define SV_ASSERT(expr, ...)                                                                       \
    do {                                                                                           \
        if (G_UNLIKELY(!(expr)))                                                                   \
            sv__assert_fail(#expr, __FILE__, __LINE__, __VA_ARGS__);                               \
    } while (0)
G_NORETURN void sv__assert_fail(const char *expr, const char *file, int line, const char *fmt, ...)
    G_GNUC_PRINTF(4, 5);

/* Numeric formats of weights, activations and KV cache. */
typedef enum {
    SV_DTYPE_FP32,
    SV_DTYPE_BF16,
    SV_DTYPE_FP16,
    SV_DTYPE_FP8,
    SV_DTYPE_INT8,
    SV_DTYPE_FP4,
    SV_DTYPE_INT4,
    SV_DTYPE_COUNT
} SvDtype;

/* Bytes per element (0.5 for the 4-bit formats). */
double sv_dtype_bytes(SvDtype dtype);
/* Canonical lower-case name ("bfloat16", "fp8", ...). (transfer none) */
const char *sv_dtype_name(SvDtype dtype);

/* Locate a data file by name: @name may be a path (it contains '/' or ends in
 * @ext, and exists relative to the working directory or @rel_dir), or a bare
 * name looked up as <root>/<subdir>/<name><ext> under, in order, the
 * directory of the environment variable SERVESIM_DATA_DIR, the source tree
 * the binary was built from, and the current directory.
 * Returns the path (transfer full) or NULL when nothing matches. */
char *sv_data_find(const char *subdir, const char *name, const char *ext, const char *rel_dir);

/* List the bare names (without @ext) of <root>/<subdir>/NAME<ext>, sorted.
 * (transfer full) NULL-terminated string vector. */
char **sv_data_list(const char *subdir, const char *ext);

/* Edit distance between two short strings, for "did you mean" hints. */
int sv_edit_distance(const char *a, const char *b);
/* The candidate nearest to @word, or NULL when none is close enough to be a
 * plausible typo. (transfer none: points into @candidates) */
const char *sv_nearest(const char *word, const char *const *candidates);

G_END_DECLS

#endif /* SV_COMMON_H */
