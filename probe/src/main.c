/* probe: time the operations servesim models on a CUDA device and write the
 * CSV files `servesim calibrate --input DIR` reads (docs/probe-csv.md).
 * Exit status: 0 done, 2 bad command line or input or no CUDA device,
 * 1 a CUDA/library failure or a kernel that disagrees with its reference. */
#include "args.h"
#include "bench.h"
#include "device.h"
#include "gemm.h"
#include "kernels.h"
#include "plan.h"
#include "sampler.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#ifdef PROBE_HAVE_NCCL
#include <nccl.h>
#endif

static gboolean have_nccl(void)
{
#ifdef PROBE_HAVE_NCCL
    return TRUE;
#else
    return FALSE;
#endif
}

static int fail(const GError *error)
{
    fprintf(stderr, "probe: %s\n", error->message);
    if (error->domain == PROBE_ERROR &&
        (error->code == PROBE_ERROR_ARGS || error->code == PROBE_ERROR_INPUT ||
         error->code == PROBE_ERROR_NO_DEVICE))
        return 2;
    return 1;
}

/* The header block every CSV of this run starts with. */
static GPtrArray *build_meta(const ProbeRun *run, const char *clocks, const char *power_source)
{
    const ProbeDevice *d = &run->dev;
    g_autofree char *rt = probe_cuda_version_string(d->runtime_version);
    g_autofree char *drv = probe_cuda_version_string(d->driver_version);
    g_autofree char *lt = g_strdup_printf("%zu", probe_gemm_version());
#ifdef PROBE_HAVE_NCCL
    int nv = 0;
    ncclGetVersion(&nv);
    g_autofree char *nccl = g_strdup_printf("%d", nv);
#else
    g_autofree char *nccl = g_strdup("none (built without NCCL)");
#endif
    g_autofree char *timing = g_strdup_printf(
        "cuda events; time_us = median per launch over samples of ~1 ms; >= %g s per point; "
        "cuda graphs %s",
        probe_options_min_time_s(run->opt), run->opt->graphs ? "on" : "off");
    const char *driver = run->nvml != NULL && *probe_nvml_driver_version(run->nvml)
                             ? probe_nvml_driver_version(run->nvml)
                             : "unknown (no NVML)";
    ProbeMetaInfo info = {
        .device = d->name,
        .device_index = d->index,
        .device_count = d->count,
        .cc_major = d->cc_major,
        .cc_minor = d->cc_minor,
        .sm_count = d->sm_count,
        .memory_bytes = d->mem_bytes,
        .l2_bytes = d->l2_bytes,
        .driver = driver,
        .cuda_runtime = rt,
        .cuda_driver = drv,
        .cublaslt = lt,
        .nccl = nccl,
        .sm_clock_max_mhz = d->sm_clock_khz / 1000,
        .mem_clock_max_mhz = d->mem_clock_khz / 1000,
        .clocks = clocks,
        .power_limit_w = run->nvml != NULL ? probe_nvml_power_limit_w(run->nvml) : 0.0,
        .power_source = power_source,
        .sample_hz = run->opt->sample_hz,
        .peak_bf16_tflops = run->target.peak_bf16_flops / 1e12,
        .peak_fp8_tflops = run->target.peak_fp8_flops / 1e12,
        .peak_hbm_gb_s = run->target.peak_mem_bw / 1e9,
        .timing = timing,
        .command = run->opt->command_line,
    };
    return probe_schema_meta(&info);
}

static void print_device(const ProbeDevice *d, const ProbeTarget *t, ProbeNvml *nvml,
                         const char *nvml_msg)
{
    g_autofree char *rt = probe_cuda_version_string(d->runtime_version);
    g_autofree char *drv = probe_cuda_version_string(d->driver_version);
    printf("device %d of %d: %s, sm_%d%d, %d SMs, %.1f GB, L2 %d MB\n", d->index, d->count, d->name,
           d->cc_major, d->cc_minor, d->sm_count, d->mem_bytes / 1e9, d->l2_bytes >> 20);
    printf("clocks: SM up to %d MHz, memory %d MHz, bus %d bits\n", d->sm_clock_khz / 1000,
           d->mem_clock_khz / 1000, d->bus_width_bits);
    printf("derived peaks: bf16 %.0f TFLOP/s, fp8 %.0f TFLOP/s, HBM %.0f GB/s\n",
           t->peak_bf16_flops / 1e12, t->peak_fp8_flops / 1e12, t->peak_mem_bw / 1e9);
    printf("CUDA runtime %s, driver supports CUDA %s, NCCL %s\n", rt, drv,
           have_nccl() ? "built in" : "absent");
    if (nvml != NULL)
        printf("NVML: driver %s, power limit %.0f W, power source %s\n",
               probe_nvml_driver_version(nvml), probe_nvml_power_limit_w(nvml),
               probe_nvml_power_source(nvml));
    else
        printf("NVML: %s\n", nvml_msg);
}

static gboolean make_dir(const char *dir, GError **error)
{
    if (g_mkdir_with_parents(dir, 0755) != 0) {
        g_set_error(error, PROBE_ERROR, PROBE_ERROR_IO, "%s: cannot create: %s", dir,
                    g_strerror(errno));
        return FALSE;
    }
    return TRUE;
}

typedef gboolean (*BenchFn)(ProbeRun *, const ProbePlan *, GError **);

/* Print the plan for the assumed device; no GPU is touched. */
static int dry_run(const ProbeOptions *opt)
{
    g_autoptr(GError) error = NULL;
    ProbeTarget t;
    probe_target_assume(&t, opt->assume_sm, opt->assume_gpus, opt->assume_mem_gb, have_nccl());
    g_autoptr(ProbePlan) plan = probe_plan_new(opt, &t, &error);
    if (plan == NULL)
        return fail(error);
    probe_plan_print(stdout, plan, opt, &t);
    return 0;
}

/* Lock the SM clock where permitted; returns the headers' `clocks` value
 * (docs/probe-csv.md: SM and memory clocks, and whether they were locked or
 * only recorded). (transfer full) */
static char *lock_clocks(const ProbeOptions *opt, const ProbeDevice *dev, ProbeNvml *nvml)
{
    unsigned sm_max = nvml != NULL ? probe_nvml_max_sm_clock_mhz(nvml) : 0;
    unsigned mem = nvml != NULL ? probe_nvml_max_mem_clock_mhz(nvml) : 0;
    if (sm_max == 0)
        sm_max = (unsigned)(dev->sm_clock_khz / 1000);
    if (mem == 0)
        mem = (unsigned)(dev->mem_clock_khz / 1000);
    const char *why = NULL;
    g_autoptr(GError) lock_error = NULL;
    unsigned mhz = opt->lock_clocks_mhz == PROBE_LOCK_MAX ? sm_max : (unsigned)opt->lock_clocks_mhz;
    if (opt->lock_clocks_mhz == PROBE_LOCK_NONE)
        why = "--lock-clocks none";
    else if (nvml == NULL)
        why = "no NVML";
    else if (probe_nvml_lock_sm_clock(nvml, mhz, &lock_error))
        return g_strdup_printf("sm %u MHz, mem %u MHz (locked)", mhz, mem);
    else
        why = lock_error->message;
    return g_strdup_printf("sm up to %u MHz, mem %u MHz (not locked: %s; recorded per row in "
                           "sm_clock_mhz and mem_clock_mhz)",
                           sm_max, mem, why);
}

/* Every selected benchmark, in order; stops at the first failure. */
static gboolean run_benches(ProbeRun *run, const ProbePlan *plan, GError **error)
{
    static const BenchFn benches[PROBE_BENCH_COUNT] = {
        probe_bench_gemm,        probe_bench_attention, probe_bench_elementwise, probe_bench_memory,
        probe_bench_collectives, probe_bench_layer,     probe_bench_power,
    };
    PROBE_CUDA(probe_k_init(), error);
    PROBE_CUDA(cudaStreamCreateWithFlags(&run->stream, cudaStreamNonBlocking), error);
    run->gemm = probe_gemm_new(error);
    if (run->gemm == NULL)
        return FALSE;
    if (run->nvml != NULL)
        run->sampler = probe_sampler_start(probe_sampler_read_nvml, run->nvml, run->opt->sample_hz);
    gboolean ok = TRUE;
    for (int b = 0; b < PROBE_BENCH_COUNT && ok; b++) {
        if (!probe_options_wants(run->opt, b))
            continue;
        fprintf(stderr, "probe: %s\n", probe_bench_name(b));
        ok = benches[b](run, plan, error);
        if (!ok)
            g_prefix_error(error, "%s: ", probe_bench_name(b));
        if (run->sampler != NULL) /* keep the last minutes only */
            probe_sampler_forget_before(run->sampler, probe_now_s() - 600);
    }
    probe_sampler_stop(run->sampler);
    run->sampler = NULL;
    return ok;
}

static int run_device(const ProbeOptions *opt)
{
    g_autoptr(GError) error = NULL;
    ProbeRun run = {0};
    run.opt = opt;
    if (!probe_device_open(opt->device, &run.dev, &error))
        return fail(error);
    probe_device_target(&run.dev, have_nccl(), &run.target);
    g_autoptr(GError) nvml_error = NULL;
    g_autoptr(ProbeNvml) nvml =
        probe_nvml_open(NULL, run.dev.pci_bus_id[0] ? run.dev.pci_bus_id : NULL, &nvml_error);
    run.nvml = nvml;
    if (opt->check_device) {
        print_device(&run.dev, &run.target, nvml, nvml_error ? nvml_error->message : "");
        return 0;
    }
    g_autoptr(ProbePlan) plan = probe_plan_new(opt, &run.target, &error);
    if (plan == NULL || !make_dir(opt->out_dir, &error))
        return fail(error);
    g_autofree char *clocks = lock_clocks(opt, &run.dev, nvml);
    g_autofree char *power_source = nvml != NULL ? g_strdup(probe_nvml_power_source(nvml))
                                                 : g_strdup_printf("none: %s", nvml_error->message);
    if (nvml == NULL)
        fprintf(stderr, "probe: warning: %s\n", nvml_error->message);
    fprintf(stderr, "probe: %s, clocks %s\n", run.dev.name, clocks);
    run.meta = build_meta(&run, clocks, power_source);
    run.summary = g_string_new(NULL);
    double t0 = probe_now_s();
    gboolean ok = run_benches(&run, plan, &error);
    printf("%s", run.summary->str);
    printf("probe: %s after %.1f min; CSV files in %s\n", ok ? "done" : "stopped",
           (probe_now_s() - t0) / 60, opt->out_dir);
    probe_gemm_free(run.gemm);
    if (run.stream != NULL)
        cudaStreamDestroy(run.stream);
    g_string_free(run.summary, TRUE);
    g_ptr_array_free(run.meta, TRUE);
    /* Closing NVML (g_autoptr) unlocks the clocks this process locked. */
    return ok ? 0 : fail(error);
}

int main(int argc, char **argv)
{
    ProbeOptions opt;
    probe_options_init(&opt);
    g_autoptr(GError) error = NULL;
    int rc = 0;
    if (!probe_options_parse(&opt, argc, argv, &error))
        rc = fail(error);
    else if (opt.help)
        fputs(probe_usage(), stdout);
    else if (opt.version)
        printf("probe %s (git %s)\n", PROBE_VERSION, PROBE_GIT_REV);
    else if (opt.dry_run)
        rc = dry_run(&opt);
    else
        rc = run_device(&opt);
    probe_options_clear(&opt);
    return rc;
}
