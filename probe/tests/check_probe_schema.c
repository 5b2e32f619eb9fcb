/* The probe's CSV files must load with servesim's calibration loader
 * (src/perf/calib-probe.c, docs/probe-csv.md). Sample files of every kind
 * are written through the same schema functions and column lists the
 * benchmarks use, then read back with sv_calib_load_dir: each row must
 * become the observation it stands for. */
#include "schema.h"

#include "perf/calib.h"

#include <check.h>
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

static GPtrArray *fake_meta(void)
{
    ProbeMetaInfo info = {
        .device = "NVIDIA H100 80GB HBM3",
        .device_index = 0,
        .device_count = 8,
        .cc_major = 9,
        .cc_minor = 0,
        .sm_count = 132,
        .memory_bytes = 85017755648LL,
        .l2_bytes = 52428800,
        .driver = "550.54.15",
        .cuda_runtime = "13.0",
        .cuda_driver = "12.4",
        .cublaslt = "130000",
        .nccl = "22703",
        .sm_clock_max_mhz = 1980,
        .mem_clock_max_mhz = 2619,
        .clocks = "sm 1980 MHz, mem 2619 MHz (locked)",
        .power_limit_w = 700,
        .power_source = "nvml-instant",
        .sample_hz = 20,
        .peak_bf16_tflops = 1070.3,
        .peak_fp8_tflops = 2140.7,
        .peak_hbm_gb_s = 3352,
        .timing = "test",
        .command = "probe --test",
    };
    return probe_schema_meta(&info);
}

/* A timing whose median is @us, with or without power readings. */
static ProbeTiming timing(double us, gboolean power)
{
    ProbeTiming t = {0};
    double x[3] = {us * 0.99, us, us * 1.02};
    probe_stats_compute(x, 3, &t.us);
    t.samples = 3;
    t.reps = 10;
    probe_sampler_window_empty(&t.power);
    if (power) {
        t.power.samples = 4;
        t.power.power_w_mean = 612.5;
        t.power.sm_clock_mhz_mean = 1755;
        t.power.mem_clock_mhz_mean = 2619;
    }
    return t;
}

static void end(ProbeCsv *csv)
{
    g_autoptr(GError) error = NULL;
    ck_assert_msg(probe_csv_end_row(csv, &error), "%s", error ? error->message : "");
}

static void close_csv(ProbeCsv *csv)
{
    ck_assert(probe_csv_close(csv, NULL));
}

static void write_samples(const char *dir, const char *const *meta)
{
    GError *e = NULL;
    ProbeTiming t = timing(12.5, TRUE);
    ProbeTiming tn = timing(3.25, FALSE);

    ProbeCsv *c = probe_schema_open(dir, "gemm", PROBE_KIND_GEMM, meta, NULL, probe_cols_gemm,
                                    PROBE_COL_TFLOPS | PROBE_COL_GBS, &e);
    ck_assert_ptr_nonnull(c);
    const struct {
        const char *dtype, *model;
        int m;
    } g[] = {{"bfloat16", "llama-3-8b", 1}, {"bfloat16", "", 128}, {"fp8", "", 4096}};
    for (size_t i = 0; i < G_N_ELEMENTS(g); i++) {
        probe_csv_str(c, g[i].dtype);
        probe_csv_int(c, g[i].m);
        probe_csv_int(c, 6144);
        probe_csv_int(c, 4096);
        probe_csv_str(c, g[i].model);
        probe_schema_timing(c, i ? &tn : &t, PROBE_COL_TFLOPS | PROBE_COL_GBS, 2.0 * 6144 * 4096,
                            1e6);
        end(c);
    }
    close_csv(c);

    const char *kernel[] = {"kernel", "test kernel", NULL};
    c = probe_schema_open(dir, "attn_prefill", PROBE_KIND_ATTN_PREFILL, meta, kernel,
                          probe_cols_attn_prefill, PROBE_COL_TFLOPS | PROBE_COL_GBS, &e);
    ck_assert_ptr_nonnull(c);
    for (int ctx = 0; ctx <= 512; ctx += 512) {
        probe_csv_str(c, "bfloat16");
        probe_csv_int(c, 256);
        probe_csv_int(c, ctx);
        probe_csv_int(c, 32);
        probe_csv_int(c, 8);
        probe_csv_int(c, 128);
        probe_schema_timing(c, &t, PROBE_COL_TFLOPS | PROBE_COL_GBS, 1e9, 1e6);
        end(c);
    }
    close_csv(c);

    /* Block 16 in attn_decode.csv, another block size in its own file. */
    for (int bs = 16; bs <= 32; bs += 16) {
        g_autofree char *file =
            bs == 16 ? g_strdup("attn_decode") : g_strdup_printf("attn_decode_block%d", bs);
        g_autofree char *bss = g_strdup_printf("%d", bs);
        const char *extra[] = {"kernel", "test kernel", "block_size", bss, NULL};
        c = probe_schema_open(dir, file, PROBE_KIND_ATTN_DECODE, meta, extra,
                              probe_cols_attn_decode, PROBE_COL_TFLOPS | PROBE_COL_GBS, &e);
        ck_assert_ptr_nonnull(c);
        for (int batch = 1; batch <= (bs == 16 ? 64 : 1); batch *= 64) {
            probe_csv_str(c, "bfloat16");
            probe_csv_int(c, batch);
            probe_csv_int(c, 2048);
            probe_csv_int(c, 32);
            probe_csv_int(c, 8);
            probe_csv_int(c, 128);
            probe_schema_timing(c, &t, PROBE_COL_TFLOPS | PROBE_COL_GBS, 1e9, 1e6);
            end(c);
        }
        close_csv(c);
    }

    c = probe_schema_open(dir, "elementwise", PROBE_KIND_ELEMENTWISE, meta, NULL,
                          probe_cols_elementwise, PROBE_COL_GBS, &e);
    ck_assert_ptr_nonnull(c);
    const char *ops[] = {"rmsnorm", "rope", "mlp_act", "add", "kv_store"};
    for (size_t i = 0; i < G_N_ELEMENTS(ops); i++) {
        probe_csv_str(c, ops[i]);
        probe_csv_int(c, 16384 * (int64_t)(i + 1));
        probe_csv_str(c, "bfloat16");
        probe_schema_timing(c, &tn, PROBE_COL_GBS, NAN, 16384.0 * (i + 1));
        end(c);
    }
    close_csv(c);

    c = probe_schema_open(dir, "memcpy", PROBE_KIND_MEMCPY, meta, NULL, probe_cols_memcpy,
                          PROBE_COL_GBS, &e);
    ck_assert_ptr_nonnull(c);
    const char *dirs[] = {"d2d", "h2d", "d2h"};
    for (size_t i = 0; i < G_N_ELEMENTS(dirs); i++) {
        probe_csv_str(c, dirs[i]);
        probe_csv_int(c, 1 << 30);
        probe_schema_timing(c, &t, PROBE_COL_GBS, NAN, 2.0 * (1 << 30));
        end(c);
    }
    close_csv(c);

    c = probe_schema_open(dir, "collective", PROBE_KIND_COLLECTIVE, meta, NULL,
                          probe_cols_collective, 0, &e);
    ck_assert_ptr_nonnull(c);
    const char *colls[] = {"all_reduce", "send_recv"};
    for (size_t i = 0; i < G_N_ELEMENTS(colls); i++) {
        probe_csv_str(c, colls[i]);
        probe_csv_int(c, 1 << 20);
        probe_csv_int(c, i ? 2 : 8);
        probe_csv_int(c, 8);
        probe_csv_str(c, "bfloat16");
        probe_csv_num(c, 100.0, 3);
        probe_csv_num(c, 175.0, 3);
        probe_schema_timing(c, &t, 0, NAN, NAN);
        end(c);
    }
    close_csv(c);

    c = probe_schema_open(dir, "layer", PROBE_KIND_LAYER, meta, NULL, probe_cols_layer, 0, &e);
    ck_assert_ptr_nonnull(c);
    probe_csv_str(c, "llama-3-8b");
    probe_csv_int(c, 1);
    probe_csv_str(c, "prefill=512x1;decode=8@128");
    probe_csv_int(c, 520);
    probe_csv_str(c, "layer");
    probe_csv_int(c, 1);
    probe_schema_timing(c, &t, 0, NAN, NAN);
    end(c);
    close_csv(c);

    g_autofree char *ppath = g_build_filename(dir, "power.csv", NULL);
    c = probe_csv_open(ppath, PROBE_KIND_POWER, meta, NULL, probe_cols_power, &e);
    ck_assert_ptr_nonnull(c);
    for (int i = 0; probe_cols_power[i] != NULL; i++) {
        if (i == 0)
            probe_csv_str(c, "idle");
        else
            probe_csv_num(c, i == 1 ? 3.0 : NAN, 3);
    }
    end(c);
    close_csv(c);
}

static void rm_dir(const char *dir)
{
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    const char *e;
    while (d != NULL && (e = g_dir_read_name(d)) != NULL) {
        g_autofree char *p = g_build_filename(dir, e, NULL);
        g_unlink(p);
    }
    g_rmdir(dir);
}

static int count(const SvCalibSet *set, SvObsKind kind)
{
    int n = 0;
    for (guint i = 0; i < set->obs->len; i++)
        n += g_array_index(set->obs, SvObs, i).kind == kind;
    return n;
}

static const SvObs *first(const SvCalibSet *set, SvObsKind kind)
{
    for (guint i = 0; i < set->obs->len; i++)
        if (g_array_index(set->obs, SvObs, i).kind == kind)
            return &g_array_index(set->obs, SvObs, i);
    return NULL;
}

START_TEST(test_servesim_loads_probe_files)
{
    g_autofree char *dir = g_dir_make_tmp("probe-schema-XXXXXX", NULL);
    g_autoptr(GPtrArray) meta = fake_meta();
    write_samples(dir, (const char *const *)meta->pdata);
    g_autoptr(GError) error = NULL;
    g_autoptr(SvCalibSet) set = sv_calib_load_dir(dir, &error);
    ck_assert_msg(set != NULL, "servesim rejects the probe's files: %s",
                  error ? error->message : "");
    ck_assert_str_eq(set->device, "NVIDIA H100 80GB HBM3");
    ck_assert_int_eq(count(set, SV_OBS_GEMM), 3);
    ck_assert_int_eq(count(set, SV_OBS_PREFILL), 2);
    ck_assert_int_eq(count(set, SV_OBS_DECODE), 3);
    /* Five elementwise ops, and the device-to-device copy as "copy". */
    ck_assert_int_eq(count(set, SV_OBS_ELT), 6);
    ck_assert_int_eq(count(set, SV_OBS_COLL), 2);
    /* A GEMM row becomes (m, n, k) and its median time in seconds, grouped
     * by its model. */
    const SvObs *g = first(set, SV_OBS_GEMM);
    ck_assert_double_eq(g->a[0], 1);
    ck_assert_double_eq(g->a[1], 6144);
    ck_assert_double_eq(g->a[2], 4096);
    ck_assert_double_eq_tol(g->t_s, 12.5e-6, 1e-12);
    ck_assert_int_ge(g->group, 0);
    ck_assert_str_eq(g_ptr_array_index(set->groups, g->group), "llama-3-8b");
    const SvObs *d = first(set, SV_OBS_DECODE);
    ck_assert_double_eq(d->a[0], 1);    /* batch */
    ck_assert_double_eq(d->a[1], 2048); /* context */
    ck_assert_int_eq(d->h[0], 32);
    ck_assert_int_eq(d->h[1], 8);
    ck_assert_int_eq(d->h[2], 128);
    const SvObs *c = first(set, SV_OBS_COLL);
    ck_assert_double_eq(c->a[0], 1 << 20);
    ck_assert_int_eq(c->h[1], 8);
    rm_dir(dir);
}
END_TEST

START_TEST(test_header_block)
{
    g_autoptr(GPtrArray) meta = fake_meta();
    const char *const *m = (const char *const *)meta->pdata;
    /* servesim requires these (besides probe-csv and kind, which the writer
     * puts first). */
    const char *required[] = {"device", "driver", "cuda", "clocks", "date"};
    for (size_t r = 0; r < G_N_ELEMENTS(required); r++) {
        gboolean found = FALSE;
        for (int i = 0; m[i] != NULL; i += 2)
            found |= strcmp(m[i], required[r]) == 0 && *m[i + 1] != '\0';
        ck_assert_msg(found, "no '%s' header line", required[r]);
    }
    /* The date is UTC ISO 8601. */
    for (int i = 0; m[i] != NULL; i += 2)
        if (strcmp(m[i], "date") == 0) {
            ck_assert_int_eq(strlen(m[i + 1]), 20);
            ck_assert(m[i + 1][10] == 'T' && m[i + 1][19] == 'Z');
        }
}
END_TEST

Suite *probe_schema_suite(void)
{
    Suite *s = suite_create("probe_schema");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_servesim_loads_probe_files);
    tcase_add_test(tc, test_header_block);
    suite_add_tcase(s, tc);
    return s;
}
