/* Timing statistics: quantiles with linear interpolation (numpy's default)
 * and the summary of a sample, checked against hand computations. */
#include "stats.h"

#include <check.h>
#include <math.h>

#define EPS 1e-12

START_TEST(test_ten_values)
{
    /* 1..10 shuffled: median 5.5; p10 at rank 0.9 -> 1.9; p90 at 8.1 -> 9.1;
     * variance = sum((i - 5.5)^2) / 9 = 82.5 / 9. */
    double x[] = {7, 3, 10, 1, 5, 9, 2, 8, 6, 4};
    ProbeStats s;
    probe_stats_compute(x, 10, &s);
    ck_assert_uint_eq(s.n, 10);
    ck_assert_double_eq_tol(s.median, 5.5, EPS);
    ck_assert_double_eq_tol(s.p10, 1.9, EPS);
    ck_assert_double_eq_tol(s.p90, 9.1, EPS);
    ck_assert_double_eq_tol(s.mean, 5.5, EPS);
    ck_assert_double_eq_tol(s.min, 1, EPS);
    ck_assert_double_eq_tol(s.max, 10, EPS);
    ck_assert_double_eq_tol(s.stddev, sqrt(82.5 / 9), EPS);
    /* The input is left as it was. */
    ck_assert_double_eq(x[0], 7);
}
END_TEST

START_TEST(test_odd_and_outlier)
{
    /* A throttled sample drags the mean, not the median. */
    double x[] = {10, 10, 11, 10, 500};
    ProbeStats s;
    probe_stats_compute(x, 5, &s);
    ck_assert_double_eq_tol(s.median, 10, EPS);
    ck_assert_double_eq_tol(s.mean, 108.2, EPS);
    /* p90 at rank 3.6 of {10,10,10,11,500}: 11 + 0.6 * 489. */
    ck_assert_double_eq_tol(s.p90, 11 + 0.6 * 489, 1e-9);
}
END_TEST

START_TEST(test_single_and_empty)
{
    double one = 3.25;
    ProbeStats s;
    probe_stats_compute(&one, 1, &s);
    ck_assert_double_eq(s.median, 3.25);
    ck_assert_double_eq(s.p10, 3.25);
    ck_assert_double_eq(s.p90, 3.25);
    ck_assert_double_eq(s.stddev, 0);
    probe_stats_compute(NULL, 0, &s);
    ck_assert_uint_eq(s.n, 0);
    ck_assert(isnan(s.median) && isnan(s.mean) && isnan(s.p90));
}
END_TEST

START_TEST(test_quantile_edges)
{
    double x[] = {1, 2, 4};
    ck_assert_double_eq(probe_quantile_sorted(x, 3, 0), 1);
    ck_assert_double_eq(probe_quantile_sorted(x, 3, 1), 4);
    ck_assert_double_eq(probe_quantile_sorted(x, 3, 0.75), 3); /* rank 1.5 */
    ck_assert_double_eq(probe_quantile_sorted(x, 3, -1), 1);
    ck_assert(isnan(probe_quantile_sorted(x, 0, 0.5)));
}
END_TEST

Suite *probe_stats_suite(void)
{
    Suite *s = suite_create("probe_stats");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_ten_values);
    tcase_add_test(tc, test_odd_and_outlier);
    tcase_add_test(tc, test_single_and_empty);
    tcase_add_test(tc, test_quantile_edges);
    suite_add_tcase(s, tc);
    return s;
}
