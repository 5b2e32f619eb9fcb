/* Helpers shared by the Check suites. */
#include "testutil.h"

#include <glib/gstdio.h>
#include <stdio.h>

char *sv_test_path(const char *relative)
{
    return g_build_filename(SV_TEST_DIR, relative, NULL);
}

char *sv_test_src_path(const char *relative)
{
    return g_build_filename(SV_SOURCE_DIR, relative, NULL);
}

char *sv_test_write_tmp(const char *text, const char *suffix)
{
    g_autofree char *tmpl = g_strdup_printf("sv-test-XXXXXX%s", suffix ? suffix : "");
    char *path = NULL;
    GError *error = NULL;
    int fd = g_file_open_tmp(tmpl, &path, &error);
    ck_assert_msg(fd >= 0, "tmp file: %s", error ? error->message : "?");
    FILE *f = fdopen(fd, "w");
    fputs(text, f);
    fclose(f);
    return path;
}

SvTimeNs sv_test_toy_time(void *ctx, const SvBatchShape *shape)
{
    (void)ctx;
    return 1000000 + 10000 * (shape->prefill_tokens + shape->num_decode);
}

void sv_test_check_balance(SvSim *sim)
{
    SvSimBalance b;
    sv_sim_balance(sim, &b);
    ck_assert_uint_eq(b.blocks_allocated, b.blocks_freed);
    ck_assert_uint_eq(b.events_scheduled, b.events_processed + b.events_cancelled);
    ck_assert_uint_eq(b.events_pending, 0);
    ck_assert_int_eq(b.arrived, b.completed + b.rejected);
    ck_assert_int_eq(b.in_flight, 0);
}
