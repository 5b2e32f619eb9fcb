/* Fuzz harness: the profiling-CSV loaders of `servesim calibrate` (Vidur's
 * mlp/attention/all_reduce/send_recv/cpu_overheads CSVs and the probe's
 * CSVs, src/perf/calib-*.c) and the table builder on what they accept. The
 * first input byte picks the file name (the Vidur loader goes by name); the
 * rest is the file. */
#include "fuzz-util.h"
#include "hw/hw.h"
#include "perf/calib.h"

static const char *const names[] = {"mlp.csv",         "attention.csv",     "all_reduce.csv",
                                    "send_recv.csv",   "cpu_overheads.csv", "gemm.csv",
                                    "attn_decode.csv", "collective.csv"};

static SvHw *hw;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    sv_fuzz_setup();
    hw = sv_hw_load("a100-sxm-40g", NULL);
    if (hw == NULL)
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *name = names[data[0] % G_N_ELEMENTS(names)];
    sv_fuzz_clear("calib");
    g_autofree char *rel = g_strdup_printf("calib/%s", name);
    sv_fuzz_write(rel, data + 1, size - 1);
    g_autofree char *dir = g_build_filename(sv_fuzz_dir(), "calib", NULL);
    g_autoptr(GError) error = NULL;
    g_autoptr(SvCalibSet) set = sv_calib_load_dir(dir, &error);
    if ((set == NULL) == (error == NULL))
        abort();
    if (set == NULL)
        return 0;
    g_autoptr(SvCalib) calib = sv_calib_build(set, hw, NULL, &error);
    if ((calib == NULL) == (error == NULL))
        abort();
    return 0;
}
