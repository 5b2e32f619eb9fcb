/* The CSV writer: comment block, header row, cell formats and quoting, and
 * the row/column check. */
#include "csv.h"
#include "probe.h"

#include <glib/gstdio.h>

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* Write through @fn into memory and return the text. (transfer full) */
static char *capture(void (*fn)(FILE *))
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    fn(f);
    fclose(f);
    return buf;
}

static const char *const cols3[] = {"name", "n", "time_us", NULL};

static void write_basic(FILE *f)
{
    const char *meta[] = {"device", "NVIDIA H100 80GB HBM3", "driver", "550.54.15", NULL};
    const char *extra[] = {"kernel", "k1", NULL};
    g_autoptr(ProbeCsv) csv = probe_csv_new_for_stream(f, "gemm", meta, extra, cols3);
    probe_csv_str(csv, "plain");
    probe_csv_int(csv, 42);
    probe_csv_num(csv, 12.34567, 3);
    ck_assert(probe_csv_end_row(csv, NULL));
    probe_csv_str(csv, "a,b \"q\"");
    probe_csv_int(csv, -7);
    probe_csv_num(csv, NAN, 3);
    ck_assert(probe_csv_end_row(csv, NULL));
    probe_csv_str(csv, "zero");
    probe_csv_int(csv, 0);
    probe_csv_num(csv, -0.0001, 3); /* rounds to -0.000: printed as 0.000 */
    ck_assert(probe_csv_end_row(csv, NULL));
    ck_assert_int_eq(probe_csv_rows(csv), 3);
}

START_TEST(test_header_and_rows)
{
    g_autofree char *text = capture(write_basic);
    ck_assert_str_eq(text, "# probe-csv: 1\n"
                           "# kind: gemm\n"
                           "# device: NVIDIA H100 80GB HBM3\n"
                           "# driver: 550.54.15\n"
                           "# kernel: k1\n"
                           "name,n,time_us\n"
                           "plain,42,12.346\n"
                           "\"a,b \"\"q\"\"\",-7,\n"
                           "zero,0,0.000\n");
}
END_TEST

static void write_mismatch(FILE *f)
{
    g_autoptr(ProbeCsv) csv = probe_csv_new_for_stream(f, "x", NULL, NULL, cols3);
    g_autoptr(GError) error = NULL;
    probe_csv_str(csv, "short");
    probe_csv_int(csv, 1);
    ck_assert(!probe_csv_end_row(csv, &error));
    ck_assert(g_error_matches(error, PROBE_ERROR, PROBE_ERROR_IO));
    ck_assert(strstr(error->message, "2 cells for 3 columns") != NULL);
    /* The bad row is dropped; the next one is fine. */
    probe_csv_str(csv, "ok");
    probe_csv_int(csv, 2);
    probe_csv_g(csv, 1.5e-7);
    ck_assert(probe_csv_end_row(csv, NULL));
    ck_assert_int_eq(probe_csv_rows(csv), 1);
}

START_TEST(test_row_mismatch)
{
    g_autofree char *text = capture(write_mismatch);
    ck_assert_str_eq(text, "# probe-csv: 1\n# kind: x\nname,n,time_us\nok,2,1.5e-07\n");
}
END_TEST

static void write_newline_meta(FILE *f)
{
    const char *meta[] = {"command", "probe --only gemm\nrm -rf /", NULL};
    g_autoptr(ProbeCsv) csv = probe_csv_new_for_stream(f, "x", meta, NULL, cols3);
}

START_TEST(test_meta_one_line)
{
    /* A line break in a value must not start a data row. */
    g_autofree char *text = capture(write_newline_meta);
    ck_assert(strstr(text, "# command: probe --only gemm rm -rf /\n") != NULL);
}
END_TEST

START_TEST(test_escape)
{
    g_autofree char *a = probe_csv_escape("abc");
    g_autofree char *b = probe_csv_escape("x\ny");
    g_autofree char *c = probe_csv_escape("\"");
    g_autofree char *d = probe_csv_escape(NULL);
    ck_assert_str_eq(a, "abc");
    ck_assert_str_eq(b, "\"x\ny\"");
    ck_assert_str_eq(c, "\"\"\"\"");
    ck_assert_str_eq(d, "");
}
END_TEST

START_TEST(test_file_round_trip)
{
    g_autofree char *dir = g_dir_make_tmp("probe-csv-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, "memory.csv", NULL);
    const char *meta[] = {"date", "2025-01-01T00:00:00Z", NULL};
    g_autoptr(GError) error = NULL;
    ProbeCsv *csv = probe_csv_open(path, "memcpy", meta, NULL, cols3, &error);
    ck_assert_ptr_nonnull(csv);
    probe_csv_str(csv, "d2d_memcpy");
    probe_csv_int(csv, 1048576);
    probe_csv_num(csv, 1.5, 2);
    ck_assert(probe_csv_end_row(csv, &error));
    ck_assert(probe_csv_close(csv, &error));
    g_autofree char *text = NULL;
    ck_assert(g_file_get_contents(path, &text, NULL, NULL));
    ck_assert_str_eq(text, "# probe-csv: 1\n# kind: memcpy\n"
                           "# date: 2025-01-01T00:00:00Z\nname,n,time_us\n"
                           "d2d_memcpy,1048576,1.50\n");
    g_unlink(path);
    g_rmdir(dir);
}
END_TEST

START_TEST(test_open_error)
{
    g_autoptr(GError) error = NULL;
    ProbeCsv *csv = probe_csv_open("/nonexistent-dir/x.csv", "gemm", NULL, NULL, cols3, &error);
    ck_assert_ptr_null(csv);
    ck_assert(g_error_matches(error, PROBE_ERROR, PROBE_ERROR_IO));
    ck_assert(g_str_has_prefix(error->message, "/nonexistent-dir/x.csv: cannot create"));
}
END_TEST

Suite *probe_csv_suite(void)
{
    Suite *s = suite_create("probe_csv");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_header_and_rows);
    tcase_add_test(tc, test_row_mismatch);
    tcase_add_test(tc, test_meta_one_line);
    tcase_add_test(tc, test_escape);
    tcase_add_test(tc, test_file_round_trip);
    tcase_add_test(tc, test_open_error);
    suite_add_tcase(s, tc);
    return s;
}
