/* Background power and clock sampling (see sampler.h). */
#include "sampler.h"

#include "stats.h"

#include <math.h>
#include <string.h>

struct ProbeSampler {
    ProbeReadFn read; /* the source */
    void *source;     /* its state (not owned) */
    double period_s;  /* s between readings */
    GThread *thread;  /* the sampling loop */
    GMutex lock;      /* guards everything below */
    GCond wake;       /* signalled to stop */
    gboolean stop;    /* the loop should end */
    GArray *readings; /* ProbeReading, in time order */
};

static gpointer loop(gpointer data)
{
    ProbeSampler *s = data;
    gint64 next = g_get_monotonic_time();
    gint64 period_us = (gint64)(s->period_s * 1e6);
    g_mutex_lock(&s->lock);
    while (!s->stop) {
        g_mutex_unlock(&s->lock);
        ProbeReading r;
        gboolean ok = s->read(s->source, &r);
        r.t_s = probe_now_s();
        g_mutex_lock(&s->lock);
        if (ok)
            g_array_append_val(s->readings, r);
        /* Fixed-rate schedule: a slow read does not shift later samples,
         * and a stalled thread catches up without a burst. */
        next += period_us;
        gint64 now = g_get_monotonic_time();
        if (next < now)
            next = now;
        while (!s->stop && g_get_monotonic_time() < next)
            g_cond_wait_until(&s->wake, &s->lock, next);
    }
    g_mutex_unlock(&s->lock);
    return NULL;
}

ProbeSampler *probe_sampler_start(ProbeReadFn read, void *source, double hz)
{
    g_return_val_if_fail(read != NULL && hz > 0, NULL);
    ProbeSampler *s = g_new0(ProbeSampler, 1);
    s->read = read;
    s->source = source;
    s->period_s = 1.0 / hz;
    g_mutex_init(&s->lock);
    g_cond_init(&s->wake);
    s->readings = g_array_new(FALSE, TRUE, sizeof(ProbeReading));
    s->thread = g_thread_new("probe-sampler", loop, s);
    return s;
}

void probe_sampler_stop(ProbeSampler *s)
{
    if (s == NULL)
        return;
    g_mutex_lock(&s->lock);
    s->stop = TRUE;
    g_cond_signal(&s->wake);
    g_mutex_unlock(&s->lock);
    g_thread_join(s->thread);
    g_array_free(s->readings, TRUE);
    g_mutex_clear(&s->lock);
    g_cond_clear(&s->wake);
    g_free(s);
}

int probe_sampler_count(ProbeSampler *s)
{
    g_mutex_lock(&s->lock);
    int n = (int)s->readings->len;
    g_mutex_unlock(&s->lock);
    return n;
}

void probe_sampler_forget_before(ProbeSampler *s, double t_s)
{
    g_mutex_lock(&s->lock);
    guint i = 0;
    while (i < s->readings->len && g_array_index(s->readings, ProbeReading, i).t_s < t_s)
        i++;
    if (i > 0)
        g_array_remove_range(s->readings, 0, i);
    g_mutex_unlock(&s->lock);
}

static double mean_of(const double *x, int n)
{
    double sum = 0;
    int k = 0;
    for (int i = 0; i < n; i++)
        if (!isnan(x[i])) {
            sum += x[i];
            k++;
        }
    return k ? sum / k : NAN;
}

void probe_sampler_window_empty(ProbeWindow *out)
{
    memset(out, 0, sizeof *out);
    out->rate_hz = out->power_w_mean = out->power_w_median = out->power_w_p90 = NAN;
    out->power_w_max = out->sm_clock_mhz_mean = out->sm_clock_mhz_min = NAN;
    out->mem_clock_mhz_mean = out->temperature_c_max = out->energy_j = NAN;
}

void probe_sampler_window(ProbeSampler *s, double t0_s, double t1_s, ProbeWindow *out)
{
    memset(out, 0, sizeof *out);
    GArray *pw = g_array_new(FALSE, FALSE, sizeof(double));
    GArray *sm = g_array_new(FALSE, FALSE, sizeof(double));
    GArray *mem = g_array_new(FALSE, FALSE, sizeof(double));
    double tmax = NAN, e0 = NAN, e1 = NAN, smin = NAN;
    g_mutex_lock(&s->lock);
    for (guint i = 0; i < s->readings->len; i++) {
        const ProbeReading *r = &g_array_index(s->readings, ProbeReading, i);
        if (r->t_s < t0_s || r->t_s > t1_s)
            continue;
        out->samples++;
        if (!isnan(r->power_w))
            g_array_append_val(pw, r->power_w);
        g_array_append_val(sm, r->sm_clock_mhz);
        g_array_append_val(mem, r->mem_clock_mhz);
        if (!isnan(r->sm_clock_mhz) && !(r->sm_clock_mhz >= smin))
            smin = r->sm_clock_mhz;
        if (!isnan(r->temperature_c) && !(r->temperature_c <= tmax))
            tmax = r->temperature_c;
        if (!isnan(r->energy_j)) {
            if (isnan(e0))
                e0 = r->energy_j;
            e1 = r->energy_j;
        }
        out->throttle_reasons |= r->throttle_reasons;
    }
    g_mutex_unlock(&s->lock);
    ProbeStats st;
    probe_stats_compute((const double *)pw->data, pw->len, &st);
    out->power_w_mean = st.mean;
    out->power_w_median = st.median;
    out->power_w_p90 = st.p90;
    out->power_w_max = st.max;
    out->sm_clock_mhz_mean = mean_of((const double *)sm->data, (int)sm->len);
    out->sm_clock_mhz_min = smin;
    out->mem_clock_mhz_mean = mean_of((const double *)mem->data, (int)mem->len);
    out->temperature_c_max = tmax;
    out->energy_j = e1 - e0;
    out->rate_hz = t1_s > t0_s ? out->samples / (t1_s - t0_s) : NAN;
    g_array_free(pw, TRUE);
    g_array_free(sm, TRUE);
    g_array_free(mem, TRUE);
}

gboolean probe_sampler_read_nvml(void *nvml, ProbeReading *out)
{
    return probe_nvml_read(nvml, out);
}
