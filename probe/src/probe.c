/* Shared basics of the probe: error domain, benchmark names, wall clock. */
#include "probe.h"

G_DEFINE_QUARK(probe - error - quark, probe_error)

static const char *const bench_names[PROBE_BENCH_COUNT + 1] = {
    "gemm", "attention", "elementwise", "memory", "collectives", "layer", "power", NULL,
};

const char *probe_bench_name(ProbeBench bench)
{
    g_return_val_if_fail(bench < PROBE_BENCH_COUNT, "?");
    return bench_names[bench];
}

const char *const *probe_bench_names(void)
{
    return bench_names;
}

double probe_now_s(void)
{
    return (double)g_get_monotonic_time() * 1e-6;
}
