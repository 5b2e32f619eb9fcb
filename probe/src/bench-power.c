/* Power: the idle board power, then representative workloads each held for
 * --power-hold seconds (after half a second to settle) while the sampler
 * reads power and clocks at --sample-hz: compute-bound (large GEMMs),
 * memory-bound (HBM copy, decode attention) and whole layers. These are the
 * active-power points of the power model; every other CSV row also carries
 * the mean power of its own (shorter) window. */
#include "bench.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define SETTLE_S 0.5

static gboolean power_row(ProbeCsv *csv, const char *name, double t0, double t1,
                          const ProbeWindow *w, double time_us, double flops, double bytes,
                          GError **error)
{
    g_autofree char *thr = probe_throttle_reasons_string(w->throttle_reasons);
    probe_csv_str(csv, name);
    probe_csv_num(csv, t1 - t0, 3);
    probe_csv_num(csv, w->power_w_mean, 1);
    probe_csv_num(csv, w->power_w_median, 1);
    probe_csv_num(csv, w->power_w_p90, 1);
    probe_csv_num(csv, w->power_w_max, 1);
    probe_csv_num(csv, w->energy_j, 1);
    probe_csv_num(csv, w->sm_clock_mhz_mean, 0);
    probe_csv_num(csv, w->sm_clock_mhz_min, 0);
    probe_csv_num(csv, w->mem_clock_mhz_mean, 0);
    probe_csv_num(csv, w->temperature_c_max, 0);
    probe_csv_str(csv, w->samples > 0 ? thr : "");
    probe_csv_int(csv, w->samples);
    probe_csv_num(csv, w->rate_hz, 1);
    probe_csv_num(csv, time_us, 3);
    probe_csv_num(csv, flops / (time_us * 1e-6) / 1e12, 3);
    probe_csv_num(csv, bytes / (time_us * 1e-6) / 1e9, 2);
    return probe_csv_end_row(csv, error);
}

static gboolean build(ProbeRun *run, ProbePowerWorkload wl, ProbeWork *w, GError **error)
{
    switch (wl) {
    case PROBE_POWER_GEMM_BF16:
    case PROBE_POWER_GEMM_FP8: {
        ProbeGemmPoint g = {wl == PROBE_POWER_GEMM_FP8 ? PROBE_DT_FP8 : PROBE_DT_BF16,
                            8192,
                            8192,
                            8192,
                            TRUE,
                            FALSE,
                            -1};
        return probe_gemm_work(run, &g, w, error);
    }
    case PROBE_POWER_HBM_COPY:
        return probe_copy_work(run, PROBE_MEM_D2D_KERNEL, 1LL << 30, w, error);
    case PROBE_POWER_ATTN_PREFILL: {
        ProbePrefillPoint p = {4096, 0, 32, 8, 128};
        return probe_prefill_work(run, &p, w, error);
    }
    case PROBE_POWER_ATTN_DECODE: {
        ProbeDecodePoint p = {128, 4096, 32, 8, 128, 16};
        return probe_decode_work(run, &p, w, error);
    }
    case PROBE_POWER_LAYER_PREFILL:
    case PROBE_POWER_LAYER_DECODE: {
        ProbeLayerPoint lp;
        memset(&lp, 0, sizeof lp);
        g_strlcpy(lp.model, "llama-3-8b", sizeof lp.model);
        lp.tp = 1;
        g_strlcpy(lp.spec, wl == PROBE_POWER_LAYER_PREFILL ? "prefill=4096x1" : "decode=128@2048",
                  sizeof lp.spec);
        if (!probe_batch_parse(lp.spec, &lp.batch, error))
            return FALSE;
        return probe_layer_work(run, &lp, w, error);
    }
    case PROBE_POWER_IDLE:
        break;
    }
    return TRUE;
}

gboolean probe_bench_power(ProbeRun *run, const ProbePlan *plan, GError **error)
{
    if (plan->power->len == 0)
        return TRUE;
    if (run->sampler == NULL)
        g_string_append(run->summary,
                        "power: NVML is not available, so power.csv has no power readings\n");
    g_autoptr(ProbeCsv) csv =
        probe_run_csv_plain(run, "power", PROBE_KIND_POWER, probe_cols_power, error);
    if (csv == NULL)
        return FALSE;
    double idle_w = NAN;
    for (guint i = 0; i < plan->power->len; i++) {
        ProbePowerWorkload wl = g_array_index(plan->power, ProbePowerWorkload, i);
        ProbeWindow win;
        if (wl == PROBE_POWER_IDLE) {
            /* Nothing queued; let the board drop to its idle state first. */
            PROBE_CUDA(cudaDeviceSynchronize(), error);
            g_usleep((gulong)(1e6 * SETTLE_S * 2));
            double t0 = probe_now_s();
            g_usleep((gulong)(1e6 * run->opt->idle_s));
            double t1 = probe_now_s();
            if (run->sampler != NULL)
                probe_sampler_window(run->sampler, t0, t1, &win);
            else
                probe_sampler_window_empty(&win);
            idle_w = win.power_w_mean;
            if (!power_row(csv, "idle", t0, t1, &win, NAN, NAN, NAN, error))
                return FALSE;
            continue;
        }
        ProbeWork w = {0};
        ProbeTiming t;
        ProbeTimerConfig settle, hold;
        probe_run_timer(run, SETTLE_S, &settle);
        probe_run_timer(run, run->opt->power_hold_s, &hold);
        gboolean ok = build(run, wl, &w, error) &&
                      probe_time(&settle, w.launch, w.ctx, &t, error) &&
                      probe_time(&hold, w.launch, w.ctx, &t, error);
        double flops = w.flops, bytes = w.bytes;
        probe_work_clear(&w);
        if (!ok)
            return FALSE;
        if (!power_row(csv, probe_power_name(wl), t.t0_s, t.t1_s, &t.power, t.us.median, flops,
                       bytes, error))
            return FALSE;
        if (isfinite(t.power.power_w_mean))
            g_string_append_printf(run->summary,
                                   "power %-13s %.0f W (max %.0f W, SM clock %.0f MHz)\n",
                                   probe_power_name(wl), t.power.power_w_mean, t.power.power_w_max,
                                   t.power.sm_clock_mhz_mean);
        probe_run_progress(run, "power", (int)i + 1, (int)plan->power->len);
    }
    if (isfinite(idle_w))
        g_string_append_printf(run->summary, "power idle          %.0f W\n", idle_w);
    return probe_csv_close(g_steal_pointer(&csv), error);
}
