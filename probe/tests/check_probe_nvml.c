/* NVML loading without a driver (the fallback every CI machine takes), the
 * throttle-reason names, and the background sampler driven by a fake
 * sensor: its rate, and statistics restricted to a time window. */
#include "sampler.h"

#include <check.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

START_TEST(test_missing_library)
{
    const char *libs[] = {"libprobe-no-such-nvml.so.1", NULL};
    g_autoptr(GError) error = NULL;
    ProbeNvml *n = probe_nvml_open(libs, NULL, &error);
    ck_assert_ptr_null(n);
    ck_assert(g_error_matches(error, PROBE_ERROR, PROBE_ERROR_NVML));
    ck_assert(g_str_has_prefix(error->message,
                               "NVML not available (cannot load libprobe-no-such-nvml.so.1"));
    ck_assert(strstr(error->message, "power and clocks are not recorded") != NULL);
}
END_TEST

START_TEST(test_library_without_symbols)
{
    /* A library that loads but is not NVML. */
    const char *libs[] = {"libprobe-no-such-nvml.so.1", "libm.so.6", NULL};
    g_autoptr(GError) error = NULL;
    ProbeNvml *n = probe_nvml_open(libs, NULL, &error);
    ck_assert_ptr_null(n);
    ck_assert_str_eq(error->message, "NVML not usable (libm.so.6 has no nvmlInit_v2); power and "
                                     "clocks are not recorded");
}
END_TEST

START_TEST(test_default_open_is_clean)
{
    /* With a driver this opens; without one it fails with a message. */
    g_autoptr(GError) error = NULL;
    g_autoptr(ProbeNvml) n = probe_nvml_open(NULL, NULL, &error);
    ck_assert((n == NULL) == (error != NULL));
    if (n != NULL) {
        ProbeReading r;
        if (probe_nvml_read(n, &r))
            ck_assert(r.power_w > 0);
    }
}
END_TEST

START_TEST(test_throttle_names)
{
    g_autofree char *none = probe_throttle_reasons_string(0);
    g_autofree char *two = probe_throttle_reasons_string(0x4 | 0x40);
    g_autofree char *odd = probe_throttle_reasons_string(0x1 | 0x10000);
    ck_assert_str_eq(none, "none");
    ck_assert_str_eq(two, "sw_power_cap+hw_thermal");
    ck_assert_str_eq(odd, "gpu_idle+0x10000");
}
END_TEST

/* A fake sensor: 100 W before @switch_s, 300 W after, energy integrating
 * that power, SM clock 1980 MHz, a throttle bit after the switch. */
typedef struct {
    double start_s;
    double switch_s;
    int reads;
} Fake;

static gboolean fake_read(void *data, ProbeReading *r)
{
    Fake *f = data;
    double t = probe_now_s();
    memset(r, 0, sizeof *r);
    gboolean after = t >= f->switch_s;
    r->power_w = after ? 300 : 100;
    r->sm_clock_mhz = 1980;
    r->mem_clock_mhz = NAN; /* a sensor that is missing */
    r->temperature_c = after ? 60 : 40;
    r->energy_j =
        after ? 100 * (f->switch_s - f->start_s) + 300 * (t - f->switch_s) : 100 * (t - f->start_s);
    r->throttle_reasons = after ? 0x4 : 0;
    f->reads++;
    return TRUE;
}

START_TEST(test_sampler_windows)
{
    Fake f = {probe_now_s(), probe_now_s() + 0.4, 0};
    ProbeSampler *s = probe_sampler_start(fake_read, &f, 50);
    g_usleep(800 * 1000);
    double end = probe_now_s();
    ProbeWindow before, after, all;
    /* Keep clear of the switch by 50 ms on each side. */
    probe_sampler_window(s, f.start_s, f.switch_s - 0.05, &before);
    probe_sampler_window(s, f.switch_s + 0.05, end, &after);
    probe_sampler_window(s, f.start_s, end, &all);
    probe_sampler_stop(s);
    /* 50 Hz for 0.8 s is about 40 readings; a loaded machine may lose a
     * few, but never drop under the 10 Hz. */
    ck_assert_int_ge(all.samples, 16);
    ck_assert_double_ge(all.rate_hz, 20);
    ck_assert_double_le(all.rate_hz, 60);
    ck_assert_int_ge(before.samples, 5);
    ck_assert_int_ge(after.samples, 5);
    ck_assert_double_eq(before.power_w_mean, 100);
    ck_assert_double_eq(before.power_w_max, 100);
    ck_assert_double_eq(after.power_w_mean, 300);
    ck_assert_double_eq(after.power_w_median, 300);
    ck_assert_double_eq(after.sm_clock_mhz_mean, 1980);
    ck_assert_double_eq(after.sm_clock_mhz_min, 1980);
    ck_assert(isnan(after.mem_clock_mhz_mean));
    ck_assert_double_eq(after.temperature_c_max, 60);
    ck_assert_uint_eq(before.throttle_reasons, 0);
    ck_assert_uint_eq(after.throttle_reasons, 0x4);
    ck_assert_uint_eq(all.throttle_reasons, 0x4);
    ck_assert(all.power_w_mean > 100 && all.power_w_mean < 300);
    ck_assert_double_eq(all.power_w_max, 300);
    /* The energy counter over the "after" window is 300 W x the time
     * between its first and last reading: at most the window, and within a
     * few sample periods of it. */
    double span = end - (f.switch_s + 0.05);
    ck_assert_double_le(after.energy_j, 300 * span + 1e-9);
    ck_assert_double_ge(after.energy_j, 300 * (span - 0.15));
}
END_TEST

static gboolean never(void *data, ProbeReading *r)
{
    (void)data;
    (void)r;
    return FALSE;
}

START_TEST(test_sampler_empty_and_forget)
{
    ProbeSampler *s = probe_sampler_start(never, NULL, 100);
    g_usleep(50 * 1000);
    ProbeWindow w;
    probe_sampler_window(s, 0, probe_now_s(), &w);
    ck_assert_int_eq(w.samples, 0);
    ck_assert(isnan(w.power_w_mean) && isnan(w.sm_clock_mhz_mean) && isnan(w.energy_j));
    probe_sampler_stop(s);

    Fake f = {probe_now_s(), probe_now_s() + 100, 0};
    s = probe_sampler_start(fake_read, &f, 100);
    g_usleep(200 * 1000);
    int n = probe_sampler_count(s);
    ck_assert_int_ge(n, 5);
    probe_sampler_forget_before(s, probe_now_s() + 10);
    ck_assert_int_le(probe_sampler_count(s), 1);
    probe_sampler_stop(s);
    probe_sampler_stop(NULL);
}
END_TEST

Suite *probe_nvml_suite(void)
{
    Suite *s = suite_create("probe_nvml");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_missing_library);
    tcase_add_test(tc, test_library_without_symbols);
    tcase_add_test(tc, test_default_open_is_clean);
    tcase_add_test(tc, test_throttle_names);
    tcase_add_test(tc, test_sampler_windows);
    tcase_add_test(tc, test_sampler_empty_and_forget);
    suite_add_tcase(s, tc);
    return s;
}
