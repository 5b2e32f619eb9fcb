/* Loader for the probe's CSVs (docs/probe-csv.md is the schema): one file
 * per benchmark kind, '#' metadata lines naming the schema version, kind,
 * device, driver, CUDA version, clocks and date, then a header row. Times
 * are microseconds (the median of the repetitions). Columns are strict:
 * required ones must be there, optional ones are the documented extras, any
 * other is an error (a misspelt 'time_us' must not be skipped silently). */
#include "perf/calib-private.h"

#include <math.h>
#include <string.h>

static gboolean detect(const char *path, const char *first)
{
    return g_str_has_prefix(first, "# probe-csv:");
}

static const char *const meta_required[] = {"probe-csv", "kind",   "device", "driver",
                                            "cuda",      "clocks", "date",   NULL};

/* Columns every kind may carry besides its own (statistics, conditions). */
static const char *const optional_cols[] = {
    "samples",      "time_us_min",   "time_us_max", "time_us_mean",
    "time_us_std",  "time_us_p10",   "time_us_p90", "power_w",
    "sm_clock_mhz", "mem_clock_mhz", "tflops",      "gb_s",
    "algbw_gb_s",   "busbw_gb_s",    "model",       NULL};

typedef struct {
    const char *kind;
    const char *const *cols; /* required, besides time_us */
} KindSpec;

static const char *const gemm_cols[] = {"m", "n", "k", "dtype", NULL};
static const char *const prefill_cols[] = {"chunk",    "context", "q_heads", "kv_heads",
                                           "head_dim", "dtype",   NULL};
static const char *const decode_cols[] = {"batch",    "context", "q_heads", "kv_heads",
                                          "head_dim", "dtype",   NULL};
static const char *const elt_cols[] = {"op", "bytes", "dtype", NULL};
static const char *const memcpy_cols[] = {"direction", "bytes", NULL};
static const char *const coll_cols[] = {"op", "bytes", "ranks", "ranks_per_node", "dtype", NULL};
static const char *const none_cols[] = {NULL};

static const KindSpec kinds[] = {
    {"gemm", gemm_cols},       {"attn_prefill", prefill_cols}, {"attn_decode", decode_cols},
    {"elementwise", elt_cols}, {"memcpy", memcpy_cols},        {"collective", coll_cols},
    {"layer", none_cols},      {"power", none_cols},
};

static gboolean read_dtype(const SvCsv *csv, int idx, SvDtype *out, GError **error)
{
    const char *s = sv__csv_cell(csv, idx);
    const char *names[SV_DTYPE_COUNT + 1];
    for (int d = 0; d < SV_DTYPE_COUNT; d++) {
        names[d] = sv_dtype_name((SvDtype)d);
        if (strcmp(s, names[d]) == 0) {
            *out = sv_calib_dtype_class((SvDtype)d);
            return TRUE;
        }
    }
    names[SV_DTYPE_COUNT] = NULL;
    const char *near = sv_nearest(s, names);
    return sv__csv_error(csv, idx, error, "unknown dtype '%s'%s%s%s", s,
                         near ? " (did you mean '" : "", near ? near : "", near ? "'?)" : "");
}

static gboolean read_name(const SvCsv *csv, int idx, const char *const *names, const char *what,
                          int *out, GError **error)
{
    const char *s = sv__csv_cell(csv, idx);
    for (int i = 0; names[i] != NULL; i++) {
        if (strcmp(s, names[i]) == 0) {
            *out = i;
            return TRUE;
        }
    }
    g_autofree char *list = g_strjoinv(", ", (char **)names);
    return sv__csv_error(csv, idx, error, "unknown %s '%s' (expected one of %s)", what, s, list);
}

static gboolean check_columns(const SvCsv *csv, const KindSpec *spec, GError **error)
{
    for (int i = 0; i < csv->num_cols; i++) {
        const char *c = csv->cols[i];
        gboolean ok = strcmp(c, "time_us") == 0 || g_strv_contains(optional_cols, c) ||
                      g_strv_contains((const char *const *)spec->cols, c);
        if (ok)
            continue;
        GPtrArray *all = g_ptr_array_new();
        g_ptr_array_add(all, (gpointer) "time_us");
        for (int j = 0; spec->cols[j] != NULL; j++)
            g_ptr_array_add(all, (gpointer)spec->cols[j]);
        for (int j = 0; optional_cols[j] != NULL; j++)
            g_ptr_array_add(all, (gpointer)optional_cols[j]);
        g_ptr_array_add(all, NULL);
        const char *near = sv_nearest(c, (const char *const *)all->pdata);
        g_autofree char *msg =
            near != NULL ? g_strdup_printf("unknown column '%s' for kind %s (did you mean '%s'?)",
                                           c, spec->kind, near)
                         : g_strdup_printf("unknown column '%s' for kind %s", c, spec->kind);
        g_ptr_array_free(all, TRUE);
        return sv__csv_header_error(csv, error, "%s", msg);
    }
    return TRUE;
}

static void add(SvCalibSet *set, SvObsKind kind, SvDtype dtype, double a0, double a1, double a2,
                const int *h, double t, int file, int line, int group)
{
    SvObs o = {.kind = kind,
               .dtype = dtype,
               .a = {a0, a1, a2, 0},
               .t_s = t,
               .file = file,
               .line = line,
               .group = group};
    if (h != NULL)
        memcpy(o.h, h, sizeof o.h);
    g_array_append_val(set->obs, o);
}

static gboolean load(const char *path, SvCalibSet *set, GError **error)
{
    g_autoptr(SvCsv) csv = sv__csv_open(path, TRUE, error);
    if (csv == NULL)
        return FALSE;
    for (int i = 0; meta_required[i] != NULL; i++) {
        const char *v = sv__csv_meta(csv, meta_required[i]);
        if (v == NULL || *v == '\0')
            return sv__csv_header_error(csv, error,
                                        "missing header line '# %s: ...' (docs/probe-csv.md)",
                                        meta_required[i]);
    }
    if (strcmp(sv__csv_meta(csv, "probe-csv"), "1") != 0)
        return sv__csv_header_error(csv, error,
                                    "probe-csv version '%s' is not supported (this servesim "
                                    "reads version 1)",
                                    sv__csv_meta(csv, "probe-csv"));
    const char *device = sv__csv_meta(csv, "device");
    if (set->device == NULL)
        set->device = g_strdup(device);
    else if (strcmp(set->device, device) != 0)
        return sv__csv_header_error(csv, error,
                                    "device '%s' differs from '%s' of the other probe files: "
                                    "calibrate one device at a time",
                                    device, set->device);
    const char *kind = sv__csv_meta(csv, "kind");
    const KindSpec *spec = NULL;
    for (size_t i = 0; i < G_N_ELEMENTS(kinds) && spec == NULL; i++)
        if (strcmp(kinds[i].kind, kind) == 0)
            spec = &kinds[i];
    if (spec == NULL)
        return sv__csv_header_error(csv, error,
                                    "unknown kind '%s' (gemm, attn_prefill, attn_decode, "
                                    "elementwise, memcpy, collective, layer, power)",
                                    kind);
    if (spec->cols == none_cols) {
        /* Whole-layer and power samples check the predictor end to end and
         * feed the power model; they are not kernel tables. */
        sv__calib_set_note(set, "%s: kind %s is not a calibration table; skipped", path, kind);
        return TRUE;
    }
    if (!check_columns(csv, spec, error))
        return FALSE;
    int c[8], c_t, c_model = sv__csv_col(csv, "model");
    for (int i = 0; spec->cols[i] != NULL; i++)
        if (!sv__csv_require(csv, spec->cols[i], kind, &c[i], error))
            return FALSE;
    if (!sv__csv_require(csv, "time_us", kind, &c_t, error))
        return FALSE;
    int file = sv__calib_set_file(set, path);
    int rows = 0, skipped = 0;
    GError *local = NULL;
    while (sv__csv_next(csv, &local)) {
        double t, v[6] = {0};
        SvDtype dtype = SV_DTYPE_FP16;
        if (!sv__csv_time(csv, c_t, 1e-6, &t, error))
            return FALSE;
        int group = -1;
        if (c_model >= 0 && *sv__csv_cell(csv, c_model) != '\0')
            group = sv__calib_set_group(set, sv__csv_cell(csv, c_model));
        if (spec->cols == gemm_cols) {
            for (int i = 0; i < 3; i++)
                if (!sv__csv_count(csv, c[i], 1, &v[i], error))
                    return FALSE;
            if (!read_dtype(csv, c[3], &dtype, error))
                return FALSE;
            add(set, SV_OBS_GEMM, dtype, v[0], v[1], v[2], NULL, t, file, csv->line, group);
        } else if (spec->cols == prefill_cols || spec->cols == decode_cols) {
            gboolean prefill = spec->cols == prefill_cols;
            if (!sv__csv_count(csv, c[0], 1, &v[0], error) ||
                !sv__csv_count(csv, c[1], 0, &v[1], error))
                return FALSE;
            for (int i = 2; i < 5; i++)
                if (!sv__csv_count(csv, c[i], 1, &v[i], error))
                    return FALSE;
            for (int i = 2; i < 5; i++)
                if (v[i] > 1 << 20)
                    return sv__csv_error(csv, c[i], error, "%g is out of range", v[i]);
            if (fmod(v[2], v[3]) != 0)
                return sv__csv_error(csv, c[3], error, "kv_heads %g does not divide q_heads %g",
                                     v[3], v[2]);
            if (!read_dtype(csv, c[5], &dtype, error))
                return FALSE;
            int h[3] = {(int)v[2], (int)v[3], (int)v[4]};
            add(set, prefill ? SV_OBS_PREFILL : SV_OBS_DECODE, dtype, v[0], v[1], 0, h, t, file,
                csv->line, group);
        } else if (spec->cols == elt_cols) {
            int op = 0;
            if (!read_name(csv, c[0], sv_calib_elt_ops, "elementwise op", &op, error) ||
                !sv__csv_count(csv, c[1], 1, &v[1], error) || !read_dtype(csv, c[2], &dtype, error))
                return FALSE;
            int h[3] = {op, 0, 0};
            add(set, SV_OBS_ELT, SV_DTYPE_FP16, v[1], 0, 0, h, t, file, csv->line, group);
        } else if (spec->cols == memcpy_cols) {
            static const char *const dirs[] = {"d2d", "h2d", "d2h", NULL};
            int dir = 0;
            if (!read_name(csv, c[0], dirs, "direction", &dir, error) ||
                !sv__csv_count(csv, c[1], 1, &v[1], error))
                return FALSE;
            if (dir != 0) {
                skipped++;
                continue;
            }
            /* A device copy reads and writes every byte. */
            int h[3] = {7 /* "copy" */, 0, 0};
            add(set, SV_OBS_ELT, SV_DTYPE_FP16, 2.0 * v[1], 0, 0, h, t, file, csv->line, group);
        } else {
            int op = 0;
            static const char *const ops[] = {"all_reduce", "all_gather", "reduce_scatter",
                                              "all_to_all", "send_recv",  NULL};
            if (!read_name(csv, c[0], ops, "collective op", &op, error) ||
                !sv__csv_count(csv, c[1], 1, &v[1], error) ||
                !sv__csv_count(csv, c[2], 1, &v[2], error) ||
                !sv__csv_count(csv, c[3], 1, &v[3], error) || !read_dtype(csv, c[4], &dtype, error))
                return FALSE;
            if (v[2] < 2 || v[2] > 1 << 20)
                return sv__csv_error(csv, c[2], error, "ranks must be from 2 to 2^20, got %g",
                                     v[2]);
            int h[3] = {op, (int)v[2], v[2] <= v[3] ? SV_LINK_SCALEUP : SV_LINK_SCALEOUT};
            add(set, SV_OBS_COLL, SV_DTYPE_FP16, v[1], 0, 0, h, t, file, csv->line, group);
        }
        rows++;
    }
    if (local != NULL) {
        g_propagate_error(error, local);
        return FALSE;
    }
    if (rows + skipped == 0)
        return sv__csv_header_error(csv, error, "no data rows");
    if (skipped > 0)
        sv__calib_set_note(set,
                           "%s: %d host<->device copy rows skipped (no table uses host-link "
                           "bandwidth yet)",
                           path, skipped);
    return TRUE;
}

const SvCalibLoader sv__calib_loader_probe = {"probe CSV", detect, load};
