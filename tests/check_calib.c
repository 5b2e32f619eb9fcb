/* Tests of calibration (perf/calib*.c, hw/calib.c, perf/table.c): the CSV
 * reader, the Vidur and probe loaders on small made-up inputs whose shapes
 * are worked out by hand, the builder (merging repeats, refusing conflicting
 * ones, thinning, host fits), the table lookups (measured, interpolated,
 * extrapolated), the YAML section round trip and splice, cross-validation,
 * and that the shipped calibrated profiles are exactly what `calibrate`
 * makes of the shipped inputs. */
#include "perf/calib-private.h"
#include "perf/table.h"

#include <check.h>
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#include "testutil.h"

#define ck_assert_rel(got, want, tol)                                                              \
    ck_assert_msg(fabs((got) - (want)) <= (tol)*fabs(want), "%s = %.9g, want %.9g (+-%g%%)", #got, \
                  (double)(got), (double)(want), (tol)*100.0)

/* A device with round numbers: 100 TFLOP/s, 1 TB/s, 100 GB/s scale-up. */
static SvHw round_hw(void)
{
    SvHw hw = sv_test_tiny_hw();
    hw.name = (char *)"round";
    hw.scaleup_latency_s = hw.scaleout_latency_s = 0;
    hw.eff_matmul = hw.eff_mem = hw.eff_link = 1;
    return hw;
}

static SvCalibSet *load(const char *rel)
{
    g_autofree char *dir = sv_test_path(rel);
    g_autoptr(GError) error = NULL;
    SvCalibSet *set = sv_calib_load_dir(dir, &error);
    ck_assert_msg(set != NULL, "load %s: %s", rel, error ? error->message : "?");
    return set;
}

static int count_kind(const SvCalibSet *set, SvObsKind kind)
{
    int n = 0;
    for (guint i = 0; i < set->obs->len; i++)
        n += g_array_index(set->obs, SvObs, i).kind == kind;
    return n;
}

static const SvObs *find_gemm(const SvCalibSet *set, double m, double n, double k, int nth)
{
    for (guint i = 0; i < set->obs->len; i++) {
        const SvObs *o = &g_array_index(set->obs, SvObs, i);
        if (o->kind == SV_OBS_GEMM && o->a[0] == m && o->a[1] == n && o->a[2] == k && nth-- == 0)
            return o;
    }
    return NULL;
}

/* ------------------------------------------------------------------ CSV -- */

START_TEST(test_csv_reader)
{
    g_autofree char *path = sv_test_write_tmp("# note: kept\na,\"b,c\",d\r\n"
                                              "1,\"x \"\"q\"\"\",3\n"
                                              "\n"
                                              "4, 5 ,6\n"
                                              "7,8\n",
                                              ".csv");
    g_autoptr(GError) error = NULL;
    g_autoptr(SvCsv) csv = sv__csv_open(path, TRUE, &error);
    ck_assert_ptr_nonnull(csv);
    ck_assert_str_eq(sv__csv_meta(csv, "note"), "kept");
    ck_assert_int_eq(csv->num_cols, 3);
    ck_assert_str_eq(csv->cols[1], "b,c");
    ck_assert_int_eq(csv->header_line, 2);
    ck_assert(sv__csv_next(csv, &error));
    ck_assert_int_eq(csv->line, 3);
    ck_assert_str_eq(sv__csv_cell(csv, 1), "x \"q\"");
    ck_assert(sv__csv_next(csv, &error));
    ck_assert_int_eq(csv->line, 5); /* the blank line is skipped */
    ck_assert_str_eq(sv__csv_cell(csv, 1), "5");
    double v = 0;
    ck_assert(sv__csv_number(csv, 1, FALSE, &v, NULL, &error));
    ck_assert(v == 5);
    ck_assert(!sv__csv_next(csv, &error));
    ck_assert_ptr_nonnull(error);
    g_autofree char *want = g_strdup_printf("%s:6:1: 2 fields, but the header has 3", path);
    ck_assert_str_eq(error->message, want);
    g_unlink(path);
}
END_TEST

START_TEST(test_csv_cells)
{
    g_autofree char *path = sv_test_write_tmp("t,n\nabc,1.5\n-2,0\n0,nan\n", ".csv");
    g_autoptr(GError) error = NULL;
    g_autoptr(SvCsv) csv = sv__csv_open(path, FALSE, &error);
    ck_assert_ptr_nonnull(csv);
    double v;
    ck_assert(sv__csv_next(csv, &error));
    ck_assert(!sv__csv_time(csv, 0, 1e-3, &v, &error));
    ck_assert_msg(strstr(error->message, ":2:1: 'abc' is not a number (column 't')"), "%s",
                  error->message);
    g_clear_error(&error);
    ck_assert(!sv__csv_count(csv, 1, 1, &v, &error));
    ck_assert_msg(strstr(error->message, ":2:5: column 'n' must be a whole number, got 1.5"), "%s",
                  error->message);
    g_clear_error(&error);
    ck_assert(sv__csv_next(csv, &error));
    ck_assert(!sv__csv_time(csv, 0, 1e-3, &v, &error));
    ck_assert_msg(strstr(error->message, ":3:1: negative time -2"), "%s", error->message);
    g_clear_error(&error);
    ck_assert(!sv__csv_count(csv, 1, 1, &v, &error));
    ck_assert_msg(strstr(error->message, "must be at least 1, got 0"), "%s", error->message);
    g_clear_error(&error);
    ck_assert(sv__csv_next(csv, &error));
    ck_assert(!sv__csv_time(csv, 0, 1e-3, &v, &error));
    ck_assert_msg(strstr(error->message, "zero time"), "%s", error->message);
    g_clear_error(&error);
    ck_assert(!sv__csv_number(csv, 1, FALSE, &v, NULL, &error));
    ck_assert_msg(strstr(error->message, "'nan' is not a number"), "%s", error->message);
    g_unlink(path);
}
END_TEST

/* -------------------------------------------------------------- loaders -- */

START_TEST(test_vidur_loader)
{
    g_autoptr(SvCalibSet) set = load("data/calib/vidur-small");
    ck_assert_int_eq(set->files->len, 4);
    /* 7 mlp rows x 4 GEMMs and x 6 elementwise columns; 3 + 5 attention
     * rows; 5 all-reduce rows; 3 overhead rows x 4 terms. */
    ck_assert_int_eq(count_kind(set, SV_OBS_GEMM), 28);
    ck_assert_int_eq(count_kind(set, SV_OBS_ELT), 42);
    ck_assert_int_eq(count_kind(set, SV_OBS_PREFILL), 3);
    ck_assert_int_eq(count_kind(set, SV_OBS_DECODE), 5);
    ck_assert_int_eq(count_kind(set, SV_OBS_COLL), 5);
    ck_assert_int_eq(count_kind(set, SV_OBS_HOST), 12);
    /* Geometry 16 q / 4 kv heads of 1024/16 = 64, FFN 4096, gated:
     * TP1 qkv N = (16 + 2x4) x 64 = 1536, K = 1024; TP2 (8 + 2x2) x 64 = 768;
     * o N = 1024, K = 16 x 64 / tp; up N = 2 x 4096 / tp; down K = 4096 / tp. */
    const SvObs *qkv = find_gemm(set, 8, 1536, 1024, 0);
    ck_assert_ptr_nonnull(qkv);
    ck_assert_rel(qkv->t_s, 11e-6, 1e-12);
    ck_assert_int_eq(qkv->line, 3);
    ck_assert_ptr_nonnull(find_gemm(set, 8, 768, 1024, 0));
    ck_assert_ptr_nonnull(find_gemm(set, 1, 1024, 512, 0));
    ck_assert_ptr_nonnull(find_gemm(set, 64, 8192, 1024, 0));
    ck_assert_ptr_nonnull(find_gemm(set, 64, 1024, 2048, 0));
    ck_assert_ptr_nonnull(find_gemm(set, 64, 1536, 1024, 1)); /* the repeated row */
    ck_assert_str_eq(set->groups->pdata[qkv->group], "tiny-model");
    /* A decode row: per-device heads 16/4 x 64, batch 2, context 2050. */
    gboolean found = FALSE;
    for (guint i = 0; i < set->obs->len; i++) {
        const SvObs *o = &g_array_index(set->obs, SvObs, i);
        if (o->kind == SV_OBS_DECODE && o->a[0] == 2 && o->a[1] == 2050) {
            ck_assert_int_eq(o->h[0], 16);
            ck_assert_int_eq(o->h[1], 4);
            ck_assert_int_eq(o->h[2], 64);
            ck_assert_rel(o->t_s, 25e-6, 1e-12);
            found = TRUE;
        }
        /* 2 workers on 1 device per node: across nodes. */
        if (o->kind == SV_OBS_COLL && o->t_s > 39e-6)
            ck_assert_int_eq(o->h[2], SV_LINK_SCALEOUT);
    }
    ck_assert(found);
}
END_TEST

START_TEST(test_probe_loader)
{
    g_autoptr(SvCalibSet) set = load("data/calib/probe-small");
    ck_assert_str_eq(set->device, "Test GPU 80GB");
    ck_assert_int_eq(count_kind(set, SV_OBS_GEMM), 3);
    ck_assert_int_eq(count_kind(set, SV_OBS_DECODE), 2);
    /* 2 rmsnorm rows and the device copy (its h2d row is skipped). */
    ck_assert_int_eq(count_kind(set, SV_OBS_ELT), 3);
    ck_assert_int_eq(count_kind(set, SV_OBS_COLL), 2);
    const SvObs *g = find_gemm(set, 128, 4096, 4096, 0);
    ck_assert_ptr_nonnull(g);
    ck_assert_int_eq(g->dtype, SV_DTYPE_FP16); /* bf16 and fp16 are one class */
    ck_assert_rel(g->t_s, 20e-6, 1e-12);
    ck_assert_int_eq(g->line, 10);
    ck_assert_int_eq(find_gemm(set, 1, 4096, 4096, 1)->dtype, SV_DTYPE_FP8);
    for (guint i = 0; i < set->obs->len; i++) {
        const SvObs *o = &g_array_index(set->obs, SvObs, i);
        if (o->kind == SV_OBS_ELT && o->h[0] == 7) /* copy: read and write 1 GiB */
            ck_assert(o->a[0] == 2.0 * 1073741824.0);
        if (o->kind == SV_OBS_COLL)
            ck_assert_int_eq(o->h[2], o->h[1] <= 8 ? SV_LINK_SCALEUP : SV_LINK_SCALEOUT);
    }
    /* Notes say what was skipped. */
    gboolean layer = FALSE, h2d = FALSE;
    for (guint i = 0; i < set->notes->len; i++) {
        layer |= strstr(set->notes->pdata[i], "kind layer is not a calibration table") != NULL;
        h2d |= strstr(set->notes->pdata[i], "1 host<->device copy rows skipped") != NULL;
    }
    ck_assert(layer && h2d);
}
END_TEST

START_TEST(test_load_dir_errors)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *missing = sv_test_path("data/calib/no-such-dir");
    ck_assert_ptr_null(sv_calib_load_dir(missing, &error));
    ck_assert(g_str_has_suffix(error->message, "no-such-dir: not a directory"));
    g_clear_error(&error);
    g_autofree char *empty = g_dir_make_tmp("calib-XXXXXX", NULL);
    ck_assert_ptr_null(sv_calib_load_dir(empty, &error));
    ck_assert_msg(strstr(error->message, "no CSV files"), "%s", error->message);
    g_clear_error(&error);
    g_autofree char *other = g_build_filename(empty, "notes.csv", NULL);
    g_file_set_contents(other, "a,b\n1,2\n", -1, NULL);
    ck_assert_ptr_null(sv_calib_load_dir(empty, &error));
    ck_assert_msg(strstr(error->message, "notes.csv:1: not a calibration CSV"), "%s",
                  error->message);
    g_unlink(other);
    g_rmdir(empty);
}
END_TEST

/* ------------------------------------------------------------- building -- */

static void add_obs(SvCalibSet *set, SvObsKind kind, double a0, double a1, double a2, int h0,
                    int h1, int h2, double t_s, int line, double src)
{
    SvObs o = {.kind = kind,
               .dtype = SV_DTYPE_FP16,
               .a = {a0, a1, a2, 0},
               .h = {h0, h1, h2},
               .t_s = t_s,
               .file = sv__calib_set_file(set, "made-up.csv"),
               .line = line,
               .group = -1,
               .src = src};
    g_array_append_val(set->obs, o);
}

START_TEST(test_build_merges_and_refuses)
{
    SvHw hw = round_hw();
    g_autoptr(SvCalibSet) set = sv_calib_set_new();
    add_obs(set, SV_OBS_GEMM, 8, 4096, 4096, 0, 0, 0, 10e-6, 2, 1);
    add_obs(set, SV_OBS_GEMM, 8, 4096, 4096, 0, 0, 0, 11e-6, 3, 1);
    add_obs(set, SV_OBS_GEMM, 8, 4096, 4096, 0, 0, 0, 40e-6, 4, 2); /* another sweep row */
    g_autoptr(GError) error = NULL;
    SvCalibBuildOptions opt = {0};
    g_autoptr(SvCalib) c = sv_calib_build(set, &hw, &opt, &error);
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(c->num_gemm, 1);
    ck_assert_int_eq(c->gemm[0].m.n, 1);
    ck_assert_rel(c->gemm[0].m.t_s[0], (10e-6 + 11e-6 + 40e-6) / 3, 1e-12);
    /* One file saying 10 us and 100 us for one point of one row. */
    add_obs(set, SV_OBS_GEMM, 8, 4096, 4096, 0, 0, 0, 100e-6, 9, 1);
    ck_assert_ptr_null(sv_calib_build(set, &hw, &opt, &error));
    ck_assert_str_eq(error->message,
                     "made-up.csv:9: gemm m=8 n=4096 k=4096 measured 100 us here but 10 us on "
                     "line 2 (more than 1.5x apart: conflicting duplicates)");
    g_clear_error(&error);
    /* 2 us against 4 us is timer rounding (under 5 us apart), not a conflict. */
    g_autoptr(SvCalibSet) small = sv_calib_set_new();
    add_obs(small, SV_OBS_ELT, 1024, 1, 0, 1, 0, 0, 2e-6, 2, 5);
    add_obs(small, SV_OBS_ELT, 1024, 1, 0, 1, 0, 0, 4e-6, 3, 5);
    g_autoptr(SvCalib) c2 = sv_calib_build(small, &hw, &opt, &error);
    ck_assert_ptr_nonnull(c2);
    ck_assert_rel(c2->elt[0].bytes.t_s[0], 3e-6, 1e-12);
}
END_TEST

START_TEST(test_thinning)
{
    SvHw hw = round_hw();
    g_autoptr(SvCalibSet) set = sv_calib_set_new();
    /* A memory-bound line at exactly twice its roofline for m = 1..8: every
     * inner point is predicted exactly by its neighbours, so only the ends
     * stay. A point at m = 16 twice slower again (a kernel switch) must
     * stay, and with it the end of the flat run before it (m = 8). */
    for (int m = 1; m <= 8; m++) {
        double flops, bytes;
        sv_calib_gemm_cost(m, 4096, 4096, 2, 2, &flops, &bytes);
        add_obs(set, SV_OBS_GEMM, m, 4096, 4096, 0, 0, 0, 2 * bytes / 1e12, m, m);
    }
    double flops, bytes;
    sv_calib_gemm_cost(16, 4096, 4096, 2, 2, &flops, &bytes);
    add_obs(set, SV_OBS_GEMM, 16, 4096, 4096, 0, 0, 0, 4 * bytes / 1e12, 16, 16);
    sv_calib_gemm_cost(32, 4096, 4096, 2, 2, &flops, &bytes);
    add_obs(set, SV_OBS_GEMM, 32, 4096, 4096, 0, 0, 0, 2 * bytes / 1e12, 32, 32);
    g_autoptr(GError) error = NULL;
    SvCalibBuildOptions opt = {.tolerance = 0.02};
    g_autoptr(SvCalib) c = sv_calib_build(set, &hw, &opt, &error);
    ck_assert_ptr_nonnull(c);
    const SvCurve *m = &c->gemm[0].m;
    ck_assert_int_eq(m->n, 4);
    ck_assert(m->x[0] == 1 && m->x[1] == 8 && m->x[2] == 16 && m->x[3] == 32);
    /* Without tolerance every point stays. */
    SvCalibBuildOptions none = {0};
    g_autoptr(SvCalib) full = sv_calib_build(set, &hw, &none, &error);
    ck_assert_int_eq(full->gemm[0].m.n, 10);
}
END_TEST

START_TEST(test_host_fit)
{
    SvHw hw = round_hw();
    g_autoptr(SvCalibSet) set = load("data/calib/vidur-small");
    SvCalibBuildOptions opt = {.tolerance = 0.02};
    g_autoptr(GError) error = NULL;
    g_autoptr(SvCalib) c = sv_calib_build(set, &hw, &opt, &error);
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(c->num_host, 1);
    const SvHostFit *h = &c->host[0];
    ck_assert_int_eq(h->tp, 1);
    ck_assert(h->batch_min == 8 && h->batch_max == 32);
    /* schedule = 10 us + 1 us x batch exactly; process = 2 us x batch (the
     * fit's intercept is 0); sampler and prepare are flat. */
    ck_assert_rel(h->base_s[SV_HOST_SCHEDULE], 10e-6, 1e-9);
    ck_assert_rel(h->per_req_s[SV_HOST_SCHEDULE], 1e-6, 1e-9);
    ck_assert(fabs(h->base_s[SV_HOST_PROCESS_OUTPUTS]) < 1e-12);
    ck_assert_rel(h->per_req_s[SV_HOST_PROCESS_OUTPUTS], 2e-6, 1e-9);
    ck_assert_rel(h->base_s[SV_HOST_SAMPLER], 500e-6, 1e-9);
    ck_assert(h->per_req_s[SV_HOST_SAMPLER] == 0);
    ck_assert_rel(h->base_s[SV_HOST_PREPARE_INPUTS], 300e-6, 1e-9);
    /* 16 requests at tp 1: 26 + 500 + 300 + 32 us, inside the fit. */
    SvCoverage cov;
    double terms[SV_HOST_TERM_COUNT];
    ck_assert_rel(sv_table_host(c, 1, 16, terms, &cov), 858e-6, 1e-9);
    ck_assert_str_eq(sv_coverage_name(cov), "interpolated");
    ck_assert_rel(terms[SV_HOST_PROCESS_OUTPUTS], 32e-6, 1e-9);
    /* tp 4 borrows tp 1's fit; 64 requests is past the fit. */
    sv_table_host(c, 4, 16, NULL, &cov);
    ck_assert_str_eq(sv_coverage_name(cov), "extrapolated");
    sv_table_host(c, 1, 64, NULL, &cov);
    ck_assert_str_eq(sv_coverage_name(cov), "extrapolated");
}
END_TEST

/* -------------------------------------------------------------- lookups -- */

START_TEST(test_curve_lookup)
{
    SvHw hw = round_hw();
    g_autoptr(SvCalib) c = sv_calib_new();
    /* An rmsnorm curve: 1 MB in 4 us, 16 MB in 20 us. Utilisation is the
     * memory roofline (bytes / 1 TB/s) over the time: 0.262144 and 0.8388608. */
    c->num_elt = 1;
    c->elt = g_new0(SvEltCurve, 1);
    c->elt[0].op = g_strdup("rmsnorm");
    SvCurve *cv = &c->elt[0].bytes;
    cv->n = 2;
    cv->x = g_new(double, 2);
    cv->t_s = g_new(double, 2);
    cv->x[0] = 1 << 20;
    cv->x[1] = 1 << 24;
    cv->t_s[0] = 4e-6;
    cv->t_s[1] = 20e-6;
    sv_calib_prepare(c, &hw);
    double exact, u0 = (1 << 20) / 1e12 / 4e-6, u1 = (1 << 24) / 1e12 / 20e-6;
    SvCoverage cov;
    double lu = sv_table_curve(cv, 1 << 20, log(1 << 20), &exact, &cov);
    ck_assert_str_eq(sv_coverage_name(cov), "measured");
    ck_assert(exact == 4e-6);
    ck_assert_rel(exp(lu), u0, 1e-12);
    /* 4 MB is halfway on the log axis: u = sqrt(u0 u1), t = 4 MB / 1 TB/s / u. */
    lu = sv_table_curve(cv, 1 << 22, log(1 << 22), &exact, &cov);
    ck_assert_str_eq(sv_coverage_name(cov), "interpolated");
    ck_assert(exact < 0);
    ck_assert_rel((1 << 22) / 1e12 / exp(lu), (1 << 22) / 1e12 / sqrt(u0 * u1), 1e-12);
    /* 64 MB is outside: u1 held, so t = 64 MB / 1 TB/s / u1 = 80 us. */
    lu = sv_table_curve(cv, 1 << 26, log(1 << 26), &exact, &cov);
    ck_assert_str_eq(sv_coverage_name(cov), "extrapolated");
    ck_assert_rel((1 << 26) / 1e12 / exp(lu), 80e-6, 1e-12);
    ck_assert_ptr_nonnull(sv_table_elt(c, "rmsnorm"));
    ck_assert_ptr_null(sv_table_elt(c, "rope"));
}
END_TEST

START_TEST(test_gemm_bind)
{
    SvHw hw = round_hw();
    g_autoptr(SvCalibSet) set = load("data/calib/vidur-small");
    SvCalibBuildOptions opt = {0};
    g_autoptr(GError) error = NULL;
    g_autoptr(SvCalib) c = sv_calib_build(set, &hw, &opt, &error);
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(c->num_gemm, 8);
    SvGemmBind b;
    /* A measured shape and M: the merged time of the repeated row. */
    sv_table_gemm_bind(c, SV_DTYPE_BF16, FALSE, 1536, 1024, &b);
    ck_assert(b.exact && b.num == 1);
    SvCoverage cov;
    ck_assert_rel(sv_table_gemm(c, &b, 64, 1.0, &cov), 16.5e-6, 1e-12);
    ck_assert_str_eq(sv_coverage_name(cov), "measured");
    /* Shape (1024, 768): no line has n above 1024 and k at most 768, so
     * one quadrant is empty and the blend is an extrapolation. */
    sv_table_gemm_bind(c, SV_DTYPE_BF16, FALSE, 1024, 768, &b);
    ck_assert(!b.exact && !b.inside);
    ck_assert_int_eq(b.num, 3);
    double w = 0;
    for (int i = 0; i < b.num; i++)
        w += b.w[i];
    ck_assert_rel(w, 1.0, 1e-12);
    /* fp8 has no line: the 16-bit lines lend their utilisation. */
    sv_table_gemm_bind(c, SV_DTYPE_FP8, FALSE, 1536, 1024, &b);
    ck_assert(b.other_dtype && b.num == 1);
    sv_table_gemm(c, &b, 64, 1e-6, &cov);
    ck_assert_str_eq(sv_coverage_name(cov), "extrapolated");
}
END_TEST

START_TEST(test_gemm_quadrants)
{
    /* Four lines around (2000, 2000), every point at half the roofline, in
     * M where all of them are compute-bound (time proportional to M, so the
     * blend along M is exact): equal distances give weights of 1/4 each,
     * the blend of equal utilisations is that utilisation, and the query
     * takes twice its own roofline; inside in M it is interpolated, past
     * it extrapolated. */
    SvHw hw = round_hw();
    g_autoptr(SvCalibSet) set = sv_calib_set_new();
    double nk[4][2] = {{1000, 1000}, {1000, 4000}, {4000, 1000}, {4000, 4000}};
    int line = 1;
    for (int i = 0; i < 4; i++)
        for (int m = 512; m <= 4096; m *= 8) {
            double flops, bytes;
            sv_calib_gemm_cost(m, nk[i][0], nk[i][1], 2, 2, &flops, &bytes);
            double r = MAX(flops / 100e12, bytes / 1e12);
            add_obs(set, SV_OBS_GEMM, m, nk[i][0], nk[i][1], 0, 0, 0, 2 * r, line, line);
            line++;
        }
    g_autoptr(GError) error = NULL;
    SvCalibBuildOptions opt = {0};
    g_autoptr(SvCalib) c = sv_calib_build(set, &hw, &opt, &error);
    ck_assert_ptr_nonnull(c);
    SvGemmBind b;
    sv_table_gemm_bind(c, SV_DTYPE_BF16, FALSE, 2000, 2000, &b);
    ck_assert(b.inside && !b.exact);
    ck_assert_int_eq(b.num, 4);
    for (int i = 0; i < 4; i++)
        ck_assert_rel(b.w[i], 0.25, 1e-12);
    double flops, bytes;
    sv_calib_gemm_cost(1024, 2000, 2000, 2, 2, &flops, &bytes);
    double roof = MAX(flops / 100e12, bytes / 1e12);
    ck_assert(roof == flops / 100e12);
    SvCoverage cov;
    ck_assert_rel(sv_table_gemm(c, &b, 1024, roof, &cov), 2 * roof, 1e-12);
    ck_assert_str_eq(sv_coverage_name(cov), "interpolated");
    sv_table_gemm(c, &b, 8192, roof, &cov);
    ck_assert_str_eq(sv_coverage_name(cov), "extrapolated");
}
END_TEST

/* Lines for the trend / sawtooth tests: four quadrant lines tight around
 * (2000, 2000) at half the roofline everywhere, and a line of the same n
 * (2000, 8000) whose log utilisation is ln 0.3 + 0.05 ln M, plus ln(@bump)
 * at M = 256; all at M = 1, 2, 4, ..., 4096. */
static double saw_lu(double m)
{
    return log(0.3) + 0.05 * log(m);
}

static SvCalib *saw_calib(const SvHw *hw, double bump)
{
    g_autoptr(SvCalibSet) set = sv_calib_set_new();
    double nk[5][2] = {{1900, 1900}, {1900, 2100}, {2100, 1900}, {2100, 2100}, {2000, 8000}};
    int line = 1;
    for (int i = 0; i < 5; i++)
        for (double m = 1; m <= 4096; m *= 2) {
            double flops, bytes;
            sv_calib_gemm_cost(m, nk[i][0], nk[i][1], 2, 2, &flops, &bytes);
            double r = MAX(flops / 100e12, bytes / 1e12);
            double u = i < 4 ? 0.5 : exp(saw_lu(m)) * (m == 256 ? bump : 1.0);
            add_obs(set, SV_OBS_GEMM, m, nk[i][0], nk[i][1], 0, 0, 0, r / u, line, line);
            line++;
        }
    g_autoptr(GError) error = NULL;
    SvCalibBuildOptions opt = {0};
    SvCalib *c = sv_calib_build(set, hw, &opt, &error);
    ck_assert_ptr_nonnull(c);
    return c;
}

static double saw_roof(double m)
{
    double flops, bytes;
    sv_calib_gemm_cost(m, 2000, 2000, 2, 2, &flops, &bytes);
    return MAX(flops / 100e12, bytes / 1e12);
}

START_TEST(test_gemm_same_n_sawtooth)
{
    SvHw hw = round_hw();
    SvCoverage cov;
    SvGemmBind b;
    {
        /* The same-n line is far in k (|ln 4| > 0.35): weight 0.6. Its trend
         * is a straight line in ln M, which the lookup takes out again, so
         * at M = 256 (its windows inside the data) only the quadrant lines'
         * utilisation is left: twice the roofline. */
        g_autoptr(SvCalib) c = saw_calib(&hw, 1.0);
        sv_table_gemm_bind(c, SV_DTYPE_BF16, FALSE, 2000, 2000, &b);
        ck_assert(b.inside && !b.exact);
        ck_assert_int_eq(b.num, 4);
        ck_assert_int_ge(b.same_n, 0);
        ck_assert(c->gemm[b.same_n].n == 2000 && c->gemm[b.same_n].k == 8000);
        ck_assert(b.same_beta == 0.6);
        ck_assert_rel(sv_table_gemm(c, &b, 256, saw_roof(256), &cov), 2 * saw_roof(256), 1e-12);
        ck_assert_str_eq(sv_coverage_name(cov), "interpolated");
        /* k = 7000 is near 8000 (|ln(7/8)| < 0.35): the whole sawtooth. */
        sv_table_gemm_bind(c, SV_DTYPE_BF16, FALSE, 2000, 7000, &b);
        ck_assert(b.same_beta == 1.0);
        /* Its own shape past its largest M: the trend of its last 0.5 of
         * ln M held (the straight line at ln 4096 - 0.25), not M = 4096. */
        sv_table_gemm_bind(c, SV_DTYPE_BF16, FALSE, 2000, 8000, &b);
        ck_assert(b.exact && b.same_n < 0);
        double flops, bytes;
        sv_calib_gemm_cost(8192, 2000, 8000, 2, 2, &flops, &bytes);
        double roof = MAX(flops / 100e12, bytes / 1e12);
        ck_assert_rel(sv_table_gemm(c, &b, 8192, roof, &cov),
                      roof / exp(saw_lu(4096) - 0.25 * 0.05), 1e-12);
        ck_assert_str_eq(sv_coverage_name(cov), "extrapolated");
    }
    {
        /* A tooth of +20 % at M = 256 on the same-n line: the lookup at M =
         * 256 carries 0.6 x (the tooth less its mean over the trend
         * windows). The tooth is a triangle in ln M of height ln 1.2 and
         * half-width ln 2; its mean over [x - 0.25, x + 0.25] at the knots
         * x = 5.5 and 6 (ln 256 = 5.545 lies between) is integrated here by
         * the midpoint rule, independently of the lookup. */
        g_autoptr(SvCalib) c = saw_calib(&hw, 1.2);
        sv_table_gemm_bind(c, SV_DTYPE_BF16, FALSE, 2000, 2000, &b);
        double d = log(1.2), t0 = log(256.0), half = log(2.0), mean[2];
        for (int j = 0; j < 2; j++) {
            double x = 5.5 + 0.5 * j, sum = 0;
            int steps = 200000;
            for (int s = 0; s < steps; s++) {
                double t = x - 0.25 + 0.5 * (s + 0.5) / steps;
                sum += d * MAX(0.0, 1.0 - fabs(t - t0) / half);
            }
            mean[j] = sum / steps;
        }
        double a = (t0 - 5.5) / 0.5;
        double want = 0.6 * (d - (mean[0] + a * (mean[1] - mean[0])));
        double got = sv_table_gemm(c, &b, 256, saw_roof(256), &cov);
        ck_assert_rel(2 * saw_roof(256) / got, exp(want), 1e-9);
        /* The tooth shows (about 2.6 % faster than the blend; most of a
         * tooth this wide, between points ln 2 apart, is trend). */
        ck_assert(want > 0.02);
    }
}
END_TEST

/* ------------------------------------------------------------ YAML form -- */

START_TEST(test_yaml_round_trip)
{
    SvHw hw = round_hw();
    g_autoptr(SvCalibSet) set = load("data/calib/vidur-small");
    SvCalibBuildOptions opt = {.tolerance = 0.02};
    g_autoptr(GError) error = NULL;
    g_autoptr(SvCalib) c = sv_calib_build(set, &hw, &opt, &error);
    ck_assert_ptr_nonnull(c);
    c->source = g_strdup("made-up \"inputs\"");
    g_autofree char *text = sv_calib_to_yaml(c);
    g_autoptr(SvYDoc) doc = sv_ydoc_load_string(text, -1, "round.yaml", SV_HW_ERROR, &error);
    ck_assert_msg(doc != NULL, "%s", error ? error->message : "?");
    g_autoptr(SvCalib) back =
        sv_calib_parse(doc, sv_ynode_get(doc->root, "calibration"), &hw, &error);
    ck_assert_msg(back != NULL, "%s", error ? error->message : "?");
    ck_assert_str_eq(back->source, "made-up \"inputs\"");
    ck_assert_int_eq(back->num_gemm, c->num_gemm);
    ck_assert_int_eq(back->num_decode, 1);
    ck_assert_int_eq(back->num_host, 1);
    ck_assert_int_eq(sv_calib_num_points(back), sv_calib_num_points(c));
    g_autofree char *again = sv_calib_to_yaml(back);
    ck_assert_str_eq(again, text);
}
END_TEST

START_TEST(test_splice)
{
    SvHw hw = round_hw();
    g_autoptr(SvCalib) c = sv_calib_new();
    c->source = g_strdup("new");
    const char *base = "name: x\n"
                       "# Calibrated tables: generated by `servesim calibrate`; regenerate, do "
                       "not edit.\n"
                       "calibration:\n"
                       "  source: old\n"
                       "power: {max_w: 10}\n";
    g_autoptr(GError) error = NULL;
    g_autoptr(SvYDoc) doc = sv_ydoc_load_string(base, -1, "b.yaml", SV_HW_ERROR, &error);
    ck_assert_ptr_nonnull(doc);
    g_autofree char *out = sv_calib_profile_text(base, doc, c);
    ck_assert_str_eq(out, "name: x\n"
                          "power: {max_w: 10}\n"
                          "# Calibrated tables: generated by `servesim calibrate`; regenerate, "
                          "do not edit.\n"
                          "calibration:\n"
                          "  source: \"new\"\n"
                          "  tolerance_pct: 0\n");
    (void)hw;
}
END_TEST

/* Calibrating a shipped profile from its shipped inputs gives the profile
 * back byte for byte (hwprofiles/calibration/README.md). */
static void check_regenerates(const char *device)
{
    g_autofree char *input = g_strdup_printf("hwprofiles/calibration/%s", device);
    g_autofree char *input_abs = sv_test_src_path(input);
    g_autofree char *prof = g_strdup_printf("hwprofiles/%s.yaml", device);
    g_autofree char *prof_abs = sv_test_src_path(prof);
    g_autoptr(GError) error = NULL;
    g_autofree char *text = sv_calib_make_profile(input_abs, prof_abs, 0.02, NULL, NULL, &error);
    ck_assert_msg(text != NULL, "%s", error ? error->message : "?");
    g_autofree char *shipped = NULL;
    ck_assert(g_file_get_contents(prof_abs, &shipped, NULL, NULL));
    ck_assert_msg(strcmp(text, shipped) == 0,
                  "%s differs from `servesim calibrate --input %s --hw %s`: regenerate it", prof,
                  input, prof);
}

START_TEST(test_shipped_profiles_regenerate)
{
    check_regenerates("h100-sxm");
    check_regenerates("a100-sxm-80g");
    check_regenerates("a40");
}
END_TEST

START_TEST(test_validate)
{
    SvHw hw = round_hw();
    g_autoptr(SvCalibSet) set = load("data/calib/vidur-small");
    g_autoptr(GString) out = g_string_new(NULL);
    g_autoptr(GError) error = NULL;
    ck_assert(sv_calib_validate(set, &hw, 0.02, "round", out, &error));
    /* One model measured: leave-one-model-out cannot be done for GEMMs. */
    ck_assert_msg(strstr(out->str, "| round | gemm | leave-one-model-out | n/a (one model or "
                                   "geometry measured) | 0 | n/a | n/a |\n"),
                  "%s", out->str);
    /* The three M values: only the middle one (8) is left out. */
    ck_assert_msg(strstr(out->str, "| round | gemm | leave-one-size-out | each M (tokens) (1 of "
                                   "3) | 8 |"),
                  "%s", out->str);
    /* Collectives: (2, scale-up) and (4, scale-up) each predicted from the
     * other: its time above the fixed latency scaled by the ratio of ring
     * traffic (1 x and 1.5 x the buffer). The latency is the other curve's
     * fastest time: 12 us for 4 ranks, 10 for 2. So 2 ranks get 12 us for
     * 10 (+20 %) at 2 KiB and 30 - 18 / 3 = 24 for 20 (+20 %) at 1 MiB; 4
     * ranks 10 for 12 (-16.7 %) and 20 + 10 / 2 = 25 for 30 (-16.7 %).
     * (2, scale-out) has no group of its link to answer. */
    ck_assert_msg(strstr(out->str, "| round | collective | leave-one-group-out | each of 2 "
                                   "scale-up groups at an end (extrapolated) | 4 | 16.7 % | 20.0 % "
                                   "|\n"),
                  "%s", out->str);
    /* The error analysis per held-out group and size regime: 2 ranks are
     * +20 % at 2 KiB (latency-bound) and at 1 MiB (bandwidth-bound). */
    ck_assert_msg(strstr(out->str, "| round | collective (per group) | all_reduce 2 ranks, 2 per "
                                   "node (scale-up, at an end) | below 1 MiB (latency-bound) | 1 | "
                                   "+20.0 % | 0.0 % | 20.0 % | 20.0 % |\n"),
                  "%s", out->str);
    ck_assert_msg(strstr(out->str, "| round | collective (per group) | all_reduce 4 ranks, 4 per "
                                   "node (scale-up, at an end) | 1 MiB and above (bandwidth-bound) "
                                   "| 1 | -16.7 % | 0.0 % | 16.7 % | 16.7 % |\n"),
                  "%s", out->str);
    ck_assert_msg(strstr(out->str, "between two measured sizes") == NULL, "%s", out->str);
}
END_TEST

/* Leave-one-group-out tells interpolation between group sizes from
 * extrapolation past them: 4 ranks sit between 2 and 8 and are predicted
 * by blending their times geometrically with weight log 3 / log 7 = 0.5646
 * on 8 (table.h): 10^0.4354 x 14^0.5646 = 12.09 us for 12 (0.77 %) and
 * 20^0.4354 x 40^0.5646 = 29.58 us for 30 (1.40 %). */
START_TEST(test_validate_groups)
{
    SvHw hw = round_hw();
    g_autoptr(SvCalibSet) set = load("data/calib/coll-three");
    g_autoptr(GString) out = g_string_new(NULL);
    g_autoptr(GError) error = NULL;
    ck_assert(sv_calib_validate(set, &hw, 0.02, "round", out, &error));
    ck_assert_msg(strstr(out->str, "| round | collective | leave-one-group-out | each of 1 "
                                   "scale-up group between two measured sizes | 2 | 0.8 % | "
                                   "1.4 % |\n"),
                  "%s", out->str);
    ck_assert_msg(strstr(out->str, "| round | collective | leave-one-group-out | each of 2 "
                                   "scale-up groups at an end (extrapolated) | 4 |"),
                  "%s", out->str);
}
END_TEST

/* Across nodes (tests/data/calib/coll-scaleout: (2, 1), (4, 2), (8, 4),
 * (16, 8) ranks and ranks per node, bus bandwidth at 64 MiB 5 GB/s with one
 * device per node and 10 GB/s with more: two NICs per node). A group
 * between two measured ones gets min(its devices per node, K) times the
 * bandwidth per NIC the other curves pool, K fitted to them: 2 whichever
 * group is left out, so (4, 2) and (8, 4) are exact at 64 MiB. At 2 KiB
 * (50 us for all) the pooled bandwidth per NIC is the geometric mean of
 * 1.5 x 2048 B / 50 us / 2 = 30.72 MB/s for (4, 2) (and 40.96 for (2, 1),
 * 35.84 for (8, 4), 38.4 for (16, 8)): (4, 2) gets 1.5 x 2048 / (2 x
 * 38.343 MB/s) = 40.06 us (-19.9 %), (8, 4) 1.75 x 2048 / (2 x 36.43 MB/s)
 * = 49.20 us (-1.6 %). Outside the measured groups the nearest one's bus
 * bandwidth is held: (2, 1) from (4, 2) at 64 MiB is 10.0663 ms less a
 * third of its part above the 50 us latency = 6.728 ms for 13.42 (-49.9
 * %), (16, 8) from (8, 4) 11.744 + 11.694 x (1.875 / 1.75 - 1) = 12.579
 * ms for 12.583 (-0.03 %); at 2 KiB both are the latency, 50 us (0 %). */
START_TEST(test_validate_scaleout)
{
    SvHw hw = round_hw();
    g_autoptr(SvCalibSet) set = load("data/calib/coll-scaleout");
    g_autoptr(GString) out = g_string_new(NULL);
    g_autoptr(GError) error = NULL;
    ck_assert(sv_calib_validate(set, &hw, 0.02, "round", out, &error));
    ck_assert_msg(strstr(out->str, "| round | collective | leave-one-group-out | each of 2 "
                                   "scale-out groups between two measured sizes | 4 | 0.0 % | "
                                   "19.9 % |\n"),
                  "%s", out->str);
    ck_assert_msg(strstr(out->str, "| round | collective | leave-one-group-out | each of 2 "
                                   "scale-out groups at an end (extrapolated) | 4 | 0.0 % | "
                                   "49.9 % |\n"),
                  "%s", out->str);

    /* At run time the group's own devices per node set its NICs: 6 ranks
     * across nodes, between 4 and 8, pool all four curves (K = 2, 5 GB/s
     * per NIC): with 3 per node 2 NICs, 10 GB/s, 5/3 x 64 MiB / 10 GB/s =
     * 11.1848 ms; one per node (six nodes) 5 GB/s, twice that. */
    SvCalibBuildOptions opt = {.tolerance = 0.02};
    g_autoptr(SvCalib) c = sv_calib_build(set, &hw, &opt, &error);
    ck_assert_msg(c != NULL, "%s", error ? error->message : "?");
    SvCollBind b;
    SvCoverage cov;
    sv_table_coll_bind(c, SV_COLL_ALL_REDUCE, 6, 3, SV_LINK_SCALEOUT, &b);
    double t = sv_table_coll(&b, SV_COLL_ALL_REDUCE, 6, 67108864.0, &cov);
    ck_assert_msg(fabs(t / 11.1848107e-3 - 1) < 1e-6, "t %g", t);
    ck_assert_int_eq(cov, SV_COVERAGE_INTERPOLATED);
    sv_table_coll_bind(c, SV_COLL_ALL_REDUCE, 6, 1, SV_LINK_SCALEOUT, &b);
    t = sv_table_coll(&b, SV_COLL_ALL_REDUCE, 6, 67108864.0, &cov);
    ck_assert_msg(fabs(t / 22.3696213e-3 - 1) < 1e-6, "t %g", t);
    /* A measured group answers with its own time. */
    sv_table_coll_bind(c, SV_COLL_ALL_REDUCE, 8, 4, SV_LINK_SCALEOUT, &b);
    t = sv_table_coll(&b, SV_COLL_ALL_REDUCE, 8, 67108864.0, &cov);
    ck_assert_msg(fabs(t / 11.7440512e-3 - 1) < 1e-9, "t %g", t);
    ck_assert_int_eq(cov, SV_COVERAGE_MEASURED);
}
END_TEST

Suite *calib_suite(void)
{
    Suite *s = suite_create("calib");
    TCase *tc = tcase_create("calib");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_csv_reader);
    tcase_add_test(tc, test_csv_cells);
    tcase_add_test(tc, test_vidur_loader);
    tcase_add_test(tc, test_probe_loader);
    tcase_add_test(tc, test_load_dir_errors);
    tcase_add_test(tc, test_build_merges_and_refuses);
    tcase_add_test(tc, test_thinning);
    tcase_add_test(tc, test_host_fit);
    tcase_add_test(tc, test_curve_lookup);
    tcase_add_test(tc, test_gemm_bind);
    tcase_add_test(tc, test_gemm_quadrants);
    tcase_add_test(tc, test_gemm_same_n_sawtooth);
    tcase_add_test(tc, test_yaml_round_trip);
    tcase_add_test(tc, test_splice);
    tcase_add_test(tc, test_shipped_profiles_regenerate);
    tcase_add_test(tc, test_validate);
    tcase_add_test(tc, test_validate_groups);
    tcase_add_test(tc, test_validate_scaleout);
    suite_add_tcase(s, tc);
    return s;
}
