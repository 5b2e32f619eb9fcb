/* The probe's CSV schema (see schema.h and docs/probe-csv.md). */
#include "schema.h"

#include "probe.h"

#include <stdarg.h>

const char *const probe_cols_gemm[] = {"dtype", "m", "n", "k", "model", NULL};
const char *const probe_cols_attn_prefill[] = {"dtype",    "chunk",    "context", "q_heads",
                                               "kv_heads", "head_dim", NULL};
const char *const probe_cols_attn_decode[] = {"dtype",    "batch",    "context", "q_heads",
                                              "kv_heads", "head_dim", NULL};
const char *const probe_cols_elementwise[] = {"op", "bytes", "dtype", NULL};
const char *const probe_cols_memcpy[] = {"direction", "bytes", NULL};
const char *const probe_cols_collective[] = {"op",    "bytes",      "ranks",      "ranks_per_node",
                                             "dtype", "algbw_gb_s", "busbw_gb_s", NULL};
const char *const probe_cols_layer[] = {"model", "tp", "batch", "tokens", "op", "count", NULL};
const char *const probe_cols_power[] = {"workload",
                                        "duration_s",
                                        "power_w",
                                        "power_w_median",
                                        "power_w_p90",
                                        "power_w_max",
                                        "energy_j",
                                        "sm_clock_mhz",
                                        "sm_clock_mhz_min",
                                        "mem_clock_mhz",
                                        "temperature_c_max",
                                        "throttle_reasons",
                                        "power_samples",
                                        "sample_hz",
                                        "time_us",
                                        "tflops",
                                        "gb_s",
                                        NULL};

static const char *const timing_cols[] = {
    "time_us",      "time_us_p10", "time_us_p90", "time_us_min",
    "time_us_mean", "time_us_std", "samples",     NULL};
static const char *const power_cols[] = {"power_w", "sm_clock_mhz", "mem_clock_mhz", NULL};

static void add(GPtrArray *m, const char *key, const char *fmt, ...) G_GNUC_PRINTF(3, 4);
static void add(GPtrArray *m, const char *key, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_ptr_array_add(m, g_strdup(key));
    g_ptr_array_add(m, g_strdup_vprintf(fmt, ap));
    va_end(ap);
}

GPtrArray *probe_schema_meta(const ProbeMetaInfo *i)
{
    GPtrArray *m = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GDateTime) now = g_date_time_new_now_utc();
    g_autofree char *date = g_date_time_format(now, "%Y-%m-%dT%H:%M:%SZ");
    /* The keys servesim requires first, then the rest of the record. */
    add(m, "device", "%s", i->device);
    add(m, "driver", "%s", i->driver);
    add(m, "cuda", "%s", i->cuda_runtime);
    add(m, "clocks", "%s", i->clocks);
    add(m, "date", "%s", date);
    add(m, "probe", "%s (git %s)", PROBE_VERSION, PROBE_GIT_REV);
    add(m, "host", "%s", g_get_host_name());
    add(m, "device_index", "%d", i->device_index);
    add(m, "device_count", "%d", i->device_count);
    add(m, "compute_capability", "%d.%d", i->cc_major, i->cc_minor);
    add(m, "sm_count", "%d", i->sm_count);
    add(m, "memory_bytes", "%" G_GINT64_FORMAT, (gint64)i->memory_bytes);
    add(m, "l2_bytes", "%d", i->l2_bytes);
    add(m, "cuda_driver", "%s", i->cuda_driver);
    add(m, "cublaslt", "%s", i->cublaslt);
    add(m, "nccl", "%s", i->nccl);
    add(m, "sm_clock_max_mhz", "%d", i->sm_clock_max_mhz);
    add(m, "mem_clock_max_mhz", "%d", i->mem_clock_max_mhz);
    add(m, "power_limit_w", "%.0f", i->power_limit_w);
    add(m, "power_source", "%s", i->power_source);
    add(m, "sample_hz", "%g", i->sample_hz);
    add(m, "peak_bf16_tflops", "%.1f", i->peak_bf16_tflops);
    add(m, "peak_fp8_tflops", "%.1f", i->peak_fp8_tflops);
    add(m, "peak_hbm_gb_s", "%.0f", i->peak_hbm_gb_s);
    add(m, "timing", "%s", i->timing);
    add(m, "command", "%s", i->command);
    g_ptr_array_add(m, NULL);
    return m;
}

ProbeCsv *probe_schema_open(const char *dir, const char *file, const char *kind,
                            const char *const *meta, const char *const *extra,
                            const char *const *columns, unsigned perf, GError **error)
{
    g_autoptr(GPtrArray) cols = g_ptr_array_new();
    for (int i = 0; columns[i] != NULL; i++)
        g_ptr_array_add(cols, (gpointer)columns[i]);
    for (int i = 0; timing_cols[i] != NULL; i++)
        g_ptr_array_add(cols, (gpointer)timing_cols[i]);
    if (perf & PROBE_COL_TFLOPS)
        g_ptr_array_add(cols, (gpointer) "tflops");
    if (perf & PROBE_COL_GBS)
        g_ptr_array_add(cols, (gpointer) "gb_s");
    for (int i = 0; power_cols[i] != NULL; i++)
        g_ptr_array_add(cols, (gpointer)power_cols[i]);
    g_ptr_array_add(cols, NULL);
    g_autofree char *name = g_strdup_printf("%s.csv", file);
    g_autofree char *path = g_build_filename(dir, name, NULL);
    return probe_csv_open(path, kind, meta, extra, (const char *const *)cols->pdata, error);
}

void probe_schema_timing(ProbeCsv *csv, const ProbeTiming *t, unsigned perf, double flops,
                         double bytes)
{
    probe_csv_num(csv, t->us.median, 3);
    probe_csv_num(csv, t->us.p10, 3);
    probe_csv_num(csv, t->us.p90, 3);
    probe_csv_num(csv, t->us.min, 3);
    probe_csv_num(csv, t->us.mean, 3);
    probe_csv_num(csv, t->us.stddev, 3);
    probe_csv_int(csv, t->samples);
    double s = t->us.median * 1e-6;
    if (perf & PROBE_COL_TFLOPS)
        probe_csv_num(csv, flops / s / 1e12, 3);
    if (perf & PROBE_COL_GBS)
        probe_csv_num(csv, bytes / s / 1e9, 2);
    probe_csv_num(csv, t->power.power_w_mean, 1);
    probe_csv_num(csv, t->power.sm_clock_mhz_mean, 0);
    probe_csv_num(csv, t->power.mem_clock_mhz_mean, 0);
}
