/* `servesim calibrate`: measured kernel timings in, calibrated tables out.
 * Loaders (one per input format, behind one interface: calib-vidur.c for
 * Vidur's profiling CSVs, calib-probe.c for the probe's CSVs of
 * docs/probe-csv.md) turn files into observations: one measured time at one
 * point of a table's axes, with the file and line it came from. The builder
 * checks them (duplicates that disagree are errors), merges repeats, thins
 * dense curves and fits host overheads into an SvCalib (hw/calib.h); the
 * validator measures how well tables built without a model (or a size)
 * predict it. Errors are bad input (SV_HW_ERROR) naming FILE:LINE:COL. */
#ifndef SV_PERF_CALIB_H
#define SV_PERF_CALIB_H

#include "hw/calib.h"
#include "hw/hw.h"
#include "perf/predictor.h"

G_BEGIN_DECLS

typedef enum {
    SV_OBS_GEMM,    /* a: m, n, k                        */
    SV_OBS_PREFILL, /* a: chunk, context; h: q, kv, dim  */
    SV_OBS_DECODE,  /* a: batch, context; h: q, kv, dim  */
    SV_OBS_ELT,     /* a: bytes, tokens; h: op index     */
    SV_OBS_COLL,    /* a: bytes; h: op, group, link      */
    SV_OBS_HOST,    /* a: batch; h: term, tp             */
    SV_OBS_KINDS
} SvObsKind;

/* One measured time. a[] and h[] by kind (above); a[3] of GEMM and ELT is
 * unused. */
typedef struct {
    SvObsKind kind;
    SvDtype dtype; /* operand format class (hw/calib.h), FP16 for host and collectives */
    double a[4];   /* real coordinates */
    int h[3];      /* integer coordinates */
    double t_s;    /* measured time, s (median of the repetitions) */
    int file;      /* index into the set's file names */
    int line;      /* 1-based line of that file */
    int group;     /* model it was measured for (leave-one-model-out), -1 none */
    double src;    /* the source row's identity in its file (its sweep coordinates and
                      column): two observations of one point are repeats only when
                      this matches too */
} SvObs;

/* Elementwise op names a table may hold (h[0] of SV_OBS_ELT). */
extern const char *const sv_calib_elt_ops[];

typedef struct SvCalibSet SvCalibSet;
struct SvCalibSet {
    GArray *obs;       /* SvObs */
    GPtrArray *files;  /* char*: file paths, as given */
    GPtrArray *groups; /* char*: model names for leave-one-model-out */
    GPtrArray *notes;  /* char*: what was read or skipped, one line each, for the summary */
    char *device;      /* the probe files' device, NULL when none named one */
};

SvCalibSet *sv_calib_set_new(void);
void sv_calib_set_free(SvCalibSet *set);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SvCalibSet, sv_calib_set_free)

/* Index of @name in the set's files/groups, added when new. */
int sv__calib_set_file(SvCalibSet *set, const char *path);
int sv__calib_set_group(SvCalibSet *set, const char *name);
void sv__calib_set_note(SvCalibSet *set, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

/* One input format. detect() looks at the file name and its first line and
 * says whether the format is this one; load() appends the file's
 * observations or fails naming FILE:LINE:COL. */
typedef struct {
    const char *name;
    gboolean (*detect)(const char *path, const char *first_line);
    gboolean (*load)(const char *path, SvCalibSet *set, GError **error);
} SvCalibLoader;

extern const SvCalibLoader sv__calib_loader_vidur;
extern const SvCalibLoader sv__calib_loader_probe;

/* Load every *.csv under @dir (recursively, in sorted order, so the result
 * does not depend on the file system). Every CSV must be in a known format;
 * other files (PROVENANCE.md, scripts) are skipped. Errors: a directory
 * that cannot be read or holds no CSV, a CSV of no known format, and
 * whatever the loaders report. (transfer full) */
SvCalibSet *sv_calib_load_dir(const char *dir, GError **error);

/* Repeats (one file, one source row identity, one point) conflict when they
 * differ by more than this factor and by more than SV_CALIB_CONFLICT_ABS_S
 * (small kernels are timed to the microsecond, so 2 us against 3 us is
 * rounding, not a conflict). Vidur's own repeated rows differ by up to 1.2x
 * on H100 (clock noise); a unit mistake (ms for us) is a factor of 1000.
 * Other measurements of one point (other files, or rows of another sweep
 * setting that map to the same point, such as a norm profiled at TP 1 and
 * TP 8) are averaged: models profiled apart disagree by up to 1.4x on one
 * GEMM shape and norms by up to 1.5x, and that spread is data, not a typo. */
#define SV_CALIB_CONFLICT_FACTOR 1.5
#define SV_CALIB_CONFLICT_ABS_S  5e-6

typedef struct {
    double tolerance;     /* thinning: drop points the rest predicts within this fraction */
    const gboolean *keep; /* when not NULL, only observations i with keep[i] are used */
    unsigned kinds;       /* bit mask of SvObsKind to build (0 = all) */
} SvCalibBuildOptions;

/* Build the tables of @set's observations for a device whose peaks are
 * @hw's. Errors: conflicting duplicates (naming both places).
 * (transfer full) */
SvCalib *sv_calib_build(const SvCalibSet *set, const SvHw *hw, const SvCalibBuildOptions *options,
                        GError **error);

/* Predict observation @o from @calib (as the predictor would for that op
 * alone). Returns the time in s, or -1 when the tables have nothing for its
 * kind; *@cov receives the coverage. */
double sv_calib_predict_obs(const SvCalib *calib, const SvHw *hw, const SvObs *o, SvCoverage *cov);

/* Cross-validation of @set on @hw: for each table kind, leave-one-model-out
 * (or leave-one-group-out for collectives) and leave-one-size-out, median
 * and p90 of |predicted / measured - 1|. Appends Markdown table rows
 * "| device | op class | method | held out | points | median | p90 |" to
 * @out, with @device_label in the first column. */
gboolean sv_calib_validate(const SvCalibSet *set, const SvHw *hw, double tolerance,
                           const char *device_label, GString *out, GError **error);

/* The hardware profile text @base_text (the file @hw was loaded from) with
 * its `calibration:` section, if any, replaced by @calib's. (transfer full) */
char *sv_calib_profile_text(const char *base_text, const SvYDoc *base_doc, const SvCalib *calib);

/* Everything `servesim calibrate` does but writing: load the base profile
 * @hw_name (a name under hwprofiles/ or a path), read every CSV under
 * @input_dir, build the tables with @tolerance (a fraction) and splice them
 * into the profile's text. The tables' source names the input folder by its
 * last component only, so the text does not depend on where the tree is.
 * *@set_out and *@calib_out (each may be NULL) receive what was read and
 * built. (transfer full) */
char *sv_calib_make_profile(const char *input_dir, const char *hw_name, double tolerance,
                            SvCalibSet **set_out, SvCalib **calib_out, GError **error);

G_END_DECLS

#endif /* SV_PERF_CALIB_H */
