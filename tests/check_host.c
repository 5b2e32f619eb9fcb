/* Tests of named host overhead profiles (hwprofile overheads.profiles,
 * engine.host_overheads): the profile loader and copy, the host op a
 * profile gives (per step + per device of the replica + per sequence, on
 * the first pipeline stage only, hand-computed), that it replaces a
 * calibrated host fit rather than adding to it, the built-in "none", and
 * the errors for a name the hardware lacks. */
#include "config/config.h"
#include "hw/calib.h"
#include "hw/hw.h"
#include "model/model.h"
#include "perf/predictor.h"
#include "perf/table.h"

#include <check.h>
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#include "testutil.h"

static const char *const profile_yaml = "name: host-test\n"
                                        "peak_tflops: {bfloat16: 100}\n"
                                        "memory_gb: 80\n"
                                        "memory_bandwidth_gb_s: 1000\n"
                                        "power: {idle_w: 50, max_w: 500}\n"
                                        "overheads:\n"
                                        "  iteration_us: 700\n"
                                        "  profiles:\n"
                                        "    vllm-0.5: {iteration_us: 1500, per_device_us: 8000, "
                                        "per_request_us: 250}\n"
                                        "    empty: {}\n";

START_TEST(test_load_and_copy)
{
    g_autofree char *path = sv_test_write_tmp(profile_yaml, ".yaml");
    g_autoptr(GError) error = NULL;
    g_autoptr(SvHw) hw = sv_hw_load(path, &error);
    g_unlink(path);
    ck_assert_msg(hw != NULL, "%s", error ? error->message : "");
    ck_assert_int_eq(hw->num_host_profiles, 2);
    const SvHostProfile *p = sv_hw_host_profile(hw, "vllm-0.5");
    ck_assert_ptr_nonnull(p);
    ck_assert_str_eq(p->name, "vllm-0.5");
    /* Microseconds in the file, seconds in the struct. */
    ck_assert_double_eq_tol(p->iteration_s, 1.5e-3, 1e-15);
    ck_assert_double_eq_tol(p->per_device_s, 8e-3, 1e-15);
    ck_assert_double_eq_tol(p->per_request_s, 2.5e-4, 1e-15);
    const SvHostProfile *e = sv_hw_host_profile(hw, "empty");
    ck_assert_ptr_nonnull(e);
    ck_assert(e->iteration_s == 0 && e->per_device_s == 0 && e->per_request_s == 0);
    ck_assert_ptr_null(sv_hw_host_profile(hw, "default"));
    ck_assert_ptr_null(sv_hw_host_profile(hw, "vllm-0.4"));
    /* The profile's own terms are untouched by its named profiles. */
    ck_assert_double_eq_tol(hw->host_overhead_iter_s, 7e-4, 1e-15);

    /* A copy owns its names: freeing the original leaves it whole. */
    SvHw *c = sv_hw_copy(hw);
    g_clear_pointer(&hw, sv_hw_free);
    const SvHostProfile *cp = sv_hw_host_profile(c, "vllm-0.5");
    ck_assert_ptr_nonnull(cp);
    ck_assert_double_eq_tol(cp->per_device_s, 8e-3, 1e-15);
    ck_assert_str_eq(c->host_profiles[1].name, "empty");
    sv_hw_free(c);
}
END_TEST

/* A made-up device with round numbers and no host time of its own. */
static SvHw tiny_hw(SvHostProfile *profiles, int n)
{
    SvHw hw = sv_test_tiny_hw();
    hw.host_profiles = profiles;
    hw.num_host_profiles = n;
    return hw;
}

static SvPredictor *make(const SvModel *m, const SvHw *hw, int tp, int pp, const char *host)
{
    SvPlan plan = {.tp = tp,
                   .pp = pp,
                   .ep = 1,
                   .act_dtype = SV_DTYPE_BF16,
                   .weight_dtype = SV_DTYPE_BF16,
                   .kv_dtype = SV_DTYPE_BF16,
                   .host_overheads = host};
    g_autoptr(GError) error = NULL;
    SvPredictor *p = sv_predictor_new(m, hw, &plan, &error);
    ck_assert_msg(p != NULL, "predictor: %s", error ? error->message : "?");
    return p;
}

/* The host op of @ops: its time, coverage and how many there are. */
static double host_op(GArray *ops, int *count, SvCoverage *coverage)
{
    double t = -1;
    *count = 0;
    for (guint i = 0; i < ops->len; i++) {
        const SvOpTime *o = &g_array_index(ops, SvOpTime, i);
        if (strcmp(o->name, "host_overhead") == 0) {
            t = o->time_s;
            *coverage = o->coverage;
            (*count)++;
        }
    }
    return t;
}

/* One prefill of 100 tokens and 9 decodes at 200: 10 sequences. */
static SvBatchShape ten_seqs(void)
{
    SvBatchShape s = {0};
    sv_batch_add_prefill(&s, 100, 0);
    sv_batch_add_decode(&s, 9, 200);
    return s;
}

START_TEST(test_profile_terms)
{
    char name[] = "old";
    SvHostProfile prof = {
        .name = name, .iteration_s = 2e-3, .per_device_s = 3e-4, .per_request_s = 1e-4};
    SvHw hw = tiny_hw(&prof, 1);
    SvModel m = sv_test_tiny_model(4);
    SvBatchShape s = ten_seqs();

    /* TP 4: 2 ms + 4 devices x 0.3 ms + 10 sequences x 0.1 ms = 4.2 ms. */
    g_autoptr(SvPredictor) base = make(&m, &hw, 4, 1, NULL);
    g_autoptr(SvPredictor) old = make(&m, &hw, 4, 1, "old");
    double t_base, t_old;
    g_autoptr(GArray) ops_base = sv_predictor_ops(base, &s, &t_base);
    g_autoptr(GArray) ops_old = sv_predictor_ops(old, &s, &t_old);
    int n;
    SvCoverage cov;
    ck_assert_double_eq_tol(host_op(ops_base, &n, &cov), 0, 1e-15); /* tiny_hw has none */
    ck_assert_double_eq_tol(host_op(ops_old, &n, &cov), 4.2e-3, 1e-12);
    ck_assert_int_eq(n, 1);
    /* Host time is on the critical path: the step grows by exactly it. */
    ck_assert_double_eq_tol(t_old - t_base, 4.2e-3, 1e-12);
    /* The memoised path agrees (same bucket, one shape). */
    SvTimeNs ns_base = sv_predictor_iteration_ns(base, &s, NULL);
    SvTimeNs ns_old = sv_predictor_iteration_ns(old, &s, NULL);
    ck_assert_int_le(llabs((ns_old - ns_base) - 4200000), 1);

    /* TP 2 x PP 2: still 4 devices, and one host op, on the first stage. */
    g_autoptr(SvPredictor) pp = make(&m, &hw, 2, 2, "old");
    g_autoptr(GArray) ops_pp = sv_predictor_ops(pp, &s, NULL);
    ck_assert_double_eq_tol(host_op(ops_pp, &n, &cov), 4.2e-3, 1e-12);
    ck_assert_int_eq(n, 1);
    g_autoptr(GArray) st0 = sv_predictor_stage_ops(pp, &s, 0, NULL);
    g_autoptr(GArray) st1 = sv_predictor_stage_ops(pp, &s, 1, NULL);
    ck_assert_double_eq_tol(host_op(st0, &n, &cov), 4.2e-3, 1e-12);
    ck_assert_int_eq(n, 1);
    host_op(st1, &n, &cov);
    ck_assert_int_eq(n, 0);

    /* One device, one decode: 2 + 0.3 + 0.1 = 2.4 ms. */
    g_autoptr(SvPredictor) one = make(&m, &hw, 1, 1, "old");
    SvBatchShape d = {0};
    sv_batch_add_decode(&d, 1, 50);
    g_autoptr(GArray) ops_one = sv_predictor_ops(one, &d, NULL);
    ck_assert_double_eq_tol(host_op(ops_one, &n, &cov), 2.4e-3, 1e-12);
}
END_TEST

/* On a profile with a calibrated host fit (Vidur's, h100-sxm), a named
 * profile replaces the fit: the host op is the profile's terms alone. */
START_TEST(test_profile_replaces_calibrated_fit)
{
    g_autofree char *hw_path = sv_test_src_path("hwprofiles/h100-sxm.yaml");
    g_autofree char *model_path = sv_test_src_path("models/llama-3.1-8b.yaml");
    g_autoptr(GError) error = NULL;
    g_autoptr(SvHw) hw = sv_hw_load(hw_path, &error);
    ck_assert_msg(hw != NULL, "%s", error ? error->message : "");
    g_autoptr(SvModel) m = sv_model_load(model_path, &error);
    ck_assert_msg(m != NULL, "%s", error ? error->message : "");
    ck_assert_ptr_nonnull(hw->calib);
    ck_assert_int_gt(hw->calib->num_host, 0);
    /* The shipped profile has one; pin its terms to round numbers here. */
    ck_assert_int_ge(hw->num_host_profiles, 1);
    SvHostProfile *p = &hw->host_profiles[0];
    p->iteration_s = 1e-3;
    p->per_device_s = 5e-3;
    p->per_request_s = 2e-4;

    SvBatchShape s = {0};
    sv_batch_add_decode(&s, 64, 500);
    g_autoptr(SvPredictor) fit = make(m, hw, 1, 1, NULL);
    g_autoptr(SvPredictor) named = make(m, hw, 1, 1, p->name);
    double t_fit, t_named;
    g_autoptr(GArray) ops_fit = sv_predictor_ops(fit, &s, &t_fit);
    g_autoptr(GArray) ops_named = sv_predictor_ops(named, &s, &t_named);
    int n;
    SvCoverage cov_fit, cov_named;
    double h_fit = host_op(ops_fit, &n, &cov_fit);
    double h_named = host_op(ops_named, &n, &cov_named);
    SvCoverage cov;
    double want_fit = sv_table_host(hw->calib, 1, 64, NULL, &cov);
    ck_assert_double_eq_tol(h_fit, want_fit, 1e-12);
    ck_assert_int_eq(cov_fit, cov);
    /* 1 ms + 1 device x 5 ms + 64 x 0.2 ms = 18.8 ms, not added to the fit. */
    ck_assert_double_eq_tol(h_named, 18.8e-3, 1e-12);
    ck_assert_double_eq_tol(t_named - t_fit, 18.8e-3 - want_fit, 1e-9);

    /* "none" (built in, on any hardware): no host time at all, so the step
     * is the fit's step less the fit's host time. */
    g_autoptr(SvPredictor) none = make(m, hw, 1, 1, "none");
    double t_none;
    g_autoptr(GArray) ops_none = sv_predictor_ops(none, &s, &t_none);
    ck_assert_double_eq_tol(host_op(ops_none, &n, &cov), 0, 1e-15);
    ck_assert_int_eq(n, 1);
    ck_assert_double_eq_tol(t_fit - t_none, want_fit, 1e-9);
    ck_assert_ptr_null(sv_hw_host_profile(hw, "none"));
}
END_TEST

START_TEST(test_unknown_profile)
{
    SvHw hw = tiny_hw(NULL, 0);
    SvModel m = sv_test_tiny_model(4);
    SvPlan plan = {.tp = 1,
                   .pp = 1,
                   .ep = 1,
                   .act_dtype = SV_DTYPE_BF16,
                   .weight_dtype = SV_DTYPE_BF16,
                   .kv_dtype = SV_DTYPE_BF16,
                   .host_overheads = "nope"};
    g_autoptr(GError) error = NULL;
    SvPredictor *p = sv_predictor_new(&m, &hw, &plan, &error);
    ck_assert_ptr_null(p);
    ck_assert(g_error_matches(error, SV_PLAN_ERROR, SV_ERROR_INVALID));
    ck_assert_msg(strstr(error->message, "no host overhead profile 'nope'") != NULL, "%s",
                  error->message);
}
END_TEST

static SvConfig *load_study(const char *engine_line, GError **error)
{
    g_autofree char *text = g_strdup_printf(
        "model: llama-3-8b\n"
        "cluster:\n"
        "  pools:\n"
        "    - hardware: h100-sxm\n"
        "engine:\n"
        "  %s\n"
        "workload:\n"
        "  lengths: {input: {dist: fixed, value: 512}, output: {dist: fixed, value: 64}}\n"
        "  arrival: {process: poisson, rate_per_s: 4}\n"
        "  num_requests: 10\n",
        engine_line);
    g_autofree char *path = sv_test_write_tmp(text, ".yaml");
    SvConfig *c = sv_config_load(path, NULL, error);
    g_unlink(path);
    return c;
}

START_TEST(test_config_key)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(SvConfig) named = load_study("host_overheads: vllm-0.5", &error);
    ck_assert_msg(named != NULL, "%s", error ? error->message : "");
    ck_assert_str_eq(named->engine.host_overheads, "vllm-0.5");
    g_autoptr(SvConfig) def = load_study("host_overheads: default", &error);
    ck_assert_msg(def != NULL, "%s", error ? error->message : "");
    ck_assert_ptr_null(def->engine.host_overheads);
    g_autoptr(SvConfig) nothing = load_study("host_overheads: none", &error);
    ck_assert_msg(nothing != NULL, "%s", error ? error->message : "");
    ck_assert_str_eq(nothing->engine.host_overheads, "none");
    g_autoptr(SvConfig) none = load_study("max_num_seqs: 64", &error);
    ck_assert_msg(none != NULL, "%s", error ? error->message : "");
    ck_assert_ptr_null(none->engine.host_overheads);
    SvConfig *bad = load_study("host_overheads: vllm-0.4", &error);
    ck_assert_ptr_null(bad);
    ck_assert_msg(strstr(error->message, "did you mean 'vllm-0.5'?") != NULL, "%s", error->message);
}
END_TEST

Suite *host_suite(void)
{
    Suite *s = suite_create("host");
    TCase *tc = tcase_create("host");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_load_and_copy);
    tcase_add_test(tc, test_profile_terms);
    tcase_add_test(tc, test_profile_replaces_calibrated_fit);
    tcase_add_test(tc, test_unknown_profile);
    tcase_add_test(tc, test_config_key);
    suite_add_tcase(s, tc);
    return s;
}
