/* servesim calibrate: turn measured kernel timings (Vidur profiling CSVs,
 * probe CSVs) into the calibrated tables of a hardware profile. The output
 * is the base profile, its own lines kept as they are, with a generated
 * `calibration:` section in place of any earlier one, so that calibrating a
 * shipped profile from its shipped inputs reproduces it byte for byte. With
 * --validate it instead prints how well tables built without one model (or
 * one size) predict that model (or size), as Markdown table rows. */
#include "cli/commands.h"
#include "hw/hw.h"
#include "perf/calib.h"
#include "power/power-fit.h"

#include <errno.h>
#include <stdarg.h>
#include <glib/gstdio.h>
#include <string.h>

static const char calibrate_help[] =
    "Build a hardware profile's calibrated tables from measured kernel timings.\n"
    "\n"
    "Example:\n"
    "  servesim calibrate --input hwprofiles/calibration/h100-sxm \\\n"
    "      --hw hwprofiles/h100-sxm.yaml -o h100-sxm.yaml\n"
    "\n"
    "--input is a tree of CSV files: Vidur profiles (mlp.csv, attention.csv,\n"
    "all_reduce.csv, send_recv.csv, cpu_overheads.csv) and probe CSVs\n"
    "(docs/probe-csv.md). The output is --hw's profile with a new `calibration:`\n"
    "section. --validate prints leave-one-model-out and leave-one-size-out\n"
    "errors instead (validation/ops/run.sh).\n"
    "\n"
    "--power POINTS.csv fits the profile's power model instead (power.active_w,\n"
    "compute_w, memory_w, host_w) to measured configurations: columns\n"
    "util_flops, util_mem, power_w (per device), optional busy, util_host,\n"
    "weight and split (only 'train' rows are used); validation/power/fit.sh\n"
    "makes them. host_w stays within max_w - idle_w. Exit status: 0\n"
    "success, 2 bad input, 1 internal error.";

static int fail_msg(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
static int fail_msg(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_autoptr(GError) error = g_error_new_literal(SV_CONFIG_ERROR, SV_ERROR_INVALID, msg);
    return sv_cli_fail(error);
}

static const char *const table_names[] = {"gemm lines",        "attn_prefill sets",
                                          "attn_decode sets",  "elementwise curves",
                                          "collective curves", "host fits"};

static void print_summary(const SvCalibSet *set, const SvCalib *c, const char *out)
{
    for (guint i = 0; i < set->notes->len; i++)
        printf("read %s\n", (const char *)set->notes->pdata[i]);
    int counts[] = {c->num_gemm, c->num_prefill, c->num_decode,
                    c->num_elt,  c->num_coll,    c->num_host};
    printf("tables:");
    for (size_t i = 0; i < G_N_ELEMENTS(counts); i++)
        printf("%s %d %s", i > 0 ? "," : "", counts[i], table_names[i]);
    printf("; %d points kept of %u measurements (tolerance %.3g %%)\n", sv_calib_num_points(c),
           set->obs->len, c->tolerance * 100);
    printf("wrote %s\n", out);
}

/* Write @text to @out through a temporary file that must load back as a
 * profile first, so that a failure leaves nothing half-written. */
static int write_profile(const char *text, const char *out)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *tmp = g_strdup_printf("%s.tmp.yaml", out);
    if (!g_file_set_contents(tmp, text, -1, &error)) {
        g_autoptr(GError) io =
            g_error_new(SV_HW_ERROR, SV_ERROR_IO, "%s: cannot write: %s", out, error->message);
        return sv_cli_fail(io);
    }
    g_autoptr(SvHw) check = sv_hw_load(tmp, &error);
    if (check == NULL) {
        g_unlink(tmp);
        fprintf(stderr, "servesim: internal error: the calibrated profile does not load back: %s\n",
                error->message);
        return 1;
    }
    if (g_rename(tmp, out) != 0) {
        int e = errno;
        g_unlink(tmp);
        g_autoptr(GError) io =
            g_error_new(SV_HW_ERROR, SV_ERROR_IO, "%s: cannot write: %s", out, g_strerror(e));
        return sv_cli_fail(io);
    }
    return 0;
}

/* --power: fit the power model of @hw_name to @points, write @out. */
static int calibrate_power(const char *points, const char *hw_name, const char *out)
{
    if (hw_name == NULL)
        return fail_msg("calibrate: --hw is required (see servesim calibrate --help)");
    if (out == NULL)
        return fail_msg("calibrate: -o FILE is required (see servesim calibrate --help)");
    g_autoptr(GError) error = NULL;
    g_autoptr(SvHw) hw = sv_hw_load(hw_name, &error);
    if (hw == NULL)
        return sv_cli_fail(error);
    g_autofree char *base = NULL;
    if (!g_file_get_contents(hw->source, &base, NULL, &error))
        return sv_cli_fail(error);
    g_autoptr(GArray) pts = sv_power_fit_read_points(points, &error);
    if (pts == NULL)
        return sv_cli_fail(error);
    SvPowerFit fit;
    if (!sv_power_fit((const SvPowerFitPoint *)(void *)pts->data, (int)pts->len, hw->idle_power_w,
                      hw->max_power_w, &fit, &error))
        return sv_cli_fail(error);
    g_autofree char *source = sv_power_fit_source(&fit, points);
    g_autofree char *text = sv_power_fit_profile(base, &fit, source, &error);
    if (text == NULL)
        return sv_cli_fail(error);
    int rc = write_profile(text, out);
    if (rc != 0)
        return rc;
    printf("power fit of %s: active %.1f W, compute %.1f W, memory %.1f W, host %.1f W above "
           "idle %.1f W\n",
           hw->name, fit.active_w, fit.compute_w, fit.memory_w, fit.host_w, hw->idle_power_w);
    printf("%d points, rms residual %.1f W, mean |error| %.1f %%\n", fit.points, fit.rms_w,
           100 * fit.mape);
    printf("wrote %s\n", out);
    return 0;
}

int sv_cmd_calibrate(int argc, char **argv)
{
    g_autofree char *input = NULL, *hw_name = NULL, *out = NULL, *label = NULL;
    double tolerance_pct = 2.0;
    gboolean validate = FALSE;
    g_autofree char *power = NULL;
    GOptionEntry entries[] = {
        {"input", 0, 0, G_OPTION_ARG_FILENAME, &input, "Directory tree of measured CSVs (required)",
         "DIR"},
        {"hw", 0, 0, G_OPTION_ARG_FILENAME, &hw_name,
         "Base hardware profile: a name under hwprofiles/ or a path (required)", "BASE"},
        {"output", 'o', 0, G_OPTION_ARG_FILENAME, &out,
         "Write the calibrated profile to FILE (required unless --validate)", "FILE"},
        {"tolerance", 0, 0, G_OPTION_ARG_DOUBLE, &tolerance_pct,
         "Drop points that their neighbours predict within PCT percent (default 2)", "PCT"},
        {"validate", 0, 0, G_OPTION_ARG_NONE, &validate,
         "Print leave-one-out error rows (Markdown) instead of writing a profile", NULL},
        {"label", 0, 0, G_OPTION_ARG_STRING, &label,
         "Device name in --validate rows (default: the profile's name)", "NAME"},
        {"power", 0, 0, G_OPTION_ARG_FILENAME, &power,
         "Fit the power model to the points in FILE instead of building tables", "FILE"},
        {NULL, 0, 0, 0, NULL, NULL, NULL},
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new("");
    g_option_context_set_summary(ctx, calibrate_help);
    g_option_context_add_main_entries(ctx, entries, NULL);
    if (!sv_cli_parse(ctx, &argc, &argv))
        return 2;
    if (argc > 1)
        return fail_msg("calibrate: unexpected argument '%s' (see servesim calibrate --help)",
                        argv[1]);
    if (power != NULL)
        return calibrate_power(power, hw_name, out);
    if (input == NULL)
        return fail_msg("calibrate: --input is required (see servesim calibrate --help)");
    if (hw_name == NULL)
        return fail_msg("calibrate: --hw is required (see servesim calibrate --help)");
    if (out == NULL && !validate)
        return fail_msg("calibrate: -o FILE is required (see servesim calibrate --help)");
    if (!(tolerance_pct >= 0 && tolerance_pct <= 50))
        return fail_msg("calibrate: --tolerance must be between 0 and 50 (percent), got %g",
                        tolerance_pct);

    g_autoptr(GError) error = NULL;
    if (validate) {
        g_autoptr(SvHw) hw = sv_hw_load(hw_name, &error);
        if (hw == NULL)
            return sv_cli_fail(error);
        g_autoptr(SvCalibSet) set = sv_calib_load_dir(input, &error);
        if (set == NULL)
            return sv_cli_fail(error);
        g_autoptr(GString) rows = g_string_new(NULL);
        if (!sv_calib_validate(set, hw, tolerance_pct / 100.0, label ? label : hw->name, rows,
                               &error))
            return sv_cli_fail(error);
        fputs(rows->str, stdout);
        return 0;
    }

    g_autoptr(SvCalibSet) set = NULL;
    g_autoptr(SvCalib) calib = NULL;
    g_autofree char *text =
        sv_calib_make_profile(input, hw_name, tolerance_pct / 100.0, &set, &calib, &error);
    if (text == NULL)
        return sv_cli_fail(error);

    /* Write beside the target and load it back before renaming, so that a
     * failure leaves no half-written profile behind. */
    g_autofree char *tmp = g_strdup_printf("%s.tmp.yaml", out);
    if (!g_file_set_contents(tmp, text, -1, &error)) {
        g_autoptr(GError) io =
            g_error_new(SV_HW_ERROR, SV_ERROR_IO, "%s: cannot write: %s", out, error->message);
        return sv_cli_fail(io);
    }
    g_autoptr(SvHw) check = sv_hw_load(tmp, &error);
    if (check == NULL) {
        g_unlink(tmp);
        fprintf(stderr, "servesim: internal error: the calibrated profile does not load back: %s\n",
                error->message);
        return 1;
    }
    if (g_rename(tmp, out) != 0) {
        int e = errno;
        g_unlink(tmp);
        g_autoptr(GError) io =
            g_error_new(SV_HW_ERROR, SV_ERROR_IO, "%s: cannot write: %s", out, g_strerror(e));
        return sv_cli_fail(io);
    }
    print_summary(set, calib, out);
    return 0;
}
